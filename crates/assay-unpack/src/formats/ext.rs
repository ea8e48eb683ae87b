//! ext2, ext3 and ext4 file systems, read with the `ext4-view` crate (pure Rust, written for
//! untrusted images) over the blob's bytes. The probe validates the superblock itself so that
//! the crate only ever sees plausible geometry.

use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::FileType as UnixFileType;
use crate::{Blob, FormatError};
use ext4_view::{Ext4, Ext4Read, FileType, PathBuf};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An ext2/3/4 file system.
pub struct Ext;

static MAGICS: &[Magic] = &[Magic::at(b"\x53\xef", 1080)];

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;

const FEATURE_COMPAT_HAS_JOURNAL: u32 = 0x4;
const FEATURE_INCOMPAT_EXTENTS: u32 = 0x40;
const FEATURE_INCOMPAT_64BIT: u32 = 0x80;
const FEATURE_RO_COMPAT_METADATA_CSUM: u32 = 0x400;
/// Bytes an inode needs to hold the high half of its checksum (`i_checksum_hi` ends there).
const INODE_SIZE_FULL_CHECKSUM: u64 = 0x84;

/// The superblock fields the probe checks.
#[derive(Debug, Clone)]
struct Superblock {
    inodes: u64,
    blocks: u64,
    block_size: u64,
    compat: u32,
    incompat: u32,
    ro_compat: u32,
    inode_size: u64,
    label: String,
}

fn superblock(data: &[u8]) -> Option<Superblock> {
    let sb = data.get(1024..2048)?;
    if le16(sb, 56)? != 0xef53 {
        return None;
    }
    let inodes = u64::from(le32(sb, 0)?);
    let log = le32(sb, 24)?;
    if log > 6 {
        return None;
    }
    let block_size = 1024u64 << log;
    let incompat = le32(sb, 96)?;
    let mut blocks = u64::from(le32(sb, 4)?);
    if incompat & FEATURE_INCOMPAT_64BIT != 0 {
        blocks |= u64::from(le32(sb, 0x150)?) << 32;
    }
    let free_blocks = u64::from(le32(sb, 12)?);
    let free_inodes = u64::from(le32(sb, 16)?);
    let first_data_block = le32(sb, 20)?;
    let blocks_per_group = u64::from(le32(sb, 32)?);
    let inodes_per_group = u64::from(le32(sb, 40)?);
    let rev = le32(sb, 76)?;
    if inodes == 0 || blocks == 0 || free_blocks > blocks || free_inodes > inodes {
        return None;
    }
    if first_data_block > 1 || rev > 1 || le32(sb, 72)? > 4 {
        return None;
    }
    let bits = block_size * 8;
    if blocks_per_group == 0 || blocks_per_group > bits {
        return None;
    }
    if inodes_per_group == 0 || inodes_per_group > bits {
        return None;
    }
    let groups = blocks.div_ceil(blocks_per_group);
    if inodes > inodes_per_group.checked_mul(groups)? {
        return None;
    }
    let inode_size = if rev == 0 {
        128
    } else {
        u64::from(le16(sb, 88)?)
    };
    if !inode_size.is_power_of_two() || inode_size < 128 || inode_size > block_size {
        return None;
    }
    // The inode tables must fit in the file system.
    if inodes.checked_mul(inode_size)? > blocks.checked_mul(block_size)? {
        return None;
    }
    Some(Superblock {
        inodes,
        blocks,
        block_size,
        compat: le32(sb, 92)?,
        incompat,
        ro_compat: le32(sb, 100)?,
        inode_size,
        label: crate::cursor::cstr(sb.get(120..136)?),
    })
}

/// Bytes of the block group descriptor table as `ext4-view` will size it: it takes the high
/// half of the block count whether or not the 64-bit feature is set, and allocates the whole
/// table before reading it, so a hostile count must be refused before it gets there.
fn descriptor_table_bytes(data: &[u8]) -> Option<u64> {
    let sb = data.get(1024..2048)?;
    let blocks = u64::from(le32(sb, 0x150)?) << 32 | u64::from(le32(sb, 4)?);
    let groups = blocks
        .checked_sub(u64::from(le32(sb, 20)?))?
        .div_ceil(u64::from(le32(sb, 32)?).max(1));
    let desc_size = if le32(sb, 96)? & FEATURE_INCOMPAT_64BIT != 0 {
        u64::from(le16(sb, 0xfe)?)
    } else {
        32
    };
    groups.checked_mul(desc_size)
}

