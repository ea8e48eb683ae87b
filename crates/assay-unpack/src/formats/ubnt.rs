//! Ubiquiti firmware images (AirOS `UBNT`, and the `OPEN` images that third-party firmware
//! such as OpenWrt and DD-WRT builds for the same boot loader). Big-endian throughout: a
//! 268-byte header (the magic, a 256-byte version string such as `XM.ar7240.v6.0.0`, the
//! CRC-32 of both, a pad word), then partitions, each a 56-byte `PART` header (name, memory,
//! index, flash base and entry addresses, data size, partition size), its data and the
//! CRC-32 of header and data with a pad word; and at the end an `END.` (or `ENDS`) signature
//! with the CRC-32 of everything before it.
//!
//! Each partition is carved as a stream named after it (`kernel`, `rootfs`, `nvram`), so the
//! partition headers never become part of a payload. Partitions that fill their slot and are
//! followed in flash by the next one are one span on the device (OpenWrt's kernel uImage runs
//! on into `rootfs`); they are yielded joined (`kernel+rootfs`). Every CRC is checked.
//! Written here: the layout is a few fixed headers.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Ubiquiti firmware image.
pub struct Ubnt;

static MAGICS: &[Magic] = &[Magic::at_start(b"UBNT"), Magic::at_start(b"OPEN")];

/// Magic, version, CRC, pad.
const HEADER_LEN: usize = 268;
/// Bytes of the header the header CRC covers.
const HEADER_CRC_SPAN: usize = 260;
/// A `PART` header.
const PART_LEN: usize = 56;
/// A partition's trailing CRC and pad.
const PART_CRC_LEN: usize = 8;
/// Most partitions an image may list.
const MAX_PARTS: usize = 32;

/// One partition.
#[derive(Debug, Clone)]
struct UbntPart {
    name: String,
    index: u32,
    mem: u32,
    base: u32,
    entry: u32,
    part_size: u32,
    /// Offset and length of the data in the image.
    at: usize,
    len: usize,
    crc_ok: bool,
}

/// The parsed image.
#[derive(Debug, Clone)]
struct UbntImage {
    magic: String,
    version: String,
    parts: Vec<UbntPart>,
    /// Offset and validity of the end signature, if the image has one.
    signature: Option<(usize, bool)>,
    length: usize,
    /// The last partition runs past the end of the data.
    truncated: bool,
}

fn text(field: &[u8]) -> Option<String> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let t = &field[..end];
    (!t.is_empty() && t.iter().all(|&b| (0x20..0x7f).contains(&b)))
        .then(|| String::from_utf8_lossy(t).into_owned())
}

impl UbntImage {
    /// Read an image; the header CRC must hold (the magics are common words).
    fn parse(data: &[u8]) -> Option<UbntImage> {
        let head = data.get(..HEADER_LEN)?;
        let magic = text(&head[..4])?;
        let version = text(&head[4..HEADER_CRC_SPAN])?;
        if be32(head, HEADER_CRC_SPAN)? != crc32fast::hash(&head[..HEADER_CRC_SPAN]) {
            return None;
        }
        let mut parts = Vec::new();
        let mut pos = HEADER_LEN;
        let mut truncated = false;
        while data.get(pos..pos + 4) == Some(b"PART") && parts.len() < MAX_PARTS {
            let Some(h) = data.get(pos..pos + PART_LEN) else {
                truncated = true;
                break;
            };
            let name = text(&h[4..20]).unwrap_or_else(|| format!("part{}", parts.len()));
            let size = be32(h, 48)? as usize;
            let at = pos + PART_LEN;
            let avail = data.len().saturating_sub(at).min(size);
            let crc_at = at.saturating_add(size);
            let crc_ok =
                avail == size && be32(data, crc_at) == Some(crc32fast::hash(&data[pos..crc_at]));
            parts.push(UbntPart {
                name,
                index: be32(h, 36)?,
                mem: be32(h, 32)?,
                base: be32(h, 40)?,
                entry: be32(h, 44)?,
                part_size: be32(h, 52)?,
                at,
                len: avail,
                crc_ok,
            });
            if avail < size || crc_at + PART_CRC_LEN > data.len() {
                truncated = true;
                pos = data.len();
                break;
            }
            pos = crc_at + PART_CRC_LEN;
        }
        if parts.is_empty() {
            return None;
        }
        let signature = match data.get(pos..pos + 4) {
            Some(b"END.") | Some(b"ENDS") => Some((
                pos,
                be32(data, pos + 4) == Some(crc32fast::hash(&data[..pos])),
            )),
            _ => None,
        };
        let length = match signature {
            Some((at, _)) => (at + 12).min(data.len()),
            None => pos,
        };
        Some(UbntImage {
            magic,
            version,
            parts,
            signature,
            length,
            truncated,
        })
    }
}

