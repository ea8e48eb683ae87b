//! Images XOR-ed with a short repeating key (1–16 bytes), a common vendor obfuscation. The
//! format has no magic: the driver tries it on whole blobs nothing else claimed.
//!
//! The key is found two ways: by known plaintext (the blob's first bytes XOR-ed with the
//! magics firmware usually starts with: uImage, squashfs, gzip, LZMA, TRX, FDT, UBI, JFFS2,
//! romfs, xz; for uImage one more key byte is guessed, proven by the header CRC), and by frequency (flash images are full of `00`/`ff` padding, which shows
//! the key bytes in clear). A key is accepted only when the decoded blob then holds a
//! structure that a registered format's probe accepts, at offset 0 or at a 4 KiB-aligned
//! offset, so random data is not "decoded".

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A blob XOR-ed with a repeating key.
pub struct Xor;

/// Longest key tried.
const MAX_KEY: usize = 16;
/// Bytes of the blob looked at for the frequency analysis.
const SAMPLE: usize = 64 * 1024;
/// Structures are looked for at 4 KiB-aligned offsets up to here.
const VERIFY_SPAN: usize = 4 << 20;

/// Magics firmware commonly starts with.
const KNOWN: &[&[u8]] = &[
    b"hsqs",
    b"sqsh",
    b"\x27\x05\x19\x56",
    b"\x1f\x8b\x08",
    b"\x5d\x00\x00",
    b"HDR0",
    b"\xd0\x0d\xfe\xed",
    b"UBI#",
    b"\x85\x19",
    b"\x19\x85",
    b"-rom1fs-",
    b"\xfd7zXZ\x00",
];

const UIMAGE_MAGIC: &[u8] = b"\x27\x05\x19\x56";

/// Whether a format's magic is strong enough to prove a decoding: weak or magic-less
/// formats and magics shorter than 3 bytes are not.
fn strong(f: &dyn Format, m: &Magic) -> bool {
    m.bytes.len() >= 3
        && !matches!(
            f.name(),
            "jffs2-eof-marker" | "ihex" | "srec" | "u-boot-env" | "xor" | "byteswap"
        )
}

/// Whether a strong magic of some registered format appears at the start of `head`.
fn strong_magic_at(formats: &[&'static dyn Format], head: &[u8]) -> bool {
    formats.iter().any(|f| {
        f.magics()
            .iter()
            .any(|m| strong(*f, m) && head.get(m.offset..).is_some_and(|t| t.starts_with(m.bytes)))
    })
}

/// The registered format whose probe accepts a structure at the start of `tail` (a decoded
/// blob or its tail from an aligned offset).
pub(crate) fn verify(tail: &[u8]) -> Option<&'static str> {
    super::registry().into_iter().find_map(|f| {
        let hit = f
            .magics()
            .iter()
            .any(|m| strong(f, m) && tail.get(m.offset..).is_some_and(|t| t.starts_with(m.bytes)));
        (hit && f.probe(tail).is_some()).then(|| f.name())
    })
}

/// The shortest period of `key` (so `abab` becomes `ab`).
fn minimal(key: &[u8]) -> &[u8] {
    for l in 1..key.len() {
        if key.len().is_multiple_of(l) && key.iter().enumerate().all(|(i, &b)| b == key[i % l]) {
            return &key[..l];
        }
    }
    key
}

/// Candidate keys, most likely first, without duplicates and without the identity.
fn candidates(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut push = |k: &[u8]| {
        let k = minimal(k).to_vec();
        if k.iter().any(|&b| b != 0) && !out.contains(&k) {
            out.push(k);
        }
    };
    // Known plaintext at offset 0: the key is periodic within the magic.
    for magic in KNOWN {
        let Some(head) = data.get(..magic.len()) else {
            continue;
        };
        let k: Vec<u8> = head.iter().zip(magic.iter()).map(|(a, b)| a ^ b).collect();
        for l in 1..=k.len().min(MAX_KEY) {
            if (l..k.len()).all(|i| k[i] == k[i - l]) {
                push(&k[..l]);
                break;
            }
        }
    }
    // One key byte past a uImage magic, proven by the header's own CRC (the CRC makes the
    // 256 guesses safe; other magics have no such check).
    if let Some(head) = data.get(..64) {
        let k: Vec<u8> = head.iter().zip(UIMAGE_MAGIC).map(|(a, b)| a ^ b).collect();
        for extra in 0..=255u8 {
            let mut key = k.clone();
            key.push(extra);
            let h = apply_at(head, &key, 0);
            if super::uimage::header_proven(&h) {
                push(&key);
                break;
            }
        }
    }
    // Frequency: per key position, the most common byte is the key over `00` padding.
    let sample = &data[..data.len().min(SAMPLE)];
    if sample.len() >= 1024 {
        for l in 1..=MAX_KEY {
            let mut key = Vec::with_capacity(l);
            for phase in 0..l {
                let mut counts = [0u32; 256];
                for &b in sample.iter().skip(phase).step_by(l) {
                    counts[b as usize] += 1;
                }
                let (best, n) = counts
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, &c)| c)
                    .map(|(b, &c)| (b as u8, c))
                    .unwrap_or((0, 0));
                // The byte must dominate its column, or this is not padding.
                if (n as usize) * 8 < sample.len() / l {
                    key.clear();
                    break;
                }
                key.push(best);
            }
            if key.len() == l {
                push(&key);
                let inverted: Vec<u8> = key.iter().map(|b| b ^ 0xff).collect();
                push(&inverted);
            }
        }
    }
    out
}

