//! FAT12, FAT16 and FAT32 file systems with VFAT long file names.
//!
//! Own read-only reader: `fatfs` wants a `Read + Write + Seek` device and trusts cluster chains
//! (loops and out-of-range clusters are the normal hostile case), and `hadris-fat` is between
//! a 2.x line and an unstable 3.0 API. The format itself is small: a BPB, the FAT, and 32-byte
//! directory entries.

use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// A FAT file system (the boot sector is at offset 0).
pub struct Fat;

/// The boot sector's file-system type field, which is informational only: formatters pad it
/// with spaces (`FAT16   `) or NULs (`FAT16\0\0\0`), so only its first five bytes are
/// matched, and the variant is decided from the geometry, never from this text.
static MAGICS: &[Magic] = &[
    Magic::at(b"FAT12", 54),
    Magic::at(b"FAT16", 54),
    Magic::at(b"FAT  ", 54),
    Magic::at(b"FAT32", 82),
];

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;
/// A FAT directory holds at most 65536 entries of 32 bytes.
const MAX_DIR_BYTES: u64 = 65536 * 32;

const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_LFN: u8 = 0x0f;

/// Which FAT variant: FAT32 by its BPB layout (no 16-bit FAT size, no fixed root directory),
/// as Linux decides it, even with few clusters; FAT12 or FAT16 by cluster count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Fat12,
    Fat16,
    Fat32,
}

/// The boot sector's geometry, checked.
#[derive(Debug, Clone)]
struct Geometry {
    variant: Variant,
    cluster_size: u64,
    fat_offset: u64,
    root_offset: u64,
    root_entries: u64,
    data_offset: u64,
    clusters: u32,
    root_cluster: u32,
    total_bytes: u64,
}

fn geometry(data: &[u8]) -> Option<Geometry> {
    let b = data.get(..512)?;
    if !(b[0] == 0xeb || b[0] == 0xe9) || b.get(510..512)? != b"\x55\xaa" {
        return None;
    }
    let bps = u64::from(le16(b, 11)?);
    if !matches!(bps, 512 | 1024 | 2048 | 4096) {
        return None;
    }
    let spc = u64::from(b[13]);
    if spc == 0 || !spc.is_power_of_two() {
        return None;
    }
    let reserved = u64::from(le16(b, 14)?);
    let fats = u64::from(b[16]);
    let root_entries = u64::from(le16(b, 17)?);
    let media = b[21];
    if reserved == 0 || !(1..=2).contains(&fats) || !(media == 0xf0 || media >= 0xf8) {
        return None;
    }
    let total = match le16(b, 19)? {
        0 => u64::from(le32(b, 32)?),
        n => u64::from(n),
    };
    let fat_sectors = match le16(b, 22)? {
        0 => u64::from(le32(b, 36)?),
        n => u64::from(n),
    };
    if total == 0 || fat_sectors == 0 {
        return None;
    }
    // A FAT32 BPB has no 16-bit FAT size and no fixed root directory. Linux reads such a
    // volume as FAT32 whatever its cluster count (mkfs.fat makes them with a warning), so
    // the cluster count decides only between FAT12 and FAT16.
    let fat32_bpb = le16(b, 22)? == 0 && root_entries == 0;
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let meta = reserved + fats * fat_sectors + root_sectors;
    let data_sectors = total.checked_sub(meta)?;
    let clusters = data_sectors / spc;
    let variant = if fat32_bpb {
        Variant::Fat32
    } else if clusters < 4085 {
        Variant::Fat12
    } else if clusters < 65525 {
        Variant::Fat16
    } else {
        // A 16-bit FAT size or a fixed root directory with FAT32's cluster count: not a
        // layout any formatter writes.
        return None;
    };
    let root_cluster = if variant == Variant::Fat32 {
        // FAT32 version 0.0.
        if le16(b, 42)? != 0 {
            return None;
        }
        le32(b, 44)?
    } else {
        if root_entries == 0 {
            return None;
        }
        0
    };
    // The FAT must hold an entry for every cluster.
    let bits = match variant {
        Variant::Fat12 => 12,
        Variant::Fat16 => 16,
        Variant::Fat32 => 32,
    };
    if (clusters + 2) * bits > fat_sectors * bps * 8 {
        return None;
    }
    Some(Geometry {
        variant,
        cluster_size: spc * bps,
        fat_offset: reserved * bps,
        root_offset: (reserved + fats * fat_sectors) * bps,
        root_entries,
        data_offset: meta * bps,
        clusters: u32::try_from(clusters).ok()?,
        root_cluster,
        total_bytes: total.checked_mul(bps)?,
    })
}

