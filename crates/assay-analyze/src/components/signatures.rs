//! The version-signature table (`data/components.tsv`) and the scan that applies it to one
//! blob of bytes.
//!
//! Running some 200 regexes over every file would dominate a scan, so every `string` and
//! `marker` signature names a literal anchor. All anchors go into a few `aho-corasick`
//! automata of at most 64 patterns each (their SIMD prefilter stays fast). A `string`
//! signature's regex runs only at its anchor's hits, over the printable run that follows; a
//! `marker` signature's anchor only says that the file is the component, and its version is
//! the nearest printable string that is nothing but a version (the argument of a
//! `version %s` format string, stored apart from it). `bare` and `filename` signatures look
//! only at files whose name matches theirs.

use crate::detectors::text::{is_printable, printable_strings};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use assay_model::Confidence;
use regex::bytes::Regex;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The signature table as committed.
const TABLE: &str = include_str!("../../data/components.tsv");

/// Longest stretch after an anchor that a version regex may look at.
const WINDOW: usize = 256;

/// Most hits of one anchor looked at in one blob (a table of strings repeats a banner).
const MAX_HITS_PER_ANCHOR: usize = 256;

/// Shortest printable string considered by `bare` and `marker` signatures.
const MIN_BARE: usize = 3;

/// Farthest a `marker` signature's version string may lie from its marker, in bytes.
const MARKER_SPAN: usize = 256 * 1024;

/// How a signature reads a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigKind {
    /// The version follows a literal anchor anywhere in the bytes.
    String,
    /// A printable string of the file that is only the version.
    Bare,
    /// The version is part of the file's name.
    Filename,
    /// A literal marker identifies the component in the file; the version is the nearest
    /// printable string that is only a version.
    Marker,
}

impl SigKind {
    /// Name written as the evidence's `method`.
    pub fn method(self) -> &'static str {
        match self {
            SigKind::String => "version-string",
            SigKind::Bare => "bare-version-string",
            SigKind::Filename => "file-name",
            SigKind::Marker => "version-beside-marker",
        }
    }
}

/// One way of reading one component's version.
#[derive(Debug)]
pub struct Signature {
    /// Canonical component name.
    pub name: String,
    /// CPE part, vendor and product (`a:thekelleys:dnsmasq`).
    pub cpe: Option<String>,
    /// How it reads the version.
    pub kind: SigKind,
    /// Literal that starts every match (`string` signatures).
    pub anchor: Option<String>,
    /// Base names of the files it applies to.
    pub files: Option<regex::Regex>,
    /// Version regex, anchored as its kind requires; group 1 is the version.
    pub version: Regex,
    /// How the reported version is written from the captured groups: `{}` is group 1, `{N}`
    /// group N (`ss{}`: iproute2 prints its snapshot date after `ss`; `{1}-{2}-{3}`: a date
    /// in a SONAME).
    pub format: Option<String>,
}

impl Signature {
    /// The reported version for a match of [`Signature::version`].
    pub fn render(&self, caps: &regex::bytes::Captures) -> String {
        let group = |i: usize| {
            caps.get(i)
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .unwrap_or_default()
        };
        let Some(f) = &self.format else {
            return group(1);
        };
        let mut out = f.replacen("{}", &group(1), 1);
        for i in 1..caps.len() {
            out = out.replace(&format!("{{{i}}}"), &group(i));
        }
        out
    }
}

/// One anchor automaton and, per pattern, the signatures that use it.
struct Shard {
    automaton: AhoCorasick,
    sigs: Vec<Vec<usize>>,
}

/// The parsed table with its automata.
pub struct SignatureSet {
    /// Every signature, in table order.
    pub sigs: Vec<Signature>,
    shards: Vec<Shard>,
    cpe_by_name: BTreeMap<String, String>,
}

/// A version read from a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigHit {
    /// Index of the signature in [`SignatureSet::sigs`].
    pub sig: usize,
    /// The version as captured.
    pub version: String,
    /// Byte range of the whole match in the blob (empty for file names).
    pub range: Option<(usize, usize)>,
    /// The matched text.
    pub matched: String,
    /// How sure the reading is.
    pub confidence: Confidence,
}