impl Superblock {
    fn kind(&self) -> &'static str {
        if self.incompat & FEATURE_INCOMPAT_EXTENTS != 0 {
            "ext4"
        } else if self.compat & FEATURE_COMPAT_HAS_JOURNAL != 0 {
            "ext3"
        } else {
            "ext2"
        }
    }
}

/// Reads for `ext4-view` from the blob's bytes; past the end is an error, never a panic.
/// `superblock`, when set, replaces the superblock's 1024 bytes in what the crate reads.
struct BlobReader {
    data: Blob,
    superblock: Option<Vec<u8>>,
}

impl Superblock {
    /// The superblock as `ext4-view` should see it, when it differs from the image's.
    ///
    /// With 128-byte inodes and metadata checksums, ext4 keeps only the low 16 bits of each
    /// inode checksum (the high half has no room; mke2fs -I 128 writes such images, and Linux
    /// reads them). `ext4-view` refuses every such inode as truncated, so it is shown the
    /// superblock without the metadata-checksum feature, and the reader says that checksums
    /// were not verified.
    fn view_for_crate(&self, data: &[u8]) -> Option<Vec<u8>> {
        if self.ro_compat & FEATURE_RO_COMPAT_METADATA_CSUM == 0
            || self.inode_size >= INODE_SIZE_FULL_CHECKSUM
        {
            return None;
        }
        let mut sb = data.get(1024..2048)?.to_vec();
        let ro = (self.ro_compat & !FEATURE_RO_COMPAT_METADATA_CSUM).to_le_bytes();
        sb[100..104].copy_from_slice(&ro);
        Some(sb)
    }
}

/// A read past the end of the image.
#[derive(Debug)]
struct OutOfRange {
    start: u64,
    len: usize,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "read of {} bytes at {:#x} past the end of the image",
            self.len, self.start
        )
    }
}

impl std::error::Error for OutOfRange {}

impl Ext4Read for BlobReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        let err = || {
            Box::new(OutOfRange {
                start: start_byte,
                len: dst.len(),
            })
        };
        let start = usize::try_from(start_byte).map_err(|_| err())?;
        let end = start.checked_add(dst.len()).ok_or_else(err)?;
        let src = self.data.get(start..end).ok_or_else(err)?;
        dst.copy_from_slice(src);
        if let Some(sb) = &self.superblock {
            // Overlay the part of [1024, 2048) this read covers.
            let (lo, hi) = (start.max(1024), end.min(2048));
            if lo < hi {
                dst[lo - start..hi - start].copy_from_slice(&sb[lo - 1024..hi - 1024]);
            }
        }
        Ok(())
    }
}

