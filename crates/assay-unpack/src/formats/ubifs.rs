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

use crate::cursor::{le16, le32, le64};
use crate::format::{Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::formats::ubi::mtd_crc32;
use crate::limits::read_bounded;
use crate::{Blob, FormatError};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A UBIFS file system, recognised by its superblock node at LEB 0.
pub struct Ubifs;

static MAGICS: &[Magic] = &[Magic::at_start(&[0x31, 0x18, 0x10, 0x06])];

const NODE_MAGIC: u32 = 0x0610_1831;
const CH_SIZE: usize = 24;
const INO_NODE: u8 = 0;
const DATA_NODE: u8 = 1;
const DENT_NODE: u8 = 2;
const XENT_NODE: u8 = 3;
const SB_NODE: u8 = 6;
const MST_NODE: u8 = 7;
const REF_NODE: u8 = 8;
const IDX_NODE: u8 = 9;
const CS_NODE: u8 = 10;
const SB_NODE_SIZE: usize = 4096;
const INO_NODE_SIZE: usize = 160;
const DENT_NODE_SIZE: usize = 56;
const DATA_NODE_SIZE: usize = 48;
const IDX_NODE_SIZE: usize = 28;
/// A branch with a simple 8-byte key; authenticated file systems append a hash.
const MIN_BRANCH_SIZE: usize = 20;
const BLOCK_SIZE: usize = 4096;
/// The largest leaf: an inode node with 4 KiB of inline data (a data node is smaller).
const MAX_LEAF_NODE: usize = INO_NODE_SIZE + BLOCK_SIZE;
/// A master node is 512 bytes.
const MST_NODE_MAX: usize = 512;
const ROOT_INO: u64 = 1;
const MIN_LEB_SIZE: usize = 15 * 1024;
const MAX_LEB_SIZE: usize = 16 << 20;
/// LEB numbers of the fixed areas.
const MST_LNUM: usize = 1;
const LOG_LNUM: usize = 3;
const MAX_INDEX_DEPTH: usize = 64;
const MAX_PATH_DEPTH: usize = 256;
/// Inode flag of the inodes that hold extended-attribute values.
const XATTR_FL: u32 = 0x20;
const FLG_ENCRYPTION: u32 = 0x10;
const FLG_AUTHENTICATION: u32 = 0x20;
/// A trailing hole larger than this past the last data block is not materialised.
const MAX_SPARSE_TAIL: u64 = 1 << 20;
const COMPR_NAMES: [&str; 4] = ["none", "lzo", "zlib", "zstd"];

/// One CRC-checked node.
#[derive(Clone, Copy)]
struct Node<'a> {
    node_type: u8,
    sqnum: u64,
    bytes: &'a [u8],
}

/// Why no node could be read at an offset.
#[derive(Debug, PartialEq, Eq)]
enum NodeError {
    /// No node magic: erased flash or the end of the written part.
    NoMagic,
    /// A header with an impossible length, or one that runs past the data.
    BadLength,
    /// The CRC does not match; the header's length is kept so that scans can skip the node.
    BadCrc(usize),
}

/// Read and CRC-check the node at `off`; `max_len` bounds its length (a LEB).
fn read_node(data: &[u8], off: usize, max_len: usize) -> Result<Node<'_>, NodeError> {
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
fn scan_nodes<'a>(
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

/// The superblock facts this reader needs.
#[derive(Debug, Clone)]
struct Superblock {
    leb_size: usize,
    leb_cnt: u32,
    min_io: u32,
    log_lebs: u32,
    fanout: u32,
    default_compr: u16,
    fmt_version: u32,
    flags: u32,
    key_hash: u8,
    uuid: [u8; 16],
}

