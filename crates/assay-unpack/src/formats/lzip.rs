//! lzip (`.lz`) files: one or more members, each a 6-byte header (`LZIP`, version 1, coded
//! dictionary size), an LZMA stream with fixed parameters (lc 3, lp 0, pb 2) ended by its
//! end marker, and a 20-byte trailer (CRC32 and size of the data, size of the member).
//! Members are decoded in turn into one stream, as `lzip -d` does.
//!
//! Written here over the workspace's LZMA decoder (`lzma-rust2`, through
//! [`lzma`](super::lzma)): the framing is a dozen lines, and decoding each member ourselves
//! tells exactly where it ends, so the next structure can be carved right after it.

use super::lzma::decode_raw_lzma_stream;
use super::streamout::finish;
use crate::cursor::{le32, le64};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An lzip file (one or more members).
pub struct Lzip;

static MAGICS: &[Magic] = &[Magic::at_start(b"LZIP\x01")];

const HEADER: usize = 6;
const TRAILER: usize = 20;
/// lzip's fixed LZMA parameters.
const PARAMS: (u32, u32, u32) = (3, 0, 2);
/// Members decoded one after another at most.
const MAX_MEMBERS: usize = 4096;

/// The dictionary size of a member header at the start of `data`, when valid.
fn member_header(data: &[u8]) -> Option<u32> {
    if !data.starts_with(b"LZIP\x01") {
        return None;
    }
    let coded = *data.get(5)?;
    let log = u32::from(coded & 0x1f);
    if !(12..=29).contains(&log) {
        return None;
    }
    let base = 1u32 << log;
    let size = base - (base / 16) * u32::from(coded >> 5);
    // The range coder's first byte is always zero.
    (*data.get(HEADER)? == 0).then_some(size)
}

impl Format for Lzip {
    fn name(&self) -> &'static str {
        "lzip"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let dict = member_header(data)?;
        Some(Probe {
            length: None,
            description: format!("lzip, dictionary {dict}"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let input: &[u8] = data;
        let limit = ctx.stream_limit();
        let mut output: Vec<u8> = Vec::new();
        let mut warnings: Vec<(WarningKind, String)> = Vec::new();
        let mut start = 0usize;
        let mut members = 0usize;
        let mut error = None;
        while members < MAX_MEMBERS {
            let Some(dict) = member_header(&input[start..]) else {
                if members == 0 {
                    return Err(FormatError::Corrupt("lzip member header".into()));
                }
                break;
            };
            let room = limit.saturating_sub(output.len() as u64);
            let body = &input[start + HEADER..];
            let (out, err, used) = decode_raw_lzma_stream(body, PARAMS, dict, room)?;
            let hit_limit = out.hit_limit;
            let produced = out.data;
            let member_start = start;
            start = (start + HEADER)
                .saturating_add(used as usize)
                .min(input.len());
            members += 1;
            let crc = crc32fast::hash(&produced);
            output.extend_from_slice(&produced);
            if hit_limit {
                error = Some(FormatError::Limit(format!(
                    "decoded stream exceeds {limit} bytes"
                )));
                break;
            }
            if let Some(e) = err {
                error = Some(e);
                break;
            }
            // The trailer: CRC32 and size of the data, size of the whole member.
            let (Some(want_crc), Some(size), Some(member_size)) = (
                le32(input, start),
                le64(input, start + 4),
                le64(input, start + 12),
            ) else {
                error = Some(FormatError::Truncated {
                    what: "lzip trailer",
                    offset: start as u64,
                });
                break;
            };
            start += TRAILER;
            if want_crc != crc || size != produced.len() as u64 {
                warnings.push((
                    WarningKind::Corrupt,
                    format!(
                        "member {members} at {member_start:#x}: CRC or size does not match the trailer (decoded {} bytes, trailer says {size})",
                        produced.len()
                    ),
                ));
            }
            if member_size != (start - member_start) as u64 {
                warnings.push((
                    WarningKind::Corrupt,
                    format!(
                        "member {members} at {member_start:#x}: trailer says {member_size} bytes, the member spans {}",
                        start - member_start
                    ),
                ));
            }
        }
        let mut u = finish(output, error, start as u64, ctx)?;
        u.warnings.extend(warnings);
        u.detail("members", members);
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::streamout::tests::{check_bomb, check_fixture, check_hostile};
    use crate::formats::testutil::unpack;

    const PAYLOAD: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lz");
    const CONCAT: &[u8] = include_bytes!("../../tests/fixtures/compress/payload-concat.lz");
    const ZEROS: &[u8] = include_bytes!("../../tests/fixtures/compress/zeros.lz");

    #[test]
    fn decodes_fixtures_with_exact_length() {
        check_fixture(&Lzip, "payload.lz", PAYLOAD);
        check_fixture(&Lzip, "payload-concat.lz", CONCAT);
        assert_eq!(unpack(&Lzip, CONCAT).details["members"], "2");
    }

    #[test]
    fn bad_crc_is_reported() {
        let mut d = PAYLOAD.to_vec();
        let at = d.len() - TRAILER;
        d[at] ^= 1;
        let u = unpack(&Lzip, &d);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Corrupt));
    }

    #[test]
    fn probe_checks_header() {
        assert!(Lzip.probe(b"LZIP\x01\x0c").is_none());
        assert!(Lzip.probe(b"LZIP\x00\x0c\x00").is_none()); // version 0
        assert!(Lzip.probe(b"LZIP\x01\x0b\x00").is_none()); // 2 KiB dictionary
        assert!(Lzip.probe(b"LZIP\x01\x0c\x01").is_none()); // range coder byte
        assert!(Lzip.probe(PAYLOAD).is_some());
        // 0xd3: 2^19 - 6/16 of it.
        assert_eq!(
            member_header(b"LZIP\x01\xd3\x00"),
            Some((1 << 19) - 6 * (1 << 15))
        );
    }

    #[test]
    fn bomb_stops_at_limit() {
        check_bomb(&Lzip, ZEROS);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        check_hostile(&Lzip, PAYLOAD);
        check_hostile(&Lzip, CONCAT);
    }
}
