//! D-Link MH01 firmware (M30/M32-class routers): a 16-byte header (`MH01`, the second
//! part's offset after the header and its size, a byte-order mark `2B 1A` read in the
//! header's own byte order, two unknown bytes) followed by two parts: the first runs from
//! the header to the second, the second is the signature.
//!
//! A release image nests three of them: the outer one holds an inner MH01 and the outer
//! signature; the inner one holds the CBC IV as hex text and an OpenSSL `enc` file
//! (`Salted__`, salt, AES-128-CBC, key derived from a passphrase by SHA-256
//! `EVP_BytesToKey`) whose passphrases are the 128-bit keys D-Link ships in its GPL source
//! release (public). The decrypted file is a third MH01 (firmware, signature). Each key is
//! tried; the one whose result has valid PKCS#7 padding and an MH01 header wins, and the
//! result becomes a `decrypted` layer. The signatures (RSA) cannot be verified here.
//!
//! Written here (no crate reads MH01); the cipher is the RustCrypto `aes` crate, SHA-256
//! from `sha2`, the CBC chaining from [`super::dlink_encrpted`].

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use aes::cipher::{BlockCipherDecrypt, KeyInit};
use sha2::{Digest, Sha256};

/// A D-Link MH01 image.
pub struct DlinkMh01;

static MAGICS: &[Magic] = &[Magic::at_start(b"MH01")];

/// Magic, part-2 offset, part-2 size, byte-order mark, unknown.
const HEADER_LEN: usize = 16;
/// OpenSSL `enc` salted-file prefix, followed by 8 bytes of salt.
const SALTED: &[u8] = b"Salted__";
/// AES block.
const BLOCK: usize = 16;
/// The AES-128 passphrases of the MH01 scheme, from D-Link's M30 GPL source release
/// (`M30_sw_reva_GPLcode.tgz`); each is used as its 32-digit lowercase hex text.
const KEYS: &[u128] = &[
    0x044b4e59846ecee953662ff2238fcc23,
    0x08324188e8c509105186636274cf4bea,
    0x0b8073ca811bf3de07a4b79d90cdb49e,
    0x0bcca591c37f932c839d1eaa4dafc292,
    0x118e57f905f0690157f8389b745b6ac8,
    0x1ae6c79be7d069ca74df7670bdfc4952,
    0x29f9ef6781fa478377d9954187fd078b,
    0x3fb5d73c6ee959edb17ab70f4fb097cf,
    0x443a194860796cd9d9a24d99c4242e64,
    0x4d5ee2c8b5d0fdd9a9a2d351ba897752,
    0x4e5aad6e440bdd16bdc8b6ad441e47ba,
    0x5655840cefb7da085e7c3d9640e64922,
    0x5c67ae65b2329711441a965bc3a73667,
    0x6922920d95a6a48a44d8bf237bea3924,
    0x6b29f1d663a21b35fb45b69a42649f5e,
    0x6cc5de3f0022442fe809981fc1f40d4d,
    0x70070e579f97548a96a7794d4d779376,
    0x80c4d262297149e54c04a91bc3329175,
    0x94706d6f4245039c411af6c3a705e607,
    0x95d620854d9a51c90ae0a22787f50e17,
    0xa07e5f355c8f4037a218d791e2d58fa6,
    0xa4f7c17c3e0aa4532c2024ce6ac5f17c,
    0xb0b2e9efd78ec5dba99e02293c36a94f,
    0xb40c8b7a06b235471b69591021f82e60,
    0xb4517d9b98e04d9f075f5e78c743e097,
    0xc5f8a1e22f808abc84f2e4a6fa5f10bb,
    0xc5ffe41dcdd9518060243921393e7d19,
    0xddcada1120056f68738e39d7336630eb,
    0xdf9c62b095a04e1f67bf4ffe21117eae,
    0xe1d72a0952b1d349be0b7a32fbd1341e,
    0xe5af7b6761f9791b6a522738275002db,
    0xf21247200ea5d552efa08740522d0ff1,
    0xf23051f55ed058c103c25ec37c6e1601,
    0xfa0c50b3d95816b3fffd7da3efd5cb66,
];

