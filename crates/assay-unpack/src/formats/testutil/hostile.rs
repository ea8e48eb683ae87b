//! The hostile-input sweep every format's tests run: each truncation at 64 cut points and a
//! few hundred damaged copies of a fixture go through probe and unpack. Nothing may panic,
//! every run must end quickly, and the outcome is otherwise ignored.

use crate::format::UnpackContext;
use crate::limits::{Budget, Limits};
use crate::{Blob, Format};
use std::time::{Duration, Instant};

/// A deterministic xorshift generator, so that a failing damage is reproducible.
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (which must not be zero).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Damage to one copy of the fixture; `false` skips the copy.
pub type Damage<'a> = &'a dyn Fn(&mut Vec<u8>, &mut Rng) -> bool;

/// How to sweep one format.
pub struct Hostile<'a> {
    /// Damaged copies to run after the truncations.
    pub flips: usize,
    /// Half of the default single-byte flips land in the first `hot` bytes, where headers
    /// and tables live; the other half anywhere.
    pub hot: usize,
    /// Damage instead of the default single-byte flip, for formats whose checksums would
    /// reject almost every flip.
    pub damage: Option<Damage<'a>>,
    /// Adjusts the limits of each run (from the default limits for the input's length).
    pub limits: fn(&mut Limits),
    /// Run unpack even when the probe refuses: the reader must fail cleanly on its own.
    pub unprobed: bool,
}

impl Default for Hostile<'_> {
    fn default() -> Self {
        Hostile {
            flips: 300,
            hot: 512,
            damage: None,
            limits: |_| {},
            unprobed: false,
        }
    }
}

impl Hostile<'_> {
    /// The sweep of a disk image: flips aimed at the first 64 KiB, where superblocks and
    /// tables live, and at most 64 MiB of output a run.
    pub fn disk() -> Self {
        Hostile {
            hot: 64 << 10,
            limits: |l| l.max_total_bytes = 64 << 20,
            ..Hostile::default()
        }
    }

    /// The default sweep, running unpack even where the probe refuses (the filesystem
    /// readers must fail cleanly on their own).
    pub fn unprobed() -> Self {
        Hostile {
            unprobed: true,
            ..Hostile::default()
        }
    }

    /// The default sweep with `flips` damaged copies.
    pub fn flips(flips: usize) -> Self {
        Hostile {
            flips,
            ..Hostile::default()
        }
    }
}

/// The default sweep: 64 truncations and 300 single-byte flips.
pub fn hostile(format: &dyn Format, data: &[u8]) {
    hostile_with(format, data, &Hostile::default());
}

/// Sweep `format` over truncations and damaged copies of `data` as `how` says: each run
/// must end within 5 s and the whole sweep within 60 s.
pub fn hostile_with(format: &dyn Format, data: &[u8], how: &Hostile) {
    let started = Instant::now();
    for i in 0..64 {
        run_once(format, &data[..data.len() * i / 64], how);
    }
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ data.len() as u64);
    if !data.is_empty() {
        for _ in 0..how.flips {
            let mut copy = data.to_vec();
            let keep = match how.damage {
                Some(damage) => damage(&mut copy, &mut rng),
                None => {
                    let span = if rng.next() & 1 == 0 {
                        copy.len().min(how.hot.max(1))
                    } else {
                        copy.len()
                    };
                    let at = rng.below(span);
                    copy[at] ^= (rng.below(255) + 1) as u8;
                    true
                }
            };
            if keep {
                run_once(format, &copy, how);
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{}: hostile sweep took {:?}",
        format.name(),
        started.elapsed()
    );
}

/// Probe and unpack `data` as the driver would (slicing to the probed length), ignoring the
/// outcome; only a panic or a slow run fails.
pub fn run_once(format: &dyn Format, data: &[u8], how: &Hostile) {
    let started = Instant::now();
    let probe = format.probe(data);
    if probe.is_some() || how.unprobed {
        let blob = Blob::from(data.to_vec());
        let view = match probe.and_then(|p| p.length) {
            Some(l) => blob.slice(0..(l.min(data.len() as u64)) as usize).unwrap(),
            None => blob,
        };
        let mut limits = Limits::for_image(data.len() as u64);
        (how.limits)(&mut limits);
        let budget = Budget::new(limits);
        let _ = format.unpack(&view, &UnpackContext { budget: &budget });
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{} took {:?} on a {}-byte input",
        format.name(),
        started.elapsed(),
        data.len()
    );
}
