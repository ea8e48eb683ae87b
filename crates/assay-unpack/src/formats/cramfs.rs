//! cramfs, the small zlib-compressed read-only file system of older embedded Linux devices,
//! in both byte orders (big-endian images come from big-endian targets or `cramfsswap`).
//! cramfs stores no time stamps (inodes have none, the superblock neither), so its entries
//! carry no modification time.
//!
//! Own reader: no maintained pure-Rust crate reads cramfs, and the format is small (a
//! superblock, 12-byte bit-packed inodes, per-page zlib blocks).

use crate::cursor::{be32, le32, Endian};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::{FileType, S_IFMT};
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// A cramfs image, little- or big-endian, with its superblock at 0 or after a 512-byte pad.
pub struct Cramfs;

const LE_MAGIC: &[u8] = b"\x45\x3d\xcd\x28";
const BE_MAGIC: &[u8] = b"\x28\xcd\x3d\x45";
static MAGICS: &[Magic] = &[
    Magic::at_start(LE_MAGIC),
    Magic::at_start(BE_MAGIC),
    Magic::at(LE_MAGIC, 512),
    Magic::at(BE_MAGIC, 512),
];

/// Decoded page size of every data block.
const PAGE: usize = 4096;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 128;
/// Flags this reader understands: fsid v2, sorted dirs, holes, wrong signature, shifted root.
const KNOWN_FLAGS: u32 = 0x1 | 0x2 | 0x100 | 0x200 | 0x400;
/// Block pointer flags of the extended layout (not written by mkfs.cramfs by default).
const EXT_BLOCK_POINTERS: u32 = 0x800;

/// Where the superblock sits and how to read it.
struct Header {
    endian: Endian,
    /// Offset of the superblock (0 or 512).
    base: usize,
    size: u32,
    flags: u32,
    files: u32,
    name: String,
}

fn header(d: &[u8]) -> Option<Header> {
    let base = match (d.get(..4)?, d.get(512..516)) {
        (m, _) if m == LE_MAGIC || m == BE_MAGIC => 0,
        // A pad before the superblock: it must be zero, or this is the tail of something.
        (_, Some(m)) if (m == LE_MAGIC || m == BE_MAGIC) && d[..512].iter().all(|&b| b == 0) => 512,
        _ => return None,
    };
    let endian = if d.get(base..base + 4)? == LE_MAGIC {
        Endian::Little
    } else {
        Endian::Big
    };
    let u32_at = |o: usize| match endian {
        Endian::Little => le32(d, base + o),
        Endian::Big => be32(d, base + o),
    };
    if d.get(base + 16..base + 32)? != b"Compressed ROMFS" {
        return None;
    }
    let size = u32_at(4)?;
    let flags = u32_at(8)?;
    if flags & !(KNOWN_FLAGS | EXT_BLOCK_POINTERS) != 0 || (size as usize) < base + 76 {
        return None;
    }
    let files = if flags & 1 != 0 { u32_at(44)? } else { 0 };
    Some(Header {
        endian,
        base,
        size,
        flags,
        files,
        name: crate::cursor::cstr(d.get(base + 48..base + 64)?),
    })
}

/// A cramfs inode, decoded from its 12 bit-packed bytes.
struct Inode {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u32,
    /// Name length in bytes (a multiple of 4).
    namelen: usize,
    /// Data offset in bytes.
    offset: usize,
}

fn inode(d: &[u8], at: usize, e: Endian) -> Option<Inode> {
    let w = |i: usize| match e {
        Endian::Little => le32(d, at + 4 * i),
        Endian::Big => be32(d, at + 4 * i),
    };
    let (w0, w1, w2) = (w(0)?, w(1)?, w(2)?);
    // Fields are allocated from the least significant bit on little-endian targets and from
    // the most significant one on big-endian targets.
    Some(match e {
        Endian::Little => Inode {
            mode: w0 & 0xffff,
            uid: w0 >> 16,
            size: w1 & 0xff_ffff,
            gid: w1 >> 24,
            namelen: ((w2 & 0x3f) * 4) as usize,
            offset: ((w2 >> 6) as usize) * 4,
        },
        Endian::Big => Inode {
            mode: w0 >> 16,
            uid: w0 & 0xffff,
            size: w1 >> 8,
            gid: w1 & 0xff,
            namelen: ((w2 >> 26) * 4) as usize,
            offset: ((w2 & 0x03ff_ffff) as usize) * 4,
        },
    })
}

