//! The recursive driver: scan a blob for formats, carve and unpack what it finds, recurse
//! into every stream and file, and flatten the result into the report's node list.
//!
//! Identical content (by SHA-256) is unpacked once; independent children unpack in parallel;
//! ids are assigned afterwards in pre-order, so the result does not depend on thread timing.

use crate::format::Probe;
use crate::format::{Entry, EntryData, EntryKind, Format, UnpackContext, Unpacked};
use crate::limits::{Budget, Limits};
use crate::passwords::Keyring;
use crate::scan::{Candidate, MagicScanner};
use crate::Blob;
use assay_model::{hex, ImageInfo, Node, NodeId, NodeKind, Stats, Warning, WarningKind};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
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
/// Detail key of an entry whose bytes are those of an earlier entry of the same container
/// (a hard link, a shared extent): the earlier entry's path. The node shares that entry's
/// content and hash and is not searched again.
pub const SAME_AS: &str = "same_as";
/// A container followed by possible siblings may spend what its blob has left except
/// 1/`SIBLING_RESERVE` of it, kept for what follows (see `Run::analyse_blob`).
pub const SIBLING_RESERVE: u64 = 4;
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
    /// Passwords to try first on encrypted zip and 7z members (before the empty password and
    /// the built-in list, [`crate::passwords`]).
    pub passwords: Vec<String>,
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
    /// The tree-wide node limit fired. Byte budgets are shared out by position (the tree
    /// does not depend on thread timing), but the node count is one counter for all
    /// branches, so which branch it stopped can: a caller that needs a reproducible tree
    /// unpacks again on one thread.
    pub timing_dependent: bool,
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
    /// Bytes this blob's branch spent (decoded here and below).
    spent: u64,
    /// Whether a limit stopped something in this branch.
    stopped: bool,
}

/// The engine: a registry of formats and the scanner built from it.
pub struct Unpacker {
    formats: Vec<&'static dyn Format>,
    scanner: MagicScanner,
    fallbacks: Vec<usize>,
    /// Per format: whether it describes whole blobs (see [`Format::describes_whole_blob`]).
    whole_blob: Vec<bool>,
    /// The magics of the whole-blob formats alone, with each one's index in `formats`: searched
    /// in the image windows the full search skips (see `scan_image`).
    markers: (MagicScanner, Vec<usize>),
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
        let whole_blob: Vec<bool> = formats.iter().map(|f| f.describes_whole_blob()).collect();
        let marker_index: Vec<usize> = (0..formats.len()).filter(|&i| whole_blob[i]).collect();
        let marker_formats: Vec<&'static dyn Format> =
            marker_index.iter().map(|&i| formats[i]).collect();
        let markers = (MagicScanner::new(&marker_formats), marker_index);
        Unpacker {
            formats,
            scanner,
            fallbacks,
            whole_blob,
            markers,
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
            budget: Budget::new(limits)
                .with_keyring(Arc::new(Keyring::new(opts.passwords.clone()))),
            cache: Mutex::new(HashMap::new()),
            nodes: AtomicUsize::new(1),
            nodes_refused: AtomicBool::new(false),
            scanned: AtomicU64::new(0),
            progress: opts.progress.clone(),
            cancel: opts.cancel.clone(),
        };
        let (hash, prescanned) = run.scan_image(&data);
        let top = Lineage { hash, up: None };
        let analysis = run.analyse_blob(
            &data,
            0,
            Role::Image,
            Some(&top),
            Some(prescanned),
            &run.budget,
        );
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
        // Exact sizes up front: a doubling vector of a million nodes wastes up to half.
        let total = flat.count(&pending);
        flat.nodes.reserve_exact(total);
        flat.contents.reserve_exact(total);
        // The cache's references go, so that the flattener takes unshared nodes over.
        if let Ok(mut cache) = run.cache.lock() {
            cache.clear();
        }
        flat.push(pending, None, "");
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
            timing_dependent: run.nodes_refused.load(Ordering::Relaxed)
                || run.budget.keyring().exhausted(),
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

/// Content hash of a blob, whether it was searched as a file, and its share of the budget.
type CacheKey = ([u8; 32], bool, u64);

/// State shared by all threads of one unpack run.
struct Run<'e> {
    engine: &'e Unpacker,
    budget: Budget,
    cache: Mutex<HashMap<CacheKey, Arc<BlobAnalysis>>>,
    nodes: AtomicUsize,
    /// Set when the node limit refused nodes (see [`UnpackResult::timing_dependent`]).
    nodes_refused: AtomicBool,
    scanned: AtomicU64,
    progress: Option<Arc<ProgressFn>>,
    cancel: CancelToken,
}

