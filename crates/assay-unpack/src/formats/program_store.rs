//! Broadcom ProgramStore images: the container Broadcom's `ProgramStore` tool wraps around
//! the eCos (and later Linux) application of BCM33xx cable modems and gateways, as written to
//! their flash banks and served to them by DOCSIS upgrades. A 92-byte big-endian header
//! (a signature, by default the chip number `0x3350`; a split flag and a compression id; the
//! program's major and minor revision; the build time; the payload length; the load address;
//! a 48-byte NUL-terminated file name; 8 reserved zero bytes; the two lengths of a dual
//! image; a CRC-16/CCITT of the first 84 header bytes; a reserved zero; a CRC-32 of the
//! payload), then the payload: one image, or for a dual image (split flag 1) a first image
//! at the payload's start and a second one ending at its end.
//!
//! The images are carved as they are (their compression, LZMA mostly, is found by the scan
//! of the carved bytes); the header CRC must hold for the header to be believed, the payload
//! CRC is checked with a warning.
//!
//! The header has no fixed magic, so the format searches for itself: its 8 reserved zero
//! bytes follow the name's NUL, and the name's first byte is not zero, so a header can only
//! start 21 to 67 bytes before the start of a run of at least nine zero bytes.
//!
//! Written here (no crate reads it).

use crate::cursor::{be16, be32};
use crate::format::{
    Entry, EntryData, EntryKind, Finder, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A Broadcom ProgramStore image (single or dual).
pub struct ProgramStore;

const HEADER_LEN: usize = 92;
/// Bytes covered by the header CRC.
const HCS_LEN: usize = 84;
const NAME_AT: usize = 20;
const NAME_LEN: usize = 48;
const PAD_AT: usize = NAME_AT + NAME_LEN;
/// Build times before the first eCos release (1998-09-01) are not real.
const MIN_TIME: u32 = 904_608_000;

const COMPRESSIONS: [&str; 6] = ["none", "LZ", "LZO", "reserved", "NRV2B", "LZMA"];

/// The header's fields.
#[derive(Debug, Clone)]
struct Header {
    signature: u16,
    split: bool,
    compression: u8,
    major: u16,
    minor: u16,
    time: u32,
    len: u32,
    load: u32,
    name: String,
    len1: u32,
    len2: u32,
    crc: u32,
}

/// CRC-16/CCITT as the header uses it: polynomial 0x1021, MSB first, initial value and final
/// xor 0xFFFF.
fn crc16(d: &[u8]) -> u16 {
    let mut c: u16 = 0xFFFF;
    for &b in d {
        c ^= u16::from(b) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x1021
            } else {
                c << 1
            };
        }
    }
    c ^ 0xFFFF
}

/// CRC-32 as the payload check uses it: polynomial 0x04C11DB7 MSB first, initial value and
/// final xor 0xFFFFFFFF (the bzip2 variant, not zlib's reflected one).
fn crc32_msb(d: &[u8]) -> u32 {
    !super::crc32_msb::update(0xFFFF_FFFF, d)
}

/// The header at `d[0]`, if every field is plausible, its CRC holds and the payload fits.
fn header(d: &[u8]) -> Option<Header> {
    let h = d.get(..HEADER_LEN)?;
    let (split, compression) = (h[2], h[3]);
    if split > 1 || usize::from(compression) >= COMPRESSIONS.len() {
        return None;
    }
    // A file name: printable, NUL-terminated, zero-filled to the field's end.
    let name = &h[NAME_AT..PAD_AT];
    let n = name.iter().position(|&b| b == 0)?;
    if n == 0 || !name[..n].iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return None;
    }
    if name[n..].iter().any(|&b| b != 0) || h[PAD_AT..PAD_AT + 8].iter().any(|&b| b != 0) {
        return None;
    }
    if be16(h, 86)? != 0 || be32(h, 16)? & 3 != 0 {
        return None;
    }
    let time = be32(h, 8)?;
    if time != 0 && time < MIN_TIME {
        return None;
    }
    let len = be32(h, 12)?;
    if len == 0 || (d.len() - HEADER_LEN) < len as usize {
        return None;
    }
    let (len1, len2) = (be32(h, 76)?, be32(h, 80)?);
    if split == 0 {
        if len2 != 0 || (len1 != 0 && len1 != len) {
            return None;
        }
    } else if len1 == 0 || u64::from(len1) + u64::from(len2) > u64::from(len) {
        return None;
    }
    if crc16(&h[..HCS_LEN]) != be16(h, HCS_LEN)? {
        return None;
    }
    Some(Header {
        signature: be16(h, 0)?,
        split: split == 1,
        compression,
        major: be16(h, 4)?,
        minor: be16(h, 6)?,
        time,
        len,
        load: be32(h, 16)?,
        name: String::from_utf8_lossy(&name[..n]).into_owned(),
        len1,
        len2,
        crc: be32(h, 88)?,
    })
}

