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

use crate::cursor::{be16, be32, be64, cstr};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use std::collections::BTreeMap;

/// A UBI image: a run of PEBs, each with an erase-counter header.
pub struct Ubi;

static MAGICS: &[Magic] = &[Magic::at_start(b"UBI#")];

const EC_MAGIC: &[u8; 4] = b"UBI#";
const VID_MAGIC: &[u8; 4] = b"UBI!";
const HDR_SIZE: usize = 64;
/// First internal volume id; the layout volume (volume table) has exactly this id.
const LAYOUT_VOLUME_ID: u32 = 0x7FFF_EFFF;
const VTBL_RECORD_SIZE: usize = 172;
const MAX_VOLUMES: usize = 128;
const VOL_DYNAMIC: u8 = 1;
const VOL_STATIC: u8 = 2;
/// Smallest and largest PEB sizes tried when detecting the geometry.
const MIN_PEB_SHIFT: u32 = 10;
const MAX_PEB_SHIFT: u32 = 24;

/// The CRC that UBI and UBIFS use: crc32 (IEEE) with init `0xFFFFFFFF` and no final
/// inversion, i.e. the bitwise complement of the usual CRC-32.
pub(crate) fn mtd_crc32(data: &[u8]) -> u32 {
    !crc32fast::hash(data)
}

/// The fields of an erase-counter header that locate the rest of the PEB.
#[derive(Debug, Clone, Copy)]
struct EcHeader {
    erase_count: u64,
    vid_hdr_offset: usize,
    data_offset: usize,
    image_seq: u32,
}

/// Parse and CRC-check the erase-counter header at the start of `d`.
fn parse_ec_header(d: &[u8]) -> Option<EcHeader> {
    let h = d.get(..HDR_SIZE)?;
    if &h[..4] != EC_MAGIC || h[4] != 1 || mtd_crc32(&h[..60]) != be32(h, 60)? {
        return None;
    }
    let vid_hdr_offset = be32(h, 16)? as usize;
    let data_offset = be32(h, 20)? as usize;
    if vid_hdr_offset < HDR_SIZE
        || data_offset < vid_hdr_offset.checked_add(HDR_SIZE)?
        || data_offset >= 1 << MAX_PEB_SHIFT
    {
        return None;
    }
    Some(EcHeader {
        erase_count: be64(h, 8)?,
        vid_hdr_offset,
        data_offset,
        image_seq: be32(h, 24)?,
    })
}

/// A volume-ID header: which LEB of which volume a PEB holds.
#[derive(Debug, Clone, Copy)]
struct VidHeader {
    vol_type: u8,
    copy_flag: bool,
    vol_id: u32,
    lnum: u32,
    data_size: u32,
    used_ebs: u32,
    data_pad: u32,
    data_crc: u32,
    sqnum: u64,
}

/// What sits where a volume-ID header should be.
enum VidSlot {
    Header(VidHeader),
    /// All 0xFF: a PEB that was erased and holds no LEB.
    Erased,
    /// Anything else: a damaged header.
    Bad,
}

fn parse_vid_header(d: Option<&[u8]>) -> VidSlot {
    let Some(h) = d.and_then(|d| d.get(..HDR_SIZE)) else {
        return VidSlot::Bad;
    };
    if h.iter().all(|&b| b == 0xFF) {
        return VidSlot::Erased;
    }
    let parsed = (|| {
        if &h[..4] != VID_MAGIC || h[4] != 1 || mtd_crc32(&h[..60]) != be32(h, 60)? {
            return None;
        }
        Some(VidHeader {
            vol_type: h[5],
            copy_flag: h[6] != 0,
            vol_id: be32(h, 8)?,
            lnum: be32(h, 12)?,
            data_size: be32(h, 20)?,
            used_ebs: be32(h, 24)?,
            data_pad: be32(h, 28)?,
            data_crc: be32(h, 32)?,
            sqnum: be64(h, 40)?,
        })
    })();
    match parsed {
        Some(v) if matches!(v.vol_type, VOL_DYNAMIC | VOL_STATIC) => VidSlot::Header(v),
        _ => VidSlot::Bad,
    }
}

/// The PEB size: the distance to the next erase-counter header. Odd multiples of each
/// power-of-two candidate are tried, so an erased or damaged PEB 1 does not hide the size and a
/// smaller candidate never lands on a real PEB boundary by accident.
fn detect_peb_size(data: &[u8], first: &EcHeader) -> Option<usize> {
    for shift in MIN_PEB_SHIFT..=MAX_PEB_SHIFT {
        let size = 1usize << shift;
        if size <= first.data_offset {
            continue;
        }
        for k in [1usize, 3, 5, 7] {
            let Some(off) = size.checked_mul(k) else {
                break;
            };
            if off >= data.len() {
                break;
            }
            if parse_ec_header(&data[off..]).is_some() {
                return Some(size);
            }
        }
    }
    // A single-PEB image (or one whose other headers are all gone): only the whole image.
    let len = data.len();
    (len > first.data_offset && len.is_power_of_two() && len <= 1 << MAX_PEB_SHIFT).then_some(len)
}

