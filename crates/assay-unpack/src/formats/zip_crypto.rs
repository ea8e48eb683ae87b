//! Decryption of encrypted ZIP members: traditional PKWARE encryption ("ZipCrypto", APPNOTE
//! 6.1) and WinZip AES (AE-1/AE-2 with 128, 192 or 256-bit keys: PBKDF2-HMAC-SHA1 with 1000
//! iterations, a 2-byte password verifier, AES in little-endian counter mode, and a 10-byte
//! HMAC-SHA1 authentication code over the ciphertext).
//!
//! Written here: the block cipher, hash, HMAC and PBKDF2 come from the RustCrypto crates, and
//! what is left (ZipCrypto's three-key stream, WinZip's counter layout) is a few lines that
//! no small well-kept crate offers on its own.

use aes::cipher::{BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Bytes of the ZipCrypto encryption header before a member's data.
pub const ZIPCRYPTO_HEADER: usize = 12;

/// Hash rounds of one WinZip AES key derivation with this strength: PBKDF2 runs 1000
/// iterations of HMAC-SHA1 (two compressions) per 20-byte output block.
pub fn aes_cost(strength: AesStrength) -> u64 {
    let blocks = (strength.derived_len() as u64).div_ceil(20);
    1000 * 2 * blocks
}

/// The byte-wise CRC-32 table ZipCrypto's key schedule uses.
const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc_byte(crc: u32, b: u8) -> u32 {
    (crc >> 8) ^ CRC_TABLE[((crc ^ u32::from(b)) & 0xff) as usize]
}

/// The state of ZipCrypto's stream cipher (three 32-bit keys).
#[derive(Clone)]
pub struct ZipCrypto([u32; 3]);

impl ZipCrypto {
    fn new(password: &[u8]) -> Self {
        let mut z = ZipCrypto([0x1234_5678, 0x2345_6789, 0x3456_7890]);
        for &b in password {
            z.update(b);
        }
        z
    }

    fn update(&mut self, plain: u8) {
        let k = &mut self.0;
        k[0] = crc_byte(k[0], plain);
        k[1] = k[1]
            .wrapping_add(k[0] & 0xff)
            .wrapping_mul(134_775_813)
            .wrapping_add(1);
        k[2] = crc_byte(k[2], (k[1] >> 24) as u8);
    }

    fn decrypt_byte(&mut self, c: u8) -> u8 {
        let t = (self.0[2] | 2) & 0xffff;
        let p = c ^ ((t.wrapping_mul(t ^ 1) >> 8) as u8);
        self.update(p);
        p
    }

    /// The cipher after the 12-byte encryption header when `password` passes the header's
    /// check byte (the high byte of the CRC, or of the DOS time when sizes follow the data);
    /// `None` otherwise. One wrong password in 256 passes; the caller checks the CRC.
    pub fn open(password: &[u8], header: &[u8], check: u8) -> Option<ZipCrypto> {
        let header = header.get(..ZIPCRYPTO_HEADER)?;
        let mut z = ZipCrypto::new(password);
        let mut last = 0;
        for &c in header {
            last = z.decrypt_byte(c);
        }
        (last == check).then_some(z)
    }

    /// Decrypt the member's data that follows the header.
    pub fn decrypt(mut self, data: &[u8]) -> Vec<u8> {
        data.iter().map(|&c| self.decrypt_byte(c)).collect()
    }
}

/// WinZip AES key size, from the AES extra field's strength byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AesStrength {
    /// 128-bit key, 8-byte salt.
    Aes128,
    /// 192-bit key, 12-byte salt.
    Aes192,
    /// 256-bit key, 16-byte salt.
    Aes256,
}

impl AesStrength {
    /// From the extra field's strength byte (1, 2, 3).
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(AesStrength::Aes128),
            2 => Some(AesStrength::Aes192),
            3 => Some(AesStrength::Aes256),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            AesStrength::Aes128 => 16,
            AesStrength::Aes192 => 24,
            AesStrength::Aes256 => 32,
        }
    }

    /// Salt bytes before the verifier.
    pub fn salt_len(self) -> usize {
        self.key_len() / 2
    }

    fn derived_len(self) -> usize {
        2 * self.key_len() + 2
    }

    /// Key size in bits.
    pub fn bits(self) -> usize {
        self.key_len() * 8
    }
}

/// The WinZip AES extra field (0x9901) of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AesField {
    /// 1 for AE-1 (the CRC is kept and checked), 2 for AE-2 (no CRC).
    pub version: u16,
    /// Key size.
    pub strength: AesStrength,
    /// The member's real compression method.
    pub method: u16,
}

