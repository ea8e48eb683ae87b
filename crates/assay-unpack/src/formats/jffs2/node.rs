//! JFFS2's on-media structures: the common node header, directory-entry and inode nodes,
//! each checked against its CRCs before anything trusts it.

use crate::cursor::Endian;
use crate::format::WarningKind;

pub(super) const MAGIC: u16 = 0x1985;
pub(super) const NODE_ACCURATE: u16 = 0x2000;
pub(super) const NODETYPE_DIRENT: u16 = 0xe001;
pub(super) const NODETYPE_INODE: u16 = 0xe002;
pub(super) const NODETYPE_CLEANMARKER: u16 = 0x2003;
pub(super) const NODETYPE_PADDING: u16 = 0x2004;
pub(super) const NODETYPE_SUMMARY: u16 = 0x2006;
pub(super) const HEADER_LEN: usize = 12;
const DIRENT_LEN: usize = 40;
const INODE_LEN: usize = 68;

/// JFFS2's CRC-32: the reflected 0xEDB88320 polynomial seeded with 0 and not inverted at the
/// end (Linux `crc32(0, ...)`), which is the bitwise complement of zlib's CRC seeded with !0.
pub fn jffs2_crc(data: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0xffff_ffff);
    h.update(data);
    !h.finalize()
}

pub(super) fn rd16(d: &[u8], off: usize, e: Endian) -> Option<u16> {
    let b: [u8; 2] = d.get(off..off.checked_add(2)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u16::from_le_bytes(b),
        Endian::Big => u16::from_be_bytes(b),
    })
}

pub(super) fn rd32(d: &[u8], off: usize, e: Endian) -> Option<u32> {
    let b: [u8; 4] = d.get(off..off.checked_add(4)?)?.try_into().ok()?;
    Some(match e {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    })
}

/// A node header that passed its CRC: its type (with the "accurate" bit as stored) and length.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeHeader {
    pub(super) nodetype: u16,
    pub(super) totlen: u32,
}

/// Read and check the node header at `pos`: magic, CRC (also with the accurate bit restored,
/// since marking a node obsolete clears it in place without updating the CRC), a length of at
/// least a header.
pub(super) fn node_header(d: &[u8], pos: usize, e: Endian) -> Option<NodeHeader> {
    let head = d.get(pos..pos.checked_add(HEADER_LEN)?)?;
    if rd16(head, 0, e)? != MAGIC {
        return None;
    }
    let nodetype = rd16(head, 2, e)?;
    let totlen = rd32(head, 4, e)?;
    let crc = rd32(head, 8, e)?;
    if (totlen as usize) < HEADER_LEN {
        return None;
    }
    if jffs2_crc(&head[..8]) != crc {
        if nodetype & NODE_ACCURATE != 0 {
            return None;
        }
        let mut fixed = [0u8; 8];
        fixed.copy_from_slice(&head[..8]);
        fixed[2..4].copy_from_slice(&match e {
            Endian::Little => (nodetype | NODE_ACCURATE).to_le_bytes(),
            Endian::Big => (nodetype | NODE_ACCURATE).to_be_bytes(),
        });
        if jffs2_crc(&fixed) != crc {
            return None;
        }
    }
    Some(NodeHeader { nodetype, totlen })
}

/// A directory entry node, already checked.
#[derive(Debug, Clone)]
pub(super) struct Dirent {
    pub(super) pino: u32,
    pub(super) version: u32,
    pub(super) ino: u32,
    pub(super) dtype: u8,
    pub(super) name: Vec<u8>,
}

/// An inode node, already checked; its data stays in the image until it is needed.
#[derive(Debug, Clone)]
pub(super) struct InodeNode {
    pub(super) version: u32,
    pub(super) mode: u32,
    pub(super) uid: u16,
    pub(super) gid: u16,
    pub(super) isize: u32,
    pub(super) mtime: u32,
    pub(super) offset: u32,
    pub(super) dsize: u32,
    pub(super) compr: u8,
    /// Where the (compressed) data lies in the image.
    pub(super) data_at: usize,
    pub(super) csize: u32,
    /// Where the node starts, for warnings.
    pub(super) node_at: usize,
}

/// Why a node was skipped: the kind of the warning and what was wrong.
pub(super) type Skip = (WarningKind, &'static str);

const TRUNCATED: Skip = (WarningKind::Truncated, "truncated");

pub(super) fn parse_dirent(n: &[u8], e: Endian) -> Result<Dirent, Skip> {
    let field = |off| rd32(n, off, e).ok_or(TRUNCATED);
    if n.len() < DIRENT_LEN {
        return Err((WarningKind::Format, "shorter than a directory entry"));
    }
    if jffs2_crc(&n[..32]) != field(32)? {
        return Err((WarningKind::Checksum, "node CRC mismatch"));
    }
    let nsize = n[28] as usize;
    let name = n
        .get(DIRENT_LEN..DIRENT_LEN + nsize)
        .ok_or((WarningKind::Truncated, "name runs past the node"))?;
    if jffs2_crc(name) != field(36)? {
        return Err((WarningKind::Checksum, "name CRC mismatch"));
    }
    Ok(Dirent {
        pino: field(12)?,
        version: field(16)?,
        ino: field(20)?,
        dtype: n[29],
        name: name.to_vec(),
    })
}

pub(super) fn parse_inode(n: &[u8], pos: usize, e: Endian) -> Result<(u32, InodeNode), Skip> {
    let field = |off| rd32(n, off, e).ok_or(TRUNCATED);
    if n.len() < INODE_LEN {
        return Err((WarningKind::Format, "shorter than an inode node"));
    }
    if jffs2_crc(&n[..60]) != field(64)? {
        return Err((WarningKind::Checksum, "node CRC mismatch"));
    }
    let csize = field(48)?;
    let data = n
        .get(INODE_LEN..INODE_LEN.saturating_add(csize as usize))
        .ok_or((WarningKind::Truncated, "data runs past the node"))?;
    if jffs2_crc(data) != field(60)? {
        return Err((WarningKind::Checksum, "data CRC mismatch"));
    }
    let node = InodeNode {
        version: field(16)?,
        mode: field(20)?,
        uid: rd16(n, 24, e).ok_or(TRUNCATED)?,
        gid: rd16(n, 26, e).ok_or(TRUNCATED)?,
        isize: field(28)?,
        mtime: field(36)?,
        offset: field(44)?,
        dsize: field(52)?,
        compr: n[56],
        data_at: pos + INODE_LEN,
        csize,
        node_at: pos,
    };
    Ok((field(12)?, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_linux() {
        // The first node header of a mkfs.jffs2 image carries its CRC.
        let image: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/le-zlib.jffs2");
        let h = &image[..12];
        assert_eq!(
            jffs2_crc(&h[..8]),
            u32::from_le_bytes(h[8..12].try_into().unwrap())
        );
    }
}
