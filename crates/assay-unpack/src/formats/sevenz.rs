//! 7z archives, read with `sevenz-rust2` (LZMA, LZMA2, BCJ filters, bzip2, AES-256): the
//! signature header gives the archive's length, members are decoded under the scan's budget
//! and a memory limit for decoder dictionaries. Encrypted archives (data, or headers too) are
//! opened with the scan's passwords ([`crate::passwords`]): the first encrypted block's first
//! member must decode with its CRC, or the encrypted header must parse; an archive no password
//! opens lists its members without data (or, with encrypted headers, only says so).

use super::member_name::absolute;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::limits::read_bounded;
use crate::passwords::{Attempts, Outcome};
use crate::unix_mode::FileType;
use crate::{Blob, FormatError};
use sevenz_rust2::{Archive, BlockDecoder, Password};
use std::collections::{HashMap, VecDeque};
use std::io::Read;

/// A 7z archive.
pub struct SevenZ;

const SIGNATURE: &[u8] = b"7z\xbc\xaf\x27\x1c";
static MAGICS: &[Magic] = &[Magic::at_start(SIGNATURE)];

/// Largest decoder dictionary or model the reader may allocate, in KiB.
const MAX_DECODER_MEMORY_KB: u64 = 256 << 10;
/// Largest encoded header accepted by the probe.
const MAX_HEADER: u64 = 64 << 20;

/// Length of the archive from its signature header, `None` if the header is not valid.
fn measure(d: &[u8]) -> Option<u64> {
    if d.get(..6)? != SIGNATURE || *d.get(6)? != 0 {
        return None;
    }
    let start_crc = u32::from_le_bytes(d.get(8..12)?.try_into().ok()?);
    let start = d.get(12..32)?;
    if crc32fast::hash(start) != start_crc {
        return None;
    }
    let offset = u64::from_le_bytes(start[0..8].try_into().ok()?);
    let size = u64::from_le_bytes(start[8..16].try_into().ok()?);
    if size == 0 || size > MAX_HEADER {
        return None;
    }
    offset.checked_add(size)?.checked_add(32)
}

