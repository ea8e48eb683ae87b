//! The recursive driver: scan a blob for formats, carve and unpack what it finds, recurse
//! into every stream and file, and flatten the result into the report's node list.
//!
//! Identical content (by SHA-256) is unpacked once; independent children unpack in parallel;
//! ids are assigned afterwards in pre-order, so the result does not depend on thread timing.

use crate::format::Probe;
use crate::format::{Entry, EntryData, EntryKind, Format, UnpackContext, Unpacked};
use crate::limits::{Budget, Limits};
use crate::scan::{Candidate, MagicScanner};
use crate::Blob;
use assay_model::{hex, ImageInfo, Node, NodeId, NodeKind, Stats, Warning, WarningKind};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Unknown ranges shorter than this are not listed (alignment slack between containers).
const MIN_UNKNOWN_REGION: usize = 16;
/// Files shorter than this are not scanned for embedded formats.
const MIN_SCAN_SIZE: usize = 32;
/// Detail key marking the node of a format that describes its whole parent blob without
/// claiming it (see [`Format::describes_whole_blob`]): the parent's bytes stay unexplained.
pub const DESCRIBES: &str = "describes";
/// Entropy above which an unknown region is flagged as possibly encrypted or compressed.
pub const HIGH_ENTROPY: f64 = 7.5;

/// Called with (bytes of the image done, image size) as the top-level scan advances.
pub type ProgressFn = dyn Fn(u64, u64) + Send + Sync;

/// Options of one unpack run.
#[derive(Clone, Default)]
pub struct UnpackOptions {
    /// Limits; the defaults for the image's size when `None`.
    pub limits: Option<Limits>,
    /// Progress callback for the top-level scan.
    pub progress: Option<Arc<ProgressFn>>,
    /// Stops the run early when cancelled (the result is then partial and says so).
    pub cancel: CancelToken,
}

/// A cheap, clonable flag that asks a running unpack (or analysis) to stop: a server drops a
/// scan whose client went away, a front end stops on Ctrl-C. The driver checks it before each
/// blob it searches and each candidate it unpacks, so a cancelled run ends within one
/// format's unpack of the call.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask every run holding a clone of this token to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called on this token or a clone of it.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The unpacked tree of one image, with the bytes of every node that holds bytes.
pub struct UnpackResult {
    /// The image itself.
    pub image: ImageInfo,
    /// Every node, indexed by id, in pre-order.
    pub nodes: Vec<Node>,
    /// Bytes of each node (by id) for images, streams, files and unknown regions.
    pub contents: Vec<Option<Blob>>,
    /// What could not be unpacked, with where.
    pub warnings: Vec<Warning>,
    /// Figures of the run.
    pub stats: Stats,
}

impl UnpackResult {
    /// The bytes of node `id`, if it holds any.
    pub fn content(&self, id: NodeId) -> Option<&Blob> {
        self.contents.get(id as usize).and_then(|c| c.as_ref())
    }
}

/// How a blob came to be, which decides how hard it is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The image: scanned everywhere, gaps listed.
    Image,
    /// A decompressed stream or partition: scanned everywhere, gaps listed when it held
    /// anything.
    Stream,
    /// A file inside a filesystem: scanned unless it is an ELF program or tiny.
    File,
}

/// A node before ids are assigned.
struct Pending {
    node: Node,
    label: String,
    content: Option<Blob>,
    hash: Option<[u8; 32]>,
    /// For containers: the entries' nodes. For byte-holding nodes: what was found inside.
    children: Children,
    warnings: Vec<(WarningKind, String)>,
}

enum Children {
    Owned(Vec<Pending>),
    Analysis(Arc<BlobAnalysis>),
}

/// What scanning one blob found: containers and unknown ranges, plus problems.
#[derive(Default)]
struct BlobAnalysis {
    children: Vec<Pending>,
    warnings: Vec<(WarningKind, String)>,
}

/// The engine: a registry of formats and the scanner built from it.
pub struct Unpacker {
    formats: Vec<&'static dyn Format>,
    scanner: MagicScanner,
    fallbacks: Vec<usize>,
    /// Per format: whether it describes whole blobs (see [`Format::describes_whole_blob`]).
    whole_blob: Vec<bool>,
}

