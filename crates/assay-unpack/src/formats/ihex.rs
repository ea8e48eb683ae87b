//! Intel HEX: text records `:LLAAAATT<data>CC` (data, end of file, extended segment and
//! linear addresses) decoded to the binary image they describe, from the lowest address to
//! the highest, with gaps filled with `ff` (erased flash). Checksums are checked.
//!
//! Written here because the format is a few lines of parsing and the crates for it either
//! allocate the whole 4 GiB address space or panic on malformed records.

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An Intel HEX file.
pub struct IHex;

static MAGICS: &[Magic] = &[
    Magic::at_start(b":10"),
    Magic::at_start(b":20"),
    Magic::at_start(b":0200000"),
];

/// Records a candidate must open with, all valid, before it is believed.
const MIN_RECORDS: usize = 3;
/// Largest decoded image (the span from the lowest to the highest address).
const MAX_IMAGE: u64 = 64 << 20;

/// One decoded record.
#[derive(Debug)]
struct Record {
    kind: u8,
    address: u16,
    data: Vec<u8>,
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode pairs of hex digits.
pub(crate) fn hex_bytes(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}

/// The next line of `data` from `pos`: (line without CR/LF, position after it).
/// The probe shared by the record formats: the first [`MIN_RECORDS`] lines must parse as
/// records (`parse` says whether a record ends the file; a short file that ends properly after
/// at least one data record is fine). `None` rejects the candidate.
pub(crate) fn records_look_valid(data: &[u8], parse: impl Fn(&[u8]) -> Option<bool>) -> Option<()> {
    let mut pos = 0;
    for i in 0..MIN_RECORDS {
        let (line, next) = next_line(data, pos);
        if line.len() > 600 {
            return None;
        }
        if parse(line)? {
            return (i > 0).then_some(());
        }
        pos = next;
    }
    Some(())
}

pub(crate) fn next_line(data: &[u8], pos: usize) -> (&[u8], usize) {
    let rest = data.get(pos..).unwrap_or_default();
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let line = &rest[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (line, pos + (end + 1).min(rest.len()))
}

fn parse_record(line: &[u8]) -> Option<Record> {
    let body = hex_bytes(line.strip_prefix(b":")?)?;
    let len = *body.first()? as usize;
    if body.len() != len + 5 || body.iter().fold(0u8, |a, &b| a.wrapping_add(b)) != 0 {
        return None;
    }
    let kind = body[3];
    if kind > 5 {
        return None;
    }
    Some(Record {
        kind,
        address: u16::from_be_bytes([body[1], body[2]]),
        data: body[4..4 + len].to_vec(),
    })
}

/// Lay chunks (address, bytes) out as one image from the lowest address, gaps `ff`.
/// Returns the base address and the bytes, or an error when the span is too large.
pub(crate) fn assemble(
    chunks: &[(u64, Vec<u8>)],
    limit: u64,
) -> Result<(u64, Vec<u8>), FormatError> {
    let lo = chunks.iter().map(|c| c.0).min().unwrap_or(0);
    let hi = chunks
        .iter()
        .map(|c| c.0.saturating_add(c.1.len() as u64))
        .max()
        .unwrap_or(0);
    let span = hi.saturating_sub(lo);
    if span > limit.min(MAX_IMAGE) {
        return Err(FormatError::Limit(format!(
            "records span {span:#x} bytes from {lo:#x}; more than the image limit"
        )));
    }
    let mut out = vec![0xffu8; span as usize];
    for (addr, bytes) in chunks {
        let off = (addr - lo) as usize;
        out[off..off + bytes.len()].copy_from_slice(bytes);
    }
    Ok((lo, out))
}

impl Format for IHex {
    fn name(&self) -> &'static str {
        "ihex"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        records_look_valid(data, |line| parse_record(line).map(|r| r.kind == 1))?;
        Some(Probe {
            length: None,
            description: "Intel HEX".into(),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let mut base = 0u64;
        decode_records(
            data,
            ctx,
            Unpacked::default(),
            "no end-of-file record",
            parse_record,
            |r, _| {
                match r.kind {
                    0 => return Step::Data(base + r.address as u64, r.data),
                    1 => return Step::End,
                    2 if r.data.len() == 2 => {
                        base = (u16::from_be_bytes([r.data[0], r.data[1]]) as u64) << 4
                    }
                    4 if r.data.len() == 2 => {
                        base = (u16::from_be_bytes([r.data[0], r.data[1]]) as u64) << 16
                    }
                    _ => {}
                }
                Step::Other
            },
        )
    }
}

/// What one decoded text record means for the image.
pub(crate) enum Step {
    /// Bytes at an absolute address.
    Data(u64, Vec<u8>),
    /// The end (or termination) record: decoding stops after it.
    End,
    /// A record that only changes state or carries a detail.
    Other,
}

/// Decode the records of a text format (Intel HEX, S-records) line by line, stopping at the
/// first invalid record or the end record, and lay the data out as one `image` stream.
/// `parse` reads one line; `apply` says what a record means (and may add details).
pub(crate) fn decode_records<R>(
    data: &[u8],
    ctx: &UnpackContext,
    mut out: Unpacked,
    no_end: &str,
    parse: impl Fn(&[u8]) -> Option<R>,
    mut apply: impl FnMut(R, &mut Unpacked) -> Step,
) -> Result<Unpacked, FormatError> {
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut pos = 0usize;
    let mut consumed = 0usize;
    let mut records = 0usize;
    let mut ended = false;
    while pos < data.len() {
        let (line, next) = next_line(data, pos);
        if line.is_empty() {
            pos = next;
            continue;
        }
        let Some(r) = parse(line) else {
            out.warn(
                WarningKind::Format,
                format!("invalid record at {pos:#x}; decoding stops there"),
            );
            break;
        };
        records += 1;
        match apply(r, &mut out) {
            Step::Data(addr, bytes) => chunks.push((addr, bytes)),
            Step::End => ended = true,
            Step::Other => {}
        }
        pos = next;
        consumed = next;
        if ended {
            break;
        }
    }
    if !ended {
        out.warn(WarningKind::Format, no_end);
    }
    if chunks.is_empty() {
        return Err(FormatError::Corrupt("no data records".into()));
    }
    let (lo, image) = assemble(&chunks, ctx.stream_limit())?;
    ctx.charge(image.len() as u64)?;
    out.detail("records", records);
    out.detail("base_address", format!("{lo:#x}"));
    out.consumed = Some(consumed as u64);
    out.entries.push(
        Entry::stream("image", EntryData::Owned(Blob::from(image)))
            .with_detail("base_address", format!("{lo:#x}")),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.hex");

    #[test]
    fn decodes_with_gap_fill() {
        check_streams(&IHex, "image.hex", IMG);
        let mut d = IMG.to_vec();
        d.extend_from_slice(b"trailing text");
        let u = unpack(&IHex, &d);
        assert_eq!(u.consumed, Some(IMG.len() as u64));
        assert_eq!(u.details["base_address"], "0x1000");
    }

    #[test]
    fn probe_is_strict() {
        assert!(IHex.probe(b":10 at 12:10:33 o'clock").is_none());
        let mut d = IMG.to_vec();
        d[20] = if d[20] == b'0' { b'1' } else { b'0' };
        assert!(IHex.probe(&d).is_none(), "checksums are checked");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&IHex, IMG, &Hostile::flips(300));
    }
}