/// Bytes decoded for a trial probe.
const PROBE_PREFIX: usize = 1 << 20;
/// Most tails decoded in full per candidate key (each costs a pass over the blob).
const MAX_TRIALS: usize = 4;

/// The key and what it revealed, if any candidate works.
fn find_key(data: &[u8]) -> Option<(Vec<u8>, &'static str, usize)> {
    let formats = super::registry();
    for key in candidates(data) {
        let mut trials = 0;
        let mut off = 0;
        while off < data.len().min(VERIFY_SPAN) && trials < MAX_TRIALS {
            // Decode 32 bytes at each aligned offset and look for a strong magic first.
            let end = data.len().min(off + 32);
            let head = apply_at(&data[off..end], &key, off);
            if strong_magic_at(&formats, &head) {
                trials += 1;
                // Probes see a decoded prefix: enough for every header, and cheap even when
                // the key is wrong (as it is for most known-plaintext guesses).
                let end = data.len().min(off.saturating_add(PROBE_PREFIX));
                let tail = apply_at(&data[off..end], &key, off);
                if let Some(name) = verify(&tail) {
                    return Some((key, name, off));
                }
            }
            off += 4096;
        }
    }
    None
}

/// XOR `chunk`, which starts `at` bytes into the blob, with the repeating key.
fn apply_at(chunk: &[u8], key: &[u8], at: usize) -> Vec<u8> {
    chunk
        .iter()
        .zip(key.iter().cycle().skip(at % key.len()))
        .map(|(a, b)| a ^ b)
        .collect()
}

impl Format for Xor {
    fn name(&self) -> &'static str {
        "xor"
    }

    fn magics(&self) -> &'static [Magic] {
        &[]
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let (key, name, at) = find_key(data)?;
        Some(Probe {
            length: Some(data.len() as u64),
            description: format!(
                "XOR-obfuscated, {}-byte key {}, reveals {name} at {at:#x}",
                key.len(),
                assay_model::hex(&key)
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (key, name, at) =
            find_key(data).ok_or_else(|| FormatError::Corrupt("no XOR key found".into()))?;
        let limit = usize::try_from(ctx.stream_limit()).unwrap_or(usize::MAX);
        if data.len() > limit {
            return Err(FormatError::Limit(
                "decoded stream exceeds the limit".into(),
            ));
        }
        ctx.charge(data.len() as u64)?;
        let decoded = apply_at(data, &key, 0);
        let mut out = Unpacked::default();
        out.detail("key", assay_model::hex(&key));
        out.detail("key_length", key.len());
        out.detail("revealed", format!("{name} at {at:#x}"));
        out.entries.push(Entry::stream(
            "decoded",
            EntryData::Owned(Blob::from(decoded)),
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const IMG: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage.xor");
    const TRX: &[u8] = include_bytes!("../../tests/fixtures/firmware/image.trx");

    #[test]
    fn finds_key_by_known_plaintext() {
        check_streams(&Xor, "uimage.xor", IMG);
        assert_eq!(unpack(&Xor, IMG).details["key"], "3ca55a0f96");
    }

    #[test]
    fn finds_long_key_by_frequency() {
        // A 12-byte key over a TRX (whose padding is zeros), with the header moved to an
        // aligned offset behind a block of zeros so known plaintext at 0 cannot work.
        let key = b"\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc";
        let mut clear = vec![0u8; 8192];
        clear.extend_from_slice(TRX);
        let obf: Vec<u8> = clear
            .iter()
            .zip(key.iter().cycle())
            .map(|(a, b)| a ^ b)
            .collect();
        let u = unpack(&Xor, &obf);
        assert_eq!(u.details["key"], assay_model::hex(key));
        assert_eq!(u.details["revealed"], "trx at 0x2000");
    }

    #[test]
    fn plain_and_random_data_are_not_claimed() {
        assert!(Xor.probe(TRX).is_none());
        let mut s = 0x1234_5678_9abc_def0u64;
        let random: Vec<u8> = (0..100_000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        assert!(Xor.probe(&random).is_none());
        assert!(Xor.probe(&[0u8; 10_000]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Xor, IMG, &Hostile::flips(100));
    }
}
