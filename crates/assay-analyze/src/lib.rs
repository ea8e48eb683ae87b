//! Assay's analysers: detectors that find the ways into (and out of) a device in its unpacked
//! tree, each finding carrying the bytes and location that prove it.
//!
//! The model: [`Analysis`] wraps an [`UnpackResult`] with per-filesystem path indexes, so a
//! detector can look at one file's bytes and also at its siblings (`/etc/shadow` next to
//! `/etc/passwd`, the binary an init script starts). Each detector is one module behind the
//! [`Detector`] trait with documented [`Rule`]s, registered in [`detectors::registry`]; all run
//! in parallel and their findings are sorted into a deterministic order.
//!
//! Settings are values: an [`Analysis`] carries its [`DetectorConfig`] (rule pack, extra
//! password candidates), its reference time and a [`CancelToken`]; nothing here reads a
//! global, the clock or the environment.

pub mod boot;
pub mod components;
pub mod config;
pub mod detectors;
pub mod elf;
pub mod reach;
pub mod sink;

pub use assay_model::Rule;
pub use assay_unpack::CancelToken;
pub use config::DetectorConfig;
pub use sink::FindingSink;

use assay_model::{escape_bytes, ByteRange, Confidence, Finding, Node, NodeId, NodeKind};
use assay_unpack::UnpackResult;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;

/// Longest evidence excerpt written into a finding.
pub const MAX_EVIDENCE: usize = 400;

/// A detector: one concern, its rules, and how to find them in an [`Analysis`].
pub trait Detector: Send + Sync {
    /// Short stable name (`accounts`).
    fn name(&self) -> &'static str;
    /// The rules it may raise with the built-in settings.
    fn rules(&self) -> &'static [Rule];
    /// The rules it may raise under `config` (the rule pack's depend on the user's rules).
    fn rules_in<'c>(&'c self, config: &'c DetectorConfig) -> Vec<Rule<&'c str>> {
        let _ = config;
        self.rules().iter().map(Rule::view).collect()
    }
    /// Look at the tree and push findings into `out`, which caps them as they arrive.
    fn run(&self, analysis: &Analysis, out: &mut FindingSink);
}

/// The files of one filesystem or archive, by normalised absolute path.
#[derive(Debug, Clone)]
pub struct FsView {
    /// The container node the entries came from.
    pub container: NodeId,
    /// Its format (`squashfs`, `jffs2`, ...).
    pub format: String,
    /// Path → node of every entry.
    pub entries: BTreeMap<String, NodeId>,
}

/// A regular file with its bytes and the filesystem it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct FileRef<'a> {
    /// The file's node.
    pub node: &'a Node,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Index into [`Analysis::filesystems`], when it sits in one.
    pub fs: Option<usize>,
}

/// The unpacked tree as the detectors see it.
pub struct Analysis<'a> {
    /// The unpacked image.
    pub unpacked: &'a UnpackResult,
    /// Every filesystem or archive that yielded entries.
    pub filesystems: Vec<FsView>,
    fs_of: Vec<Option<usize>>,
    as_of: i64,
    config: &'a DetectorConfig,
    cancel: CancelToken,
    /// Network facts of every program, computed once (see `detectors::exposure`).
    pub(crate) network_programs:
        std::sync::OnceLock<Vec<(NodeId, detectors::magic_compare::NetProgram)>>,
    /// What runs in each filesystem, computed once (see [`reach`]).
    reach: std::sync::OnceLock<reach::Reach>,
}

