//! eCos images: the embedded configurable OS of many cable modems, DSL gateways and routers
//! (Broadcom and Ralink SDKs), linked with its application into one raw image with no header.
//! RedBoot, eCos's boot loader, is an eCos application too.
//!
//! eCos names itself in few strings, but its source tree does: assertion and trace messages
//! carry `__FILE__` paths of the component repository, `…/packages/<package>/<version>/src/…`
//! with versions such as `v2_0`, `v3_0` or `current`, and the HAL package names the
//! architecture (`packages/hal/mips/…`). RedBoot prints `RedBoot(tm) bootstrap and debug
//! environment` and `version v3_0 - built …`. Both are read here; the architecture also
//! from the code (MIPS eCos images carry its exception vector, whose opening instructions
//! binwalk documents). The format describes the whole blob without claiming it.

use super::firmware_code::{c_string_at, guess_arch};
use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::BTreeMap;

/// An eCos image.
pub struct Ecos;

/// Markers: component repository paths of the core packages, RedBoot's banner, and the
/// opening of eCos's MIPS exception vector (`mfc0 k0, Cause; [nop;] andi k0, k0, 0x7f`) in
/// both byte orders.
static MAGICS: &[Magic] = &[
    Magic::at_start(b"packages/hal/"),
    Magic::at_start(b"packages/kernel/"),
    Magic::at_start(b"packages/infra/"),
    Magic::at_start(b"packages/io/"),
    Magic::at_start(b"packages/language/"),
    Magic::at_start(b"packages/services/"),
    Magic::at_start(b"packages/net/"),
    Magic::at_start(b"packages/redboot/"),
    Magic::at_start(b"RedBoot(tm) "),
    Magic::at_start(b"\x40\x1a\x68\x00\x00\x00\x00\x00\x33\x5a\x00\x7f"),
    Magic::at_start(b"\x40\x1a\x68\x00\x33\x5a\x00\x7f"),
    Magic::at_start(b"\x00\x68\x1a\x40\x00\x00\x00\x00\x7f\x00\x5a\x33"),
    Magic::at_start(b"\x00\x68\x1a\x40\x7f\x00\x5a\x33"),
];

/// Top-level package directories of the eCos component repository.
const PACKAGE_ROOTS: &[&str] = &[
    "hal",
    "kernel",
    "infra",
    "io",
    "language",
    "services",
    "net",
    "redboot",
    "isoinfra",
    "error",
    "compat",
    "devs",
    "fs",
    "cygmon",
    "memalloc",
    "watchdog",
    "wallclock",
    "pm",
];

/// Occurrences of each marker looked at.
const MAX_MARKERS: usize = 4096;
/// Longest path read after `packages/`.
const MAX_PATH: usize = 200;

/// A package path of the eCos repository seen in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackagePath {
    /// `kernel`, `hal/mips/arch`, `language/c/libc/stdio`.
    package: String,
    /// `v2_0`, `current`.
    version: String,
    /// Offset of `packages/` in the blob.
    offset: usize,
    /// `packages/<package>/<version>` as written.
    text: String,
}

