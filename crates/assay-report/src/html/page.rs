//! The page model the template renders (every string is escaped by the template): the verdict,
//! counts, findings by severity, the container tree, components, warnings and the image map.

use super::chart::{entropy_chart, EntropyChart};
use super::tree::{container_tree, TreeItem};
use super::words::{confidence_label, headline, human_size, plural, severity_label};
use super::EntropyProfile;
use crate::{RuleDoc, SEVERITIES_WORST_FIRST};
use assay_model::{Finding, NodeKind, Report, Severity, WarningKind};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// How many of the most serious findings the first screen lists by title.
const FIRST_SCREEN_FINDINGS: usize = 8;

/// Everything the template shows.
#[derive(Serialize)]
pub(super) struct Page {
    image_name: String,
    image_size: String,
    image_bytes: u64,
    image_sha256: String,
    tool_version: String,
    report_schema: String,
    verdict_class: &'static str,
    verdict_label: &'static str,
    headline: String,
    notes: Vec<String>,
    counts: Vec<SeverityCount>,
    top_findings: Vec<TopFinding>,
    more_serious: usize,
    finding_total: usize,
    groups: Vec<FindingGroup>,
    tree: Vec<TreeItem>,
    node_total: usize,
    file_total: usize,
    components: Vec<ComponentRow>,
    warnings: Vec<WarningRow>,
    chart: Option<EntropyChart>,
    listeners: Vec<ListenerRow>,
}

/// One row of the exposure table.
#[derive(Serialize)]
struct ListenerRow {
    path: String,
    architecture: String,
    protocols: String,
    ports: String,
    status: String,
    started: bool,
}

#[derive(Serialize)]
struct SeverityCount {
    pub(super) class: &'static str,
    pub(super) label: &'static str,
    pub(super) count: usize,
}

#[derive(Serialize)]
struct TopFinding {
    anchor: String,
    pub(super) class: &'static str,
    pub(super) label: &'static str,
    pub(super) title: String,
    pub(super) path: String,
}

#[derive(Serialize)]
struct FindingGroup {
    pub(super) class: &'static str,
    pub(super) label: &'static str,
    pub(super) findings: Vec<FindingCard>,
}

