//! Directory listings: headers that share an inode block, then entries with a name and an
//! inode offset, read from the directory table.

use super::inode::bits;
use super::reader::Image;
use crate::cursor::Cursor;
use crate::FormatError;

/// One directory entry: its name and the reference of its inode.
pub(super) struct DirEntry {
    pub(super) name: Vec<u8>,
    pub(super) inode: u64,
}

impl Image<'_> {
    /// The entries of a directory listing.
    pub(super) fn read_dir(
        &self,
        block: u64,
        offset: usize,
        size: u64,
    ) -> Result<Vec<DirEntry>, FormatError> {
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
}
