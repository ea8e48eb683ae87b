//! Measure how many candidate passwords per second the hash cracker checks, per scheme: each
//! scheme's hash is tried against distinct wrong candidates (what cracking mostly does), then
//! the right one, with `hashes::verify` as `hashes::crack` calls it (without the per-scheme
//! budget, so that slow schemes get enough candidates to time).
//!
//! `cargo run --release -p assay-analyze --example crack_bench [-- SCALE]` (SCALE multiplies the
//! candidate counts; default 1). Prints one line per scheme: candidates, seconds, hashes/second.

use assay_analyze::detectors::credentials::hashes::{identify, verify};
use std::time::Instant;

/// (hash, its password, candidates tried at SCALE 1): hashes made by `openssl passwd`, python3
/// `crypt` and the OpenBSD bcrypt vectors (the same ones the unit tests check).
const CASES: &[(&str, &str, usize)] = &[
    ("ablTxbTxaaYfA", "oper8", 100_000),
    ("$1$saltsalt$Y3BMhxQHmg7scgLILa56u1", "admin", 20_000),
    ("$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1", "password", 20_000),
    (
        "$5$rounds=5000$saltsaltsalt$3E3P35YphVLFWAgcQ/x9HeAt5Wdw/b3zKxsew0rcjF9",
        "olt",
        2_000,
    ),
    (
        "$6$saltsalt$spmXNE2iSikNnPHGD8yGoarQ2i2cqXjkO5JJmmk/Wlc8fm/IBIx7Aowhr5Z3z1a/yd1sA4OVW7inS4cmPDyPd.",
        "remote",
        2_000,
    ),
    (
        "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "U*U",
        1_000,
    ),
    ("21232f297a57a5a743894a0e4a801fc3", "admin", 1_000_000),
    ("5bdcd3c0d4d24ae3e71b3b452a024c6324c7e4bb", "support", 1_000_000),
    ("{SHA}0DPiKuNIrrVmD8IUCuw1hQxNqZc=", "admin", 1_000_000),
];

fn main() {
    let scale: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    println!(
        "{:<12} {:>10} {:>9} {:>14}",
        "scheme", "candidates", "seconds", "hashes/second"
    );
    for &(hash, password, count) in CASES {
        let scheme = identify(hash, true).expect("a known scheme");
        let count = ((count as f64 * scale) as usize).max(1);
        // Distinct wrong candidates of ordinary password length, then the right one.
        let mut words: Vec<String> = (0..count).map(|i| format!("cand{i:06}")).collect();
        words.push(password.to_string());
        let started = Instant::now();
        let found = words.iter().position(|w| verify(scheme, w, hash));
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(found, Some(count), "{hash}");
        let tried = words.len();
        println!(
            "{:<12} {:>10} {:>9.3} {:>14.0}",
            scheme.name(),
            tried,
            secs,
            tried as f64 / secs
        );
    }
}
