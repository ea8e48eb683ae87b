//! Block decompressors for squashfs, called directly on the codec crates (pure Rust), plus
//! the parameter search that old vendor images with non-standard LZMA blocks need.

use crate::limits::read_bounded;
use crate::FormatError;
use std::cell::Cell;
use std::io::Read;

/// The compressor a squashfs image declares (v4 superblock id; v2/v3 are always zlib,
/// or a vendor LZMA that only the data tells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zlib (id 1).
    Gzip,
    /// LZMA "alone" blocks (id 2), or a vendor variant found by searching.
    Lzma,
    /// LZO1X (id 3).
    Lzo,
    /// xz (id 4).
    Xz,
    /// LZ4 block format (id 5).
    Lz4,
    /// zstd frames (id 6).
    Zstd,
}

impl Compression {
    /// The compressor of a v4 superblock id.
    pub fn from_id(id: u16) -> Option<Compression> {
        Some(match id {
            1 => Compression::Gzip,
            2 => Compression::Lzma,
            3 => Compression::Lzo,
            4 => Compression::Xz,
            5 => Compression::Lz4,
            6 => Compression::Zstd,
            _ => return None,
        })
    }

    /// Short name for descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Lzma => "lzma",
            Compression::Lzo => "lzo",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// How a (possibly vendor) LZMA block is laid out: header length and coder parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LzmaVariant {
    /// Behind the ASCII tag `7zip` (the Atheros LSDK squashfs-lzma).
    tagged: bool,
    /// 13 (props, dict, size), 5 (props, dict) or 0 (raw).
    header: u8,
    lc: u8,
    lp: u8,
    pb: u8,
}

/// Decompresses squashfs blocks of one image and remembers which LZMA variant worked.
pub struct Decoder {
    comp: Compression,
    /// zlib images (all v2/v3 say zlib) may hold vendor LZMA blocks: zlib where the block is
    /// zlib, LZMA where it is not (the "adaptive" builds mix both in one table).
    may_be_vendor_lzma: bool,
    /// Set once a block decoded as zlib.
    used_zlib: Cell<bool>,
    lzma: Cell<Option<LzmaVariant>>,
    /// Set once a block decoded as LZMA.
    used_lzma: Cell<bool>,
    /// Full searches that found nothing; after a few, hostile data gets no more of them.
    failed_searches: Cell<u32>,
}

/// Full LZMA parameter searches that may fail before only the known layouts are tried.
const MAX_FAILED_SEARCHES: u32 = 3;

/// xz and zstd windows beyond this are not squashfs blocks (at most 1 MiB) and are refused.
const MAX_WINDOW: u64 = 8 << 20;

impl Decoder {
    /// A decoder for `comp`. Every zlib or LZMA image may hold vendor LZMA: the Broadcom SDK
    /// writes LZMA blocks under a 4.0 superblock that says zlib.
    pub fn new(comp: Compression) -> Decoder {
        Decoder {
            comp,
            may_be_vendor_lzma: matches!(comp, Compression::Gzip | Compression::Lzma),
            used_zlib: Cell::new(false),
            lzma: Cell::new(None),
            used_lzma: Cell::new(false),
            failed_searches: Cell::new(0),
        }
    }

    /// The compressor in use, as found (a legacy image reports LZMA once seen).
    pub fn describe(&self) -> String {
        if self.used_lzma.get() || self.comp == Compression::Lzma {
            let tag = |v: LzmaVariant| if v.tagged { ", `7zip` tag" } else { "" };
            let lzma = match self.lzma.get() {
                Some(v) if v.header == 13 && !v.tagged => "lzma".into(),
                Some(v) if v.header > 0 && (v.lc, v.lp, v.pb) == (0, 0, 0) => {
                    format!("lzma (vendor: {}-byte header{})", v.header, tag(v))
                }
                Some(v) => format!(
                    "lzma (vendor: {}-byte header{}, lc={} lp={} pb={})",
                    v.header,
                    tag(v),
                    v.lc,
                    v.lp,
                    v.pb
                ),
                None => "lzma".into(),
            };
            if self.used_zlib.get() {
                format!("{lzma} and zlib")
            } else {
                lzma
            }
        } else {
            self.comp.name().into()
        }
    }

