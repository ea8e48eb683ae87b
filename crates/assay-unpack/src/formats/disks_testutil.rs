//! Test helpers of the disk-image formats: the committed fixtures, the expected tree, and the
//! hostile-input sweep (truncations and byte flips through probe and unpack).

use crate::format::{Entry, EntryKind, Format, UnpackContext};
use crate::formats::testutil::entry_bytes;
use crate::limits::{Budget, Limits};
use crate::Blob;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::time::{Duration, Instant};

/// The expected tree of every filesystem fixture (see `fixtures/scripts/disks.sh`).
pub const EXPECTED: &str = include_str!("../../tests/fixtures/disks/expected.txt");

/// One line of `expected.txt`.
pub struct Expected {
    pub kind: char,
    pub mode: u32,
    pub path: String,
    pub value: String,
}

/// Parse `expected.txt`.
pub fn expected() -> Vec<Expected> {
    EXPECTED
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let kind = it.next().unwrap().chars().next().unwrap();
            let mode = u32::from_str_radix(it.next().unwrap(), 8).unwrap();
            let path = it.next().unwrap().to_string();
            let value = it.next().unwrap().to_string();
            Expected {
                kind,
                mode,
                path,
                value,
            }
        })
        .collect()
}

/// Hex SHA-256.
pub fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Decompress a gzip fixture.
pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// What a filesystem can represent of the expected tree.
pub struct Check {
    /// Compare mode bits.
    pub modes: bool,
    /// The format stores symlinks.
    pub symlinks: bool,
    /// The format stores devices: `Some(true)` when it keeps their numbers too.
    pub devices: Option<bool>,
}

/// Compare unpacked entries with `expected.txt`: every expected entry is present with the
/// right kind, bytes (sha256), mode and link target.
pub fn check_tree(container: &[u8], entries: &[Entry], check: Check) {
    for exp in expected() {
        if exp.kind == 'l' && !check.symlinks {
            continue;
        }
        if matches!(exp.kind, 'c' | 'b') && check.devices.is_none() {
            continue;
        }
        let e = entries
            .iter()
            .find(|e| e.path == exp.path)
            .unwrap_or_else(|| panic!("missing {}", exp.path));
        match exp.kind {
            'd' => assert_eq!(e.kind, EntryKind::Directory, "{}", exp.path),
            'f' => {
                assert_eq!(e.kind, EntryKind::File, "{}", exp.path);
                let bytes = entry_bytes(container, e).unwrap_or_default();
                assert_eq!(sha_hex(&bytes), exp.value, "{}", exp.path);
            }
            'l' => assert_eq!(
                e.kind,
                EntryKind::Symlink(exp.value.clone()),
                "{}",
                exp.path
            ),
            'c' | 'b' => {
                let EntryKind::Device {
                    block,
                    major,
                    minor,
                } = e.kind
                else {
                    panic!("{} is not a device: {:?}", exp.path, e.kind);
                };
                assert_eq!(block, exp.kind == 'b', "{}", exp.path);
                if check.devices == Some(true) {
                    assert_eq!(format!("{major}:{minor}"), exp.value, "{}", exp.path);
                }
            }
            _ => unreachable!(),
        }
        if check.modes {
            assert_eq!(e.mode, Some(exp.mode), "mode of {}", exp.path);
        }
    }
}

/// Run probe and unpack on 64 truncations and 300 single-byte flips of `data`: nothing may
/// panic and each run must end quickly.
pub fn hostile(format: &dyn Format, data: &[u8]) {
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for i in 0..64 {
        cases.push(data[..data.len() * i / 64].to_vec());
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Flips concentrate on the first 64 KiB, where headers and metadata live.
    let hot = data.len().min(64 * 1024);
    for _ in 0..300 {
        let mut d = data.to_vec();
        let pos = (next() % hot as u64) as usize;
        d[pos] ^= (next() % 255 + 1) as u8;
        cases.push(d);
    }
    for d in cases {
        let started = Instant::now();
        if let Some(p) = format.probe(&d) {
            let blob = Blob::from(d.clone());
            let view = match p.length {
                Some(l) => blob.slice(0..(l as usize).min(d.len())).unwrap(),
                None => blob.clone(),
            };
            let mut limits = Limits::for_image(d.len() as u64);
            limits.max_total_bytes = 64 << 20;
            let budget = Budget::new(limits);
            let _ = format.unpack(&view, &UnpackContext { budget: &budget });
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{} took {:?}",
            format.name(),
            started.elapsed()
        );
    }
}
