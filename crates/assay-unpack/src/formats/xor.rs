//! Images XOR-ed with a short repeating key (1–64 bytes), a common vendor obfuscation,
//! also behind a plain vendor header (the key need not start at offset 0). The format has no
//! magic: the driver tries it on whole blobs nothing else claimed.
//!
//! Candidate keys come from three places: known plaintext (the magics firmware usually
//! starts with, XOR-ed against the blob at 16-byte aligned offsets of its first 256 KiB; for
//! uImage one more key
//! byte is guessed, proven by the header CRC), frequency (per key position the most common
//! byte of the first 64 KiB, which is the key over `00`/`ff` padding), and padding runs
//! anywhere in the blob (a stretch that repeats with a period of at most 64 bytes is the key,
//! or its complement, over `00`/`ff` fill). Every key is written as it applies from the blob's
//! first byte, so a key found at offset `o` is rotated by `o` modulo its length: the node says
//! the key and the phase (the offset of the run or magic it came from, modulo the length).
//! A key is accepted only when the decoded blob then holds a structure, at any offset of its
//! first 4 MiB, that a registered format's probe accepts, so random data is not "decoded".

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A blob XOR-ed with a repeating key.
pub struct Xor;

/// Longest key tried.
const MAX_KEY: usize = 64;
/// Longest key the column-frequency analysis tries (its cost grows with the square).
const MAX_FREQ_KEY: usize = 16;
/// Known plaintext is tried at offsets that are multiples of this, up to [`KNOWN_SPAN`]
/// (vendor headers are short; a structure further in shows padding around it).
const KNOWN_STEP: usize = 16;
/// Where the known-plaintext search ends.
const KNOWN_SPAN: usize = 256 << 10;
/// Padding runs are looked for in windows starting this far apart (half a window, so that
/// a run of one and a half windows is always seen).
const RUN_STEP: usize = 128;
/// Bytes a periodic stretch must span to count as padding under a key.
const RUN_SPAN: usize = 256;
/// Most candidate keys verified per blob.
const MAX_CANDIDATES: usize = 32;
/// Bytes of the blob looked at for the frequency analysis.
const SAMPLE: usize = 64 * 1024;
/// Structures are looked for in the decoded blob up to here.
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

/// The key as it applies from offset 0, given that `seen` applies from offset `at`.
fn rotate_to_zero(seen: &[u8], at: usize) -> Vec<u8> {
    let l = seen.len();
    let shift = (l - at % l) % l;
    (0..l).map(|j| seen[(j + shift) % l]).collect()
}

/// A candidate key (as applied from offset 0); whether its evidence is strong enough (a
/// repeat: padding, a dominant byte, a key periodic within a magic) to pay for a search of
/// [`VERIFY_SPAN`] decoded bytes (a key read off one magic at offset 0 without a repeat is
/// only checked at 4 KiB boundaries); and where that search starts (the region the key came
/// from, so that an obscured region far into the blob is verified where it is).
type Candidate = (Vec<u8>, bool, usize);

