//! The geometry of an image: its PEB size, found from where the erase-counter headers repeat,
//! and how far the PEBs reach.

use super::headers::{parse_ec_header, EcHeader, EC_MAGIC};

/// Smallest and largest PEB sizes tried when detecting the geometry.
const MIN_PEB_SHIFT: u32 = 10;
pub(super) const MAX_PEB_SHIFT: u32 = 24;

/// The PEB size: the distance to the next erase-counter header. Odd multiples of each
/// power-of-two candidate are tried, so an erased or damaged PEB 1 does not hide the size and a
/// smaller candidate never lands on a real PEB boundary by accident.
pub(super) fn detect_peb_size(data: &[u8], first: &EcHeader) -> Option<usize> {
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
pub(super) fn image_length(data: &[u8], peb: usize) -> u64 {
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
