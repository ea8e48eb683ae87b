//! Microsoft Cabinet (`.cab`, `MSCF`) archives: stored and MSZIP folders are decoded (each
//! folder once, its files cut out of it), LZX and Quantum folders are listed, not opened.
//! Found in Windows-based gear, driver packages and some vendor update bundles.
//!
//! Written here. The `cab` crate (MIT, with LZX through `lzxd`) was measured first: cheap
//! to build (5 CPU-s, 10 crates), but it panics on damaged folder tables (an index out of
//! bounds when a file lies past its folder's data) and decodes a folder from its start
//! again for every file, which is quadratic in a solid folder of many files. MSZIP is
//! raw deflate per 32 KiB block with the previous output as its dictionary: each block is
//! inflated by `flate2` behind a stored deflate block that carries that dictionary.

use super::member_name::{dos_absolute, dos_time};
use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A Microsoft Cabinet archive.
pub struct Cab;

static MAGICS: &[Magic] = &[Magic::at_start(b"MSCF\0\0\0\0")];

/// Size of the fixed header (`CFHEADER` without the optional fields).
const HEADER: usize = 36;
/// Size of a folder entry (`CFFOLDER`) and of the fixed part of a file entry (`CFFILE`),
/// without reserved bytes.
const FOLDER: usize = 8;
const FILE: usize = 16;
/// Header flags: a previous or next cabinet is named; reserve fields are present.
const PREV: u16 = 0x1;
const NEXT: u16 = 0x2;
const RESERVE: u16 = 0x4;
/// MSZIP's history and largest block.
const WINDOW: usize = 32 * 1024;

/// Fields of a plausible header: (cabinet size, folders, files).
fn header(data: &[u8]) -> Option<(u32, u16, u16)> {
    if !data.starts_with(b"MSCF\0\0\0\0") {
        return None;
    }
    let size = le32(data, 8)?;
    let first_file = le32(data, 16)?;
    let (minor, major) = (*data.get(24)?, *data.get(25)?);
    let folders = le16(data, 26)?;
    let files = le16(data, 28)?;
    let flags = le16(data, 30)?;
    if major != 1 || minor > 3 || flags & !0x7 != 0 || folders == 0 || files == 0 {
        return None;
    }
    // The folder and file tables lie inside the cabinet.
    let tables = HEADER as u64 + u64::from(folders) * FOLDER as u64;
    if u64::from(size) < tables
        || (first_file as usize) < HEADER
        || u64::from(first_file) + u64::from(files) * FILE as u64 > u64::from(size)
    {
        return None;
    }
    Some((size, folders, files))
}

/// One folder: where its first data block is, how many blocks, how compressed.
struct Folder {
    first_block: usize,
    blocks: u16,
    compression: u16,
}

/// One file entry.
struct File {
    name: String,
    size: u64,
    offset: u64,
    folder: u16,
    stamp: u32,
}

/// The compression method's name as the report gives it.
fn method(compression: u16) -> &'static str {
    match compression & 0xf {
        0 => "stored",
        1 => "mszip",
        2 => "quantum",
        3 => "lzx",
        _ => "unknown",
    }
}

