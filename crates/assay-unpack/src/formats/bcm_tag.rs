//! Broadcom CFE image tags (BCM63xx DSL gateways): a 256-byte header in front of the root
//! file system and the kernel. Most fields are ASCII decimal numbers: tag version, the
//! signatures `Broadcom Corporatio` and `ver. 2.0`, chip and board ids, the endianness flag,
//! total length, and flash address and length of the boot loader (CFE), the root file system
//! and the kernel. Binary big-endian CRCs follow (image, root file system, kernel) and the
//! tag's own CRC at 0xEC. The CRCs are CRC-32 seeded with `0xFFFFFFFF` without the final
//! complement, as the CFE computes them.
//!
//! The root file system starts right after the tag and the kernel at its flash address
//! relative to the root file system's; both are carved as streams, every CRC is checked. A
//! boot loader counted in the lengths sits in flash before the tag and is not part of it.
//! Written here: no crate reads the tag.

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Broadcom CFE image tag and what follows it.
pub struct BcmTag;

static MAGICS: &[Magic] = &[Magic::at(b"Broadcom Corporatio", 4)];

/// The tag.
const TAG_LEN: usize = 256;
/// Where the tag's own CRC sits (it covers the bytes before it).
const TAG_CRC_AT: usize = 0xEC;

/// The tag's fields.
#[derive(Debug, Clone)]
struct BcmTagHeader {
    version: String,
    signature2: String,
    chip: String,
    board: String,
    big_endian: bool,
    total_len: u64,
    cfe_addr: u64,
    cfe_len: u64,
    rootfs_addr: u64,
    rootfs_len: u64,
    kernel_addr: u64,
    kernel_len: u64,
    rootfs_crc: u32,
    kernel_crc: u32,
    image_crc: u32,
    tag_crc_ok: bool,
}

/// A NUL-padded text field.
fn field(t: &[u8], at: usize, len: usize) -> Option<String> {
    let f = t.get(at..at + len)?;
    let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    let s = &f[..end];
    s.iter()
        .all(|&b| (0x20..0x7f).contains(&b))
        .then(|| String::from_utf8_lossy(s).into_owned())
}

/// A NUL-padded ASCII decimal field; empty reads as 0.
fn number(t: &[u8], at: usize, len: usize) -> Option<u64> {
    let s = field(t, at, len)?;
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    s.parse().ok()
}

/// CRC-32 as the CFE computes it: seeded with all ones, no final complement.
pub(crate) fn cfe_crc(data: &[u8]) -> u32 {
    !crc32fast::hash(data)
}

impl BcmTagHeader {
    fn parse(data: &[u8]) -> Option<BcmTagHeader> {
        let t = data.get(..TAG_LEN)?;
        if t.get(4..23)? != b"Broadcom Corporatio" {
            return None;
        }
        Some(BcmTagHeader {
            version: field(t, 0, 4)?,
            signature2: field(t, 0x18, 14)?,
            chip: field(t, 0x26, 6)?,
            board: field(t, 0x2C, 16)?,
            big_endian: field(t, 0x3C, 2)? == "1",
            total_len: number(t, 0x3E, 10)?,
            cfe_addr: number(t, 0x48, 12)?,
            cfe_len: number(t, 0x54, 10)?,
            rootfs_addr: number(t, 0x5E, 12)?,
            rootfs_len: number(t, 0x6A, 10)?,
            kernel_addr: number(t, 0x74, 12)?,
            kernel_len: number(t, 0x80, 10)?,
            image_crc: be32(t, 0xD8)?,
            rootfs_crc: be32(t, 0xDC)?,
            kernel_crc: be32(t, 0xE0)?,
            tag_crc_ok: be32(t, TAG_CRC_AT)? == cfe_crc(&t[..TAG_CRC_AT]),
        })
    }

    /// Offset of the kernel from the tag's start.
    fn kernel_offset(&self) -> u64 {
        if self.kernel_addr >= self.rootfs_addr && self.rootfs_addr > 0 {
            TAG_LEN as u64 + (self.kernel_addr - self.rootfs_addr)
        } else {
            TAG_LEN as u64 + self.rootfs_len
        }
    }

