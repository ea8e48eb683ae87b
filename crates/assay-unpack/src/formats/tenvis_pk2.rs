//! Tenvis `PK2` camera firmware updates: a 28-byte little-endian header (`PK2\0`, camera
//! type, creation time, version, reserved, section count), then sections of a 24-byte
//! header (type `CMD` or `FILE`, a 16-byte hash, payload size) and a payload obfuscated by
//! XOR with the fixed 8-byte key `A1 83 24 78 B3 41 43 56` (public: the vendor's updater and
//! the open-source unpackers use it). A `CMD` payload is a shell command run by the updater
//! (given in the details); a `FILE` payload is a name length, the name, a data length and
//! the XORed data, yielded as a file at that path.
//!
//! The hash of a `CMD` section is the MD5 of the clear command and is checked (a mismatch is
//! a warning); what a `FILE` hash covers could not be established, so it is only reported.
//!
//! Written here (no crate reads it).

use crate::cursor::le32;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use md5::{Digest, Md5};

/// A Tenvis PK2 image.
pub struct TenvisPk2;

static MAGICS: &[Magic] = &[Magic::at_start(b"PK2\0")];

const HEADER_LEN: usize = 28;
const SECTION_HEADER: usize = 24;
/// The scheme's fixed XOR key.
const KEY: [u8; 8] = [0xA1, 0x83, 0x24, 0x78, 0xB3, 0x41, 0x43, 0x56];
/// Sections a real image carries at most (a handful of files and commands).
const MAX_SECTIONS: u32 = 4096;

fn unxor(data: &[u8]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ KEY[i % KEY.len()])
        .collect()
}

/// One section: type, hash, payload range.
struct Section {
    kind: [u8; 4],
    hash: [u8; 16],
    at: usize,
    size: usize,
}

/// Walk the sections; stops at the first that is not `CMD`/`FILE` or runs past the end
/// (returned as the error text).
fn sections(d: &[u8]) -> (Vec<Section>, Option<String>) {
    let count = le32(d, 24).unwrap_or(0);
    let mut out = Vec::new();
    let mut at = HEADER_LEN;
    for i in 0..count.min(MAX_SECTIONS) {
        let Some(h) = d.get(at..at + SECTION_HEADER) else {
            return (out, Some(format!("section {i} header past the end")));
        };
        let kind: [u8; 4] = h[..4].try_into().unwrap_or_default();
        if &kind != b"CMD\0" && &kind != b"FILE" {
            return (out, Some(format!("section {i}: unknown type")));
        }
        let size = le32(h, 20).unwrap_or(0) as usize;
        let start = at + SECTION_HEADER;
        if d.len() - start < size {
            return (out, Some(format!("section {i} payload past the end")));
        }
        out.push(Section {
            kind,
            hash: h[4..20].try_into().unwrap_or_default(),
            at: start,
            size,
        });
        at = start + size;
    }
    (out, None)
}

impl Format for TenvisPk2 {
    fn name(&self) -> &'static str {
        "tenvis-pk2"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        if !data.starts_with(b"PK2\0") || data.len() < HEADER_LEN + SECTION_HEADER {
            return None;
        }
        let count = le32(data, 24)?;
        if count == 0 || count > MAX_SECTIONS {
            return None;
        }
        // The first section must be well formed.
        let (s, _) = sections(data);
        let first = s.first()?;
        let end = s.last().map(|l| (l.at + l.size) as u64);
        Some(Probe {
            length: if s.len() == count as usize { end } else { None },
            description: format!(
                "Tenvis PK2 firmware, {count} sections (first {})",
                String::from_utf8_lossy(&first.kind).trim_end_matches('\0')
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        if self.probe(data).is_none() {
            return Err(FormatError::Corrupt("bad PK2 header".into()));
        }
        let mut out = Unpacked::default();
        out.detail("camera_type", le32(data, 4).unwrap_or(0));
        out.detail("created", le32(data, 8).unwrap_or(0));
        let v = &data[12..16];
        out.detail("version", String::from_utf8_lossy(v).trim_end_matches('\0'));
        out.detail("sections", le32(data, 24).unwrap_or(0));
        let (secs, err) = sections(data);
        if let Some(e) = err {
            out.warn(WarningKind::Truncated, e);
        }
        let mut cmds = Vec::new();
        for (i, s) in secs.iter().enumerate() {
            let p = &data[s.at..s.at + s.size];
            if &s.kind == b"CMD\0" {
                let clear = unxor(p);
                if Md5::digest(&clear).as_slice() != s.hash {
                    out.warn(
                        WarningKind::Checksum,
                        format!("section {i} (CMD): MD5 does not match"),
                    );
                }
                let text = String::from_utf8_lossy(&clear);
                cmds.push(text.trim_end_matches(['\0', '\n']).to_string());
                continue;
            }
            let name_len = le32(p, 0).unwrap_or(u32::MAX) as usize;
            let Some(raw) = p.get(4..4usize.saturating_add(name_len)) else {
                out.warn(
                    WarningKind::Corrupt,
                    format!("section {i} (FILE): bad name length"),
                );
                continue;
            };
            let name =
                String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap_or(raw)).into_owned();
            let data_at = 4 + name_len + 4;
            let size = le32(p, 4 + name_len).unwrap_or(0) as usize;
            let avail = p.len().saturating_sub(data_at).min(size);
            if avail < size {
                out.warn(
                    WarningKind::Truncated,
                    format!("file {name:?} declares {size} bytes, {avail} present"),
                );
            }
            ctx.charge(avail as u64)?;
            let clear = unxor(&p[data_at.min(p.len())..][..avail]);
            let path = if name.is_empty() {
                format!("/section{i}")
            } else {
                format!("/{}", name.trim_start_matches('/'))
            };
            out.entries.push(
                Entry::fs(path, EntryKind::File)
                    .with_data(EntryData::Owned(Blob::from(clear)))
                    .with_detail("offset", s.at + data_at)
                    .with_detail("hash", hex(&s.hash)),
            );
        }
        if !cmds.is_empty() {
            out.detail("commands", cmds.join(" ; "));
        }
        Ok(out)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.pk2");

    #[test]
    fn files_are_unxored_and_command_checked() {
        check_streams_in(MANIFEST, &TenvisPk2, "image.pk2", IMG);
        let u = unpack(&TenvisPk2, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(TenvisPk2.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn bad_command_hash_and_truncation_warn() {
        let mut bad = IMG.to_vec();
        bad[HEADER_LEN + SECTION_HEADER] ^= 1; // first byte of the CMD payload
        let u = unpack(&TenvisPk2, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        let u = unpack(&TenvisPk2, &IMG[..IMG.len() - 5]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn garbage_counts_and_types_are_refused() {
        let mut bad = IMG.to_vec();
        bad[24..28].copy_from_slice(&0u32.to_le_bytes());
        assert!(TenvisPk2.probe(&bad).is_none());
        let mut t = IMG.to_vec();
        t[HEADER_LEN] = b'X';
        assert!(TenvisPk2.probe(&t).is_none());
        let mut big = IMG.to_vec();
        big[HEADER_LEN + 20..HEADER_LEN + 24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(TenvisPk2.probe(&big).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&TenvisPk2, IMG, &Hostile::flips(200));
    }
}
