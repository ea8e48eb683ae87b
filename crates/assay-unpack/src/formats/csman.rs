//! csman configuration stores ("CSman DAT" files): the binary key/value store in which some
//! gateways' configuration manager keeps their settings (accounts, passwords, addresses), in
//! a flash partition or a configuration backup. A 16-byte header in the device's byte order
//! (magic 0x5343, so `SC` big-endian and `CS` little-endian; a 16-bit field; the stored size;
//! a 32-bit field; the size of the entry stream), then the entry stream, zlib-compressed when
//! the two sizes differ. Each entry is a 32-bit key, a 16-bit length and the value; a zero key
//! ends the stream.
//!
//! Every entry becomes a file `/entries/<key in hex>` (a repeated key gets `.1`, `.2`, ...)
//! and `/csman.txt` lists them all, one `key value` line each (printable values as text,
//! others as `hex:...`), which is what an analyst greps for credentials.
//!
//! Two-byte magics are everywhere, so the probe walks the entries: an uncompressed store must
//! parse to its end marker; a compressed one is trial-inflated (a bounded prefix) and its
//! first entries must parse. A stream that starts with the end marker is not a store, which
//! also turns away zero-filled decompression bombs without inflating them.
//!
//! Written here (no crate reads it).

use crate::cursor::{be16, be32, le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use flate2::{Decompress, FlushDecompress, Status};
use std::collections::HashMap;
use std::fmt::Write as _;

/// A csman configuration store.
pub struct Csman;

static MAGICS: &[Magic] = &[Magic::at_start(b"CS"), Magic::at_start(b"SC")];

const HEADER_LEN: usize = 16;
/// Smallest entry stream: one entry with an empty value and the end marker.
const MIN_STREAM: u32 = 6 + 4;
/// Inflated bytes the probe looks at.
const TRIAL_OUT: usize = 16 << 10;
/// Compressed bytes the probe may read for that.
const TRIAL_IN: usize = 64 << 10;

/// The header's fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    big: bool,
    stored: u32,
    size: u32,
    field1: u16,
    field2: u32,
}

impl Header {
    fn compressed(&self) -> bool {
        self.stored != self.size
    }
}

fn u16_at(d: &[u8], at: usize, big: bool) -> Option<u16> {
    if big {
        be16(d, at)
    } else {
        le16(d, at)
    }
}

fn u32_at(d: &[u8], at: usize, big: bool) -> Option<u32> {
    if big {
        be32(d, at)
    } else {
        le32(d, at)
    }
}

/// The header, if its magic and sizes are plausible (sizes are not checked against the
/// data's length here).
fn header(d: &[u8]) -> Option<Header> {
    let big = match d.get(..2)? {
        b"SC" => true,
        b"CS" => false,
        _ => return None,
    };
    let h = Header {
        big,
        field1: u16_at(d, 2, big)?,
        stored: u32_at(d, 4, big)?,
        field2: u32_at(d, 8, big)?,
        size: u32_at(d, 12, big)?,
    };
    if h.size < MIN_STREAM || h.stored < if h.compressed() { 8 } else { MIN_STREAM } {
        return None;
    }
    Some(h)
}

/// One entry: key and the value's range in the entry stream.
struct Item {
    key: u32,
    at: usize,
    len: usize,
}

/// How a walk of the entry stream ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The end marker, ending at this offset.
    Marker(usize),
    /// An entry runs past the bytes available, at this offset.
    Short(usize),
    /// The entry limit was reached.
    Limit,
}

/// Walk the entries of `s` (at most `max` of them).
fn walk(s: &[u8], big: bool, max: usize) -> (Vec<Item>, End) {
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let Some(key) = u32_at(s, at, big) else {
            return (out, End::Short(at));
        };
        if key == 0 {
            return (out, End::Marker(at + 4));
        }
        if out.len() >= max {
            return (out, End::Limit);
        }
        let Some(len) = u16_at(s, at + 4, big) else {
            return (out, End::Short(at));
        };
        let len = usize::from(len);
        if s.len() - (at + 6) < len {
            return (out, End::Short(at));
        }
        out.push(Item {
            key,
            at: at + 6,
            len,
        });
        at += 6 + len;
    }
}

