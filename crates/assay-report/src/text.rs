//! The terminal summary: the container outline with file counts, unknown regions, warnings,
//! the programs that listen, and findings by severity, within a severity what the network
//! reaches first, grouped by rule with counts so that one line of telnet is not buried under
//! forty lines of hardening.

use assay_model::terminal::TerminalText;
use assay_model::{Category, Finding, Listener, NodeKind, Report, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// How many findings of one rule the summary lists before it folds the rest into a count.
pub const SHOWN_PER_RULE: usize = 3;

/// Render the human summary of a report, each rule's findings folded after
/// [`SHOWN_PER_RULE`].
pub fn summary(report: &Report) -> String {
    summary_with(report, false)
}

/// Render the human summary of a report; `all` lists every finding instead of folding. Every
/// line is escaped whole as it is written ([`TerminalText`]): names, titles and warnings come
/// from the image, and none of them can start a line of its own or send a control character
/// to the terminal.
pub fn summary_with(report: &Report, all: bool) -> String {
    let mut out = TerminalText::new();
    let img = &report.image;
    out.line(format_args!(
        "{}  {} bytes  sha256 {}",
        img.name, img.size, img.sha256
    ));
    // Depth of each node and file counts per container; a parent that is not listed before
    // its child (a hand-made report) counts as the root.
    let n = report.nodes.len();
    let mut depth = vec![0usize; n];
    let mut files = vec![0usize; n];
    for (i, node) in report.nodes.iter().enumerate() {
        if let Some(p) = node.parent.map(|p| p as usize).filter(|&p| p < i) {
            depth[i] = depth[p] + 1;
            if node.kind == NodeKind::File {
                files[p] += 1;
            }
        }
    }
    out.blank();
    out.line(format_args!("Contents:"));
    let with_container_child = nodes_with_container_child(report);
    for (i, node) in report.nodes.iter().enumerate() {
        let indent = "  ".repeat(depth[i]);
        match node.kind {
            NodeKind::Container => {
                let desc = node
                    .details
                    .get("description")
                    .map(|d| format!("  {d}"))
                    .unwrap_or_default();
                let count = files[i];
                let count = if count > 0 {
                    format!(", {count} files")
                } else {
                    String::new()
                };
                out.line(format_args!(
                    "{indent}{} @ {:#x}  ({} bytes{count}){desc}",
                    node.format.as_deref().unwrap_or("?"),
                    node.offset.unwrap_or(0),
                    node.size
                ));
            }
            NodeKind::Stream => {
                out.line(format_args!("{indent}{}  ({} bytes)", node.path, node.size));
            }
            NodeKind::Unknown => {
                let pad = node
                    .details
                    .get("padding")
                    .map(|p| format!(", padding {p}"))
                    .unwrap_or_default();
                out.line(format_args!(
                    "{indent}unknown @ {:#x}  ({} bytes, entropy {:.2}{pad})",
                    node.offset.unwrap_or(0),
                    node.size,
                    node.entropy.unwrap_or(0.0)
                ));
            }
            NodeKind::File if node.duplicate_of.is_none() && with_container_child[i] => {
                out.line(format_args!("{indent}{}  ({} bytes)", node.path, node.size));
            }
            _ => {}
        }
    }
    let total_files = report
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .count();
    out.blank();
    out.line(format_args!(
        "{} nodes, {total_files} files",
        report.nodes.len()
    ));
    if !report.listeners.is_empty() {
        out.blank();
        out.line(format_args!(
            "Listening ({} programs):",
            report.listeners.len()
        ));
        for l in &report.listeners {
            out.line(format_args!("  {}  {}", l.path, listener_ports(l)));
            out.line(format_args!("      {}", listener_status(l)));
        }
    }
    if !report.findings.is_empty() {
        out.blank();
        out.line(format_args!("Findings:"));
        write_findings(&mut out, report, all);
    }
    if !report.components.is_empty() {
        out.blank();
        out.line(format_args!("Components:"));
        for c in &report.components {
            out.line(format_args!(
                "  {} {}  ({} places)",
                c.name,
                c.version,
                c.evidence.len()
            ));
        }
    }
    if !report.warnings.is_empty() {
        out.blank();
        out.line(format_args!("Warnings ({}):", report.warnings.len()));
        for w in &report.warnings {
            out.line(format_args!("  [{}] {}: {}", w.kind, w.location, w.message));
        }
    }
    out.into_string()
}

/// Where a category stands in the triage order: an incomplete analysis first, then ways in that the network reaches (backdoors,
/// remote access, accounts and credentials) before keys, endpoints, secrets and hardening.
pub fn exposure_rank(c: Category) -> u8 {
    match c {
        // An image the analysis could not finish is the first thing an analyst must know.
        Category::Evasion => 0,
        Category::Backdoor => 1,
        Category::RemoteAccess => 2,
        Category::Account => 3,
        Category::Credential => 4,
        Category::PrivateKey => 5,
        Category::Endpoint => 6,
        Category::Secret => 7,
        Category::Config => 8,
        Category::VulnerableComponent => 9,
        Category::Hardening => 10,
    }
}

/// Findings grouped for triage: by severity, then exposure rank, then rule; within a rule
/// those in programs that listen (started ones first) before the rest. Each group is the rule
/// and its findings in that order.
pub fn triage_groups(report: &Report) -> Vec<(Severity, &str, Vec<&Finding>)> {
    let listening: BTreeMap<&str, bool> = report
        .listeners
        .iter()
        .map(|l| (l.location.as_str(), l.started))
        .collect();
    let reach = |f: &Finding| match listening.get(f.location.as_str()) {
        Some(true) => 0,
        Some(false) => 1,
        None => 2,
    };
    let mut groups: BTreeMap<(std::cmp::Reverse<Severity>, u8, &str), Vec<&Finding>> =
        BTreeMap::new();
    for f in &report.findings {
        groups
            .entry((
                std::cmp::Reverse(f.severity),
                exposure_rank(f.category),
                f.rule.as_str(),
            ))
            .or_default()
            .push(f);
    }
    groups
        .into_iter()
        .map(|((sev, _, rule), mut v)| {
            v.sort_by_key(|f| reach(f));
            (sev.0, rule, v)
        })
        .collect()
}

fn write_findings(out: &mut TerminalText, report: &Report, all: bool) {
    let groups = triage_groups(report);
    let severities: BTreeSet<std::cmp::Reverse<Severity>> =
        groups.iter().map(|g| std::cmp::Reverse(g.0)).collect();
    let mut folded = 0usize;
    for sev in severities {
        let in_sev: Vec<_> = groups.iter().filter(|g| g.0 == sev.0).collect();
        let count: usize = in_sev.iter().map(|g| g.2.len()).sum();
        let rules = in_sev.len();
        out.line(format_args!(
            "  {} ({count}, {rules} rule{}):",
            sev.0.as_str().to_uppercase(),
            if rules == 1 { "" } else { "s" }
        ));
        for (_, rule, findings) in in_sev {
            let shown = if all { findings.len() } else { SHOWN_PER_RULE };
            if findings.len() > 1 {
                out.line(format_args!("    [{rule}] {} findings", findings.len()));
            }
            for f in findings.iter().take(shown) {
                out.line(format_args!("    [{}] {}", f.rule, f.title));
                out.line(format_args!(
                    "        at {}  bytes {}..{}",
                    f.location, f.range.start, f.range.end
                ));
            }
            if findings.len() > shown {
                let more = findings.len() - shown;
                folded += more;
                out.line(format_args!("    … {more} more [{rule}]"));
            }
        }
    }
    if folded > 0 {
        out.line(format_args!(
            "  ({folded} findings folded; --all lists every one, --format json or html has all)"
        ));
    }
}

/// The ports of a listener in one line: `TCP 7547 any (code), TCP 2323 (command-line)`, or
/// its protocols when no port is known.
pub fn listener_ports(l: &Listener) -> String {
    if l.ports.is_empty() {
        let p = if l.protocols.is_empty() {
            "protocol unknown".to_string()
        } else {
            l.protocols.join("/")
        };
        return format!("{p}, port not recovered");
    }
    l.ports
        .iter()
        .map(|p| {
            let proto = p.protocol.as_deref().unwrap_or("port").to_uppercase();
            let addr = p
                .address
                .as_deref()
                .map(|a| format!(" {a}"))
                .unwrap_or_default();
            format!("{proto} {}{addr} ({})", p.port, p.source)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether and how a listener is started, and its setuid and linking facts, in one line.
pub fn listener_status(l: &Listener) -> String {
    let mut parts = Vec::new();
    if l.started {
        let by: Vec<String> = l
            .starts
            .iter()
            .map(|s| {
                let user = s
                    .user
                    .as_deref()
                    .map(|u| format!(" as {u}"))
                    .unwrap_or_default();
                format!("{} line {} ({}{user})", s.started_by, s.line, s.trigger)
            })
            .collect();
        parts.push(format!("started by {}", by.join("; ")));
    } else {
        parts.push("NOT started by any boot script".to_string());
    }
    if l.setuid {
        parts.push("setuid".into());
    }
    if l.statically_linked {
        parts.push("statically linked".into());
    }
    parts.join(", ")
}

/// For each node, whether one of its children is a container (a file that holds a filesystem
/// is listed in the outline). One pass over the nodes.
fn nodes_with_container_child(report: &Report) -> Vec<bool> {
    let mut has = vec![false; report.nodes.len()];
    for node in &report.nodes {
        if node.kind == NodeKind::Container {
            if let Some(flag) = node.parent.and_then(|p| has.get_mut(p as usize)) {
                *flag = true;
            }
        }
    }
    has
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_grouped_by_rule_exposure_first_and_folded() {
        let mut report = crate::testdata::sample_report();
        let template = report.findings[0].clone();
        report.findings.clear();
        let mut add = |rule: &str, category, severity, n: usize| {
            for i in 0..n {
                let mut f = template.clone();
                f.rule = rule.into();
                f.category = category;
                f.severity = severity;
                f.title = format!("{rule} number {i}");
                report.findings.push(f);
            }
        };
        add(
            "ASSAY-HARDEN-001",
            Category::Hardening,
            Severity::Medium,
            45,
        );
        add(
            "ASSAY-ENDPOINT-002",
            Category::Endpoint,
            Severity::Medium,
            2,
        );
        add(
            "ASSAY-REMOTE-001",
            Category::RemoteAccess,
            Severity::Medium,
            1,
        );
        let text = summary(&report);
        assert!(text.contains("  MEDIUM (48, 3 rules):"), "{text}");
        let telnet = text.find("ASSAY-REMOTE-001 number 0").expect("telnet");
        let endpoint = text
            .find("[ASSAY-ENDPOINT-002] 2 findings")
            .expect("endpoints");
        let hardening = text
            .find("[ASSAY-HARDEN-001] 45 findings")
            .expect("hardening");
        assert!(telnet < endpoint && endpoint < hardening, "{text}");
        assert!(text.contains("ASSAY-HARDEN-001 number 2"));
        assert!(!text.contains("ASSAY-HARDEN-001 number 3"));
        assert!(text.contains("… 42 more [ASSAY-HARDEN-001]"));
        assert!(text.contains("42 findings folded; --all lists every one"));
        let every = summary_with(&report, true);
        assert!(every.contains("ASSAY-HARDEN-001 number 44"));
        assert!(!every.contains("folded"));
    }

    #[test]
    fn listeners_are_listed_before_the_findings() {
        let report = crate::testdata::sample_report();
        let text = summary(&report);
        let listening = text
            .find("Listening (1 programs):")
            .expect("listening section");
        let findings = text.find("Findings:").expect("findings");
        assert!(listening < findings);
        assert!(text.contains("/usr/sbin/telnetd  TCP 2323 any (command-line)"));
        assert!(text.contains("started by /etc/init.d/rcS line 3 (boot as root)"));
        let mut l = report.listeners[0].clone();
        l.started = false;
        l.starts.clear();
        l.setuid = true;
        l.ports.clear();
        assert_eq!(
            listener_status(&l),
            "NOT started by any boot script, setuid"
        );
        assert_eq!(listener_ports(&l), "tcp, port not recovered");
    }
}