/// Bytes from the start to the end of the last PEB that still carries a UBI header.
fn image_length(data: &[u8], peb: usize) -> u64 {
    let mut last = 0usize;
    let mut i = 0usize;
    while let Some(start) = i.checked_mul(peb).filter(|&s| s < data.len()) {
        let d = &data[start..];
        if d.starts_with(EC_MAGIC) && d.get(4) == Some(&1) {
            last = i;
        }
        i += 1;
    }
    ((last as u64 + 1) * peb as u64).min(data.len() as u64)
}

/// One volume-table record.
#[derive(Debug, Clone)]
struct VolumeRecord {
    reserved_pebs: u32,
    alignment: u32,
    data_pad: u32,
    vol_type: u8,
    upd_marker: bool,
    name: String,
    autoresize: bool,
}

/// Parse the volume table from one copy; records with a bad CRC come back as `Err(index)`.
fn parse_volume_table(leb: &[u8]) -> Vec<Result<(u32, VolumeRecord), u32>> {
    let count = (leb.len() / VTBL_RECORD_SIZE).min(MAX_VOLUMES);
    let mut out = Vec::new();
    for i in 0..count {
        let Some(r) = leb.get(i * VTBL_RECORD_SIZE..(i + 1) * VTBL_RECORD_SIZE) else {
            break;
        };
        let id = i as u32;
        if Some(mtd_crc32(&r[..168])) != be32(r, 168) {
            out.push(Err(id));
            continue;
        }
        let reserved_pebs = be32(r, 0).unwrap_or(0);
        if reserved_pebs == 0 {
            continue;
        }
        let name_len = (be16(r, 14).unwrap_or(0) as usize).min(127);
        out.push(Ok((
            id,
            VolumeRecord {
                reserved_pebs,
                alignment: be32(r, 4).unwrap_or(0),
                data_pad: be32(r, 8).unwrap_or(0),
                vol_type: r[12],
                upd_marker: r[13] != 0,
                name: cstr(&r[16..16 + name_len]),
                autoresize: r[144] & 1 != 0,
            },
        )));
    }
    out
}

/// Where one LEB's best copy sits.
#[derive(Debug, Clone, Copy)]
struct LebCopy {
    peb: usize,
    vid: VidHeader,
    data_offset: usize,
}

/// Everything the PEB walk found.
#[derive(Default)]
struct PebScan {
    /// vol_id → lnum → best copy.
    volumes: BTreeMap<u32, BTreeMap<u32, LebCopy>>,
    bad_ec: usize,
    bad_vid: usize,
    erased: usize,
    stale: usize,
}

impl Ubi {
    /// Whether `copy`'s data matches its CRC (only meaningful when `data_size` is set).
    fn data_crc_ok(data: &[u8], peb: usize, copy: &LebCopy) -> bool {
        let start = copy.peb * peb + copy.data_offset;
        data.get(start..start.saturating_add(copy.vid.data_size as usize))
            .is_some_and(|d| mtd_crc32(d) == copy.vid.data_crc)
    }

    fn scan_pebs(data: &[u8], peb: usize, first: &EcHeader) -> PebScan {
        let mut scan = PebScan::default();
        let count = data.len().div_ceil(peb);
        for i in 0..count {
            let block = &data[i * peb..((i + 1) * peb).min(data.len())];
            let (vid_off, data_off) = match parse_ec_header(block) {
                Some(ec) if ec.data_offset < peb => (ec.vid_hdr_offset, ec.data_offset),
                Some(_) => {
                    scan.bad_ec += 1;
                    continue;
                }
                None => {
                    if block.iter().take(HDR_SIZE).all(|&b| b == 0xFF) {
                        scan.erased += 1;
                        continue;
                    }
                    scan.bad_ec += 1;
                    // A damaged erase counter does not lose the LEB: use the image's offsets.
                    (first.vid_hdr_offset, first.data_offset)
                }
            };
            let vid = match parse_vid_header(block.get(vid_off..)) {
                VidSlot::Header(v) => v,
                VidSlot::Erased => {
                    scan.erased += 1;
                    continue;
                }
                VidSlot::Bad => {
                    scan.bad_vid += 1;
                    continue;
                }
            };
            let copy = LebCopy {
                peb: i,
                vid,
                data_offset: data_off,
            };
            let lebs = scan.volumes.entry(vid.vol_id).or_default();
            match lebs.get(&vid.lnum) {
                None => {
                    lebs.insert(vid.lnum, copy);
                }
                Some(old) => {
                    scan.stale += 1;
                    let (newer, older) = if vid.sqnum > old.vid.sqnum {
                        (copy, *old)
                    } else {
                        (*old, copy)
                    };
                    // A copy made by wear levelling or scrubbing is trusted only when its data
                    // CRC holds; otherwise the interrupted copy loses to the original.
                    let keep = if newer.vid.copy_flag && !Self::data_crc_ok(data, peb, &newer) {
                        older
                    } else {
                        newer
                    };
                    lebs.insert(vid.lnum, keep);
                }
            }
        }
        scan
    }
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
        let peb = detect_peb_size(data, &first)?;
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
        let peb = detect_peb_size(data, &first)
            .ok_or_else(|| FormatError::Corrupt("cannot tell the UBI PEB size".into()))?;
        let leb_size = peb - first.data_offset;
        let mut out = Unpacked::default();
        out.detail("peb_size", peb);
        out.detail("leb_size", leb_size);
        out.detail("vid_hdr_offset", first.vid_hdr_offset);
        out.detail("data_offset", first.data_offset);
        out.detail("image_seq", format!("{:#x}", first.image_seq));
        out.detail("erase_count_first", first.erase_count);
        let pebs = data.len().div_ceil(peb);
        out.detail("pebs", pebs);
        if !data.len().is_multiple_of(peb) {
            out.warn(format!(
                "image ends {} bytes into PEB {}: last PEB truncated",
                data.len() % peb,
                pebs - 1
            ));
        }

