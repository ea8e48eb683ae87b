//! ZIP archives (PKWARE APPNOTE): the end-of-central-directory record (and its ZIP64 form)
//! gives the archive's length and its members; stored members come out as zero-copy ranges,
//! deflated ones are decoded with `flate2` under the scan's budget.
//!
//! Written here rather than with the `zip` crate: a carved archive must be located from its
//! end record even when its offsets are relative to a start outside the carved bytes, every
//! member must survive a hostile neighbour (bad method, encryption, overlapping data) with a
//! warning, and decoding must go through the budget; a small reader over the slice does this
//! directly. Methods other than stored and deflate are kept as entries without data and a
//! warning. Encrypted members (ZipCrypto, WinZip AES: `zip_crypto`) are opened with
//! the scan's passwords ([`crate::passwords`]); those none opens are listed without data,
//! with one warning for the archive. Member times come from the Info-ZIP extended timestamp
//! (Unix seconds) when present, else from the MS-DOS date and time, which carry no time zone
//! and are read as UTC.

use super::member_name::absolute;
use super::zip_crypto::{aes_cost, aes_decrypt, aes_field, AesError, AesField, ZipCrypto};
use crate::cursor::{le16, le32, le64};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::limits::read_bounded;
use crate::passwords::{Attempts, Outcome};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};

/// A ZIP archive, found at its first local file header.
pub struct Zip;

static MAGICS: &[Magic] = &[Magic::at_start(b"PK\x03\x04")];

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: &[u8] = b"PK\x05\x06";
const EOCD64_SIG: u32 = 0x0606_4b50;
const EOCD64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// End records examined per probe before giving up (a blob full of stored zips has many).
const MAX_EOCD_CANDIDATES: usize = 4096;

/// Where the central directory is and what it spans, relative to `data[0]`.
#[derive(Debug, Clone, Copy)]
struct Directory {
    /// Offset of the first central record.
    cd_start: u64,
    /// Bytes of central records.
    cd_size: u64,
    /// Records declared.
    entries: u64,
    /// What member offsets are relative to (may lie before `data[0]`).
    base: i64,
    /// End of the end record and its comment: the archive's length.
    end: u64,
}

/// Cheap sanity check of a local file header.
fn local_header_ok(d: &[u8], at: usize) -> bool {
    let (Some(sig), Some(version), Some(flags), Some(method), Some(name_len)) = (
        le32(d, at),
        le16(d, at + 4),
        le16(d, at + 6),
        le16(d, at + 8),
        le16(d, at + 26),
    ) else {
        return false;
    };
    sig == LOCAL_SIG
        && (version & 0xff) <= 100
        && flags & 0xc000 == 0 // reserved bits
        && method <= 99
        && name_len > 0
        && name_len <= 4096
}

/// Find the end record of the archive that starts at `data[0]`: the first one whose central
/// directory is where it says and whose first member's local header is at `data[0]`.
fn find_directory(data: &[u8]) -> Option<Directory> {
    for (seen, pos) in memchr::memmem::find_iter(data, EOCD_SIG).enumerate() {
        if seen >= MAX_EOCD_CANDIDATES {
            return None;
        }
        if let Some(dir) = directory_at(data, pos) {
            return Some(dir);
        }
    }
    None
}

fn directory_at(data: &[u8], pos: usize) -> Option<Directory> {
    let disk = le16(data, pos + 4)?;
    let cd_disk = le16(data, pos + 6)?;
    let mut entries = u64::from(le16(data, pos + 10)?);
    let mut cd_size = u64::from(le32(data, pos + 12)?);
    let mut cd_offset = u64::from(le32(data, pos + 16)?);
    let comment = u64::from(le16(data, pos + 20)?);
    if disk != 0 || cd_disk != 0 {
        return None; // multi-disk archives are not carved
    }
    let end = (pos as u64).checked_add(22)?.checked_add(comment)?;
    let mut cd_end = pos as u64;
    // ZIP64: the locator sits just before the end record; its record just before that. It is
    // needed when a field overflowed, and present anyway in some archives (Info-ZIP writes it
    // for data read from a pipe), where the central directory ends at the ZIP64 record.
    let zip64 = pos
        .checked_sub(20)
        .filter(|&loc| le32(data, loc) == Some(EOCD64_LOCATOR_SIG))
        .and_then(|loc| loc.checked_sub(56))
        .filter(|&rec| le32(data, rec) == Some(EOCD64_SIG));
    if let Some(rec) = zip64 {
        entries = le64(data, rec + 32)?;
        cd_size = le64(data, rec + 40)?;
        cd_offset = le64(data, rec + 48)?;
        cd_end = rec as u64;
    } else if entries == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        return None;
    }
    let cd_start = cd_end.checked_sub(cd_size)?;
    let base = i64::try_from(cd_start).ok()? - i64::try_from(cd_offset).ok()?;
    if entries == 0 {
        return None;
    }
    let c = usize::try_from(cd_start).ok()?;
    if le32(data, c)? != CENTRAL_SIG {
        return None;
    }
    // The first member's local header must be the one the probe stands on.
    let first_local = i64::from(le32(data, c + 42)?);
    if first_local != 0xffff_ffff && base.checked_add(first_local)? != 0 {
        return None;
    }
    Some(Directory {
        cd_start,
        cd_size,
        entries,
        base,
        end,
    })
}

