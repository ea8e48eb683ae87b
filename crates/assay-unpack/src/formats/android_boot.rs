//! Android boot images (`ANDROID!`, header versions 0 to 4): a header page followed by the
//! kernel, the ramdisk and, depending on the version, a second-stage loader, a recovery DTBO,
//! a DTB and a boot signature, each padded to the page size. Each part becomes a stream.
//!
//! Own parser: the header is a handful of little-endian fields, and the crate that parses it
//! (`abootimg-oxide`) brings a serialisation stack for what is a few offsets.

use crate::cursor::{cstr, le32, le64};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An Android boot (or recovery) image.
pub struct AndroidBoot;

static MAGICS: &[Magic] = &[Magic::at_start(b"ANDROID!")];

/// One part of the image: its label and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    label: &'static str,
    offset: u64,
    size: u64,
}

/// What the header says.
#[derive(Debug, Clone)]
struct Layout {
    version: u32,
    page: u64,
    parts: Vec<Part>,
    end: u64,
    cmdline: String,
    name: String,
}

fn pages(size: u64, page: u64) -> u64 {
    size.div_ceil(page).saturating_mul(page)
}

fn layout(data: &[u8]) -> Option<Layout> {
    if data.get(..8)? != b"ANDROID!" {
        return None;
    }
    let version = le32(data, 40)?;
    let (page, end, cmdline, name, parts);
    match version {
        0..=2 => {
            page = u64::from(le32(data, 36)?);
            if !page.is_power_of_two() || !(2048..=65536).contains(&page) {
                return None;
            }
            let kernel = u64::from(le32(data, 8)?);
            let ramdisk = u64::from(le32(data, 16)?);
            let second = u64::from(le32(data, 24)?);
            let mut pos = page;
            let mut v = Vec::new();
            for (label, size) in [("kernel", kernel), ("ramdisk", ramdisk), ("second", second)] {
                if size > 0 {
                    v.push(Part {
                        label,
                        offset: pos,
                        size,
                    });
                }
                pos = pos.checked_add(pages(size, page))?;
            }
            if version >= 1 {
                let dtbo = u64::from(le32(data, 1632)?);
                let dtbo_off = le64(data, 1636)?;
                let header_size = le32(data, 1644)?;
                if !(1632..=page as u32).contains(&header_size) {
                    return None;
                }
                if dtbo > 0 {
                    v.push(Part {
                        label: "recovery_dtbo",
                        offset: dtbo_off,
                        size: dtbo,
                    });
                    pos = pos.max(dtbo_off.checked_add(pages(dtbo, page))?);
                }
            }
            if version == 2 {
                let dtb = u64::from(le32(data, 1648)?);
                if dtb > 0 {
                    v.push(Part {
                        label: "dtb",
                        offset: pos,
                        size: dtb,
                    });
                }
                pos = pos.checked_add(pages(dtb, page))?;
            }
            parts = v;
            end = pos;
            name = cstr(data.get(48..64)?);
            cmdline = cstr(data.get(64..576)?);
        }
        3 | 4 => {
            page = 4096;
            let kernel = u64::from(le32(data, 8)?);
            let ramdisk = u64::from(le32(data, 12)?);
            let header_size = le32(data, 20)?;
            let min = if version == 3 { 1580 } else { 1584 };
            if !(min..=4096).contains(&header_size) {
                return None;
            }
            let mut pos = page;
            let mut v = Vec::new();
            let sig = if version == 4 {
                u64::from(le32(data, 1580)?)
            } else {
                0
            };
            for (label, size) in [("kernel", kernel), ("ramdisk", ramdisk), ("signature", sig)] {
                if size > 0 {
                    v.push(Part {
                        label,
                        offset: pos,
                        size,
                    });
                }
                pos = pos.checked_add(pages(size, page))?;
            }
            parts = v;
            end = pos;
            name = String::new();
            cmdline = cstr(data.get(44..1580)?);
        }
        _ => return None,
    }
    // A real image holds at least a kernel (or, from v3 on, a ramdisk), and the parts must
    // lie within the data (a little slack for images cut after the last part's bytes).
    if parts.is_empty() {
        return None;
    }
    let len = data.len() as u64;
    for p in &parts {
        if p.offset.checked_add(p.size)? > len.saturating_add(page) {
            return None;
        }
    }
    Some(Layout {
        version,
        page,
        parts,
        end,
        cmdline,
        name,
    })
}

