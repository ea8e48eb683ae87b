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

/// The standard magics, then the non-standard ones vendors wrote (Broadcom/Linksys `shsq`,
/// Huawei `qshs`, the LZMA builds' `sqlz`/`zlqs`, `hsqt`/`tqsh`). A magic is only a hint: the
/// structure behind it decides (the byte order from the version field, not from the magic).
const NAMED_MAGICS: [&[u8; 4]; 8] = [
    b"hsqs", b"sqsh", b"shsq", b"qshs", b"sqlz", b"zlqs", b"hsqt", b"tqsh",
];

/// Minor versions of the 2.x/3.x layouts: 0, 1, and `L`, which the LZMA patches wrote.
const LEGACY_MINORS: [u8; 3] = [0, 1, b'L'];

/// Block size logs of 3.x (4 KiB to 1 MiB); 2.x stops at 64 KiB.
const V3_LOGS: std::ops::RangeInclusive<u8> = 12..=20;
const V2_LOGS: std::ops::RangeInclusive<u8> = 12..=16;

/// Superblocks of 2.x/3.x behind any magic: the version, the 16-bit copy of the block size
/// and its log (bytes 28..36), which together identify the layout without its magic.
const STRUCTURAL: usize = 2 * LEGACY_MINORS.len() * (9 + 5);

/// Bytes 28..36 of a 2.x/3.x superblock: major, minor, block size (low 16 bits), log.
const fn structural_pattern(major: u8, minor: u8, log: u8, big: bool) -> [u8; 8] {
    let bs = ((1u32 << log) & 0xffff) as u16;
    let [lo, hi] = bs.to_le_bytes();
    if big {
        [0, major, 0, minor, hi, lo, 0, log]
    } else {
        [major, 0, minor, 0, lo, hi, log, 0]
    }
}

static STRUCTURAL_PATTERNS: [[u8; 8]; STRUCTURAL] = {
    let mut out = [[0u8; 8]; STRUCTURAL];
    let mut i = 0;
    let mut big = 0;
    while big < 2 {
        let mut m = 0;
        while m < LEGACY_MINORS.len() {
            let mut log = *V3_LOGS.start();
            while log <= *V3_LOGS.end() {
                out[i] = structural_pattern(3, LEGACY_MINORS[m], log, big == 1);
                i += 1;
                if log <= *V2_LOGS.end() {
                    out[i] = structural_pattern(2, LEGACY_MINORS[m], log, big == 1);
                    i += 1;
                }
                log += 1;
            }
            m += 1;
        }
        big += 1;
    }
    out
};

static MAGICS: [Magic; NAMED_MAGICS.len() + STRUCTURAL] = {
    const NONE: Magic = Magic::at_start(b"hsqs");
    let mut out = [NONE; NAMED_MAGICS.len() + STRUCTURAL];
    let mut i = 0;
    while i < NAMED_MAGICS.len() {
        out[i] = Magic::at_start(NAMED_MAGICS[i]);
        i += 1;
    }
    let mut j = 0;
    while j < STRUCTURAL {
        out[i + j] = Magic::at(&STRUCTURAL_PATTERNS[j], 28);
        j += 1;
    }
    out
};

