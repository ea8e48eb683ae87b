//! The node layout of `ubifs-media.h`: every node sits behind a 24-byte common header with a
//! magic, a CRC over the rest and a length; this module reads and checks one node, or every
//! node laid out in a run of flash.

use crate::cursor::{le32, le64};
use crate::formats::ubi::mtd_crc32;

pub(super) const NODE_MAGIC: u32 = 0x0610_1831;
pub(super) const CH_SIZE: usize = 24;
pub(super) const INO_NODE: u8 = 0;
pub(super) const DATA_NODE: u8 = 1;
pub(super) const DENT_NODE: u8 = 2;
pub(super) const XENT_NODE: u8 = 3;
pub(super) const SB_NODE: u8 = 6;
pub(super) const MST_NODE: u8 = 7;
pub(super) const REF_NODE: u8 = 8;
pub(super) const IDX_NODE: u8 = 9;
pub(super) const CS_NODE: u8 = 10;
pub(super) const SB_NODE_SIZE: usize = 4096;
pub(super) const INO_NODE_SIZE: usize = 160;
pub(super) const DENT_NODE_SIZE: usize = 56;
pub(super) const DATA_NODE_SIZE: usize = 48;
pub(super) const IDX_NODE_SIZE: usize = 28;
/// A branch with a simple 8-byte key; authenticated file systems append a hash.
pub(super) const MIN_BRANCH_SIZE: usize = 20;
pub(super) const BLOCK_SIZE: usize = 4096;
/// The largest leaf: an inode node with 4 KiB of inline data (a data node is smaller).
pub(super) const MAX_LEAF_NODE: usize = INO_NODE_SIZE + BLOCK_SIZE;
/// One CRC-checked node.
#[derive(Clone, Copy)]
pub(super) struct Node<'a> {
    pub(super) node_type: u8,
    pub(super) sqnum: u64,
    pub(super) bytes: &'a [u8],
}

/// Why no node could be read at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NodeError {
    /// No node magic: erased flash or the end of the written part.
    NoMagic,
    /// A header with an impossible length, or one that runs past the data.
    BadLength,
    /// The CRC does not match; the header's length is kept so that scans can skip the node.
    BadCrc(usize),
}

/// Read and CRC-check the node at `off`; `max_len` bounds its length (a LEB).
pub(super) fn read_node(data: &[u8], off: usize, max_len: usize) -> Result<Node<'_>, NodeError> {
    let ch = data.get(off..).and_then(|d| d.get(..CH_SIZE));
    let Some(ch) = ch else {
        return Err(NodeError::NoMagic);
    };
    if le32(ch, 0) != Some(NODE_MAGIC) {
        return Err(NodeError::NoMagic);
    }
    let len = le32(ch, 16).unwrap_or(0) as usize;
    if len < CH_SIZE || len > max_len {
        return Err(NodeError::BadLength);
    }
    let bytes = data
        .get(off..)
        .and_then(|d| d.get(..len))
        .ok_or(NodeError::BadLength)?;
    if Some(mtd_crc32(&bytes[8..])) != le32(bytes, 4) {
        return Err(NodeError::BadCrc(len));
    }
    Ok(Node {
        node_type: bytes[20],
        sqnum: le64(bytes, 8).unwrap_or(0),
        bytes,
    })
}

/// Visit the nodes laid one after another in `data[start..end]` (a LEB or part of one), each
/// at most `max_len` bytes: erased space and padding are stepped over 8 bytes at a time, a node
/// with a bad CRC is skipped by its stated length (so the CRC work stays linear) and counted.
pub(super) fn scan_nodes<'a>(
    data: &'a [u8],
    start: usize,
    end: usize,
    max_len: usize,
    mut visit: impl FnMut(Node<'a>),
) -> usize {
    let end = end.min(data.len());
    let mut pos = start;
    let mut bad = 0;
    while pos.saturating_add(CH_SIZE) <= end {
        let window = &data[..end];
        match read_node(window, pos, max_len) {
            Ok(node) => {
                pos = pos.saturating_add((node.bytes.len() + 7) & !7);
                visit(node);
            }
            Err(NodeError::NoMagic) => pos += 8,
            Err(NodeError::BadLength) => {
                bad += 1;
                pos += 8;
            }
            Err(NodeError::BadCrc(len)) => {
                bad += 1;
                pos = pos.saturating_add((len + 7) & !7);
            }
        }
    }
    bad
}
