//! The log scan: every node of the image in order (there is no index), erased space skipped,
//! damaged nodes counted, and where the structure ends.

use super::node::{
    node_header, parse_dirent, parse_inode, Dirent, InodeNode, HEADER_LEN, NODETYPE_CLEANMARKER,
    NODETYPE_DIRENT, NODETYPE_INODE, NODETYPE_SUMMARY, NODE_ACCURATE,
};
use crate::cursor::Endian;
use crate::format::{Unpacked, WarningKind};
use std::collections::HashMap;

/// Non-erased bytes that are not nodes, after the last valid node, past which the scan stops.
const GARBAGE_LIMIT: usize = 64 * 1024;
/// Erase-block size assumed when no cleanmarkers tell it.
const DEFAULT_ERASE_SIZE: usize = 64 * 1024;

/// Everything the scan collected.
#[derive(Default)]
pub(super) struct Scan {
    pub(super) dirents: Vec<Dirent>,
    pub(super) inodes: HashMap<u32, Vec<InodeNode>>,
    /// End of the last valid node.
    end: usize,
    pub(super) cleanmarkers: Vec<usize>,
    pub(super) nodes: usize,
    pub(super) obsolete: usize,
    pub(super) bad: usize,
    pub(super) summaries: usize,
}

pub(super) fn scan(d: &[u8], e: Endian, out: &mut Unpacked) -> Scan {
    let mut s = Scan::default();
    let mut pos = 0usize;
    let mut garbage = 0usize;
    let mut warned = 0usize;
    let mut warn = |out: &mut Unpacked, kind: WarningKind, msg: String| {
        warned += 1;
        if warned <= 20 {
            out.warn(kind, msg);
        } else if warned == 21 {
            out.warn(WarningKind::Format, "further node warnings suppressed");
        }
    };
    while pos.saturating_add(HEADER_LEN) <= d.len() {
        // Erased space: skip the whole run of 0xFF at once, staying 4-byte aligned.
        if d.get(pos..pos + 4) == Some(&[0xff; 4]) {
            let run = d[pos..]
                .iter()
                .position(|&b| b != 0xff)
                .unwrap_or(d.len() - pos);
            pos += run & !3;
            continue;
        }
        let Some(h) = node_header(d, pos, e) else {
            garbage += 4;
            if garbage > GARBAGE_LIMIT {
                break;
            }
            pos += 4;
            continue;
        };
        let totlen = h.totlen as usize;
        let Some(node) = d.get(pos..pos.saturating_add(totlen)) else {
            warn(
                out,
                WarningKind::Truncated,
                format!("node at {pos:#x} declares {totlen} bytes past the end of the image"),
            );
            s.bad += 1;
            garbage += 4;
            pos += 4;
            continue;
        };
        garbage = 0;
        s.nodes += 1;
        let next = pos.saturating_add(totlen).saturating_add(3) & !3;
        if h.nodetype & NODE_ACCURATE == 0 {
            s.obsolete += 1;
            s.end = pos + totlen;
            pos = next;
            continue;
        }
        let ok = match h.nodetype {
            NODETYPE_DIRENT => match parse_dirent(node, e) {
                Ok(de) => {
                    s.dirents.push(de);
                    true
                }
                Err((kind, why)) => {
                    warn(
                        out,
                        kind,
                        format!("directory entry at {pos:#x} skipped: {why}"),
                    );
                    false
                }
            },
            NODETYPE_INODE => match parse_inode(node, pos, e) {
                Ok((ino, n)) => {
                    s.inodes.entry(ino).or_default().push(n);
                    true
                }
                Err((kind, why)) => {
                    warn(out, kind, format!("inode node at {pos:#x} skipped: {why}"));
                    false
                }
            },
            NODETYPE_CLEANMARKER => {
                s.cleanmarkers.push(pos);
                true
            }
            NODETYPE_SUMMARY => {
                s.summaries += 1;
                true
            }
            // Padding, extended attributes and unknown compatible types carry nothing we read.
            _ => true,
        };
        if !ok {
            s.bad += 1;
        }
        // A node whose header is sound still delimits the log, even if its body is damaged.
        s.end = pos + totlen;
        pos = next;
    }
    s
}

/// Erase-block size from the spacing of cleanmarkers (one at the start of every block).
pub(super) fn erase_size(cleanmarkers: &[usize]) -> Option<usize> {
    let step = cleanmarkers
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&x| x > 0)
        .min()?;
    (step.is_power_of_two() && step >= 4096).then_some(step)
}

/// Where the structure ends: the last valid node, rounded up to the end of its erase block when
/// the rest of that block is erased (0xFF). The erase size comes from the cleanmarkers' spacing,
/// else it is taken as 64 KiB, the usual NOR erase block and mkfs.jffs2's default.
pub(super) fn extent(d: &[u8], s: &Scan) -> usize {
    let mut end = s.end.min(d.len());
    // Nodes are 4-byte aligned: the last one's alignment slack belongs to the image.
    let aligned = end.saturating_add(3) & !3;
    if aligned <= d.len() {
        end = aligned;
    }
    let eb = erase_size(&s.cleanmarkers).unwrap_or(DEFAULT_ERASE_SIZE);
    let rounded = end.saturating_add((eb - end % eb) % eb);
    match d.get(end..rounded) {
        Some(rest) if rest.iter().all(|&b| b == 0xff) => rounded,
        _ => end,
    }
}
