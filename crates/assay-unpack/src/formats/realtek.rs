//! Realtek SDK firmware images (`cvimg` headers), as written by the RTL8196/8197/8198 boot
//! loaders' tool chain and the many routers and repeaters built on it: a 16-byte big-endian
//! header (a four-letter signature, the RAM address the part is loaded to, the flash offset it
//! is burnt to, and the length of what follows, a 16-bit checksum included), the payload, then
//! the checksum, chosen so that the payload and checksum sum to zero as big-endian 16-bit
//! words (web-page parts use an 8-bit sum of the bytes instead). The signature tells the part:
//! `cs6c`/`cs6b`/`csys`/`klln` a kernel, `cr6c`/`cr6b`/`csro`/`k6ln` a kernel with its root
//! file system, `r6cr`/`r6br`/`k6rt` a root file system, `w6cg`/`w6cb`/`w6bg` web pages. An
//! upgrade file is usually several such parts back to back; each is found by the scan.
//!
//! The payload is yielded as one stream named after the part (`kernel`, `rootfs`, …) without
//! the checksum; a wrong checksum is a warning, not a refusal. The generic signatures `boot`
//! and `root` are not searched for: they are common words, and the header has too little
//! else to tell a real one from text.
//!
//! Written here: the header is 16 fixed bytes and no crate reads it.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Realtek `cvimg` firmware part.
pub struct Realtek;

/// Signature and the part it announces.
static KINDS: &[(&[u8; 4], &str)] = &[
    (b"cs6c", "kernel"),
    (b"cs6b", "kernel"),
    (b"csys", "kernel"),
    (b"klln", "kernel"),
    (b"cr6c", "kernel+rootfs"),
    (b"cr6b", "kernel+rootfs"),
    (b"csro", "kernel+rootfs"),
    (b"k6ln", "kernel+rootfs"),
    (b"r6cr", "rootfs"),
    (b"r6br", "rootfs"),
    (b"k6rt", "rootfs"),
    (b"w6cg", "web"),
    (b"w6cb", "web"),
    (b"w6bg", "web"),
];

static MAGICS: &[Magic] = &[
    Magic::at_start(b"cs6c"),
    Magic::at_start(b"cs6b"),
    Magic::at_start(b"csys"),
    Magic::at_start(b"klln"),
    Magic::at_start(b"cr6c"),
    Magic::at_start(b"cr6b"),
    Magic::at_start(b"csro"),
    Magic::at_start(b"k6ln"),
    Magic::at_start(b"r6cr"),
    Magic::at_start(b"r6br"),
    Magic::at_start(b"k6rt"),
    Magic::at_start(b"w6cg"),
    Magic::at_start(b"w6cb"),
    Magic::at_start(b"w6bg"),
];

const HEADER_LEN: usize = 16;
/// The trailing checksum.
const CHECKSUM_LEN: u64 = 2;
/// Largest part accepted (the SoCs address 32 MiB of flash at most; a generous bound).
const MAX_LEN: u64 = 256 << 20;
/// Flash offsets lie below this (no flash on these boards is larger).
const MAX_BURN: u32 = 0x1000_0000;

/// The header fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    signature: [u8; 4],
    part: &'static str,
    start: u32,
    burn: u32,
    len: u64,
}

impl Header {
    /// Read a header; the addresses must be what the boot loader accepts (a MIPS kernel
    /// segment address or none, a flash offset), which text and code rarely are.
    fn parse(data: &[u8]) -> Option<Header> {
        let sig = data.get(..4)?;
        let part = KINDS.iter().find(|(s, _)| s.as_slice() == sig)?.1;
        let start = be32(data, 4)?;
        let burn = be32(data, 8)?;
        let len = be32(data, 12)? as u64;
        let start_ok = start == 0 || (0x8000_0000..0xc000_0000).contains(&start);
        if !start_ok || burn >= MAX_BURN || !(CHECKSUM_LEN + 1..=MAX_LEN).contains(&len) {
            return None;
        }
        Some(Header {
            signature: sig.try_into().ok()?,
            part,
            start,
            burn,
            len,
        })
    }

    /// Bytes the part spans: header, payload and checksum, padded to an even length.
    fn span(&self) -> u64 {
        HEADER_LEN as u64 + self.len + (self.len & 1)
    }
}

/// The two sums the boot loaders check: big-endian 16-bit words (an odd last byte as the
/// high byte of a word) and plain bytes; each is zero over a valid part.
fn sums(b: &[u8]) -> (u16, u8) {
    let mut words = 0u16;
    let mut bytes = 0u8;
    let mut pairs = b.chunks_exact(2);
    for w in pairs.by_ref() {
        words = words.wrapping_add(u16::from_be_bytes([w[0], w[1]]));
        bytes = bytes.wrapping_add(w[0]).wrapping_add(w[1]);
    }
    if let [last] = pairs.remainder() {
        words = words.wrapping_add(u16::from(*last) << 8);
        bytes = bytes.wrapping_add(*last);
    }
    (words, bytes)
}