/// A FAT volume being read: geometry plus the bytes.
struct Volume<'a> {
    g: Geometry,
    data: &'a [u8],
}

/// A chain of clusters and why it stopped, if it stopped early.
struct Chain {
    clusters: Vec<u32>,
    problem: Option<String>,
}

impl Volume<'_> {
    /// The FAT entry for `cluster` (from the first FAT).
    fn next(&self, cluster: u32) -> Option<u32> {
        let fat = usize::try_from(self.g.fat_offset).ok()?;
        let c = cluster as usize;
        match self.g.variant {
            Variant::Fat12 => {
                let v = le16(self.data, fat + c + c / 2)?;
                Some(u32::from(if c % 2 == 1 { v >> 4 } else { v & 0xfff }))
            }
            Variant::Fat16 => le16(self.data, fat + c * 2).map(u32::from),
            Variant::Fat32 => le32(self.data, fat + c * 4).map(|v| v & 0x0fff_ffff),
        }
    }

    fn is_end(&self, v: u32) -> bool {
        match self.g.variant {
            Variant::Fat12 => v >= 0xff8,
            Variant::Fat16 => v >= 0xfff8,
            Variant::Fat32 => v >= 0x0fff_fff8,
        }
    }

    fn valid(&self, c: u32) -> bool {
        c >= 2 && c < self.g.clusters.saturating_add(2)
    }

    /// Follow the chain from `start` for at most `max` clusters, stopping at loops, free or
    /// out-of-range clusters.
    fn chain(&self, start: u32, max: u64) -> Chain {
        let mut clusters = Vec::new();
        let mut seen = HashSet::new();
        let mut c = start;
        loop {
            if clusters.len() as u64 >= max {
                return Chain {
                    clusters,
                    problem: None,
                };
            }
            if !self.valid(c) {
                return Chain {
                    clusters,
                    problem: Some(format!("cluster {c} is out of range")),
                };
            }
            if !seen.insert(c) {
                return Chain {
                    clusters,
                    problem: Some(format!("cluster chain loops at {c}")),
                };
            }
            clusters.push(c);
            match self.next(c) {
                Some(n) if self.is_end(n) => {
                    return Chain {
                        clusters,
                        problem: None,
                    }
                }
                Some(0) => {
                    return Chain {
                        clusters,
                        problem: Some(format!("chain reaches free cluster after {c}")),
                    }
                }
                Some(n) => c = n,
                None => {
                    return Chain {
                        clusters,
                        problem: Some("FAT is cut short".into()),
                    }
                }
            }
        }
    }

    fn cluster_offset(&self, c: u32) -> u64 {
        self.g.data_offset + u64::from(c - 2) * self.g.cluster_size
    }

    /// The bytes of `len` bytes along a chain, or the zero-copy range when the chain is
    /// contiguous; the second value tells how many bytes are missing.
    /// The bytes of a file: its data, how many of its `len` bytes are missing, and whether
    /// the scan's budget refused them (else the chain or the image is short).
    fn gather(&self, chain: &[u32], len: u64, ctx: &UnpackContext) -> (EntryData, u64, bool) {
        let contiguous = chain.windows(2).all(|w| w[1] == w[0] + 1);
        let have = (chain.len() as u64 * self.g.cluster_size).min(len);
        if let (true, Some(&first)) = (contiguous, chain.first()) {
            let offset = self.cluster_offset(first);
            let avail = (self.data.len() as u64).saturating_sub(offset).min(have);
            return (
                EntryData::Range {
                    // A chain past the end of a cut image keeps no bytes; its empty range
                    // must still lie inside the container.
                    offset: offset.min(self.data.len() as u64),
                    length: avail,
                },
                len - avail,
                false,
            );
        }
        if have == 0 {
            return (EntryData::None, len, false);
        }
        if ctx.charge(have).is_err() {
            return (EntryData::None, len, true);
        }
        let mut out = Vec::with_capacity(have as usize);
        for &c in chain {
            let off = self.cluster_offset(c) as usize;
            let take = (have - out.len() as u64).min(self.g.cluster_size) as usize;
            match self.data.get(off..off.saturating_add(take)) {
                Some(s) => out.extend_from_slice(s),
                None => break,
            }
        }
        let missing = len - out.len() as u64;
        (EntryData::Owned(Blob::from(out)), missing, false)
    }

    /// The raw bytes of a directory: the fixed root region or a cluster chain.
    fn dir_bytes(&self, start: u32, out: &mut Unpacked, path: &str) -> Vec<u8> {
        if start == 0 {
            let off = self.g.root_offset as usize;
            let len = (self.g.root_entries * 32) as usize;
            let end = off.saturating_add(len).min(self.data.len());
            return self.data.get(off..end).unwrap_or_default().to_vec();
        }
        let chain = self.chain(start, MAX_DIR_BYTES / self.g.cluster_size + 1);
        if let Some(p) = chain.problem {
            out.warn(WarningKind::Format, format!("directory {path}: {p}"));
        }
        let mut bytes = Vec::new();
        for c in chain.clusters {
            let off = self.cluster_offset(c) as usize;
            let end = off.saturating_add(self.g.cluster_size as usize);
            match self.data.get(off..end) {
                Some(s) => bytes.extend_from_slice(s),
                None => {
                    out.warn(
                        WarningKind::Truncated,
                        format!("directory {path} runs past the end of the image"),
                    );
                    break;
                }
            }
        }
        bytes
    }
}

