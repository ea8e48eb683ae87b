//! YAFFS2, the log-structured NAND filesystem of Android-era and many set-top/router boards.
//!
//! Our own reader: no crate reads YAFFS2. The image is a run of chunks (NAND pages), each with
//! "packed tags 2" (sequence number, object id, chunk id, byte count) in the page's spare area
//! (OOB) — at its start or after a 2-byte bad-block marker — or, on flash without OOB, in-band
//! in the page's last 16 bytes. Chunk 0 of an object is its header (type, parent, name, mode,
//! owner, size, symlink alias, hard-link target, device numbers); chunks 1.. hold its data. The
//! newest copy (sequence, then position) of every header and data chunk wins; objects whose
//! newest header sits in the unlinked or deleted pseudo-directories are gone.
//!
//! YAFFS2 has no superblock: the page and spare sizes, the tag layout and the byte order are
//! found by checking where the first chunk's tags lie. Images are recognised by the first object
//! header (a file or directory in the root: type, parent 1, the unused name checksum 0xFFFF),
//! as binwalk and unblob do. The fixtures are written by a documented generator
//! (`fixtures/scripts/yaffs2.sh`) because Debian has no YAFFS2 image maker; binwalk's test
//! image is the real-world check.

use crate::cursor::{cstr, Endian};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A YAFFS2 image in either byte order, with or without OOB.
pub struct Yaffs2;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x03\x00\x00\x00\x01\x00\x00\x00\xff\xff"),
    Magic::at_start(b"\x01\x00\x00\x00\x01\x00\x00\x00\xff\xff"),
    Magic::at_start(b"\x00\x00\x00\x03\x00\x00\x00\x01\xff\xff"),
    Magic::at_start(b"\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff"),
];

/// NAND page sizes that carry YAFFS2.
const PAGES: &[usize] = &[512, 1024, 2048, 4096, 8192, 16384];
/// Spare (OOB) sizes of NAND parts: tried after the classic page/32 for each page size, since
/// many parts have another (4096-byte pages with 32, 64, 128, 218, 224 or 256 spare bytes;
/// 8192 with 436, 448, 640 or 744).
const SPARES: &[usize] = &[
    16, 32, 64, 128, 218, 224, 232, 256, 376, 436, 448, 512, 640, 744, 1024, 1216, 1280,
];
const TAGS_LEN: usize = 16;
const LOWEST_SEQ: u32 = 0x1000;
const HIGHEST_SEQ: u32 = 0xefff_ff00;
const MAX_OBJ_ID: u32 = 0x0400_0000;
const HEADER_FLAG: u32 = 0x8000_0000;
const ROOT: u32 = 1;
const LOST_AND_FOUND: u32 = 2;
const UNLINKED: u32 = 3;
const DELETED: u32 = 4;
/// Consecutive chunks with invalid tags after which the scan stops (end of the partition).
const GARBAGE_CHUNKS: usize = 64;
const MAX_DEPTH: usize = 256;

const TYPE_FILE: u32 = 1;
const TYPE_SYMLINK: u32 = 2;
const TYPE_DIR: u32 = 3;
const TYPE_HARDLINK: u32 = 4;
const TYPE_SPECIAL: u32 = 5;

/// Where a chunk's tags are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagPlace {
    /// In the spare area, this many bytes in.
    Oob(usize),
    /// In the last 16 bytes of the page (no OOB).
    Inband,
}

/// The layout of one image.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    page: usize,
    spare: usize,
    tags: TagPlace,
    endian: Endian,
}

impl Geometry {
    fn stride(&self) -> usize {
        self.page + self.spare
    }
    /// Data bytes one chunk holds.
    fn data_per_chunk(&self) -> usize {
        match self.tags {
            TagPlace::Oob(_) => self.page,
            TagPlace::Inband => self.page - TAGS_LEN,
        }
    }
    fn tags_at(&self, chunk_start: usize) -> usize {
        match self.tags {
            TagPlace::Oob(off) => chunk_start + self.page + off,
            TagPlace::Inband => chunk_start + self.page - TAGS_LEN,
        }
    }
}

fn rd32(d: &[u8], off: usize, e: Endian) -> Option<u32> {
    let b: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    })
}

