//! lzop files (`.lzo`): a header with a checksum, then blocks of LZO1X data, each with its
//! sizes and optional Adler-32/CRC-32 checksums. The container is parsed here (no crate
//! reads it) and blocks are decoded with the pure-Rust `lzo` crate. Checksums of the
//! header and of the decoded data are checked. Files made with `lzop --filter=N` (N 1–16:
//! each byte stored as its difference to the byte N before it, within a block) are
//! un-filtered after decoding, before the checksums.

use super::streamout::BoundedOut;
use crate::cursor::{be32, Cursor, Endian};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An lzop file.
pub struct Lzop;

const MAGIC: &[u8] = b"\x89LZO\x00\r\n\x1a\n";
static MAGICS: &[Magic] = &[Magic::at_start(MAGIC)];

const F_ADLER32_D: u32 = 0x1;
const F_ADLER32_C: u32 = 0x2;
const F_H_EXTRA_FIELD: u32 = 0x40;
const F_CRC32_D: u32 = 0x100;
const F_CRC32_C: u32 = 0x200;
const F_H_FILTER: u32 = 0x800;
const F_H_CRC32: u32 = 0x1000;
/// lzop's own limit on a block's size.
const MAX_BLOCK: usize = 64 << 20;
/// Blocks handled at most (64 GiB of 1 MiB blocks is more than any limit allows).
const MAX_BLOCKS: usize = 1 << 20;

/// What the header says.
struct Header {
    /// Length of the header, up to the first block.
    len: usize,
    method: u8,
    flags: u32,
    /// The delta filter's distance (0: none).
    filter: u32,
    name: String,
}

/// Undo lzop's delta filter over one block: each byte was stored as its difference to the
/// byte `n` before it (bytes before the block count as zero).
fn undo_delta(block: &mut [u8], n: usize) {
    for i in n..block.len() {
        block[i] = block[i].wrapping_add(block[i - n]);
    }
}

/// Adler-32 (RFC 1950), as lzop uses it for headers and blocks.
fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

fn parse_header(data: &[u8]) -> Result<Header, FormatError> {
    if !data.starts_with(MAGIC) {
        return Err(FormatError::Corrupt("no lzop magic".into()));
    }
    let mut c = Cursor::at(data, MAGIC.len(), Endian::Big)?;
    let version = c.u16()?;
    let _lib_version = c.u16()?;
    if !(0x0900..0x2000).contains(&version) {
        return Err(FormatError::Unsupported(format!(
            "lzop version {version:#x}"
        )));
    }
    if version >= 0x0940 {
        let needed = c.u16()?;
        if needed > version || needed < 0x0900 {
            return Err(FormatError::Corrupt(format!(
                "lzop version needed {needed:#x}"
            )));
        }
    }
    let method = c.u8()?;
    if version >= 0x0940 {
        let _level = c.u8()?;
    }
    let flags = c.u32()?;
    let filter = if flags & F_H_FILTER != 0 { c.u32()? } else { 0 };
    let _mode = c.u32()?;
    let _mtime = c.u32()?;
    if version >= 0x0940 {
        c.u32()?;
    }
    let name_len = c.u8()? as usize;
    let name = String::from_utf8_lossy(c.bytes(name_len)?).into_owned();
    let covered = &data[MAGIC.len()..c.pos()];
    let stored = c.u32()?;
    let computed = if flags & F_H_CRC32 != 0 {
        crc32fast::hash(covered)
    } else {
        adler32(covered)
    };
    if stored != computed {
        return Err(FormatError::Corrupt("lzop header checksum mismatch".into()));
    }
    if flags & F_H_EXTRA_FIELD != 0 {
        let n = c.u32()? as usize;
        c.skip(n)?;
        c.u32()?;
    }
    Ok(Header {
        len: c.pos(),
        method,
        flags,
        filter,
        name,
    })
}

