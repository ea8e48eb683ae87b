//! Legacy U-Boot images (`mkimage` without `-f`): a 64-byte big-endian header with its own
//! CRC-32, then one payload, or for multi-file images a table of sizes and the payloads.
//!
//! Written here because the header is 64 fixed bytes; no crate reads it without pulling in
//! far more. The payload is carved as it is: when it is compressed the driver finds the
//! gzip/LZMA stream inside it by magic, so nothing is decoded here.

use crate::cursor::{be32, cstr};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A legacy U-Boot image (`27 05 19 56`).
pub struct UImage;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x27\x05\x19\x56")];

/// Size of the fixed header.
const HEADER_LEN: usize = 64;
/// Image type of multi-file images.
const TYPE_MULTI: u8 = 4;
/// Most sub-images a multi-file image may list.
const MAX_MULTI: usize = 256;

const OS_NAMES: &[&str] = &[
    "invalid",
    "openbsd",
    "netbsd",
    "freebsd",
    "4.4bsd",
    "linux",
    "svr4",
    "esix",
    "solaris",
    "irix",
    "sco",
    "dell",
    "ncr",
    "lynxos",
    "vxworks",
    "psos",
    "qnx",
    "u-boot",
    "rtems",
    "artos",
    "unity",
    "integrity",
    "ose",
    "plan9",
    "openrtos",
    "arm-trusted-firmware",
    "tee",
    "opensbi",
    "efi",
];
const ARCH_NAMES: &[&str] = &[
    "invalid",
    "alpha",
    "arm",
    "x86",
    "ia64",
    "mips",
    "mips64",
    "powerpc",
    "s390",
    "sh",
    "sparc",
    "sparc64",
    "m68k",
    "nios",
    "microblaze",
    "nios2",
    "blackfin",
    "avr32",
    "st200",
    "sandbox",
    "nds32",
    "openrisc",
    "arm64",
    "arc",
    "x86_64",
    "xtensa",
    "riscv",
];
const TYPE_NAMES: &[&str] = &[
    "invalid",
    "standalone",
    "kernel",
    "ramdisk",
    "multi",
    "firmware",
    "script",
    "filesystem",
    "flat_dt",
    "kwbimage",
    "imximage",
    "ublimage",
    "omapimage",
    "aisimage",
    "kernel_noload",
    "pblimage",
    "mxsimage",
    "gpimage",
    "atmelimage",
    "socfpgaimage",
    "x86_setup",
    "lpc32xximage",
    "loadables",
    "rkimage",
    "rksd",
    "rkspi",
    "zynqimage",
    "zynqmpimage",
    "zynqmpbif",
    "fpga",
    "vybridimage",
    "tee",
    "firmware_ivt",
    "pmmc",
    "stm32image",
    "socfpgaimage_v1",
    "mtk_image",
    "copro",
    "sunxi_egon",
    "sunxi_toc0",
    "fdt_legacy",
];
const COMP_NAMES: &[&str] = &["none", "gzip", "bzip2", "lzma", "lzo", "lz4", "zstd"];

fn name_of(table: &[&str], v: u8) -> String {
    table
        .get(v as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("unknown({v})"))
}

/// The fields of the 64-byte header.
#[derive(Debug, Clone)]
struct UImageHeader {
    header_crc: u32,
    time: u32,
    size: u32,
    load: u32,
    entry: u32,
    data_crc: u32,
    os: u8,
    arch: u8,
    image_type: u8,
    comp: u8,
    name: String,
}

impl UImageHeader {
    /// Decode the header at the start of `data` (fails when fewer than 64 bytes remain).
    fn parse(data: &[u8]) -> Option<UImageHeader> {
        let h = data.get(..HEADER_LEN)?;
        Some(UImageHeader {
            header_crc: be32(h, 4)?,
            time: be32(h, 8)?,
            size: be32(h, 12)?,
            load: be32(h, 16)?,
            entry: be32(h, 20)?,
            data_crc: be32(h, 24)?,
            os: h[28],
            arch: h[29],
            image_type: h[30],
            comp: h[31],
            name: cstr(&h[32..64]),
        })
    }

    /// Whether the stored header CRC matches the header with its CRC field zeroed.
    fn crc_ok(data: &[u8], stored: u32) -> bool {
        let Some(h) = data.get(..HEADER_LEN) else {
            return false;
        };
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&h[..4]);
        hasher.update(&[0; 4]);
        hasher.update(&h[8..]);
        hasher.finalize() == stored
    }
}

