//! ThreadX images (Express Logic, later Azure RTOS and Eclipse ThreadX): firmware of Wi-Fi
//! chips, modems, cameras and microcontrollers, linked with the application into one raw
//! image with no header.
//!
//! ThreadX compiles its identity into every image: `_tx_version_id`, a C string such as
//! `Copyright (c) 1996-2010 Express Logic Inc. * ThreadX ARM9/GNU Version G5.4.5.0 SN: … *`
//! (Azure RTOS: `… Microsoft Corporation … * ThreadX Cortex-M4/GNU Version 6.1 *`). The port
//! (processor / toolchain) and the version are read from it; the architecture also from the
//! code. The format describes the whole blob without claiming it, and has nothing to unpack.

use super::firmware_code::guess_arch;
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A ThreadX image.
pub struct ThreadX;

static MAGICS: &[Magic] = &[Magic::at_start(b"ThreadX ")];

/// Occurrences looked at.
const MAX_MARKERS: usize = 1024;
/// Longest port name (`MIPS32_interAptiv/GNU`).
const MAX_PORT: usize = 48;
/// How far back the start of the version C string is searched for.
const MAX_LEAD: usize = 160;

/// The version banner of a ThreadX image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadXBanner {
    /// Processor and toolchain of the port (`ARM9/GNU`).
    pub port: String,
    /// The version without the `G` prefix of Express Logic's numbering (`5.4.5.0`).
    pub version: String,
    /// `ThreadX <port> Version <version>` as written.
    pub text: String,
    /// Where that text starts in the blob.
    pub offset: usize,
    /// Whether the banner names Express Logic or Microsoft as the copyright holder.
    pub vendor: Option<&'static str>,
}

/// Parse `ThreadX <port> Version [G]<digits.dots>` at `at`, inside a C string.
fn banner_at(data: &[u8], at: usize) -> Option<ThreadXBanner> {
    let tail = data.get(at + 8..)?;
    let tail = &tail[..tail.len().min(MAX_PORT + 32)];
    let v = memchr::memmem::find(tail, b" Version ")?;
    let port = &tail[..v];
    if port.is_empty()
        || !port.contains(&b'/')
        || !port
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.' | b'+'))
    {
        return None;
    }
    let rest = &tail[v + 9..];
    let g = usize::from(rest.starts_with(b"G"));
    let rest = &rest[g..];
    let len = rest
        .iter()
        .take_while(|&&b| b.is_ascii_digit() || b == b'.')
        .count();
    let version = rest[..len].strip_suffix(b".").unwrap_or(&rest[..len]);
    if version.is_empty() || !version[0].is_ascii_digit() || !version.contains(&b'.') {
        return None;
    }
    // It is a C string of the image, not text about ThreadX: a NUL ends it soon, and
    // nothing unprintable comes before that.
    let after = data.get(at..)?;
    let end = memchr::memchr(0, &after[..after.len().min(MAX_PORT + 256)])?;
    if !after[..end].iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    // The copyright holder is named earlier in the same string.
    let lead_from = at.saturating_sub(MAX_LEAD);
    let lead = &data[lead_from..at];
    let lead = match memchr::memrchr(0, lead) {
        Some(z) => &lead[z + 1..],
        None => lead,
    };
    let vendor = if memchr::memmem::find(lead, b"Express Logic").is_some() {
        Some("Express Logic")
    } else if memchr::memmem::find(lead, b"Microsoft").is_some() {
        Some("Microsoft")
    } else {
        None
    };
    let text_len = 8 + v + 9 + g + version.len();
    Some(ThreadXBanner {
        port: String::from_utf8_lossy(port).into_owned(),
        version: String::from_utf8_lossy(version).into_owned(),
        text: String::from_utf8_lossy(&data[at..at + text_len]).into_owned(),
        offset: at,
        vendor,
    })
}

/// The first ThreadX version banner of `data`.
pub fn find_banner(data: &[u8]) -> Option<ThreadXBanner> {
    memchr::memmem::find_iter(data, b"ThreadX ")
        .take(MAX_MARKERS)
        .find_map(|at| banner_at(data, at))
}

