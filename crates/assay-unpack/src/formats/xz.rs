//! xz containers (`.xz`, the tukaani format), decoded with `lzma-rust2`'s sans-I/O
//! [`XzStream`], which reports how many input bytes each stream used, so that the next
//! container can be carved right after it. Concatenated streams with stream padding are
//! decoded as one, as `xz -d` does.

use super::streamout::{io_error, BoundedOut, CHUNK, IN_WINDOW};
use crate::cursor::le32;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use lzma_rust2::{Action, Status, XzStream};

/// An xz stream: `fd 37 7a 58 5a 00`, stream flags with a CRC32.
pub struct Xz;

const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
static MAGICS: &[Magic] = &[Magic::at_start(XZ_MAGIC)];

/// Streams decoded one after another at most (concatenation of hostile tiny streams).
const MAX_STREAMS: usize = 4096;

/// The check type of a valid stream header at the start of `data`.
fn stream_header(data: &[u8]) -> Option<u8> {
    if !data.starts_with(XZ_MAGIC) {
        return None;
    }
    let flags = data.get(6..8)?;
    if flags[0] != 0 || flags[1] & 0xf0 != 0 {
        return None;
    }
    if crc32fast::hash(flags) != le32(data, 8)? {
        return None;
    }
    Some(flags[1])
}

fn check_name(check: u8) -> &'static str {
    match check {
        0 => "none",
        1 => "crc32",
        4 => "crc64",
        10 => "sha256",
        _ => "reserved",
    }
}

impl Format for Xz {
    fn name(&self) -> &'static str {
        "xz"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let check = stream_header(data)?;
        if !matches!(check, 0 | 1 | 4 | 10) {
            return None;
        }
        // A block header (size byte, then flags with reserved bits clear) or the index.
        let first = *data.get(12)?;
        if first != 0 && data.get(13)? & 0x3c != 0 {
            return None;
        }
        Some(Probe {
            length: None,
            description: format!("xz, check {}", check_name(check)),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let mut out = BoundedOut::new(ctx.stream_limit());
        let mut chunk = vec![0u8; CHUNK];
        let mut start = 0usize;
        let mut end = 0usize;
        let mut streams = 0usize;
        let mut error = None;
        'streams: while streams < MAX_STREAMS {
            let mut dec = XzStream::new(false);
            let mut pos = start;
            let mut finishing = false;
            loop {
                // Feed the input a window at a time, so that output flows as it is decoded
                // (a call that fails loses its output); only once the decoder stalls at the
                // end of the input is it told that nothing more comes.
                let window = input.len().min(pos.saturating_add(IN_WINDOW));
                let action = if finishing {
                    Action::Finish
                } else {
                    Action::Run
                };
                let r = match dec.process(&input[pos..window], &mut chunk, action) {
                    Ok(r) => r,
                    Err(e) => {
                        error = Some(io_error(e, pos as u64));
                        end = pos;
                        break 'streams;
                    }
                };
                pos = pos.saturating_add(r.bytes_consumed).min(input.len());
                if !out.push(&chunk[..r.bytes_produced]) {
                    end = pos;
                    break 'streams;
                }
                if r.status == Status::StreamEnd {
                    break;
                }
                if r.bytes_consumed == 0 && r.bytes_produced == 0 {
                    if pos >= input.len() && !finishing {
                        finishing = true;
                        continue;
                    }
                    error = Some(FormatError::Truncated {
                        what: "xz stream",
                        offset: pos as u64,
                    });
                    end = pos;
                    break 'streams;
                }
            }
            streams += 1;
            end = start
                .saturating_add(dec.total_in() as usize)
                .min(input.len());
            // Stream padding (zero bytes, a multiple of four) only belongs to the
            // container when another stream follows it.
            let tail = &input[end..];
            let pad = tail.iter().take_while(|&&b| b == 0).count();
            if !pad.is_multiple_of(4) || stream_header(&tail[pad..]).is_none() {
                break;
            }
            start = end + pad;
        }
        let mut u = out.finish(error, end as u64, ctx)?;
        if streams > 1 {
            u.detail("streams", streams);
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.xz");
    const CRC32: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-crc32.xz");
    const CONCAT: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-concat.xz");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.xz");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Xz, "payload.xz", PAYLOAD);
        check_fixture(&Xz, "payload-crc32.xz", CRC32);
        check_fixture(&Xz, "payload-concat.xz", CONCAT);
        check_fixture(&Xz, "zeros.xz", ZEROS);
    }

    #[test]
    fn probe_rejects_bad_header_crc() {
        let mut d = PAYLOAD.to_vec();
        d[8] ^= 1;
        assert!(Xz.probe(&d).is_none());
        assert!(Xz.probe(&PAYLOAD[..10]).is_none());
    }

    #[test]
    fn corrupt_stream_keeps_output_and_does_not_hide_what_follows() {
        let mut image = PAYLOAD.to_vec();
        let mid = image.len() * 3 / 4;
        image[mid] ^= 0x55;
        image.extend_from_slice(&[0xa5; 16]);
        let second = image.len() as u64;
        image.extend_from_slice(CRC32);
        let r = crate::Unpacker::with_formats(vec![&Xz]).unpack_bytes(
            "x",
            Blob::from(image),
            &crate::UnpackOptions::default(),
        );
        let offsets: Vec<u64> = r
            .nodes
            .iter()
            .filter(|n| n.kind == assay_model::NodeKind::Container)
            .filter_map(|n| n.offset)
            .collect();
        assert_eq!(offsets, vec![0, second]);
        assert!(!r.warnings.is_empty());
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Xz, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Xz, PAYLOAD);
    }
}
