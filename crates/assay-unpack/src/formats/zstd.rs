//! Zstandard frames (RFC 8878), decoded with the pure-Rust `ruzstd`. The frame layout
//! (header, block headers, checksum) is walked here to know exactly where a frame ends,
//! since the decoder reads ahead. Skippable frames before, between and after data frames
//! belong to the container; consecutive data frames decode to one stream, as `zstd -d`
//! does.

use super::streamout::BoundedOut;
use crate::cursor::le32;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::limits::read_bounded;
use crate::{Blob, FormatError};

/// A zstd frame, possibly preceded by skippable frames.
pub struct Zstd;

const FRAME_MAGIC: u32 = 0xfd2f_b528;
static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x28\xb5\x2f\xfd"),
    Magic::at_start(b"\x50\x2a\x4d\x18"),
    Magic::at_start(b"\x51\x2a\x4d\x18"),
    Magic::at_start(b"\x52\x2a\x4d\x18"),
    Magic::at_start(b"\x53\x2a\x4d\x18"),
    Magic::at_start(b"\x54\x2a\x4d\x18"),
    Magic::at_start(b"\x55\x2a\x4d\x18"),
    Magic::at_start(b"\x56\x2a\x4d\x18"),
    Magic::at_start(b"\x57\x2a\x4d\x18"),
    Magic::at_start(b"\x58\x2a\x4d\x18"),
    Magic::at_start(b"\x59\x2a\x4d\x18"),
    Magic::at_start(b"\x5a\x2a\x4d\x18"),
    Magic::at_start(b"\x5b\x2a\x4d\x18"),
    Magic::at_start(b"\x5c\x2a\x4d\x18"),
    Magic::at_start(b"\x5d\x2a\x4d\x18"),
    Magic::at_start(b"\x5e\x2a\x4d\x18"),
    Magic::at_start(b"\x5f\x2a\x4d\x18"),
];

/// Frames (skippable or not) handled in one container at most.
const MAX_FRAMES: usize = 4096;
/// Largest block a conforming frame holds.
const MAX_BLOCK: usize = 128 << 10;
/// Largest window accepted (the decoder's default limit too).
const MAX_WINDOW_LOG: u32 = 27;

fn is_skippable(magic: u32) -> bool {
    magic & 0xffff_fff0 == 0x184d_2a50
}

/// Length of the skippable frame at the start of `data`.
fn skippable_len(data: &[u8]) -> Option<usize> {
    if !is_skippable(le32(data, 0)?) {
        return None;
    }
    let size = le32(data, 4)? as usize;
    let len = size.checked_add(8)?;
    (len <= data.len()).then_some(len)
}