        let mut scan = Self::scan_pebs(data, peb, &first);
        if scan.bad_ec > 0 {
            out.warn(format!(
                "{} PEBs with a bad erase-counter header",
                scan.bad_ec
            ));
        }
        if scan.bad_vid > 0 {
            out.warn(format!(
                "{} PEBs with a bad volume-ID header (their LEBs are lost)",
                scan.bad_vid
            ));
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
            out.warn("no volume table (layout volume missing): volumes named by id");
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
            out.warn(format!("volume-table records with a bad CRC: {bad:?}"));
        }
        out.detail("volumes", table.len());

        let mut ids: Vec<u32> = table.keys().copied().collect();
        for id in scan.volumes.keys() {
            if !table.contains_key(id) {
                if !copies.is_empty() {
                    out.warn(format!(
                        "LEBs of volume {id} which the volume table does not list"
                    ));
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
                    out.warn(format!("volume {id} not assembled: {e}"));
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Reassemble one volume from its LEBs into a stream entry.
#[allow(clippy::too_many_arguments)]
fn assemble_volume(
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
        out.warn(format!(
            "volume {name:?}: {dropped} LEBs numbered beyond the volume's size ignored"
        ));
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
        out.warn(format!(
            "volume {name:?} larger than the stream limit of {limit} bytes: cut"
        ));
    }
    if holes > 0 {
        let what = if is_static {
            "missing LEBs of a static volume"
        } else {
            "unmapped LEBs"
        };
        out.warn(format!("volume {name:?}: {holes} {what} filled with 0xFF"));
    }
    if short > 0 {
        out.warn(format!(
            "volume {name:?}: {short} LEBs cut short by the image's end, padded with 0xFF"
        ));
    }
    if bad_crc > 0 {
        out.warn(format!(
            "volume {name:?}: {bad_crc} LEBs whose data CRC does not match"
        ));
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
            out.warn(format!(
                "volume {name:?} has its update marker set: an update was interrupted"
            ));
            entry = entry.with_detail("update_interrupted", "yes");
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile, Rng};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/ubi/three-volumes.ubi");
    const VOLUMES: &str = include_str!("../../tests/fixtures/ubi/volumes.txt");
    const PEB: usize = 16384;

    fn want(label: &str) -> &'static str {
        VOLUMES
            .lines()
            .find_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
            .unwrap()
    }

    fn volume<'a>(u: &'a Unpacked, name: &str) -> &'a Entry {
        u.entries
            .iter()
            .find(|e| e.path == format!("volume:{name}"))
            .unwrap_or_else(|| panic!("volume {name} missing: {:?}", u.entries))
    }

    /// Rewrite the VID header CRC of the PEB at `peb`.
    fn fix_vid_crc(img: &mut [u8], peb: usize) {
        let h = peb * PEB + 64;
        let crc = mtd_crc32(&img[h..h + 60]);
        img[h + 60..h + 64].copy_from_slice(&crc.to_be_bytes());
    }

    #[test]
    fn crc_is_inverted_crc32() {
        // The fixture's first EC header, checked the way UBI does.
        assert_eq!(mtd_crc32(&IMG[..60]), be32(IMG, 60).unwrap());
    }