impl Default for Unpacker {
    fn default() -> Self {
        Self::new()
    }
}

impl Unpacker {
    /// An engine with every registered format.
    pub fn new() -> Self {
        Self::with_formats(crate::formats::registry())
    }

    /// An engine with the given formats only (tests, restricted runs).
    pub fn with_formats(formats: Vec<&'static dyn Format>) -> Self {
        let scanner = MagicScanner::new(&formats);
        let fallbacks = formats
            .iter()
            .enumerate()
            .filter(|(_, f)| f.magics().is_empty() && f.finder().is_none())
            .map(|(i, _)| i)
            .collect();
        let whole_blob = formats.iter().map(|f| f.describes_whole_blob()).collect();
        Unpacker {
            formats,
            scanner,
            fallbacks,
            whole_blob,
        }
    }

    /// Names of the registered formats, in registry order.
    pub fn format_names(&self) -> Vec<&'static str> {
        self.formats.iter().map(|f| f.name()).collect()
    }

    /// Memory-map and unpack an image file.
    pub fn unpack_file(&self, path: &Path, opts: &UnpackOptions) -> std::io::Result<UnpackResult> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        let blob = if len == 0 {
            Blob::from(Vec::new())
        } else {
            // SAFETY: the map is read-only; Assay does not modify the image, and a concurrent
            // writer truncating it is outside what a scan can defend against (as for every
            // tool that maps its input).
            #[allow(unsafe_code)]
            let map = unsafe { memmap2::Mmap::map(&file)? };
            Blob::new(map)
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Ok(self.unpack_bytes(&name, blob, opts))
    }

    /// Unpack an image held in memory.
    pub fn unpack_bytes(&self, name: &str, data: Blob, opts: &UnpackOptions) -> UnpackResult {
        let started = Instant::now();
        let limits = opts
            .limits
            .clone()
            .unwrap_or_else(|| Limits::for_image(data.len() as u64));
        let run = Run {
            engine: self,
            budget: Budget::new(limits),
            cache: Mutex::new(HashMap::new()),
            nodes: AtomicUsize::new(1),
            scanned: AtomicU64::new(0),
            progress: opts.progress.clone(),
            cancel: opts.cancel.clone(),
        };
        let (hash, prescanned) = run.scan_image(&data);
        let top = Lineage { hash, up: None };
        let analysis = run.analyse_blob(&data, 0, Role::Image, Some(&top), Some(prescanned));
        let mut root = Node::new(0, None, NodeKind::Image, name.to_string());
        root.size = data.len() as u64;
        root.sha256 = Some(hex(&hash));
        let pending = Pending {
            node: root,
            label: name.to_string(),
            content: Some(data.clone()),
            hash: Some(hash),
            children: Children::Analysis(Arc::new(analysis)),
            warnings: Vec::new(),
        };
        let mut flat = Flattener::default();
        flat.push(&pending, None, "");
        if run.cancel.is_cancelled() {
            flat.warnings.push(Warning {
                node: Some(0),
                location: name.to_string(),
                kind: WarningKind::Cancelled,
                message: "the run was cancelled; the tree is incomplete".into(),
            });
        }
        let mut stats = Stats {
            bytes_scanned: run.scanned.load(Ordering::Relaxed),
            bytes_unpacked: run.budget.used(),
            nodes: flat.nodes.len() as u64,
            seconds: BTreeMap::new(),
        };
        stats
            .seconds
            .insert("unpack".into(), started.elapsed().as_secs_f64());
        UnpackResult {
            image: ImageInfo {
                name: name.to_string(),
                size: data.len() as u64,
                sha256: hex(&hash),
            },
            nodes: flat.nodes,
            contents: flat.contents,
            warnings: flat.warnings,
            stats,
        }
    }
}

/// The chain of contents a blob was found in, to stop a container that contains itself.
struct Lineage<'a> {
    hash: [u8; 32],
    up: Option<&'a Lineage<'a>>,
}