/// The table, parsed and compiled once.
pub fn signatures() -> &'static SignatureSet {
    static SET: OnceLock<SignatureSet> = OnceLock::new();
    SET.get_or_init(|| SignatureSet::parse(TABLE).unwrap_or_else(|e| panic!("{e}")))
}

impl SignatureSet {
    /// Parse a table in the format of `data/components.tsv`.
    pub fn parse(text: &str) -> Result<SignatureSet, String> {
        let mut sigs = Vec::new();
        for (no, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let (name, cpe, kind, anchor, files, re, format) = match cols[..] {
                [a, b, c, d, e, f] => (a, b, c, d, e, f, None),
                [a, b, c, d, e, f, g] => (a, b, c, d, e, f, Some(g)),
                _ => {
                    return Err(format!(
                        "components.tsv:{}: expected 6 or 7 columns",
                        no + 1
                    ))
                }
            };
            let opt = |s: &str| (s != "-").then(|| s.to_string());
            let kind = match kind {
                "string" => SigKind::String,
                "bare" => SigKind::Bare,
                "filename" => SigKind::Filename,
                "marker" => SigKind::Marker,
                other => return Err(format!("components.tsv:{}: kind {other}", no + 1)),
            };
            let anchored = match kind {
                SigKind::String => format!("^(?:{re})"),
                SigKind::Bare | SigKind::Filename | SigKind::Marker => format!("^(?:{re})$"),
            };
            let version =
                Regex::new(&anchored).map_err(|e| format!("components.tsv:{}: {e}", no + 1))?;
            if version.captures_len() < 2 {
                return Err(format!("components.tsv:{}: need a capture group", no + 1));
            }
            let files = match opt(files) {
                Some(f) => Some(
                    regex::Regex::new(&f).map_err(|e| format!("components.tsv:{}: {e}", no + 1))?,
                ),
                None => None,
            };
            let anchor = opt(anchor);
            if kind == SigKind::String {
                let Some(a) = &anchor else {
                    return Err(format!("components.tsv:{}: string without anchor", no + 1));
                };
                if !literal_prefix_ok(re, a) {
                    return Err(format!(
                        "components.tsv:{}: regex does not start with its anchor",
                        no + 1
                    ));
                }
            } else if kind == SigKind::Marker && anchor.is_none() {
                return Err(format!("components.tsv:{}: marker without anchor", no + 1));
            } else if files.is_none() && kind == SigKind::Bare {
                return Err(format!("components.tsv:{}: bare without files", no + 1));
            }
            let format = format.and_then(opt);
            if format.as_ref().is_some_and(|f| !f.contains('{')) {
                return Err(format!("components.tsv:{}: format without {{}}", no + 1));
            }
            if format.is_none() && version.captures_len() != 2 {
                return Err(format!(
                    "components.tsv:{}: several groups need a format",
                    no + 1
                ));
            }
            sigs.push(Signature {
                name: name.to_string(),
                cpe: opt(cpe),
                kind,
                anchor,
                files,
                version,
                format,
            });
        }
        let mut anchors: Vec<(String, Vec<usize>)> = Vec::new();
        for (i, s) in sigs.iter().enumerate() {
            if let (SigKind::String | SigKind::Marker, Some(a)) = (s.kind, &s.anchor) {
                match anchors.iter_mut().find(|(x, _)| x == a) {
                    Some((_, v)) => v.push(i),
                    None => anchors.push((a.clone(), vec![i])),
                }
            }
        }
        let mut shards = Vec::new();
        for chunk in anchors.chunks(64) {
            let automaton = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(chunk.iter().map(|(a, _)| a.as_bytes()))
                .map_err(|e| e.to_string())?;
            shards.push(Shard {
                automaton,
                sigs: chunk.iter().map(|(_, v)| v.clone()).collect(),
            });
        }
        let mut cpe_by_name = BTreeMap::new();
        for s in &sigs {
            if let Some(c) = &s.cpe {
                cpe_by_name
                    .entry(s.name.clone())
                    .or_insert_with(|| c.clone());
            }
        }
        Ok(SignatureSet {
            sigs,
            shards,
            cpe_by_name,
        })
    }

