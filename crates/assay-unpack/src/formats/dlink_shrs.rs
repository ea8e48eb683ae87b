//! D-Link `SHRS` encrypted firmware (DIR-8xx and related, 2018 on): a header with the
//! magic `SHRS`, the plaintext length and the ciphertext length (big-endian 32-bit), the
//! 16-byte CBC initialisation vector at 0x0C, SHA-512 digests of the plaintext with the key
//! (0x1C), of the plaintext (0x5C) and of the ciphertext (0x9C), a signature area, and the
//! AES-128-CBC ciphertext from 0x6DC.
//!
//! The key is one fixed value for the scheme, public (recovered from the devices' own
//! decryption tool and published with the open-source decrypters), so the payload is
//! decrypted here and unpacked as a new layer; both digests the key does not enter are
//! checked. Written here: the container is a fixed header; the cipher is the RustCrypto
//! `aes` crate, the CBC chaining done in [`super::dlink_encrpted`].

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use aes::cipher::{BlockCipherDecrypt, KeyInit};
use sha2::{Digest, Sha512};

/// A D-Link SHRS image.
pub struct DlinkShrs;

static MAGICS: &[Magic] = &[Magic::at_start(b"SHRS")];

/// Where the ciphertext starts.
const CIPHERTEXT_AT: usize = 0x6DC;
/// The scheme's fixed AES-128 key (public).
const KEY: [u8; 16] = [
    0xC0, 0x5F, 0xBF, 0x19, 0x36, 0xC9, 0x94, 0x29, 0xCE, 0x2A, 0x07, 0x81, 0xF0, 0x8D, 0x6A, 0xD8,
];
/// Where the digests of the plaintext and of the ciphertext sit.
const SHA_PLAIN_AT: usize = 0x5C;
const SHA_CIPHER_AT: usize = 0x9C;

/// Plaintext and ciphertext lengths.
fn parse(data: &[u8]) -> Option<(u32, u32)> {
    if !data.starts_with(b"SHRS") {
        return None;
    }
    let plain = be32(data, 4)?;
    let cipher = be32(data, 8)?;
    // Whole blocks, padding under one block, and something to decrypt.
    if cipher == 0 || !cipher.is_multiple_of(16) || plain > cipher || cipher - plain >= 16 {
        return None;
    }
    Some((plain, cipher))
}

impl Format for DlinkShrs {
    fn name(&self) -> &'static str {
        "dlink-shrs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (plain, cipher) = parse(data)?;
        data.get(..CIPHERTEXT_AT)?;
        Some(Probe {
            length: Some(CIPHERTEXT_AT as u64 + u64::from(cipher)),
            description: format!("D-Link SHRS, {plain} bytes AES-128-CBC"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (plain, cipher) =
            parse(data).ok_or_else(|| FormatError::Corrupt("bad SHRS header".into()))?;
        let iv: [u8; 16] =
            data.get(0x0C..0x1C)
                .and_then(|s| s.try_into().ok())
                .ok_or(FormatError::Truncated {
                    what: "SHRS header",
                    offset: 0,
                })?;
        let mut out = Unpacked::default();
        out.detail("plaintext_size", plain);
        out.detail("cipher", "AES-128-CBC");
        out.detail("key", "D-Link fixed key of the SHRS scheme (public)");
        let body = data.get(CIPHERTEXT_AT..).unwrap_or_default();
        let mut avail = body.len().min(cipher as usize);
        if avail < cipher as usize {
            out.warn(
                WarningKind::Truncated,
                format!("ciphertext declares {cipher} bytes, {avail} present"),
            );
            out.detail("ciphertext_sha512", "unchecked (truncated)");
        } else {
            let ok = Sha512::digest(&body[..avail])[..] == data[SHA_CIPHER_AT..SHA_CIPHER_AT + 64];
            out.detail("ciphertext_sha512", if ok { "ok" } else { "mismatch" });
            if !ok {
                out.warn(WarningKind::Checksum, "SHA-512 of the ciphertext mismatch");
            }
        }
        avail -= avail % 16;
        if avail == 0 {
            return Ok(out);
        }
        ctx.reserve_stream(avail as u64, "decrypted payload")?;
        let aes = aes::Aes128::new(&KEY.into());
        let mut clear = super::dlink_encrpted::cbc_decrypt(
            |b: &mut aes::Block| aes.decrypt_block(b),
            &iv,
            &body[..avail],
        );
        if clear.len() >= plain as usize {
            clear.truncate(plain as usize);
            let ok = Sha512::digest(&clear)[..] == data[SHA_PLAIN_AT..SHA_PLAIN_AT + 64];
            out.detail("plaintext_sha512", if ok { "ok" } else { "mismatch" });
            if !ok {
                out.warn(WarningKind::Checksum, "SHA-512 of the plaintext mismatch");
            }
        }
        out.entries.push(
            Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                .with_detail("cipher", "AES-128-CBC"),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.shrs");

    #[test]
    fn payload_is_decrypted_and_digests_checked() {
        check_streams_in(VENDOR, &DlinkShrs, "image.shrs", IMG);
        let u = unpack(&DlinkShrs, IMG);
        assert_eq!(u.details["ciphertext_sha512"], "ok");
        assert_eq!(u.details["plaintext_sha512"], "ok");
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    }

    #[test]
    fn damage_is_reported_and_bad_lengths_refused() {
        let mut d = IMG.to_vec();
        let last = d.len() - 1;
        d[last] ^= 1;
        let u = unpack(&DlinkShrs, &d);
        assert_eq!(u.details["ciphertext_sha512"], "mismatch");
        let mut d = IMG.to_vec();
        d[11] ^= 4; // ciphertext length no longer whole blocks
        assert!(DlinkShrs.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&DlinkShrs, IMG, &Hostile::flips(200));
    }
}