impl Lineage<'_> {
    fn contains(mut cur: Option<&Lineage<'_>>, hash: &[u8; 32]) -> bool {
        while let Some(l) = cur {
            if &l.hash == hash {
                return true;
            }
            cur = l.up;
        }
        false
    }
}

/// Content hash of a blob and whether it was searched as a file.
type CacheKey = ([u8; 32], bool);

/// State shared by all threads of one unpack run.
struct Run<'e> {
    engine: &'e Unpacker,
    budget: Budget,
    cache: Mutex<HashMap<CacheKey, Arc<BlobAnalysis>>>,
    nodes: AtomicUsize,
    scanned: AtomicU64,
    progress: Option<Arc<ProgressFn>>,
    cancel: CancelToken,
}

impl Run<'_> {
    fn take_nodes(&self, n: usize) -> bool {
        let before = self.nodes.fetch_add(n, Ordering::Relaxed);
        before + n <= self.budget.limits().max_nodes
    }

    /// Analyse a blob once per content: the cache key is its hash plus whether it is
    /// searched everywhere (a file and a stream with the same bytes are searched alike only
    /// when their roles agree).
    fn analyse_cached(
        &self,
        data: &Blob,
        hash: [u8; 32],
        depth: usize,
        role: Role,
        up: Option<&Lineage<'_>>,
    ) -> Arc<BlobAnalysis> {
        if Lineage::contains(up, &hash) {
            return Arc::new(BlobAnalysis {
                children: Vec::new(),
                warnings: vec![(
                    WarningKind::SelfReference,
                    "this content is identical to a container it sits in; not unpacked again"
                        .into(),
                )],
            });
        }
        let key = (hash, role == Role::File);
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return hit;
        }
        let here = Lineage { hash, up };
        let analysis = Arc::new(self.analyse_blob(data, depth, role, Some(&here), None));
        if let Ok(mut c) = self.cache.lock() {
            c.entry(key).or_insert_with(|| Arc::clone(&analysis));
        }
        analysis
    }

    /// Search the image in one pass, window by window: magic scan, the probes of every
    /// candidate and the image's hash all read a window while it is hot, and then the
    /// window is handed back (a large memory-mapped image never becomes resident).
    fn scan_image(&self, data: &Blob) -> ([u8; 32], Vec<(Candidate, Probe)>) {
        let mut hasher = Sha256::new();
        let mut probed = Vec::new();
        self.engine
            .scanner
            .scan_windows(data, &mut |window, candidates| {
                for c in candidates {
                    if self.engine.whole_blob[c.format] {
                        // A marker: the format is tried on the whole blob later.
                        probed.push((c, Probe::default()));
                    } else if let Some(p) = self.engine.formats[c.format].probe(&data[c.start..]) {
                        probed.push((c, p));
                    }
                }
                hasher.update(&data[window.clone()]);
                data.release(window);
            });
        probed.sort_by_key(|(c, _)| *c);
        (hasher.finalize().into(), probed)
    }

    fn analyse_blob(
        &self,
        data: &Blob,
        depth: usize,
        role: Role,
        lineage: Option<&Lineage<'_>>,
        prescanned: Option<Vec<(Candidate, Probe)>>,
    ) -> BlobAnalysis {
        let mut out = BlobAnalysis::default();
        if self.cancel.is_cancelled() {
            return out;
        }
        if depth > self.budget.limits().max_depth {
            out.warnings.push((
                WarningKind::Limit,
                format!(
                    "nesting deeper than {} containers; not unpacked further",
                    self.budget.limits().max_depth
                ),
            ));
            return out;
        }
        let scan = match role {
            Role::Image | Role::Stream => true,
            Role::File => data.len() >= MIN_SCAN_SIZE && !data.starts_with(b"\x7fELF"),
        };
        if !scan {
            return out;
        }
        self.scanned.fetch_add(data.len() as u64, Ordering::Relaxed);
        // Candidates with their probe when the image scan already ran it, else probed here.
        let work: Vec<(Candidate, Option<Probe>)> = match prescanned {
            Some(p) => p.into_iter().map(|(c, p)| (c, Some(p))).collect(),
            None => self
                .engine
                .scanner
                .candidates(data)
                .into_iter()
                .map(|c| (c, None))
                .collect(),
        };
        let (markers, work): (Vec<_>, Vec<_>) = work
            .into_iter()
            .partition(|(c, _)| self.engine.whole_blob[c.format]);
        let mut claimed_end = 0usize;
        let mut gaps_from = 0usize;
        for (cand, pre) in work {
            if self.cancel.is_cancelled() {
                break;
            }
            if cand.start < claimed_end {
                continue;
            }
            let format = self.engine.formats[cand.format];
            let tail = &data[cand.start..];
            let probe = match pre {
                Some(p) => p,
                None => match format.probe(tail) {
                    Some(p) => p,
                    None => continue,
                },
            };
            let available = tail.len() as u64;
            let span = probe.length.map(|l| l.min(available));
            let view = match span {
                Some(l) => data.slice(cand.start..cand.start + l as usize),
                None => data.slice(cand.start..data.len()),
            };
            let Some(view) = view else { continue };
            let ctx = UnpackContext {
                budget: &self.budget,
            };
            let result = format.unpack(&view, &ctx);
            let (unpacked, error) = match result {
                Ok(u) => (u, None),
                Err(e) if probe.length.is_some() => (Unpacked::default(), Some(e)),
                // A stream candidate whose decoder fails at once is a false hit of a
                // short magic, not a broken container.
                Err(_) => continue,
            };
            let consumed = span
                .or(unpacked.consumed.map(|c| c.min(available)))
                .unwrap_or(available);
            if consumed == 0 {
                continue;
            }
            if cand.start > gaps_from {
                self.push_unknown(&mut out, data, gaps_from, cand.start);
            }
            let mut container = self.container(
                format,
                &probe.description,
                &view,
                cand.start,
                consumed,
                unpacked,
                depth,
                lineage,
            );
            if let Some(l) = probe.length {
                if l > available {
                    container.warnings.push((
                        WarningKind::Truncated,
                        format!(
                            "{} declares {l} bytes but only {available} remain",
                            format.name()
                        ),
                    ));
                }
            }
            if let Some(e) = error {
                container.warnings.push((e.kind(), e.to_string()));
            }
            out.children.push(container);
            claimed_end = cand.start + consumed as usize;
            gaps_from = claimed_end;
            if role == Role::Image {
                if let Some(p) = &self.progress {
                    p(claimed_end as u64, data.len() as u64);
                }
            }
        }
        // Markers inside a claimed container belong to what that container holds (an OS
        // image inside a firmware package is described where it is unpacked), not to this
        // blob.
        let claimed: Vec<(u64, u64)> = out
            .children
            .iter()
            .filter(|c| c.node.kind == NodeKind::Container)
            .filter_map(|c| Some((c.node.offset?, c.node.offset? + c.node.size)))
            .collect();
        let free_markers: Vec<Candidate> = markers
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| {
                let at = c.start as u64;
                !claimed.iter().any(|&(s, e)| s <= at && at < e)
            })
            .collect();
        let overlays = self.describe_whole(data, &free_markers, depth, lineage);
        if out.children.is_empty() {
            if role != Role::File || data.len() >= 4096 {
                self.try_fallbacks(&mut out, data, depth, lineage);
            }
            if out.children.is_empty() && role == Role::Image {
                self.push_unknown(&mut out, data, 0, data.len());
            }
        } else if gaps_from < data.len() && role != Role::File {
            self.push_unknown(&mut out, data, gaps_from, data.len());
        }
        out.children.splice(0..0, overlays);
        if role == Role::Image {
            if let Some(p) = &self.progress {
                p(data.len() as u64, data.len() as u64);
            }
        }
        out
    }

    /// Formats that describe whole blobs, tried once each on the whole blob when one of their
    /// markers occurs in it: their nodes span the blob (offset 0) without claiming it.
    fn describe_whole(
        &self,
        data: &Blob,
        markers: &[Candidate],
        depth: usize,
        lineage: Option<&Lineage<'_>>,
    ) -> Vec<Pending> {
        let mut formats: Vec<usize> = markers.iter().map(|c| c.format).collect();
        formats.sort_unstable();
        formats.dedup();
        let mut out = Vec::new();
        for idx in formats {
            let format = self.engine.formats[idx];
            let Some(probe) = format.probe(data) else {
                continue;
            };
            let ctx = UnpackContext {
                budget: &self.budget,
            };
            let (unpacked, error) = match format.unpack(data, &ctx) {
                Ok(u) => (u, None),
                Err(e) => (Unpacked::default(), Some(e)),
            };
            let mut container = self.container(
                format,
                &probe.description,
                data,
                0,
                data.len() as u64,
                unpacked,
                depth,
                lineage,
            );
            if let Some(e) = error {
                container.warnings.push((e.kind(), e.to_string()));
            }
            // Readers of the tree tell a description from a container that claims its bytes.
            container
                .node
                .details
                .insert(DESCRIBES.into(), "the whole blob".into());
            out.push(container);
        }
        out
    }

    /// Formats without magic (obfuscation layers) are tried on whole blobs nothing claimed.
    fn try_fallbacks(
        &self,
        out: &mut BlobAnalysis,
        data: &Blob,
        depth: usize,
        lineage: Option<&Lineage<'_>>,
    ) {
        for &idx in &self.engine.fallbacks {
            let format = self.engine.formats[idx];
            let Some(probe) = format.probe(data) else {
                continue;
            };
            let ctx = UnpackContext {
                budget: &self.budget,
            };
            match format.unpack(data, &ctx) {
                Ok(u) => {
                    let len = data.len() as u64;
                    out.children.push(self.container(
                        format,
                        &probe.description,
                        data,
                        0,
                        len,
                        u,
                        depth,
                        lineage,
                    ));
                    return;
                }
                Err(e) => out.warnings.push((
                    e.kind(),
                    format!("{} looked likely but failed: {e}", format.name()),
                )),
            }
        }
    }

    fn push_unknown(&self, out: &mut BlobAnalysis, data: &Blob, from: usize, to: usize) {
        if to <= from || to - from < MIN_UNKNOWN_REGION || !self.take_nodes(1) {
            return;
        }
        let bytes = &data[from..to];
        let e = entropy_releasing(data, from..to);
        let mut node = Node::new(0, None, NodeKind::Unknown, format!("unknown@{from:#x}"));
        node.offset = Some(from as u64);
        node.size = (to - from) as u64;
        node.entropy = Some((e * 1000.0).round() / 1000.0);
        let fill = padding_byte(bytes);
        if let Some(b) = fill {
            node.details.insert("padding".into(), format!("{b:#04x}"));
        }
        let mut warnings = Vec::new();
        if e > HIGH_ENTROPY && fill.is_none() && bytes.len() >= 1024 {
            warnings.push((
                WarningKind::HighEntropy,
                format!(
                    "{} bytes at {from:#x} with entropy {e:.2} bits/byte matched no format: possibly encrypted or compressed by an unknown method",
                    bytes.len()
                ),
            ));
        }
        out.children.push(Pending {
            label: node.path.clone(),
            node,
            content: data.slice(from..to),
            hash: None,
            children: Children::Owned(Vec::new()),
            warnings,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn container(
        &self,
        format: &dyn Format,
        description: &str,
        view: &Blob,
        offset: usize,
        consumed: u64,
        unpacked: Unpacked,
        depth: usize,
        lineage: Option<&Lineage<'_>>,
    ) -> Pending {
        let mut node = Node::new(0, None, NodeKind::Container, format.name().to_string());
        node.format = Some(format.name().to_string());
        node.offset = Some(offset as u64);
        node.size = consumed;
        node.details = unpacked.details;
        if !description.is_empty() {
            node.details
                .insert("description".into(), description.to_string());
        }
        let claimed = view.slice(0..(consumed as usize).min(view.len()));
        node.sha256 = claimed.as_ref().map(|c| hex(&sha256(c)));
        node.mtime = unpacked.mtime;
        let mut warnings = unpacked.warnings;
        let mut entries = unpacked.entries;
        let max = self.budget.limits().max_entries;
        if entries.len() > max {
            warnings.push((
                WarningKind::Limit,
                format!("{} entries; only the first {max} are kept", entries.len()),
            ));
            entries.truncate(max);
        }
        if !self.take_nodes(entries.len()) {
            warnings.push((
                WarningKind::Limit,
                format!(
                    "the tree holds more than {} nodes; entries not kept",
                    self.budget.limits().max_nodes
                ),
            ));
            entries.clear();
        }
        let entries = resolve_hardlinks(entries, view);
        let children: Vec<Pending> = entries
            .into_par_iter()
            .map(|e| self.entry(e, view, depth, lineage))
            .collect();
        Pending {
            label: format!("{}@{offset:#x}", format.name()),
            node,
            content: None,
            hash: None,
            children: Children::Owned(children),
            warnings,
        }
    }

    fn entry(
        &self,
        entry: Entry,
        container: &Blob,
        depth: usize,
        lineage: Option<&Lineage<'_>>,
    ) -> Pending {
        let mut warnings = Vec::new();
        let (kind, label) = match &entry.kind {
            EntryKind::Stream => {
                let label = if entry.path.is_empty() {
                    "data".to_string()
                } else {
                    entry.path.clone()
                };
                (NodeKind::Stream, label)
            }
            other => {
                let (path, suspicious) = normalize_path(&entry.path);
                if suspicious {
                    warnings.push((
                        WarningKind::PathTraversal,
                        format!(
                            "entry name {:?} climbs above its root; kept as {path:?}",
                            entry.path
                        ),
                    ));
                }
                let kind = match other {
                    EntryKind::File | EntryKind::Hardlink(_) => NodeKind::File,
                    EntryKind::Directory => NodeKind::Directory,
                    EntryKind::Symlink(_) => NodeKind::Symlink,
                    EntryKind::Device { .. } => NodeKind::Device,
                    EntryKind::Fifo => NodeKind::Fifo,
                    EntryKind::Socket => NodeKind::Socket,
                    EntryKind::Stream => NodeKind::Stream,
                };
                (kind, path)
            }
        };
        let mut node = Node::new(0, None, kind, label.clone());
        node.mode = entry.mode;
        node.uid = entry.uid;
        node.gid = entry.gid;
        node.mtime = entry.mtime;
        node.details = entry.details;
        match &entry.kind {
            EntryKind::Symlink(t) => node.link_target = Some(t.clone()),
            EntryKind::Hardlink(t) => {
                node.details.insert("hardlink_to".into(), t.clone());
            }
            EntryKind::Device {
                block,
                major,
                minor,
            } => {
                node.device = Some((*major, *minor));
                node.details.insert(
                    "device".into(),
                    if *block { "block" } else { "char" }.into(),
                );
            }
            _ => {}
        }
        let content = match entry.data {
            EntryData::None => None,
            EntryData::Owned(b) => Some(b),
            EntryData::Range { offset, length } => {
                let range = usize::try_from(offset).ok().and_then(|o| {
                    let l = usize::try_from(length).ok()?;
                    Some(o..o.checked_add(l)?)
                });
                let slice = range.and_then(|r| container.slice(r));
                if slice.is_none() {
                    warnings.push((
                        WarningKind::Truncated,
                        format!("data at {offset:#x}+{length:#x} lies outside its container"),
                    ));
                }
                slice
            }
        };
        if matches!(kind, NodeKind::File | NodeKind::Stream) && content.is_none() {
            // A file without readable data still gets its (empty) identity.
        }
        let mut hash = None;
        let mut children = Children::Owned(Vec::new());
        if let Some(bytes) = &content {
            let h = sha256(bytes);
            node.size = bytes.len() as u64;
            node.sha256 = Some(hex(&h));
            hash = Some(h);
            if !bytes.is_empty() {
                let role = if kind == NodeKind::Stream {
                    Role::Stream
                } else {
                    Role::File
                };
                children =
                    Children::Analysis(self.analyse_cached(bytes, h, depth + 1, role, lineage));
            }
        }
        Pending {
            node,
            label,
            content,
            hash,
            children,
            warnings,
        }
    }
}

/// Give hard links the bytes of the entry they point to (tar and cpio store them once).
fn resolve_hardlinks(mut entries: Vec<Entry>, container: &Blob) -> Vec<Entry> {
    if !entries
        .iter()
        .any(|e| matches!(e.kind, EntryKind::Hardlink(_)))
    {
        return entries;
    }
    let by_path: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(i, e)| (normalize_path(&e.path).0, i))
        .collect();
    for i in 0..entries.len() {
        if let EntryKind::Hardlink(target) = &entries[i].kind {
            if !matches!(entries[i].data, EntryData::None) {
                continue;
            }
            if let Some(&j) = by_path.get(&normalize_path(target).0) {
                let data = match &entries[j].data {
                    EntryData::Range { offset, length } => EntryData::Range {
                        offset: *offset,
                        length: *length,
                    },
                    EntryData::Owned(b) => EntryData::Owned(b.clone()),
                    EntryData::None => EntryData::None,
                };
                entries[i].data = data;
            }
        }
    }
    let _ = container;
    entries
}

/// Normalise an entry name to an absolute path inside its root: `.` and empty components
/// dropped, `..` resolved without ever climbing above the root, `\` treated as a separator.
/// Returns the path and whether the name tried to climb above the root.
pub fn normalize_path(name: &str) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::new();
    let mut suspicious = false;
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    suspicious = true;
                }
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(name.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    (out, suspicious)
}

