//! NTFS, read with the `ntfs` crate (Colin Finck; MIT or Apache-2.0, pure Rust, written to
//! read untrusted volumes through `Read + Seek`) over the blob's bytes. Firmware bundles and
//! partitioned disk images of appliances carry it beside their Linux partitions.
//!
//! Read: the directory tree from the root index (Win32 names; DOS 8.3 aliases and the
//! system files are skipped), each file's unnamed `$DATA` stream, resident or not, bounded by
//! the scan's budget, and its modification time. Alternate data streams, reparse points and
//! compressed or encrypted attributes are not decoded.

use crate::cursor::{le16, le32, le64};
use crate::format::WarningKind;
use crate::format::{Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};
use ntfs::attribute_value::NtfsAttributeValue;
use ntfs::structured_values::NtfsFileNamespace;
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
        if let Some(problem) = attribute_list_problem(&mut fs, &dir) {
            out.warn(
                WarningKind::Corrupt,
                format!("directory {shown}: {problem}; not listed"),
            );
            continue;
        }
        if let Some(problem) = index_tree_problem(&ntfs, &mut fs, &dir) {
            out.warn(
                WarningKind::Corrupt,
                format!("directory {shown}: {problem}; not listed"),
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

/// Length of an `$ATTRIBUTE_LIST` entry's fixed header.
const ATTRIBUTE_LIST_ENTRY_HEADER: usize = 26;
/// Largest `$ATTRIBUTE_LIST` read (a file split over thousands of records stays well under).
const MAX_ATTRIBUTE_LIST: u64 = 1 << 20;

/// Why the crate must not walk a file's attributes: its `$ATTRIBUTE_LIST` ends in a piece
/// shorter than an entry header, which the crate reads past and then panics on (its error
/// conversion treats the resulting parse error as unreachable). The crate walks the list for
/// every attribute lookup, so this is checked before any, from the record's own attributes.
fn attribute_list_problem(fs: &mut Cursor<&[u8]>, file: &ntfs::NtfsFile) -> Option<String> {
    let mut list = None;
    for attribute in file.attributes_raw() {
        let attribute = attribute.ok()?;
        if attribute.ty().ok()? == NtfsAttributeType::AttributeList {
            let length = attribute.value_length();
            if length > MAX_ATTRIBUTE_LIST {
                return Some(format!("$ATTRIBUTE_LIST of {length} bytes is not read"));
            }
            // A list the crate cannot read whole fails inside an entry header too (and panics).
            let mut bytes = vec![0u8; length as usize];
            let read = attribute
                .value(fs)
                .and_then(|mut value| value.read_exact(fs, &mut bytes));
            if let Err(e) = read {
                return Some(format!(
                    "$ATTRIBUTE_LIST of {length} bytes is unreadable: {e}"
                ));
            }
            list = Some(bytes);
            break;
        }
    }
    let list = list?;
    let mut at = 0usize;
    while at < list.len() {
        let rest = list.len() - at;
        if rest < ATTRIBUTE_LIST_ENTRY_HEADER {
            return Some(format!(
                "$ATTRIBUTE_LIST ends in {rest} bytes at {at}, under an entry's {ATTRIBUTE_LIST_ENTRY_HEADER}-byte header"
            ));
        }
        let length = usize::from(le16(&list, at + 4)?);
        if length < ATTRIBUTE_LIST_ENTRY_HEADER {
            // The crate refuses this entry with an error of its own.
            return None;
        }
        at += length;
    }
    None
}

/// Length of an index entry's fixed header (file reference, lengths, flags).
const INDEX_ENTRY_HEADER: usize = 16;
/// An index entry's flag: a subnode's VCN ends the entry.
const ENTRY_HAS_SUBNODE: u8 = 0x01;
/// An index entry's flag: the node's closing entry.
const ENTRY_LAST: u8 = 0x02;
/// Most index records one directory's B-tree is walked through.
const MAX_INDEX_NODES: usize = 1 << 16;

/// Why the crate must not walk a directory's index B-tree, found by walking its node
/// structure first. The crate trusts what an attacker controls: the index record size (it
/// allocates and slices records of that size; see [`INDEX_RECORD_SIZES`]), the entries range
/// of the root (sliced unchecked), an entry's stated length (one under the 16-byte entry
/// header is sliced past its end and panics), and that subnode links form a tree (a subnode
/// that links back to itself or an ancestor is descended forever, each step holding another
/// record in memory; a node linked from many entries is walked once per link). Anything else
/// wrong (bad signatures or update sequences) is left to the crate, which reports an error.
fn index_tree_problem(ntfs: &Ntfs, fs: &mut Cursor<&[u8]>, dir: &ntfs::NtfsFile) -> Option<String> {
    let mut root = None;
    for attribute in dir.attributes_raw() {
        let attribute = attribute.ok()?;
        if attribute.ty().ok()? == NtfsAttributeType::IndexRoot
            && attribute.name().ok()?.to_string_lossy() == "$I30"
        {
            match attribute.value(fs).ok()? {
                NtfsAttributeValue::Resident(value) => root = Some(value.data()),
                _ => return None,
            }
            break;
        }
    }
    let root = root?;
    // The crate allocates and slices records of the stated size without checking it (a size
    // under a record header's length panicked in it), so a large index's size is checked
    // first; a small index has no records for anyone to read.
    let record_size = le32(root, 8)?;
    let large = root.get(16 + 12)? & 1 != 0;
    if large && !(INDEX_RECORD_SIZES.contains(&record_size) && record_size % 512 == 0) {
        return Some(format!(
            "$INDEX_ROOT states index records of {record_size} bytes; not read"
        ));
    }
    let mut pending = Vec::new();
    if let Err(problem) =
        node_entries(root, 16).and_then(|entries| node_problem(entries, &mut pending))
    {
        return Some(format!("$INDEX_ROOT: {problem}"));
    }
    // Subnode links of a small index are refused by the crate (it has no allocation to
    // read them from).
    if pending.is_empty() || !large {
        return None;
    }
    // Subnodes live in the $INDEX_ALLOCATION attribute (possibly behind an attribute list).
    let mut attributes = dir.attributes();
    let mut found = None;
    while let Some(item) = attributes.next(fs) {
        let item = item.ok()?;
        let attribute = item.to_attribute().ok()?;
        if attribute.ty().ok()? == NtfsAttributeType::IndexAllocation
            && attribute.name().ok()?.to_string_lossy() == "$I30"
        {
            found = Some(item);
            break;
        }
    }
    let item = found?;
    let attribute = item.to_attribute().ok()?;
    let allocation = attribute.value(fs).ok()?;
    let cluster = u64::from(ntfs.cluster_size());
    let mut seen = HashSet::new();
    let mut record = vec![0u8; record_size as usize];
    while let Some(vcn) = pending.pop() {
        if !seen.insert(vcn) {
            return Some(format!(
                "index record VCN {vcn} is linked more than once (the index is not a tree)"
            ));
        }
        if seen.len() > MAX_INDEX_NODES {
            return Some(format!("index has over {MAX_INDEX_NODES} records"));
        }
        let mut value = allocation.clone();
        let offset = vcn.checked_mul(cluster)?;
        value.seek(fs, std::io::SeekFrom::Start(offset)).ok()?;
        value.read_exact(fs, &mut record).ok()?;
        if !record.starts_with(b"INDX") || !apply_fixups(&mut record) {
            return None;
        }
        if let Err(problem) =
            node_entries(&record, 24).and_then(|entries| node_problem(entries, &mut pending))
        {
            return Some(format!("index record VCN {vcn}: {problem}"));
        }
    }
    None
}

/// The entries of an index node whose node header starts at `header` in `data`, as the crate
/// delimits them (entries offset to index size, both from the node header). A range that is
/// reversed or runs past the node is the problem (the crate slices the root's unchecked).
fn node_entries(data: &[u8], header: usize) -> Result<&[u8], String> {
    let field = |at: usize| le32(data, at).map(|v| header + v as usize);
    let (Some(start), Some(end)) = (field(header), field(header + 4)) else {
        return Err("node header cut short".into());
    };
    data.get(start..end).ok_or_else(|| {
        format!(
            "entries at {start}..{end} do not lie in the node's {} bytes",
            data.len()
        )
    })
}

/// Walk one node's entries: an entry shorter than its header is the problem; subnode VCNs
/// are added to `subnodes`. Other defects end the walk quietly (the crate reports them).
fn node_problem(entries: &[u8], subnodes: &mut Vec<u64>) -> Result<(), String> {
    let mut at = 0usize;
    while let Some(rest) = entries.get(at..).filter(|r| r.len() >= INDEX_ENTRY_HEADER) {
        let length = usize::from(le16(rest, 8).unwrap_or(0));
        let flags = rest[12];
        if length > rest.len() {
            return Ok(());
        }
        if length < INDEX_ENTRY_HEADER {
            return Err(format!(
                "index entry at {at} states {length} bytes, under its {INDEX_ENTRY_HEADER}-byte header"
            ));
        }
        if flags & ENTRY_HAS_SUBNODE != 0 && length >= INDEX_ENTRY_HEADER + 8 {
            subnodes.extend(le64(rest, length - 8));
        }
        if flags & ENTRY_LAST != 0 {
            return Ok(());
        }
        at += length;
    }
    Ok(())
}

/// Undo a multi-sector record's update sequence in place: the last word of each 512-byte
/// sector was moved into the update sequence array and replaced by the sequence number.
/// False when the record's sequence does not check (the crate then refuses the record).
fn apply_fixups(record: &mut [u8]) -> bool {
    let (Some(offset), Some(count)) = (le16(record, 4), le16(record, 6)) else {
        return false;
    };
    let (offset, count) = (usize::from(offset), usize::from(count));
    let Some(array) = record.get(offset..offset + 2 * count).map(<[u8]>::to_vec) else {
        return false;
    };
    if count == 0 {
        return false;
    }
    for i in 1..count {
        let end = i * 512;
        let Some(word) = record.get_mut(end - 2..end) else {
            return false;
        };
        if word != &array[..2] {
            return false;
        }
        word.copy_from_slice(&array[2 * i..2 * i + 2]);
    }
    true
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
    if let Some(problem) = attribute_list_problem(fs, &file) {
        return Err(problem);
    }
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

    /// Byte offset of the root directory's first index record (VCN 0 of its
    /// `$INDEX_ALLOCATION`, whose first data run holds it).
    fn root_index_record_at(img: &[u8]) -> usize {
        let cluster = usize::from(img[0x0d]) * usize::from(le16(img, 0x0b).unwrap());
        let mft = le64(img, 0x30).unwrap() as usize * cluster;
        let record = mft + ROOT_RECORD as usize * 1024;
        let mut at = record + usize::from(le16(img, record + 0x14).unwrap());
        loop {
            let ty = le32(img, at).unwrap();
            assert_ne!(ty, 0xffff_ffff, "no $INDEX_ALLOCATION in the root's record");
            if ty == 0xa0 {
                let run = at + usize::from(le16(img, at + 0x20).unwrap());
                let head = img[run];
                let (len_size, off_size) = (usize::from(head & 0xf), usize::from(head >> 4));
                let mut lcn = 0usize;
                for k in 0..off_size {
                    lcn |= usize::from(img[run + 1 + len_size + k]) << (8 * k);
                }
                return lcn * cluster;
            }
            at += le32(img, at + 4).unwrap() as usize;
        }
    }

    /// Edit the root's first index record as the volume would hold it after its update
    /// sequence is undone, then redo the sequence.
    fn edit_root_index_record(img: &mut [u8], edit: impl FnOnce(&mut [u8])) {
        let at = root_index_record_at(img);
        let mut record = img[at..at + 4096].to_vec();
        assert!(record.starts_with(b"INDX"));
        assert!(apply_fixups(&mut record));
        edit(&mut record);
        let offset = usize::from(le16(&record, 4).unwrap());
        let count = usize::from(le16(&record, 6).unwrap());
        let usn = [record[offset], record[offset + 1]];
        for i in 1..count {
            let end = i * 512;
            let word = [record[end - 2], record[end - 1]];
            record[offset + 2 * i..offset + 2 * i + 2].copy_from_slice(&word);
            record[end - 2..end].copy_from_slice(&usn);
        }
        img[at..at + 4096].copy_from_slice(&record);
    }

    /// Offset of the closing entry of the index node whose node header is at `header`.
    fn last_entry_at(data: &[u8], header: usize) -> usize {
        let mut at = header + le32(data, header).unwrap() as usize;
        while data[at + 12] & ENTRY_LAST == 0 {
            at += usize::from(le16(data, at + 8).unwrap());
        }
        at
    }

    #[test]
    fn an_index_record_linking_to_itself_is_refused_not_walked_forever() {
        let mut img = image();
        // The leaf record's closing entry grows a subnode link to VCN 0: itself.
        edit_root_index_record(&mut img, |r| {
            let last = last_entry_at(r, 0x18);
            assert_eq!(le16(r, last + 8), Some(16));
            r[last + 8..last + 10].copy_from_slice(&24u16.to_le_bytes());
            r[last + 12] |= ENTRY_HAS_SUBNODE;
            r[last + 16..last + 24].fill(0);
            let size = le32(r, 0x1c).unwrap() + 8;
            r[0x1c..0x20].copy_from_slice(&size.to_le_bytes());
        });
        let u = unpack(&NtfsVolume, &img);
        assert!(
            u.warnings
                .iter()
                .any(|(_, w)| w.contains("directory /")
                    && w.contains("VCN 0 is linked more than once")),
            "{:?}",
            u.warnings
        );
        assert!(!u.warnings.iter().any(|(_, w)| w.contains("panicked")));
    }

    #[test]
    fn an_index_entry_shorter_than_its_header_is_refused_before_the_crate_slices_it() {
        let mut img = image();
        edit_root_index_record(&mut img, |r| {
            let first = 0x18 + le32(r, 0x18).unwrap() as usize;
            r[first + 8..first + 10].copy_from_slice(&8u16.to_le_bytes());
        });
        let u = unpack(&NtfsVolume, &img);
        assert!(
            u.warnings
                .iter()
                .any(|(_, w)| w.contains("states 8 bytes, under its 16-byte header")),
            "{:?}",
            u.warnings
        );
        assert!(!u.warnings.iter().any(|(_, w)| w.contains("panicked")));
    }

    #[test]
    fn a_reversed_root_entries_range_is_refused_before_the_crate_slices_it() {
        let mut img = image();
        let (at, _) = root_index_record_size_at(&img);
        // The node header follows the record size (4), clusters per record (1) and 3 bytes.
        let header = at + 8;
        let size = le32(&img, header + 4).unwrap();
        img[header..header + 4].copy_from_slice(&(size + 8).to_le_bytes());
        let u = unpack(&NtfsVolume, &img);
        assert!(
            u.warnings
                .iter()
                .any(|(_, w)| w.contains("$INDEX_ROOT: entries at") && w.contains("do not lie")),
            "{:?}",
            u.warnings
        );
        assert!(!u.warnings.iter().any(|(_, w)| w.contains("panicked")));
    }

    /// The volumes the fuzzer found each made the crate panic (the generic replay in
    /// `tests/fuzz_regressions.rs` cannot tell, as the reader contains panics): each now gets
    /// the reader's own warning instead.
    #[test]
    fn fuzz_found_volumes_get_a_warning_not_a_panic() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions/ntfs");
        for (name, want) in [
            (
                "attribute-list-cut-inside-an-entry-header",
                "$ATTRIBUTE_LIST ends in 8 bytes",
            ),
            (
                "index-entry-shorter-than-its-header",
                "under its 16-byte header",
            ),
            (
                "index-root-entries-range-reversed",
                "do not lie in the node",
            ),
        ] {
            let data = std::fs::read(format!("{dir}/{name}")).unwrap();
            let u = unpack(&NtfsVolume, &data);
            assert!(
                u.warnings.iter().any(|(_, w)| w.contains(want)),
                "{name}: {:?}",
                u.warnings
            );
            assert!(
                !u.warnings.iter().any(|(_, w)| w.contains("panicked")),
                "{name}"
            );
        }
    }

    #[test]
    fn hostile_input() {
        hostile_with(&NtfsVolume, &image(), &Hostile::disk());
    }
}
