//! From nodes to files: the newest directory entry per name, each inode's data nodes applied
//! in version order, and the directory graph walked from the root with a depth bound and a
//! visited set.

use super::compress::{decompress, COMPR_NONE, COMPR_ZERO};
use super::live::{LiveMap, Write};
use super::node::{rd16, rd32, Dirent, InodeNode};
use super::scan::Scan;
use crate::cursor::Endian;
use crate::format::{Entry, EntryData, EntryKind, UnpackContext, Unpacked, WarningKind};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Largest uncompressed data of one node (JFFS2 writes at most a page, 64 KiB on any CPU).
const MAX_NODE_DATA: u32 = 256 * 1024;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 256;
const ROOT_INO: u32 = 1;

/// The newest metadata of an inode and its data nodes.
struct InodeView<'a> {
    latest: &'a InodeNode,
    pub(super) nodes: Vec<&'a InodeNode>,
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

/// How many data nodes were decoded, and how many were not because nothing of them shows.
#[derive(Debug, Default)]
struct Decodes {
    decoded: usize,
    overwritten: usize,
}

/// Assemble an inode's bytes: the data nodes replayed in version order (see [`LiveMap`]),
/// truncations honoured, size from the newest node; only the nodes whose data still shows are
/// decoded, each once, and whatever a decode yields beyond the bytes it shows is charged to
/// the budget on top of the file itself.
fn assemble(
    d: &[u8],
    view: &InodeView,
    ctx: &UnpackContext,
    path: &str,
    out: &mut Unpacked,
    decodes: &mut Decodes,
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
        out.warn(
            WarningKind::Format,
            format!("{path}: size {size} is implausible; cut to the data written"),
        );
        size = covered.min(size);
    }
    ctx.charge(size)?;
    let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0)];
    let mut bad = 0usize;
    let writes = view.nodes.iter().map(|n| {
        let start = u64::from(n.offset);
        let written = n.dsize > 0 && n.dsize <= MAX_NODE_DATA;
        if n.dsize > MAX_NODE_DATA {
            bad += 1;
        }
        Write {
            isize: u64::from(n.isize),
            range: start..if written {
                start + u64::from(n.dsize)
            } else {
                start
            },
        }
    });
    let live = LiveMap::replay(writes, buf.len() as u64).by_node();
    decodes.overwritten += view
        .nodes
        .iter()
        .filter(|n| n.dsize > 0 && n.dsize <= MAX_NODE_DATA)
        .count()
        .saturating_sub(live.len());
    for (index, ranges) in live {
        let Some(n) = view.nodes.get(index) else {
            continue;
        };
        if n.compr == COMPR_ZERO {
            // A hole: the buffer is zeros already.
            continue;
        }
        let shown: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        if let Err(limit) = ctx.charge(u64::from(n.dsize).saturating_sub(shown)) {
            out.warn(
                WarningKind::Limit,
                format!(
                    "{path}: data nodes from the one at {:#x} on not decoded: {limit}",
                    n.node_at
                ),
            );
            break;
        }
        let src = d
            .get(n.data_at..n.data_at.saturating_add(n.csize as usize))
            .unwrap_or(&[]);
        decodes.decoded += 1;
        match decompress(n.compr, src, n.dsize as usize) {
            Ok(bytes) => {
                for r in ranges {
                    let from = (r.start - u64::from(n.offset)) as usize;
                    let to = (r.end - u64::from(n.offset)) as usize;
                    if let (Some(dst), Some(src)) = (
                        buf.get_mut(r.start as usize..r.end as usize),
                        bytes.get(from..to),
                    ) {
                        dst.copy_from_slice(src);
                    }
                }
            }
            Err(why) => {
                bad += 1;
                if bad <= 3 {
                    out.warn(
                        WarningKind::Decode,
                        format!("{path}: data node at {:#x} skipped: {why}", n.node_at),
                    );
                }
            }
        }
    }
    Ok(buf)
}