/// Candidate keys, most likely first, without duplicates and without the identity.
fn candidates(data: &[u8]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut push_from = |k: &[u8], thorough: bool, from: usize| {
        let k = minimal(k).to_vec();
        if out.len() < MAX_CANDIDATES
            && k.iter().any(|&b| b != 0)
            && !out.iter().any(|(c, _, f)| *c == k && *f == from)
        {
            out.push((k, thorough, from));
        }
    };
    // Known plaintext at aligned offsets: the key is periodic within the magic (a key longer
    // than the magic cannot be read off it; padding runs find those).
    let span = data.len().min(KNOWN_SPAN);
    let mut at = 0;
    while at < span {
        for magic in KNOWN {
            // At offset 0 any period within the magic is evidence; elsewhere only a key
            // that repeats over at least 3 bytes of a magic of 4 or more, lest random bytes
            // give a candidate at every offset (odds 2^-24 an offset and magic).
            if at > 0 && magic.len() < 4 {
                continue;
            }
            let Some(head) = data.get(at..at + magic.len()) else {
                continue;
            };
            let mut k = [0u8; 8];
            let n = magic.len().min(k.len());
            for i in 0..n {
                k[i] = head[i] ^ magic[i];
            }
            let k = &k[..n];
            let max_period = if at == 0 { n } else { n - 3 };
            for l in 1..=max_period.min(MAX_KEY) {
                if k[l..].iter().zip(k).all(|(a, b)| a == b) {
                    push_from(&rotate_to_zero(&k[..l], at), l < n, 0);
                    break;
                }
            }
        }
        at += KNOWN_STEP;
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
                push_from(&key, false, 0);
                break;
            }
        }
    }
    // Padding runs anywhere: a stretch repeating with a short period is the key (over `00`)
    // or its complement (over `ff`).
    let mut at = 0;
    while at + RUN_SPAN <= data.len() {
        if let Some(l) = period(&data[at..at + RUN_SPAN]) {
            let seen = &data[at..at + l];
            // Padding usually follows what it pads: verify from up to 2 MiB before it.
            let from = verify_from(at.saturating_sub(VERIFY_SPAN / 2));
            push_from(&rotate_to_zero(seen, at), true, from);
            let inverted: Vec<u8> = seen.iter().map(|b| b ^ 0xff).collect();
            push_from(&rotate_to_zero(&inverted, at), true, from);
        }
        at += RUN_STEP;
    }
    // Frequency: per key position, the most common byte is the key over `00` bytes; first
    // over the blob's start, then over every window where an obscured region seems to begin
    // (behind a plain header of any length).
    for key in column_keys(data, 0, MAX_FREQ_KEY, 1024) {
        push_from(&key, true, 0);
    }
    for start in region_starts(data) {
        let from = verify_from(start);
        for key in column_keys(data, start, MAX_KEY, MIN_COLUMN_SAMPLE) {
            push_from(&key, true, from);
        }
    }
    out
}

/// Keys of 1 to `max_len` bytes (as applied from offset 0) read off the [`SAMPLE`] bytes
/// from `start` by column frequency: for each key position the byte that dominates its
/// column, which is the key over zero bytes; and each key's complement (over `ff`), for at
/// most [`MAX_COLUMN_KEYS`] lengths whose every column has a dominant byte.
fn column_keys(data: &[u8], start: usize, max_len: usize, min_sample: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(sample) = data.get(start..data.len().min(start.saturating_add(SAMPLE))) else {
        return out;
    };
    if sample.len() < min_sample {
        return out;
    }
    for l in 1..=max_len.min(sample.len() / 16) {
        if out.len() >= 2 * MAX_COLUMN_KEYS {
            break;
        }
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
            let key = rotate_to_zero(&key, start);
            let inverted: Vec<u8> = key.iter().map(|b| b ^ 0xff).collect();
            out.push(key);
            out.push(inverted);
        }
    }
    out
}

/// Most key lengths one column-frequency analysis yields.
const MAX_COLUMN_KEYS: usize = 4;

/// Where a verification search starts for a key found at `at`: a little before, on a
/// 4 KiB boundary, so that a header that begins just before the evidence is decoded whole.
fn verify_from(at: usize) -> usize {
    at.saturating_sub(BLOCK) & !(4096 - 1)
}

/// Bytes per block of the region search.
const BLOCK: usize = 1024;
/// Most regions handed to the column-frequency analysis per blob.
const MAX_REGIONS: usize = 16;
/// Fewest bytes a column-frequency sample needs.
const MIN_COLUMN_SAMPLE: usize = 256;

/// Offsets (block starts, past the first [`SAMPLE`] bytes that the analysis at 0 covers)
/// where an obscured region seems to begin: a block whose byte histogram has several peaks
/// (a key over zero-rich data shows each key byte many times; random or compressed bytes
/// almost never do) while the block before it had not, or had other peaks. One pass of
/// byte counting over the blob, then at most [`MAX_REGIONS`] windows analysed.
fn region_starts(data: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut previous: Option<[u8; 4]> = None;
    let mut at = SAMPLE.min(data.len());
    // The blob's start is covered by the analysis at 0 unless a header fills it: look at
    // the blocks of the first window too when they differ from the first block.
    let mut first = 0;
    while first < SAMPLE.min(data.len()) {
        let end = data.len().min(first + BLOCK);
        let peaks = block_peaks(&data[first..end]);
        if first > 0 && peaks.is_some() && peaks != previous && out.len() < MAX_REGIONS {
            out.push(first);
        }
        previous = peaks;
        first = end;
    }
    while at < data.len() && out.len() < MAX_REGIONS {
        let end = data.len().min(at + BLOCK);
        let peaks = block_peaks(&data[at..end]);
        if peaks.is_some() && peaks != previous {
            out.push(at);
        }
        previous = peaks;
        at = end;
    }
    out
}