impl Format for Ext {
    fn name(&self) -> &'static str {
        "ext"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let sb = superblock(data)?;
        let length = sb.blocks.checked_mul(sb.block_size)?;
        let mut description = format!(
            "{}, {} blocks of {} bytes, {} inodes",
            sb.kind(),
            sb.blocks,
            sb.block_size,
            sb.inodes
        );
        if !sb.label.is_empty() {
            description.push_str(&format!(", label {:?}", sb.label));
        }
        Some(Probe {
            length: Some(length.min(data.len() as u64)),
            description,
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let sb =
            superblock(data).ok_or_else(|| FormatError::Corrupt("bad ext superblock".into()))?;
        let mut out = Unpacked::default();
        out.detail("variant", sb.kind());
        out.detail("block_size", sb.block_size);
        if !sb.label.is_empty() {
            out.detail("label", &sb.label);
        }
        let length = sb.blocks.saturating_mul(sb.block_size);
        if length > data.len() as u64 {
            out.warn(
                WarningKind::Truncated,
                format!(
                    "file system of {length} bytes is cut to {} bytes",
                    data.len()
                ),
            );
        }
        if descriptor_table_bytes(data).is_none_or(|n| n > data.len() as u64) {
            out.warn(
                WarningKind::Truncated,
                "block group descriptor table is larger than the image; not listed",
            );
            return Ok(out);
        }
        // `ext4-view` is written for untrusted images; a panic in it is still caught so that
        // a bug there costs one file system, not the scan.
        let walked = catch_unwind(AssertUnwindSafe(|| walk(data, &sb, ctx, &mut out)));
        match walked {
            Ok(r) => r?,
            Err(_) => out.warn(
                WarningKind::Format,
                "ext reader panicked; the listing is incomplete",
            ),
        }
        Ok(out)
    }
}

/// Load the file system and list every entry, depth-first.
fn walk(
    data: &Blob,
    sb: &Superblock,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) -> Result<(), FormatError> {
    let view = sb.view_for_crate(data);
    if view.is_some() {
        out.warn(
            WarningKind::Checksum,
            "metadata checksums not verified: 128-byte inodes hold only half of each \
             inode checksum",
        );
    }
    let reader = BlobReader {
        data: data.clone(),
        superblock: view,
    };
    let fs = match Ext4::load(Box::new(reader)) {
        Ok(fs) => fs,
        Err(e) => {
            out.warn(
                WarningKind::Format,
                format!("ext4-view refuses this file system: {e}"),
            );
            return Ok(());
        }
    };
    // A directory cannot be hard-linked, so more directories than inodes means a cycle.
    let max_dirs = sb.inodes;
    let mut dirs_seen = 0u64;
    let mut stack: Vec<(PathBuf, usize)> = vec![(PathBuf::new("/"), 0)];
    let mut files: Vec<(usize, PathBuf, u64)> = Vec::new();
    while let Some((dir, depth)) = stack.pop() {
        dirs_seen += 1;
        if dirs_seen > max_dirs {
            out.warn(
                WarningKind::Format,
                "more directories than inodes: the directory graph has a cycle",
            );
            break;
        }
        let entries = match fs.read_dir(dir.as_path()) {
            Ok(it) => it,
            Err(e) => {
                out.warn(
                    WarningKind::Format,
                    format!("cannot list {}: {e}", dir.display()),
                );
                continue;
            }
        };
        let mut children = Vec::new();
        for item in entries {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    out.warn(
                        WarningKind::Format,
                        format!("bad entry in {}: {e}", dir.display()),
                    );
                    break;
                }
            };
            let name = item.file_name();
            if name == "." || name == ".." {
                continue;
            }
            if out.entries.len() >= ctx.max_entries() {
                out.warn(WarningKind::Limit, "too many entries; the rest are ignored");
                stack.clear();
                break;
            }
            let path = item.path();
            let path_str = String::from_utf8_lossy(path.as_ref()).into_owned();
            let meta = match item.metadata() {
                Ok(m) => m,
                Err(e) => {
                    out.warn(
                        WarningKind::Format,
                        format!("cannot read inode of {path_str}: {e}"),
                    );
                    continue;
                }
            };
            let ft = meta.file_type();
            let type_bits = match ft {
                FileType::Regular => UnixFileType::Regular,
                FileType::Directory => UnixFileType::Directory,
                FileType::Symlink => UnixFileType::Symlink,
                FileType::CharacterDevice => UnixFileType::CharDevice,
                FileType::BlockDevice => UnixFileType::BlockDevice,
                FileType::Fifo => UnixFileType::Fifo,
                FileType::Socket => UnixFileType::Socket,
            }
            .bits();
            let mode = type_bits | u32::from(meta.mode());
            let entry = match ft {
                FileType::Directory => {
                    if depth + 1 >= MAX_DEPTH {
                        out.warn(
                            WarningKind::Limit,
                            format!("{path_str} is nested too deep; not walked"),
                        );
                    } else {
                        children.push((path.clone(), depth + 1));
                    }
                    Entry::fs(path_str.clone(), EntryKind::Directory)
                }
                // ext4-view allocates a link's recorded size before reading it.
                FileType::Symlink if meta.len() > MAX_LINK => {
                    out.warn(
                        WarningKind::Format,
                        format!(
                            "link {path_str} claims {} bytes (a link holds at most one block); target not read",
                            meta.len()
                        ),
                    );
                    Entry::fs(path_str.clone(), EntryKind::Symlink(String::new()))
                }
                FileType::Symlink => match fs.read_link(path.as_path()) {
                    Ok(t) => Entry::fs(
                        path_str.clone(),
                        EntryKind::Symlink(String::from_utf8_lossy(t.as_ref()).into_owned()),
                    ),
                    Err(e) => {
                        out.warn(
                            WarningKind::Format,
                            format!("cannot read link {path_str}: {e}"),
                        );
                        Entry::fs(path_str.clone(), EntryKind::Symlink(String::new()))
                    }
                },
                FileType::Regular => {
                    // Read once the whole tree is listed, smallest first (see `read_files`).
                    files.push((out.entries.len(), path.clone(), meta.len()));
                    Entry::fs(path_str.clone(), EntryKind::File)
                }
                // `ext4-view` does not expose the device numbers stored in the inode.
                FileType::CharacterDevice | FileType::BlockDevice => Entry::fs(
                    path_str.clone(),
                    EntryKind::Device {
                        block: ft == FileType::BlockDevice,
                        major: 0,
                        minor: 0,
                    },
                )
                .with_detail("device_numbers", "unknown"),
                FileType::Fifo => Entry::fs(path_str.clone(), EntryKind::Fifo),
                FileType::Socket => Entry::fs(path_str.clone(), EntryKind::Socket),
            };
            out.entries.push(
                entry
                    .with_owner(mode, meta.uid(), meta.gid())
                    .with_mtime(meta.modified().seconds()),
            );
        }
        // Depth-first in directory order: push children reversed.
        stack.extend(children.into_iter().rev());
    }
    read_files(&fs, files, ctx, out);
    Ok(())
}