/// The header: where the two parts lie (offsets from the header's start).
#[derive(Debug, Clone, Copy)]
struct Mh01Header {
    big: bool,
    part2_at: u64,
    part2_size: u64,
    unknown: u16,
}

impl Mh01Header {
    fn parse(data: &[u8]) -> Option<Mh01Header> {
        if !data.starts_with(b"MH01") || data.len() < HEADER_LEN {
            return None;
        }
        let big = match (data[12], data[13]) {
            (0x2B, 0x1A) => false,
            (0x1A, 0x2B) => true,
            _ => return None,
        };
        let w = |at: usize| {
            let b: [u8; 4] = data[at..at + 4].try_into().ok()?;
            Some(u64::from(if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }))
        };
        let b16 = [data[14], data[15]];
        let unknown = if big {
            u16::from_be_bytes(b16)
        } else {
            u16::from_le_bytes(b16)
        };
        let part2_at = HEADER_LEN as u64 + w(4)?;
        let part2_size = w(8)?;
        // Both parts hold something: the firmware (or IV) and the signature.
        if part2_at == HEADER_LEN as u64 || part2_size == 0 {
            return None;
        }
        Some(Mh01Header {
            big,
            part2_at,
            part2_size,
            unknown,
        })
    }

    fn total(&self) -> u64 {
        self.part2_at + self.part2_size
    }
}

/// The CBC IV when `text` is 32 hex digits (then an optional newline).
fn parse_iv(text: &[u8]) -> Option<[u8; 16]> {
    let t = text.strip_suffix(b"\n").unwrap_or(text);
    if t.len() != 32 {
        return None;
    }
    let s = std::str::from_utf8(t).ok()?;
    u128::from_str_radix(s, 16).ok().map(u128::to_be_bytes)
}

/// Decrypt an OpenSSL salted file under `iv` with each scheme key; the first whose
/// plaintext has valid PKCS#7 padding and parses as MH01 wins: (key index, plaintext).
fn decrypt(enc: &[u8], iv: &[u8; 16]) -> Option<(usize, Vec<u8>)> {
    let salt = enc.get(SALTED.len()..SALTED.len() + 8)?;
    let body = enc.get(SALTED.len() + 8..)?;
    if body.is_empty() || !body.len().is_multiple_of(BLOCK) {
        return None;
    }
    for (i, k) in KEYS.iter().enumerate() {
        let pass = format!("{k:032x}");
        let mut h = Sha256::new();
        h.update(pass.as_bytes());
        h.update(salt);
        let d = h.finalize();
        let aes = aes::Aes128::new_from_slice(&d[..16]).ok()?;
        // Try the first block alone before the whole body.
        let first =
            super::dlink_encrpted::cbc_decrypt(|b| aes.decrypt_block(b), iv, &body[..BLOCK]);
        if !first.starts_with(b"MH01") {
            continue;
        }
        let mut clear = super::dlink_encrpted::cbc_decrypt(|b| aes.decrypt_block(b), iv, body);
        let pad = usize::from(*clear.last()?);
        if pad == 0
            || pad > BLOCK
            || !clear[clear.len() - pad..]
                .iter()
                .all(|&b| b as usize == pad)
        {
            continue;
        }
        clear.truncate(clear.len() - pad);
        if Mh01Header::parse(&clear).is_some() {
            return Some((i, clear));
        }
    }
    None
}

