//! RAR archives, versions 1.5–4.x (`Rar!\x1a\x07\x00`) and 5.0 (`Rar!\x1a\x07\x01\x00`):
//! the headers are read (RAR 4 blocks with their 16-bit header CRCs, RAR 5 variable-length
//! integers with CRC32), every member is listed with its name, sizes, method and flags, and
//! members stored uncompressed (RAR 4 method 0x30, RAR 5 method 0) are extracted.
//!
//! Written here: the Rust crates that decode RAR (`unrar` and its kin) bind the unRAR
//! source, whose licence forbids re-creating the compressor and is not one a permissively
//! licensed product can take on; clean-room decoders exist in C (libarchive), none in Rust.
//! RAR 3.x/4.x compressed members (the RAR 2.9 algorithm) are decoded by our own
//! [`super::rar_v3_decode`], solid runs in order; any other compressed member, and every
//! encrypted one, is listed without data and with a warning that says why. A self-
//! extracting archive (a DOS/Windows executable with the archive appended) is found by the
//! magic scan at the archive's offset.

use super::blake2sp::blake2sp;
use super::member_name::{dos_absolute, dos_time};
use super::rar_v3_decode;
use super::rar_v5_decode::{Decoder, Method, Rar5Error};
use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// A RAR archive (4.x or 5.0).
pub struct Rar;

const SIG4: &[u8] = b"Rar!\x1a\x07\x00";
const SIG5: &[u8] = b"Rar!\x1a\x07\x01\x00";
static MAGICS: &[Magic] = &[Magic::at_start(SIG4), Magic::at_start(SIG5)];

/// Blocks walked at most in one archive (beyond the entry limit: service blocks).
const MAX_BLOCKS: usize = 2_000_000;
/// Longest member name accepted.
const MAX_NAME: usize = 8192;

/// One member as the headers describe it.
#[derive(Debug, Default)]
struct Member {
    name: String,
    directory: bool,
    /// Offset and length of its packed data in the archive.
    data: (u64, u64),
    unpacked: Option<u64>,
    /// Method as the report names it (`stored`, `m3`, ...).
    method: String,
    stored: bool,
    solid: bool,
    encrypted: bool,
    /// Continued from or into another volume.
    split: bool,
    crc: Option<u32>,
    mtime: Option<i64>,
    /// RAR 4: the version needed to unpack (29 and 36 are the RAR 2.9 algorithm) and the
    /// dictionary size.
    unp_ver: u8,
    dict: u32,
    /// RAR 5: the compression information field (version, dictionary).
    info: u64,
    /// RAR 5: the BLAKE2sp hash stored in the extra area.
    blake2: Option<[u8; 32]>,
}

/// What the headers give: the members, archive flags, where the archive ends, and what
/// stopped the walk early.
#[derive(Debug, Default)]
struct Listing {
    version: u8,
    members: Vec<Member>,
    solid: bool,
    volume: bool,
    headers_encrypted: bool,
    end: u64,
    ended_cleanly: bool,
    problem: Option<String>,
}

// ---------------------------------------------------------------------------- RAR 1.5-4.x

const FILE_HEAD: u8 = 0x74;
const MAIN_HEAD: u8 = 0x73;
const END_HEAD: u8 = 0x7b;
/// Block flag: ADD_SIZE (a data area) follows the header fields.
const LONG_BLOCK: u16 = 0x8000;