    /// CPE part:vendor:product of a canonical name, when the table knows one.
    pub fn cpe_of(&self, name: &str) -> Option<&str> {
        self.cpe_by_name.get(name).map(String::as_str)
    }

    /// Whether `name` is a component the table knows.
    pub fn knows(&self, name: &str) -> bool {
        self.sigs.iter().any(|s| s.name == name)
    }

    /// Every version the signatures read from a blob called `name` (a file's base name, or a
    /// stream's label).
    pub fn scan(&self, name: &str, bytes: &[u8]) -> Vec<SigHit> {
        let mut hits = Vec::new();
        let mut markers: Vec<(usize, usize)> = Vec::new();
        let name_ok = |s: &Signature| s.files.as_ref().is_none_or(|f| f.is_match(name));
        // Anchored strings, found by the automata.
        for shard in &self.shards {
            let mut per_pattern = vec![0usize; shard.sigs.len()];
            // Overlapping: `iproute2-` (a banner) and `iproute2-ss%s` (a marker) both start
            // at the same byte.
            for m in shard.automaton.find_overlapping_iter(bytes) {
                let p = m.pattern().as_usize();
                per_pattern[p] += 1;
                if per_pattern[p] > MAX_HITS_PER_ANCHOR {
                    continue;
                }
                let window = printable_run(bytes, m.start());
                for &si in &shard.sigs[p] {
                    let sig = &self.sigs[si];
                    if !name_ok(sig) {
                        continue;
                    }
                    if sig.kind == SigKind::Marker {
                        markers.push((si, m.start()));
                        continue;
                    }
                    let Some(c) = sig.version.captures(window) else {
                        continue;
                    };
                    let (Some(all), Some(_)) = (c.get(0), c.get(1)) else {
                        continue;
                    };
                    push_unique(
                        &mut hits,
                        SigHit {
                            sig: si,
                            version: sig.render(&c),
                            range: Some((m.start(), m.start() + all.end())),
                            matched: String::from_utf8_lossy(all.as_bytes()).into_owned(),
                            confidence: Confidence::High,
                        },
                    );
                }
            }
        }
        // File names.
        for (si, sig) in self.sigs.iter().enumerate() {
            if sig.kind != SigKind::Filename || !name_ok(sig) {
                continue;
            }
            if let Some(c) = sig
                .version
                .captures(name.as_bytes())
                .filter(|c| c.get(1).is_some())
            {
                push_unique(
                    &mut hits,
                    SigHit {
                        sig: si,
                        version: sig.render(&c),
                        range: None,
                        matched: name.to_string(),
                        confidence: Confidence::Medium,
                    },
                );
            }
        }
        // Bare version strings, only in files named like the component's.
        let bare: Vec<usize> = (0..self.sigs.len())
            .filter(|&i| self.sigs[i].kind == SigKind::Bare && name_ok(&self.sigs[i]))
            .filter(|&i| {
                // A version the component's own strings already gave wins.
                !hits.iter().any(|h| {
                    self.sigs[h.sig].name == self.sigs[i].name && h.confidence == Confidence::High
                })
            })
            .collect();
        let mut strings: Option<Vec<(usize, &[u8])>> = None;
        // Versions beside markers: the nearest string that is only a version.
        if !markers.is_empty() {
            let strings = strings.get_or_insert_with(|| printable_strings(bytes, MIN_BARE));
            let mut done: Vec<usize> = Vec::new();
            for &(si, _) in &markers {
                if done.contains(&si) {
                    continue;
                }
                done.push(si);
                if hits.iter().any(|h| {
                    self.sigs[h.sig].name == self.sigs[si].name && h.confidence == Confidence::High
                }) {
                    continue;
                }
                let at: Vec<usize> = markers
                    .iter()
                    .filter(|(s, _)| *s == si)
                    .map(|(_, a)| *a)
                    .collect();
                if let Some(hit) = nearest_version(&self.sigs[si], si, strings, &at) {
                    push_unique(&mut hits, hit);
                }
            }
        }
        if !bare.is_empty() {
            let strings = strings.get_or_insert_with(|| printable_strings(bytes, MIN_BARE));
            for si in bare {
                let sig = &self.sigs[si];
                // version -> (count, first hit)
                let mut found: Vec<(String, usize, SigHit)> = Vec::new();
                for &(off, s) in strings.iter() {
                    let lead = s
                        .iter()
                        .take(3)
                        .take_while(|b| !b.is_ascii_alphanumeric())
                        .count();
                    let s = &s[lead..];
                    let Some(c) = sig.version.captures(s) else {
                        continue;
                    };
                    if c.get(1).is_none() {
                        continue;
                    }
                    let version = sig.render(&c);
                    match found.iter_mut().find(|(x, _, _)| *x == version) {
                        Some((_, n, _)) => *n += 1,
                        None => found.push((
                            version.clone(),
                            1,
                            SigHit {
                                sig: si,
                                version,
                                range: Some((off + lead, off + lead + s.len())),
                                matched: String::from_utf8_lossy(s).into_owned(),
                                confidence: Confidence::Medium,
                            },
                        )),
                    }
                }
                let ambiguous = found.len() > 1;
                // The most frequent candidate, the first one on a tie.
                let best = found
                    .into_iter()
                    .enumerate()
                    .max_by(|(ia, a), (ib, b)| a.1.cmp(&b.1).then(ib.cmp(ia)));
                if let Some((_, (_, _, mut hit))) = best {
                    if ambiguous {
                        hit.confidence = Confidence::Low;
                    }
                    push_unique(&mut hits, hit);
                }
            }
        }
        hits
    }
}

