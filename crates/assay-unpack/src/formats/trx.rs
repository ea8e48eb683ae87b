//! Broadcom TRX firmware containers (`HDR0`): a little-endian header with the image length,
//! a CRC-32 over everything after the CRC field, and up to three (v1) or four (v2) partition
//! offsets. Each partition is carved as a stream; the driver finds the LZMA loader, kernel
//! and root file system inside them.
//!
//! Written here because the header is 28–32 fixed bytes.

use crate::cursor::{le16, le32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Broadcom TRX v1 or v2 image.
pub struct Trx;

static MAGICS: &[Magic] = &[Magic::at_start(b"HDR0")];

/// The header fields.
#[derive(Debug, Clone)]
struct TrxHeader {
    length: u32,
    crc: u32,
    flags: u16,
    version: u16,
    /// Non-zero partition offsets, in header order.
    offsets: Vec<u32>,
    header_len: u32,
}

impl TrxHeader {
    fn parse(data: &[u8]) -> Option<TrxHeader> {
        let length = le32(data, 4)?;
        let version = le16(data, 14)?;
        let (slots, header_len) = match version {
            1 => (3, 28u32),
            2 => (4, 32u32),
            _ => return None,
        };
        if length < header_len {
            return None;
        }
        let mut offsets = Vec::new();
        for i in 0..slots {
            let off = le32(data, 16 + 4 * i)?;
            if off == 0 {
                continue;
            }
            if off < header_len || off >= length || offsets.last().is_some_and(|&l| off <= l) {
                return None;
            }
            offsets.push(off);
        }
        Some(TrxHeader {
            length,
            crc: le32(data, 8)?,
            flags: le16(data, 12)?,
            version,
            offsets,
            header_len,
        })
    }
}

impl Format for Trx {
    fn name(&self) -> &'static str {
        "trx"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = TrxHeader::parse(data)?;
        if h.offsets.is_empty() {
            return None;
        }
        Some(Probe {
            length: Some(h.length as u64),
            description: format!("TRX v{}, {} partitions", h.version, h.offsets.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = TrxHeader::parse(data).ok_or(FormatError::Corrupt("bad TRX header".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", h.version);
        out.detail("flags", format!("{:#06x}", h.flags));
        let end = (h.length as usize).min(data.len());
        if end < h.length as usize {
            out.detail("crc", "unchecked (truncated)");
        } else {
            // CRC-32 with initial value ~0 and no final inversion.
            let crc = !crc32fast::hash(data.get(12..end).unwrap_or_default());
            if crc == h.crc {
                out.detail("crc", "ok");
            } else {
                out.detail("crc", "mismatch");
                out.warn(
                    WarningKind::Checksum,
                    format!(
                        "CRC mismatch (stored {:#010x}, computed {crc:#010x})",
                        h.crc
                    ),
                );
            }
        }
        let _ = h.header_len;
        for (i, &off) in h.offsets.iter().enumerate() {
            let stop = h.offsets.get(i + 1).map(|&n| n as usize).unwrap_or(end);
            let start = off as usize;
            let stop = stop.min(end);
            if start >= stop {
                out.warn(
                    WarningKind::Truncated,
                    format!("partition {} at {off:#x} lies past the data", i + 1),
                );
                continue;
            }
            out.entries.push(
                Entry::stream(
                    format!("partition{}", i + 1),
                    EntryData::Range {
                        offset: start as u64,
                        length: (stop - start) as u64,
                    },
                )
                .with_detail("offset", format!("{off:#x}")),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const TRX: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.trx");

    #[test]
    fn partitions_are_carved_and_crc_checked() {
        check_streams(&Trx, "image.trx", TRX);
        assert_eq!(unpack(&Trx, TRX).details["crc"], "ok");
        let mut d = TRX.to_vec();
        d[100] ^= 1;
        let u = unpack(&Trx, &d);
        assert_eq!(u.details["crc"], "mismatch");
        assert_eq!(u.warnings.len(), 1);
    }

    #[test]
    fn rejects_bad_versions_and_offsets() {
        let mut d = TRX.to_vec();
        d[14] = 3;
        assert!(Trx.probe(&d).is_none());
        let mut d = TRX.to_vec();
        d[20..24].copy_from_slice(&4u32.to_le_bytes());
        assert!(Trx.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Trx, TRX, &Hostile::flips(400));
    }
}
