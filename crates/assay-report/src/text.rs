//! The terminal summary: the container outline with file counts, unknown regions, warnings,
//! and findings grouped by severity.

use assay_model::terminal::TerminalText;
use assay_model::{Listener, NodeKind, Report};

/// Render the human summary of a report. Every line is escaped whole as it is written
/// ([`TerminalText`]): names, titles and warnings come from the image, and none of them can
/// start a line of its own or send a control character to the terminal.
pub fn summary(report: &Report) -> String {
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
        for sev in crate::SEVERITIES_WORST_FIRST {
            let group: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.severity == sev)
                .collect();
            if group.is_empty() {
                continue;
            }
            out.line(format_args!(
                "  {} ({}):",
                sev.as_str().to_uppercase(),
                group.len()
            ));
            for f in group {
                out.line(format_args!("    [{}] {}", f.rule, f.title));
                out.line(format_args!(
                    "        at {}  bytes {}..{}",
                    f.location, f.range.start, f.range.end
                ));
            }
        }
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
