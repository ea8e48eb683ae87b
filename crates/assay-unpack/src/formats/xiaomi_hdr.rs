//! Xiaomi HDR1 / HDR2 firmware (Xiaomi routers): a little-endian header (`HDR1` or `HDR2`,
//! the signature's offset, a CRC-32, device id — HDR2 adds a region — and a table of up to
//! eight blob offsets ending at the first zero), each blob a 48-byte header (magic
//! `BE BA 00 00`, flash offset, size, type, name of 32 bytes) followed by its bytes, and a
//! 272-byte signature block at the signature offset.
//!
//! The CRC-32 (stored inverted) is checked over the bytes from offset 12 to the end of the signature block; a
//! mismatch is a warning. Blobs are files named by their header, carved from the image.
//!
//! Written here (no crate reads it); layout as OpenWrt's `xiaomifw` tool writes it.

use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A Xiaomi HDR1 or HDR2 image.
pub struct XiaomiHdr;

static MAGICS: &[Magic] = &[Magic::at_start(b"HDR1"), Magic::at_start(b"HDR2")];

/// Blob header: magic, flash offset, size, type, unused, name.
const BLOB_HEADER: usize = 48;
const BLOB_MAGIC: &[u8] = &[0xBE, 0xBA, 0, 0];
/// Signature block: size, padding, 256 bytes.
const SIGNATURE_LEN: u64 = 272;
/// The CRC covers the image from here.
const CRC_FROM: usize = 12;

/// Header facts: version (1 or 2), signature offset, stored CRC, blob offsets.
struct Header {
    version: u8,
    sig_at: u64,
    crc: u32,
    device: String,
    blobs: Vec<u64>,
}

fn parse(d: &[u8]) -> Option<Header> {
    let version = match d.get(..4)? {
        b"HDR1" => 1,
        b"HDR2" => 2,
        _ => return None,
    };
    let (table, len) = if version == 1 { (16, 48) } else { (48, 80) };
    if d.len() < len {
        return None;
    }
    let sig_at = u64::from(le32(d, 4)?);
    let crc = le32(d, 8)?;
    let device = if version == 1 {
        format!("0x{:04x}", le16(d, 14)?)
    } else {
        let t = &d[16..24];
        String::from_utf8_lossy(t.split(|&b| b == 0).next().unwrap_or(t)).into_owned()
    };
    let mut blobs = Vec::new();
    for i in 0..8 {
        let off = u64::from(le32(d, table + 4 * i)?);
        if off == 0 {
            break;
        }
        // Blobs lie between the header and the signature.
        if off < len as u64 || off + BLOB_HEADER as u64 > sig_at {
            return None;
        }
        blobs.push(off);
    }
    if blobs.is_empty() || sig_at < len as u64 {
        return None;
    }
    // The first blob must carry its magic.
    let first = blobs[0] as usize;
    if d.get(first..first + 4).is_some_and(|m| m != BLOB_MAGIC) {
        return None;
    }
    Some(Header {
        version,
        sig_at,
        crc,
        device,
        blobs,
    })
}

impl Format for XiaomiHdr {
    fn name(&self) -> &'static str {
        "xiaomi-hdr"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse(data)?;
        Some(Probe {
            length: Some(h.sig_at + SIGNATURE_LEN),
            description: format!("Xiaomi HDR{} firmware, {} blobs", h.version, h.blobs.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = parse(data).ok_or_else(|| FormatError::Corrupt("bad Xiaomi HDR header".into()))?;
        let mut out = Unpacked::default();
        let len = data.len() as u64;
        let end = h.sig_at + SIGNATURE_LEN;
        out.detail("version", h.version);
        out.detail("device", &h.device);
        out.detail("signature_offset", h.sig_at);
        if len < end {
            out.warn(
                WarningKind::Truncated,
                format!("image declares {end} bytes, {len} present"),
            );
        } else {
            let got = !crc32fast::hash(&data[CRC_FROM..end as usize]);
            if got == h.crc {
                out.detail("crc32", "ok");
            } else {
                out.warn(
                    WarningKind::Checksum,
                    format!("header CRC-32 0x{:08x}, computed 0x{got:08x}", h.crc),
                );
            }
        }
        for (i, &at) in h.blobs.iter().enumerate() {
            let a = at as usize;
            let Some(hdr) = data.get(a..a + BLOB_HEADER) else {
                out.warn(
                    WarningKind::Truncated,
                    format!("blob {i} header past the end"),
                );
                break;
            };
            if &hdr[..4] != BLOB_MAGIC {
                out.warn(WarningKind::Corrupt, format!("blob {i} at {at}: bad magic"));
                continue;
            }
            let size = u64::from(le32(hdr, 8).unwrap_or(0));
            let raw = &hdr[16..48];
            let name = String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap_or(raw));
            let name = if name.is_empty() {
                format!("blob{i}")
            } else {
                name.into_owned()
            };
            let start = at + BLOB_HEADER as u64;
            let avail = len.saturating_sub(start).min(size);
            if avail < size {
                out.warn(
                    WarningKind::Truncated,
                    format!("blob {name:?} declares {size} bytes, {avail} present"),
                );
            }
            out.entries.push(
                Entry::fs(
                    format!("/{}", name.trim_start_matches('/')),
                    EntryKind::File,
                )
                .with_data(EntryData::Range {
                    offset: start.min(len),
                    length: avail,
                })
                .with_detail(
                    "flash_offset",
                    format!("0x{:08x}", le32(hdr, 4).unwrap_or(0)),
                )
                .with_detail("type", le16(hdr, 12).unwrap_or(0)),
            );
        }
        if len >= end {
            out.entries.push(Entry::stream(
                "signature",
                EntryData::Range {
                    offset: h.sig_at,
                    length: SIGNATURE_LEN,
                },
            ));
        }
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
    const HDR1: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.hdr1");
    const HDR2: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.hdr2");

    #[test]
    fn blobs_are_carved_and_crc_checked() {
        check_streams_in(MANIFEST, &XiaomiHdr, "image.hdr1", HDR1);
        check_streams_in(MANIFEST, &XiaomiHdr, "image.hdr2", HDR2);
        for img in [HDR1, HDR2] {
            let u = unpack(&XiaomiHdr, img);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        }
    }

    #[test]
    fn bad_crc_and_truncation_warn() {
        let mut bad = HDR1.to_vec();
        bad[100] ^= 1;
        let u = unpack(&XiaomiHdr, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        let u = unpack(&XiaomiHdr, &HDR1[..HDR1.len() - 300]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn garbage_offsets_are_refused() {
        let mut bad = HDR1.to_vec();
        bad[16..20].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        assert!(XiaomiHdr.probe(&bad).is_none());
        let mut none = HDR1.to_vec();
        none[16..20].copy_from_slice(&[0; 4]);
        assert!(XiaomiHdr.probe(&none).is_none());
        let mut sig = HDR1.to_vec();
        sig[4..8].copy_from_slice(&4u32.to_le_bytes());
        assert!(XiaomiHdr.probe(&sig).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&XiaomiHdr, HDR1, &Hostile::flips(200));
        hostile_with(&XiaomiHdr, HDR2, &Hostile::flips(100));
    }
}
