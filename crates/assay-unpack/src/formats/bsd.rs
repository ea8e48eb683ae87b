//! BSD disklabels (FreeBSD, NetBSD, OpenBSD): the partition table a BSD system writes into
//! sector 1 of its disk or of its MBR slice (types 0xa5, 0xa6, 0xa9), in either byte order.
//! Each used partition (`a`, `b`, `d`…) becomes a stream carved from the slice.
//!
//! Own reader: the label is one fixed 148-byte header and a table of 16-byte entries, and no
//! crate reads it. The probe checks both magics and the label's XOR checksum, so a stray
//! `WEV\x82` does not make a partition table.

use crate::cursor::{be16, be32, cstr, le16, le32};
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A BSD disklabel at the start of a disk or a slice.
pub struct BsdLabel;

/// `d_magic` and `d_magic2`.
const DISKMAGIC: u32 = 0x8256_4557;
/// Where the label sits from the slice's start: sector 1 on i386/amd64 and most ports; 64
/// and 128 bytes into sector 0 on some older ports (alpha, sparc).
const LABEL_OFFSETS: [usize; 3] = [512, 64, 128];
/// Bytes of the label before its partition table.
const HEADER: usize = 148;
/// Bytes per partition entry.
const PART: usize = 16;
/// Most partitions a label may hold (22 on NetBSD's largest ports; the table must still fit
/// in its sector).
const MAX_PARTITIONS: usize = 22;
/// Index of the raw partition `c`, which covers the whole slice on most ports.
const RAW_PART: usize = 2;
/// Slack allowed past the end of the blob for a partition's end (images are often cut after
/// the last used sector).
const END_SLACK: u64 = 1 << 20;

static MAGICS: &[Magic] = &[
    Magic::at(b"\x57\x45\x56\x82", 512),
    Magic::at(b"\x82\x56\x45\x57", 512),
    Magic::at(b"\x57\x45\x56\x82", 64),
    Magic::at(b"\x82\x56\x45\x57", 64),
    Magic::at(b"\x57\x45\x56\x82", 128),
    Magic::at(b"\x82\x56\x45\x57", 128),
];

/// One partition of the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Partition {
    /// Index in the table (0 is `a`).
    index: usize,
    /// Sectors.
    size: u64,
    /// First sector, absolute or relative to the slice (see [`Label::base`]).
    offset: u64,
    fstype: u8,
}

/// A validated label.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Label {
    /// Where the label sits from the slice's start.
    at: usize,
    big_endian: bool,
    sector_size: u64,
    type_name: String,
    pack_name: String,
    sectors_per_unit: u64,
    partitions: Vec<Partition>,
    /// Sector of the disk the slice starts at, subtracted from every offset: labels written
    /// by NetBSD, OpenBSD and FreeBSD before 10 give offsets from the start of the disk, and
    /// the raw partition `c` then starts where the slice does.
    base: u64,
}

impl Label {
    /// Byte offset and length of a partition inside the slice.
    fn range(&self, p: &Partition) -> Option<(u64, u64)> {
        let start = p
            .offset
            .checked_sub(self.base)?
            .checked_mul(self.sector_size)?;
        Some((start, p.size.checked_mul(self.sector_size)?))
    }

    /// Whether a partition lies inside a slice of `len` bytes (with the slack).
    fn fits(&self, p: &Partition, len: u64) -> bool {
        self.range(p).is_some_and(|(start, size)| {
            start < len && start.saturating_add(size) <= len.saturating_add(END_SLACK)
        })
    }

    /// Whether a partition is the whole slice again (the raw partition): carving it would
    /// only yield the same bytes.
    fn is_whole(&self, p: &Partition, len: u64) -> bool {
        self.range(p)
            .is_some_and(|(start, size)| start == 0 && size >= len)
    }
}

/// Parse and check the label at `at` bytes into `data`.
fn label_at(data: &[u8], at: usize) -> Option<Label> {
    let big_endian = match data.get(at..at + 4)? {
        b"\x57\x45\x56\x82" => false,
        b"\x82\x56\x45\x57" => true,
        _ => return None,
    };
    let u16_at = |o: usize| {
        if big_endian {
            be16(data, at + o)
        } else {
            le16(data, at + o)
        }
    };
    let u32_at = |o: usize| {
        if big_endian {
            be32(data, at + o)
        } else {
            le32(data, at + o)
        }
    };
    if u32_at(132)? != DISKMAGIC {
        return None;
    }
    let count = usize::from(u16_at(138)?);
    if count == 0 || count > MAX_PARTITIONS {
        return None;
    }
    let end = HEADER + count * PART;
    // The table stays inside the label's sector.
    if at % 512 + end > 512 {
        return None;
    }
    let mut xor = 0u16;
    for o in (0..end).step_by(2) {
        xor ^= u16_at(o)?;
    }
    if xor != 0 {
        return None;
    }
    let sector_size = u64::from(u32_at(40)?);
    if !(512..=65536).contains(&sector_size) || !sector_size.is_power_of_two() {
        return None;
    }
    let mut partitions = Vec::with_capacity(count);
    for index in 0..count {
        let o = HEADER + index * PART;
        partitions.push(Partition {
            index,
            size: u64::from(u32_at(o)?),
            offset: u64::from(u32_at(o + 4)?),
            fstype: *data.get(at + o + 12)?,
        });
    }
    Some(Label {
        at,
        big_endian,
        sector_size,
        type_name: cstr(data.get(at + 8..at + 24)?),
        pack_name: cstr(data.get(at + 24..at + 40)?),
        sectors_per_unit: u64::from(u32_at(60)?),
        partitions,
        base: 0,
    })
}

