//! MikroTik RouterOS packages (`.npk`): the magic `1e f1 d0 ba`, the size of what follows
//! (little-endian, like everything here), then typed parts, each a 16-bit type, a 32-bit
//! size and that many bytes. The package header part (type 1, or 18 for a bundle of packages)
//! holds the name (16 bytes), the version (revision, release-candidate byte, minor, major) and
//! the build time; other parts hold the description (2), dependencies (3), the release channel
//! (24), the architecture (16), a digest (23), install scripts (7, 8), padding (22), and the
//! payload: a squashfs image (21) in RouterOS 6 and later, a zlib-compressed file list (4) in
//! older ones, followed by the signature part (9) over it.
//!
//! The header facts go into the details; the payload and the signature are yielded as
//! streams (`squashfs`, `files.zlib`, `signature`), so the scan reads the squashfs and the
//! signature is named for what it is. Parts of a type not described here are yielded as
//! streams too (`part-<type>`), so no byte of the package is hidden. Padding yields nothing.
//!
//! Written here: the layout is a chain of type–length records and no crate reads it.

use crate::cursor::{le16, le32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A MikroTik NPK package.
pub struct Npk;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x1e\xf1\xd0\xba")];

/// Magic and size.
const HEADER_LEN: usize = 8;
/// Type and size of a part.
const PART_HEAD: usize = 6;
/// Most parts one package may hold (real ones hold a dozen).
const MAX_PARTS: usize = 4096;
/// Highest part type seen in real packages, with room to spare: anything above is garbage.
const MAX_TYPE: u16 = 64;

/// Part types (as the open-source package tools name them).
const HEADER: u16 = 1;
const DESCRIPTION: u16 = 2;
const REQUIREMENTS: u16 = 3;
const FILES_ZLIB: u16 = 4;
const SCRIPT_A: u16 = 7;
const SCRIPT_B: u16 = 8;
const SIGNATURE: u16 = 9;
const ARCHITECTURE: u16 = 16;
const BUNDLE_HEADER: u16 = 18;
const BUNDLE_LIST: u16 = 20;
const SQUASHFS: u16 = 21;
const PADDING: u16 = 22;
const DIGEST: u16 = 23;
const CHANNEL: u16 = 24;
const PREHEADER: u16 = 25;

/// One part: its type and where its bytes are.
#[derive(Debug, Clone, Copy)]
struct Part {
    kind: u16,
    at: usize,
    /// Declared size.
    size: usize,
    /// Bytes present.
    avail: usize,
}

/// The parts, in order, and whether the chain ran past the data.
#[derive(Debug)]
struct Package {
    declared: u64,
    parts: Vec<Part>,
    truncated: bool,
    /// The chain does not end where the size field says.
    mismatch: bool,
}

impl Package {
    fn parse(data: &[u8]) -> Option<Package> {
        if data.get(..4)? != b"\x1e\xf1\xd0\xba" {
            return None;
        }
        let declared = le32(data, 4)? as u64 + HEADER_LEN as u64;
        let end = usize::try_from(declared).ok()?.min(data.len());
        let mut parts = Vec::new();
        let mut pos = HEADER_LEN;
        let mut truncated = false;
        while pos < end && parts.len() < MAX_PARTS {
            let (Some(kind), Some(size)) = (le16(data, pos), le32(data, pos + 2)) else {
                truncated = true;
                break;
            };
            if kind == 0 || kind > MAX_TYPE {
                break;
            }
            let size = size as usize;
            let at = pos + PART_HEAD;
            let avail = data.len().saturating_sub(at).min(size);
            parts.push(Part {
                kind,
                at,
                size,
                avail,
            });
            if avail < size {
                truncated = true;
                pos = data.len();
                break;
            }
            pos = at + size;
        }
        // The first part says what the package is: a header, a bundle header, or the small
        // part RouterOS 6.4x puts before the header.
        if !matches!(parts.first()?.kind, HEADER | BUNDLE_HEADER | PREHEADER) {
            return None;
        }
        Some(Package {
            declared,
            mismatch: !truncated && pos as u64 != declared,
            parts,
            truncated,
        })
    }
}

/// Printable text of a part (NUL padding and surrounding blanks trimmed), at most 512 bytes.
fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut s: String = bytes[..end.min(512)]
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else if b == b'\n' || b == b'\t' {
                ' '
            } else {
                '?'
            }
        })
        .collect();
    s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s
}

