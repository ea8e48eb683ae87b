//! Minix file system, versions 1, 2 and 3, in either byte order (Linux writes host order, so
//! images from big-endian boards are byte-swapped), with 14-, 30- and 60-character names.
//! Small embedded Linux builds and old boot floppies use it.
//!
//! Own reader: no crate reads Minix. The layout is a boot block, the superblock at 1024, the
//! inode and zone bitmaps, the inode table and the data zones; a file's zones are listed by
//! seven direct numbers and one, two (and in v2/v3 three) levels of indirect blocks. Every
//! zone number is checked against the volume, holes read as zeros (a trailing one left as a
//! hole), and directory cycles, depth and sizes are bounded.

use crate::cursor::{be16, be32, le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::{linux_dev, FileType, S_IFMT};
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// A Minix file system (the boot block is at offset 0, the superblock at 1024).
pub struct Minix;

const SB: usize = 1024;

static MAGICS: &[Magic] = &[
    // v1/v2 magic at superblock offset 16: 14- and 30-character names, both byte orders.
    Magic::at(&[0x7f, 0x13], SB + 16),
    Magic::at(&[0x13, 0x7f], SB + 16),
    Magic::at(&[0x8f, 0x13], SB + 16),
    Magic::at(&[0x13, 0x8f], SB + 16),
    Magic::at(&[0x68, 0x24], SB + 16),
    Magic::at(&[0x24, 0x68], SB + 16),
    Magic::at(&[0x78, 0x24], SB + 16),
    Magic::at(&[0x24, 0x78], SB + 16),
    // v3 magic at superblock offset 24.
    Magic::at(&[0x5a, 0x4d], SB + 24),
    Magic::at(&[0x4d, 0x5a], SB + 24),
];

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;
/// Largest directory read (a million 64-byte entries).
const MAX_DIR_BYTES: u64 = 64 << 20;
/// Longest symbolic link target read.
const MAX_LINK: u64 = 4096;
/// The root directory's inode number.
const ROOT: u32 = 1;

/// The superblock, checked: everything needed to find inodes and zones.
#[derive(Debug, Clone)]
struct Geometry {
    version: u8,
    big_endian: bool,
    block: u64,
    /// Bytes of one zone (`block << log_zone_size`).
    zone: u64,
    ninodes: u32,
    zones: u64,
    first_data_zone: u64,
    inode_table: u64,
    inode_size: u64,
    dirent_size: usize,
    name_len: usize,
}

impl Geometry {
    fn u16(&self, d: &[u8], at: usize) -> Option<u16> {
        if self.big_endian {
            be16(d, at)
        } else {
            le16(d, at)
        }
    }

    fn u32(&self, d: &[u8], at: usize) -> Option<u32> {
        if self.big_endian {
            be32(d, at)
        } else {
            le32(d, at)
        }
    }

    /// Bytes the volume spans.
    fn total_bytes(&self) -> u64 {
        self.zones.saturating_mul(self.zone)
    }

    /// Zone numbers per indirect block.
    fn per_indirect(&self) -> u64 {
        self.block / if self.version == 1 { 2 } else { 4 }
    }
}

fn geometry(d: &[u8]) -> Option<Geometry> {
    let sb = d.get(SB..SB + 32)?;
    // v1/v2: magic at 16; v3: magic at 24. Each is tried in both byte orders.
    let m16 = (
        u16::from_le_bytes([sb[16], sb[17]]),
        u16::from_be_bytes([sb[16], sb[17]]),
    );
    let m24 = (
        u16::from_le_bytes([sb[24], sb[25]]),
        u16::from_be_bytes([sb[24], sb[25]]),
    );
    let v12 = |m: u16| match m {
        0x137f => Some((1u8, 14usize)),
        0x138f => Some((1, 30)),
        0x2468 => Some((2, 14)),
        0x2478 => Some((2, 30)),
        _ => None,
    };
    let (version, name_len, big_endian) = if let Some((v, n)) = v12(m16.0) {
        (v, n, false)
    } else if let Some((v, n)) = v12(m16.1) {
        (v, n, true)
    } else if m24.0 == 0x4d5a {
        (3, 60, false)
    } else if m24.1 == 0x4d5a {
        (3, 60, true)
    } else {
        return None;
    };
    let r16 = |at: usize| -> Option<u64> {
        let b = [*sb.get(at)?, *sb.get(at + 1)?];
        Some(u64::from(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    };
    let r32 = |at: usize| -> Option<u64> {
        let b = sb.get(at..at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(u64::from(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    };
    let (ninodes, imap, zmap, first, log, zones, block) = match version {
        1 => (r16(0)?, r16(4)?, r16(6)?, r16(8)?, r16(10)?, r16(2)?, 1024),
        2 => (r16(0)?, r16(4)?, r16(6)?, r16(8)?, r16(10)?, r32(20)?, 1024),
        _ => (
            r32(0)?,
            r16(6)?,
            r16(8)?,
            r16(10)?,
            r16(12)?,
            r32(20)?,
            r16(28)?,
        ),
    };
    if !(1024..=65536).contains(&block) || !block.is_power_of_two() || log > 8 {
        return None;
    }
    let inode_size: u64 = if version == 1 { 32 } else { 64 };
    let bits = block * 8;
    // Bitmaps hold a bit for every inode and data zone (and bit 0, which is reserved).
    if ninodes == 0 || imap == 0 || zmap == 0 || imap * bits < ninodes + 1 {
        return None;
    }
    let table_blocks = (ninodes * inode_size).div_ceil(block);
    let meta_blocks = 2 + imap + zmap + table_blocks;
    // The first data zone follows the inode table, and data zones exist.
    if (first << log) < meta_blocks || zones <= first || zmap * bits < zones - first + 1 {
        return None;
    }
    let dirent_size = if version == 3 { 64 } else { name_len + 2 };
    Some(Geometry {
        version,
        big_endian,
        block,
        zone: block << log,
        ninodes: u32::try_from(ninodes).ok()?,
        zones,
        first_data_zone: first,
        inode_table: (2 + imap + zmap) * block,
        inode_size,
        dirent_size,
        name_len,
    })
}

/// One inode, decoded.
struct Inode {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    /// Seven direct zones, then single, double (and triple) indirect.
    zones: [u32; 10],
}

/// A Minix volume being read.
struct Volume<'a> {
    g: Geometry,
    d: &'a [u8],
}

impl Volume<'_> {
    fn inode(&self, n: u32) -> Result<Inode, String> {
        if n == 0 || n > self.g.ninodes {
            return Err(format!("inode {n} is out of range"));
        }
        let at = self.g.inode_table + u64::from(n - 1) * self.g.inode_size;
        let at = usize::try_from(at).map_err(|_| format!("inode {n} is out of range"))?;
        let raw = self
            .d
            .get(at..at.saturating_add(self.g.inode_size as usize))
            .ok_or_else(|| format!("inode {n} lies past the end of the image"))?;
        let g = &self.g;
        let r16 = |o| u32::from(g.u16(raw, o).unwrap_or(0));
        let r32 = |o| g.u32(raw, o).unwrap_or(0);
        let mut zones = [0u32; 10];
        Ok(if g.version == 1 {
            for (i, z) in zones.iter_mut().take(9).enumerate() {
                *z = r16(14 + 2 * i);
            }
            Inode {
                mode: r16(0),
                uid: r16(2),
                gid: u32::from(raw[12]),
                size: u64::from(r32(4)),
                mtime: i64::from(r32(8)),
                zones,
            }
        } else {
            for (i, z) in zones.iter_mut().enumerate() {
                *z = r32(24 + 4 * i);
            }
            Inode {
                mode: r16(0),
                uid: r16(4),
                gid: r16(6),
                size: u64::from(r32(8)),
                mtime: i64::from(r32(16)),
                zones,
            }
        })
    }

    /// Byte offset of data zone `z`, if it lies inside the volume's data area.
    fn zone_offset(&self, z: u32) -> Result<u64, String> {
        let z = u64::from(z);
        if z < self.g.first_data_zone || z >= self.g.zones {
            return Err(format!("zone {z} is outside the data area"));
        }
        Ok(z * self.g.zone)
    }

    /// Entry `i` of the indirect block in zone `z` (0: a hole).
    fn indirect(&self, z: u32, i: u64) -> Result<u32, String> {
        if z == 0 {
            return Ok(0);
        }
        let at = self.zone_offset(z)? + i * if self.g.version == 1 { 2 } else { 4 };
        let at = usize::try_from(at).map_err(|_| "indirect block is out of range".to_string())?;
        let v = if self.g.version == 1 {
            self.g.u16(self.d, at).map(u32::from)
        } else {
            self.g.u32(self.d, at)
        };
        v.ok_or_else(|| format!("indirect zone {z} lies past the end of the image"))
    }

    /// The zone holding the file's logical zone `i`, or 0 for a hole with the number of
    /// logical zones from `i` on that the same missing pointer leaves empty (a hole under an
    /// absent indirect block spans all of it, walked at once).
    fn zone_of(&self, ino: &Inode, i: u64) -> Result<(u32, u64), String> {
        let per = self.g.per_indirect();
        let hole = |z: u32, span: u64| -> Option<(u32, u64)> { (z == 0).then_some((0, span)) };
        if i < 7 {
            return Ok((ino.zones[i as usize], 1));
        }
        let mut i = i - 7;
        if i < per {
            if let Some(h) = hole(ino.zones[7], per - i) {
                return Ok(h);
            }
            return Ok((self.indirect(ino.zones[7], i)?, 1));
        }
        i -= per;
        if i < per * per {
            if let Some(h) = hole(ino.zones[8], per * per - i) {
                return Ok(h);
            }
            let l1 = self.indirect(ino.zones[8], i / per)?;
            if let Some(h) = hole(l1, per - i % per) {
                return Ok(h);
            }
            return Ok((self.indirect(l1, i % per)?, 1));
        }
        i -= per * per;
        if self.g.version == 1 || i >= per * per * per {
            return Err("file is larger than its zone tree".into());
        }
        if let Some(h) = hole(ino.zones[9], per * per * per - i) {
            return Ok(h);
        }
        let l1 = self.indirect(ino.zones[9], i / (per * per))?;
        if let Some(h) = hole(l1, per * per - i % (per * per)) {
            return Ok(h);
        }
        let l2 = self.indirect(l1, (i / per) % per)?;
        if let Some(h) = hole(l2, per - i % per) {
            return Ok(h);
        }
        Ok((self.indirect(l2, i % per)?, 1))
    }

    /// The file's first `len` bytes, at most `cap` of them materialised (the flag says the
    /// file was cut there): zero-copy when its zones are contiguous, else gathered with holes
    /// as zeros. A trailing hole longer than both the bytes before it and 64 KiB is left as
    /// a hole: walked, never materialised, charged or searched. A zone that cannot be read
    /// ends the data; the message says why.
    fn read(
        &self,
        ino: &Inode,
        len: u64,
        cap: u64,
        ctx: &UnpackContext,
    ) -> Result<(EntryData, Option<String>, bool), FormatError> {
        let zone = self.g.zone;
        let count = len.div_ceil(zone);
        // Runs of zones: (image offset or a hole, zone count).
        let mut runs: Vec<(Option<u64>, u64)> = Vec::new();
        let mut problem = None;
        let mut i = 0u64;
        while i < count {
            let run = match self.zone_of(ino, i) {
                Ok((0, span)) => Ok((None, span.clamp(1, count - i))),
                Ok((z, _)) => self.zone_offset(z).map(|o| (Some(o), 1)),
                Err(e) => Err(e),
            };
            let (o, n) = match run {
                Ok(r) => r,
                Err(e) => {
                    problem = Some(e);
                    break;
                }
            };
            match (runs.last_mut(), o) {
                (Some((None, m)), None) => *m += n,
                (Some((Some(a), m)), Some(b)) if *a + *m * zone == b => *m += n,
                _ => runs.push((o, n)),
            }
            i += n;
        }
        let have = (i * zone).min(len);
        if let [(Some(first), _)] = runs.as_slice() {
            if first.saturating_add(have) <= self.d.len() as u64 {
                let length = have.min(cap);
                return Ok((
                    EntryData::Range {
                        offset: *first,
                        length,
                    },
                    problem,
                    length < have,
                ));
            }
        }
        let hole = match runs.last() {
            Some((None, n)) => (n * zone).min(have),
            _ => 0,
        };
        let data_end = if hole <= (have - hole).max(64 << 10) {
            have
        } else {
            have - hole
        };
        let take = data_end.min(cap);
        ctx.charge(take)?;
        let mut out = Vec::with_capacity(take as usize);
        for (o, n) in runs {
            let bytes = (n * zone).min(take - out.len() as u64) as usize;
            if bytes == 0 {
                break;
            }
            match o {
                None => out.resize(out.len() + bytes, 0),
                Some(o) => match self.d.get(o as usize..(o as usize).saturating_add(bytes)) {
                    Some(s) => out.extend_from_slice(s),
                    None => {
                        problem = Some("data lies past the end of the image".into());
                        break;
                    }
                },
            }
        }
        let data = Blob::from(out);
        Ok(if data_end > cap {
            (EntryData::Owned(data), problem, true)
        } else if data_end < have {
            (EntryData::Sparse { data, length: have }, problem, false)
        } else {
            (EntryData::Owned(data), problem, false)
        })
    }

    /// The bytes of a directory or link (small, always copied).
    fn read_small(&self, ino: &Inode, max: u64, ctx: &UnpackContext) -> (Vec<u8>, Option<String>) {
        let len = ino.size.min(max);
        match self.read(ino, len, len, ctx) {
            Ok((EntryData::Range { offset, length }, p, _)) => (
                self.d[offset as usize..(offset + length) as usize].to_vec(),
                p,
            ),
            Ok((EntryData::Owned(b), p, _)) => (b.to_vec(), p),
            // A directory or link needs only the bytes before its trailing hole.
            Ok((EntryData::Sparse { data, .. }, p, _)) => (data.to_vec(), p),
            Ok((EntryData::None, p, _)) => (Vec::new(), p),
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    }
}

fn version_name(g: &Geometry) -> String {
    format!(
        "Minix v{} {}, {}-character names",
        g.version,
        if g.big_endian {
            "big-endian"
        } else {
            "little-endian"
        },
        g.name_len
    )
}

impl Format for Minix {
    fn name(&self) -> &'static str {
        "minix"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let g = geometry(data)?;
        let vol = Volume { g, d: data };
        // The root must be a directory: rejects chance matches of the short magic.
        let root = vol.inode(ROOT).ok()?;
        if FileType::of_mode(root.mode) != Some(FileType::Directory) || root.size == 0 {
            return None;
        }
        let g = &vol.g;
        Some(Probe {
            length: Some(g.total_bytes().min(data.len() as u64)),
            description: format!(
                "{}, {} inodes, {} zones of {} bytes",
                version_name(g),
                g.ninodes,
                g.zones,
                g.zone
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let g =
            geometry(data).ok_or_else(|| FormatError::Corrupt("bad Minix superblock".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", g.version);
        out.detail("byte_order", if g.big_endian { "big" } else { "little" });
        out.detail("name_length", g.name_len);
        out.detail("block_size", g.block);
        if g.total_bytes() > data.len() as u64 {
            out.warn(
                WarningKind::Truncated,
                format!(
                    "volume of {} bytes is cut to {} bytes",
                    g.total_bytes(),
                    data.len()
                ),
            );
        }
        let vol = Volume { g, d: data };
        let root = vol
            .inode(ROOT)
            .map_err(|e| FormatError::Corrupt(format!("root directory: {e}")))?;
        if FileType::of_mode(root.mode) != Some(FileType::Directory) {
            return Err(FormatError::Corrupt("root inode is not a directory".into()));
        }
        let mut visited = HashSet::new();
        let mut stack = vec![(ROOT, String::new(), 0usize)];
        while let Some((dir_ino, path, depth)) = stack.pop() {
            let shown = if path.is_empty() { "/" } else { &path };
            if !visited.insert(dir_ino) {
                out.warn(
                    WarningKind::Format,
                    format!("directory {shown} was already listed: a cycle"),
                );
                continue;
            }
            let dir = match vol.inode(dir_ino) {
                Ok(i) => i,
                Err(e) => {
                    out.warn(WarningKind::Format, format!("directory {shown}: {e}"));
                    continue;
                }
            };
            let (bytes, problem) = vol.read_small(&dir, MAX_DIR_BYTES, ctx);
            if let Some(p) = problem {
                out.warn(WarningKind::Format, format!("directory {shown}: {p}"));
            }
            let mut children = Vec::new();
            for e in bytes.chunks_exact(vol.g.dirent_size) {
                let n = if vol.g.version == 3 {
                    vol.g.u32(e, 0).unwrap_or(0)
                } else {
                    u32::from(vol.g.u16(e, 0).unwrap_or(0))
                };
                if n == 0 {
                    continue;
                }
                let off = if vol.g.version == 3 { 4 } else { 2 };
                let raw = &e[off..off + vol.g.name_len];
                let raw = &raw[..memchr::memchr(0, raw).unwrap_or(raw.len())];
                let name = String::from_utf8_lossy(raw).into_owned();
                if name == "." || name == ".." {
                    continue;
                }
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
                let ino = match vol.inode(n) {
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
                    || {
                        let (t, p) = vol.read_small(&ino, MAX_LINK, ctx);
                        if let Some(p) = p {
                            out.warn(WarningKind::Format, format!("{full}: {p}"));
                        }
                        String::from_utf8_lossy(&t).into_owned()
                    },
                    || linux_dev(ino.zones[0]),
                );
                let mut entry = Entry::fs(full.clone(), kind.clone())
                    .with_owner(ino.mode, ino.uid, ino.gid)
                    .with_mtime(ino.mtime);
                match kind {
                    EntryKind::File => {
                        let cap = ctx.stream_limit();
                        match vol.read(&ino, ino.size, cap, ctx) {
                            Ok((d, problem, cut)) => {
                                if cut {
                                    out.warn(
                                        WarningKind::Limit,
                                        format!("{full}: cut to {cap} of {} bytes", ino.size),
                                    );
                                }
                                if let Some(p) = problem {
                                    out.warn(WarningKind::Format, format!("{full}: {p}"));
                                }
                                entry = entry.with_data(d);
                            }
                            Err(e) => {
                                out.warn(e.kind(), format!("{full}: {e}"));
                                entry = entry.with_data(EntryData::None);
                            }
                        }
                    }
                    EntryKind::Directory => {
                        if depth + 1 >= MAX_DEPTH {
                            out.warn(
                                WarningKind::Limit,
                                format!("{full} is nested too deep; not walked"),
                            );
                        } else {
                            children.push((n, full, depth + 1));
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
    use crate::formats::testutil::unpack;

    const EXPECTED: &str = include_str!("../../tests/fixtures/filesystems/expected.txt");

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/filesystems/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        crate::formats::testutil::gunzip(&std::fs::read(&path).expect(&path))
    }

    const IMAGES: &[(&str, &str)] = &[
        (
            "minix-v1-14-le.img.gz",
            "Minix v1 little-endian, 14-character",
        ),
        ("minix-v1-30-be.img.gz", "Minix v1 big-endian, 30-character"),
        (
            "minix-v2-30-le.img.gz",
            "Minix v2 little-endian, 30-character",
        ),
        ("minix-v2-14-be.img.gz", "Minix v2 big-endian, 14-character"),
        ("minix-v3-le.img.gz", "Minix v3 little-endian, 60-character"),
        ("minix-v3-be.img.gz", "Minix v3 big-endian, 60-character"),
    ];

    #[test]
    fn every_version_and_byte_order() {
        for (name, desc) in IMAGES {
            let img = fixture(name);
            let p = Minix
                .probe(&img)
                .unwrap_or_else(|| panic!("{name}: no probe"));
            assert!(p.description.starts_with(desc), "{name}: {}", p.description);
            assert_eq!(p.length, Some(img.len() as u64), "{name}");
            let u = unpack(&Minix, &img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            // 14-character names cut the long names: those images list the short tree.
            let short = desc.contains("14-character");
            let expected: String = EXPECTED
                .lines()
                .filter(|l| !short || !l.contains("long"))
                .map(|l| format!("{l}\n"))
                .collect();
            check(
                name,
                &img,
                &u.entries,
                &expected,
                &Check {
                    extra: short,
                    ..Check::EXACT
                },
            );
        }
    }

    #[test]
    fn indirect_zones_and_times_are_read() {
        let img = fixture("minix-v2-30-le.img.gz");
        let u = unpack(&Minix, &img);
        let big = u
            .entries
            .iter()
            .find(|e| e.path == "/data/big.bin")
            .unwrap();
        assert!(matches!(&big.data, EntryData::Owned(b) if b.len() > 7 * 1024));
        assert_eq!(big.mtime, Some(1_600_000_000));
    }

    #[test]
    fn a_trailing_multi_gib_hole_is_walked_not_stored() {
        // The real v3 image with /data/sparse.bin's size raised to 3 GiB: every zone past its
        // last one is a hole, most of them under absent indirect blocks.
        let mut img = fixture("minix-v3-le.img.gz");
        let orig = unpack(&Minix, &img);
        let want = orig
            .entries
            .iter()
            .find(|e| e.path == "/data/sparse.bin")
            .and_then(|e| crate::formats::testutil::entry_bytes(&img, e))
            .unwrap();
        let g = geometry(&img).unwrap();
        let n = (1..=g.ninodes)
            .find(|&n| {
                let at = (g.inode_table + u64::from(n - 1) * g.inode_size) as usize;
                le32(&img, at + 8) == Some(want.len() as u32)
            })
            .unwrap();
        let at = (g.inode_table + u64::from(n - 1) * g.inode_size) as usize;
        img[at + 8..at + 12].copy_from_slice(&(3u32 << 30).to_le_bytes());
        let started = std::time::Instant::now();
        let u = unpack(&Minix, &img);
        let took = started.elapsed();
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let e = u
            .entries
            .iter()
            .find(|e| e.path == "/data/sparse.bin")
            .unwrap();
        let EntryData::Sparse { data, length } = &e.data else {
            panic!("not sparse: {:?}", e.data);
        };
        assert_eq!(*length, 3 << 30);
        assert_eq!(&data[..want.len()], &want[..]);
        assert!(data[want.len()..].iter().all(|&b| b == 0) && data.len() < want.len() + 1024);
    }

    #[test]
    fn a_chance_magic_is_refused() {
        let mut d = vec![0u8; 8192];
        d[SB + 16..SB + 18].copy_from_slice(&0x138fu16.to_le_bytes());
        assert!(Minix.probe(&d).is_none());
    }

    #[test]
    fn hostile_input() {
        for (name, _) in IMAGES {
            hostile_with(&Minix, &fixture(name), &Hostile::disk());
        }
    }
}
