//! The HTML report: one self-contained page for the people who decide whether to trust a
//! device. The first screen says in plain words what was found and how bad it is; below come
//! the findings by severity with their evidence and location chain, a map of the image
//! (entropy plot with its containers), the unpacked container tree, the components and the
//! warnings.
//!
//! The page has no scripts, fonts, images or links to anything outside itself (styles are
//! inline, the chart is inline SVG), so it opens offline and can be archived as evidence.
//! Everything taken from the image is escaped: templates are `minijinja` HTML templates with
//! auto-escaping, and no value is ever marked safe.

use crate::{RuleDoc, SEVERITIES_WORST_FIRST};
use assay_model::{Category, Confidence, Finding, NodeKind, Report, Severity};
use minijinja::Environment;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// Entropy of the image, block by block, for the image map; computed by the caller, which
/// holds the image bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntropyProfile {
    /// Bytes per block (the last block may be shorter).
    pub block_size: u64,
    /// Shannon entropy of each block in bits per byte (0–8), in image order.
    pub values: Vec<f64>,
}

/// Why an HTML report could not be rendered (a bug in the templates, never the input).
#[derive(Debug, thiserror::Error)]
#[error("rendering the HTML report: {0}")]
pub struct HtmlError(#[from] minijinja::Error);

/// Nesting depth beyond which the container tree is flattened, so that rendering stays
/// bounded whatever the report says.
const MAX_TREE_DEPTH: usize = 48;

/// How many of the most serious findings the first screen lists by title.
const FIRST_SCREEN_FINDINGS: usize = 8;

/// Render the report as one self-contained HTML page.
pub fn to_html(
    report: &Report,
    rules: &[RuleDoc],
    entropy: &EntropyProfile,
) -> Result<String, HtmlError> {
    let mut env = Environment::new();
    env.add_template("report.css", include_str!("../templates/report.css"))?;
    env.add_template("report.html", include_str!("../templates/report.html"))?;
    let page = build_page(report, rules, entropy);
    Ok(env.get_template("report.html")?.render(&page)?)
}

/// The plain-words summary the first screen opens with, built from the findings.
pub fn headline(report: &Report) -> String {
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (critical, high, medium) = (
        count(Severity::Critical),
        count(Severity::High),
        count(Severity::Medium),
    );
    let total = report.findings.len();
    if total == 0 {
        return "Assay found nothing to report in this image.".to_string();
    }
    let counted = |parts: &[(usize, &str)]| {
        join_words(
            &parts
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, s)| format!("{n} {s}"))
                .collect::<Vec<_>>(),
        )
    };
    if critical + high > 0 {
        let n = critical + high;
        format!(
            "This image contains {} {}: {}.",
            counted(&[(critical, "critical"), (high, "high")]),
            plural(n, "finding", "findings"),
            category_phrases(report, Severity::High)
        )
    } else if medium > 0 {
        format!(
            "No critical or high findings. This image contains {medium} medium {}: {}.",
            plural(medium, "finding", "findings"),
            category_phrases(report, Severity::Medium)
        )
    } else {
        format!(
            "No critical, high or medium findings; {total} minor {} for review.",
            plural(total, "finding", "findings")
        )
    }
}

/// Plain words for what a category of finding means to the device's owner.
fn category_phrase(c: Category) -> &'static str {
    match c {
        Category::Account => "hidden or passwordless accounts",
        Category::Credential => "hard-coded or weak passwords",
        Category::PrivateKey => "private keys shipped in the firmware",
        Category::RemoteAccess => "remote access opened at boot",
        Category::Backdoor => "backdoor indicators",
        Category::Endpoint => "phone-home or code fetched from fixed outside hosts",
        Category::Hardening => "programs without exploit protections",
        Category::VulnerableComponent => "components with known vulnerabilities",
        Category::Secret => "embedded secrets such as API tokens or Wi-Fi keys",
        Category::Config => "insecure configuration",
    }
}

/// The categories of findings at `at_least` or worse, worst first, as one phrase.
fn category_phrases(report: &Report, at_least: Severity) -> String {
    let mut worst: Vec<(Category, Severity, usize)> = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        if f.severity < at_least {
            continue;
        }
        match worst.iter_mut().find(|(c, _, _)| *c == f.category) {
            Some(entry) => entry.1 = entry.1.max(f.severity),
            None => worst.push((f.category, f.severity, i)),
        }
    }
    worst.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let phrases: Vec<String> = worst
        .iter()
        .map(|(c, _, _)| category_phrase(*c).to_string())
        .collect();
    join_words(&phrases)
}

fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

fn confidence_label(c: Confidence) -> &'static str {
    match c {
        Confidence::Low => "low",
        Confidence::Medium => "medium",
        Confidence::High => "high",
    }
}

/// Entropy for display: two decimals, never `-0.00`.
fn entropy_text(e: f64) -> String {
    let e = if e.is_finite() && e > 0.0 { e } else { 0.0 };
    format!("{e:.2}")
}

/// Sizes in the largest binary unit below them, one decimal (`4.0 MiB`); bytes below 1 KiB.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} {}", plural(n as usize, "byte", "bytes"));
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

// --- The page model the template renders (every string is escaped by the template). ---

#[derive(Serialize)]
struct Page {
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
    class: &'static str,
    label: &'static str,
    count: usize,
}

#[derive(Serialize)]
struct TopFinding {
    anchor: String,
    class: &'static str,
    label: &'static str,
    title: String,
    path: String,
}

#[derive(Serialize)]
struct FindingGroup {
    class: &'static str,
    label: &'static str,
    findings: Vec<FindingCard>,
}

#[derive(Serialize)]
struct FindingCard {
    anchor: String,
    class: &'static str,
    label: &'static str,
    title: String,
    rule: String,
    rule_title: String,
    rule_description: String,
    category: &'static str,
    confidence: &'static str,
    path: String,
    chain: Vec<String>,
    range: String,
    evidence: String,
    sha256: String,
    context: Vec<(String, String)>,
}

#[derive(Serialize)]
struct TreeItem {
    kind: &'static str,
    name: String,
    detail: String,
    children: Vec<TreeItem>,
}

#[derive(Serialize)]
struct ComponentRow {
    name: String,
    version: String,
    purl: String,
    cpe: String,
    confidence: &'static str,
    paths: Vec<String>,
}

#[derive(Serialize)]
struct WarningRow {
    kind: String,
    location: String,
    message: String,
}

/// The image map: an area chart of entropy over the image with its top-level regions below.
#[derive(Serialize)]
struct EntropyChart {
    width: u32,
    height: u32,
    plot_top: u32,
    plot_bottom: u32,
    area_path: String,
    grid: Vec<GridLine>,
    regions: Vec<ChartRegion>,
    ticks: Vec<AxisTick>,
    block_size: String,
    blocks: usize,
}

#[derive(Serialize)]
struct GridLine {
    y: String,
    label: String,
}

#[derive(Serialize)]
struct AxisTick {
    x: String,
    label: String,
}

#[derive(Serialize)]
struct ChartRegion {
    x: String,
    width: String,
    class: &'static str,
    label: String,
    show_label: bool,
    tooltip: String,
    offset: String,
    size: String,
    what: String,
    notes: String,
}

