//! OWFS, the flat web-page file system of TP-Link's VxWorks routers (TL-WR702N, WR740N and
//! kin): a 32-byte signature (`ow` or `OW` sixteen times), a small header with the file
//! count, a table of fixed-size entries (name, size, offset from the signature), then the
//! files. Two layouts are in the field:
//!
//! | signature | header after it | entry |
//! |---|---|---|
//! | `owow…` | version, count, a checksum-like word | name\[40\], size, offset (48 bytes) |
//! | `OWOW…` | a word, count | name\[64\], size, offset, a word (76 bytes) |
//!
//! All integers are big-endian. Files of the first layout are each an lzma-alone stream
//! (13-byte header) and are decoded here; files that are not are carved as stored.

use super::lzma::Lzma;
use crate::cursor::{be32, cstr, le32, le64};
use crate::format::{
    Entry, EntryData, EntryKind, Format, FormatWarning, Magic, Probe, UnpackContext, Unpacked,
};
use crate::{Blob, FormatError};

/// An OWFS file system.
pub struct Owfs;

const LOWER: &[u8; 32] = b"owowowowowowowowowowowowowowowow";
const UPPER: &[u8; 32] = b"OWOWOWOWOWOWOWOWOWOWOWOWOWOWOWOW";

static MAGICS: &[Magic] = &[Magic::at_start(LOWER), Magic::at_start(UPPER)];

/// Most entries believed.
const MAX_FILES: usize = 65_536;

/// The two entry layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `owow…`: header of 12 bytes, 48-byte entries.
    Lower,
    /// `OWOW…`: header of 8 bytes, 76-byte entries.
    Upper,
}

impl Layout {
    fn header(self) -> usize {
        match self {
            Layout::Lower => 12,
            Layout::Upper => 8,
        }
    }
    fn name_len(self) -> usize {
        match self {
            Layout::Lower => 40,
            Layout::Upper => 64,
        }
    }
    fn entry(self) -> usize {
        match self {
            Layout::Lower => 48,
            Layout::Upper => 76,
        }
    }
}

/// One entry of the table.
#[derive(Debug, Clone)]
struct OwfsEntry {
    name: String,
    size: u64,
    offset: u64,
}