impl<'a> Analysis<'a> {
    /// Index an unpacked tree for the detectors, with the built-in [`DetectorConfig`] and the
    /// Unix epoch as reference time (no certificate is judged expired) until
    /// [`with_config`](Self::with_config) and [`with_as_of`](Self::with_as_of) say otherwise.
    pub fn new(unpacked: &'a UnpackResult) -> Self {
        let mut filesystems: Vec<FsView> = Vec::new();
        let mut by_container: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut fs_of = vec![None; unpacked.nodes.len()];
        for n in &unpacked.nodes {
            let is_entry = matches!(
                n.kind,
                NodeKind::File
                    | NodeKind::Directory
                    | NodeKind::Symlink
                    | NodeKind::Hardlink
                    | NodeKind::Device
                    | NodeKind::Fifo
                    | NodeKind::Socket
            );
            let Some(parent) = n.parent else { continue };
            if !is_entry {
                continue;
            }
            let idx = *by_container.entry(parent).or_insert_with(|| {
                let p = &unpacked.nodes[parent as usize];
                filesystems.push(FsView {
                    container: parent,
                    format: p.format.clone().unwrap_or_default(),
                    entries: BTreeMap::new(),
                });
                filesystems.len() - 1
            });
            filesystems[idx].entries.insert(n.path.clone(), n.id);
            fs_of[n.id as usize] = Some(idx);
        }
        Analysis {
            unpacked,
            filesystems,
            fs_of,
            as_of: 0,
            config: DetectorConfig::builtin(),
            cancel: CancelToken::default(),
            network_programs: std::sync::OnceLock::new(),
            reach: std::sync::OnceLock::new(),
        }
    }

    /// Which programs run, listen and load which libraries, per filesystem: computed on first
    /// use and shared by every detector.
    pub fn reach(&self) -> &reach::Reach {
        self.reach.get_or_init(|| reach::Reach::compute(self))
    }

    /// Run the detectors with these settings (rule pack, extra password candidates).
    pub fn with_config(mut self, config: &'a DetectorConfig) -> Self {
        self.config = config;
        self
    }

    /// Stop between detectors once `cancel` is cancelled.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// The detectors' settings.
    pub fn config(&self) -> &'a DetectorConfig {
        self.config
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Judge time-dependent facts (certificate expiry) as of `secs` (Unix time), so that a
    /// scan can be repeated and verified with the same result.
    pub fn with_as_of(mut self, secs: i64) -> Self {
        self.as_of = secs;
        self
    }

    /// The reference time of this analysis, in Unix seconds.
    pub fn as_of(&self) -> i64 {
        self.as_of
    }

