//! The terminal summary: the container outline with file counts, unknown regions, warnings,
//! and findings grouped by severity.

use assay_model::{Listener, NodeKind, Report, Severity};
use std::fmt::Write;

/// Render the human summary of a report.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let img = &report.image;
    let _ = writeln!(
        out,
        "{}  {} bytes  sha256 {}",
        img.name, img.size, img.sha256
    );
    // Depth of each node and file counts per container.
    let n = report.nodes.len();
    let mut depth = vec![0usize; n];
    let mut files = vec![0usize; n];
    for node in &report.nodes {
        if let Some(p) = node.parent {
            depth[node.id as usize] = depth[p as usize] + 1;
            if node.kind == NodeKind::File {
                files[p as usize] += 1;
            }
        }
    }
    let _ = writeln!(out, "\nContents:");
    for node in &report.nodes {
        let d = depth[node.id as usize];
        let indent = "  ".repeat(d);
        match node.kind {
            NodeKind::Container => {
                let desc = node
                    .details
                    .get("description")
                    .map(|d| format!("  {d}"))
                    .unwrap_or_default();
                let count = files[node.id as usize];
                let count = if count > 0 {
                    format!(", {count} files")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "{indent}{} @ {:#x}  ({} bytes{count}){desc}",
                    node.format.as_deref().unwrap_or("?"),
                    node.offset.unwrap_or(0),
                    node.size
                );
            }
            NodeKind::Stream => {
                let _ = writeln!(out, "{indent}{}  ({} bytes)", node.path, node.size);
            }
            NodeKind::Unknown => {
                let pad = node
                    .details
                    .get("padding")
                    .map(|p| format!(", padding {p}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{indent}unknown @ {:#x}  ({} bytes, entropy {:.2}{pad})",
                    node.offset.unwrap_or(0),
                    node.size,
                    node.entropy.unwrap_or(0.0)
                );
            }
            NodeKind::File
                if node.duplicate_of.is_none() && has_container_child(report, node.id) =>
            {
                let _ = writeln!(out, "{indent}{}  ({} bytes)", node.path, node.size);
            }
            _ => {}
        }
    }
    let total_files = report
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .count();
    let _ = writeln!(out, "\n{} nodes, {total_files} files", report.nodes.len());
    if !report.listeners.is_empty() {
        let _ = writeln!(out, "\nListening ({} programs):", report.listeners.len());
        for l in &report.listeners {
            let _ = writeln!(out, "  {}  {}", l.path, listener_ports(l));
            let _ = writeln!(out, "      {}", listener_status(l));
        }
    }
    if !report.findings.is_empty() {
        let _ = writeln!(out, "\nFindings:");
        for sev in [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Info,
        ] {
            let group: Vec<_> = report
                .findings
                .iter()
                .filter(|f| f.severity == sev)
                .collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {} ({}):", sev.as_str().to_uppercase(), group.len());
            for f in group {
                let _ = writeln!(out, "    [{}] {}", f.rule, f.title);
                let _ = writeln!(
                    out,
                    "        at {}  bytes {}..{}",
                    f.location, f.range.start, f.range.end
                );
            }
        }
    }
    if !report.components.is_empty() {
        let _ = writeln!(out, "\nComponents:");
        for c in &report.components {
            let _ = writeln!(
                out,
                "  {} {}  ({} places)",
                c.name,
                c.version,
                c.evidence.len()
            );
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings ({}):", report.warnings.len());
        for w in &report.warnings {
            let _ = writeln!(out, "  [{}] {}: {}", w.kind, w.location, w.message);
        }
    }
    out
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

fn has_container_child(report: &Report, id: u32) -> bool {
    report
        .nodes
        .iter()
        .skip(id as usize + 1)
        .take_while(|n| n.parent.is_some_and(|p| p >= id))
        .any(|n| n.parent == Some(id) && n.kind == NodeKind::Container)
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