/// A data frame's header facts: header length, and whether a checksum ends the frame.
fn frame_header(data: &[u8]) -> Option<(usize, bool)> {
    if le32(data, 0)? != FRAME_MAGIC {
        return None;
    }
    let fhd = *data.get(4)?;
    if fhd & 0x08 != 0 {
        return None;
    }
    let single = fhd & 0x20 != 0;
    let mut len = 5usize;
    if !single {
        let wd = *data.get(5)?;
        if u32::from(wd >> 3) + 10 > MAX_WINDOW_LOG {
            return None;
        }
        len += 1;
    }
    len += [0, 1, 2, 4][usize::from(fhd & 3)];
    len += match fhd >> 6 {
        0 => usize::from(single),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    Some((len, fhd & 0x04 != 0))
}

/// Where the data frame at the start of `data` ends: `Ok(len)`, or `Err(reached)` when it
/// runs past the end of `data` or is malformed after `reached` bytes.
fn frame_len(data: &[u8]) -> Result<usize, usize> {
    let (mut pos, checksum) = frame_header(data).ok_or(0usize)?;
    loop {
        let h = data.get(pos..pos + 3).ok_or(pos)?;
        let h = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        let last = h & 1 != 0;
        let size = (h >> 3) as usize;
        let body = match (h >> 1) & 3 {
            0 | 2 if size <= MAX_BLOCK => size,
            1 if size <= MAX_BLOCK => 1,
            _ => return Err(pos),
        };
        pos += 3 + body;
        if pos > data.len() {
            return Err(data.len());
        }
        if last {
            break;
        }
    }
    if checksum {
        pos += 4;
    }
    if pos > data.len() {
        return Err(data.len());
    }
    Ok(pos)
}

impl Format for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let mut pos = 0usize;
        let mut skipped = 0usize;
        while let Some(l) = skippable_len(data.get(pos..)?) {
            pos += l;
            skipped += 1;
            if skipped > 16 {
                return None;
            }
        }
        let frame = data.get(pos..)?;
        let (hlen, checksum) = frame_header(frame)?;
        // The first block header must be a valid one.
        let h = frame.get(hlen..hlen + 3)?;
        let h = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        if (h >> 1) & 3 == 3 || (h >> 3) as usize > MAX_BLOCK {
            return None;
        }
        let mut description = String::from("zstd");
        if checksum {
            description.push_str(", checksum");
        }
        if skipped > 0 {
            description.push_str(&format!(", after {skipped} skippable frame(s)"));
        }
        Some(Probe {
            length: None,
            description,
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let mut out = BoundedOut::new(ctx.stream_limit());
        let mut pos = 0usize;
        let mut frames = 0usize;
        let mut skippable = 0usize;
        let mut error = None;
        let mut checksum_errors = 0usize;
        for _ in 0..MAX_FRAMES {
            let rest = &input[pos..];
            if let Some(l) = skippable_len(rest) {
                pos += l;
                skippable += 1;
                continue;
            }
            if frame_header(rest).is_none() {
                break;
            }
            let (len, problem) = match frame_len(rest) {
                Ok(l) => (l, None),
                Err(reached) => (
                    rest.len(),
                    Some(FormatError::Truncated {
                        what: "zstd frame",
                        offset: (pos + reached) as u64,
                    }),
                ),
            };
            let mut dec = match ruzstd::decoding::StreamingDecoder::new(&rest[..len]) {
                Ok(d) => d,
                Err(e) => {
                    error = Some(FormatError::Decode(format!("zstd: {e}")));
                    pos += len;
                    break;
                }
            };
            let decoded = read_bounded(&mut dec, out.room() as u64);
            if decoded.error.is_none() {
                let frame = &dec.decoder;
                if let (Some(stored), Some(computed)) = (
                    frame.get_checksum_from_data(),
                    frame.get_calculated_checksum(),
                ) {
                    if stored != computed {
                        checksum_errors += 1;
                    }
                }
            }
            frames += 1;
            let full = out.push(&decoded.data);
            pos += len;
            // The frame's end is known even when its output was cut or failed to decode.
            if let Some(e) = decoded.error.or(problem) {
                error = Some(e);
                break;
            }
            if !full {
                break;
            }
        }
        if frames == 0 && error.is_none() {
            return Err(FormatError::Corrupt("no zstd frame".into()));
        }
        let mut u = out.finish(error, pos as u64, ctx)?;
        if checksum_errors > 0 {
            u.warn(
                WarningKind::Checksum,
                format!("{checksum_errors} zstd frame(s) fail their content checksum"),
            );
        }
        if frames > 1 {
            u.detail("frames", frames);
        }
        if skippable > 0 {
            u.detail("skippable_frames", skippable);
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.zst");
    const SKIP: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-skippable.zst");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.zst");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Zstd, "payload.zst", PAYLOAD);
        check_fixture(&Zstd, "payload-skippable.zst", SKIP);
        check_fixture(&Zstd, "zeros.zst", ZEROS);
    }

    #[test]
    fn probe_rejects_lone_skippable_frame_and_reserved_bits() {
        assert!(Zstd.probe(&SKIP[..16]).is_none());
        let mut d = PAYLOAD.to_vec();
        d[4] |= 0x08;
        assert!(Zstd.probe(&d).is_none());
    }

    #[test]
    fn reports_checksum_mismatch() {
        let mut d = PAYLOAD.to_vec();
        let n = d.len();
        d[n - 1] ^= 0xff;
        let u = crate::formats::testutil::unpack(&Zstd, &d);
        assert!(
            u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Zstd, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Zstd, PAYLOAD);
    }
}
