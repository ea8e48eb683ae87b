//! D-Link `encrpted_img` firmware (DIR-8xx/COVR and similar): a 16-byte header (the ASCII
//! tag `encrpted_img`, the vendor's spelling, then the payload size as a big-endian 32-bit
//! number) and an AES-256-CBC encrypted payload, usually a UBI image.
//!
//! The key and IV are one fixed pair shared by every device of the scheme; they are public
//! (they ship in the devices' own update tools and are documented by the open-source
//! unpackers), so the payload is decrypted here and unpacked as a new layer. The payload is
//! decrypted as one CBC chain, in 128 KiB erase blocks; where an erase block's first cipher
//! block decrypts to a UBI header only with the fixed IV (images encrypted erase block by
//! erase block), that reading is kept.
//!
//! Written here because the container is a 16-byte header; the cipher is the RustCrypto
//! `aes` crate, with the CBC chaining done in this module.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use aes::cipher::{BlockCipherDecrypt, KeyInit};

/// A D-Link `encrpted_img` image.
pub struct DlinkEncrptedImg;

static MAGICS: &[Magic] = &[Magic::at_start(b"encrpted_img")];

/// Tag and size field.
const HEADER_LEN: usize = 16;
/// AES block.
const BLOCK: usize = 16;
/// Erase block of the NAND the payload is written to.
const PEB: usize = 0x2_0000;
/// The scheme's fixed AES-256 key (public: in the vendor's tools and the peers' handlers).
const KEY: &[u8; 32] = b"he9-4+M!)d6=m~we1,q2a3d1n&2*Z^%8";
/// The scheme's fixed CBC initialisation vector.
const IV: &[u8; 16] = b"J%1iQl8$=lm-;8AE";

/// The header: declared payload size.
#[derive(Debug, Clone, Copy)]
struct EncrptedHeader {
    size: u32,
}

impl EncrptedHeader {
    fn parse(data: &[u8]) -> Option<EncrptedHeader> {
        if !data.starts_with(b"encrpted_img") {
            return None;
        }
        let size = be32(data, 12)?;
        // Whole AES blocks, and something to decrypt.
        if size == 0 || !(size as usize).is_multiple_of(BLOCK) {
            return None;
        }
        Some(EncrptedHeader { size })
    }
}

/// CBC decryption of whole 16-byte blocks of `cipher` with `decrypt_block` (the block
/// cipher's decryption in place) and `iv`.
pub(crate) fn cbc_decrypt(
    decrypt_block: impl Fn(&mut aes::Block),
    iv: &[u8; 16],
    cipher: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(cipher.len());
    let mut prev = *iv;
    for c in cipher.chunks_exact(BLOCK) {
        let mut b = aes::Block::default();
        b.copy_from_slice(c);
        decrypt_block(&mut b);
        out.extend(b.iter().zip(prev.iter()).map(|(x, y)| x ^ y));
        prev.copy_from_slice(c);
    }
    out
}

/// AES-256-CBC decryption of whole blocks of `cipher` (a multiple of 16 bytes), with the
/// first block of each later erase block re-read under the fixed IV when only that gives
/// a UBI header.
fn decrypt(cipher: &[u8]) -> Vec<u8> {
    let aes = aes::Aes256::new(KEY.into());
    let one = |b: &mut aes::Block| aes.decrypt_block(b);
    let mut out = cbc_decrypt(one, IV, cipher);
    for at in (PEB..out.len()).step_by(PEB) {
        if !out[at..].starts_with(b"UBI#") {
            let fresh = cbc_decrypt(one, IV, &cipher[at..at + BLOCK]);
            if fresh.starts_with(b"UBI#") {
                out[at..at + BLOCK].copy_from_slice(&fresh);
            }
        }
    }
    out
}

impl Format for DlinkEncrptedImg {
    fn name(&self) -> &'static str {
        "dlink-encrpted-img"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = EncrptedHeader::parse(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + u64::from(h.size)),
            description: format!("D-Link encrpted_img, {} bytes AES-256-CBC", h.size),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = EncrptedHeader::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad encrpted_img header".into()))?;
        let mut out = Unpacked::default();
        out.detail("payload_size", h.size);
        out.detail("cipher", "AES-256-CBC");
        out.detail(
            "key",
            "D-Link fixed key of the encrpted_img scheme (public)",
        );
        let payload = data.get(HEADER_LEN..).unwrap_or_default();
        let declared = h.size as usize;
        let mut avail = payload.len().min(declared);
        if avail < declared {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {declared} bytes, {avail} present"),
            );
        }
        avail -= avail % BLOCK;
        if avail == 0 {
            return Ok(out);
        }
        ctx.reserve_stream(avail as u64, "decrypted payload")?;
        let clear = decrypt(&payload[..avail]);
        out.entries.push(
            Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                .with_detail("cipher", "AES-256-CBC"),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::{entry_bytes, unpack};

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.encrpted_img");

    #[test]
    fn payload_is_decrypted() {
        check_streams_in(VENDOR, &DlinkEncrptedImg, "image.encrpted_img", IMG);
        let u = unpack(&DlinkEncrptedImg, IMG);
        let clear = entry_bytes(IMG, &u.entries[0]).unwrap();
        assert!(
            clear.starts_with(b"UBI#"),
            "decrypted payload is the UBI image"
        );
    }

    #[test]
    fn odd_or_empty_sizes_are_refused() {
        let mut bad = IMG.to_vec();
        bad[15] ^= 1; // no longer a multiple of 16
        assert!(DlinkEncrptedImg.probe(&bad).is_none());
        let mut empty = IMG[..16].to_vec();
        empty[12..16].copy_from_slice(&[0; 4]);
        assert!(DlinkEncrptedImg.probe(&empty).is_none());
    }

    #[test]
    fn truncated_payload_warns() {
        let cut = &IMG[..IMG.len() - 40];
        let u = unpack(&DlinkEncrptedImg, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries.len(), 1);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&DlinkEncrptedImg, IMG, &Hostile::flips(200));
    }
}
