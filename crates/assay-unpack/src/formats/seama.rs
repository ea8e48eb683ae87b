//! D-Link SEAMA firmware containers: a 28-byte header (magic `5e a3 a4 17`, metadata size,
//! payload size, MD5 of the payload), NUL-separated metadata strings (`dev=...`,
//! `type=firmware`), then the payload, carved as one stream. Big-endian as written by the
//! vendor tools; the byte-swapped magic of little-endian builds is accepted too.
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
/// Longest metadata block accepted.
const MAX_META: usize = 4096;

/// Metadata length and payload size.
fn parse(data: &[u8]) -> Option<(usize, u64, bool)> {
    let big = data.starts_with(b"\x5e\xa3\xa4\x17");
    let (meta, size) = if big {
        (be16(data, 6)? as usize, be32(data, 8)? as u64)
    } else {
        (le16(data, 6)? as usize, le32(data, 8)? as u64)
    };
    if meta > MAX_META || data.len() < HEADER_LEN + meta {
        return None;
    }
    Some((meta, size, big))
}

impl Format for Seama {
    fn name(&self) -> &'static str {
        "seama"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (meta, size, _) = parse(data)?;
        // Metadata is text: printable bytes and NUL separators.
        let m = &data[HEADER_LEN..HEADER_LEN + meta];
        if !m.iter().all(|&b| b == 0 || (0x20..0x7f).contains(&b)) {
            return None;
        }
        let total = (HEADER_LEN + meta) as u64 + size;
        Some(Probe {
            length: Some(total),
            description: format!("SEAMA, {size} bytes payload"),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (meta, size, big) =
            parse(data).ok_or(FormatError::Corrupt("bad SEAMA header".into()))?;
        let mut out = Unpacked::default();
        out.detail("endianness", if big { "big" } else { "little" });
        let m = &data[HEADER_LEN..HEADER_LEN + meta];
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
        let start = (HEADER_LEN + meta) as u64;
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

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.seama");

    #[test]
    fn payload_is_carved() {
        check_streams(&Seama, "image.seama", IMG);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Seama, IMG, &Hostile::flips(300));
    }
}
