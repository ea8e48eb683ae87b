//! JFFS2, the log-structured flash filesystem of NOR-flash routers (config and overlay
//! partitions, whole root filesystems on older boards).
//!
//! Our own reader: the only crate (`jffs2`) binds GPL C through cmake. A JFFS2 image is a log of
//! nodes with no index: the reader scans every node (4-byte aligned, skipping erased 0xFF space
//! and garbage), checks the header, node and data CRCs, keeps the newest directory entry per
//! (parent, name) and applies each inode's data nodes in version order, so that the newest write
//! wins for every byte range. Paths come from the directory-entry graph, walked from the root
//! inode with a depth bound and a visited set. Data nodes are decoded with every compressor
//! Linux and OpenWrt write: none, zero, rtime, rubin/dynrubin, zlib, lzo and lzma.
//!
//! A node with a bad CRC is skipped with a warning and the rest is read; the structure ends at
//! the last valid node (rounded up to the erase block when cleanmarkers tell its size and the
//! rest of the block is erased), or where a long stretch is neither nodes nor erased space —
//! which is what finds the end of a JFFS2 partition inside a whole flash dump.

use crate::cursor::Endian;
use crate::format::{Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::limits::read_bounded;
use crate::{Blob, FormatError};
use std::collections::{BTreeMap, HashMap, HashSet};

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

const MAGIC: u16 = 0x1985;
const NODE_ACCURATE: u16 = 0x2000;
const NODETYPE_DIRENT: u16 = 0xe001;
const NODETYPE_INODE: u16 = 0xe002;
const NODETYPE_CLEANMARKER: u16 = 0x2003;
const NODETYPE_PADDING: u16 = 0x2004;
const NODETYPE_SUMMARY: u16 = 0x2006;
const HEADER_LEN: usize = 12;
const DIRENT_LEN: usize = 40;
const INODE_LEN: usize = 68;
/// Non-erased bytes that are not nodes, after the last valid node, past which the scan stops.
const GARBAGE_LIMIT: usize = 64 * 1024;
/// Largest uncompressed data of one node (JFFS2 writes at most a page, 64 KiB on any CPU).
const MAX_NODE_DATA: u32 = 256 * 1024;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 256;
const ROOT_INO: u32 = 1;
/// Erase-block size assumed when no cleanmarkers tell it.
const DEFAULT_ERASE_SIZE: usize = 64 * 1024;

const COMPR_NONE: u8 = 0;
const COMPR_ZERO: u8 = 1;
const COMPR_RTIME: u8 = 2;
const COMPR_RUBINMIPS: u8 = 3;
const COMPR_COPY: u8 = 4;
const COMPR_DYNRUBIN: u8 = 5;
const COMPR_ZLIB: u8 = 6;
const COMPR_LZO: u8 = 7;
const COMPR_LZMA: u8 = 8;

const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;
const S_IFBLK: u32 = 0o060000;
const S_IFIFO: u32 = 0o010000;
const S_IFSOCK: u32 = 0o140000;

/// JFFS2's CRC-32: the reflected 0xEDB88320 polynomial seeded with 0 and not inverted at the
/// end (Linux `crc32(0, ...)`), which is the bitwise complement of zlib's CRC seeded with !0.
pub fn jffs2_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0xffff_ffff);
    h.update(data);
    !h.finalize()
}

fn rd16(d: &[u8], off: usize, e: Endian) -> Option<u16> {
    let b: [u8; 2] = d.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u16::from_le_bytes(b),
        Endian::Big => u16::from_be_bytes(b),
    })
}

fn rd32(d: &[u8], off: usize, e: Endian) -> Option<u32> {
    let b: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    })
}

/// A node header that passed its CRC: its type (with the "accurate" bit as stored) and length.
#[derive(Debug, Clone, Copy)]
struct NodeHeader {
    nodetype: u16,
    totlen: u32,
}