/// Layout, header words and entries, when the table is sound: names printable, data after
/// the table and inside `data`.
fn parse(data: &[u8]) -> Option<(Layout, Vec<u32>, Vec<OwfsEntry>, u64)> {
    let layout = if data.starts_with(LOWER) {
        Layout::Lower
    } else if data.starts_with(UPPER) {
        Layout::Upper
    } else {
        return None;
    };
    let words: Vec<u32> = (0..layout.header() / 4)
        .map(|i| be32(data, 32 + 4 * i))
        .collect::<Option<_>>()?;
    let count = words[1] as usize;
    if count == 0 || count > MAX_FILES {
        return None;
    }
    let table = 32 + layout.header();
    let table_end = table.checked_add(count.checked_mul(layout.entry())?)?;
    if table_end > data.len() {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let mut end = table_end as u64;
    for i in 0..count {
        let at = table + i * layout.entry();
        let raw = &data[at..at + layout.name_len()];
        let name_len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        if name_len == 0 || !raw[..name_len].iter().all(|&b| (0x21..0x7f).contains(&b)) {
            return None;
        }
        let size = u64::from(be32(data, at + layout.name_len())?);
        let offset = u64::from(be32(data, at + layout.name_len() + 4)?);
        let stop = offset.checked_add(size)?;
        if offset < table_end as u64 || stop > data.len() as u64 {
            return None;
        }
        end = end.max(stop);
        entries.push(OwfsEntry {
            name: cstr(raw),
            size,
            offset,
        });
    }
    Some((layout, words, entries, end))
}

/// Decode an lzma-alone stream (13-byte header: properties, dictionary size, uncompressed
/// size) with the [`Lzma`] reader, whatever its properties byte (TP-Link uses 0x5a and 0x6e,
/// which the magic scan does not look for): the decoded bytes (charged to the budget) and
/// the reader's warnings. `None` when `data` does not start with a plausible header.
pub(crate) fn decode_lzma_alone(
    data: &Blob,
    ctx: &UnpackContext,
) -> Option<Result<(Blob, Vec<FormatWarning>), FormatError>> {
    let props = *data.first()?;
    let dict = le32(data, 1)?;
    let size = le64(data, 5)?;
    let plausible = props < 225
        && (4096..=1 << 30).contains(&dict)
        && (size == u64::MAX || (1..=4 << 30).contains(&size))
        && *data.get(13)? == 0;
    if !plausible {
        return None;
    }
    Some(
        Lzma.unpack(data, ctx)
            .and_then(|u| match u.entries.into_iter().next().map(|e| e.data) {
                Some(EntryData::Owned(b)) => Ok((b, u.warnings)),
                _ => Err(FormatError::Decode("lzma stream decoded to nothing".into())),
            }),
    )
}

impl Format for Owfs {
    fn name(&self) -> &'static str {
        "owfs"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (_, _, entries, end) = parse(data)?;
        Some(Probe {
            length: Some(end),
            description: format!("TP-Link OWFS, {} files", entries.len()),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (layout, words, entries, _) =
            parse(data).ok_or_else(|| FormatError::Corrupt("bad OWFS table".into()))?;
        let mut out = Unpacked::default();
        out.detail(
            "layout",
            match layout {
                Layout::Lower => "owow, 48-byte entries",
                Layout::Upper => "OWOW, 76-byte entries",
            },
        );
        out.detail("files", entries.len());
        if layout == Layout::Lower {
            out.detail("version", words[0]);
            out.detail("header_word", format!("{:#010x}", words[2]));
        }
        if entries.len() > ctx.max_entries() {
            return Err(FormatError::Limit(format!(
                "{} files, over the limit of {}",
                entries.len(),
                ctx.max_entries()
            )));
        }
        let mut compressed = 0usize;
        for e in entries {
            let (start, len) = (e.offset as usize, e.size as usize);
            let Some(stored) = data.slice(start..start + len) else {
                continue;
            };
            let entry = Entry::fs(format!("/{}", e.name), EntryKind::File);
            let entry = match decode_lzma_alone(&stored, ctx) {
                Some(Ok((bytes, warnings))) => {
                    compressed += 1;
                    for (kind, w) in warnings {
                        out.warn(kind, format!("{}: {w}", e.name));
                    }
                    entry
                        .with_data(EntryData::Owned(bytes))
                        .with_detail("compression", "lzma")
                        .with_detail("stored_size", e.size)
                }
                Some(Err(err)) => {
                    out.warn(
                        err.kind(),
                        format!("{}: lzma data does not decode: {err}", e.name),
                    );
                    entry.with_data(EntryData::Range {
                        offset: e.offset,
                        length: e.size,
                    })
                }
                None => entry.with_data(EntryData::Range {
                    offset: e.offset,
                    length: e.size,
                }),
            };
            out.entries.push(entry);
        }
        if compressed > 0 {
            out.detail("compression", format!("lzma ({compressed} files)"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

    const LZMA: &[u8] = include_bytes!("../../tests/fixtures/compress/payload.lzma");

    /// An OWFS of `files` (name, stored bytes) in `layout`.
    fn build(layout: Layout, files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut d = match layout {
            Layout::Lower => LOWER.to_vec(),
            Layout::Upper => UPPER.to_vec(),
        };
        let table_end = 32 + layout.header() + files.len() * layout.entry();
        let mut words = vec![1u32, files.len() as u32];
        if layout == Layout::Lower {
            words.push(0x0001_4034);
        }
        for w in words {
            d.extend_from_slice(&w.to_be_bytes());
        }
        let mut offset = table_end;
        for (name, bytes) in files {
            let mut n = name.as_bytes().to_vec();
            n.resize(layout.name_len(), 0);
            d.extend_from_slice(&n);
            d.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            d.extend_from_slice(&(offset as u32).to_be_bytes());
            if layout == Layout::Upper {
                d.extend_from_slice(&0u32.to_be_bytes());
            }
            offset += bytes.len().div_ceil(4) * 4;
        }
        for (_, bytes) in files {
            d.extend_from_slice(bytes);
            while !d.len().is_multiple_of(4) {
                d.push(0);
            }
        }
        d
    }

    #[test]
    fn lzma_files_are_decoded_and_stored_files_carved() {
        for layout in [Layout::Lower, Layout::Upper] {
            let d = build(
                layout,
                &[("index.htm", LZMA), ("logo.gif", b"GIF89a stored")],
            );
            let p = Owfs.probe(&d).expect("probe");
            assert_eq!(p.description, "TP-Link OWFS, 2 files");
            let u = unpack(&Owfs, &d);
            assert_eq!(u.entries.len(), 2);
            assert_eq!(u.entries[0].path, "/index.htm");
            let got = sha_hex(&entry_bytes(&d, &u.entries[0]).expect("bytes"));
            assert_eq!(
                got,
                crate::formats::streamout::tests::expected_sha("payload.lzma")
            );
            assert_eq!(
                entry_bytes(&d, &u.entries[1]).as_deref(),
                Some(&b"GIF89a stored"[..])
            );
        }
    }

    #[test]
    fn tables_that_point_outside_or_inside_the_table_are_refused() {
        let mut d = build(Layout::Lower, &[("a.htm", b"abc")]);
        // Offset inside the table.
        d[32 + 12 + 44..32 + 12 + 48].copy_from_slice(&8u32.to_be_bytes());
        assert!(Owfs.probe(&d).is_none());
        let mut d = build(Layout::Lower, &[("a.htm", b"abc")]);
        // Size past the end.
        d[32 + 12 + 40..32 + 12 + 44].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
        assert!(Owfs.probe(&d).is_none());
        let mut d = build(Layout::Lower, &[("a.htm", b"abc")]);
        // Count far larger than the data.
        d[36..40].copy_from_slice(&60_000u32.to_be_bytes());
        assert!(Owfs.probe(&d).is_none());
        assert!(Owfs.probe(LOWER).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let d = build(
            Layout::Lower,
            &[("index.htm", LZMA), ("x.js", b"var a = 1;")],
        );
        hostile_with(&Owfs, &d, &Hostile::flips(300));
        let d = build(Layout::Upper, &[("a", b"1"), ("b", b"2")]);
        hostile_with(&Owfs, &d, &Hostile::flips(100));
    }
}
