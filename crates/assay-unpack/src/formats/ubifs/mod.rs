//! UBIFS, the Linux flash file system that lives on a UBI volume: a log-structured store of
//! CRC-protected nodes (inodes, directory entries, 4 KiB data blocks) found through a B-tree
//! index whose root the master node records. Reads both a UBIFS inside a UBI volume (the
//! stream the `ubi` format yields) and a bare `mkfs.ubifs` image: both are runs of LEBs.
//!
//! Written here because no crate reads UBIFS at all. Facts from the Linux `ubifs-media.h`:
//! little-endian nodes behind a 24-byte common header (magic `0x06101831`, CRC-32 with init
//! `0xFFFFFFFF` and no final inversion over everything after the CRC field), "simple" 8-byte
//! keys (32-bit inode number, then 3-bit key type and 29-bit hash or block number).
//!
//! Uncommitted journal nodes (buds named by reference nodes in the log after the last commit
//! start) are replayed over the index, and each replayed node is reported.
//!
//! One concern per file: `node` the common header and node layout, `superblock` the
//! superblock and master nodes, `fs` the newest leaves, `index` the B-tree walk, `journal` the
//! replay of uncommitted nodes, `data` file contents, `tree` paths and entries.

mod data;
mod fs;
mod index;
mod journal;
mod node;
mod superblock;
mod tree;

use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use fs::Fs;
use node::SB_NODE;
use superblock::{find_master, parse_superblock};
use tree::build_tree;

/// A UBIFS file system, recognised by its superblock node at LEB 0.
pub struct Ubifs;

static MAGICS: &[Magic] = &[Magic::at_start(&[0x31, 0x18, 0x10, 0x06])];

const FLG_ENCRYPTION: u32 = 0x10;
const FLG_AUTHENTICATION: u32 = 0x20;
const COMPR_NAMES: [&str; 4] = ["none", "lzo", "zlib", "zstd"];

impl Format for Ubifs {
    fn name(&self) -> &'static str {
        "ubifs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        // The node type byte rejects the many non-superblock nodes before any CRC work.
        if data.get(20) != Some(&SB_NODE) {
            return None;
        }
        let sb = parse_superblock(data)?;
        Some(Probe {
            length: Some(sb.leb_cnt as u64 * sb.leb_size as u64),
            description: format!(
                "UBIFS, LEB {} bytes, {} LEBs, {}",
                sb.leb_size,
                sb.leb_cnt,
                COMPR_NAMES
                    .get(sb.default_compr as usize)
                    .copied()
                    .unwrap_or("unknown compression")
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let sb = parse_superblock(data)
            .ok_or_else(|| FormatError::Corrupt("no valid UBIFS superblock node".into()))?;
        let mut out = Unpacked::default();
        out.detail("leb_size", sb.leb_size);
        out.detail("leb_cnt", sb.leb_cnt);
        out.detail("min_io", sb.min_io);
        out.detail("fmt_version", sb.fmt_version);
        out.detail(
            "compression",
            COMPR_NAMES
                .get(sb.default_compr as usize)
                .copied()
                .unwrap_or("unknown"),
        );
        out.detail("key_hash", if sb.key_hash == 0 { "r5" } else { "test" });
        out.detail(
            "uuid",
            sb.uuid
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        );
        if sb.flags & FLG_ENCRYPTION != 0 {
            out.warn(
                WarningKind::Unsupported,
                "file-system encryption is enabled: encrypted names and data stay opaque",
            );
        }
        if sb.flags & FLG_AUTHENTICATION != 0 {
            out.detail("authenticated", "yes");
        }

        let mut fs = Fs::new(data, &sb);
        let master = find_master(data, sb.leb_size);
        let indexed = match &master {
            Some(m) => {
                out.detail("commit", m.cmt_no);
                out.detail("highest_inum", m.highest_inum);
                out.detail("index_root", format!("{}:{}", m.root_lnum, m.root_offs));
                let _ = m.root_len;
                fs.walk_index(m, &mut out)
            }
            None => false,
        };
        if indexed {
            fs.replay_journal(sb.log_lebs.min(1024) as usize, &mut out);
        } else {
            // Without an index, every node with a valid CRC is the best evidence left.
            out.warn(
                WarningKind::Format,
                if master.is_none() {
                    "no valid master node: file system rebuilt from a scan of every LEB"
                } else {
                    "index root unreadable: file system rebuilt from a scan of every LEB"
                },
            );
            let lebs = data.len().div_ceil(sb.leb_size);
            for lnum in 1..lebs {
                fs.scan_leb(lnum, 0, 0);
            }
        }
        if fs.bad_nodes > 0 {
            out.warn(
                WarningKind::Checksum,
                format!(
                    "{} nodes unreadable (bad CRC, bad length or not where the index points)",
                    fs.bad_nodes
                ),
            );
        }
        out.detail("inodes", fs.inodes.len());
        build_tree(&fs, ctx, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
