//! The squashfs walk shared by every version: the image's tables loaded, then the tree walked
//! from the root inode with a visited set and a depth bound. The tables, inodes, directory
//! listings and file data it reads are in `table`, `inode`, `dir` and `data`.

use super::codec::Decoder;
use super::inode::Kind;
use super::table::Table;
use super::Superblock;
use crate::cursor::Endian;
use crate::format::{Entry, EntryData, EntryKind, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 128;

/// An image being read: its superblock and bytes, the decoder, the loaded tables and the
/// fragment blocks decoded last.
pub(super) struct Image<'a> {
    pub(super) sb: &'a Superblock,
    pub(super) data: &'a [u8],
    pub(super) dec: Decoder,
    /// Byte order of the metadata block headers (see `table::meta_header_order`).
    pub(super) meta_endian: Endian,
    pub(super) ctx: &'a UnpackContext<'a>,
    pub(super) inodes: Table,
    pub(super) dirs: Table,
    pub(super) frags: Vec<(u64, u32)>,
    pub(super) uids: Vec<u32>,
    pub(super) gids: Vec<u32>,
    pub(super) frag_cache: Vec<(u32, Arc<Vec<u8>>)>,
    pub(super) warnings: Vec<(WarningKind, String)>,
}

/// Unpack a parsed image.
pub(crate) fn unpack(
    sb: &Superblock,
    data: &Blob,
    ctx: &UnpackContext,
) -> Result<Unpacked, FormatError> {
    let mut img = Image {
        sb,
        data,
        dec: Decoder::new(sb.comp),
        meta_endian: super::table::meta_header_order(sb, data),
        ctx,
        inodes: Table::default(),
        dirs: Table::default(),
        frags: Vec::new(),
        uids: Vec::new(),
        gids: Vec::new(),
        frag_cache: Vec::new(),
        warnings: Vec::new(),
    };
    let ends = [
        sb.dir_table,
        sb.frag_table,
        sb.export_table,
        sb.id_table,
        sb.gid_table,
        sb.xattr_table,
        sb.bytes_used,
    ];
    let end_after = |start: u64| {
        ends.iter()
            .copied()
            .filter(|&e| e > start)
            .min()
            .unwrap_or(sb.bytes_used)
    };
    img.inodes = img.load_table(sb.inode_table, end_after(sb.inode_table), "inode")?;
    img.dirs = img.load_table(sb.dir_table, end_after(sb.dir_table), "directory")?;
    img.load_ids();
    img.load_frags();

    let mut out = Unpacked {
        mtime: Some(i64::from(sb.mkfs_time)),
        ..Unpacked::default()
    };
    out.detail(
        "version",
        format!("{}.{}", sb.major, super::minor_name(sb.minor)),
    );
    if let Some(declared) = sb.declared_bytes_used {
        out.warn(
            WarningKind::Format,
            format!(
                "superblock says {declared} bytes used, but its tables end at {}: read to there",
                sb.bytes_used
            ),
        );
    }
    if !sb.standard_magic() {
        out.detail("magic", String::from_utf8_lossy(&sb.magic));
    }
    out.detail(
        "endianness",
        if sb.endian == Endian::Big {
            "big"
        } else {
            "little"
        },
    );
    out.detail("block_size", sb.block_size);
    if img.meta_endian != sb.endian {
        out.detail("metadata_headers", "little-endian (AVM)");
    }
    img.walk(&mut out)?;
    out.detail("compression", img.dec.describe());
    out.warnings.append(&mut img.warnings);
    Ok(out)
}