impl Run<'_> {
    fn take_nodes(&self, n: usize) -> bool {
        let before = self.nodes.fetch_add(n, Ordering::Relaxed);
        let ok = before + n <= self.budget.limits().max_nodes;
        if !ok {
            self.nodes_refused.store(true, Ordering::Relaxed);
        }
        ok
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
        share: u64,
    ) -> Arc<BlobAnalysis> {
        if Lineage::contains(up, &hash) {
            return Arc::new(BlobAnalysis {
                children: Vec::new(),
                warnings: vec![(
                    WarningKind::SelfReference,
                    "this content is identical to a container it sits in; not unpacked again"
                        .into(),
                )],
                spent: 0,
                stopped: false,
            });
        }
        // The share is part of the key: a blob's analysis is a function of its bytes, how it
        // is searched and what it may spend, so a repeat gets what a fresh analysis would,
        // whichever thread came first.
        let key = (hash, role == Role::File, share);
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return hit;
        }
        let here = Lineage { hash, up };
        let pool = self.budget.share(share);
        let mut analysis = self.analyse_blob(data, depth, role, Some(&here), None, &pool);
        analysis.spent = pool.used();
        analysis.stopped = pool.was_stopped();
        let analysis = Arc::new(analysis);
        if let Ok(mut c) = self.cache.lock() {
            c.entry(key).or_insert_with(|| Arc::clone(&analysis));
        }
        analysis
    }

    /// Search the image in one pass, window by window: magic scan, the probes of every
    /// candidate and the image's hash all read a window while it is hot, and then the
    /// window is handed back (a large memory-mapped image never becomes resident).
    ///
    /// A candidate that starts inside the span of one probed before it would be skipped by
    /// [`analyse_blob`](Self::analyse_blob) once that one is claimed, so it is not probed here
    /// (it is kept unprobed, and probed there only if it is reached after all): the members of
    /// an archive each carry the archive's magic, and probing every one of them walks the
    /// archive once per member, quadratic in the number of entries.
    fn scan_image(&self, data: &Blob) -> ([u8; 32], Vec<(Candidate, Option<Probe>)>) {
        let mut hasher = Sha256::new();
        let mut probed = Vec::new();
        // How far the probed structures span, and whether a stream whose length only its
        // unpack tells was accepted: until one is, every structure probed with a length is
        // claimed by `analyse_blob` (nothing before it can claim past its start), so the
        // windows wholly inside its span are not searched at all — their candidates would be
        // skipped anyway. A tar of a million members is then searched once, not member by
        // member. Whole-blob formats are still looked for there (their own small automaton).
        let spanned_to = Cell::new(0usize);
        let stream_open = Cell::new(false);
        let skip = |w: Range<usize>| !stream_open.get() && w.start > 0 && w.end <= spanned_to.get();
        let (marker_scanner, marker_index) = &self.engine.markers;
        self.engine.scanner.scan_windows_skipping(
            data,
            &skip,
            &mut |window, candidates, skipped| {
                if skipped {
                    let search_end = window.end.saturating_add(64).min(data.len());
                    let mut seen = Vec::new();
                    for c in marker_scanner.candidates(&data[window.start..search_end]) {
                        let start = window.start + c.start;
                        if start < window.end && !seen.contains(&c.format) {
                            seen.push(c.format);
                            let format = marker_index[c.format];
                            probed.push((Candidate { start, format }, Some(Probe::default())));
                        }
                    }
                }
                for c in candidates {
                    if self.engine.whole_blob[c.format] {
                        // A marker: the format is tried on the whole blob later.
                        probed.push((c, Some(Probe::default())));
                    } else if c.start < spanned_to.get() {
                        probed.push((c, None));
                    } else if let Some(p) = self.engine.formats[c.format].probe(&data[c.start..]) {
                        let available = data.len().saturating_sub(c.start) as u64;
                        match p.length.map(|l| l.min(available)) {
                            Some(l) => {
                                let end = c
                                    .start
                                    .saturating_add(usize::try_from(l).unwrap_or(usize::MAX));
                                spanned_to.set(spanned_to.get().max(end));
                            }
                            None => stream_open.set(true),
                        }
                        probed.push((c, Some(p)));
                    }
                }
                hasher.update(&data[window.clone()]);
                data.release(window);
            },
        );
        probed.sort_by_key(|(c, _)| *c);
        (hasher.finalize().into(), probed)
    }

    fn analyse_blob(
        &self,
        data: &Blob,
        depth: usize,
        role: Role,
        lineage: Option<&Lineage<'_>>,
        prescanned: Option<Vec<(Candidate, Option<Probe>)>>,
        pool: &Budget,
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
            Some(p) => p,
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
        // Where candidates start, to tell whether a container has siblings after it: in the
        // image, whose candidates were probed while it was scanned, only those a probe
        // accepted (a false hit of a short magic in compressed data is no sibling).
        // A container whose length only its unpack tells is followed by the magics of its own
        // records (JFFS2 nodes, cpio members): those of its own format are no siblings either.
        let starts: Vec<(usize, usize)> = work
            .iter()
            .filter(|(_, p)| role != Role::Image || p.is_some())
            .map(|(c, _)| (c.start, c.format))
            .collect();
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
            // A container may spend a fair share of what is left here, so that a bomb in
            // front never starves what follows it; what it leaves is returned. With nothing
            // after its span that could start another container, it may spend all of it.
            let end = match span {
                Some(l) => cand
                    .start
                    .saturating_add(usize::try_from(l).unwrap_or(usize::MAX)),
                None => cand.start.saturating_add(1),
            };
            let first_after = starts.partition_point(|&(s, _)| s < end);
            let siblings_after = starts
                .get(first_after..)
                .unwrap_or_default()
                .iter()
                .any(|&(_, f)| span.is_some() || f != cand.format);
            let share = pool.share(if siblings_after {
                pool.remaining() - pool.remaining() / SIBLING_RESERVE
            } else {
                pool.remaining()
            });
            let ctx = UnpackContext { budget: &share };
            let result = format.unpack(&view, &ctx);
            let (unpacked, error) = match result {
                Ok(u) => (u, None),
                Err(e) if probe.length.is_some() => (Unpacked::default(), Some(e)),
                // A stream candidate whose decoder fails at once is a false hit of a
                // short magic, not a broken container.
                Err(_) => {
                    settle(pool, &share);
                    continue;
                }
            };
            let consumed = span
                .or(unpacked.consumed.map(|c| c.min(available)))
                .unwrap_or(available);
            if consumed == 0 {
                settle(pool, &share);
                continue;
            }
            if limit_stopped(&unpacked, error.as_ref()) {
                share.mark_stopped();
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
                &share,
            );
            settle(pool, &share);
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
        let overlays = self.describe_whole(data, &free_markers, depth, lineage, pool);
        if out.children.is_empty() {
            if role != Role::File || data.len() >= 4096 {
                self.try_fallbacks(&mut out, data, depth, lineage, pool);
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
        pool: &Budget,
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
            let share = pool.share(pool.remaining() - pool.remaining() / SIBLING_RESERVE);
            let ctx = UnpackContext { budget: &share };
            let (unpacked, error) = match format.unpack(data, &ctx) {
                Ok(u) => (u, None),
                Err(e) => (Unpacked::default(), Some(e)),
            };
            if limit_stopped(&unpacked, error.as_ref()) {
                share.mark_stopped();
            }
            let mut container = self.container(
                format,
                &probe.description,
                data,
                0,
                data.len() as u64,
                unpacked,
                depth,
                lineage,
                &share,
            );
            settle(pool, &share);
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
        pool: &Budget,
    ) {
        for &idx in &self.engine.fallbacks {
            let format = self.engine.formats[idx];
            let Some(probe) = format.probe(data) else {
                continue;
            };
            let share = pool.share(pool.remaining() - pool.remaining() / SIBLING_RESERVE);
            let ctx = UnpackContext { budget: &share };
            match format.unpack(data, &ctx) {
                Ok(u) => {
                    if limit_stopped(&u, None) {
                        share.mark_stopped();
                    }
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
                        &share,
                    ));
                    settle(pool, &share);
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
        share: &Budget,
    ) -> Pending {
        let mut node = Node::new(0, None, NodeKind::Container, format.name().to_string());
        node.format = Some(format.name().to_string());
        node.offset = Some(offset as u64);
        node.size = consumed;
        node.details = unpacked.details.into();
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
        let children = self.entries(entries, view, depth, lineage, share);
        Pending {
            label: format!("{}@{offset:#x}", format.name()),
            node,
            content: None,
            hash: None,
            children: Children::Owned(children),
            warnings,
        }
    }

    /// Round two of sharing a container's budget among its entries: the entries a limit
    /// stopped in round one are analysed again, one after the other in entry order, each
    /// with a fair part of what the others left unspent. Everything here depends on entry
    /// order and byte counts only, never on thread timing, so the tree is the same on every
    /// run and on any number of threads.
    fn share_out(
        &self,
        done: &mut [(usize, Pending)],
        depth: usize,
        lineage: Option<&Lineage<'_>>,
        pool: &Budget,
    ) {
        let mut again = Vec::new();
        for (k, (_, p)) in done.iter().enumerate() {
            if let Children::Analysis(a) = &p.children {
                if a.stopped {
                    again.push(k);
                } else {
                    pool.absorb(a.spent);
                }
            }
        }
        let mut left = again.len() as u64;
        for k in again {
            let Some((_, p)) = done.get_mut(k) else {
                continue;
            };
            let (Some(bytes), Some(h)) = (p.content.clone(), p.hash) else {
                continue;
            };
            let role = if p.node.kind == NodeKind::Stream {
                Role::Stream
            } else {
                Role::File
            };
            let share = pool.remaining() / left.max(1);
            left = left.saturating_sub(1);
            let a = self.analyse_cached(&bytes, h, depth + 1, role, lineage, share);
            pool.absorb(a.spent);
            if a.stopped {
                pool.mark_stopped();
            }
            p.children = Children::Analysis(a);
        }
    }

    /// Turn a container's entries into nodes. Entries whose bytes are the very bytes of an
    /// earlier entry (hard links, zip members and ISO records sharing one extent, an inode
    /// reached twice) are references: their node names the first one (`same_as`) and shares
    /// its content and hash, and they are neither hashed nor searched again, so duplicates
    /// cost no work however many there are.
    fn entries(
        &self,
        entries: Vec<Entry>,
        view: &Blob,
        depth: usize,
        lineage: Option<&Lineage<'_>>,
        pool: &Budget,
    ) -> Vec<Pending> {
        let firsts = same_bytes(&entries);
        let (unique, refs): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .zip(firsts)
            .enumerate()
            .partition(|(_, (_, first))| first.is_none());
        // Round one: every entry with bytes gets an equal share of what is left, fixed by
        // the count alone, so the entries run in parallel and none can take another's.
        let holders = unique
            .iter()
            .filter(|(_, (e, _))| has_bytes(&e.data))
            .count();
        let first_share = pool.remaining() / (holders.max(1) as u64);
        let mut done: Vec<(usize, Pending)> = unique
            .into_par_iter()
            .map(|(i, (e, _))| (i, self.entry(e, view, depth, lineage, None, first_share)))
            .collect();
        self.share_out(&mut done, depth, lineage, pool);
        if refs.is_empty() {
            return done.into_iter().map(|(_, p)| p).collect();
        }
        // `done` is in entry order; each reference points at an earlier unique entry.
        let mut out: Vec<Option<Pending>> = Vec::new();
        out.resize_with(done.len() + refs.len(), || None);
        for (i, p) in done.drain(..) {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(p);
            }
        }
        for (i, (e, first)) in refs {
            let original = first.and_then(|f| out.get(f)).and_then(|p| p.as_ref());
            let known = original.map(|p| Known {
                path: p.node.path.clone(),
                content: p.content.clone(),
                hash: p.hash,
                size: p.node.size,
                sha256: p.node.sha256.clone(),
            });
            let pending = self.entry(e, view, depth, lineage, known, 0);
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(pending);
            }
        }
        out.into_iter().flatten().collect()
    }

    fn entry(
        &self,
        entry: Entry,
        container: &Blob,
        depth: usize,
        lineage: Option<&Lineage<'_>>,
        known: Option<Known>,
        share: u64,
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
                let path = match bound_path(&path) {
                    Some(short) => {
                        warnings.push((
                            WarningKind::NameLength,
                            format!(
                                "entry path of {} bytes is longer than the bounds ({MAX_NAME} bytes a name, {MAX_PATH} a path); kept as {short:?}",
                                path.len()
                            ),
                        ));
                        short
                    }
                    None => path,
                };
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
        // Bytes carved from the container keep their place in it: the chain of offsets from
        // the image down to this node is then byte-exact evidence.
        if let EntryData::Range { offset, .. } = entry.data {
            node.offset = Some(offset);
        }
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
        if let Some(known) = known {
            node.details.insert(SAME_AS.into(), known.path);
            if known.content.is_some() && known.hash.is_some() {
                node.size = known.size;
                node.sha256 = known.sha256;
            }
            return Pending {
                node,
                label,
                content: known.content,
                hash: known.hash,
                children: Children::Owned(Vec::new()),
                warnings,
            };
        }
        // A container's own bytes written out as one entry (a device tree kept as a file)
        // are not searched again: the search would only find the container itself.
        let whole_container = matches!(entry.data,
            EntryData::Range { offset: 0, length } if length == container.len() as u64);
        let mut sparse_length = None;
        let content = match entry.data {
            EntryData::None => None,
            EntryData::Owned(b) => Some(b),
            EntryData::Sparse { data, length } => {
                sparse_length = Some(length.max(data.len() as u64));
                Some(data)
            }
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
            let h = match sparse_length {
                None => {
                    let h = sha256(bytes);
                    node.size = bytes.len() as u64;
                    node.sha256 = Some(hex(&h));
                    h
                }
                Some(length) => {
                    node.size = length;
                    let (h, whole) = sparse_hash(bytes, length - bytes.len() as u64, share);
                    node.sha256 = whole.then(|| hex(&h));
                    if !whole {
                        warnings.push((
                            WarningKind::Limit,
                            format!(
                                "sparse file of {length} bytes: its {} trailing zero bytes are past this file's share of the budget and are not hashed (no sha256)",
                                length - bytes.len() as u64
                            ),
                        ));
                    }
                    h
                }
            };
            hash = Some(h);
            if !bytes.is_empty() && !whole_container {
                let role = if kind == NodeKind::Stream {
                    Role::Stream
                } else {
                    Role::File
                };
                children = Children::Analysis(self.analyse_cached(
                    bytes,
                    h,
                    depth + 1,
                    role,
                    lineage,
                    share,
                ));
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

/// What a reference entry takes over from the entry whose bytes it shares.
/// (See also [`Run::share_out`] for how entries share a container's budget.)
struct Known {
    path: String,
    content: Option<Blob>,
    hash: Option<[u8; 32]>,
    size: u64,
    sha256: Option<String>,
}

/// The identity of a sparse file: `data` followed by `zeros` zero bytes. The zeros are hashed
/// (streaming, never materialised) when there are no more of them than `share`, the file's
/// part of the byte budget; then the hash is the file's SHA-256 and `true`. Past that, the
/// hash only identifies the content within this scan (data hash and length) and is `false`.
fn sparse_hash(data: &[u8], zeros: u64, share: u64) -> ([u8; 32], bool) {
    if zeros <= share {
        let mut h = Sha256::new();
        h.update(data);
        let block = [0u8; 64 * 1024];
        let mut left = zeros;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            h.update(&block[..n]);
            left -= n as u64;
        }
        return (h.finalize().into(), true);
    }
    let mut h = Sha256::new();
    h.update(b"assay sparse file\0");
    h.update(sha256(data));
    h.update((data.len() as u64 + zeros).to_le_bytes());
    (h.finalize().into(), false)
}

/// For each entry, the index of an earlier entry holding the very same bytes (the same range
/// of the container, or the same decoded buffer), if any. Empty data is never shared.
fn same_bytes(entries: &[Entry]) -> Vec<Option<usize>> {
    #[derive(PartialEq, Eq, Hash)]
    enum Key {
        Range(u64, u64),
        Owned(usize, usize),
        Sparse(usize, usize, u64),
    }
    let mut seen: HashMap<Key, usize> = HashMap::new();
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let key = match &e.data {
                EntryData::Range { offset, length } if *length > 0 => Key::Range(*offset, *length),
                EntryData::Owned(b) if !b.is_empty() => Key::Owned(b.as_ptr() as usize, b.len()),
                EntryData::Sparse { data, length } if !data.is_empty() => {
                    Key::Sparse(data.as_ptr() as usize, data.len(), *length)
                }
                _ => return None,
            };
            match seen.entry(key) {
                std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                    None
                }
            }
        })
        .collect()
}

