//! TP-Link `IMG0` containers around VxWorks images (TL-WR702N and the other VxWorks-based
//! TP-Link routers). The firmware file carries an outer `IMG0` (boot code and everything
//! after it) whose payload holds an inner one (the OS, the OWFS web pages and a last part).
//!
//! Header, big-endian, 128 bytes:
//!
//! | offset | field |
//! |---|---|
//! | 0 | `IMG0` |
//! | 4 | bytes from the magic to the container's end |
//! | 8 | product id (16 bits), language / region (16 bits: `0x1101` English, `0x0001` Chinese) |
//! | 12 | three words of build information (format version, a hardware word, a flag) |
//! | 24 | zero |
//! | 64 | up to eight (offset, length) pairs of the parts, offsets from the magic |
//! | 128 | the parts |
//!
//! The parts are carved as they are; the lzma-alone streams among them (TP-Link's VxWorks
//! kernels use the uncommon properties byte 0x6e) are found by the lzma format's own search.

use crate::cursor::{be16, be32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A TP-Link `IMG0` container.
pub struct Img0;

static MAGICS: &[Magic] = &[Magic::at_start(b"IMG0")];

const HEADER_LEN: u64 = 128;
const TABLE_AT: usize = 64;
const MAX_PARTS: usize = 8;

/// The header's fields.
#[derive(Debug, Clone)]
struct Img0Header {
    size: u64,
    product: u16,
    language: u16,
    build: [u32; 3],
    parts: Vec<(u64, u64)>,
}

fn parse(data: &[u8]) -> Option<Img0Header> {
    if !data.starts_with(b"IMG0") {
        return None;
    }
    let size = u64::from(be32(data, 4)?);
    if size < HEADER_LEN || data.len() < HEADER_LEN as usize {
        return None;
    }
    // Bytes 24..64 are zero in every header seen; a false hit rarely has 40 zeros there.
    if data[24..TABLE_AT].iter().any(|&b| b != 0) {
        return None;
    }
    let mut parts = Vec::new();
    let mut ended = false;
    let mut prev_end = HEADER_LEN;
    for i in 0..MAX_PARTS {
        let off = u64::from(be32(data, TABLE_AT + 8 * i)?);
        let len = u64::from(be32(data, TABLE_AT + 8 * i + 4)?);
        if off == 0 && len == 0 {
            ended = true;
            continue;
        }
        // Parts are listed in order, after the header, inside the container, without gaps
        // in the table.
        if ended || off < prev_end || len == 0 || off.checked_add(len)? > size {
            return None;
        }
        prev_end = off + len;
        parts.push((off, len));
    }
    if parts.is_empty() {
        return None;
    }
    Some(Img0Header {
        size,
        product: be16(data, 8)?,
        language: be16(data, 10)?,
        build: [be32(data, 12)?, be32(data, 16)?, be32(data, 20)?],
        parts,
    })
}

fn language(code: u16) -> Option<&'static str> {
    match code {
        0x1101 => Some("English"),
        0x0001 => Some("Chinese"),
        _ => None,
    }
}