#[derive(Serialize)]
struct FindingCard {
    anchor: String,
    pub(super) class: &'static str,
    pub(super) label: &'static str,
    pub(super) title: String,
    rule: String,
    rule_title: String,
    rule_description: String,
    pub(super) category: &'static str,
    confidence: &'static str,
    pub(super) path: String,
    pub(super) chain: Vec<String>,
    range: String,
    evidence: String,
    sha256: String,
    context: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ComponentRow {
    pub(super) name: String,
    version: String,
    purl: String,
    cpe: String,
    confidence: &'static str,
    paths: Vec<String>,
}

#[derive(Serialize)]
struct WarningRow {
    pub(super) kind: &'static str,
    pub(super) location: String,
    pub(super) message: String,
}

pub(super) fn build_page(report: &Report, rules: &[RuleDoc], entropy: &EntropyProfile) -> Page {
    let docs: HashMap<&str, &RuleDoc> = rules.iter().map(|r| (r.id, r)).collect();
    let worst = report.findings.iter().map(|f| f.severity).max();
    let (verdict_class, verdict_label) = match worst {
        Some(Severity::Critical) => ("critical", "Critical risk"),
        Some(Severity::High) => ("high", "High risk"),
        Some(Severity::Medium) => ("medium", "Medium risk"),
        Some(Severity::Low) => ("low", "Low risk"),
        Some(Severity::Info) => ("info", "Informational findings only"),
        None => ("clean", "No findings"),
    };
    let file_total = report
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .count();
    let mut notes = Vec::new();
    if !report.findings.is_empty() {
        let files: BTreeSet<_> = report.findings.iter().map(|f| f.node).collect();
        notes.push(format!(
            "{} {} in total, in {} of the image's {} files. Each one names the file, the \
             bytes it rests on and their SHA-256, so it can be checked independently.",
            report.findings.len(),
            plural(report.findings.len(), "finding", "findings"),
            files.len(),
            file_total
        ));
    }
    // The missing vulnerability database is about the run, not about the image's contents.
    let unpack_warnings = report
        .warnings
        .iter()
        .filter(|w| w.kind != WarningKind::Vulndb)
        .count();
    if unpack_warnings > 0 {
        notes.push(format!(
            "Assay reported {} {} about parts it could not fully unpack or analyse; anything \
             inside them was not examined (see Warnings).",
            unpack_warnings,
            plural(unpack_warnings, "warning", "warnings")
        ));
    }
    if report
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::Vulndb)
    {
        notes.push(
            "No vulnerability database was given, so components were not matched against \
             known vulnerabilities (see Warnings)."
                .to_string(),
        );
    }
    let counts = SEVERITIES_WORST_FIRST
        .iter()
        .map(|&s| SeverityCount {
            class: s.as_str(),
            label: severity_label(s),
            count: report.findings.iter().filter(|f| f.severity == s).count(),
        })
        .collect();
    // Findings arrive most severe first; anchors follow report order.
    let anchor = |i: usize| format!("finding-{}", i + 1);
    let serious: Vec<(usize, &Finding)> = report
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.severity >= Severity::High)
        .collect();
    let top_findings = serious
        .iter()
        .take(FIRST_SCREEN_FINDINGS)
        .map(|(i, f)| TopFinding {
            anchor: anchor(*i),
            class: f.severity.as_str(),
            label: severity_label(f.severity),
            title: f.title.clone(),
            path: f.path.clone(),
        })
        .collect();
    let groups = SEVERITIES_WORST_FIRST
        .iter()
        .filter_map(|&s| {
            let findings: Vec<FindingCard> = report
                .findings
                .iter()
                .enumerate()
                .filter(|(_, f)| f.severity == s)
                .map(|(i, f)| finding_card(anchor(i), f, docs.get(f.rule.as_str()).copied()))
                .collect();
            (!findings.is_empty()).then(|| FindingGroup {
                class: s.as_str(),
                label: severity_label(s),
                findings,
            })
        })
        .collect();
    Page {
        image_name: report.image.name.clone(),
        image_size: human_size(report.image.size),
        image_bytes: report.image.size,
        image_sha256: report.image.sha256.clone(),
        tool_version: report.tool_version.clone(),
        report_schema: report.schema.clone(),
        verdict_class,
        verdict_label,
        headline: headline(report),
        notes,
        counts,
        top_findings,
        more_serious: serious.len().saturating_sub(FIRST_SCREEN_FINDINGS),
        finding_total: report.findings.len(),
        groups,
        tree: container_tree(report),
        node_total: report.nodes.len(),
        file_total,
        components: report
            .components
            .iter()
            .map(|c| ComponentRow {
                name: c.name.clone(),
                version: c.version.clone(),
                purl: c.purl.clone(),
                cpe: c.cpe.clone().unwrap_or_default(),
                confidence: confidence_label(c.confidence),
                paths: c.evidence.iter().map(|e| e.path.clone()).collect(),
            })
            .collect(),
        warnings: report
            .warnings
            .iter()
            .map(|w| WarningRow {
                kind: w.kind.as_str(),
                location: w.location.clone(),
                message: w.message.clone(),
            })
            .collect(),
        chart: entropy_chart(report, entropy),
        listeners: report
            .listeners
            .iter()
            .map(|l| ListenerRow {
                path: l.path.clone(),
                architecture: l.architecture.clone(),
                protocols: l.protocols.join(", "),
                ports: crate::text::listener_ports(l),
                status: crate::text::listener_status(l),
                started: l.started,
            })
            .collect(),
    }
}

fn finding_card(anchor: String, f: &Finding, doc: Option<&RuleDoc>) -> FindingCard {
    FindingCard {
        anchor,
        class: f.severity.as_str(),
        label: severity_label(f.severity),
        title: f.title.clone(),
        rule: f.rule.clone(),
        rule_title: doc.map(|d| d.title.to_string()).unwrap_or_default(),
        rule_description: doc.map(|d| d.description.to_string()).unwrap_or_default(),
        category: f.category.as_str(),
        confidence: confidence_label(f.confidence),
        path: f.path.clone(),
        chain: f.location.split(" ▸ ").map(str::to_string).collect(),
        range: format!(
            "{:#x}–{:#x} ({} {})",
            f.range.start,
            f.range.end,
            f.range.end.saturating_sub(f.range.start),
            plural(
                f.range.end.saturating_sub(f.range.start) as usize,
                "byte",
                "bytes"
            )
        ),
        evidence: f.evidence.clone(),
        sha256: f.sha256.clone(),
        context: f
            .context
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}