fn padding_byte(bytes: &[u8]) -> Option<u8> {
    let first = *bytes.first()?;
    (matches!(first, 0x00 | 0xff) && bytes.iter().all(|&b| b == first)).then_some(first)
}

/// Regions larger than this get their entropy estimated from evenly spread samples.
const ENTROPY_SAMPLE_ABOVE: usize = 16 << 20;
/// Size of each sample window of an estimated entropy.
const ENTROPY_WINDOW: usize = 64 << 10;

/// Entropy of `range` of a blob. Up to 16 MiB every byte counts; above that it is estimated
/// from 256 windows of 64 KiB spread evenly over the region (an unclaimed range that large is
/// compressed, encrypted or padding, and the estimate tells those apart as well), so that a
/// large unknown image costs a fraction of a pass. Sampled windows are handed back with
/// `release`.
fn entropy_releasing(data: &Blob, range: std::ops::Range<usize>) -> f64 {
    let mut counts = [0u64; 256];
    let len = range.end.saturating_sub(range.start);
    let windows: Vec<std::ops::Range<usize>> = if len <= ENTROPY_SAMPLE_ABOVE {
        let step = crate::scan::RELEASE_STEP;
        (range.start..range.end)
            .step_by(step)
            .map(|p| p..(p + step).min(range.end))
            .collect()
    } else {
        let n = ENTROPY_SAMPLE_ABOVE / ENTROPY_WINDOW;
        let stride = (len - ENTROPY_WINDOW) / (n - 1);
        (0..n)
            .map(|i| {
                let start = range.start + i * stride;
                start..(start + ENTROPY_WINDOW).min(range.end)
            })
            .collect()
    };
    for w in windows {
        for &b in &data[w.clone()] {
            counts[b as usize] += 1;
        }
        data.release(w);
    }
    crate::scan::entropy_of_counts(&counts)
}

