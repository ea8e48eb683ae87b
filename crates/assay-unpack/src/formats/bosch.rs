//! Bosch security camera firmware (`.fw`, FlexiDome and siblings): 1024-byte big-endian
//! headers (magic `10 12 20 03`, target, variant, version, data length, base address,
//! checksum, type, a negative list, an RSA signature at 76 and an encrypted-key blob at 588)
//! each followed by its data. A header whose target is `0x10` is a container: the headers
//! of its parts follow it back to back, each with its data.
//!
//! Data without a key blob is obfuscated by XOR with `0x42`; once restored it is either a
//! single file (type 1 on the first header) or an archive of records (`DE AD AF FE`, offset
//! of the next record, a 32-byte name, the file's length, the file after the 64-byte record
//! header) ended by a record of length zero. Archive members named `RomFS…` are archives
//! of the same records themselves and are listed too (under `RomFS/`). Files are placed
//! under a directory named by their part's target in hex, as Bosch's tools do.
//!
//! Data with a key blob is AES-encrypted under a key wrapped by Bosch's RSA key; it is given
//! as an `encrypted-<target>` stream with a warning, not decrypted. The checksum field is
//! reported, not verified (what it covers is not established).
//!
//! Written here (no crate reads it); layout from Anvil Ventures' published analysis and
//! their BSD-licensed `BoschFirmwareTool`.

use crate::cursor::{be32, cstr};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::formats::member_name::absolute;
use crate::{Blob, FormatError};

/// A Bosch camera firmware file.
pub struct BoschFw;

const MAGIC: [u8; 4] = [0x10, 0x12, 0x20, 0x03];
static MAGICS: &[Magic] = &[Magic::at_start(&MAGIC)];

/// Every header's length; its data follows.
const HEADER_LEN: usize = 0x400;
/// The target of a header whose parts follow it.
const NESTED: u32 = 0x10;
/// The type of a first header whose data is one file rather than an archive.
const RAW_FILE: u32 = 1;
/// RSA signature and encrypted AES key in a header.
const SIGNATURE: std::ops::Range<usize> = 76..332;
const KEY_BLOB: std::ops::Range<usize> = 588..844;
/// Encrypted data is whole AES blocks.
const AES_BLOCK: u64 = 16;
/// The XOR byte of unencrypted data.
const XOR: u8 = 0x42;
/// Archive records: magic, then a 64-byte header (next offset, name, length).
const RECORD_MAGIC: u32 = 0xDEAD_AFFE;
const RECORD_LEN: usize = 0x40;
/// Parts of one container, at most (a file holds a handful).
const MAX_PARTS: usize = 4096;
/// RomFS archives inside archives: how deep to follow.
const MAX_DEPTH: usize = 2;

/// One header and where its data lies.
#[derive(Debug, Clone)]
struct Header {
    at: usize,
    target: u32,
    variant: u32,
    version: u32,
    length: u64,
    base: u32,
    checksum: u32,
    kind: u32,
    encrypted: bool,
}

impl Header {
    fn parse(d: &[u8], at: usize) -> Option<Header> {
        let h = d.get(at..at.checked_add(HEADER_LEN)?)?;
        if h[..4] != MAGIC {
            return None;
        }
        Some(Header {
            at,
            target: be32(h, 4)?,
            variant: be32(h, 8)?,
            version: be32(h, 12)?,
            length: u64::from(be32(h, 16)?),
            base: be32(h, 20)?,
            checksum: be32(h, 24)?,
            kind: be32(h, 28)?,
            encrypted: h[KEY_BLOB].iter().any(|&b| b != 0),
        })
    }

    fn data_at(&self) -> u64 {
        (self.at + HEADER_LEN) as u64
    }

    fn end(&self) -> u64 {
        self.data_at() + self.length
    }

    /// Whether the data looks as this header says: clear data starts with an archive
    /// record; data whose bytes cannot tell (encrypted, with a signature and whole AES
    /// blocks; one raw file) must lie within `d`.
    fn data_plausible(&self, d: &[u8], raw: bool) -> bool {
        if self.length == 0 {
            return false;
        }
        let inside = self.end() <= d.len() as u64;
        if self.encrypted {
            let h = &d[self.at..self.at + HEADER_LEN];
            return inside
                && self.length.is_multiple_of(AES_BLOCK)
                && h[SIGNATURE].iter().any(|&b| b != 0);
        }
        if raw {
            return inside;
        }
        let at = self.data_at() as usize;
        d.get(at..at + 4).is_some_and(|m| {
            u32::from_be_bytes([m[0] ^ XOR, m[1] ^ XOR, m[2] ^ XOR, m[3] ^ XOR]) == RECORD_MAGIC
        })
    }
}

