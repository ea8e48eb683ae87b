//! Senao encrypted firmware, second generation with the short header (EnGenius APs and
//! their OEM siblings, called `senao-v2b` by FACT): a 128-byte header, then the firmware
//! obfuscated by XOR with the 32-bit pattern `30 47 16 88` shifted right by the byte's
//! index modulo 8 (only the low byte of the shifted pattern is used).
//!
//! Header facts used here (from the vendors' images and the open-source build tools that
//! write them): the version tag `3047` at 0x2E, the payload size as a big-endian 32-bit
//! number at 0x3E, the MD5 of the clear payload at 0x46, and the pattern itself as the
//! header's last four bytes (0x7C). The MD5 is checked; a mismatch is a warning, the
//! payload is still given.
//!
//! Written here (no crate reads it). The first-generation (`12 34 56 78`) and long-header
//! variants are not read: their size fields could not be established from the material
//! available.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use md5::{Digest, Md5};

/// A Senao v2 short-header encrypted image.
pub struct Senao;

/// The XOR pattern, also the header's closing magic.
const PATTERN: u32 = 0x3047_1688;
/// Header length; the payload follows.
const HEADER_LEN: usize = 0x80;
/// Where the closing magic lies.
const MAGIC_AT: usize = 0x7C;
/// Version tag and where it lies.
const TAG: &[u8] = b"3047";
const TAG_AT: usize = 0x2E;
/// Big-endian payload size.
const SIZE_AT: usize = 0x3E;
/// MD5 of the clear payload.
const MD5_AT: usize = 0x46;

static MAGICS: &[Magic] = &[Magic::at(&PATTERN.to_be_bytes(), MAGIC_AT)];

/// The payload size when `data` starts with a Senao v2 short header.
fn parse(data: &[u8]) -> Option<u64> {
    if data.len() < HEADER_LEN
        || data[MAGIC_AT..MAGIC_AT + 4] != PATTERN.to_be_bytes()
        || &data[TAG_AT..TAG_AT + 4] != TAG
    {
        return None;
    }
    let size = be32(data, SIZE_AT)?;
    (size != 0).then_some(u64::from(size))
}

/// XOR `data` with the shifted pattern (the operation is its own inverse).
pub(crate) fn xor_pattern(data: &[u8]) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ (PATTERN >> (i % 8)) as u8)
        .collect()
}

impl Format for Senao {
    fn name(&self) -> &'static str {
        "senao"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let size = parse(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + size),
            description: format!("Senao encrypted firmware (v2, short header), {size} bytes"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let size = parse(data).ok_or_else(|| FormatError::Corrupt("bad Senao header".into()))?;
        let mut out = Unpacked::default();
        out.detail("variant", "v2, short header");
        out.detail("payload_size", size);
        out.detail("xor_pattern", format!("0x{PATTERN:08x}"));
        let payload = &data[HEADER_LEN..];
        let avail = (payload.len() as u64).min(size);
        if avail < size {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {size} bytes, {avail} present"),
            );
        }
        ctx.reserve_stream(avail, "payload")?;
        let clear = xor_pattern(&payload[..avail as usize]);
        let want = &data[MD5_AT..MD5_AT + 16];
        if avail == size {
            let got = Md5::digest(&clear);
            if got.as_slice() == want {
                out.detail("md5", "ok");
            } else {
                out.warn(
                    WarningKind::Checksum,
                    "payload MD5 does not match the header's",
                );
            }
        }
        out.entries.push(
            Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                .with_detail("offset", HEADER_LEN),
        );
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
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.senao");

    #[test]
    fn payload_is_decrypted_and_md5_checked() {
        check_streams_in(MANIFEST, &Senao, "image.senao", IMG);
        let u = unpack(&Senao, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(Senao.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn pattern_is_shifted_per_byte() {
        assert_eq!(
            xor_pattern(&[0; 9]),
            [0x88, 0x44, 0xA2, 0xD1, 0x68, 0xB4, 0x5A, 0x2D, 0x88]
        );
    }

    #[test]
    fn bad_md5_and_truncation_warn() {
        let mut bad = IMG.to_vec();
        bad[HEADER_LEN + 3] ^= 1;
        let u = unpack(&Senao, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        let u = unpack(&Senao, &IMG[..IMG.len() - 7]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn wrong_tag_magic_or_zero_size_is_refused() {
        for (at, v) in [(TAG_AT, b'9'), (MAGIC_AT + 3, 0), (SIZE_AT + 3, 0)] {
            let mut bad = IMG.to_vec();
            if at == SIZE_AT + 3 {
                bad[SIZE_AT..SIZE_AT + 4].copy_from_slice(&[0; 4]);
            } else {
                bad[at] = v;
            }
            assert!(
                Senao.probe(&bad).is_none(),
                "accepted with byte {at:#x} changed"
            );
        }
        assert!(Senao.probe(&IMG[..HEADER_LEN - 1]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Senao, IMG, &Hostile::flips(200));
    }
}
