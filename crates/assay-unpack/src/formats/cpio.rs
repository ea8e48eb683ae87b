//! cpio archives (initramfs and many firmware updates): SVR4 `newc` (070701) and `crc`
//! (070702, its per-file checksum verified), POSIX `odc` (070707, octal) and the old binary
//! format (0o070707 as a 16-bit word, either byte order). File data comes out as zero-copy
//! ranges; hard links share the data of the member that carries it.
//!
//! Written here: cpio is a flat sequence of small headers, and the available crates either
//! copy every member or do not measure a carved archive.

use super::member_name::absolute;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::S_IFMT;
use crate::{Blob, FormatError};
use std::collections::HashMap;

/// A cpio archive in any of its four common header formats.
pub struct Cpio;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"070701"),
    Magic::at_start(b"070702"),
    Magic::at_start(b"070707"),
    Magic::at_start(b"\xc7\x71"),
    Magic::at_start(b"\x71\xc7"),
];

/// Longest member name accepted (Linux PATH_MAX).
const MAX_NAME: usize = 4096;
/// Records the probe walks before it trusts a binary-format candidate anyway.
const MAX_PROBE_RECORDS: usize = 100_000;

/// The header variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Newc,
    Crc,
    Odc,
    BinLe,
    BinBe,
}

impl Variant {
    fn at(d: &[u8]) -> Option<Variant> {
        match d.get(..6)? {
            b"070701" => Some(Variant::Newc),
            b"070702" => Some(Variant::Crc),
            b"070707" => Some(Variant::Odc),
            _ => match d.get(..2)? {
                [0xc7, 0x71] => Some(Variant::BinLe),
                [0x71, 0xc7] => Some(Variant::BinBe),
                _ => None,
            },
        }
    }
    fn name(self) -> &'static str {
        match self {
            Variant::Newc => "newc",
            Variant::Crc => "crc",
            Variant::Odc => "odc",
            Variant::BinLe => "binary little-endian",
            Variant::BinBe => "binary big-endian",
        }
    }
}

/// One parsed header.
#[derive(Debug, Clone)]
struct Header {
    dev: (u64, u64),
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    rdev: (u32, u32),
    /// Modification time, Unix seconds (`None` when the field is not a number; it is not
    /// needed to read the archive).
    mtime: Option<u64>,
    size: u64,
    check: u32,
    name: String,
    data_start: usize,
    /// Start of the next record.
    next: usize,
}

fn hex_field(d: &[u8], at: usize) -> Option<u64> {
    let f = d.get(at..at + 8)?;
    let s = std::str::from_utf8(f).ok()?;
    u64::from_str_radix(s, 16).ok()
}

fn oct_field(d: &[u8], at: usize, len: usize) -> Option<u64> {
    let f = d.get(at..at + len)?;
    if !f.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(f).ok()?, 8).ok()
}

fn align(v: usize, to: usize) -> Option<usize> {
    v.checked_add(to - 1).map(|x| x / to * to)
}

