//! Broadcom CFE (Common Firmware Environment), the boot loader of Broadcom MIPS and ARM
//! routers, DSL gateways and set-top boxes, found raw at the start of flash dumps and boot
//! partitions.
//!
//! Two marks announce it: `CFE1CFE1` after the two branch instructions that open a CFE
//! RAM image, 16 bytes in, or 28 bytes in where three link addresses (MIPS KSEG0, 0x8…)
//! come first (binwalk keys on the same bytes at 28), and, in the boot ROM of BCM63xx flash layouts,
//! the version mark `cfe-v` at 0x570 followed by five version bytes (major, minor, build and
//! Broadcom's two release numbers, printed as `1.0.38-114.185`), just before the NVRAM at
//! 0x580. The version comes from that mark, or else from a literal `CFE version x.y.z` banner
//! (builds that print it with `%d` fields keep no number and give none).
//!
//! Own reader: there is nothing to unpack, only the loader to name. The node spans the
//! marks, not the code after them, so what the loader carries (an LZMA-compressed CFE RAM
//! image, the NVRAM, the rest of the flash) is still searched.

use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A CFE boot loader.
pub struct Cfe;

/// Offsets of `CFE1CFE1` from the start of a CFE image: behind link addresses and the
/// opening branches, or behind the branches alone.
const CFE1_AT: usize = 28;
const CFE1_AT_SHORT: usize = 16;
/// Offset of the `cfe-v` version mark from the start of a BCM63xx CFE boot ROM.
const MARK_AT: usize = 0x570;
/// Where the boot ROM's NVRAM starts, just past the version mark's padding.
const NVRAM_AT: usize = 0x580;
/// How far into the loader a literal version banner is looked for.
const BANNER_WINDOW: usize = 1 << 20;
/// Longest version text read from a banner.
const MAX_VERSION: usize = 32;

static MAGICS: &[Magic] = &[
    Magic::at(b"CFE1CFE1", CFE1_AT),
    Magic::at(b"CFE1CFE1", CFE1_AT_SHORT),
    Magic::at(b"cfe-v", MARK_AT),
];

/// Where `CFE1CFE1` sits in a CFE image starting at `data[0]`, if it does: at 28 only when
/// the first word is a KSEG0/KSEG1 link address (in either byte order), else at 16.
fn cfe1_at(data: &[u8]) -> Option<usize> {
    let kseg = |w: u32| (0x8000_0000..0xc000_0000).contains(&w);
    let linked = crate::cursor::be32(data, 0).is_some_and(kseg)
        || crate::cursor::le32(data, 0).is_some_and(kseg);
    if linked && data.get(CFE1_AT..CFE1_AT + 8) == Some(b"CFE1CFE1") {
        return Some(CFE1_AT);
    }
    (data.get(CFE1_AT_SHORT..CFE1_AT_SHORT + 8) == Some(b"CFE1CFE1")).then_some(CFE1_AT_SHORT)
}

/// What the probe found.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    /// Bytes the marks span.
    length: usize,
    /// The version and where it was read.
    version: Option<(String, String)>,
}

/// The version of the `cfe-v` mark, if one is at [`MARK_AT`] with its padding after it.
fn mark_version(data: &[u8]) -> Option<String> {
    if data.get(MARK_AT..MARK_AT + 5)? != b"cfe-v" {
        return None;
    }
    let v = data.get(MARK_AT + 5..MARK_AT + 10)?;
    // The mark and its five bytes are followed by zeros up to the NVRAM; the major version
    // is a small number (all published CFEs are 1.x or 2.x).
    let padding = data.get(MARK_AT + 10..NVRAM_AT)?;
    if !padding.iter().all(|&b| b == 0) || v[0] == 0 || v[0] > 9 {
        return None;
    }
    Some(format!("{}.{}.{}-{}.{}", v[0], v[1], v[2], v[3], v[4]))
}

/// A literal `CFE version <number>` banner in the first [`BANNER_WINDOW`] bytes: the version
/// and its offset.
fn banner_version(data: &[u8]) -> Option<(String, usize)> {
    const BANNER: &[u8] = b"CFE version ";
    let window = &data[..data.len().min(BANNER_WINDOW)];
    for at in memchr::memmem::find_iter(window, BANNER) {
        let rest = &window[at + BANNER.len()..];
        let text: Vec<u8> = rest
            .iter()
            .take(MAX_VERSION)
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            .copied()
            .collect();
        // `%d.%d…` formats and words are not versions.
        if text.first().is_some_and(u8::is_ascii_digit) && text.contains(&b'.') {
            return Some((String::from_utf8_lossy(&text).into_owned(), at));
        }
    }
    None
}

