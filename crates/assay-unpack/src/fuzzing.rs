//! Entry points for fuzzing the format readers and the driver, shared by the cargo-fuzz
//! targets under `fuzz/` and by the `fuzz_regressions` test that replays what they found.
//!
//! Unlike the rest of the crate these functions panic on purpose: a panic is how a fuzzer
//! learns that an invariant broke. They check what every reader promises on hostile input:
//! no panic, no allocation beyond the limits, and every carved range inside its container.
//! They live in the library (always built, a few dozen lines) so that `cargo test` replays
//! the same harness the fuzzer ran, without a feature flag to forget.

use crate::format::{EntryData, Format, UnpackContext, Unpacked};
use crate::limits::{Budget, Limits};
use crate::{Blob, UnpackOptions, Unpacker};
use std::sync::OnceLock;

/// Limits small enough that a fuzzer's input cannot make one run slow or huge, yet large
/// enough that every code path of a reader stays reachable.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_depth: 8,
        max_total_bytes: 64 << 20,
        max_stream_bytes: 16 << 20,
        max_entries: 100_000,
        max_nodes: 200_000,
    }
}

/// The registered format called `name` (its [`Format::name`]), if there is one.
pub fn format_by_name(name: &str) -> Option<&'static dyn Format> {
    crate::formats::registry()
        .into_iter()
        .find(|f| f.name() == name)
}

/// Run one format on `data` the way the driver would: probe at offset 0 and, when the probe
/// accepts, unpack the probed span. When the probe rejects, unpack the whole input anyway, so
/// that the fuzzer reaches the reader's deeper paths without first having to satisfy every
/// check of its probe (a reader must not trust its probe to have run).
///
/// # Panics
/// When `name` is not a registered format, when the reader panics, or when its output
/// breaks an invariant (see [`check_unpacked`]).
pub fn fuzz_format(name: &str, data: &[u8]) {
    let format = format_by_name(name).unwrap_or_else(|| panic!("no format named {name:?}"));
    if let Some(find) = format.finder() {
        // A format's own search: every start inside the window, each one safe to probe.
        let half = data.len() / 2;
        for window in [0..data.len(), half..data.len(), 0..half] {
            let mut starts = Vec::new();
            find(data, window.clone(), &mut starts);
            for s in starts {
                assert!(
                    window.contains(&s),
                    "{name}: finder start {s} outside {window:?}"
                );
                let _ = format.probe(&data[s..]);
            }
        }
    }
    let blob = Blob::from(data.to_vec());
    let view = match format.probe(data) {
        Some(probe) => match probe.length {
            Some(l) => blob
                .slice(0..usize::try_from(l).unwrap_or(usize::MAX).min(blob.len()))
                .expect("a prefix of the input fits"),
            None => blob,
        },
        None => blob,
    };
    let budget = Budget::new(fuzz_limits());
    let ctx = UnpackContext { budget: &budget };
    if let Ok(unpacked) = format.unpack(&view, &ctx) {
        check_unpacked(name, &view, &unpacked, budget.limits());
    }
}

/// Assert what an unpack result must satisfy whatever the input: carved ranges lie inside
/// the container, no decoded stream (for a sparse entry: its stored bytes) exceeds the
/// per-stream limit, and the bytes consumed do not exceed the bytes given.
///
/// # Panics
/// On the first violated invariant, naming the format and the entry.
pub fn check_unpacked(name: &str, view: &Blob, unpacked: &Unpacked, limits: &Limits) {
    let len = view.len() as u64;
    if let Some(consumed) = unpacked.consumed {
        assert!(
            consumed <= len,
            "{name}: consumed {consumed} bytes of a {len}-byte input"
        );
    }
    for entry in &unpacked.entries {
        match &entry.data {
            EntryData::None => {}
            EntryData::Range { offset, length } => {
                let end = offset.checked_add(*length);
                assert!(
                    end.is_some_and(|e| e <= len),
                    "{name}: entry {:?} range {offset:#x}+{length:#x} lies outside the {len}-byte container",
                    entry.path
                );
            }
            EntryData::Owned(b) => {
                assert!(
                    b.len() as u64 <= limits.max_stream_bytes,
                    "{name}: entry {:?} holds {} bytes, over the {}-byte stream limit",
                    entry.path,
                    b.len(),
                    limits.max_stream_bytes
                );
            }
            // The hole after `data` is neither decoded nor held (that is the point of a sparse
            // entry: a 3 GiB hole costs nothing), so only the stored bytes meet the limit.
            EntryData::Sparse { data, length } => {
                assert!(
                    data.len() as u64 <= *length && data.len() as u64 <= limits.max_stream_bytes,
                    "{name}: sparse entry {:?} of {length} bytes holds {} (stream limit {})",
                    entry.path,
                    data.len(),
                    limits.max_stream_bytes
                );
            }
        }
    }
}

/// Run the whole engine (scan, every format, recursion) on `data` under [`fuzz_limits`].
///
/// # Panics
/// When any part of the engine panics, or the tree grows far past the node limit (the
/// limit counts entries and unknown ranges, not the containers that hold them).
pub fn fuzz_driver(data: &[u8]) {
    static ENGINE: OnceLock<Unpacker> = OnceLock::new();
    let engine = ENGINE.get_or_init(Unpacker::new);
    let limits = fuzz_limits();
    let max_nodes = limits.max_nodes;
    let result = engine.unpack_bytes(
        "fuzz",
        Blob::from(data.to_vec()),
        &UnpackOptions {
            limits: Some(limits),
            progress: None,
            ..Default::default()
        },
    );
    assert!(
        result.nodes.len() <= 2 * max_nodes + 1,
        "{} nodes, over the limit of {max_nodes}",
        result.nodes.len()
    );
    check_budget(&result, &fuzz_limits());
}

/// Assert the budget accounting of a whole run: the bytes the branches' shares spent, added
/// up, never exceed the scan's total, and a run where no limit fired on the node count
/// gives the same tree again (shares are fixed by position, not by thread timing).
///
/// # Panics
/// When the accounting overflows the total or a second run differs.
pub fn check_budget(result: &crate::UnpackResult, limits: &Limits) {
    assert!(
        result.stats.bytes_unpacked <= limits.max_total_bytes,
        "shares spent {} bytes, over the total of {}",
        result.stats.bytes_unpacked,
        limits.max_total_bytes
    );
    if result.timing_dependent {
        return;
    }
    let Some(image) = result.content(0) else {
        return;
    };
    static ENGINE: OnceLock<Unpacker> = OnceLock::new();
    let again = ENGINE.get_or_init(Unpacker::new).unpack_bytes(
        &result.image.name,
        image.clone(),
        &UnpackOptions {
            limits: Some(limits.clone()),
            progress: None,
            ..Default::default()
        },
    );
    let ids = |r: &crate::UnpackResult| -> Vec<(String, Option<String>, u64)> {
        r.nodes
            .iter()
            .map(|n| (n.location.clone(), n.sha256.clone(), n.size))
            .collect()
    };
    assert_eq!(
        ids(result),
        ids(&again),
        "a second run gave another tree: the budget depends on thread timing"
    );
    assert_eq!(result.stats.bytes_unpacked, again.stats.bytes_unpacked);
}
