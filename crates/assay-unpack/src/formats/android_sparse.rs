//! Android sparse images (`img2simg`, fastboot): a header and chunks of raw blocks, fill
//! patterns, holes and CRCs that expand to one raw partition image.
//!
//! Own reader: the format is four chunk types over a 28-byte header, and the crates that
//! read it write to files instead of producing bounded in-memory output.

use crate::cursor::{le16, le32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An Android sparse image.
pub struct AndroidSparse;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x3a\xff\x26\xed")];

const CHUNK_RAW: u16 = 0xcac1;
const CHUNK_FILL: u16 = 0xcac2;
const CHUNK_DONT_CARE: u16 = 0xcac3;
const CHUNK_CRC32: u16 = 0xcac4;

/// The sparse file header.
#[derive(Debug, Clone, Copy)]
struct Header {
    header_size: usize,
    chunk_header_size: usize,
    block_size: u32,
    total_blocks: u32,
    total_chunks: u32,
}

fn parse_header(data: &[u8]) -> Option<Header> {
    if le16(data, 4)? != 1 || le16(data, 6)? != 0 {
        return None;
    }
    let header_size = le16(data, 8)? as usize;
    let chunk_header_size = le16(data, 10)? as usize;
    let block_size = le32(data, 12)?;
    if header_size < 28 || chunk_header_size < 12 || header_size > 1024 || chunk_header_size > 1024
    {
        return None;
    }
    if block_size == 0 || block_size % 4 != 0 || block_size > 1 << 20 {
        return None;
    }
    Some(Header {
        header_size,
        chunk_header_size,
        block_size,
        total_blocks: le32(data, 16)?,
        total_chunks: le32(data, 20)?,
    })
}

/// One chunk: type, blocks it covers, and where its payload sits.
struct Chunk {
    kind: u16,
    blocks: u32,
    payload: usize,
    payload_len: usize,
}

/// Walk the chunk headers; `None` if any is malformed or runs past the data.
fn chunks(data: &[u8], h: &Header) -> Result<(Vec<Chunk>, usize), FormatError> {
    let mut pos = h.header_size;
    // The header itself must fit, or an image of no chunks would claim bytes it lacks.
    if pos > data.len() {
        return Err(FormatError::Truncated {
            what: "sparse header",
            offset: 0,
        });
    }
    // Each chunk takes at least a chunk header, so the count is bounded by the data.
    let max = (data.len() / h.chunk_header_size) as u64;
    if u64::from(h.total_chunks) > max {
        return Err(FormatError::Truncated {
            what: "sparse chunk headers",
            offset: pos as u64,
        });
    }
    let mut out = Vec::with_capacity(h.total_chunks as usize);
    let mut blocks = 0u64;
    for _ in 0..h.total_chunks {
        let trunc = FormatError::Truncated {
            what: "sparse chunk",
            offset: pos as u64,
        };
        let (Some(kind), Some(count), Some(total)) =
            (le16(data, pos), le32(data, pos + 4), le32(data, pos + 8))
        else {
            return Err(trunc);
        };
        let total = total as usize;
        if total < h.chunk_header_size {
            return Err(FormatError::Corrupt(format!("chunk at {pos:#x} too short")));
        }
        let payload_len = total - h.chunk_header_size;
        let expected = match kind {
            CHUNK_RAW => u64::from(count) * u64::from(h.block_size),
            CHUNK_FILL | CHUNK_CRC32 => 4,
            CHUNK_DONT_CARE => 0,
            _ => {
                return Err(FormatError::Corrupt(format!(
                    "unknown chunk type {kind:#06x} at {pos:#x}"
                )))
            }
        };
        if payload_len as u64 != expected {
            return Err(FormatError::Corrupt(format!(
                "chunk at {pos:#x} has {payload_len} payload bytes, expected {expected}"
            )));
        }
        let end = pos.checked_add(total).filter(|&e| e <= data.len());
        let Some(end) = end else { return Err(trunc) };
        if kind != CHUNK_CRC32 {
            blocks += u64::from(count);
        }
        out.push(Chunk {
            kind,
            blocks: count,
            payload: pos + h.chunk_header_size,
            payload_len,
        });
        pos = end;
    }
    if blocks != u64::from(h.total_blocks) {
        return Err(FormatError::Corrupt(format!(
            "chunks cover {blocks} blocks, header says {}",
            h.total_blocks
        )));
    }
    Ok((out, pos))
}

impl Format for AndroidSparse {
    fn name(&self) -> &'static str {
        "android_sparse"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse_header(data)?;
        let (_, end) = chunks(data, &h).ok()?;
        Some(Probe {
            length: Some(end as u64),
            description: format!(
                "Android sparse image, {} blocks of {} bytes in {} chunks",
                h.total_blocks, h.block_size, h.total_chunks
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h =
            parse_header(data).ok_or_else(|| FormatError::Corrupt("bad sparse header".into()))?;
        let (list, end) = chunks(data, &h)?;
        let mut out = Unpacked {
            consumed: Some(end as u64),
            ..Default::default()
        };
        out.detail("block_size", h.block_size);
        out.detail("blocks", h.total_blocks);
        let full = u64::from(h.total_blocks) * u64::from(h.block_size);
        let limit = ctx.stream_limit();
        let size = if full > limit {
            out.warn(
                WarningKind::Limit,
                format!("expanded image of {full} bytes exceeds the limit of {limit}; cut"),
            );
            limit
        } else {
            full
        };
        let size = usize::try_from(size).map_err(|_| FormatError::Limit("image size".into()))?;
        ctx.charge(size as u64)?;
        let mut image = vec![0u8; size];
        let mut pos = 0usize;
        let bs = h.block_size as usize;
        for c in &list {
            if pos >= size {
                break;
            }
            let span = (c.blocks as usize).saturating_mul(bs);
            let end = pos.saturating_add(span).min(size);
            match c.kind {
                CHUNK_RAW => {
                    let src = &data[c.payload..c.payload + c.payload_len];
                    image[pos..end].copy_from_slice(&src[..end - pos]);
                }
                CHUNK_FILL => {
                    let fill = &data[c.payload..c.payload + 4];
                    for (i, b) in image[pos..end].iter_mut().enumerate() {
                        *b = fill[i % 4];
                    }
                }
                CHUNK_DONT_CARE => {}
                _ => continue,
            }
            pos = end;
        }
        out.entries
            .push(Entry::stream("", EntryData::Owned(Blob::from(image))));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, unpack};

    const SIMG: &[u8] = include_bytes!("../../tests/fixtures/disks/ext4.simg");

    #[test]
    fn expands_to_the_raw_image() {
        let p = AndroidSparse.probe(SIMG).unwrap();
        assert_eq!(p.length, Some(SIMG.len() as u64));
        let u = unpack(&AndroidSparse, SIMG);
        let raw = include_bytes!("../../tests/fixtures/disks/ext4.img");
        assert_eq!(entry_bytes(SIMG, &u.entries[0]).unwrap(), raw);
    }

    #[test]
    fn hostile_input() {
        hostile_with(&AndroidSparse, SIMG, &Hostile::disk());
    }
}
