//! ZyXEL ZyNOS firmware objects (`ras` images of ZyXEL switches, routers and DSL gateways, and
//! the OEM boards of the same boot loader): each object starts with a 48-byte big-endian
//! "rombin" header (the load address, `SIG` at offset 6, the object type, the original and the
//! compressed size, flags, a checksum of each, a 15-byte version string, the address of the
//! memory map table), then its bytes: `csize` of them when the compressed flag (0x80) is set,
//! else `osize`. A `ras` image is a boot extension object (type 3) whose bytes run to the end
//! of the image and hold, after the boot extension code and the memory map table, further
//! objects such as the default configuration `RomDefa` and the operating system `RasCode`
//! (type 4), usually LZMA-compressed.
//!
//! Each object is yielded as one stream named after its type (`bootext`, `rombin`, …), so the
//! objects nested in the boot extension are found inside it by the scan, and the LZMA data
//! of compressed objects is decoded there. The checksums (16-bit one's-complement sums of the
//! big-endian words, an odd last byte padded with zero; flag 0x40 for the original bytes,
//! 0x20 for the compressed ones) are checked where the bytes present allow; a mismatch is a
//! warning. As `SIG` is three common letters, a header is accepted only when its fields are
//! plausible and, where its bytes are all present, a checksum it claims holds.
//!
//! Written here: the header is 48 fixed bytes and no crate reads it. Layout from the
//! open-source ZyNOS image tools (OpenWrt's `zynos.h`/`mkzynfw`) and published analyses of
//! stock images.

use crate::cursor::{be16, be32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A ZyNOS firmware object.
pub struct Zynos;

static MAGICS: &[Magic] = &[Magic::at(b"SIG", 6)];

const HEADER_LEN: usize = 48;
/// Flag: the bytes are compressed (`csize` of them follow).
const COMPRESSED: u8 = 0x80;
/// Flag: `ocsum` is valid.
const OCSUM: u8 = 0x40;
/// Flag: `ccsum` is valid.
const CCSUM: u8 = 0x20;
/// Largest object accepted (the flash chips of these boards are far smaller).
const MAX_SIZE: u32 = 256 << 20;

/// Object types and their names.
fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x01 => "romimg",
        0x02 => "romboot",
        0x03 => "bootext",
        0x04 => "rombin",
        0x05 => "romdir",
        0x06 => "object6",
        0x07 => "rommap",
        0x80 => "ram",
        0x81 => "ramcode",
        0x82 => "ramboot",
        _ => return None,
    })
}

/// The header fields.
#[derive(Debug, Clone)]
struct Header {
    addr: u32,
    kind: u8,
    name: &'static str,
    osize: u32,
    csize: u32,
    flags: u8,
    ocsum: u16,
    ccsum: u16,
    version: String,
    mmap: u32,
}

impl Header {
    fn parse(data: &[u8]) -> Option<Header> {
        let h = data.get(..HEADER_LEN)?;
        if &h[6..9] != b"SIG" {
            return None;
        }
        let kind = h[9];
        let name = type_name(kind)?;
        let (osize, csize, flags) = (be32(h, 10)?, be32(h, 14)?, h[18]);
        let ver = &h[24..39];
        let end = ver.iter().position(|&b| b == 0).unwrap_or(ver.len());
        let printable = ver[..end].iter().all(|&b| (0x20..0x7f).contains(&b))
            && ver[end..].iter().all(|&b| b == 0);
        let size = if flags & COMPRESSED != 0 {
            csize
        } else {
            osize
        };
        if !printable || flags & (OCSUM | CCSUM) == 0 || size == 0 || osize > MAX_SIZE {
            return None;
        }
        if csize > MAX_SIZE {
            return None;
        }
        Some(Header {
            addr: be32(h, 0)?,
            kind,
            name,
            osize,
            csize,
            flags,
            ocsum: be16(h, 20)?,
            ccsum: be16(h, 22)?,
            version: String::from_utf8_lossy(&ver[..end]).into_owned(),
            mmap: be32(h, 39)?,
        })
    }

    /// Bytes of the object after its header.
    fn size(&self) -> u32 {
        if self.flags & COMPRESSED != 0 {
            self.csize
        } else {
            self.osize
        }
    }

    /// The checksum that covers the bytes as stored, if the header claims one.
    fn stored_sum(&self) -> Option<u16> {
        if self.flags & COMPRESSED != 0 {
            (self.flags & CCSUM != 0).then_some(self.ccsum)
        } else {
            (self.flags & OCSUM != 0).then_some(self.ocsum)
        }
    }
}

