//! Huawei HWNP upgrade packages, as loaded by Huawei ONT and home gateway models (HG8245,
//! HG8145, EG8145 …): a 36-byte little-endian header (magic `HWNP`; the package size, stored
//! big-endian and 76 bytes short of the file's length; a CRC-32 of everything from offset
//! 0x0C to the end; the header size and a CRC-32 of the header from offset 0x14 to the end of
//! the item table; the item count, the product list size and the size of one item record),
//! then a product list (`120|130|…`, the boards the package is for), then one 360-byte record
//! per item: index, CRC-32 of the item's bytes, their offset and size, a destination name of
//! 256 bytes (`file:/var/run.sh`, `flash:rootfs`, `flash:kernel`), a section of 16 (`UPGRDCHECK`,
//! `SIGNINFO`, `KERNEL`, `ROOTFS`), a version of 64 and a policy word.
//!
//! Every item is yielded: `file:` items as files at their destination path, every other item
//! (flash partitions, unnamed parts) as a stream labelled by its name, each with its section,
//! version, policy and CRC result in the details. Every CRC is checked and a mismatch is a
//! warning, not a refusal: repacked packages (where the header no longer matches the items)
//! are common and their items are still what the device receives. Items that overlap each
//! other or the header, or lie past the data, are reported.
//!
//! Written here: the layout is a fixed header and a table of fixed records, and no crate reads
//! it.

use crate::cursor::{be32, le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A Huawei HWNP upgrade package.
pub struct Hwnp;

static MAGICS: &[Magic] = &[Magic::at_start(b"HWNP")];

/// The fixed header.
const HEADER_LEN: usize = 36;
/// What the big-endian size field leaves out of the file's length.
const SIZE_BIAS: u64 = 76;
/// The bytes of an item record this reader uses (the record may be longer).
const ITEM_MIN: usize = 360;
/// Longest item record accepted.
const ITEM_MAX: usize = 4096;
/// Most items one package may list (real packages hold a few dozen).
const MAX_ITEMS: usize = 4096;
/// Start of the span the whole-package CRC covers.
const FILE_CRC_FROM: usize = 0x0C;
/// Start of the span the header CRC covers.
const HEADER_CRC_FROM: usize = 0x14;

/// One item record.
#[derive(Debug, Clone)]
struct Item {
    index: u32,
    crc: u32,
    offset: u64,
    size: u64,
    name: String,
    section: String,
    version: String,
    policy: u32,
}

/// The header and item table.
#[derive(Debug, Clone)]
struct Package {
    /// File length the header declares.
    declared: u64,
    file_crc: u32,
    header_size: u32,
    header_crc: u32,
    products: String,
    /// End of the item table.
    table_end: usize,
    items: Vec<Item>,
}

/// A NUL-terminated text field, with anything unprintable replaced.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end]
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

impl Package {
    /// Read the header and the item table; `None` unless both are whole and the records
    /// hold together (the magic alone is four printable letters).
    fn parse(data: &[u8]) -> Option<Package> {
        if data.get(..4)? != b"HWNP" {
            return None;
        }
        let declared = be32(data, 4)? as u64 + SIZE_BIAS;
        let count = le32(data, 20)? as usize;
        let products_len = le16(data, 26)? as usize;
        let item_len = le32(data, 28)? as usize;
        if count == 0 || count > MAX_ITEMS || !(ITEM_MIN..=ITEM_MAX).contains(&item_len) {
            return None;
        }
        let table_at = HEADER_LEN + products_len;
        let table_end = table_at + count * item_len;
        let table = data.get(table_at..table_end)?;
        let mut items = Vec::with_capacity(count);
        for rec in table.chunks_exact(item_len) {
            let name = text(&rec[16..272]);
            if name.is_empty() {
                return None;
            }
            items.push(Item {
                index: le32(rec, 0)?,
                crc: le32(rec, 4)?,
                offset: le32(rec, 8)? as u64,
                size: le32(rec, 12)? as u64,
                name,
                section: text(&rec[272..288]),
                version: text(&rec[288..352]),
                policy: le32(rec, 352)?,
            });
        }
        Some(Package {
            declared,
            file_crc: le32(data, 8)?,
            header_size: le32(data, 12)?,
            header_crc: le32(data, 16)?,
            products: text(&data[HEADER_LEN..table_at]),
            table_end,
            items,
        })
    }

    /// Bytes the package spans: the declared length, or further when items run past it (a
    /// package repacked without fixing its header).
    fn span(&self) -> u64 {
        self.items
            .iter()
            .map(|i| i.offset + i.size)
            .fold(self.declared.max(self.table_end as u64), u64::max)
    }
}

/// `file:/var/x` → the path `/var/x`; other names stay stream labels.
fn file_path(name: &str) -> Option<&str> {
    let p = name.strip_prefix("file:")?;
    (!p.trim_matches('/').is_empty()).then_some(p)
}

fn ok(b: bool) -> &'static str {
    if b {
        "ok"
    } else {
        "mismatch"
    }
}