/// Packed tags of one chunk.
#[derive(Debug, Clone, Copy)]
struct Tags {
    seq: u32,
    obj: u32,
    chunk: u32,
    n_bytes: u32,
    header: bool,
}

fn read_tags(d: &[u8], at: usize, e: Endian) -> Option<Tags> {
    let seq = rd32(d, at, e)?;
    let raw_obj = rd32(d, at + 4, e)?;
    let raw_chunk = rd32(d, at + 8, e)?;
    let n_bytes = rd32(d, at + 12, e)?;
    let header = raw_chunk == 0 || raw_chunk & HEADER_FLAG != 0;
    let obj = if raw_chunk & HEADER_FLAG != 0 {
        raw_obj & 0x0fff_ffff
    } else {
        raw_obj
    };
    Some(Tags {
        seq,
        obj,
        chunk: if header { 0 } else { raw_chunk },
        n_bytes,
        header,
    })
}

fn plausible(t: &Tags, dpc: usize) -> bool {
    (LOWEST_SEQ..=HIGHEST_SEQ).contains(&t.seq)
        && t.obj > 0
        && t.obj < MAX_OBJ_ID
        && (t.header || (t.chunk < 0x0100_0000 && t.n_bytes as usize <= dpc))
}

/// A parsed object header.
#[derive(Debug, Clone)]
struct ObjHeader {
    otype: u32,
    parent: u32,
    name: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    size: u64,
    equiv: u32,
    alias: String,
    rdev: u32,
}

fn parse_header(p: &[u8], e: Endian) -> Option<ObjHeader> {
    let otype = rd32(p, 0, e)?;
    if !(1..=5).contains(&otype) || p.get(8..10)? != [0xff, 0xff] {
        return None;
    }
    let name_field = p.get(10..266)?;
    let end = name_field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_field.len());
    let alias_field = p.get(300..460)?;
    let alias_end = alias_field
        .iter()
        .position(|&b| b == 0 || b == 0xff)
        .unwrap_or(alias_field.len());
    let low = rd32(p, 292, e)?;
    let high = rd32(p, 496, e).unwrap_or(0xffff_ffff);
    let size = if high != 0xffff_ffff {
        (u64::from(high) << 32) | u64::from(low)
    } else if low != 0xffff_ffff {
        u64::from(low)
    } else {
        0
    };
    Some(ObjHeader {
        otype,
        parent: rd32(p, 4, e)?,
        name: name_field[..end].to_vec(),
        mode: rd32(p, 268, e)?,
        uid: rd32(p, 272, e)?,
        gid: rd32(p, 276, e)?,
        mtime: rd32(p, 284, e)?,
        size,
        equiv: rd32(p, 296, e)?,
        alias: cstr(&alias_field[..alias_end]),
        rdev: rd32(p, 460, e)?,
    })
}

/// Find the geometry: the first chunk is an object header whose tags say so.
fn detect(d: &[u8]) -> Option<Geometry> {
    let endian = match d.get(..4)? {
        [_, 0, 0, 0] => Endian::Little,
        [0, 0, 0, _] => Endian::Big,
        _ => return None,
    };
    // The classic page/32 spare first (what most images use), then every other spare size;
    // those must also show the second chunk in the same or the next erase block (its
    // sequence number equal or one more), which a wrong stride does not.
    let mut candidates = Vec::new();
    for &page in PAGES {
        let classic = page / 32;
        for spare in
            std::iter::once(classic).chain(SPARES.iter().copied().filter(|&s| s != classic))
        {
            for off in [0usize, 2] {
                if spare >= off + TAGS_LEN && spare <= page / 2 {
                    candidates.push((
                        Geometry {
                            page,
                            spare,
                            tags: TagPlace::Oob(off),
                            endian,
                        },
                        spare != classic,
                    ));
                }
            }
        }
    }
    for &page in PAGES {
        candidates.push((
            Geometry {
                page,
                spare: 0,
                tags: TagPlace::Inband,
                endian,
            },
            false,
        ));
    }
    candidates.into_iter().find_map(|(g, strict)| {
        let g = &g;
        let t = read_tags(d, g.tags_at(0), endian)?;
        if !t.header || !plausible(&t, g.data_per_chunk()) {
            return None;
        }
        if t.obj <= DELETED {
            return None;
        }
        // The header agrees with its tags' extra type field, when present.
        if let Some(raw_chunk) = rd32(d, g.tags_at(0) + 8, endian) {
            let raw_obj = rd32(d, g.tags_at(0) + 4, endian).unwrap_or(0);
            if raw_chunk & HEADER_FLAG != 0 && rd32(d, 0, endian) != Some(raw_obj >> 28) {
                return None;
            }
        }
        // Like binwalk, ask for a second object or data chunk with plausible tags.
        read_tags(d, g.tags_at(g.stride()), endian)
            .is_some_and(|n| {
                plausible(&n, g.data_per_chunk())
                    && (!strict || (n.seq >= t.seq && n.seq - t.seq <= 1))
            })
            .then_some(*g)
    })
}