/// Members read from consecutive local headers, for an archive whose central directory is
/// missing (cut off): each header's sizes must be known (no data descriptor) and its data must
/// fit. Returns the records and where the last one ends.
fn walk_locals(d: &[u8], max: usize) -> (Vec<Central>, usize) {
    let mut recs = Vec::new();
    let mut pos = 0usize;
    while recs.len() < max && local_header_ok(d, pos) {
        let (Some(flags), Some(method), Some(crc), Some(csize), Some(usize_), Some(n), Some(x)) = (
            le16(d, pos + 6),
            le16(d, pos + 8),
            le32(d, pos + 14),
            le32(d, pos + 18),
            le32(d, pos + 22),
            le16(d, pos + 26),
            le16(d, pos + 28),
        ) else {
            break;
        };
        let name_at = pos + 30;
        let data_at = name_at + usize::from(n) + usize::from(x);
        let mut end = data_at.saturating_add(csize as usize);
        let Some(name) = d.get(name_at..name_at + usize::from(n)) else {
            break;
        };
        // A data descriptor may hide the sizes (a writer that could not seek back leaves them
        // zero; one that could, as Info-ZIP does for encrypted members, fills them in too);
        // a name with control bytes is not a member.
        if (flags & 8 != 0 && csize == 0) || end > d.len() || name.iter().any(|&b| b < 0x20) {
            break;
        }
        if flags & 8 != 0 {
            // Skip the descriptor: signed (16 bytes) or not (12), followed by another header.
            const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
            let next_is_header =
                |at: usize| matches!(le32(d, at), Some(LOCAL_SIG | CENTRAL_SIG)) || at == d.len();
            if le32(d, end) == Some(DESCRIPTOR_SIG) && end + 16 <= d.len() {
                end += 16;
            } else if end + 12 <= d.len() && next_is_header(end + 12) {
                end += 12;
            }
        }
        let extra = d.get(name_at + usize::from(n)..data_at).unwrap_or(&[]);
        let mtime = unix_time_extra(extra)
            .or_else(|| assay_model::time::from_dos(le16(d, pos + 12)?, le16(d, pos + 10)?));
        recs.push(Central {
            made_by: 0,
            mtime,
            flags,
            method,
            crc,
            csize: u64::from(csize),
            usize: u64::from(usize_),
            local: pos as u64,
            external: 0,
            name: String::from_utf8_lossy(name).into_owned(),
            next: end,
            aes: aes_field(extra),
        });
        pos = end;
    }
    (recs, pos)
}

