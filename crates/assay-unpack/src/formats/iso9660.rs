//! ISO 9660 (CD/DVD images) with Rock Ridge (POSIX names, modes, owners, symlinks, device
//! numbers, relocated deep directories) and the Joliet tree as fallback.
//!
//! Own reader: the crates on crates.io either read through `Read + Seek` devices with
//! unbounded recursion (`iso9660`), target writing (`hadris-iso` 3.0 is a release candidate),
//! or skip Rock Ridge; the format is a few fixed records, simplest to bound ourselves.

use crate::cursor::{be32, le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};
use std::collections::HashSet;

/// An ISO 9660 volume (the image starts at the system area, 16 sectors before the first
/// volume descriptor).
pub struct Iso9660;

static MAGICS: &[Magic] = &[Magic::at(b"CD001", 0x8001)];

const SECTOR: usize = 2048;
/// Volume descriptors looked at before giving up on a terminator.
const MAX_DESCRIPTORS: usize = 64;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 64;
/// Largest directory extent read.
const MAX_DIR_BYTES: usize = 16 << 20;
/// Continuation areas followed for one record.
const MAX_CONTINUATIONS: usize = 16;

/// The descriptors the reader needs: primary, and Joliet if present.
#[derive(Debug, Clone)]
struct Volume {
    block_size: u64,
    blocks: u64,
    label: String,
    primary_root: Vec<u8>,
    joliet_root: Option<Vec<u8>>,
}

fn descriptors(data: &[u8]) -> Option<Volume> {
    let mut primary: Option<(u64, u64, String, Vec<u8>)> = None;
    let mut joliet = None;
    for i in 0..MAX_DESCRIPTORS {
        let off = (16 + i) * SECTOR;
        let d = data.get(off..off + SECTOR)?;
        if &d[1..6] != b"CD001" || d[6] != 1 {
            return None;
        }
        match d[0] {
            1 if primary.is_none() => {
                let blocks = u64::from(le32(d, 80)?);
                let bs = u64::from(le16(d, 128)?);
                if blocks == 0 || be32(d, 84)? != blocks as u32 {
                    return None;
                }
                if !matches!(bs, 512 | 1024 | 2048)
                    || u16::from_be_bytes([d[130], d[131]]) as u64 != bs
                {
                    return None;
                }
                let root = d.get(156..190)?.to_vec();
                if root[0] != 34 || root[25] & 2 == 0 {
                    return None;
                }
                let label = String::from_utf8_lossy(&d[40..72]).trim_end().to_string();
                primary = Some((bs, blocks, label, root));
            }
            2 => {
                let esc = &d[88..91];
                if matches!(esc, b"%/@" | b"%/C" | b"%/E") {
                    let root = d.get(156..190)?.to_vec();
                    if root[0] == 34 && root[25] & 2 != 0 {
                        joliet = Some(root);
                    }
                }
            }
            255 => break,
            _ => {}
        }
    }
    let (block_size, blocks, label, primary_root) = primary?;
    Some(Volume {
        block_size,
        blocks,
        label,
        primary_root,
        joliet_root: joliet,
    })
}

/// A directory record, decoded.
#[derive(Debug, Clone, Default)]
struct Record {
    extent: u64,
    size: u64,
    dir: bool,
    multi: bool,
    /// Recording date and time, Unix seconds.
    mtime: Option<i64>,
    name: Vec<u8>,
    system_use: Vec<u8>,
}

/// Unix seconds of a directory record's 7-byte date: years since 1900, month, day, hour,
/// minute, second, and the offset from UTC in 15-minute steps (signed). `None` for the
/// all-zero "not recorded" date and for impossible fields.
fn record_time(t: &[u8]) -> Option<i64> {
    let t: &[u8; 7] = t.try_into().ok()?;
    if t[..6] == [0; 6] {
        return None;
    }
    let [y, mo, d, h, mi, s, _] = t.map(i64::from);
    let local = assay_model::time::unix_from_civil(1900 + y, mo, d, h, mi, s)?;
    let offset = i64::from(t[6] as i8);
    Some(local - offset * 15 * 60)
}

fn parse_record(r: &[u8]) -> Option<Record> {
    let len = usize::from(*r.first()?);
    if len < 34 || len > r.len() {
        return None;
    }
    let r = &r[..len];
    let name_len = usize::from(r[32]);
    let name = r.get(33..33 + name_len)?.to_vec();
    let su_start = 33 + name_len + (1 - name_len % 2);
    Some(Record {
        extent: u64::from(le32(r, 2)?),
        size: u64::from(le32(r, 10)?),
        dir: r[25] & 2 != 0,
        multi: r[25] & 0x80 != 0,
        mtime: r.get(18..25).and_then(record_time),
        name,
        system_use: r.get(su_start..).unwrap_or_default().to_vec(),
    })
}

