//! From entries to paths: the directory entries walked from the root inode, each inode turned
//! into an entry with its kind, owner, extended attributes and bytes.

use super::fs::{Dirent, Fs, Inode};
use crate::cursor::{le32, le64};
use crate::format::{Entry, EntryData, EntryKind, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::{HashMap, HashSet};

const ROOT_INO: u64 = 1;
const MAX_PATH_DEPTH: usize = 256;
/// Inode flag of the inodes that hold extended-attribute values.
pub(super) const XATTR_FL: u32 = 0x20;

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

/// The entry kind an inode's mode says, with its link target or device number.
fn entry_kind(ino: &Inode) -> EntryKind {
    EntryKind::from_unix_mode(
        ino.mode,
        || String::from_utf8_lossy(ino.data).into_owned(),
        || {
            let dev = match ino.data.len() {
                4 => le32(ino.data, 0).map(u64::from),
                8 => le64(ino.data, 0),
                _ => None,
            };
            decode_dev(dev.unwrap_or(0))
        },
    )
    .unwrap_or(EntryKind::File)
}

/// Turn the directory entries into paths, from the root down, and yield every entry.
pub(super) fn build_tree(
    fs: &Fs,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> Result<(), FormatError> {
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
            warnings.push((
                WarningKind::Format,
                format!("entry with name {name:?} in inode {} skipped", d.parent),
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
        entry.mtime = ino.mtime;
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
                            warnings.push((e.kind(), format!("{path}: {e}")));
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
    for (kind, w) in warnings {
        out.warn(kind, w);
    }
    if full {
        out.warn(
            WarningKind::Limit,
            format!(
                "more than {} entries: the rest are not listed",
                ctx.max_entries()
            ),
        );
    }
    if unfilled > 1 {
        out.warn(
            WarningKind::Limit,
            format!("{unfilled} files listed without their bytes (unpack budget spent)"),
        );
    }
    if missing > 0 {
        out.warn(
            WarningKind::Format,
            format!("{missing} directory entries point to inodes that are not in the index"),
        );
    }
    if loops > 0 {
        out.warn(
            WarningKind::Format,
            format!(
            "{loops} directories reached twice (loop or hard-linked directory): not descended again"
        ),
        );
    }
    if too_deep > 0 {
        out.warn(
            WarningKind::Limit,
            format!("{too_deep} directories deeper than {MAX_PATH_DEPTH} levels: not descended"),
        );
    }
    let orphans = fs
        .inodes
        .iter()
        .filter(|(i, ino)| !reached.contains(i) && ino.flags & XATTR_FL == 0 && ino.nlink > 0)
        .count();
    if orphans > 0 {
        out.warn(
            WarningKind::Format,
            format!("{orphans} inodes are not linked from any directory (orphans)"),
        );
    }
    Ok(())
}
