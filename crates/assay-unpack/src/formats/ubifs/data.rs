//! A regular file's bytes: its data blocks decoded (none, lzo, zlib, zstd) into place, holes
//! left as zeros, the size bounded by the data written and the stream limit.

use super::fs::{Block, Fs, Inode};
use super::node::BLOCK_SIZE;
use crate::format::{UnpackContext, WarningKind};
use crate::limits::read_bounded;
use crate::FormatError;

/// A trailing hole larger than this past the last data block is not materialised.
const MAX_SPARSE_TAIL: u64 = 1 << 20;

impl Fs<'_> {
    /// Decode a regular file's bytes from its data blocks.
    pub(super) fn file_bytes(
        &self,
        inum: u64,
        ino: &Inode,
        ctx: &UnpackContext,
        warnings: &mut Vec<(WarningKind, String)>,
    ) -> Result<Vec<u8>, FormatError> {
        let blocks: Vec<(u32, &Block)> = self
            .blocks
            .range((inum, 0)..=(inum, u32::MAX))
            .map(|(&(_, b), blk)| (b, blk))
            .collect();
        let data_end = blocks
            .last()
            .map(|(b, _)| (*b as u64 + 1) * BLOCK_SIZE as u64)
            .unwrap_or(0);
        let mut size = ino.size;
        if size > data_end.saturating_add(MAX_SPARSE_TAIL) {
            warnings.push((
                WarningKind::Format,
                format!(
                    "inode {inum}: size {size} but data ends at {data_end}; sparse tail not materialised"
                ),
            ));
            size = data_end;
        }
        if size > ctx.stream_limit() {
            warnings.push((
                WarningKind::Limit,
                format!("inode {inum}: {size} bytes exceed the stream limit: cut"),
            ));
            size = ctx.stream_limit();
        }
        ctx.charge(size)?;
        let mut out = vec![0u8; size as usize];
        let mut bad = 0usize;
        for (b, blk) in blocks {
            let at = b as usize * BLOCK_SIZE;
            if at >= out.len() {
                break;
            }
            match decompress(blk.compr, blk.payload) {
                Ok(d) => {
                    if d.len() != blk.size as usize {
                        bad += 1;
                    }
                    let n = d.len().min(out.len() - at).min(BLOCK_SIZE);
                    out[at..at + n].copy_from_slice(&d[..n]);
                }
                Err(_) => bad += 1,
            }
        }
        if bad > 0 {
            warnings.push((
                WarningKind::Decode,
                format!("inode {inum}: {bad} data blocks failed to decode"),
            ));
        }
        Ok(out)
    }
}

/// Decompress one data node's payload (at most one 4 KiB block).
fn decompress(compr: u16, payload: &[u8]) -> Result<Vec<u8>, String> {
    match compr {
        0 => Ok(payload[..payload.len().min(BLOCK_SIZE)].to_vec()),
        1 => lzo::decompress(payload, BLOCK_SIZE).map_err(|e| format!("lzo: {e:?}")),
        2 => {
            let d = read_bounded(
                flate2::read::DeflateDecoder::new(payload),
                BLOCK_SIZE as u64,
            );
            match d.error {
                None => Ok(d.data),
                Some(e) => Err(e.to_string()),
            }
        }
        3 => {
            let mut src = payload;
            let dec = ruzstd::decoding::StreamingDecoder::new(&mut src)
                .map_err(|e| format!("zstd: {e}"))?;
            let d = read_bounded(dec, BLOCK_SIZE as u64);
            match d.error {
                None => Ok(d.data),
                Some(e) => Err(e.to_string()),
            }
        }
        other => Err(format!("unknown compression {other}")),
    }
}
