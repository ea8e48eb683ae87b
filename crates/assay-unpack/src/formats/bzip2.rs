//! bzip2 streams, decoded with the `bzip2` crate (its pure-Rust `libbz2-rs-sys` backend)
//! through the raw [`bzip2::Decompress`] API, which reports the input it used, so that the
//! next container can be carved right after the stream. Concatenated streams (pbzip2,
//! `cat a.bz2 b.bz2`) are decoded as one, as `bzip2 -d` does.

use super::streamout::{BoundedOut, CHUNK};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A bzip2 stream: `BZh1`..`BZh9`, then a block or the end-of-stream marker.
pub struct Bzip2;

static MAGICS: &[Magic] = &[Magic::at_start(b"BZh")];

const BLOCK_MAGIC: &[u8] = b"\x31\x41\x59\x26\x53\x59";
const EOS_MAGIC: &[u8] = b"\x17\x72\x45\x38\x50\x90";
/// Streams decoded one after another at most.
const MAX_STREAMS: usize = 4096;

/// The block size digit of a valid stream header at the start of `data`.
fn stream_header(data: &[u8]) -> Option<u8> {
    if !data.starts_with(b"BZh") {
        return None;
    }
    let level = *data.get(3)?;
    if !(b'1'..=b'9').contains(&level) {
        return None;
    }
    let next = data.get(4..10)?;
    (next == BLOCK_MAGIC || next == EOS_MAGIC).then_some(level - b'0')
}

impl Format for Bzip2 {
    fn name(&self) -> &'static str {
        "bzip2"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let level = stream_header(data)?;
        Some(Probe {
            length: None,
            description: format!("bzip2, block size {}00k", level),
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
            let mut dec = bzip2::Decompress::new(false);
            loop {
                let pos = start
                    .saturating_add(dec.total_in() as usize)
                    .min(input.len());
                let before = (dec.total_in(), dec.total_out());
                let room = out.room().clamp(1, CHUNK);
                let status = match dec.decompress(&input[pos..], &mut chunk[..room]) {
                    Ok(s) => s,
                    Err(e) => {
                        error = Some(FormatError::Decode(format!("bzip2: {e}")));
                        end = start
                            .saturating_add(dec.total_in() as usize)
                            .min(input.len());
                        break 'streams;
                    }
                };
                let produced = (dec.total_out() - before.1) as usize;
                if !out.push(&chunk[..produced.min(room)]) {
                    end = start
                        .saturating_add(dec.total_in() as usize)
                        .min(input.len());
                    break 'streams;
                }
                if status == bzip2::Status::StreamEnd {
                    break;
                }
                if dec.total_in() == before.0 && produced == 0 {
                    error = Some(FormatError::Truncated {
                        what: "bzip2 stream",
                        offset: pos as u64,
                    });
                    end = start
                        .saturating_add(dec.total_in() as usize)
                        .min(input.len());
                    break 'streams;
                }
            }
            streams += 1;
            end = start
                .saturating_add(dec.total_in() as usize)
                .min(input.len());
            if stream_header(&input[end..]).is_none() {
                break;
            }
            start = end;
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

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.bz2");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.bz2");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Bzip2, "payload.bz2", PAYLOAD);
        check_fixture(&Bzip2, "zeros.bz2", ZEROS);
    }

    #[test]
    fn probe_wants_block_magic() {
        assert!(Bzip2.probe(b"BZh91AY&SX").is_none());
        assert!(Bzip2.probe(b"BZh01AY&SY").is_none());
        assert!(Bzip2.probe(&PAYLOAD[..10]).is_some());
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Bzip2, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Bzip2, PAYLOAD);
    }
}