fn find(data: &[u8]) -> Option<Found> {
    let cfe1 = cfe1_at(data);
    let mark = mark_version(data);
    let length = match (mark.is_some(), cfe1) {
        (true, _) => NVRAM_AT,
        (false, Some(at)) => at + 8,
        (false, None) => return None,
    };
    let version = match mark {
        Some(v) => Some((v, format!("cfe-v mark at {MARK_AT:#x}"))),
        None => banner_version(data).map(|(v, at)| (v, format!("banner at {at:#x}"))),
    };
    Some(Found { length, version })
}

impl Format for Cfe {
    fn name(&self) -> &'static str {
        "cfe"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let found = find(data)?;
        Some(Probe {
            // Left to `unpack`, which must see the bytes after the marks to read a banner.
            length: None,
            description: match &found.version {
                Some((v, _)) => format!("Broadcom CFE boot loader, version {v}"),
                None => "Broadcom CFE boot loader".to_string(),
            },
        })
    }

    fn unpack(&self, data: &Blob, _: &UnpackContext) -> Result<Unpacked, FormatError> {
        let found =
            find(data).ok_or_else(|| FormatError::Corrupt("no CFE mark at this offset".into()))?;
        let mut out = Unpacked {
            consumed: Some(found.length as u64),
            ..Unpacked::default()
        };
        out.detail("loader", "Broadcom CFE");
        if let Some(at) = cfe1_at(data) {
            out.detail("magic", format!("CFE1CFE1 at {at:#x}"));
        }
        if let Some((version, source)) = found.version {
            out.detail("version", version);
            out.detail("version_source", source);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::unpack;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/firmware/cfe");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}/{name}")).expect("fixture")
    }

    #[test]
    fn names_a_cfe_ram_image_and_its_banner_version() {
        let d = fixture("cferam.bin");
        assert!(Cfe.probe(&d).is_some());
        let u = unpack(&Cfe, &d);
        assert_eq!(u.consumed, Some(36));
        assert_eq!(u.details["version"], "2.4.7");
        assert!(u.details["version_source"].starts_with("banner at"));
        assert!(u.entries.is_empty());
    }

    #[test]
    fn reads_the_version_mark_of_a_boot_rom() {
        let d = fixture("cferom.bin");
        let p = Cfe.probe(&d).expect("CFE");
        assert!(
            p.description.ends_with("1.0.38-114.185"),
            "{}",
            p.description
        );
        let u = unpack(&Cfe, &d);
        assert_eq!(u.consumed, Some(0x580));
        assert_eq!(u.details["version"], "1.0.38-114.185");
        assert!(!u.details.contains_key("magic"));
    }

    #[test]
    fn the_short_layout_has_the_mark_at_16() {
        // Two branches and their delay slots, then the mark (BCM6318's CFE RAM).
        let mut d = fixture("cferam.bin")[12..].to_vec();
        assert_eq!(&d[16..24], b"CFE1CFE1");
        assert_eq!(unpack(&Cfe, &d).consumed, Some(24));
        // Without a link address in front, a mark at 28 is the short layout of an image
        // starting 12 bytes later, not one starting here.
        d.splice(0..0, [0u8; 12]);
        assert!(Cfe.probe(&d).is_none());
    }

    #[test]
    fn a_printf_banner_gives_no_version() {
        let mut d = vec![0u8; 256];
        d[0] = 0x80;
        d[28..36].copy_from_slice(b"CFE1CFE1");
        d[100..139].copy_from_slice(b"CFE version %d.%d.%d-%d.%d for %s (%s)\0");
        let u = unpack(&Cfe, &d);
        assert!(!u.details.contains_key("version"));
    }

    #[test]
    fn rejects_marks_out_of_place() {
        assert!(Cfe
            .probe(b"CFE1CFE1 at the start is not the mark")
            .is_none());
        let mut rom = fixture("cferom.bin");
        rom[MARK_AT + 12] = 1; // padding before the NVRAM not zero
        assert!(Cfe.probe(&rom).is_none());
        let mut rom = fixture("cferom.bin");
        rom[MARK_AT + 5] = 0; // major version 0
        assert!(Cfe.probe(&rom).is_none());
    }

    #[test]
    fn hostile_input() {
        hostile(&Cfe, &fixture("cferam.bin"));
        hostile(&Cfe, &fixture("cferom.bin"));
    }
}
