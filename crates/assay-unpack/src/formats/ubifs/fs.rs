//! What the reader keeps of a UBIFS: the newest inode, directory entry and data block for each
//! key, whether it came from the index or the journal.

use super::node::{
    Node, DATA_NODE, DATA_NODE_SIZE, DENT_NODE, DENT_NODE_SIZE, IDX_NODE_SIZE, INO_NODE,
    INO_NODE_SIZE, MAX_LEAF_NODE, MIN_BRANCH_SIZE, XENT_NODE,
};
use super::superblock::Superblock;
use crate::cursor::{le16, le32, le64};
use std::collections::BTreeMap;

/// An inode as the newest node says.
#[derive(Debug, Clone)]
pub(super) struct Inode<'a> {
    pub(super) sqnum: u64,
    pub(super) size: u64,
    pub(super) nlink: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mode: u32,
    pub(super) flags: u32,
    /// Modification time, Unix seconds.
    pub(super) mtime: Option<i64>,
    pub(super) data: &'a [u8],
}

/// A directory or extended-attribute entry.
#[derive(Debug, Clone)]
pub(super) struct Dirent<'a> {
    pub(super) sqnum: u64,
    pub(super) parent: u64,
    pub(super) inum: u64,
    pub(super) name: &'a [u8],
}

/// One data block's node.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block<'a> {
    pub(super) sqnum: u64,
    pub(super) size: u32,
    pub(super) compr: u16,
    pub(super) payload: &'a [u8],
}

/// Everything read from the index and the journal.
pub(super) struct Fs<'a> {
    pub(super) data: &'a [u8],
    pub(super) leb_size: usize,
    /// Longest node this file system can hold (largest inode or data node, or index node).
    pub(super) max_node: usize,
    pub(super) inodes: BTreeMap<u64, Inode<'a>>,
    /// (parent, name) → entry; entries with `inum == 0` are deletions from the journal.
    pub(super) dents: BTreeMap<(u64, &'a [u8]), Dirent<'a>>,
    pub(super) xents: BTreeMap<(u64, &'a [u8]), Dirent<'a>>,
    pub(super) blocks: BTreeMap<(u64, u32), Block<'a>>,
    pub(super) bad_nodes: usize,
    pub(super) leaves: usize,
}

impl<'a> Fs<'a> {
    pub(super) fn new(data: &'a [u8], sb: &Superblock) -> Self {
        // An index node holds `fanout` branches of at most 20 bytes plus a 64-byte hash.
        let idx = IDX_NODE_SIZE + (sb.fanout.min(65_536) as usize) * (MIN_BRANCH_SIZE + 64);
        Fs {
            data,
            leb_size: sb.leb_size,
            max_node: idx.max(MAX_LEAF_NODE).min(sb.leb_size),
            inodes: BTreeMap::new(),
            dents: BTreeMap::new(),
            xents: BTreeMap::new(),
            blocks: BTreeMap::new(),
            bad_nodes: 0,
            leaves: 0,
        }
    }

    /// Byte offset of (lnum, offs), if it lies in the data.
    pub(super) fn addr(&self, lnum: u32, offs: u32) -> Option<usize> {
        if offs as usize >= self.leb_size {
            return None;
        }
        let off = (lnum as usize)
            .checked_mul(self.leb_size)?
            .checked_add(offs as usize)?;
        (off < self.data.len()).then_some(off)
    }

    /// Record a leaf node (inode, entry, data) where it is newer than what is known.
    /// Returns whether the node was a leaf.
    pub(super) fn add_leaf(&mut self, node: Node<'a>) -> bool {
        let b = node.bytes;
        let Some(inum) = le32(b, 24).map(u64::from) else {
            return false;
        };
        let key2 = le32(b, 28).unwrap_or(0);
        let key_type = (key2 >> 29) as u8;
        match node.node_type {
            INO_NODE if b.len() >= INO_NODE_SIZE && key_type == INO_NODE => {
                let data_len = le32(b, 112).unwrap_or(0) as usize;
                let data = b.get(INO_NODE_SIZE..).unwrap_or(&[]);
                let ino = Inode {
                    sqnum: node.sqnum,
                    size: le64(b, 48).unwrap_or(0),
                    nlink: le32(b, 92).unwrap_or(0),
                    uid: le32(b, 96).unwrap_or(0),
                    gid: le32(b, 100).unwrap_or(0),
                    mode: le32(b, 104).unwrap_or(0),
                    flags: le32(b, 108).unwrap_or(0),
                    mtime: le64(b, 72).and_then(|t| i64::try_from(t).ok()),
                    data: &data[..data_len.min(data.len())],
                };
                if self.inodes.get(&inum).is_none_or(|o| o.sqnum < node.sqnum) {
                    self.inodes.insert(inum, ino);
                }
            }
            DENT_NODE | XENT_NODE if b.len() >= DENT_NODE_SIZE => {
                let nlen = le16(b, 50).unwrap_or(0) as usize;
                let name = b.get(DENT_NODE_SIZE..).unwrap_or(&[]);
                let d = Dirent {
                    sqnum: node.sqnum,
                    parent: inum,
                    inum: le64(b, 40).unwrap_or(0),
                    name: &name[..nlen.min(name.len())],
                };
                let map = if node.node_type == DENT_NODE {
                    &mut self.dents
                } else {
                    &mut self.xents
                };
                let key = (inum, d.name);
                if map.get(&key).is_none_or(|o| o.sqnum < node.sqnum) {
                    map.insert(key, d);
                }
            }
            DATA_NODE if b.len() >= DATA_NODE_SIZE && key_type == DATA_NODE => {
                let block = key2 & 0x1FFF_FFFF;
                let blk = Block {
                    sqnum: node.sqnum,
                    size: le32(b, 40).unwrap_or(0),
                    compr: le16(b, 44).unwrap_or(0),
                    payload: &b[DATA_NODE_SIZE..],
                };
                let key = (inum, block);
                if self.blocks.get(&key).is_none_or(|o| o.sqnum < node.sqnum) {
                    self.blocks.insert(key, blk);
                }
            }
            _ => return false,
        }
        self.leaves += 1;
        true
    }
}