impl Format for Hwnp {
    fn name(&self) -> &'static str {
        "hwnp"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let p = Package::parse(data)?;
        Some(Probe {
            length: Some(p.span()),
            description: format!("Huawei HWNP upgrade package, {} items", p.items.len()),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let p = Package::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad HWNP header or item table".into()))?;
        let mut out = Unpacked::default();
        out.detail("items", p.items.len());
        out.detail("declared_size", p.declared);
        out.detail("header_size", p.header_size);
        if !p.products.is_empty() {
            let mut products = p.products.trim_end_matches('|').to_string();
            products.truncate(512);
            out.detail("products", products);
        }
        // The header CRC covers the header from 0x14 through the item table.
        let header_ok = crc32fast::hash(&data[HEADER_CRC_FROM..p.table_end]) == p.header_crc;
        out.detail("header_crc", ok(header_ok));
        if !header_ok {
            out.warn(
                WarningKind::Checksum,
                format!("header CRC mismatch (stored {:#010x})", p.header_crc),
            );
        }
        let len = data.len() as u64;
        match usize::try_from(p.declared)
            .ok()
            .and_then(|end| data.get(FILE_CRC_FROM..end))
        {
            Some(span) if p.declared >= FILE_CRC_FROM as u64 => {
                let file_ok = crc32fast::hash(span) == p.file_crc;
                out.detail("crc", ok(file_ok));
                if !file_ok {
                    out.warn(
                        WarningKind::Checksum,
                        format!("package CRC mismatch (stored {:#010x})", p.file_crc),
                    );
                }
            }
            _ => {
                out.detail("crc", "unchecked (truncated)");
                out.warn(
                    WarningKind::Truncated,
                    format!("package declares {} bytes, {len} present", p.declared),
                );
            }
        }
        if p.span() > p.declared && p.declared >= p.table_end as u64 {
            out.warn(
                WarningKind::Corrupt,
                format!(
                    "items run to {:#x}, past the {} bytes the header declares (a repacked package?)",
                    p.span(),
                    p.declared
                ),
            );
        }
        // Overlaps: items sorted by offset, each checked against the furthest end before it.
        let mut order: Vec<usize> = (0..p.items.len()).collect();
        order.sort_by_key(|&i| (p.items[i].offset, p.items[i].size));
        let mut furthest: Option<(u64, usize)> = None;
        for &i in &order {
            let it = &p.items[i];
            if it.size == 0 {
                continue;
            }
            if it.offset < p.table_end as u64 {
                out.warn(
                    WarningKind::Corrupt,
                    format!("item {:?} starts inside the header", it.name),
                );
            }
            if let Some((end, j)) = furthest {
                if it.offset < end {
                    out.warn(
                        WarningKind::Corrupt,
                        format!("item {:?} overlaps item {:?}", it.name, p.items[j].name),
                    );
                }
            }
            let end = it.offset + it.size;
            if furthest.is_none_or(|(e, _)| end > e) {
                furthest = Some((end, i));
            }
        }
        for it in &p.items {
            let start = it.offset.min(len);
            let avail = len.saturating_sub(start).min(it.size);
            let crc = if avail == it.size {
                let bytes = &data[start as usize..(start + avail) as usize];
                let good = crc32fast::hash(bytes) == it.crc;
                if !good {
                    out.warn(
                        WarningKind::Checksum,
                        format!("item {:?}: CRC mismatch", it.name),
                    );
                }
                ok(good)
            } else {
                out.warn(
                    WarningKind::Truncated,
                    format!(
                        "item {:?} declares {} bytes at {:#x}, {avail} present",
                        it.name, it.size, it.offset
                    ),
                );
                "unchecked (truncated)"
            };
            let range = EntryData::Range {
                offset: start,
                length: avail,
            };
            let entry = match file_path(&it.name) {
                Some(path) => Entry::fs(path, EntryKind::File).with_data(range),
                None => Entry::stream(it.name.replace('/', "_"), range),
            };
            let mut entry = entry
                .with_detail("item", &it.name)
                .with_detail("index", it.index)
                .with_detail("offset", format!("{:#x}", it.offset))
                .with_detail("crc", crc)
                .with_detail("policy", it.policy);
            if !it.section.is_empty() {
                entry = entry.with_detail("section", &it.section);
            }
            if !it.version.is_empty() {
                entry = entry.with_detail("version", &it.version);
            }
            if it.section.starts_with("SIGN") {
                entry = entry.with_detail("role", "signature");
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
    use crate::formats::testutil::{entry_bytes, unpack};

    /// A real package (Huawei ONT maintenance package enabling telnet; see the README beside
    /// it): five `file:` items, a signature among them.
    const PKG: &[u8] = include_bytes!("../../tests/fixtures/real/hwnp-ont-telnet.bin");

    fn checksums(u: &Unpacked) -> usize {
        u.warnings
            .iter()
            .filter(|(k, _)| *k == WarningKind::Checksum)
            .count()
    }

    /// A package made here: header, no product list, the given items (name, bytes) laid
    /// out back to back after the table, every CRC right.
    fn build(items: &[(&str, &[u8])]) -> Vec<u8> {
        let table_end = HEADER_LEN + items.len() * ITEM_MIN;
        let mut table = Vec::new();
        let mut body = Vec::new();
        for (i, (name, bytes)) in items.iter().enumerate() {
            let mut rec = vec![0u8; ITEM_MIN];
            rec[0..4].copy_from_slice(&(i as u32).to_le_bytes());
            rec[4..8].copy_from_slice(&crc32fast::hash(bytes).to_le_bytes());
            let at = (table_end + body.len()) as u32;
            rec[8..12].copy_from_slice(&at.to_le_bytes());
            rec[12..16].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
            rec[16..16 + name.len()].copy_from_slice(name.as_bytes());
            rec[272..278].copy_from_slice(b"ROOTFS");
            table.extend_from_slice(&rec);
            body.extend_from_slice(bytes);
        }
        let total = table_end + body.len();
        let mut d = b"HWNP".to_vec();
        d.extend_from_slice(&((total as u32) - SIZE_BIAS as u32).to_be_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&(table_end as u32).to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&(items.len() as u32).to_le_bytes());
        d.extend_from_slice(&[0, 0, 0, 0]);
        d.extend_from_slice(&(ITEM_MIN as u32).to_le_bytes());
        d.extend_from_slice(&[0; 4]);
        d.extend_from_slice(&table);
        d.extend_from_slice(&body);
        let hcrc = crc32fast::hash(&d[HEADER_CRC_FROM..table_end]);
        d[16..20].copy_from_slice(&hcrc.to_le_bytes());
        let fcrc = crc32fast::hash(&d[FILE_CRC_FROM..]);
        d[8..12].copy_from_slice(&fcrc.to_le_bytes());
        d
    }

    #[test]
    fn real_package_items_are_files_with_checked_crcs() {
        let p = Hwnp.probe(PKG).expect("a real HWNP package");
        assert_eq!(p.length, Some(PKG.len() as u64));
        let u = unpack(&Hwnp, PKG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["crc"], "ok");
        assert_eq!(u.details["header_crc"], "ok");
        let paths: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/var/UpgradeCheck.xml",
                "/var/signature",
                "/mnt/jffs2/Updateflag",
                "/var/run.sh",
                "/var/efs"
            ]
        );
        assert!(u.entries.iter().all(|e| e.kind == EntryKind::File));
        assert!(u.entries.iter().all(|e| e.details["crc"] == "ok"));
        assert_eq!(u.entries[1].details["role"], "signature");
        assert_eq!(u.entries[1].details["section"], "SIGNINFO");
        let script = entry_bytes(PKG, &u.entries[3]).unwrap();
        assert!(script.starts_with(b"#! /bin/"));
    }

    #[test]
    fn flash_items_are_streams_and_crc_damage_warns() {
        let d = build(&[
            ("flash:kernel", b"kernel bytes"),
            ("flash:rootfs", b"hsqs...."),
        ]);
        let u = unpack(&Hwnp, &d);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries[0].kind, EntryKind::Stream);
        assert_eq!(u.entries[1].path, "flash:rootfs");
        assert_eq!(entry_bytes(&d, &u.entries[1]).unwrap(), b"hsqs....");
        // One byte of an item: its CRC and the package CRC fail; the header CRC holds.
        let mut bad = d.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let u = unpack(&Hwnp, &bad);
        assert_eq!(checksums(&u), 2, "{:?}", u.warnings);
        assert_eq!(u.details["header_crc"], "ok");
        assert_eq!(u.entries[1].details["crc"], "mismatch");
        // One byte of the table: the header CRC fails too.
        let mut bad = d.clone();
        bad[HEADER_LEN + 300] ^= 1;
        assert_eq!(unpack(&Hwnp, &bad).details["header_crc"], "mismatch");
    }

    #[test]
    fn truncated_package_keeps_what_is_there() {
        let cut = &PKG[..PKG.len() - 1000];
        let u = unpack(&Hwnp, cut);
        assert_eq!(u.details["crc"], "unchecked (truncated)");
        assert_eq!(u.entries.len(), 5);
        assert!(
            u.warnings
                .iter()
                .filter(|(k, _)| *k == WarningKind::Truncated)
                .count()
                >= 2,
            "{:?}",
            u.warnings
        );
        // Cut inside the item table: not a package.
        assert!(Hwnp.probe(&PKG[..HEADER_LEN + 300]).is_none());
    }

    #[test]
    fn garbage_counts_and_overlapping_items_are_handled() {
        let mut d = build(&[("flash:a", b"aaaaaaaa"), ("flash:b", b"bbbbbbbb")]);
        // Item b claims to start inside item a and run far past the end.
        let rec_b = HEADER_LEN + ITEM_MIN;
        let a_at = le32(&d, HEADER_LEN + 8).unwrap();
        d[rec_b + 8..rec_b + 12].copy_from_slice(&(a_at + 4).to_le_bytes());
        d[rec_b + 12..rec_b + 16].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let p = Hwnp.probe(&d).unwrap();
        assert!(p.length.unwrap() > d.len() as u64);
        let u = unpack(&Hwnp, &d);
        assert!(u.warnings.iter().any(|(_, m)| m.contains("overlaps")));
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        for e in &u.entries {
            assert!(entry_bytes(&d, e).is_some());
        }
        // An item count or record size out of bounds is not a package.
        let mut bad = d.clone();
        bad[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Hwnp.probe(&bad).is_none());
        let mut bad = d.clone();
        bad[28..32].copy_from_slice(&12u32.to_le_bytes());
        assert!(Hwnp.probe(&bad).is_none());
    }

    #[test]
    fn names_that_climb_stay_paths_for_the_driver_to_check() {
        let d = build(&[("file:../../etc/passwd", b"x"), ("file:/", b"y")]);
        let u = unpack(&Hwnp, &d);
        assert_eq!(u.entries[0].kind, EntryKind::File);
        assert_eq!(u.entries[0].path, "../../etc/passwd");
        // A `file:` name without a path is a stream, not a file named `/`.
        assert_eq!(u.entries[1].kind, EntryKind::Stream);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Hwnp, PKG, &Hostile::flips(300));
    }
}
