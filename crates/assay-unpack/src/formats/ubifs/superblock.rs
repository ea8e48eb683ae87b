//! The superblock node (geometry and format of the whole file system, at LEB 0) and the
//! master node (where the index root is, in LEBs 1 and 2).

use super::node::{read_node, scan_nodes, MST_NODE, SB_NODE, SB_NODE_SIZE};
use crate::cursor::{le16, le32, le64};

/// A master node is 512 bytes.
const MST_NODE_MAX: usize = 512;
const MIN_LEB_SIZE: usize = 15 * 1024;
const MAX_LEB_SIZE: usize = 16 << 20;
/// LEB numbers of the fixed areas.
const MST_LNUM: usize = 1;

/// The superblock facts this reader needs.
#[derive(Debug, Clone)]
pub(super) struct Superblock {
    pub(super) leb_size: usize,
    pub(super) leb_cnt: u32,
    pub(super) min_io: u32,
    pub(super) log_lebs: u32,
    pub(super) fanout: u32,
    pub(super) default_compr: u16,
    pub(super) fmt_version: u32,
    pub(super) flags: u32,
    pub(super) key_hash: u8,
    pub(super) uuid: [u8; 16],
}

/// Parse and validate the superblock node at the start of `data`.
pub(super) fn parse_superblock(data: &[u8]) -> Option<Superblock> {
    let node = read_node(data, 0, SB_NODE_SIZE).ok()?;
    let b = node.bytes;
    if node.node_type != SB_NODE || b.len() != SB_NODE_SIZE {
        return None;
    }
    let key_fmt = b[27];
    let leb_size = le32(b, 36)? as usize;
    let leb_cnt = le32(b, 40)?;
    let min_io = le32(b, 32)?;
    let fmt_version = le32(b, 80)?;
    if key_fmt != 0
        || !(MIN_LEB_SIZE..=MAX_LEB_SIZE).contains(&leb_size)
        || leb_cnt == 0
        || min_io == 0
        || !min_io.is_power_of_two()
        || min_io as usize > leb_size
        || !(1..=5).contains(&fmt_version)
    {
        return None;
    }
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&b[108..124]);
    Some(Superblock {
        leb_size,
        leb_cnt,
        min_io,
        log_lebs: le32(b, 56)?,
        fanout: le32(b, 72)?,
        default_compr: le16(b, 84)?,
        fmt_version,
        flags: le32(b, 28)?,
        key_hash: b[26],
        uuid,
    })
}

/// The newest master node: where the index root is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Master {
    pub(super) sqnum: u64,
    pub(super) highest_inum: u64,
    pub(super) cmt_no: u64,
    pub(super) root_lnum: u32,
    pub(super) root_offs: u32,
    pub(super) root_len: u32,
}

/// Find the newest valid master node in LEBs 1 and 2.
pub(super) fn find_master(data: &[u8], leb_size: usize) -> Option<Master> {
    let mut best: Option<Master> = None;
    for lnum in [MST_LNUM, MST_LNUM + 1] {
        let start = lnum.checked_mul(leb_size)?;
        scan_nodes(
            data,
            start,
            start.saturating_add(leb_size),
            MST_NODE_MAX,
            |node| {
                let b = node.bytes;
                if node.node_type != MST_NODE || best.is_some_and(|m| m.sqnum >= node.sqnum) {
                    return;
                }
                let master = (|| {
                    Some(Master {
                        sqnum: node.sqnum,
                        highest_inum: le64(b, 24)?,
                        cmt_no: le64(b, 32)?,
                        root_lnum: le32(b, 48)?,
                        root_offs: le32(b, 52)?,
                        root_len: le32(b, 56)?,
                    })
                })();
                if master.is_some() {
                    best = master;
                }
            },
        );
    }
    best
}
