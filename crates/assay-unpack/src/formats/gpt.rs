//! GUID partition tables (UEFI): the `EFI PART` header at LBA 1 and its entry array. Each
//! partition becomes a stream carved from the disk.
//!
//! Own reader: the header is 92 bytes with two CRC32s (checked with `crc32fast`); the GPT
//! crates on crates.io read through `Read + Seek` devices and add nothing a carver needs.

use crate::cursor::{le32, le64};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A GPT disk (512- or 4096-byte sectors).
pub struct Gpt;

static MAGICS: &[Magic] = &[Magic::at(b"EFI PART", 512), Magic::at(b"EFI PART", 4096)];

/// Most partition entries read (the UEFI minimum array is 128; some tools write more).
const MAX_ENTRIES: u32 = 1024;

/// The fields of a GPT header that locate and check the partition array.
#[derive(Debug, Clone)]
struct Header {
    sector: u64,
    alternate_lba: u64,
    last_usable: u64,
    disk_guid: [u8; 16],
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Parse and check the header at LBA 1 for sector size `sector`.
fn header(data: &[u8], sector: u64) -> Option<Header> {
    let off = usize::try_from(sector).ok()?;
    let h = data.get(off..off.checked_add(92)?)?;
    if &h[..8] != b"EFI PART" || le32(h, 8)? != 0x0001_0000 {
        return None;
    }
    let size = le32(h, 12)? as usize;
    if !(92..=sector as usize).contains(&size) {
        return None;
    }
    let full = data.get(off..off.checked_add(size)?)?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&full[..16]);
    hasher.update(&[0; 4]);
    hasher.update(&full[20..]);
    if hasher.finalize() != le32(h, 16)? || le64(h, 24)? != 1 {
        return None;
    }
    let entry_size = le32(h, 84)?;
    let entry_count = le32(h, 80)?;
    if entry_size < 128 || !entry_size.is_power_of_two() || entry_size > 4096 {
        return None;
    }
    if entry_count == 0 || entry_count > MAX_ENTRIES {
        return None;
    }
    let mut disk_guid = [0u8; 16];
    disk_guid.copy_from_slice(h.get(56..72)?);
    Some(Header {
        sector,
        alternate_lba: le64(h, 32)?,
        last_usable: le64(h, 48)?,
        disk_guid,
        entries_lba: le64(h, 72)?,
        entry_count,
        entry_size,
        entries_crc: le32(h, 88)?,
    })
}

/// The header for whichever sector size the image uses.
fn find_header(data: &[u8]) -> Option<Header> {
    header(data, 512).or_else(|| header(data, 4096))
}

/// A GUID in its usual text form (mixed-endian as stored on disk).
fn guid(b: &[u8]) -> String {
    if b.len() < 16 {
        return String::new();
    }
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
    )
}

/// Well-known partition type names, for the outline.
fn type_name(g: &str) -> Option<&'static str> {
    Some(match g {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "basic data",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        _ => return None,
    })
}

