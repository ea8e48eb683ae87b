//! INSTAR `BNEG` firmware (INSTAR IP cameras): a 20-byte little-endian header (`BNEG`,
//! major and minor version, the sizes of two partitions) followed by the two partitions
//! back to back, usually the kernel and the root file system.
//!
//! No checksum is known, so the probe asks for major version 1, a small minor version and
//! two non-empty partitions; each partition is carved as a stream.
//!
//! Written here (no crate reads it); layout as the vendor's images carry it.

use crate::cursor::le32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An INSTAR BNEG image.
pub struct Bneg;

static MAGICS: &[Magic] = &[Magic::at_start(b"BNEG")];

/// Magic, major, minor, partition 1 size, partition 2 size.
const HEADER_LEN: usize = 20;
/// The only major version seen.
const MAJOR: u32 = 1;
/// Minor versions above this are taken for noise.
const MAX_MINOR: u32 = 0xFF;

/// Header facts: minor version and the two partition sizes.
struct Header {
    minor: u32,
    parts: [u64; 2],
}

fn parse(data: &[u8]) -> Option<Header> {
    if data.len() < HEADER_LEN || !data.starts_with(b"BNEG") {
        return None;
    }
    let minor = le32(data, 8)?;
    let parts = [u64::from(le32(data, 12)?), u64::from(le32(data, 16)?)];
    (le32(data, 4)? == MAJOR && minor <= MAX_MINOR && parts.iter().all(|&p| p != 0))
        .then_some(Header { minor, parts })
}

impl Format for Bneg {
    fn name(&self) -> &'static str {
        "bneg"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + h.parts[0] + h.parts[1]),
            description: format!(
                "INSTAR BNEG v{MAJOR}.{}, partitions of {} and {} bytes",
                h.minor, h.parts[0], h.parts[1]
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = parse(data).ok_or_else(|| FormatError::Corrupt("bad BNEG header".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", format!("{MAJOR}.{}", h.minor));
        let len = data.len() as u64;
        let mut at = HEADER_LEN as u64;
        for (i, &size) in h.parts.iter().enumerate() {
            let avail = len.saturating_sub(at).min(size);
            if avail < size {
                out.warn(
                    WarningKind::Truncated,
                    format!("partition {} declares {size} bytes, {avail} present", i + 1),
                );
            }
            if avail > 0 {
                out.entries.push(Entry::stream(
                    format!("partition{}", i + 1),
                    EntryData::Range {
                        offset: at,
                        length: avail,
                    },
                ));
            }
            at += size;
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
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.bneg");

    #[test]
    fn partitions_are_carved() {
        check_streams_in(MANIFEST, &Bneg, "image.bneg", IMG);
        let u = unpack(&Bneg, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(Bneg.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn truncation_warns() {
        let u = unpack(&Bneg, &IMG[..IMG.len() - 9]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries.len(), 2);
    }

    #[test]
    fn odd_versions_and_empty_partitions_are_refused() {
        for (at, v) in [(4, 2u32), (8, 0x100), (12, 0), (16, 0)] {
            let mut bad = IMG.to_vec();
            bad[at..at + 4].copy_from_slice(&v.to_le_bytes());
            assert!(Bneg.probe(&bad).is_none(), "accepted with {v} at {at}");
        }
        assert!(Bneg.probe(&IMG[..HEADER_LEN - 1]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Bneg, IMG, &Hostile::flips(200));
    }
}