/// What the Rock Ridge entries of one record say.
#[derive(Debug, Default)]
struct RockRidge {
    name: Option<Vec<u8>>,
    mode: Option<u32>,
    uid: u32,
    gid: u32,
    link: Option<String>,
    device: Option<(u32, u32)>,
    /// `CL`: this file entry stands for the directory relocated to this extent.
    child_link: Option<u64>,
    /// `RE`: this directory was relocated; list it only through its `CL`.
    relocated: bool,
    /// Any Rock Ridge entry seen.
    any: bool,
}

/// Read the SUSP entries of a record (and its continuation areas).
fn rock_ridge(data: &[u8], su: &[u8], skip: usize, block: u64) -> RockRidge {
    let mut rr = RockRidge::default();
    let mut areas: Vec<Vec<u8>> = vec![su.get(skip..).unwrap_or_default().to_vec()];
    let mut link = String::new();
    let mut link_open = false;
    let mut idx = 0;
    while idx < areas.len() && idx <= MAX_CONTINUATIONS {
        let area = std::mem::take(&mut areas[idx]);
        idx += 1;
        let mut pos = 0;
        while pos + 4 <= area.len() {
            let sig = [area[pos], area[pos + 1]];
            let len = usize::from(area[pos + 2]);
            if len < 4 || pos + len > area.len() {
                break;
            }
            let e = &area[pos..pos + len];
            pos += len;
            match &sig {
                b"PX" if len >= 36 => {
                    rr.mode = le32(e, 4);
                    rr.uid = le32(e, 20).unwrap_or(0);
                    rr.gid = le32(e, 28).unwrap_or(0);
                    rr.any = true;
                }
                b"PN" if len >= 20 => {
                    let high = le32(e, 4).unwrap_or(0);
                    let low = le32(e, 12).unwrap_or(0);
                    // Writers with a 16-bit dev_t put it all in the low word, as Linux reads.
                    rr.device = Some(if high == 0 && low & !0xff != 0 {
                        (low >> 8, low & 0xff)
                    } else {
                        (high, low)
                    });
                    rr.any = true;
                }
                b"NM" if len >= 5 => {
                    let flags = e[4];
                    if flags & 6 == 0 {
                        rr.name
                            .get_or_insert_with(Vec::new)
                            .extend_from_slice(&e[5..]);
                    }
                    rr.any = true;
                }
                b"SL" if len >= 5 => {
                    rr.any = true;
                    let mut p = 5;
                    while p + 2 <= e.len() {
                        let flags = e[p];
                        let clen = usize::from(e[p + 1]);
                        let Some(content) = e.get(p + 2..p + 2 + clen) else {
                            break;
                        };
                        p += 2 + clen;
                        if !link_open && !link.is_empty() && !link.ends_with('/') {
                            link.push('/');
                        }
                        if flags & 0x02 != 0 {
                            link.push('.');
                        } else if flags & 0x04 != 0 {
                            link.push_str("..");
                        } else if flags & 0x08 != 0 {
                            link.push('/');
                        } else {
                            link.push_str(&String::from_utf8_lossy(content));
                        }
                        link_open = flags & 0x01 != 0;
                    }
                    rr.link = Some(link.clone());
                }
                b"CL" if len >= 12 => {
                    rr.child_link = le32(e, 4).map(u64::from);
                    rr.any = true;
                }
                b"RE" => {
                    rr.relocated = true;
                    rr.any = true;
                }
                b"RR" => rr.any = true,
                b"CE" if len >= 28 => {
                    let (Some(b), Some(o), Some(l)) = (le32(e, 4), le32(e, 12), le32(e, 20)) else {
                        continue;
                    };
                    let start = u64::from(b)
                        .saturating_mul(block)
                        .saturating_add(u64::from(o));
                    let start = usize::try_from(start).unwrap_or(usize::MAX);
                    let end = start.saturating_add(l as usize);
                    if let Some(more) = data.get(start..end.min(start.saturating_add(SECTOR))) {
                        if areas.len() <= MAX_CONTINUATIONS {
                            areas.push(more.to_vec());
                        }
                    }
                }
                b"ST" => break,
                _ => {}
            }
        }
    }
    rr
}

/// The plain ISO 9660 name without its `;1` version and a bare trailing dot.
fn iso_name(raw: &[u8], joliet: bool) -> String {
    let s = if joliet {
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(raw).into_owned()
    };
    let s = match s.rfind(';') {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    s.strip_suffix('.').map(str::to_string).unwrap_or(s)
}

/// The reader's state while walking one tree.
struct Walker<'a> {
    data: &'a [u8],
    block: u64,
    joliet: bool,
    /// SUSP bytes to skip at the start of each system use area (from `SP`); `None` when the
    /// tree has no Rock Ridge.
    susp_skip: Option<usize>,
    visited: HashSet<u64>,
}