impl Format for Zip {
    fn name(&self) -> &'static str {
        "zip"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        if !local_header_ok(data, 0) {
            return None;
        }
        let Some(dir) = find_directory(data) else {
            let (recs, end) = walk_locals(data, 100_000);
            return (!recs.is_empty()).then(|| Probe {
                length: Some(end as u64),
                description: format!(
                    "zip without central directory, {} members in local headers",
                    recs.len()
                ),
            });
        };
        Some(Probe {
            length: Some(dir.end),
            description: format!("zip, {} members", dir.entries),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let Some(dir) = find_directory(d) else {
            return unpack_locals(d, ctx);
        };
        let mut out = Unpacked::default();
        out.detail("members", dir.entries);
        let cd_end = dir.cd_start.saturating_add(dir.cd_size) as usize;
        let mut pos = dir.cd_start as usize;
        let max = ctx.max_entries();
        let mut starved = 0usize;
        let mut locked = Locked::new(ctx);
        for index in 0..dir.entries {
            if out.entries.len() >= max {
                out.warn(
                    WarningKind::Limit,
                    format!(
                        "limit reached: {} members declared, only the first {max} are read",
                        dir.entries
                    ),
                );
                break;
            }
            let Some(rec) = Central::parse(d, pos, cd_end) else {
                out.warn(
                    WarningKind::Format,
                    format!("central record {index} at {pos:#x} is damaged; directory ends here"),
                );
                break;
            };
            pos = rec.next;
            if let Some(e) = member(d, &dir, &rec, ctx, &mut starved, &mut locked, &mut out) {
                out.entries.push(e);
            }
        }
        if starved > 0 {
            out.warn(WarningKind::Limit, format!(
                "limit reached: the scan's byte budget is spent; {starved} more members kept without data"
            ));
        }
        locked.finish(&mut out);
        Ok(out)
    }
}

/// Read an archive without central directory from its local headers.
fn unpack_locals(d: &[u8], ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
    let max = ctx.max_entries();
    let (recs, end) = walk_locals(d, max.saturating_add(1));
    if recs.is_empty() {
        return Err(FormatError::Corrupt(
            "no end of central directory record and no readable local header".into(),
        ));
    }
    let mut out = Unpacked::default();
    out.warn(
        WarningKind::Format,
        format!(
            "no central directory (archive cut off?); {} members read from local headers",
            recs.len().min(max)
        ),
    );
    if recs.len() > max {
        out.warn(
            WarningKind::Limit,
            format!("limit reached: more than {max} members; the rest are not read"),
        );
    }
    let dir = Directory {
        cd_start: end as u64,
        cd_size: 0,
        entries: recs.len() as u64,
        base: 0,
        end: end as u64,
    };
    let mut starved = 0usize;
    let mut locked = Locked::new(ctx);
    for rec in recs.iter().take(max) {
        if let Some(e) = member(d, &dir, rec, ctx, &mut starved, &mut locked, &mut out) {
            out.entries.push(e);
        }
    }
    if starved > 0 {
        out.warn(WarningKind::Limit, format!(
            "limit reached: the scan's byte budget is spent; {starved} more members kept without data"
        ));
    }
    locked.finish(&mut out);
    Ok(out)
}

/// One central directory record.
struct Central {
    made_by: u16,
    /// Modification time, Unix seconds: the Unix extra field's when there is one, else the
    /// MS-DOS date and time (no time zone; read as UTC).
    mtime: Option<i64>,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    local: u64,
    external: u32,
    name: String,
    next: usize,
    /// The WinZip AES extra field, for method 99.
    aes: Option<AesField>,
}

impl Central {
    fn parse(d: &[u8], pos: usize, cd_end: usize) -> Option<Central> {
        if le32(d, pos)? != CENTRAL_SIG {
            return None;
        }
        let name_len = usize::from(le16(d, pos + 28)?);
        let extra_len = usize::from(le16(d, pos + 30)?);
        let comment_len = usize::from(le16(d, pos + 32)?);
        let name_at = pos + 46;
        let extra_at = name_at + name_len;
        let next = extra_at + extra_len + comment_len;
        if next > cd_end.max(pos + 46) || next > d.len() {
            return None;
        }
        let extra = &d[extra_at..extra_at + extra_len];
        let mtime = unix_time_extra(extra)
            .or_else(|| assay_model::time::from_dos(le16(d, pos + 14)?, le16(d, pos + 12)?));
        let mut rec = Central {
            made_by: le16(d, pos + 4)?,
            mtime,
            flags: le16(d, pos + 8)?,
            method: le16(d, pos + 10)?,
            crc: le32(d, pos + 16)?,
            csize: u64::from(le32(d, pos + 20)?),
            usize: u64::from(le32(d, pos + 24)?),
            local: u64::from(le32(d, pos + 42)?),
            external: le32(d, pos + 38)?,
            name: String::from_utf8_lossy(&d[name_at..extra_at]).into_owned(),
            next,
            aes: aes_field(extra),
        };
        // ZIP64 extended information: the fields that overflowed, in this order.
        let mut extra = extra;
        while extra.len() >= 4 {
            let id = le16(extra, 0)?;
            let len = usize::from(le16(extra, 2)?);
            let Some(body) = extra.get(4..4 + len) else {
                break;
            };
            if id == 1 {
                let mut off = 0;
                for field in [&mut rec.usize, &mut rec.csize, &mut rec.local] {
                    if *field == 0xffff_ffff {
                        if let Some(v) = le64(body, off) {
                            *field = v;
                            off += 8;
                        }
                    }
                }
            }
            extra = &extra[4 + len..];
        }
        Some(rec)
    }
}

/// The modification time of Info-ZIP's extended timestamp extra field (`UT`, 0x5455): a
/// flags byte, then, when bit 0 is set, the time as signed 32-bit Unix seconds.
fn unix_time_extra(mut extra: &[u8]) -> Option<i64> {
    while extra.len() >= 4 {
        let id = le16(extra, 0)?;
        let len = usize::from(le16(extra, 2)?);
        let body = extra.get(4..4 + len)?;
        if id == 0x5455 {
            let flags = *body.first()?;
            if flags & 1 == 0 {
                return None;
            }
            let t = body.get(1..5)?;
            return Some(i64::from(i32::from_le_bytes([t[0], t[1], t[2], t[3]])));
        }
        extra = &extra[4 + len..];
    }
    None
}

/// Turn a central record into an entry, decoding its data when the method allows.
fn member(
    d: &[u8],
    dir: &Directory,
    rec: &Central,
    ctx: &UnpackContext,
    starved: &mut usize,
    locked: &mut Locked,
    out: &mut Unpacked,
) -> Option<Entry> {
    let name = &rec.name;
    // Unix mode in the high half of the external attributes when made on Unix.
    let unix_mode = (rec.made_by >> 8 == 3)
        .then_some(rec.external >> 16)
        .filter(|&m| m != 0);
    let file_type = unix_mode.and_then(FileType::of_mode);
    let is_dir =
        name.ends_with('/') || file_type == Some(FileType::Directory) || rec.external & 0x10 != 0;
    let path = absolute(name, &['/', '\\'], true);
    if is_dir {
        if path == "/" {
            return None;
        }
        let mut e = Entry::fs(path, EntryKind::Directory);
        if let Some(m) = unix_mode {
            e.mode = Some(m);
        }
        e.mtime = rec.mtime;
        return Some(e);
    }
    let mut entry = Entry::fs(path, EntryKind::File)
        .with_detail("method", method_name(rec.method))
        .with_detail("compressed_size", rec.csize);
    entry.mode = unix_mode;
    entry.mtime = rec.mtime;
    let is_link = file_type == Some(FileType::Symlink);
    // The local header tells where the data starts (its name and extra may differ in length
    // from the central record's).
    let local = dir.base.checked_add(i64::try_from(rec.local).ok()?)?;
    let Some(local) = usize::try_from(local)
        .ok()
        .filter(|&l| le32(d, l) == Some(LOCAL_SIG))
    else {
        out.warn(
            WarningKind::Format,
            format!("{name}: local header at {local:#x} is missing; kept without data"),
        );
        return Some(entry);
    };
    let data_start = local
        .checked_add(30)?
        .checked_add(usize::from(le16(d, local + 26)?))?
        .checked_add(usize::from(le16(d, local + 28)?))?;
    let available = d.len().saturating_sub(data_start) as u64;
    let csize = rec.csize.min(available);
    if csize < rec.csize {
        out.warn(
            WarningKind::Truncated,
            format!("{name}: data runs past the end of the archive"),
        );
    }
    let raw = &d[data_start.min(d.len())..data_start.min(d.len()) + csize as usize];
    let data = if rec.flags & 1 != 0 {
        let dos_time = le16(d, local + 10).unwrap_or(0);
        let (scheme, opened) = open_encrypted(name, rec, raw, dos_time, ctx, locked, out);
        entry = entry
            .with_detail("encrypted", "true")
            .with_detail("encryption", scheme)
            .with_detail("size", rec.usize);
        if let Some(a) = rec.aes {
            entry = entry.with_detail("method", method_name(a.method));
        }
        let Some((data, origin, partial)) = opened else {
            return Some(entry);
        };
        entry = entry.with_detail("password", origin.describe());
        if partial {
            entry = entry.with_detail("partial", "true");
        }
        EntryData::Owned(Blob::from(data))
    } else {
        match rec.method {
            0 => {
                if rec.usize != rec.csize {
                    out.warn(
                        WarningKind::Format,
                        format!("{name}: stored member with differing sizes"),
                    );
                }
                // Name and extra running past the end leave no data: the empty range stays
                // inside the container.
                let data = EntryData::Range {
                    offset: data_start.min(d.len()) as u64,
                    length: csize,
                };
                if crc32fast::hash(raw) != rec.crc && csize == rec.csize {
                    out.warn(WarningKind::Checksum, format!("{name}: CRC mismatch"));
                }
                data
            }
            8 if ctx.stream_limit() == 0 => {
                *starved += 1;
                return Some(entry);
            }
            8 => {
                let decoded =
                    read_bounded(flate2::read::DeflateDecoder::new(raw), ctx.stream_limit());
                if let Some(e) = &decoded.error {
                    out.warn(e.kind(), format!("{name}: {e}"));
                } else if decoded.data.len() as u64 != rec.usize {
                    out.warn(
                        WarningKind::Format,
                        format!(
                            "{name}: decoded {} bytes, {} declared",
                            decoded.data.len(),
                            rec.usize
                        ),
                    );
                } else if crc32fast::hash(&decoded.data) != rec.crc {
                    out.warn(WarningKind::Checksum, format!("{name}: CRC mismatch"));
                }
                if decoded.data.is_empty() && decoded.error.is_some() {
                    return Some(entry);
                }
                if let Err(e) = ctx.charge(decoded.data.len() as u64) {
                    out.warn(e.kind(), format!("{name}: {e}; kept without data"));
                    return Some(entry);
                }
                if decoded.error.is_some() {
                    entry = entry.with_detail("partial", "true");
                }
                EntryData::Owned(Blob::from(decoded.data))
            }
            m => {
                out.warn(
                    WarningKind::Unsupported,
                    format!(
                        "{name}: compression method {m} ({}) not supported; kept without data",
                        method_name(m)
                    ),
                );
                return Some(entry);
            }
        }
    };
    if is_link {
        let target = match &data {
            EntryData::Owned(b) => String::from_utf8_lossy(b).into_owned(),
            _ => String::from_utf8_lossy(raw).into_owned(),
        };
        entry.kind = EntryKind::Symlink(target);
        return Some(entry);
    }
    Some(entry.with_data(data))
}

/// The encrypted members of one archive: the password attempts (shared, so the password that
/// opened one member is tried first on the next) and what stayed closed, reported once.
struct Locked<'k> {
    attempts: Attempts<'k>,
    /// Members opened, and the schemes seen.
    opened: usize,
    closed: usize,
    schemes: std::collections::BTreeSet<String>,
    /// The first password that opened a member, for the archive's details.
    password: Option<String>,
    /// The budget refused what a password produced.
    starved: bool,
}