/// Whether `data` starts with a uImage header whose own CRC holds: a proof, unlike the
/// probe, which also takes headers with a stale CRC.
pub(crate) fn header_proven(data: &[u8]) -> bool {
    data.starts_with(b"\x27\x05\x19\x56")
        && UImageHeader::parse(data).is_some_and(|h| UImageHeader::crc_ok(data, h.header_crc))
}

impl UImageHeader {
    /// Whether a header whose CRC does not match is still a uImage header: every enumerated
    /// field names a known value and the name is text, NUL-padded. Vendors patch names and
    /// sizes after `mkimage` without fixing the CRC, and damaged images keep their payload.
    fn plausible(&self, data: &[u8]) -> bool {
        let Some(name) = data.get(32..HEADER_LEN) else {
            return false;
        };
        let text_len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        (self.os as usize) < OS_NAMES.len()
            && self.os != 0
            && (self.arch as usize) < ARCH_NAMES.len()
            && self.arch != 0
            && (self.image_type as usize) < TYPE_NAMES.len()
            && (self.comp as usize) < COMP_NAMES.len()
            && text_len > 0
            && name[..text_len].iter().all(|&b| (0x20..0x7f).contains(&b))
            && name[text_len..].iter().all(|&b| b == 0)
    }
}

impl Format for UImage {
    fn name(&self) -> &'static str {
        "uimage"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = UImageHeader::parse(data)?;
        if h.image_type == 0 || h.size == 0 {
            return None;
        }
        let crc_ok = UImageHeader::crc_ok(data, h.header_crc);
        if !crc_ok && !h.plausible(data) {
            return None;
        }
        Some(Probe {
            length: Some(HEADER_LEN as u64 + h.size as u64),
            description: format!(
                "uImage {} {} {}, {}, {:?}{}",
                name_of(ARCH_NAMES, h.arch),
                name_of(OS_NAMES, h.os),
                name_of(TYPE_NAMES, h.image_type),
                name_of(COMP_NAMES, h.comp),
                h.name,
                if crc_ok { "" } else { " (header CRC mismatch)" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = UImageHeader::parse(data).ok_or(FormatError::Truncated {
            what: "uImage header",
            offset: 0,
        })?;
        let mut out = Unpacked::default();
        out.detail("name", &h.name);
        out.detail("os", name_of(OS_NAMES, h.os));
        out.detail("arch", name_of(ARCH_NAMES, h.arch));
        out.detail("type", name_of(TYPE_NAMES, h.image_type));
        out.detail("compression", name_of(COMP_NAMES, h.comp));
        out.detail("load", format!("{:#010x}", h.load));
        out.detail("entry", format!("{:#010x}", h.entry));
        out.detail("timestamp", h.time);
        out.mtime = Some(i64::from(h.time));
        // Said only when it fails: a good header CRC is what every uImage has.
        if !UImageHeader::crc_ok(data, h.header_crc) {
            out.detail("header_crc", "mismatch");
            out.warn(
                WarningKind::Checksum,
                format!(
                    "header CRC mismatch (stored {:#010x}); header altered or corrupt, read by its fields",
                    h.header_crc
                ),
            );
        }
        let payload = data.get(HEADER_LEN..).unwrap_or_default();
        let declared = h.size as usize;
        let available = payload.len().min(declared);
        if available < declared {
            out.warn(
                WarningKind::Truncated,
                format!("payload declares {declared} bytes but only {available} remain"),
            );
            out.detail("data_crc", "unchecked (truncated)");
        } else if crc32fast::hash(&payload[..declared]) == h.data_crc {
            out.detail("data_crc", "ok");
        } else {
            out.detail("data_crc", "mismatch");
            out.warn(
                WarningKind::Checksum,
                format!(
                    "data CRC mismatch (stored {:#010x}); payload altered or corrupt",
                    h.data_crc
                ),
            );
        }
        if h.image_type == TYPE_MULTI {
            multi_entries(payload, available, &mut out);
        } else {
            let label = match TYPE_NAMES.get(h.image_type as usize) {
                Some(&"flat_dt") => "fdt".to_string(),
                Some(t) => t.to_string(),
                None => "payload".to_string(),
            };
            out.entries.push(
                Entry::stream(
                    label,
                    EntryData::Range {
                        offset: HEADER_LEN as u64,
                        length: available as u64,
                    },
                )
                .with_detail("compression", name_of(COMP_NAMES, h.comp)),
            );
        }
        Ok(out)
    }
}

/// Split a multi-file payload: a zero-terminated table of big-endian sizes, then each
/// sub-image padded to 4 bytes.
fn multi_entries(payload: &[u8], available: usize, out: &mut Unpacked) {
    let payload = &payload[..available];
    let mut sizes = Vec::new();
    let mut pos = 0usize;
    loop {
        let Some(size) = be32(payload, pos) else {
            out.warn(
                WarningKind::Truncated,
                "multi-file size table runs past the end",
            );
            return;
        };
        pos += 4;
        if size == 0 {
            break;
        }
        if sizes.len() >= MAX_MULTI {
            out.warn(
                WarningKind::Limit,
                format!("more than {MAX_MULTI} sub-images; table not read"),
            );
            return;
        }
        sizes.push(size as u64);
    }
    let mut offset = pos as u64;
    for (i, size) in sizes.iter().enumerate() {
        let end = offset.saturating_add(*size);
        if end > available as u64 {
            out.warn(
                WarningKind::Truncated,
                format!("sub-image {i} runs past the end of the payload"),
            );
            let length = (available as u64).saturating_sub(offset);
            if length > 0 {
                out.entries.push(Entry::stream(
                    format!("image{i}"),
                    EntryData::Range {
                        offset: HEADER_LEN as u64 + offset,
                        length,
                    },
                ));
            }
            return;
        }
        out.entries.push(Entry::stream(
            format!("image{i}"),
            EntryData::Range {
                offset: HEADER_LEN as u64 + offset,
                length: *size,
            },
        ));
        offset = end.saturating_add(3) & !3;
    }
    out.detail("images", sizes.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const LZMA: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-lzma.bin");
    const GZIP: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-gzip.bin");
    const MULTI: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-multi.bin");

    #[test]
    fn single_images_yield_their_payload() {
        check_streams(&UImage, "uimage-lzma.bin", LZMA);
        check_streams(&UImage, "uimage-gzip.bin", GZIP);
        let u = unpack(&UImage, LZMA);
        assert_eq!(u.details["arch"], "mips");
        assert_eq!(u.details["compression"], "lzma");
        assert_eq!(u.details["data_crc"], "ok");
        assert_eq!(u.details["load"], "0x80060000");
        assert_eq!(u.entries[0].path, "kernel");
    }

    #[test]
    fn multi_images_split_by_size_table() {
        check_streams(&UImage, "uimage-multi.bin", MULTI);
    }

    #[test]
    fn data_crc_mismatch_is_a_warning() {
        let mut d = LZMA.to_vec();
        let last = d.len() - 1;
        d[last] ^= 0xff;
        let u = unpack(&UImage, &d);
        assert_eq!(u.details["data_crc"], "mismatch");
        assert_eq!(u.warnings.len(), 1);
        d[5] ^= 1;
        assert!(!header_proven(&d), "header CRC is checked");
        let p = UImage.probe(&d).expect("sane fields");
        assert!(p.description.contains("header CRC mismatch"));
    }

    #[test]
    fn stale_header_crc_with_sane_fields_is_read_with_a_warning() {
        // A size patched after mkimage (as in a vendor image cut short): the CRC no longer
        // holds, the fields do.
        let mut d = LZMA.to_vec();
        let size = u32::from_be_bytes(d[12..16].try_into().unwrap());
        d[12..16].copy_from_slice(&(size + 0x10_0000).to_be_bytes());
        let p = UImage.probe(&d).expect("read by its fields");
        assert!(p.description.contains("header CRC mismatch"));
        let u = unpack(&UImage, &d);
        assert_eq!(u.details["header_crc"], "mismatch");
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries.len(), 1);
        // With a field out of its table as well, it is not a uImage.
        d[28] = 0xee;
        assert!(UImage.probe(&d).is_none());
        assert!(!header_proven(&d));
        assert!(header_proven(LZMA));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&UImage, LZMA, &Hostile::flips(300));
        hostile_with(&UImage, MULTI, &Hostile::flips(300));
    }
}
