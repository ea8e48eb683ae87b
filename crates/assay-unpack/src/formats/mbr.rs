//! MBR (DOS) partition tables: four primary entries in the first sector, logical partitions
//! in the chain of extended boot records. Each partition becomes a stream carved from the disk.
//!
//! Own reader: the table is 64 bytes, and the probe must be much stricter than any crate's
//! parser because `55 AA` occurs everywhere (every FAT boot sector ends with it).

use crate::cursor::le32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An MBR partition table at the start of a disk image.
pub struct Mbr;

static MAGICS: &[Magic] = &[Magic::at(b"\x55\xaa", 510)];

const SECTOR: u64 = 512;
/// Slack allowed past the end of the blob for a partition's end (images are often cut after
/// the last used sector).
const END_SLACK: u64 = 1 << 20;
/// Longest chain of extended boot records followed.
const MAX_LOGICAL: usize = 128;

/// One partition table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartEntry {
    boot: u8,
    ptype: u8,
    start: u64,
    sectors: u64,
}

impl PartEntry {
    fn parse(sector: &[u8], index: usize) -> Option<PartEntry> {
        let off = 446 + index * 16;
        let raw = sector.get(off..off + 16)?;
        Some(PartEntry {
            boot: raw[0],
            ptype: raw[4],
            start: u64::from(le32(raw, 8)?),
            sectors: u64::from(le32(raw, 12)?),
        })
    }

    fn is_empty(&self) -> bool {
        self.ptype == 0
    }

    fn is_extended(&self) -> bool {
        matches!(self.ptype, 0x05 | 0x0f | 0x85)
    }

    fn end(&self) -> u64 {
        self.start.saturating_add(self.sectors)
    }
}

/// The four primary entries, if they look like a real table for a blob of `len` bytes.
fn primary_entries(data: &[u8]) -> Option<[PartEntry; 4]> {
    if data.get(510..512)? != b"\x55\xaa" {
        return None;
    }
    let len = data.len() as u64;
    let mut entries = [PartEntry {
        boot: 0,
        ptype: 0,
        start: 0,
        sectors: 0,
    }; 4];
    let mut used = 0;
    for (i, slot) in entries.iter_mut().enumerate() {
        let e = PartEntry::parse(data, i)?;
        if e.boot != 0 && e.boot != 0x80 {
            return None;
        }
        if e.is_empty() {
            // An empty slot is all zeros in every tool's output.
            if e.boot != 0 || e.start != 0 || e.sectors != 0 {
                return None;
            }
        } else {
            if e.start == 0 || e.sectors == 0 {
                return None;
            }
            let start = e.start.checked_mul(SECTOR)?;
            let end = e.end().checked_mul(SECTOR)?;
            if start >= len || end > len.saturating_add(END_SLACK) {
                return None;
            }
            used += 1;
        }
        *slot = e;
    }
    if used == 0 {
        return None;
    }
    // A lone protective entry belongs to GPT.
    if entries.iter().any(|e| e.ptype == 0xee) {
        return None;
    }
    for (i, a) in entries.iter().enumerate() {
        for b in entries.iter().skip(i + 1) {
            if !a.is_empty() && !b.is_empty() && a.start < b.end() && b.start < a.end() {
                return None;
            }
        }
    }
    Some(entries)
}

impl Format for Mbr {
    fn name(&self) -> &'static str {
        "mbr"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let entries = primary_entries(data)?;
        let end = entries
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| e.end())
            .max()?;
        let used = entries.iter().filter(|e| !e.is_empty()).count();
        Some(Probe {
            length: Some(end.saturating_mul(SECTOR).min(data.len() as u64)),
            description: format!("MBR partition table, {used} primary partitions"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let entries = primary_entries(data)
            .ok_or_else(|| FormatError::Corrupt("not an MBR partition table".into()))?;
        let mut out = Unpacked::default();
        if let Some(sig) = le32(data, 440) {
            out.detail("disk_signature", format!("{sig:08x}"));
        }
        let len = data.len() as u64;
        let mut push = |out: &mut Unpacked, n: usize, e: &PartEntry, start: u64| {
            let offset = start.saturating_mul(SECTOR);
            let want = e.sectors.saturating_mul(SECTOR);
            let length = want.min(len.saturating_sub(offset));
            if length < want {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "partition{n} ends {} bytes past the end of the image",
                        want - length
                    ),
                );
            }
            // A partition past the end keeps no bytes, at the end of the image.
            let mut entry = Entry::stream(
                format!("partition{n}"),
                EntryData::Range {
                    offset: offset.min(len),
                    length,
                },
            )
            .with_detail("type", format!("{:#04x}", e.ptype))
            .with_detail("start_lba", start)
            .with_detail("sectors", e.sectors)
            .with_detail("bootable", e.boot == 0x80);
            if let Some(system) = bsd_slice(e.ptype) {
                entry = entry.with_detail("slice", system);
            }
            out.entries.push(entry);
        };
        for (i, e) in entries.iter().enumerate() {
            if e.is_empty() {
                continue;
            }
            if e.is_extended() {
                logical(data, e.start, &mut out, &mut push, ctx);
            } else {
                push(&mut out, i + 1, e, e.start);
            }
        }
        Ok(out)
    }
}