/// Walk RAR 4 blocks from just after the marker.
fn list4(d: &[u8], max_entries: usize) -> Listing {
    let mut l = Listing {
        version: 4,
        end: SIG4.len() as u64,
        ..Listing::default()
    };
    let mut pos = SIG4.len();
    for _ in 0..MAX_BLOCKS {
        let Some(h) = d.get(pos..pos + 7) else {
            break;
        };
        let crc = u16::from_le_bytes([h[0], h[1]]);
        let kind = h[2];
        let flags = u16::from_le_bytes([h[3], h[4]]);
        let size = usize::from(u16::from_le_bytes([h[5], h[6]]));
        if size < 7 {
            l.problem = Some(format!("block at {pos:#x}: header size {size}"));
            break;
        }
        let Some(head) = d.get(pos..pos + size) else {
            l.problem = Some(format!("block at {pos:#x} runs past the end"));
            break;
        };
        // The header CRC: the low 16 bits of the CRC32 from the type byte on. Old archives
        // compute the file header's over fewer bytes; the type and layout then decide.
        let crc_ok = (crc32fast::hash(&head[2..]) & 0xffff) as u16 == crc;
        if !crc_ok && kind != FILE_HEAD {
            l.problem = Some(format!("block at {pos:#x}: header CRC mismatch"));
            break;
        }
        let add = if flags & LONG_BLOCK != 0 || kind == FILE_HEAD {
            u64::from(le32(head, 7).unwrap_or(0))
        } else {
            0
        };
        match kind {
            MAIN_HEAD => {
                l.volume = flags & 0x0001 != 0;
                l.solid = flags & 0x0008 != 0;
                if flags & 0x0080 != 0 {
                    l.headers_encrypted = true;
                    l.end = (pos + size) as u64;
                    break;
                }
            }
            FILE_HEAD => match file4(head, flags, pos as u64 + size as u64) {
                Some(m) if crc_ok => {
                    if l.members.len() >= max_entries {
                        l.problem = Some("entry limit reached".into());
                        break;
                    }
                    l.members.push(m);
                }
                _ => {
                    l.problem = Some(format!("file header at {pos:#x} is corrupt"));
                    break;
                }
            },
            END_HEAD => {
                l.end = (pos + size) as u64;
                l.ended_cleanly = true;
                return l;
            }
            _ => {}
        }
        // High 32 bits of the packed size in large file headers.
        let high = if kind == FILE_HEAD && flags & 0x0100 != 0 {
            u64::from(le32(head, 32).unwrap_or(0)) << 32
        } else {
            0
        };
        let next = (pos as u64 + size as u64).saturating_add(add | high);
        l.end = next;
        match usize::try_from(next) {
            Ok(n) if n <= d.len() => pos = n,
            _ => {
                l.problem = Some(format!("data of the block at {pos:#x} runs past the end"));
                break;
            }
        }
    }
    l
}

/// A RAR 4 file header (the whole block header, `data_at` where its data starts).
fn file4(h: &[u8], flags: u16, data_at: u64) -> Option<Member> {
    let packed = u64::from(le32(h, 7)?);
    let unpacked = u64::from(le32(h, 11)?);
    let crc = le32(h, 16)?;
    let time = le32(h, 20)?;
    let method = *h.get(25)?;
    let name_len = usize::from(le16(h, 26)?);
    let large = flags & 0x0100 != 0;
    let (name_at, packed, unpacked) = if large {
        (
            40,
            packed | u64::from(le32(h, 32)?) << 32,
            unpacked | u64::from(le32(h, 36)?) << 32,
        )
    } else {
        (32, packed, unpacked)
    };
    if name_len > MAX_NAME {
        return None;
    }
    let raw = h.get(name_at..name_at + name_len)?;
    // A Unicode name is stored after the ASCII one and a zero; the ASCII part is what
    // every reader falls back to (the Unicode encoding is compact and RAR-specific).
    let raw = if flags & 0x0200 != 0 {
        raw.split(|&b| b == 0).next().unwrap_or(raw)
    } else {
        raw
    };
    let name = String::from_utf8_lossy(raw).into_owned();
    Some(Member {
        name,
        directory: flags & 0x00e0 == 0x00e0,
        data: (data_at, packed),
        unpacked: Some(unpacked),
        stored: method == 0x30,
        method: if method == 0x30 {
            "stored".into()
        } else {
            format!("m{}", method.wrapping_sub(0x30))
        },
        solid: flags & 0x0010 != 0,
        encrypted: flags & 0x0004 != 0,
        split: flags & 0x0003 != 0,
        crc: Some(crc),
        mtime: dos_time(time),
        unp_ver: *h.get(24)?,
        dict: 0x10000 << ((flags >> 5) & 7).min(6),
        ..Member::default()
    })
}

// ---------------------------------------------------------------------------- RAR 5.0