/// Parse the record at `pos`; `None` when it is not a valid header of `variant`.
fn header(d: &[u8], pos: usize, variant: Variant) -> Option<Header> {
    let r = d.get(pos..)?;
    let (h, namesize, name_at, pad) = match variant {
        Variant::Newc | Variant::Crc => {
            let f = |i: usize| hex_field(r, 6 + 8 * i);
            let h = Header {
                ino: f(0)?,
                mode: f(1)? as u32,
                uid: f(2)? as u32,
                gid: f(3)? as u32,
                nlink: f(4)?,
                size: f(6)?,
                dev: (f(7)?, f(8)?),
                rdev: (f(9)? as u32, f(10)? as u32),
                mtime: f(5),
                check: f(12)? as u32,
                name: String::new(),
                data_start: 0,
                next: 0,
            };
            (h, f(11)? as usize, 110, 4)
        }
        Variant::Odc => {
            let dev = oct_field(r, 6, 6)?;
            let rdev = oct_field(r, 42, 6)? as u32;
            let h = Header {
                dev: (dev, 0),
                ino: oct_field(r, 12, 6)?,
                mode: oct_field(r, 18, 6)? as u32,
                uid: oct_field(r, 24, 6)? as u32,
                gid: oct_field(r, 30, 6)? as u32,
                nlink: oct_field(r, 36, 6)?,
                rdev: (rdev >> 8, rdev & 0xff),
                mtime: oct_field(r, 48, 11),
                size: oct_field(r, 65, 11)?,
                check: 0,
                name: String::new(),
                data_start: 0,
                next: 0,
            };
            (h, oct_field(r, 59, 6)? as usize, 76, 1)
        }
        Variant::BinLe | Variant::BinBe => {
            let w = |i: usize| -> Option<u32> {
                let b = r.get(2 * i..2 * i + 2)?;
                Some(u32::from(if variant == Variant::BinLe {
                    u16::from_le_bytes([b[0], b[1]])
                } else {
                    u16::from_be_bytes([b[0], b[1]])
                }))
            };
            let rdev = w(7)?;
            let h = Header {
                dev: (u64::from(w(1)?), 0),
                ino: u64::from(w(2)?),
                mode: w(3)?,
                uid: w(4)?,
                gid: w(5)?,
                nlink: u64::from(w(6)?),
                rdev: (rdev >> 8, rdev & 0xff),
                mtime: Some(u64::from(w(8)? << 16 | w(9)?)),
                size: u64::from(w(11)? << 16 | w(12)?),
                check: 0,
                name: String::new(),
                data_start: 0,
                next: 0,
            };
            (h, w(10)? as usize, 26, 2)
        }
    };
    if namesize == 0 || namesize > MAX_NAME {
        return None;
    }
    let name_bytes = r.get(name_at..name_at + namesize)?;
    // The name is NUL-terminated and holds no other NUL.
    if name_bytes.last() != Some(&0) || name_bytes[..namesize - 1].contains(&0) {
        return None;
    }
    let data_start = pos.checked_add(align(name_at + namesize, pad)?)?;
    let size = usize::try_from(h.size).ok()?;
    let next = align(data_start.checked_add(size)?, pad)?;
    Some(Header {
        name: String::from_utf8_lossy(&name_bytes[..namesize - 1]).into_owned(),
        data_start,
        next,
        ..h
    })
}

/// Walk the records: the archive's length (trailer, then zero padding to 512 bytes), the
/// number of members, and whether the trailer was reached.
fn measure(d: &[u8], variant: Variant, max_records: usize) -> (u64, usize, bool) {
    let mut pos = 0usize;
    let mut members = 0usize;
    while members < max_records {
        if Variant::at(d.get(pos..).unwrap_or_default()) != Some(variant) {
            break;
        }
        let Some(h) = header(d, pos, variant) else {
            break;
        };
        if h.name == "TRAILER!!!" {
            let mut end = h.next.min(d.len());
            let padded = end.div_ceil(512) * 512;
            if d.get(end..padded)
                .is_some_and(|p| p.iter().all(|&b| b == 0))
            {
                end = padded;
            }
            return (end as u64, members, true);
        }
        members += 1;
        if h.next > d.len() {
            return (h.next as u64, members, false);
        }
        pos = h.next;
    }
    (pos as u64, members, false)
}

