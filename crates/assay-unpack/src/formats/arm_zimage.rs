//! ARM Linux `zImage`: the self-decompressing kernel of ARM boards (IXP4xx, Kirkwood, most
//! ARM routers and cameras). Its header sits after eight or more words of boot code:
//!
//! | offset | field |
//! |---|---|
//! | 0x24 | magic `0x016F2818`, in the kernel's byte order |
//! | 0x28 | start address of the image (0 for position-independent images) |
//! | 0x2c | end address: the image spans `end - start` bytes |
//! | 0x30 | `0x04030201` in the kernel's byte order (kernels from 3.17 on) |
//!
//! The compressed kernel (gzip, lzma, xz, lzo, lz4) follows the decompressor inside the span.
//! In a little-endian image the scan finds it in the carved image as it is. A big-endian
//! (BE-32) image stores every 32-bit word byte-swapped, so the compressed stream is found
//! only in a word-swapped copy, which this format yields as its own layer.
//!
//! Written here: the header is three words.

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An ARM Linux zImage.
pub struct ArmZimage;

const MAGIC_AT: usize = 0x24;
const MAGIC: u32 = 0x016F_2818;
/// The endianness marker of newer kernels.
const ENDIAN_MARK: u32 = 0x0403_0201;
/// Where the header ends (the word after the end address).
const BODY_AT: u64 = 0x30;
/// Largest image believed (a zImage is a few MiB).
const MAX_SIZE: u64 = 64 << 20;

static MAGICS: &[Magic] = &[
    Magic::at(&MAGIC.to_le_bytes(), MAGIC_AT),
    Magic::at(&MAGIC.to_be_bytes(), MAGIC_AT),
];

/// The header: byte order, start and end addresses.
#[derive(Debug, Clone, Copy)]
struct Header {
    big_endian: bool,
    start: u32,
    end: u32,
    endian_mark: bool,
}