/// A NUL-terminated string at `*pos`, at most 256 bytes as the format allows.
fn cstring(d: &[u8], pos: &mut usize) -> Option<String> {
    let rest = d.get(*pos..)?;
    let end = rest.iter().take(257).position(|&b| b == 0)?;
    *pos += end + 1;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// The folder and file tables, and the size of the reserve in each data block.
fn tables(d: &[u8]) -> Option<(Vec<Folder>, Vec<File>, usize)> {
    let (_, folders, files) = header(d)?;
    let flags = le16(d, 30)?;
    let mut pos = HEADER;
    let (mut folder_reserve, mut data_reserve) = (0, 0);
    if flags & RESERVE != 0 {
        let header_reserve = usize::from(le16(d, pos)?);
        folder_reserve = usize::from(*d.get(pos + 2)?);
        data_reserve = usize::from(*d.get(pos + 3)?);
        pos += 4 + header_reserve;
    }
    for flag in [PREV, NEXT] {
        if flags & flag != 0 {
            cstring(d, &mut pos)?;
            cstring(d, &mut pos)?;
        }
    }
    let mut fs = Vec::with_capacity(usize::from(folders));
    for _ in 0..folders {
        fs.push(Folder {
            first_block: le32(d, pos)? as usize,
            blocks: le16(d, pos + 4)?,
            compression: le16(d, pos + 6)?,
        });
        pos += FOLDER + folder_reserve;
    }
    let mut pos = le32(d, 16)? as usize;
    let mut list = Vec::with_capacity(usize::from(files));
    for _ in 0..files {
        let size = u64::from(le32(d, pos)?);
        let offset = u64::from(le32(d, pos + 4)?);
        let folder = le16(d, pos + 8)?;
        let stamp = (u32::from(le16(d, pos + 10)?) << 16) | u32::from(le16(d, pos + 12)?);
        pos += FILE;
        let name = cstring(d, &mut pos)?;
        list.push(File {
            name,
            size,
            offset,
            folder,
            stamp,
        });
    }
    Some((fs, list, data_reserve))
}

/// Decode one folder's data blocks, producing at most `limit` bytes.
fn decode_folder(d: &[u8], f: &Folder, data_reserve: usize, limit: u64) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    let mut pos = f.first_block;
    for i in 0..f.blocks {
        let packed = usize::from(le16(d, pos + 4).ok_or(format!("data block {i} is missing"))?);
        let unpacked = usize::from(le16(d, pos + 6).unwrap_or(0));
        let at = pos + 8 + data_reserve;
        let data = d
            .get(at..at + packed)
            .ok_or(format!("data block {i} runs past the end"))?;
        pos = at + packed;
        if (out.len() + unpacked) as u64 > limit {
            return Err(format!("folder exceeds {limit} bytes (the stream limit)"));
        }
        match f.compression & 0xf {
            0 => out.extend_from_slice(data),
            1 => {
                let body = data
                    .strip_prefix(b"CK")
                    .ok_or(format!("data block {i}: no MSZIP signature"))?;
                let block =
                    inflate_with_history(&out[out.len().saturating_sub(WINDOW)..], body, unpacked)
                        .map_err(|e| format!("data block {i}: {e}"))?;
                out.extend_from_slice(&block);
            }
            _ => return Err(format!("{} folders are not decoded", method(f.compression))),
        }
    }
    Ok(out)
}

/// Inflate raw deflate `body` that may refer back into `history`, expecting `size` bytes.
fn inflate_with_history(history: &[u8], body: &[u8], size: usize) -> Result<Vec<u8>, String> {
    // A stored, non-final deflate block holding the history, then the block itself.
    let mut input = Vec::with_capacity(5 + history.len() + body.len());
    let len = history.len() as u16;
    input.push(0);
    input.extend_from_slice(&len.to_le_bytes());
    input.extend_from_slice(&(!len).to_le_bytes());
    input.extend_from_slice(history);
    input.extend_from_slice(body);
    let mut out = Vec::with_capacity(history.len() + size.min(WINDOW) + 1);
    let mut z = flate2::Decompress::new(false);
    let status = z
        .decompress_vec(&input, &mut out, flate2::FlushDecompress::Finish)
        .map_err(|e| e.to_string())?;
    if status != flate2::Status::StreamEnd {
        return Err("deflate block does not end".into());
    }
    Ok(out.split_off(history.len().min(out.len())))
}

