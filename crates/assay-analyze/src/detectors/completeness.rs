//! Whether the analysis saw the whole image. A vendor who hides something can put a trap in
//! front of it (a decompression bomb, a sparse hole, a million entries) so that a limit stops
//! the unpacking before the hidden part is reached, or bury one real finding under a million
//! decoys. Neither may make an incomplete answer look clean: every image on which a limit
//! fired gets a high-severity finding saying how many bytes were left behind it and where,
//! and findings cut by the caps (see [`crate::cap_findings`]) are counted in one finding per
//! rule.

use crate::{Analysis, Detector, Rule};
use assay_model::{Category, NodeId, Severity, WarningKind};
use std::collections::BTreeSet;

/// The completeness detector.
pub struct Completeness;

/// Bytes the analysis did not examine because a limit stopped it.
pub const BEHIND_LIMIT: Rule = Rule {
    id: "ASSAY-EVASION-001",
    category: Category::Evasion,
    severity: Severity::High,
    title: "Analysis incomplete: bytes behind a limit",
    description: "A limit (decompressed bytes, entries, nesting, nodes) stopped the unpacking of \
        part of the image, so what lies behind it was not examined. Limits keep a hostile image \
        from exhausting the machine, and a vendor can use them to hide a backdoor behind a \
        decompression bomb or a sparse file; the image must not be taken as clean. The finding \
        names the places and sizes; the report's warnings of kind `limit` list each one.",
};

/// Findings left out by the per-file and per-rule caps.
pub const FINDINGS_CAPPED: Rule = Rule {
    id: "ASSAY-EVASION-002",
    category: Category::Evasion,
    severity: Severity::Medium,
    title: "More findings of one rule than the report lists",
    description: "A rule matched more often than the report lists (at most 100 findings of a \
        rule per file and 10,000 per image); the rest are counted in this finding, whose \
        severity is that of the worst one left out. A flood of findings can bury the one that \
        matters: look at the file named here.",
};

const RULES: &[Rule] = &[BEHIND_LIMIT, FINDINGS_CAPPED];

impl Detector for Completeness {
    fn name(&self) -> &'static str {
        "completeness"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        let unpacked = analysis.unpacked;
        let stopped: BTreeSet<NodeId> = unpacked
            .warnings
            .iter()
            .filter(|w| w.kind == WarningKind::Limit)
            .filter_map(|w| w.node)
            .collect();
        let Some(&first) = stopped.iter().next() else {
            return;
        };
        // A node counts once, and not at all when a node above it already counts (its
        // bytes are part of the ancestor's).
        let counted: Vec<NodeId> = stopped
            .iter()
            .copied()
            .filter(|&id| {
                let mut cur = analysis.node(id).parent;
                while let Some(p) = cur {
                    if stopped.contains(&p) {
                        return false;
                    }
                    cur = analysis.node(p).parent;
                }
                true
            })
            .collect();
        let bytes: u64 = counted
            .iter()
            .map(|&id| analysis.node(id).size)
            .fold(0u64, u64::saturating_add);
        let at = &analysis.node(first).location;
        let more = match stopped.len() {
            1 => String::new(),
            n => format!(" and {} more places", n - 1),
        };
        let mut f = analysis.finding(
            &BEHIND_LIMIT,
            first,
            0..0,
            format!("analysis incomplete: {bytes} bytes behind a limit at {at}{more}"),
        );
        f.context.insert("bytes".into(), bytes.to_string());
        f.context.insert("places".into(), stopped.len().to_string());
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry};
    use assay_model::Warning;

    #[test]
    fn a_limit_gives_a_high_finding_with_the_bytes_behind_it() {
        let mut t = tree(&[
            TestEntry::File("/bomb.gz", &[0u8; 300], 0o644),
            TestEntry::File("/etc/passwd", b"root::0:0::/:/bin/sh\n", 0o644),
        ]);
        let clean = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        Completeness.run(&clean, &mut out);
        assert!(out.is_empty(), "no limit, no finding: {out:?}");
        for (node, kind) in [
            (2, WarningKind::Limit),
            (2, WarningKind::Limit),
            (3, WarningKind::Truncated),
        ] {
            t.warnings.push(Warning {
                node: Some(node),
                location: t.nodes[node as usize].location.clone(),
                kind,
                message: "stopped".into(),
            });
        }
        let a = Analysis::new(&t);
        Completeness.run(&a, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].rule, BEHIND_LIMIT.id);
        assert_eq!(out[0].severity, Severity::High);
        assert_eq!(out[0].node, 2);
        assert!(
            out[0].title.contains("300 bytes behind a limit"),
            "{}",
            out[0].title
        );
    }
}