impl Walker<'_> {
    fn extent(&self, lba: u64, size: u64) -> Option<&[u8]> {
        let start = usize::try_from(lba.checked_mul(self.block)?).ok()?;
        let len = usize::try_from(size).ok()?.min(MAX_DIR_BYTES);
        self.data.get(start..start.checked_add(len)?)
    }

    /// Records of a directory extent (records never cross a sector boundary).
    fn records(&self, lba: u64, size: u64) -> Option<Vec<Record>> {
        let bytes = self.extent(lba, size)?;
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = usize::from(bytes[pos]);
            if len == 0 {
                pos = (pos / SECTOR + 1) * SECTOR;
                continue;
            }
            let sector_end = ((pos / SECTOR + 1) * SECTOR).min(bytes.len());
            match parse_record(&bytes[pos..sector_end]) {
                Some(r) => out.push(r),
                None => return Some(out),
            }
            pos += len;
        }
        Some(out)
    }

    fn walk(
        &mut self,
        lba: u64,
        size: u64,
        path: &str,
        depth: usize,
        ctx: &UnpackContext,
        out: &mut Unpacked,
    ) {
        if depth > MAX_DEPTH {
            out.warn(
                WarningKind::Limit,
                format!("{path} is nested too deep; not walked"),
            );
            return;
        }
        if !self.visited.insert(lba) {
            out.warn(
                WarningKind::Format,
                format!("directory {path} was already listed: a cycle"),
            );
            return;
        }
        let Some(records) = self.records(lba, size) else {
            out.warn(
                WarningKind::Truncated,
                format!("directory {path} lies outside the image"),
            );
            return;
        };
        // Pending parts of a multi-extent file.
        let mut multi: Vec<(u64, u64)> = Vec::new();
        for r in records.iter().skip(2) {
            if out.entries.len() >= ctx.max_entries() {
                out.warn(WarningKind::Limit, "too many entries; the rest are ignored");
                return;
            }
            let rr = match self.susp_skip {
                Some(skip) => rock_ridge(self.data, &r.system_use, skip, self.block),
                None => RockRidge::default(),
            };
            if rr.relocated {
                continue;
            }
            let name = match &rr.name {
                Some(n) => String::from_utf8_lossy(n).into_owned(),
                None => iso_name(&r.name, self.joliet),
            };
            if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                continue;
            }
            if r.multi {
                multi.push((r.extent, r.size));
                continue;
            }
            let full = format!("{path}/{name}");
            let mut entry = if let Some(target) = rr.link.clone() {
                Entry::fs(full.clone(), EntryKind::Symlink(target))
            } else if r.dir || rr.child_link.is_some() {
                Entry::fs(full.clone(), EntryKind::Directory)
            } else if let (Some((major, minor)), Some(mode)) = (rr.device, rr.mode) {
                match FileType::of_mode(mode) {
                    Some(t @ (FileType::CharDevice | FileType::BlockDevice)) => {
                        Entry::fs(full.clone(), t.entry_kind(String::new, || (major, minor)))
                    }
                    _ => Entry::fs(full.clone(), EntryKind::File),
                }
            } else if rr.mode.and_then(FileType::of_mode) == Some(FileType::Fifo) {
                Entry::fs(full.clone(), EntryKind::Fifo)
            } else if rr.mode.and_then(FileType::of_mode) == Some(FileType::Socket) {
                Entry::fs(full.clone(), EntryKind::Socket)
            } else {
                multi.push((r.extent, r.size));
                let parts = std::mem::take(&mut multi);
                let data = self.file_data(&parts, ctx, &full, out);
                Entry::fs(full.clone(), EntryKind::File).with_data(data)
            };
            multi.clear();
            if let Some(mode) = rr.mode {
                entry = entry.with_owner(mode, rr.uid, rr.gid);
            }
            entry.mtime = r.mtime;
            let is_dir = entry.kind == EntryKind::Directory;
            out.entries.push(entry);
            if is_dir {
                let (lba, size) = match rr.child_link {
                    Some(cl) => match self
                        .records(cl, self.block)
                        .and_then(|v| v.first().cloned())
                    {
                        Some(dot) => (cl, dot.size),
                        None => continue,
                    },
                    None => (r.extent, r.size),
                };
                self.walk(lba, size, &full, depth + 1, ctx, out);
            }
        }
    }

    /// A file's bytes: a zero-copy range for one extent, assembled for several.
    fn file_data(
        &self,
        parts: &[(u64, u64)],
        ctx: &UnpackContext,
        path: &str,
        out: &mut Unpacked,
    ) -> EntryData {
        let len = self.data.len() as u64;
        if let [(lba, size)] = parts {
            let offset = lba.saturating_mul(self.block);
            let length = (*size).min(len.saturating_sub(offset));
            if length < *size {
                out.warn(
                    WarningKind::Truncated,
                    format!("{path}: {} bytes lie past the end", size - length),
                );
            }
            // An extent past the end of a cut image keeps no bytes; its empty range must
            // still lie inside the container.
            return EntryData::Range {
                offset: offset.min(len),
                length,
            };
        }
        let total: u64 = parts.iter().map(|p| p.1).fold(0, u64::saturating_add);
        let total = total.min(ctx.stream_limit());
        if ctx.charge(total).is_err() {
            out.warn(WarningKind::Limit, format!("{path}: unpack budget spent"));
            return EntryData::None;
        }
        let mut buf = Vec::new();
        for &(lba, size) in parts {
            let offset = usize::try_from(lba.saturating_mul(self.block)).unwrap_or(usize::MAX);
            let take = size.min(total - buf.len() as u64) as usize;
            match self.data.get(offset..offset.saturating_add(take)) {
                Some(s) => buf.extend_from_slice(s),
                None => {
                    out.warn(
                        WarningKind::Truncated,
                        format!("{path}: an extent lies past the end"),
                    );
                    break;
                }
            }
        }
        EntryData::Owned(Blob::from(buf))
    }
}