    #[test]
    fn reads_three_volumes() {
        let p = Ubi.probe(IMG).unwrap();
        assert_eq!(p.length, Some(IMG.len() as u64));
        let u = unpack(&Ubi, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["peb_size"], "16384");
        assert_eq!(u.details["leb_size"], "15872");
        assert_eq!(u.entries.len(), 3);

        let blob = volume(&u, "firmware-blob");
        assert_eq!(blob.details["type"], "static");
        assert_eq!(blob.details["vol_id"], "1");
        assert_eq!(
            sha_hex(&entry_bytes(IMG, blob).unwrap()),
            want("firmware-blob")
        );

        let raw = volume(&u, "raw");
        assert_eq!(raw.details["type"], "dynamic");
        let bytes = entry_bytes(IMG, raw).unwrap();
        assert_eq!(bytes.len(), 2 * 15872);
        assert_eq!(sha_hex(&bytes[..16000]), want("raw-prefix"));

        let fs = volume(&u, "data");
        let bytes = entry_bytes(IMG, fs).unwrap();
        assert_eq!(bytes.len(), 13 * 15872);
        assert_eq!(&bytes[..4], &[0x31, 0x18, 0x10, 0x06]);
    }

    #[test]
    fn bad_vid_crc_loses_only_that_leb() {
        let mut img = IMG.to_vec();
        // PEB 16 holds LEB 0 of the `raw` volume.
        img[16 * PEB + 64 + 20] ^= 0x55;
        let u = unpack(&Ubi, &img);
        assert!(u.warnings.iter().any(|w| w.contains("bad volume-ID")));
        let raw = entry_bytes(&img, volume(&u, "raw")).unwrap();
        assert_eq!(raw.len(), 2 * 15872);
        assert!(raw[..15872].iter().all(|&b| b == 0xFF));
        assert_eq!(raw[15872..16000], IMG[17 * PEB + 512..17 * PEB + 512 + 128]);
        assert_eq!(
            sha_hex(&entry_bytes(&img, volume(&u, "firmware-blob")).unwrap()),
            want("firmware-blob")
        );
    }

    #[test]
    fn truncated_image_keeps_earlier_volumes() {
        let cut = &IMG[..17 * PEB + 3000];
        let u = unpack(&Ubi, cut);
        assert!(u.warnings.iter().any(|w| w.contains("truncated")));
        assert_eq!(u.entries.len(), 3);
        assert_eq!(
            sha_hex(&entry_bytes(cut, volume(&u, "firmware-blob")).unwrap()),
            want("firmware-blob")
        );
    }

    #[test]
    fn newer_copy_of_a_leb_wins_unless_its_copy_crc_fails() {
        // Append a copy of PEB 16 (raw LEB 0) with a higher sqnum and changed data.
        let mut img = IMG.to_vec();
        let mut copy = IMG[16 * PEB..17 * PEB].to_vec();
        copy[512..516].copy_from_slice(b"NEW!");
        copy[64 + 40..64 + 48].copy_from_slice(&100u64.to_be_bytes());
        img.extend_from_slice(&copy);
        fix_vid_crc(&mut img, 18);
        let u = unpack(&Ubi, &img);
        assert_eq!(&entry_bytes(&img, volume(&u, "raw")).unwrap()[..4], b"NEW!");

        // The same copy flagged as a wear-levelling copy whose data CRC is wrong loses.
        img[18 * PEB + 64 + 6] = 1;
        img[18 * PEB + 64 + 20..18 * PEB + 64 + 24].copy_from_slice(&15872u32.to_be_bytes());
        fix_vid_crc(&mut img, 18);
        let u = unpack(&Ubi, &img);
        assert_eq!(
            &entry_bytes(&img, volume(&u, "raw")).unwrap()[..4],
            &IMG[16 * PEB + 512..16 * PEB + 516]
        );
    }

    #[test]
    fn detects_peb_when_second_peb_is_erased() {
        let mut img = IMG.to_vec();
        img[PEB..2 * PEB].fill(0xFF);
        let first = parse_ec_header(&img).unwrap();
        assert_eq!(detect_peb_size(&img, &first), Some(PEB));
    }

    #[test]
    fn rejects_random_magic() {
        let mut d = b"UBI#".to_vec();
        d.extend(std::iter::repeat_n(0u8, 200));
        assert!(Ubi.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        // Aim most flips at headers, where they matter, and often fix the VID header CRC.
        let damage = |img: &mut Vec<u8>, rng: &mut Rng| {
            let peb = rng.below(18);
            let off = if rng.below(4) == 0 {
                rng.below(img.len())
            } else {
                peb * PEB + rng.below(1024)
            };
            img[off] ^= 1 << rng.below(8);
            if rng.below(2) == 0 {
                fix_vid_crc(img, peb);
            }
            true
        };
        let how = Hostile {
            damage: Some(&damage),
            ..Hostile::default()
        };
        hostile_with(&Ubi, IMG, &how);
    }
}