    /// Decompress one block to at most `max_out` bytes. `expected` is the exact size when
    /// known (every data block but a file's last), which lets the LZMA search tell a right
    /// guess from a wrong one.
    pub fn decompress(
        &self,
        src: &[u8],
        max_out: usize,
        expected: Option<usize>,
    ) -> Result<Vec<u8>, FormatError> {
        match self.comp {
            Compression::Gzip | Compression::Lzma => {
                // A zlib header is two bytes with a checksum; LZMA blocks (raw ones begin
                // with 0) practically never carry one, so a block is tried as zlib first
                // only when it looks like zlib or the superblock says zlib.
                let mut zlib_err = None;
                if self.comp == Compression::Gzip || looks_like_zlib(src) {
                    match zlib(src, max_out) {
                        Ok(v) => {
                            self.used_zlib.set(true);
                            return Ok(v);
                        }
                        Err(e) => zlib_err = Some(e),
                    }
                }
                match self.lzma_search(src, max_out, expected) {
                    Ok(v) => {
                        self.used_lzma.set(true);
                        Ok(v)
                    }
                    // On a zlib image not yet seen to hold LZMA, the zlib error says more.
                    Err(e) => Err(zlib_err
                        .filter(|_| self.comp == Compression::Gzip && !self.used_lzma.get())
                        .unwrap_or(e)),
                }
            }
            Compression::Lzo => {
                let mut out = vec![0u8; max_out];
                let n = lzo::decompress_into(src, &mut out)
                    .map_err(|e| FormatError::Decode(format!("lzo: {e:?}")))?;
                out.truncate(n);
                Ok(out)
            }
            Compression::Lz4 => {
                let mut out = vec![0u8; max_out];
                let n = lz4_flex::block::decompress_into(src, &mut out)
                    .map_err(|e| FormatError::Decode(format!("lz4: {e}")))?;
                out.truncate(n);
                Ok(out)
            }
            Compression::Xz => {
                let r =
                    lzma_rust2::XzReader::new_mem_limit(src, false, (MAX_WINDOW >> 10) as u32 * 4);
                finish(read_bounded(r, max_out as u64 + 1), max_out, "xz")
            }
            Compression::Zstd => {
                let mut dec = ruzstd::decoding::FrameDecoder::new();
                dec.set_max_window_size(MAX_WINDOW);
                let r = ruzstd::decoding::StreamingDecoder::new_with_decoder(src, dec)
                    .map_err(|e| FormatError::Decode(format!("zstd: {e}")))?;
                finish(read_bounded(r, max_out as u64 + 1), max_out, "zstd")
            }
        }
    }

    /// Try the remembered LZMA variant, then every candidate, on one block.
    fn lzma_search(
        &self,
        src: &[u8],
        max_out: usize,
        expected: Option<usize>,
    ) -> Result<Vec<u8>, FormatError> {
        if let Some(v) = self.lzma.get() {
            if let Some(out) = try_lzma(v, src, max_out, expected, false) {
                return Ok(out);
            }
        }
        let tags: &[bool] = if src.starts_with(LSDK_TAG) {
            &[true, false]
        } else {
            &[false]
        };
        let mut candidates = Vec::new();
        for &tagged in tags {
            for header in [13, 5] {
                candidates.push(LzmaVariant {
                    tagged,
                    header,
                    lc: 0,
                    lp: 0,
                    pb: 0,
                });
            }
        }
        // Raw coder data has no props to read: a guess is accepted only when the range
        // coder ends exactly at the end of the block (checked in `try_lzma`), which a wrong
        // guess practically never does.
        let searching = self.failed_searches.get() < MAX_FAILED_SEARCHES;
        let known = candidates.len();
        if self.may_be_vendor_lzma && searching {
            for &tagged in tags {
                for header in [0u8, 5, 13] {
                    let mut push = |lc, lp, pb| {
                        candidates.push(LzmaVariant {
                            tagged,
                            header,
                            lc,
                            lp,
                            pb,
                        })
                    };
                    push(3, 0, 2);
                    for lc in 0..=4 {
                        for lp in 0..=2 {
                            for pb in 0..=2 {
                                if (lc, lp, pb) != (3, 0, 2) {
                                    push(lc, lp, pb);
                                }
                            }
                        }
                    }
                }
            }
        }
        let full = candidates.len() > known;
        for v in candidates {
            if Some(v) == self.lzma.get() {
                continue;
            }
            // A layout not yet seen on this image must prove itself by the exact end (or
            // an end marker): garbage decodes to garbage without an error.
            if let Some(out) = try_lzma(v, src, max_out, expected, true) {
                self.lzma.set(Some(v));
                return Ok(out);
            }
        }
        if full {
            self.failed_searches.set(self.failed_searches.get() + 1);
        }
        Err(FormatError::Decode(
            "lzma: no known block layout decodes".into(),
        ))
    }
}

/// The tag in front of every LZMA block of the Atheros LSDK squashfs-lzma.
const LSDK_TAG: &[u8] = b"7zip";

/// Bytes an LZMA decoder may produce past the real end of a stream that has no end marker
/// (symbols decoded from the finished coder's state before it needs another input byte).
const MAX_OVERRUN: usize = 32;

