//! Unix `compress` (`.Z`, `1F 9D`) streams: LZW with 9- to 16-bit codes, optionally in
//! block mode (code 256 clears the table). Still found around old tar balls and in the
//! update packages of some network gear.
//!
//! Written here: the only Rust crates for `.Z` are unmaintained, unbounded or bind C; the
//! decoder is small. Two quirks of the original implementation are part of the format: the
//! code width grows (and a CLEAR code takes effect) only at the end of a group of eight codes,
//! so the rest of the group's bytes are skipped; and a stream has no end marker or length,
//! so it ends with its input or at the first code that cannot occur.

use super::streamout::BoundedOut;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A `compress` stream.
pub struct Compress;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x1f\x9d")];

const HEADER: usize = 3;
/// Flag bit: block mode (code 256 is CLEAR).
const BLOCK_MODE: u8 = 0x80;
/// Flag bits no implementation sets.
const RESERVED: u8 = 0x60;
/// Code that empties the table in block mode.
const CLEAR: usize = 256;
/// Output the probe's trial decode asks for.
const TRIAL_OUT: usize = 4096;
/// Input a candidate must decode without an invalid code (or end cleanly within).
const TRIAL_IN: usize = 512;

/// Header fields: (largest code width, block mode), when plausible.
fn header(data: &[u8]) -> Option<(u32, bool)> {
    if !data.starts_with(b"\x1f\x9d") {
        return None;
    }
    let flags = *data.get(2)?;
    let max_bits = u32::from(flags & 0x1f);
    if flags & RESERVED != 0 || !(9..=16).contains(&max_bits) {
        return None;
    }
    Some((max_bits, flags & BLOCK_MODE != 0))
}

/// The `bits`-wide code at bit `pos` of `data`, least significant bit first; the caller has
/// checked that it lies inside `data`.
fn read_code(data: &[u8], pos: usize, bits: u32) -> usize {
    let at = pos / 8;
    let mut word = 0u32;
    for (i, &b) in data[at..].iter().take(3).enumerate() {
        word |= u32::from(b) << (8 * i);
    }
    ((word >> (pos % 8)) & ((1 << bits) - 1)) as usize
}

/// Why decoding stopped before the input ended.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// The input ran out (the normal end of a stream).
    End,
    /// A code that no encoder writes, at this byte offset of the input.
    BadCode(usize),
    /// The output limit was reached.
    Limit,
}

/// Decode the stream in `data` (header included) into `out`. Returns why it stopped and the
/// input bytes used (up to the end of the last good code's byte).
fn decode(data: &[u8], out: &mut BoundedOut) -> (Stop, usize) {
    let Some((max_bits, block)) = header(data) else {
        return (Stop::BadCode(0), 0);
    };
    let table = 1usize << max_bits;
    let mut prefix = vec![0u16; table];
    let mut suffix = vec![0u8; table];
    let mut stack: Vec<u8> = Vec::with_capacity(table + 1);

    let mut bits = 9u32;
    let mut mask = (1usize << bits) - 1;
    let mut end = if block { CLEAR } else { 255 };
    // Bit position in `data`, and where the current group of eight codes started.
    let mut pos = HEADER * 8;
    let mut mark = pos;
    let mut codes_in_group = 0usize;
    let mut prev: Option<usize> = None;
    let mut last = 0u8;
    let mut used = HEADER;

    // Skip the rest of the current group of eight codes (the width changes only there).
    let flush = |pos: &mut usize, mark: &mut usize, codes: &mut usize, bits: u32| {
        let group = bits as usize * 8;
        let done = (*codes).div_ceil(8) * group;
        *pos = *mark + done;
        *mark = *pos;
        *codes = 0;
    };

    loop {
        if end >= mask && bits < max_bits {
            flush(&mut pos, &mut mark, &mut codes_in_group, bits);
            bits += 1;
            mask = (mask << 1) | 1;
        }
        // Read one code, least significant bit first.
        if pos + bits as usize > data.len() * 8 {
            return (Stop::End, used);
        }
        let code = read_code(data, pos, bits);
        let code_start = pos / 8;
        pos += bits as usize;
        codes_in_group += 1;

        if block && code == CLEAR && prev.is_some() {
            flush(&mut pos, &mut mark, &mut codes_in_group, bits);
            bits = 9;
            mask = (1 << bits) - 1;
            end = 255;
            used = pos.div_ceil(8).min(data.len());
            continue;
        }
        let Some(p) = prev else {
            // The first code is a literal byte.
            if code > 255 {
                return (Stop::BadCode(code_start), used);
            }
            last = code as u8;
            prev = Some(code);
            used = pos.div_ceil(8);
            if !out.push(&[last]) {
                return (Stop::Limit, used);
            }
            continue;
        };
        let this = code;
        stack.clear();
        let mut c = code;
        if code > end {
            // Only the entry about to be made may be used before it exists (KwKwK).
            if code != end + 1 || p > end {
                return (Stop::BadCode(code_start), used);
            }
            stack.push(last);
            c = p;
        }
        while c >= 256 {
            // Chains are acyclic: every entry points to an older one. Bound anyway.
            if stack.len() > table {
                return (Stop::BadCode(code_start), used);
            }
            stack.push(suffix[c]);
            c = usize::from(prefix[c]);
        }
        stack.push(c as u8);
        last = c as u8;
        if end < mask {
            end += 1;
            prefix[end] = p as u16;
            suffix[end] = last;
        }
        prev = Some(this);
        used = pos.div_ceil(8);
        stack.reverse();
        if !out.push(&stack) {
            return (Stop::Limit, used);
        }
    }
}