/// The label of a slice of `data.len()` bytes, with the base its offsets count from: the
/// raw partition's start when it is not zero and that places no fewer partitions inside the
/// slice than zero does.
fn find_label(data: &[u8]) -> Option<Label> {
    let mut label = LABEL_OFFSETS.iter().find_map(|&at| label_at(data, at))?;
    let len = data.len() as u64;
    let used = |l: &Label| {
        l.partitions
            .iter()
            .filter(|p| p.size > 0 && l.fits(p, len))
            .count()
    };
    let at_zero = used(&label);
    if let Some(raw) = label.partitions.get(RAW_PART).copied() {
        if raw.offset > 0 {
            let rebased = Label {
                base: raw.offset,
                ..label.clone()
            };
            // `c` covers the slice, so a raw partition that does not start at zero says the
            // offsets are absolute.
            if used(&rebased) >= at_zero {
                label = rebased;
            }
        }
    }
    // A label whose partitions all lie outside the slice describes nothing we can carve.
    if used(&label) == 0 {
        return None;
    }
    Some(label)
}

/// What a partition's `p_fstype` says, for the common values all three BSDs share.
fn fstype_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "unused",
        1 => "swap",
        7 => "4.2BSD",
        8 => "MSDOS",
        9 => "4.4LFS",
        11 => "HPFS",
        12 => "ISO9660",
        13 => "boot",
        17 => "ext2fs",
        18 => "NTFS",
        19 => "RAID",
        _ => return None,
    })
}