impl Format for AndroidBoot {
    fn name(&self) -> &'static str {
        "android_boot"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let l = layout(data)?;
        Some(Probe {
            length: Some(l.end.min(data.len() as u64)),
            description: format!(
                "Android boot image v{}, page {}, {}",
                l.version,
                l.page,
                l.parts
                    .iter()
                    .map(|p| format!("{} {}", p.label, p.size))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let l = layout(data)
            .ok_or_else(|| FormatError::Corrupt("bad Android boot image header".into()))?;
        let mut out = Unpacked::default();
        out.detail("header_version", l.version);
        out.detail("page_size", l.page);
        if !l.cmdline.is_empty() {
            out.detail("cmdline", &l.cmdline);
        }
        if !l.name.is_empty() {
            out.detail("board", &l.name);
        }
        let len = data.len() as u64;
        for p in l.parts {
            let length = p.size.min(len.saturating_sub(p.offset));
            if length < p.size {
                out.warn(
                    WarningKind::Truncated,
                    format!("{} is cut short by {} bytes", p.label, p.size - length),
                );
            }
            out.entries.push(
                Entry::stream(
                    p.label,
                    EntryData::Range {
                        // A part past the end keeps no bytes, at the end of the image.
                        offset: p.offset.min(len),
                        length,
                    },
                )
                .with_detail("size", p.size),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::sha_hex;
    use crate::formats::testutil::{entry_bytes, unpack};

    const V2: &[u8] = include_bytes!("../../tests/fixtures/disks/boot_v2.img");
    const V4: &[u8] = include_bytes!("../../tests/fixtures/disks/boot_v4.img");
    const EXPECTED: &str = include_str!("../../tests/fixtures/disks/boot_expected.txt");

    fn check(name: &str, data: &[u8]) {
        let p = AndroidBoot.probe(data).unwrap();
        assert_eq!(p.length, Some(data.len() as u64));
        let u = unpack(&AndroidBoot, data);
        assert!(u.warnings.is_empty());
        let mut n = 0;
        for line in EXPECTED.lines().filter(|l| l.starts_with(name)) {
            let mut it = line.split(' ').skip(1);
            let (label, sha) = (it.next().unwrap(), it.next().unwrap());
            let e = u.entries.iter().find(|e| e.path == label).unwrap();
            assert_eq!(
                sha_hex(&entry_bytes(data, e).unwrap()),
                sha,
                "{name} {label}"
            );
            n += 1;
        }
        assert!(n >= 2);
        assert_eq!(u.details["cmdline"], "console=ttyS0");
    }

    #[test]
    fn v2_with_dtb() {
        check("boot_v2", V2);
    }

    #[test]
    fn v4_with_signature() {
        check("boot_v4", V4);
    }

    #[test]
    fn older_versions_of_the_same_layouts() {
        // v0 is v2 without the DTB; v3 is v4 without the signature.
        let mut v0 = V2.to_vec();
        v0[40] = 0;
        let u = unpack(&AndroidBoot, &v0);
        let labels: Vec<_> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(labels, ["kernel", "ramdisk", "second"]);
        let mut v3 = V4.to_vec();
        v3[40] = 3;
        assert_eq!(AndroidBoot.probe(&v3).unwrap().length, Some(3 * 4096));
        let u = unpack(&AndroidBoot, &v3);
        let labels: Vec<_> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(labels, ["kernel", "ramdisk"]);
    }

    #[test]
    fn hostile_input() {
        hostile_with(&AndroidBoot, V2, &Hostile::disk());
        hostile_with(&AndroidBoot, V4, &Hostile::disk());
    }
}
