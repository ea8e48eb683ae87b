//! Replays every input the fuzzers found (and a few hostile seeds) through the same harness
//! they ran, so that a fixed crash stays fixed without a nightly toolchain.
//!
//! Layout: `tests/fuzz-regressions/<format>/<input>`, where `<format>` is a registered
//! [`Format::name`](assay_unpack::Format::name) (or `driver` for inputs found by the whole
//! engine's fuzzer). Every input goes through its format's harness and through the driver.
//! See `fuzz/README.md` for how the inputs were found and minimised.

use assay_unpack::fuzzing::{format_by_name, fuzz_driver, fuzz_format};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz-regressions");

/// Longest a single replay may take in a debug build; the fuzzers ran with a 10 s timeout on
/// optimised builds, and a regression that was a hang must now finish well within this.
const MAX_REPLAY: Duration = Duration::from_secs(30);

/// Every (format folder, input file) pair, sorted so failures read the same on every run.
fn inputs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(REGRESSIONS).expect("regressions folder") {
        let dir = dir.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let format = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).expect("format folder") {
            let file = file.expect("entry").path();
            if file.is_file() {
                out.push((format.clone(), file));
            }
        }
    }
    out.sort();
    out
}

/// Run `f`, turning a panic into a message and a slow run into one too.
fn replay(what: &str, path: &Path, f: impl FnOnce()) -> Option<String> {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let took = started.elapsed();
    match outcome {
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Some(format!("{what} {}: panicked: {msg}", path.display()))
        }
        Ok(()) if took > MAX_REPLAY => Some(format!(
            "{what} {}: took {took:?}, over {MAX_REPLAY:?}",
            path.display()
        )),
        Ok(()) => None,
    }
}

#[test]
fn every_folder_names_a_registered_format() {
    for (format, path) in inputs() {
        assert!(
            format == "driver" || format_by_name(&format).is_some(),
            "{}: folder {format:?} is not a registered format name",
            path.display()
        );
    }
}

#[test]
fn fuzz_regressions_replay_without_panic_or_hang() {
    let inputs = inputs();
    assert!(
        !inputs.is_empty(),
        "no regression inputs under {REGRESSIONS}"
    );
    let mut failures = Vec::new();
    for (format, path) in &inputs {
        let data = std::fs::read(path).expect("regression input");
        if format != "driver" {
            failures.extend(replay(format, path, || fuzz_format(format, &data)));
        }
        failures.extend(replay("driver", path, || fuzz_driver(&data)));
    }
    assert!(
        failures.is_empty(),
        "{} failed replays over {} inputs:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}