impl Format for BsdLabel {
    fn name(&self) -> &'static str {
        "bsd"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let label = find_label(data)?;
        let len = data.len() as u64;
        let end = label
            .partitions
            .iter()
            .filter(|p| p.size > 0 && label.fits(p, len))
            .filter_map(|p| label.range(p).map(|(s, n)| s.saturating_add(n)))
            .max()?;
        let used = label
            .partitions
            .iter()
            .filter(|p| p.size > 0 && p.fstype != 0 && label.fits(p, len))
            .count();
        // At least the sector holding the label.
        let label_sector_end = (label.at as u64 / 512 + 1) * 512;
        Some(Probe {
            length: Some(end.min(len).max(label_sector_end)),
            description: format!(
                "BSD disklabel ({}), {used} partitions",
                if label.big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let label =
            find_label(data).ok_or_else(|| FormatError::Corrupt("not a BSD disklabel".into()))?;
        let len = data.len() as u64;
        let mut out = Unpacked::default();
        out.detail(
            "byte_order",
            if label.big_endian { "big" } else { "little" },
        );
        out.detail("sector_size", label.sector_size);
        out.detail("sectors", label.sectors_per_unit);
        out.detail("label_offset", label.at);
        out.detail("partitions_in_table", label.partitions.len());
        out.detail(
            "offsets",
            if label.base > 0 {
                format!("absolute (slice at sector {})", label.base)
            } else {
                "relative to the slice".to_string()
            },
        );
        if !label.type_name.is_empty() {
            out.detail("disk_type", &label.type_name);
        }
        if !label.pack_name.is_empty() {
            out.detail("pack_name", &label.pack_name);
        }
        for p in &label.partitions {
            if out.entries.len() >= ctx.max_entries() {
                out.warn(
                    WarningKind::Limit,
                    "too many partitions; the rest are ignored",
                );
                break;
            }
            // Unused slots, and the raw partition that is the slice itself, carve nothing new.
            if p.size == 0 || p.fstype == 0 || label.is_whole(p, len) {
                continue;
            }
            let letter = char::from(b'a' + p.index as u8);
            let Some((start, want)) = label.range(p).filter(|_| label.fits(p, len)) else {
                out.warn(
                    WarningKind::Format,
                    format!("partition {letter} lies outside the slice; skipped"),
                );
                continue;
            };
            let length = want.min(len - start);
            if length < want {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "partition {letter} ends {} bytes past the end of the slice",
                        want - length
                    ),
                );
            }
            let mut entry = Entry::stream(
                format!("partition-{letter}"),
                EntryData::Range {
                    offset: start,
                    length,
                },
            )
            .with_detail("fstype", p.fstype)
            .with_detail("offset_sectors", p.offset)
            .with_detail("sectors", p.size);
            if let Some(name) = fstype_name(p.fstype) {
                entry = entry.with_detail("fstype_name", name);
            }
            out.entries.push(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, gunzip, unpack};

    fn disk() -> Vec<u8> {
        gunzip(include_bytes!("../../tests/fixtures/disks/mbr-bsd.img.gz"))
    }

    /// The FreeBSD slice of the MBR disk (partition 2, LBA 512, 3584 sectors).
    fn slice() -> Vec<u8> {
        disk()[512 * 512..4096 * 512].to_vec()
    }

    fn be_slice() -> Vec<u8> {
        gunzip(include_bytes!("../../tests/fixtures/disks/bsd-be.img.gz"))
    }

    #[test]
    fn yields_the_used_partitions_of_a_little_endian_label() {
        let s = slice();
        let p = BsdLabel.probe(&s).expect("label");
        assert!(p.description.contains("little-endian"), "{}", p.description);
        assert_eq!(p.length, Some(s.len() as u64));
        let u = unpack(&BsdLabel, &s);
        let names: Vec<_> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["partition-e", "partition-f"]);
        assert_eq!(u.details["offsets"], "absolute (slice at sector 512)");
        assert_eq!(u.entries[0].details["fstype_name"], "MSDOS");
        assert_eq!(u.entries[1].details["fstype_name"], "swap");
        // e starts 16 sectors into the slice and holds the FAT12 file system.
        let e = entry_bytes(&s, &u.entries[0]).unwrap();
        assert_eq!(e.len(), 256 << 10);
        assert_eq!(e, s[16 * 512..16 * 512 + (256 << 10)]);
        assert!(crate::formats::fat::Fat.probe(&e).is_some());
        let f = entry_bytes(&s, &u.entries[1]).unwrap();
        assert!(f.starts_with(b"swap-pattern"));
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    }

    #[test]
    fn reads_a_big_endian_label_the_same_way() {
        let (le, be) = (slice(), be_slice());
        assert!(BsdLabel
            .probe(&be)
            .unwrap()
            .description
            .contains("big-endian"));
        let (ul, ub) = (unpack(&BsdLabel, &le), unpack(&BsdLabel, &be));
        assert_eq!(ub.details["byte_order"], "big");
        assert_eq!(ul.entries.len(), ub.entries.len());
        for (a, b) in ul.entries.iter().zip(&ub.entries) {
            assert_eq!(a.path, b.path);
            assert_eq!(entry_bytes(&le, a), entry_bytes(&be, b));
        }
    }

    #[test]
    fn relative_offsets_are_kept_when_the_raw_partition_starts_at_zero() {
        // FreeBSD 10 and later: offsets from the slice, `c` at 0. Rewrite the fixture's
        // table that way (and its checksum) and expect the same partitions.
        let mut s = slice();
        let at = 512;
        for i in 0..8 {
            let o = at + HEADER + i * PART + 4;
            let off = le32(&s, o).unwrap();
            if off != 0 {
                s[o..o + 4].copy_from_slice(&(off - 512).to_le_bytes());
            }
        }
        s[at + 136..at + 138].copy_from_slice(&[0, 0]);
        let mut x = 0u16;
        for o in (0..HEADER + 8 * PART).step_by(2) {
            x ^= le16(&s, at + o).unwrap();
        }
        s[at + 136..at + 138].copy_from_slice(&x.to_le_bytes());
        let u = unpack(&BsdLabel, &s);
        assert_eq!(u.details["offsets"], "relative to the slice");
        assert_eq!(u.entries.len(), 2);
        assert_eq!(
            entry_bytes(&s, &u.entries[0]),
            entry_bytes(&slice(), &unpack(&BsdLabel, &slice()).entries[0])
        );
    }

    #[test]
    fn rejects_bad_checksum_second_magic_and_stray_magic() {
        let s = slice();
        let mut bad = s.clone();
        bad[512 + 8] ^= 1; // type name: checksum no longer zero
        assert!(BsdLabel.probe(&bad).is_none());
        let mut bad = s.clone();
        bad[512 + 132] ^= 1;
        assert!(BsdLabel.probe(&bad).is_none());
        let mut stray = vec![0u8; 4096];
        stray[512..516].copy_from_slice(b"\x57\x45\x56\x82");
        assert!(BsdLabel.probe(&stray).is_none());
        // An MBR disk is not a label (its label is one slice further).
        assert!(BsdLabel.probe(&disk()).is_none());
    }

    #[test]
    fn hostile_input() {
        hostile_with(&BsdLabel, &slice(), &Hostile::disk());
        hostile_with(&BsdLabel, &be_slice(), &Hostile::disk());
    }
}
