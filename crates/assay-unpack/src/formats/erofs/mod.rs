//! EROFS, the read-only file system of Android system partitions and newer embedded Linux
//! builds: superblock at 1024 (magic `E2 E1 F5 E0`), 32-byte compact and 64-byte extended
//! inodes addressed by node id, directories as blocks of 12-byte entries with names after them.
//!
//! Own reader: no permissively licensed Rust crate reads EROFS images from bytes. Read: plain
//! and tail-inline ("flat") data, chunk-based files, directories, links, devices, and
//! compressed files (LZ4 and MicroLZMA clusters, see the `zmap` module). Every node id, block address
//! and size is checked against the image; directory cycles, depth and sizes are bounded.

mod zmap;

use crate::cursor::{le16, le32, le64};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::{linux_dev, FileType, S_IFMT};
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// An EROFS image (superblock 1024 bytes from the start).
pub struct Erofs;

const SB: usize = 1024;
static MAGICS: &[Magic] = &[Magic::at(&[0xe2, 0xe1, 0xf5, 0xe0], SB)];

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;
/// Largest directory read.
const MAX_DIR_BYTES: u64 = 64 << 20;
/// Longest symbolic link target read.
const MAX_LINK: u64 = 4096;
/// Incompatible features this reader understands: zero padding and compression
/// configurations, big physical clusters, chunked files,
/// a device table (only device 0 is read), tail packing, fragments, deduplication and
/// xattr name prefixes.
const KNOWN_INCOMPAT: u32 = 0x1ff;

/// The superblock, checked.
#[derive(Debug, Clone)]
struct Super {
    block: u64,
    root_nid: u64,
    build_time: i64,
    blocks: u64,
    meta: u64,
    incompat: u32,
    dir_block: u64,
    name: String,
}

fn superblock(d: &[u8]) -> Option<Super> {
    if le32(d, SB)? != 0xe0f5_e1e2 {
        return None;
    }
    let bits = *d.get(SB + 12)?;
    if !(9..=16).contains(&bits) {
        return None;
    }
    let block = 1u64 << bits;
    let dirbits = *d.get(SB + 90)?;
    if u32::from(bits) + u32::from(dirbits) > 20 {
        return None;
    }
    let blocks = u64::from(le32(d, SB + 36)?);
    let meta = u64::from(le32(d, SB + 40)?);
    if blocks == 0 || meta >= blocks {
        return None;
    }
    Some(Super {
        block,
        root_nid: u64::from(le16(d, SB + 14)?),
        build_time: le64(d, SB + 24)? as i64,
        blocks,
        meta,
        incompat: le32(d, SB + 80)?,
        dir_block: block << dirbits,
        name: crate::cursor::cstr(d.get(SB + 64..SB + 80)?),
    })
}

/// How an inode's data is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Plain,
    Inline,
    Compressed(zmap::Indexes),
    Chunked,
}

/// One inode, decoded.
struct Inode {
    layout: Layout,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    /// Raw block address, chunk format or device number, by layout and type.
    u: u32,
    /// Where data after the inode (and its xattrs) starts: the inline tail or chunk map.
    tail: u64,
}

struct Volume<'a> {
    s: Super,
    d: &'a [u8],
}