impl Format for Cramfs {
    fn name(&self) -> &'static str {
        "cramfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = header(data)?;
        let root = inode(data, h.base + 64, h.endian)?;
        // The root's children follow the superblock; in a padded image offsets count from
        // the pad, which tells a real pad from the zeros that precede an unpadded image.
        if FileType::of_mode(root.mode) != Some(FileType::Directory)
            || (root.size > 0 && root.offset < h.base + 76)
            || root.offset.saturating_add(root.size as usize) > h.size as usize
        {
            return None;
        }
        Some(Probe {
            length: Some(h.size as u64),
            description: format!(
                "cramfs{}{}, {} files, name {:?}",
                if h.endian == Endian::Big {
                    " big-endian"
                } else {
                    ""
                },
                if h.base == 512 {
                    " (after 512-byte pad)"
                } else {
                    ""
                },
                h.files,
                h.name
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = header(data).ok_or_else(|| FormatError::Corrupt("cramfs header".into()))?;
        let d: &[u8] = data;
        let e = h.endian;
        let mut out = Unpacked::default();
        out.detail(
            "endianness",
            if e == Endian::Big { "big" } else { "little" },
        );
        out.detail("flags", format!("{:#x}", h.flags));
        if h.flags & EXT_BLOCK_POINTERS != 0 {
            out.warn(
                WarningKind::Unsupported,
                "extended block pointers: direct and uncompressed blocks are not decoded",
            );
        }
        let root = inode(d, h.base + 64, e).ok_or(FormatError::Truncated {
            what: "root inode",
            offset: 64,
        })?;
        let mut visited = HashSet::new();
        let mut stack = vec![(root, String::new(), 0usize)];
        while let Some((dir, path, depth)) = stack.pop() {
            if !visited.insert(dir.offset) {
                out.warn(
                    WarningKind::Format,
                    format!("{}: directory loop", display(&path)),
                );
                continue;
            }
            let end = dir.offset.saturating_add(dir.size as usize);
            if end > d.len() {
                out.warn(
                    WarningKind::Truncated,
                    format!("{}: directory runs past the end", display(&path)),
                );
                continue;
            }
            let mut pos = dir.offset;
            let mut subdirs = Vec::new();
            // Each child takes at least 12 bytes, so the loop is bounded by the dir size.
            while pos + 12 <= end {
                if out.entries.len() >= ctx.max_entries() {
                    out.warn(WarningKind::Limit, "entry limit reached");
                    return Ok(out);
                }
                let Some(ino) = inode(d, pos, e) else { break };
                let name_at = pos + 12;
                pos = name_at + ino.namelen;
                let Some(raw) = d.get(name_at..name_at + ino.namelen) else {
                    out.warn(
                        WarningKind::Truncated,
                        format!("{}: name runs past the end", display(&path)),
                    );
                    break;
                };
                let name = crate::cursor::cstr(raw);
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    out.warn(
                        WarningKind::Format,
                        format!("bad name {name:?} in {}", display(&path)),
                    );
                    continue;
                }
                let p = format!("{path}/{name}");
                let kind = EntryKind::from_unix_mode(
                    ino.mode,
                    || {
                        let (t, err) = file_data(d, &ino, &h, ctx);
                        if let Some(err) = err {
                            out.warn(err.kind(), format!("{p}: {err}"));
                        }
                        String::from_utf8_lossy(&t).into_owned()
                    },
                    || ((ino.size >> 8) & 0xfff, ino.size & 0xff),
                );
                let Some(kind) = kind else {
                    out.warn(
                        WarningKind::Format,
                        format!("{p}: unknown file type {:o}", ino.mode & S_IFMT),
                    );
                    continue;
                };
                let mut entry = Entry::fs(&p, kind.clone()).with_owner(ino.mode, ino.uid, ino.gid);
                if kind == EntryKind::File {
                    let (bytes, err) = file_data(d, &ino, &h, ctx);
                    if let Some(err) = err {
                        out.warn(err.kind(), format!("{p}: {err}"));
                    }
                    entry = entry.with_data(EntryData::Owned(Blob::from(bytes)));
                }
                out.entries.push(entry);
                if kind == EntryKind::Directory && ino.size > 0 {
                    if depth + 1 >= MAX_DEPTH {
                        out.warn(
                            WarningKind::Limit,
                            format!("{p}: nested deeper than {MAX_DEPTH}"),
                        );
                    } else {
                        subdirs.push((ino, p, depth + 1));
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

/// The bytes of a file or link target: per-page zlib blocks after a table of end pointers.
fn file_data(
    d: &[u8],
    ino: &Inode,
    h: &Header,
    ctx: &UnpackContext,
) -> (Vec<u8>, Option<FormatError>) {
    let size = ino.size as usize;
    let mut out = Vec::new();
    if size == 0 {
        return (out, None);
    }
    let n = size.div_ceil(PAGE);
    let ptrs = ino.offset;
    let Some(mut start) = ptrs.checked_add(n * 4).filter(|&s| s <= d.len()) else {
        return (
            out,
            Some(FormatError::Corrupt("block table runs past the end".into())),
        );
    };
    if let Err(e) = ctx.charge(size as u64) {
        return (out, Some(e));
    }
    for i in 0..n {
        let want = (size - out.len()).min(PAGE);
        let w = match h.endian {
            Endian::Little => le32(d, ptrs + 4 * i),
            Endian::Big => be32(d, ptrs + 4 * i),
        }
        .unwrap_or(0);
        let end = if h.flags & EXT_BLOCK_POINTERS != 0 {
            (w & 0x3fff_ffff) as usize
        } else {
            w as usize
        };
        if end == start && h.flags & 0x100 != 0 {
            out.resize(out.len() + want, 0);
            continue;
        }
        let Some(src) = d.get(start..end) else {
            return (
                out,
                Some(FormatError::Corrupt(format!("block {i} out of range"))),
            );
        };
        let mut z = flate2::Decompress::new(true);
        let mut page = vec![0u8; PAGE];
        match z.decompress(src, &mut page, flate2::FlushDecompress::Finish) {
            Ok(flate2::Status::StreamEnd) => {
                let got = z.total_out() as usize;
                out.extend_from_slice(&page[..got.min(want)]);
                if got < want {
                    return (
                        out,
                        Some(FormatError::Corrupt(format!("block {i} is short"))),
                    );
                }
            }
            Ok(_) | Err(_) => {
                return (
                    out,
                    Some(FormatError::Decode(format!("block {i}: zlib failed"))),
                );
            }
        }
        start = end;
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check, Check};
    use crate::formats::testutil::unpack;

    const EXPECTED: &str = include_str!("../../tests/fixtures/squashfs/expected.txt");
    const LE: &[u8] = include_bytes!("../../tests/fixtures/squashfs/cramfs-le.img");
    const BE: &[u8] = include_bytes!("../../tests/fixtures/squashfs/cramfs-be.img");

    #[test]
    fn little_and_big_endian_fixtures() {
        for img in [LE, BE] {
            let p = Cramfs.probe(img).expect("probe");
            assert_eq!(p.length, Some(img.len() as u64));
            let u = unpack(&Cramfs, img);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            check("cramfs", img, &u.entries, EXPECTED, &Check::EXACT);
        }
    }

    #[test]
    fn superblock_after_pad() {
        // Zeros before an unpadded image are not a pad: the root's offsets tell.
        let mut d = vec![0u8; 512];
        d.extend_from_slice(LE);
        assert!(Cramfs.probe(&d).is_none());
        // A padded image (mkfs.cramfs -p) has its offsets counted from the pad.
        let padded = include_bytes!("../../tests/fixtures/squashfs/cramfs-pad.img");
        assert!(Cramfs.probe(padded).unwrap().description.contains("pad"));
        let u = unpack(&Cramfs, padded);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check("cramfs-pad", padded, &u.entries, EXPECTED, &Check::EXACT);
    }

    #[test]
    fn hostile_cramfs() {
        hostile_with(&Cramfs, LE, &Hostile::unprobed());
        hostile_with(&Cramfs, BE, &Hostile::unprobed());
    }
}
