//! What changed between two firmware versions, from their two reports: files by content, and
//! the facts people decide on — accounts, boot services and their ports, endpoints, keys,
//! components and findings.
//!
//! Pure functions over two [`Report`]s, so that a diff of two images and a diff of two stored
//! reports give the same answer. Files are matched by their *logical path*: the chain of
//! container formats and file paths from the image, without offsets, because a new release
//! moves its root filesystem whenever the kernel grows. Findings are matched by rule, logical
//! path and evidence (not byte range: a line that moves in an edited file is the same fact).

use assay_model::terminal::TerminalText;
use assay_model::{Category, Finding, NodeKind, Report, Severity};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A byte-holding entry of one image, by logical path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    /// Logical path (`squashfs ▸ /etc/passwd`).
    pub path: String,
    /// SHA-256 of its bytes, or `link:TARGET` for a symlink.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A file present in both images with different content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Logical path.
    pub path: String,
    /// Content hash in the old image.
    pub old_sha256: String,
    /// Content hash in the new image.
    pub new_sha256: String,
    /// Old size.
    pub old_size: u64,
    /// New size.
    pub new_size: u64,
}

/// Files added, removed and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileChanges {
    /// Only in the new image.
    pub added: Vec<FileEntry>,
    /// Only in the old image.
    pub removed: Vec<FileEntry>,
    /// In both, with other content.
    pub changed: Vec<FileChange>,
    /// In both with the same content.
    pub unchanged: usize,
}

/// Named facts that appear or disappear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SetChange {
    /// Only in the new image.
    pub added: Vec<String>,
    /// Only in the old image.
    pub removed: Vec<String>,
}

impl SetChange {
    fn of(old: &BTreeSet<String>, new: &BTreeSet<String>) -> Self {
        SetChange {
            added: new.difference(old).cloned().collect(),
            removed: old.difference(new).cloned().collect(),
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// A component whose versions differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionChange {
    /// Component name.
    pub name: String,
    /// Versions in the old image.
    pub old: Vec<String>,
    /// Versions in the new image.
    pub new: Vec<String>,
}

/// Components added, removed, or found in other versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ComponentChanges {
    /// `name version` only in the new image.
    pub added: Vec<String>,
    /// `name version` only in the old image.
    pub removed: Vec<String>,
    /// Same name, other versions.
    pub changed: Vec<VersionChange>,
}

/// A finding as the diff shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingSummary {
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// Logical path of the node it rests on.
    pub path: String,
    /// Its evidence.
    pub evidence: String,
}

/// Findings that appeared or went away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingChanges {
    /// New in the new image.
    pub added: Vec<FindingSummary>,
    /// Gone from the new image.
    pub removed: Vec<FindingSummary>,
    /// In both.
    pub unchanged: usize,
}

/// Everything that changed between two reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDiff {
    /// The old image.
    pub old: assay_model::ImageInfo,
    /// The new image.
    pub new: assay_model::ImageInfo,
    /// Files and streams by content.
    pub files: FileChanges,
    /// Accounts named by account and credential findings.
    pub accounts: SetChange,
    /// Remote-access services started at boot, as `service proto/port`.
    pub services: SetChange,
    /// Hosts the firmware contacts.
    pub endpoints: SetChange,
    /// Keys by fingerprint, as `fingerprint (paths)`.
    pub keys: SetChange,
    /// Components by name and version.
    pub components: ComponentChanges,
    /// Findings by rule, logical path and evidence.
    pub findings: FindingChanges,
}

