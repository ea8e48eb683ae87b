//! Test helpers shared by the archive formats (tar, zip, cpio, 7z, ar): the fixture manifest
//! written by `fixtures/scripts/archives.sh`, a comparison of unpacked entries against it,
//! and the truncation / bit-flip hostile run.

use crate::driver::{normalize_path, sha256};
use crate::format::{Entry, EntryKind, Format, UnpackContext, Unpacked};
use crate::formats::testutil::entry_bytes;
use crate::limits::{Budget, Limits};
use crate::Blob;
use assay_model::hex;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The fixture manifest: path → (type letter, mode with type bits, sha256 or link target).
pub fn expected() -> BTreeMap<String, (char, u32, String)> {
    let text = include_str!("../../tests/fixtures/archives/expected.txt");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let t = it.next().unwrap().chars().next().unwrap();
            let mode = u32::from_str_radix(it.next().unwrap(), 8).unwrap();
            let path = it.next().unwrap().to_string();
            let value = it.next().unwrap().to_string();
            (path, (t, mode, value))
        })
        .collect()
}

/// What to check of an archive against the manifest.
pub struct Check<'a> {
    /// Manifest paths the archive does not hold.
    pub missing: &'a [&'a str],
    /// Whether the format stores directories.
    pub dirs: bool,
    /// Whether the format stores symlinks.
    pub symlinks: bool,
    /// Whether modes (type and permission bits) are compared.
    pub modes: bool,
}

/// Compare every entry with the manifest (bytes by sha256, modes, link targets), resolving
/// hard links to the bytes of their target, and check that nothing in the manifest is missing.
pub fn check_against_manifest(container: &[u8], u: &Unpacked, check: &Check) {
    let want = expected();
    let by_path: BTreeMap<String, &Entry> = u
        .entries
        .iter()
        .map(|e| (normalize_path(&e.path).0, e))
        .collect();
    let mut seen = 0;
    for e in &u.entries {
        let (path, bad) = normalize_path(&e.path);
        assert!(!bad, "{path}");
        let Some((t, mode, value)) = want.get(&path) else {
            panic!("unexpected entry {path:?} ({:?})", e.kind);
        };
        seen += 1;
        match (&e.kind, t) {
            (EntryKind::Directory, 'd') => {}
            (EntryKind::Symlink(target), 'l') => assert_eq!(target, value, "{path}"),
            (EntryKind::File, 'f') => {
                let bytes = entry_bytes(container, e).unwrap_or_default();
                assert_eq!(&hex(&sha256(&bytes)), value, "{path}");
            }
            (EntryKind::Hardlink(target), 'f') => {
                let bytes = entry_bytes(container, e).or_else(|| {
                    let t = by_path.get(&normalize_path(target).0)?;
                    entry_bytes(container, t)
                });
                assert_eq!(&hex(&sha256(&bytes.unwrap_or_default())), value, "{path}");
            }
            (k, t) => panic!("{path}: kind {k:?}, manifest says {t}"),
        }
        if check.modes {
            assert_eq!(e.mode, Some(*mode), "mode of {path}");
        }
    }
    let wanted = want
        .iter()
        .filter(|(p, (t, _, _))| {
            !check.missing.contains(&p.as_str())
                && (check.dirs || *t != 'd')
                && (check.symlinks || *t != 'l')
        })
        .count();
    assert_eq!(seen, wanted, "entries found vs manifest");
    assert_eq!(u.entries.len(), seen);
}

/// Run probe and unpack on every truncation at 64 cut points and on a few hundred single-byte
/// flips: nothing may panic and each run must finish quickly.
pub fn hostile(format: &dyn Format, fixture: &[u8]) {
    let run = |data: &[u8]| {
        let started = Instant::now();
        if let Some(p) = format.probe(data) {
            let blob = Blob::from(data.to_vec());
            let view = match p.length {
                Some(l) => blob.slice(0..(l.min(data.len() as u64)) as usize).unwrap(),
                None => blob,
            };
            let budget = Budget::new(Limits::for_image(data.len() as u64));
            let _ = format.unpack(&view, &UnpackContext { budget: &budget });
        }
        assert!(started.elapsed() < Duration::from_secs(5), "too slow");
    };
    for i in 0..64 {
        run(&fixture[..fixture.len() * i / 64]);
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut d = fixture.to_vec();
        let at = (x % d.len() as u64) as usize;
        d[at] ^= ((x >> 32) as u8) | 1;
        run(&d);
    }
}

/// Unpack with a small entry limit, for the entry-count bombs.
pub fn unpack_with_max_entries(format: &dyn Format, data: &[u8], max: usize) -> Unpacked {
    let p = format.probe(data).expect("probe");
    let blob = Blob::from(data.to_vec());
    let view = match p.length {
        Some(l) => blob.slice(0..(l.min(data.len() as u64)) as usize).unwrap(),
        None => blob,
    };
    let mut limits = Limits::for_image(data.len() as u64);
    limits.max_entries = max;
    let budget = Budget::new(limits);
    format
        .unpack(&view, &UnpackContext { budget: &budget })
        .expect("unpack")
}