    /// The node with id `id`.
    pub fn node(&self, id: NodeId) -> &'a Node {
        &self.unpacked.nodes[id as usize]
    }

    /// The bytes of node `id` (empty when it holds none).
    pub fn bytes(&self, id: NodeId) -> &'a [u8] {
        self.unpacked.content(id).map(|b| &b[..]).unwrap_or(&[])
    }

    /// The filesystem a node belongs to.
    pub fn fs_of(&self, id: NodeId) -> Option<usize> {
        self.fs_of.get(id as usize).copied().flatten()
    }

    /// Every regular file of the tree, in node order.
    pub fn files(&self) -> impl Iterator<Item = FileRef<'a>> + '_ {
        self.unpacked
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::File)
            .map(move |n| FileRef {
                node: n,
                bytes: self.bytes(n.id),
                fs: self.fs_of(n.id),
            })
    }

    /// Look up `path` in filesystem `fs`, following symlinks inside that filesystem (at most
    /// 16 hops; a link that leaves the filesystem or loops resolves to nothing).
    pub fn resolve(&self, fs: usize, path: &str) -> Option<NodeId> {
        let view = self.filesystems.get(fs)?;
        let mut current = assay_unpack::normalize_path(path).0;
        for _ in 0..16 {
            let resolved = self.resolve_dirs(view, &current)?;
            let id = *view.entries.get(&resolved)?;
            let node = self.node(id);
            match (&node.kind, &node.link_target) {
                (NodeKind::Symlink, Some(target)) => {
                    current = join_link(&resolved, target);
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// Resolve symlinked directories among the parents of `path`.
    fn resolve_dirs(&self, view: &FsView, path: &str) -> Option<String> {
        let mut out = String::new();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            let candidate = format!("{out}/{part}");
            if i + 1 == parts.len() {
                return Some(candidate);
            }
            let mut hops = 0;
            let mut cur = candidate;
            while let Some(&id) = view.entries.get(&cur) {
                let n = self.node(id);
                match (&n.kind, &n.link_target) {
                    (NodeKind::Symlink, Some(t)) if hops < 16 => {
                        cur = join_link(&cur, t);
                        hops += 1;
                    }
                    _ => break,
                }
            }
            out = cur;
        }
        Some(if out.is_empty() { "/".into() } else { out })
    }

    /// Filesystems unpacked from files of filesystem `fs` (an archive inside the root
    /// filesystem, unpacked by a boot script at run time), nearest first.
    pub fn nested_filesystems(&self, fs: usize) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, view) in self.filesystems.iter().enumerate() {
            if i == fs {
                continue;
            }
            let mut cur = self.node(view.container).parent;
            let mut hops = 0;
            while let Some(id) = cur {
                if self.fs_of(id) == Some(fs) {
                    out.push((hops, i));
                    break;
                }
                cur = self.node(id).parent;
                hops += 1;
            }
        }
        out.sort();
        out.into_iter().map(|(_, i)| i).collect()
    }

    /// Like [`read`](Self::read), but when `path` is missing from `fs`, also looks in the
    /// filesystems nested inside it; returns the filesystem it was found in.
    pub fn read_nested(&self, fs: usize, path: &str) -> Option<(usize, NodeId, &'a [u8])> {
        if let Some((id, b)) = self.read(fs, path) {
            return Some((fs, id, b));
        }
        self.nested_filesystems(fs)
            .into_iter()
            .find_map(|n| self.read(n, path).map(|(id, b)| (n, id, b)))
    }

    /// The bytes of `path` in filesystem `fs`, following symlinks.
    pub fn read(&self, fs: usize, path: &str) -> Option<(NodeId, &'a [u8])> {
        let id = self.resolve(fs, path)?;
        (self.node(id).kind == NodeKind::File).then(|| (id, self.bytes(id)))
    }

    /// A finding for `rule` resting on `range` of node `node`, with evidence and hashes filled
    /// in from the node. Title, severity and context can be adjusted afterwards.
    pub fn finding<S: AsRef<str>>(
        &self,
        rule: &Rule<S>,
        node: NodeId,
        range: Range<usize>,
        title: impl Into<String>,
    ) -> Finding {
        let n = self.node(node);
        let bytes = self.bytes(node);
        let start = range.start.min(bytes.len());
        let end = range.end.clamp(start, bytes.len());
        let evidence = evidence_excerpt(&bytes[start..end]);
        Finding {
            rule: rule.id.as_ref().to_string(),
            category: rule.category,
            severity: rule.severity,
            confidence: Confidence::High,
            title: title.into(),
            path: n.path.clone(),
            location: n.location.clone(),
            node,
            range: ByteRange {
                start: start as u64,
                end: end as u64,
            },
            evidence,
            sha256: n.sha256.clone().unwrap_or_default(),
            context: BTreeMap::new(),
        }
    }
}

/// The evidence text of a finding whose range holds `bytes`: escaped, cut after
/// [`MAX_EVIDENCE`] bytes with a trailing `…`. `assay verify` recomputes it from the image.
pub fn evidence_excerpt(bytes: &[u8]) -> String {
    let mut evidence = escape_bytes(&bytes[..bytes.len().min(MAX_EVIDENCE)]);
    if bytes.len() > MAX_EVIDENCE {
        evidence.push('…');
    }
    evidence
}

/// Resolve a symlink target relative to the link's own path.
fn join_link(link_path: &str, target: &str) -> String {
    if target.starts_with('/') {
        assay_unpack::normalize_path(target).0
    } else {
        let parent = link_path.rsplit_once('/').map(|p| p.0).unwrap_or("");
        assay_unpack::normalize_path(&format!("{parent}/{target}")).0
    }
}

/// Every rule of every registered detector with the built-in settings; see
/// [`DetectorConfig::rules`] for a config with user rules.
pub fn all_rules() -> Vec<Rule<&'static str>> {
    DetectorConfig::builtin().rules()
}

/// Run every registered detector and return their findings, most severe first, in a
/// deterministic order.
pub fn run_detectors(analysis: &Analysis) -> Vec<Finding> {
    run_detectors_timed(analysis).0
}