impl Format for SevenZ {
    fn name(&self) -> &'static str {
        "7z"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let length = measure(data)?;
        Some(Probe {
            length: Some(length),
            description: format!("7z archive v0.{}", data.get(7)?),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let mut out = Unpacked::default();
        let memory_kb = (ctx.stream_limit() / 1024).clamp(1024, MAX_DECODER_MEMORY_KB) as usize;
        let mut cursor = std::io::Cursor::new(&data[..]);
        let mut attempts = Attempts::new(ctx.keyring()).skip_empty();
        // The headers: readable as they are, or encrypted too (then only a password reads them).
        let (archive, header_password) = match Archive::read_with_memory_limit(
            &mut cursor,
            &Password::empty(),
            memory_kb,
        ) {
            Ok(a) => (a, None),
            Err(sevenz_rust2::Error::PasswordRequired) => {
                let cost = derivation_cost(header_power(data));
                let opened = attempts.open(cost, |p| {
                    if p.is_empty() {
                        return None;
                    }
                    let password = Password::new(&String::from_utf8_lossy(p));
                    Archive::read_with_memory_limit(&mut cursor, &password, memory_kb)
                        .ok()
                        .map(|a| (a, password))
                });
                out.detail("encrypted", "7z aes-256, headers too");
                match opened {
                    Outcome::Opened((a, password), origin) => {
                        out.detail("password", origin.describe());
                        (a, Some(password))
                    }
                    Outcome::NotFound | Outcome::OutOfWork => {
                        let why = if attempts.out_of_work() {
                            "the scan's password work budget is spent"
                        } else {
                            NONE_OPENED
                        };
                        out.warn(
                                WarningKind::Unsupported,
                                format!("encrypted 7z archive (AES-256, headers too) not opened: {why}; its members cannot be listed"),
                            );
                        return Ok(out);
                    }
                }
            }
            Err(e) => {
                return Err(match classify(&e) {
                    Some(msg) => FormatError::Unsupported(msg),
                    None => FormatError::Corrupt(format!("7z header: {e}")),
                })
            }
        };
        let max = ctx.max_entries();
        let files = &archive.files;
        out.detail("members", files.len());
        if files.len() > max {
            out.warn(
                WarningKind::Limit,
                format!(
                    "limit reached: {} members, only the first {max} are kept",
                    files.len()
                ),
            );
        }
        // Encrypted content: the password that read the headers, else find one on the first
        // encrypted block.
        let encrypted_blocks: Vec<bool> = archive
            .blocks
            .iter()
            .map(|b| b.coders.iter().any(|c| c.encoder_method_id() == AES_ID))
            .collect();
        let mut password = Password::empty();
        let mut locked = false;
        if let Some(p) = header_password {
            password = p;
        } else if let Some(first) = encrypted_blocks.iter().position(|&e| e) {
            out.detail("encrypted", "7z aes-256");
            let power = archive.blocks[first]
                .coders
                .iter()
                .find(|c| c.encoder_method_id() == AES_ID)
                .and_then(|c| c.properties().first())
                .map(|b| b & 0x3f);
            let cost = derivation_cost(power);
            let limit = ctx.stream_limit();
            let opened = attempts.open(cost, |p| {
                if p.is_empty() {
                    return None;
                }
                let password = Password::new(&String::from_utf8_lossy(p));
                first_entry_decodes(
                    &archive,
                    first,
                    &password,
                    &mut cursor,
                    memory_kb,
                    limit,
                    ctx,
                )
                .then_some(password)
            });
            match opened {
                Outcome::Opened(p, origin) => {
                    out.detail("password", origin.describe());
                    password = p;
                }
                Outcome::NotFound | Outcome::OutOfWork => {
                    locked = true;
                    let why = if attempts.out_of_work() {
                        "the scan's password work budget is spent"
                    } else {
                        NONE_OPENED
                    };
                    let closed = (0..files.len().min(max))
                        .filter(|&i| archive.is_file_encrypted(i) && files[i].has_stream)
                        .count();
                    out.warn(
                        WarningKind::Unsupported,
                        format!("encrypted 7z archive (AES-256): {closed} members not opened: {why}; kept without data"),
                    );
                }
            }
        }
        // Every member becomes an entry first; decoding then fills in the data.
        let mut waiting: HashMap<String, VecDeque<usize>> = HashMap::new();
        for (i, f) in files.iter().enumerate().take(max) {
            let path = absolute(&f.name, &['/', '\\'], false);
            let mode = (f.has_windows_attributes && f.windows_attributes & 0x8000 != 0)
                .then_some(f.windows_attributes >> 16)
                .filter(|&m| m != 0);
            let kind = if f.is_directory
                || mode.and_then(FileType::of_mode) == Some(FileType::Directory)
            {
                EntryKind::Directory
            } else {
                EntryKind::File
            };
            let mut e = Entry::fs(path, kind);
            e.mode = mode;
            if f.has_last_modified_date {
                e.mtime = unix_from_nt(u64::from(f.last_modified_date));
            }
            if f.is_anti_item {
                e = e.with_detail("anti_item", "true");
            }
            if e.kind == EntryKind::File {
                if archive.is_file_encrypted(i) {
                    e = e
                        .with_detail("encrypted", "true")
                        .with_detail("size", f.size);
                }
                if f.has_stream {
                    waiting
                        .entry(f.name.clone())
                        .or_default()
                        .push_back(out.entries.len());
                } else {
                    e.data = EntryData::Owned(Blob::from(Vec::new()));
                }
            }
            out.entries.push(e);
        }
        let mut stopped: Option<(WarningKind, String)> = None;
        let entries = &mut out.entries;
        let mut errors = Vec::new();
        for (block, &encrypted) in encrypted_blocks.iter().enumerate() {
            if stopped.is_some() {
                break;
            }
            if encrypted && locked {
                continue;
            }
            let decoder = BlockDecoder::new_with_memory_limit(
                1,
                memory_kb,
                block,
                &archive,
                &password,
                &mut cursor,
            );
            let result = decoder.for_each_entries(&mut |f, r: &mut dyn Read| {
                if !f.has_stream {
                    return Ok(true);
                }
                let Some(index) = waiting.get_mut(&f.name).and_then(|q| q.pop_front()) else {
                    return Ok(true);
                };
                let decoded = read_bounded(r, ctx.stream_limit());
                if let Some(e) = decoded.error {
                    stopped = Some((e.kind(), format!("{}: {e}", f.name)));
                    if decoded.data.is_empty() {
                        return Ok(false);
                    }
                }
                if let Err(e) = ctx.charge(decoded.data.len() as u64) {
                    stopped = Some((e.kind(), format!("{}: {e}", f.name)));
                    return Ok(false);
                }
                if let Some(e) = entries.get_mut(index) {
                    e.data = EntryData::Owned(Blob::from(decoded.data));
                    if encrypted {
                        e.details.insert("decrypted".into(), "true".into());
                    }
                }
                Ok(stopped.is_none())
            });
            if let Err(e) = result {
                errors.push(e);
                if errors.len() >= MAX_BLOCK_ERRORS {
                    break;
                }
            }
        }
        if let Some((kind, msg)) = stopped {
            out.warn(kind, format!("{msg}; later members kept without data"));
        }
        for e in errors {
            match classify(&e) {
                Some(msg) => out.warn(
                    WarningKind::Unsupported,
                    format!("{msg}; members kept without data"),
                ),
                None => out.warn(WarningKind::Decode, format!("decoding stopped: {e}")),
            }
        }
        // Symlinks (stored by p7zip/7-Zip with -snl) hold their target as data.
        for e in &mut out.entries {
            if e.mode.and_then(FileType::of_mode) == Some(FileType::Symlink) {
                if let EntryData::Owned(b) = &e.data {
                    e.kind = EntryKind::Symlink(String::from_utf8_lossy(b).into_owned());
                    e.data = EntryData::None;
                }
            }
        }
        Ok(out)
    }
}

/// Why no password opened an archive, when the work budget did not stop the attempts.
const NONE_OPENED: &str =
    "neither the given passwords, the empty one nor the built-in list opened it";

/// Method id of 7-Zip's AES-256 + SHA-256 coder.
const AES_ID: &[u8] = &[0x06, 0xf1, 0x07, 0x01];

/// Blocks whose decoding fails before the archive stops trying the next ones.
const MAX_BLOCK_ERRORS: usize = 8;

/// Hash rounds of one 7z key derivation with `2^power` SHA-256 rounds (power 63 means the
/// key is given raw); unknown powers count as the largest the reader accepts (2^24).
fn derivation_cost(power: Option<u8>) -> u64 {
    match power {
        Some(0x3f) => 1,
        Some(p) if p <= 24 => 1 << p,
        _ => 1 << 24,
    }
}

/// The key-derivation power of an archive whose headers are encrypted, read from the AES
/// coder record of the encoded header (flag byte, id 06 F1 07 01, property size, then the
/// first property byte whose low six bits are the power). `None` when not found.
fn header_power(d: &[u8]) -> Option<u8> {
    let offset = usize::try_from(u64::from_le_bytes(d.get(12..20)?.try_into().ok()?)).ok()?;
    let size = usize::try_from(u64::from_le_bytes(d.get(20..28)?.try_into().ok()?)).ok()?;
    let start = offset.checked_add(32)?;
    let header = d.get(start..start.checked_add(size.min(4096))?)?;
    let at = memchr::memmem::find(header, AES_ID)?;
    let flag = *header.get(at.checked_sub(1)?)?;
    let mut j = at + AES_ID.len();
    if flag & 0x10 != 0 {
        // Numbers of in and out streams (one byte each when small).
        if *header.get(j)? >= 0x80 || *header.get(j + 1)? >= 0x80 {
            return None;
        }
        j += 2;
    }
    if flag & 0x20 == 0 {
        return None;
    }
    header.get(j + 1).map(|b| b & 0x3f)
}

/// Whether the first member with data of `block` decodes with `password` (its CRC checked);
/// the bytes decoded are charged to the budget, so a hostile block decoded for every candidate
/// stops at it.
fn first_entry_decodes(
    archive: &Archive,
    block: usize,
    password: &Password,
    cursor: &mut std::io::Cursor<&[u8]>,
    memory_kb: usize,
    limit: u64,
    ctx: &UnpackContext,
) -> bool {
    let mut ok = false;
    let decoder =
        BlockDecoder::new_with_memory_limit(1, memory_kb, block, archive, password, cursor);
    let result = decoder.for_each_entries(&mut |f, r: &mut dyn Read| {
        if !f.has_stream {
            return Ok(true);
        }
        let decoded = read_bounded(r, limit);
        ok = decoded.error.is_none() && ctx.charge(decoded.data.len() as u64).is_ok();
        Ok(false)
    });
    ok && result.is_ok()
}

/// A message for errors that mean "encrypted" or "unsupported method", `None` otherwise.
/// Unix seconds of a Windows file time (100 ns ticks since 1601-01-01 UTC), as 7z stores
/// member times.
fn unix_from_nt(ticks: u64) -> Option<i64> {
    const SECONDS_1601_TO_1970: i64 = 11_644_473_600;
    i64::try_from(ticks / 10_000_000)
        .ok()?
        .checked_sub(SECONDS_1601_TO_1970)
}

fn classify(e: &sevenz_rust2::Error) -> Option<String> {
    use sevenz_rust2::Error as E;
    match e {
        E::PasswordRequired | E::MaybeBadPassword(_) => Some("encrypted 7z archive".into()),
        E::UnsupportedCompressionMethod(m) if m.to_ascii_lowercase().contains("aes") => {
            Some("encrypted 7z archive (AES)".into())
        }
        E::UnsupportedCompressionMethod(m) => Some(format!("7z method {m} not supported")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::manifest::{check, Check, ARCHIVES};
    use crate::formats::testutil::unpack;
    use crate::limits::{Budget, Limits};

    const LZMA2: &[u8] = include_bytes!("../../tests/fixtures/archives/lzma2.7z");
    const BZIP2: &[u8] = include_bytes!("../../tests/fixtures/archives/bzip2.7z");
    const ENCRYPTED: &[u8] = include_bytes!("../../tests/fixtures/archives/encrypted.7z");
    const ENCRYPTED_HEADERS: &[u8] =
        include_bytes!("../../tests/fixtures/archives/encrypted-headers.7z");

    fn full(data: &[u8]) {
        let p = SevenZ.probe(data).unwrap();
        assert_eq!(p.length, Some(data.len() as u64), "{}", p.description);
        let u = unpack(&SevenZ, data);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        // 7-Zip stores a hard link's bytes as a second file.
        check("7z", data, &u.entries, ARCHIVES, &Check::ARCHIVE);
    }

    #[test]
    fn lzma2_matches_manifest() {
        full(LZMA2);
    }

    #[test]
    fn bzip2_matches_manifest() {
        full(BZIP2);
    }

    #[test]
    fn encrypted_members_without_password_are_listed_with_one_warning() {
        let u = unpack(&SevenZ, ENCRYPTED);
        assert_eq!(u.entries.len(), 1);
        assert!(matches!(u.entries[0].data, EntryData::None));
        assert_eq!(u.entries[0].details.get("encrypted").unwrap(), "true");
        assert!(u.entries[0].details.contains_key("size"));
        assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
        assert!(u.warnings[0].1.contains("not opened"), "{:?}", u.warnings);
        assert_eq!(u.details.get("encrypted").unwrap(), "7z aes-256");
    }

    #[test]
    fn encrypted_headers_without_password_say_so() {
        assert!(SevenZ.probe(ENCRYPTED_HEADERS).is_some());
        let u = unpack(&SevenZ, ENCRYPTED_HEADERS);
        assert!(u.entries.is_empty());
        assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
        assert!(u.warnings[0].1.contains("headers too"), "{:?}", u.warnings);
        assert_eq!(
            u.details.get("encrypted").unwrap(),
            "7z aes-256, headers too"
        );
    }

    mod encrypted {
        use super::*;
        use crate::formats::testutil::{check_encrypted, unpack_with_keyring};
        use crate::passwords::Keyring;

        const AES: &[u8] = include_bytes!("../../tests/fixtures/encrypted/aes.7z");
        const AES_HEADERS: &[u8] = include_bytes!("../../tests/fixtures/encrypted/aes-headers.7z");
        const AES_HEADERS_LIST: &[u8] =
            include_bytes!("../../tests/fixtures/encrypted/aes-headers-list.7z");

        fn with(data: &[u8], passwords: &[&str]) -> Unpacked {
            let k = Keyring::new(passwords.iter().map(|p| p.to_string()).collect());
            unpack_with_keyring(&SevenZ, data, k)
        }

        #[test]
        fn user_password_opens_data_and_headers() {
            for data in [AES, AES_HEADERS] {
                let u = with(data, &["wrong", "Secret"]);
                assert!(u.warnings.is_empty(), "{:?}", u.warnings);
                check_encrypted(data, &u.entries);
                assert_eq!(u.details.get("password").unwrap(), "user supplied #2");
            }
            let u = with(AES, &["Secret"]);
            let e = u.entries.iter().find(|e| e.path == "/etc/passwd").unwrap();
            assert_eq!(e.details.get("encrypted").unwrap(), "true");
        }

        #[test]
        fn list_password_opens_encrypted_headers() {
            let u = with(AES_HEADERS_LIST, &[]);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            check_encrypted(AES_HEADERS_LIST, &u.entries);
            assert!(
                u.details["password"].starts_with("built-in list #1 ("),
                "{:?}",
                u.details
            );
        }

        #[test]
        fn wrong_password_lists_members() {
            let u = with(AES, &["nope"]);
            assert_eq!(u.entries.len(), 3);
            assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
            assert!(
                u.warnings[0].1.contains("3 members not opened"),
                "{:?}",
                u.warnings
            );
        }

        #[test]
        fn work_budget_stops_attempts() {
            // Room for one 2^19-round derivation only: the list is not tried.
            let k = Keyring::with_work(vec!["nope".into(), "Secret".into()], 1 << 19);
            let u = unpack_with_keyring(&SevenZ, AES, k);
            assert!(
                u.warnings[0].1.contains("password work budget"),
                "{:?}",
                u.warnings
            );
        }

        #[test]
        fn header_power_is_read() {
            assert_eq!(header_power(AES_HEADERS), Some(19));
            assert_eq!(derivation_cost(Some(19)), 1 << 19);
            assert_eq!(derivation_cost(None), 1 << 24);
        }

        #[test]
        fn hostile_encrypted_inputs_do_not_panic() {
            use crate::formats::testutil::hostile::{hostile_with, Hostile};
            hostile_with(&SevenZ, AES_HEADERS_LIST, &Hostile::flips(100));
        }
    }

    #[test]
    fn stops_at_budget() {
        let blob = Blob::from(LZMA2.to_vec());
        let mut limits = Limits::for_image(LZMA2.len() as u64);
        limits.max_total_bytes = 3000;
        let budget = Budget::new(limits);
        let u = SevenZ
            .unpack(&blob, &UnpackContext { budget: &budget })
            .unwrap();
        assert!(budget.used() <= 3000);
        assert!(
            u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit),
            "{:?}",
            u.warnings
        );
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&SevenZ, LZMA2);
        hostile(&SevenZ, BZIP2);
    }
}
