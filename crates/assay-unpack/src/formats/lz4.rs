//! LZ4 streams in both their container forms: the LZ4 frame format (`04 22 4d 18`), decoded
//! with `lz4_flex`'s frame decoder, and the Linux legacy format (`02 21 4c 18`) that kernels
//! and initramfs images use. `lz4_flex` has no legacy reader, so that one is written here
//! over `lz4_flex::block::decompress_into`: a sequence of blocks, each a 4-byte size and
//! compressed data decoding to at most 8 MiB, ended by the end of the data, by a size that
//! cannot be a block, or by a short block (only the last block is short). A repeated magic
//! between blocks continues the stream, as the kernel's decoder does.

use super::streamout::BoundedOut;
use crate::cursor::le32;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::limits::read_bounded;
use crate::{Blob, FormatError};

/// An LZ4 frame or a legacy LZ4 stream.
pub struct Lz4;

const FRAME_MAGIC: u32 = 0x184d_2204;
const LEGACY_MAGIC: u32 = 0x184c_2102;
static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x04\x22\x4d\x18"),
    Magic::at_start(b"\x02\x21\x4c\x18"),
];

/// Uncompressed size of every legacy block but the last.
const LEGACY_BLOCK: usize = 8 << 20;
/// Largest compressed legacy block (LZ4_compressBound of 8 MiB).
const LEGACY_BOUND: usize = LEGACY_BLOCK + LEGACY_BLOCK / 255 + 16;
/// Frames or legacy blocks handled in one container at most.
const MAX_PARTS: usize = 1 << 16;

/// A frame's descriptor facts: header length, max block size, block and content checksums.
struct FrameInfo {
    header: usize,
    block_max: usize,
    block_checksum: bool,
    content_checksum: bool,
}

fn frame_info(data: &[u8]) -> Option<FrameInfo> {
    if le32(data, 0)? != FRAME_MAGIC {
        return None;
    }
    let flg = *data.get(4)?;
    let bd = *data.get(5)?;
    if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8f != 0 {
        return None;
    }
    let block_max = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return None,
    };
    let mut header = 6;
    if flg & 0x08 != 0 {
        header += 8;
    }
    if flg & 0x01 != 0 {
        header += 4;
    }
    header += 1; // descriptor checksum
    Some(FrameInfo {
        header,
        block_max,
        block_checksum: flg & 0x10 != 0,
        content_checksum: flg & 0x04 != 0,
    })
}

/// Where the frame at the start of `data` ends: `Ok(len)`, or `Err(reached)` when it runs
/// past the end of `data` or is malformed after `reached` bytes.
fn frame_len(data: &[u8]) -> Result<usize, usize> {
    let info = frame_info(data).ok_or(0usize)?;
    let mut pos = info.header;
    loop {
        let raw = le32(data, pos).ok_or(pos)?;
        pos += 4;
        if raw == 0 {
            break;
        }
        let size = (raw & 0x7fff_ffff) as usize;
        if size > info.block_max {
            return Err(pos - 4);
        }
        pos += size + if info.block_checksum { 4 } else { 0 };
        if pos > data.len() {
            return Err(data.len());
        }
    }
    if info.content_checksum {
        pos += 4;
    }
    if pos > data.len() {
        return Err(data.len());
    }
    Ok(pos)
}

impl Format for Lz4 {
    fn name(&self) -> &'static str {
        "lz4"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        match le32(data, 0)? {
            LEGACY_MAGIC => {
                let size = le32(data, 4)? as usize;
                if size == 0 || size > LEGACY_BOUND || size > data.len() - 8 {
                    return None;
                }
                Some(Probe {
                    length: None,
                    description: "lz4 legacy".into(),
                })
            }
            _ => {
                let info = frame_info(data)?;
                // The first block size (or the end mark) must fit the declared maximum.
                let first = le32(data, info.header)? & 0x7fff_ffff;
                if first as usize > info.block_max {
                    return None;
                }
                Some(Probe {
                    length: None,
                    description: format!("lz4 frame, blocks up to {} KiB", info.block_max >> 10),
                })
            }
        }
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        if le32(data, 0) == Some(LEGACY_MAGIC) {
            unpack_legacy(data, ctx)
        } else {
            unpack_frames(data, ctx)
        }
    }
}