/// Parse and validate the superblock node at the start of `data`.
fn parse_superblock(data: &[u8]) -> Option<Superblock> {
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
struct Master {
    sqnum: u64,
    highest_inum: u64,
    cmt_no: u64,
    root_lnum: u32,
    root_offs: u32,
    root_len: u32,
}

/// An inode as the newest node says.
#[derive(Debug, Clone)]
struct Inode<'a> {
    sqnum: u64,
    size: u64,
    nlink: u32,
    uid: u32,
    gid: u32,
    mode: u32,
    flags: u32,
    data: &'a [u8],
}

/// A directory or extended-attribute entry.
#[derive(Debug, Clone)]
struct Dirent<'a> {
    sqnum: u64,
    parent: u64,
    inum: u64,
    name: &'a [u8],
}

/// One data block's node.
#[derive(Debug, Clone, Copy)]
struct Block<'a> {
    sqnum: u64,
    size: u32,
    compr: u16,
    payload: &'a [u8],
}

/// Everything read from the index and the journal.
struct Fs<'a> {
    data: &'a [u8],
    leb_size: usize,
    /// Longest node this file system can hold (largest inode or data node, or index node).
    max_node: usize,
    inodes: BTreeMap<u64, Inode<'a>>,
    /// (parent, name) → entry; entries with `inum == 0` are deletions from the journal.
    dents: BTreeMap<(u64, &'a [u8]), Dirent<'a>>,
    xents: BTreeMap<(u64, &'a [u8]), Dirent<'a>>,
    blocks: BTreeMap<(u64, u32), Block<'a>>,
    bad_nodes: usize,
    leaves: usize,
}

impl<'a> Fs<'a> {
    fn new(data: &'a [u8], sb: &Superblock) -> Self {
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
    fn addr(&self, lnum: u32, offs: u32) -> Option<usize> {
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
    fn add_leaf(&mut self, node: Node<'a>) -> bool {
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

    /// Walk the index B-tree from the root, collecting every leaf. Returns `false` when the
    /// root itself cannot be read.
    fn walk_index(&mut self, master: &Master, out: &mut Unpacked) -> bool {
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
            out.warn(format!(
                "index deeper than {MAX_INDEX_DEPTH} levels: lower levels skipped"
            ));
        }
        root_ok
    }

    /// Read the nodes of one LEB from `offs` until the written part ends, applying the leaves
    /// newer than `min_sqnum`. Returns how many were applied.
    fn scan_leb(&mut self, lnum: usize, offs: usize, min_sqnum: u64) -> usize {
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
    fn replay_journal(&mut self, log_lebs: usize, out: &mut Unpacked) {
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
            out.warn(format!(
                "{replayed} journal nodes in {buds} buds are not in the index yet (uncommitted); replayed over it"
            ));
            out.detail("journal_nodes", replayed);
        }
    }

    /// Decode a regular file's bytes from its data blocks.
    fn file_bytes(
        &self,
        inum: u64,
        ino: &Inode,
        ctx: &UnpackContext,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<u8>, FormatError> {
        let blocks: Vec<(u32, &Block)> = self
            .blocks
            .range((inum, 0)..=(inum, u32::MAX))
            .map(|(&(_, b), blk)| (b, blk))
            .collect();
        let data_end = blocks
            .last()
            .map(|(b, _)| (*b as u64 + 1) * BLOCK_SIZE as u64)
            .unwrap_or(0);
        let mut size = ino.size;
        if size > data_end.saturating_add(MAX_SPARSE_TAIL) {
            warnings.push(format!(
                "inode {inum}: size {size} but data ends at {data_end}; sparse tail not materialised"
            ));
            size = data_end;
        }
        if size > ctx.stream_limit() {
            warnings.push(format!(
                "inode {inum}: {size} bytes exceed the stream limit: cut"
            ));
            size = ctx.stream_limit();
        }
        ctx.charge(size)?;
        let mut out = vec![0u8; size as usize];
        let mut bad = 0usize;
        for (b, blk) in blocks {
            let at = b as usize * BLOCK_SIZE;
            if at >= out.len() {
                break;
            }
            match decompress(blk.compr, blk.payload) {
                Ok(d) => {
                    if d.len() != blk.size as usize {
                        bad += 1;
                    }
                    let n = d.len().min(out.len() - at).min(BLOCK_SIZE);
                    out[at..at + n].copy_from_slice(&d[..n]);
                }
                Err(_) => bad += 1,
            }
        }
        if bad > 0 {
            warnings.push(format!("inode {inum}: {bad} data blocks failed to decode"));
        }
        Ok(out)
    }
}

/// Decompress one data node's payload (at most one 4 KiB block).
fn decompress(compr: u16, payload: &[u8]) -> Result<Vec<u8>, String> {
    match compr {
        0 => Ok(payload[..payload.len().min(BLOCK_SIZE)].to_vec()),
        1 => lzo::decompress(payload, BLOCK_SIZE).map_err(|e| format!("lzo: {e:?}")),
        2 => {
            let d = read_bounded(
                flate2::read::DeflateDecoder::new(payload),
                BLOCK_SIZE as u64,
            );
            match d.error {
                None => Ok(d.data),
                Some(e) => Err(e.to_string()),
            }
        }
        3 => {
            let mut src = payload;
            let dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|e| format!("zstd: {e}"))?;
            let d = read_bounded(dec, BLOCK_SIZE as u64);
            match d.error {
                None => Ok(d.data),
                Some(e) => Err(e.to_string()),
            }
        }
        other => Err(format!("unknown compression {other}")),
    }
}

/// Find the newest valid master node in LEBs 1 and 2.
fn find_master(data: &[u8], leb_size: usize) -> Option<Master> {
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

/// Render an extended-attribute value for the details map.
fn xattr_value(v: &[u8]) -> String {
    let v = &v[..v.len().min(256)];
    match std::str::from_utf8(v) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => s.to_string(),
        _ => v.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Linux device number decoding (`new_decode_dev`).
fn decode_dev(dev: u64) -> (u32, u32) {
    let major = ((dev & 0xfff00) >> 8) as u32;
    let minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)) as u32;
    (major, minor)
}

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
            out.warn("file-system encryption is enabled: encrypted names and data stay opaque");
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
            out.warn(if master.is_none() {
                "no valid master node: file system rebuilt from a scan of every LEB"
            } else {
                "index root unreadable: file system rebuilt from a scan of every LEB"
            });
            let lebs = data.len().div_ceil(sb.leb_size);
            for lnum in 1..lebs {
                fs.scan_leb(lnum, 0, 0);
            }
        }
        if fs.bad_nodes > 0 {
            out.warn(format!(
                "{} nodes unreadable (bad CRC, bad length or not where the index points)",
                fs.bad_nodes
            ));
        }
        out.detail("inodes", fs.inodes.len());
        build_tree(&fs, ctx, &mut out)?;
        Ok(out)
    }
}

