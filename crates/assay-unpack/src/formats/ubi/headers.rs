//! The two headers at the start of every PEB (`ubi-media.h`): the erase counter (`UBI#`),
//! which says where the rest lies, and the volume ID (`UBI!`), which says which LEB of which
//! volume the PEB holds. Both are big-endian, 64 bytes, CRC-checked.

use super::geometry::MAX_PEB_SHIFT;
use super::mtd_crc32;
use crate::cursor::{be32, be64};

pub(super) const EC_MAGIC: &[u8; 4] = b"UBI#";
const VID_MAGIC: &[u8; 4] = b"UBI!";
pub(super) const HDR_SIZE: usize = 64;
pub(super) const VOL_DYNAMIC: u8 = 1;
pub(super) const VOL_STATIC: u8 = 2;

/// The fields of an erase-counter header that locate the rest of the PEB.
#[derive(Debug, Clone, Copy)]
pub(super) struct EcHeader {
    pub(super) erase_count: u64,
    pub(super) vid_hdr_offset: usize,
    pub(super) data_offset: usize,
    pub(super) image_seq: u32,
}

/// Parse and CRC-check the erase-counter header at the start of `d`.
pub(super) fn parse_ec_header(d: &[u8]) -> Option<EcHeader> {
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
pub(super) struct VidHeader {
    pub(super) vol_type: u8,
    pub(super) copy_flag: bool,
    pub(super) vol_id: u32,
    pub(super) lnum: u32,
    pub(super) data_size: u32,
    pub(super) used_ebs: u32,
    pub(super) data_pad: u32,
    pub(super) data_crc: u32,
    pub(super) sqnum: u64,
}

/// What sits where a volume-ID header should be.
pub(super) enum VidSlot {
    Header(VidHeader),
    /// All 0xFF: a PEB that was erased and holds no LEB.
    Erased,
    /// Anything else: a damaged header.
    Bad,
}

pub(super) fn parse_vid_header(d: Option<&[u8]>) -> VidSlot {
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