/// Turn the scanned nodes into entries, walking the directory graph from the root.
pub(super) fn build(
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
    let mut decodes = Decodes::default();
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
                out.warn(
                    WarningKind::Limit,
                    format!(
                        "more than {} entries; the rest is not listed",
                        ctx.max_entries()
                    ),
                );
                return Ok(());
            }
            let path = format!("{dir_path}/{}", String::from_utf8_lossy(name));
            let view = views.get(&de.ino);
            let mode = view
                .map(|v| v.latest.mode)
                .unwrap_or_else(|| dtype_mode(de.dtype));
            let file_type = FileType::of_mode(mode);
            let mut entry = match file_type {
                Some(FileType::Directory) => {
                    if !visited_dirs.insert(de.ino) {
                        dir_loops += 1;
                        continue;
                    }
                    if depth + 1 < MAX_DEPTH {
                        subdirs.push((de.ino, path.clone(), depth + 1));
                    } else {
                        out.warn(
                            WarningKind::Limit,
                            format!("{path}: deeper than {MAX_DEPTH} levels; not entered"),
                        );
                    }
                    Entry::fs(&path, EntryKind::Directory)
                }
                _ if first_path.contains_key(&de.ino) => {
                    let target = first_path[&de.ino].clone();
                    Entry::fs(&path, EntryKind::Hardlink(target))
                }
                Some(FileType::Symlink) => {
                    let target = match view {
                        Some(v) => assemble(d, v, ctx, &path, out, &mut decodes)?,
                        None => Vec::new(),
                    };
                    Entry::fs(
                        &path,
                        EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned()),
                    )
                }
                Some(t @ (FileType::CharDevice | FileType::BlockDevice)) => {
                    let device = || {
                        view.and_then(|v| device_numbers(d, e, v.latest))
                            .unwrap_or((0, 0))
                    };
                    Entry::fs(&path, t.entry_kind(String::new, device))
                }
                Some(t @ (FileType::Fifo | FileType::Socket)) => {
                    Entry::fs(&path, t.entry_kind(String::new, || (0, 0)))
                }
                Some(FileType::Regular) | None => {
                    let bytes = match view {
                        Some(v) => assemble(d, v, ctx, &path, out, &mut decodes)?,
                        None => {
                            out.warn(
                                WarningKind::Format,
                                format!("{path}: no inode node for inode {}", de.ino),
                            );
                            Vec::new()
                        }
                    };
                    Entry::fs(&path, EntryKind::File).with_data(EntryData::Owned(Blob::from(bytes)))
                }
            };
            reached.insert(de.ino);
            if file_type != Some(FileType::Directory) {
                first_path.entry(de.ino).or_insert_with(|| path.clone());
            }
            if let Some(v) = view {
                entry = entry
                    .with_owner(
                        v.latest.mode,
                        u32::from(v.latest.uid),
                        u32::from(v.latest.gid),
                    )
                    .with_detail("mtime", v.latest.mtime)
                    .with_mtime(i64::from(v.latest.mtime));
            }
            out.entries.push(entry);
        }
        // Reverse so that the stack pops subdirectories in name order (pre-order listing).
        subdirs.reverse();
        stack.extend(subdirs);
    }
    out.detail("data_nodes_decoded", decodes.decoded);
    if decodes.overwritten > 0 {
        out.detail("data_nodes_overwritten", decodes.overwritten);
    }
    if dir_loops > 0 {
        out.warn(WarningKind::Format, format!("{dir_loops} directory entries lead back to a directory already listed (loop or hard-linked directory); skipped"));
    }
    if bad_names > 0 {
        out.warn(
            WarningKind::Format,
            format!("{bad_names} directory entries with invalid names skipped"),
        );
    }
    let orphans = names
        .values()
        .filter(|de| de.ino != 0 && !reached.contains(&de.ino))
        .count();
    if orphans > 0 {
        out.warn(
            WarningKind::Format,
            format!("{orphans} directory entries are not reachable from the root"),
        );
    }
    Ok(())
}

/// Mode type bits for a dirent's DT_* type when its inode is missing.
fn dtype_mode(dtype: u8) -> u32 {
    match dtype {
        4 => FileType::Directory,
        10 => FileType::Symlink,
        2 => FileType::CharDevice,
        6 => FileType::BlockDevice,
        1 => FileType::Fifo,
        12 => FileType::Socket,
        _ => FileType::Regular,
    }
    .bits()
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
