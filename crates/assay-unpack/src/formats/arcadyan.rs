//! Arcadyan's obfuscated LZMA firmware (seen in Arcadyan-made routers sold under several
//! brands): an LZMA stream whose first 0x88 bytes were shuffled. Two 32-byte blocks (at 4
//! and 0x68) are exchanged, and the block that now follows the 4-byte prefix has its bytes
//! nibble-swapped and then swapped in pairs. The scanner finds the shuffled LZMA header
//! (`00 d5 08 00`, i.e. `5d 00 00 80` scrambled) at 0x68. Undoing the shuffle yields a
//! plain LZMA stream at offset 4, decoded here: the container ends where that stream
//! does, so whatever follows it is searched in turn (another obfuscated part is found by
//! the same magic), and a trailer that records the stream's length is carved.
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
        let lzma = Blob::from(clear.get(B1..).unwrap_or_default().to_vec());
        // Decoded here rather than handed on as a stream, so that the container ends where
        // the LZMA stream does: what follows (a second obfuscated part, a trailer) is then
        // searched like the rest of the image instead of being swallowed.
        let mut out = super::lzma::Lzma.unpack(&lzma, ctx)?;
        let stream_end = out
            .consumed
            .unwrap_or(lzma.len() as u64)
            .saturating_add(B1 as u64)
            .min(data.len() as u64);
        out.detail(
            "prefix",
            crate::cursor::be32(&clear, 0)
                .map(|v| format!("{v:#010x}"))
                .unwrap_or_default(),
        );
        out.detail("lzma_end", format!("{stream_end:#x}"));
        for e in &mut out.entries {
            if e.path.is_empty() {
                e.path = "os".into();
            }
        }
        out.consumed = Some(match trailer(data, stream_end) {
            Some(at) => {
                out.detail("trailer_offset", format!("{at:#x}"));
                out.entries.push(Entry::stream(
                    "trailer",
                    EntryData::Range {
                        offset: at,
                        length: data.len() as u64 - at,
                    },
                ));
                data.len() as u64
            }
            None => stream_end,
        });
        Ok(out)
    }
}

/// Start of the trailer that closes some Arcadyan images, when there is one: its last
/// 12 bytes hold the length of the obfuscated stream before it (little-endian), the marker
/// 0x12345678 and a 32-bit value. Recognised only when the length is where the stream ended.
fn trailer(data: &[u8], stream_end: u64) -> Option<u64> {
    let n = data.len().checked_sub(12)?;
    let len = crate::cursor::le32(data, n)?;
    let marker = crate::cursor::le32(data, n + 4)?;
    (marker == 0x1234_5678 && u64::from(len) == stream_end && stream_end < data.len() as u64)
        .then_some(stream_end)
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

    fn obfuscated_image() -> (Vec<u8>, usize) {
        let mut clear = b"\x30\x05\x11\x20".to_vec();
        clear.extend_from_slice(&UIMAGE[64..]);
        // An 8 MiB dictionary, as Arcadyan's images declare (the data is far smaller).
        clear[5..9].copy_from_slice(&0x0080_0000u32.to_le_bytes());
        let len = clear.len();
        (obfuscate(&clear), len)
    }

    #[test]
    fn shuffle_round_trips_and_decodes_the_os() {
        let (obf, len) = obfuscated_image();
        assert_eq!(&obf[0x68..0x6c], b"\x00\xd5\x08\x00");
        let u = unpack(&Arcadyan, &obf);
        assert_eq!(u.entries[0].path, "os");
        let EntryData::Owned(os) = &u.entries[0].data else {
            panic!("owned stream")
        };
        assert!(os.starts_with(b"Linux version 5.10.0-assay"));
        let mut r = lzma_rust2::LzmaReader::new_mem_limit(&UIMAGE[64..], u32::MAX, None).unwrap();
        let mut want = Vec::new();
        r.read_to_end(&mut want).unwrap();
        assert_eq!(&os[..], &want[..]);
        assert_eq!(u.consumed, Some(len as u64));
        hostile_with(&Arcadyan, &obf, &Hostile::flips(200));
    }

    #[test]
    fn container_ends_with_its_stream_so_what_follows_is_searched() {
        let (obf, len) = obfuscated_image();
        // A second obfuscated part behind the first (the web file system of Arcadyan
        // images): the first container stops where its stream ends, and the second is
        // found at its own offset by the engine.
        let mut two = obf.clone();
        two.extend_from_slice(&obf);
        let u = unpack(&Arcadyan, &two);
        assert_eq!(u.consumed, Some(len as u64));
        let engine = crate::Unpacker::new();
        let r = engine.unpack_bytes("two", Blob::from(two), &Default::default());
        let arc: Vec<_> = r
            .nodes
            .iter()
            .filter(|n| n.format.as_deref() == Some("arcadyan"))
            .map(|n| n.offset)
            .collect();
        assert_eq!(arc, vec![Some(0), Some(len as u64)], "{:?}", r.nodes);
    }

    #[test]
    fn trailer_recording_the_stream_length_is_carved() {
        let (mut img, len) = obfuscated_image();
        let mut trailer = vec![0xa5u8; 64];
        trailer.extend_from_slice(&(len as u32).to_le_bytes());
        trailer.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        trailer.extend_from_slice(&[1, 2, 3, 4]);
        img.extend_from_slice(&trailer);
        let u = unpack(&Arcadyan, &img);
        assert_eq!(u.consumed, Some(img.len() as u64));
        assert_eq!(u.details["trailer_offset"], format!("{len:#x}"));
        let t = u.entries.iter().find(|e| e.path == "trailer").unwrap();
        assert_eq!(
            crate::formats::testutil::entry_bytes(&img, t).unwrap(),
            trailer
        );
        // A length that does not match is not a trailer.
        let n = img.len();
        img[n - 12] ^= 1;
        let u = unpack(&Arcadyan, &img);
        assert_eq!(u.consumed, Some(len as u64));
    }
}