impl Header {
    fn parse(d: &[u8]) -> Option<Header> {
        let word = |at: usize, be: bool| -> Option<u32> {
            let b: [u8; 4] = d.get(at..at + 4)?.try_into().ok()?;
            Some(if be {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let big_endian = match word(MAGIC_AT, false)? {
            MAGIC => false,
            _ if word(MAGIC_AT, true)? == MAGIC => true,
            _ => return None,
        };
        let start = word(0x28, big_endian)?;
        let end = word(0x2c, big_endian)?;
        let size = u64::from(end.checked_sub(start)?);
        if size <= 0x30 || size > MAX_SIZE {
            return None;
        }
        let endian_mark = word(0x30, big_endian) == Some(ENDIAN_MARK);
        Some(Header {
            big_endian,
            start,
            end,
            endian_mark,
        })
    }

    fn size(&self) -> u64 {
        u64::from(self.end - self.start)
    }
}

/// `data` with every whole 32-bit word byte-swapped; a tail short of a word stays.
fn swap_words(data: &[u8]) -> Vec<u8> {
    super::swap::swap(data, 4, data.len())
}

impl Format for ArmZimage {
    fn name(&self) -> &'static str {
        "arm-zimage"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = Header::parse(data)?;
        Some(Probe {
            length: Some(h.size().min(data.len() as u64)),
            description: format!(
                "ARM Linux zImage, {}, {} bytes",
                if h.big_endian {
                    "big-endian (BE-32 words)"
                } else {
                    "little-endian"
                },
                h.size()
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h =
            Header::parse(data).ok_or_else(|| FormatError::Corrupt("no zImage header".into()))?;
        let mut out = Unpacked::default();
        out.detail(
            "byte_order",
            if h.big_endian {
                "big-endian"
            } else {
                "little-endian"
            },
        );
        out.detail("start_address", format!("{:#x}", h.start));
        out.detail("end_address", format!("{:#x}", h.end));
        out.detail("declared_size", h.size());
        if h.endian_mark {
            out.detail("endianness_marker", true);
        }
        let have = data.len() as u64;
        if h.size() > have {
            out.warn(
                WarningKind::Truncated,
                format!("the zImage states {} bytes, {have} present", h.size()),
            );
        }
        let take = h.size().min(have);
        let entry = if h.big_endian {
            ctx.reserve_stream(take, "word-swapped copy")?;
            Entry::stream(
                "words-swapped",
                EntryData::Owned(Blob::from(swap_words(&data[..take as usize]))),
            )
            .with_detail("transform", "32-bit words byte-swapped")
        } else {
            // What follows the header (the decompressor and the compressed kernel): carved so
            // the scan searches it (the image itself would not be searched again).
            Entry::stream(
                "body",
                EntryData::Range {
                    offset: BODY_AT,
                    length: take.saturating_sub(BODY_AT),
                },
            )
        };
        out.entries.push(entry);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, unpack};

    /// A zImage as the kernel's build lays it out: boot code, the header, a gzip payload.
    fn zimage(big_endian: bool, payload: &[u8]) -> Vec<u8> {
        let word = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut d = Vec::new();
        for _ in 0..8 {
            d.extend_from_slice(&word(0xe1a0_0000)); // mov r0, r0
        }
        d.extend_from_slice(&word(0xea00_0002)); // b past the header
        d.extend_from_slice(&word(MAGIC));
        d.extend_from_slice(&word(0));
        let end_at = d.len();
        d.extend_from_slice(&word(0));
        d.extend_from_slice(&word(ENDIAN_MARK));
        d.resize(0x100, 0);
        // The payload as the little-endian build host wrote it; a BE-32 image swaps its words.
        let mut p = payload.to_vec();
        p.resize(p.len().next_multiple_of(4), 0);
        if big_endian {
            p = swap_words(&p);
        }
        d.extend_from_slice(&p);
        let end = d.len() as u32;
        d[end_at..end_at + 4].copy_from_slice(&word(end));
        d
    }

    const GZ: &[u8] = include_bytes!("../../tests/fixtures/compress/tiny-named.gz");

    #[test]
    fn a_big_endian_image_is_word_swapped_so_its_payload_shows() {
        let d = zimage(true, GZ);
        let p = ArmZimage.probe(&d).expect("probe");
        assert_eq!(p.length, Some(d.len() as u64));
        assert!(p.description.contains("big-endian"));
        let u = unpack(&ArmZimage, &d);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["endianness_marker"], "true");
        let swapped = entry_bytes(&d, &u.entries[0]).unwrap();
        assert_eq!(&swapped[0x100..0x100 + GZ.len()], GZ);
    }

    #[test]
    fn the_engine_decodes_the_payload_of_a_big_endian_image() {
        use crate::driver::{UnpackOptions, Unpacker};
        let d = zimage(true, GZ);
        let r = Unpacker::new().unpack_bytes("zImage", Blob::from(d), &UnpackOptions::default());
        let formats: Vec<&str> = r.nodes.iter().filter_map(|n| n.format.as_deref()).collect();
        // The swapped copy is the little-endian image the build host made; its body holds the
        // gzip stream.
        assert_eq!(
            formats[..3],
            ["arm-zimage", "arm-zimage", "gzip"],
            "{formats:?}"
        );
    }

    #[test]
    fn the_fixture_decodes_to_its_text() {
        use crate::driver::{UnpackOptions, Unpacker};
        const IMG: &[u8] = include_bytes!("../../tests/fixtures/kernel/zimage-be32.bin");
        const TEXT: &[u8] = include_bytes!("../../tests/fixtures/kernel/zimage-be32.txt");
        let r = Unpacker::new().unpack_bytes(
            "zImage",
            Blob::from(IMG.to_vec()),
            &UnpackOptions::default(),
        );
        let want = crate::formats::testutil::sha_hex(TEXT);
        assert!(
            r.nodes
                .iter()
                .any(|n| n.sha256.as_deref() == Some(want.as_str())),
            "the kernel text decoded whole"
        );
    }

    #[test]
    fn a_little_endian_image_is_carved_as_it_is() {
        let d = zimage(false, GZ);
        let u = unpack(&ArmZimage, &d);
        assert!(matches!(
            u.entries[0].data,
            EntryData::Range { offset: BODY_AT, length } if length == d.len() as u64 - BODY_AT
        ));
        assert_eq!(u.details["byte_order"], "little-endian");
    }

    #[test]
    fn a_cut_image_and_bad_headers() {
        let d = zimage(true, GZ);
        let cut = &d[..d.len() - 50];
        let u = unpack(&ArmZimage, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        let mut bad = d.clone();
        bad[0x2c..0x30].copy_from_slice(&0u32.to_be_bytes()); // end before start
        assert!(ArmZimage.probe(&bad).is_none());
        let mut huge = d.clone();
        huge[0x2c..0x30].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(ArmZimage.probe(&huge).is_none());
        assert!(ArmZimage.probe(&d[..0x2e]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&ArmZimage, &zimage(true, GZ), &Hostile::flips(200));
    }
}
