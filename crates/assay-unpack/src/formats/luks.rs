//! LUKS encrypted volumes (`LUKS\xba\xbe`, versions 1 and 2): identified, described (version,
//! cipher, UUID, label, where the encrypted data starts) and reported as an encrypted volume
//! that is not opened. The node spans the volume to the end of its blob, so its ciphertext is
//! known for what it is rather than flagged as an unknown high-entropy region.
//!
//! Written here: identification reads a few fixed header fields (and, for LUKS 2, two
//! values of its JSON metadata), which no crate is needed for; opening a volume needs its
//! passphrase and is out of scope.

use crate::format::{Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A LUKS 1 or LUKS 2 volume.
pub struct Luks;

const MAGIC: &[u8] = b"LUKS\xba\xbe";
static MAGICS: &[Magic] = &[Magic::at_start(MAGIC)];
/// Size of the LUKS 2 binary header; its JSON metadata follows.
const LUKS2_BIN: usize = 4096;
/// JSON metadata read at most (LUKS 2 allows up to 4 MiB less the binary header).
const MAX_JSON: usize = 4 << 20;

/// What the header says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Info {
    version: u16,
    cipher: String,
    hash: String,
    uuid: String,
    label: String,
    /// Offset of the encrypted data from the volume's start, when the header says.
    data_offset: Option<u64>,
}

/// A NUL-padded text field.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).trim().to_string()
}

fn be32(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(off..off + 4)?.try_into().ok()?))
}

fn be64(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(off..off + 8)?.try_into().ok()?))
}

/// Whether a UUID field holds a UUID in text form (36 characters of hex digits and dashes).
fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        })
}

/// The string value of `"key":"value"` at its first occurrence in `json`.
fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn parse(d: &[u8]) -> Option<Info> {
    if !d.starts_with(MAGIC) {
        return None;
    }
    let version = u16::from_be_bytes([*d.get(6)?, *d.get(7)?]);
    match version {
        1 => {
            let cipher = text(d.get(8..40)?);
            let mode = text(d.get(40..72)?);
            let uuid = text(d.get(168..208)?);
            let payload = be32(d, 104)?;
            let key_bytes = be32(d, 108)?;
            if cipher.is_empty() || !uuid_like(&uuid) || !matches!(key_bytes, 16..=128) {
                return None;
            }
            Some(Info {
                version,
                cipher: format!("{cipher}-{mode}"),
                hash: text(d.get(72..104)?),
                uuid,
                label: String::new(),
                data_offset: Some(u64::from(payload) * 512),
            })
        }
        2 => {
            let hdr_size = be64(d, 8)?;
            let uuid = text(d.get(168..208)?);
            if !uuid_like(&uuid) || hdr_size < LUKS2_BIN as u64 * 4 || hdr_size > (4 << 20) {
                return None;
            }
            let json_end = (hdr_size as usize).min(d.len()).min(LUKS2_BIN + MAX_JSON);
            let json = d.get(LUKS2_BIN..json_end).map(text).unwrap_or_default();
            // The first data segment: its cipher and where it starts.
            let segments = json.find("\"segments\"").map_or("", |i| &json[i..]);
            Some(Info {
                version,
                cipher: json_string(segments, "encryption").unwrap_or_default(),
                hash: text(d.get(72..104)?),
                uuid,
                label: text(d.get(24..72)?),
                data_offset: json_string(segments, "offset").and_then(|o| o.parse().ok()),
            })
        }
        _ => None,
    }
}

impl Format for Luks {
    fn name(&self) -> &'static str {
        "luks"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let info = parse(data)?;
        Some(Probe {
            // The encrypted data runs to the end of the volume, which the header does not
            // state: claim the rest of the blob.
            length: Some(data.len() as u64),
            description: format!(
                "LUKS{} encrypted volume{}, UUID {}",
                info.version,
                if info.cipher.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", info.cipher)
                },
                info.uuid
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let info = parse(data).ok_or_else(|| FormatError::Corrupt("LUKS header".into()))?;
        let mut out = Unpacked::default();
        out.detail("version", info.version);
        out.detail("uuid", &info.uuid);
        if !info.cipher.is_empty() {
            out.detail("cipher", &info.cipher);
        }
        if !info.hash.is_empty() {
            out.detail("hash", &info.hash);
        }
        if !info.label.is_empty() {
            out.detail("label", &info.label);
        }
        if let Some(o) = info.data_offset {
            out.detail("data_offset", o);
        }
        out.warn(
            WarningKind::Unsupported,
            format!(
                "LUKS{} encrypted volume, not opened (opening needs its passphrase or key)",
                info.version
            ),
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::unpack;

    const LUKS1: &[u8] = include_bytes!("../../tests/fixtures/dosarc/luks1.hdr");
    const LUKS2: &[u8] = include_bytes!("../../tests/fixtures/dosarc/luks2.hdr");

    #[test]
    fn identifies_luks1() {
        let u = unpack(&Luks, LUKS1);
        assert_eq!(u.details["version"], "1");
        assert_eq!(u.details["cipher"], "aes-xts-plain64");
        assert_eq!(u.details["hash"], "sha256");
        assert_eq!(u.details["uuid"], "11111111-2222-3333-4444-555555555555");
        assert!(u.entries.is_empty());
        assert!(u.warnings[0].1.contains("encrypted volume, not opened"));
    }

    #[test]
    fn identifies_luks2() {
        let u = unpack(&Luks, LUKS2);
        assert_eq!(u.details["version"], "2");
        assert_eq!(u.details["cipher"], "aes-xts-plain64");
        assert_eq!(u.details["uuid"], "66666666-7777-8888-9999-000000000000");
        assert!(u.details["data_offset"].parse::<u64>().unwrap() >= 32768);
    }

    #[test]
    fn claims_the_rest_of_the_blob() {
        let mut d = LUKS1.to_vec();
        d.extend_from_slice(&[0x5a; 1000]);
        assert_eq!(Luks.probe(&d).unwrap().length, Some(d.len() as u64));
    }

    #[test]
    fn probe_rejects_bad_headers() {
        assert!(Luks.probe(MAGIC).is_none());
        let mut d = LUKS1.to_vec();
        d[7] = 3;
        assert!(Luks.probe(&d).is_none());
        let mut d = LUKS2.to_vec();
        d[170] = b'x'; // not a UUID
        assert!(Luks.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile(&Luks, LUKS1);
        hostile(&Luks, LUKS2);
    }
}
