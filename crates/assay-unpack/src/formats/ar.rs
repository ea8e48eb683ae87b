//! Unix `ar` archives (`!<arch>\n`), the outer layer of Debian `.deb` and OpenWrt `.ipk`
//! packages and of static libraries: GNU (`//` long-name table, `/` symbol tables) and BSD
//! (`#1/<len>` names) variants. Members come out as zero-copy ranges.
//!
//! Written here: the format is a flat list of 60-byte headers, and no crate measures a carved
//! archive or hands out ranges.

use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A Unix `ar` archive.
pub struct Ar;

const MAGIC: &[u8] = b"!<arch>\n";
static MAGICS: &[Magic] = &[Magic::at_start(MAGIC)];
const HEADER: usize = 60;

/// One member header.
struct Member {
    /// Raw name field, trimmed of spaces.
    name: String,
    mode: u32,
    uid: u32,
    gid: u32,
    /// Offset of the member's data.
    data: usize,
    size: u64,
    /// Start of the next header (data padded to even).
    next: u64,
}

fn decimal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?.trim_end();
    if s.is_empty() {
        return Some(0);
    }
    s.parse().ok()
}

fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?.trim_end();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn member(d: &[u8], pos: usize) -> Option<Member> {
    let h = d.get(pos..pos.checked_add(HEADER)?)?;
    if &h[58..60] != b"`\n" {
        return None;
    }
    let size = decimal(&h[48..58])?;
    let data = pos + HEADER;
    let next = (data as u64).checked_add(size)?.checked_add(size & 1)?;
    Some(Member {
        name: String::from_utf8_lossy(&h[..16]).trim_end().to_string(),
        mode: octal(&h[40..48])? as u32,
        uid: decimal(&h[28..34])? as u32,
        gid: decimal(&h[34..40])? as u32,
        data,
        size,
        next,
    })
}

/// Walk the headers: the archive's length and member count.
fn measure(d: &[u8]) -> (u64, usize) {
    let mut pos = MAGIC.len();
    let mut members = 0;
    while let Some(m) = member(d, pos) {
        members += 1;
        match usize::try_from(m.next) {
            Ok(n) if n <= d.len() => pos = n,
            _ => return (m.next, members),
        }
    }
    (pos as u64, members)
}

impl Format for Ar {
    fn name(&self) -> &'static str {
        "ar"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        if !data.starts_with(MAGIC) {
            return None;
        }
        member(data, MAGIC.len())?;
        let (length, members) = measure(data);
        let deb = data
            .get(MAGIC.len()..MAGIC.len() + 13)
            .is_some_and(|n| n == b"debian-binary");
        Some(Probe {
            length: Some(length),
            description: format!(
                "ar archive{}, {members} members",
                if deb { " (Debian package)" } else { "" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        if !d.starts_with(MAGIC) {
            return Err(FormatError::Corrupt("no ar magic".into()));
        }
        let mut out = Unpacked::default();
        let mut long_names: &[u8] = &[];
        let mut pos = MAGIC.len();
        let max = ctx.max_entries();
        while pos < d.len() {
            let Some(m) = member(d, pos) else {
                out.warn(
                    WarningKind::Format,
                    format!("invalid member header at {pos:#x}; archive ends here"),
                );
                break;
            };
            let available = d.len().saturating_sub(m.data) as u64;
            let length = m.size.min(available);
            let body = &d[m.data.min(d.len())..m.data.min(d.len()) + length as usize];
            if length < m.size {
                out.warn(
                    WarningKind::Truncated,
                    format!("{}: data runs past the end of the archive", m.name),
                );
            }
            let mut range = (m.data as u64, length);
            let name = if m.name == "//" {
                long_names = body;
                None
            } else if m.name == "/" || m.name == "/SYM64/" || m.name.starts_with("__.SYMDEF") {
                None // symbol tables
            } else if let Some(off) = m.name.strip_prefix('/') {
                // GNU long name: offset into the `//` table, ending with "/\n".
                let off: usize = off.parse().unwrap_or(usize::MAX);
                match long_names.get(off..) {
                    Some(rest) => {
                        let end = rest
                            .iter()
                            .position(|&b| b == b'\n' || b == 0)
                            .unwrap_or(rest.len());
                        let n = &rest[..end];
                        Some(
                            String::from_utf8_lossy(n.strip_suffix(b"/").unwrap_or(n)).into_owned(),
                        )
                    }
                    None => {
                        out.warn(
                            WarningKind::Format,
                            format!("{}: long name outside the name table", m.name),
                        );
                        Some(m.name.clone())
                    }
                }
            } else if let Some(len) = m.name.strip_prefix("#1/") {
                // BSD: the name is the first `len` bytes of the data.
                let n = len.parse::<usize>().unwrap_or(usize::MAX).min(body.len());
                let name = String::from_utf8_lossy(&body[..n])
                    .trim_end_matches('\0')
                    .to_string();
                range = (range.0 + n as u64, length - n as u64);
                Some(name)
            } else {
                Some(m.name.strip_suffix('/').unwrap_or(&m.name).to_string())
            };
            if let Some(name) = name {
                if out.entries.len() >= max {
                    out.warn(
                        WarningKind::Limit,
                        format!("limit reached: more than {max} entries; the rest are not read"),
                    );
                    break;
                }
                let path = if name.starts_with('/') {
                    name
                } else {
                    format!("/{name}")
                };
                out.entries.push(
                    Entry::fs(path, EntryKind::File)
                        .with_data(EntryData::Range {
                            offset: range.0,
                            length: range.1,
                        })
                        .with_owner(m.mode, m.uid, m.gid),
                );
            }
            match usize::try_from(m.next) {
                Ok(n) if n <= d.len() => pos = n,
                _ => break,
            }
        }
        out.detail("members", out.entries.len());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::manifest::{parse, ARCHIVES};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const MEMBERS: &[u8] = include_bytes!("../../tests/fixtures/archives/members.a");

    #[test]
    fn gnu_members_match_manifest() {
        let p = Ar.probe(MEMBERS).unwrap();
        assert_eq!(p.length, Some(MEMBERS.len() as u64));
        let u = unpack(&Ar, MEMBERS);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let want = parse(ARCHIVES);
        let names: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "/passwd",
                "/run.sh",
                "/random.bin",
                "/a-rather-long-member-name.txt"
            ]
        );
        for e in &u.entries {
            let base = &e.path[1..];
            let sha = &want
                .iter()
                .find(|l| l.path.rsplit('/').next() == Some(base))
                .unwrap()
                .value;
            let bytes = entry_bytes(MEMBERS, e).unwrap();
            assert_eq!(&sha_hex(&bytes), sha, "{}", e.path);
        }
    }

    #[test]
    fn bsd_long_names() {
        let mut d = MAGIC.to_vec();
        let name = b"a-long-bsd-member-name";
        let body = b"hello";
        d.extend_from_slice(
            format!(
                "#1/{:<13}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name.len(),
                0,
                0,
                0,
                644,
                name.len() + body.len()
            )
            .as_bytes(),
        );
        d.extend_from_slice(name);
        d.extend_from_slice(body);
        d.push(b'\n');
        let u = unpack(&Ar, &d);
        assert_eq!(u.entries[0].path, "/a-long-bsd-member-name");
        assert_eq!(entry_bytes(&d, &u.entries[0]).unwrap(), b"hello");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Ar, MEMBERS);
    }
}
