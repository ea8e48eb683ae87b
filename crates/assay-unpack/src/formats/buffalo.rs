//! Buffalo encrypted firmware (`buffalo-enc` images of Buffalo routers and NAS): the magic
//! `start` or `asar1` (6 bytes with its NUL), a seed byte, the product name and the version
//! (each a big-endian 32-bit length, then that many encrypted bytes), the data length
//! (big-endian 32-bit), the encrypted data and a big-endian 32-bit checksum of the clear
//! data.
//!
//! The cipher is an RC4-style stream cipher keyed by one seed byte followed by the vendor
//! key (public: `Buffalo` in every open-source tool that writes these images); the product
//! name is keyed by the seed, the version by the first encrypted product byte, the data by
//! the first encrypted version byte. Images made in "long state" mode use a cipher state as
//! long as the buffer instead of 256 bytes; both are tried, and the checksum (a reflected
//! CRC-32 register seeded with the data length, fed with sign-extended bytes) picks the one
//! that holds. A checksum that no reading matches is a warning; the encrypted data is then
//! given as it is.
//!
//! Written here (no crate reads it).

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A Buffalo `buffalo-enc` image.
pub struct Buffalo;

static MAGICS: &[Magic] = &[Magic::at_start(b"start\0"), Magic::at_start(b"asar1\0")];

/// Magic with its NUL.
const MAGIC_LEN: usize = 6;
/// Longest product name and version the images carry (NUL included).
const PRODUCT_MAX: u32 = 32;
const VERSION_MAX: u32 = 8;
/// Cipher state length outside long-state mode.
const STATE_LEN: usize = 256;
/// The vendor key of the scheme.
const KEYS: &[&[u8]] = &[b"Buffalo"];

/// Where the parts of an image lie.
#[derive(Debug, Clone)]
struct Layout {
    seed: u8,
    product: std::ops::Range<usize>,
    version: std::ops::Range<usize>,
    data_at: usize,
    data_len: u64,
}

impl Layout {
    /// Header through checksum.
    fn total(&self) -> u64 {
        self.data_at as u64 + self.data_len + 4
    }
}

fn parse(d: &[u8]) -> Option<Layout> {
    if !(d.starts_with(b"start\0") || d.starts_with(b"asar1\0")) {
        return None;
    }
    let seed = *d.get(MAGIC_LEN)?;
    let mut at = MAGIC_LEN + 1;
    let pl = be32(d, at)?;
    if pl == 0 || pl > PRODUCT_MAX {
        return None;
    }
    at += 4;
    let product = at..at + pl as usize;
    at = product.end;
    let vl = be32(d, at)?;
    if vl == 0 || vl > VERSION_MAX {
        return None;
    }
    at += 4;
    let version = at..at + vl as usize;
    at = version.end;
    let data_len = u64::from(be32(d, at)?);
    if data_len == 0 {
        return None;
    }
    Some(Layout {
        seed,
        product,
        version,
        data_at: at + 4,
        data_len,
    })
}

/// The stream cipher: `src` under key `seed || key` with a state of `state_len` bytes
/// (indices kept in bytes, as the vendor's code does).
fn bcrypt(seed: u8, key: &[u8], src: &[u8], state_len: usize) -> Vec<u8> {
    let n = state_len.max(1);
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(seed);
    k.extend_from_slice(key);
    let mut st: Vec<u8> = (0..n).map(|i| i as u8).collect();
    let mut j = 0usize;
    for i in 0..n {
        let t = st[i];
        j = (j + usize::from(k[i % k.len()]) + usize::from(t)) % n;
        st[i] = st[j];
        st[j] = t;
    }
    let (mut i, mut j) = (0u8, 0u8);
    src.iter()
        .map(|&b| {
            i = ((usize::from(i) + 1) % n) as u8;
            j = ((usize::from(j) + usize::from(st[usize::from(i)])) % n) as u8;
            st.swap(usize::from(i), usize::from(j));
            let x = (usize::from(st[usize::from(i)]) + usize::from(st[usize::from(j)])) % n;
            b ^ st[x]
        })
        .collect()
}

/// The image checksum of the clear data.
fn csum(len: u32, data: &[u8]) -> u32 {
    let mut c = len;
    for &b in data {
        c ^= b as i8 as i32 as u32;
        for _ in 0..8 {
            c = (c >> 1) ^ if c & 1 != 0 { 0xEDB8_8320 } else { 0 };
        }
    }
    c
}

/// A NUL-terminated printable string (product names, versions).
fn is_text(b: &[u8]) -> bool {
    matches!(b.split_last(), Some((0, s)) if s.iter().all(|c| (0x20..0x7F).contains(c)))
}

