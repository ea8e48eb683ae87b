//! Broadcom SAO images (cable modem and gateway firmware): a chain of objects back to back,
//! each a 64-byte big-endian header and its data. The header holds the magic `SOBJ`, the
//! CRC-32 of header bytes 8–63, a four-character object type (`META`, `DTBB` device tree,
//! `KRNL` kernel, `RTFS` root file system, ...), a version and flags, the data size, a code
//! type and a sign type (bit 7: the data is encrypted, then it starts with an `ENCK`
//! encryption header), and at byte 52 the CRC-32 of the data.
//!
//! Each object is yielded as a stream named by its type (a repeated type gets `-2`, `-3`,
//! ...), both CRCs are checked (a mismatch is a warning). A candidate is accepted only when
//! its type is four upper-case letters or digits and at least one of its two CRCs holds, so
//! a stray `SOBJ` never claims bytes. The chain ends at the first bytes that are not such
//! an object.
//!
//! Written here (no crate reads it).

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::BTreeMap;

/// A Broadcom SAO image.
pub struct BroadcomSao;

static MAGICS: &[Magic] = &[Magic::at_start(b"SOBJ")];

const HEADER_LEN: usize = 64;
/// Objects a real image chains (a handful).
const MAX_OBJECTS: usize = 1024;
/// Sign-type bit marking encrypted data.
const ENCRYPTED: u8 = 0x80;

/// One object: header fields and where its data lies.
struct Object {
    at: usize,
    kind: String,
    version: u16,
    flags: u16,
    size: u64,
    code_type: u8,
    sign_type: u8,
    header_crc_ok: bool,
    /// `None` when the data is cut short.
    data_crc_ok: Option<bool>,
}

/// The object at `at`, if a valid one starts there.
fn object(data: &[u8], at: usize) -> Option<Object> {
    let h = data.get(at..at.checked_add(HEADER_LEN)?)?;
    if !h.starts_with(b"SOBJ") {
        return None;
    }
    let kind = &h[8..12];
    if !kind
        .iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return None;
    }
    let size = u64::from(be32(h, 16)?);
    let header_crc_ok = crc32fast::hash(&h[8..]) == be32(h, 4)?;
    let start = at + HEADER_LEN;
    let data_crc_ok = usize::try_from(size)
        .ok()
        .and_then(|n| data.get(start..start.checked_add(n)?))
        .map(|d| crc32fast::hash(d) == be32(h, 52).unwrap_or(0));
    if !header_crc_ok && data_crc_ok != Some(true) {
        return None;
    }
    Some(Object {
        at,
        kind: String::from_utf8_lossy(kind).into_owned(),
        version: u16::from_be_bytes([h[12], h[13]]),
        flags: u16::from_be_bytes([h[14], h[15]]),
        size,
        code_type: h[25],
        sign_type: h[26],
        header_crc_ok,
        data_crc_ok,
    })
}

/// The chain of objects from the start; stops at the first invalid or cut-short one (the
/// cut-short one is included).
fn chain(data: &[u8]) -> Vec<Object> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while out.len() < MAX_OBJECTS {
        let Some(o) = object(data, at) else { break };
        let next = (at as u64 + HEADER_LEN as u64).saturating_add(o.size);
        let cut = o.data_crc_ok.is_none();
        out.push(o);
        if cut {
            break;
        }
        at = next as usize;
    }
    out
}

impl Format for BroadcomSao {
    fn name(&self) -> &'static str {
        "broadcom-sao"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let objs = chain(data);
        let last = objs.last()?;
        let kinds: Vec<&str> = objs.iter().map(|o| o.kind.as_str()).collect();
        Some(Probe {
            length: Some(last.at as u64 + HEADER_LEN as u64 + last.size),
            description: format!("Broadcom SAO image, objects {}", kinds.join(" ")),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let objs = chain(data);
        if objs.is_empty() {
            return Err(FormatError::Corrupt("no valid SOBJ header".into()));
        }
        let mut out = Unpacked::default();
        out.detail("objects", objs.len());
        let len = data.len() as u64;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for o in &objs {
            let n = seen.entry(o.kind.clone()).or_default();
            *n += 1;
            let label = if *n == 1 {
                o.kind.clone()
            } else {
                format!("{}-{n}", o.kind)
            };
            if !o.header_crc_ok {
                out.warn(
                    WarningKind::Checksum,
                    format!("object {label}: header CRC-32 does not match"),
                );
            }
            let start = o.at as u64 + HEADER_LEN as u64;
            let avail = (len - start.min(len)).min(o.size);
            match o.data_crc_ok {
                Some(false) => out.warn(
                    WarningKind::Checksum,
                    format!("object {label}: data CRC-32 does not match"),
                ),
                None => out.warn(
                    WarningKind::Truncated,
                    format!("object {label} declares {} bytes, {avail} present", o.size),
                ),
                Some(true) => {}
            }
            let crc = |ok: Option<bool>| match ok {
                Some(true) => "ok",
                Some(false) => "mismatch",
                None => "not checked (cut short)",
            };
            let mut e = Entry::stream(
                label,
                EntryData::Range {
                    offset: start.min(len),
                    length: avail,
                },
            )
            .with_detail("offset", format!("{:#x}", o.at))
            .with_detail("version", format!("{:#06x}", o.version))
            .with_detail("flags", format!("{:#x}", o.flags))
            .with_detail("code_type", format!("{:#04x}", o.code_type))
            .with_detail("sign_type", format!("{:#04x}", o.sign_type & !ENCRYPTED))
            .with_detail("header_crc", crc(Some(o.header_crc_ok)))
            .with_detail("data_crc", crc(o.data_crc_ok));
            if o.sign_type & ENCRYPTED != 0 {
                e = e.with_detail("encrypted", "yes (ENCK header; key not public)");
            }
            out.entries.push(e);
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
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/image.sao");

    #[test]
    fn objects_are_named_streams_with_crcs_checked() {
        check_streams_in(MANIFEST, &BroadcomSao, "image.sao", IMG);
        let u = unpack(&BroadcomSao, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(
            BroadcomSao.probe(IMG).unwrap().length,
            Some(IMG.len() as u64)
        );
        assert_eq!(u.entries[1].details["code_type"], "0x2a");
    }

    #[test]
    fn one_bad_crc_warns_two_refuse() {
        let mut bad = IMG.to_vec();
        bad[4] ^= 1; // first header CRC: the data CRC still holds
        let u = unpack(&BroadcomSao, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        assert_eq!(u.entries.len(), 4);
        bad[HEADER_LEN] ^= 1; // and its data: nothing holds
        assert!(BroadcomSao.probe(&bad).is_none());
        let mut kind = IMG.to_vec();
        kind[8] = b'm';
        assert!(BroadcomSao.probe(&kind).is_none());
    }

    #[test]
    fn truncation_warns() {
        let u = unpack(&BroadcomSao, &IMG[..IMG.len() - 7]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        assert_eq!(u.entries.len(), 4);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&BroadcomSao, IMG, &Hostile::flips(200));
    }
}