/// Architecture named by a port's processor part.
fn port_arch(port: &str) -> Option<&'static str> {
    let cpu = port.split('/').next()?.to_ascii_lowercase();
    let arch = if cpu.starts_with("cortex-m") {
        "arm-thumb"
    } else if cpu.starts_with("arm") || cpu.starts_with("cortex") || cpu.starts_with("xscale") {
        "arm"
    } else if cpu.starts_with("mips") {
        "mips"
    } else if cpu.starts_with("ppc") || cpu.starts_with("powerpc") {
        "powerpc"
    } else if cpu.starts_with("sh") {
        "superh"
    } else if cpu.starts_with("rx") {
        "rx"
    } else if cpu.starts_with("arc") {
        "arc"
    } else if cpu.starts_with("xtensa") {
        "xtensa"
    } else if cpu.starts_with("risc-v") || cpu.starts_with("riscv") {
        "riscv"
    } else if cpu.starts_with("win32") || cpu.starts_with("linux") {
        "simulator"
    } else {
        return None;
    };
    Some(arch)
}

impl Format for ThreadX {
    fn name(&self) -> &'static str {
        "threadx"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn describes_whole_blob(&self) -> bool {
        true
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let b = find_banner(data)?;
        Some(Probe {
            length: Some(data.len() as u64),
            description: format!("ThreadX {} ({})", b.version, b.port),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let b = find_banner(data)
            .ok_or_else(|| FormatError::Corrupt("no ThreadX version string".into()))?;
        let mut out = Unpacked::default();
        out.detail("os", "ThreadX");
        out.detail("version", &b.version);
        out.detail("version_string", &b.text);
        out.detail("version_offset", format!("{:#x}", b.offset));
        out.detail("port", &b.port);
        if let Some(v) = b.vendor {
            out.detail("copyright", v);
        }
        let code = guess_arch(data);
        match (port_arch(&b.port), &code) {
            (Some(a), _) => out.detail("arch", a),
            (None, Some(c)) => out.detail("arch", c.arch),
            (None, None) => {}
        }
        if let Some(c) = &code {
            out.detail("endianness", c.endianness);
            out.detail(
                "arch_evidence",
                format!(
                    "{} instruction patterns ({} {}-endian)",
                    c.matches, c.arch, c.endianness
                ),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_express_logic_and_azure_banners() {
        let d = b"\0Copyright (c) 1996-2010 Express Logic Inc. * ThreadX ARM9/GNU Version G5.4.5.0 SN: 3571-089-0801 *\0";
        let b = find_banner(d).expect("banner");
        assert_eq!(b.port, "ARM9/GNU");
        assert_eq!(b.version, "5.4.5.0");
        assert_eq!(b.text, "ThreadX ARM9/GNU Version G5.4.5.0");
        assert_eq!(&d[b.offset..b.offset + b.text.len()], b.text.as_bytes());
        assert_eq!(b.vendor, Some("Express Logic"));
        assert_eq!(port_arch(&b.port), Some("arm"));
        let d = b"x\0Copyright (c) Microsoft Corporation. All rights reserved. *  ThreadX Cortex-M4/GNU Version 6.1 *\0";
        let b = find_banner(d).expect("banner");
        assert_eq!(
            (b.port.as_str(), b.version.as_str()),
            ("Cortex-M4/GNU", "6.1")
        );
        assert_eq!(b.vendor, Some("Microsoft"));
        assert_eq!(port_arch(&b.port), Some("arm-thumb"));
    }

    const IMAGE: &[u8] = include_bytes!("../../tests/fixtures/rtos/threadx-arm.bin");

    #[test]
    fn threadx_image_fixture() {
        let u = crate::formats::testutil::unpack(&ThreadX, IMAGE);
        let d = |k: &str| u.details.get(k).map(String::as_str);
        assert_eq!(d("version"), Some("5.4.5.0"));
        assert_eq!(d("port"), Some("ARM9/GNU"));
        assert_eq!(d("arch"), Some("arm"));
        assert_eq!(d("endianness"), Some("little"));
        assert_eq!(d("copyright"), Some("Express Logic"));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        use crate::formats::testutil::hostile::{hostile_with, Hostile};
        hostile_with(&ThreadX, IMAGE, &Hostile::flips(200));
    }

    #[test]
    fn text_about_threadx_is_not_an_image() {
        // No NUL: a document, not a C string.
        assert!(find_banner(b"see ThreadX ARM9/GNU Version 5.0 for details").is_none());
        // No port/toolchain form.
        assert!(find_banner(b"\0ThreadX Version 5.0\0").is_none());
        assert!(find_banner(b"\0ThreadX ARM9/GNU Version G\0").is_none());
        assert!(find_banner(b"\0ThreadX ARM9/GNU Version").is_none());
    }
}