impl<'k> Locked<'k> {
    fn new(ctx: &'k UnpackContext) -> Self {
        Locked {
            attempts: Attempts::new(ctx.keyring()),
            opened: 0,
            closed: 0,
            schemes: Default::default(),
            password: None,
            starved: false,
        }
    }

    /// One warning for the archive's closed members, and the archive's details.
    fn finish(self, out: &mut Unpacked) {
        if self.opened + self.closed == 0 {
            return;
        }
        let schemes = self.schemes.into_iter().collect::<Vec<_>>().join(", ");
        out.detail("encrypted", schemes.as_str());
        out.detail("encrypted_members", self.opened + self.closed);
        if let Some(p) = self.password {
            out.detail("password", p);
        }
        if self.closed > 0 {
            let why = if self.attempts.out_of_work() {
                "the scan's password work budget is spent"
            } else if self.starved {
                "the scan's byte budget is spent"
            } else {
                "neither the given passwords, the empty one nor the built-in list opened them"
            };
            out.warn(
                WarningKind::Unsupported,
                format!(
                    "{} of {} encrypted members ({schemes}) not opened: {why}; kept without data",
                    self.closed,
                    self.opened + self.closed
                ),
            );
        }
    }
}

/// What one password made of an encrypted member: the decoded bytes, and a problem that
/// still leaves them worth keeping (a WinZip AES member whose password verified).
struct Plain {
    data: Vec<u8>,
    problem: Option<(WarningKind, String)>,
}