impl Format for Gpt {
    fn name(&self) -> &'static str {
        "gpt"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = find_header(data)?;
        // The disk spans to its backup header, or at least to its last usable sector.
        let last = h.alternate_lba.max(h.last_usable);
        let length = last
            .checked_add(1)?
            .checked_mul(h.sector)?
            .min(data.len() as u64);
        Some(Probe {
            length: Some(length),
            description: format!("GPT disk {}, {}-byte sectors", guid(&h.disk_guid), h.sector),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h =
            find_header(data).ok_or_else(|| FormatError::Corrupt("no valid GPT header".into()))?;
        let mut out = Unpacked::default();
        out.detail("disk_guid", guid(&h.disk_guid));
        out.detail("sector_size", h.sector);
        let array_len = u64::from(h.entry_count) * u64::from(h.entry_size);
        let start = h
            .entries_lba
            .checked_mul(h.sector)
            .and_then(|s| usize::try_from(s).ok())
            .ok_or(FormatError::Truncated {
                what: "GPT partition entries",
                offset: h.entries_lba,
            })?;
        let array = data
            .get(start..start.saturating_add(array_len as usize))
            .ok_or(FormatError::Truncated {
                what: "GPT partition entries",
                offset: start as u64,
            })?;
        if crc32fast::hash(array) != h.entries_crc {
            out.warn(
                WarningKind::Checksum,
                "GPT partition entry array CRC mismatch",
            );
        }
        let len = data.len() as u64;
        for (i, raw) in array.chunks_exact(h.entry_size as usize).enumerate() {
            if out.entries.len() >= ctx.max_entries() {
                out.warn(WarningKind::Limit, "too many partitions");
                break;
            }
            if raw[..16].iter().all(|&b| b == 0) {
                continue;
            }
            let (Some(first), Some(last)) = (le64(raw, 32), le64(raw, 40)) else {
                continue;
            };
            if last < first {
                out.warn(
                    WarningKind::Format,
                    format!("partition{} ends before it starts", i + 1),
                );
                continue;
            }
            let offset = first.saturating_mul(h.sector);
            let want = (last - first).saturating_add(1).saturating_mul(h.sector);
            let length = want.min(len.saturating_sub(offset));
            if length < want {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "partition{} ends {} bytes past the end of the image",
                        i + 1,
                        want - length
                    ),
                );
            }
            let name: Vec<u16> = raw[56..128]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&c| c != 0)
                .collect();
            let type_guid = guid(&raw[..16]);
            let mut e = Entry::stream(
                format!("partition{}", i + 1),
                // A partition past the end keeps no bytes, at the end of the image.
                EntryData::Range {
                    offset: offset.min(len),
                    length,
                },
            )
            .with_detail("name", String::from_utf16_lossy(&name))
            .with_detail("unique_guid", guid(&raw[16..32]))
            .with_detail("start_lba", first)
            .with_detail("sectors", (last - first).saturating_add(1));
            if let Some(t) = type_name(&type_guid) {
                e = e.with_detail("type_name", t);
            }
            out.entries.push(e.with_detail("type", type_guid));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::gunzip;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, unpack};

    fn disk() -> Vec<u8> {
        gunzip(include_bytes!("../../tests/fixtures/disks/gpt.img.gz"))
    }

    #[test]
    fn yields_both_partitions() {
        let d = disk();
        let p = Gpt.probe(&d).unwrap();
        assert_eq!(p.length, Some(d.len() as u64));
        let u = unpack(&Gpt, &d);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries.len(), 2);
        assert_eq!(u.entries[1].details["name"], "rootfs");
        assert_eq!(u.entries[1].details["type_name"], "Linux filesystem");
        let fat = include_bytes!("../../tests/fixtures/disks/fat12.img");
        let ext = include_bytes!("../../tests/fixtures/disks/ext2.img");
        assert_eq!(entry_bytes(&d, &u.entries[0]).unwrap(), fat);
        assert_eq!(entry_bytes(&d, &u.entries[1]).unwrap(), ext);
    }

    #[test]
    fn rejects_bad_header_crc() {
        let mut d = disk();
        d[512 + 40] ^= 1;
        assert!(Gpt.probe(&d).is_none());
    }

    #[test]
    fn hostile_input() {
        hostile_with(&Gpt, &disk(), &Hostile::disk());
    }
}

#[cfg(test)]
mod engine_tests {
    use crate::formats::testutil::gunzip;
    use crate::formats::testutil::manifest::{parse, DISKS};
    use crate::{Blob, UnpackOptions, Unpacker};
    use assay_model::NodeKind;

    /// The whole engine finds both file systems inside the partitions of each disk.
    #[test]
    fn disks_unpack_to_both_file_systems() {
        for img in [
            gunzip(include_bytes!("../../tests/fixtures/disks/gpt.img.gz")),
            gunzip(include_bytes!("../../tests/fixtures/disks/mbr.img.gz")),
        ] {
            let r =
                Unpacker::new().unpack_bytes("disk", Blob::from(img), &UnpackOptions::default());
            for fs in ["fat", "ext"] {
                assert!(
                    r.nodes.iter().any(|n| n.format.as_deref() == Some(fs)),
                    "{fs} not found"
                );
            }
            let passwd = parse(DISKS)
                .into_iter()
                .find(|e| e.path == "/etc/passwd")
                .unwrap()
                .value;
            let copies = r
                .nodes
                .iter()
                .filter(|n| n.kind == NodeKind::File && n.sha256.as_deref() == Some(&passwd))
                .count();
            assert_eq!(copies, 2);
        }
    }
}