fn unpack_frames(input: &[u8], ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
    let mut out = BoundedOut::new(ctx.stream_limit());
    let mut pos = 0usize;
    let mut frames = 0usize;
    let mut error = None;
    for _ in 0..MAX_PARTS {
        let rest = &input[pos..];
        if frame_info(rest).is_none() {
            break;
        }
        let (len, problem) = match frame_len(rest) {
            Ok(l) => (l, None),
            Err(reached) => (
                rest.len(),
                Some(FormatError::Truncated {
                    what: "lz4 frame",
                    offset: (pos + reached) as u64,
                }),
            ),
        };
        let decoded = read_bounded(
            lz4_flex::frame::FrameDecoder::new(&rest[..len]),
            out.room() as u64,
        );
        frames += 1;
        let full = out.push(&decoded.data);
        pos += len;
        if let Some(e) = decoded.error.or(problem) {
            // The frame's end is known even when its output was cut or failed to decode.
            if !matches!(e, FormatError::Limit(_)) {
                pos = input.len();
            }
            error = Some(e);
            break;
        }
        if !full {
            break;
        }
    }
    let mut u = out.finish(error, pos as u64, ctx)?;
    u.detail("variant", "frame");
    if frames > 1 {
        u.detail("frames", frames);
    }
    Ok(u)
}

fn unpack_legacy(input: &[u8], ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
    let mut out = BoundedOut::new(ctx.stream_limit());
    let mut block = Vec::new();
    let mut pos = 4usize;
    let mut blocks = 0usize;
    let mut error = None;
    let mut warning = None;
    for _ in 0..MAX_PARTS {
        let Some(size) = le32(input, pos) else { break };
        if size == LEGACY_MAGIC {
            pos += 4;
            continue;
        }
        let size = size as usize;
        if size == 0 || size > LEGACY_BOUND {
            break;
        }
        // Reached only at the start or after a full block: the stream must go on.
        let Some(body) = input.get(pos + 4..).and_then(|r| r.get(..size)) else {
            error = Some(FormatError::Truncated {
                what: "lz4 legacy block",
                offset: pos as u64,
            });
            pos = input.len();
            break;
        };
        if block.is_empty() {
            block = vec![0u8; LEGACY_BLOCK];
        }
        let n = match lz4_flex::block::decompress_into(body, &mut block) {
            Ok(n) => n,
            Err(e) if blocks == 0 => {
                return Err(FormatError::Decode(format!("lz4 legacy block: {e}")));
            }
            Err(e) => {
                warning = Some(format!(
                    "lz4 legacy block at {pos:#x} does not decode ({e}); the stream is taken to end before it"
                ));
                break;
            }
        };
        blocks += 1;
        pos += 4 + size;
        if !out.push(&block[..n]) {
            break;
        }
        // Only the last block of a stream is short; a magic may start another stream.
        if n < LEGACY_BLOCK && le32(input, pos) != Some(LEGACY_MAGIC) {
            break;
        }
    }
    let mut u = out.finish(error, pos as u64, ctx)?;
    if let Some(w) = warning {
        u.warn(WarningKind::Decode, w);
    }
    u.detail("variant", "legacy");
    u.detail("blocks", blocks);
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lz4");
    const BX: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-bx.lz4");
    const LEGACY: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-legacy.lz4");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.lz4");
    const ZEROS_LEGACY: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros-legacy.lz4");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Lz4, "payload.lz4", PAYLOAD);
        check_fixture(&Lz4, "payload-bx.lz4", BX);
        check_fixture(&Lz4, "payload-legacy.lz4", LEGACY);
        check_fixture(&Lz4, "zeros.lz4", ZEROS);
        check_fixture(&Lz4, "zeros-legacy.lz4", ZEROS_LEGACY);
    }

    #[test]
    fn legacy_streams_concatenate() {
        let mut d = LEGACY.to_vec();
        d.extend_from_slice(LEGACY);
        let u = crate::formats::testutil::unpack(&Lz4, &d);
        assert_eq!(u.consumed, Some(d.len() as u64));
        let one = crate::formats::testutil::unpack(&Lz4, LEGACY);
        let a = crate::formats::testutil::entry_bytes(&d, &u.entries[0]).unwrap();
        let b = crate::formats::testutil::entry_bytes(LEGACY, &one.entries[0]).unwrap();
        assert_eq!(a.len(), 2 * b.len());
    }

    #[test]
    fn probe_rejects_bad_descriptors() {
        let mut d = PAYLOAD.to_vec();
        d[4] ^= 0x40;
        assert!(Lz4.probe(&d).is_none());
        assert!(Lz4.probe(b"\x02\x21\x4c\x18\xff\xff\xff\x7f").is_none());
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Lz4, ZEROS);
        check_bomb(&Lz4, ZEROS_LEGACY);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Lz4, PAYLOAD);
        check_hostile(&Lz4, LEGACY);
    }
}