impl Format for Img0 {
    fn name(&self) -> &'static str {
        "tplink-img0"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse(data)?;
        Some(Probe {
            length: Some(h.size),
            description: format!(
                "TP-Link IMG0, product {:#06x}, {} parts",
                h.product,
                h.parts.len()
            ),
        })
    }

    fn unpack(&self, data: &Blob, _: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = parse(data).ok_or_else(|| FormatError::Corrupt("bad IMG0 header".into()))?;
        let mut out = Unpacked::default();
        out.detail("product_id", format!("{:#06x}", h.product));
        out.detail("language_code", format!("{:#06x}", h.language));
        if let Some(l) = language(h.language) {
            out.detail("language", l);
        }
        out.detail(
            "build_words",
            format!(
                "{:#010x} {:#010x} {:#010x}",
                h.build[0], h.build[1], h.build[2]
            ),
        );
        let parts: Vec<String> = h
            .parts
            .iter()
            .map(|(o, l)| format!("{o:#x}+{l:#x}"))
            .collect();
        out.detail("parts", parts.join(", "));
        let have = data.len() as u64;
        if h.size > have {
            out.warn(
                WarningKind::Truncated,
                format!("IMG0 declares {} bytes, {have} present", h.size),
            );
        }
        for (i, &(off, len)) in h.parts.iter().enumerate() {
            let label = format!("part{}", i + 1);
            if off >= have {
                out.warn(
                    WarningKind::Truncated,
                    format!("{label} at {off:#x} lies past the end"),
                );
                continue;
            }
            let len = len.min(have - off);
            // Carved as they are: an lzma part (TP-Link's kernels use the uncommon properties
            // byte 0x6e) is found and decoded by the lzma format in the part, so the stream
            // keeps its own node at its offset in the image.
            let entry = Entry::stream(
                &label,
                EntryData::Range {
                    offset: off,
                    length: len,
                },
            );
            out.entries.push(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};

    /// An IMG0 with a stored part and an lzma part, as the fixture script builds them.
    fn sample() -> Vec<u8> {
        let stored = b"boot code that is not compressed".to_vec();
        let lzma: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lzma");
        let mut d = Vec::new();
        d.extend_from_slice(b"IMG0");
        let total = 128 + stored.len() + lzma.len();
        d.extend_from_slice(&(total as u32).to_be_bytes());
        d.extend_from_slice(&[0x07, 0x02, 0x11, 0x01]);
        d.extend_from_slice(&[0, 0, 0, 1, 0x5a, 4, 0x14, 0, 0, 0, 0, 0]);
        d.resize(64, 0);
        for (o, l) in [(128, stored.len()), (128 + stored.len(), lzma.len())] {
            d.extend_from_slice(&(o as u32).to_be_bytes());
            d.extend_from_slice(&(l as u32).to_be_bytes());
        }
        d.resize(128, 0);
        d.extend_from_slice(&stored);
        d.extend_from_slice(lzma);
        d
    }

    #[test]
    fn parts_are_carved_at_their_offsets() {
        let d = sample();
        let p = Img0.probe(&d).expect("probe");
        assert_eq!(p.length, Some(d.len() as u64));
        let u = crate::formats::testutil::unpack(&Img0, &d);
        assert_eq!(u.entries.len(), 2);
        assert!(matches!(
            u.entries[0].data,
            EntryData::Range { offset: 128, .. }
        ));
        assert!(matches!(
            u.entries[1].data,
            EntryData::Range { offset: 160, .. }
        ));
        assert_eq!(
            u.details.get("language").map(String::as_str),
            Some("English")
        );
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    }

    #[test]
    fn the_lzma_part_is_a_node_at_its_offset_in_the_image() {
        use crate::driver::{UnpackOptions, Unpacker};
        let mut image = vec![0x55u8; 20]; // a vendor prefix, as in front of TP-Link's IMG0
        image.extend_from_slice(&sample());
        let r =
            Unpacker::new().unpack_bytes("fw", crate::Blob::from(image), &UnpackOptions::default());
        let at = |id: usize| {
            let mut n = &r.nodes[id];
            let mut abs = 0u64;
            loop {
                abs += n.offset.expect("a chain of carved slices");
                match n.parent {
                    Some(p) if p != 0 => n = &r.nodes[p as usize],
                    _ => return abs,
                }
            }
        };
        let lzma = r
            .nodes
            .iter()
            .position(|n| n.format.as_deref() == Some("lzma"))
            .expect("lzma node");
        assert_eq!(at(lzma), 20 + 160);
        let decoded = r
            .nodes
            .iter()
            .position(|n| n.parent == Some(lzma as u32))
            .expect("decoded stream");
        assert_eq!(
            r.nodes[decoded].sha256.as_deref(),
            Some(crate::formats::streamout::tests::expected_sha("payload.lzma").as_str())
        );
    }

    #[test]
    fn headers_that_do_not_hold_are_refused() {
        let mut d = sample();
        d[30] = 1; // reserved bytes
        assert!(Img0.probe(&d).is_none());
        let mut d = sample();
        d[64..68].copy_from_slice(&16u32.to_be_bytes()); // part inside the header
        assert!(Img0.probe(&d).is_none());
        let mut d = sample();
        d[4..8].copy_from_slice(&64u32.to_be_bytes()); // shorter than its header
        assert!(Img0.probe(&d).is_none());
        assert!(Img0.probe(b"IMG0").is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Img0, &sample(), &Hostile::flips(300));
    }
}
