//! Where a detector puts its findings: the caps of [`cap_findings`](crate::cap_findings)
//! applied while the findings arrive, so that one file with millions of matches never holds
//! millions of [`Finding`] values in memory.
//!
//! The caps keep, per rule, the first findings in canonical order ([`sort_findings`]) among
//! those that are within the first [`MAX_FINDINGS_PER_RULE_AND_NODE`] of their node. Whether a
//! finding is kept only gets harder as more arrive (a finding that is not among the first *n*
//! now never will be), so capping what has arrived every so often, and once more at the end,
//! keeps exactly the findings and counts one cap over everything would.

use crate::{
    detectors, sort_findings, Analysis, MAX_FINDINGS_PER_RULE, MAX_FINDINGS_PER_RULE_AND_NODE,
};
use assay_model::{Finding, NodeId, Severity};
use std::collections::{BTreeMap, HashMap};

/// Findings held before the held ones are capped again (then at least twice what was kept).
const COMPACT_AT: usize = 16_384;

/// What the caps left out of one rule.
#[derive(Debug)]
struct Dropped {
    count: usize,
    worst: Severity,
    by_node: BTreeMap<NodeId, usize>,
}

/// The findings of one detector run, capped as they arrive (see the module doc).
#[derive(Debug)]
pub struct FindingSink {
    held: Vec<Finding>,
    dropped: BTreeMap<String, Dropped>,
    compact_at: usize,
}

impl Default for FindingSink {
    fn default() -> Self {
        FindingSink::new()
    }
}

impl FindingSink {
    /// An empty sink.
    pub fn new() -> Self {
        FindingSink {
            held: Vec::new(),
            dropped: BTreeMap::new(),
            compact_at: COMPACT_AT,
        }
    }

    /// Take one finding.
    pub fn push(&mut self, f: Finding) {
        self.held.push(f);
        if self.held.len() >= self.compact_at {
            self.compact();
        }
    }

    /// Take every finding of `found`.
    pub fn extend<I: IntoIterator<Item = Finding>>(&mut self, found: I) {
        for f in found {
            self.push(f);
        }
    }

    /// Take the findings of another sink, and what its caps counted out.
    pub fn append(&mut self, other: FindingSink) {
        for (rule, d) in other.dropped {
            self.count_dropped(rule, d.worst, d.count, d.by_node);
        }
        self.extend(other.held);
    }

    /// The findings held now: everything pushed until the first cap, then the kept ones plus
    /// what came since, in no particular order.
    pub fn held(&self) -> &[Finding] {
        &self.held
    }

    /// The findings held now, to change in place (a detector demoting what it just found).
    pub fn held_mut(&mut self) -> &mut [Finding] {
        &mut self.held
    }

    /// Findings the caps counted out so far.
    pub fn dropped(&self) -> usize {
        self.dropped.values().map(|d| d.count).sum()
    }

    fn count_dropped(
        &mut self,
        rule: String,
        worst: Severity,
        count: usize,
        by_node: BTreeMap<NodeId, usize>,
    ) {
        let d = self.dropped.entry(rule).or_insert(Dropped {
            count: 0,
            worst,
            by_node: BTreeMap::new(),
        });
        d.count += count;
        d.worst = d.worst.max(worst);
        for (n, c) in by_node {
            *d.by_node.entry(n).or_insert(0) += c;
        }
    }

    /// Cap what is held now, counting what the caps leave out.
    fn compact(&mut self) {
        let mut held = std::mem::take(&mut self.held);
        sort_findings(&mut held);
        let mut per_rule: HashMap<String, usize> = HashMap::new();
        let mut per_node: HashMap<(String, NodeId), usize> = HashMap::new();
        let mut kept = Vec::with_capacity(held.len().min(MAX_FINDINGS_PER_RULE));
        for f in held {
            let in_rule = per_rule.entry(f.rule.clone()).or_insert(0);
            let in_node = per_node.entry((f.rule.clone(), f.node)).or_insert(0);
            if *in_rule < MAX_FINDINGS_PER_RULE && *in_node < MAX_FINDINGS_PER_RULE_AND_NODE {
                *in_rule += 1;
                *in_node += 1;
                kept.push(f);
                continue;
            }
            let by_node = BTreeMap::from([(f.node, 1)]);
            self.count_dropped(f.rule, f.severity, 1, by_node);
        }
        self.compact_at = (kept.len() * 2).max(COMPACT_AT);
        self.held = kept;
    }

