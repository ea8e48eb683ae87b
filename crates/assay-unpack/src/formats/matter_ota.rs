//! Matter OTA software update images: the file a Matter (smart-home) OTA provider serves to
//! devices, as the Matter Core specification's "OTA Software Update File Format" defines it
//! and connectedhomeip's `ota_image_tool.py` writes it. A little-endian fixed header (file
//! identifier `0x1BEEF11E`, 64-bit total size, 32-bit header size), a header in Matter TLV
//! (an anonymous structure with context tags: 0 vendor id, 1 product id, 2 software version,
//! 3 version string, 4 payload size, 5/6 minimum/maximum applicable version, 7 release-notes
//! URL, 8 digest type, 9 digest of the payload), then the payload, the vendor's image.
//!
//! The payload is carved; its digest is checked when the type is one of the SHA-2 family
//! (IANA "Named Information" ids 1 to 8, the truncated SHA-256 forms compared on their
//! prefix), with a warning on a mismatch; SHA-3 digests are reported unchecked.
//!
//! Written here (no crate reads it).

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::fmt::Write as _;

/// A Matter OTA image.
pub struct MatterOta;

static MAGICS: &[Magic] = &[Magic::at_start(&[0x1E, 0xF1, 0xEE, 0x1B])];

const FIXED_LEN: usize = 16;
/// Largest TLV header believed: the specified fields take a few hundred bytes.
const MAX_HEADER: u32 = 64 << 10;
/// Elements walked at most (the header holds ten).
const MAX_ELEMENTS: usize = 1024;

/// One value of the header's structure.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Uint(u64),
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    /// Anything else (booleans, floats, null, nested containers).
    Other,
}

/// The header's fields, by context tag.
#[derive(Debug, Default)]
struct Header {
    total: u64,
    header_len: u32,
    fields: Vec<(u8, Value)>,
}