fn build_page(report: &Report, rules: &[RuleDoc], entropy: &EntropyProfile) -> Page {
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
        .filter(|w| w.kind != "vulndb")
        .count();
    if unpack_warnings > 0 {
        notes.push(format!(
            "Assay reported {} {} about parts it could not fully unpack or analyse; anything \
             inside them was not examined (see Warnings).",
            unpack_warnings,
            plural(unpack_warnings, "warning", "warnings")
        ));
    }
    if report.warnings.iter().any(|w| w.kind == "vulndb") {
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
                kind: w.kind.clone(),
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

/// Whether a node is drawn in the container tree: the structure (containers, streams,
/// unknown regions) and the files that hold further containers; plain files are counted.
fn shown_in_tree(report: &Report, id: usize, has_container_child: &[bool]) -> bool {
    let Some(n) = report.nodes.get(id) else {
        return false;
    };
    match n.kind {
        NodeKind::Image | NodeKind::Container | NodeKind::Stream | NodeKind::Unknown => true,
        NodeKind::File => n.duplicate_of.is_none() && has_container_child[id],
        _ => false,
    }
}

/// The container tree as nested items. Nodes come in pre-order with parents before children;
/// anything that breaks that (a parent id not smaller than the child's) is attached to the
/// nearest shown ancestor that is valid, or to the root.
fn container_tree(report: &Report) -> Vec<TreeItem> {
    let n = report.nodes.len();
    let parent_of = |i: usize| -> Option<usize> {
        report.nodes[i]
            .parent
            .map(|p| p as usize)
            .filter(|&p| p < i && report.nodes[i].id as usize == i)
    };
    let mut has_container_child = vec![false; n];
    for (i, node) in report.nodes.iter().enumerate() {
        if node.kind == NodeKind::Container {
            if let Some(p) = parent_of(i) {
                has_container_child[p] = true;
            }
        }
    }
    // Nearest shown ancestor and nearest container ancestor, in one pre-order pass.
    let mut shown_parent: Vec<Option<usize>> = vec![None; n];
    let mut container_of: Vec<Option<usize>> = vec![None; n];
    let mut shown = vec![false; n];
    for i in 0..n {
        shown[i] = shown_in_tree(report, i, &has_container_child);
        if let Some(p) = parent_of(i) {
            shown_parent[i] = if shown[p] { Some(p) } else { shown_parent[p] };
            container_of[i] = if report.nodes[p].kind == NodeKind::Container {
                Some(p)
            } else {
                container_of[p]
            };
        }
    }
    let file_total = report
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .count();
    let mut files_in = vec![0usize; n];
    for (node, container) in report.nodes.iter().zip(&container_of) {
        if let (NodeKind::File, Some(c)) = (node.kind, container) {
            files_in[*c] += 1;
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for i in 0..n {
        if !shown[i] {
            continue;
        }
        match shown_parent[i] {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    // Build bottom-up (children have larger ids), then flatten anything deeper than the cap.
    let mut built: Vec<Option<TreeItem>> = (0..n).map(|_| None).collect();
    for i in (0..n).rev() {
        if !shown[i] {
            continue;
        }
        let kids = children[i]
            .iter()
            .filter_map(|&c| built[c].take())
            .collect();
        let files = if report.nodes[i].kind == NodeKind::Image {
            file_total
        } else {
            files_in[i]
        };
        built[i] = Some(tree_item(&report.nodes[i], files, kids));
    }
    let mut items: Vec<TreeItem> = roots.iter().filter_map(|&r| built[r].take()).collect();
    for item in &mut items {
        cap_depth(item, 0);
    }
    items
}

fn cap_depth(item: &mut TreeItem, depth: usize) {
    if depth + 1 >= MAX_TREE_DEPTH {
        // Hoist all descendants into this level's children.
        let mut flat = Vec::new();
        let mut stack: Vec<TreeItem> = std::mem::take(&mut item.children);
        while let Some(mut it) = stack.pop() {
            stack.append(&mut it.children);
            flat.push(it);
        }
        item.children = flat;
        return;
    }
    for c in &mut item.children {
        cap_depth(c, depth + 1);
    }
}

fn tree_item(node: &assay_model::Node, files: usize, children: Vec<TreeItem>) -> TreeItem {
    let at = node
        .offset
        .map(|o| format!(" at {o:#x}"))
        .unwrap_or_default();
    let (kind, name, detail) = match node.kind {
        NodeKind::Image => (
            "image",
            node.path.clone(),
            format!(
                "{} · {files} {} in all",
                human_size(node.size),
                plural(files, "file", "files")
            ),
        ),
        NodeKind::Container => {
            let mut d = format!("{}{at}", human_size(node.size));
            if files > 0 {
                d.push_str(&format!(" · {files} {}", plural(files, "file", "files")));
            }
            if let Some(desc) = node.details.get("description") {
                d.push_str(" · ");
                d.push_str(desc);
            }
            (
                "container",
                node.format.clone().unwrap_or_else(|| "container".into()),
                d,
            )
        }
        NodeKind::Stream => ("stream", node.path.clone(), human_size(node.size)),
        NodeKind::Unknown => {
            let mut d = format!(
                "{}{at} · entropy {} bits/byte",
                human_size(node.size),
                entropy_text(node.entropy.unwrap_or(0.0))
            );
            if let Some(p) = node.details.get("padding") {
                d.push_str(&format!(" · padding {p}"));
            }
            ("unknown", "unclaimed bytes".to_string(), d)
        }
        _ => ("file", node.path.clone(), human_size(node.size)),
    };
    TreeItem {
        kind,
        name,
        detail,
        children,
    }
}

/// The image map. Entropy (0–8 bits per byte) as an area over the image; below it a lane with
/// the image's top-level regions (containers and unclaimed bytes) at their offsets.
fn entropy_chart(report: &Report, profile: &EntropyProfile) -> Option<EntropyChart> {
    if profile.values.is_empty() || report.image.size == 0 {
        return None;
    }
    const WIDTH: f64 = 1000.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 10.0;
    const PLOT_H: f64 = 150.0;
    const LANE_Y: f64 = TOP + PLOT_H + 26.0;
    const LANE_H: f64 = 28.0;
    let plot_w = WIDTH - LEFT - RIGHT;
    let size = report.image.size as f64;
    let x_of = |offset: f64| LEFT + (offset / size).clamp(0.0, 1.0) * plot_w;
    let y_of = |e: f64| TOP + PLOT_H - (e.clamp(0.0, 8.0) / 8.0) * PLOT_H;
    let bottom = TOP + PLOT_H;
    // A step area: each block is flat across its span.
    let block = profile.block_size.max(1) as f64;
    let mut d = format!("M{LEFT:.1},{bottom:.1}");
    for (i, &e) in profile.values.iter().enumerate() {
        let e = if e.is_finite() { e } else { 0.0 };
        let x0 = x_of(i as f64 * block);
        let x1 = x_of((i as f64 + 1.0) * block);
        let y = y_of(e);
        d.push_str(&format!(" L{x0:.1},{y:.1} L{x1:.1},{y:.1}"));
    }
    let end_x = x_of(profile.values.len() as f64 * block);
    d.push_str(&format!(" L{end_x:.1},{bottom:.1} Z"));
    let grid = [0.0, 2.0, 4.0, 6.0, 8.0]
        .iter()
        .map(|&e| GridLine {
            y: format!("{:.1}", y_of(e)),
            label: format!("{e:.0}"),
        })
        .collect();
    // Ticks at quarters of the image, rounded to a readable offset (a multiple of 0x1000 in
    // images of 64 KiB and more, of 0x10 below).
    let step: u64 = if report.image.size >= 0x10000 {
        0x1000
    } else {
        0x10
    };
    let ticks = (0..=4)
        .map(|k| {
            let exact = report.image.size as f64 * k as f64 / 4.0;
            let off = ((exact / step as f64).round() * step as f64).min(size);
            AxisTick {
                x: format!("{:.1}", x_of(off)),
                label: format!("{:#x}", off as u64),
            }
        })
        .collect();
    let mut regions = Vec::new();
    let mut alternate = false;
    for node in &report.nodes {
        if node.parent != Some(0) {
            continue;
        }
        let (class, what) = match node.kind {
            NodeKind::Container => {
                alternate = !alternate;
                (
                    if alternate { "region-a" } else { "region-b" },
                    node.format.clone().unwrap_or_else(|| "container".into()),
                )
            }
            NodeKind::Unknown => ("region-unknown", "unclaimed bytes".to_string()),
            _ => continue,
        };
        let offset = node.offset.unwrap_or(0);
        let x0 = x_of(offset as f64);
        let x1 = x_of(offset.saturating_add(node.size) as f64);
        let width = (x1 - x0).max(1.0);
        let label = match node.kind {
            NodeKind::Unknown => String::new(),
            _ => what.clone(),
        };
        regions.push(ChartRegion {
            x: format!("{x0:.1}"),
            width: format!("{width:.1}"),
            class,
            show_label: !label.is_empty() && width >= 7.0 * label.chars().count() as f64 + 6.0,
            tooltip: format!(
                "{what} at {offset:#x}, {}{}",
                human_size(node.size),
                node.entropy
                    .map(|e| format!(", entropy {}", entropy_text(e)))
                    .unwrap_or_default()
            ),
            notes: match node.kind {
                NodeKind::Unknown => {
                    let mut n = format!(
                        "entropy {} bits/byte",
                        entropy_text(node.entropy.unwrap_or(0.0))
                    );
                    if let Some(p) = node.details.get("padding") {
                        n.push_str(&format!(", padding {p}"));
                    }
                    n
                }
                _ => node.details.get("description").cloned().unwrap_or_default(),
            },
            label,
            offset: format!("{offset:#x}"),
            size: human_size(node.size),
            what,
        });
    }
    Some(EntropyChart {
        width: WIDTH as u32,
        height: (LANE_Y + LANE_H + 4.0) as u32,
        plot_top: TOP as u32,
        plot_bottom: bottom as u32,
        area_path: d,
        grid,
        regions,
        ticks,
        block_size: human_size(profile.block_size),
        blocks: profile.values.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_report;

    /// Undo the HTML escaping of text (minijinja escapes `& < > " ' /`).
    fn unescape(html: &str) -> String {
        html.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
    }

    fn render(report: &Report) -> String {
        let profile = EntropyProfile {
            block_size: 64,
            values: vec![1.0, 7.9, 4.0, 0.0],
        };
        to_html(report, &[], &profile).unwrap()
    }

    #[test]
    fn headline_counts_and_names_the_serious_categories() {
        let report = sample_report();
        let h = headline(&report);
        assert!(
            h.starts_with("This image contains 1 critical and 1 high findings:"),
            "{h}"
        );
        assert!(h.contains("hidden or passwordless accounts"), "{h}");
        assert!(h.contains("remote access opened at boot"), "{h}");
    }

    #[test]
    fn headline_of_a_clean_image() {
        let mut report = sample_report();
        report.findings.clear();
        assert_eq!(
            headline(&report),
            "Assay found nothing to report in this image."
        );
    }

    #[test]
    fn a_missing_vulnerability_database_is_not_called_an_unpacking_gap() {
        let mut report = sample_report();
        report.warnings = vec![assay_model::Warning {
            node: None,
            location: String::new(),
            kind: "vulndb".into(),
            message: "no vulnerability database".into(),
        }];
        let text = unescape(&render(&report));
        assert!(text.contains("No vulnerability database was given"));
        assert!(!text.contains("could not fully unpack"));
    }

    #[test]
    fn the_exposure_table_comes_before_the_findings() {
        let report = sample_report();
        let html = render(&report);
        let exposure = html.find("id=\"exposure\"").expect("exposure section");
        let findings = html.find("id=\"findings\"").expect("findings section");
        assert!(exposure < findings);
        let text = unescape(&html);
        assert!(text.contains("/usr/sbin/telnetd"));
        assert!(text.contains("TCP 2323 any (command-line)"));
        assert!(text.contains("started by /etc/init.d/rcS line 3 (boot as root)"));
        let mut quiet = report.clone();
        quiet.listeners.clear();
        assert!(!render(&quiet).contains("id=\"exposure\""));
    }

    #[test]
    fn every_finding_title_and_the_headline_appear() {
        let report = sample_report();
        let html = render(&report);
        let text = unescape(&html);
        for f in &report.findings {
            assert!(text.contains(&f.title), "missing title {}", f.title);
        }
        assert!(text.contains("This image contains 1 critical and 1 high findings"));
    }

    #[test]
    fn hostile_paths_and_evidence_are_escaped() {
        let report = sample_report();
        let html = render(&report);
        assert!(!html.to_ascii_lowercase().contains("<script"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("<img src=x"));
    }

    #[test]
    fn page_is_self_contained() {
        let html = render(&sample_report());
        // No tag refers to anything outside the page (evidence text may mention URLs).
        for tag in html
            .split('<')
            .skip(1)
            .map(|t| t.split('>').next().unwrap_or(""))
        {
            let t = tag.to_ascii_lowercase();
            for bad in ["http:", "https:", "src=", "url(", "@import"] {
                assert!(!t.contains(bad), "external reference in <{tag}>");
            }
        }
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script") && !lower.contains("<link"));
        assert!(html.contains("<svg"));
    }

    #[test]
    fn chart_is_left_out_without_a_profile() {
        let report = sample_report();
        let html = to_html(&report, &[], &EntropyProfile::default()).unwrap();
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn deep_trees_are_capped() {
        let mut item = TreeItem {
            kind: "container",
            name: "x".into(),
            detail: String::new(),
            children: Vec::new(),
        };
        for _ in 0..200 {
            item = TreeItem {
                kind: "container",
                name: "x".into(),
                detail: String::new(),
                children: vec![item],
            };
        }
        cap_depth(&mut item, 0);
        fn depth(t: &TreeItem) -> usize {
            1 + t.children.iter().map(depth).max().unwrap_or(0)
        }
        assert!(depth(&item) <= MAX_TREE_DEPTH + 1);
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(1), "1 byte");
        assert_eq!(human_size(1000), "1000 bytes");
        assert_eq!(human_size(4 * 1024 * 1024), "4.0 MiB");
    }
}
