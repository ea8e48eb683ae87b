//! The journal: nodes written since the last commit, found through the reference nodes of the
//! log, and replayed over what the index holds.

use super::fs::Fs;
use super::node::{scan_nodes, CS_NODE, REF_NODE};
use crate::cursor::le32;
use crate::format::{Unpacked, WarningKind};
use std::collections::HashSet;

const LOG_LNUM: usize = 3;

impl Fs<'_> {
    /// Read the nodes of one LEB from `offs` until the written part ends, applying the leaves
    /// newer than `min_sqnum`. Returns how many were applied.
    pub(super) fn scan_leb(&mut self, lnum: usize, offs: usize, min_sqnum: u64) -> usize {
        let Some(start) = lnum.checked_mul(self.leb_size) else {
            return 0;
        };
        let end = start.saturating_add(self.leb_size);
        let data = self.data;
        let mut leaves = Vec::new();
        let bad = scan_nodes(data, start.saturating_add(offs), end, self.max_node, |n| {
            if n.sqnum > min_sqnum {
                leaves.push(n);
            }
        });
        self.bad_nodes += bad;
        leaves.into_iter().filter(|&n| self.add_leaf(n)).count()
    }

    /// Replay the journal: buds named by reference nodes written after the last commit
    /// start node hold nodes the index does not know yet.
    pub(super) fn replay_journal(&mut self, log_lebs: usize, out: &mut Unpacked) {
        let mut cs_sqnum = 0u64;
        let mut refs = Vec::new();
        for lnum in LOG_LNUM..LOG_LNUM.saturating_add(log_lebs) {
            let Some(start) = lnum.checked_mul(self.leb_size) else {
                break;
            };
            let end = start.saturating_add(self.leb_size);
            scan_nodes(self.data, start, end, self.max_node, |node| {
                match node.node_type {
                    CS_NODE => cs_sqnum = cs_sqnum.max(node.sqnum),
                    REF_NODE => {
                        let b = node.bytes;
                        if let (Some(l), Some(o)) = (le32(b, 24), le32(b, 28)) {
                            refs.push((node.sqnum, l as usize, o as usize));
                        }
                    }
                    _ => {}
                }
            });
        }
        let mut seen = HashSet::new();
        let mut replayed = 0;
        let mut buds = 0;
        for (sqnum, lnum, offs) in refs {
            if sqnum <= cs_sqnum || !seen.insert((lnum, offs)) {
                continue;
            }
            buds += 1;
            replayed += self.scan_leb(lnum, offs, cs_sqnum);
        }
        if replayed > 0 {
            out.warn(WarningKind::Format, format!(
                "{replayed} journal nodes in {buds} buds are not in the index yet (uncommitted); replayed over it"
            ));
            out.detail("journal_nodes", replayed);
        }
    }
}
