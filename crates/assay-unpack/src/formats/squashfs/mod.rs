//! squashfs, the compressed read-only root file system of most routers: versions 4.0 (both
//! byte orders, every standard compressor) and the legacy 2.x and 3.x layouts, including
//! vendor images whose blocks are LZMA with non-standard parameters.
//!
//! Own reader, not `backhand`: the legacy layouts (bit-packed inodes in two byte orders) and
//! vendor LZMA are outside that crate, its xz/zstd/lzo support pulls C or GPL code, and
//! owning the walk lets every table, loop and allocation be bounded for hostile input.

mod codec;
mod data;
mod dir;
mod inode;
mod reader;
mod table;

use crate::cursor::{be16, be32, be64, le16, le32, le64, Endian};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use codec::Compression;

/// A squashfs file system (any supported version, either byte order).
pub struct Squashfs;

static MAGICS: &[Magic] = &[Magic::at_start(b"hsqs"), Magic::at_start(b"sqsh")];

/// The superblock fields every version shares, in a version-neutral form.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    /// Byte order of every field and table.
    pub endian: Endian,
    /// Major version: 2, 3 or 4.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
    /// Inodes in the image.
    pub inodes: u32,
    /// When the image was made, Unix seconds.
    pub mkfs_time: u32,
    /// Data block size in bytes (a power of two, 4 KiB to 1 MiB).
    pub block_size: u32,
    /// Fragment entries.
    pub fragments: u32,
    /// Compressor (v2/v3: zlib, possibly vendor LZMA).
    pub comp: Compression,
    /// Flag bits (meaning differs slightly between versions).
    pub flags: u16,
    /// Reference of the root directory inode (block << 16 | offset).
    pub root_inode: u64,
    /// Bytes of the image that the file system uses.
    pub bytes_used: u64,
    /// v4: the id table index; v2/v3: the uid table.
    pub id_table: u64,
    /// v2/v3: the gid table.
    pub gid_table: u64,
    /// Entries of the id (v4) or uid (v2/v3) table.
    pub id_count: u32,
    /// Entries of the gid table (v2/v3).
    pub gid_count: u32,
    /// Start of the inode table.
    pub inode_table: u64,
    /// Start of the directory table.
    pub dir_table: u64,
    /// Start of the fragment table index.
    pub frag_table: u64,
    /// v4: export table; v3: lookup table (used only as a table end bound).
    pub export_table: u64,
    /// v4: xattr id table (only a bound).
    pub xattr_table: u64,
}

impl Superblock {
    /// Parse and validate the superblock at the start of `d`.
    pub fn parse(d: &[u8]) -> Option<Superblock> {
        let endian = match d.get(..4)? {
            b"hsqs" => Endian::Little,
            b"sqsh" => Endian::Big,
            _ => return None,
        };
        let u16_at = |o| match endian {
            Endian::Little => le16(d, o),
            Endian::Big => be16(d, o),
        };
        let u32_at = |o| match endian {
            Endian::Little => le32(d, o),
            Endian::Big => be32(d, o),
        };
        let u64_at = |o| match endian {
            Endian::Little => le64(d, o),
            Endian::Big => be64(d, o),
        };
        let major = u16_at(28)?;
        let minor = u16_at(30)?;
        let sb = match major {
            4 => {
                let block_size = u32_at(12)?;
                let block_log = u16_at(22)?;
                if minor != 0 || !valid_block(block_size, block_log) {
                    return None;
                }
                Superblock {
                    endian,
                    major,
                    minor,
                    inodes: u32_at(4)?,
                    mkfs_time: u32_at(8)?,
                    block_size,
                    fragments: u32_at(16)?,
                    comp: Compression::from_id(u16_at(20)?)?,
                    flags: u16_at(24)?,
                    id_count: u16_at(26)? as u32,
                    gid_count: 0,
                    root_inode: u64_at(32)?,
                    bytes_used: u64_at(40)?,
                    id_table: u64_at(48)?,
                    gid_table: 0,
                    xattr_table: u64_at(56)?,
                    inode_table: u64_at(64)?,
                    dir_table: u64_at(72)?,
                    frag_table: u64_at(80)?,
                    export_table: u64_at(88)?,
                }
            }
            2 | 3 => {
                let block_size = u32_at(51)?;
                let block_log = u16_at(34)?;
                if minor > 1 || !valid_block(block_size, block_log) {
                    return None;
                }
                let flags = *d.get(36)? as u16;
                let v3 = major == 3;
                Superblock {
                    endian,
                    major,
                    minor,
                    inodes: u32_at(4)?,
                    mkfs_time: u32_at(39)?,
                    block_size,
                    fragments: u32_at(55)?,
                    comp: Compression::Gzip,
                    flags,
                    id_count: *d.get(37)? as u32,
                    gid_count: *d.get(38)? as u32,
                    root_inode: u64_at(43)?,
                    bytes_used: if v3 { u64_at(63)? } else { u32_at(8)? as u64 },
                    id_table: if v3 { u64_at(71)? } else { u32_at(12)? as u64 },
                    gid_table: if v3 { u64_at(79)? } else { u32_at(16)? as u64 },
                    inode_table: if v3 { u64_at(87)? } else { u32_at(20)? as u64 },
                    dir_table: if v3 { u64_at(95)? } else { u32_at(24)? as u64 },
                    frag_table: if v3 { u64_at(103)? } else { u32_at(59)? as u64 },
                    export_table: if v3 { u64_at(111)? } else { u64::MAX },
                    xattr_table: u64::MAX,
                }
            }
            _ => return None,
        };
        // The tables sit inside the used bytes, in their usual order.
        if sb.bytes_used < 64
            || sb.inode_table >= sb.bytes_used
            || sb.dir_table >= sb.bytes_used
            || sb.inode_table > sb.dir_table
            || (sb.root_inode >> 16) > sb.dir_table - sb.inode_table
        {
            return None;
        }
        Some(sb)
    }

    /// Whether metadata blocks carry the v2/v3 check marker byte after their header.
    pub fn check_marker(&self) -> bool {
        self.major < 4 && self.flags & 0x04 != 0
    }
}

fn valid_block(size: u32, log: u16) -> bool {
    (12..=20).contains(&log) && size == 1u32 << log
}

impl Format for Squashfs {
    fn name(&self) -> &'static str {
        "squashfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let sb = Superblock::parse(data)?;
        // mksquashfs pads the image to 4 KiB unless told not to; claim the padding when it
        // is there and zero.
        let mut length = sb.bytes_used;
        let padded = sb.bytes_used.div_ceil(4096).saturating_mul(4096);
        if let Some(pad) = data.get(sb.bytes_used as usize..padded as usize) {
            if pad.iter().all(|&b| b == 0) {
                length = padded;
            }
        }
        Some(Probe {
            length: Some(length),
            description: format!(
                "squashfs {}.{} {}{}, {} inodes, {} KiB blocks",
                sb.major,
                sb.minor,
                // Legacy superblocks do not say; the unpack details tell what was found.
                if sb.major < 4 {
                    "zlib or vendor lzma"
                } else {
                    sb.comp.name()
                },
                if sb.endian == Endian::Big {
                    " big-endian"
                } else {
                    ""
                },
                sb.inodes,
                sb.block_size / 1024
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let sb = Superblock::parse(data)
            .ok_or_else(|| FormatError::Corrupt("squashfs superblock invalid".into()))?;
        reader::unpack(&sb, data, ctx)
    }
}

#[cfg(test)]
pub(crate) mod tests;
