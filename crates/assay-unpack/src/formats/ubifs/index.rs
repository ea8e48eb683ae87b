//! The index: a B-tree of index nodes from the root the master node names down to the leaves,
//! walked with a depth bound and a visited set.

use super::fs::Fs;
use super::node::{read_node, IDX_NODE, IDX_NODE_SIZE, MIN_BRANCH_SIZE};
use super::superblock::Master;
use crate::cursor::{le16, le32};
use crate::format::{Unpacked, WarningKind};
use std::collections::HashSet;

const MAX_INDEX_DEPTH: usize = 64;

impl Fs<'_> {
    /// Walk the index B-tree from the root, collecting every leaf. Returns `false` when the
    /// root itself cannot be read.
    pub(super) fn walk_index(&mut self, master: &Master, out: &mut Unpacked) -> bool {
        let Some(root) = self.addr(master.root_lnum, master.root_offs) else {
            return false;
        };
        let mut stack = vec![(root, master.root_len, 0usize)];
        let mut visited = HashSet::new();
        let mut root_ok = false;
        let mut too_deep = false;
        while let Some((off, len, depth)) = stack.pop() {
            if !visited.insert(off) {
                continue;
            }
            // The branch says how long the node is: a mismatch is rejected before any CRC
            // work, and no node is longer than the largest a UBIFS can write.
            let stated = self.data.get(off + 16..off + 20).and_then(|b| le32(b, 0));
            if stated != Some(len) || len as usize > self.max_node {
                self.bad_nodes += 1;
                continue;
            }
            let node = match read_node(self.data, off, self.max_node) {
                Ok(n) => n,
                Err(_) => {
                    self.bad_nodes += 1;
                    continue;
                }
            };
            if off == root {
                root_ok = node.node_type == IDX_NODE;
            }
            if node.node_type != IDX_NODE {
                if !self.add_leaf(node) {
                    self.bad_nodes += 1;
                }
                continue;
            }
            if depth >= MAX_INDEX_DEPTH {
                too_deep = true;
                continue;
            }
            let b = node.bytes;
            let count = le16(b, 24).unwrap_or(0) as usize;
            if count == 0 {
                continue;
            }
            let branch = (b.len() - IDX_NODE_SIZE.min(b.len())) / count;
            if branch < MIN_BRANCH_SIZE {
                self.bad_nodes += 1;
                continue;
            }
            for i in (0..count).rev() {
                let at = IDX_NODE_SIZE + i * branch;
                let (Some(lnum), Some(offs), Some(len)) =
                    (le32(b, at), le32(b, at + 4), le32(b, at + 8))
                else {
                    continue;
                };
                match self.addr(lnum, offs) {
                    Some(child) => stack.push((child, len, depth + 1)),
                    None => self.bad_nodes += 1,
                }
            }
        }
        if too_deep {
            out.warn(
                WarningKind::Limit,
                format!("index deeper than {MAX_INDEX_DEPTH} levels: lower levels skipped"),
            );
        }
        root_ok
    }
}
