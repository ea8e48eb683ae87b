//! One volume put back together from its LEBs: holes and short LEBs filled with 0xFF, static
//! volumes cut to their data and checked against their CRCs, forged LEB numbers dropped.

use super::headers::{VOL_DYNAMIC, VOL_STATIC};
use super::mtd_crc32;
use super::scan::LebCopy;
use super::vtbl::VolumeRecord;
use crate::format::{Entry, EntryData, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::BTreeMap;

/// Reassemble one volume from its LEBs into a stream entry.
#[allow(clippy::too_many_arguments)]
pub(super) fn assemble_volume(
    data: &[u8],
    peb: usize,
    leb_size: usize,
    pebs: usize,
    id: u32,
    rec: Option<&VolumeRecord>,
    lebs: &BTreeMap<u32, LebCopy>,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> Result<Entry, FormatError> {
    let name = rec
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| id.to_string());
    let vol_type = rec
        .map(|r| r.vol_type)
        .or_else(|| lebs.values().next().map(|c| c.vid.vol_type))
        .unwrap_or(VOL_DYNAMIC);
    let data_pad = rec
        .map(|r| r.data_pad)
        .or_else(|| lebs.values().next().map(|c| c.vid.data_pad))
        .unwrap_or(0) as usize;
    let usable = leb_size.saturating_sub(data_pad).max(1);
    // A LEB number beyond what the volume reserves, or far beyond the image, is forged.
    let reserved = rec.map(|r| r.reserved_pebs as u64).unwrap_or(u64::MAX);
    let bound = (pebs as u64)
        .saturating_mul(4)
        .saturating_add(16)
        .min(reserved);
    let mut dropped = 0usize;
    let lebs: BTreeMap<u32, LebCopy> = lebs
        .iter()
        .filter(|(&l, _)| {
            let keep = (l as u64) < bound;
            dropped += usize::from(!keep);
            keep
        })
        .map(|(&l, &c)| (l, c))
        .collect();
    if dropped > 0 {
        out.warn(
            WarningKind::Format,
            format!("volume {name:?}: {dropped} LEBs numbered beyond the volume's size ignored"),
        );
    }

    let leb_bytes = |c: &LebCopy, len: usize| -> &[u8] {
        let start = c.peb * peb + c.data_offset;
        let end = (c.peb * peb + peb).min(data.len());
        let avail = data.get(start..end).unwrap_or(&[]);
        &avail[..len.min(avail.len())]
    };

    let mut bytes: Vec<u8> = Vec::new();
    let limit = ctx.stream_limit();
    let mut holes = 0usize;
    let mut short = 0usize;
    let mut bad_crc = 0usize;
    let is_static = vol_type == VOL_STATIC;
    let count: u64 = if is_static {
        let used = lebs
            .values()
            .map(|c| c.vid.used_ebs as u64)
            .max()
            .unwrap_or(0);
        used.min(bound)
    } else {
        lebs.keys().next_back().map(|&l| l as u64 + 1).unwrap_or(0)
    };
    let mut truncated = false;
    for lnum in 0..count {
        let want = match lebs.get(&(lnum as u32)) {
            Some(c) if is_static => (c.vid.data_size as usize).min(usable),
            _ => usable,
        };
        if bytes.len() as u64 + want as u64 > limit {
            truncated = true;
            break;
        }
        ctx.charge(want as u64)?;
        match lebs.get(&(lnum as u32)) {
            Some(c) => {
                let got = leb_bytes(c, want);
                if is_static && mtd_crc32(got) != c.vid.data_crc {
                    bad_crc += 1;
                }
                if got.len() < want {
                    short += 1;
                }
                bytes.extend_from_slice(got);
                bytes.resize(bytes.len() + (want - got.len()), 0xFF);
            }
            None => {
                holes += 1;
                bytes.resize(bytes.len() + want, 0xFF);
            }
        }
    }
    if truncated {
        out.warn(
            WarningKind::Limit,
            format!("volume {name:?} larger than the stream limit of {limit} bytes: cut"),
        );
    }
    if holes > 0 {
        let what = if is_static {
            "missing LEBs of a static volume"
        } else {
            "unmapped LEBs"
        };
        out.warn(
            WarningKind::Format,
            format!("volume {name:?}: {holes} {what} filled with 0xFF"),
        );
    }
    if short > 0 {
        out.warn(
            WarningKind::Truncated,
            format!("volume {name:?}: {short} LEBs cut short by the image's end, padded with 0xFF"),
        );
    }
    if bad_crc > 0 {
        out.warn(
            WarningKind::Checksum,
            format!("volume {name:?}: {bad_crc} LEBs whose data CRC does not match"),
        );
    }
    let mut entry = Entry::stream(
        format!("volume:{name}"),
        EntryData::Owned(Blob::from(bytes)),
    )
    .with_detail("vol_id", id)
    .with_detail("type", if is_static { "static" } else { "dynamic" })
    .with_detail("leb_size", usable)
    .with_detail("peb_size", peb)
    .with_detail("mapped_lebs", lebs.len());
    if let Some(r) = rec {
        entry = entry
            .with_detail("reserved_pebs", r.reserved_pebs)
            .with_detail("alignment", r.alignment);
        if r.autoresize {
            entry = entry.with_detail("autoresize", "yes");
        }
        if r.upd_marker {
            out.warn(
                WarningKind::Format,
                format!("volume {name:?} has its update marker set: an update was interrupted"),
            );
            entry = entry.with_detail("update_interrupted", "yes");
        }
    }
    Ok(entry)
}