/// Longest link target read: Linux keeps a link target in one block (at most 64 KiB).
const MAX_LINK: u64 = 64 << 10;

/// Give every regular file its bytes, so that no file can starve the others of the budget:
/// files are read smallest first, each at most an equal part of what is left for the files
/// still to read (the order and the parts depend on the listed sizes alone). A file's zero
/// blocks, holes included, are kept as a count and only materialised when non-zero bytes
/// follow them: a trailing hole longer than the bytes before it (and 64 KiB) costs neither
/// memory nor budget, only a walk over its block map, and that walk is bounded by
/// [`HOLE_WALK`] stream limits for the whole file system.
fn read_files(
    fs: &Ext4,
    mut files: Vec<(usize, PathBuf, u64)>,
    ctx: &UnpackContext,
    out: &mut Unpacked,
) {
    files.sort_by_key(|&(i, _, len)| (len, i));
    let mut walk_left = ctx
        .budget
        .limits()
        .max_stream_bytes
        .saturating_mul(HOLE_WALK);
    let count = files.len() as u64;
    for (k, (index, path, len)) in files.into_iter().enumerate() {
        let left = count - k as u64;
        let cap = (ctx.stream_limit() / left.max(1)).min(ctx.stream_limit());
        let read = read_file(fs, &path, len, cap, &mut walk_left, ctx);
        let path_str = String::from_utf8_lossy(path.as_ref()).into_owned();
        let Some(entry) = out.entries.get_mut(index) else {
            continue;
        };
        match read {
            Ok(mut file) => {
                // Zeros that end an ordinary file (padding, a zeroed last block) stay part of
                // its bytes, so that what is analysed is the file; only a run longer than
                // both the bytes before it and 64 KiB is left as a hole.
                let run = file.zeros;
                let keep = run <= (file.bytes.len() as u64).max(64 << 10)
                    && file.bytes.len() as u64 + run <= cap
                    && ctx.charge(run).is_ok();
                if keep && run > 0 {
                    let run = usize::try_from(run).unwrap_or(usize::MAX);
                    file.bytes.resize(file.bytes.len().saturating_add(run), 0);
                    file.zeros = 0;
                }
                if let Some((kind, w)) = file.warning {
                    out.warnings.push((kind, format!("{path_str}: {w}")));
                }
                let data = Blob::from(file.bytes);
                entry.data = if file.zeros > 0 {
                    EntryData::Sparse {
                        length: data.len() as u64 + file.zeros,
                        data,
                    }
                } else {
                    EntryData::Owned(data)
                };
            }
            Err((kind, e)) => out
                .warnings
                .push((kind, format!("cannot read {path_str}: {e}"))),
        }
    }
}

/// How many stream limits of zero blocks (holes) one file system may have walked.
const HOLE_WALK: u64 = 1;

/// A problem reading one file, with its kind.
type FileWarning = (WarningKind, String);

/// One file as read: its bytes up to its last non-zero block, the zero bytes after them, and
/// why it was cut, if it was.
struct FileBytes {
    bytes: Vec<u8>,
    zeros: u64,
    warning: Option<FileWarning>,
}

