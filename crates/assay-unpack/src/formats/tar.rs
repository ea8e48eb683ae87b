//! tar archives: POSIX ustar, GNU (long names `L`/`K`) and PAX (`path`/`linkpath`/`size`
//! overrides).
//!
//! Written here rather than with the `tar` crate: members must come out as zero-copy ranges
//! of the archive's bytes, the length of a carved archive must be measured from its headers,
//! and a damaged header must end the walk with a warning rather than an error — all simpler
//! with a small bounded reader over the slice. Old v7 tar (no `ustar` magic) is not
//! recognised; GNU sparse members are kept without data and a warning.

use super::member_name::absolute;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};

/// A tar archive with a `ustar` magic (POSIX or GNU).
pub struct Tar;

static MAGICS: &[Magic] = &[Magic::at(b"ustar\0", 257), Magic::at(b"ustar  \0", 257)];

const BLOCK: usize = 512;
/// tar's default record: 20 blocks; an archive is padded with zeros to a multiple of it.
const RECORD: usize = 20 * BLOCK;

/// Parse a numeric header field: octal ASCII (spaces and NULs around it), or GNU base-256
/// when the first byte has its high bit set.
fn number(field: &[u8]) -> Option<u64> {
    let first = *field.first()?;
    if first & 0x80 != 0 {
        // Base-256: the rest of the first byte and the following bytes, big-endian.
        if first & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = u64::from(first & 0x3f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    let mut digits = false;
    let mut ended = false;
    for &b in field {
        match b {
            b'0'..=b'7' if !ended => {
                v = v.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
                digits = true;
            }
            b' ' if !digits => {}
            b' ' | 0 => ended = true,
            _ => return None,
        }
    }
    Some(v)
}

/// Whether a 512-byte block is a tar header with a valid checksum (unsigned or the historic
/// signed sum).
fn checksum_ok(h: &[u8]) -> bool {
    let Some(stored) = h.get(148..156).and_then(number) else {
        return false;
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in h.iter().enumerate().take(BLOCK) {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || i64::try_from(stored).ok() == Some(signed)
}

fn has_magic(h: &[u8]) -> bool {
    // POSIX writes version "00" after the magic; some writers leave it blank or NUL.
    matches!(h.get(257..265), Some(m) if m.starts_with(b"ustar\0") || m == b"ustar  \0")
}

fn is_zero_block(h: &[u8]) -> bool {
    h.iter().all(|&b| b == 0)
}

/// Whether a member of this type carries data blocks after its header.
fn has_data(typeflag: u8) -> bool {
    !matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

/// The span of a member's data, rounded to blocks.
fn padded(size: u64) -> Option<u64> {
    size.checked_add(BLOCK as u64 - 1)
        .map(|s| s / BLOCK as u64 * BLOCK as u64)
}

/// Walk the headers from the start and return the archive's length: up to the end-of-archive
/// zero blocks (and the zero padding of the last record), or the end of the last valid
/// member; plus how many members were seen.
fn measure(data: &[u8]) -> (u64, usize) {
    let mut pos = 0usize;
    let mut members = 0usize;
    loop {
        let Some(h) = data.get(pos..pos + BLOCK) else {
            return (pos as u64, members);
        };
        if is_zero_block(h) {
            // End of archive: take this and the zero blocks up to the end of the record.
            let mut end = pos + BLOCK;
            if data.get(end..end + BLOCK).is_some_and(is_zero_block) {
                end += BLOCK;
            }
            let record_end = end.div_ceil(RECORD) * RECORD;
            while end < record_end {
                match data.get(end..end + BLOCK) {
                    Some(b) if is_zero_block(b) => end += BLOCK,
                    _ => break,
                }
            }
            return (end as u64, members);
        }
        if !checksum_ok(h) || !has_magic(h) {
            return (pos as u64, members);
        }
        let size = if has_data(h[156]) {
            number(&h[124..136]).unwrap_or(0)
        } else {
            0
        };
        let Some(next) = padded(size)
            .and_then(|s| u64::try_from(pos + BLOCK).ok()?.checked_add(s))
            .and_then(|n| usize::try_from(n).ok())
        else {
            return (pos as u64, members);
        };
        members += 1;
        if next > data.len() {
            // The last member runs past the end: claim what it declares (the driver notes the
            // truncation).
            return (next as u64, members);
        }
        pos = next;
    }
}

impl Format for Tar {
    fn name(&self) -> &'static str {
        "tar"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = data.get(..BLOCK)?;
        if !has_magic(h) || !checksum_ok(h) || h[0] == 0 {
            return None;
        }
        number(&h[124..136])?;
        let gnu = &h[257..265] == b"ustar  \0";
        let (length, members) = measure(data);
        Some(Probe {
            length: Some(length),
            description: format!(
                "{} tar, {members} members",
                if gnu { "GNU" } else { "POSIX ustar" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let mut out = Unpacked::default();
        let data: &[u8] = data;
        let mut pos = 0usize;
        let mut long_name: Option<String> = None;
        let mut long_link: Option<String> = None;
        let mut pax = Pax::default();
        let mut global = Pax::default();
        let max = ctx.max_entries();
        loop {
            let Some(h) = data.get(pos..pos + BLOCK) else {
                if pos < data.len() {
                    out.warn(
                        WarningKind::Truncated,
                        format!("trailing partial block at {pos:#x}"),
                    );
                }
                break;
            };
            if is_zero_block(h) {
                break;
            }
            if !has_magic(h) || !checksum_ok(h) {
                out.warn(
                    WarningKind::Format,
                    format!("invalid header at {pos:#x}; archive ends here"),
                );
                break;
            }
            let typeflag = h[156];
            let header_size = number(&h[124..136]).unwrap_or(0);
            let size = if has_data(typeflag) {
                pax.size.or(global.size).unwrap_or(header_size)
            } else {
                0
            };
            let data_start = pos + BLOCK;
            let Some(next) = padded(size)
                .and_then(|s| (data_start as u64).checked_add(s))
                .and_then(|n| usize::try_from(n).ok())
            else {
                out.warn(
                    WarningKind::Format,
                    format!("member size at {pos:#x} overflows"),
                );
                break;
            };
            let available = data.len().saturating_sub(data_start) as u64;
            let body_len = size.min(available) as usize;
            let body = &data[data_start..data_start + body_len];
            let truncated = size > available;
            match typeflag {
                b'L' => long_name = Some(field_string(body)),
                b'K' => long_link = Some(field_string(body)),
                b'x' => pax = Pax::parse(body),
                b'g' => global = Pax::parse(body),
                _ => {
                    if out.entries.len() >= max {
                        out.warn(
                            WarningKind::Limit,
                            format!(
                                "limit reached: more than {max} entries; the rest are not read"
                            ),
                        );
                        break;
                    }
                    let gnu = &h[257..265] == b"ustar  \0";
                    let name = pax
                        .path
                        .take()
                        .or(long_name.take())
                        .unwrap_or_else(|| header_name(h, gnu));
                    let link = pax
                        .linkpath
                        .take()
                        .or(long_link.take())
                        .unwrap_or_else(|| field_string(&h[157..257]));
                    let entry = self.entry(h, typeflag, &name, link, data_start, size, &mut out);
                    // The archive's own root directory (`./`) is not an entry.
                    let entry = entry.filter(|e| e.path != "/" || e.kind != EntryKind::Directory);
                    if let Some(mut e) = entry {
                        if pax.sparse || typeflag == b'S' {
                            out.warn(
                                WarningKind::Unsupported,
                                format!("{name}: sparse member not supported; kept without data"),
                            );
                            e.data = EntryData::None;
                        }
                        if truncated && matches!(e.data, EntryData::Range { .. }) {
                            out.warn(WarningKind::Truncated, format!(
                                "{name}: data runs past the end of the archive ({size} bytes declared, {available} present)"
                            ));
                            e.data = EntryData::Range {
                                offset: data_start as u64,
                                length: available,
                            };
                        }
                        let uid = pax.uid.or(global.uid).or_else(|| number(&h[108..116]));
                        let gid = pax.gid.or(global.gid).or_else(|| number(&h[116..124]));
                        let perm = number(&h[100..108]).unwrap_or(0) as u32 & 0o7777;
                        let bits = type_bits(&e.kind);
                        e = e.with_owner(
                            perm | bits,
                            uid.unwrap_or(0) as u32,
                            gid.unwrap_or(0) as u32,
                        );
                        if let Some(m) = number(&h[136..148]) {
                            e = e.with_detail("mtime", m);
                            e.mtime = i64::try_from(m).ok();
                        }
                        out.entries.push(e);
                    }
                    pax = Pax::default();
                }
            }
            if truncated {
                out.warn(
                    WarningKind::Truncated,
                    format!("archive truncated inside the member at {pos:#x}"),
                );
                break;
            }
            pos = next;
        }
        out.detail("members", out.entries.len());
        Ok(out)
    }
}

impl Tar {
    /// Turn a header into an entry (`None` for member types that hold no file).
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        h: &[u8],
        typeflag: u8,
        name: &str,
        link: String,
        data_start: usize,
        size: u64,
        out: &mut Unpacked,
    ) -> Option<Entry> {
        let path = absolute(name, &['/'], true);
        let range = EntryData::Range {
            offset: data_start as u64,
            length: size,
        };
        let device = |block| EntryKind::Device {
            block,
            major: number(&h[329..337]).unwrap_or(0) as u32,
            minor: number(&h[337..345]).unwrap_or(0) as u32,
        };
        Some(match typeflag {
            b'0' | 0 | b'7' | b'S' if name.ends_with('/') => Entry::fs(path, EntryKind::Directory),
            b'0' | 0 | b'7' | b'S' => Entry::fs(path, EntryKind::File).with_data(range),
            b'1' => Entry::fs(path, EntryKind::Hardlink(absolute(&link, &['/'], true))),
            b'2' => Entry::fs(path, EntryKind::Symlink(link)),
            b'3' => Entry::fs(path, device(false)),
            b'4' => Entry::fs(path, device(true)),
            b'5' => Entry::fs(path, EntryKind::Directory),
            b'6' => Entry::fs(path, EntryKind::Fifo),
            // Volume labels, GNU dump directories and multi-volume continuations hold no file.
            b'V' | b'D' | b'M' | b'N' => return None,
            other => {
                out.warn(
                    WarningKind::Format,
                    format!(
                        "{name}: unknown member type {:?}; kept as a file",
                        other as char
                    ),
                );
                Entry::fs(path, EntryKind::File).with_data(range)
            }
        })
    }
}

/// The member name: ustar joins the prefix field and the name field; GNU uses that area for
/// other things.
fn header_name(h: &[u8], gnu: bool) -> String {
    let name = field_string(&h[0..100]);
    if gnu {
        return name;
    }
    let prefix = field_string(&h[345..500]);
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// A NUL-terminated (or field-filling) string, lossily decoded.
fn field_string(field: &[u8]) -> String {
    crate::cursor::cstr(field)
}

/// The `S_IFMT` bits tar leaves out of its mode field, from the member type.
fn type_bits(kind: &EntryKind) -> u32 {
    FileType::of_entry_kind(kind).bits()
}

/// The PAX extended-header keys Assay uses.
#[derive(Default)]
struct Pax {
    path: Option<String>,
    linkpath: Option<String>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    sparse: bool,
}

impl Pax {
    /// Parse `"<len> <key>=<value>\n"` records; malformed records end the parse.
    fn parse(mut body: &[u8]) -> Pax {
        let mut pax = Pax::default();
        while !body.is_empty() {
            let Some(sp) = memchr::memchr(b' ', body) else {
                break;
            };
            let Some(len) = std::str::from_utf8(&body[..sp])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                break;
            };
            if len <= sp + 1 || len > body.len() {
                break;
            }
            let record = &body[sp + 1..len];
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            if let Some(eq) = memchr::memchr(b'=', record) {
                let key = &record[..eq];
                let value = String::from_utf8_lossy(&record[eq + 1..]).into_owned();
                match key {
                    b"path" => pax.path = Some(value),
                    b"linkpath" => pax.linkpath = Some(value),
                    b"size" => pax.size = value.parse().ok(),
                    b"uid" => pax.uid = value.parse().ok(),
                    b"gid" => pax.gid = value.parse().ok(),
                    k if k.starts_with(b"GNU.sparse.") => pax.sparse = true,
                    _ => {}
                }
            }
            body = &body[len..];
        }
        pax
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::manifest::{check, Check, ARCHIVES};
    use crate::formats::testutil::{entry_bytes, unpack, unpack_with_max_entries};

    const USTAR: &[u8] = include_bytes!("../../tests/fixtures/archives/ustar.tar");
    const GNU: &[u8] = include_bytes!("../../tests/fixtures/archives/gnu.tar");
    const PAX: &[u8] = include_bytes!("../../tests/fixtures/archives/pax.tar");
    const TRAVERSAL: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-traversal.tar");
    const MANY_GZ: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-many.tar.gz");

    fn full(data: &[u8], missing: &[&str]) {
        let p = Tar.probe(data).unwrap();
        assert_eq!(p.length, Some(data.len() as u64), "{}", p.description);
        let u = unpack(&Tar, data);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check(
            "tar",
            data,
            &u.entries,
            ARCHIVES,
            &Check {
                missing,
                ..Check::ARCHIVE
            },
        );
    }

    #[test]
    fn ustar_matches_manifest() {
        full(USTAR, &["/long/lnk"]);
    }

    #[test]
    fn gnu_long_names_match_manifest() {
        full(GNU, &[]);
    }

    #[test]
    fn pax_matches_manifest() {
        full(PAX, &[]);
    }

    #[test]
    fn carved_from_the_middle_of_a_blob() {
        let mut blob = vec![0xffu8; 1000];
        blob.extend_from_slice(GNU);
        blob.extend_from_slice(&[0x55; 3000]);
        let p = Tar.probe(&blob[1000..]).unwrap();
        assert_eq!(p.length, Some(GNU.len() as u64));
    }

    #[test]
    fn rejects_bad_checksum() {
        let mut d = GNU.to_vec();
        d[0] ^= 1;
        assert!(Tar.probe(&d).is_none());
    }

    #[test]
    fn traversal_and_escaping_link_come_out() {
        let u = unpack(&Tar, TRAVERSAL);
        let paths: Vec<&str> = u.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/../../etc/x", "/etc/abs", "/link", "/link/passwd"]);
        assert_eq!(
            u.entries[2].kind,
            EntryKind::Symlink("../../../../etc".into())
        );
        assert_eq!(
            entry_bytes(TRAVERSAL, &u.entries[3]).unwrap(),
            b"through the link\n"
        );
    }

    #[test]
    fn entry_count_bomb_stops_at_limit() {
        let tar = crate::limits::read_bounded(flate2::read::GzDecoder::new(MANY_GZ), 64 << 20).data;
        let u = unpack_with_max_entries(&Tar, &tar, 100);
        assert_eq!(u.entries.len(), 100);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Tar, GNU);
        hostile(&Tar, PAX);
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"0000644\0"), Some(0o644));
        assert_eq!(number(b"  755 \0"), Some(0o755));
        assert_eq!(number(&[0x80, 0, 0, 1, 0]), Some(256));
        assert_eq!(number(b"12x"), None);
    }
}