/// The BSD a slice type belongs to: such a slice holds a BSD disklabel (see
/// [`crate::formats::bsd`]), which the scan of the partition's bytes finds.
fn bsd_slice(ptype: u8) -> Option<&'static str> {
    match ptype {
        0xa5 => Some("FreeBSD"),
        0xa6 => Some("OpenBSD"),
        0xa9 => Some("NetBSD"),
        _ => None,
    }
}

/// Follow the chain of extended boot records starting at LBA `ext_start`. Logical
/// partitions are numbered from 5 as Linux does.
fn logical(
    data: &[u8],
    ext_start: u64,
    out: &mut Unpacked,
    push: &mut impl FnMut(&mut Unpacked, usize, &PartEntry, u64),
    ctx: &UnpackContext,
) {
    let mut next = ext_start;
    let mut seen = std::collections::HashSet::new();
    let mut number = 5;
    for _ in 0..MAX_LOGICAL.min(ctx.max_entries()) {
        if !seen.insert(next) {
            out.warn(WarningKind::Format, "extended boot records form a loop");
            return;
        }
        let Some(sector) = usize::try_from(next.saturating_mul(SECTOR))
            .ok()
            .and_then(|o| data.get(o..o.checked_add(512)?))
        else {
            out.warn(
                WarningKind::Truncated,
                format!("extended boot record at LBA {next} is outside the image"),
            );
            return;
        };
        if sector.get(510..512) != Some(b"\x55\xaa") {
            out.warn(
                WarningKind::Format,
                format!("extended boot record at LBA {next} has no signature"),
            );
            return;
        }
        let (Some(part), Some(link)) = (PartEntry::parse(sector, 0), PartEntry::parse(sector, 1))
        else {
            return;
        };
        if !part.is_empty() && part.sectors > 0 {
            push(out, number, &part, next.saturating_add(part.start));
            number += 1;
        }
        if link.is_empty() || link.start == 0 {
            return;
        }
        next = ext_start.saturating_add(link.start);
    }
    out.warn(
        WarningKind::Limit,
        "too many logical partitions; the rest are ignored",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::gunzip;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::unpack;

    fn disk() -> Vec<u8> {
        gunzip(include_bytes!("../../tests/fixtures/disks/mbr.img.gz"))
    }

    #[test]
    fn yields_both_partitions() {
        let d = disk();
        let u = unpack(&Mbr, &d);
        assert_eq!(u.entries.len(), 2);
        let fat = include_bytes!("../../tests/fixtures/disks/fat12.img");
        let ext = include_bytes!("../../tests/fixtures/disks/ext2.img");
        assert_eq!(u.entries[0].path, "partition1");
        assert_eq!(u.entries[0].details["type"], "0x01");
        assert_eq!(
            crate::formats::testutil::entry_bytes(&d, &u.entries[0]).unwrap(),
            fat
        );
        assert_eq!(
            crate::formats::testutil::entry_bytes(&d, &u.entries[1]).unwrap(),
            ext
        );
        assert!(u.warnings.is_empty());
    }

    #[test]
    fn rejects_fat_boot_sector_and_gpt() {
        let fat = include_bytes!("../../tests/fixtures/disks/fat12.img");
        assert!(Mbr.probe(fat).is_none());
        let gpt = gunzip(include_bytes!("../../tests/fixtures/disks/gpt.img.gz"));
        assert!(Mbr.probe(&gpt).is_none());
        let mut zeros = vec![0u8; 4096];
        zeros[510] = 0x55;
        zeros[511] = 0xaa;
        assert!(Mbr.probe(&zeros).is_none());
    }

    #[test]
    fn hostile_input() {
        hostile_with(&Mbr, &disk(), &Hostile::disk());
    }
}
