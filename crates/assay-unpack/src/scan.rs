//! The magic scanner: one pass of a few Aho-Corasick automata over a blob yields every
//! candidate start of every registered format.
//!
//! Each automaton holds at most 64 patterns and searches leftmost-first, which keeps the
//! SIMD prefilter on (5–10 GB/s measured here, against 0.2–0.5 GB/s past 64 patterns or in
//! overlapping mode). Overlapping hits are still found by restarting one byte after each hit.

use crate::format::Format;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use std::ops::Range;

/// How far behind the search position bytes are handed back with `release`.
pub const RELEASE_STEP: usize = 8 << 20;

/// Most patterns one automaton holds before its prefilter switches off.
const SHARD_SIZE: usize = 64;

/// A possible start of a format inside a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// Offset of the structure's start (the hit minus the magic's offset).
    pub start: usize,
    /// Index of the format in the registry the scanner was built from.
    pub format: usize,
}

/// A format index and the offset of its magic from the structure's start.
type Owner = (usize, usize);

/// Multi-pattern scanner over the magics of a list of formats.
pub struct MagicScanner {
    shards: Vec<Shard>,
    /// For each distinct pattern: every (format index, magic offset) it announces, including
    /// those of shorter patterns that are its prefixes (they match wherever it does, but a
    /// leftmost-first search reports only the longest).
    owners: Vec<Vec<(usize, usize)>>,
}

struct Shard {
    automaton: AhoCorasick,
    /// Length of the shard's longest pattern.
    longest: usize,
    /// Global pattern index of each pattern of the shard.
    patterns: Vec<usize>,
}

impl MagicScanner {
    /// Build the automata for `formats` (formats without magics are left out).
    pub fn new(formats: &[&'static dyn Format]) -> Self {
        let mut distinct: Vec<(&'static [u8], Vec<Owner>)> = Vec::new();
        for (idx, f) in formats.iter().enumerate() {
            for m in f.magics() {
                match distinct.iter_mut().find(|d| d.0 == m.bytes) {
                    Some(d) => d.1.push((idx, m.offset)),
                    None => distinct.push((m.bytes, vec![(idx, m.offset)])),
                }
            }
        }
        // Longer patterns first, so that leftmost-first reports the longest at a position.
        distinct.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
        let owners = distinct
            .iter()
            .map(|(bytes, own)| {
                let mut all = own.clone();
                for (other, other_own) in &distinct {
                    if other.len() < bytes.len() && bytes.starts_with(other) {
                        all.extend_from_slice(other_own);
                    }
                }
                all
            })
            .collect();
        let indices: Vec<usize> = (0..distinct.len()).collect();
        let shards = indices
            .chunks(SHARD_SIZE)
            .map(|chunk| Shard {
                automaton: AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(chunk.iter().map(|&i| distinct[i].0))
                    .expect("static magics build an automaton"),
                longest: chunk
                    .iter()
                    .map(|&i| distinct[i].0.len())
                    .max()
                    .unwrap_or(1),
                patterns: chunk.to_vec(),
            })
            .collect();
        MagicScanner { shards, owners }
    }

    /// Every candidate in `data`, sorted by start offset, without duplicates.
    pub fn candidates(&self, data: &[u8]) -> Vec<Candidate> {
        self.candidates_releasing(data, &|_| {})
    }

    /// Like [`candidates`](Self::candidates), calling `release` on ranges the search has
    /// passed (every [`RELEASE_STEP`] bytes), so a memory-mapped image need not stay resident.
    pub fn candidates_releasing(
        &self,
        data: &[u8],
        release: &dyn Fn(Range<usize>),
    ) -> Vec<Candidate> {
        let mut out = Vec::new();
        for shard in &self.shards {
            // Search window by window, so that released ranges are really behind us; a
            // window overlaps the next by the longest pattern, so no straddling hit is lost.
            let overlap = shard.longest.max(1);
            let mut pos = 0;
            let mut released = 0;
            while pos < data.len() {
                let window_end = pos.saturating_add(RELEASE_STEP).min(data.len());
                match shard.automaton.find(Input::new(data).span(pos..window_end)) {
                    Some(m) => {
                        let pattern = shard.patterns[m.pattern().as_usize()];
                        for &(format, magic_offset) in &self.owners[pattern] {
                            if let Some(start) = m.start().checked_sub(magic_offset) {
                                out.push(Candidate { start, format });
                            }
                        }
                        pos = m.start() + 1;
                    }
                    None if window_end == data.len() => break,
                    None => pos = (window_end + 1).saturating_sub(overlap).max(pos + 1),
                }
                if pos >= released + 2 * RELEASE_STEP {
                    release(released..pos - RELEASE_STEP);
                    released = pos - RELEASE_STEP;
                }
            }
            release(released..data.len());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Shannon entropy of `data` in bits per byte (0 for empty input).
pub fn entropy(data: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    entropy_of_counts(&counts)
}

/// Shannon entropy in bits per byte from a byte histogram.
pub fn entropy_of_counts(counts: &[u64; 256]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let n = total as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Magic, Probe, UnpackContext, Unpacked};
    use crate::{Blob, FormatError};

    struct Fake(&'static [Magic]);
    impl Format for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn magics(&self) -> &'static [Magic] {
            self.0
        }
        fn probe(&self, _: &[u8]) -> Option<Probe> {
            None
        }
        fn unpack(&self, _: &Blob, _: &UnpackContext) -> Result<Unpacked, FormatError> {
            Err(FormatError::Unsupported("fake".into()))
        }
    }

    static A: Fake = Fake(&[Magic::at_start(b"ABAB")]);
    static B: Fake = Fake(&[Magic::at(b"BA", 1)]);

    #[test]
    fn finds_overlapping_hits_and_applies_magic_offset() {
        let s = MagicScanner::new(&[&A, &B]);
        let c = s.candidates(b"xABABAB");
        // ABAB at 1 and 3; BA at 2, 4 (starts 1, 3)
        assert_eq!(
            c,
            vec![
                Candidate {
                    start: 1,
                    format: 0
                },
                Candidate {
                    start: 1,
                    format: 1
                },
                Candidate {
                    start: 3,
                    format: 0
                },
                Candidate {
                    start: 3,
                    format: 1
                },
            ]
        );
    }

    static C: Fake = Fake(&[Magic::at_start(b"AB")]);

    #[test]
    fn shorter_magic_that_prefixes_a_longer_one_is_still_found() {
        let s = MagicScanner::new(&[&A, &C]);
        let c = s.candidates(b"ABAB");
        assert_eq!(
            c,
            vec![
                Candidate {
                    start: 0,
                    format: 0
                },
                Candidate {
                    start: 0,
                    format: 1
                },
                Candidate {
                    start: 2,
                    format: 1
                },
            ]
        );
    }

    #[test]
    fn magic_before_its_offset_is_ignored() {
        let s = MagicScanner::new(&[&B]);
        assert!(s.candidates(b"BAxx").is_empty());
    }

    #[test]
    fn entropy_bounds() {
        assert_eq!(entropy(&[0u8; 100]), 0.0);
        let all: Vec<u8> = (0..=255).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-9);
    }
}