/// Push every offset of `window` where a header validates. Runs of nine or more zeros are
/// found by looking at every ninth byte; each run gives at most 47 candidate starts.
fn find_headers(data: &[u8], window: std::ops::Range<usize>, starts: &mut Vec<usize>) {
    let len = data.len();
    let end = window.end.min(len);
    if window.start >= end {
        return;
    }
    // A run starts 21..=67 bytes after its header and reaches at least 76 bytes past it.
    let floor0 = window.start + NAME_AT;
    let last_start = end + PAD_AT - 1;
    let scan_end = (end + PAD_AT + 8).min(len);
    let mut floor = floor0;
    let mut p = floor0 + 9;
    while p < scan_end {
        if data[p] != 0 {
            p += 9;
            continue;
        }
        let mut a = p;
        while a > floor && data[a - 1] == 0 {
            a -= 1;
        }
        let mut b = p + 1;
        while b < scan_end && data[b] == 0 {
            b += 1;
        }
        // A run reaching back to the first floor started too early for any header of the
        // window (its name's first byte would be inside the run).
        if a > floor0 && b - a >= 9 && a <= last_start && b >= PAD_AT + 8 {
            let lo = a.saturating_sub(PAD_AT - 1).max(window.start);
            let hi = (a - NAME_AT - 1).min(b - PAD_AT - 8).min(end - 1);
            for h in lo..=hi {
                if header(&data[h..]).is_some() {
                    starts.push(h);
                }
            }
        }
        floor = b;
        p = b + 9;
    }
}

