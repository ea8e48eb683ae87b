//! TP-Link firmware headers (v1, as written by TP-Link's tools and OpenWrt's `mktplinkfw`):
//! a 512-byte big-endian header with the vendor and version strings, hardware id, MD5 sums,
//! kernel load/entry addresses, the image length and the kernel and root file system
//! offsets and lengths. The kernel and the root file system are carved as streams.
//!
//! The stored root file system offset is a flash address in many builds (OpenWrt factory
//! images put the squashfs right after the kernel, yet record 0x100000), so the rootfs
//! stream starts where the kernel ends and runs to the end of the image; the driver finds
//! the file system inside it by magic. Written here because the header is fixed-size.
//!
//! Images with the boot loader ("up_boot", e.g. TL-WR940N v4) hold a second, complete
//! TP-Link image behind a 128 KiB boot loader, and the outer header repeats the inner
//! kernel length, so its kernel range cuts the kernel short. A second header whose first
//! fields equal the outer one's behind the kernel offset marks the layout: the boot loader (the
//! outer header's `boot_len` says how much of it is used) and the inner image are carved
//! instead, and the inner image is read by its own header.

use crate::cursor::{be16, be32, cstr};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A TP-Link v1 firmware image.
pub struct TpLink;

static MAGICS: &[Magic] = &[
    Magic::at_start(b"\x01\x00\x00\x00TP-LINK Technologies\x00"),
    Magic::at_start(b"\x01\x00\x00\x00OpenWrt\x00"),
];

const HEADER_LEN: u32 = 0x200;

/// The header fields used.
struct TpLinkHeader {
    vendor: String,
    version: String,
    hw_id: u32,
    hw_rev: u32,
    kernel_load: u32,
    kernel_entry: u32,
    fw_length: u32,
    kernel_ofs: u32,
    kernel_len: u32,
    rootfs_ofs: u32,
    rootfs_len: u32,
    boot_ofs: u32,
    boot_len: u32,
    /// Firmware version from the three 16-bit fields after the boot loader's.
    fw_version: [u16; 3],
}

impl TpLinkHeader {
    fn parse(data: &[u8]) -> Option<TpLinkHeader> {
        let h = data.get(..HEADER_LEN as usize)?;
        let hdr = TpLinkHeader {
            vendor: cstr(&h[4..28]),
            version: cstr(&h[28..64]),
            hw_id: be32(h, 0x40)?,
            hw_rev: be32(h, 0x44)?,
            kernel_load: be32(h, 0x74)?,
            kernel_entry: be32(h, 0x78)?,
            fw_length: be32(h, 0x7c)?,
            kernel_ofs: be32(h, 0x80)?,
            kernel_len: be32(h, 0x84)?,
            rootfs_ofs: be32(h, 0x88)?,
            rootfs_len: be32(h, 0x8c)?,
            boot_ofs: be32(h, 0x90)?,
            boot_len: be32(h, 0x94)?,
            fw_version: [be16(h, 0x98)?, be16(h, 0x9a)?, be16(h, 0x9c)?],
        };
        let kernel_end = hdr.kernel_ofs as u64 + hdr.kernel_len as u64;
        let ok = hdr.kernel_ofs >= HEADER_LEN
            && hdr.kernel_len > 0
            && hdr.fw_length >= HEADER_LEN
            && kernel_end <= hdr.fw_length as u64;
        ok.then_some(hdr)
    }
}