impl Volume<'_> {
    fn inode(&self, nid: u64) -> Result<Inode, String> {
        let at = nid
            .checked_mul(32)
            .and_then(|o| o.checked_add(self.s.meta * self.s.block))
            .filter(|&o| o.checked_add(32).is_some_and(|e| e <= self.d.len() as u64))
            .ok_or_else(|| format!("node {nid} lies past the end of the image"))?;
        let a = at as usize;
        let d = self.d;
        let format = le16(d, a).unwrap_or(0);
        let extended = format & 1 != 0;
        let layout = match (format >> 1) & 7 {
            0 => Layout::Plain,
            2 => Layout::Inline,
            1 => Layout::Compressed(zmap::Indexes::Full),
            3 => Layout::Compressed(zmap::Indexes::Compact),
            4 => Layout::Chunked,
            l => return Err(format!("node {nid}: unknown data layout {l}")),
        };
        let xattr_count = u64::from(le16(d, a + 2).unwrap_or(0));
        let xattr_size = if xattr_count == 0 {
            0
        } else {
            12 + (xattr_count - 1) * 4
        };
        let size = if extended { 64 } else { 32 };
        if at + size > d.len() as u64 {
            return Err(format!("node {nid} lies past the end of the image"));
        }
        let r32 = |o: usize| le32(d, a + o).unwrap_or(0);
        let r16 = |o: usize| u32::from(le16(d, a + o).unwrap_or(0));
        Ok(if extended {
            Inode {
                layout,
                mode: r16(4),
                uid: r32(24),
                gid: r32(28),
                size: le64(d, a + 8).unwrap_or(0),
                mtime: le64(d, a + 32).unwrap_or(0) as i64,
                u: r32(16),
                tail: at + size + xattr_size,
            }
        } else {
            Inode {
                layout,
                mode: r16(4),
                uid: r16(24),
                gid: r16(26),
                size: u64::from(r32(8)),
                mtime: self.s.build_time,
                u: r32(16),
                tail: at + size + xattr_size,
            }
        })
    }

    /// Offset of block `b`, if the whole block lies inside the image.
    fn block(&self, b: u64, len: u64) -> Result<u64, String> {
        let at = b
            .checked_mul(self.s.block)
            .filter(|&o| o.saturating_add(len) <= self.d.len() as u64)
            .ok_or_else(|| format!("block {b} lies past the end of the image"))?;
        Ok(at)
    }

    /// The pieces of the file's first `len` bytes: (offset in the image or a hole, length).
    fn extents(&self, ino: &Inode, len: u64) -> Result<Vec<(Option<u64>, u64)>, String> {
        let bs = self.s.block;
        match ino.layout {
            Layout::Compressed(_) => Err("compressed data is not read as extents".into()),
            Layout::Plain => {
                if len == 0 {
                    return Ok(Vec::new());
                }
                Ok(vec![(Some(self.block(u64::from(ino.u), len)?), len)])
            }
            Layout::Inline => {
                if len == 0 {
                    return Ok(Vec::new());
                }
                // All blocks but the last are at the block address; the tail is inline.
                let full = ((ino.size - 1) / bs * bs).min(len);
                let mut v = Vec::new();
                if full > 0 {
                    v.push((Some(self.block(u64::from(ino.u), full)?), full));
                }
                let tail = len - full;
                if tail > 0 {
                    if ino.tail.saturating_add(tail) > self.d.len() as u64 {
                        return Err("inline data lies past the end of the image".into());
                    }
                    v.push((Some(ino.tail), tail));
                }
                Ok(v)
            }
            Layout::Chunked => {
                let fmt = ino.u;
                let bits = fmt & 0x1f;
                if bits > 31 {
                    return Err("chunk size is out of range".into());
                }
                let chunk = bs
                    .checked_shl(bits)
                    .filter(|&c| c <= 1 << 40)
                    .ok_or("chunk size is out of range")?;
                let indexes = fmt & 0x20 != 0;
                let (unit, start) = if indexes {
                    (8u64, ino.tail.div_ceil(8) * 8)
                } else {
                    (4u64, ino.tail)
                };
                let n = len.div_ceil(chunk);
                let mut v: Vec<(Option<u64>, u64)> = Vec::new();
                for i in 0..n {
                    let at = (start + i * unit) as usize;
                    let (dev, addr) = if indexes {
                        (le16(self.d, at + 2), le32(self.d, at + 4))
                    } else {
                        (Some(0), le32(self.d, at))
                    };
                    let (Some(dev), Some(addr)) = (dev, addr) else {
                        return Err("chunk map lies past the end of the image".into());
                    };
                    let take = chunk.min(len - i * chunk);
                    if addr == u32::MAX {
                        v.push((None, take));
                        continue;
                    }
                    if dev != 0 {
                        return Err(format!("data on extra device {dev} is not in this image"));
                    }
                    let off = self.block(u64::from(addr), take)?;
                    match v.last_mut() {
                        Some((Some(o), l)) if *o + *l == off => *l += take,
                        _ => v.push((Some(off), take)),
                    }
                }
                Ok(v)
            }
        }
    }

    /// The file's first `len` bytes, at most `cap` of them materialised (the flag says the
    /// file was cut there): zero-copy when contiguous, else gathered, or decoded when
    /// compressed. Zeros that end a gathered file (holes, or blocks of zeros) are left as a
    /// hole when longer than both the bytes before them and 64 KiB: walked, never
    /// materialised, charged or searched.
    fn read(
        &self,
        ino: &Inode,
        len: u64,
        cap: u64,
        ctx: &UnpackContext,
    ) -> Result<(EntryData, bool), String> {
        if let Layout::Compressed(indexes) = ino.layout {
            let f = zmap::ZFile {
                d: self.d,
                block_bits: self.s.block.trailing_zeros(),
                zero_padding: self.s.incompat & 1 != 0,
                indexes,
                end: ino.tail,
                size: ino.size,
            };
            let want = len.min(cap);
            let bytes = zmap::read(&f, want, ctx).map_err(|(_, e)| e)?;
            return Ok((EntryData::Owned(Blob::from(bytes)), want < len));
        }
        let ext = self.extents(ino, len)?;
        match ext.as_slice() {
            [] => return Ok((EntryData::Owned(Blob::from(Vec::new())), false)),
            [(Some(o), l)] => {
                let length = (*l).min(cap);
                return Ok((EntryData::Range { offset: *o, length }, length < *l));
            }
            _ => {}
        }
        // Where the trailing zeros start. Deduplicated zero chunks share one block, checked
        // once.
        let mut zeros_from = len;
        let mut known_zero = None;
        for &(o, l) in ext.iter().rev() {
            let zero = match o {
                None => true,
                Some(o) if known_zero == Some((o, l)) => true,
                Some(o) => {
                    let z = self.d[o as usize..(o + l) as usize].iter().all(|&b| b == 0);
                    if z {
                        known_zero = Some((o, l));
                    }
                    z
                }
            };
            if !zero {
                // Zeros that end this extent join the run, a block at a time.
                if let Some(o) = o {
                    let bytes = &self.d[o as usize..(o + l) as usize];
                    let last = bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1) as u64;
                    zeros_from -= l - (last.div_ceil(self.s.block) * self.s.block).min(l);
                }
                break;
            }
            zeros_from -= l;
        }
        let run = len - zeros_from;
        let data_end = if run <= zeros_from.max(64 << 10) {
            len
        } else {
            zeros_from
        };
        let take = data_end.min(cap);
        ctx.charge(take).map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(take as usize);
        for (o, l) in ext {
            let l = l.min(take - out.len() as u64);
            if l == 0 {
                break;
            }
            match o {
                None => out.resize(out.len() + l as usize, 0),
                Some(o) => out.extend_from_slice(&self.d[o as usize..(o + l) as usize]),
            }
        }
        let data = Blob::from(out);
        Ok(if data_end > cap {
            (EntryData::Owned(data), true)
        } else if data_end < len {
            (EntryData::Sparse { data, length: len }, false)
        } else {
            (EntryData::Owned(data), false)
        })
    }

    fn read_small(&self, ino: &Inode, max: u64, ctx: &UnpackContext) -> Result<Vec<u8>, String> {
        let len = ino.size.min(max);
        Ok(match self.read(ino, len, len, ctx)?.0 {
            EntryData::Range { offset, length } => {
                self.d[offset as usize..(offset + length) as usize].to_vec()
            }
            EntryData::Owned(b) => b.to_vec(),
            // A directory or link needs only the bytes before its trailing hole.
            EntryData::Sparse { data, .. } => data.to_vec(),
            EntryData::None => Vec::new(),
        })
    }
}