/// How many partitions from the first one on lie back to back in flash, each but the last
/// filling its slot: their data is one span on the device (an OpenWrt kernel uImage runs on
/// into the `rootfs` partition), so they are yielded joined.
fn contiguous_run(parts: &[UbntPart]) -> usize {
    let mut n = 1;
    while let (Some(a), Some(b)) = (parts.get(n - 1), parts.get(n)) {
        let fills = a.len == a.part_size as usize && a.part_size > 0;
        if fills && a.base.checked_add(a.part_size) == Some(b.base) && b.base != 0 {
            n += 1;
        } else {
            break;
        }
    }
    n
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "mismatch"
    }
}

impl Format for Ubnt {
    fn name(&self) -> &'static str {
        "ubnt"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let img = UbntImage::parse(data)?;
        let names: Vec<&str> = img.parts.iter().map(|p| p.name.as_str()).collect();
        Some(Probe {
            length: Some(img.length as u64),
            description: format!(
                "Ubiquiti firmware {:?} {:?}, partitions {}",
                img.magic,
                img.version,
                names.join(", ")
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let img = UbntImage::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad Ubiquiti firmware header".into()))?;
        let mut out = Unpacked::default();
        out.detail("magic", &img.magic);
        out.detail("version", &img.version);
        out.detail("header_crc", "ok");
        match img.signature {
            Some((at, valid)) => {
                out.detail("signature", format!("{} at {at:#x}", ok(valid)));
                if !valid {
                    out.warn(WarningKind::Checksum, "end signature CRC mismatch");
                }
            }
            None if !img.truncated => {
                out.warn(
                    WarningKind::Corrupt,
                    "no END signature after the partitions",
                );
            }
            None => {}
        }
        if img.truncated {
            out.warn(
                WarningKind::Truncated,
                "the last partition runs past the end of the image",
            );
        }
        for p in &img.parts {
            if !p.crc_ok {
                out.warn(
                    WarningKind::Checksum,
                    format!("partition {}: CRC mismatch or missing", p.name),
                );
            }
        }
        let mut i = 0;
        while i < img.parts.len() {
            let run = contiguous_run(&img.parts[i..]);
            let p = &img.parts[i];
            let data_of_run = if run > 1 {
                let members = &img.parts[i..i + run];
                let total: usize = members.iter().map(|m| m.len).sum();
                ctx.charge(total as u64)?;
                let mut joined = Vec::with_capacity(total);
                for m in members {
                    joined.extend_from_slice(&data[m.at..m.at + m.len]);
                }
                let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                Some((names.join("+"), joined))
            } else {
                None
            };
            i += run;
            let entry = match data_of_run {
                Some((label, joined)) => Entry::stream(label, EntryData::Owned(Blob::from(joined)))
                    .with_detail(
                        "joined",
                        "partitions that fill their slots and follow each other in flash, as the device sees them",
                    ),
                None => Entry::stream(
                    p.name.clone(),
                    EntryData::Range {
                        offset: p.at as u64,
                        length: p.len as u64,
                    },
                ),
            };
            out.entries.push(
                entry
                    .with_detail("index", p.index)
                    .with_detail("memory_address", format!("{:#010x}", p.mem))
                    .with_detail("flash_address", format!("{:#010x}", p.base))
                    .with_detail("entry", format!("{:#010x}", p.entry))
                    .with_detail("partition_size", p.part_size)
                    .with_detail("crc", ok(p.crc_ok)),
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

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.ubnt");

    #[test]
    fn partitions_are_carved_and_crcs_checked() {
        check_streams_in(VENDOR, &Ubnt, "image.ubnt", IMG);
        let u = unpack(&Ubnt, IMG);
        assert_eq!(u.details["magic"], "UBNT");
        assert_eq!(u.details["version"], "XM.ar7240.v5.6.3.assay");
        assert!(u.details["signature"].starts_with("ok"));
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries[0].details["flash_address"], "0x9f050000");
    }

    #[test]
    fn bad_header_crc_is_not_an_image_and_bad_part_crc_warns() {
        let mut d = IMG.to_vec();
        d[10] ^= 1;
        assert!(Ubnt.probe(&d).is_none());
        let mut d = IMG.to_vec();
        d[HEADER_LEN + PART_LEN + 5] ^= 1;
        let u = unpack(&Ubnt, &d);
        assert_eq!(
            u.warnings
                .iter()
                .filter(|(k, _)| *k == WarningKind::Checksum)
                .count(),
            2,
            "partition and end signature: {:?}",
            u.warnings
        );
    }

    #[test]
    fn partitions_back_to_back_in_flash_are_joined() {
        let img = UbntImage::parse(IMG).unwrap();
        let mut parts = img.parts.clone();
        assert_eq!(
            contiguous_run(&parts),
            1,
            "the fixture's kernel leaves room"
        );
        parts[0].part_size = parts[0].len as u32;
        parts[1].base = parts[0].base + parts[0].part_size;
        assert_eq!(contiguous_run(&parts), 2);
        parts[1].base += 4;
        assert_eq!(contiguous_run(&parts), 1);
    }

    #[test]
    fn truncated_image_keeps_what_is_there() {
        let cut = &IMG[..IMG.len() / 2];
        let u = unpack(&Ubnt, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert!(!u.entries.is_empty());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Ubnt, IMG, &Hostile::flips(300));
    }
}
