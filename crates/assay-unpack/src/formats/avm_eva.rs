//! AVM FRITZ!Box kernel images for the EVA boot loader (TI AR7 heritage). Little-endian
//! throughout. A record is a 12-byte header (magic `0xFEED1281`, or `0xFEEDB007` for the
//! second kernel; payload length; load address), the payload, and a 12-byte trailer (an
//! additive checksum that makes length + load address + payload bytes + checksum zero, a
//! zero word, the entry address). The payload is an LZMA stream in EVA's framing: a 16-byte
//! header (type `0x075A0201`, compressed and uncompressed lengths, CRC-32 of the compressed
//! bytes), then the LZMA properties byte and dictionary size padded to 8 bytes, then raw
//! LZMA data. Dual-kernel images wrap both records in an outer record (`0xFEED9112`) with
//! its own trailer. Whole files may end in a signature (`0xC453DE23` and the POSIX `cksum`
//! CRC of every byte before it).
//!
//! Each kernel is decoded here (the framing is not an `.lzma` header, so the generic LZMA
//! reader cannot find it) and yielded as a stream; every checksum is checked and reported.
//! Written here: no crate reads the format.

use crate::cursor::le32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::formats::lzma::decode_raw_lzma;
use crate::{Blob, FormatError};

/// An AVM EVA kernel image (single, dual, or a lone second kernel).
pub struct AvmEva;

const DUAL_MAGIC: u32 = 0xFEED_9112;
const PRIMARY_MAGIC: u32 = 0xFEED_1281;
const SECONDARY_MAGIC: u32 = 0xFEED_B007;
const LZMA_TYPE: u32 = 0x075A_0201;
const SIGNATURE_MAGIC: u32 = 0xC453_DE23;

static MAGICS: &[Magic] = &[
    Magic::at_start(&[0x12, 0x91, 0xed, 0xfe]),
    Magic::at_start(&[0x81, 0x12, 0xed, 0xfe]),
    Magic::at_start(&[0x07, 0xb0, 0xed, 0xfe]),
];

/// Record header and trailer sizes.
const HEAD: usize = 12;
/// EVA LZMA header plus the padded properties.
const LZMA_HEAD: usize = 24;
/// How far past the content a file signature is looked for.
const SIGNATURE_WINDOW: usize = 4096;

/// One kernel record.
#[derive(Debug, Clone)]
struct EvaRecord {
    /// Offset of the record header in the image.
    at: usize,
    load: u32,
    entry: u32,
    checksum_ok: bool,
    /// Offset and length of the raw LZMA data in the image.
    lzma_at: usize,
    compressed: usize,
    uncompressed: u32,
    crc_ok: bool,
    properties: u8,
    dict_size: u32,
    /// Bytes from `at` to the end of the trailer.
    span: usize,
}

/// The additive checksum of a record: what makes the sum zero.
fn ti_checksum(len: u32, load: u32, payload: &[u8]) -> u32 {
    let sum = payload
        .iter()
        .fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
    len.wrapping_add(load).wrapping_add(sum).wrapping_neg()
}

/// POSIX `cksum` CRC (MSB-first CRC-32, the length folded in, complemented).
fn cksum(data: &[u8]) -> u32 {
    let mut crc = super::crc32_msb::update(0, data);
    let mut n = data.len();
    while n > 0 {
        crc = super::crc32_msb::update(crc, &[n as u8]);
        n >>= 8;
    }
    !crc
}