/// Decode a decrypted member's bytes (stored or deflated) within `limit`.
fn decode_plain(method: u16, plain: Vec<u8>, limit: u64) -> crate::limits::Decoded {
    if method == 0 {
        if plain.len() as u64 > limit {
            return crate::limits::Decoded {
                data: Vec::new(),
                error: Some(FormatError::Limit(format!(
                    "decrypted member exceeds {limit} bytes"
                ))),
            };
        }
        return crate::limits::Decoded {
            data: plain,
            error: None,
        };
    }
    read_bounded(flate2::read::DeflateDecoder::new(&plain[..]), limit)
}

/// Open an encrypted member with the keyring's passwords: the scheme's name, and when a
/// password opened it, the data, which password, and whether the data is partial.
fn open_encrypted(
    name: &str,
    rec: &Central,
    raw: &[u8],
    dos_time: u16,
    ctx: &UnpackContext,
    locked: &mut Locked,
    out: &mut Unpacked,
) -> (String, Option<(Vec<u8>, crate::passwords::Origin, bool)>) {
    if rec.flags & 0x40 != 0 {
        let scheme = "pkware strong encryption".to_string();
        locked.closed += 1;
        locked.schemes.insert(scheme.clone() + " (not supported)");
        return (scheme, None);
    }
    let (scheme, method, cost, aes) = if rec.method == 99 {
        let Some(a) = rec.aes else {
            out.warn(
                WarningKind::Format,
                format!(
                    "{name}: AES-encrypted member without its AES extra field; kept without data"
                ),
            );
            return ("aes".into(), None);
        };
        (
            format!("winzip aes-{} (AE-{})", a.strength.bits(), a.version),
            a.method,
            aes_cost(a.strength),
            Some(a),
        )
    } else {
        ("zipcrypto".to_string(), rec.method, 1, None)
    };
    if method != 0 && method != 8 {
        out.warn(
            WarningKind::Unsupported,
            format!(
                "{name}: encrypted member with compression method {method} ({}) not supported; kept without data",
                method_name(method)
            ),
        );
        return (scheme, None);
    }
    let limit = ctx.stream_limit();
    if limit == 0 {
        locked.starved = true;
        locked.closed += 1;
        locked.schemes.insert(scheme.clone());
        return (scheme, None);
    }
    let starved = &mut locked.starved;
    // Every decoded byte is charged, even a wrong password's, so that a member decoded again
    // and again (overlapping records, CRC never matching) stops at the budget.
    let mut charge = |data: &[u8]| -> bool {
        if ctx.charge(data.len() as u64).is_ok() {
            true
        } else {
            *starved = true;
            false
        }
    };
    let attempt = |password: &[u8]| -> Option<Plain> {
        match aes {
            None => {
                // The check byte: the CRC's high byte, or the DOS time's when the sizes and
                // CRC follow the data.
                let check = if rec.flags & 8 != 0 {
                    (dos_time >> 8) as u8
                } else {
                    (rec.crc >> 24) as u8
                };
                let z = ZipCrypto::open(password, raw, check)?;
                let plain = z.decrypt(raw.get(super::zip_crypto::ZIPCRYPTO_HEADER..)?);
                let decoded = decode_plain(method, plain, limit);
                if !charge(&decoded.data) {
                    return None;
                }
                // One wrong password in 256 passes the check byte: only a clean decode with
                // the right CRC opens the member.
                (decoded.error.is_none() && crc32fast::hash(&decoded.data) == rec.crc).then_some(
                    Plain {
                        data: decoded.data,
                        problem: None,
                    },
                )
            }
            Some(a) => {
                let p = match aes_decrypt(a.strength, password, raw) {
                    Ok(p) => p,
                    Err(AesError::WrongPassword | AesError::TooShort) => return None,
                };
                let decoded = decode_plain(method, p.data, limit);
                if !charge(&decoded.data) {
                    return None;
                }
                let problem = if !p.authentic {
                    Some((
                        WarningKind::Checksum,
                        "authentication code mismatch: the data was altered".to_string(),
                    ))
                } else if let Some(e) = &decoded.error {
                    Some((e.kind(), e.to_string()))
                } else if a.version == 1 && crc32fast::hash(&decoded.data) != rec.crc {
                    Some((WarningKind::Checksum, "CRC mismatch".to_string()))
                } else {
                    None
                };
                Some(Plain {
                    data: decoded.data,
                    problem,
                })
            }
        }
    };
    if let Some(a) = aes {
        if raw.len() < a.strength.salt_len() + 12 {
            out.warn(
                WarningKind::Truncated,
                format!("{name}: AES-encrypted data shorter than its salt, verifier and authentication code"),
            );
            locked.closed += 1;
            locked.schemes.insert(scheme.clone());
            return (scheme, None);
        }
    }
    match locked.attempts.open(cost, attempt) {
        Outcome::Opened(plain, origin) => {
            locked.opened += 1;
            locked.schemes.insert(scheme.clone());
            locked.password.get_or_insert_with(|| origin.describe());
            let partial = plain.problem.is_some();
            if let Some((kind, msg)) = plain.problem {
                out.warn(kind, format!("{name}: {msg}"));
            }
            (scheme, Some((plain.data, origin, partial)))
        }
        Outcome::NotFound | Outcome::OutOfWork => {
            locked.closed += 1;
            locked.schemes.insert(scheme.clone());
            (scheme, None)
        }
    }
}

