//! Hold a report against its image. The image is unpacked again (the unpacker is
//! deterministic) and the detectors re-run as of the report's `as_of`; then every node is found
//! again by its location chain and its size and hash compared, every finding's evidence is
//! re-read at its byte range, every finding, component and listener must be re-derived
//! unchanged, and nothing the image yields may be missing from the report.

use assay_model::{Component, Finding, Node, NodeId, Report};
use assay_unpack::UnpackResult;
use std::collections::{BTreeMap, HashMap};

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// One line per thing that does not hold.
    pub failures: Vec<String>,
    /// One line per area: how much holds.
    pub summary: Vec<String>,
    /// The reference time the detectors ran as of: the report's `as_of`, else the config's.
    pub as_of: i64,
}

impl Verification {
    /// Whether every file, finding and component of the report holds.
    pub fn holds(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Check `report` against the unpacked image and the facts re-derived from it.
pub(crate) fn check(
    report: &Report,
    unpacked: &UnpackResult,
    findings: &[Finding],
    components: &[Component],
    listeners: &[assay_model::Listener],
    as_of: i64,
) -> Verification {
    let mut failures = Vec::new();
    let mut summary = Vec::new();

    let img = &unpacked.image;
    if img.sha256 == report.image.sha256 && img.size == report.image.size {
        summary.push(format!(
            "image: ok ({} bytes, sha256 {})",
            img.size, img.sha256
        ));
    } else {
        failures.push(format!(
            "image: the report is about {} bytes with sha256 {}, the image has {} bytes with sha256 {}",
            report.image.size, report.image.sha256, img.size, img.sha256
        ));
        summary.push("image: DIFFERS from the one the report is about".into());
    }

    let map = match_nodes(report, unpacked, &mut failures);
    let nodes_ok = check_nodes(report, unpacked, &map, &mut failures);
    summary.push(format!(
        "nodes: {nodes_ok} of {} hold; {} in the image",
        report.nodes.len(),
        unpacked.nodes.len()
    ));

    let (held, missing) = check_findings(report, unpacked, &map, findings, &mut failures);
    summary.push(format!(
        "findings: {held} of {} hold; {missing} re-derived from the image but missing from the report",
        report.findings.len()
    ));

    let (held, missing) = check_components(report, unpacked, components, &mut failures);
    summary.push(format!(
        "components: {held} of {} hold; {missing} re-derived but missing from the report",
        report.components.len()
    ));
    let mut by_location: BTreeMap<&str, NodeId> = BTreeMap::new();
    for n in &unpacked.nodes {
        by_location.entry(&n.location).or_insert(n.id);
    }
    let bytes_at = |location: &str| {
        by_location
            .get(location)
            .and_then(|&id| unpacked.content(id))
            .map(|b| &b[..])
    };
    let (held, missing) = assay_analyze::detectors::exposure::verify_listeners(
        &report.listeners,
        listeners,
        bytes_at,
        &mut failures,
    );
    summary.push(format!(
        "listeners: {held} of {} hold; {missing} re-derived but missing from the report",
        report.listeners.len()
    ));
    Verification {
        failures,
        summary,
        as_of,
    }
}

/// Report node id → node of the fresh unpack, found by location chain (the same id first).
/// Linear: each location's candidates are handed out in order through a cursor.
fn match_nodes(
    report: &Report,
    unpacked: &UnpackResult,
    failures: &mut Vec<String>,
) -> BTreeMap<NodeId, NodeId> {
    let mut by_location: HashMap<&str, Candidates> = HashMap::new();
    for n in &unpacked.nodes {
        by_location
            .entry(&n.location)
            .or_default()
            .push(n.id as usize);
    }
    let mut taken = vec![false; unpacked.nodes.len()];
    let mut map = BTreeMap::new();
    for (i, n) in report.nodes.iter().enumerate() {
        if n.id as usize != i {
            failures.push(format!(
                "node {} ({}): listed at position {i}: node ids must be the list order",
                n.id, n.location
            ));
        }
        let same_id = unpacked
            .nodes
            .get(n.id as usize)
            .filter(|f| f.location == n.location && !taken[n.id as usize])
            .map(|f| f.id as usize);
        let pick = same_id.or_else(|| {
            by_location
                .get_mut(n.location.as_str())
                .and_then(|c| c.next_unused(&taken))
        });
        match pick {
            Some(id) => {
                taken[id] = true;
                map.insert(n.id, id as NodeId);
            }
            None => failures.push(format!(
                "node {} ({}): no such location in the image",
                n.id, n.location
            )),
        }
    }
    let unlisted: Vec<&Node> = unpacked
        .nodes
        .iter()
        .filter(|n| !taken[n.id as usize])
        .collect();
    for n in unlisted.iter().take(20) {
        failures.push(format!(
            "node {}: the image yields it but the report does not list it",
            n.location
        ));
    }
    if unlisted.len() > 20 {
        failures.push(format!(
            "nodes: {} more that the image yields are not in the report",
            unlisted.len() - 20
        ));
    }
    map
}

/// The indices of the re-derived things that share one key, in order, and how far the ones
/// already taken reach: taking only ever marks more, so the cursor only moves forward and
/// matching a whole report costs one pass over each list.
#[derive(Default)]
struct Candidates {
    indices: Vec<usize>,
    cursor: usize,
}

impl Candidates {
    fn push(&mut self, index: usize) {
        self.indices.push(index);
    }

    /// The first candidate not taken yet (the caller marks it when it takes it).
    fn next_unused(&mut self, taken: &[bool]) -> Option<usize> {
        while let Some(&j) = self.indices.get(self.cursor) {
            if !taken.get(j).copied().unwrap_or(true) {
                return Some(j);
            }
            self.cursor += 1;
        }
        None
    }
}

fn check_nodes(
    report: &Report,
    unpacked: &UnpackResult,
    map: &BTreeMap<NodeId, NodeId>,
    failures: &mut Vec<String>,
) -> usize {
    let mut ok = 0;
    for n in &report.nodes {
        let Some(&fresh_id) = map.get(&n.id) else {
            continue;
        };
        let f = &unpacked.nodes[fresh_id as usize];
        let parent_location = |r: &[Node], p: Option<NodeId>| {
            p.and_then(|p| r.get(p as usize))
                .map(|p| p.location.clone())
        };
        let differ = differing(&[
            ("kind", n.kind != f.kind),
            ("path", n.path != f.path),
            ("offset", n.offset != f.offset),
            ("size", n.size != f.size),
            ("sha256", n.sha256 != f.sha256),
            ("link target", n.link_target != f.link_target),
            // Reports written before nodes carried times have none to compare.
            ("mtime", n.mtime.is_some() && n.mtime != f.mtime),
            (
                "parent",
                parent_location(&report.nodes, n.parent)
                    != parent_location(&unpacked.nodes, f.parent),
            ),
        ]);
        if differ.is_empty() {
            ok += 1;
        } else {
            failures.push(format!(
                "node {} ({}): {} differ from the image",
                n.id,
                n.location,
                differ.join(", ")
            ));
        }
    }
    ok
}

/// Which fields of a claimed finding differ from the re-derived one.
fn edited_fields(claimed: &Finding, derived: &Finding) -> Vec<&'static str> {
    differing(&[
        ("category", claimed.category != derived.category),
        ("severity", claimed.severity != derived.severity),
        ("confidence", claimed.confidence != derived.confidence),
        ("title", claimed.title != derived.title),
        ("path", claimed.path != derived.path),
        ("evidence", claimed.evidence != derived.evidence),
        ("sha256", claimed.sha256 != derived.sha256),
        ("context", claimed.context != derived.context),
    ])
}

/// The names of the fields whose comparison says they differ.
fn differing(fields: &[(&'static str, bool)]) -> Vec<&'static str> {
    fields
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| *name)
        .collect()
}

fn check_findings<'a>(
    report: &'a Report,
    unpacked: &UnpackResult,
    map: &BTreeMap<NodeId, NodeId>,
    derived: &'a [Finding],
    failures: &mut Vec<String>,
) -> (usize, usize) {
    // Where a finding is (rule, node, byte range), and that plus everything compared.
    let place = |f: &'a Finding| {
        (
            f.rule.as_str(),
            f.location.as_str(),
            f.range.start,
            f.range.end,
        )
    };
    let identity = |f: &'a Finding| {
        (
            place(f),
            (f.category, f.severity, f.confidence),
            (f.title.as_str(), f.path.as_str(), f.evidence.as_str()),
            (f.sha256.as_str(), &f.context),
        )
    };
    let mut by_place: HashMap<_, Candidates> = HashMap::new();
    let mut by_identity: HashMap<_, Candidates> = HashMap::new();
    for (j, d) in derived.iter().enumerate() {
        by_place.entry(place(d)).or_default().push(j);
        by_identity.entry(identity(d)).or_default().push(j);
    }
    let mut used = vec![false; derived.len()];
    let mut held = 0;
    for (i, f) in report.findings.iter().enumerate() {
        let name = format!(
            "finding {i} [{}] {:?} at {} bytes {}..{}",
            f.rule, f.title, f.location, f.range.start, f.range.end
        );
        let mut ok = true;
        // The evidence must be the bytes at the stated range of the stated node.
        match map.get(&f.node).map(|&id| &unpacked.nodes[id as usize]) {
            None => {
                failures.push(format!("{name}: its node {} is not in the image", f.node));
                ok = false;
            }
            Some(node) => {
                let bytes = unpacked
                    .content(node.id)
                    .map(|b| &b[..])
                    .unwrap_or_default();
                let range = usize::try_from(f.range.start)
                    .ok()
                    .zip(usize::try_from(f.range.end).ok())
                    .filter(|(s, e)| s <= e && *e <= bytes.len());
                if f.location != node.location || f.path != node.path {
                    failures.push(format!(
                        "{name}: node {} is {} in the image",
                        f.node, node.location
                    ));
                    ok = false;
                }
                if Some(&f.sha256) != node.sha256.as_ref() {
                    failures.push(format!(
                        "{name}: the node's sha256 is {} in the image, not {}",
                        node.sha256.as_deref().unwrap_or("(none)"),
                        f.sha256
                    ));
                    ok = false;
                }
                match range {
                    None => {
                        failures.push(format!(
                            "{name}: the range lies outside the node's {} bytes",
                            bytes.len()
                        ));
                        ok = false;
                    }
                    Some((s, e)) => {
                        if assay_analyze::evidence_excerpt(&bytes[s..e]) != f.evidence {
                            failures.push(format!(
                                "{name}: the evidence is not the bytes at that range of the image"
                            ));
                            ok = false;
                        }
                    }
                }
            }
        }
        // The detectors must raise the same finding on the same bytes: an identical one
        // first, else the first at the same place (then it was edited).
        let exact = by_identity
            .get_mut(&identity(f))
            .and_then(|c| c.next_unused(&used));
        let same_place = match exact {
            Some(j) => Some(j),
            None => by_place
                .get_mut(&place(f))
                .and_then(|c| c.next_unused(&used)),
        };
        match (exact, same_place) {
            (Some(j), _) => used[j] = true,
            (None, Some(j)) => {
                used[j] = true;
                failures.push(format!(
                    "{name}: edited ({}): not what the detectors derive from the image",
                    edited_fields(f, &derived[j]).join(", ")
                ));
                ok = false;
            }
            (None, None) => {
                failures.push(format!(
                    "{name}: not derived by the detectors from the image (added or moved)"
                ));
                ok = false;
            }
        }
        if ok {
            held += 1;
        }
    }
    let mut missing = 0;
    for (j, d) in derived.iter().enumerate() {
        if !used[j] {
            missing += 1;
            failures.push(format!(
                "missing finding [{}] {:?} at {} bytes {}..{}: the image yields it, the report does not list it",
                d.rule, d.title, d.location, d.range.start, d.range.end
            ));
        }
    }
    (held, missing)
}