/// One LZMA attempt; `lc == lp == pb == 0` with a header means "props from the header".
/// `strict`: the range coder must finish exactly at the end of the block, the proof that
/// guessed parameters are right.
fn try_lzma(
    v: LzmaVariant,
    src: &[u8],
    max_out: usize,
    expected: Option<usize>,
    strict: bool,
) -> Option<Vec<u8>> {
    let src = if v.tagged {
        src.strip_prefix(LSDK_TAG)?
    } else {
        src
    };
    let hdr = v.header as usize;
    let body = src.get(hdr..)?;
    let (lc, lp, pb) = if hdr > 0 && (v.lc, v.lp, v.pb) == (0, 0, 0) {
        let p = *src.first()?;
        if p >= 9 * 5 * 5 {
            return None;
        }
        ((p % 9) as u32, ((p / 9) % 5) as u32, (p / 45) as u32)
    } else {
        (v.lc as u32, v.lp as u32, v.pb as u32)
    };
    let mut expected = expected;
    if hdr == 13 {
        // The size field must agree with what the block can hold; "unknown" (all ones)
        // leaves the size to the end marker or the end of the block.
        let size = u64::from_le_bytes(src.get(5..13)?.try_into().ok()?);
        if size != u64::MAX {
            if size > max_out as u64 || expected.is_some_and(|e| size != e as u64) {
                return None;
            }
            expected = Some(size as usize);
        }
    }
    let p = Params {
        lc,
        lp,
        pb,
        // The window never needs to exceed the block: cap it so a hostile dict size
        // cannot allocate.
        dict: (max_out.max(4096) as u32).next_power_of_two(),
    };
    match expected {
        Some(e) => decode_exact(body, e, p, strict),
        None => {
            // A metadata block is full unless it is its table's last: try that first.
            if strict {
                if let Some(out) = decode_exact(body, max_out, p, true) {
                    return Some(out);
                }
            }
            let (out, ending) = decode_open(body, max_out, p)?;
            match ending {
                Ending::Marker => (!out.is_empty()).then_some(out),
                Ending::InputEnd if !strict => (!out.is_empty()).then_some(out),
                Ending::InputEnd => {
                    // No end marker: the real size is the smallest at which the coder
                    // finishes exactly at the end of the block.
                    let n = out.len();
                    (n.saturating_sub(MAX_OVERRUN).max(1)..=n)
                        .find_map(|s| decode_exact(body, s, p, true))
                }
            }
        }
    }
}

/// LZMA coder parameters of one attempt.
#[derive(Clone, Copy)]
struct Params {
    lc: u32,
    lp: u32,
    pb: u32,
    dict: u32,
}

/// How an LZMA stream of unknown size stopped.
enum Ending {
    /// At its end marker.
    Marker,
    /// Where its input ran out (squashfs blocks often carry no end marker).
    InputEnd,
}

/// Decode exactly `size` bytes. `strict`: the coder must also end in its final state with
/// every input byte used.
fn decode_exact(body: &[u8], size: usize, p: Params, strict: bool) -> Option<Vec<u8>> {
    let mut input = body;
    let mut r =
        lzma_rust2::LzmaReader::new(&mut input, size as u64, p.lc, p.lp, p.pb, p.dict, None)
            .ok()?;
    r.set_relaxed_end_condition(!strict);
    let mut out = vec![0u8; size];
    r.read_exact(&mut out).ok()?;
    if strict {
        let (_, buffered) = r.into_parts();
        if !buffered.is_empty() || !input.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// Decode a stream of unknown size into at most `max_out` bytes, up to its end marker or
/// the end of its input; `None` on a decoding error or more than `max_out` bytes.
fn decode_open(body: &[u8], max_out: usize, p: Params) -> Option<(Vec<u8>, Ending)> {
    let mut r = lzma_rust2::LzmaReader::new(body, u64::MAX, p.lc, p.lp, p.pb, p.dict, None).ok()?;
    r.set_defer_errors(true);
    let cap = max_out.saturating_add(MAX_OVERRUN);
    let mut out = vec![0u8; cap];
    let mut n = 0;
    let ending = loop {
        let Some(room) = out.get_mut(n..).filter(|r| !r.is_empty()) else {
            // Filled to the cap without an end: not a block of this size.
            return None;
        };
        match r.read(room) {
            Ok(0) => break Ending::Marker,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break Ending::InputEnd,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    };
    out.truncate(n);
    if matches!(ending, Ending::Marker) && n > max_out {
        return None;
    }
    out.truncate(max_out);
    Some((out, ending))
}

/// Whether a block begins with a zlib header (deflate, window ≤ 32 KiB, no preset
/// dictionary, header checksum right).
fn looks_like_zlib(src: &[u8]) -> bool {
    match src {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// A whole zlib stream into at most `max_out` bytes.
fn zlib(src: &[u8], max_out: usize) -> Result<Vec<u8>, FormatError> {
    let mut d = flate2::Decompress::new(true);
    let mut out = vec![0u8; max_out];
    match d.decompress(src, &mut out, flate2::FlushDecompress::Finish) {
        Ok(flate2::Status::StreamEnd) => {
            out.truncate(d.total_out() as usize);
            Ok(out)
        }
        Ok(_) => Err(FormatError::Decode(
            "zlib: stream does not end in the block".into(),
        )),
        Err(e) => Err(FormatError::Decode(format!("zlib: {e}"))),
    }
}

/// Accept a bounded decode that neither failed nor overflowed the block.
fn finish(d: crate::limits::Decoded, max_out: usize, what: &str) -> Result<Vec<u8>, FormatError> {
    if let Some(e) = d.error {
        return Err(FormatError::Decode(format!("{what}: {e}")));
    }
    if d.data.len() > max_out {
        return Err(FormatError::Decode(format!(
            "{what}: block larger than {max_out} bytes"
        )));
    }
    Ok(d.data)
}