fn method_name(m: u16) -> &'static str {
    match m {
        0 => "stored",
        8 => "deflate",
        9 => "deflate64",
        12 => "bzip2",
        14 => "lzma",
        93 => "zstd",
        95 => "xz",
        98 => "ppmd",
        99 => "aes",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::manifest::{check, Check, ARCHIVES};
    use crate::formats::testutil::{entry_bytes, unpack, unpack_with_max_entries};
    use crate::limits::{Budget, Limits};

    const DEFLATE: &[u8] = include_bytes!("../../tests/fixtures/archives/deflate.zip");
    const STORED: &[u8] = include_bytes!("../../tests/fixtures/archives/stored.zip");
    const TRAVERSAL: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-traversal.zip");
    const MANY: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-many.zip");
    const BOMB: &[u8] = include_bytes!("../../tests/fixtures/archives/hostile-bomb.zip");

    fn full(data: &[u8]) {
        let p = Zip.probe(data).unwrap();
        assert_eq!(p.length, Some(data.len() as u64), "{}", p.description);
        let u = unpack(&Zip, data);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check("zip", data, &u.entries, ARCHIVES, &Check::ARCHIVE);
    }

    #[test]
    fn deflate_matches_manifest() {
        full(DEFLATE);
    }

    #[test]
    fn stored_matches_manifest_zero_copy() {
        full(STORED);
        let u = unpack(&Zip, STORED);
        assert!(u
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .all(|e| matches!(e.data, EntryData::Range { .. })));
    }

    #[test]
    fn carved_from_the_middle_of_a_blob() {
        let mut blob = vec![0x11u8; 777];
        blob.extend_from_slice(DEFLATE);
        blob.extend_from_slice(&[0x22; 999]);
        let p = Zip.probe(&blob[777..]).unwrap();
        assert_eq!(p.length, Some(DEFLATE.len() as u64));
    }

    #[test]
    fn offsets_relative_to_an_outer_start() {
        // A self-extractor style archive: offsets count from a stub before the first local
        // header, so the archive found at the local header has a negative base.
        let stub = 4096u32;
        let mut shifted = DEFLATE.to_vec();
        let eocd = shifted.len() - 22;
        let cd_off = le32(&shifted, eocd + 16).unwrap() + stub;
        shifted[eocd + 16..eocd + 20].copy_from_slice(&cd_off.to_le_bytes());
        let cd_start = (cd_off - stub) as usize;
        let mut pos = cd_start;
        while le32(&shifted, pos) == Some(CENTRAL_SIG) {
            let local = le32(&shifted, pos + 42).unwrap() + stub;
            shifted[pos + 42..pos + 46].copy_from_slice(&local.to_le_bytes());
            let n = le16(&shifted, pos + 28).unwrap() as usize
                + le16(&shifted, pos + 30).unwrap() as usize
                + le16(&shifted, pos + 32).unwrap() as usize;
            pos += 46 + n;
        }
        full(&shifted);
    }

    mod encrypted {
        use super::*;
        use crate::formats::testutil::{check_encrypted, unpack_with_keyring};
        use crate::passwords::Keyring;

        const ZIPCRYPTO: &[u8] = include_bytes!("../../tests/fixtures/encrypted/zipcrypto.zip");
        const ZIPCRYPTO_LIST: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/zipcrypto-list.zip");
        const ZIPCRYPTO_STREAM: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/zipcrypto-stream.zip");
        const ZIPCRYPTO_CUT: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/zipcrypto-truncated.zip");
        const AES256: &[u8] = include_bytes!("../../tests/fixtures/encrypted/aes256.zip");
        const AES128_STORED: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/aes128-stored.zip");
        const BAD_VERIFIER: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/aes256-bad-verifier.zip");
        const BAD_MAC: &[u8] = include_bytes!("../../tests/fixtures/encrypted/aes256-bad-mac.zip");

        fn with(data: &[u8], passwords: &[&str]) -> Unpacked {
            let k = Keyring::new(passwords.iter().map(|p| p.to_string()).collect());
            unpack_with_keyring(&Zip, data, k)
        }

        fn file<'a>(u: &'a Unpacked, path: &str) -> &'a Entry {
            u.entries.iter().find(|e| e.path == path).unwrap()
        }

        #[test]
        fn user_password_opens_zipcrypto() {
            let u = with(ZIPCRYPTO, &["wrong", "Secret"]);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            check_encrypted(ZIPCRYPTO, &u.entries);
            let e = file(&u, "/etc/passwd");
            assert_eq!(e.details.get("encryption").unwrap(), "zipcrypto");
            assert_eq!(e.details.get("password").unwrap(), "user supplied #2");
            assert_eq!(u.details.get("password").unwrap(), "user supplied #2");
        }

        #[test]
        fn list_password_opens_zipcrypto() {
            let u = with(ZIPCRYPTO_LIST, &[]);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            check_encrypted(ZIPCRYPTO_LIST, &u.entries);
            let pw = file(&u, "/etc/passwd").details.get("password").unwrap();
            assert!(
                pw.starts_with("built-in list #") && pw.ends_with("(test)"),
                "{pw}"
            );
        }

        #[test]
        fn data_descriptor_member_checks_the_time_byte() {
            let u = with(ZIPCRYPTO_STREAM, &["Secret"]);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            let e = file(&u, "/-");
            let config = crate::formats::testutil::encrypted_expected()[1];
            assert_eq!(config.0, "etc/config.txt");
            let bytes = entry_bytes(ZIPCRYPTO_STREAM, e).unwrap();
            assert_eq!(assay_model::hex(&crate::driver::sha256(&bytes)), config.1);
        }

        #[test]
        fn winzip_aes_256_deflated_and_128_stored() {
            for data in [AES256, AES128_STORED] {
                let u = with(data, &["Secret"]);
                assert!(u.warnings.is_empty(), "{:?}", u.warnings);
                check_encrypted(data, &u.entries);
            }
            let u = with(AES256, &["Secret"]);
            let e = file(&u, "/etc/config.txt");
            assert_eq!(
                e.details.get("encryption").unwrap(),
                "winzip aes-256 (AE-2)"
            );
            assert_eq!(e.details.get("method").unwrap(), "deflate");
            let u = with(AES128_STORED, &["Secret"]);
            assert!(file(&u, "/etc/config.txt").details["encryption"].starts_with("winzip aes-128"));
        }

        #[test]
        fn wrong_password_lists_members_with_one_warning() {
            for data in [ZIPCRYPTO, AES256] {
                let u = with(data, &["nope"]);
                assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
                assert!(
                    u.warnings[0].1.contains("3 of 3 encrypted members"),
                    "{:?}",
                    u.warnings
                );
                let e = file(&u, "/etc/passwd");
                assert!(matches!(e.data, EntryData::None));
                assert_eq!(e.details.get("encrypted").unwrap(), "true");
                assert_eq!(e.details.get("size").unwrap(), "69");
                assert!(!e.details.contains_key("password"));
            }
        }

        #[test]
        fn corrupt_verifier_closes_only_that_member() {
            let u = with(BAD_VERIFIER, &["Secret"]);
            assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
            assert!(u.warnings[0].1.contains("1 of 3"), "{:?}", u.warnings);
            let closed = u
                .entries
                .iter()
                .filter(|e| matches!(e.data, EntryData::None))
                .count();
            assert_eq!(closed, 1);
        }

        #[test]
        fn corrupt_mac_is_reported() {
            let u = with(BAD_MAC, &["Secret"]);
            assert!(
                u.warnings
                    .iter()
                    .any(|(k, w)| *k == WarningKind::Checksum && w.contains("authentication code")),
                "{:?}",
                u.warnings
            );
            assert!(u.entries.iter().any(|e| e.details.contains_key("partial")));
        }

        #[test]
        fn cut_off_encrypted_archive_keeps_whole_members() {
            assert!(Zip.probe(ZIPCRYPTO_CUT).is_some());
            let u = with(ZIPCRYPTO_CUT, &["Secret"]);
            assert!(u.warnings[0].1.contains("no central directory"));
            let opened: Vec<_> = u
                .entries
                .iter()
                .filter(|e| !matches!(e.data, EntryData::None))
                .collect();
            assert_eq!(opened.len(), 2, "{:?}", u.entries);
        }

        #[test]
        fn work_budget_bounds_many_aes_members() {
            // The AES archive's members 1000 times over (overlapping central records): the
            // password is found once, then each member costs one derivation until the
            // scan's work budget is spent.
            let cd = le32(AES256, AES256.len() - 22 + 16).unwrap() as usize;
            let cd_size = le32(AES256, AES256.len() - 22 + 12).unwrap() as usize;
            let records = &AES256[cd..cd + cd_size];
            let copies = 1000;
            let mut d = AES256[..cd].to_vec();
            for _ in 0..copies {
                d.extend_from_slice(records);
            }
            let n = (3 * copies) as u16;
            let size = (cd_size * copies) as u32;
            d.extend_from_slice(b"PK\x05\x06");
            for v in [0u16, 0, n, n] {
                d.extend_from_slice(&v.to_le_bytes());
            }
            d.extend_from_slice(&size.to_le_bytes());
            d.extend_from_slice(&(cd as u32).to_le_bytes());
            d.extend_from_slice(&0u16.to_le_bytes());
            let k = Keyring::with_work(vec!["Secret".into()], 100 * 8000);
            let started = std::time::Instant::now();
            let u = unpack_with_keyring(&Zip, &d, k);
            assert_eq!(u.entries.len(), 3000);
            let opened = u
                .entries
                .iter()
                .filter(|e| !matches!(e.data, EntryData::None))
                .count();
            assert_eq!(opened, 100);
            assert!(
                u.warnings
                    .iter()
                    .any(|(_, w)| w.contains("password work budget")),
                "{:?}",
                u.warnings
            );
            assert!(started.elapsed().as_secs() < 60);
        }

        #[test]
        fn hostile_encrypted_inputs_do_not_panic() {
            hostile(&Zip, ZIPCRYPTO);
            // AES-128 (half AES-256's derivation work), fewer flips: each variant tries the
            // list, which costs key derivations.
            use crate::formats::testutil::hostile::{hostile_with, Hostile};
            hostile_with(&Zip, AES128_STORED, &Hostile::flips(100));
        }
    }

    #[test]
    fn encrypted_member_is_kept_without_data() {
        let mut d = STORED.to_vec();
        let cd = le32(&d, d.len() - 22 + 16).unwrap() as usize;
        d[cd + 8] |= 1;
        let u = unpack(&Zip, &d);
        assert_eq!(u.entries.len(), DEFLATE_MEMBERS);
        assert!(u.warnings.iter().any(|(_, w)| w.contains("encrypted")));
        let first = u
            .entries
            .iter()
            .find(|e| e.details.contains_key("encrypted"))
            .unwrap();
        assert!(matches!(first.data, EntryData::None));
    }

    #[test]
    fn cut_off_archive_is_read_from_local_headers() {
        // Cut inside the central directory: only local headers remain.
        let cd = le32(DEFLATE, DEFLATE.len() - 22 + 16).unwrap() as usize;
        let cut = &DEFLATE[..cd + 10];
        let p = Zip.probe(cut).unwrap();
        assert_eq!(p.length, Some(cd as u64), "{}", p.description);
        let u = unpack(&Zip, cut);
        assert!(u.warnings[0].1.contains("no central directory"));
        let passwd = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
        assert!(entry_bytes(cut, passwd).unwrap().starts_with(b"root:"));
        assert_eq!(u.entries.len(), DEFLATE_MEMBERS);
    }

    /// Members of deflate.zip (every manifest line).
    const DEFLATE_MEMBERS: usize = 17;

    #[test]
    fn traversal_and_escaping_link_come_out() {
        let u = unpack(&Zip, TRAVERSAL);
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
        let u = unpack_with_max_entries(&Zip, MANY, 100);
        assert_eq!(u.entries.len(), 100);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit));
    }

    #[test]
    fn zip_bomb_stops_at_budget() {
        let blob = Blob::from(BOMB.to_vec());
        let mut limits = Limits::for_image(BOMB.len() as u64);
        limits.max_total_bytes = 25 << 20;
        let budget = Budget::new(limits);
        let u = Zip
            .unpack(&blob, &UnpackContext { budget: &budget })
            .unwrap();
        assert_eq!(u.entries.len(), 12);
        assert!(budget.used() <= 25 << 20);
        assert!(
            u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Zip, DEFLATE);
        hostile(&Zip, STORED);
    }
}
