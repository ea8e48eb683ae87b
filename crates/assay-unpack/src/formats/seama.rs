//! D-Link SEAMA firmware containers: a 28-byte header (magic `5e a3 a4 17`, metadata size,
//! payload size, MD5 of the payload), NUL-separated metadata strings (`dev=...`,
//! `type=firmware`), then the payload, carved as one stream. Big-endian as written by the
//! vendor tools; the byte-swapped magic of little-endian builds is accepted too.
//!
//! A header with payload size 0 has no MD5 (12 bytes, then metadata): D-Link's DLOB
//! images start with such a signature header (metadata such as `signature=wrgac…`), then a
//! full SEAMA entity; the scan finds both, the first with its metadata in the details.
//!
//! Written here because the header is 28 fixed bytes. The MD5 is not checked (no MD5
//! implementation in the dependency tree for one digest).

use crate::cursor::{be16, be32, le16, le32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A SEAMA container.
pub struct Seama;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x5e\xa3\xa4\x17\x00\x00"),
    Magic::at_start(b"\x17\xa4\xa3\x5e\x00\x00"),
];

const HEADER_LEN: usize = 28;
/// Magic, reserved, metadata size and payload size, without the MD5.
const SHORT_HEADER_LEN: usize = 12;
/// Longest metadata block accepted.
const MAX_META: usize = 4096;

/// A SEAMA header: where its metadata starts, the metadata length, the payload size and
/// the byte order.
#[derive(Debug, Clone, Copy)]
struct SeamaHeader {
    meta_at: usize,
    meta: usize,
    size: u64,
    big: bool,
}

/// Whether `m` is SEAMA metadata: printable text and NUL separators.
fn is_metadata(m: &[u8]) -> bool {
    m.iter().all(|&b| b == 0 || (0x20..0x7f).contains(&b))
}

fn parse(data: &[u8]) -> Option<SeamaHeader> {
    let big = data.starts_with(b"\x5e\xa3\xa4\x17");
    let (meta, size) = if big {
        (be16(data, 6)? as usize, be32(data, 8)? as u64)
    } else {
        (le16(data, 6)? as usize, le32(data, 8)? as u64)
    };
    // Neither metadata nor payload: nothing is there.
    if meta > MAX_META || (meta == 0 && size == 0) {
        return None;
    }
    // A header without payload (the signature header that starts a D-Link DLOB chain)
    // carries no MD5: its metadata follows the first 12 bytes.
    if size == 0 {
        let m = data.get(SHORT_HEADER_LEN..SHORT_HEADER_LEN + meta)?;
        if is_metadata(m) {
            return Some(SeamaHeader {
                meta_at: SHORT_HEADER_LEN,
                meta,
                size,
                big,
            });
        }
    }
    let m = data.get(HEADER_LEN..HEADER_LEN + meta)?;
    is_metadata(m).then_some(SeamaHeader {
        meta_at: HEADER_LEN,
        meta,
        size,
        big,
    })
}

impl Format for Seama {
    fn name(&self) -> &'static str {
        "seama"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse(data)?;
        let total = (h.meta_at + h.meta) as u64 + h.size;
        Some(Probe {
            length: Some(total),
            description: if h.size == 0 {
                "SEAMA metadata header (D-Link DLOB signature), no payload".to_string()
            } else {
                format!("SEAMA, {} bytes payload", h.size)
            },
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = parse(data).ok_or(FormatError::Corrupt("bad SEAMA header".into()))?;
        let (meta, size) = (h.meta, h.size);
        let mut out = Unpacked::default();
        out.detail("endianness", if h.big { "big" } else { "little" });
        let m = &data[h.meta_at..h.meta_at + meta];
        let strings: Vec<String> = m
            .split(|&b| b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        if !strings.is_empty() {
            out.detail("metadata", strings.join("; "));
        }
        if size == 0 {
            return Ok(out);
        }
        let start = (h.meta_at + meta) as u64;
        let avail = (data.len() as u64).saturating_sub(start).min(size);
        if avail < size {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {size} bytes, {avail} present"),
            );
        }
        out.entries.push(Entry::stream(
            "payload",
            EntryData::Range {
                offset: start.min(data.len() as u64),
                length: avail,
            },
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.seama");

    #[test]
    fn payload_is_carved() {
        check_streams(&Seama, "image.seama", IMG);
    }

    #[test]
    fn dlob_signature_header_without_md5_is_read() {
        let meta = b"signature=wrgac25_dlink.2013gui_dir880\0\0";
        let mut d = vec![0x5e, 0xa3, 0xa4, 0x17, 0, 0];
        d.extend_from_slice(&(meta.len() as u16).to_be_bytes());
        d.extend_from_slice(&0u32.to_be_bytes());
        d.extend_from_slice(meta);
        let short = d.len();
        d.extend_from_slice(IMG);
        let p = Seama.probe(&d).expect("signature header");
        assert_eq!(p.length, Some(short as u64));
        let u = unpack(&Seama, &d);
        assert!(u.details["metadata"].starts_with("signature=wrgac25"));
        assert!(u.entries.is_empty());
        check_streams(&Seama, "image.seama", &d[short..]);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Seama, IMG, &Hostile::flips(300));
    }
}
