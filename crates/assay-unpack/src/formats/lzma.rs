//! lzma-alone (`.lzma`, LZMA_Alone) streams: a 13-byte header (properties, dictionary size,
//! uncompressed size) and raw LZMA data, decoded with `lzma-rust2`'s sans-I/O
//! [`LzmaStream`]. This is how kernels inside uImage and TRX images are compressed.
//!
//! The format has no magic number: every properties byte (lc/lp/pb) and many dictionary
//! sizes occur in the field (0x5d from the reference encoder, 0x6d/0x6c in vendor kernels,
//! 0x6e/0x5a in TP-Link VxWorks images, 0x39 elsewhere). So the format searches for itself
//! ([`find_headers`]): a position is a candidate when its 13-byte header is plausible
//! (properties < 225, an encoder's dictionary size, a stated size under 4 GiB or "unknown",
//! the range coder's zero byte and a nonzero first code word). The probe then trial-decodes
//! the first few hundred bytes, or the whole stream when it is that short. The module also offers [`decode_raw_lzma`] for containers
//! that store raw LZMA with their own parameters (vendor squashfs).

use super::streamout::{io_error, BoundedOut, CHUNK, IN_WINDOW};
use crate::cursor::{le32, le64};
use crate::format::{Finder, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use lzma_rust2::{Action, LzmaReader, LzmaStream, Status};
use std::io::Read;

/// An lzma-alone stream.
pub struct Lzma;

const HEADER: usize = 13;
/// Dictionary sizes accepted from the header (xz accepts these forms only).
const MIN_DICT: u32 = 4 << 10;
const MAX_DICT: u32 = 1 << 30;
/// Largest uncompressed size believed when the header states one.
const MAX_SIZE: u64 = 4 << 30;
/// Output the probe's trial decode asks for, and input it may read for it.
const TRIAL_OUT: usize = 512;
const TRIAL_IN: usize = 16 << 10;

/// `lc`, `lp`, `pb` from the properties byte.
fn split_props(props: u8) -> Option<(u32, u32, u32)> {
    if props >= 225 {
        return None;
    }
    let p = u32::from(props);
    Some((p % 9, (p / 9) % 5, p / 45))
}

/// Dictionary sizes an encoder writes: 2^n or 2^n + 2^(n-1).
fn plausible_dict(d: u32) -> bool {
    if !(MIN_DICT..=MAX_DICT).contains(&d) {
        return false;
    }
    d.is_power_of_two() || (d.is_multiple_of(3) && (d / 3).is_power_of_two())
}

/// Header fields when they are plausible: (props, dict size, uncompressed size or None).
fn header(data: &[u8]) -> Option<(u8, u32, Option<u64>)> {
    let props = *data.first()?;
    split_props(props)?;
    let dict = le32(data, 1)?;
    if !plausible_dict(dict) {
        return None;
    }
    let size = le64(data, 5)?;
    let size = match size {
        u64::MAX => None,
        0 => return None,
        s if s > MAX_SIZE => return None,
        s => Some(s),
    };
    // The range coder's first byte is always zero, and its first code word is below the
    // full range and, for anything an encoder wrote, not zero (a zero code word decodes
    // any run of zero bytes into endless zero literals).
    if *data.get(HEADER)? != 0 {
        return None;
    }
    let code = u32::from_be_bytes(data.get(HEADER + 1..HEADER + 5)?.try_into().ok()?);
    if code == 0 || code == u32::MAX {
        return None;
    }
    Some((props, dict, size))
}

/// Every start in `window` of `data` where a plausible lzma-alone header begins (see
/// [`Format::finder`]). Positions are screened 32 at a time on the bytes that every header
/// shares (a dictionary with a zero low byte and a nonzero one above it, the top byte of the
/// stated size 0x00 or 0xff, the range coder's zero byte) with a loop the compiler
/// vectorises; blocks of zeros are stepped over whole (a
/// header needs a nonzero dictionary); the rest is `header`'s check.
pub fn find_headers(data: &[u8], window: std::ops::Range<usize>, starts: &mut Vec<usize>) {
    const LANES: usize = 32;
    const SPAN: usize = HEADER + 5;
    let end = window.end.min(data.len());
    let mut s = window.start;
    while s < end {
        let Some(block) = data.get(s..s + LANES + SPAN) else {
            // The last few positions, one by one.
            for at in s..end {
                if data.get(at..at + SPAN).is_some_and(|h| header(h).is_some()) {
                    starts.push(at);
                }
            }
            return;
        };
        if block.iter().fold(0u8, |acc, &b| acc | b) == 0 {
            s += LANES;
            continue;
        }
        let mut mask = 0u32;
        for k in 0..LANES {
            let top = block[k + HEADER - 1];
            let rc = block[k + HEADER];
            // Every accepted dictionary (4 KiB and up, 2^n or 3 * 2^n) has a zero low byte
            // and a nonzero byte above it.
            let dict_low = block[k + 1];
            let dict_high = block[k + 2] | block[k + 3] | block[k + 4];
            let hit = (rc == 0) & ((top == 0) | (top == 0xff)) & (dict_low == 0) & (dict_high != 0);
            mask |= u32::from(hit) << k;
        }
        while mask != 0 {
            let k = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let at = s + k;
            if at < end && header(&block[k..k + SPAN]).is_some() {
                starts.push(at);
            }
        }
        s += LANES;
    }
}

impl Format for Lzma {
    fn name(&self) -> &'static str {
        "lzma"
    }

    fn magics(&self) -> &'static [Magic] {
        &[]
    }

    fn finder(&self) -> Option<Finder> {
        Some(find_headers)
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (props, dict, size) = header(data)?;
        // Trial decode: random bytes after a lucky header fail within a few hundred
        // output bytes (distances before the start, invalid end markers).
        let input = &data[..data.len().min(TRIAL_IN)];
        let mut dec = LzmaStream::new_mem_limit(u32::MAX, None);
        let mut out = [0u8; TRIAL_OUT];
        let mut produced = 0usize;
        let mut pos = 0usize;
        let mut ended = false;
        for _ in 0..64 {
            let r = match dec.process(&input[pos..], &mut out[produced..], Action::Run) {
                Ok(r) => r,
                // A stream shorter than the trial that decodes before running out is fine.
                Err(_) if produced >= 64 => break,
                Err(_) => return None,
            };
            pos += r.bytes_consumed;
            produced += r.bytes_produced;
            ended = r.status == Status::StreamEnd;
            if ended || produced >= TRIAL_OUT || pos >= input.len() {
                break;
            }
            if r.bytes_consumed == 0 && r.bytes_produced == 0 {
                break;
            }
        }
        let wanted = size.map_or(TRIAL_OUT as u64, |s| s.min(TRIAL_OUT as u64));
        // A stream of unknown size that reaches its end marker is real however little it
        // holds (random bits form an end marker with odds of about 2^-36).
        let tiny_with_end_marker = ended && size.is_none() && produced > 0;
        if (produced as u64) < wanted.min(64) && !tiny_with_end_marker {
            return None;
        }
        let (lc, lp, pb) = split_props(props)?;
        // A stream whose stated size the trial covers whole must end as an encoder ends one:
        // a few literals decode from any bytes, so tables that happen to look like a header
        // with a small size would pass the trial alone.
        if let Some(s) = size.filter(|&s| s <= TRIAL_OUT as u64) {
            if !ends_cleanly(&input[HEADER..], (lc, lp, pb), dict, s) {
                return None;
            }
        }
        Some(Probe {
            length: None,
            description: match size {
                Some(s) => format!("lzma, lc {lc} lp {lp} pb {pb}, dictionary {dict}, {s} bytes"),
                None => format!("lzma, lc {lc} lp {lp} pb {pb}, dictionary {dict}"),
            },
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let (_, _, size) =
            header(input).ok_or_else(|| FormatError::Corrupt("lzma header".into()))?;
        let dec = LzmaStream::new_mem_limit(u32::MAX, None);
        let (out, error, consumed) = drive(dec, input, ctx.stream_limit());
        let mut u = out.finish(error, consumed, ctx)?;
        if let Some(s) = size {
            u.detail("uncompressed_size", s);
        }
        Ok(u)
    }
}

/// Whether raw LZMA data decodes to exactly `size` bytes with the range coder in the state
/// an encoder's flush leaves it (code zero, with or without an end marker).
fn ends_cleanly(data: &[u8], (lc, lp, pb): (u32, u32, u32), dict: u32, size: u64) -> bool {
    // The dictionary never needs to be larger than the output.
    let dict = dict.min(MIN_DICT.max(u32::try_from(size).unwrap_or(MAX_DICT)));
    let Ok(mut r) = LzmaReader::new(data, size, lc, lp, pb, dict, None) else {
        return false;
    };
    r.set_relaxed_end_condition(false);
    let mut out = Vec::new();
    match (&mut r).take(size + 1).read_to_end(&mut out) {
        Ok(n) => n as u64 == size,
        Err(_) => false,
    }
}

/// Run an LZMA decoder over `input` with output bounded by `limit`: the output, why it
/// stopped early if it did, and the input bytes the stream used.
fn drive(mut dec: LzmaStream, input: &[u8], limit: u64) -> (BoundedOut, Option<FormatError>, u64) {
    let mut out = BoundedOut::new(limit);
    let mut chunk = vec![0u8; CHUNK];
    let mut pos = 0usize;
    let mut finishing = false;
    loop {
        // Feed the input a window at a time: the decoder takes in all it is given. Only
        // once it stalls at the end of the input is it told that nothing more comes (an
        // error then would drop the output of that call).
        let end = input.len().min(pos.saturating_add(IN_WINDOW));
        let action = if finishing {
            Action::Finish
        } else {
            Action::Run
        };
        let room = out.room().clamp(1, CHUNK);
        let r = match dec.process(&input[pos..end], &mut chunk[..room], action) {
            Ok(r) => r,
            Err(e) => return (out, Some(io_error(e, pos as u64)), pos as u64),
        };
        pos = pos.saturating_add(r.bytes_consumed).min(input.len());
        if !out.push(&chunk[..r.bytes_produced]) {
            return (out, None, pos as u64);
        }
        if r.status == Status::StreamEnd {
            let used = dec
                .total_in()
                .saturating_sub(dec.unused_input().len() as u64);
            return (out, None, used.min(input.len() as u64));
        }
        if r.bytes_consumed == 0 && r.bytes_produced == 0 {
            if pos >= input.len() && !finishing {
                finishing = true;
                continue;
            }
            let e = FormatError::Truncated {
                what: "lzma stream",
                offset: pos as u64,
            };
            return (out, Some(e), pos as u64);
        }
    }
}

/// Decode raw LZMA data that ends with an end marker (lzip members), producing at most
/// `limit` bytes: the output, why it stopped early if it did, and the input bytes the
/// stream used up to and including its end marker.
pub(crate) fn decode_raw_lzma_stream(
    data: &[u8],
    (lc, lp, pb): (u32, u32, u32),
    dict_size: u32,
    limit: u64,
) -> Result<(BoundedOut, Option<FormatError>, u64), FormatError> {
    let dict = dict_size.clamp(MIN_DICT, MAX_DICT);
    let dec = LzmaStream::new(u64::MAX, lc, lp, pb, dict, None)
        .map_err(|e| FormatError::Decode(e.to_string()))?;
    Ok(drive(dec, data, limit))
}

/// Decode raw LZMA data (no header) with explicit parameters, producing at most
/// `out_limit` bytes. For containers that store LZMA without the `.lzma` header (vendor
/// squashfs blocks): an end marker ends the data, and so does the end of the input,
/// since such blocks usually carry no end marker. Corrupt data is an error.
pub fn decode_raw_lzma(
    data: &[u8],
    lc: u32,
    lp: u32,
    pb: u32,
    dict_size: u32,
    out_limit: usize,
) -> Result<Vec<u8>, FormatError> {
    if lc > 8 || lp > 4 || pb > 4 {
        return Err(FormatError::Corrupt(format!(
            "lzma parameters lc {lc} lp {lp} pb {pb}"
        )));
    }
    let dict = dict_size.clamp(MIN_DICT, MAX_DICT);
    let dec = LzmaStream::new(u64::MAX, lc, lp, pb, dict, None)
        .map_err(|e| FormatError::Decode(e.to_string()))?;
    let (out, error, _) = drive(dec, data, out_limit as u64);
    match error {
        None => Ok(out.data),
        Some(FormatError::Truncated { .. }) if !out.data.is_empty() => Ok(out.data),
        Some(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lzma");
    const SIZED: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-sized.lzma");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.lzma");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Lzma, "payload.lzma", PAYLOAD);
        check_fixture(&Lzma, "zeros.lzma", ZEROS);
    }

    #[test]
    fn decodes_stream_with_stated_size() {
        let u = crate::formats::testutil::unpack(&Lzma, SIZED);
        let e = &u.entries[0];
        let got = crate::formats::testutil::entry_bytes(SIZED, e).unwrap();
        assert_eq!(
            u.details.get("uncompressed_size").map(String::as_str),
            Some(got.len().to_string().as_str())
        );
        let want = crate::formats::testutil::entry_bytes(
            PAYLOAD,
            &crate::formats::testutil::unpack(&Lzma, PAYLOAD).entries[0],
        )
        .unwrap();
        assert_eq!(got, want);
        // The end marker after the stated size may or may not be counted; no more.
        let c = u.consumed.unwrap();
        assert!(
            c <= SIZED.len() as u64 && c + 8 >= SIZED.len() as u64,
            "{c}"
        );
    }

    #[test]
    fn raw_decoder_reads_headerless_data() {
        let (lc, lp, pb) = split_props(PAYLOAD[0]).unwrap();
        let out = decode_raw_lzma(&PAYLOAD[13..], lc, lp, pb, 1 << 23, 1 << 20).unwrap();
        let want = crate::formats::testutil::entry_bytes(
            PAYLOAD,
            &crate::formats::testutil::unpack(&Lzma, PAYLOAD).entries[0],
        )
        .unwrap();
        assert_eq!(out, want);
        // Bounded output, and no end marker needed.
        assert_eq!(
            decode_raw_lzma(&PAYLOAD[13..], lc, lp, pb, 1 << 23, 100)
                .unwrap()
                .len(),
            100
        );
        let cut = decode_raw_lzma(&PAYLOAD[13..2000], lc, lp, pb, 1 << 23, 1 << 20).unwrap();
        assert_eq!(&want[..cut.len()], &cut[..]);
        assert!(decode_raw_lzma(&PAYLOAD[13..], 9, 0, 0, 1 << 23, 100).is_err());
    }

    #[test]
    fn probe_rejects_random_data_and_bad_headers() {
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut hits = 0;
        for _ in 0..2000 {
            let mut d: Vec<u8> = (0..4096)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            // A perfect header over random data.
            d[..13].copy_from_slice(&PAYLOAD[..13]);
            d[13] = 0;
            if Lzma.probe(&d).is_some() {
                hits += 1;
            }
        }
        assert!(hits < 20, "{hits} random streams accepted");
        let mut bad = PAYLOAD.to_vec();
        bad[1..5].copy_from_slice(&12345u32.to_le_bytes());
        assert!(Lzma.probe(&bad).is_none());
        let mut bad = PAYLOAD.to_vec();
        bad[5..13].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(Lzma.probe(&bad).is_none());
    }

    const PROPS_6E: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-props6e.lzma");
    const TINY: &[u8] = include_bytes!("../../tests/fixtures/compress/tiny.lzma");

    fn found(data: &[u8]) -> Vec<usize> {
        let mut starts = Vec::new();
        find_headers(data, 0..data.len(), &mut starts);
        starts
    }

    #[test]
    fn any_properties_byte_is_found_and_decoded() {
        assert_eq!(PROPS_6E[0], 0x6e);
        check_fixture(&Lzma, "payload-props6e.lzma", PROPS_6E);
        // Behind an unknown vendor header, found by the finder at its offset and nowhere
        // in the compressed data after it.
        let mut image = vec![0u8; 0x40];
        image[..8].copy_from_slice(b"VENDORHD");
        image.extend_from_slice(&[0xff; 0x30]);
        let at = image.len();
        image.extend_from_slice(PROPS_6E);
        image.extend_from_slice(&[0xff; 0x100]);
        let hits: Vec<usize> = found(&image)
            .into_iter()
            .filter(|&s| Lzma.probe(&image[s..]).is_some())
            .collect();
        assert_eq!(hits, vec![at]);
    }

    #[test]
    fn tiny_stream_with_end_marker_is_accepted() {
        let p = Lzma.probe(TINY).expect("tiny stream");
        assert!(
            p.description.contains("lc 3 lp 0 pb 2"),
            "{}",
            p.description
        );
        check_fixture(&Lzma, "tiny.lzma", TINY);
        let u = crate::formats::testutil::unpack(&Lzma, TINY);
        assert_eq!(u.consumed, Some(TINY.len() as u64));
        // With bytes after it, the stream still ends where its end marker is.
        let mut more = TINY.to_vec();
        more.extend_from_slice(&[0x5a; 100]);
        let u = crate::formats::testutil::unpack(&Lzma, &more);
        assert_eq!(u.consumed, Some(TINY.len() as u64));
        // Cut before its end marker it is not accepted as tiny.
        assert!(Lzma.probe(&TINY[..TINY.len() - 6]).is_none());
    }

    #[test]
    fn tables_that_look_like_small_sized_headers_are_rejected() {
        // 12-byte records ending in two small numbers (a kernel's table): at each `00 02 0N`
        // a header with lc 0, a 32 MiB dictionary and a size of N bytes, whose few literals
        // decode from anything. The range coder's final state tells them apart.
        let mut table = Vec::new();
        for (a, b) in [
            (1u8, 9u8),
            (2, 9),
            (1, 5),
            (2, 5),
            (1, 4),
            (2, 4),
            (1, 9),
            (0, 9),
        ] {
            table.extend_from_slice(&[0; 10]);
            table.extend_from_slice(&[a, b]);
        }
        table.extend_from_slice(&[0; 12]);
        let accepted: Vec<usize> = found(&table)
            .into_iter()
            .filter(|&s| Lzma.probe(&table[s..]).is_some())
            .collect();
        assert!(accepted.is_empty(), "{accepted:?}");
        // A real tiny stream with its size stated (and its end marker kept) still passes.
        let mut sized = TINY.to_vec();
        sized[5..13].copy_from_slice(&12u64.to_le_bytes());
        assert!(Lzma.probe(&sized).is_some());
        let mut wrong = sized.clone();
        wrong[5..13].copy_from_slice(&11u64.to_le_bytes());
        assert!(Lzma.probe(&wrong).is_none());
    }

    #[test]
    fn finder_respects_window_and_padding() {
        // Zero and 0xff padding hold no candidate; a header that starts in the window is
        // found even when it runs past the window's end.
        assert!(found(&[0u8; 4096]).is_empty());
        assert!(found(&[0xffu8; 4096]).is_empty());
        let mut d = vec![0u8; 100];
        d.extend_from_slice(PROPS_6E);
        let mut starts = Vec::new();
        find_headers(&d, 0..101, &mut starts);
        assert_eq!(starts, vec![100]);
        starts.clear();
        find_headers(&d, 0..100, &mut starts);
        assert!(starts.is_empty());
        // Windows past the end or reversed do nothing.
        starts.clear();
        find_headers(&d, d.len()..d.len() + 10, &mut starts);
        find_headers(&d[..5], 0..5, &mut starts);
        assert!(starts.is_empty());
        // The same starts as checking every offset, across zero runs of every length and
        // windows that cut them.
        let mut mixed = Vec::new();
        for run in [0usize, 1, 3, 4, 5, 7, 8, 9, 17, 64] {
            mixed.extend(std::iter::repeat_n(0u8, run));
            mixed.extend_from_slice(&TINY[..20]);
            mixed.extend_from_slice(&[0, 0, 1, 0, 0, 0, 2, 0]);
            mixed.extend_from_slice(&PROPS_6E[..20]);
        }
        let naive: Vec<usize> = (0..mixed.len())
            .filter(|&s| {
                mixed
                    .get(s..s + HEADER + 5)
                    .is_some_and(|h| header(h).is_some())
            })
            .collect();
        assert!(naive.len() >= 20, "{naive:?}");
        assert_eq!(found(&mixed), naive);
        for cut in [1, 50, 133, 400] {
            let mut parts = Vec::new();
            find_headers(&mixed, 0..cut, &mut parts);
            find_headers(&mixed, cut..mixed.len(), &mut parts);
            assert_eq!(parts, naive, "windows cut at {cut}");
        }
        // Every properties byte a header can have is found; 225 and above never.
        for props in 0..=255u8 {
            let mut h = PROPS_6E.to_vec();
            h[0] = props;
            assert_eq!(found(&h) == vec![0], props < 225, "{props:#x}");
        }
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Lzma, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Lzma, PAYLOAD);
        check_hostile(&Lzma, PROPS_6E);
        check_hostile(&Lzma, TINY);
    }
}