impl Format for TpLink {
    fn name(&self) -> &'static str {
        "tplink"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = TpLinkHeader::parse(data)?;
        // The kernel must be present; images that end early (sysupgrade builds record the
        // full flash length) are measured to the end of the data instead.
        let kernel_end = h.kernel_ofs as u64 + h.kernel_len as u64;
        if kernel_end > data.len() as u64 {
            return None;
        }
        Some(Probe {
            length: Some((h.fw_length as u64).min(data.len() as u64)),
            description: format!(
                "TP-Link firmware header, vendor {:?}, version {:?}, hardware {:08x} v{}",
                h.vendor, h.version, h.hw_id, h.hw_rev
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h =
            TpLinkHeader::parse(data).ok_or(FormatError::Corrupt("bad TP-Link header".into()))?;
        let mut out = Unpacked::default();
        out.detail("vendor", &h.vendor);
        out.detail("version", &h.version);
        out.detail("hardware_id", format!("{:#010x}", h.hw_id));
        out.detail("hardware_revision", h.hw_rev);
        out.detail("kernel_load", format!("{:#010x}", h.kernel_load));
        out.detail("kernel_entry", format!("{:#010x}", h.kernel_entry));
        out.detail("rootfs_offset", format!("{:#x}", h.rootfs_ofs));
        out.detail("rootfs_length", format!("{:#x}", h.rootfs_len));
        let len = data.len() as u64;
        if (h.fw_length as u64) > len {
            out.detail(
                "note",
                format!(
                    "header records {:#x} bytes; the image holds {len:#x}",
                    h.fw_length
                ),
            );
        }
        if h.boot_len > 0 {
            out.detail("boot_offset", format!("{:#x}", h.boot_ofs));
            out.detail("boot_length", format!("{:#x}", h.boot_len));
        }
        if h.fw_version != [0; 3] {
            let [a, b, c] = h.fw_version;
            out.detail("firmware_version", format!("{a}.{b}.{c}"));
        }
        let end = (h.fw_length as u64).min(len);
        if let Some(inner) = inner_image(data, &h) {
            out.detail("inner_header_offset", format!("{inner:#x}"));
            let boot_ofs = (h.kernel_ofs as u64).min(inner);
            out.entries.push(Entry::stream(
                "bootloader",
                EntryData::Range {
                    offset: boot_ofs,
                    length: inner - boot_ofs,
                },
            ));
            out.entries.push(Entry::stream(
                "image",
                EntryData::Range {
                    offset: inner,
                    length: end.saturating_sub(inner),
                },
            ));
            return Ok(out);
        }
        let kernel_end = (h.kernel_ofs as u64 + h.kernel_len as u64).min(len);
        let kernel_ofs = (h.kernel_ofs as u64).min(kernel_end);
        out.entries.push(Entry::stream(
            "kernel",
            EntryData::Range {
                offset: kernel_ofs,
                length: kernel_end - kernel_ofs,
            },
        ));
        if end > kernel_end {
            out.entries.push(Entry::stream(
                "rootfs",
                EntryData::Range {
                    offset: kernel_end,
                    length: end - kernel_end,
                },
            ));
        }
        Ok(out)
    }
}

/// Offset of a second TP-Link image behind the kernel offset of `h` (the "up_boot" layout):
/// a header starting with the same version and vendor fields that parses and fits in the
/// image. `None` for the usual layout.
fn inner_image(data: &[u8], h: &TpLinkHeader) -> Option<u64> {
    let magic = data.get(..28)?;
    let len = data.len() as u64;
    let from = h.kernel_ofs as usize;
    // Usually inside the kernel range (the kernel is longer than the boot loader's slot),
    // but a small kernel ends before it: search the whole image the header describes.
    let to = (h.fw_length as u64).min(len) as usize;
    let found = memchr::memmem::find(data.get(from..to)?, magic)?;
    let at = from.checked_add(found)?;
    let inner = TpLinkHeader::parse(data.get(at..)?)?;
    let inner_end = at as u64 + inner.kernel_ofs as u64 + inner.kernel_len as u64;
    (inner_end <= len).then_some(at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.tplink");

    #[test]
    fn kernel_and_rootfs_are_carved() {
        check_streams(&TpLink, "image.tplink", IMG);
        let u = unpack(&TpLink, IMG);
        assert_eq!(u.details["vendor"], "TP-LINK Technologies");
        assert_eq!(u.details["kernel_load"], "0x80060000");
    }

    const UPBOOT: &[u8] = include_bytes!("../../tests/fixtures/firmware/image-upboot.tplink");

    #[test]
    fn up_boot_layout_carves_boot_loader_and_whole_inner_image() {
        check_streams(&TpLink, "image-upboot.tplink", UPBOOT);
        let u = unpack(&TpLink, UPBOOT);
        assert_eq!(u.details["inner_header_offset"], "0x1200");
        assert_eq!(u.details["firmware_version"], "3.16.9");
        assert!(u.details.contains_key("boot_length"));
        // The inner image is a TP-Link image whose kernel is whole.
        let inner = &UPBOOT[0x1200..];
        assert!(TpLink.probe(inner).is_some());
        let v = unpack(&TpLink, inner);
        assert!(!v.details.contains_key("inner_header_offset"));
        let kernel = crate::formats::testutil::entry_bytes(inner, &v.entries[0]).unwrap();
        assert_eq!(kernel[0], 0x5d, "kernel starts with its lzma header");
        // An inner header that does not fit keeps the plain layout.
        let mut bad = UPBOOT.to_vec();
        bad[0x1200 + 0x84..0x1200 + 0x88].copy_from_slice(&u32::MAX.to_be_bytes());
        let w = unpack(&TpLink, &bad);
        assert_eq!(w.entries[0].path, "kernel");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&TpLink, IMG, &Hostile::flips(300));
        hostile_with(&TpLink, UPBOOT, &Hostile::flips(300));
    }
}