/// Inflate the zlib stream `input` into at most `limit` bytes; also whether the stream
/// ended, and the decoder's complaint if it failed.
fn inflate(input: &[u8], limit: usize) -> (Vec<u8>, bool, Option<String>) {
    let mut z = Decompress::new(true);
    let mut out = Vec::with_capacity(limit.min(1 << 20));
    let mut chunk = vec![0u8; 8 << 10];
    loop {
        let room = (limit - out.len()).min(chunk.len());
        if room == 0 {
            return (out, false, None);
        }
        let pos = (z.total_in() as usize).min(input.len());
        let before = (z.total_in(), z.total_out());
        match z.decompress(&input[pos..], &mut chunk[..room], FlushDecompress::None) {
            Ok(status) => {
                let n = (z.total_out() - before.1) as usize;
                out.extend_from_slice(&chunk[..n.min(room)]);
                if status == Status::StreamEnd {
                    return (out, true, None);
                }
                if n == 0 && z.total_in() == before.0 {
                    return (out, false, Some("zlib stream is truncated".into()));
                }
            }
            Err(e) => return (out, false, Some(format!("zlib: {e}"))),
        }
    }
}

/// Whether the entries walked so far look like a store: at least one, the walk ended at the
/// marker with nothing but zero padding up to `size`, or (`partial`) ran out of the bytes
/// available or reached the trial count.
fn plausible(items: &[Item], end: &End, s: &[u8], size: usize, partial: bool) -> bool {
    if items.is_empty() {
        return false;
    }
    match *end {
        End::Marker(e) => e <= size && s.get(e..size.min(s.len())).is_some_and(all_zero),
        End::Short(at) => partial && at < size,
        End::Limit => partial,
    }
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

fn is_zlib_header(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && (u16::from(*cmf) * 256 + u16::from(*flg)).is_multiple_of(31)
        }
        _ => false,
    }
}

/// What `probe` checks, with the header.
fn check(d: &[u8]) -> Option<Header> {
    let h = header(d)?;
    let body = d.get(HEADER_LEN..HEADER_LEN.checked_add(h.stored as usize)?)?;
    let size = h.size as usize;
    if h.compressed() {
        if !is_zlib_header(body) {
            return None;
        }
        let want = size.min(TRIAL_OUT);
        let (s, ended, err) = inflate(&body[..body.len().min(TRIAL_IN)], want);
        if err.is_some() || (ended && s.len() != size) {
            return None;
        }
        let (items, end) = walk(&s, h.big, usize::MAX);
        let whole = s.len() == size;
        plausible(&items, &end, &s, size, !whole).then_some(h)
    } else {
        let (items, end) = walk(body, h.big, usize::MAX);
        plausible(&items, &end, body, size, false).then_some(h)
    }
}