/// Whether an entry carries bytes to analyse.
fn has_bytes(data: &EntryData) -> bool {
    match data {
        EntryData::None => false,
        EntryData::Range { length, .. } => *length > 0,
        EntryData::Owned(b) => !b.is_empty(),
        EntryData::Sparse { length, .. } => *length > 0,
    }
}

/// Fold a finished share into the budget it was carved from.
fn settle(pool: &Budget, share: &Budget) {
    pool.absorb(share.used());
    if share.was_stopped() {
        pool.mark_stopped();
    }
}

/// Whether a limit stopped a format's unpack (its error or one of its warnings says so).
fn limit_stopped(unpacked: &Unpacked, error: Option<&crate::FormatError>) -> bool {
    error.is_some_and(|e| e.kind() == WarningKind::Limit)
        || unpacked
            .warnings
            .iter()
            .any(|(k, _)| *k == WarningKind::Limit)
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
                    EntryData::Sparse { data, length } => EntryData::Sparse {
                        data: data.clone(),
                        length: *length,
                    },
                    EntryData::None => EntryData::None,
                };
                entries[i].data = data;
            }
        }
    }
    let _ = container;
    entries
}

/// Longest name of one path component kept in a node (as Linux's `NAME_MAX`).
pub const MAX_NAME: usize = 255;
/// Longest path kept in a node (as Linux's `PATH_MAX`). A deeper or longer path is kept by its
/// last components, so that memory per entry stays bounded whatever the image declares.
pub const MAX_PATH: usize = 4096;