/// A RAR 5 variable-length integer at `*pos`: 7 bits a byte, low first, at most 10 bytes.
fn vint(d: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *d.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Walk RAR 5 blocks from just after the signature.
fn list5(d: &[u8], max_entries: usize) -> Listing {
    let mut l = Listing {
        version: 5,
        end: SIG5.len() as u64,
        ..Listing::default()
    };
    let mut pos = SIG5.len();
    for _ in 0..MAX_BLOCKS {
        let Some(crc) = le32(d, pos) else {
            break;
        };
        let mut p = pos + 4;
        let Some(size) = vint(d, &mut p).and_then(|s| usize::try_from(s).ok()) else {
            l.problem = Some(format!("block at {pos:#x}: bad header size"));
            break;
        };
        let body_at = p;
        let Some(head) = d.get(pos + 4..body_at.saturating_add(size)) else {
            l.problem = Some(format!("block at {pos:#x} runs past the end"));
            break;
        };
        if size == 0 || size > (2 << 20) || crc32fast::hash(head) != crc {
            l.problem = Some(format!("block at {pos:#x}: header CRC mismatch"));
            break;
        }
        let header = &d[body_at..body_at + size];
        let mut q = 0usize;
        let parsed = (|| {
            let kind = vint(header, &mut q)?;
            let flags = vint(header, &mut q)?;
            let extra = if flags & 1 != 0 {
                vint(header, &mut q)?
            } else {
                0
            };
            let data = if flags & 2 != 0 {
                vint(header, &mut q)?
            } else {
                0
            };
            Some((kind, flags, extra, data))
        })();
        let Some((kind, flags, extra, data)) = parsed else {
            l.problem = Some(format!("block at {pos:#x}: bad header fields"));
            break;
        };
        let data_at = (body_at + size) as u64;
        match kind {
            1 => {
                let af = vint(header, &mut q).unwrap_or(0);
                l.volume = af & 1 != 0;
                l.solid = af & 4 != 0;
            }
            2 => match file5(header, q, extra, flags, (data_at, data)) {
                Some(m) => {
                    if l.members.len() >= max_entries {
                        l.problem = Some("entry limit reached".into());
                        break;
                    }
                    l.members.push(m);
                }
                None => {
                    l.problem = Some(format!("file header at {pos:#x} is corrupt"));
                    break;
                }
            },
            4 => {
                l.headers_encrypted = true;
                l.end = data_at;
                break;
            }
            5 => {
                l.end = data_at;
                l.ended_cleanly = true;
                return l;
            }
            _ => {}
        }
        let next = data_at.saturating_add(data);
        l.end = next;
        match usize::try_from(next) {
            Ok(n) if n <= d.len() => pos = n,
            _ => {
                l.problem = Some(format!("data of the block at {pos:#x} runs past the end"));
                break;
            }
        }
    }
    l
}

/// A RAR 5 file header: `h` is the header from its type field, `q` just after the common
/// fields.
fn file5(h: &[u8], mut q: usize, extra: u64, flags: u64, data: (u64, u64)) -> Option<Member> {
    let file_flags = vint(h, &mut q)?;
    let unpacked = vint(h, &mut q)?;
    let _attributes = vint(h, &mut q)?;
    let mtime = if file_flags & 2 != 0 {
        let t = le32(h, q)?;
        q += 4;
        Some(i64::from(t))
    } else {
        None
    };
    let crc = if file_flags & 4 != 0 {
        let c = le32(h, q)?;
        q += 4;
        Some(c)
    } else {
        None
    };
    let compression = vint(h, &mut q)?;
    let _host = vint(h, &mut q)?;
    let name_len = usize::try_from(vint(h, &mut q)?).ok()?;
    if name_len > MAX_NAME {
        return None;
    }
    let name = String::from_utf8_lossy(h.get(q..q + name_len)?).into_owned();
    // The extra area closes the header: an encryption record (type 1) means the data is
    // encrypted.
    let extra_at = h.len().checked_sub(usize::try_from(extra).ok()?)?;
    let mut encrypted = false;
    let mut blake2 = None;
    let mut e = extra_at;
    while e < h.len() {
        // A record: its size (counted from its type field), its type, its data.
        let Some(size) = vint(h, &mut e).and_then(|s| usize::try_from(s).ok()) else {
            break;
        };
        let after_size = e;
        if size == 0 {
            break;
        }
        match vint(h, &mut e) {
            Some(1) => encrypted = true,
            // A hash record: type 0 is BLAKE2sp, 32 bytes.
            Some(2) if vint(h, &mut e) == Some(0) => {
                blake2 = h.get(e..e + 32).and_then(|b| b.try_into().ok());
            }
            _ => {}
        }
        match after_size.checked_add(size) {
            Some(next) => e = next,
            None => break,
        }
    }
    let method = (compression >> 7) & 7;
    Some(Member {
        name,
        directory: file_flags & 1 != 0,
        data,
        unpacked: (file_flags & 8 == 0).then_some(unpacked),
        stored: method == 0,
        method: if method == 0 {
            "stored".into()
        } else {
            format!("m{method}")
        },
        solid: compression & 0x40 != 0,
        encrypted,
        split: flags & 0x18 != 0,
        crc,
        mtime,
        info: compression,
        blake2,
        ..Member::default()
    })
}

// ---------------------------------------------------------------------------- shared by the decoders

/// The 20 code lengths of the pre-table that starts every table block of RAR 2.9 and RAR 5
/// alike: 4-bit lengths, where 15 followed by a 4-bit count `n > 0` stands for `n + 2` zeros
/// (cut at the table's end) and 15 followed by 0 for a length of 15. `get4` reads 4 bits.
pub(super) fn pre_table_lengths(mut get4: impl FnMut() -> u8) -> [u8; 20] {
    let mut pre = [0u8; 20];
    let mut i = 0;
    while i < pre.len() {
        let l = get4();
        if l != 15 {
            pre[i] = l;
            i += 1;
            continue;
        }
        match usize::from(get4()) {
            0 => {
                pre[i] = 15;
                i += 1;
            }
            zeros => i = (i + zeros + 2).min(pre.len()),
        }
    }
    pre
}

// ---------------------------------------------------------------------------- the format

fn list(d: &[u8], max_entries: usize) -> Option<Listing> {
    if d.starts_with(SIG5) {
        Some(list5(d, max_entries))
    } else if d.starts_with(SIG4) {
        Some(list4(d, max_entries))
    } else {
        None
    }
}

impl Format for Rar {
    fn name(&self) -> &'static str {
        "rar"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let l = list(data, usize::MAX)?;
        // Seven or eight magic bytes and a CRC-checked first block.
        if l.members.is_empty() && !l.ended_cleanly && !l.headers_encrypted {
            return None;
        }
        Some(Probe {
            length: Some(l.end.min(data.len() as u64)),
            description: format!(
                "RAR {} archive, {} members{}{}",
                if l.version == 5 { "5.0" } else { "1.5-4.x" },
                l.members.len(),
                if l.solid { ", solid" } else { "" },
                if l.headers_encrypted {
                    ", encrypted headers"
                } else {
                    ""
                },
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let l = list(d, ctx.max_entries())
            .ok_or_else(|| FormatError::Corrupt("no RAR signature".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", if l.version == 5 { "5.0" } else { "1.5-4.x" });
        out.detail("solid", l.solid);
        out.detail("volume", l.volume);
        out.detail("members", l.members.len());
        if l.headers_encrypted {
            out.detail("encrypted_headers", true);
            out.warn(
                WarningKind::Unsupported,
                "RAR archive with encrypted headers: encrypted volume, members not listed",
            );
        }
        if let Some(p) = &l.problem {
            out.warn(WarningKind::Corrupt, format!("headers end early: {p}"));
        } else if !l.ended_cleanly && !l.headers_encrypted {
            // The probe cut the archive where its last good block ended.
            out.warn(
                WarningKind::Truncated,
                "no end-of-archive block: the archive is cut short or damaged after its last member",
            );
        }
        let mut compressed = 0usize;
        // The RAR 2.9 stream of a solid run of RAR 4 members, carried from one to the next,
        // and the RAR 5 decoder of a solid stream likewise.
        let mut stream: Option<rar_v3_decode::Decoder> = None;
        let mut solid5: Option<Decoder> = None;
        for (index, m) in l.members.iter().enumerate() {
            let path = dos_absolute(&m.name);
            let mut e = Entry::fs(
                path.clone(),
                if m.directory {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
            )
            .with_detail("method", &m.method);
            if let Some(t) = m.mtime {
                e = e.with_mtime(t);
            }
            if let Some(s) = m.unpacked {
                e = e.with_detail("size", s);
            }
            e = e.with_detail("packed_size", m.data.1);
            if m.solid {
                e = e.with_detail("solid", true);
            }
            if m.encrypted {
                e = e.with_detail("encrypted", true);
            }
            if m.directory {
                out.entries.push(e);
                continue;
            }
            let in_archive = m.data.0.saturating_add(m.data.1) <= d.len() as u64;
            if l.version == 4 && !m.stored {
                if !m.solid {
                    stream = None;
                }
                if m.encrypted || m.split {
                    // A solid run cannot go on past a member it cannot decode.
                    stream = Some(rar_v3_decode::Decoder::failed(format!(
                        "{path} is encrypted or split"
                    )));
                }
            }
            if m.encrypted || m.split {
                solid5 = None;
            }
            if m.encrypted {
                out.warn(
                    WarningKind::Unsupported,
                    format!("{path}: encrypted member; listed, not opened"),
                );
            } else if m.split {
                out.warn(
                    WarningKind::Unsupported,
                    format!("{path}: continues in another volume; listed, not opened"),
                );
            } else if !m.stored && l.version == 4 && in_archive {
                compressed += 1;
                e = rar4_member(d, &l.members, index, &mut stream, &path, ctx, &mut out, e)?;
            } else if !m.stored && l.version == 5 {
                compressed += 1;
                let next_solid = l.members[index + 1..]
                    .iter()
                    .find(|n| !n.directory)
                    .is_some_and(|n| n.solid);
                e = decode5(d, m, &path, next_solid, &mut solid5, ctx, &mut out, e)?;
            } else if !m.stored {
                compressed += 1;
                out.warn(
                    WarningKind::Unsupported,
                    format!(
                        "{path}: RAR-compressed ({}); no pure-Rust decoder under a permissive licence exists, so it is listed, not opened",
                        m.method
                    ),
                );
            } else if !in_archive {
                out.warn(
                    WarningKind::Truncated,
                    format!("{path}: data runs past the end of the archive"),
                );
            } else {
                let (offset, length) = m.data;
                let bytes = &d[offset as usize..(offset + length) as usize];
                if m.crc.is_some_and(|c| crc32fast::hash(bytes) != c) {
                    out.warn(WarningKind::Corrupt, format!("{path}: CRC32 mismatch"));
                }
                if m.blake2.is_some_and(|h| blake2sp(bytes) != h) {
                    out.warn(WarningKind::Corrupt, format!("{path}: BLAKE2sp mismatch"));
                }
                if m.unpacked.is_some_and(|s| s != length) {
                    out.warn(
                        WarningKind::Corrupt,
                        format!("{path}: stored size differs from the packed size"),
                    );
                }
                e = e.with_data(EntryData::Range { offset, length });
            }
            out.entries.push(e);
        }
        if compressed > 0 {
            out.detail("compressed_members", compressed);
        }
        Ok(out)
    }
}

/// Decode the RAR 4 member `members[index]` (RAR 2.9 algorithm) into its entry: a solid
/// member continues `stream`, any other starts one. The window is the dictionary, or less
/// when the data of the run is smaller, and never more than the budget allows.
#[allow(clippy::too_many_arguments)]
fn rar4_member(
    d: &[u8],
    members: &[Member],
    index: usize,
    stream: &mut Option<rar_v3_decode::Decoder>,
    path: &str,
    ctx: &UnpackContext,
    out: &mut Unpacked,
    e: Entry,
) -> Result<Entry, FormatError> {
    let m = &members[index];
    let size = m.unpacked.unwrap_or(0);
    if !matches!(m.unp_ver, 29 | 36) {
        *stream = Some(rar_v3_decode::Decoder::failed(format!(
            "{path} uses another algorithm"
        )));
        out.warn(
            WarningKind::Unsupported,
            format!(
                "{path}: RAR {}.{} compression (only the RAR 2.9 algorithm of RAR 3.x/4.x is decoded); listed, not opened",
                m.unp_ver / 10,
                m.unp_ver % 10
            ),
        );
        return Ok(e);
    }
    if size > ctx.stream_limit() {
        *stream = Some(rar_v3_decode::Decoder::failed(format!(
            "{path} is past the stream limit"
        )));
        out.warn(
            WarningKind::Limit,
            format!("{path}: {size} bytes exceed the stream limit; not opened"),
        );
        return Ok(e);
    }
    let decoder = stream.get_or_insert_with(|| {
        // The run this member starts: it and the solid members after it.
        let run: u64 = std::iter::once(m)
            .chain(members[index + 1..].iter().take_while(|n| n.solid))
            .filter_map(|n| n.unpacked)
            .fold(0u64, u64::saturating_add);
        let window = u64::from(m.dict)
            .min(run.max(1).next_power_of_two())
            .min(ctx.stream_limit().max(1));
        rar_v3_decode::Decoder::new(window as usize)
    });
    let (offset, length) = m.data;
    let packed = &d[offset as usize..(offset + length) as usize];
    let decoded = decoder.member(packed, size as usize);
    if let Some(p) = &decoded.problem {
        out.warn(
            WarningKind::Decode,
            format!("{path}: {p}; {} of {size} bytes kept", decoded.data.len()),
        );
    } else if m.crc.is_some_and(|c| crc32fast::hash(&decoded.data) != c) {
        out.warn(WarningKind::Corrupt, format!("{path}: CRC32 mismatch"));
    }
    if decoded.data.is_empty() && size > 0 {
        return Ok(e);
    }
    ctx.charge(decoded.data.len() as u64)?;
    Ok(e.with_data(EntryData::Owned(Blob::from(decoded.data))))
}

/// Decode a compressed RAR 5 member into `e` (or warn why not), carrying the solid
/// stream's state in `solid`.
#[allow(clippy::too_many_arguments)]
fn decode5(
    d: &[u8],
    m: &Member,
    path: &str,
    next_solid: bool,
    solid: &mut Option<Decoder>,
    ctx: &UnpackContext,
    out: &mut Unpacked,
    e: Entry,
) -> Result<Entry, FormatError> {
    let method = match Method::from_info(m.info) {
        Ok(method) => method,
        Err(err) => {
            *solid = None;
            out.warn(WarningKind::Unsupported, format!("{path}: {err}"));
            return Ok(e);
        }
    };
    let (offset, length) = m.data;
    let Some(packed) = usize::try_from(offset)
        .ok()
        .zip(usize::try_from(length).ok())
        .and_then(|(o, n)| d.get(o..o.checked_add(n)?))
    else {
        *solid = None;
        out.warn(
            WarningKind::Truncated,
            format!("{path}: data runs past the end of the archive"),
        );
        return Ok(e);
    };
    let mut dec = match solid.take() {
        Some(dec) if m.solid => dec,
        None if m.solid => {
            out.warn(
                WarningKind::Decode,
                format!(
                    "{path}: solid member whose predecessor was not decoded; listed, not opened"
                ),
            );
            return Ok(e);
        }
        _ => Decoder::new(method),
    };
    let result = dec.member(packed, m.unpacked, ctx.stream_limit(), method, next_solid);
    if next_solid && dec.usable() {
        *solid = Some(dec);
    }
    match result {
        Ok(v) => {
            if m.crc.is_some_and(|c| crc32fast::hash(&v) != c) {
                out.warn(WarningKind::Corrupt, format!("{path}: CRC32 mismatch"));
            }
            if m.blake2.is_some_and(|h| blake2sp(&v) != h) {
                out.warn(WarningKind::Corrupt, format!("{path}: BLAKE2sp mismatch"));
            }
            ctx.charge(v.len() as u64)?;
            Ok(e.with_data(EntryData::Owned(Blob::from(v))))
        }
        Err(err @ Rar5Error::Unsupported(_)) => {
            out.warn(
                WarningKind::Limit,
                format!("{path}: {err}; listed, not opened"),
            );
            Ok(e)
        }
        Err(err) => {
            out.warn(
                WarningKind::Decode,
                format!("{path}: {err}; listed, not opened"),
            );
            Ok(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cab::tests::check_members;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::unpack;

    const RAR4: &[u8] = include_bytes!("../../tests/fixtures/dosarc/stored4.rar");
    const RAR5: &[u8] = include_bytes!("../../tests/fixtures/dosarc/stored5.rar");
    const SFX: &[u8] = include_bytes!("../../tests/fixtures/dosarc/sfx4.exe");

    #[test]
    fn lists_and_extracts_stored_members() {
        for (label, data, version) in [("rar4", RAR4, "1.5-4.x"), ("rar5", RAR5, "5.0")] {
            let p = Rar.probe(data).expect("probe");
            assert_eq!(p.length, Some(data.len() as u64), "{label}");
            let u = unpack(&Rar, data);
            assert_eq!(u.details["version"], version);
            check_members(label, data, &u);
            let dir = u.entries.iter().find(|e| e.path == "/etc").unwrap();
            assert_eq!(dir.kind, EntryKind::Directory, "{label}");
            let packed = u.entries.iter().find(|e| e.path == "/packed.dat").unwrap();
            assert_eq!(u.details["compressed_members"], "1");
            if version == "1.5-4.x" {
                // RAR 4 compressed members are decoded; this one holds no real compressed
                // data, so decoding it gives a warning.
                assert_eq!(u.warnings.len(), 1, "{label}: {:?}", u.warnings);
                let (kind, message) = &u.warnings[0];
                assert!(matches!(kind, WarningKind::Decode | WarningKind::Corrupt));
                assert!(message.starts_with("/packed.dat: "), "{message}");
                continue;
            }
            // RAR 5 is decoded too: the crafted stand-in bytes are not a valid stream, so the
            // member is listed without data, with a warning saying why.
            assert!(matches!(packed.data, EntryData::None), "{label}");
            assert_eq!(u.warnings.len(), 1, "{label}: {:?}", u.warnings);
            assert_eq!(u.warnings[0].0, WarningKind::Decode, "{:?}", u.warnings);
            assert!(u.warnings[0].1.contains("/packed.dat: "));
        }
    }

    #[test]
    fn self_extractor_is_found_by_the_scan() {
        use crate::formats::registry;
        use crate::{UnpackOptions, Unpacker};
        let r = Unpacker::with_formats(registry()).unpack_bytes(
            "sfx.exe",
            Blob::from(SFX.to_vec()),
            &UnpackOptions::default(),
        );
        let rar = r
            .nodes
            .iter()
            .find(|n| n.format.as_deref() == Some("rar"))
            .expect("rar node");
        assert_eq!(rar.offset, Some((SFX.len() - RAR4.len()) as u64));
        assert!(r
            .nodes
            .iter()
            .any(|n| n.path.ends_with("/etc/config/network")));
    }

    #[test]
    fn damaged_headers_end_the_listing_with_a_warning() {
        let mut d = RAR5.to_vec();
        // The third block (second file header) loses its CRC.
        let first = {
            let l = list5(&d, usize::MAX);
            l.members[1].data.0 as usize + l.members[1].data.1 as usize
        };
        d[first] ^= 0xff;
        let u = unpack(&Rar, &d);
        assert_eq!(u.entries.len(), 2);
        assert!(
            u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn encrypted_members_are_listed_not_opened() {
        // Set the RAR 4 "encrypted" flag of the second file header (notes.txt) and fix its
        // header CRC.
        let mut d = RAR4.to_vec();
        let l = list4(&d, usize::MAX);
        let notes = &l.members[1];
        let size = 32 + notes.name.len();
        let at = notes.data.0 as usize - size;
        d[at + 3] |= 0x04;
        let crc = (crc32fast::hash(&d[at + 2..at + size]) & 0xffff) as u16;
        d[at..at + 2].copy_from_slice(&crc.to_le_bytes());
        let u = unpack(&Rar, &d);
        let e = u.entries.iter().find(|e| e.path == "/notes.txt").unwrap();
        assert!(matches!(e.data, EntryData::None));
        assert_eq!(e.details["encrypted"], "true");
        assert!(u
            .warnings
            .iter()
            .any(|(k, m)| *k == WarningKind::Unsupported && m.contains("/notes.txt: encrypted")));
    }

    #[test]
    fn probe_wants_a_valid_first_block() {
        assert!(Rar.probe(SIG4).is_none());
        assert!(Rar.probe(SIG5).is_none());
        let mut d = RAR4.to_vec();
        d[7] ^= 1; // main header CRC
        assert!(Rar.probe(&d).is_none());
    }

    const RAR4_EXPECTED: &str = include_str!("../../tests/fixtures/rar4/expected.txt");

    fn rar4_fixture(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rar4/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    fn owned(u: &Unpacked, path: &str) -> Vec<u8> {
        match &u.entries.iter().find(|e| e.path == path).unwrap().data {
            EntryData::Owned(b) => b.to_vec(),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn rar4_members_decode_to_their_expected_hashes() {
        // LZ (normal, best, many blocks, the low-distance reset), PPMd (best, solid PPMd),
        // filters (E8E9 and Delta in bsdcat.exe) and two solid runs.
        let mut fixtures: Vec<&str> = Vec::new();
        for line in RAR4_EXPECTED.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(' ').next().unwrap();
            if !fixtures.contains(&name) {
                fixtures.push(name);
            }
        }
        assert!(fixtures.len() >= 8);
        for name in fixtures {
            let data = rar4_fixture(name);
            let u = unpack(&Rar, &data);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            for line in RAR4_EXPECTED
                .lines()
                .filter(|l| l.starts_with(&format!("{name} ")))
            {
                let f: Vec<&str> = line.split(' ').collect();
                let got = owned(&u, f[1]);
                assert_eq!(got.len().to_string(), f[2], "{line}");
                assert_eq!(crate::formats::testutil::sha_hex(&got), f[3], "{line}");
            }
        }
        // Contents libarchive's tests state.
        let u = unpack(&Rar, &rar4_fixture("rar_filter.rar"));
        let exe = owned(&u, "/bsdcat.exe");
        assert_eq!(exe.len(), 204_288);
        assert_eq!(exe[..12], [0x4d, 0x5a, 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
        let u = unpack(&Rar, &rar4_fixture("rar_multi_lzss_blocks.rar"));
        let text = owned(&u, "/multi_lzss_blocks_test.txt");
        assert!(text.ends_with(b"-bottom: 0in\"><BR>\n</P>\n</BODY>\n</HTML>"));
        assert_eq!(u.details["compressed_members"], "1");
    }

    #[test]
    fn corrupt_packed_data_is_a_warning_and_the_listing_goes_on() {
        let mut d = rar4_fixture("rar_compress_normal.rar");
        let first = list4(&d, usize::MAX).members[0].data;
        let mid = (first.0 + first.1 / 2) as usize;
        for b in &mut d[mid..mid + 16] {
            *b ^= 0x5a;
        }
        let u = unpack(&Rar, &d);
        assert_eq!(u.entries.len(), 6);
        assert!(
            u.warnings.iter().any(
                |(k, m)| matches!(k, WarningKind::Corrupt | WarningKind::Decode)
                    && m.starts_with("/LibarchiveAddingTest.html:")
            ),
            "{:?}",
            u.warnings
        );
        // The other members are separate streams and still decode.
        let txt = owned(&u, "/testdir/test.txt");
        assert_eq!(txt, b"test text document\r\n");
    }

    #[test]
    fn a_solid_run_stops_at_its_first_broken_member() {
        let mut d = rar4_fixture("sc_solid.rar");
        let first = list4(&d, usize::MAX).members[0].data;
        // Cut the first member's data short: the whole run after it cannot be decoded.
        let at = first.0 as usize;
        for b in &mut d[at..at + 64] {
            *b = 0;
        }
        let u = unpack(&Rar, &d);
        assert_eq!(u.entries.len(), 6);
        assert!(u
            .warnings
            .iter()
            .any(|(_, m)| m.starts_with("/exe/test.exe:") && m.contains("earlier member")));
    }

    #[test]
    fn members_past_the_stream_limit_are_not_decoded() {
        let data = rar4_fixture("rar_multi_lzss_blocks.rar");
        let mut limits = crate::limits::Limits::for_image(data.len() as u64);
        limits.max_stream_bytes = 1 << 20;
        let u = crate::formats::testutil::unpack_with_limits(&Rar, &data, limits);
        assert!(matches!(u.entries[0].data, EntryData::None));
        assert!(u
            .warnings
            .iter()
            .any(|(k, m)| *k == WarningKind::Limit && m.contains("exceed the stream limit")));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Rar, RAR4);
        hostile(&Rar, RAR5);
        for name in [
            "rar_compress_normal.rar",
            "rar3_lowdist_reset.rar",
            "ss_solid_ppmd.cbr",
            "rar_ppmd_use_after_free.rar",
        ] {
            hostile(&Rar, &rar4_fixture(name));
        }
    }
}
