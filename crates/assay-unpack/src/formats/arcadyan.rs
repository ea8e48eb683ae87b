//! Arcadyan's obfuscated LZMA firmware (seen in Arcadyan-made routers sold under several
//! brands): an LZMA stream whose first 0x88 bytes were shuffled. Two 32-byte blocks (at 4
//! and 0x68) are exchanged, and the block that now follows the 4-byte prefix has its bytes
//! nibble-swapped and then swapped in pairs. The scanner finds the shuffled LZMA header
//! (`00 d5 08 00`, i.e. `5d 00 00 80` scrambled) at 0x68. Undoing the shuffle yields a
//! plain LZMA stream at offset 4, yielded as one stream for the LZMA reader.
//!
//! The scheme was learned from binwalk v3's description of it (facts only, no code).

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// An Arcadyan-obfuscated LZMA image.
pub struct Arcadyan;

static MAGICS: &[Magic] = &[Magic::at(b"\x00\xd5\x08\x00", 0x68)];

const BLOCK: usize = 32;
const B1: usize = 4;
const B2: usize = 0x68;
const SHUFFLED_END: usize = B2 + BLOCK;

/// Undo the shuffle of the first 0x88 bytes; `data` must be at least that long.
fn deobfuscate(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < SHUFFLED_END {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(&data[..B1]);
    out.extend_from_slice(&data[B2..B2 + BLOCK]);
    out.extend_from_slice(&data[B1 + BLOCK..B2]);
    out.extend_from_slice(&data[B1..B1 + BLOCK]);
    out.extend_from_slice(&data[SHUFFLED_END..]);
    for b in &mut out[B1..B1 + BLOCK] {
        *b = b.rotate_left(4);
    }
    for pair in out[B1..B1 + BLOCK].chunks_exact_mut(2) {
        pair.swap(0, 1);
    }
    Some(out)
}

/// Whether `h` starts with a plausible LZMA-alone header (properties, dictionary size).
fn lzma_header_ok(h: &[u8]) -> bool {
    let (Some(&props), Some(dict)) = (h.first(), crate::cursor::le32(h, 1)) else {
        return false;
    };
    props < 225 && (4096..=1 << 28).contains(&dict) && dict.count_ones() <= 2
}

impl Format for Arcadyan {
    fn name(&self) -> &'static str {
        "arcadyan"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let head = deobfuscate(data.get(..SHUFFLED_END)?)?;
        if !lzma_header_ok(&head[B1..]) {
            return None;
        }
        Some(Probe {
            length: None,
            description: "Arcadyan obfuscated LZMA".into(),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let clear = deobfuscate(data).ok_or(FormatError::Truncated {
            what: "Arcadyan header",
            offset: 0,
        })?;
        let lzma = clear.get(B1..).unwrap_or_default().to_vec();
        ctx.charge(lzma.len() as u64)?;
        let mut out = Unpacked::default();
        out.detail(
            "prefix",
            crate::cursor::be32(&clear, 0)
                .map(|v| format!("{v:#010x}"))
                .unwrap_or_default(),
        );
        out.entries
            .push(Entry::stream("lzma", EntryData::Owned(Blob::from(lzma))));
        out.consumed = Some(data.len() as u64);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::unpack;
    use std::io::Read;

    /// The shuffle, applied forwards, to build test inputs.
    fn obfuscate(clear: &[u8]) -> Vec<u8> {
        let mut c = clear.to_vec();
        for pair in c[B1..B1 + BLOCK].chunks_exact_mut(2) {
            pair.swap(0, 1);
        }
        for b in &mut c[B1..B1 + BLOCK] {
            *b = b.rotate_left(4);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&c[..B1]);
        out.extend_from_slice(&c[B2..B2 + BLOCK]);
        out.extend_from_slice(&c[B1 + BLOCK..B2]);
        out.extend_from_slice(&c[B1..B1 + BLOCK]);
        out.extend_from_slice(&c[SHUFFLED_END..]);
        out
    }

    /// An LZMA-alone stream made by the `lzma` tool: the payload of the uImage fixture.
    const UIMAGE: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-lzma.bin");

    #[test]
    fn shuffle_round_trips_and_yields_lzma() {
        let mut clear = b"\x30\x05\x11\x20".to_vec();
        clear.extend_from_slice(&UIMAGE[64..]);
        // An 8 MiB dictionary, as Arcadyan's images declare (the data is far smaller).
        clear[5..9].copy_from_slice(&0x0080_0000u32.to_le_bytes());
        let obf = obfuscate(&clear);
        assert_eq!(&obf[0x68..0x6c], b"\x00\xd5\x08\x00");
        let u = unpack(&Arcadyan, &obf);
        let EntryData::Owned(lz) = &u.entries[0].data else {
            panic!("owned stream")
        };
        let mut r = lzma_rust2::LzmaReader::new_mem_limit(&lz[..], u32::MAX, None).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert!(got.starts_with(b"Linux version 5.10.0-assay"));
        hostile_with(&Arcadyan, &obf, &Hostile::flips(200));
    }
}
