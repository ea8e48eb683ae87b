//! Metadata tables: runs of 8 KiB blocks, each compressed on its own, addressed by (block,
//! offset) references; the id and fragment tables found through their indexes.

use super::reader::Image;
use crate::cursor::Cursor;
use crate::format::WarningKind;
use crate::FormatError;
use std::collections::BTreeMap;

/// Size of a decoded metadata block.
const META: usize = 8192;

/// A metadata table decoded into one buffer, with where each block landed.
#[derive(Default)]
pub(super) struct Table {
    buf: Vec<u8>,
    /// Block start (relative to the table start) → position in `buf`.
    pub(super) blocks: BTreeMap<u64, usize>,
}

impl Table {
    /// Decoded bytes from reference (`block`, `offset`), to the end of the table.
    pub(super) fn at(&self, block: u64, offset: usize) -> Option<&[u8]> {
        let start = self.blocks.get(&block)?.checked_add(offset)?;
        self.buf.get(start..)
    }
}

impl Image<'_> {
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
    pub(super) fn load_table(
        &mut self,
        start: u64,
        end: u64,
        what: &str,
    ) -> Result<Table, FormatError> {
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
                    self.warn(e.kind(), format!("{what} table: {e}"));
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
                self.warn(WarningKind::Truncated, "table index runs past the end");
                break;
            };
            let p = if ptr == 8 {
                c.u64()
            } else {
                c.u32().map(u64::from)
            };
            let Ok(p) = p else {
                self.warn(WarningKind::Truncated, "table index runs past the end");
                break;
            };
            match self.meta_block(p) {
                Ok((b, _)) => out.extend_from_slice(&b),
                Err(e) => {
                    self.warn(e.kind(), format!("table block at {p:#x}: {e}"));
                    break;
                }
            }
        }
        out.truncate(want as usize);
        out
    }

    pub(super) fn load_ids(&mut self) {
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

    pub(super) fn load_frags(&mut self) {
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

    pub(super) fn id(&self, i: u32) -> u32 {
        self.uids.get(i as usize).copied().unwrap_or(0)
    }
}
