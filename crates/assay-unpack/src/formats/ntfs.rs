//! NTFS, read with the `ntfs` crate (Colin Finck; MIT or Apache-2.0, pure Rust, written to
//! read untrusted volumes through `Read + Seek`) over the blob's bytes. Firmware bundles and
//! partitioned disk images of appliances carry it beside their Linux partitions.
//!
//! Read: the directory tree from the root index (Win32 names; DOS 8.3 aliases and the
//! system files are skipped), each file's unnamed `$DATA` stream, resident or not, bounded by
//! the scan's budget, and its modification time. Alternate data streams, reparse points and
//! compressed or encrypted attributes are not decoded.

use crate::cursor::{le16, le64};
use crate::format::WarningKind;
use crate::format::{Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use ntfs::structured_values::{NtfsFileNamespace, NtfsIndexRoot};
use ntfs::{Ntfs, NtfsAttributeType, NtfsReadSeek};
use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An NTFS volume (its boot sector at offset 0).
pub struct NtfsVolume;

static MAGICS: &[Magic] = &[Magic::at(b"NTFS    ", 3)];

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;
/// File record numbers below this are NTFS's own metadata files (`$MFT`, `$Bitmap`, ...).
const FIRST_USER_RECORD: u64 = 24;
/// The root directory's file record.
const ROOT_RECORD: u64 = 5;
/// Seconds from 1601-01-01 (NTFS's epoch) to 1970-01-01.
const NT_TO_UNIX: i64 = 11_644_473_600;

/// The boot sector's geometry: bytes per sector and the volume's size.
fn boot_sector(d: &[u8]) -> Option<(u64, u64)> {
    if d.get(3..11)? != b"NTFS    " || d.get(510..512)? != b"\x55\xaa" {
        return None;
    }
    let bps = u64::from(le16(d, 11)?);
    if !(256..=4096).contains(&bps) || !bps.is_power_of_two() {
        return None;
    }
    let spc = *d.get(13)?;
    // Sectors per cluster: a power of two, or 2^(256 - v) for clusters of 64 KiB and more.
    if spc == 0 || !(spc.is_power_of_two() || spc >= 0xf4) {
        return None;
    }
    let sectors = le64(d, 0x28)?;
    let mft = le64(d, 0x30)?;
    if sectors == 0 || mft == 0 || mft >= sectors {
        return None;
    }
    // The volume holds the sectors the boot sector counts plus its backup after them.
    let bytes = sectors.checked_add(1)?.checked_mul(bps)?;
    Some((bps, bytes))
}

fn unix_time(nt: u64) -> i64 {
    (nt / 10_000_000) as i64 - NT_TO_UNIX
}

impl Format for NtfsVolume {
    fn name(&self) -> &'static str {
        "ntfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (bps, bytes) = boot_sector(data)?;
        Some(Probe {
            length: Some(bytes.min(data.len() as u64)),
            description: format!("NTFS, {bytes} bytes, sectors of {bps} bytes"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (_, bytes) =
            boot_sector(data).ok_or_else(|| FormatError::Corrupt("bad NTFS boot sector".into()))?;
        let mut out = Unpacked::default();
        if bytes > data.len() as u64 {
            out.warn(
                WarningKind::Truncated,
                format!("volume of {bytes} bytes is cut to {} bytes", data.len()),
            );
        }
        // The crate is written for untrusted volumes; a panic in it is still caught so that a
        // bug there costs one volume, not the scan.
        let walked = catch_unwind(AssertUnwindSafe(|| walk(data, ctx, &mut out)));
        match walked {
            Ok(r) => r?,
            Err(_) => out.warn(
                WarningKind::Format,
                "NTFS reader panicked; the listing is incomplete",
            ),
        }
        Ok(out)
    }
}

/// List every directory and file from the root, depth-first.
fn walk(data: &Blob, ctx: &UnpackContext, out: &mut Unpacked) -> Result<(), FormatError> {
    let mut fs = Cursor::new(&data[..]);
    let mut ntfs = match Ntfs::new(&mut fs) {
        Ok(n) => n,
        Err(e) => {
            out.warn(WarningKind::Format, format!("cannot open the volume: {e}"));
            return Ok(());
        }
    };
    if let Err(e) = ntfs.read_upcase_table(&mut fs) {
        out.warn(WarningKind::Format, format!("cannot read $UpCase: {e}"));
    }
    out.detail("cluster_size", ntfs.cluster_size());
    out.detail("serial_number", format!("{:016x}", ntfs.serial_number()));
    let mut visited = HashSet::new();
    let mut stack = vec![(ROOT_RECORD, String::new(), 0usize)];
    while let Some((record, path, depth)) = stack.pop() {
        let shown = if path.is_empty() { "/" } else { &path };
        if !visited.insert(record) {
            out.warn(
                WarningKind::Format,
                format!("directory {shown} was already listed: a cycle"),
            );
            continue;
        }
        let dir = match ntfs.file(&mut fs, record) {
            Ok(f) => f,
            Err(e) => {
                out.warn(WarningKind::Format, format!("directory {shown}: {e}"));
                continue;
            }
        };
        if let Some(problem) = index_record_size_problem(&dir) {
            out.warn(
                WarningKind::Corrupt,
                format!("directory {shown}: {problem}"),
            );
            continue;
        }
        let index = match dir.directory_index(&mut fs) {
            Ok(i) => i,
            Err(e) => {
                out.warn(WarningKind::Format, format!("directory {shown}: {e}"));
                continue;
            }
        };
        let mut entries = index.entries();
        let mut children = Vec::new();
        let mut seen_here = HashSet::new();
        while let Some(item) = entries.next(&mut fs) {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    out.warn(
                        WarningKind::Format,
                        format!("bad entry in directory {shown}: {e}"),
                    );
                    break;
                }
            };
            let child = item.file_reference().file_record_number();
            if child < FIRST_USER_RECORD {
                continue;
            }
            let Some(Ok(key)) = item.key() else {
                continue;
            };
            // A file with a long name is indexed twice: skip its DOS 8.3 alias.
            if key.namespace() == NtfsFileNamespace::Dos {
                continue;
            }
            let name = key.name().to_string_lossy();
            if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                out.warn(
                    WarningKind::Format,
                    format!("bad name {name:?} in directory {shown}"),
                );
                continue;
            }
            if !seen_here.insert(name.clone()) {
                continue;
            }
            if out.entries.len() >= ctx.max_entries() {
                out.warn(WarningKind::Limit, "too many entries; the rest are ignored");
                return Ok(());
            }
            let full = format!("{path}/{name}");
            let mtime = unix_time(key.modification_time().nt_timestamp());
            if key.is_directory() {
                out.entries
                    .push(Entry::fs(full.clone(), EntryKind::Directory).with_mtime(mtime));
                if depth + 1 >= MAX_DEPTH {
                    out.warn(
                        WarningKind::Limit,
                        format!("{full} is nested too deep; not walked"),
                    );
                } else {
                    children.push((child, full, depth + 1));
                }
                continue;
            }
            let mut entry = Entry::fs(full.clone(), EntryKind::File).with_mtime(mtime);
            match read_data(&ntfs, &mut fs, child, ctx) {
                Ok((bytes, size)) => {
                    if (bytes.len() as u64) < size {
                        out.warn(
                            WarningKind::Limit,
                            format!("{full}: cut to {} of {size} bytes", bytes.len()),
                        );
                    }
                    entry = entry.with_data(EntryData::Owned(Blob::from(bytes)));
                }
                Err(e) => out.warn(WarningKind::Format, format!("{full}: {e}")),
            }
            out.entries.push(entry);
        }
        stack.extend(children.into_iter().rev());
    }
    Ok(())
}

