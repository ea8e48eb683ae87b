//! romfs (`-rom1fs-`), the minimal uncompressed read-only file system of small embedded
//! Linux and uClinux images. File data is carved in place, without copying. romfs stores no
//! time stamps, so its entries carry no modification time.
//!
//! Own reader: the format is a linked list of 16-byte-aligned headers, simpler to read with
//! full bounds checks than to adapt a crate.

use crate::cursor::be32;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// A romfs image.
pub struct Romfs;

static MAGICS: &[Magic] = &[Magic::at_start(b"-rom1fs-")];

/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 128;
/// Longest name read (romfs names are NUL-terminated, 16-byte padded).
const MAX_NAME: usize = 4096;

/// A NUL-terminated name at `at` and the 16-aligned offset after it.
fn name_at(d: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let tail = d.get(at..)?;
    let end = memchr::memchr(0, &tail[..tail.len().min(MAX_NAME)])?;
    let next = (at + end + 1).div_ceil(16) * 16;
    Some((&tail[..end], next))
}

/// A file header: next (with type bits), spec info, size, name, and where its data starts.
struct Header<'a> {
    next: usize,
    ty: u32,
    exec: bool,
    info: u32,
    size: u32,
    name: &'a [u8],
    data: usize,
}

fn file_header(d: &[u8], at: usize) -> Option<Header<'_>> {
    let w = be32(d, at)?;
    let (name, data) = name_at(d, at.checked_add(16)?)?;
    Some(Header {
        next: (w & !15) as usize,
        ty: w & 7,
        exec: w & 8 != 0,
        info: be32(d, at + 4)?,
        size: be32(d, at + 8)?,
        name,
        data,
    })
}

impl Format for Romfs {
    fn name(&self) -> &'static str {
        "romfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let size = be32(data, 8)? as usize;
        if size < 32 {
            return None;
        }
        // The first 512 bytes (or the whole image) sum to zero as big-endian words.
        let n = size.min(512);
        let head = data.get(..n)?;
        let sum = head.chunks_exact(4).fold(0u32, |s, c| {
            s.wrapping_add(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        });
        if sum != 0 {
            return None;
        }
        let (vol, _) = name_at(data, 16)?;
        Some(Probe {
            length: Some(size as u64),
            description: format!("romfs, volume {:?}", String::from_utf8_lossy(vol)),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let (_, first) = name_at(d, 16).ok_or(FormatError::Truncated {
            what: "volume name",
            offset: 16,
        })?;
        let mut out = Unpacked::default();
        let mut seen = HashSet::new();
        let mut stack = vec![(first, String::new(), 0usize)];
        while let Some((mut at, path, depth)) = stack.pop() {
            let mut subdirs = Vec::new();
            // Each header is visited once in the whole walk, so the chains cannot loop.
            while at != 0 {
                if !seen.insert(at) {
                    out.warn(
                        WarningKind::Format,
                        format!("{}: header chain loops", display(&path)),
                    );
                    break;
                }
                if out.entries.len() >= ctx.max_entries() {
                    out.warn(WarningKind::Limit, "entry limit reached");
                    return Ok(out);
                }
                let Some(h) = file_header(d, at) else {
                    out.warn(
                        WarningKind::Truncated,
                        format!("header at {at:#x} runs past the end"),
                    );
                    break;
                };
                at = h.next;
                let name = String::from_utf8_lossy(h.name).into_owned();
                if name == "." || name == ".." {
                    continue;
                }
                let p = format!("{path}/{name}");
                if name.is_empty() || name.contains('/') {
                    out.warn(
                        WarningKind::Format,
                        format!("bad name {name:?} in {}", display(&path)),
                    );
                    continue;
                }
                // A hard link points at the header of its target.
                let (ty, exec, size, data_at) = if h.ty == 0 {
                    match file_header(d, h.info as usize) {
                        Some(t) if t.ty != 0 && t.ty != 1 => (t.ty, t.exec, t.size, t.data),
                        _ => {
                            out.warn(
                                WarningKind::Format,
                                format!("{p}: hard link to a bad header"),
                            );
                            continue;
                        }
                    }
                } else {
                    (h.ty, h.exec, h.size, h.data)
                };
                let range = || {
                    let end = data_at.checked_add(size as usize)?;
                    (end <= d.len()).then_some(EntryData::Range {
                        offset: data_at as u64,
                        length: size as u64,
                    })
                };
                // Linux's view of the permissions: romfs stores only the exec bit.
                let x = if exec { 0o111 } else { 0 };
                let (kind, mode) = match ty {
                    1 => (EntryKind::Directory, 0o040644 | x),
                    2 => (EntryKind::File, 0o100644 | x),
                    3 => {
                        let t = d
                            .get(data_at..data_at.saturating_add(size as usize))
                            .map(|t| String::from_utf8_lossy(t).into_owned());
                        match t {
                            Some(t) => (EntryKind::Symlink(t), 0o120777),
                            None => {
                                out.warn(
                                    WarningKind::Truncated,
                                    format!("{p}: link target runs past the end"),
                                );
                                continue;
                            }
                        }
                    }
                    4 | 5 => (
                        EntryKind::Device {
                            block: ty == 4,
                            major: h.info >> 16,
                            minor: h.info & 0xffff,
                        },
                        if ty == 4 { 0o060600 } else { 0o020600 } | x,
                    ),
                    6 => (EntryKind::Socket, 0o140644 | x),
                    _ => (EntryKind::Fifo, 0o010644 | x),
                };
                let mut e = Entry::fs(&p, kind.clone());
                e.mode = Some(mode);
                if kind == EntryKind::File {
                    match range() {
                        Some(r) => e = e.with_data(r),
                        None => {
                            out.warn(
                                WarningKind::Truncated,
                                format!("{p}: data runs past the end"),
                            );
                            continue;
                        }
                    }
                }
                out.entries.push(e);
                if kind == EntryKind::Directory && h.ty == 1 {
                    if depth + 1 >= MAX_DEPTH {
                        out.warn(
                            WarningKind::Limit,
                            format!("{p}: nested deeper than {MAX_DEPTH}"),
                        );
                    } else {
                        subdirs.push((h.info as usize & !15, p, depth + 1));
                    }
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(out)
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check, Check};
    use crate::formats::testutil::unpack;

    const EXPECTED: &str = include_str!("../../tests/fixtures/squashfs/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/squashfs/romfs.img");

    #[test]
    fn genromfs_fixture() {
        let p = Romfs.probe(IMG).expect("probe");
        assert!(p.length.unwrap() <= IMG.len() as u64);
        let u = unpack(&Romfs, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check(
            "romfs",
            IMG,
            &u.entries,
            EXPECTED,
            &Check {
                modes: false,
                ..Check::EXACT
            },
        );
        let tool = u.entries.iter().find(|e| e.path == "/bin/tool").unwrap();
        assert_eq!(tool.mode, Some(0o100755));
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let mut d = IMG.to_vec();
        d[40] ^= 1;
        assert!(Romfs.probe(&d).is_none());
    }

    #[test]
    fn hostile_romfs() {
        hostile_with(&Romfs, IMG, &Hostile::unprobed());
    }
}