/// The AES extra field among a member's extra fields, if there is a valid one.
pub fn aes_field(mut extra: &[u8]) -> Option<AesField> {
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let body = extra.get(4..4 + len)?;
        if id == 0x9901 && len >= 7 && &body[2..4] == b"AE" {
            return Some(AesField {
                version: u16::from_le_bytes([body[0], body[1]]),
                strength: AesStrength::from_byte(body[4])?,
                method: u16::from_le_bytes([body[5], body[6]]),
            });
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Why a WinZip AES member did not decrypt.
#[derive(Debug, PartialEq, Eq)]
pub enum AesError {
    /// Shorter than salt, verifier and authentication code.
    TooShort,
    /// The password verifier does not match: a wrong password.
    WrongPassword,
}

/// A decrypted WinZip AES member.
#[derive(Debug)]
pub struct AesPlain {
    /// The (still compressed) data.
    pub data: Vec<u8>,
    /// Whether the authentication code matched (if not, the data was altered).
    pub authentic: bool,
}

/// Decrypt a WinZip AES member's stored bytes (salt, verifier, ciphertext, code) with
/// `password`: a wrong password is turned away by the verifier (one in 65536 passes).
pub fn aes_decrypt(
    strength: AesStrength,
    password: &[u8],
    stored: &[u8],
) -> Result<AesPlain, AesError> {
    let salt_len = strength.salt_len();
    if stored.len() < salt_len + 2 + 10 {
        return Err(AesError::TooShort);
    }
    let (salt, rest) = stored.split_at(salt_len);
    let (verifier, rest) = rest.split_at(2);
    let (cipher, code) = rest.split_at(rest.len() - 10);
    let mut derived = [0u8; 66];
    let derived = &mut derived[..strength.derived_len()];
    pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, 1000, derived);
    let k = strength.key_len();
    if &derived[2 * k..] != verifier {
        return Err(AesError::WrongPassword);
    }
    let (key, mac_key) = (&derived[..k], &derived[k..2 * k]);
    let authentic = match Hmac::<Sha1>::new_from_slice(mac_key) {
        Ok(mut mac) => {
            mac.update(cipher);
            mac.verify_truncated_left(code).is_ok()
        }
        Err(_) => false,
    };
    let data = match strength {
        AesStrength::Aes128 => aes::Aes128::new_from_slice(key)
            .map(|c| ctr(|b: &mut aes::Block| c.encrypt_block(b), cipher)),
        AesStrength::Aes192 => aes::Aes192::new_from_slice(key)
            .map(|c| ctr(|b: &mut aes::Block| c.encrypt_block(b), cipher)),
        AesStrength::Aes256 => aes::Aes256::new_from_slice(key)
            .map(|c| ctr(|b: &mut aes::Block| c.encrypt_block(b), cipher)),
    }
    .unwrap_or_default();
    Ok(AesPlain { data, authentic })
}

/// AES in WinZip's counter mode: a 128-bit little-endian counter starting at 1.
fn ctr(encrypt_block: impl Fn(&mut aes::Block), data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut counter: u128 = 1;
    for chunk in data.chunks(16) {
        let mut block = aes::Block::from(counter.to_le_bytes());
        encrypt_block(&mut block);
        out.extend(chunk.iter().zip(block.iter()).map(|(c, k)| c ^ k));
        counter = counter.wrapping_add(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipcrypto_round_trip() {
        // Encrypt with the same key stream (encryption updates the keys with the plain byte).
        let password = b"Secret";
        let plain: Vec<u8> = (0..40u8).collect();
        let mut header = [7u8; 12];
        header[11] = 0xab;
        let mut enc = ZipCrypto::new(password);
        let mut cipher = Vec::new();
        for &p in header.iter().chain(&plain) {
            let t = (enc.0[2] | 2) & 0xffff;
            cipher.push(p ^ ((t.wrapping_mul(t ^ 1) >> 8) as u8));
            enc.update(p);
        }
        let z = ZipCrypto::open(password, &cipher, 0xab).unwrap();
        assert_eq!(z.decrypt(&cipher[12..]), plain);
        assert!(ZipCrypto::open(password, &cipher, 0xac).is_none());
        assert!(ZipCrypto::open(password, &cipher[..5], 0xab).is_none());
    }

    #[test]
    fn aes_field_parses_and_rejects() {
        let f = [0x01, 0x99, 7, 0, 2, 0, b'A', b'E', 3, 8, 0];
        assert_eq!(
            aes_field(&f),
            Some(AesField {
                version: 2,
                strength: AesStrength::Aes256,
                method: 8
            })
        );
        let mut bad = f;
        bad[8] = 9;
        assert_eq!(aes_field(&bad), None);
        assert_eq!(aes_field(&f[..9]), None);
    }

    #[test]
    fn aes_short_input_is_an_error() {
        assert_eq!(
            aes_decrypt(AesStrength::Aes128, b"x", &[0; 19]).unwrap_err(),
            AesError::TooShort
        );
    }
}