/// The four most common bytes of a block when at least two of them stand out (each at
/// least four times its share in uniform bytes, and at least 8 times), which random and
/// compressed bytes almost never do; `None` for blocks of one byte value (padding, which
/// the run search reads) and blocks without peaks.
fn block_peaks(block: &[u8]) -> Option<[u8; 4]> {
    if block.len() < MIN_COLUMN_SAMPLE {
        return None;
    }
    let mut counts = [0u32; 256];
    for &b in block {
        counts[b as usize] += 1;
    }
    let threshold = (block.len() as u32 / 64).max(8);
    let mut top = [(0u32, 0u8); 4];
    for (b, &c) in counts.iter().enumerate() {
        if c > top[3].0 {
            top[3] = (c, b as u8);
            top.sort_by_key(|t| std::cmp::Reverse(t.0));
        }
    }
    if top[0].0 as usize == block.len() || top[1].0 < threshold {
        return None;
    }
    let mut peaks = [top[0].1, top[1].1, top[2].1, top[3].1];
    peaks.sort_unstable();
    Some(peaks)
}

/// The shortest period (at most [`MAX_KEY`]) with which `window` repeats throughout, if any.
/// A period must show at least four times, so that a repeat is evidence.
fn period(window: &[u8]) -> Option<usize> {
    let first = *window.first()?;
    let reach = MAX_KEY.min(window.len() / 4);
    // The first byte recurs within one period; `memchr` rules out most windows at once.
    memchr::memchr_iter(first, window.get(1..=reach)?)
        .map(|i| i + 1)
        .find(|&l| window[l..] == window[..window.len() - l])
}

/// Bytes decoded for a trial probe.
const PROBE_PREFIX: usize = 1 << 20;
/// Most structures probed per candidate key.
const MAX_TRIALS: usize = 16;
/// Most keys whose whole decoded span is searched (each costs a pass over 4 MiB).
const MAX_SEARCHED: usize = 12;
/// Most structures probed per weakly founded key.
const MAX_ALIGNED_TRIALS: usize = 4;
/// Most strong-magic hits looked at per candidate key.
const MAX_HITS: usize = 4096;

/// What a key revealed: the key (as applied from offset 0), the format and the offset of
/// the structure that proved it.
#[derive(Debug, Clone)]
struct Found {
    key: Vec<u8>,
    format: &'static str,
    at: usize,
}

impl Found {
    /// The key as it applies from the blob's first byte (the byte at offset `o` is XOR-ed
    /// with `key[o mod len]`), and the phase: the key index that meets the revealed
    /// structure's first byte, so a tool that XORs from the start of its payload used the
    /// key rotated by the phase.
    fn key_and_phase(&self) -> (Vec<u8>, usize) {
        (self.key.clone(), self.at % self.key.len())
    }
}