    /// The capped findings in canonical order, with one `ASSAY-EVASION-002` finding for every
    /// rule that lost some, counting them, on the node that lost most.
    pub fn finish(mut self, analysis: &Analysis) -> Vec<Finding> {
        self.compact();
        let mut kept = self.held;
        for (rule, d) in self.dropped {
            // The node that lost most (the lowest id among equals).
            let (node, here) =
                d.by_node.iter().fold(
                    (0, 0),
                    |best, (&n, &c)| if c > best.1 { (n, c) } else { best },
                );
            let mut f = analysis.finding(
                &detectors::completeness::FINDINGS_CAPPED,
                node,
                0..0,
                format!(
                    "{} more findings of {rule} not listed ({here} of them in this file; at most \
                     {MAX_FINDINGS_PER_RULE_AND_NODE} a file and {MAX_FINDINGS_PER_RULE} an image are)",
                    d.count
                ),
            );
            f.severity = d.worst;
            f.context.insert("rule".into(), rule);
            f.context.insert("not_listed".into(), d.count.to_string());
            f.context
                .insert("files".into(), d.by_node.len().to_string());
            kept.push(f);
        }
        sort_findings(&mut kept);
        kept
    }
}

impl std::ops::Deref for FindingSink {
    type Target = [Finding];
    fn deref(&self) -> &[Finding] {
        &self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry};

    #[test]
    fn capping_as_findings_arrive_keeps_what_one_cap_at_the_end_would() {
        let names: Vec<String> = (0..40).map(|i| format!("/f{i}")).collect();
        let entries: Vec<TestEntry> = names
            .iter()
            .map(|n| TestEntry::File(n, b"x", 0o644))
            .collect();
        let t = tree(&entries);
        let a = Analysis::new(&t);
        let rule = &detectors::completeness::FINDINGS_CAPPED;
        // 60,000 findings of two rules over 40 files, severities scattered, in an order that
        // is not the canonical one: the sink caps several times on the way.
        let mut all = Vec::new();
        let mut x = 12345u32;
        for i in 0..60_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let mut f = a.finding(rule, 2 + (x >> 8) % 40, 0..1, format!("hit {i}"));
            f.rule = if i % 3 == 0 { "ASSAY-T-1" } else { "ASSAY-T-2" }.into();
            f.severity = [Severity::Low, Severity::Medium, Severity::High][(x >> 20) as usize % 3];
            all.push(f);
        }
        let mut sink = FindingSink::new();
        let mut peak = 0;
        for f in all.clone() {
            sink.push(f);
            peak = peak.max(sink.held().len());
        }
        assert!(peak < 2 * COMPACT_AT + 2 * MAX_FINDINGS_PER_RULE, "{peak}");
        let streamed = sink.finish(&a);

        // The reference: sort everything, then keep in order within both caps.
        sort_findings(&mut all);
        let mut per_rule: HashMap<String, usize> = HashMap::new();
        let mut per_node: HashMap<(String, NodeId), usize> = HashMap::new();
        let mut kept = Vec::new();
        let mut dropped: BTreeMap<String, usize> = BTreeMap::new();
        for f in all {
            let r = per_rule.entry(f.rule.clone()).or_insert(0);
            let n = per_node.entry((f.rule.clone(), f.node)).or_insert(0);
            if *r < MAX_FINDINGS_PER_RULE && *n < MAX_FINDINGS_PER_RULE_AND_NODE {
                *r += 1;
                *n += 1;
                kept.push(f);
            } else {
                *dropped.entry(f.rule.clone()).or_insert(0) += 1;
            }
        }
        let listed: Vec<&Finding> = streamed.iter().filter(|f| f.rule != rule.id).collect();
        assert_eq!(listed.len(), kept.len());
        assert!(listed.iter().zip(&kept).all(|(a, b)| *a == b));
        let summaries: BTreeMap<String, usize> = streamed
            .iter()
            .filter(|f| f.rule == rule.id)
            .map(|f| {
                (
                    f.context["rule"].clone(),
                    f.context["not_listed"].parse().unwrap(),
                )
            })
            .collect();
        assert_eq!(summaries, dropped);
    }
}