impl Format for Realtek {
    fn name(&self) -> &'static str {
        "realtek"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = Header::parse(data)?;
        Some(Probe {
            length: Some(h.span()),
            description: format!(
                "Realtek firmware part {:?} ({}), {} bytes, load {:#010x}, flash {:#x}",
                String::from_utf8_lossy(&h.signature),
                h.part,
                h.len - CHECKSUM_LEN,
                h.start,
                h.burn
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = Header::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad Realtek firmware header".into()))?;
        let mut out = Unpacked::default();
        out.detail("signature", String::from_utf8_lossy(&h.signature));
        out.detail("part", h.part);
        out.detail("load_address", format!("{:#010x}", h.start));
        out.detail("flash_offset", format!("{:#x}", h.burn));
        let body = &data[HEADER_LEN..];
        let payload = (h.len - CHECKSUM_LEN) as usize;
        let covered = h.len as usize;
        if body.len() < covered {
            out.detail("checksum", "unchecked (truncated)");
            out.warn(
                WarningKind::Truncated,
                format!(
                    "part declares {} bytes, {} present",
                    h.len,
                    body.len().min(covered)
                ),
            );
        } else {
            // Payload and checksum; a pad byte (of an odd length) sits before the checksum.
            let span = &body[..(covered + (covered & 1)).min(body.len())];
            let (words, bytes) = sums(span);
            let good = if h.part == "web" {
                bytes == 0 || words == 0
            } else {
                words == 0
            };
            out.detail("checksum", if good { "ok" } else { "mismatch" });
            if !good {
                out.warn(
                    WarningKind::Checksum,
                    format!("checksum mismatch (sum {words:#06x})"),
                );
            }
        }
        let avail = body.len().min(payload);
        out.entries.push(
            Entry::stream(
                h.part,
                EntryData::Range {
                    offset: HEADER_LEN as u64,
                    length: avail as u64,
                },
            )
            .with_detail("load_address", format!("{:#010x}", h.start))
            .with_detail("flash_offset", format!("{:#x}", h.burn)),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::unpack;

    /// A kernel part then a root file system part, as `fixtures/scripts/vendor.sh` builds
    /// them around an lzma kernel stand-in and a mksquashfs image.
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.cvimg");

    fn second() -> &'static [u8] {
        let first = Realtek.probe(IMG).unwrap().length.unwrap() as usize;
        &IMG[first..]
    }

    #[test]
    fn parts_back_to_back_are_carved_and_checked() {
        check_streams_in(VENDOR, &Realtek, "image.cvimg", IMG);
        let u = unpack(&Realtek, IMG);
        assert_eq!(u.details["checksum"], "ok");
        assert_eq!(u.details["signature"], "cs6c");
        assert_eq!(u.details["load_address"], "0x80000000");
        let rest = second();
        let u = unpack(&Realtek, rest);
        assert_eq!(u.details["checksum"], "ok");
        assert_eq!(u.details["part"], "rootfs");
        let mut want = VENDOR
            .lines()
            .filter(|l| l.contains("image.cvimg+rootfs/"))
            .map(|l| l.rsplit('\t').next().unwrap().to_string());
        let bytes = crate::formats::testutil::entry_bytes(rest, &u.entries[0]).unwrap();
        assert_eq!(Some(crate::formats::testutil::sha_hex(&bytes)), want.next());
        assert!(bytes.starts_with(b"hsqs"));
    }

    #[test]
    fn damage_is_a_checksum_warning_and_truncation_is_reported() {
        let mut d = IMG.to_vec();
        d[40] ^= 0x10;
        let u = unpack(&Realtek, &d);
        assert_eq!(u.details["checksum"], "mismatch");
        assert_eq!(u.warnings.len(), 1);
        let u = unpack(&Realtek, &IMG[..100]);
        assert_eq!(u.details["checksum"], "unchecked (truncated)");
        assert!(matches!(
            u.entries[0].data,
            EntryData::Range { length: 84, .. }
        ));
    }

    #[test]
    fn implausible_headers_are_not_parts() {
        // Text after the signature (addresses that are letters), a huge flash offset, a
        // length below the checksum's or beyond any flash.
        assert!(Realtek.probe(b"csys is a string, not a header").is_none());
        for (at, v) in [
            (8usize, 0x2000_0000u32),
            (12, 1),
            (12, 0x4000_0000),
            (4, 0x1000),
        ] {
            let mut d = IMG.to_vec();
            d[at..at + 4].copy_from_slice(&v.to_be_bytes());
            assert!(Realtek.probe(&d).is_none(), "field {at} = {v:#x}");
        }
    }

    #[test]
    fn sums_are_those_of_the_loaders() {
        assert_eq!(sums(&[0x12, 0x34, 0xed, 0xcc]), (0, 0xff));
        assert_eq!(sums(&[0x01]), (0x0100, 1));
        assert_eq!(sums(&[0x80, 0x80]), (0x8080, 0));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Realtek, IMG, &Hostile::flips(300));
        hostile_with(&Realtek, second(), &Hostile::flips(200));
    }
}