impl Format for ProgramStore {
    fn name(&self) -> &'static str {
        "program_store"
    }

    fn magics(&self) -> &'static [Magic] {
        &[]
    }

    fn finder(&self) -> Option<Finder> {
        Some(find_headers)
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = header(data)?;
        Some(Probe {
            length: Some(HEADER_LEN as u64 + u64::from(h.len)),
            description: format!(
                "Broadcom ProgramStore {} image \"{}\", signature 0x{:04x}, {} compression, \
                 revision {}.{:03}, load address 0x{:08x}",
                if h.split { "dual" } else { "single" },
                h.name,
                h.signature,
                COMPRESSIONS[usize::from(h.compression)],
                h.major,
                h.minor,
                h.load
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h =
            header(data).ok_or_else(|| FormatError::Corrupt("bad ProgramStore header".into()))?;
        let mut out = Unpacked::default();
        out.detail("signature", format!("0x{:04x}", h.signature));
        out.detail("layout", if h.split { "dual" } else { "single" });
        out.detail("compression", COMPRESSIONS[usize::from(h.compression)]);
        out.detail("revision", format!("{}.{:03}", h.major, h.minor));
        out.detail("load_address", format!("0x{:08x}", h.load));
        out.detail("file_name", &h.name);
        out.detail("payload_size", h.len);
        out.detail("header_crc", "ok");
        if h.time != 0 {
            out.mtime = Some(i64::from(h.time));
        }
        let payload = &data[HEADER_LEN..HEADER_LEN + h.len as usize];
        if crc32_msb(payload) == h.crc {
            out.detail("payload_crc", "ok");
        } else {
            out.warn(
                WarningKind::Checksum,
                format!("payload CRC-32 does not match the header's 0x{:08x}", h.crc),
            );
        }
        let base = h.name.replace('/', "_");
        let carve = |path: String, at: u32, len: u32| {
            Entry::fs(path, EntryKind::File)
                .with_data(EntryData::Range {
                    offset: HEADER_LEN as u64 + u64::from(at),
                    length: u64::from(len),
                })
                .with_detail("offset", HEADER_LEN as u64 + u64::from(at))
        };
        if h.split {
            out.detail("image1_size", h.len1);
            out.detail("image2_size", h.len2);
            out.entries.push(carve(format!("/{base}.1"), 0, h.len1));
            if h.len2 > 0 {
                out.entries
                    .push(carve(format!("/{base}.2"), h.len - h.len2, h.len2));
            }
        } else {
            out.entries.push(carve(format!("/{base}"), 0, h.len));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/ngfmt/expected.txt");
    const SINGLE: &[u8] = include_bytes!("../../tests/fixtures/ngfmt/progstore-single.bin");
    const DUAL: &[u8] = include_bytes!("../../tests/fixtures/ngfmt/progstore-dual.bin");

    fn fix_hcs(d: &mut [u8]) {
        let c = crc16(&d[..HCS_LEN]);
        d[HCS_LEN..HCS_LEN + 2].copy_from_slice(&c.to_be_bytes());
    }

    fn found(data: &[u8]) -> Vec<usize> {
        let mut v = Vec::new();
        find_headers(data, 0..data.len(), &mut v);
        v
    }

    #[test]
    fn crcs_match_their_published_check_values() {
        assert_eq!(crc16(b"123456789"), 0xD64E);
        assert_eq!(crc32_msb(b"123456789"), 0xFC89_1918);
    }

    #[test]
    fn single_and_dual_images_are_carved_and_checked() {
        for (name, img) in [
            ("progstore-single.bin", SINGLE),
            ("progstore-dual.bin", DUAL),
        ] {
            check_streams_in(MANIFEST, &ProgramStore, name, img);
            let u = unpack(&ProgramStore, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(u.details["payload_crc"], "ok");
            assert_eq!(
                ProgramStore.probe(img).unwrap().length,
                Some(img.len() as u64)
            );
        }
        assert_eq!(unpack(&ProgramStore, SINGLE).mtime, Some(1_700_000_000));
    }

    #[test]
    fn finder_finds_headers_after_zeros_text_and_at_window_edges() {
        assert_eq!(found(SINGLE), vec![0]);
        for pad in [vec![0u8; 4096], b"name\0\0\0\0\0\0\0\0\0\0\0x".repeat(40)] {
            let mut d = pad.clone();
            d.extend_from_slice(DUAL);
            d.extend_from_slice(&[0; 200]);
            assert_eq!(found(&d), vec![pad.len()]);
            // Split into windows of every size around the header: found exactly once.
            for w in [1usize, 7, 64, 100, 333] {
                let mut v = Vec::new();
                let mut s = 0;
                while s < d.len() {
                    find_headers(&d, s..(s + w).min(d.len()), &mut v);
                    s += w;
                }
                assert_eq!(v, vec![pad.len()], "window {w}");
            }
        }
        assert!(found(&[0u8; 1 << 16]).is_empty());
    }

    #[test]
    fn bad_fields_and_crc_are_refused_or_warn() {
        for (at, v) in [
            (2, 2u8),
            (3, 6),
            (NAME_AT, 0),
            (PAD_AT + 1, 1),
            (87, 1),
            (19, 1),
        ] {
            let mut bad = SINGLE.to_vec();
            bad[at] = v;
            fix_hcs(&mut bad);
            assert!(ProgramStore.probe(&bad).is_none(), "byte {at}");
        }
        let mut bad = SINGLE.to_vec();
        bad[0] ^= 1;
        assert!(ProgramStore.probe(&bad).is_none(), "header CRC");
        assert!(ProgramStore.probe(&SINGLE[..SINGLE.len() - 1]).is_none());
        let mut bad = DUAL.to_vec();
        bad[76..80].copy_from_slice(&u32::MAX.to_be_bytes());
        fix_hcs(&mut bad);
        assert!(ProgramStore.probe(&bad).is_none(), "split lengths");
        let mut bad = SINGLE.to_vec();
        bad[HEADER_LEN + 5] ^= 0x40;
        let u = unpack(&ProgramStore, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
    }

    #[test]
    fn random_bytes_and_zero_runs_give_no_hits() {
        let mut r = crate::formats::testutil::hostile::Rng::new(12);
        let mut d: Vec<u8> = (0..1 << 20).map(|_| r.next() as u8).collect();
        // Zero runs of every length up to 200 after printable names.
        for (i, at) in (0..d.len() - 400).step_by(1000).enumerate() {
            d[at + 20..at + 24].copy_from_slice(b"name");
            let n = i % 200;
            d[at + 24..at + 24 + n].fill(0);
        }
        assert!(found(&d).is_empty());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&ProgramStore, DUAL, &Hostile::flips(300));
        hostile_with(&ProgramStore, SINGLE, &Hostile::unprobed());
    }
}
