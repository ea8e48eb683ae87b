//! Hi-Link encrypted firmware (HLK-RM04, HLK-WR02 and the other Ralink modules of Hi-Link):
//! a U-Boot uImage encrypted whole with DES in ECB mode, twice: once over the 8-byte blocks
//! from offset 0, then again over the 8-byte blocks from offset 3. Bytes after the last whole
//! block of a pass are left as they are, so the file keeps the uImage's exact length.
//!
//! The key is one fixed key for every image of the scheme and is public (binwalk's `hilink`
//! plugin carried it from 2014 to 2017). The image has no clear-text magic (the header is
//! encrypted, and so is the image name that follows it), so the format searches for itself
//! at the start of every blob: a candidate holds when the first 64 bytes decrypt to a uImage
//! header whose own CRC holds and whose stated length fits. The decrypted image is unpacked
//! as a new layer (the uImage reader then checks its data CRC).
//!
//! Written here because the container is only a cipher layer; the block cipher is the
//! RustCrypto `des` crate.

use crate::cursor::be32;
use crate::format::{
    Entry, EntryData, Finder, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use des::cipher::{Block, BlockCipherDecrypt, KeyInit};

/// A Hi-Link encrypted uImage.
pub struct HilinkEncrypted;

/// The scheme's fixed DES key (public).
const KEY: &[u8; 8] = b"H@L9K*(3";
/// DES block.
const BLOCK: usize = 8;
/// Where the second encryption pass starts.
const SECOND_PASS_AT: usize = 3;
/// A uImage header.
const UIMAGE_HEADER: usize = 64;
/// Encrypted bytes needed to decrypt the header: the second pass's blocks up to byte 67.
const HEADER_NEEDS: usize = SECOND_PASS_AT + UIMAGE_HEADER;
const UIMAGE_MAGIC: u32 = 0x2705_1956;

/// Undo both passes over `data` in place: the second pass (blocks from offset 3) first,
/// then the first (blocks from offset 0). Trailing bytes short of a block stay as they are.
fn decrypt_in_place(data: &mut [u8]) {
    let des = des::Des::new(KEY.into());
    let mut pass = |from: usize| {
        if let Some(region) = data.get_mut(from..) {
            for block in region.chunks_exact_mut(BLOCK) {
                let mut b = Block::<des::Des>::default();
                b.copy_from_slice(block);
                des.decrypt_block(&mut b);
                block.copy_from_slice(&b);
            }
        }
    };
    pass(SECOND_PASS_AT);
    pass(0);
}

/// The decrypted uImage header, when `data` starts with one: (header, the image's length
/// including its header).
fn header(data: &[u8]) -> Option<([u8; UIMAGE_HEADER], u64)> {
    let mut head = data.get(..HEADER_NEEDS)?.to_vec();
    decrypt_in_place(&mut head);
    let h: [u8; UIMAGE_HEADER] = head[..UIMAGE_HEADER].try_into().ok()?;
    if be32(&h, 0)? != UIMAGE_MAGIC {
        return None;
    }
    let mut zeroed = h;
    zeroed[4..8].fill(0);
    if crc32fast::hash(&zeroed) != be32(&h, 4)? {
        return None;
    }
    let size = u64::from(be32(&h, 12)?);
    Some((h, UIMAGE_HEADER as u64 + size))
}

/// Candidates: the start of the blob only (an encrypted image is a file of its own).
fn find_start(data: &[u8], window: std::ops::Range<usize>, starts: &mut Vec<usize>) {
    if window.start == 0 && header(data).is_some() {
        starts.push(0);
    }
}

/// The uImage's name field, printable part.
fn image_name(h: &[u8; UIMAGE_HEADER]) -> String {
    h[32..]
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

impl Format for HilinkEncrypted {
    fn name(&self) -> &'static str {
        "hilink-encrypted"
    }

    fn magics(&self) -> &'static [Magic] {
        &[]
    }

    fn finder(&self) -> Option<Finder> {
        Some(find_start)
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (h, length) = header(data)?;
        Some(Probe {
            length: Some(length.min(data.len() as u64)),
            description: format!(
                "Hi-Link encrypted uImage (DES, public key), {length} bytes, image name \"{}\"",
                image_name(&h)
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (h, length) =
            header(data).ok_or_else(|| FormatError::Corrupt("no Hi-Link uImage header".into()))?;
        let mut out = Unpacked::default();
        out.detail(
            "cipher",
            "DES-ECB, two passes (from offset 0, then from offset 3)",
        );
        out.detail("key", "Hi-Link fixed key of the scheme (public)");
        out.detail("image_name", image_name(&h));
        out.detail("image_size", length);
        let have = data.len() as u64;
        if length > have {
            out.warn(
                WarningKind::Truncated,
                format!("the uImage states {length} bytes, {have} present"),
            );
        }
        let take = length.min(have);
        ctx.reserve_stream(take, "decrypted image")?;
        let mut clear = data[..take as usize].to_vec();
        decrypt_in_place(&mut clear);
        out.entries.push(
            Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                .with_detail("cipher", "DES-ECB"),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/hilink/hilink.bin");
    const EXPECTED: &str = include_str!("../../tests/fixtures/hilink/expected.txt");

    fn expected(name: &str) -> &'static str {
        EXPECTED
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .expect("listed in expected.txt")
    }

    #[test]
    fn the_image_is_decrypted_to_its_uimage() {
        let mut starts = Vec::new();
        find_start(IMG, 0..IMG.len(), &mut starts);
        assert_eq!(starts, [0]);
        let p = HilinkEncrypted.probe(IMG).expect("probe");
        assert_eq!(p.length, Some(IMG.len() as u64));
        assert!(
            p.description.contains("\"assay hilink test\""),
            "{}",
            p.description
        );
        let u = unpack(&HilinkEncrypted, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let clear = entry_bytes(IMG, &u.entries[0]).unwrap();
        assert_eq!(sha_hex(&clear), expected("uimage"));
    }

    #[test]
    fn the_decrypted_layer_is_unpacked_by_the_engine() {
        use crate::driver::{UnpackOptions, Unpacker};
        let r =
            Unpacker::new().unpack_bytes("fw", Blob::from(IMG.to_vec()), &UnpackOptions::default());
        let formats: Vec<&str> = r.nodes.iter().filter_map(|n| n.format.as_deref()).collect();
        assert_eq!(formats[..2], ["hilink-encrypted", "uimage"], "{formats:?}");
        assert!(
            r.nodes
                .iter()
                .any(|n| n.sha256.as_deref() == Some(expected("payload"))),
            "the uImage's payload, whole"
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn other_blobs_are_not_candidates() {
        let mut starts = Vec::new();
        // A plain uImage, and the encrypted image seen from a later window.
        let plain = include_bytes!("../../tests/fixtures/hilink/plain.uimage");
        find_start(plain, 0..plain.len(), &mut starts);
        find_start(IMG, 4096..IMG.len(), &mut starts);
        find_start(&[0u8; 100], 0..100, &mut starts);
        find_start(&IMG[..40], 0..40, &mut starts);
        assert!(starts.is_empty());
        // One flipped header bit breaks the header CRC.
        let mut bad = IMG.to_vec();
        bad[20] ^= 1;
        assert!(HilinkEncrypted.probe(&bad).is_none());
    }

    #[test]
    fn a_cut_image_is_decrypted_as_far_as_it_goes() {
        let cut = &IMG[..IMG.len() - 100];
        let u = unpack(&HilinkEncrypted, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(entry_bytes(cut, &u.entries[0]).unwrap().len(), cut.len());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&HilinkEncrypted, IMG, &Hostile::flips(200));
    }
}