/// Smallest and largest index record accepted from a directory's `$INDEX_ROOT`: records
/// are whole 512-byte sectors (the update sequence fixes one word per sector), 4 KiB in
/// practice.
const INDEX_RECORD_SIZES: std::ops::RangeInclusive<u32> = 512..=64 << 10;

/// Why the directory's index records cannot be read, when its `$INDEX_ROOT` states a record
/// size no volume uses. The crate allocates and slices records of the stated size without
/// checking it (a size under a record header's length panicked in it), so the size is
/// checked here first.
fn index_record_size_problem(dir: &ntfs::NtfsFile) -> Option<String> {
    for attribute in dir.attributes_raw() {
        let Ok(attribute) = attribute else {
            return None;
        };
        if attribute.ty().ok()? != NtfsAttributeType::IndexRoot
            || attribute.name().ok()?.to_string_lossy() != "$I30"
        {
            continue;
        }
        let root = attribute
            .resident_structured_value::<NtfsIndexRoot>()
            .ok()?;
        let size = root.index_record_size();
        return (root.is_large_index() && (!INDEX_RECORD_SIZES.contains(&size) || size % 512 != 0))
            .then(|| format!("$INDEX_ROOT states index records of {size} bytes; not read"));
    }
    None
}

/// The unnamed data stream of file record `record`, up to the scan's per-stream limit, and
/// its full length.
fn read_data(
    ntfs: &Ntfs,
    fs: &mut Cursor<&[u8]>,
    record: u64,
    ctx: &UnpackContext,
) -> Result<(Vec<u8>, u64), String> {
    let file = ntfs.file(fs, record).map_err(|e| e.to_string())?;
    let Some(item) = file.data(fs, "") else {
        return Ok((Vec::new(), 0));
    };
    let item = item.map_err(|e| e.to_string())?;
    let attr = item.to_attribute().map_err(|e| e.to_string())?;
    let mut value = attr.value(fs).map_err(|e| e.to_string())?;
    let size = value.len();
    let want = size.min(ctx.stream_limit());
    ctx.charge(want).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; want as usize];
    let mut got = 0usize;
    while got < buf.len() {
        match value.read(fs, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(format!("data unreadable after {got} bytes: {e}")),
        }
    }
    if got < buf.len() {
        return Err(format!("data ends after {got} of {size} bytes"));
    }
    Ok((buf, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::le32;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};
    use std::io::Read;

    const EXPECTED: &str = include_str!("../../tests/fixtures/filesystems/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/filesystems/ntfs.img.bz2");

    fn image() -> Vec<u8> {
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(IMG)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn resident_and_non_resident_files() {
        let img = image();
        let p = NtfsVolume.probe(&img).expect("probe");
        assert_eq!(p.length, Some(img.len() as u64));
        let u = unpack(&NtfsVolume, &img);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        // ntfscp copies into existing directories only: the fixture holds these at the root.
        let mut got: Vec<String> = u
            .entries
            .iter()
            .map(|e| {
                let b = entry_bytes(&img, e).unwrap_or_default();
                format!("{} {}", e.path, sha_hex(&b))
            })
            .collect();
        got.sort();
        let want: Vec<String> = ["/big.bin", "/passwd", "/sparse.bin"]
            .iter()
            .map(|name| {
                let line = EXPECTED
                    .lines()
                    .find(|l| l.split(' ').nth(2).is_some_and(|p| p.ends_with(name)))
                    .unwrap();
                format!("{name} {}", line.rsplit(' ').next().unwrap())
            })
            .collect();
        assert_eq!(got, want);
        assert!(u.entries.iter().all(|e| e.mtime == Some(1_600_000_000)));
    }

    #[test]
    fn a_boot_sector_without_geometry_is_refused() {
        let mut d = image();
        d[0x28..0x30].fill(0);
        assert!(NtfsVolume.probe(&d).is_none());
    }

    /// The root directory's `$INDEX_ROOT` value in the fixture: (where its index record size
    /// is, whether the root index is large).
    fn root_index_record_size_at(img: &[u8]) -> (usize, bool) {
        let cluster = usize::from(img[0x0d]) * usize::from(le16(img, 0x0b).unwrap());
        let mft = le64(img, 0x30).unwrap() as usize * cluster;
        let record = mft + ROOT_RECORD as usize * 1024;
        let mut at = record + usize::from(le16(img, record + 0x14).unwrap());
        loop {
            let ty = u32::from_le_bytes(img[at..at + 4].try_into().unwrap());
            assert_ne!(ty, 0xffff_ffff, "no $INDEX_ROOT in the root's record");
            let len = u32::from_le_bytes(img[at + 4..at + 8].try_into().unwrap()) as usize;
            if ty == 0x90 {
                let value = at + usize::from(le16(img, at + 0x14).unwrap());
                return (value + 8, img[value + 0x1c] & 1 == 1);
            }
            at += len;
        }
    }

    #[test]
    fn an_index_record_size_no_volume_uses_is_refused_with_a_warning() {
        let mut img = image();
        let (at, large) = root_index_record_size_at(&img);
        assert!(
            large,
            "the fixture's root index spills into $INDEX_ALLOCATION"
        );
        assert_eq!(le32(&img, at), Some(4096));
        for bad in [0u32, 2, 100, 1 << 30] {
            img[at..at + 4].copy_from_slice(&bad.to_le_bytes());
            let u = unpack(&NtfsVolume, &img);
            assert!(
                u.warnings
                    .iter()
                    .any(|(_, w)| w.contains(&format!("index records of {bad} bytes"))),
                "{bad}: {:?}",
                u.warnings
            );
            assert!(!u.warnings.iter().any(|(_, w)| w.contains("panicked")));
        }
    }

    #[test]
    fn hostile_input() {
        hostile_with(&NtfsVolume, &image(), &Hostile::disk());
    }
}
