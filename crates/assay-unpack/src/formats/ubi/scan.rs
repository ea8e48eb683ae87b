//! The walk over every PEB: which LEB of which volume it holds, keeping the newest trustworthy
//! copy of each and counting erased, damaged and stale PEBs.

use super::headers::{parse_ec_header, parse_vid_header, EcHeader, VidHeader, VidSlot, HDR_SIZE};
use super::{mtd_crc32, Ubi};
use std::collections::BTreeMap;

/// Where one LEB's best copy sits.
#[derive(Debug, Clone, Copy)]
pub(super) struct LebCopy {
    pub(super) peb: usize,
    pub(super) vid: VidHeader,
    pub(super) data_offset: usize,
}

/// Everything the PEB walk found.
#[derive(Default)]
pub(super) struct PebScan {
    /// vol_id → lnum → best copy.
    pub(super) volumes: BTreeMap<u32, BTreeMap<u32, LebCopy>>,
    pub(super) bad_ec: usize,
    pub(super) bad_vid: usize,
    pub(super) erased: usize,
    pub(super) stale: usize,
}

impl Ubi {
    /// Whether `copy`'s data matches its CRC (only meaningful when `data_size` is set).
    fn data_crc_ok(data: &[u8], peb: usize, copy: &LebCopy) -> bool {
        let start = copy.peb * peb + copy.data_offset;
        data.get(start..start.saturating_add(copy.vid.data_size as usize))
            .is_some_and(|d| mtd_crc32(d) == copy.vid.data_crc)
    }

    pub(super) fn scan_pebs(data: &[u8], peb: usize, first: &EcHeader) -> PebScan {
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
