//! Ambarella ROMFS: the flat file system of Ambarella camera SoC firmware (dash cams, action
//! and drone cameras) holding calibration tables, fonts and DSP microcode. A 2048-byte
//! little-endian header (file count, magic `8A 32 FC 66`, then fill), then one 128-byte
//! descriptor per file (NUL-padded name of up to 116 bytes, data offset from the file
//! system's start, data length, descriptor magic `76 AB 87 23`), then the files' data, each
//! usually aligned to a flash page and padded with `FF`.
//!
//! The format has no checksums and no directories: a name may still hold `/`, and is made
//! absolute by the shared member-name rule (`..` is left for the driver to refuse).
//!
//! Written here (no crate reads it).

use crate::cursor::{cstr, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// An Ambarella ROMFS image.
pub struct AmbarellaRomfs;

/// Header magic, after the 4-byte file count.
const MAGIC: &[u8] = &[0x8A, 0x32, 0xFC, 0x66];
/// Descriptor magic, the last 4 bytes of every file descriptor.
const ENTRY_MAGIC: &[u8] = &[0x76, 0xAB, 0x87, 0x23];
static MAGICS: &[Magic] = &[Magic::at(MAGIC, 4)];

/// File count, magic, fill: the descriptors start here.
const HEADER_LEN: usize = 2048;
const DESC_LEN: usize = 128;
const NAME_LEN: usize = 116;
/// More files than a real image carries (tens to a few thousand).
const MAX_FILES: usize = 65_536;

/// One file descriptor.
struct Desc {
    name: String,
    offset: u64,
    length: u64,
}

/// The descriptors, when the count is sane and every descriptor is present and carries its
/// magic; `None` otherwise.
fn descriptors(data: &[u8]) -> Option<Vec<Desc>> {
    if data.get(4..8)? != MAGIC {
        return None;
    }
    let count = le32(data, 0)? as usize;
    if count == 0 || count > MAX_FILES {
        return None;
    }
    let table_end = HEADER_LEN + count * DESC_LEN;
    let table = data.get(HEADER_LEN..table_end)?;
    let mut out = Vec::with_capacity(count);
    for d in table.chunks_exact(DESC_LEN) {
        if &d[124..128] != ENTRY_MAGIC {
            return None;
        }
        let offset = u64::from(le32(d, 116)?);
        // Data never overlaps the header and descriptors.
        if offset < table_end as u64 {
            return None;
        }
        out.push(Desc {
            name: cstr(&d[..NAME_LEN]),
            offset,
            length: u64::from(le32(d, 120)?),
        });
    }
    Some(out)
}

impl Format for AmbarellaRomfs {
    fn name(&self) -> &'static str {
        "ambarella-romfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let descs = descriptors(data)?;
        let end = descs.iter().map(|d| d.offset + d.length).max()?;
        Some(Probe {
            length: Some(end),
            description: format!("Ambarella ROMFS, {} files", descs.len()),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let descs = descriptors(data)
            .ok_or_else(|| FormatError::Corrupt("bad Ambarella ROMFS header".into()))?;
        if descs.len() > ctx.max_entries() {
            return Err(FormatError::Limit(format!(
                "{} files exceed the entry limit",
                descs.len()
            )));
        }
        let mut out = Unpacked::default();
        out.detail("files", descs.len());
        let len = data.len() as u64;
        for (i, d) in descs.iter().enumerate() {
            let start = d.offset.min(len);
            let avail = (len - start).min(d.length);
            if avail < d.length {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "file {:?} declares {} bytes at {:#x}, {avail} present",
                        d.name, d.length, d.offset
                    ),
                );
            }
            let path = if d.name.is_empty() {
                format!("/file{i}")
            } else {
                super::member_name::absolute(&d.name, &['/'], false)
            };
            out.entries.push(
                Entry::fs(path, EntryKind::File)
                    .with_data(EntryData::Range {
                        offset: start,
                        length: avail,
                    })
                    .with_detail("offset", format!("{:#x}", d.offset)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-camfs/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/image.ambafs");

    #[test]
    fn files_are_read_at_their_offsets() {
        check_streams_in(MANIFEST, &AmbarellaRomfs, "image.ambafs", IMG);
        let u = unpack(&AmbarellaRomfs, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        let p = AmbarellaRomfs.probe(IMG).unwrap();
        assert!(p.length.unwrap() <= IMG.len() as u64);
        assert!(p.description.contains("3 files"), "{}", p.description);
    }

    #[test]
    fn bad_magics_counts_and_offsets_are_refused() {
        let mut bad = IMG.to_vec();
        bad[HEADER_LEN + 124] ^= 1; // first descriptor's magic
        assert!(AmbarellaRomfs.probe(&bad).is_none());
        let mut zero = IMG.to_vec();
        zero[0..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(AmbarellaRomfs.probe(&zero).is_none());
        let mut many = IMG.to_vec();
        many[0..4].copy_from_slice(&1000u32.to_le_bytes()); // table runs past the end
        assert!(AmbarellaRomfs.probe(&many).is_none());
        let mut inside = IMG.to_vec();
        inside[HEADER_LEN + 116..HEADER_LEN + 120].copy_from_slice(&16u32.to_le_bytes());
        assert!(AmbarellaRomfs.probe(&inside).is_none());
        assert!(AmbarellaRomfs.probe(&IMG[..HEADER_LEN]).is_none());
    }

    #[test]
    fn truncation_warns_and_keeps_what_is_there() {
        let end = AmbarellaRomfs.probe(IMG).unwrap().length.unwrap() as usize;
        let cut = &IMG[..end - 100];
        let u = unpack(&AmbarellaRomfs, cut);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries.len(), 3);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&AmbarellaRomfs, IMG, &Hostile::flips(200));
    }
}
