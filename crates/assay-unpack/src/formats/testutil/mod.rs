//! Helpers shared by every format's tests: unpacking a fixture as the driver would, the bytes
//! of an entry, fixture manifests ([`manifest`]) and the hostile-input sweep ([`hostile`]).

pub mod hostile;
pub mod manifest;

use crate::format::{Entry, EntryData, UnpackContext, Unpacked};
use crate::limits::{Budget, Limits};
use crate::{Blob, Format, FormatError};
use std::io::Read;

/// Probe `data` at offset 0 and unpack the probed length under `limits`, as the driver
/// would; `None` when the probe refuses.
pub fn probe_and_unpack(
    format: &dyn Format,
    data: &[u8],
    limits: Limits,
) -> Option<Result<Unpacked, FormatError>> {
    let probe = format.probe(data)?;
    let blob = Blob::from(data.to_vec());
    let view = match probe.length {
        Some(l) => blob.slice(0..(l.min(data.len() as u64)) as usize).unwrap(),
        None => blob,
    };
    let budget = Budget::new(limits);
    Some(format.unpack(&view, &UnpackContext { budget: &budget }))
}

/// Run a format's probe and unpack on `data` at offset 0 with default limits.
pub fn unpack(format: &dyn Format, data: &[u8]) -> Unpacked {
    unpack_with_limits(format, data, Limits::for_image(data.len() as u64))
}

/// Like [`unpack`] under the given limits, for the bomb tests.
pub fn unpack_with_limits(format: &dyn Format, data: &[u8], limits: Limits) -> Unpacked {
    probe_and_unpack(format, data, limits)
        .expect("probe accepts the fixture")
        .expect("unpack succeeds")
}

/// Like [`unpack`] with these archive passwords (and key-derivation work budget).
pub fn unpack_with_keyring(
    format: &dyn Format,
    data: &[u8],
    keyring: crate::passwords::Keyring,
) -> Unpacked {
    let blob = Blob::from(data.to_vec());
    let budget = Budget::new(Limits::for_image(data.len() as u64))
        .with_keyring(std::sync::Arc::new(keyring));
    format
        .unpack(&blob, &UnpackContext { budget: &budget })
        .expect("unpack succeeds")
}

/// Path (without the leading '/') and SHA-256 of every member of the encrypted-archive
/// fixtures (`tests/fixtures/encrypted/expected.txt`).
pub fn encrypted_expected() -> Vec<(&'static str, &'static str)> {
    include_str!("../../../tests/fixtures/encrypted/expected.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .collect()
}

/// Check that every expected member of an encrypted-archive fixture came out with its bytes.
pub fn check_encrypted(container: &[u8], entries: &[Entry]) {
    for (path, sha) in encrypted_expected() {
        let e = entries
            .iter()
            .find(|e| e.path.trim_start_matches('/') == path)
            .unwrap_or_else(|| panic!("{path} missing"));
        let bytes = entry_bytes(container, e).unwrap_or_else(|| panic!("{path} has no data"));
        assert_eq!(
            assay_model::hex(&crate::driver::sha256(&bytes)),
            sha,
            "{path}"
        );
    }
}

/// The bytes of an entry, resolving ranges against the container's bytes.
pub fn entry_bytes(container: &[u8], e: &Entry) -> Option<Vec<u8>> {
    match &e.data {
        EntryData::None => None,
        EntryData::Owned(b) => Some(b.to_vec()),
        EntryData::Sparse { data, length } => {
            let mut v = data.to_vec();
            v.resize(*length as usize, 0);
            Some(v)
        }
        EntryData::Range { offset, length } => container
            .get(*offset as usize..(*offset + *length) as usize)
            .map(|s| s.to_vec()),
    }
}

/// A sparse file's SHA-256 (its bytes, then zeros up to `length`) in lower-case hex, hashed
/// streaming: what `sha256sum` prints for the file the fixture was made from.
pub fn sparse_sha_hex(data: &[u8], length: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(data);
    let zeros = vec![0u8; 1 << 20];
    let mut left = length - data.len() as u64;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        h.update(&zeros[..n]);
        left -= n as u64;
    }
    assay_model::hex(h.finalize().as_slice())
}

/// The sha256 a fixture manifest gives `path`.
pub fn manifest_sha<'a>(manifest: &'a str, path: &str) -> &'a str {
    manifest
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() == 4 && f[0] == "f" && f[2] == path).then_some(f[3])
        })
        .unwrap_or_else(|| panic!("{path} is not in the manifest"))
}

/// SHA-256 in lower-case hex, as the fixture manifests write it.
pub fn sha_hex(data: &[u8]) -> String {
    assay_model::hex(&crate::sha256(data))
}

/// Decompress a gzip fixture (large disk images are committed compressed).
pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Unpack under a small entry limit, for the entry-count bombs.
pub fn unpack_with_max_entries(format: &dyn Format, data: &[u8], max: usize) -> Unpacked {
    let mut limits = Limits::for_image(data.len() as u64);
    limits.max_entries = max;
    unpack_with_limits(format, data, limits)
}