/// Logical path of every node: ancestors' container formats and entry paths, no offsets;
/// a repeated path gets ` #2`, ` #3` in node order.
pub fn logical_paths(report: &Report) -> Vec<String> {
    let mut own: Vec<String> = Vec::with_capacity(report.nodes.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for n in &report.nodes {
        let label = match n.kind {
            NodeKind::Image => String::new(),
            NodeKind::Container => n.format.clone().unwrap_or_else(|| n.path.clone()),
            NodeKind::Unknown => "unknown".into(),
            _ => n.path.clone(),
        };
        let parent = n
            .parent
            .filter(|&p| (p as usize) < own.len() && p < n.id)
            .map(|p| own[p as usize].as_str())
            .unwrap_or("");
        let mut path = match (parent.is_empty(), label.is_empty()) {
            (_, true) => parent.to_string(),
            (true, false) => label,
            (false, false) => format!("{parent} ▸ {label}"),
        };
        if n.kind != NodeKind::Image {
            let count = seen.entry(path.clone()).or_insert(0);
            *count += 1;
            if *count > 1 {
                path = format!("{path} #{count}");
            }
        }
        own.push(path);
    }
    own
}

fn files_of(report: &Report) -> BTreeMap<String, FileEntry> {
    let paths = logical_paths(report);
    let mut out = BTreeMap::new();
    for (n, path) in report.nodes.iter().zip(&paths) {
        let content = match (n.kind, &n.sha256, &n.link_target) {
            (NodeKind::File | NodeKind::Stream, Some(h), _) => h.clone(),
            (NodeKind::Symlink, _, Some(t)) => format!("link:{t}"),
            _ => continue,
        };
        out.entry(path.clone()).or_insert(FileEntry {
            path: path.clone(),
            sha256: content,
            size: n.size,
        });
    }
    out
}

fn diff_files(old: &Report, new: &Report) -> FileChanges {
    let (a, b) = (files_of(old), files_of(new));
    let mut out = FileChanges::default();
    for (path, fa) in &a {
        match b.get(path) {
            None => out.removed.push(fa.clone()),
            Some(fb) if fb.sha256 != fa.sha256 => out.changed.push(FileChange {
                path: path.clone(),
                old_sha256: fa.sha256.clone(),
                new_sha256: fb.sha256.clone(),
                old_size: fa.size,
                new_size: fb.size,
            }),
            Some(_) => out.unchanged += 1,
        }
    }
    out.added = b
        .iter()
        .filter(|(p, _)| !a.contains_key(*p))
        .map(|(_, f)| f.clone())
        .collect();
    out
}

/// Set of facts read from the findings of a report.
fn facts(report: &Report, pick: impl Fn(&Finding) -> Option<String>) -> BTreeSet<String> {
    report.findings.iter().filter_map(pick).collect()
}

fn account_of(f: &Finding) -> Option<String> {
    matches!(f.category, Category::Account | Category::Credential)
        .then(|| f.context.get("account").cloned())
        .flatten()
}

fn service_of(f: &Finding) -> Option<String> {
    if f.category != Category::RemoteAccess {
        return None;
    }
    let service = f.context.get("service").cloned().unwrap_or(f.rule.clone());
    Some(match (f.context.get("proto"), f.context.get("port")) {
        (Some(proto), Some(port)) => format!("{service} {proto}/{port}"),
        (None, Some(port)) => format!("{service} port {port}"),
        _ => service,
    })
}

fn endpoint_of(f: &Finding) -> Option<String> {
    (f.category == Category::Endpoint)
        .then(|| f.context.get("host").cloned())
        .flatten()
}

fn keys_of(report: &Report) -> BTreeSet<String> {
    let mut by_print: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &report.findings {
        if let Some(fp) = f.context.get("fingerprint") {
            by_print
                .entry(fp.clone())
                .or_default()
                .insert(f.path.clone());
        }
    }
    by_print
        .into_iter()
        .map(|(fp, paths)| {
            let paths: Vec<String> = paths.into_iter().collect();
            format!("{fp} ({})", paths.join(", "))
        })
        .collect()
}

fn diff_keys(old: &Report, new: &Report) -> SetChange {
    // Match by fingerprint only: a key that moved to another path is the same key.
    let (a, b) = (keys_of(old), keys_of(new));
    let print = |s: &String| s.split(' ').next().unwrap_or("").to_string();
    let pa: BTreeSet<String> = a.iter().map(print).collect();
    let pb: BTreeSet<String> = b.iter().map(print).collect();
    SetChange {
        added: b
            .iter()
            .filter(|k| !pa.contains(&print(k)))
            .cloned()
            .collect(),
        removed: a
            .iter()
            .filter(|k| !pb.contains(&print(k)))
            .cloned()
            .collect(),
    }
}

fn diff_components(old: &Report, new: &Report) -> ComponentChanges {
    let versions = |r: &Report| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for c in &r.components {
            m.entry(c.name.clone())
                .or_default()
                .insert(c.version.clone());
        }
        m
    };
    let (a, b) = (versions(old), versions(new));
    let mut out = ComponentChanges::default();
    for (name, va) in &a {
        match b.get(name) {
            None => out.removed.extend(va.iter().map(|v| format!("{name} {v}"))),
            Some(vb) if vb != va => out.changed.push(VersionChange {
                name: name.clone(),
                old: va.iter().cloned().collect(),
                new: vb.iter().cloned().collect(),
            }),
            Some(_) => {}
        }
    }
    for (name, vb) in &b {
        if !a.contains_key(name) {
            out.added.extend(vb.iter().map(|v| format!("{name} {v}")));
        }
    }
    out
}