    /// Bytes from the tag's start to the end of the kernel or root file system.
    fn span(&self) -> u64 {
        let rootfs_end = TAG_LEN as u64 + self.rootfs_len;
        let kernel_end = self.kernel_offset().saturating_add(self.kernel_len);
        rootfs_end.max(if self.kernel_len > 0 { kernel_end } else { 0 })
    }
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "mismatch"
    }
}

impl Format for BcmTag {
    fn name(&self) -> &'static str {
        "bcm-image-tag"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = BcmTagHeader::parse(data)?;
        if h.rootfs_len == 0 && h.kernel_len == 0 {
            return None;
        }
        Some(Probe {
            length: Some(h.span()),
            description: format!(
                "Broadcom CFE image tag v{}, chip {}, board {:?}{}",
                h.version,
                h.chip,
                h.board,
                if h.tag_crc_ok {
                    ""
                } else {
                    " (tag CRC mismatch)"
                }
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = BcmTagHeader::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad Broadcom image tag".into()))?;
        let mut out = Unpacked::default();
        out.detail("tag_version", &h.version);
        out.detail("signature", &h.signature2);
        out.detail("chip", &h.chip);
        out.detail("board", &h.board);
        out.detail("endianness", if h.big_endian { "big" } else { "little" });
        out.detail("total_length", h.total_len);
        if h.cfe_len > 0 {
            out.detail(
                "cfe",
                format!("{} bytes at flash {:#x}", h.cfe_len, h.cfe_addr),
            );
        }
        out.detail("image_crc", format!("{:#010x}", h.image_crc));
        out.detail("tag_crc", ok(h.tag_crc_ok));
        if !h.tag_crc_ok {
            out.warn(WarningKind::Checksum, "image tag CRC mismatch");
        }
        let parts = [
            (
                "rootfs",
                TAG_LEN as u64,
                h.rootfs_len,
                h.rootfs_addr,
                h.rootfs_crc,
            ),
            (
                "kernel",
                h.kernel_offset(),
                h.kernel_len,
                h.kernel_addr,
                h.kernel_crc,
            ),
        ];
        for (label, off, len, addr, stored) in parts {
            if len == 0 {
                continue;
            }
            let avail = (data.len() as u64).saturating_sub(off).min(len);
            let crc = if avail < len {
                out.warn(
                    WarningKind::Truncated,
                    format!("{label} declares {len} bytes at {off:#x}, {avail} present"),
                );
                "unchecked (truncated)"
            } else {
                let bytes = &data[off as usize..(off + len) as usize];
                let good = cfe_crc(bytes) == stored;
                if !good {
                    out.warn(WarningKind::Checksum, format!("{label} CRC mismatch"));
                }
                ok(good)
            };
            out.entries.push(
                Entry::stream(
                    label,
                    EntryData::Range {
                        offset: off.min(data.len() as u64),
                        length: avail,
                    },
                )
                .with_detail("flash_address", format!("{addr:#x}"))
                .with_detail("crc", crc),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check_streams_in, VENDOR};
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/vendor/image.bcmtag");

    #[test]
    fn rootfs_and_kernel_are_carved_and_crcs_checked() {
        check_streams_in(VENDOR, &BcmTag, "image.bcmtag", IMG);
        let u = unpack(&BcmTag, IMG);
        assert_eq!(u.details["board"], "96318REF");
        assert_eq!(u.details["chip"], "6318");
        assert_eq!(u.details["tag_crc"], "ok");
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries[1].details["crc"], "ok");
    }

    #[test]
    fn damage_is_reported() {
        let mut d = IMG.to_vec();
        d[0x2C] = b'X';
        let u = unpack(&BcmTag, &d);
        assert_eq!(u.details["tag_crc"], "mismatch");
        let mut d = IMG.to_vec();
        let last = d.len() - 1;
        d[last] ^= 1;
        let u = unpack(&BcmTag, &d);
        assert!(u.warnings.iter().any(|(_, m)| m == "kernel CRC mismatch"));
        // A length that is not a number is no tag.
        let mut d = IMG.to_vec();
        d[0x6A] = b'x';
        assert!(BcmTag.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&BcmTag, IMG, &Hostile::flips(300));
    }
}