impl Format for Lzop {
    fn name(&self) -> &'static str {
        "lzop"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = parse_header(data).ok()?;
        Some(Probe {
            length: None,
            description: if h.name.is_empty() {
                format!("lzop, method {}", h.method)
            } else {
                format!("lzop, method {}, original name {:?}", h.method, h.name)
            },
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let h = parse_header(input)?;
        if !matches!(h.method, 1..=3) {
            return Err(FormatError::Unsupported(format!(
                "lzop method {} (only LZO1X)",
                h.method
            )));
        }
        if h.filter > 16 {
            return Err(FormatError::Unsupported(format!(
                "lzop filter {} (only the delta filters 1-16)",
                h.filter
            )));
        }
        let mut unfiltered = Vec::new();
        let mut out = BoundedOut::new(ctx.stream_limit());
        let mut pos = h.len;
        let mut error = None;
        let mut warnings = Vec::new();
        let mut buf = Vec::new();
        let mut blocks = 0usize;
        let mut ended = false;
        while blocks < MAX_BLOCKS {
            let truncated = |what| FormatError::Truncated {
                what,
                offset: pos as u64,
            };
            let Some(dst_len) = be32(input, pos) else {
                error = Some(truncated("lzop block header"));
                break;
            };
            if dst_len == 0 {
                pos += 4;
                ended = true;
                break;
            }
            let dst_len = dst_len as usize;
            let Some(src_len) = be32(input, pos + 4) else {
                error = Some(truncated("lzop block header"));
                break;
            };
            let src_len = src_len as usize;
            // LZO1X expands at most about 255 times (a run-length byte per 255 output bytes).
            if dst_len > MAX_BLOCK
                || src_len > dst_len
                || dst_len > src_len.saturating_mul(256).saturating_add(4096)
            {
                error = Some(FormatError::Corrupt(format!(
                    "lzop block at {pos:#x}: sizes {src_len}/{dst_len}"
                )));
                break;
            }
            let mut p = pos + 8;
            let mut read_sum = |present: bool| -> Option<Option<u32>> {
                if !present {
                    return Some(None);
                }
                let v = be32(input, p)?;
                p += 4;
                Some(Some(v))
            };
            let sums = (|| {
                let d_adler = read_sum(h.flags & F_ADLER32_D != 0)?;
                let d_crc = read_sum(h.flags & F_CRC32_D != 0)?;
                let compressed = src_len < dst_len;
                read_sum(compressed && h.flags & F_ADLER32_C != 0)?;
                read_sum(compressed && h.flags & F_CRC32_C != 0)?;
                Some((d_adler, d_crc))
            })();
            let Some((d_adler, d_crc)) = sums else {
                error = Some(truncated("lzop block checksums"));
                break;
            };
            let Some(src) = input.get(p..).and_then(|r| r.get(..src_len)) else {
                error = Some(truncated("lzop block data"));
                break;
            };
            let decoded: &[u8] = if src_len == dst_len {
                src
            } else {
                buf.resize(dst_len, 0);
                match lzo::decompress_into(src, &mut buf) {
                    Ok(n) if n == dst_len => &buf[..n],
                    Ok(n) => {
                        error = Some(FormatError::Corrupt(format!(
                            "lzop block at {pos:#x} decodes to {n} bytes, not {dst_len}"
                        )));
                        break;
                    }
                    Err(e) => {
                        error = Some(FormatError::Decode(format!("lzop block at {pos:#x}: {e}")));
                        break;
                    }
                }
            };
            let decoded: &[u8] = if h.filter > 0 {
                unfiltered.clear();
                unfiltered.extend_from_slice(decoded);
                undo_delta(&mut unfiltered, h.filter as usize);
                &unfiltered
            } else {
                decoded
            };
            if d_adler.is_some_and(|s| s != adler32(decoded))
                || d_crc.is_some_and(|s| s != crc32fast::hash(decoded))
            {
                warnings.push((
                    WarningKind::Checksum,
                    format!("lzop block at {pos:#x}: checksum mismatch"),
                ));
            }
            blocks += 1;
            pos = p + src_len;
            if !out.push(decoded) {
                break;
            }
        }
        // A truncated file runs to the end; otherwise the stream ends where it stopped.
        let consumed = match (&error, ended) {
            (Some(FormatError::Truncated { .. }), false) => input.len(),
            _ => pos,
        };
        let mut u = out.finish(error, consumed as u64, ctx)?;
        u.warnings.extend(warnings);
        if !h.name.is_empty() {
            u.detail("original_name", &h.name);
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lzo");
    const CRC32: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-crc32.lzo");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.lzo");
    const FILTER3: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-filter3.lzo");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Lzop, "payload.lzo", PAYLOAD);
        check_fixture(&Lzop, "payload-crc32.lzo", CRC32);
        check_fixture(&Lzop, "zeros.lzo", ZEROS);
    }

    #[test]
    fn delta_filtered_files_are_unfiltered() {
        check_fixture(&Lzop, "payload-filter3.lzo", FILTER3);
        let u = crate::formats::testutil::unpack(&Lzop, FILTER3);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let mut block = vec![1u8, 2, 3, 1, 1, 1, 0xff];
        undo_delta(&mut block, 3);
        assert_eq!(block, [1, 2, 3, 2, 3, 4, 1]);
    }

    #[test]
    fn adler32_matches_reference() {
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn probe_checks_header_checksum() {
        let mut d = PAYLOAD.to_vec();
        d[16] ^= 0x10;
        assert!(Lzop.probe(&d).is_none());
        assert!(Lzop.probe(PAYLOAD).is_some());
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Lzop, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Lzop, PAYLOAD);
    }
}