impl Format for DlinkMh01 {
    fn name(&self) -> &'static str {
        "dlink-mh01"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = Mh01Header::parse(data)?;
        Some(Probe {
            length: Some(h.total()),
            description: format!(
                "D-Link MH01, {} bytes then a {}-byte signature",
                h.part2_at - HEADER_LEN as u64,
                h.part2_size
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = Mh01Header::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad MH01 header".into()))?;
        let mut out = Unpacked::default();
        let len = data.len() as u64;
        out.detail("endianness", if h.big { "big" } else { "little" });
        out.detail("part1_size", h.part2_at - HEADER_LEN as u64);
        out.detail("part2_offset", h.part2_at);
        out.detail("part2_size", h.part2_size);
        out.detail("unknown_field", format!("0x{:04x}", h.unknown));
        if len < h.total() {
            out.warn(
                WarningKind::Truncated,
                format!("image declares {} bytes, {len} present", h.total()),
            );
        }
        let p1_end = h.part2_at.min(len);
        let p1 = &data[HEADER_LEN..p1_end as usize];
        let p2 = &data[p1_end as usize..h.total().min(len) as usize];
        let iv = parse_iv(p1).filter(|_| p2.starts_with(SALTED));
        let (n1, n2) = if iv.is_some() {
            ("iv", "encrypted")
        } else {
            ("payload", "signature")
        };
        out.entries.push(Entry::stream(
            n1,
            EntryData::Range {
                offset: HEADER_LEN as u64,
                length: p1.len() as u64,
            },
        ));
        if !p2.is_empty() {
            out.entries.push(Entry::stream(
                n2,
                EntryData::Range {
                    offset: p1_end,
                    length: p2.len() as u64,
                },
            ));
        }
        if let Some(iv) = iv {
            if p2.len() as u64 > ctx.stream_limit() {
                return Err(FormatError::Limit(format!(
                    "encrypted part of {} bytes exceeds the stream limit",
                    p2.len()
                )));
            }
            match decrypt(p2, &iv) {
                Some((k, clear)) => {
                    ctx.charge(clear.len() as u64)?;
                    out.detail("cipher", "AES-128-CBC (OpenSSL enc, SHA-256 key derivation)");
                    out.detail("key", format!("D-Link MH01 key #{k} of the GPL release (public)"));
                    out.entries.push(
                        Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                            .with_detail("cipher", "AES-128-CBC"),
                    );
                }
                None => out.warn(
                    WarningKind::Unsupported,
                    "encrypted part: no known MH01 key gives an MH01 image (unknown key or corrupt)",
                ),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::{entry_bytes, unpack};

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.mh01");

    #[test]
    fn nested_image_is_decrypted() {
        check_streams_in(MANIFEST, &DlinkMh01, "image.mh01", IMG);
        let outer = unpack(&DlinkMh01, IMG);
        let inner_bytes = entry_bytes(IMG, &outer.entries[0]).unwrap();
        check_streams_in(MANIFEST, &DlinkMh01, "image.mh01.inner", &inner_bytes);
        let inner = unpack(&DlinkMh01, &inner_bytes);
        let clear = entry_bytes(&inner_bytes, &inner.entries[2]).unwrap();
        check_streams_in(MANIFEST, &DlinkMh01, "image.mh01.clear", &clear);
    }

    #[test]
    fn big_endian_header_reads() {
        let mut img = b"MH01".to_vec();
        img.extend(4u32.to_be_bytes());
        img.extend(2u32.to_be_bytes());
        img.extend([0x1A, 0x2B, 0, 0]);
        img.extend(b"fw..sg");
        let p = DlinkMh01.probe(&img).unwrap();
        assert_eq!(p.length, Some(22));
        let u = unpack(&DlinkMh01, &img);
        assert_eq!(entry_bytes(&img, &u.entries[0]).unwrap(), b"fw..");
        assert_eq!(entry_bytes(&img, &u.entries[1]).unwrap(), b"sg");
    }

    #[test]
    fn bad_marks_and_empty_parts_are_refused() {
        let mut bad = IMG.to_vec();
        bad[12] = 0;
        assert!(DlinkMh01.probe(&bad).is_none());
        let mut zero = IMG.to_vec();
        zero[8..12].copy_from_slice(&[0; 4]);
        assert!(DlinkMh01.probe(&zero).is_none());
        assert!(DlinkMh01.probe(b"MH01\x01\0\0\0").is_none());
    }

    #[test]
    fn wrong_ciphertext_warns_and_truncation_warns() {
        let outer = unpack(&DlinkMh01, IMG);
        let mut inner = entry_bytes(IMG, &outer.entries[0]).unwrap();
        let n = inner.len();
        inner[n - 20] ^= 0x55; // last cipher block: padding no longer valid
        let u = unpack(&DlinkMh01, &inner);
        assert!(u
            .warnings
            .iter()
            .any(|(k, _)| *k == WarningKind::Unsupported));
        assert!(!u.entries.iter().any(|e| e.path == "decrypted"));
        let cut = &IMG[..IMG.len() - 10];
        let u = unpack(&DlinkMh01, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&DlinkMh01, IMG, &Hostile::flips(200));
    }
}
