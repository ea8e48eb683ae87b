//! Inodes in a version-neutral form: the v4 layout and the bit-packed v2/v3 layouts (whose
//! field order depends on the byte order), parsed from the inode table.

use super::data::NO_FRAG;
use super::reader::Image;
use crate::cursor::{Cursor, Endian};
use crate::unix_mode::FileType;
use crate::FormatError;

/// What an inode is, in a version-neutral form.
pub(super) enum Kind {
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

pub(super) struct Inode {
    pub(super) kind: Kind,
    /// Permission bits (without the type).
    perm: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    /// Modification time, Unix seconds (v2 stores none for links, devices, pipes, sockets).
    pub(super) mtime: Option<i64>,
}

impl Inode {
    pub(super) fn mode(&self) -> u32 {
        let t = match self.kind {
            Kind::Dir { .. } => FileType::Directory,
            Kind::File { .. } => FileType::Regular,
            Kind::Symlink(_) => FileType::Symlink,
            Kind::Device { block: true, .. } => FileType::BlockDevice,
            Kind::Device { block: false, .. } => FileType::CharDevice,
            Kind::Fifo => FileType::Fifo,
            Kind::Socket => FileType::Socket,
        };
        t.bits() | (self.perm & 0o7777)
    }
}

impl Image<'_> {
    /// Parse the inode at reference `r`.
    pub(super) fn inode(&self, r: u64) -> Result<Inode, FormatError> {
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
    fn inode_v4(&self, d: &[u8]) -> Result<Inode, FormatError> {
        let mut c = Cursor::new(d, self.sb.endian);
        let ty = c.u16()?;
        let perm = c.u16()? as u32;
        let uid = self.id(c.u16()? as u32);
        let gid = self.id(c.u16()? as u32);
        let mtime = Some(i64::from(c.u32()?));
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
            mtime,
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
        // v3 keeps the time in every inode's header; v2 only in directory and file inodes.
        let mtime_bit = match (ty, v3) {
            (_, true) => Some(32),
            (1, false) => Some(64),
            (8, false) => Some(72),
            (2, false) => Some(32),
            _ => None,
        };
        let mtime = match mtime_bit {
            Some(bit) => Some(f(bit, 32)? as i64),
            None => None,
        };
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
            mtime,
        })
    }
}

/// Bit field `bit..bit+n` of a packed legacy structure (n ≤ 64): little-endian structures
/// count bits from the least significant bit of byte 0, big-endian ones from its most
/// significant bit.
pub(super) fn bits(d: &[u8], bit: usize, n: usize, e: Endian) -> Option<u64> {
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