impl Image<'_> {
    pub(super) fn warn(&mut self, kind: WarningKind, msg: impl Into<String>) {
        if self.warnings.len() < 100 {
            self.warnings.push((kind, msg.into()));
        }
    }

    /// Walk the tree from the root, depth-first, with a visited set and depth bound.
    pub(super) fn walk(&mut self, out: &mut Unpacked) -> Result<(), FormatError> {
        let root = self.inode(self.sb.root_inode)?;
        let Kind::Dir { .. } = root.kind else {
            return Err(FormatError::Corrupt("root inode is not a directory".into()));
        };
        out.detail("root_mode", format!("{:o}", root.mode()));
        let mut visited = HashSet::new();
        visited.insert(self.sb.root_inode);
        let mut files: HashMap<u64, EntryData> = HashMap::new();
        let mut stack = vec![(root, String::new(), 0usize)];
        let max_entries = self.ctx.max_entries();
        while let Some((dir, path, depth)) = stack.pop() {
            let Kind::Dir {
                block,
                offset,
                size,
            } = dir.kind
            else {
                continue;
            };
            let list = match self.read_dir(block, offset, size) {
                Ok(l) => l,
                Err(e) => {
                    self.warn(e.kind(), format!("directory {}: {e}", display(&path)));
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for de in list {
                if out.entries.len() >= max_entries {
                    self.warn(
                        WarningKind::Limit,
                        format!("more than {max_entries} entries; rest skipped"),
                    );
                    return Ok(());
                }
                let name = String::from_utf8_lossy(&de.name).into_owned();
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    self.warn(
                        WarningKind::Format,
                        format!("bad name {name:?} in {}", display(&path)),
                    );
                    continue;
                }
                let p = format!("{path}/{name}");
                let ino = match self.inode(de.inode) {
                    Ok(i) => i,
                    Err(e) => {
                        self.warn(e.kind(), format!("{p}: {e}"));
                        continue;
                    }
                };
                let mode = ino.mode();
                let (uid, gid) = (ino.uid, ino.gid);
                let entry = match &ino.kind {
                    Kind::Dir { .. } => Entry::fs(&p, EntryKind::Directory),
                    Kind::Symlink(t) => Entry::fs(&p, EntryKind::Symlink(t.clone())),
                    Kind::Device {
                        block,
                        major,
                        minor,
                    } => Entry::fs(
                        &p,
                        EntryKind::Device {
                            block: *block,
                            major: *major,
                            minor: *minor,
                        },
                    ),
                    Kind::Fifo => Entry::fs(&p, EntryKind::Fifo),
                    Kind::Socket => Entry::fs(&p, EntryKind::Socket),
                    Kind::File {
                        start,
                        size,
                        frag,
                        blocks,
                    } => {
                        let data = match files.get(&de.inode) {
                            Some(d) => d.clone(),
                            None => {
                                let (bytes, zeros, err) =
                                    self.file_data(*start, *size, *frag, blocks);
                                if let Some(e) = err {
                                    if matches!(e, FormatError::Limit(_)) {
                                        out.warn(e.kind(), format!("{p}: {e}"));
                                    } else {
                                        self.warn(e.kind(), format!("{p}: {e}"));
                                    }
                                }
                                let data = Blob::from(bytes);
                                let data = if zeros > 0 {
                                    EntryData::Sparse {
                                        length: data.len() as u64 + zeros,
                                        data,
                                    }
                                } else {
                                    EntryData::Owned(data)
                                };
                                files.insert(de.inode, data.clone());
                                data
                            }
                        };
                        Entry::fs(&p, EntryKind::File).with_data(data)
                    }
                };
                let mut entry = entry.with_owner(mode, uid, gid);
                entry.mtime = ino.mtime;
                out.entries.push(entry);
                if let Kind::Dir { .. } = ino.kind {
                    if depth + 1 >= MAX_DEPTH {
                        self.warn(
                            WarningKind::Limit,
                            format!("{p}: directories nested deeper than {MAX_DEPTH}"),
                        );
                    } else if visited.insert(de.inode) {
                        subdirs.push((ino, p, depth + 1));
                    } else {
                        self.warn(WarningKind::Format, format!("{p}: directory loop"));
                    }
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}