/// The headers that carry data, and the end of the structure.
struct Layout {
    root: Header,
    parts: Vec<Header>,
    end: u64,
}

fn parse(d: &[u8]) -> Option<Layout> {
    let root = Header::parse(d, 0)?;
    if root.target != NESTED {
        if !root.data_plausible(d, root.kind == RAW_FILE) {
            return None;
        }
        let end = root.end();
        return Some(Layout {
            parts: vec![root.clone()],
            root,
            end,
        });
    }
    let mut parts = Vec::new();
    let mut at = HEADER_LEN as u64;
    while parts.len() < MAX_PARTS {
        let Some(h) = usize::try_from(at).ok().and_then(|a| Header::parse(d, a)) else {
            break;
        };
        at = h.end();
        parts.push(h);
    }
    let first = parts.first()?;
    if first.target == NESTED || !first.data_plausible(d, false) {
        return None;
    }
    Some(Layout {
        root,
        parts,
        end: at,
    })
}

/// The records of an archive in `buf` as files under `dir`; RomFS members are followed.
fn list_archive(
    buf: &Blob,
    dir: &str,
    depth: usize,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> bool {
    let d: &[u8] = buf;
    let mut pos = 0usize;
    let mut any = false;
    loop {
        if out.entries.len() >= ctx.max_entries() {
            out.warn(WarningKind::Limit, "entry limit reached in a Bosch archive");
            return any;
        }
        let Some(rec) = d.get(pos..pos + RECORD_LEN) else {
            out.warn(
                WarningKind::Truncated,
                format!("archive under {dir}: no end record"),
            );
            return any;
        };
        let len = be32(rec, 40).unwrap_or(0) as usize;
        if len == 0 {
            return any;
        }
        if be32(rec, 0) != Some(RECORD_MAGIC) {
            out.warn(
                WarningKind::Corrupt,
                format!("archive under {dir}: bad record magic at {pos}"),
            );
            return any;
        }
        let next = be32(rec, 4).unwrap_or(0) as usize;
        let name = cstr(&rec[8..40]);
        let name = if name.is_empty() {
            format!("file{pos}")
        } else {
            name
        };
        let start = pos + RECORD_LEN;
        let end = start.saturating_add(len).min(d.len());
        if end - start < len {
            out.warn(
                WarningKind::Truncated,
                format!("{name:?} declares {len} bytes, {} present", end - start),
            );
        }
        let path = format!("{dir}{}", absolute(&name, &['/'], true));
        let Some(bytes) = buf.slice(start..end) else {
            return any;
        };
        let romfs = name.starts_with("RomFS") && depth < MAX_DEPTH;
        out.entries.push(
            Entry::fs(path, EntryKind::File)
                .with_data(EntryData::Owned(bytes.clone()))
                .with_detail("record_offset", pos),
        );
        if romfs {
            list_archive(&bytes, &format!("{dir}/RomFS"), depth + 1, ctx, out);
        }
        any = true;
        if next < RECORD_LEN {
            out.warn(
                WarningKind::Corrupt,
                format!("archive under {dir}: record {name:?} points back"),
            );
            return any;
        }
        pos = pos.saturating_add(next);
    }
}

impl Format for BoschFw {
    fn name(&self) -> &'static str {
        "bosch-fw"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let l = parse(data)?;
        Some(Probe {
            length: Some(l.end),
            description: format!(
                "Bosch camera firmware, {} part{}{}",
                l.parts.len(),
                if l.parts.len() == 1 { "" } else { "s" },
                if l.parts.iter().any(|p| p.encrypted) {
                    ", encrypted"
                } else {
                    ""
                }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let l = parse(data).ok_or_else(|| FormatError::Corrupt("bad Bosch header".into()))?;
        let mut out = Unpacked::default();
        let len = data.len() as u64;
        out.detail("target", format!("0x{:x}", l.root.target));
        out.detail("version", format!("0x{:08x}", l.root.version));
        out.detail("parts", l.parts.len());
        let raw = l.root.target != NESTED && l.root.kind == RAW_FILE;
        let mut dirs: Vec<String> = Vec::new();
        for h in &l.parts {
            if h.target == NESTED {
                continue;
            }
            let mut dir = format!("/{:X}", h.target);
            if dirs.contains(&dir) {
                dir = format!("{dir}.{}", dirs.len());
            }
            dirs.push(dir.clone());
            let start = h.data_at().min(len);
            let avail = len.saturating_sub(start).min(h.length);
            if avail < h.length {
                out.warn(
                    WarningKind::Truncated,
                    format!("part {dir} declares {} bytes, {avail} present", h.length),
                );
            }
            let tag = |e: Entry| {
                e.with_detail("offset", h.data_at())
                    .with_detail("target", format!("0x{:x}", h.target))
                    .with_detail("variant", format!("0x{:x}", h.variant))
                    .with_detail("version", format!("0x{:08x}", h.version))
                    .with_detail("base", format!("0x{:08x}", h.base))
                    .with_detail("checksum", format!("0x{:08x}", h.checksum))
                    .with_detail("type", h.kind)
            };
            let range = EntryData::Range {
                offset: start,
                length: avail,
            };
            if h.encrypted {
                out.warn(
                    WarningKind::Unsupported,
                    format!("part {dir} is AES-encrypted under an RSA-wrapped key: not decrypted"),
                );
                out.entries.push(tag(Entry::stream(
                    format!("encrypted-{:X}", h.target),
                    range,
                )));
                continue;
            }
            ctx.reserve_stream(avail, "Bosch part")?;
            let clear: Vec<u8> = data[start as usize..(start + avail) as usize]
                .iter()
                .map(|b| b ^ XOR)
                .collect();
            let clear = Blob::from(clear);
            if raw {
                out.entries
                    .push(tag(Entry::stream("data", EntryData::Owned(clear))));
            } else if !list_archive(&clear, &dir, 0, ctx, &mut out) {
                out.entries.push(tag(Entry::stream(
                    format!("part-{:X}", h.target),
                    EntryData::Owned(clear),
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.boschfw");
    const RAW: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/raw.boschfw");

    #[test]
    fn archives_and_romfs_are_listed() {
        check_streams_in(MANIFEST, &BoschFw, "image.boschfw", IMG);
        check_streams_in(MANIFEST, &BoschFw, "raw.boschfw", RAW);
        for img in [IMG, RAW] {
            let u = unpack(&BoschFw, img);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            assert_eq!(BoschFw.probe(img).unwrap().length, Some(img.len() as u64));
        }
    }

    #[test]
    fn encrypted_part_is_given_with_a_warning() {
        let mut enc = RAW[..HEADER_LEN + 96].to_vec();
        enc[16..20].copy_from_slice(&96u32.to_be_bytes());
        enc[KEY_BLOB.start] = 1;
        enc[SIGNATURE.start] = 1;
        let u = unpack(&BoschFw, &enc);
        assert!(u
            .warnings
            .iter()
            .any(|(k, _)| *k == WarningKind::Unsupported));
        assert!(u.entries.iter().any(|e| e.path.starts_with("encrypted-")));
    }

    #[test]
    fn truncation_and_broken_records_warn() {
        let u = unpack(&BoschFw, &IMG[..IMG.len() - 3]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        // The second record's magic, past the first file.
        let first = 2 * HEADER_LEN;
        let next = IMG[first + 4..first + 8]
            .iter()
            .fold(0usize, |n, b| n << 8 | usize::from(b ^ XOR));
        let mut bad = IMG.to_vec();
        bad[first + next] ^= 0xFF;
        let u = unpack(&BoschFw, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Corrupt));
    }

    #[test]
    fn headers_without_plausible_data_are_refused() {
        // Clear data that is no archive.
        let mut bad = IMG.to_vec();
        bad[2 * HEADER_LEN] ^= 1;
        assert!(BoschFw.probe(&bad).is_none());
        // A container with no parts.
        assert!(BoschFw.probe(&IMG[..HEADER_LEN + 10]).is_none());
        // Zero length.
        let mut zero = RAW.to_vec();
        zero[16..20].copy_from_slice(&[0; 4]);
        assert!(BoschFw.probe(&zero).is_none());
        // Key blob without a signature.
        let mut enc = RAW.to_vec();
        enc[KEY_BLOB.start] = 1;
        assert!(BoschFw.probe(&enc).is_none());
        // Where the bytes cannot tell: cut short, or encrypted in part blocks.
        assert!(BoschFw.probe(&RAW[..RAW.len() - 1]).is_none());
        enc[SIGNATURE.start] = 1;
        let mut odd = enc[..HEADER_LEN + 17].to_vec();
        odd[16..20].copy_from_slice(&17u32.to_be_bytes());
        assert!(BoschFw.probe(&odd).is_none());
        odd[16..20].copy_from_slice(&16u32.to_be_bytes());
        assert!(BoschFw.probe(&odd).is_some());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&BoschFw, IMG, &Hostile::flips(200));
        hostile_with(&BoschFw, RAW, &Hostile::flips(100));
    }
}