/// Read and check the node header at `pos`: magic, CRC (also with the accurate bit restored,
/// since marking a node obsolete clears it in place without updating the CRC), a length of at
/// least a header.
fn node_header(d: &[u8], pos: usize, e: Endian) -> Option<NodeHeader> {
    let head = d.get(pos..pos.checked_add(HEADER_LEN)?)?;
    if rd16(head, 0, e)? != MAGIC {
        return None;
    }
    let nodetype = rd16(head, 2, e)?;
    let totlen = rd32(head, 4, e)?;
    let crc = rd32(head, 8, e)?;
    if (totlen as usize) < HEADER_LEN {
        return None;
    }
    if jffs2_crc(&head[..8]) != crc {
        if nodetype & NODE_ACCURATE != 0 {
            return None;
        }
        let mut fixed = [0u8; 8];
        fixed.copy_from_slice(&head[..8]);
        fixed[2..4].copy_from_slice(&match e {
            Endian::Little => (nodetype | NODE_ACCURATE).to_le_bytes(),
            Endian::Big => (nodetype | NODE_ACCURATE).to_be_bytes(),
        });
        if jffs2_crc(&fixed) != crc {
            return None;
        }
    }
    Some(NodeHeader { nodetype, totlen })
}

fn endian_of(d: &[u8]) -> Option<Endian> {
    match d.get(..2)? {
        [0x85, 0x19] => Some(Endian::Little),
        [0x19, 0x85] => Some(Endian::Big),
        _ => None,
    }
}

/// A directory entry node, already checked.
#[derive(Debug, Clone)]
struct Dirent {
    pino: u32,
    version: u32,
    ino: u32,
    dtype: u8,
    name: Vec<u8>,
}

/// An inode node, already checked; its data stays in the image until it is needed.
#[derive(Debug, Clone)]
struct InodeNode {
    version: u32,
    mode: u32,
    uid: u16,
    gid: u16,
    isize: u32,
    mtime: u32,
    offset: u32,
    dsize: u32,
    compr: u8,
    /// Where the (compressed) data lies in the image.
    data_at: usize,
    csize: u32,
    /// Where the node starts, for warnings.
    node_at: usize,
}

/// Everything the scan collected.
#[derive(Default)]
struct Scan {
    dirents: Vec<Dirent>,
    inodes: HashMap<u32, Vec<InodeNode>>,
    /// End of the last valid node.
    end: usize,
    cleanmarkers: Vec<usize>,
    nodes: usize,
    obsolete: usize,
    bad: usize,
    summaries: usize,
}