/// The superblock fields every version shares, in a version-neutral form.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    /// Byte order of every field and table.
    pub endian: Endian,
    /// The magic as found (vendors wrote their own).
    pub magic: [u8; 4],
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
    /// What the superblock said when `bytes_used` was off and was repaired from the tables.
    pub declared_bytes_used: Option<u64>,
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
    /// Parse and validate the superblock at the start of `d`, whatever its magic: the
    /// byte order is the one in which the version and the layout hold.
    pub fn parse(d: &[u8]) -> Option<Superblock> {
        let first = match d.get(..4)? {
            b"sqsh" | b"qshs" | b"tqsh" | b"zlqs" => Endian::Big,
            _ => Endian::Little,
        };
        let other = match first {
            Endian::Little => Endian::Big,
            Endian::Big => Endian::Little,
        };
        Self::parse_as(d, first).or_else(|| Self::parse_as(d, other))
    }

    /// Where the last table ends, the id (4.0) or uid/gid (2.x/3.x) table that the tools
    /// write last; `None` when something else (xattrs) may follow or the numbers overflow.
    fn table_end(&self) -> Option<u64> {
        if self.major == 4 {
            if self.xattr_table != u64::MAX {
                return None;
            }
            let blocks = (u64::from(self.id_count) * 4).div_ceil(8192);
            self.id_table.checked_add(blocks * 8)
        } else {
            let uids = self.id_table.checked_add(u64::from(self.id_count) * 4)?;
            let gids = self.gid_table.checked_add(u64::from(self.gid_count) * 4)?;
            Some(if self.gid_count > 0 {
                uids.max(gids)
            } else {
                uids
            })
        }
    }

    /// Whether the magic is one of the two that squashfs-tools writes.
    pub fn standard_magic(&self) -> bool {
        matches!(
            (&self.magic, self.endian),
            (b"hsqs", Endian::Little) | (b"sqsh", Endian::Big)
        )
    }

    fn parse_as(d: &[u8], endian: Endian) -> Option<Superblock> {
        let magic: [u8; 4] = d.get(..4)?.try_into().ok()?;
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
                    magic,
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
                    declared_bytes_used: None,
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
                if !LEGACY_MINORS.iter().any(|&m| u16::from(m) == minor)
                    || !valid_block(block_size, block_log)
                    || (major == 2 && block_log > 16)
                {
                    return None;
                }
                let flags = *d.get(36)? as u16;
                let v3 = major == 3;
                Superblock {
                    endian,
                    magic,
                    major,
                    minor,
                    inodes: u32_at(4)?,
                    mkfs_time: u32_at(39)?,
                    block_size,
                    fragments: u32_at(55)?,
                    // `L` marks the LZMA builds; otherwise zlib, or LZMA that the data tells.
                    comp: if minor == u16::from(b'L') {
                        Compression::Lzma
                    } else {
                        Compression::Gzip
                    },
                    flags,
                    id_count: *d.get(37)? as u32,
                    gid_count: *d.get(38)? as u32,
                    root_inode: u64_at(43)?,
                    bytes_used: if v3 { u64_at(63)? } else { u32_at(8)? as u64 },
                    declared_bytes_used: None,
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
        let mut sb = sb;
        // `bytes_used` off (zero, short of the tables, or past the end of the data while the
        // tables all sit inside it): the end of the last table stands in for it.
        if let Some(end) = sb.table_end() {
            let have = d.len() as u64;
            let short = sb.bytes_used < end;
            let past = sb.bytes_used > have;
            if (short || past) && end <= have && sb.inode_table < sb.dir_table {
                sb.declared_bytes_used = Some(sb.bytes_used);
                sb.bytes_used = end;
            }
        }
        // The tables sit inside the used bytes, in their usual order, and the root inode
        // inside the inode table.
        if sb.bytes_used < 64
            || sb.inodes == 0
            || sb.inode_table < 64
            || sb.inode_table >= sb.bytes_used
            || sb.dir_table >= sb.bytes_used
            || sb.inode_table > sb.dir_table
            || (sb.root_inode >> 16) > sb.dir_table - sb.inode_table
        {
            return None;
        }
        // Behind a magic squashfs-tools never writes, ask more of the structure: the id
        // table inside the image and the fragment table after the directory table.
        let standard = matches!(
            (&magic, endian),
            (b"hsqs", Endian::Little) | (b"sqsh", Endian::Big)
        );
        if !standard
            && (sb.id_table >= sb.bytes_used
                || sb.id_table < sb.dir_table
                || (sb.fragments > 0 && !(sb.dir_table..sb.bytes_used).contains(&sb.frag_table)))
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

/// The minor version as written: the LZMA builds' `L` as a letter.
pub(crate) fn minor_name(minor: u16) -> String {
    if minor == u16::from(b'L') {
        "L".into()
    } else {
        minor.to_string()
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
        &MAGICS
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
                "squashfs {}.{} {}{}{}, {} inodes, {} KiB blocks",
                sb.major,
                minor_name(sb.minor),
                // Legacy superblocks do not say; the unpack details tell what was found.
                if sb.major < 4 && sb.comp == Compression::Gzip {
                    "zlib or vendor lzma"
                } else {
                    sb.comp.name()
                },
                if sb.endian == Endian::Big {
                    " big-endian"
                } else {
                    ""
                },
                if sb.standard_magic() {
                    String::new()
                } else {
                    format!(", magic {:?}", String::from_utf8_lossy(&sb.magic))
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
