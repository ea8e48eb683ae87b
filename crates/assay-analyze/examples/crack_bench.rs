//! Measure how many candidate passwords per second the hash cracker checks, per scheme: each
//! scheme's hash is tried against distinct wrong candidates (what cracking mostly does), then
//! the right one, with `hashes::verify` as `hashes::crack` calls it (without the per-scheme
//! budget, so that slow schemes get enough candidates to time).
//!
//! `cargo run --release -p assay-analyze --example crack_bench [-- SCALE [RUNS]]` (SCALE
//! multiplies the candidate counts, default 1; each scheme is timed RUNS times, default 3, and
//! the best run is shown). Prints one line per scheme: candidates, seconds and hashes per
//! second, both as on-CPU time of the thread (Linux `/proc/thread-self/schedstat`, which other
//! programs competing for the CPU do not inflate) and as wall-clock time.

use assay_analyze::detectors::credentials::hashes::{identify, verify};
use std::time::{Duration, Instant};

/// Time the current thread has spent on a CPU, when the system tells it.
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

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
    let mut args = std::env::args().skip(1);
    let scale: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    println!(
        "{:<12} {:>10} {:>9} {:>14} {:>9} {:>14}",
        "scheme", "candidates", "cpu s", "hashes/cpu-s", "wall s", "hashes/wall-s"
    );
    for &(hash, password, count) in CASES {
        let scheme = identify(hash, true).expect("a known scheme");
        let count = ((count as f64 * scale) as usize).max(1);
        // Distinct wrong candidates of ordinary password length, then the right one.
        let mut words: Vec<String> = (0..count).map(|i| format!("cand{i:06}")).collect();
        words.push(password.to_string());
        let (mut best_cpu, mut best_wall) = (f64::MAX, f64::MAX);
        for _ in 0..runs.max(1) {
            let (cpu0, wall0) = (thread_cpu_time(), Instant::now());
            let found = words.iter().position(|w| verify(scheme, w, hash));
            let wall = wall0.elapsed().as_secs_f64();
            let cpu = match (cpu0, thread_cpu_time()) {
                (Some(a), Some(b)) => (b - a).as_secs_f64(),
                _ => wall,
            };
            assert_eq!(found, Some(count), "{hash}");
            best_cpu = best_cpu.min(cpu);
            best_wall = best_wall.min(wall);
        }
        let tried = words.len() as f64;
        println!(
            "{:<12} {:>10} {:>9.3} {:>14.0} {:>9.3} {:>14.0}",
            scheme.name(),
            words.len(),
            best_cpu,
            tried / best_cpu,
            best_wall,
            tried / best_wall
        );
    }
}
