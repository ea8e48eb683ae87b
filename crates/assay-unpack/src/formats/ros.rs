//! LANCOM router firmware containers (`.ros` upgrade files): a header starting `RNTP` with a
//! version (`1.01`: 48 bytes, `2.00`: 80 bytes), a part count at 0x20, and then one 32-byte
//! record per part (a NUL-padded name of up to 16 bytes, the part's offset and size from the
//! file's start, and flags). The parts (`CLI_FILE`, `EWS_FILE`, `RSCODE`, `DATETIME_C`, ...)
//! are carved as named files; the LZMA and 7z streams inside them are found by the scan.
//!
//! Written here because no crate reads it and the layout is a fixed table. The byte order of
//! the numbers is not stated anywhere in the header: it is taken from the part count (which is
//! small), and every record must then hold up in that order (offsets ascending, inside the
//! file, after the table).

use crate::cursor::{be32, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A LANCOM ROS firmware container.
pub struct Ros;

static MAGICS: &[Magic] = &[Magic::at_start(b"RNTP1.01"), Magic::at_start(b"RNTP2.00")];

/// Most parts accepted in one container (real files hold a handful).
const MAX_PARTS: u32 = 100;
/// Size of one part record.
const RECORD: usize = 32;
/// Offset of the part count.
const COUNT_AT: usize = 0x20;

/// One part as its record states it.
#[derive(Debug)]
struct Part {
    name: String,
    offset: u64,
    size: u64,
    flags: u32,
}

/// The header: its version, byte order and parts.
#[derive(Debug)]
struct RosHeader {
    version: &'static str,
    big_endian: bool,
    parts: Vec<Part>,
}

impl RosHeader {
    /// Parse and check the header and every record (`None` when it does not hold).
    fn parse(data: &[u8]) -> Option<RosHeader> {
        let (version, header_len) = match data.get(4..8)? {
            b"1.01" => ("1.01", 48usize),
            b"2.00" => ("2.00", 80usize),
            _ => return None,
        };
        let le = le32(data, COUNT_AT)?;
        let (count, big_endian) = if (1..=MAX_PARTS).contains(&le) {
            (le, false)
        } else {
            let be = be32(data, COUNT_AT)?;
            if !(1..=MAX_PARTS).contains(&be) {
                return None;
            }
            (be, true)
        };
        let word = |at: usize| {
            if big_endian {
                be32(data, at)
            } else {
                le32(data, at)
            }
        };
        let table_end = header_len + count as usize * RECORD;
        let mut parts = Vec::with_capacity(count as usize);
        let mut prev_end = table_end as u64;
        for i in 0..count as usize {
            let at = header_len + i * RECORD;
            let raw = data.get(at..at + 16)?;
            let name_len = raw.iter().position(|&b| b == 0).unwrap_or(16);
            let (name, pad) = raw.split_at(name_len);
            if name.is_empty()
                || !name
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b))
                || pad.iter().any(|&b| b != 0)
            {
                return None;
            }
            let offset = word(at + 16)? as u64;
            let size = word(at + 20)? as u64;
            if offset < prev_end || size == 0 {
                return None;
            }
            prev_end = offset + size;
            parts.push(Part {
                name: String::from_utf8_lossy(name).into_owned(),
                offset,
                size,
                flags: word(at + 24)?,
            });
        }
        Some(RosHeader {
            version,
            big_endian,
            parts,
        })
    }

    /// Bytes from the file's start to the end of the last part.
    fn span(&self) -> u64 {
        self.parts.last().map_or(0, |p| p.offset + p.size)
    }
}

impl Format for Ros {
    fn name(&self) -> &'static str {
        "ros"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = RosHeader::parse(data)?;
        Some(Probe {
            length: Some(h.span()),
            description: format!("LANCOM ROS firmware {}, {} parts", h.version, h.parts.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = RosHeader::parse(data).ok_or(FormatError::Corrupt("bad ROS header".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", h.version);
        out.detail("endianness", if h.big_endian { "big" } else { "little" });
        out.detail("parts", h.parts.len());
        let len = data.len() as u64;
        for p in &h.parts {
            let avail = len.saturating_sub(p.offset).min(p.size);
            if avail < p.size {
                out.warn(
                    WarningKind::Truncated,
                    format!("part {} declares {} bytes, {avail} present", p.name, p.size),
                );
            }
            if avail == 0 {
                continue;
            }
            out.entries.push(
                Entry::fs(format!("/{}", p.name), EntryKind::File)
                    .with_data(EntryData::Range {
                        offset: p.offset,
                        length: avail,
                    })
                    .with_detail("flags", format!("{:#x}", p.flags)),
            );
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

    const LE: &[u8] = include_bytes!("../../tests/fixtures/ros/image-le.ros");
    const BE: &[u8] = include_bytes!("../../tests/fixtures/ros/image-be.ros");
    const EXPECTED: &str = include_str!("../../tests/fixtures/ros/expected.txt");

    #[test]
    fn parts_are_carved_by_name_in_both_byte_orders() {
        check_streams_in(EXPECTED, &Ros, "image-le.ros", LE);
        check_streams_in(EXPECTED, &Ros, "image-be.ros", BE);
        let u = unpack(&Ros, BE);
        assert_eq!(u.details["endianness"], "big");
        assert_eq!(u.details["version"], "1.01");
    }

    #[test]
    fn a_record_out_of_order_is_refused() {
        let mut bad = LE.to_vec();
        // The second record's offset pointing into the table.
        bad[48 + RECORD + 16..48 + RECORD + 20].copy_from_slice(&16u32.to_le_bytes());
        assert!(Ros.probe(&bad).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Ros, LE, &Hostile::flips(300));
        hostile_with(&Ros, BE, &Hostile::flips(300));
    }
}