/// `major.minor.revision`, with the release-candidate byte when it is not a final release
/// (`f`, 102, in the packages seen).
fn version(b: &[u8]) -> Option<String> {
    let (rev, rc, minor, major) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?);
    let mut v = format!("{major}.{minor}.{rev}");
    if rc != b'f' {
        v.push_str(&format!(" (build byte {rc:#04x})"));
    }
    Some(v)
}

/// Record a detail unless an earlier part already did.
fn first(out: &mut Unpacked, key: &str, value: String) {
    if !value.is_empty() {
        out.details.entry(key.to_string()).or_insert(value);
    }
}

impl Format for Npk {
    fn name(&self) -> &'static str {
        "npk"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let p = Package::parse(data)?;
        let name = p
            .parts
            .iter()
            .find(|q| matches!(q.kind, HEADER | BUNDLE_HEADER))
            .map(|q| text(&data[q.at..q.at + q.avail.min(16)]))
            .unwrap_or_default();
        Some(Probe {
            length: Some(p.declared),
            description: format!("MikroTik NPK package {name:?}, {} parts", p.parts.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let p = Package::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad MikroTik NPK package".into()))?;
        let mut out = Unpacked::default();
        out.detail("parts", p.parts.len());
        if p.truncated {
            let last = p
                .parts
                .last()
                .map_or((0, 0, 0), |q| (q.kind, q.size, q.avail));
            out.warn(
                WarningKind::Truncated,
                format!(
                    "package declares {} bytes, {} present: its last part (type {}) declares {} bytes, {} present",
                    p.declared,
                    data.len(),
                    last.0,
                    last.1,
                    last.2
                ),
            );
        } else if p.mismatch {
            out.warn(
                WarningKind::Corrupt,
                format!(
                    "the parts do not end where the package size says ({} bytes)",
                    p.declared
                ),
            );
        }
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for part in &p.parts {
            let bytes = &data[part.at..part.at + part.avail];
            match part.kind {
                HEADER | BUNDLE_HEADER => {
                    out.detail("package", text(&bytes[..bytes.len().min(16)]));
                    if let Some(v) = bytes.get(16..20).and_then(version) {
                        out.detail("version", v);
                    }
                    if let Some(t) = le32(bytes, 20) {
                        out.mtime = Some(t as i64);
                    }
                    if part.kind == BUNDLE_HEADER {
                        out.detail("bundle", "yes");
                    }
                }
                // Packages repeat some parts (RouterOS 6.4x ends with a one-letter
                // architecture part): the first one says it.
                DESCRIPTION => first(&mut out, "description", text(bytes)),
                ARCHITECTURE => first(&mut out, "architecture", text(bytes)),
                CHANNEL => first(&mut out, "channel", text(bytes)),
                DIGEST => first(&mut out, "digest", text(bytes)),
                REQUIREMENTS | BUNDLE_LIST => {
                    // A structure number, then one or more 16-byte names with version bounds.
                    let name = bytes.get(2..18).map(text).unwrap_or_default();
                    if !name.is_empty() {
                        out.detail("requires", name);
                    }
                }
                SCRIPT_A | SCRIPT_B => {
                    out.detail(&format!("script{}", part.kind), text(bytes));
                }
                PADDING | PREHEADER => {}
                _ => {}
            }
            let label = match part.kind {
                SQUASHFS => "squashfs".to_string(),
                FILES_ZLIB => "files.zlib".to_string(),
                SIGNATURE => "signature".to_string(),
                HEADER | BUNDLE_HEADER | DESCRIPTION | ARCHITECTURE | CHANNEL | DIGEST
                | REQUIREMENTS | BUNDLE_LIST | SCRIPT_A | SCRIPT_B | PADDING | PREHEADER => {
                    continue
                }
                other => format!("part-{other}"),
            };
            if part.avail == 0 {
                continue;
            }
            let n = counts.entry(label.clone()).or_insert(0);
            *n += 1;
            let label = if *n > 1 {
                format!("{label}-{n}")
            } else {
                label
            };
            let mut e = Entry::stream(
                label,
                EntryData::Range {
                    offset: part.at as u64,
                    length: part.avail as u64,
                },
            )
            .with_detail("part_type", part.kind)
            .with_detail("offset", format!("{:#x}", part.at));
            if part.kind == SIGNATURE {
                e = e.with_detail("role", "signature");
            }
            out.entries.push(e);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, unpack};

    /// A real RouterOS 6.48.4 package (see the README beside it).
    const PKG: &[u8] = include_bytes!("../../tests/fixtures/real/mikrotik-gps-6.48.4.npk");

    fn part(kind: u16, bytes: &[u8]) -> Vec<u8> {
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        v.extend_from_slice(bytes);
        v
    }

    fn package(parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut d = b"\x1e\xf1\xd0\xba".to_vec();
        d.extend_from_slice(&(body.len() as u32).to_le_bytes());
        d.extend_from_slice(&body);
        d
    }

    #[test]
    fn real_package_facts_and_payload() {
        let p = Npk.probe(PKG).expect("a real NPK");
        assert_eq!(p.length, Some(PKG.len() as u64));
        let u = unpack(&Npk, PKG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["package"], "gps");
        assert_eq!(u.details["version"], "6.48.4");
        assert_eq!(u.details["architecture"], "i386");
        assert_eq!(u.details["channel"], "stable");
        assert_eq!(u.details["description"], "Provides support for GPS.");
        assert_eq!(u.details["requires"], "system");
        assert_eq!(u.mtime, Some(0x611c_ac0f));
        let labels: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(labels, ["squashfs", "signature"]);
        assert!(entry_bytes(PKG, &u.entries[0])
            .unwrap()
            .starts_with(b"hsqs"));
        assert_eq!(u.entries[1].details["role"], "signature");
    }

    #[test]
    fn old_packages_with_a_zlib_file_list_and_unknown_parts() {
        let mut hdr = b"routing".to_vec();
        hdr.resize(16, 0);
        hdr.extend_from_slice(&[27, b'f', 9, 2, 0, 0, 0, 0]);
        let d = package(&[
            part(HEADER, &hdr),
            part(FILES_ZLIB, b"\x78\x9c\x03\x00\x00\x00\x00\x01"),
            part(40, b"unknown"),
            part(40, b"again"),
        ]);
        let u = unpack(&Npk, &d);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["version"], "2.9.27");
        let labels: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(labels, ["files.zlib", "part-40", "part-40-2"]);
    }

    #[test]
    fn truncated_and_inconsistent_packages_warn() {
        let cut = &PKG[..PKG.len() - 500];
        let u = unpack(&Npk, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries[0].path, "squashfs");
        // A size field that disagrees with the chain of parts.
        let mut d = PKG.to_vec();
        d[4..8].copy_from_slice(&((PKG.len() - 8 + 8) as u32).to_le_bytes());
        d.extend_from_slice(&[0; 8]);
        let u = unpack(&Npk, &d);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Corrupt));
    }

    #[test]
    fn garbage_is_not_a_package() {
        // First part not a header, absurd type, absurd length.
        assert!(Npk.probe(&package(&[part(SQUASHFS, b"hsqs")])).is_none());
        assert!(Npk.probe(&package(&[part(999, b"x")])).is_none());
        let mut d = package(&[part(HEADER, &[0; 24])]);
        d[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
        let u = unpack(&Npk, &d);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        for e in &u.entries {
            assert!(entry_bytes(&d, e).is_some());
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Npk, PKG, &Hostile::flips(300));
    }
}