/// The boot loader's checksum: big-endian 16-bit words added with the carry folded back in,
/// an odd last byte as the high byte of a word.
fn zynos_sum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |w: u32| {
        sum += w;
        if sum > 0xFFFF {
            sum = (sum + 1) & 0xFFFF;
        }
    };
    let mut pairs = b.chunks_exact(2);
    for w in pairs.by_ref() {
        add(u32::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = pairs.remainder() {
        add(u32::from(*last) << 8);
    }
    sum as u16
}

/// Whether the stored checksum holds: `Some(true/false)` when the bytes are all there and a
/// checksum is claimed, `None` otherwise.
fn check(h: &Header, data: &[u8]) -> Option<bool> {
    let stored = h.stored_sum()?;
    let bytes = data.get(HEADER_LEN..HEADER_LEN + h.size() as usize)?;
    Some(zynos_sum(bytes) == stored)
}

impl Format for Zynos {
    fn name(&self) -> &'static str {
        "zynos"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = Header::parse(data)?;
        // Whole and claiming a checksum: it must hold. Cut short: only the header vouches,
        // so it must also name a MIPS kernel-segment load address.
        match check(&h, data) {
            Some(true) => {}
            Some(false) => return None,
            None => {
                if !(0x8000_0000..0xc000_0000).contains(&h.addr) {
                    return None;
                }
            }
        }
        Some(Probe {
            length: Some(HEADER_LEN as u64 + h.size() as u64),
            description: format!(
                "ZyNOS {} object {:?}, {} bytes{}",
                h.name,
                h.version,
                h.size(),
                if h.flags & COMPRESSED != 0 {
                    format!(" compressed from {}", h.osize)
                } else {
                    String::new()
                }
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = Header::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad ZyNOS object header".into()))?;
        let mut out = Unpacked::default();
        out.detail("type", format!("{} ({:#04x})", h.name, h.kind));
        out.detail("load_address", format!("{:#010x}", h.addr));
        if !h.version.is_empty() {
            out.detail("version", &h.version);
        }
        if h.mmap != 0 {
            out.detail("memory_map_address", format!("{:#010x}", h.mmap));
        }
        out.detail("original_size", h.osize);
        if h.flags & COMPRESSED != 0 {
            out.detail("compressed_size", h.csize);
        }
        out.detail("flags", format!("{:#04x}", h.flags));
        match check(&h, data) {
            Some(true) => out.detail("checksum", "ok"),
            Some(false) => {
                out.detail("checksum", "mismatch");
                out.warn(
                    WarningKind::Checksum,
                    format!(
                        "checksum mismatch (stored {:#06x})",
                        h.stored_sum().unwrap_or_default()
                    ),
                );
            }
            None => out.detail("checksum", "unchecked"),
        }
        let size = h.size() as usize;
        let avail = data.len().saturating_sub(HEADER_LEN).min(size);
        if avail < size {
            out.warn(
                WarningKind::Truncated,
                format!("object declares {size} bytes, {avail} present"),
            );
        }
        let mut e = Entry::stream(
            h.name,
            EntryData::Range {
                offset: HEADER_LEN as u64,
                length: avail as u64,
            },
        );
        if h.flags & COMPRESSED != 0 {
            e = e.with_detail("compressed", "yes");
        }
        out.entries.push(e);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::{entry_bytes, unpack};

    /// A boot extension object holding boot code, a memory map and two LZMA-compressed
    /// objects, as `fixtures/scripts/vendor.sh` builds it by the documented layout.
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.zynos");

    /// Offsets of every header whose `SIG` the scan would see.
    fn sigs(d: &[u8]) -> Vec<usize> {
        d.windows(3)
            .enumerate()
            .filter(|(_, w)| *w == b"SIG")
            .filter_map(|(i, _)| i.checked_sub(6))
            .collect()
    }

    #[test]
    fn envelope_and_nested_objects_are_read_and_checked() {
        check_streams_in(VENDOR, &Zynos, "image.zynos", IMG);
        let u = unpack(&Zynos, IMG);
        assert_eq!(u.details["checksum"], "ok");
        assert_eq!(u.details["type"], "bootext (0x03)");
        assert_eq!(u.details["memory_map_address"], "0xb40e0000");
        // The nested objects, found as the scan finds them inside the envelope.
        let inner: Vec<Unpacked> = sigs(IMG)
            .into_iter()
            .filter(|&at| at > 0 && Zynos.probe(&IMG[at..]).is_some())
            .map(|at| unpack(&Zynos, &IMG[at..]))
            .collect();
        assert_eq!(inner.len(), 2);
        for u in &inner {
            assert_eq!(u.details["checksum"], "ok");
            assert_eq!(u.entries[0].details["compressed"], "yes");
        }
        assert_eq!(inner[0].details["version"], "RAS assay");
        assert_eq!(inner[1].details["version"], "assay");
    }

    #[test]
    fn damage_is_a_checksum_warning_or_no_object() {
        // Whole objects must hold their checksum to be found at all.
        let mut d = IMG.to_vec();
        d[HEADER_LEN + 10] ^= 0x40;
        assert!(Zynos.probe(&d).is_none());
        // Unpacked anyway (as the fuzz harness does), the mismatch is a warning.
        let budget = crate::limits::Budget::new(crate::limits::Limits::for_image(d.len() as u64));
        let u = Zynos
            .unpack(&Blob::from(d), &UnpackContext { budget: &budget })
            .unwrap();
        assert_eq!(u.details["checksum"], "mismatch");
        assert_eq!(u.warnings.len(), 1);
        // Cut short, the header and its kernel-segment address vouch for it.
        let cut = &IMG[..IMG.len() / 2];
        assert!(Zynos.probe(cut).is_some());
        let u = unpack(&Zynos, cut);
        assert_eq!(u.details["checksum"], "unchecked");
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert!(entry_bytes(cut, &u.entries[0]).is_some());
    }

    #[test]
    fn implausible_headers_are_not_objects() {
        let mut d = IMG.to_vec();
        d[9] = 0x42; // unknown type
        assert!(Zynos.probe(&d).is_none());
        let mut d = IMG.to_vec();
        d[18] = 0; // no checksum claimed
        assert!(Zynos.probe(&d).is_none());
        let mut d = IMG.to_vec();
        d[24] = 0x01; // unprintable version
        assert!(Zynos.probe(&d).is_none());
        let mut d = IMG.to_vec();
        d[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Zynos.probe(&d).is_none());
    }

    #[test]
    fn checksum_is_the_loaders() {
        assert_eq!(zynos_sum(&[0xff, 0xff, 0x00, 0x02]), 0x0002);
        assert_eq!(zynos_sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(zynos_sum(&[]), 0);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Zynos, IMG, &Hostile::flips(300));
    }
}
