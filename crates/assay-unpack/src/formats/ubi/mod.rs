//! UBI (Unsorted Block Images), the volume layer Linux puts on raw NAND flash: every physical
//! erase block (PEB) starts with an erase-counter header (`UBI#`) and a volume-ID header
//! (`UBI!`) that says which logical block (LEB) of which volume it holds. This module maps
//! LEBs back to volumes and yields each volume as a stream; the driver then finds the UBIFS,
//! squashfs or FIT inside.
//!
//! Written here because no adequate crate exists: `income` reads UBI volumes only, with many
//! `unwrap`s on input data, which a reader of hostile images cannot afford.
//!
//! Layout facts (from the Linux `ubi-media.h`): headers are big-endian and 64 bytes long; their
//! CRC is crc32 with init `0xFFFFFFFF` and no final inversion; the volume table lives in the
//! internal layout volume `0x7FFFEFFF` (two copies, LEB 0 and 1) as records of 172 bytes.
//!
//! One concern per file: `headers` the erase-counter and volume-ID headers, `geometry` the PEB
//! size and the image's extent, `vtbl` the volume table, `scan` the best copy of every LEB,
//! `volume` a volume reassembled from its LEBs.

mod geometry;
mod headers;
mod scan;
mod volume;
mod vtbl;

use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use geometry::{detect_peb_size, image_length};
use headers::parse_ec_header;
use std::collections::BTreeMap;
use volume::assemble_volume;
use vtbl::{parse_volume_table, VolumeRecord, LAYOUT_VOLUME_ID};

/// A UBI image: a run of PEBs, each with an erase-counter header.
pub struct Ubi;

static MAGICS: &[Magic] = &[Magic::at_start(b"UBI#")];

/// The CRC that UBI and UBIFS use: crc32 (IEEE) with init `0xFFFFFFFF` and no final
/// inversion, i.e. the bitwise complement of the usual CRC-32.
pub(crate) fn mtd_crc32(data: &[u8]) -> u32 {
    !crc32fast::hash(data)
}

impl Format for Ubi {
    fn name(&self) -> &'static str {
        "ubi"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let first = parse_ec_header(data)?;
        let Some(peb) = detect_peb_size(data, &first) else {
            // One checked erase-counter header and no second one: a UBI device all the same
            // (an empty or cut one); it claims only the header area it proves.
            return Some(Probe {
                length: Some((first.data_offset as u64).min(data.len() as u64)),
                description: format!(
                    "UBI erase-counter header alone (PEB size unknown), image seq {:#x}",
                    first.image_seq
                ),
            });
        };
        let length = image_length(data, peb);
        Some(Probe {
            length: Some(length),
            description: format!(
                "UBI, PEB {} KiB, {} PEBs, image seq {:#x}",
                peb / 1024,
                length.div_ceil(peb as u64),
                first.image_seq
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let first = parse_ec_header(data)
            .ok_or_else(|| FormatError::Corrupt("no valid UBI erase-counter header".into()))?;
        let mut out = Unpacked::default();
        let Some(peb) = detect_peb_size(data, &first) else {
            out.detail("vid_hdr_offset", first.vid_hdr_offset);
            out.detail("data_offset", first.data_offset);
            out.detail("image_seq", format!("{:#x}", first.image_seq));
            out.detail("erase_count_first", first.erase_count);
            out.warn(
                WarningKind::Truncated,
                "one erase-counter header and no second one: the PEB size is unknown, so no volume can be read (an empty or cut UBI device)",
            );
            return Ok(out);
        };
        let leb_size = peb - first.data_offset;
        out.detail("peb_size", peb);
        out.detail("leb_size", leb_size);
        out.detail("vid_hdr_offset", first.vid_hdr_offset);
        out.detail("data_offset", first.data_offset);
        out.detail("image_seq", format!("{:#x}", first.image_seq));
        out.detail("erase_count_first", first.erase_count);
        let pebs = data.len().div_ceil(peb);
        out.detail("pebs", pebs);
        if !data.len().is_multiple_of(peb) {
            out.warn(
                WarningKind::Truncated,
                format!(
                    "image ends {} bytes into PEB {}: last PEB truncated",
                    data.len() % peb,
                    pebs - 1
                ),
            );
        }

        let mut scan = Self::scan_pebs(data, peb, &first);
        if scan.bad_ec > 0 {
            out.warn(
                WarningKind::Format,
                format!("{} PEBs with a bad erase-counter header", scan.bad_ec),
            );
        }
        if scan.bad_vid > 0 {
            out.warn(
                WarningKind::Format,
                format!(
                    "{} PEBs with a bad volume-ID header (their LEBs are lost)",
                    scan.bad_vid
                ),
            );
        }
        out.detail("erased_pebs", scan.erased);
        if scan.stale > 0 {
            out.detail("stale_leb_copies", scan.stale);
        }

        // The volume table: LEB 0 of the layout volume, LEB 1 as the spare copy.
        let layout = scan.volumes.remove(&LAYOUT_VOLUME_ID).unwrap_or_default();
        scan.volumes.retain(|&id, _| id < LAYOUT_VOLUME_ID);
        let mut table: BTreeMap<u32, VolumeRecord> = BTreeMap::new();
        let copies: Vec<Vec<Result<(u32, VolumeRecord), u32>>> = [0u32, 1]
            .iter()
            .filter_map(|l| layout.get(l))
            .filter_map(|c| {
                let start = c.peb * peb + c.data_offset;
                data.get(start..(c.peb + 1) * peb)
            })
            .map(parse_volume_table)
            .collect();
        if copies.is_empty() {
            out.warn(
                WarningKind::Format,
                "no volume table (layout volume missing): volumes named by id",
            );
        }
        for copy in copies.iter().rev() {
            for rec in copy.iter().flatten() {
                table.insert(rec.0, rec.1.clone());
            }
        }
        // Records broken in every copy.
        let bad: Vec<u32> = copies
            .first()
            .map(|c| {
                c.iter()
                    .filter_map(|r| r.as_ref().err().copied())
                    .filter(|id| !table.contains_key(id))
                    .collect()
            })
            .unwrap_or_default();
        if !bad.is_empty() {
            out.warn(
                WarningKind::Checksum,
                format!("volume-table records with a bad CRC: {bad:?}"),
            );
        }
        out.detail("volumes", table.len());

        let mut ids: Vec<u32> = table.keys().copied().collect();
        for id in scan.volumes.keys() {
            if !table.contains_key(id) {
                if !copies.is_empty() {
                    out.warn(
                        WarningKind::Format,
                        format!("LEBs of volume {id} which the volume table does not list"),
                    );
                }
                ids.push(*id);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if out.entries.len() >= ctx.max_entries() {
                break;
            }
            let lebs = scan.volumes.remove(&id).unwrap_or_default();
            let rec = table.get(&id);
            match assemble_volume(data, peb, leb_size, pebs, id, rec, &lebs, ctx, &mut out) {
                Ok(entry) => out.entries.push(entry),
                // The budget is spent: keep the volumes already assembled.
                Err(e) => {
                    out.warn(e.kind(), format!("volume {id} not assembled: {e}"));
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