/// The (node id, name) entries of a directory's bytes, block by block.
fn dirents(bytes: &[u8], dir_block: usize, out: &mut Vec<(u64, Vec<u8>)>) -> Result<(), String> {
    for blk in bytes.chunks(dir_block) {
        let first = le16(blk, 8).ok_or("directory block is cut short")? as usize;
        if first < 12 || !first.is_multiple_of(12) || first > blk.len() {
            return Err("directory block has a bad first name offset".into());
        }
        let n = first / 12;
        for i in 0..n {
            let nid = le64(blk, i * 12).unwrap_or(0);
            let start = le16(blk, i * 12 + 8).unwrap_or(0) as usize;
            let end = if i + 1 < n {
                le16(blk, (i + 1) * 12 + 8).unwrap_or(0) as usize
            } else {
                // The last name runs to a NUL or the end of the block.
                let rest = blk.get(start..).unwrap_or_default();
                start + memchr::memchr(0, rest).unwrap_or(rest.len())
            };
            let name = blk
                .get(start..end)
                .ok_or("directory entry name is out of range")?;
            out.push((nid, name.to_vec()));
        }
    }
    Ok(())
}

impl Format for Erofs {
    fn name(&self) -> &'static str {
        "erofs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let s = superblock(data)?;
        let vol = Volume { s, d: data };
        let root = vol.inode(vol.s.root_nid).ok()?;
        if FileType::of_mode(root.mode) != Some(FileType::Directory) {
            return None;
        }
        let s = &vol.s;
        Some(Probe {
            length: Some((s.blocks * s.block).min(data.len() as u64)),
            description: format!(
                "EROFS, {} blocks of {} bytes, volume {:?}",
                s.blocks, s.block, s.name
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let s =
            superblock(data).ok_or_else(|| FormatError::Corrupt("bad EROFS superblock".into()))?;
        let mut out = Unpacked::default();
        out.detail("block_size", s.block);
        out.detail("feature_incompat", format!("{:#x}", s.incompat));
        if s.incompat & !KNOWN_INCOMPAT != 0 {
            out.warn(
                WarningKind::Unsupported,
                format!(
                    "unknown incompatible features {:#x}: the tree may be incomplete",
                    s.incompat & !KNOWN_INCOMPAT
                ),
            );
        }
        let total = s.blocks * s.block;
        if total > data.len() as u64 {
            out.warn(
                WarningKind::Truncated,
                format!("image of {total} bytes is cut to {} bytes", data.len()),
            );
        }
        let vol = Volume { s, d: data };
        let root = vol.s.root_nid;
        let mut visited = HashSet::new();
        let mut stack = vec![(root, String::new(), 0usize)];
        while let Some((nid, path, depth)) = stack.pop() {
            let shown = if path.is_empty() { "/" } else { &path };
            if !visited.insert(nid) {
                out.warn(
                    WarningKind::Format,
                    format!("directory {shown} was already listed: a cycle"),
                );
                continue;
            }
            let mut ents = Vec::new();
            let listed = vol
                .inode(nid)
                .and_then(|dir| vol.read_small(&dir, MAX_DIR_BYTES, ctx))
                .and_then(|bytes| dirents(&bytes, vol.s.dir_block as usize, &mut ents));
            if let Err(e) = listed {
                out.warn(WarningKind::Format, format!("directory {shown}: {e}"));
            }
            let mut children = Vec::new();
            for (child, raw) in ents {
                if raw == b"." || raw == b".." {
                    continue;
                }
                let name = String::from_utf8_lossy(&raw).into_owned();
                if name.is_empty() || name.contains('/') {
                    out.warn(
                        WarningKind::Format,
                        format!("bad name {name:?} in directory {shown}"),
                    );
                    continue;
                }
                if out.entries.len() >= ctx.max_entries() {
                    out.warn(WarningKind::Limit, "too many entries; the rest are ignored");
                    return Ok(out);
                }
                let full = format!("{path}/{name}");
                let ino = match vol.inode(child) {
                    Ok(i) => i,
                    Err(e) => {
                        out.warn(WarningKind::Format, format!("{full}: {e}"));
                        continue;
                    }
                };
                let Some(file_type) = FileType::of_mode(ino.mode) else {
                    out.warn(
                        WarningKind::Format,
                        format!("{full}: unknown file type {:#o}", ino.mode & S_IFMT),
                    );
                    continue;
                };
                let kind = file_type.entry_kind(
                    || match vol.read_small(&ino, MAX_LINK, ctx) {
                        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                        Err(e) => {
                            out.warn(WarningKind::Format, format!("{full}: {e}"));
                            String::new()
                        }
                    },
                    || linux_dev(ino.u),
                );
                let mut entry = Entry::fs(full.clone(), kind.clone())
                    .with_owner(ino.mode, ino.uid, ino.gid)
                    .with_mtime(ino.mtime);
                match kind {
                    EntryKind::File => match vol.read(&ino, ino.size, ctx.stream_limit(), ctx) {
                        Ok((d, cut)) => {
                            if cut {
                                out.warn(
                                    WarningKind::Limit,
                                    format!(
                                        "{full}: cut to {} of {} bytes",
                                        ctx.stream_limit(),
                                        ino.size
                                    ),
                                );
                            }
                            entry = entry.with_data(d);
                        }
                        Err(e) => out.warn(WarningKind::Format, format!("{full}: {e}")),
                    },
                    EntryKind::Directory => {
                        if depth + 1 >= MAX_DEPTH {
                            out.warn(
                                WarningKind::Limit,
                                format!("{full} is nested too deep; not walked"),
                            );
                        } else {
                            children.push((child, full, depth + 1));
                        }
                    }
                    _ => {}
                }
                out.entries.push(entry);
            }
            stack.extend(children.into_iter().rev());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check, Check};
    use crate::formats::testutil::{gunzip, unpack};

    const EXPECTED: &str = include_str!("../../../tests/fixtures/filesystems/expected.txt");
    const PLAIN: &[u8] = include_bytes!("../../../tests/fixtures/filesystems/erofs.img.gz");
    const CHUNKED: &[u8] =
        include_bytes!("../../../tests/fixtures/filesystems/erofs-chunked.img.gz");
    const LZ4: &[u8] = include_bytes!("../../../tests/fixtures/filesystems/erofs-lz4.img.gz");
    const EXPECTED_Z: &str =
        include_str!("../../../tests/fixtures/filesystems/expected-erofs-z.txt");
    const LZ4HC: &[u8] = include_bytes!("../../../tests/fixtures/filesystems/erofs-lz4hc.img.gz");
    const LZ4_BIG: &[u8] =
        include_bytes!("../../../tests/fixtures/filesystems/erofs-lz4-big.img.gz");
    const LZ4_LEGACY: &[u8] =
        include_bytes!("../../../tests/fixtures/filesystems/erofs-lz4-legacy.img.gz");
    const EXPECTED_HOLE: &str =
        include_str!("../../../tests/fixtures/filesystems/expected-hole.txt");
    const HOLE: &[u8] = include_bytes!("../../../tests/fixtures/filesystems/erofs-hole.img.gz");

    fn tree(name: &str, img: &[u8]) {
        let p = Erofs
            .probe(img)
            .unwrap_or_else(|| panic!("{name}: no probe"));
        assert_eq!(p.length, Some(img.len() as u64), "{name}");
        let u = unpack(&Erofs, img);
        assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
        check(name, img, &u.entries, EXPECTED, &Check::EXACT);
    }

    #[test]
    fn flat_and_inline_tree_matches() {
        tree("erofs", &gunzip(PLAIN));
    }

    #[test]
    fn chunk_based_tree_matches() {
        tree("erofs-chunked", &gunzip(CHUNKED));
    }

    #[test]
    fn extended_inode_gives_owner_and_time() {
        let img = gunzip(PLAIN);
        let u = unpack(&Erofs, &img);
        // The fixture gives /etc/passwd a uid over 65535: only an extended inode holds it.
        let e = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
        assert_eq!(e.uid, Some(70000));
        assert_eq!(e.mtime, Some(1_600_000_000));
    }

    #[test]
    fn lz4_tree_matches() {
        tree("erofs-lz4", &gunzip(LZ4));
    }

    #[test]
    fn compression_layouts_match_the_source() {
        // Compacted indexes, big clusters with a tail-packed end, and legacy full indexes
        // without zero padding: every file's bytes hash as the source's.
        for (name, img) in [
            ("erofs-lz4hc", LZ4HC),
            ("erofs-lz4-big", LZ4_BIG),
            ("erofs-lz4-legacy", LZ4_LEGACY),
        ] {
            let img = gunzip(img);
            let u = unpack(&Erofs, &img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            check(name, &img, &u.entries, EXPECTED_Z, &Check::EXACT);
        }
    }

    #[test]
    fn the_map_header_says_which_layout() {
        // The fixtures differ where they should: 0PADDING off for the legacy image, big
        // clusters and tail packing on for the other.
        let legacy = gunzip(LZ4_LEGACY);
        assert_eq!(superblock(&legacy).unwrap().incompat & 1, 0);
        let big = gunzip(LZ4_BIG);
        let s = superblock(&big).unwrap();
        assert_ne!(s.incompat & 2, 0, "big pcluster feature");
    }

    #[test]
    fn a_bad_cluster_index_is_a_warning_and_the_file_is_listed() {
        let mut img = gunzip(LZ4HC);
        let u = unpack(&Erofs, &img);
        let vol = Volume {
            s: superblock(&img).unwrap(),
            d: &img,
        };
        // Find /a/text's inode by its size, then break its map header's cluster bits.
        let size = u
            .entries
            .iter()
            .find(|e| e.path == "/a/text")
            .and_then(|e| crate::formats::testutil::entry_bytes(&img, e))
            .unwrap()
            .len() as u64;
        let (nid, tail) = (0..4096u64)
            .find_map(|n| {
                let i = vol.inode(n).ok()?;
                (i.size == size && matches!(i.layout, Layout::Compressed(_))).then_some((n, i.tail))
            })
            .unwrap();
        let header = (tail.div_ceil(8) * 8) as usize;
        // Every index past the header becomes a non-head with a zero distance.
        for b in &mut img[header + 8..header + 8 + 64] {
            *b = 0xff;
        }
        let u = unpack(&Erofs, &img);
        assert!(
            u.warnings.iter().any(|(_, w)| w.starts_with("/a/text")),
            "nid {nid}: {:?}",
            u.warnings
        );
        assert!(u.entries.iter().any(|e| e.path == "/a/text"));
        assert!(u.entries.iter().any(|e| e.path == "/a/small"));
    }

    #[test]
    fn a_two_gib_hole_is_walked_not_stored() {
        let img = gunzip(HOLE);
        let started = std::time::Instant::now();
        let u = unpack(&Erofs, &img);
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let e = u.entries.iter().find(|e| e.path == "/a/hole.bin").unwrap();
        let EntryData::Sparse { data, length } = &e.data else {
            panic!("not sparse: {:?}", e.data);
        };
        assert_eq!(*length, 2 << 30);
        assert!(data.len() <= 4096, "{}", data.len());
        assert_eq!(
            crate::formats::testutil::sparse_sha_hex(data, *length),
            crate::formats::testutil::manifest_sha(EXPECTED_HOLE, "/a/hole.bin")
        );
    }

    #[test]
    fn hostile_input() {
        for img in [PLAIN, CHUNKED, LZ4, LZ4HC, LZ4_BIG, LZ4_LEGACY, HOLE] {
            hostile_with(&Erofs, &gunzip(img), &Hostile::disk());
        }
    }
}
