//! A regular file's bytes: its data blocks (stored or compressed) and the tail in a fragment
//! block, decoded within the unpack budget.

use super::reader::Image;
use crate::FormatError;
use std::sync::Arc;

/// Bit of a data block size word that marks a stored (uncompressed) block.
const BLOCK_UNCOMPRESSED: u32 = 1 << 24;
/// "No fragment" index.
pub(super) const NO_FRAG: u32 = 0xffff_ffff;
/// Fragment blocks kept decoded at once.
const FRAG_CACHE: usize = 16;
impl Image<'_> {
    /// Decode a fragment block (cached).
    pub(super) fn fragment(&mut self, idx: u32) -> Result<Arc<Vec<u8>>, FormatError> {
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

    /// A regular file's bytes up to its trailing sparse blocks, and how many zero bytes
    /// those hold; errors after some bytes give the bytes and the error. Sparse blocks
    /// (size word 0) before data are materialised as zeros; the trailing ones are only
    /// counted when longer than both the bytes before them and 64 KiB, so that a hole costs
    /// neither memory nor budget.
    pub(super) fn file_data(
        &mut self,
        start: u64,
        size: u64,
        frag: Option<(u32, u32)>,
        blocks: &[u32],
    ) -> (Vec<u8>, u64, Option<FormatError>) {
        let bs = self.sb.block_size as u64;
        // Bytes up to the end of the last stored block (or the whole file with a tail).
        let data_end = match (
            frag,
            blocks
                .iter()
                .rposition(|w| w & (BLOCK_UNCOMPRESSED - 1) != 0),
        ) {
            (Some(_), _) => size,
            (None, Some(last)) => ((last as u64 + 1) * bs).min(size),
            (None, None) => 0,
        };
        let limit = self.ctx.stream_limit();
        if data_end > limit {
            return (
                Vec::new(),
                0,
                Some(FormatError::Limit(format!("file of {size} bytes"))),
            );
        }
        let mut out: Vec<u8> = Vec::new();
        // Sparse-block bytes not yet materialised.
        let mut zeros = 0u64;
        let mut pos = start;
        for &w in blocks {
            let want = size.saturating_sub(out.len() as u64 + zeros).min(bs) as usize;
            let len = (w & (BLOCK_UNCOMPRESSED - 1)) as u64;
            if len == 0 {
                zeros += want as u64;
                continue;
            }
            if zeros > 0 {
                if let Err(e) = self.ctx.charge(zeros) {
                    return (out, 0, Some(e));
                }
                out.resize(out.len() + zeros as usize, 0);
                zeros = 0;
            }
            if let Err(e) = self.ctx.charge(want as u64) {
                return (out, 0, Some(e));
            }
            match self.data_block(pos, w, Some(want)) {
                Ok(b) if b.len() == want => out.extend_from_slice(&b),
                Ok(b) => {
                    let n = b.len();
                    out.extend_from_slice(&b[..n.min(want)]);
                    return (
                        out,
                        0,
                        Some(FormatError::Corrupt(format!(
                            "block decodes to {n} bytes, expected {want}"
                        ))),
                    );
                }
                Err(e) => return (out, 0, Some(e)),
            }
            pos = pos.saturating_add(len);
        }
        if frag.is_some() && zeros > 0 {
            if let Err(e) = self.ctx.charge(zeros) {
                return (out, 0, Some(e));
            }
            out.resize(out.len() + zeros as usize, 0);
            zeros = 0;
        }
        if let Some((idx, off)) = frag {
            let want = size.saturating_sub(out.len() as u64) as usize;
            if want > 0 {
                if let Err(e) = self.ctx.charge(want as u64) {
                    return (out, 0, Some(e));
                }
                match self.fragment(idx) {
                    Ok(b) => match b.get(off as usize..(off as usize).saturating_add(want)) {
                        Some(s) => out.extend_from_slice(s),
                        None => {
                            return (
                                out,
                                0,
                                Some(FormatError::Corrupt(format!(
                                    "fragment {idx} is shorter than the file's tail"
                                ))),
                            )
                        }
                    },
                    Err(e) => return (out, 0, Some(e)),
                }
            }
        }
        // Trailing zeros short enough to be part of an ordinary file are kept as bytes.
        let materialise = zeros <= (out.len() as u64).max(64 << 10)
            && out.len() as u64 + zeros <= limit
            && self.ctx.charge(zeros).is_ok();
        if materialise {
            out.resize(out.len() + zeros as usize, 0);
            zeros = 0;
        }
        (out, zeros, None)
    }
}
