//! The volume table: records of 172 bytes in the internal layout volume (two copies, LEB 0 and
//! 1) that name each volume and give its type, size and flags.

use super::mtd_crc32;
use crate::cursor::{be16, be32, cstr};

/// First internal volume id; the layout volume (volume table) has exactly this id.
pub(super) const LAYOUT_VOLUME_ID: u32 = 0x7FFF_EFFF;
const VTBL_RECORD_SIZE: usize = 172;
const MAX_VOLUMES: usize = 128;

/// One volume-table record.
#[derive(Debug, Clone)]
pub(super) struct VolumeRecord {
    pub(super) reserved_pebs: u32,
    pub(super) alignment: u32,
    pub(super) data_pad: u32,
    pub(super) vol_type: u8,
    pub(super) upd_marker: bool,
    pub(super) name: String,
    pub(super) autoresize: bool,
}

/// Parse the volume table from one copy; records with a bad CRC come back as `Err(index)`.
pub(super) fn parse_volume_table(leb: &[u8]) -> Vec<Result<(u32, VolumeRecord), u32>> {
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
