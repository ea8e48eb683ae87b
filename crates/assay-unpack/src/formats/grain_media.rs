//! Grain Media GM8126 firmware images (IP cameras built on the GM8126 SoC): a 256-byte
//! header (magic `80 5A 47 4D` then four zero bytes, the payload size as a big-endian 32-bit
//! number at offset 8, a NUL-padded image name at offset 16, the rest zero in the images
//! seen) followed by the payload, usually the kernel.
//!
//! No checksum is known for this header, so the probe asks for the eight magic bytes, a
//! non-zero size and an image name of printable text; the payload is carved as a stream.
//!
//! Written here (no crate reads it); layout from the header as the vendor's images carry it.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Grain Media GM8126 image.
pub struct Gm8126;

/// The magic with the zero word that follows it.
const MAGIC: &[u8] = &[0x80, 0x5A, 0x47, 0x4D, 0, 0, 0, 0];
static MAGICS: &[Magic] = &[Magic::at_start(MAGIC)];

/// Header length; the payload follows.
const HEADER_LEN: usize = 0x100;
/// Big-endian payload size.
const SIZE_AT: usize = 8;
/// Image name, NUL-padded.
const NAME_AT: usize = 0x10;
/// Bytes of the name field checked (a longer name is not refused, only not checked).
const NAME_LEN: usize = 32;

/// Payload size and image name when `data` starts with a GM8126 header.
fn parse(data: &[u8]) -> Option<(u64, String)> {
    if data.len() < HEADER_LEN || !data.starts_with(MAGIC) {
        return None;
    }
    let size = be32(data, SIZE_AT)?;
    if size == 0 {
        return None;
    }
    let field = &data[NAME_AT..NAME_AT + NAME_LEN];
    let name = field.split(|&b| b == 0).next().unwrap_or(field);
    if !name.iter().all(|b| (0x20..0x7F).contains(b)) {
        return None;
    }
    Some((u64::from(size), String::from_utf8_lossy(name).into_owned()))
}

impl Format for Gm8126 {
    fn name(&self) -> &'static str {
        "gm8126"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (size, name) = parse(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + size),
            description: format!("Grain Media GM8126 image {name:?}, {size} bytes"),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (size, name) =
            parse(data).ok_or_else(|| FormatError::Corrupt("bad GM8126 header".into()))?;
        let mut out = Unpacked::default();
        out.detail("image_name", &name);
        out.detail("payload_size", size);
        let avail = (data.len() as u64 - HEADER_LEN as u64).min(size);
        if avail < size {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {size} bytes, {avail} present"),
            );
        }
        out.entries.push(Entry::stream(
            "payload",
            EntryData::Range {
                offset: HEADER_LEN as u64,
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
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.gm8126");

    #[test]
    fn payload_is_carved() {
        check_streams_in(MANIFEST, &Gm8126, "image.gm8126", IMG);
        let u = unpack(&Gm8126, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(Gm8126.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn truncation_warns() {
        let u = unpack(&Gm8126, &IMG[..IMG.len() - 5]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn zero_size_bad_name_or_short_header_is_refused() {
        let mut zero = IMG.to_vec();
        zero[SIZE_AT..SIZE_AT + 4].copy_from_slice(&[0; 4]);
        assert!(Gm8126.probe(&zero).is_none());
        let mut name = IMG.to_vec();
        name[NAME_AT] = 0x01;
        assert!(Gm8126.probe(&name).is_none());
        let mut word = IMG.to_vec();
        word[5] = 1;
        assert!(Gm8126.probe(&word).is_none());
        assert!(Gm8126.probe(&IMG[..HEADER_LEN - 1]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Gm8126, IMG, &Hostile::flips(200));
    }
}