/// The checksum of an 8.3 name that long-name entries carry.
fn lfn_checksum(short: &[u8]) -> u8 {
    short
        .iter()
        .fold(0u8, |s, &c| s.rotate_right(1).wrapping_add(c))
}

/// The 8.3 name as stored, with the NT lower-case flags applied.
fn short_name(e: &[u8]) -> String {
    let mut base: Vec<u8> = e[..8].to_vec();
    if base[0] == 0x05 {
        base[0] = 0xe5;
    }
    let flags = e[12];
    let trim = |v: &[u8], lower: bool| -> String {
        let s: String = v
            .iter()
            .map(|&c| if c < 0x80 { c as char } else { '\u{fffd}' })
            .collect::<String>()
            .trim_end_matches(' ')
            .to_string();
        if lower {
            s.to_ascii_lowercase()
        } else {
            s
        }
    };
    let name = trim(&base, flags & 0x08 != 0);
    let ext = trim(&e[8..11], flags & 0x10 != 0);
    if ext.is_empty() {
        name
    } else {
        format!("{name}.{ext}")
    }
}

impl Format for Fat {
    fn name(&self) -> &'static str {
        "fat"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let g = geometry(data)?;
        let label = match g.variant {
            Variant::Fat32 => crate::cursor::cstr(data.get(71..82)?),
            _ => crate::cursor::cstr(data.get(43..54)?),
        };
        Some(Probe {
            length: Some(g.total_bytes.min(data.len() as u64)),
            description: format!(
                "{:?}, {} clusters of {} bytes, label {:?}",
                g.variant,
                g.clusters,
                g.cluster_size,
                label.trim_end()
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let g = geometry(data).ok_or_else(|| FormatError::Corrupt("bad FAT boot sector".into()))?;
        let mut out = Unpacked::default();
        out.detail("variant", format!("{:?}", g.variant));
        out.detail("cluster_size", g.cluster_size);
        if g.total_bytes > data.len() as u64 {
            out.warn(
                WarningKind::Truncated,
                format!(
                    "volume of {} bytes is cut to {} bytes",
                    g.total_bytes,
                    data.len()
                ),
            );
        }
        let vol = Volume { g, data };
        let root = if vol.g.variant == Variant::Fat32 {
            vol.g.root_cluster
        } else {
            0
        };
        let mut visited = HashSet::new();
        let mut stack = vec![(root, String::new(), 0usize)];
        while let Some((start, path, depth)) = stack.pop() {
            if !visited.insert(start) {
                out.warn(
                    WarningKind::Format,
                    format!("directory {path} was already listed: a cycle"),
                );
                continue;
            }
            let bytes = vol.dir_bytes(start, &mut out, if path.is_empty() { "/" } else { &path });
            let mut lfn: Vec<(u8, u8, [u16; 13])> = Vec::new();
            let mut children = Vec::new();
            for e in bytes.chunks_exact(32) {
                if e[0] == 0 {
                    break;
                }
                if e[0] == 0xe5 {
                    lfn.clear();
                    continue;
                }
                let attr = e[11];
                if attr & 0x3f == ATTR_LFN {
                    let mut part = [0u16; 13];
                    let idx = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
                    for (k, &o) in idx.iter().enumerate() {
                        part[k] = u16::from_le_bytes([e[o], e[o + 1]]);
                    }
                    if e[0] & 0x40 != 0 {
                        lfn.clear();
                    }
                    lfn.push((e[0] & 0x1f, e[13], part));
                    continue;
                }
                if attr & ATTR_VOLUME != 0 {
                    lfn.clear();
                    continue;
                }
                let short = short_name(e);
                let long = long_name(&lfn, e);
                lfn.clear();
                let name = long.unwrap_or(short);
                if name == "." || name == ".." || name.is_empty() || name.contains('/') {
                    continue;
                }
                if out.entries.len() >= ctx.max_entries() {
                    out.warn(WarningKind::Limit, "too many entries; the rest are ignored");
                    return Ok(out);
                }
                let full = format!("{path}/{name}");
                let hi = if vol.g.variant == Variant::Fat32 {
                    u32::from(le16(e, 20).unwrap_or(0))
                } else {
                    0
                };
                let cluster = hi << 16 | u32::from(le16(e, 26).unwrap_or(0));
                let size = u64::from(le32(e, 28).unwrap_or(0));
                // Last write time, MS-DOS fields (no time zone; read as UTC).
                let mtime =
                    assay_model::time::from_dos(le16(e, 24).unwrap_or(0), le16(e, 22).unwrap_or(0));
                if attr & ATTR_DIRECTORY != 0 {
                    let mut dir = Entry::fs(full.clone(), EntryKind::Directory)
                        .with_detail("attributes", format!("{attr:#04x}"));
                    dir.mtime = mtime;
                    out.entries.push(dir);
                    if depth + 1 >= MAX_DEPTH {
                        out.warn(
                            WarningKind::Limit,
                            format!("{full} is nested too deep; not walked"),
                        );
                    } else if cluster != 0 {
                        children.push((cluster, full, depth + 1));
                    }
                    continue;
                }
                let mut entry = Entry::fs(full.clone(), EntryKind::File)
                    .with_detail("attributes", format!("{attr:#04x}"));
                entry.mtime = mtime;
                if size > 0 {
                    let want = size.min(ctx.stream_limit());
                    let chain = vol.chain(cluster, want.div_ceil(vol.g.cluster_size));
                    if let Some(p) = chain.problem {
                        out.warn(WarningKind::Format, format!("{full}: {p}"));
                    }
                    let (data, missing, refused) = vol.gather(&chain.clusters, want, ctx);
                    if missing > 0 {
                        let kind = if refused {
                            WarningKind::Limit
                        } else {
                            WarningKind::Format
                        };
                        out.warn(kind, format!("{full}: {missing} of {size} bytes missing"));
                    }
                    entry = entry.with_data(data);
                } else {
                    entry = entry.with_data(EntryData::Owned(Blob::from(Vec::new())));
                }
                out.entries.push(entry);
            }
            stack.extend(children.into_iter().rev());
        }
        Ok(out)
    }
}

/// The long name spelled by the LFN entries before a short entry, if they are complete and
/// their checksum matches the short name.
fn long_name(parts: &[(u8, u8, [u16; 13])], short: &[u8]) -> Option<String> {
    if parts.is_empty() {
        return None;
    }
    let sum = lfn_checksum(short.get(..11)?);
    if parts.iter().any(|(_, s, _)| *s != sum) {
        return None;
    }
    // Entries are stored last-part-first, numbered n..1.
    let n = parts.len();
    for (i, (seq, _, _)) in parts.iter().enumerate() {
        if usize::from(*seq) != n - i {
            return None;
        }
    }
    let units: Vec<u16> = parts
        .iter()
        .rev()
        .flat_map(|(_, _, p)| p.iter().copied())
        .take_while(|&u| u != 0)
        .collect();
    let name = String::from_utf16_lossy(&units);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::gunzip;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{self, Check, Devices, DISKS};
    use crate::formats::testutil::unpack;

    const FAT12: &[u8] = include_bytes!("../../tests/fixtures/disks/fat12.img");

    fn check(img: &[u8], variant: &str) {
        let p = Fat.probe(img).unwrap();
        // mkfs.vfat rounds the volume down to whole tracks.
        assert!(p.length.unwrap() + 64 * 512 > img.len() as u64);
        assert!(p.description.starts_with(variant), "{}", p.description);
        let u = unpack(&Fat, img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        manifest::check(
            "fat",
            img,
            &u.entries,
            DISKS,
            &Check {
                modes: false,
                symlinks: false,
                devices: Devices::Absent,
                ..Check::DISK
            },
        );
    }

    #[test]
    fn fat12_tree_matches() {
        check(FAT12, "Fat12");
    }

    #[test]
    fn fat16_tree_matches() {
        check(
            &gunzip(include_bytes!("../../tests/fixtures/disks/fat16.img.gz")),
            "Fat16",
        );
    }

    const FS: &str = include_str!("../../tests/fixtures/filesystems/expected.txt");

    /// The files and directories of the filesystems tree (FAT keeps no links or devices).
    fn fs_tree() -> String {
        FS.lines()
            .filter(|l| l.starts_with("f ") || l.starts_with("d "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn fat16_with_zero_heads_and_nul_padded_type() {
        let img = gunzip(include_bytes!(
            "../../tests/fixtures/filesystems/fat16-noheads.img.gz"
        ));
        assert_eq!(&img[0x36..0x3e], b"FAT16\0\0\0");
        assert_eq!(le16(&img, 0x1a), Some(0));
        let p = Fat.probe(&img).expect("probe");
        assert!(p.description.starts_with("Fat16"), "{}", p.description);
        let u = unpack(&Fat, &img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        manifest::check(
            "fat16-noheads",
            &img,
            &u.entries,
            &fs_tree(),
            &Check {
                modes: false,
                ..Check::EXACT
            },
        );
    }

    #[test]
    fn fat32_with_few_clusters() {
        let img = gunzip(include_bytes!(
            "../../tests/fixtures/filesystems/fat32-small.img.gz"
        ));
        let p = Fat.probe(&img).expect("probe");
        assert!(
            p.description.starts_with("Fat32, 2804 clusters"),
            "{}",
            p.description
        );
        let u = unpack(&Fat, &img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        // 8.3 names in upper case, written by fixtures/scripts/fat_add.py.
        let want: Vec<String> = ["/BIN/TOOL", "/DATA/BIG.BIN", "/ETC/PASSWD"]
            .iter()
            .map(|p| {
                let line = FS
                    .lines()
                    .find(|l| l.split(' ').nth(2) == Some(&p.to_lowercase()))
                    .unwrap();
                format!("{p} {}", line.rsplit(' ').next().unwrap())
            })
            .collect();
        let mut got: Vec<String> = u
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| {
                let bytes = crate::formats::testutil::entry_bytes(&img, e).unwrap();
                format!("{} {}", e.path, crate::formats::testutil::sha_hex(&bytes))
            })
            .collect();
        got.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn hostile_input() {
        hostile_with(&Fat, FAT12, &Hostile::disk());
        hostile_with(
            &Fat,
            &gunzip(include_bytes!("../../tests/fixtures/disks/fat16.img.gz")),
            &Hostile::disk(),
        );
    }
}