/// Decrypt product and version with `key` in both modes: the first mode giving two
/// NUL-terminated texts, as (long_state, product, version).
fn header_texts(d: &[u8], l: &Layout, key: &[u8]) -> Option<(bool, String, String)> {
    let (p, v) = (&d[l.product.clone()], &d[l.version.clone()]);
    [false, true].into_iter().find_map(|long| {
        let pn = if long { p.len() } else { STATE_LEN };
        let vn = if long { v.len() } else { STATE_LEN };
        let pc = bcrypt(l.seed, key, p, pn);
        let vc = bcrypt(p[0], key, v, vn);
        (is_text(&pc) && is_text(&vc)).then(|| {
            let s = |b: &[u8]| String::from_utf8_lossy(&b[..b.len() - 1]).into_owned();
            (long, s(&pc), s(&vc))
        })
    })
}

impl Format for Buffalo {
    fn name(&self) -> &'static str {
        "buffalo-enc"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let l = parse(data)?;
        if data.len() < l.version.end {
            return None;
        }
        // The header's texts must decrypt under a known key.
        let (_, product, version) = KEYS.iter().find_map(|k| header_texts(data, &l, k))?;
        Some(Probe {
            length: Some(l.total()),
            description: format!(
                "Buffalo encrypted firmware, product {product:?} version {version:?}, {} bytes",
                l.data_len
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let corrupt = || FormatError::Corrupt("bad Buffalo header".into());
        let l = parse(data).ok_or_else(corrupt)?;
        if data.len() < l.version.end {
            return Err(corrupt());
        }
        let mut out = Unpacked::default();
        out.detail("magic", String::from_utf8_lossy(&data[..MAGIC_LEN - 1]));
        out.detail("seed", format!("0x{:02x}", l.seed));
        out.detail("data_size", l.data_len);
        let texts = KEYS
            .iter()
            .find_map(|k| header_texts(data, &l, k).map(|t| (*k, t)));
        if let Some((_, (_, p, v))) = &texts {
            out.detail("product", p);
            out.detail("version", v);
        }
        let avail = (data.len().saturating_sub(l.data_at) as u64).min(l.data_len);
        let enc = &data[l.data_at.min(data.len())..][..avail as usize];
        if avail < l.data_len || data.len() < l.data_at + avail as usize + 4 {
            out.warn(
                WarningKind::Truncated,
                format!("image declares {} bytes, {} present", l.total(), data.len()),
            );
        }
        let stored = be32(data, l.data_at + l.data_len as usize);
        if avail > ctx.stream_limit() {
            return Err(FormatError::Limit(format!(
                "data of {avail} bytes exceeds the stream limit"
            )));
        }
        let dseed = data[l.version.start];
        let mut found = None;
        for key in KEYS {
            for long in [false, true] {
                let n = if long { enc.len() } else { STATE_LEN };
                ctx.charge(avail)?;
                let clear = bcrypt(dseed, key, enc, n);
                if stored == Some(csum(l.data_len as u32, &clear)) {
                    found = Some((long, clear));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            Some((long, clear)) => {
                out.detail("state", if long { "long" } else { "256 bytes" });
                out.detail("checksum", "ok");
                out.entries.push(
                    Entry::stream("decrypted", EntryData::Owned(Blob::from(clear)))
                        .with_detail("offset", l.data_at),
                );
            }
            None => {
                out.warn(
                    WarningKind::Checksum,
                    "no known key and mode gives data matching the checksum",
                );
                out.entries.push(Entry::stream(
                    "encrypted",
                    EntryData::Range {
                        offset: l.data_at.min(data.len()) as u64,
                        length: avail,
                    },
                ));
            }
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

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.buffalo");
    const LONG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/long.buffalo");

    #[test]
    fn data_is_decrypted_and_checked() {
        check_streams_in(MANIFEST, &Buffalo, "image.buffalo", IMG);
        let u = unpack(&Buffalo, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(Buffalo.probe(IMG).unwrap().length, Some(IMG.len() as u64));
    }

    #[test]
    fn long_state_images_are_read() {
        check_streams_in(MANIFEST, &Buffalo, "long.buffalo", LONG);
    }

    #[test]
    fn bad_checksum_warns_and_keeps_the_bytes() {
        let mut bad = IMG.to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let u = unpack(&Buffalo, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Checksum));
        assert_eq!(u.entries[0].path, "encrypted");
    }

    #[test]
    fn garbage_lengths_and_wrong_keys_are_refused() {
        let mut bad = IMG.to_vec();
        bad[7..11].copy_from_slice(&1000u32.to_be_bytes());
        assert!(Buffalo.probe(&bad).is_none());
        let mut seed = IMG.to_vec();
        seed[6] ^= 0x40; // product no longer decrypts to text
        assert!(Buffalo.probe(&seed).is_none());
        assert!(Buffalo.probe(&IMG[..12]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&Buffalo, IMG, &Hostile::flips(200));
        hostile_with(&Buffalo, LONG, &Hostile::flips(100));
    }
}