fn diff_findings(old: &Report, new: &Report) -> FindingChanges {
    let summaries = |r: &Report| {
        let paths = logical_paths(r);
        let mut m: BTreeMap<(String, String, String), Vec<FindingSummary>> = BTreeMap::new();
        for f in &r.findings {
            let path = paths
                .get(f.node as usize)
                .cloned()
                .unwrap_or_else(|| f.path.clone());
            m.entry((f.rule.clone(), path.clone(), f.evidence.clone()))
                .or_default()
                .push(FindingSummary {
                    rule: f.rule.clone(),
                    severity: f.severity,
                    title: f.title.clone(),
                    path,
                    evidence: f.evidence.clone(),
                });
        }
        m
    };
    let (a, b) = (summaries(old), summaries(new));
    let mut out = FindingChanges::default();
    for (key, la) in &a {
        let nb = b.get(key).map_or(0, Vec::len);
        out.unchanged += la.len().min(nb);
        out.removed.extend(la.iter().skip(nb).cloned());
    }
    for (key, lb) in &b {
        let na = a.get(key).map_or(0, Vec::len);
        out.added.extend(lb.iter().skip(na).cloned());
    }
    let order = |x: &FindingSummary, y: &FindingSummary| {
        y.severity
            .cmp(&x.severity)
            .then_with(|| x.rule.cmp(&y.rule))
            .then_with(|| x.path.cmp(&y.path))
    };
    out.added.sort_by(order);
    out.removed.sort_by(order);
    out
}

/// Compare two reports.
pub fn diff(old: &Report, new: &Report) -> ReportDiff {
    ReportDiff {
        old: old.image.clone(),
        new: new.image.clone(),
        files: diff_files(old, new),
        accounts: SetChange::of(&facts(old, account_of), &facts(new, account_of)),
        services: SetChange::of(&facts(old, service_of), &facts(new, service_of)),
        endpoints: SetChange::of(&facts(old, endpoint_of), &facts(new, endpoint_of)),
        keys: diff_keys(old, new),
        components: diff_components(old, new),
        findings: diff_findings(old, new),
    }
}

/// The diff as deterministic pretty JSON with a trailing newline.
pub fn to_json(d: &ReportDiff) -> String {
    let mut s = serde_json::to_string_pretty(d).expect("diffs always serialise");
    s.push('\n');
    s
}

fn set_section(out: &mut TerminalText, title: &str, s: &SetChange) {
    if s.is_empty() {
        out.line(format_args!("{title}: no change"));
        return;
    }
    out.line(format_args!(
        "{title}: {} added, {} removed",
        s.added.len(),
        s.removed.len()
    ));
    for a in &s.added {
        out.line(format_args!("  + {a}"));
    }
    for r in &s.removed {
        out.line(format_args!("  - {r}"));
    }
}