fn check_components(
    report: &Report,
    unpacked: &UnpackResult,
    derived: &[Component],
    failures: &mut Vec<String>,
) -> (usize, usize) {
    let mut by_location: BTreeMap<&str, &Node> = BTreeMap::new();
    for n in &unpacked.nodes {
        by_location.entry(&n.location).or_insert(n);
    }
    // A component is compared whole: its canonical JSON is its identity.
    let identity = |c: &Component| serde_json::to_string(c).unwrap_or_default();
    let mut by_identity: HashMap<String, Candidates> = HashMap::new();
    for (j, d) in derived.iter().enumerate() {
        by_identity.entry(identity(d)).or_default().push(j);
    }
    let mut used = vec![false; derived.len()];
    let mut held = 0;
    for c in &report.components {
        let name = format!("component {} {}", c.name, c.version);
        let mut ok = true;
        for e in &c.evidence {
            let Some(node) = by_location.get(e.location.as_str()) else {
                failures.push(format!(
                    "{name}: evidence {} is not in the image",
                    e.location
                ));
                ok = false;
                continue;
            };
            // Unknown ranges carry no hash; their evidence records an empty one and is held
            // by the bytes at its range below.
            if node.sha256.as_deref().unwrap_or_default() != e.sha256 {
                failures.push(format!(
                    "{name}: evidence {} has another sha256 in the image",
                    e.location
                ));
                ok = false;
            }
            if let (Some(r), Some(matched)) = (&e.range, &e.matched) {
                let bytes = unpacked
                    .content(node.id)
                    .map(|b| &b[..])
                    .unwrap_or_default();
                let at = usize::try_from(r.start)
                    .ok()
                    .zip(usize::try_from(r.end).ok())
                    .filter(|(s, e)| s <= e && *e <= bytes.len())
                    .map(|(s, e)| assay_model::escape_bytes(&bytes[s..e]));
                let holds = at.is_some_and(|text| {
                    text == *matched || text.starts_with(matched.trim_end_matches('…'))
                });
                if !holds {
                    failures.push(format!(
                        "{name}: the version text is not at bytes {}..{} of {}",
                        r.start, r.end, e.location
                    ));
                    ok = false;
                }
            }
        }
        match by_identity
            .get_mut(&identity(c))
            .and_then(|list| list.next_unused(&used))
        {
            Some(j) => used[j] = true,
            None => {
                failures.push(format!(
                    "{name}: not derived from the image as stated (added or edited)"
                ));
                ok = false;
            }
        }
        if ok {
            held += 1;
        }
    }
    let mut missing = 0;
    for (j, d) in derived.iter().enumerate() {
        if !used[j] {
            missing += 1;
            failures.push(format!(
                "missing component {} {}: the image yields it, the report does not list it",
                d.name, d.version
            ));
        }
    }
    (held, missing)
}