/// The normalised `path` within [`MAX_NAME`] and [`MAX_PATH`], or `None` when it already is:
/// each longer name is cut (on a character boundary) and marked with `…`; a longer path keeps
/// its last components behind `/…`.
pub fn bound_path(path: &str) -> Option<String> {
    if path.len() <= MAX_NAME && path.len() <= MAX_PATH {
        return None;
    }
    let mut names: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    let mut changed = false;
    for name in path.split('/').filter(|n| !n.is_empty()) {
        if name.len() > MAX_NAME {
            let mut end = MAX_NAME - '…'.len_utf8();
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            names.push(format!("{}…", &name[..end]).into());
            changed = true;
        } else {
            names.push(name.into());
        }
    }
    let total: usize = names.iter().map(|n| n.len() + 1).sum();
    if total > MAX_PATH {
        // Keep the last components that fit behind "/…".
        let mut kept = 0;
        let mut len = "/…".len();
        for n in names.iter().rev() {
            if len + n.len() + 1 > MAX_PATH {
                break;
            }
            len += n.len() + 1;
            kept += 1;
        }
        let mut out = String::from("/…");
        for n in &names[names.len() - kept..] {
            out.push('/');
            out.push_str(n);
        }
        return Some(out);
    }
    changed.then(|| {
        let mut out = String::with_capacity(total);
        for n in &names {
            out.push('/');
            out.push_str(n);
        }
        out
    })
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
    /// How many nodes `push` will add for `p` (repeats of an analysed blob add none).
    fn count(&mut self, p: &Pending) -> usize {
        let mut seen: std::collections::HashSet<*const BlobAnalysis> = Default::default();
        fn walk(p: &Pending, seen: &mut std::collections::HashSet<*const BlobAnalysis>) -> usize {
            1 + match &p.children {
                Children::Owned(c) => c.iter().map(|c| walk(c, seen)).sum(),
                Children::Analysis(a) => {
                    // Counted in full the first time only; a repeat is flattened once.
                    if seen.insert(Arc::as_ptr(a)) {
                        a.children.iter().map(|c| walk(c, seen)).sum()
                    } else {
                        0
                    }
                }
            }
        }
        walk(p, &mut seen)
    }

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

    /// Add `p` and everything below it, taking the nodes over (no copy) wherever the
    /// pending tree is not shared.
    fn push(&mut self, p: Pending, parent: Option<NodeId>, parent_location: &str) {
        let Pending {
            node,
            label,
            content,
            hash,
            children,
            warnings,
        } = p;
        let (id, location, duplicate) = self.register(
            node,
            &label,
            content,
            hash,
            &warnings,
            parent,
            parent_location,
        );
        match children {
            Children::Owned(children) => {
                for c in children {
                    self.push(c, Some(id), &location);
                }
            }
            Children::Analysis(a) => {
                if duplicate {
                    return;
                }
                self.analysis_warnings(&a, id, &location);
                match Arc::try_unwrap(a) {
                    Ok(a) => {
                        for c in a.children {
                            self.push(c, Some(id), &location);
                        }
                    }
                    Err(a) => {
                        for c in &a.children {
                            self.push_shared(c, Some(id), &location);
                        }
                    }
                }
            }
        }
    }

    /// Add `p` and everything below it from a pending tree other nodes still share.
    fn push_shared(&mut self, p: &Pending, parent: Option<NodeId>, parent_location: &str) {
        let (id, location, duplicate) = self.register(
            p.node.clone(),
            &p.label,
            p.content.clone(),
            p.hash,
            &p.warnings,
            parent,
            parent_location,
        );
        match &p.children {
            Children::Owned(children) => {
                for c in children {
                    self.push_shared(c, Some(id), &location);
                }
            }
            Children::Analysis(a) => {
                if duplicate {
                    return;
                }
                self.analysis_warnings(a, id, &location);
                for c in &a.children {
                    self.push_shared(c, Some(id), &location);
                }
            }
        }
    }

    fn analysis_warnings(&mut self, a: &BlobAnalysis, id: NodeId, location: &str) {
        for (kind, message) in &a.warnings {
            self.warnings.push(Warning {
                node: Some(id),
                location: location.to_string(),
                kind: *kind,
                message: message.clone(),
            });
        }
    }

    /// Give a node its id, parent and location, record its warnings and content, and say
    /// whether its bytes repeat an earlier node's (then what it holds is not added again).
    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        mut node: Node,
        label: &str,
        content: Option<Blob>,
        hash: Option<[u8; 32]>,
        warnings: &[(WarningKind, String)],
        parent: Option<NodeId>,
        parent_location: &str,
    ) -> (NodeId, String, bool) {
        let id = self.nodes.len() as NodeId;
        node.id = id;
        node.parent = parent;
        node.location = if parent_location.is_empty() {
            label.to_string()
        } else {
            format!("{parent_location} ▸ {label}")
        };
        let location = node.location.clone();
        for (kind, message) in warnings {
            self.warnings.push(Warning {
                node: Some(id),
                location: location.clone(),
                kind: *kind,
                message: message.clone(),
            });
        }
        let mut duplicate = false;
        if let (Some(h), true) = (hash, node.size > 0) {
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
        self.contents.push(content);
        (id, location, duplicate)
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
    fn long_names_and_paths_are_bounded() {
        assert_eq!(bound_path("/etc/passwd"), None);
        let long_name = format!("/d/{}", "é".repeat(300));
        let short = bound_path(&long_name).expect("a 600-byte name is cut");
        assert!(short.len() <= MAX_NAME + 3, "{}", short.len());
        assert!(short.starts_with("/d/é") && short.ends_with('…'));
        let deep = "/abc".repeat(5000);
        let short = bound_path(&deep).expect("a 20 KB path is cut");
        assert!(short.len() <= MAX_PATH && short.starts_with("/…/abc/"));
        let both = format!("{}/{}", "/x".repeat(3000), "n".repeat(1000));
        let short = bound_path(&both).expect("cut");
        assert!(short.len() <= MAX_PATH && short.ends_with("n…"), "{short}");
    }

    /// An archive format whose every member carries its magic and whose probe walks to the
    /// archive's end from any member (as cpio's and tar's do), counting its calls.
    struct Members;
    static PROBES: AtomicUsize = AtomicUsize::new(0);
    impl Format for Members {
        fn name(&self) -> &'static str {
            "members"
        }
        fn magics(&self) -> &'static [crate::Magic] {
            const MAGICS: &[crate::Magic] = &[crate::Magic::at_start(b"MEMBER")];
            MAGICS
        }
        fn probe(&self, data: &[u8]) -> Option<Probe> {
            PROBES.fetch_add(1, Ordering::Relaxed);
            Some(Probe {
                length: Some(data.len() as u64),
                description: String::new(),
            })
        }
        fn unpack(&self, _: &Blob, _: &UnpackContext) -> Result<Unpacked, crate::FormatError> {
            Ok(Unpacked::default())
        }
    }
    static MEMBERS: Members = Members;

    #[test]
    fn members_inside_a_probed_archive_are_not_probed() {
        let image = b"MEMBER-filler-16".repeat(10_000);
        let engine = Unpacker::with_formats(vec![&MEMBERS]);
        PROBES.store(0, Ordering::Relaxed);
        let r = engine.unpack_bytes("a", Blob::from(image), &UnpackOptions::default());
        assert_eq!(r.nodes.len(), 2, "the image and one archive");
        assert_eq!(
            PROBES.load(Ordering::Relaxed),
            1,
            "one probe, not one per member"
        );
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