/// The printable string nearest to one of a marker's hits (within [`MARKER_SPAN`]) that the
/// signature's regex reads as a version.
fn nearest_version(
    sig: &Signature,
    si: usize,
    strings: &[(usize, &[u8])],
    at: &[usize],
) -> Option<SigHit> {
    let mut best: Option<(usize, SigHit)> = None;
    for &(off, s) in strings {
        let distance = at.iter().map(|&a| a.abs_diff(off)).min()?;
        if distance > MARKER_SPAN || best.as_ref().is_some_and(|(d, _)| *d <= distance) {
            continue;
        }
        let lead = s
            .iter()
            .take(3)
            .take_while(|b| !b.is_ascii_alphanumeric())
            .count();
        let s = s.get(lead..).unwrap_or_default();
        let Some(c) = sig.version.captures(s).filter(|c| c.get(1).is_some()) else {
            continue;
        };
        let start = off + lead;
        best = Some((
            distance,
            SigHit {
                sig: si,
                version: sig.render(&c),
                range: Some((start, start + s.len())),
                matched: String::from_utf8_lossy(s).into_owned(),
                confidence: Confidence::Medium,
            },
        ));
    }
    best.map(|(_, h)| h)
}

/// Whether a regex starts with the anchor's text, read as escaped literal characters.
fn literal_prefix_ok(re: &str, anchor: &str) -> bool {
    let mut chars = re.chars();
    for a in anchor.chars() {
        let Some(mut c) = chars.next() else {
            return false;
        };
        if c == '\\' {
            let Some(n) = chars.next() else { return false };
            c = n;
        }
        if c != a {
            return false;
        }
    }
    true
}

/// Keep one hit per signature and version: the first.
fn push_unique(hits: &mut Vec<SigHit>, hit: SigHit) {
    if !hits
        .iter()
        .any(|h| h.sig == hit.sig && h.version == hit.version)
    {
        hits.push(hit);
    }
}

/// The printable bytes from `start` up to the first non-printable one, at most [`WINDOW`].
fn printable_run(bytes: &[u8], start: usize) -> &[u8] {
    let end = (start + WINDOW).min(bytes.len());
    let tail = bytes.get(start..end).unwrap_or(&[]);
    let len = tail
        .iter()
        .position(|&b| !is_printable(b))
        .unwrap_or(tail.len());
    &tail[..len]
}