/// Read the record at `at` with the expected magic.
fn record(data: &[u8], at: usize, magic: u32) -> Option<EvaRecord> {
    if le32(data, at)? != magic {
        return None;
    }
    let len = le32(data, at + 4)?;
    let load = le32(data, at + 8)?;
    let start = at.checked_add(HEAD)?;
    let end = start.checked_add(len as usize)?;
    let trailer = data.get(end..end.checked_add(HEAD)?)?;
    let payload = data.get(start..end)?;
    if le32(trailer, 4)? != 0 || le32(payload, 0)? != LZMA_TYPE {
        return None;
    }
    let compressed = le32(payload, 4)? as usize;
    let uncompressed = le32(payload, 8)?;
    let stored_crc = le32(payload, 12)?;
    let properties = *payload.get(16)?;
    let dict_size = le32(payload, 17)?;
    if properties >= 9 * 5 * 5 {
        return None;
    }
    let lzma = payload.get(LZMA_HEAD..LZMA_HEAD.checked_add(compressed)?)?;
    Some(EvaRecord {
        at,
        load,
        entry: le32(trailer, 8)?,
        checksum_ok: le32(trailer, 0)? == ti_checksum(len, load, payload),
        lzma_at: start + LZMA_HEAD,
        compressed,
        uncompressed,
        crc_ok: crc32fast::hash(lzma) == stored_crc,
        properties,
        dict_size,
        span: end + HEAD - at,
    })
}

/// The shape of an image.
#[derive(Debug, Clone)]
struct EvaImage {
    kind: &'static str,
    records: Vec<EvaRecord>,
    /// Outer trailer checksum of a dual image.
    dual_ok: Option<bool>,
    /// Offset and validity of a trailing file signature.
    signature: Option<(usize, bool)>,
    length: usize,
}

impl EvaImage {
    fn parse(data: &[u8]) -> Option<EvaImage> {
        let magic = le32(data, 0)?;
        let (kind, records, dual_ok, content_end) = match magic {
            DUAL_MAGIC => {
                let len = le32(data, 4)?;
                let load = le32(data, 8)?;
                let first = record(data, HEAD, PRIMARY_MAGIC)?;
                let second_at = (first.at + first.span).checked_add(3)? & !3;
                let second = record(data, second_at, SECONDARY_MAGIC)?;
                let trailer_at = HEAD.checked_add(len as usize)?;
                if trailer_at < second.at + second.span {
                    return None;
                }
                let trailer = data.get(trailer_at..trailer_at.checked_add(HEAD)?)?;
                if le32(trailer, 4)? != 0 {
                    return None;
                }
                let ok = le32(trailer, 0)? == ti_checksum(len, load, data.get(HEAD..trailer_at)?);
                (
                    "dual kernel",
                    vec![first, second],
                    Some(ok),
                    trailer_at + HEAD,
                )
            }
            PRIMARY_MAGIC => {
                let r = record(data, 0, PRIMARY_MAGIC)?;
                let end = r.span;
                ("single kernel", vec![r], None, end)
            }
            SECONDARY_MAGIC => {
                let r = record(data, 0, SECONDARY_MAGIC)?;
                let end = r.span;
                ("second kernel only", vec![r], None, end)
            }
            _ => return None,
        };
        // A lone second kernel is a fragment of a dual image and carries no signature.
        let signature = if magic == SECONDARY_MAGIC {
            None
        } else {
            let last = data.len().min(content_end.saturating_add(SIGNATURE_WINDOW));
            (content_end..last)
                .step_by(4)
                .take_while(|&at| at + 8 <= last)
                .find(|&at| le32(data, at) == Some(SIGNATURE_MAGIC))
                .map(|at| (at, le32(data, at + 4) == Some(cksum(&data[..at]))))
        };
        let length = signature.map_or(content_end, |(at, _)| at + 8);
        Some(EvaImage {
            kind,
            records,
            dual_ok,
            signature,
            length,
        })
    }
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "mismatch"
    }
}