impl Format for Iso9660 {
    fn name(&self) -> &'static str {
        "iso9660"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let v = descriptors(data)?;
        Some(Probe {
            length: Some(v.blocks.checked_mul(v.block_size)?.min(data.len() as u64)),
            description: format!(
                "ISO 9660 {:?}, {} blocks{}",
                v.label,
                v.blocks,
                if v.joliet_root.is_some() {
                    ", Joliet"
                } else {
                    ""
                }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let v = descriptors(data)
            .ok_or_else(|| FormatError::Corrupt("no primary volume descriptor".into()))?;
        let mut out = Unpacked::default();
        out.detail("label", &v.label);
        let root = parse_record(&v.primary_root)
            .ok_or_else(|| FormatError::Corrupt("bad root directory record".into()))?;
        let mut walker = Walker {
            data,
            block: v.block_size,
            joliet: false,
            susp_skip: None,
            visited: HashSet::new(),
        };
        // Rock Ridge announces itself with `SP` in the root's "." record.
        let dot = walker
            .records(root.extent, root.size)
            .and_then(|r| r.into_iter().next());
        if let Some(dot) = dot {
            let su = &dot.system_use;
            if su.len() >= 7 && &su[..2] == b"SP" && su[4] == 0xbe && su[5] == 0xef {
                walker.susp_skip = Some(usize::from(su[6]));
            }
        }
        let (lba, size) = match (&walker.susp_skip, &v.joliet_root) {
            (None, Some(j)) => {
                let j = parse_record(j)
                    .ok_or_else(|| FormatError::Corrupt("bad Joliet root record".into()))?;
                walker.joliet = true;
                out.detail("names", "joliet");
                (j.extent, j.size)
            }
            (Some(_), _) => {
                out.detail("names", "rock ridge");
                (root.extent, root.size)
            }
            (None, None) => {
                out.detail("names", "iso9660");
                (root.extent, root.size)
            }
        };
        walker.walk(lba, size, "", 0, ctx, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::{check, Check, Devices, DISKS};
    use crate::formats::testutil::unpack;

    const RR: &[u8] = include_bytes!("../../tests/fixtures/disks/rrjoliet.iso");
    const JOLIET: &[u8] = include_bytes!("../../tests/fixtures/disks/joliet.iso");

    #[test]
    fn rock_ridge_tree_matches() {
        let p = Iso9660.probe(RR).unwrap();
        assert_eq!(p.length, Some(RR.len() as u64));
        let u = unpack(&Iso9660, RR);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["names"], "rock ridge");
        check(
            "iso9660",
            RR,
            &u.entries,
            DISKS,
            &Check {
                devices: Devices::Numbers,
                ..Check::DISK
            },
        );
    }

    #[test]
    fn joliet_fallback_tree_matches() {
        let u = unpack(&Iso9660, JOLIET);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["names"], "joliet");
        check(
            "iso9660",
            JOLIET,
            &u.entries,
            DISKS,
            &Check {
                modes: false,
                symlinks: false,
                devices: Devices::Absent,
                ..Check::DISK
            },
        );
    }

    #[test]
    fn hostile_input() {
        hostile_with(&Iso9660, RR, &Hostile::disk());
        hostile_with(&Iso9660, JOLIET, &Hostile::disk());
    }
}
