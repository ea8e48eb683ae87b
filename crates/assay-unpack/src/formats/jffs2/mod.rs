//! JFFS2, the log-structured flash filesystem of NOR-flash routers (config and overlay
//! partitions, whole root filesystems on older boards).
//!
//! Our own reader: the only crate (`jffs2`) binds GPL C through cmake. A JFFS2 image is a log of
//! nodes with no index: the reader scans every node (4-byte aligned, skipping erased 0xFF space
//! and garbage), checks the header, node and data CRCs, keeps the newest directory entry per
//! (parent, name) and replays each inode's data nodes in version order, so that the newest
//! write wins for every byte range; only the nodes whose data still shows are decoded, and the
//! walk and the replay are linear in the number of nodes however they overlap. Paths come from
//! the directory-entry graph, walked from the root inode with a depth bound and a visited set.
//! Data nodes are decoded with every compressor Linux and OpenWrt write: none, zero, rtime,
//! rubin/dynrubin, zlib, lzo and lzma.
//!
//! A node with a bad CRC is skipped with a warning and the rest is read; the structure ends at
//! the last valid node (rounded up to the erase block when cleanmarkers tell its size and the
//! rest of the block is erased), or where a long stretch is neither nodes nor erased space —
//! which is what finds the end of a JFFS2 partition inside a whole flash dump.
//!
//! One concern per file: `node` the on-media structures, `scan` the log scan and the
//! extent, `compress` the data-node compressors, `live` which node's data shows where (worked
//! out before anything is decoded), `tree` files and directories rebuilt.

mod compress;
mod live;
mod node;
mod scan;
mod tree;

use crate::cursor::Endian;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use node::{
    node_header, NODETYPE_CLEANMARKER, NODETYPE_DIRENT, NODETYPE_INODE, NODETYPE_PADDING,
    NODETYPE_SUMMARY,
};
use scan::{erase_size, extent, scan};
use tree::build;

pub use node::jffs2_crc;

/// A JFFS2 filesystem in either byte order.
pub struct Jffs2;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x85\x19\x01\xe0"),
    Magic::at_start(b"\x85\x19\x02\xe0"),
    Magic::at_start(b"\x85\x19\x03\x20"),
    Magic::at_start(b"\x85\x19\x04\x20"),
    Magic::at_start(b"\x85\x19\x06\x20"),
    Magic::at_start(b"\x19\x85\xe0\x01"),
    Magic::at_start(b"\x19\x85\xe0\x02"),
    Magic::at_start(b"\x19\x85\x20\x03"),
    Magic::at_start(b"\x19\x85\x20\x04"),
    Magic::at_start(b"\x19\x85\x20\x06"),
];

fn endian_of(d: &[u8]) -> Option<Endian> {
    match d.get(..2)? {
        [0x85, 0x19] => Some(Endian::Little),
        [0x19, 0x85] => Some(Endian::Big),
        _ => None,
    }
}

impl Format for Jffs2 {
    fn name(&self) -> &'static str {
        "jffs2"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let e = endian_of(data)?;
        let h = node_header(data, 0, e)?;
        if !matches!(
            h.nodetype,
            NODETYPE_DIRENT
                | NODETYPE_INODE
                | NODETYPE_CLEANMARKER
                | NODETYPE_PADDING
                | NODETYPE_SUMMARY
        ) {
            return None;
        }
        // The first node must fit: a carved image starts with a whole node.
        if h.totlen as usize > data.len() || h.totlen > 16 << 20 {
            return None;
        }
        Some(Probe {
            length: None,
            description: format!(
                "jffs2 {}-endian",
                if e == Endian::Little { "little" } else { "big" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let e = endian_of(d).ok_or_else(|| FormatError::Corrupt("no JFFS2 magic".into()))?;
        let mut out = Unpacked::default();
        let s = scan(d, e, &mut out);
        if s.nodes == 0 {
            return Err(FormatError::Corrupt("no valid JFFS2 node".into()));
        }
        out.consumed = Some(extent(d, &s) as u64);
        out.detail(
            "endianness",
            if e == Endian::Little { "little" } else { "big" },
        );
        out.detail("nodes", s.nodes);
        if s.obsolete > 0 {
            out.detail("obsolete_nodes", s.obsolete);
        }
        if s.bad > 0 {
            out.detail("bad_nodes", s.bad);
        }
        if s.summaries > 0 {
            out.detail("summary_nodes", s.summaries);
        }
        if let Some(eb) = erase_size(&s.cleanmarkers) {
            out.detail("eraseblock", eb);
        }
        build(d, e, s, ctx, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