impl Format for Yaffs2 {
    fn name(&self) -> &'static str {
        "yaffs2"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let g = detect(data)?;
        let h = parse_header(data, g.endian)?;
        // The first header names a root entry: a real name, and a mode of its own type.
        let name_ok = std::str::from_utf8(&h.name)
            .is_ok_and(|n| !n.is_empty() && !n.contains('/') && !n.chars().any(char::is_control));
        let mode_ok = match h.otype {
            TYPE_FILE => FileType::of_mode(h.mode) == Some(FileType::Regular),
            TYPE_DIR => FileType::of_mode(h.mode) == Some(FileType::Directory),
            _ => false,
        };
        if !name_ok || !mode_ok {
            return None;
        }
        Some(Probe {
            length: None,
            description: format!("yaffs2 {}", describe(&g)),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let g =
            detect(d).ok_or_else(|| FormatError::Corrupt("no YAFFS2 chunk layout found".into()))?;
        let mut out = Unpacked::default();
        out.detail("geometry", describe(&g));
        let scan = scan(d, &g);
        if scan.headers.is_empty() {
            return Err(FormatError::Corrupt("no YAFFS2 object header".into()));
        }
        out.consumed = Some(scan.end as u64);
        out.detail("chunks", scan.chunks);
        build(d, &g, &scan, ctx, &mut out)?;
        Ok(out)
    }
}

fn describe(g: &Geometry) -> String {
    let e = if g.endian == Endian::Little {
        "little"
    } else {
        "big"
    };
    match g.tags {
        TagPlace::Oob(off) => format!(
            "{e}-endian, page {} + spare {} (tags at {off})",
            g.page, g.spare
        ),
        TagPlace::Inband => format!("{e}-endian, page {} without OOB (in-band tags)", g.page),
    }
}

/// Which copy of a chunk is newer: (sequence number, position in the image).
type Age = (u32, usize);

/// The newest copy of one data chunk: its age, where its data starts, how many bytes it holds.
#[derive(Debug, Clone, Copy)]
struct DataChunk {
    age: Age,
    at: usize,
    n_bytes: usize,
}

/// The newest header and data chunks, found by one pass over the image.
#[derive(Default)]
struct Scan {
    /// Object id → newest header.
    headers: HashMap<u32, (Age, ObjHeader)>,
    /// (object, chunk id) → newest data chunk.
    data: HashMap<(u32, u32), DataChunk>,
    end: usize,
    chunks: usize,
}

fn scan(d: &[u8], g: &Geometry) -> Scan {
    let mut s = Scan::default();
    let stride = g.stride();
    let dpc = g.data_per_chunk();
    let mut garbage = 0usize;
    let mut index = 0usize;
    loop {
        let start = index * stride;
        let Some(chunk) = d.get(start..start + stride) else {
            break;
        };
        index += 1;
        let tags = read_tags(d, g.tags_at(start), g.endian);
        let Some(t) = tags.filter(|t| plausible(t, dpc)) else {
            if chunk.iter().all(|&b| b == 0xff) {
                continue;
            }
            garbage += 1;
            if garbage > GARBAGE_CHUNKS {
                break;
            }
            continue;
        };
        let key = (t.seq, index);
        if t.header {
            let Some(h) = parse_header(&chunk[..dpc], g.endian) else {
                garbage += 1;
                continue;
            };
            if s.headers.get(&t.obj).is_none_or(|(k, _)| *k < key) {
                s.headers.insert(t.obj, (key, h));
            }
        } else {
            let slot = s.data.get(&(t.obj, t.chunk));
            if slot.is_none_or(|c| c.age < key) {
                let c = DataChunk {
                    age: key,
                    at: start,
                    n_bytes: t.n_bytes as usize,
                };
                s.data.insert((t.obj, t.chunk), c);
            }
        }
        garbage = 0;
        s.chunks += 1;
        s.end = index * stride;
    }
    // Trailing erased chunks belong to the image (the rest of the last block).
    while let Some(chunk) = d.get(s.end..s.end + stride) {
        if !chunk.iter().all(|&b| b == 0xff) {
            break;
        }
        s.end += stride;
    }
    s
}

fn build(
    d: &[u8],
    g: &Geometry,
    s: &Scan,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> Result<(), FormatError> {
    // Live objects: not the pseudo-directories, not unlinked or deleted.
    let live: BTreeMap<u32, &ObjHeader> = s
        .headers
        .iter()
        .filter(|(id, (_, h))| **id > DELETED && h.parent != UNLINKED && h.parent != DELETED)
        .map(|(id, (_, h))| (*id, h))
        .collect();
    let mut children: BTreeMap<u32, Vec<(&[u8], u32)>> = BTreeMap::new();
    for (id, h) in &live {
        children.entry(h.parent).or_default().push((&h.name, *id));
    }
    for list in children.values_mut() {
        list.sort();
    }
    // Walk from the root (and lost+found) to give every reachable object a path.
    let mut order: Vec<(u32, String)> = Vec::new();
    let mut paths: HashMap<u32, String> = HashMap::new();
    let mut visited: HashSet<u32> = HashSet::new();
    let mut stack: Vec<(u32, String, usize)> = vec![(ROOT, String::new(), 0)];
    if children.contains_key(&LOST_AND_FOUND) {
        stack.insert(0, (LOST_AND_FOUND, "/lost+found".into(), 1));
        out.entries
            .push(Entry::fs("/lost+found", EntryKind::Directory));
    }
    let mut bad_names = 0usize;
    while let Some((dir, dir_path, depth)) = stack.pop() {
        if !visited.insert(dir) {
            continue;
        }
        let Some(list) = children.get(&dir) else {
            continue;
        };
        let mut subdirs = Vec::new();
        for (name, id) in list {
            if name.is_empty() || *name == b"." || *name == b".." || name.contains(&b'/') {
                bad_names += 1;
                continue;
            }
            if paths.contains_key(id) {
                continue;
            }
            let path = format!("{dir_path}/{}", String::from_utf8_lossy(name));
            paths.insert(*id, path.clone());
            order.push((*id, path.clone()));
            if live.get(id).is_some_and(|h| h.otype == TYPE_DIR) {
                if depth + 1 < MAX_DEPTH {
                    subdirs.push((*id, path, depth + 1));
                } else {
                    out.warn(
                        WarningKind::Limit,
                        format!("{path}: deeper than {MAX_DEPTH} levels; not entered"),
                    );
                }
            }
        }
        subdirs.reverse();
        stack.extend(subdirs);
    }
    if bad_names > 0 {
        out.warn(
            WarningKind::Format,
            format!("{bad_names} objects with invalid names skipped"),
        );
    }
    let unreachable = live.len().saturating_sub(order.len());
    if unreachable > 0 {
        out.warn(
            WarningKind::Format,
            format!(
                "{unreachable} objects are not reachable from the root (missing parent or loop)"
            ),
        );
    }
    let dpc = g.data_per_chunk();
    for (id, path) in order {
        if out.entries.len() >= ctx.max_entries() {
            out.warn(
                WarningKind::Limit,
                format!(
                    "more than {} entries; the rest is not listed",
                    ctx.max_entries()
                ),
            );
            break;
        }
        let Some(h) = live.get(&id) else { continue };
        let mut owner = *h;
        let entry = match h.otype {
            TYPE_DIR => Entry::fs(&path, EntryKind::Directory),
            TYPE_SYMLINK => Entry::fs(&path, EntryKind::Symlink(h.alias.clone())),
            TYPE_HARDLINK => match (paths.get(&h.equiv), live.get(&h.equiv)) {
                (Some(target), Some(t)) => {
                    owner = t;
                    Entry::fs(&path, EntryKind::Hardlink(target.clone()))
                }
                _ => {
                    out.warn(
                        WarningKind::Format,
                        format!("{path}: hard link to missing object {}", h.equiv),
                    );
                    continue;
                }
            },
            TYPE_SPECIAL => match FileType::of_mode(h.mode) {
                Some(
                    t @ (FileType::CharDevice
                    | FileType::BlockDevice
                    | FileType::Fifo
                    | FileType::Socket),
                ) => Entry::fs(
                    &path,
                    t.entry_kind(String::new, || {
                        (
                            (h.rdev >> 8) & 0xfff,
                            (h.rdev & 0xff) | ((h.rdev >> 12) & 0xfff00),
                        )
                    }),
                ),
                _ => {
                    out.warn(
                        WarningKind::Format,
                        format!("{path}: special object with mode {:o}", h.mode),
                    );
                    continue;
                }
            },
            TYPE_FILE => {
                let bytes = assemble(d, s, id, h.size, dpc, ctx, &path, out)?;
                Entry::fs(&path, EntryKind::File).with_data(EntryData::Owned(Blob::from(bytes)))
            }
            _ => continue,
        };
        out.entries.push(
            entry
                .with_owner(owner.mode, owner.uid, owner.gid)
                .with_detail("mtime", owner.mtime)
                .with_mtime(i64::from(owner.mtime)),
        );
    }
    Ok(())
}

/// A file's bytes: chunk k (from 1) holds bytes from (k-1) × data-per-chunk; holes stay zero.
#[allow(clippy::too_many_arguments)]
fn assemble(
    d: &[u8],
    s: &Scan,
    id: u32,
    size: u64,
    dpc: usize,
    ctx: &UnpackContext,
    path: &str,
    out: &mut Unpacked,
) -> Result<Vec<u8>, FormatError> {
    let mut size = size;
    // Data chunks are few per file; find them by probing chunk ids the size implies, bounded
    // by what the image can hold.
    let max_chunks = (d.len() / dpc.max(1)) as u64 + 1;
    let wanted = size.div_ceil(dpc as u64);
    if size > ctx.stream_limit() || wanted > max_chunks {
        // The stream limit shrinks as the scan's budget is spent: a cut by it is a limit.
        let kind = if size > ctx.stream_limit() {
            WarningKind::Limit
        } else {
            WarningKind::Format
        };
        out.warn(
            kind,
            format!("{path}: size {size} is larger than the image can hold; cut"),
        );
        size = size
            .min(max_chunks.saturating_mul(dpc as u64))
            .min(ctx.stream_limit());
    }
    ctx.charge(size)?;
    let mut buf = vec![0u8; size as usize];
    let chunks = size.div_ceil(dpc as u64);
    let mut missing = 0u64;
    for k in 1..=chunks {
        let Some(c) = s.data.get(&(id, k as u32)) else {
            missing += 1;
            continue;
        };
        let from = ((k - 1) * dpc as u64) as usize;
        let n = c.n_bytes.min(dpc).min(buf.len() - from);
        if let Some(src) = d.get(c.at..c.at + n) {
            buf[from..from + n].copy_from_slice(src);
        }
    }
    if missing > 0 {
        out.warn(
            WarningKind::Format,
            format!("{path}: {missing} data chunks missing (zero-filled)"),
        );
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile, Rng};
    use crate::formats::testutil::manifest::{manifest, parse};
    use crate::formats::testutil::{entry_bytes, unpack};

    const LE_2048: &[u8] = include_bytes!("../../tests/fixtures/yaffs2/le-2048-64.yaffs2");
    const LE_512: &[u8] = include_bytes!("../../tests/fixtures/yaffs2/le-512-16.yaffs2");
    const BE_4096: &[u8] = include_bytes!("../../tests/fixtures/yaffs2/be-4096-128-bbm.yaffs2");
    const INBAND: &[u8] = include_bytes!("../../tests/fixtures/yaffs2/le-2048-inband.yaffs2");
    const BINWALK: &[u8] = include_bytes!("../../tests/fixtures/yaffs2/binwalk-yaffs2.bin");
    const EXPECTED: &str = include_str!("../../tests/fixtures/yaffs2/expected.txt");

    #[test]
    fn page_4096_with_32_and_64_byte_spare() {
        let want = parse(EXPECTED);
        for (name, gz, desc) in [
            (
                "le-4096-32",
                &include_bytes!("../../tests/fixtures/yaffs2/le-4096-32.yaffs2.gz")[..],
                "page 4096 + spare 32 ",
            ),
            (
                "be-4096-64-bbm",
                &include_bytes!("../../tests/fixtures/yaffs2/be-4096-64-bbm.yaffs2.gz")[..],
                "page 4096 + spare 64 ",
            ),
        ] {
            let img = crate::formats::testutil::gunzip(gz);
            let p = Yaffs2
                .probe(&img)
                .unwrap_or_else(|| panic!("{name}: no probe"));
            assert!(p.description.contains(desc), "{name}: {}", p.description);
            let u = unpack(&Yaffs2, &img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(manifest(&img, &u.entries), want, "{name}");
            assert_eq!(u.consumed, Some(img.len() as u64), "{name}");
        }
    }

    #[test]
    fn every_geometry_round_trips() {
        let want = parse(EXPECTED);
        for (name, img) in [
            ("le-2048-64", LE_2048),
            ("le-512-16", LE_512),
            ("be-4096-128-bbm", BE_4096),
            ("le-2048-inband", INBAND),
        ] {
            let u = unpack(&Yaffs2, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(manifest(img, &u.entries), want, "{name}");
            assert_eq!(u.consumed, Some(img.len() as u64), "{name}");
        }
    }

    #[test]
    fn binwalk_sample_lists_yaffs_sources() {
        let u = unpack(&Yaffs2, BINWALK);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let files: Vec<&Entry> = u
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        assert!(files.len() >= 3, "{:?}", u.entries);
        for f in &files {
            let b = entry_bytes(BINWALK, f).unwrap();
            assert!(!b.is_empty(), "{}", f.path);
            assert!(
                b.iter()
                    .all(|&c| c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c)),
                "{}",
                f.path
            );
        }
        assert!(files.iter().any(|f| entry_bytes(BINWALK, f)
            .unwrap()
            .windows(5)
            .any(|w| w == b"YAFFS")));
        assert_eq!(u.consumed, Some(BINWALK.len() as u64));
    }

    #[test]
    fn carved_from_a_dump_stops_at_garbage() {
        let mut dump = LE_512.to_vec();
        let mut x = 0x2545_f491u32;
        dump.extend((0..100_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        let u = unpack(&Yaffs2, &dump);
        assert_eq!(u.consumed, Some(LE_512.len() as u64));
    }

    #[test]
    fn probe_rejects_headers_that_do_not_look_like_a_root_entry() {
        assert!(Yaffs2.probe(LE_512).is_some());
        let mut bad_name = LE_512.to_vec();
        bad_name[10] = 0x07;
        assert!(Yaffs2.probe(&bad_name).is_none());
        let mut bad_mode = LE_512.to_vec();
        bad_mode[268..272].copy_from_slice(&0o100644u32.to_le_bytes()); // a "directory" with a file mode
        assert!(Yaffs2.probe(&bad_mode).is_none());
        // Only one chunk: not enough to tell.
        assert!(Yaffs2.probe(&LE_512[..528]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        // A flip anywhere, and one in the tags and header fields of the first 64 chunks.
        let damage = |m: &mut Vec<u8>, rng: &mut Rng| {
            let at = rng.below(m.len());
            m[at] ^= (rng.below(255) + 1) as u8;
            let at2 = rng.below(64) * 528 + 512 + rng.below(16);
            if let Some(b) = m.get_mut(at2) {
                *b = rng.next() as u8;
            }
            true
        };
        let how = Hostile {
            damage: Some(&damage),
            ..Hostile::default()
        };
        for img in [LE_512, BINWALK] {
            hostile_with(&Yaffs2, img, &how);
        }
    }
}