impl Format for Cpio {
    fn name(&self) -> &'static str {
        "cpio"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let variant = Variant::at(data)?;
        let first = header(data, 0, variant)?;
        let binary = matches!(variant, Variant::BinLe | Variant::BinBe);
        if binary && (first.nlink == 0 || first.mode & S_IFMT == 0) {
            return None;
        }
        let (length, members, trailer) = measure(data, variant, MAX_PROBE_RECORDS);
        // Two-byte magics hit often by chance: a binary archive must end with its trailer.
        if binary && !trailer {
            return None;
        }
        Some(Probe {
            length: Some(length),
            description: format!("cpio {}, {members} members", variant.name()),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let variant = Variant::at(d).ok_or_else(|| FormatError::Corrupt("no cpio magic".into()))?;
        let mut out = Unpacked::default();
        out.detail("format", variant.name());
        let max = ctx.max_entries();
        let mut pos = 0usize;
        let mut trailer = false;
        // Hard links: (dev, inode) → index of the entries sharing it.
        let mut links: HashMap<(u64, u64, u64), Vec<usize>> = HashMap::new();
        loop {
            if pos >= d.len() {
                break;
            }
            if Variant::at(&d[pos..]) != Some(variant) {
                out.warn(
                    WarningKind::Format,
                    format!("no cpio header at {pos:#x}; archive ends here"),
                );
                break;
            }
            let Some(h) = header(d, pos, variant) else {
                out.warn(
                    WarningKind::Format,
                    format!("invalid cpio header at {pos:#x}; archive ends here"),
                );
                break;
            };
            if h.name == "TRAILER!!!" {
                trailer = true;
                break;
            }
            if out.entries.len() >= max {
                out.warn(
                    WarningKind::Limit,
                    format!("limit reached: more than {max} entries; the rest are not read"),
                );
                break;
            }
            let available = d.len().saturating_sub(h.data_start) as u64;
            let truncated = h.size > available;
            if truncated {
                out.warn(WarningKind::Truncated, format!(
                    "{}: data runs past the end of the archive ({} bytes declared, {available} present)",
                    h.name, h.size
                ));
            }
            let length = h.size.min(available);
            if let Some(e) = entry(d, &h, length, variant, &mut out) {
                if e.kind == EntryKind::File && h.nlink > 1 {
                    links
                        .entry((h.dev.0, h.dev.1, h.ino))
                        .or_default()
                        .push(out.entries.len());
                }
                out.entries.push(e);
            }
            if truncated {
                break;
            }
            pos = h.next;
        }
        if !trailer {
            out.warn(
                WarningKind::Format,
                "archive ends without its TRAILER!!! record",
            );
        }
        // newc stores a hard-linked file's data once, with the last of its names.
        for group in links.values().filter(|g| g.len() > 1) {
            let with_data = group.iter().find_map(|&i| match out.entries[i].data {
                EntryData::Range { offset, length } if length > 0 => Some((offset, length)),
                _ => None,
            });
            if let Some((offset, length)) = with_data {
                for &i in group {
                    if matches!(out.entries[i].data, EntryData::Range { length: 0, .. }) {
                        out.entries[i].data = EntryData::Range { offset, length };
                    }
                }
            }
        }
        out.detail("members", out.entries.len());
        Ok(out)
    }
}

/// Turn a header into an entry (`None` for the archive's root `.`).
fn entry(d: &[u8], h: &Header, length: u64, variant: Variant, out: &mut Unpacked) -> Option<Entry> {
    let path = absolute(&h.name, &['/'], true);
    // A last record whose name padding runs past the end has its (empty) data at the end.
    let range = EntryData::Range {
        offset: h.data_start.min(d.len()) as u64,
        length,
    };
    let body = || {
        let start = h.data_start.min(d.len());
        &d[start..start + length as usize]
    };
    let kind = EntryKind::from_unix_mode(
        h.mode,
        || String::from_utf8_lossy(body()).into_owned(),
        || h.rdev,
    )
    .unwrap_or_else(|| {
        out.warn(
            WarningKind::Format,
            format!(
                "{}: unknown file type {:o}; kept as a file",
                h.name,
                h.mode & S_IFMT
            ),
        );
        EntryKind::File
    });
    if path == "/" && kind == EntryKind::Directory {
        return None;
    }
    let mut e = Entry::fs(path, kind.clone()).with_owner(h.mode, h.uid, h.gid);
    e.mtime = h.mtime.and_then(|t| i64::try_from(t).ok());
    if kind == EntryKind::File {
        if variant == Variant::Crc && length == h.size {
            let sum = body()
                .iter()
                .fold(0u32, |acc, &b| acc.wrapping_add(u32::from(b)));
            if sum != h.check {
                out.warn(
                    WarningKind::Checksum,
                    format!("{}: checksum mismatch", h.name),
                );
            }
        }
        e = e.with_data(range);
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::manifest::{check, Check, ARCHIVES};
    use crate::formats::testutil::{entry_bytes, unpack, unpack_with_max_entries};

    const NEWC: &[u8] = include_bytes!("../../tests/fixtures/archives/newc.cpio");
    const CRC: &[u8] = include_bytes!("../../tests/fixtures/archives/crc.cpio");
    const ODC: &[u8] = include_bytes!("../../tests/fixtures/archives/odc.cpio");
    const BIN: &[u8] = include_bytes!("../../tests/fixtures/archives/bin.cpio");
    const TRAVERSAL: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-traversal.cpio");

    fn full(data: &[u8]) {
        let p = Cpio.probe(data).unwrap();
        assert_eq!(p.length, Some(data.len() as u64), "{}", p.description);
        let u = unpack(&Cpio, data);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check("cpio", data, &u.entries, ARCHIVES, &Check::ARCHIVE);
    }

    #[test]
    fn newc_matches_manifest() {
        full(NEWC);
    }

    #[test]
    fn crc_matches_manifest_and_checks_sums() {
        full(CRC);
        let mut bad = CRC.to_vec();
        // Flip a byte inside /etc/passwd's data.
        let u = unpack(&Cpio, CRC);
        let e = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
        let EntryData::Range { offset, .. } = e.data else {
            panic!()
        };
        bad[offset as usize] ^= 0x20;
        let u = unpack(&Cpio, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
    }

    #[test]
    fn odc_matches_manifest() {
        full(ODC);
    }

    #[test]
    fn binary_matches_manifest_in_both_byte_orders() {
        full(BIN);
        // Swap every 16-bit header word to make the big-endian variant.
        let mut be = Vec::new();
        let mut pos = 0;
        while let Some(h) = header(BIN, pos, Variant::BinLe) {
            let mut hdr = BIN[pos..pos + 26].to_vec();
            for w in hdr.chunks_mut(2) {
                w.swap(0, 1);
            }
            be.extend_from_slice(&hdr);
            be.extend_from_slice(&BIN[pos + 26..h.next]);
            pos = h.next;
            if h.name == "TRAILER!!!" {
                break;
            }
        }
        be.resize(BIN.len(), 0);
        assert_eq!(Variant::at(&be), Some(Variant::BinBe));
        full(&be);
    }

    #[test]
    fn newc_hard_links_share_data() {
        let u = unpack(&Cpio, NEWC);
        let a = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
        let b = u
            .entries
            .iter()
            .find(|e| e.path == "/etc/passwd.hard")
            .unwrap();
        assert_eq!(entry_bytes(NEWC, a), entry_bytes(NEWC, b));
        assert!(!entry_bytes(NEWC, a).unwrap().is_empty());
    }

    #[test]
    fn traversal_and_escaping_link_come_out() {
        let u = unpack(&Cpio, TRAVERSAL);
        let paths: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/../../etc/x", "/etc/abs", "/link", "/link/passwd"]);
        assert_eq!(
            u.entries[2].kind,
            EntryKind::Symlink("../../../../etc".into())
        );
        assert_eq!(
            entry_bytes(TRAVERSAL, &u.entries[3]).unwrap(),
            b"through the link\n"
        );
    }

    #[test]
    fn entry_count_limit() {
        let u = unpack_with_max_entries(&Cpio, NEWC, 3);
        assert_eq!(u.entries.len(), 3);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit));
    }

    #[test]
    fn rejects_random_binary_magic() {
        let mut d = vec![0xc7u8, 0x71];
        d.extend((0..200u8).map(|i| i.wrapping_mul(37)));
        assert!(Cpio.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Cpio, NEWC);
        hostile(&Cpio, CRC);
        hostile(&Cpio, ODC);
        hostile(&Cpio, BIN);
    }
}
