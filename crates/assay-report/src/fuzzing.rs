//! The text outputs under fuzzing: whatever an image or a report holds, the terminal summary
//! and the text diff carry no character a terminal would act on ([`is_terminal_safe`]).
//!
//! [`fuzz_text`] takes arbitrary bytes two ways: as a report (a crafted one, as `verify` and
//! `diff` read them), and as the text of every name, path, title, evidence, detail and warning
//! of a small report, the places an image's strings reach. It panics when an output breaks the
//! invariant. The fuzz crate's `text` target calls it; the tests below run it on fixed inputs.

use crate::{diff, text};
use assay_model::terminal::is_terminal_safe;
use assay_model::{
    ByteRange, Category, Confidence, Finding, ImageInfo, Node, NodeKind, Report, Severity, Warning,
    WarningKind, REPORT_SCHEMA,
};
use std::collections::BTreeMap;

/// Check the invariant on `data` as a report and as the strings of one (see the module).
pub fn fuzz_text(data: &[u8]) {
    if let Ok(report) = serde_json::from_slice::<Report>(data) {
        check(&report);
    }
    check(&report_of_strings(data));
}

/// Panic unless the summary of `report` and its diffs against a near-empty report are safe.
pub fn check(report: &Report) {
    let summary = text::summary(report);
    assert!(is_terminal_safe(&summary), "summary: {summary:?}");
    let mut bare = report.clone();
    bare.nodes.truncate(1);
    bare.findings.clear();
    bare.components.clear();
    bare.warnings.clear();
    for d in [diff::diff(&bare, report), diff::diff(report, &bare)] {
        let shown = diff::to_text(&d);
        assert!(is_terminal_safe(&shown), "diff: {shown:?}");
    }
}

/// A report whose every free-text field is a piece of `data` (lossy UTF-8, split at `|`).
fn report_of_strings(data: &[u8]) -> Report {
    let text = String::from_utf8_lossy(data);
    let mut pieces = text.split('|').cycle();
    let mut next = || pieces.next().unwrap_or_default().to_string();
    let image = ImageInfo {
        name: next(),
        size: data.len() as u64,
        sha256: next(),
    };
    let mut root = Node::new(0, None, NodeKind::Image, next());
    root.location = image.name.clone();
    let mut container = Node::new(1, Some(0), NodeKind::Container, next());
    container.format = Some(next());
    container.offset = Some(0);
    container.location = next();
    container.details.insert("description".into(), next());
    container.details.insert(next(), next());
    let mut file = Node::new(2, Some(1), NodeKind::File, next());
    file.location = next();
    file.link_target = Some(next());
    file.sha256 = Some(next());
    let mut stream = Node::new(3, Some(1), NodeKind::Stream, next());
    stream.location = next();
    let finding = Finding {
        rule: next(),
        category: Category::Account,
        severity: Severity::Critical,
        confidence: Confidence::High,
        title: next(),
        path: next(),
        location: next(),
        node: 2,
        range: ByteRange { start: 0, end: 1 },
        evidence: next(),
        sha256: next(),
        context: BTreeMap::from([(next(), next())]),
    };
    let warning = Warning {
        node: Some(1),
        location: next(),
        kind: WarningKind::Corrupt,
        message: next(),
    };
    Report {
        schema: REPORT_SCHEMA.to_string(),
        tool_version: next(),
        image,
        nodes: vec![root, container, file, stream],
        components: Vec::new(),
        findings: vec![finding],
        vulnerabilities: Vec::new(),
        listeners: Vec::new(),
        warnings: vec![warning],
        as_of: Some(next()),
        stats: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_leave_the_text_outputs_safe() {
        let mut every_control: Vec<u8> = (0u8..0x20).chain([0x7f]).collect();
        every_control.extend("\u{85}\u{9b}\u{202e}\u{2066}\u{200b}\u{feff}\u{e0041}".as_bytes());
        for data in [
            &b"\x1b[2J\x1b[H|verified: every file\r\n|\x9b2J|\xff\xfe|a\x07b"[..],
            &every_control,
            b"",
            b"{\"schema\":\"assay.report/1\"}",
        ] {
            fuzz_text(data);
        }
    }

    #[test]
    fn crafted_reports_leave_the_text_outputs_safe() {
        let mut report = crate::testdata::sample_report();
        for n in &mut report.nodes {
            n.path.push_str("\u{1b}]0;t\u{7}\n\u{202e}");
            n.format = n.format.as_ref().map(|f| format!("{f}\u{9b}2J"));
        }
        for f in &mut report.findings {
            f.title.push_str("\r\u{1b}[1Averified: every file");
        }
        fuzz_text(serde_json::to_string(&report).unwrap().as_bytes());
    }
}