impl Format for Compress {
    fn name(&self) -> &'static str {
        "compress"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (max_bits, block) = header(data)?;
        // Cheap first: the first code is a literal, the second at most the first new entry.
        if data.len() >= HEADER + 3 {
            let first = read_code(data, HEADER * 8, 9);
            let second = read_code(data, HEADER * 8 + 9, 9);
            if first > 255 || second > 257 {
                return None;
            }
        }
        // Two magic bytes are weak: decode the start. Random bytes soon give a code beyond
        // the table, which no encoder writes; structured bytes (a kernel's tables) can run on
        // for a hundred bytes before they do, so a stream must hold for its first 512 bytes
        // (or to its end).
        let mut out = BoundedOut::new(TRIAL_OUT as u64);
        let (stop, used) = decode(data, &mut out);
        match stop {
            Stop::BadCode(_) if out.data.len() < 64 || used < data.len().min(TRIAL_IN) => {
                return None
            }
            _ if out.data.is_empty() => return None,
            _ => {}
        }
        Some(Probe {
            length: None,
            description: format!(
                "compress (.Z), {max_bits}-bit codes{}",
                if block { ", block mode" } else { "" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let (max_bits, block) =
            header(input).ok_or_else(|| FormatError::Corrupt("compress header".into()))?;
        let mut out = BoundedOut::new(ctx.stream_limit());
        let (stop, used) = decode(input, &mut out);
        let mut u = out.finish(None, used as u64, ctx)?;
        if let Stop::BadCode(at) = stop {
            u.warn(
                WarningKind::Truncated,
                format!(
                    "invalid LZW code at byte {at:#x}: the stream ends there (other data follows or the stream is damaged)"
                ),
            );
        }
        u.detail("max_bits", max_bits);
        u.detail("block_mode", block);
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_hostile, expected_sha};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.Z");
    const PAYLOAD_12: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-b12.Z");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.Z");
    const CLEARS: &[u8] = include_bytes!("../../tests/fixtures/compress/payload3-b10.Z");

    #[test]
    fn decodes_fixtures() {
        for (name, bytes) in [
            ("payload.Z", PAYLOAD),
            ("payload-b12.Z", PAYLOAD_12),
            // 10-bit codes: the table is full at once and compress sends CLEAR codes.
            ("payload3-b10.Z", CLEARS),
        ] {
            let u = unpack(&Compress, bytes);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            let got = entry_bytes(bytes, &u.entries[0]).unwrap();
            assert_eq!(sha_hex(&got), expected_sha(name), "{name}");
            assert_eq!(u.consumed, Some(bytes.len() as u64), "{name}");
        }
    }

    #[test]
    fn every_code_width_up_to_16_bits() {
        // 8 MiB of zeros take the code width from 9 to 16 bits and fill the table; a wrong
        // group alignment at any width change would garble the rest.
        let mut limits = crate::limits::Limits::for_image(ZEROS.len() as u64);
        limits.max_stream_bytes = 16 << 20;
        let u = crate::formats::testutil::unpack_with_limits(&Compress, ZEROS, limits);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let got = entry_bytes(ZEROS, &u.entries[0]).unwrap();
        assert_eq!(sha_hex(&got), expected_sha("zeros.Z"));
    }

    #[test]
    fn trailing_data_ends_the_stream_with_a_warning() {
        let mut data = PAYLOAD.to_vec();
        data.extend_from_slice(&[0xff; 64]);
        let u = unpack(&Compress, &data);
        let got = entry_bytes(&data, &u.entries[0]).unwrap();
        let want = entry_bytes(PAYLOAD, &unpack(&Compress, PAYLOAD).entries[0]).unwrap();
        assert!(got.starts_with(&want));
        assert!(u
            .warnings
            .iter()
            .any(|(_, m)| m.contains("invalid LZW code")));
    }

    #[test]
    fn probe_rejects_bad_headers_and_random_codes() {
        assert!(Compress.probe(b"\x1f\x9d").is_none());
        assert!(Compress.probe(b"\x1f\x9d\x88rest").is_none()); // 8-bit codes
        assert!(Compress.probe(b"\x1f\x9d\xf0rest").is_none()); // reserved bits
        let mut rng = crate::formats::testutil::hostile::Rng::new(7);
        let mut rejected = 0;
        for _ in 0..200 {
            let mut d = b"\x1f\x9d\x90".to_vec();
            d.extend((0..4096).map(|_| rng.next() as u8));
            if Compress.probe(&d).is_none() {
                rejected += 1;
            }
        }
        assert_eq!(rejected, 200);
        assert!(Compress.probe(PAYLOAD).is_some());
    }

    #[test]
    fn a_stream_that_breaks_within_its_first_512_bytes_is_no_candidate() {
        // Valid codes for a while, then bytes that soon give a code beyond the table: what two
        // chance magic bytes in a kernel's tables look like.
        assert!(PAYLOAD.len() > 1024);
        let mut d = PAYLOAD[..150].to_vec();
        d.extend(std::iter::repeat_n(0xffu8, 2000));
        assert!(Compress.probe(&d).is_none());
        let mut d = PAYLOAD[..700].to_vec();
        d.extend(std::iter::repeat_n(0xffu8, 2000));
        assert!(
            Compress.probe(&d).is_some(),
            "damaged after 512 bytes: still found"
        );
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Compress, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Compress, PAYLOAD);
        check_hostile(&Compress, PAYLOAD_12);
    }
}
