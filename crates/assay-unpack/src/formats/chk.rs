//! Netgear CHK firmware containers: a big-endian header (magic `2a 23 24 5e`, header length,
//! region and version bytes, checksums, kernel and root file system lengths) ending in a
//! board id string, then the kernel and the root file system, carved as two streams.
//!
//! Written here because the header is 40 fixed bytes plus the board id. Netgear's own
//! checksums are not verified.

use crate::cursor::{be32, cstr};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Netgear CHK image.
pub struct Chk;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x2a\x23\x24\x5e")];

const FIXED_LEN: usize = 40;
/// Longest header (fixed part plus board id) accepted.
const MAX_HEADER: usize = 40 + 64;

/// The header fields used.
struct ChkHeader {
    header_len: usize,
    kernel_len: u64,
    rootfs_len: u64,
    board_id: String,
    region: u8,
}

impl ChkHeader {
    fn parse(data: &[u8]) -> Option<ChkHeader> {
        let header_len = be32(data, 4)? as usize;
        if !(FIXED_LEN + 1..=MAX_HEADER).contains(&header_len) {
            return None;
        }
        let id = data.get(FIXED_LEN..header_len)?;
        let board_id = cstr(id);
        if board_id.is_empty() || !board_id.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        Some(ChkHeader {
            header_len,
            kernel_len: be32(data, 24)? as u64,
            rootfs_len: be32(data, 28)? as u64,
            board_id,
            region: data[8],
        })
    }
}

impl Format for Chk {
    fn name(&self) -> &'static str {
        "chk"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = ChkHeader::parse(data)?;
        if h.kernel_len == 0 {
            return None;
        }
        Some(Probe {
            length: Some(h.header_len as u64 + h.kernel_len + h.rootfs_len),
            description: format!("Netgear CHK, board {:?}", h.board_id),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = ChkHeader::parse(data).ok_or(FormatError::Corrupt("bad CHK header".into()))?;
        let mut out = Unpacked::default();
        out.detail("board_id", &h.board_id);
        out.detail("region", h.region);
        let len = data.len() as u64;
        let mut pos = h.header_len as u64;
        for (label, size) in [("kernel", h.kernel_len), ("rootfs", h.rootfs_len)] {
            if size == 0 {
                continue;
            }
            let avail = len.saturating_sub(pos).min(size);
            if avail < size {
                out.warn(
                    WarningKind::Truncated,
                    format!("{label} declares {size} bytes, {avail} present"),
                );
            }
            if avail > 0 {
                out.entries.push(Entry::stream(
                    label,
                    EntryData::Range {
                        offset: pos,
                        length: avail,
                    },
                ));
            }
            pos = pos.saturating_add(size);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.chk");

    #[test]
    fn kernel_and_rootfs_are_carved() {
        check_streams(&Chk, "image.chk", IMG);
        assert_eq!(unpack(&Chk, IMG).details["board_id"], "U12H139T00_NETGEAR");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Chk, IMG, &Hostile::flips(300));
    }
}