/// Verify a weakly founded key cheaply: decode 32 bytes at each 4 KiB boundary and probe
/// where a strong magic appears.
fn check_aligned(data: &[u8], formats: &[&'static dyn Format], key: Vec<u8>) -> Option<Found> {
    let mut trials = 0;
    let mut off = 0;
    while off < data.len().min(VERIFY_SPAN) && trials < MAX_ALIGNED_TRIALS {
        let end = data.len().min(off + 32);
        let head = apply_at(&data[off..end], &key, off);
        if strong_magic_at(formats, &head) {
            trials += 1;
            let end = data.len().min(off.saturating_add(PROBE_PREFIX));
            let tail = apply_at(&data[off..end], &key, off);
            if let Some(name) = verify(&tail) {
                return Some(Found {
                    key,
                    format: name,
                    at: off,
                });
            }
        }
        off += 4096;
    }
    None
}

/// The key and what it revealed, if any candidate works.
fn find_key(data: &[u8]) -> Option<Found> {
    let formats = super::registry();
    let magics: Vec<(&'static [u8], usize)> = formats
        .iter()
        .flat_map(|f| {
            f.magics()
                .iter()
                .filter(|m| strong(*f, m))
                .map(|m| (m.bytes, m.offset))
        })
        .collect();
    let finder = aho_corasick::AhoCorasick::new(magics.iter().map(|(b, _)| *b)).ok()?;
    let mut searched = 0;
    for (key, thorough, from) in candidates(data) {
        if !thorough {
            if let Some(f) = check_aligned(data, &formats, key) {
                return Some(f);
            }
            continue;
        }
        if searched == MAX_SEARCHED {
            continue;
        }
        searched += 1;
        let from = from.min(data.len());
        let span = data.len().min(from.saturating_add(VERIFY_SPAN));
        let decoded = apply_at(&data[from..span], &key, from);
        // The first places a strong magic appears in the decoded span (offsets in the blob).
        let mut starts: Vec<usize> = finder
            .find_iter(&decoded)
            .filter_map(|m| (from + m.start()).checked_sub(magics[m.pattern().as_usize()].1))
            .filter(|&s| s >= from)
            .take(MAX_HITS)
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let mut trials = 0;
        for &off in &starts {
            if trials == MAX_TRIALS {
                break;
            }
            // Probes see a decoded prefix: enough for every header, and cheap even when the
            // key is wrong (as it is for most known-plaintext guesses).
            let end = data.len().min(off.saturating_add(PROBE_PREFIX));
            let tail: std::borrow::Cow<'_, [u8]> = if end <= span {
                std::borrow::Cow::Borrowed(&decoded[off - from..end - from])
            } else {
                std::borrow::Cow::Owned(apply_at(&data[off..end], &key, off))
            };
            // A magic followed by the right bytes is a trial; most hits of a wrong key die
            // at the probe's first check, and only those that pass count against the cap.
            if !strong_magic_at(&formats, &tail) {
                continue;
            }
            trials += 1;
            if let Some(name) = verify(&tail) {
                return Some(Found {
                    key,
                    format: name,
                    at: off,
                });
            }
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
        let f = find_key(data)?;
        let (key, phase) = f.key_and_phase();
        Some(Probe {
            length: Some(data.len() as u64),
            description: format!(
                "XOR-obfuscated, {}-byte key {} at phase {phase}, reveals {} at {:#x}",
                key.len(),
                assay_model::hex(&key),
                f.format,
                f.at
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let f = find_key(data).ok_or_else(|| FormatError::Corrupt("no XOR key found".into()))?;
        let limit = usize::try_from(ctx.stream_limit()).unwrap_or(usize::MAX);
        if data.len() > limit {
            return Err(FormatError::Limit(
                "decoded stream exceeds the limit".into(),
            ));
        }
        ctx.charge(data.len() as u64)?;
        let decoded = apply_at(data, &f.key, 0);
        let mut out = Unpacked::default();
        let (key, phase) = f.key_and_phase();
        out.detail("key", assay_model::hex(&key));
        out.detail("key_length", key.len());
        out.detail("phase", phase);
        out.detail("revealed", format!("{} at {:#x}", f.format, f.at));
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
    const IMG_CLEAR: &[u8] = include_bytes!("../../tests/fixtures/firmware/uimage-lzma.bin");

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

    fn xor_from(clear: &[u8], key: &[u8]) -> Vec<u8> {
        clear
            .iter()
            .zip(key.iter().cycle())
            .map(|(a, b)| a ^ b)
            .collect()
    }

    #[test]
    fn long_key_behind_a_plain_vendor_header_is_found_from_padding() {
        // A 37-byte key XOR-ed from the start of the payload, which follows a 0x40-byte plain
        // header: neither offset 0 nor a 4 KiB boundary holds anything known.
        let key: Vec<u8> = (0..37u8)
            .map(|i| i.wrapping_mul(73).wrapping_add(11))
            .collect();
        let mut blob = b"VENDOR-HDR v1.2 board=XYZ".to_vec();
        blob.resize(0x40, b' ');
        blob.extend(xor_from(TRX, &key));
        let u = unpack(&Xor, &blob);
        // The key as it applies from offset 0 is the vendor's key rotated back by 0x40.
        let from_zero: Vec<u8> = (0..37).map(|j| key[(j + 37 - 0x40 % 37) % 37]).collect();
        assert_eq!(u.details["key"], assay_model::hex(&from_zero));
        assert_eq!(u.details["phase"], (0x40 % 37).to_string());
        assert_eq!(u.details["revealed"], "trx at 0x40");
        let decoded = crate::formats::testutil::entry_bytes(&blob, &u.entries[0]).unwrap();
        assert_eq!(&decoded[0x40..], TRX);
    }

    #[test]
    fn ff_padding_gives_the_complement_of_the_key() {
        let key = b"\x5a\xc3\x01\x99\x10\x20\x30";
        let mut clear = vec![0xffu8; 0x3000];
        clear.extend_from_slice(TRX);
        let mut blob = vec![0u8; 0x30];
        blob.extend(xor_from(&clear, key));
        let u = unpack(&Xor, &blob);
        let from_zero: Vec<u8> = (0..7).map(|j| key[(j + 7 - 0x30 % 7) % 7]).collect();
        assert_eq!(u.details["key"], assay_model::hex(&from_zero));
        assert_eq!(u.details["phase"], (0x3030 % 7).to_string());
        assert_eq!(u.details["revealed"], "trx at 0x3030");
    }

    #[test]
    fn short_key_found_by_known_plaintext_at_an_aligned_offset() {
        // A 1-byte key over a uImage behind 0x50 plain bytes, with no padding to read.
        let mut blob = vec![0x41u8; 0x50];
        blob[0] = 0x42;
        blob.extend(IMG_CLEAR.iter().map(|b| b ^ 0xa7));
        let u = unpack(&Xor, &blob);
        assert_eq!(u.details["key"], "a7");
        assert_eq!(u.details["revealed"], "uimage at 0x50");
    }

    #[test]
    fn thirteen_byte_key_behind_a_4k_header_is_found_from_the_region_start() {
        // fixtures/scripts/xor-header.sh: a squashfs made by mksquashfs (-nopad, so no padding
        // run betrays the key) XOR-ed with a 13-byte key behind a 4 KiB plain header.
        let blob = include_bytes!("../../tests/fixtures/firmware/squashfs-4k-header.xor");
        let clear = include_bytes!("../../tests/fixtures/firmware/squashfs-4k-header.sqfs");
        let key = [
            0x3e, 0x91, 0x07, 0xc4, 0x5b, 0xe2, 0x18, 0xaf, 0x66, 0xd3, 0x29, 0x80, 0x74,
        ];
        let u = unpack(&Xor, blob);
        assert_eq!(
            u.details["key"],
            assay_model::hex(&rotate_to_zero(&key, 4096))
        );
        assert_eq!(u.details["phase"], (4096 % 13).to_string());
        assert_eq!(u.details["revealed"], "squashfs at 0x1000");
        let decoded = crate::formats::testutil::entry_bytes(blob, &u.entries[0]).unwrap();
        assert_eq!(&decoded[4096..], &clear[..]);
        // The same layer 5 MiB into a blob of random bytes (past every window that starts
        // at 0) is found too.
        let mut far = random_bytes(5 << 20);
        far.extend_from_slice(blob);
        let u = unpack(&Xor, &far);
        assert_eq!(
            u.details["revealed"],
            format!("squashfs at {:#x}", (5 << 20) + 4096)
        );
    }

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut s = 0x1234_5678_9abc_def0u64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect()
    }

    /// CPU bound of the key search on 64 MiB of random bytes (run in release:
    /// `cargo test --release -p assay-unpack --lib xor_random_64mib -- --ignored`).
    #[test]
    #[ignore]
    fn xor_random_64mib() {
        let random = random_bytes(64 << 20);
        let t = std::time::Instant::now();
        assert!(Xor.probe(&random).is_none());
        let took = t.elapsed();
        eprintln!("xor probe on 64 MiB random: {took:?}");
        assert!(took < std::time::Duration::from_millis(500), "{took:?}");
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