/// The entry kind an inode's mode says, with its link target or device number.
fn entry_kind(ino: &Inode) -> EntryKind {
    match ino.mode & 0o170000 {
        0o040000 => EntryKind::Directory,
        0o120000 => EntryKind::Symlink(String::from_utf8_lossy(ino.data).into_owned()),
        0o020000 | 0o060000 => {
            let dev = match ino.data.len() {
                4 => le32(ino.data, 0).map(u64::from),
                8 => le64(ino.data, 0),
                _ => None,
            }
            .unwrap_or(0);
            let (major, minor) = decode_dev(dev);
            EntryKind::Device {
                block: ino.mode & 0o170000 == 0o060000,
                major,
                minor,
            }
        }
        0o010000 => EntryKind::Fifo,
        0o140000 => EntryKind::Socket,
        _ => EntryKind::File,
    }
}

/// Turn the directory entries into paths, from the root down, and yield every entry.
fn build_tree(fs: &Fs, ctx: &UnpackContext, out: &mut Unpacked) -> Result<(), FormatError> {
    let mut children: HashMap<u64, Vec<&Dirent>> = HashMap::new();
    for d in fs.dents.values().filter(|d| d.inum != 0) {
        children.entry(d.parent).or_default().push(d);
    }
    let mut xattrs: HashMap<u64, Vec<&Dirent>> = HashMap::new();
    for d in fs.xents.values().filter(|d| d.inum != 0) {
        xattrs.entry(d.parent).or_default().push(d);
    }
    let mut reached: HashSet<u64> = HashSet::new();
    reached.insert(ROOT_INO);
    let mut dirs_seen: HashSet<u64> = HashSet::new();
    dirs_seen.insert(ROOT_INO);
    let mut file_cache: HashMap<u64, Blob> = HashMap::new();
    let mut warnings = Vec::new();
    let mut missing = 0usize;
    let mut loops = 0usize;
    let mut too_deep = 0usize;
    let mut unfilled = 0usize;
    let mut full = false;
    // Pre-order, depth-first; entries of one directory in name order (the BTreeMap sorted
    // them), so they are pushed in reverse.
    let mut stack: Vec<(&Dirent, String, usize)> = Vec::new();
    for d in children.get(&ROOT_INO).into_iter().flatten().rev() {
        stack.push((d, String::new(), 0));
    }
    while let Some((d, prefix, depth)) = stack.pop() {
        if out.entries.len() >= ctx.max_entries() {
            full = true;
            break;
        }
        let name = String::from_utf8_lossy(d.name).replace('/', "_");
        if name.is_empty() || name == "." || name == ".." {
            warnings.push(format!(
                "entry with name {name:?} in inode {} skipped",
                d.parent
            ));
            continue;
        }
        let path = format!("{prefix}/{name}");
        let Some(ino) = fs.inodes.get(&d.inum) else {
            missing += 1;
            continue;
        };
        reached.insert(d.inum);
        let kind = entry_kind(ino);
        let mut entry = Entry::fs(path.clone(), kind.clone())
            .with_owner(ino.mode, ino.uid, ino.gid)
            .with_detail("inode", d.inum);
        if ino.nlink > 1 && kind != EntryKind::Directory {
            entry = entry.with_detail("nlink", ino.nlink);
        }
        for x in xattrs.get(&d.inum).into_iter().flatten() {
            if let Some(v) = fs.inodes.get(&x.inum) {
                reached.insert(x.inum);
                entry = entry.with_detail(
                    &format!("xattr.{}", String::from_utf8_lossy(x.name)),
                    xattr_value(v.data),
                );
            }
        }
        match kind {
            EntryKind::File => {
                let blob = match file_cache.get(&d.inum) {
                    Some(b) => Some(b.clone()),
                    None if unfilled > 0 => None,
                    None => match fs.file_bytes(d.inum, ino, ctx, &mut warnings) {
                        Ok(bytes) => {
                            let b = Blob::from(bytes);
                            file_cache.insert(d.inum, b.clone());
                            Some(b)
                        }
                        Err(e) => {
                            warnings.push(format!("{path}: {e}"));
                            None
                        }
                    },
                };
                match blob {
                    Some(b) => entry = entry.with_data(EntryData::Owned(b)),
                    // Once the budget is spent, later files keep their names only.
                    None => unfilled += 1,
                }
            }
            EntryKind::Directory => {
                if !dirs_seen.insert(d.inum) {
                    loops += 1;
                } else if depth + 1 >= MAX_PATH_DEPTH {
                    too_deep += 1;
                } else {
                    for c in children.get(&d.inum).into_iter().flatten().rev() {
                        stack.push((c, path.clone(), depth + 1));
                    }
                }
            }
            _ => {}
        }
        out.entries.push(entry);
    }
    for w in warnings {
        out.warn(w);
    }
    if full {
        out.warn(format!(
            "more than {} entries: the rest are not listed",
            ctx.max_entries()
        ));
    }
    if unfilled > 1 {
        out.warn(format!(
            "{unfilled} files listed without their bytes (unpack budget spent)"
        ));
    }
    if missing > 0 {
        out.warn(format!(
            "{missing} directory entries point to inodes that are not in the index"
        ));
    }
    if loops > 0 {
        out.warn(format!(
            "{loops} directories reached twice (loop or hard-linked directory): not descended again"
        ));
    }
    if too_deep > 0 {
        out.warn(format!(
            "{too_deep} directories deeper than {MAX_PATH_DEPTH} levels: not descended"
        ));
    }
    let orphans = fs
        .inodes
        .iter()
        .filter(|(i, ino)| !reached.contains(i) && ino.flags & XATTR_FL == 0 && ino.nlink > 0)
        .count();
    if orphans > 0 {
        out.warn(format!(
            "{orphans} inodes are not linked from any directory (orphans)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile, Rng};
    use crate::formats::testutil::manifest::{check, Check};
    use crate::formats::testutil::{entry_bytes, unpack};

    const EXPECTED: &str = include_str!("../../tests/fixtures/ubi/expected.txt");
    const NONE: &[u8] = include_bytes!("../../tests/fixtures/ubi/bare-none.ubifs");
    const LZO: &[u8] = include_bytes!("../../tests/fixtures/ubi/bare-lzo.ubifs");
    const ZLIB: &[u8] = include_bytes!("../../tests/fixtures/ubi/bare-zlib.ubifs");
    const ZSTD: &[u8] = include_bytes!("../../tests/fixtures/ubi/bare-zstd.ubifs");
    const UBI: &[u8] = include_bytes!("../../tests/fixtures/ubi/three-volumes.ubi");

    /// Compare every entry with the manifest: kind, mode, bytes or link target or device.
    fn check_against_manifest(img: &[u8], u: &Unpacked) {
        check("ubifs", img, &u.entries, EXPECTED, &Check::EXACT);
    }

    #[test]
    fn reads_every_compressor() {
        for (name, img) in [("none", NONE), ("lzo", LZO), ("zlib", ZLIB), ("zstd", ZSTD)] {
            let p = Ubifs.probe(img).unwrap();
            assert_eq!(p.length, Some(img.len() as u64), "{name}");
            let u = unpack(&Ubifs, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(u.details["compression"], name);
            check_against_manifest(img, &u);
        }
    }

    #[test]
    fn reads_the_ubifs_volume_of_a_ubi_image() {
        let ubi = unpack(&crate::formats::ubi::Ubi, UBI);
        let vol = ubi
            .entries
            .iter()
            .find(|e| e.path == "volume:data")
            .unwrap();
        let bytes = entry_bytes(UBI, vol).unwrap();
        let u = unpack(&Ubifs, &bytes);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check_against_manifest(&bytes, &u);
    }

    #[test]
    fn hard_links_share_bytes() {
        let u = unpack(&Ubifs, LZO);
        let a = u.entries.iter().find(|e| e.path == "/etc/motd").unwrap();
        let b = u
            .entries
            .iter()
            .find(|e| e.path == "/etc/motd.hard")
            .unwrap();
        assert_eq!(a.details["inode"], b.details["inode"]);
        assert_eq!(a.details["nlink"], "2");
    }

    #[test]
    fn damaged_data_node_is_reported_and_the_rest_read() {
        // Break one node's CRC after the first LEBs; the index still leads to the others.
        let mut img = LZO.to_vec();
        let leb = 15872;
        let mut hit = None;
        let mut pos = 5 * leb;
        while pos + 24 < img.len() {
            if le32(&img, pos) == Some(NODE_MAGIC) && img[pos + 20] == DATA_NODE {
                hit = Some(pos);
                break;
            }
            pos += 8;
        }
        let pos = hit.expect("a data node");
        img[pos + 60] ^= 0xFF;
        let u = unpack(&Ubifs, &img);
        assert!(u.warnings.iter().any(|w| w.contains("unreadable")));
        assert!(u.entries.len() >= 20);
    }

    #[test]
    fn missing_master_falls_back_to_scanning() {
        let mut img = NONE.to_vec();
        let leb = 15872;
        img[leb..3 * leb].fill(0xFF);
        let u = unpack(&Ubifs, &img);
        assert!(u.warnings.iter().any(|w| w.contains("no valid master")));
        check_against_manifest(&img, &u);
    }

    /// A node with a valid common header around `body` (which starts at offset 24).
    fn mk_node(node_type: u8, sqnum: u64, body: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&NODE_MAGIC.to_le_bytes());
        n.extend_from_slice(&[0; 4]);
        n.extend_from_slice(&sqnum.to_le_bytes());
        n.extend_from_slice(&((CH_SIZE + body.len()) as u32).to_le_bytes());
        n.extend_from_slice(&[node_type, 0, 0, 0]);
        n.extend_from_slice(body);
        let crc = mtd_crc32(&n[8..]);
        n[4..8].copy_from_slice(&crc.to_le_bytes());
        n
    }

    fn key(inum: u32, key_type: u32, low: u32) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..4].copy_from_slice(&inum.to_le_bytes());
        k[4..8].copy_from_slice(&((key_type << 29) | low).to_le_bytes());
        k
    }

    fn dent(parent: u32, inum: u64, name: &[u8]) -> Vec<u8> {
        entry_body(2, parent, inum, name)
    }

    fn entry_body(key_type: u32, parent: u32, inum: u64, name: &[u8]) -> Vec<u8> {
        let mut b = key(parent, key_type, 0x1234).to_vec();
        b.extend_from_slice(&inum.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(name);
        b.push(0);
        b
    }

    /// The bare uncompressed image with `nodes` written to a journal bud (LEB 12, free in
    /// this image) that a reference node in the log names after the commit start node.
    fn with_journal(nodes: &[Vec<u8>]) -> Vec<u8> {
        let leb = 15872;
        let mut img = NONE.to_vec();
        let bud = 12usize;
        assert!(img[bud * leb..(bud + 1) * leb].iter().all(|&b| b == 0xFF));
        let mut bytes = Vec::new();
        for n in nodes {
            bytes.extend_from_slice(n);
            bytes.resize(bytes.len().next_multiple_of(8), 0);
        }
        img[bud * leb..bud * leb + bytes.len()].copy_from_slice(&bytes);
        let mut r = Vec::new();
        r.extend_from_slice(&(bud as u32).to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
        r.extend_from_slice(&[0; 28]);
        let r = mk_node(REF_NODE, 100, &r);
        img[3 * leb + 512..3 * leb + 512 + r.len()].copy_from_slice(&r);
        img
    }

    fn inode_of(u: &Unpacked, path: &str) -> u32 {
        u.entries.iter().find(|e| e.path == path).unwrap().details["inode"]
            .parse()
            .unwrap()
    }

    #[test]
    fn directory_loops_are_cut() {
        let before = unpack(&Ubifs, NONE);
        let etc = inode_of(&before, "/etc");
        let deep = inode_of(&before, "/deep");
        // /etc/up names the root, /deep/a/b/c/back names /deep: both close a loop.
        let c = inode_of(&before, "/deep/a/b/c");
        let img = with_journal(&[
            mk_node(DENT_NODE, 101, &dent(etc, 1, b"up")),
            mk_node(DENT_NODE, 102, &dent(c, deep as u64, b"back")),
        ]);
        let u = unpack(&Ubifs, &img);
        assert!(u.warnings.iter().any(|w| w.contains("reached twice")));
        assert_eq!(u.entries.len(), before.entries.len() + 2);
    }

    #[test]
    fn journal_nodes_are_replayed_over_the_index() {
        let before = unpack(&Ubifs, NONE);
        let etc = inode_of(&before, "/etc");
        let mut ino = vec![0u8; INO_NODE_SIZE - CH_SIZE];
        ino[..16].copy_from_slice(&key(500, 0, 0));
        ino[48 - 24..56 - 24].copy_from_slice(&5u64.to_le_bytes());
        ino[92 - 24..96 - 24].copy_from_slice(&1u32.to_le_bytes());
        ino[104 - 24..108 - 24].copy_from_slice(&0o100640u32.to_le_bytes());
        // An extended attribute of the new file: an entry naming inode 501, which holds the value.
        let mut xino = vec![0u8; INO_NODE_SIZE - CH_SIZE];
        xino[..16].copy_from_slice(&key(501, 0, 0));
        xino[92 - 24..96 - 24].copy_from_slice(&1u32.to_le_bytes());
        xino[104 - 24..108 - 24].copy_from_slice(&0o100644u32.to_le_bytes());
        xino[108 - 24..112 - 24].copy_from_slice(&XATTR_FL.to_le_bytes());
        xino[112 - 24..116 - 24].copy_from_slice(&9u32.to_le_bytes());
        xino.extend_from_slice(b"pinned-ok");
        let mut data = key(500, 1, 0).to_vec();
        data.extend_from_slice(&5u32.to_le_bytes());
        data.extend_from_slice(&[0; 4]);
        data.extend_from_slice(b"fresh");
        let img = with_journal(&[
            mk_node(INO_NODE, 101, &ino),
            mk_node(DATA_NODE, 102, &data),
            mk_node(DENT_NODE, 103, &dent(1, 500, b"journal.txt")),
            mk_node(DENT_NODE, 104, &dent(etc, 0, b"passwd")),
            mk_node(INO_NODE, 105, &xino),
            mk_node(XENT_NODE, 106, &entry_body(3, 500, 501, b"user.note")),
        ]);

        let u = unpack(&Ubifs, &img);
        assert!(
            u.warnings.iter().any(|w| w.contains("journal")),
            "{:?}",
            u.warnings
        );
        let new = u.entries.iter().find(|e| e.path == "/journal.txt").unwrap();
        assert_eq!(entry_bytes(&img, new).unwrap(), b"fresh");
        assert_eq!(new.mode, Some(0o100640));
        assert_eq!(new.details["xattr.user.note"], "pinned-ok");
        assert!(!u.entries.iter().any(|e| e.path == "/etc/passwd"));
        assert_eq!(u.entries.len(), before.entries.len());
    }

    #[test]
    fn torn_index_leb_falls_back_to_scanning() {
        // The index sits in the last LEB; cut the image 100 bytes into it.
        let cut = &LZO[..12 * 15872 + 100];
        let u = unpack(&Ubifs, cut);
        assert!(
            u.warnings
                .iter()
                .any(|w| w.contains("index root unreadable")),
            "{:?}",
            u.warnings
        );
        check_against_manifest(cut, &u);
    }

    #[test]
    fn rejects_non_superblock_nodes() {
        let mut img = LZO.to_vec();
        img[20] = 1;
        assert!(Ubifs.probe(&img).is_none());
        let mut img = LZO.to_vec();
        img[40] ^= 1;
        assert!(Ubifs.probe(&img).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        // Flip inside a node and then (mostly) repair its CRC so the damage gets past the
        // check.
        let damage = |img: &mut Vec<u8>, rng: &mut Rng| {
            let mut pos = rng.below(img.len()) & !7;
            while pos + 24 < img.len() && le32(img, pos) != Some(NODE_MAGIC) {
                pos += 8;
            }
            if pos + 24 >= img.len() {
                return false;
            }
            let len = (le32(img, pos + 16).unwrap() as usize).min(img.len() - pos);
            let at = pos + 8 + rng.below(len.saturating_sub(8).max(1));
            img[at] ^= 1 << rng.below(8);
            if rng.below(4) != 0 && len >= 8 {
                let crc = mtd_crc32(&img[pos + 8..pos + len]);
                img[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
            }
            true
        };
        let how = Hostile {
            flips: 75,
            damage: Some(&damage),
            ..Hostile::default()
        };
        for img in [NONE, LZO, ZLIB, ZSTD] {
            hostile_with(&Ubifs, img, &how);
        }
    }
}