/// Like [`run_detectors`], also returning the seconds each detector took (for `stats`).
/// A cancelled analysis starts no further detector (see [`Analysis::with_cancel`]).
pub fn run_detectors_timed(analysis: &Analysis) -> (Vec<Finding>, Vec<(&'static str, f64)>) {
    let results: Vec<(Vec<Finding>, &'static str, f64)> = detectors::registry()
        .par_iter()
        .filter(|_| !analysis.is_cancelled())
        .map(|d| {
            let started = std::time::Instant::now();
            let mut out = FindingSink::new();
            d.run(analysis, &mut out);
            let found = out.finish(analysis);
            (found, d.name(), started.elapsed().as_secs_f64())
        })
        .collect();
    let mut tagged = Vec::new();
    let mut times = Vec::new();
    for (i, (f, name, secs)) in results.into_iter().enumerate() {
        // Capped per detector as they arrive (see `FindingSink`).
        tagged.extend(f.into_iter().map(|f| (i, f)));
        times.push((name, secs));
    }
    let mut findings = fold_overlapping(tagged);
    sort_findings(&mut findings);
    (findings, times)
}

/// Findings of different rules on the same bytes of a file that report one way in — `nc -l
/// -p 4444 -e /bin/sh` is a bind shell to the remote-access detector, a shell handed to the
/// network to the reverse-shell detector and a netcat shell to the rule pack — are one
/// finding: the most severe (among equals, the earlier detector of the registry, whose
/// rule is the more specific), with the others named in its `also_reported_by` context.
/// Only backdoor and remote-access findings fold; `findings` carry their detector's index.
fn fold_overlapping(tagged: Vec<(usize, Finding)>) -> Vec<Finding> {
    use assay_model::Category;
    let foldable = |f: &Finding| {
        matches!(f.category, Category::Backdoor | Category::RemoteAccess)
            && f.range.end > f.range.start
    };
    let mut order: Vec<usize> = (0..tagged.len())
        .filter(|&i| foldable(&tagged[i].1))
        .collect();
    order.sort_by_key(|&i| {
        (
            tagged[i].1.node,
            tagged[i].1.range.start,
            tagged[i].1.range.end,
        )
    });
    let mut drop = vec![false; tagged.len()];
    let mut notes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut k = 0;
    while k < order.len() {
        // One cluster: overlapping ranges of one node.
        let first = &tagged[order[k]].1;
        let (node, mut end) = (first.node, first.range.end);
        let mut j = k + 1;
        while j < order.len()
            && tagged[order[j]].1.node == node
            && tagged[order[j]].1.range.start < end
        {
            end = end.max(tagged[order[j]].1.range.end);
            j += 1;
        }
        let cluster = &order[k..j];
        if cluster.len() > 1 {
            let keeper = *cluster
                .iter()
                .min_by_key(|&&i| (std::cmp::Reverse(tagged[i].1.severity), tagged[i].0, i))
                .unwrap_or(&cluster[0]);
            for &i in cluster {
                if tagged[i].1.rule != tagged[keeper].1.rule {
                    drop[i] = true;
                    notes.entry(keeper).or_default().push(format!(
                        "{} ({}): {}",
                        tagged[i].1.rule,
                        tagged[i].1.severity.as_str(),
                        tagged[i].1.title
                    ));
                }
            }
        }
        k = j;
    }
    let mut out = Vec::with_capacity(tagged.len());
    for (i, (_, mut f)) in tagged.into_iter().enumerate() {
        if drop[i] {
            continue;
        }
        if let Some(n) = notes.remove(&i) {
            f.context.insert("also_reported_by".into(), n.join("; "));
        }
        out.push(f);
    }
    out
}

/// Most findings of one rule listed for one node; the rest are counted (see [`cap_findings`]).
pub const MAX_FINDINGS_PER_RULE_AND_NODE: usize = 100;
/// Most findings of one rule listed for one image.
pub const MAX_FINDINGS_PER_RULE: usize = 10_000;

/// Keep at most [`MAX_FINDINGS_PER_RULE_AND_NODE`] findings of a rule per node and
/// [`MAX_FINDINGS_PER_RULE`] per image, the first in canonical order (`findings` must be
/// sorted by [`sort_findings`], so the worst are kept), and add for every rule that lost some
/// one `ASSAY-EVASION-002` finding counting them, on the node that lost most. A crafted image
/// then cannot make the report, its memory or its verification grow without bound, and the
/// flood itself is reported.
pub fn cap_findings(analysis: &Analysis, findings: Vec<Finding>) -> Vec<Finding> {
    let mut sink = FindingSink::new();
    sink.extend(findings);
    sink.finish(analysis)
}

/// Canonical order of findings: severity (worst first), then rule, location and range.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.location.cmp(&b.location))
            .then_with(|| a.range.cmp(&b.range))
            .then_with(|| a.title.cmp(&b.title))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use assay_model::Severity;

    #[test]
    fn findings_are_capped_per_file_and_per_rule_and_the_rest_counted() {
        use testutil::{tree, TestEntry};
        let names: Vec<String> = (0..300).map(|i| format!("/f{i}")).collect();
        let entries: Vec<TestEntry> = names
            .iter()
            .map(|n| TestEntry::File(n, b"secret", 0o644))
            .collect();
        let t = tree(&entries);
        let a = Analysis::new(&t);
        let rule = &detectors::completeness::FINDINGS_CAPPED;
        let mut flood = Vec::new();
        // 150 findings on the first file, 50 on each of the other 299: 15,100 in all.
        for id in 2..302u32 {
            let n = if id == 2 { 150 } else { 50 };
            for i in 0..n {
                let mut f = a.finding(rule, id, 0..1, format!("hit {i}"));
                f.rule = "ASSAY-TEST-001".into();
                f.severity = if id == 300 {
                    Severity::Critical
                } else {
                    Severity::Low
                };
                flood.push(f);
            }
        }
        sort_findings(&mut flood);
        let kept = cap_findings(&a, flood);
        let listed = kept.iter().filter(|f| f.rule == "ASSAY-TEST-001").count();
        assert_eq!(listed, MAX_FINDINGS_PER_RULE);
        let per_node = kept
            .iter()
            .filter(|f| f.rule == "ASSAY-TEST-001" && f.node == 2);
        assert_eq!(per_node.count(), MAX_FINDINGS_PER_RULE_AND_NODE);
        assert!(
            kept.iter().any(|f| f.node == 300),
            "the critical ones sort first"
        );
        let summary: Vec<_> = kept.iter().filter(|f| f.rule == rule.id).collect();
        assert_eq!(summary.len(), 1);
        assert_eq!(
            summary[0].context["not_listed"],
            (15_100 - 10_000).to_string()
        );
        assert_eq!(
            summary[0].severity,
            Severity::Low,
            "the critical ones were all kept"
        );
    }

    #[test]
    fn links_resolve_relative_to_their_directory() {
        assert_eq!(join_link("/etc/passwd", "/var/passwd"), "/var/passwd");
        assert_eq!(
            join_link("/usr/bin/telnetd", "../../bin/busybox"),
            "/bin/busybox"
        );
        assert_eq!(join_link("/a", "../../../x"), "/x");
    }
}

/// Builders of small in-memory trees for detector tests, so a detector can be tested on
/// exactly the files it cares about without packing an image.
pub mod testutil {
    use assay_model::{hex, ImageInfo, Node, NodeKind, Stats};
    use assay_unpack::{sha256, Blob, UnpackResult};

    /// One entry of a test filesystem.
    pub enum TestEntry<'a> {
        /// A regular file with its bytes and mode.
        File(&'a str, &'a [u8], u32),
        /// A directory.
        Dir(&'a str),
        /// A symlink and its target.
        Symlink(&'a str, &'a str),
    }

    /// Run one detector on a test filesystem made of `entries` and return its findings.
    pub fn run_detector(
        detector: &dyn crate::Detector,
        entries: &[TestEntry],
    ) -> Vec<assay_model::Finding> {
        let t = tree(entries);
        let a = crate::Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        detector.run(&a, &mut out);
        out.held().to_vec()
    }

    /// An unpacked tree holding one filesystem (`rootfs`, format `test`) with these entries.
    pub fn tree(entries: &[TestEntry]) -> UnpackResult {
        let mut nodes = Vec::new();
        let mut contents = Vec::new();
        let mut image = Node::new(0, None, NodeKind::Image, "test.bin".into());
        image.location = "test.bin".into();
        nodes.push(image);
        contents.push(Some(Blob::from(Vec::new())));
        let mut fs = Node::new(1, Some(0), NodeKind::Container, "test".into());
        fs.format = Some("test".into());
        fs.location = "test.bin ▸ test@0x0".into();
        fs.offset = Some(0);
        nodes.push(fs);
        contents.push(None);
        for e in entries {
            let id = nodes.len() as u32;
            let (kind, path, data, mode, target) = match e {
                TestEntry::File(p, d, m) => (NodeKind::File, *p, Some(*d), *m | 0o100000, None),
                TestEntry::Dir(p) => (NodeKind::Directory, *p, None, 0o40755, None),
                TestEntry::Symlink(p, t) => (NodeKind::Symlink, *p, None, 0o120777, Some(*t)),
            };
            let mut n = Node::new(id, Some(1), kind, path.to_string());
            n.location = format!("test.bin ▸ test@0x0 ▸ {path}");
            n.mode = Some(mode);
            n.link_target = target.map(str::to_string);
            if let Some(d) = data {
                n.size = d.len() as u64;
                n.sha256 = Some(hex(&sha256(d)));
            }
            nodes.push(n);
            contents.push(data.map(|d| Blob::from(d.to_vec())));
        }
        UnpackResult {
            timing_dependent: false,
            image: ImageInfo {
                name: "test.bin".into(),
                size: 0,
                sha256: hex(&sha256(b"")),
            },
            nodes,
            contents,
            warnings: Vec::new(),
            stats: Stats::default(),
        }
    }
}

#[cfg(test)]
mod analysis_tests {
    use super::testutil::{tree, TestEntry::*};
    use super::*;
    use assay_model::{Category, Severity};

    #[test]
    fn one_netcat_shell_line_is_one_finding() {
        let t = tree(&[
            File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
            File("/etc/init.d/rcS", b"#!/bin/sh\n/bin/diagd.sh &\n", 0o755),
            File(
                "/bin/diagd.sh",
                b"#!/bin/sh\nwhile true; do\n  nc -l -p 4444 -e /bin/sh\ndone\n",
                0o755,
            ),
        ]);
        let a = Analysis::new(&t);
        let found: Vec<Finding> = run_detectors(&a)
            .into_iter()
            .filter(|f| f.path == "/bin/diagd.sh" && f.severity >= Severity::High)
            .collect();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].context.contains_key("also_reported_by"),
            "{:#?}",
            found[0]
        );
    }

    #[test]
    fn resolves_paths_through_symlinked_directories() {
        let t = tree(&[
            Dir("/etc"),
            Symlink("/etc/passwd", "../var/passwd"),
            Dir("/var"),
            File("/var/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
            Symlink("/cfg", "/var"),
            Symlink("/loop", "/loop"),
        ]);
        let a = Analysis::new(&t);
        assert_eq!(a.filesystems.len(), 1);
        let (_, bytes) = a.read(0, "/etc/passwd").unwrap();
        assert!(bytes.starts_with(b"root:"));
        assert!(a.read(0, "/cfg/passwd").is_some());
        assert!(a.resolve(0, "/loop").is_none());
        let f = a.files().next().unwrap();
        let finding = a.finding(
            &Rule {
                id: "ASSAY-TEST-001",
                category: Category::Account,
                severity: Severity::High,
                title: "t",
                description: "d",
            },
            f.node.id,
            0..4,
            "root account",
        );
        assert_eq!(finding.evidence, "root");
        assert_eq!(finding.path, "/var/passwd");
    }
}