fn scan(d: &[u8], e: Endian, out: &mut Unpacked) -> Scan {
    let mut s = Scan::default();
    let mut pos = 0usize;
    let mut garbage = 0usize;
    let mut warned = 0usize;
    let mut warn = |out: &mut Unpacked, msg: String| {
        warned += 1;
        if warned <= 20 {
            out.warn(msg);
        } else if warned == 21 {
            out.warn("further node warnings suppressed");
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
                Err(why) => {
                    warn(out, format!("directory entry at {pos:#x} skipped: {why}"));
                    false
                }
            },
            NODETYPE_INODE => match parse_inode(node, pos, e) {
                Ok((ino, n)) => {
                    s.inodes.entry(ino).or_default().push(n);
                    true
                }
                Err(why) => {
                    warn(out, format!("inode node at {pos:#x} skipped: {why}"));
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

fn parse_dirent(n: &[u8], e: Endian) -> Result<Dirent, &'static str> {
    let field = |off| rd32(n, off, e).ok_or("truncated");
    if n.len() < DIRENT_LEN {
        return Err("shorter than a directory entry");
    }
    if jffs2_crc(&n[..32]) != field(32)? {
        return Err("node CRC mismatch");
    }
    let nsize = n[28] as usize;
    let name = n
        .get(DIRENT_LEN..DIRENT_LEN + nsize)
        .ok_or("name runs past the node")?;
    if jffs2_crc(name) != field(36)? {
        return Err("name CRC mismatch");
    }
    Ok(Dirent {
        pino: field(12)?,
        version: field(16)?,
        ino: field(20)?,
        dtype: n[29],
        name: name.to_vec(),
    })
}

fn parse_inode(n: &[u8], pos: usize, e: Endian) -> Result<(u32, InodeNode), &'static str> {
    let field = |off| rd32(n, off, e).ok_or("truncated");
    if n.len() < INODE_LEN {
        return Err("shorter than an inode node");
    }
    if jffs2_crc(&n[..60]) != field(64)? {
        return Err("node CRC mismatch");
    }
    let csize = field(48)?;
    let data = n
        .get(INODE_LEN..INODE_LEN.saturating_add(csize as usize))
        .ok_or("data runs past the node")?;
    if jffs2_crc(data) != field(60)? {
        return Err("data CRC mismatch");
    }
    let node = InodeNode {
        version: field(16)?,
        mode: field(20)?,
        uid: rd16(n, 24, e).ok_or("truncated")?,
        gid: rd16(n, 26, e).ok_or("truncated")?,
        isize: field(28)?,
        mtime: field(36)?,
        offset: field(44)?,
        dsize: field(52)?,
        compr: n[56],
        data_at: pos + INODE_LEN,
        csize,
        node_at: pos,
    };
    Ok((field(12)?, node))
}

/// Decode one node's data to exactly `dsize` bytes.
fn decompress(compr: u8, src: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let out = match compr {
        COMPR_NONE | COMPR_COPY => src
            .get(..dsize)
            .ok_or("stored data shorter than its size")?
            .to_vec(),
        COMPR_ZERO => vec![0u8; dsize],
        COMPR_RTIME => rtime(src, dsize),
        COMPR_RUBINMIPS => rubin(src, dsize, BIT_DIVIDER_MIPS, &BITS_MIPS),
        COMPR_DYNRUBIN => {
            let bits: [u8; 8] = src
                .get(..8)
                .ok_or("dynrubin data too short")?
                .try_into()
                .map_err(|_| "dynrubin")?;
            let bits = bits.map(u32::from);
            rubin(&src[8..], dsize, 256, &bits)
        }
        COMPR_ZLIB => zlib(src, dsize)?,
        COMPR_LZO => lzo::decompress(src, dsize).map_err(|e| format!("lzo: {e:?}"))?,
        COMPR_LZMA => {
            let r = lzma_rust2::LzmaReader::new(src, dsize as u64, 0, 0, 0, LZMA_DICT_SIZE, None)
                .map_err(|e| format!("lzma: {e}"))?;
            let dec = read_bounded(r, dsize as u64);
            if let Some(err) = dec.error {
                return Err(format!("lzma: {err}"));
            }
            dec.data
        }
        other => return Err(format!("unknown compressor {other:#x}")),
    };
    if out.len() != dsize {
        return Err(format!("decoded {} bytes, node says {dsize}", out.len()));
    }
    Ok(out)
}

/// OpenWrt's JFFS2 LZMA: raw LZMA1 with lc=0, lp=0, pb=0 and an 8 KiB dictionary.
const LZMA_DICT_SIZE: u32 = 0x2000;

fn zlib(src: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let run = |zlib_header: bool, input: &[u8]| -> Result<Vec<u8>, String> {
        let mut z = flate2::Decompress::new(zlib_header);
        let mut out = Vec::with_capacity(dsize);
        // Bounded: the output never grows past dsize, and a pass that makes no progress ends.
        for _ in 0..64 {
            let before = (z.total_in(), z.total_out());
            let consumed = z.total_in() as usize;
            let status = z
                .decompress_vec(
                    input.get(consumed..).unwrap_or(&[]),
                    &mut out,
                    flate2::FlushDecompress::Finish,
                )
                .map_err(|e| format!("zlib: {e}"))?;
            if status == flate2::Status::StreamEnd || out.len() >= dsize {
                return Ok(out);
            }
            if (z.total_in(), z.total_out()) == before {
                break;
            }
        }
        Err("zlib stream ends early".into())
    };
    match run(true, src) {
        Ok(v) => Ok(v),
        // Linux inflates a header-less deflate stream too (skipping the two header bytes).
        Err(first) => run(false, src.get(2..).unwrap_or(&[])).map_err(|_| first),
    }
}

/// The "rtime" compressor: each literal byte is followed by a repeat count that copies from
/// where that byte value was last seen.
fn rtime(src: &[u8], dsize: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(dsize);
    let mut positions = [0usize; 256];
    let mut ip = 0usize;
    while out.len() < dsize {
        let (Some(&value), Some(&repeat)) = (src.get(ip), src.get(ip + 1)) else {
            break;
        };
        ip += 2;
        out.push(value);
        let back = positions[value as usize];
        positions[value as usize] = out.len();
        for from in back..back + repeat as usize {
            if out.len() >= dsize {
                break;
            }
            let b = out.get(from).copied().unwrap_or(0);
            out.push(b);
        }
    }
    out
}

const BIT_DIVIDER_MIPS: u32 = 1043;
const BITS_MIPS: [u32; 8] = [277, 249, 290, 267, 229, 341, 212, 241];
const RUBIN_REG_SIZE: u32 = 16;
const UPPER_BIT_RUBIN: u64 = 1 << (RUBIN_REG_SIZE - 1);
const LOWER_BITS_RUBIN: u64 = UPPER_BIT_RUBIN - 1;

/// The "rubin" arithmetic coder (fixed MIPS bit model, or dynamic with the model in the first
/// eight bytes). Reads past the input yield zero bits, as the encoder pads.
fn rubin(src: &[u8], dsize: usize, divider: u32, bits: &[u32; 8]) -> Vec<u8> {
    let mut bitpos = 0usize;
    let mut pull = || {
        let b = src
            .get(bitpos >> 3)
            .map_or(0, |byte| (byte >> (7 - (bitpos & 7))) & 1);
        bitpos += 1;
        u64::from(b)
    };
    let mut p: u64 = 2 * UPPER_BIT_RUBIN;
    let mut q: u64 = 0;
    let mut rec_q: u64 = 0;
    for _ in 0..RUBIN_REG_SIZE {
        rec_q = rec_q * 2 + pull();
    }
    let mut out = Vec::with_capacity(dsize);
    while out.len() < dsize {
        let mut byte = 0u8;
        for (i, &b) in bits.iter().enumerate() {
            let a = u64::from(divider.saturating_sub(b));
            let bb = u64::from(b);
            if q >= UPPER_BIT_RUBIN || p + q <= UPPER_BIT_RUBIN {
                let mut n = 0;
                loop {
                    n += 1;
                    q &= LOWER_BITS_RUBIN;
                    q <<= 1;
                    p <<= 1;
                    if !(q >= UPPER_BIT_RUBIN || p + q <= UPPER_BIT_RUBIN) || n > 64 {
                        break;
                    }
                }
                for _ in 0..n {
                    rec_q &= LOWER_BITS_RUBIN;
                    rec_q <<= 1;
                    rec_q += pull();
                }
            }
            let mut i0 = a.saturating_mul(p).checked_div(a + bb).unwrap_or(0);
            if i0 == 0 {
                i0 = 1;
            }
            if i0 >= p {
                i0 = p.saturating_sub(1);
            }
            let threshold = q + i0;
            let symbol = rec_q >= threshold;
            if symbol {
                q += i0;
                i0 = p - i0;
            }
            p = i0;
            byte |= u8::from(symbol) << i;
        }
        out.push(byte);
    }
    out
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

/// Erase-block size from the spacing of cleanmarkers (one at the start of every block).
fn erase_size(cleanmarkers: &[usize]) -> Option<usize> {
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
fn extent(d: &[u8], s: &Scan) -> usize {
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

/// The newest metadata of an inode and its data nodes.
struct InodeView<'a> {
    latest: &'a InodeNode,
    nodes: Vec<&'a InodeNode>,
}

fn inode_view(nodes: &[InodeNode]) -> Option<InodeView<'_>> {
    let mut sorted: Vec<&InodeNode> = nodes.iter().collect();
    sorted.sort_by_key(|n| (n.version, n.node_at));
    let latest = *sorted.last()?;
    Some(InodeView {
        latest,
        nodes: sorted,
    })
}

/// Assemble an inode's bytes: data nodes applied in version order over a zero-filled buffer,
/// truncations honoured, size from the newest node.
fn assemble(
    d: &[u8],
    view: &InodeView,
    ctx: &UnpackContext,
    path: &str,
    out: &mut Unpacked,
) -> Result<Vec<u8>, FormatError> {
    let mut size = view.latest.isize as u64;
    let covered = view
        .nodes
        .iter()
        .map(|n| n.offset as u64 + n.dsize as u64)
        .max()
        .unwrap_or(0);
    if size > ctx.stream_limit() || size > covered.saturating_add(16 << 20).max(d.len() as u64 * 64)
    {
        out.warn(format!(
            "{path}: size {size} is implausible; cut to the data written"
        ));
        size = covered.min(size);
    }
    ctx.charge(size)?;
    let size = size as usize;
    let mut buf = vec![0u8; size];
    let mut cur = 0usize;
    let mut bad = 0usize;
    for n in &view.nodes {
        let isize = n.isize as usize;
        if isize < cur {
            let from = isize.min(size);
            let to = cur.min(size);
            buf[from..to].fill(0);
        }
        cur = isize;
        if n.dsize == 0 {
            continue;
        }
        if n.dsize > MAX_NODE_DATA {
            bad += 1;
            continue;
        }
        let src = d
            .get(n.data_at..n.data_at + n.csize as usize)
            .unwrap_or(&[]);
        match decompress(n.compr, src, n.dsize as usize) {
            Ok(bytes) => {
                let off = n.offset as usize;
                if off < size {
                    let len = bytes.len().min(size - off);
                    buf[off..off + len].copy_from_slice(&bytes[..len]);
                }
            }
            Err(why) => {
                bad += 1;
                if bad <= 3 {
                    out.warn(format!(
                        "{path}: data node at {:#x} skipped: {why}",
                        n.node_at
                    ));
                }
            }
        }
    }
    Ok(buf)
}

fn kind_of(mode: u32) -> u32 {
    mode & S_IFMT
}

/// Turn the scanned nodes into entries, walking the directory graph from the root.
fn build(
    d: &[u8],
    e: Endian,
    s: Scan,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> Result<(), FormatError> {
    // Newest dirent per (parent, name); a deletion (ino 0) removes the name.
    let mut names: HashMap<(u32, Vec<u8>), &Dirent> = HashMap::new();
    for de in &s.dirents {
        let key = (de.pino, de.name.clone());
        match names.get(&key) {
            Some(old) if old.version > de.version => {}
            _ => {
                names.insert(key, de);
            }
        }
    }
    let mut children: BTreeMap<u32, Vec<(&[u8], &Dirent)>> = BTreeMap::new();
    for ((pino, _), de) in &names {
        if de.ino != 0 {
            children.entry(*pino).or_default().push((&de.name, de));
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.0.cmp(b.0));
    }
    let views: HashMap<u32, InodeView> = s
        .inodes
        .iter()
        .filter_map(|(ino, nodes)| Some((*ino, inode_view(nodes)?)))
        .collect();

    let mut visited_dirs: HashSet<u32> = HashSet::new();
    visited_dirs.insert(ROOT_INO);
    let mut first_path: HashMap<u32, String> = HashMap::new();
    let mut reached: HashSet<u32> = HashSet::new();
    reached.insert(ROOT_INO);
    // Iterative walk: (directory inode, its path, depth).
    let mut stack: Vec<(u32, String, usize)> = vec![(ROOT_INO, String::new(), 0)];
    let mut dir_loops = 0usize;
    let mut bad_names = 0usize;
    while let Some((dir, dir_path, depth)) = stack.pop() {
        let Some(list) = children.get(&dir) else {
            continue;
        };
        let mut subdirs = Vec::new();
        for (name, de) in list {
            if name.is_empty()
                || *name == b"."
                || *name == b".."
                || name.contains(&b'/')
                || name.contains(&0)
            {
                bad_names += 1;
                continue;
            }
            if out.entries.len() >= ctx.max_entries() {
                out.warn(format!(
                    "more than {} entries; the rest is not listed",
                    ctx.max_entries()
                ));
                return Ok(());
            }
            let path = format!("{dir_path}/{}", String::from_utf8_lossy(name));
            let view = views.get(&de.ino);
            let mode = view
                .map(|v| v.latest.mode)
                .unwrap_or_else(|| dtype_mode(de.dtype));
            let mut entry = match kind_of(mode) {
                S_IFDIR => {
                    if !visited_dirs.insert(de.ino) {
                        dir_loops += 1;
                        continue;
                    }
                    if depth + 1 < MAX_DEPTH {
                        subdirs.push((de.ino, path.clone(), depth + 1));
                    } else {
                        out.warn(format!(
                            "{path}: deeper than {MAX_DEPTH} levels; not entered"
                        ));
                    }
                    Entry::fs(&path, EntryKind::Directory)
                }
                _ if first_path.contains_key(&de.ino) => {
                    let target = first_path[&de.ino].clone();
                    Entry::fs(&path, EntryKind::Hardlink(target))
                }
                S_IFLNK => {
                    let target = match view {
                        Some(v) => assemble(d, v, ctx, &path, out)?,
                        None => Vec::new(),
                    };
                    Entry::fs(
                        &path,
                        EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned()),
                    )
                }
                S_IFCHR | S_IFBLK => {
                    let (major, minor) = view
                        .and_then(|v| device_numbers(d, e, v.latest))
                        .unwrap_or((0, 0));
                    Entry::fs(
                        &path,
                        EntryKind::Device {
                            block: kind_of(mode) == S_IFBLK,
                            major,
                            minor,
                        },
                    )
                }
                S_IFIFO => Entry::fs(&path, EntryKind::Fifo),
                S_IFSOCK => Entry::fs(&path, EntryKind::Socket),
                _ => {
                    let bytes = match view {
                        Some(v) => assemble(d, v, ctx, &path, out)?,
                        None => {
                            out.warn(format!("{path}: no inode node for inode {}", de.ino));
                            Vec::new()
                        }
                    };
                    Entry::fs(&path, EntryKind::File).with_data(EntryData::Owned(Blob::from(bytes)))
                }
            };
            reached.insert(de.ino);
            if kind_of(mode) != S_IFDIR {
                first_path.entry(de.ino).or_insert_with(|| path.clone());
            }
            if let Some(v) = view {
                entry = entry
                    .with_owner(
                        v.latest.mode,
                        u32::from(v.latest.uid),
                        u32::from(v.latest.gid),
                    )
                    .with_detail("mtime", v.latest.mtime);
            }
            out.entries.push(entry);
        }
        // Reverse so that the stack pops subdirectories in name order (pre-order listing).
        subdirs.reverse();
        stack.extend(subdirs);
    }
    if dir_loops > 0 {
        out.warn(format!("{dir_loops} directory entries lead back to a directory already listed (loop or hard-linked directory); skipped"));
    }
    if bad_names > 0 {
        out.warn(format!(
            "{bad_names} directory entries with invalid names skipped"
        ));
    }
    let orphans = names
        .values()
        .filter(|de| de.ino != 0 && !reached.contains(&de.ino))
        .count();
    if orphans > 0 {
        out.warn(format!(
            "{orphans} directory entries are not reachable from the root"
        ));
    }
    Ok(())
}

/// Mode type bits for a dirent's DT_* type when its inode is missing.
fn dtype_mode(dtype: u8) -> u32 {
    match dtype {
        4 => S_IFDIR,
        10 => S_IFLNK,
        2 => S_IFCHR,
        6 => S_IFBLK,
        1 => S_IFIFO,
        12 => S_IFSOCK,
        _ => S_IFREG,
    }
}

/// Device numbers from a device inode's data: the old 16-bit or the new 32-bit encoding.
fn device_numbers(d: &[u8], e: Endian, n: &InodeNode) -> Option<(u32, u32)> {
    match (n.compr, n.dsize) {
        (COMPR_NONE, 2) => {
            let v = rd16(d, n.data_at, e)? as u32;
            Some((v >> 8, v & 0xff))
        }
        (COMPR_NONE, 4) => {
            let v = rd32(d, n.data_at, e)?;
            Some(((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile, Rng};
    use crate::formats::testutil::manifest::{parse, Line};
    use crate::formats::testutil::{self, entry_bytes, unpack};

    const LE_ZLIB: &[u8] = include_bytes!("../../tests/fixtures/jffs2/le-zlib.jffs2");
    const BE_ZLIB_PADDED: &[u8] = include_bytes!("../../tests/fixtures/jffs2/be-zlib-padded.jffs2");
    const LE_RTIME: &[u8] = include_bytes!("../../tests/fixtures/jffs2/le-rtime.jffs2");
    const BE_LZO: &[u8] = include_bytes!("../../tests/fixtures/jffs2/be-lzo.jffs2");
    const LE_NONE: &[u8] = include_bytes!("../../tests/fixtures/jffs2/le-none.jffs2");
    const LE_SUMMARY: &[u8] = include_bytes!("../../tests/fixtures/jffs2/le-zlib-summary.jffs2");
    const FLIP: &[u8] = include_bytes!("../../tests/fixtures/jffs2/damaged-flip.jffs2");
    const TRUNC: &[u8] = include_bytes!("../../tests/fixtures/jffs2/damaged-truncated.jffs2");
    const TORN: &[u8] = include_bytes!("../../tests/fixtures/jffs2/damaged-torn.jffs2");
    const EXPECTED: &str = include_str!("../../tests/fixtures/jffs2/expected.txt");

    fn manifest(image: &[u8], u: &Unpacked) -> Vec<Line> {
        testutil::manifest::manifest(image, &u.entries)
    }

    fn expected() -> Vec<Line> {
        parse(EXPECTED)
    }

    #[test]
    fn crc_matches_linux() {
        // The first node header of the fixture carries its CRC.
        let h = &LE_ZLIB[..12];
        assert_eq!(
            jffs2_crc(&h[..8]),
            u32::from_le_bytes(h[8..12].try_into().unwrap())
        );
    }

    #[test]
    fn every_compressor_and_endianness_round_trips() {
        for (name, img) in [
            ("le-zlib", LE_ZLIB),
            ("be-zlib-padded", BE_ZLIB_PADDED),
            ("le-rtime", LE_RTIME),
            ("be-lzo", BE_LZO),
            ("le-none", LE_NONE),
            ("le-zlib-summary", LE_SUMMARY),
        ] {
            let u = unpack(&Jffs2, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(manifest(img, &u), expected(), "{name}");
        }
    }

    #[test]
    fn length_is_the_log_and_padding_to_the_erase_block() {
        let u = unpack(&Jffs2, LE_ZLIB);
        assert_eq!(u.consumed, Some(LE_ZLIB.len() as u64));
        let u = unpack(&Jffs2, BE_ZLIB_PADDED);
        assert_eq!(u.consumed, Some(BE_ZLIB_PADDED.len() as u64));
        // Carved from a larger dump: garbage after the image is not claimed.
        let mut dump = LE_ZLIB.to_vec();
        let mut x = 0x1234_5678u32;
        dump.extend((0..200_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        let u = unpack(&Jffs2, &dump);
        assert_eq!(u.consumed, Some(LE_ZLIB.len() as u64));
        assert_eq!(manifest(&dump, &u), expected());
    }

    #[test]
    fn flipped_byte_loses_one_node_only() {
        let u = unpack(&Jffs2, FLIP);
        assert!(
            u.warnings.iter().any(|w| w.contains("data CRC")),
            "{:?}",
            u.warnings
        );
        let got = manifest(FLIP, &u);
        let want = expected();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            if w.path == "/bin/random.bin" {
                assert_ne!(g, w);
            } else {
                assert_eq!(g, w);
            }
        }
    }

    #[test]
    fn truncated_and_torn_images_keep_the_rest() {
        for (name, img) in [("truncated", TRUNC), ("torn", TORN)] {
            let u = unpack(&Jffs2, img);
            let got = manifest(img, &u);
            let want = expected();
            let same = got.iter().filter(|g| want.contains(g)).count();
            assert!(same >= 7, "{name}: only {same} intact: {got:#?}");
            assert!(
                u.warnings
                    .iter()
                    .any(|w| w.contains("past the end") || w.contains("CRC mismatch")),
                "{name}: {:?}",
                u.warnings
            );
        }
    }

    #[test]
    fn lzma_uses_openwrt_parameters() {
        // `xz --format=raw --lzma1=lc=0,lp=0,pb=0,dict=8KiB` of a short config file: raw LZMA1
        // as OpenWrt's JFFS2 writes it (no header; the node gives the size).
        let src = [
            0x00, 0x31, 0x9d, 0x6b, 0x10, 0x57, 0x97, 0x15, 0xf8, 0x01, 0x0f, 0xe4, 0x7c, 0xef,
            0x6e, 0x9e, 0xf4, 0x0d, 0x29, 0x1c, 0x0c, 0x27, 0xd9, 0x6a, 0x1b, 0x1f, 0x30, 0xde,
            0x2f, 0xce, 0x9f, 0x0c, 0xce, 0xa0, 0x79, 0xab, 0xf7, 0x35, 0x51, 0x36, 0x38, 0xfd,
            0xf1, 0x74, 0x56, 0x00,
        ];
        let want = b"config wifi\n\toption key acmewifi2023\n\toption key acmewifi2023\n";
        assert_eq!(decompress(COMPR_LZMA, &src, want.len()).unwrap(), want);
    }

    /// A little-endian node with correct CRCs, padded to 4 bytes.
    fn node(nodetype: u16, body: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&MAGIC.to_le_bytes());
        n.extend_from_slice(&nodetype.to_le_bytes());
        n.extend_from_slice(&((12 + body.len()) as u32).to_le_bytes());
        n.extend_from_slice(&jffs2_crc(&n).to_le_bytes());
        n.extend_from_slice(body);
        while n.len() % 4 != 0 {
            n.push(0xff);
        }
        n
    }

    fn dirent(pino: u32, version: u32, ino: u32, name: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [pino, version, ino, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[name.len() as u8, 8, 0, 0]);
        let mut n = node(NODETYPE_DIRENT, &b);
        n.truncate(32);
        let node_crc = jffs2_crc(&n);
        b.extend_from_slice(&node_crc.to_le_bytes());
        b.extend_from_slice(&jffs2_crc(name.as_bytes()).to_le_bytes());
        b.extend_from_slice(name.as_bytes());
        node(NODETYPE_DIRENT, &b)
    }

    fn inode(ino: u32, version: u32, isize: u32, offset: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [ino, version, 0o100644, 0, isize, 0, 0, 0, offset] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // csize
        b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // dsize
        b.extend_from_slice(&[COMPR_NONE, 0, 0, 0]);
        b.extend_from_slice(&jffs2_crc(data).to_le_bytes());
        let mut head = node(NODETYPE_INODE, &b);
        head.truncate(60);
        b.extend_from_slice(&jffs2_crc(&head).to_le_bytes());
        b.extend_from_slice(data);
        node(NODETYPE_INODE, &b)
    }

    #[test]
    fn newest_versions_win_and_deletions_remove_names() {
        let mut img = Vec::new();
        img.extend(dirent(1, 1, 2, "a.txt"));
        img.extend(inode(2, 1, 10, 0, b"0123456789"));
        // A newer write over bytes 2..5, then a truncation to 8 bytes and an extension to 12
        // (the bytes 8..12 read as zeros).
        img.extend(inode(2, 3, 10, 2, b"abc"));
        img.extend(inode(2, 4, 8, 8, b""));
        img.extend(inode(2, 5, 12, 12, b""));
        // An older write, found later in the log, is applied beneath the newer ones: it wins
        // over version 1 (bytes 0..2) but not over version 3 (bytes 2..5).
        img.extend(inode(2, 2, 10, 0, b"zzzz"));
        // A file that is renamed (old name deleted) and one that is deleted.
        img.extend(dirent(1, 1, 3, "old-name"));
        img.extend(inode(3, 1, 2, 0, b"hi"));
        img.extend(dirent(1, 2, 3, "new-name"));
        img.extend(dirent(1, 3, 0, "old-name"));
        img.extend(dirent(1, 1, 4, "gone"));
        img.extend(inode(4, 1, 1, 0, b"x"));
        img.extend(dirent(1, 5, 0, "gone"));
        // An obsolete node (accurate bit cleared in place) is ignored.
        let mut obsolete = dirent(1, 9, 2, "ghost");
        obsolete[2..4].copy_from_slice(&(NODETYPE_DIRENT & !NODE_ACCURATE).to_le_bytes());
        img.extend(obsolete);
        let u = unpack(&Jffs2, &img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let got: Vec<(String, Vec<u8>)> = u
            .entries
            .iter()
            .map(|e| (e.path.clone(), entry_bytes(&img, e).unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/a.txt".to_string(), b"zzabc567\0\0\0\0".to_vec()),
                ("/new-name".to_string(), b"hi".to_vec()),
            ]
        );
        assert_eq!(
            u.details.get("obsolete_nodes").map(String::as_str),
            Some("1")
        );
    }

    #[test]
    fn directory_loops_are_cut() {
        let mut img = Vec::new();
        img.extend(dirent(1, 1, 2, "d"));
        let mut dir = inode(2, 1, 0, 0, b"");
        // Make inode 2 a directory (mode at 20), fixing the node CRC.
        dir[20..24].copy_from_slice(&0o40755u32.to_le_bytes());
        let crc = jffs2_crc(&dir[..60]);
        dir[64..68].copy_from_slice(&crc.to_le_bytes());
        img.extend(dir);
        // d/self points back at d itself.
        img.extend(dirent(2, 1, 2, "self"));
        let u = unpack(&Jffs2, &img);
        assert_eq!(u.entries.len(), 1);
        assert!(
            u.warnings.iter().any(|w| w.contains("loop")),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn rtime_copies_back_references() {
        // 'a' then repeat 3 from its last position (0 at first): "aaaa".
        assert_eq!(rtime(&[b'a', 3, b'b', 0], 5), b"aaaab");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for img in [LE_ZLIB, BE_LZO, LE_RTIME] {
            hostile(&Jffs2, img);
        }
        // Random bytes through every decompressor.
        let mut rng = Rng::new(0x9e37_79b9);
        for c in 0..10u8 {
            for _ in 0..50 {
                let len = rng.below(300);
                let src: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let _ = decompress(c, &src, 4096);
            }
        }
    }
}
