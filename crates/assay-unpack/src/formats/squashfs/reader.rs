//! The squashfs walk shared by every version: metadata tables, inodes, directories and file
//! data, all bounded.

use super::codec::Decoder;
use super::Superblock;
use crate::cursor::{Cursor, Endian};
use crate::format::{Entry, EntryData, EntryKind, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Size of a decoded metadata block.
const META: usize = 8192;
/// Deepest directory nesting followed.
const MAX_DEPTH: usize = 128;
/// Bit of a data block size word that marks a stored (uncompressed) block.
const BLOCK_UNCOMPRESSED: u32 = 1 << 24;
/// "No fragment" index.
const NO_FRAG: u32 = 0xffff_ffff;
/// Fragment blocks kept decoded at once.
const FRAG_CACHE: usize = 16;

/// A metadata table decoded into one buffer, with where each block landed.
#[derive(Default)]
struct Table {
    buf: Vec<u8>,
    /// Block start (relative to the table start) → position in `buf`.
    blocks: BTreeMap<u64, usize>,
}

impl Table {
    /// Decoded bytes from reference (`block`, `offset`), to the end of the table.
    fn at(&self, block: u64, offset: usize) -> Option<&[u8]> {
        let start = self.blocks.get(&block)?.checked_add(offset)?;
        self.buf.get(start..)
    }
}

/// What an inode is, in a version-neutral form.
enum Kind {
    Dir {
        block: u64,
        offset: usize,
        /// Listing size in bytes (the stored size minus 3).
        size: u64,
    },
    File {
        start: u64,
        size: u64,
        frag: Option<(u32, u32)>,
        blocks: Vec<u32>,
    },
    Symlink(String),
    Device {
        block: bool,
        major: u32,
        minor: u32,
    },
    Fifo,
    Socket,
}

struct Inode {
    kind: Kind,
    /// Permission bits (without the type).
    perm: u32,
    uid: u32,
    gid: u32,
}

impl Inode {
    fn mode(&self) -> u32 {
        let t = match self.kind {
            Kind::Dir { .. } => 0o040000,
            Kind::File { .. } => 0o100000,
            Kind::Symlink(_) => 0o120000,
            Kind::Device { block: true, .. } => 0o060000,
            Kind::Device { block: false, .. } => 0o020000,
            Kind::Fifo => 0o010000,
            Kind::Socket => 0o140000,
        };
        t | (self.perm & 0o7777)
    }
}

/// One directory entry: its name and the reference of its inode.
struct DirEntry {
    name: Vec<u8>,
    inode: u64,
}

struct Image<'a> {
    sb: &'a Superblock,
    data: &'a [u8],
    dec: Decoder,
    ctx: &'a UnpackContext<'a>,
    inodes: Table,
    dirs: Table,
    frags: Vec<(u64, u32)>,
    uids: Vec<u32>,
    gids: Vec<u32>,
    frag_cache: Vec<(u32, Arc<Vec<u8>>)>,
    warnings: Vec<String>,
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
        dec: Decoder::new(sb.comp, sb.major < 4),
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

    let mut out = Unpacked::default();
    out.detail("version", format!("{}.{}", sb.major, sb.minor));
    out.detail(
        "endianness",
        if sb.endian == Endian::Big {
            "big"
        } else {
            "little"
        },
    );
    out.detail("block_size", sb.block_size);
    img.walk(&mut out)?;
    out.detail("compression", img.dec.describe());
    out.warnings.append(&mut img.warnings);
    Ok(out)
}

