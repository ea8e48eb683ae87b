//! Motorola S-records: text records `S<type><count><address><data><checksum>` with 16-, 24-
//! or 32-bit addresses, decoded to the binary image they describe, from the lowest address
//! to the highest, gaps filled with `ff`. Checksums are checked; the S0 header text is kept
//! as a detail.
//!
//! Written here for the same reasons as [`super::ihex`], whose helpers it shares.

use super::ihex::{decode_records, hex_bytes, records_look_valid, Step};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A Motorola S-record file.
pub struct SRec;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"S0"),
    Magic::at_start(b"S1"),
    Magic::at_start(b"S2"),
    Magic::at_start(b"S3"),
];

/// (type, address, data) of one valid record.
fn parse_record(line: &[u8]) -> Option<(u8, u64, Vec<u8>)> {
    let rest = line.strip_prefix(b"S")?;
    let kind = rest
        .first()?
        .checked_sub(b'0')
        .filter(|&k| k <= 9 && k != 4)?;
    let body = hex_bytes(&rest[1..])?;
    let count = *body.first()? as usize;
    if body.len() != count + 1 || body.iter().fold(0u8, |a, &b| a.wrapping_add(b)) != 0xff {
        return None;
    }
    let alen = match kind {
        0 | 1 | 5 | 9 => 2,
        2 | 6 | 8 => 3,
        _ => 4,
    };
    if count < alen + 1 {
        return None;
    }
    let addr = body[1..1 + alen]
        .iter()
        .fold(0u64, |a, &b| a << 8 | b as u64);
    Some((kind, addr, body[1 + alen..body.len() - 1].to_vec()))
}

impl Format for SRec {
    fn name(&self) -> &'static str {
        "srec"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        records_look_valid(data, |line| {
            parse_record(line).map(|(kind, _, _)| kind >= 7)
        })?;
        Some(Probe {
            length: None,
            description: "Motorola S-records".into(),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let out = Unpacked::default();
        decode_records(
            data,
            ctx,
            out,
            "no termination record",
            parse_record,
            |r, out| {
                let (kind, addr, bytes) = r;
                match kind {
                    0 => out.detail(
                        "header",
                        String::from_utf8_lossy(&bytes).trim_end_matches('\0'),
                    ),
                    1..=3 => return Step::Data(addr, bytes),
                    7..=9 => {
                        out.detail("start_address", format!("{addr:#x}"));
                        return Step::End;
                    }
                    _ => {}
                }
                Step::Other
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.srec");

    #[test]
    fn decodes_with_gap_fill() {
        check_streams(&SRec, "image.srec", IMG);
    }

    #[test]
    fn probe_is_strict() {
        assert!(SRec.probe(b"S1 is not a record").is_none());
        let mut d = IMG.to_vec();
        d[12] = if d[12] == b'0' { b'1' } else { b'0' };
        assert!(SRec.probe(&d).is_none(), "checksums are checked");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&SRec, IMG, &Hostile::flips(300));
    }
}