/// The human summary: the facts first, then findings, then the file list. Every line is
/// escaped whole ([`TerminalText`]): the names in it come from the images.
pub fn to_text(d: &ReportDiff) -> String {
    let mut out = TerminalText::new();
    out.line(format_args!(
        "{} (sha256 {}) -> {} (sha256 {})",
        d.old.name, d.old.sha256, d.new.name, d.new.sha256
    ));
    out.blank();
    set_section(&mut out, "Accounts", &d.accounts);
    set_section(&mut out, "Boot services", &d.services);
    set_section(&mut out, "Endpoints", &d.endpoints);
    set_section(&mut out, "Keys", &d.keys);
    let c = &d.components;
    if c.added.is_empty() && c.removed.is_empty() && c.changed.is_empty() {
        out.line(format_args!("Components: no change"));
    } else {
        out.line(format_args!(
            "Components: {} added, {} removed, {} changed",
            c.added.len(),
            c.removed.len(),
            c.changed.len()
        ));
        for a in &c.added {
            out.line(format_args!("  + {a}"));
        }
        for r in &c.removed {
            out.line(format_args!("  - {r}"));
        }
        for v in &c.changed {
            out.line(format_args!(
                "  ~ {} {} -> {}",
                v.name,
                v.old.join(", "),
                v.new.join(", ")
            ));
        }
    }
    let f = &d.findings;
    out.line(format_args!(
        "Findings: {} new, {} gone, {} unchanged",
        f.added.len(),
        f.removed.len(),
        f.unchanged
    ));
    for (sign, list) in [("+", &f.added), ("-", &f.removed)] {
        for s in list {
            out.line(format_args!(
                "  {sign} {} [{}] {}",
                s.severity.as_str(),
                s.rule,
                s.title
            ));
        }
    }
    let fc = &d.files;
    out.line(format_args!(
        "Files: {} added, {} removed, {} changed, {} unchanged",
        fc.added.len(),
        fc.removed.len(),
        fc.changed.len(),
        fc.unchanged
    ));
    for a in &fc.added {
        out.line(format_args!("  + {}  ({} bytes)", a.path, a.size));
    }
    for r in &fc.removed {
        out.line(format_args!("  - {}  ({} bytes)", r.path, r.size));
    }
    for c in &fc.changed {
        out.line(format_args!(
            "  ~ {}  ({} -> {} bytes)",
            c.path, c.old_size, c.new_size
        ));
    }
    out.into_string()
}