impl Image<'_> {
    fn warn(&mut self, msg: impl Into<String>) {
        if self.warnings.len() < 100 {
            self.warnings.push(msg.into());
        }
    }

    /// Read one metadata block at absolute `pos`: its decoded bytes and the next position.
    fn meta_block(&self, pos: u64) -> Result<(Vec<u8>, u64), FormatError> {
        let p = usize::try_from(pos).map_err(|_| FormatError::Corrupt("offset".into()))?;
        let mut c = Cursor::at(self.data, p, self.sb.endian)?;
        let h = c.u16()?;
        if self.sb.check_marker() {
            c.skip(1)?;
        }
        let stored = h & 0x8000 != 0;
        let len = (h & 0x7fff) as usize;
        if len == 0 || len > META {
            return Err(FormatError::Corrupt(format!(
                "metadata block at {pos:#x} has length {len}"
            )));
        }
        let raw = c.bytes(len)?;
        let out = if stored {
            raw.to_vec()
        } else {
            self.dec.decompress(raw, META, None)?
        };
        self.ctx.charge(out.len() as u64)?;
        Ok((out, c.pos() as u64))
    }

    /// Decode the consecutive metadata blocks from `start` up to `end`.
    fn load_table(&mut self, start: u64, end: u64, what: &str) -> Result<Table, FormatError> {
        let mut t = Table::default();
        let mut pos = start;
        let end = end.min(self.data.len() as u64);
        while pos < end {
            match self.meta_block(pos) {
                Ok((bytes, next)) => {
                    t.blocks.insert(pos - start, t.buf.len());
                    t.buf.extend_from_slice(&bytes);
                    pos = next;
                }
                Err(e @ FormatError::Limit(_)) => return Err(e),
                Err(e) => {
                    self.warn(format!("{what} table: {e}"));
                    break;
                }
            }
        }
        if t.blocks.is_empty() {
            return Err(FormatError::Corrupt(format!("{what} table is unreadable")));
        }
        Ok(t)
    }

    /// Decode `count` entries of `entry` bytes from the metadata blocks listed by an index of
    /// `ptr`-byte pointers at `index`.
    fn indexed_table(&mut self, index: u64, count: u64, entry: u64, ptr: usize) -> Vec<u8> {
        let want = count.saturating_mul(entry);
        let nblocks = want.div_ceil(META as u64) as usize;
        let mut out = Vec::new();
        for i in 0..nblocks {
            let Some(at) = (index as usize).checked_add(i * ptr) else {
                break;
            };
            let Ok(mut c) = Cursor::at(self.data, at, self.sb.endian) else {
                self.warn("table index runs past the end");
                break;
            };
            let p = if ptr == 8 {
                c.u64()
            } else {
                c.u32().map(u64::from)
            };
            let Ok(p) = p else {
                self.warn("table index runs past the end");
                break;
            };
            match self.meta_block(p) {
                Ok((b, _)) => out.extend_from_slice(&b),
                Err(e) => {
                    self.warn(format!("table block at {p:#x}: {e}"));
                    break;
                }
            }
        }
        out.truncate(want as usize);
        out
    }

    fn load_ids(&mut self) {
        let sb = self.sb;
        let read_u32s = |b: &[u8]| -> Vec<u32> {
            let mut c = Cursor::new(b, sb.endian);
            std::iter::from_fn(|| c.u32().ok()).collect()
        };
        if sb.major == 4 {
            let b = self.indexed_table(sb.id_table, sb.id_count as u64, 4, 8);
            self.uids = read_u32s(&b);
        } else {
            // v2/v3: plain arrays of u32.
            let take = |start: u64, n: u32| {
                let s = start as usize;
                self.data
                    .get(s..s.saturating_add(n as usize * 4))
                    .map(read_u32s)
                    .unwrap_or_default()
            };
            self.uids = take(sb.id_table, sb.id_count);
            self.gids = take(sb.gid_table, sb.gid_count);
        }
    }

    fn load_frags(&mut self) {
        let sb = self.sb;
        if sb.fragments == 0 {
            return;
        }
        // A fragment entry needs at least a few bytes of image: refuse absurd counts.
        let count = (sb.fragments as u64).min(self.data.len() as u64);
        let (entry, ptr) = match sb.major {
            2 => (8, 4),
            _ => (16, 8),
        };
        let b = self.indexed_table(sb.frag_table, count, entry, ptr);
        let mut c = Cursor::new(&b, sb.endian);
        while c.remaining() >= entry as usize {
            let e = if entry == 8 {
                (c.u32().map(u64::from), c.u32())
            } else {
                let s = c.u64();
                let z = c.u32();
                let _ = c.u32();
                (s, z)
            };
            if let (Ok(s), Ok(z)) = e {
                self.frags.push((s, z));
            }
        }
    }

    /// Parse the inode at reference `r`.
    fn inode(&self, r: u64) -> Result<Inode, FormatError> {
        let bad = || FormatError::Corrupt(format!("inode reference {r:#x} is outside the table"));
        let d = self
            .inodes
            .at(r >> 16, (r & 0xffff) as usize)
            .ok_or_else(bad)?;
        match self.sb.major {
            4 => self.inode_v4(d),
            _ => self.inode_legacy(d),
        }
    }

    fn id(&self, i: u32) -> u32 {
        self.uids.get(i as usize).copied().unwrap_or(0)
    }

    fn inode_v4(&self, d: &[u8]) -> Result<Inode, FormatError> {
        let mut c = Cursor::new(d, self.sb.endian);
        let ty = c.u16()?;
        let perm = c.u16()? as u32;
        let uid = self.id(c.u16()? as u32);
        let gid = self.id(c.u16()? as u32);
        let _mtime = c.u32()?;
        let _number = c.u32()?;
        let kind = match ty {
            1 => {
                let block = c.u32()? as u64;
                let _links = c.u32()?;
                let size = c.u16()? as u64;
                let offset = c.u16()? as usize;
                Kind::Dir {
                    block,
                    offset,
                    size: size.saturating_sub(3),
                }
            }
            8 => {
                let _links = c.u32()?;
                let size = c.u32()? as u64;
                let block = c.u32()? as u64;
                let _parent = c.u32()?;
                let _index = c.u16()?;
                let offset = c.u16()? as usize;
                Kind::Dir {
                    block,
                    offset,
                    size: size.saturating_sub(3),
                }
            }
            2 | 9 => {
                let (start, size, frag, foff) = if ty == 2 {
                    let start = c.u32()? as u64;
                    let frag = c.u32()?;
                    let foff = c.u32()?;
                    (start, c.u32()? as u64, frag, foff)
                } else {
                    let start = c.u64()?;
                    let size = c.u64()?;
                    let _sparse = c.u64()?;
                    let _links = c.u32()?;
                    let frag = c.u32()?;
                    let foff = c.u32()?;
                    let _xattr = c.u32()?;
                    (start, size, frag, foff)
                };
                self.file_kind(&mut c, start, size, frag, foff)?
            }
            3 | 10 => {
                let _links = c.u32()?;
                let n = c.u32()? as usize;
                let target = c.bytes(n)?;
                Kind::Symlink(String::from_utf8_lossy(target).into_owned())
            }
            4 | 5 | 11 | 12 => {
                let _links = c.u32()?;
                let dev = c.u32()?;
                Kind::Device {
                    block: ty == 4 || ty == 11,
                    major: (dev & 0xfff00) >> 8,
                    minor: (dev & 0xff) | ((dev >> 12) & 0xfff00),
                }
            }
            6 | 13 => Kind::Fifo,
            7 | 14 => Kind::Socket,
            t => return Err(FormatError::Corrupt(format!("inode type {t}"))),
        };
        Ok(Inode {
            kind,
            perm,
            uid,
            gid,
        })
    }

    /// The block list of a regular file, after its fixed fields.
    fn file_kind(
        &self,
        c: &mut Cursor,
        start: u64,
        size: u64,
        frag: u32,
        foff: u32,
    ) -> Result<Kind, FormatError> {
        let bs = self.sb.block_size as u64;
        let has_frag = frag != NO_FRAG;
        let n = if has_frag {
            size / bs
        } else {
            size.div_ceil(bs)
        };
        // Every block size is 4 bytes of the table: check before allocating.
        if n.saturating_mul(4) > c.remaining() as u64 {
            return Err(FormatError::Corrupt(format!(
                "file of {size} bytes lists more blocks than the inode table holds"
            )));
        }
        let blocks = (0..n).map(|_| c.u32()).collect::<Result<Vec<_>, _>>()?;
        Ok(Kind::File {
            start,
            size,
            frag: has_frag.then_some((frag, foff)),
            blocks,
        })
    }

    /// v2/v3 inodes: bit-packed fields whose order depends on the byte order.
    fn inode_legacy(&self, d: &[u8]) -> Result<Inode, FormatError> {
        let e = self.sb.endian;
        let f = |bit: usize, n: usize| -> Result<u64, FormatError> {
            bits(d, bit, n, e).ok_or(FormatError::Truncated {
                what: "inode",
                offset: 0,
            })
        };
        let v3 = self.sb.major == 3;
        let ty = f(0, 4)?;
        let perm = f(4, 12)? as u32;
        let uid_i = f(16, 8)? as u32;
        let gid_i = f(24, 8)? as u32;
        let uid = self.id(uid_i);
        let gid = match self.gids.get(gid_i as usize) {
            Some(&g) if gid_i != 255 => g,
            _ => uid,
        };
        let base = if v3 { 96 } else { 32 };
        let kind = match (ty, v3) {
            (1, true) => Kind::Dir {
                size: f(128, 19)?.saturating_sub(3),
                offset: f(147, 13)? as usize,
                block: f(160, 32)?,
            },
            (8, true) => Kind::Dir {
                size: f(128, 27)?.saturating_sub(3),
                offset: f(155, 13)? as usize,
                block: f(168, 32)?,
            },
            // v2 stores the exact listing size (v3 and v4 add 3 for "." and "..").
            (1, false) => Kind::Dir {
                size: f(32, 19)?,
                offset: f(51, 13)? as usize,
                block: f(96, 24)?,
            },
            (8, false) => Kind::Dir {
                size: f(32, 27)?,
                offset: f(59, 13)? as usize,
                block: f(104, 24)?,
            },
            (2, _) | (9, true) => {
                let (start, frag, foff, size, hdr) = match (ty, v3) {
                    (2, true) => (f(96, 64)?, f(160, 32)?, f(192, 32)?, f(224, 32)?, 32),
                    (9, _) => (f(128, 64)?, f(192, 32)?, f(224, 32)?, f(256, 64)?, 40),
                    _ => (f(64, 32)?, f(96, 32)?, f(128, 32)?, f(160, 32)?, 24),
                };
                let mut c = Cursor::at(d, hdr, e)?;
                self.file_kind(&mut c, start, size, frag as u32, foff as u32)?
            }
            (3, _) => {
                let n = f(base + if v3 { 32 } else { 0 }, 16)? as usize;
                let at = (base + if v3 { 48 } else { 16 }) / 8;
                let mut c = Cursor::at(d, at, e)?;
                Kind::Symlink(String::from_utf8_lossy(c.bytes(n)?).into_owned())
            }
            (4 | 5, _) => {
                let rdev = f(base + if v3 { 32 } else { 0 }, 16)? as u32;
                Kind::Device {
                    block: ty == 4,
                    major: rdev >> 8,
                    minor: rdev & 0xff,
                }
            }
            (6, _) => Kind::Fifo,
            (7, _) => Kind::Socket,
            (t, _) => return Err(FormatError::Corrupt(format!("inode type {t}"))),
        };
        Ok(Inode {
            kind,
            perm,
            uid,
            gid,
        })
    }

    /// The entries of a directory listing.
    fn read_dir(&self, block: u64, offset: usize, size: u64) -> Result<Vec<DirEntry>, FormatError> {
        let d = self
            .dirs
            .at(block, offset)
            .ok_or_else(|| FormatError::Corrupt(format!("directory at {block:#x} not in table")))?;
        let size = (size as usize).min(d.len());
        let d = &d[..size];
        let e = self.sb.endian;
        let mut out = Vec::new();
        let mut pos = 0usize;
        let v = self.sb.major;
        let (hdr_len, ent_len) = match v {
            4 => (12, 8),
            3 => (9, 5),
            _ => (4, 3),
        };
        while pos + hdr_len <= d.len() {
            let h = &d[pos..];
            let (count, start) = if v == 4 {
                let mut c = Cursor::new(h, e);
                (c.u32()? as u64 + 1, c.u32()? as u64)
            } else {
                let g = |b, n| bits(h, b, n, e).unwrap_or(0);
                (g(0, 8) + 1, if v == 3 { g(8, 32) } else { g(8, 24) })
            };
            pos += hdr_len;
            if count > 256 {
                return Err(FormatError::Corrupt(
                    "directory header count above 256".into(),
                ));
            }
            for _ in 0..count {
                let Some(en) = d.get(pos..pos + ent_len) else {
                    return Err(FormatError::Truncated {
                        what: "directory entry",
                        offset: pos as u64,
                    });
                };
                let (off, name_len) = if v == 4 {
                    let mut c = Cursor::new(en, e);
                    let off = c.u16()? as u64;
                    let _delta = c.u16()?;
                    let _ty = c.u16()?;
                    (off, c.u16()? as usize + 1)
                } else {
                    let g = |b, n| bits(en, b, n, e).unwrap_or(0);
                    (g(0, 13), g(16, 8) as usize + 1)
                };
                pos += ent_len;
                let Some(name) = d.get(pos..pos + name_len) else {
                    return Err(FormatError::Truncated {
                        what: "directory name",
                        offset: pos as u64,
                    });
                };
                pos += name_len;
                out.push(DirEntry {
                    name: name.to_vec(),
                    inode: (start << 16) | off,
                });
            }
        }
        Ok(out)
    }

    /// Decode a fragment block (cached).
    fn fragment(&mut self, idx: u32) -> Result<Arc<Vec<u8>>, FormatError> {
        if let Some((_, b)) = self.frag_cache.iter().find(|(i, _)| *i == idx) {
            return Ok(Arc::clone(b));
        }
        let &(start, size) = self
            .frags
            .get(idx as usize)
            .ok_or_else(|| FormatError::Corrupt(format!("fragment {idx} not in table")))?;
        let b = Arc::new(self.data_block(start, size, None)?);
        if self.frag_cache.len() >= FRAG_CACHE {
            self.frag_cache.remove(0);
        }
        self.frag_cache.push((idx, Arc::clone(&b)));
        Ok(b)
    }

    /// Read and decode one data block.
    fn data_block(
        &self,
        start: u64,
        word: u32,
        expected: Option<usize>,
    ) -> Result<Vec<u8>, FormatError> {
        let len = (word & (BLOCK_UNCOMPRESSED - 1)) as usize;
        let bs = self.sb.block_size as usize;
        if len > bs {
            return Err(FormatError::Corrupt(format!("data block of {len} bytes")));
        }
        let s = usize::try_from(start).map_err(|_| FormatError::Corrupt("offset".into()))?;
        let raw = self
            .data
            .get(s..s.saturating_add(len))
            .filter(|r| r.len() == len)
            .ok_or(FormatError::Truncated {
                what: "data block",
                offset: start,
            })?;
        if word & BLOCK_UNCOMPRESSED != 0 {
            Ok(raw.to_vec())
        } else {
            self.dec.decompress(raw, bs, expected)
        }
    }

    /// A regular file's bytes; errors after some bytes give the bytes and the error.
    fn file_data(
        &mut self,
        start: u64,
        size: u64,
        frag: Option<(u32, u32)>,
        blocks: &[u32],
    ) -> (Vec<u8>, Option<FormatError>) {
        let bs = self.sb.block_size as u64;
        if size > self.ctx.stream_limit() {
            return (
                Vec::new(),
                Some(FormatError::Limit(format!("file of {size} bytes"))),
            );
        }
        let mut out: Vec<u8> = Vec::new();
        let mut pos = start;
        for &w in blocks {
            let want = (size - out.len() as u64).min(bs) as usize;
            if let Err(e) = self.ctx.charge(want as u64) {
                return (out, Some(e));
            }
            let len = (w & (BLOCK_UNCOMPRESSED - 1)) as u64;
            if len == 0 {
                out.resize(out.len() + want, 0);
                continue;
            }
            match self.data_block(pos, w, Some(want)) {
                Ok(b) if b.len() == want => out.extend_from_slice(&b),
                Ok(b) => {
                    let n = b.len();
                    out.extend_from_slice(&b[..n.min(want)]);
                    return (
                        out,
                        Some(FormatError::Corrupt(format!(
                            "block decodes to {n} bytes, expected {want}"
                        ))),
                    );
                }
                Err(e) => return (out, Some(e)),
            }
            pos = pos.saturating_add(len);
        }
        if let Some((idx, off)) = frag {
            let want = (size - out.len() as u64) as usize;
            if want > 0 {
                if let Err(e) = self.ctx.charge(want as u64) {
                    return (out, Some(e));
                }
                match self.fragment(idx) {
                    Ok(b) => match b.get(off as usize..(off as usize).saturating_add(want)) {
                        Some(s) => out.extend_from_slice(s),
                        None => {
                            return (
                                out,
                                Some(FormatError::Corrupt(format!(
                                    "fragment {idx} is shorter than the file's tail"
                                ))),
                            )
                        }
                    },
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    /// Walk the tree from the root, depth-first, with a visited set and depth bound.
    fn walk(&mut self, out: &mut Unpacked) -> Result<(), FormatError> {
        let root = self.inode(self.sb.root_inode)?;
        let Kind::Dir { .. } = root.kind else {
            return Err(FormatError::Corrupt("root inode is not a directory".into()));
        };
        out.detail("root_mode", format!("{:o}", root.mode()));
        let mut visited = HashSet::new();
        visited.insert(self.sb.root_inode);
        let mut files: HashMap<u64, Blob> = HashMap::new();
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
                    self.warn(format!("directory {}: {e}", display(&path)));
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for de in list {
                if out.entries.len() >= max_entries {
                    self.warn(format!("more than {max_entries} entries; rest skipped"));
                    return Ok(());
                }
                let name = String::from_utf8_lossy(&de.name).into_owned();
                if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                    self.warn(format!("bad name {name:?} in {}", display(&path)));
                    continue;
                }
                let p = format!("{path}/{name}");
                let ino = match self.inode(de.inode) {
                    Ok(i) => i,
                    Err(e) => {
                        self.warn(format!("{p}: {e}"));
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
                        let blob = match files.get(&de.inode) {
                            Some(b) => b.clone(),
                            None => {
                                let (bytes, err) = self.file_data(*start, *size, *frag, blocks);
                                if let Some(e) = err {
                                    if matches!(e, FormatError::Limit(_)) {
                                        out.warn(format!("{p}: {e}"));
                                    } else {
                                        self.warn(format!("{p}: {e}"));
                                    }
                                }
                                let b = Blob::from(bytes);
                                files.insert(de.inode, b.clone());
                                b
                            }
                        };
                        Entry::fs(&p, EntryKind::File).with_data(EntryData::Owned(blob))
                    }
                };
                out.entries.push(entry.with_owner(mode, uid, gid));
                if let Kind::Dir { .. } = ino.kind {
                    if depth + 1 >= MAX_DEPTH {
                        self.warn(format!("{p}: directories nested deeper than {MAX_DEPTH}"));
                    } else if visited.insert(de.inode) {
                        subdirs.push((ino, p, depth + 1));
                    } else {
                        self.warn(format!("{p}: directory loop"));
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

/// Bit field `bit..bit+n` of a packed legacy structure (n ≤ 64): little-endian structures
/// count bits from the least significant bit of byte 0, big-endian ones from its most
/// significant bit.
fn bits(d: &[u8], bit: usize, n: usize, e: Endian) -> Option<u64> {
    let first = bit / 8;
    let shift = bit % 8;
    let nbytes = (shift + n).div_ceil(8);
    let bytes = d.get(first..first.checked_add(nbytes)?)?;
    if nbytes > 9 || n == 0 {
        return None;
    }
    let mut acc: u128 = 0;
    match e {
        Endian::Little => {
            for (i, &b) in bytes.iter().enumerate() {
                acc |= (b as u128) << (8 * i);
            }
            acc >>= shift;
        }
        Endian::Big => {
            for &b in bytes {
                acc = (acc << 8) | b as u128;
            }
            acc >>= nbytes * 8 - shift - n;
        }
    }
    Some((acc & ((1u128 << n) - 1)) as u64)
}

#[cfg(test)]
mod bit_tests {
    use super::*;

    #[test]
    fn packed_bits_both_orders() {
        // BE: type in the top nibble.
        assert_eq!(bits(&[0x21, 0xed], 0, 4, Endian::Big), Some(2));
        assert_eq!(bits(&[0x21, 0xed], 4, 12, Endian::Big), Some(0x1ed));
        // LE: type in the low nibble.
        assert_eq!(bits(&[0xd2, 0x1e], 0, 4, Endian::Little), Some(2));
        assert_eq!(bits(&[0xd2, 0x1e], 4, 12, Endian::Little), Some(0x1ed));
        assert_eq!(
            bits(&[1, 2, 3, 4, 5, 6, 7, 8], 0, 64, Endian::Big),
            Some(0x0102030405060708)
        );
        assert_eq!(bits(&[1], 0, 16, Endian::Big), None);
    }
}