/// A value as one line of the listing: text when printable (trailing NULs dropped), hex
/// otherwise.
fn shown(v: &[u8]) -> String {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let t = &v[..end];
    if !t.is_empty() && t.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        String::from_utf8_lossy(t).into_owned()
    } else {
        let mut s = String::from("hex:");
        for b in v {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

impl Format for Csman {
    fn name(&self) -> &'static str {
        "csman"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = check(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + u64::from(h.stored)),
            description: format!(
                "csman configuration store, {}, {}{} bytes of entries",
                if h.big { "big-endian" } else { "little-endian" },
                if h.compressed() { "zlib, " } else { "" },
                h.size
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = check(data).ok_or_else(|| FormatError::Corrupt("bad csman header".into()))?;
        let mut out = Unpacked::default();
        out.detail("endianness", if h.big { "big" } else { "little" });
        out.detail("compression", if h.compressed() { "zlib" } else { "none" });
        out.detail("stored_size", h.stored);
        out.detail("entries_size", h.size);
        out.detail("field_2", format!("0x{:04x}", h.field1));
        out.detail("field_8", format!("0x{:08x}", h.field2));
        let body = data
            .slice(HEADER_LEN..HEADER_LEN + h.stored as usize)
            .ok_or(FormatError::Truncated {
                what: "csman body",
                offset: HEADER_LEN as u64,
            })?;
        // Where the entry stream lives: the container itself (carved) or inflated bytes.
        let (stream, base) = if h.compressed() {
            ctx.reserve_stream(u64::from(h.size), "csman entry stream")?;
            let (s, ended, err) = inflate(&body, h.size as usize);
            if let Some(e) = err {
                out.warn(WarningKind::Decode, e);
            } else if !ended {
                out.warn(
                    WarningKind::Corrupt,
                    format!("zlib stream inflates past the declared {} bytes", h.size),
                );
            } else if s.len() != h.size as usize {
                out.warn(
                    WarningKind::Corrupt,
                    format!(
                        "entry stream is {} bytes, the header says {}",
                        s.len(),
                        h.size
                    ),
                );
            }
            (Blob::from(s), None)
        } else {
            (body, Some(HEADER_LEN as u64))
        };
        let (items, end) = walk(&stream, h.big, ctx.max_entries());
        match end {
            End::Marker(_) => {}
            End::Short(at) => out.warn(
                WarningKind::Truncated,
                format!("entry at offset {at:#x} of the entry stream runs past its end"),
            ),
            End::Limit => out.warn(
                WarningKind::Limit,
                format!("more than {} entries", ctx.max_entries()),
            ),
        }
        out.detail("entries", items.len());
        let mut seen: HashMap<u32, usize> = HashMap::new();
        let mut listing = String::new();
        for it in &items {
            let n = seen.entry(it.key).or_insert(0);
            let name = if *n == 0 {
                format!("{:08x}", it.key)
            } else {
                format!("{:08x}.{n}", it.key)
            };
            *n += 1;
            let value = &stream[it.at..it.at + it.len];
            let _ = writeln!(listing, "{:08x} {}", it.key, shown(value));
            let bytes = match base {
                Some(b) => EntryData::Range {
                    offset: b + it.at as u64,
                    length: it.len as u64,
                },
                None => EntryData::Owned(
                    stream
                        .slice(it.at..it.at + it.len)
                        .unwrap_or_else(|| Blob::from(Vec::new())),
                ),
            };
            out.entries.push(
                Entry::fs(format!("/entries/{name}"), EntryKind::File)
                    .with_data(bytes)
                    .with_detail("key", format!("0x{:08x}", it.key)),
            );
        }
        ctx.charge(listing.len() as u64)?;
        out.entries.push(
            Entry::fs("/csman.txt", EntryKind::File)
                .with_data(EntryData::Owned(Blob::from(listing.into_bytes()))),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::{probe_and_unpack, unpack};
    use crate::limits::Limits;

    const MANIFEST: &str = include_str!("../../tests/fixtures/ngfmt/expected.txt");
    const LE_ZLIB: &[u8] = include_bytes!("../../tests/fixtures/ngfmt/csman-le-zlib.bin");
    const BE_PLAIN: &[u8] = include_bytes!("../../tests/fixtures/ngfmt/csman-be-plain.bin");

    /// A zlib stream of `n` zero bytes, made with flate2 (the zero-filled bomb's shape).
    fn zeros_zlib(n: usize) -> Vec<u8> {
        use flate2::{write::ZlibEncoder, Compression};
        use std::io::Write;
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        let block = vec![0u8; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(block.len());
            e.write_all(&block[..k]).unwrap();
            left -= k;
        }
        e.finish().unwrap()
    }

    fn le_store(stored: &[u8], size: u32) -> Vec<u8> {
        let mut v = b"CS\0\0".to_vec();
        v.extend_from_slice(&(stored.len() as u32).to_le_bytes());
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(stored);
        v
    }

    #[test]
    fn both_byte_orders_and_compression_yield_entries_and_listing() {
        for (name, img) in [
            ("csman-le-zlib.bin", LE_ZLIB),
            ("csman-be-plain.bin", BE_PLAIN),
        ] {
            check_streams_in(MANIFEST, &Csman, name, img);
            let u = unpack(&Csman, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(Csman.probe(img).unwrap().length, Some(img.len() as u64));
        }
        let u = unpack(&Csman, BE_PLAIN);
        assert!(matches!(u.entries[0].data, EntryData::Range { .. }));
        let listing = u.entries.last().unwrap();
        let EntryData::Owned(b) = &listing.data else {
            panic!("listing has bytes")
        };
        assert!(String::from_utf8_lossy(b).contains("00010002 s3cr3t-Passw0rd\n"));
    }

    #[test]
    fn zero_filled_bomb_is_refused_cheaply() {
        // 64 MiB of zeros declared as the entry stream: the first key is the end marker.
        let z = zeros_zlib(64 << 20);
        let img = le_store(&z, 64 << 20);
        let t = std::time::Instant::now();
        assert!(Csman.probe(&img).is_none());
        assert!(t.elapsed().as_millis() < 500, "{:?}", t.elapsed());
    }

    #[test]
    fn declared_size_is_checked_and_bounded() {
        // 200 real entries (within the trial inflate): accepted; the same stream declared shorter or longer is not; a
        // stream larger than the scan's limits is refused by unpack, not inflated.
        let mut s = Vec::new();
        for k in 1..=200u32 {
            s.extend_from_slice(&k.to_le_bytes());
            s.extend_from_slice(&64u16.to_le_bytes());
            s.extend_from_slice(&[b'v'; 64]);
        }
        s.extend_from_slice(&[0; 4]);
        let z = {
            use flate2::{write::ZlibEncoder, Compression};
            use std::io::Write;
            let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
            e.write_all(&s).unwrap();
            e.finish().unwrap()
        };
        let n = s.len() as u32;
        assert!(Csman.probe(&le_store(&z, n)).is_some());
        assert!(Csman.probe(&le_store(&z, n - 1)).is_none());
        assert!(Csman.probe(&le_store(&z, n + 1)).is_none());
        assert_eq!(unpack(&Csman, &le_store(&z, n)).entries.len(), 201);
        let mut limits = Limits::for_image(1000);
        limits.max_total_bytes = 1000;
        let r = probe_and_unpack(&Csman, &le_store(&z, n), limits).unwrap();
        assert!(matches!(r, Err(FormatError::Limit(_))), "{r:?}");
    }

    #[test]
    fn damaged_stores_are_refused_or_warn() {
        // Header size disagreeing with the plain stream, a bad zlib header, text.
        let mut bad = BE_PLAIN.to_vec();
        bad[15] += 1;
        bad[7] += 1;
        bad.push(0xAA);
        assert!(
            Csman.probe(&bad).is_none(),
            "non-zero bytes after the marker"
        );
        let mut bad = LE_ZLIB.to_vec();
        bad[16] = 0x79;
        assert!(Csman.probe(&bad).is_none());
        assert!(Csman
            .probe(b"CSS stylesheet for the settings page, version 2")
            .is_none());
        assert!(Csman.probe(&BE_PLAIN[..BE_PLAIN.len() - 1]).is_none());
        // A store whose first key is the end marker holds nothing.
        assert!(Csman.probe(&le_store(&[0; 16], 16)).is_none());
    }

    #[test]
    fn magics_in_random_bytes_are_refused() {
        let mut r = crate::formats::testutil::hostile::Rng::new(11);
        let mut d: Vec<u8> = (0..1 << 18).map(|_| r.next() as u8).collect();
        for at in (0..d.len() - 64).step_by(997) {
            d[at..at + 2].copy_from_slice(if at % 2 == 0 { b"CS" } else { b"SC" });
            // Half of them with a zlib header where the payload starts.
            if at % 3 == 0 {
                d[at + 16..at + 18].copy_from_slice(&[0x78, 0x9c]);
            }
        }
        for at in 0..d.len() {
            assert!(Csman.probe(&d[at..]).is_none(), "false hit at {at}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Csman, LE_ZLIB, &Hostile::flips(300));
        hostile_with(&Csman, BE_PLAIN, &Hostile::unprobed());
    }
}