/// `vN_M[_K]` or `current`.
fn is_package_version(s: &str) -> bool {
    if s == "current" {
        return true;
    }
    let Some(num) = s.strip_prefix('v') else {
        return false;
    };
    let parts: Vec<&str> = num.split('_').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `v3_0` → `3.0`; `current` has no number.
fn dotted(version: &str) -> Option<String> {
    Some(version.strip_prefix('v')?.replace('_', "."))
}

/// Every eCos package path in `data`.
fn package_paths(data: &[u8]) -> Vec<PackagePath> {
    let mut out = Vec::new();
    for at in memchr::memmem::find_iter(data, b"packages/").take(MAX_MARKERS) {
        let tail = &data[at..data.len().min(at + MAX_PATH)];
        let len = tail
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
            .count();
        let Ok(path) = std::str::from_utf8(&tail[..len]) else {
            continue;
        };
        let parts: Vec<&str> = path.split('/').collect();
        // packages / <package: 1..4 parts> / <version> / src|include|tests|cdl / …
        let Some(vi) = (2..parts.len().min(6)).find(|&i| is_package_version(parts[i])) else {
            continue;
        };
        let below = parts.get(vi + 1).copied().unwrap_or("");
        if !PACKAGE_ROOTS.contains(&parts[1])
            || !matches!(below, "src" | "include" | "tests" | "cdl")
        {
            continue;
        }
        let text = parts[..=vi].join("/");
        out.push(PackagePath {
            package: parts[1..vi].join("/"),
            version: parts[vi].to_string(),
            offset: at,
            text,
        });
    }
    out
}

/// RedBoot's banner and the version it states (`v3_0`, `UNKNOWN`), with where it starts.
fn redboot_version(data: &[u8]) -> Option<(String, usize, String)> {
    memchr::memmem::find(data, b"RedBoot(tm) bootstrap and debug environment")?;
    for at in memchr::memmem::find_iter(data, b"release, version ").take(MAX_MARKERS) {
        let tail = &data[at + 17..data.len().min(at + 17 + 40)];
        let len = tail
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            .count();
        if len > 0 {
            let v = String::from_utf8_lossy(&tail[..len]).into_owned();
            let text = String::from_utf8_lossy(&data[at..at + 17 + len]).into_owned();
            return Some((v, at, text));
        }
    }
    None
}

/// The eCos MIPS exception vector, its byte order and offset.
fn mips_vector(data: &[u8]) -> Option<(&'static str, usize)> {
    for (m, order) in [
        (&MAGICS[9], "big"),
        (&MAGICS[10], "big"),
        (&MAGICS[11], "little"),
        (&MAGICS[12], "little"),
    ] {
        if let Some(at) = memchr::memmem::find(data, m.bytes) {
            return Some((order, at));
        }
    }
    None
}

/// What the image shows of eCos.
struct Identity {
    paths: Vec<PackagePath>,
    redboot: Option<(String, usize, String)>,
    redboot_banner: bool,
    vector: Option<(&'static str, usize)>,
}

fn identify(data: &[u8]) -> Option<Identity> {
    let paths = package_paths(data);
    let distinct: std::collections::BTreeSet<&str> =
        paths.iter().map(|p| p.package.as_str()).collect();
    let redboot_banner =
        memchr::memmem::find(data, b"RedBoot(tm) bootstrap and debug environment").is_some();
    let redboot = redboot_version(data);
    // Two packages of the repository, or RedBoot's own banner; the exception vector alone is
    // a few instructions any MIPS kernel could share.
    (distinct.len() >= 2 || redboot_banner).then(|| Identity {
        paths,
        redboot,
        redboot_banner,
        vector: mips_vector(data),
    })
}

/// The release the package paths agree on (the most frequent numbered version) and the
/// first path that shows it.
fn release(paths: &[PackagePath]) -> Option<&PackagePath> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for p in paths.iter().filter(|p| p.version != "current") {
        *count.entry(&p.version).or_default() += 1;
    }
    let best = count.iter().max_by_key(|(_, n)| **n)?.0;
    paths.iter().find(|p| p.version == *best)
}

impl Format for Ecos {
    fn name(&self) -> &'static str {
        "ecos"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn describes_whole_blob(&self) -> bool {
        true
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let id = identify(data)?;
        let version = release(&id.paths)
            .and_then(|p| dotted(&p.version))
            .or_else(|| id.redboot.as_ref().and_then(|r| dotted(&r.0)));
        let what = if id.redboot_banner {
            "eCos (RedBoot)"
        } else {
            "eCos"
        };
        Some(Probe {
            length: Some(data.len() as u64),
            description: match version {
                Some(v) => format!("{what} {v}"),
                None => what.to_string(),
            },
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let id = identify(data).ok_or_else(|| FormatError::Corrupt("no eCos markers".into()))?;
        let mut out = Unpacked::default();
        out.detail("os", "eCos");
        let from_paths = release(&id.paths).and_then(|p| Some((dotted(&p.version)?, p)));
        if let Some((v, p)) = &from_paths {
            out.detail("version", v);
            out.detail("version_string", &p.text);
            out.detail("version_offset", format!("{:#x}", p.offset));
        } else if let Some((v, at, text)) = &id.redboot {
            if let Some(v) = dotted(v) {
                out.detail("version", v);
                out.detail("version_string", text);
                out.detail("version_offset", format!("{at:#x}"));
            }
        }
        if let Some((v, at, _)) = &id.redboot {
            out.detail("redboot_version", v);
            if let Some(s) = c_string_at(data, *at, 120) {
                out.detail("redboot_banner", String::from_utf8_lossy(s));
            }
        } else if id.redboot_banner {
            out.detail("redboot_version", "unknown");
        }
        let mut packages: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
        for p in &id.paths {
            packages.entry(&p.package).or_default().insert(&p.version);
        }
        if !packages.is_empty() {
            let list: Vec<String> = packages
                .iter()
                .map(|(k, v)| format!("{k} {}", v.iter().copied().collect::<Vec<_>>().join("/")))
                .collect();
            out.detail("packages", list.join(", "));
        }
        let versions: std::collections::BTreeSet<&str> = id
            .paths
            .iter()
            .map(|p| p.version.as_str())
            .filter(|v| *v != "current")
            .collect();
        if versions.len() > 1 {
            out.warn(
                WarningKind::Format,
                format!(
                    "package paths name several releases ({}); the most frequent is reported",
                    versions.into_iter().collect::<Vec<_>>().join(", ")
                ),
            );
        }
        // The HAL package names the architecture: hal/<arch>/<variant or platform>.
        let hal_arch = id
            .paths
            .iter()
            .filter_map(|p| p.package.strip_prefix("hal/"))
            .filter_map(|rest| rest.split('/').next())
            .find(|a| *a != "common");
        let code = guess_arch(data);
        match (hal_arch, &code) {
            (Some(a), _) => {
                out.detail("arch", a);
                out.detail("arch_evidence", format!("HAL package hal/{a}"));
            }
            (None, Some(c)) => {
                out.detail("arch", c.arch);
                out.detail(
                    "arch_evidence",
                    format!("{} instruction patterns", c.matches),
                );
            }
            (None, None) => {}
        }
        if let Some((order, at)) = id.vector {
            out.detail(
                "exception_vector",
                format!("MIPS {order}-endian at {at:#x}"),
            );
            out.detail("endianness", order);
        } else if let Some(c) = &code {
            out.detail("endianness", c.endianness);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATHS: &[u8] = b"\0/build/ecos-2.0/packages/kernel/v2_0/src/sched/sched.cxx\0\
        /build/ecos-2.0/packages/hal/mips/arch/v2_0/src/hal_misc.c\0\
        /build/ecos-2.0/packages/language/c/libc/stdio/v2_0/include/stream.inl\0";

    #[test]
    fn reads_release_and_hal_from_package_paths() {
        let id = identify(PATHS).expect("eCos");
        assert_eq!(id.paths.len(), 3);
        let r = release(&id.paths).expect("release");
        assert_eq!(dotted(&r.version).as_deref(), Some("2.0"));
        assert_eq!(&PATHS[r.offset..r.offset + r.text.len()], r.text.as_bytes());
        assert_eq!(id.paths[1].package, "hal/mips/arch");
        assert_eq!(id.paths[2].package, "language/c/libc/stdio");
    }

    #[test]
    fn one_path_or_foreign_trees_are_not_ecos() {
        assert!(identify(b"\0/x/packages/kernel/v2_0/src/a.c\0").is_none());
        assert!(
            identify(b"\0/usr/lib/packages/foo/v2_0/src/a\0/usr/packages/bar/v1_0/src/b\0")
                .is_none()
        );
        assert!(identify(b"\0packages/kernel/2.0/src/a\0packages/infra/2.0/src/b\0").is_none());
    }

    const IMAGE: &[u8] = include_bytes!("../../tests/fixtures/rtos/ecos-mips-be.bin");

    #[test]
    fn ecos_image_fixture() {
        let u = crate::formats::testutil::unpack(&Ecos, IMAGE);
        let d = |k: &str| u.details.get(k).map(String::as_str);
        assert_eq!(d("version"), Some("3.0"));
        assert_eq!(d("arch"), Some("mips"));
        assert_eq!(d("endianness"), Some("big"));
        assert!(d("packages").is_some_and(|p| p.contains("kernel v3_0")));
        let at = usize::from_str_radix(&d("version_offset").unwrap()[2..], 16).unwrap();
        let text = d("version_string").unwrap();
        assert_eq!(&IMAGE[at..at + text.len()], text.as_bytes());
        assert!(u.entries.is_empty());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        use crate::formats::testutil::hostile::{hostile_with, Hostile};
        hostile_with(&Ecos, IMAGE, &Hostile::flips(200));
    }

    #[test]
    fn redboot_banner_and_version() {
        let d = b"\0RedBoot(tm) bootstrap and debug environment [ROM]\0Non-certified release, version v2_0 - built 22:17:05, Dec 22 2005\0";
        let id = identify(d).expect("RedBoot");
        let (v, at, text) = id.redboot.expect("version");
        assert_eq!(v, "v2_0");
        assert_eq!(&d[at..at + text.len()], text.as_bytes());
        assert_eq!(dotted(&v).as_deref(), Some("2.0"));
    }
}
