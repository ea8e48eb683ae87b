//! gzip (RFC 1952) members, decoded with `flate2` under the scan's byte budget.

use super::streamout::ended_early;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::limits::{read_bounded, CountingReader};
use crate::{Blob, FormatError};

/// A gzip member: `1f 8b`, method 8 (deflate).
pub struct Gzip;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x1f\x8b\x08")];

const FTEXT: u8 = 1;
const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

impl Format for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let flags = *data.get(3)?;
        // Reserved flag bits must be zero; XFL is 0, 2 or 4; OS is at most 13 or 255.
        if flags & 0xe0 != 0 || !matches!(data.get(8)?, 0 | 2 | 4) {
            return None;
        }
        let os = *data.get(9)?;
        if os > 13 && os != 255 {
            return None;
        }
        let mut pos = 10usize;
        if flags & FEXTRA != 0 {
            let xlen = u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
            pos += 2 + xlen;
        }
        let mut name = None;
        if flags & FNAME != 0 {
            let end = memchr::memchr(0, data.get(pos..)?.get(..1024)?)?;
            name = Some(String::from_utf8_lossy(&data[pos..pos + end]).into_owned());
            pos += end + 1;
        }
        if flags & FCOMMENT != 0 {
            let end = memchr::memchr(0, data.get(pos..)?.get(..4096)?)?;
            pos += end + 1;
        }
        if flags & FHCRC != 0 {
            pos += 2;
        }
        // The first deflate block header: BTYPE 3 is invalid.
        let first = *data.get(pos)?;
        if (first >> 1) & 3 == 3 {
            return None;
        }
        let _ = FTEXT;
        Some(Probe {
            length: None,
            description: match name {
                Some(n) => format!("gzip, original name {n:?}"),
                None => "gzip".into(),
            },
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let mut counting = CountingReader::new(&data[..]);
        let decoded = {
            let decoder = flate2::bufread::GzDecoder::new(std::io::BufReader::with_capacity(
                64 * 1024,
                &mut counting,
            ));
            let name = decoder
                .header()
                .and_then(|h| h.filename())
                .map(|n| String::from_utf8_lossy(n).into_owned());
            (read_bounded(decoder, ctx.stream_limit()), name)
        };
        let (decoded, name) = decoded;
        if decoded.data.is_empty() {
            if let Some(e) = decoded.error {
                return Err(e);
            }
        }
        ctx.charge(decoded.data.len() as u64)?;
        let mut out = Unpacked::default();
        if let Some(e) = decoded.error {
            out.warn(ended_early(&e), format!("stream ends early: {e}"));
        }
        // The BufReader may read ahead; the trailer tells where the member really ends, so
        // find it by re-deriving the consumed length from the deflate stream.
        out.consumed = Some(member_length(data).unwrap_or(counting.count()));
        out.entries.push(Entry::stream(
            name.unwrap_or_default(),
            EntryData::Owned(Blob::from(decoded.data)),
        ));
        Ok(out)
    }
}

/// Exact length of the gzip member at the start of `data`: header, deflate stream, trailer.
fn member_length(data: &[u8]) -> Option<u64> {
    let flags = *data.get(3)?;
    let mut pos = 10usize;
    if flags & FEXTRA != 0 {
        pos += 2 + u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
    }
    if flags & FNAME != 0 {
        pos += memchr::memchr(0, data.get(pos..)?)? + 1;
    }
    if flags & FCOMMENT != 0 {
        pos += memchr::memchr(0, data.get(pos..)?)? + 1;
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    let mut inflater = flate2::Decompress::new(false);
    let mut sink = vec![0u8; 64 * 1024];
    let input = data.get(pos..)?;
    loop {
        let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
        let rest = input.get(inflater.total_in() as usize..)?;
        let status = inflater
            .decompress(rest, &mut sink, flate2::FlushDecompress::None)
            .ok()?;
        if status == flate2::Status::StreamEnd {
            break;
        }
        if inflater.total_in() == before_in && inflater.total_out() == before_out {
            // No progress: the input ends inside the stream.
            return None;
        }
    }
    Some((pos as u64 + inflater.total_in() + 8).min(data.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::{entry_bytes, unpack};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_and_measures_member() {
        let mut data = gz(b"hello gzip world");
        let len = data.len() as u64;
        data.extend_from_slice(b"trailing junk that is not gzip");
        let u = unpack(&Gzip, &data);
        assert_eq!(u.consumed, Some(len));
        assert_eq!(
            entry_bytes(&data, &u.entries[0]).unwrap(),
            b"hello gzip world"
        );
    }

    #[test]
    fn rejects_bad_flags() {
        let mut data = gz(b"x");
        data[3] = 0x80;
        assert!(Gzip.probe(&data).is_none());
    }

    #[test]
    fn truncated_member_yields_partial_output_or_error() {
        let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let data = gz(&big);
        let cut = &data[..data.len() / 2];
        let blob = Blob::from(cut.to_vec());
        let budget = crate::Budget::new(crate::Limits::for_image(cut.len() as u64));
        let r = Gzip.unpack(&blob, &UnpackContext { budget: &budget });
        let u = r.expect("a truncated member keeps what it decoded");
        assert!(!u.warnings.is_empty());
        assert!(!u.entries.is_empty());
    }
}
