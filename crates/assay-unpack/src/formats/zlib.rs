//! zlib streams (RFC 1950): a two-byte header, deflate data and an Adler-32 trailer, decoded
//! with `flate2`'s raw [`flate2::Decompress`], whose input count gives the exact end of the
//! stream. Two-byte magics are everywhere in binary data, so the probe checks the header
//! and trial-inflates the start of the stream.

use super::streamout::{BoundedOut, CHUNK};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use flate2::{Decompress, FlushDecompress, Status};

/// A zlib stream with a 32 KiB window (`78 01`, `78 5e`, `78 9c`, `78 da`).
pub struct Zlib;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x78\x01"),
    Magic::at_start(b"\x78\x5e"),
    Magic::at_start(b"\x78\x9c"),
    Magic::at_start(b"\x78\xda"),
];

/// Output the probe's trial inflate asks for, and input it may read for it.
const TRIAL_OUT: usize = 1024;
const TRIAL_IN: usize = 8 << 10;

fn level_name(flg: u8) -> &'static str {
    match flg >> 6 {
        0 => "fastest",
        1 => "fast",
        2 => "default",
        _ => "best",
    }
}

impl Format for Zlib {
    fn name(&self) -> &'static str {
        "zlib"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let cmf = *data.first()?;
        let flg = *data.get(1)?;
        // Deflate with at most a 32 KiB window, a valid check, no preset dictionary.
        if cmf & 0x0f != 8
            || cmf >> 4 > 7
            || !(u16::from(cmf) * 256 + u16::from(flg)).is_multiple_of(31)
        {
            return None;
        }
        if flg & 0x20 != 0 || (*data.get(2)? >> 1) & 3 == 3 {
            return None;
        }
        // Trial inflate: random bytes fail within a few hundred output bytes.
        let input = &data[..data.len().min(TRIAL_IN)];
        let mut z = Decompress::new(true);
        let mut out = [0u8; TRIAL_OUT];
        let status = z.decompress(input, &mut out, FlushDecompress::None).ok()?;
        let produced = z.total_out() as usize;
        if status != Status::StreamEnd && produced < TRIAL_OUT.min(256) {
            return None;
        }
        Some(Probe {
            length: None,
            description: format!("zlib, {} compression", level_name(flg)),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let mut out = BoundedOut::new(ctx.stream_limit());
        let mut chunk = vec![0u8; CHUNK];
        let mut z = Decompress::new(true);
        let mut error = None;
        loop {
            let pos = (z.total_in() as usize).min(input.len());
            let before = (z.total_in(), z.total_out());
            let room = out.room().clamp(1, CHUNK);
            let status =
                match z.decompress(&input[pos..], &mut chunk[..room], FlushDecompress::None) {
                    Ok(s) => s,
                    Err(e) => {
                        error = Some(FormatError::Decode(format!("zlib: {e}")));
                        break;
                    }
                };
            let produced = (z.total_out() - before.1) as usize;
            if !out.push(&chunk[..produced.min(room)]) {
                break;
            }
            if status == Status::StreamEnd {
                break;
            }
            if z.total_in() == before.0 && produced == 0 {
                error = Some(FormatError::Truncated {
                    what: "zlib stream",
                    offset: pos as u64,
                });
                break;
            }
        }
        // Exact at the stream's end; where decoding stopped otherwise.
        let consumed = z.total_in().min(input.len() as u64);
        out.finish(error, consumed, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};

    const L1: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-1.zlib");
    const L5: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-5.zlib");
    const L6: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-6.zlib");
    const L9: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-9.zlib");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.zlib");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Zlib, "payload-1.zlib", L1);
        check_fixture(&Zlib, "payload-5.zlib", L5);
        check_fixture(&Zlib, "payload-6.zlib", L6);
        check_fixture(&Zlib, "payload-9.zlib", L9);
        check_fixture(&Zlib, "zeros.zlib", ZEROS);
    }

    #[test]
    fn probe_rejects_random_data() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut hits = 0;
        for i in 0..4000 {
            let mut d: Vec<u8> = (0..2048)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            d[0] = 0x78;
            d[1] = [0x01, 0x5e, 0x9c, 0xda][i % 4];
            if Zlib.probe(&d).is_some() {
                hits += 1;
            }
        }
        assert!(hits < 10, "{hits} random streams accepted");
        let mut bad = L9.to_vec();
        bad[1] ^= 1;
        assert!(Zlib.probe(&bad).is_none());
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Zlib, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Zlib, L6);
    }
}