impl Format for Cab {
    fn name(&self) -> &'static str {
        "cab"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (size, folders, files) = header(data)?;
        Some(Probe {
            length: Some(u64::from(size)),
            description: format!("Microsoft Cabinet, {folders} folders, {files} files"),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let (_, _, count) =
            header(d).ok_or_else(|| FormatError::Corrupt("cabinet header".into()))?;
        if usize::from(count) > ctx.max_entries() {
            return Err(FormatError::Limit(format!("{count} files in the cabinet")));
        }
        let (folders, files, data_reserve) = tables(d).ok_or(FormatError::Truncated {
            what: "cabinet folder or file table",
            offset: HEADER as u64,
        })?;
        let mut out = Unpacked::default();
        let mut methods: Vec<&str> = folders.iter().map(|f| method(f.compression)).collect();
        methods.sort();
        methods.dedup();
        out.detail("compression", methods.join(","));
        out.detail("folders", folders.len());
        out.detail("files", files.len());
        // Each folder decoded once, when a file first needs it.
        let mut decoded: Vec<Option<Result<Blob, String>>> = folders.iter().map(|_| None).collect();
        for f in &files {
            let path = dos_absolute(&f.name);
            let mut entry = Entry::fs(path.clone(), EntryKind::File);
            if let Some(t) = dos_time(f.stamp) {
                entry = entry.with_mtime(t);
            }
            let Some(folder) = folders.get(usize::from(f.folder)) else {
                let why = if f.folder >= 0xfffd {
                    "continues from or into another cabinet"
                } else {
                    "names a folder the cabinet does not have"
                };
                out.warn(
                    WarningKind::Unsupported,
                    format!("{path}: {why}; listed, not opened"),
                );
                out.entries.push(entry);
                continue;
            };
            entry = entry.with_detail("compression", method(folder.compression));
            let slot = &mut decoded[usize::from(f.folder)];
            if slot.is_none() {
                let r = decode_folder(d, folder, data_reserve, ctx.stream_limit());
                if let Ok(v) = &r {
                    ctx.charge(v.len() as u64)?;
                }
                *slot = Some(r.map(Blob::from));
            }
            match slot.as_ref() {
                Some(Ok(blob)) => {
                    let start = f.offset.min(blob.len() as u64) as usize;
                    let end = f.offset.saturating_add(f.size).min(blob.len() as u64) as usize;
                    if (end - start) as u64 != f.size {
                        out.warn(
                            WarningKind::Truncated,
                            format!(
                                "{path}: {} of {} bytes lie inside its folder",
                                end - start,
                                f.size
                            ),
                        );
                    }
                    if let Some(bytes) = blob.slice(start..end) {
                        entry = entry.with_data(EntryData::Owned(bytes));
                    }
                }
                Some(Err(e)) => out.warn(
                    if folder.compression & 0xf >= 2 {
                        WarningKind::Unsupported
                    } else if e.ends_with("(the stream limit)") {
                        WarningKind::Limit
                    } else {
                        WarningKind::Decode
                    },
                    format!("{path}: {e}; listed, not opened"),
                ),
                None => {}
            }
            out.entries.push(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const STORED: &[u8] = include_bytes!("../../tests/fixtures/dosarc/stored.cab");
    const MSZIP: &[u8] = include_bytes!("../../tests/fixtures/dosarc/mszip.cab");
    pub const EXPECTED: &str = include_str!("../../tests/fixtures/dosarc/expected.txt");

    /// Every file of the manifest is an entry of `u` with the manifest's bytes.
    pub fn check_members(label: &str, data: &[u8], u: &Unpacked) {
        for line in EXPECTED.lines() {
            let mut w = line.split_whitespace().skip(2);
            let (path, sha) = (w.next().unwrap(), w.next().unwrap());
            let e = u
                .entries
                .iter()
                .find(|e| e.path == path)
                .unwrap_or_else(|| panic!("{label}: {path} missing"));
            assert_eq!(e.kind, EntryKind::File, "{label}: {path}");
            let got = entry_bytes(data, e).unwrap_or_default();
            assert_eq!(sha_hex(&got), sha, "{label}: {path}");
        }
    }

    #[test]
    fn reads_stored_and_mszip_cabinets() {
        for (label, data, method) in [("stored", STORED, "stored"), ("mszip", MSZIP, "mszip")] {
            let p = Cab.probe(data).expect("probe");
            assert_eq!(p.length, Some(data.len() as u64), "{label}");
            let u = unpack(&Cab, data);
            assert!(u.warnings.is_empty(), "{label}: {:?}", u.warnings);
            assert_eq!(u.entries.len(), 4, "{label}");
            assert_eq!(u.details["compression"], method);
            check_members(label, data, &u);
            assert!(u.entries.iter().all(|e| e.mtime.is_some()));
        }
    }

    #[test]
    fn folders_past_the_stream_limit_are_not_decoded() {
        let mut limits = crate::limits::Limits::for_image(MSZIP.len() as u64);
        limits.max_stream_bytes = 4096;
        let u = crate::formats::testutil::unpack_with_limits(&Cab, MSZIP, limits);
        assert_eq!(u.entries.len(), 4);
        assert!(u.entries.iter().all(|e| matches!(e.data, EntryData::None)));
        assert!(u
            .warnings
            .iter()
            .any(|(k, m)| *k == WarningKind::Limit && m.contains("exceeds 4096 bytes")));
    }

    #[test]
    fn probe_rejects_bad_headers() {
        assert!(Cab.probe(b"MSCF\0\0\0\0").is_none());
        let mut d = STORED.to_vec();
        d[25] = 2; // version 2.x
        assert!(Cab.probe(&d).is_none());
        let mut d = STORED.to_vec();
        d[8..12].copy_from_slice(&40u32.to_le_bytes()); // tables outside the cabinet
        assert!(Cab.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Cab, STORED);
        hostile(&Cab, MSZIP);
    }
}