/// SHA-256 of a byte slice.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Assigns ids in pre-order and collects nodes, contents and warnings.
#[derive(Default)]
struct Flattener {
    nodes: Vec<Node>,
    contents: Vec<Option<Blob>>,
    warnings: Vec<Warning>,
    first_by_hash: HashMap<[u8; 32], NodeId>,
}

impl Flattener {
    /// Whether `ancestor` is `from` or one of its parents.
    fn is_ancestor(&self, ancestor: NodeId, from: Option<NodeId>) -> bool {
        let mut cur = from;
        while let Some(id) = cur {
            if id == ancestor {
                return true;
            }
            cur = self.nodes.get(id as usize).and_then(|n| n.parent);
        }
        false
    }

    fn push(&mut self, p: &Pending, parent: Option<NodeId>, parent_location: &str) {
        let id = self.nodes.len() as NodeId;
        let mut node = p.node.clone();
        node.id = id;
        node.parent = parent;
        node.location = if parent_location.is_empty() {
            p.label.clone()
        } else {
            format!("{parent_location} ▸ {}", p.label)
        };
        let location = node.location.clone();
        for (kind, message) in &p.warnings {
            self.warnings.push(Warning {
                node: Some(id),
                location: location.clone(),
                kind: *kind,
                message: message.clone(),
            });
        }
        let mut duplicate = false;
        if let (Some(h), true) = (p.hash, node.size > 0) {
            match self.first_by_hash.get(&h) {
                Some(&first) => {
                    node.duplicate_of = Some(first);
                    duplicate = true;
                    if self.is_ancestor(first, parent) {
                        self.warnings.push(Warning {
                            node: Some(id),
                            location: location.clone(),
                            kind: WarningKind::SelfReference,
                            message: format!(
                                "identical to node {first}, a container it sits in; not unpacked again"
                            ),
                        });
                    }
                }
                None => {
                    self.first_by_hash.insert(h, id);
                }
            }
        }
        self.nodes.push(node);
        self.contents.push(p.content.clone());
        match &p.children {
            Children::Owned(children) => {
                for c in children {
                    self.push(c, Some(id), &location);
                }
            }
            Children::Analysis(a) => {
                if duplicate {
                    return;
                }
                for (kind, message) in &a.warnings {
                    self.warnings.push(Warning {
                        node: Some(id),
                        location: location.clone(),
                        kind: *kind,
                        message: message.clone(),
                    });
                }
                for c in &a.children {
                    self.push(c, Some(id), &location);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_paths_without_escaping_root() {
        assert_eq!(normalize_path("etc/passwd"), ("/etc/passwd".into(), false));
        assert_eq!(normalize_path("/./a//b/"), ("/a/b".into(), false));
        assert_eq!(normalize_path("../../etc/x"), ("/etc/x".into(), true));
        assert_eq!(normalize_path("a/../../b"), ("/b".into(), true));
        assert_eq!(normalize_path("a\\..\\b"), ("/b".into(), false));
        assert_eq!(normalize_path(""), ("/".into(), false));
    }

    #[test]
    fn padding_is_uniform_ff_or_zero() {
        assert_eq!(padding_byte(&[0xff; 8]), Some(0xff));
        assert_eq!(padding_byte(&[0, 0, 1]), None);
        assert_eq!(padding_byte(&[7; 4]), None);
    }

    /// A gzip stream holding a tar of one file, built in memory.
    fn nested_image() -> Vec<u8> {
        let mut tar = vec![0u8; 512];
        tar[..8].copy_from_slice(b"hello.tx");
        tar[100..107].copy_from_slice(b"0000644");
        tar[124..135].copy_from_slice(b"00000000005");
        tar[156] = b'0';
        tar[257..263].copy_from_slice(b"ustar\0");
        tar[263..265].copy_from_slice(b"00");
        tar[148..156].copy_from_slice(b"        ");
        let sum: u32 = tar.iter().map(|&b| u32::from(b)).sum();
        tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let mut data = b"hello".to_vec();
        data.resize(512, 0);
        tar.extend(data);
        tar.extend([0u8; 1024]);
        tar
    }

    #[test]
    fn a_cancelled_run_stops_and_says_so() {
        let image = nested_image();
        let engine = Unpacker::new();
        let full = engine.unpack_bytes(
            "t.tar",
            Blob::from(image.clone()),
            &UnpackOptions::default(),
        );
        assert!(
            full.nodes.iter().any(|n| n.path == "/hello.tx"),
            "{:?}",
            full.nodes
        );
        assert!(full
            .warnings
            .iter()
            .all(|w| w.kind != WarningKind::Cancelled));

        let opts = UnpackOptions::default();
        let token = opts.cancel.clone();
        token.cancel();
        assert!(opts.cancel.is_cancelled(), "clones share the flag");
        let cut = engine.unpack_bytes("t.tar", Blob::from(image), &opts);
        assert_eq!(cut.nodes.len(), 1, "only the image itself: {:?}", cut.nodes);
        assert!(cut
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::Cancelled));
    }
}