/// Whether two reports describe the same facts (used for the exit status of `assay diff`).
pub fn is_empty(d: &ReportDiff) -> bool {
    d.files.added.is_empty()
        && d.files.removed.is_empty()
        && d.files.changed.is_empty()
        && d.accounts.is_empty()
        && d.services.is_empty()
        && d.endpoints.is_empty()
        && d.keys.is_empty()
        && d.components.added.is_empty()
        && d.components.removed.is_empty()
        && d.components.changed.is_empty()
        && d.findings.added.is_empty()
        && d.findings.removed.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_model::{ByteRange, Component, Confidence, ImageInfo, Node, NodeId, REPORT_SCHEMA};

    fn node(id: NodeId, parent: Option<NodeId>, kind: NodeKind, path: &str, hash: &str) -> Node {
        let mut n = Node::new(id, parent, kind, path.into());
        if kind == NodeKind::Container {
            n.format = Some(path.into());
        }
        if !hash.is_empty() {
            n.sha256 = Some(hash.into());
            n.size = 10;
        }
        n
    }

    fn finding(rule: &str, cat: Category, node: NodeId, ctx: &[(&str, &str)]) -> Finding {
        Finding {
            rule: rule.into(),
            category: cat,
            severity: Severity::High,
            confidence: Confidence::High,
            title: format!("{rule} title"),
            path: "/etc/x".into(),
            location: String::new(),
            node,
            range: ByteRange { start: 0, end: 1 },
            evidence: format!("{ctx:?}"),
            sha256: String::new(),
            context: ctx
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn report(nodes: Vec<Node>, findings: Vec<Finding>, comps: &[(&str, &str)]) -> Report {
        Report {
            schema: REPORT_SCHEMA.into(),
            tool_version: "0".into(),
            image: ImageInfo {
                name: "x.bin".into(),
                size: 0,
                sha256: String::new(),
            },
            nodes,
            components: comps
                .iter()
                .map(|(n, v)| Component {
                    name: n.to_string(),
                    version: v.to_string(),
                    purl: String::new(),
                    cpe: None,
                    confidence: Confidence::High,
                    evidence: Vec::new(),
                    other_versions: Vec::new(),
                })
                .collect(),
            findings,
            listeners: Vec::new(),
            warnings: Vec::new(),
            as_of: None,
            vulnerabilities: Vec::new(),
            stats: None,
        }
    }

    #[test]
    fn logical_paths_ignore_offsets_and_number_repeats() {
        let mut a = node(1, Some(0), NodeKind::Container, "squashfs", "h");
        a.offset = Some(0x20000);
        let r = report(
            vec![
                node(0, None, NodeKind::Image, "fw.bin", "i"),
                a,
                node(2, Some(1), NodeKind::File, "/etc/passwd", "p"),
                node(3, Some(0), NodeKind::Container, "squashfs", "h2"),
                node(4, Some(3), NodeKind::File, "/etc/passwd", "q"),
            ],
            vec![],
            &[],
        );
        let p = logical_paths(&r);
        assert_eq!(p[2], "squashfs ▸ /etc/passwd");
        assert_eq!(p[3], "squashfs #2");
        assert_eq!(p[4], "squashfs #2 ▸ /etc/passwd");
    }

    #[test]
    fn reports_facts_files_and_findings_that_changed() {
        let base = |passwd: &str, extra: bool| {
            let mut nodes = vec![
                node(0, None, NodeKind::Image, "fw.bin", "i"),
                node(1, Some(0), NodeKind::Container, "squashfs", "c"),
                node(2, Some(1), NodeKind::File, "/etc/passwd", passwd),
                node(3, Some(1), NodeKind::File, "/bin/busybox", "bb"),
            ];
            if extra {
                nodes.push(node(4, Some(1), NodeKind::File, "/etc/new", "n"));
            }
            nodes
        };
        let telnet = finding(
            "ASSAY-REMOTE-001",
            Category::RemoteAccess,
            2,
            &[("service", "telnetd"), ("proto", "tcp"), ("port", "2323")],
        );
        let root = finding(
            "ASSAY-CRED-001",
            Category::Credential,
            2,
            &[("account", "root")],
        );
        let old = report(
            base("p1", false),
            vec![telnet.clone(), root.clone()],
            &[("dropbear", "2019.78"), ("busybox", "1.30.1")],
        );
        let support = finding(
            "ASSAY-CRED-001",
            Category::Credential,
            2,
            &[("account", "support")],
        );
        let shell = finding(
            "ASSAY-REMOTE-003",
            Category::RemoteAccess,
            2,
            &[("service", "nc"), ("proto", "tcp"), ("port", "4444")],
        );
        let host = finding(
            "ASSAY-ENDPOINT-001",
            Category::Endpoint,
            2,
            &[("host", "203.0.113.9")],
        );
        let new = report(
            base("p2", true),
            vec![telnet, root, support, shell, host],
            &[
                ("dropbear", "2020.81"),
                ("busybox", "1.30.1"),
                ("zlib", "1.3"),
            ],
        );
        let d = diff(&old, &new);
        assert_eq!(d.accounts.added, vec!["support"]);
        assert!(d.accounts.removed.is_empty());
        assert_eq!(d.services.added, vec!["nc tcp/4444"]);
        assert_eq!(d.endpoints.added, vec!["203.0.113.9"]);
        assert_eq!(d.components.changed.len(), 1);
        assert_eq!(d.components.changed[0].new, vec!["2020.81"]);
        assert_eq!(d.components.added, vec!["zlib 1.3"]);
        assert_eq!(d.findings.added.len(), 3);
        assert_eq!(d.findings.unchanged, 2);
        assert_eq!(d.files.changed.len(), 1);
        assert_eq!(d.files.changed[0].path, "squashfs ▸ /etc/passwd");
        assert_eq!(d.files.added[0].path, "squashfs ▸ /etc/new");
        assert_eq!(d.files.unchanged, 1);
        let text = to_text(&d);
        assert!(text.contains("  + support\n"), "{text}");
        assert!(text.contains("  ~ dropbear 2019.78 -> 2020.81\n"), "{text}");
        assert!(!is_empty(&d));
        assert!(is_empty(&diff(&old, &old)));
        let json: serde_json::Value = serde_json::from_str(&to_json(&d)).unwrap();
        assert_eq!(json["services"]["added"][0], "nc tcp/4444");
    }
}
