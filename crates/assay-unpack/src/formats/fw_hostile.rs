//! Test-only helpers of the firmware container formats: hostile-input runs (truncations and
//! byte flips) and the fixture manifest.

use crate::format::{Format, UnpackContext};
use crate::limits::{Budget, Limits};
use crate::Blob;
use std::time::{Duration, Instant};

/// Probe and unpack `data` as the driver would, ignoring the outcome: only panics and
/// runaway loops are failures.
pub fn run_once(format: &dyn Format, data: &[u8]) {
    let Some(probe) = format.probe(data) else {
        return;
    };
    let blob = Blob::from(data.to_vec());
    let view = match probe.length {
        Some(l) => blob.slice(0..(l.min(data.len() as u64)) as usize).unwrap(),
        None => blob,
    };
    let budget = Budget::new(Limits::for_image(data.len() as u64));
    let _ = format.unpack(&view, &UnpackContext { budget: &budget });
}

/// Run `format` on 64 truncations and `flips` single-byte flips of `data` (deterministic
/// xorshift), and check that the whole run ends within a few seconds.
pub fn hostile(format: &dyn Format, data: &[u8], flips: usize) {
    let started = Instant::now();
    for i in 0..=64u64 {
        let cut = (data.len() as u64 * i / 64) as usize;
        run_once(format, &data[..cut]);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ data.len() as u64;
    let mut copy = data.to_vec();
    for _ in 0..flips {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if copy.is_empty() {
            break;
        }
        // Favour the header: half of the flips land in the first 256 bytes.
        let span = if state & 1 == 0 {
            copy.len().min(256)
        } else {
            copy.len()
        };
        let pos = (state >> 8) as usize % span;
        let old = copy[pos];
        copy[pos] ^= ((state >> 40) as u8) | 1;
        run_once(format, &copy);
        copy[pos] = old;
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "hostile run took {:?}",
        started.elapsed()
    );
}

/// SHA-256 in hex.
pub fn sha_hex(data: &[u8]) -> String {
    assay_model::hex(&crate::sha256(data))
}

/// The manifest lines of one fixture (`stream\t-\t<fixture>/<label>\t<sha256>`), as
/// (label, sha256) pairs.
pub fn expected(manifest: &str, fixture: &str) -> Vec<(String, String)> {
    manifest
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (fx, label) = f.get(2)?.split_once('/')?;
            let sha = f.get(3)?;
            (fx == fixture).then(|| (label.to_string(), sha.to_string()))
        })
        .collect()
}

/// Check that the entries of `format` unpacked from fixture `name` match the manifest.
pub fn check_fixture(format: &dyn Format, name: &str, data: &[u8], manifest: &str) {
    let u = super::testutil::unpack(format, data);
    let want = expected(manifest, name);
    assert!(!want.is_empty(), "no manifest lines for {name}");
    let got: Vec<(String, String)> = u
        .entries
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                sha_hex(&super::testutil::entry_bytes(data, e).expect("entry bytes")),
            )
        })
        .collect();
    assert_eq!(got, want, "entries of {name}; warnings {:?}", u.warnings);
}