impl Header {
    fn get(&self, tag: u8) -> Option<&Value> {
        self.fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| v)
    }
    fn uint(&self, tag: u8) -> Option<u64> {
        match self.get(tag)? {
            Value::Uint(v) => Some(*v),
            _ => None,
        }
    }
    fn text(&self, tag: u8) -> Option<&str> {
        match self.get(tag)? {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
    fn bytes(&self, tag: u8) -> Option<&[u8]> {
        match self.get(tag)? {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

fn le(d: &[u8], at: usize, n: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(n)?)?;
    Some(
        b.iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
    )
}

/// Walk the TLV structure that must fill `t` from its start: an anonymous structure whose
/// members at depth 1 are kept by context tag. `None` when it is not well formed.
fn parse_tlv(t: &[u8]) -> Option<Vec<(u8, Value)>> {
    if t.first() != Some(&0x15) {
        return None;
    }
    let mut at = 1usize;
    let mut depth = 1usize;
    let mut fields = Vec::new();
    for _ in 0..MAX_ELEMENTS {
        let control = *t.get(at)?;
        at += 1;
        let (tag_ctl, ty) = (control >> 5, control & 0x1f);
        if ty == 0x18 {
            if tag_ctl != 0 {
                return None;
            }
            depth -= 1;
            if depth == 0 {
                return Some(fields);
            }
            continue;
        }
        let tag_len = [0usize, 1, 2, 4, 2, 4, 6, 8][usize::from(tag_ctl)];
        let tag = if tag_ctl == 1 {
            t.get(at).copied()
        } else {
            None
        };
        at = at.checked_add(tag_len)?;
        let width = 1usize << (ty & 3);
        let value = match ty {
            0x00..=0x03 => {
                let raw = le(t, at, width)?;
                at += width;
                let shift = 64 - 8 * width as u32;
                Value::Int(((raw << shift) as i64) >> shift)
            }
            0x04..=0x07 => {
                let v = le(t, at, width)?;
                at += width;
                Value::Uint(v)
            }
            0x08 | 0x09 | 0x14 => Value::Other,
            0x0A => {
                at += 4;
                Value::Other
            }
            0x0B => {
                at += 8;
                Value::Other
            }
            0x0C..=0x13 => {
                let n = usize::try_from(le(t, at, width)?).ok()?;
                at += width;
                let s = t.get(at..at.checked_add(n)?)?;
                at += n;
                if ty <= 0x0F {
                    Value::Text(std::str::from_utf8(s).ok()?.to_owned())
                } else {
                    Value::Bytes(s.to_vec())
                }
            }
            0x15..=0x17 => {
                depth += 1;
                if depth > 32 {
                    return None;
                }
                Value::Other
            }
            _ => return None,
        };
        // Only the outer structure's members are the header's fields; they are all tagged.
        if depth == 1 || (matches!(ty, 0x15..=0x17) && depth == 2) {
            match tag {
                Some(tag) => fields.push((tag, value)),
                None => return None,
            }
        }
        if at > t.len() {
            return None;
        }
    }
    None
}

/// The image's header, if the fixed part, the TLV and the sizes agree.
fn header(d: &[u8]) -> Option<Header> {
    if d.get(..4)? != [0x1E, 0xF1, 0xEE, 0x1B] {
        return None;
    }
    let total = le(d, 4, 8)?;
    let header_len = le(d, 12, 4)? as u32;
    if !(2..=MAX_HEADER).contains(&header_len) {
        return None;
    }
    let tlv = d.get(FIXED_LEN..FIXED_LEN + header_len as usize)?;
    let fields = parse_tlv(tlv)?;
    let h = Header {
        total,
        header_len,
        fields,
    };
    // The fields every image carries, with the types the specification gives them.
    let ok = h.uint(0).is_some_and(|v| v <= 0xFFFF)
        && h.uint(1).is_some_and(|v| v <= 0xFFFF)
        && h.uint(2).is_some_and(|v| v <= 0xFFFF_FFFF)
        && h.text(3).is_some()
        && h.uint(4).is_some_and(|p| {
            (FIXED_LEN as u64 + u64::from(header_len)).checked_add(p) == Some(total)
        });
    ok.then_some(h)
}

fn digest_name(id: u64) -> &'static str {
    match id {
        1 => "sha-256",
        2 => "sha-256-128",
        3 => "sha-256-120",
        4 => "sha-256-96",
        5 => "sha-256-64",
        6 => "sha-256-32",
        7 => "sha-384",
        8 => "sha-512",
        9 => "sha3-224",
        10 => "sha3-256",
        11 => "sha3-384",
        12 => "sha3-512",
        _ => "unknown",
    }
}

/// The payload's digest under the named algorithm, when it is one of the SHA-2 family.
fn digest(id: u64, payload: &[u8]) -> Option<Vec<u8>> {
    let full = match id {
        1..=6 => Sha256::digest(payload).to_vec(),
        7 => Sha384::digest(payload).to_vec(),
        8 => Sha512::digest(payload).to_vec(),
        _ => return None,
    };
    let keep = match id {
        2 => 16,
        3 => 15,
        4 => 12,
        5 => 8,
        6 => 4,
        _ => full.len(),
    };
    Some(full[..keep].to_vec())
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

impl Format for MatterOta {
    fn name(&self) -> &'static str {
        "matter-ota"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = header(data)?;
        Some(Probe {
            length: Some(h.total),
            description: format!(
                "Matter OTA image, vendor 0x{:04x} product 0x{:04x}, version {} (\"{}\"), \
                 {} bytes of payload",
                h.uint(0).unwrap_or(0),
                h.uint(1).unwrap_or(0),
                h.uint(2).unwrap_or(0),
                h.text(3).unwrap_or(""),
                h.uint(4).unwrap_or(0)
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = header(data).ok_or_else(|| FormatError::Corrupt("bad Matter OTA header".into()))?;
        let mut out = Unpacked::default();
        out.detail("vendor_id", format!("0x{:04x}", h.uint(0).unwrap_or(0)));
        out.detail("product_id", format!("0x{:04x}", h.uint(1).unwrap_or(0)));
        out.detail("software_version", h.uint(2).unwrap_or(0));
        out.detail("software_version_string", h.text(3).unwrap_or(""));
        out.detail("header_size", h.header_len);
        out.detail("total_size", h.total);
        if let Some(v) = h.uint(5) {
            out.detail("min_applicable_version", v);
        }
        if let Some(v) = h.uint(6) {
            out.detail("max_applicable_version", v);
        }
        if let Some(u) = h.text(7) {
            out.detail("release_notes_url", u);
        }
        let size = h.uint(4).unwrap_or(0);
        out.detail("payload_size", size);
        let start = FIXED_LEN as u64 + u64::from(h.header_len);
        let avail = (data.len() as u64).saturating_sub(start).min(size);
        if avail < size {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {size} bytes, {avail} present"),
            );
        }
        let payload = &data[start as usize..(start + avail) as usize];
        match (h.uint(8), h.bytes(9)) {
            (Some(id), Some(want)) => {
                out.detail("digest_type", digest_name(id));
                out.detail("digest", hex(want));
                match digest(id, payload) {
                    _ if avail < size => {}
                    Some(got) if got == want => out.detail("digest_check", "ok"),
                    Some(_) => out.warn(
                        WarningKind::Checksum,
                        format!("payload {} digest does not match", digest_name(id)),
                    ),
                    None => out.detail("digest_check", "not checked (algorithm)"),
                }
            }
            _ => out.warn(WarningKind::Corrupt, "header has no image digest"),
        }
        out.entries.push(
            Entry::stream(
                "payload",
                EntryData::Range {
                    offset: start,
                    length: avail,
                },
            )
            .with_detail("offset", start),
        );
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
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/ngfmt/matter.ota");

    #[test]
    fn payload_is_carved_and_digest_checked() {
        check_streams_in(MANIFEST, &MatterOta, "matter.ota", IMG);
        let u = unpack(&MatterOta, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["digest_check"], "ok");
        assert_eq!(u.details["vendor_id"], "0xfff1");
        assert_eq!(u.details["software_version_string"], "1.0.10");
        assert_eq!(u.details["release_notes_url"], "https://example.com/notes");
        assert_eq!(MatterOta.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn tlv_values_decode_in_every_width() {
        let t = [
            0x15, 0x20, 0x01, 0xFF, // tag 1: int8 -1
            0x25, 0x02, 0x34, 0x12, // tag 2: uint16 0x1234
            0x2C, 0x03, 0x02, b'h', b'i', // tag 3: "hi"
            0x35, 0x04, 0x24, 0x00, 0x01, 0x18, // tag 4: a structure, skipped
            0x30, 0x05, 0x01, 0xAB, // tag 5: octets
            0x18,
        ];
        let f = parse_tlv(&t).unwrap();
        assert_eq!(f[0], (1, Value::Int(-1)));
        assert_eq!(f[1], (2, Value::Uint(0x1234)));
        assert_eq!(f[2], (3, Value::Text("hi".into())));
        assert_eq!(f[3], (4, Value::Other));
        assert_eq!(f[4], (5, Value::Bytes(vec![0xAB])));
        assert!(parse_tlv(&t[..t.len() - 1]).is_none(), "unterminated");
        assert!(
            parse_tlv(&[0x15, 0x0C, 0x05, b'a', 0x18]).is_none(),
            "anonymous member"
        );
    }

    #[test]
    fn sizes_and_damage_are_refused_or_warn() {
        let mut bad = IMG.to_vec();
        bad[4] ^= 1; // total size
        assert!(MatterOta.probe(&bad).is_none());
        let mut bad = IMG.to_vec();
        bad[12] += 1; // header size past the end-of-structure byte
        assert!(MatterOta.probe(&bad).is_none());
        let mut bad = IMG.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        let u = unpack(&MatterOta, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        let u = unpack(&MatterOta, &IMG[..IMG.len() - 3]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn magic_in_random_bytes_is_refused() {
        let mut r = crate::formats::testutil::hostile::Rng::new(13);
        let mut d: Vec<u8> = (0..1 << 18).map(|_| r.next() as u8).collect();
        for at in (0..d.len() - 64).step_by(499) {
            d[at..at + 4].copy_from_slice(&[0x1E, 0xF1, 0xEE, 0x1B]);
            d[at + 16] = 0x15;
        }
        for at in 0..d.len() {
            assert!(MatterOta.probe(&d[at..]).is_none(), "false hit at {at}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&MatterOta, IMG, &Hostile::flips(300));
        hostile_with(&MatterOta, IMG, &Hostile::unprobed());
    }
}
