//! Byte-swapped images: dumps read from flash through a bus of the other width or order
//! come out with every 16-bit or 32-bit word reversed. No magic: the driver tries this on
//! whole blobs nothing else claimed, and a swap is accepted only when the swapped blob holds
//! a structure a registered format's probe accepts (the check the xor layer also uses,
//! `xor::verify`).

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A 16- or 32-bit byte-swapped blob.
pub struct Swap;

/// Swap each `width`-byte word; a trailing partial word is kept as it is.
pub(crate) fn swap(data: &[u8], width: usize, limit: usize) -> Vec<u8> {
    let data = &data[..data.len().min(limit)];
    let mut out = Vec::with_capacity(data.len());
    let mut chunks = data.chunks_exact(width);
    for c in &mut chunks {
        out.extend(c.iter().rev());
    }
    out.extend_from_slice(chunks.remainder());
    out
}

/// The word width whose swap reveals a structure at offset 0, and what it is.
fn detect(data: &[u8]) -> Option<(usize, &'static str)> {
    let formats = super::registry();
    for width in [2usize, 4] {
        let head = swap(data, width, 64);
        let hit = formats.iter().any(|f| {
            f.magics().iter().any(|m| {
                m.bytes.len() >= 4 && head.get(m.offset..).is_some_and(|t| t.starts_with(m.bytes))
            })
        });
        if !hit {
            continue;
        }
        let full = swap(data, width, data.len());
        if let Some(name) = super::xor::verify(&full) {
            return Some((width, name));
        }
    }
    None
}

impl Format for Swap {
    fn name(&self) -> &'static str {
        "byteswap"
    }

    fn magics(&self) -> &'static [Magic] {
        &[]
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (width, name) = detect(data)?;
        Some(Probe {
            length: Some(data.len() as u64),
            description: format!("{}-bit byte-swapped image holding {name}", width * 8),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (width, name) =
            detect(data).ok_or_else(|| FormatError::Corrupt("no swap reveals a format".into()))?;
        if data.len() as u64 > ctx.stream_limit() {
            return Err(FormatError::Limit(
                "decoded stream exceeds the limit".into(),
            ));
        }
        ctx.charge(data.len() as u64)?;
        let mut out = Unpacked::default();
        out.detail("word_bits", width * 8);
        out.detail("revealed", name);
        out.entries.push(Entry::stream(
            "decoded",
            EntryData::Owned(Blob::from(swap(data, width, data.len()))),
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

    const S16: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage.swap16");
    const S32: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage.swap32");
    const PLAIN: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-lzma.bin");

    #[test]
    fn both_widths_are_undone() {
        check_streams(&Swap, "uimage.swap16", S16);
        check_streams(&Swap, "uimage.swap32", S32);
        assert_eq!(unpack(&Swap, S32).details["word_bits"], "32");
        assert!(Swap.probe(PLAIN).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Swap, S16, &Hostile::flips(100));
    }
}