/// Read a file's bytes, materialising at most `cap` of them and charging the budget for
/// those; runs of zeros are counted, not stored, until non-zero bytes follow.
fn read_file(
    fs: &Ext4,
    path: &PathBuf,
    len: u64,
    cap: u64,
    walk_left: &mut u64,
    ctx: &UnpackContext,
) -> Result<FileBytes, FileWarning> {
    let mut file = fs
        .open(path.as_path())
        .map_err(|e| (WarningKind::Format, e.to_string()))?;
    let mut out = FileBytes {
        bytes: Vec::new(),
        zeros: 0,
        warning: None,
    };
    let mut chunk = vec![0u8; 64 * 1024];
    let zeros = vec![0u8; chunk.len()];
    let mut pos = 0u64;
    while pos < len {
        let room = (len - pos).min(chunk.len() as u64) as usize;
        let n = match file.read_bytes(&mut chunk[..room]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                out.warning = Some((WarningKind::Format, format!("read stops early: {e}")));
                break;
            }
        };
        let Some(got) = chunk.get(..n) else { break };
        pos += n as u64;
        // A slice comparison is one `memcmp`, fast in every build profile.
        if zeros.get(..n) == Some(got) {
            if *walk_left < n as u64 {
                let w = format!(
                    "file of {len} bytes cut at {}: too many zero blocks (holes) to walk",
                    pos - n as u64
                );
                out.warning = Some((WarningKind::Limit, w));
                return Ok(out);
            }
            *walk_left -= n as u64;
            out.zeros += n as u64;
            continue;
        }
        // Non-zero bytes: the zeros before them become part of the file's bytes.
        let grow = out.zeros + n as u64;
        if out.bytes.len() as u64 + grow > cap || ctx.charge(grow).is_err() {
            let kept = out.bytes.len() as u64;
            out.zeros = 0;
            let w = format!("file of {len} bytes cut to {kept}");
            out.warning = Some((WarningKind::Limit, w));
            ctx.budget.mark_stopped();
            return Ok(out);
        }
        let run = usize::try_from(out.zeros).unwrap_or(usize::MAX);
        out.bytes.resize(out.bytes.len().saturating_add(run), 0);
        out.bytes.extend_from_slice(got);
        out.zeros = 0;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::gunzip;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check, Check, Devices, DISKS};
    use crate::formats::testutil::unpack;

    const EXT2: &[u8] = include_bytes!("../../tests/fixtures/disks/ext2.img");
    const EXT4: &[u8] = include_bytes!("../../tests/fixtures/disks/ext4.img");

    #[test]
    fn ext2_tree_matches() {
        let p = Ext.probe(EXT2).unwrap();
        assert_eq!(p.length, Some(EXT2.len() as u64));
        assert!(p.description.starts_with("ext2"), "{}", p.description);
        let u = unpack(&Ext, EXT2);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check(
            "ext",
            EXT2,
            &u.entries,
            DISKS,
            &Check {
                devices: Devices::KindOnly,
                ..Check::DISK
            },
        );
        assert!(u.entries.iter().any(|e| e.path == "/lost+found"));
    }

    #[test]
    fn ext4_with_128_byte_inodes_and_metadata_checksums() {
        let img = gunzip(include_bytes!(
            "../../tests/fixtures/filesystems/ext4-128.img.gz"
        ));
        let p = Ext.probe(&img).unwrap();
        assert!(p.description.starts_with("ext4"), "{}", p.description);
        let u = unpack(&Ext, &img);
        assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
        assert_eq!(u.warnings[0].0, WarningKind::Checksum);
        check(
            "ext4-128",
            &img,
            &u.entries,
            include_str!("../../tests/fixtures/filesystems/expected.txt"),
            &Check {
                devices: Devices::KindOnly,
                ..Check::DISK
            },
        );
        let passwd = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
        assert_eq!(passwd.uid, Some(70000));
    }

    #[test]
    fn ext4_tree_matches() {
        let p = Ext.probe(EXT4).unwrap();
        assert!(p.description.starts_with("ext4"), "{}", p.description);
        let u = unpack(&Ext, EXT4);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check(
            "ext",
            EXT4,
            &u.entries,
            DISKS,
            &Check {
                devices: Devices::KindOnly,
                ..Check::DISK
            },
        );
        assert!(u.entries.iter().all(|e| e.uid == Some(0)));
    }

    #[test]
    fn ext3_with_journal_tree_matches() {
        let img = gunzip(include_bytes!("../../tests/fixtures/disks/ext3.img.gz"));
        let p = Ext.probe(&img).unwrap();
        assert!(p.description.starts_with("ext3"), "{}", p.description);
        let u = unpack(&Ext, &img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check(
            "ext",
            &img,
            &u.entries,
            DISKS,
            &Check {
                devices: Devices::KindOnly,
                ..Check::DISK
            },
        );
    }

    #[test]
    fn unknown_incompat_feature_is_a_warning() {
        let mut img = EXT2.to_vec();
        // Set an incompatible feature bit no reader knows.
        img[1024 + 96 + 3] |= 0x80;
        let u = unpack(&Ext, &img);
        assert!(u.entries.is_empty());
        assert!(u.warnings[0].1.contains("refuses"), "{:?}", u.warnings);
    }

    #[test]
    fn hostile_input() {
        hostile_with(&Ext, EXT2, &Hostile::disk());
        hostile_with(&Ext, EXT4, &Hostile::disk());
    }
}