impl Format for AvmEva {
    fn name(&self) -> &'static str {
        "eva-kernel"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let img = EvaImage::parse(data)?;
        Some(Probe {
            length: Some(img.length as u64),
            description: format!("AVM EVA kernel image, {}", img.kind),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let img = EvaImage::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad EVA kernel image".into()))?;
        let mut out = Unpacked::default();
        out.detail("layout", img.kind);
        if let Some(d) = img.dual_ok {
            out.detail("dual_checksum", ok(d));
            if !d {
                out.warn(
                    WarningKind::Checksum,
                    "dual-kernel trailer checksum mismatch",
                );
            }
        }
        if let Some((at, valid)) = img.signature {
            out.detail("file_signature", format!("{} at {at:#x}", ok(valid)));
            if !valid {
                out.warn(WarningKind::Checksum, "file signature CRC mismatch");
            }
        }
        for (i, r) in img.records.iter().enumerate() {
            let label = if i == 0 && img.kind != "second kernel only" {
                "kernel"
            } else {
                "kernel2"
            };
            if !r.checksum_ok {
                out.warn(
                    WarningKind::Checksum,
                    format!("{label}: record checksum mismatch"),
                );
            }
            if !r.crc_ok {
                out.warn(
                    WarningKind::Checksum,
                    format!("{label}: CRC-32 of the compressed data mismatch"),
                );
            }
            let p = u32::from(r.properties);
            let (lc, lp, pb) = (p % 9, (p / 9) % 5, p / 45);
            let lzma = &data[r.lzma_at..r.lzma_at + r.compressed];
            let limit = (r.uncompressed as u64).min(ctx.stream_limit());
            let decoded = decode_raw_lzma(lzma, lc, lp, pb, r.dict_size, limit as usize);
            let entry = match decoded {
                Ok(bytes) => {
                    ctx.charge(bytes.len() as u64)?;
                    if bytes.len() as u64 != u64::from(r.uncompressed) {
                        out.warn(
                            WarningKind::Truncated,
                            format!(
                                "{label}: decoded {} of {} bytes",
                                bytes.len(),
                                r.uncompressed
                            ),
                        );
                    }
                    Entry::stream(label, EntryData::Owned(Blob::from(bytes)))
                }
                Err(e) => {
                    out.warn(e.kind(), format!("{label}: {e}; compressed data kept"));
                    Entry::stream(
                        format!("{label}.lzma-raw"),
                        EntryData::Range {
                            offset: r.lzma_at as u64,
                            length: r.compressed as u64,
                        },
                    )
                }
            };
            out.entries.push(
                entry
                    .with_detail("load", format!("{:#010x}", r.load))
                    .with_detail("entry", format!("{:#010x}", r.entry))
                    .with_detail("record_checksum", ok(r.checksum_ok))
                    .with_detail("data_crc", ok(r.crc_ok))
                    .with_detail("compression", "lzma"),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::unpack;

    const SINGLE: &[u8] = include_bytes!("../../tests/fixtures/vendor/single.eva");
    const DUAL: &[u8] = include_bytes!("../../tests/fixtures/vendor/dual.eva");

    #[test]
    fn kernels_are_decoded_and_checksums_checked() {
        check_streams_in(VENDOR, &AvmEva, "single.eva", SINGLE);
        check_streams_in(VENDOR, &AvmEva, "dual.eva", DUAL);
        let u = unpack(&AvmEva, DUAL);
        assert_eq!(u.details["layout"], "dual kernel");
        assert_eq!(u.details["dual_checksum"], "ok");
        assert!(u.details["file_signature"].starts_with("ok"));
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries[1].details["record_checksum"], "ok");
    }

    #[test]
    fn a_lone_second_kernel_is_read() {
        // The second record of the dual image, on its own.
        let img = EvaImage::parse(DUAL).unwrap();
        let r = &img.records[1];
        let lone = &DUAL[r.at..r.at + r.span];
        let u = unpack(&AvmEva, lone);
        assert_eq!(u.details["layout"], "second kernel only");
        assert_eq!(u.entries.len(), 1);
    }

    #[test]
    fn damage_is_reported() {
        let mut d = SINGLE.to_vec();
        let img = EvaImage::parse(SINGLE).unwrap();
        d[img.records[0].lzma_at + 3] ^= 0x40;
        let u = unpack(&AvmEva, &d);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        // Not an EVA record at all.
        let mut bad = SINGLE.to_vec();
        bad[12] ^= 0xff;
        assert!(AvmEva.probe(&bad).is_none());
    }

    #[test]
    fn cksum_matches_posix() {
        // `printf 123456789 | cksum` prints 930766865.
        assert_eq!(cksum(b"123456789"), 930_766_865);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&AvmEva, SINGLE, &Hostile::flips(200));
        hostile_with(&AvmEva, DUAL, &Hostile::flips(200));
    }
}
