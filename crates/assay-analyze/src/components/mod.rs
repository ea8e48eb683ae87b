//! Component identification: which third-party software, in which version, the image
//! carries, and every place that shows it. Components are not findings; they feed the
//! inventory, the SBOM and vulnerability matching.
//!
//! Sources, in one parallel pass over every byte-holding node:
//! - version strings in binaries and libraries, read by the signature table
//!   (`data/components.tsv`, see [`signatures`]): anchored strings anywhere, bare version
//!   strings and versioned names only in files named like the component;
//! - the FDO `.note.package` of ELF files, opkg/ipkg/dpkg package databases and release files
//!   (see [`packages`]);
//! - kernel banners in decompressed streams that no format claimed, `vermagic=` of kernel
//!   modules, and the `/lib/modules/VERSION/` directory they lie in (OpenWrt strips
//!   vermagic);
//! - operating-system images the unpacker described (VxWorks, eCos, ThreadX; see
//!   `os_images`).
//!
//! Files with the same content are read once (the node's `duplicate_of`), and every copy is
//! listed as evidence. One name in several versions gives several components, except where
//! two readings describe one thing: a less precise reading of a version (`0.9.7` from a
//! SONAME beside the library's own `0.9.7f`) and a package record that disagrees with the only
//! version the binaries carry become the component's `other_versions`, with the reason.
//! Text in comment lines of text files (an l7-filter pattern's `# ... Tor 0.1.0.16`) is no
//! evidence, and a version read inside a program that is not one of the component's own
//! files is marked `embedded` (statically linked).

mod os_images;
pub mod packages;
pub mod signatures;

use crate::Analysis;
use assay_model::{
    ByteRange, Component, ComponentEvidence, Confidence, NodeId, NodeKind, OtherVersion,
};
use assay_unpack::driver::DESCRIBES;
use packages::PackageHit;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Which files are a component's own (`name<TAB>regex over the base name`); a component not
/// listed owns the files whose name contains its own.
const PROGRAMS: &str = include_str!("../../data/programs.tsv");

/// Longest `matched` text kept in evidence.
const MAX_MATCHED: usize = 200;

/// One reading of a component in one node.
#[derive(Debug, Clone)]
struct Found {
    name: String,
    version: String,
    cpe: Option<String>,
    purl: Option<String>,
    method: &'static str,
    matched: String,
    range: Option<(usize, usize)>,
    confidence: Confidence,
    /// Read inside a program that is not one of the component's own files.
    embedded: bool,
}

/// Paths of package databases and release files.
fn metadata_kind(path: &str) -> Option<&'static str> {
    match path {
        "/usr/lib/opkg/status"
        | "/var/lib/opkg/status"
        | "/usr/lib/ipkg/status"
        | "/var/lib/ipkg/status" => Some("opkg-status"),
        "/var/lib/dpkg/status" => Some("dpkg-status"),
        "/etc/os-release" | "/usr/lib/os-release" | "/etc/openwrt_release" => Some("release-file"),
        _ if (path.starts_with("/usr/lib/opkg/info/")
            || path.starts_with("/usr/lib/ipkg/info/"))
            && path.ends_with(".control") =>
        {
            Some("opkg-control")
        }
        _ => None,
    }
}

/// Which libc an opkg `libc` package is, from the loader the filesystem holds.
fn libc_of(a: &Analysis, fs: Option<usize>) -> &'static str {
    let Some(view) = fs.and_then(|f| a.filesystems.get(f)) else {
        return "libc";
    };
    if view.entries.keys().any(|p| p.starts_with("/lib/ld-musl-")) {
        "musl"
    } else if view.entries.keys().any(|p| p.contains("uClibc-1.")) {
        "uclibc-ng"
    } else if view.entries.keys().any(|p| p.contains("uClibc")) {
        "uclibc"
    } else {
        "glibc"
    }
}

fn from_package(h: PackageHit) -> Found {
    Found {
        name: h.name,
        version: h.version,
        cpe: None,
        purl: Some(h.purl),
        method: h.method,
        matched: h.matched,
        range: Some(h.range),
        confidence: h.confidence,
        embedded: false,
    }
}

/// Methods that read a package database rather than the component's own bytes.
fn is_package_method(method: &str) -> bool {
    matches!(method, "opkg-status" | "opkg-control" | "dpkg-status")
}

/// Whether a file of this base name is one of the component's own files.
fn own_file(name: &str, base: &str) -> bool {
    static TABLE: OnceLock<BTreeMap<String, regex::Regex>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        PROGRAMS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let (n, re) = l.split_once('\t')?;
                Some((n.to_string(), regex::Regex::new(re.trim()).ok()?))
            })
            .collect()
    });
    if let Some(re) = table.get(name) {
        return re.is_match(base);
    }
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    squash(base).contains(&squash(name))
}

/// Text without NUL bytes in its first 4 KiB (scripts, configuration, pattern files).
fn is_text(bytes: &[u8]) -> bool {
    !bytes.iter().take(4096).any(|&b| b == 0)
}

/// Whether the line holding `at` is a comment (`#`, `//`, `;` first on the line).
fn in_comment_line(bytes: &[u8], at: usize) -> bool {
    let start = bytes
        .get(..at)
        .and_then(|b| b.iter().rposition(|&c| c == b'\n'))
        .map_or(0, |i| i + 1);
    let line = bytes.get(start..at).unwrap_or_default();
    let trimmed: &[u8] = match line.iter().position(|c| !c.is_ascii_whitespace()) {
        Some(i) => &line[i..],
        None => &[],
    };
    trimmed.starts_with(b"#") || trimmed.starts_with(b"//") || trimmed.starts_with(b";")
}

/// Everything one node shows.
fn read_node(a: &Analysis, id: NodeId) -> Vec<Found> {
    let node = a.node(id);
    let bytes = a.bytes(id);
    let sigs = signatures::signatures();
    let base = node.path.rsplit('/').next().unwrap_or(&node.path);
    let text = node.kind == NodeKind::File && is_text(bytes);
    let program =
        node.kind == NodeKind::File && bytes.starts_with(b"\x7fELF") && !base.ends_with(".ko");
    let mut out: Vec<Found> = sigs
        .scan(base, bytes)
        .into_iter()
        .filter(|h| {
            let sig = &sigs.sigs[h.sig];
            // A marker in a script or a comment says nothing about the file's own version.
            !(text
                && (sig.kind == signatures::SigKind::Marker
                    || h.range.is_some_and(|(s, _)| in_comment_line(bytes, s))))
        })
        .map(|h| {
            let sig = &sigs.sigs[h.sig];
            let embedded = program
                && matches!(
                    sig.kind,
                    signatures::SigKind::String | signatures::SigKind::Marker
                )
                && !own_file(&sig.name, base);
            Found {
                name: sig.name.clone(),
                version: h.version,
                cpe: sig.cpe.clone(),
                purl: None,
                method: sig.kind.method(),
                matched: h.matched,
                range: h.range,
                confidence: h.confidence,
                embedded,
            }
        })
        .collect();
    if node.kind == NodeKind::File {
        out.extend(packages::package_note(bytes).map(from_package));
        match metadata_kind(&node.path) {
            Some("release-file") => {
                out.extend(packages::release_file(&node.path, bytes).map(from_package))
            }
            Some(kind) => out.extend(
                packages::package_records(bytes, kind, libc_of(a, a.fs_of(id)))
                    .into_iter()
                    .map(from_package),
            ),
            None => {}
        }
    }
    out
}

/// The nodes whose bytes are read: regular files, and streams, unclaimed regions and
/// images that nothing was unpacked from (a decompressed kernel, an OS image that is only
/// described).
fn targets(a: &Analysis) -> Vec<NodeId> {
    let nodes = &a.unpacked.nodes;
    let mut has_children = vec![false; nodes.len()];
    // A description of the whole blob (an OS image) explains none of its bytes.
    for n in nodes.iter().filter(|n| !n.details.contains_key(DESCRIBES)) {
        if let Some(p) = n.parent {
            if let Some(slot) = has_children.get_mut(p as usize) {
                *slot = true;
            }
        }
    }
    nodes
        .iter()
        .filter(|n| match n.kind {
            NodeKind::File => true,
            // An unclaimed region that looks compressed or encrypted holds no readable
            // version text; skipping it keeps a large random-looking image out of memory.
            NodeKind::Unknown if n.entropy.is_some_and(|e| e > 7.2) => false,
            NodeKind::Stream | NodeKind::Unknown | NodeKind::Image => !has_children[n.id as usize],
            _ => false,
        })
        .map(|n| n.id)
        .collect()
}

/// CPE 2.3 formatted-string escaping of a version.
fn cpe_escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// The kernel versions that `/lib/modules/VERSION/` directories name, each with the first
/// module file under it as evidence (the directory itself holds no bytes).
fn module_directories(a: &Analysis) -> Vec<(NodeId, Found)> {
    let mut out = Vec::new();
    for view in &a.filesystems {
        let mut seen: Vec<String> = Vec::new();
        for (path, &id) in &view.entries {
            let Some(i) = path.find("/lib/modules/") else {
                continue;
            };
            let rest = &path[i + "/lib/modules/".len()..];
            let Some((dir, _)) = rest.split_once('/') else {
                continue;
            };
            if seen.iter().any(|d| d == dir) || a.node(id).kind != NodeKind::File {
                continue;
            }
            let Some(version) = kernel_release(dir) else {
                continue;
            };
            seen.push(dir.to_string());
            let matched = format!("{}{dir}/", &path[..i + "/lib/modules/".len()]);
            out.push((
                id,
                Found {
                    name: "linux".into(),
                    version,
                    cpe: None,
                    purl: None,
                    method: "module-directory",
                    matched,
                    range: None,
                    confidence: Confidence::Medium,
                    embedded: false,
                },
            ));
        }
    }
    out
}

/// The upstream kernel release a module directory is named after (`2.6.36.4brcmarm` →
/// `2.6.36.4`, `4.14.241` → itself); `None` for names that are not a kernel release.
fn kernel_release(dir: &str) -> Option<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(r"^([2-9]\.\d{1,2}(?:\.\d{1,3}){0,2})(?:$|[^\d.])")
            .unwrap_or_else(|e| panic!("{e}"))
    });
    re.captures(dir)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// Whether `short` is a less precise writing of `long` (`0.9.7` of `0.9.7f`, `2.6.33` of
/// `2.6.33.2`): a prefix that `long` continues with a letter or another dotted number.
fn less_precise(short: &str, long: &str) -> bool {
    long.len() > short.len()
        && long.starts_with(short)
        && long[short.len()..]
            .chars()
            .next()
            .is_some_and(|c| c == '.' || c.is_ascii_alphabetic())
}

/// One reading as it goes into the report: the node it was read in and what it says.
struct Reading<'f> {
    id: NodeId,
    found: &'f Found,
}

fn evidence_of(a: &Analysis, r: &Reading) -> ComponentEvidence {
    let node = a.node(r.id);
    let f = r.found;
    let mut matched = assay_model::escape_bytes(f.matched.as_bytes());
    if matched.len() > MAX_MATCHED {
        let cut = (0..=MAX_MATCHED)
            .rev()
            .find(|&i| matched.is_char_boundary(i))
            .unwrap_or(0);
        matched.truncate(cut);
        matched.push('…');
    }
    ComponentEvidence {
        path: node.path.clone(),
        location: node.location.clone(),
        node: r.id,
        sha256: node.sha256.clone().unwrap_or_default(),
        method: f.method.to_string(),
        matched: Some(matched),
        range: f.range.map(|(s, e)| ByteRange {
            start: s as u64,
            end: e as u64,
        }),
        embedded: f.embedded,
    }
}

/// Every component the image shows, sorted by name and version.
pub fn identify_components(a: &Analysis) -> Vec<Component> {
    let ids = targets(a);
    let originals: Vec<NodeId> = ids
        .iter()
        .copied()
        .filter(|&id| a.node(id).duplicate_of.is_none())
        .collect();
    let read: BTreeMap<NodeId, Vec<Found>> = originals
        .par_iter()
        .map(|&id| (id, read_node(a, id)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    let modules = module_directories(a);
    // name -> version -> readings
    let mut by_name: BTreeMap<&str, BTreeMap<&str, Vec<Reading>>> = BTreeMap::new();
    for &id in &ids {
        let source = a.node(id).duplicate_of.unwrap_or(id);
        for found in read.get(&source).into_iter().flatten() {
            by_name
                .entry(&found.name)
                .or_default()
                .entry(&found.version)
                .or_default()
                .push(Reading { id, found });
        }
    }
    let os = os_images::os_components(a);
    for (id, found) in modules.iter().chain(os.iter()) {
        by_name
            .entry(&found.name)
            .or_default()
            .entry(&found.version)
            .or_default()
            .push(Reading { id: *id, found });
    }
    let sigs = signatures::signatures();
    let mut components = Vec::new();
    for (name, versions) in by_name {
        // Versions that fold into another one of the same component, with the reason.
        let mut folded: BTreeMap<&str, (&str, String)> = BTreeMap::new();
        let weak_only = |rs: &[Reading]| rs.iter().all(|r| r.found.confidence < Confidence::High);
        for (&v, rs) in &versions {
            if !weak_only(rs) {
                continue;
            }
            if let Some(&long) = versions.keys().find(|&&l| less_precise(v, l)) {
                folded.insert(
                    v,
                    (
                        long,
                        format!("a less precise reading of {long}, which the component's own bytes give"),
                    ),
                );
            }
        }
        let from_binaries: Vec<&str> = versions
            .iter()
            .filter(|(v, rs)| {
                !folded.contains_key(*v) && rs.iter().any(|r| !is_package_method(r.found.method))
            })
            .map(|(v, _)| *v)
            .collect();
        if let [only] = from_binaries[..] {
            for (&v, rs) in &versions {
                if v != only
                    && !folded.contains_key(v)
                    && rs.iter().all(|r| is_package_method(r.found.method))
                {
                    folded.insert(
                        v,
                        (
                            only,
                            format!(
                                "the package database says {v}; the version the binary itself carries ({only}) is trusted, since a package record can be stale or name a snapshot rather than a release"
                            ),
                        ),
                    );
                }
            }
        }
        for (&version, rs) in &versions {
            if folded.contains_key(version) {
                continue;
            }
            let first = rs[0].found;
            let cpe = rs
                .iter()
                .find_map(|r| r.found.cpe.as_deref())
                .or_else(|| sigs.cpe_of(name))
                .or(first.cpe.as_deref())
                .map(|c| format!("cpe:2.3:{c}:{}:*:*:*:*:*:*:*", cpe_escape(version)));
            // A package database's purl says more than a generic one.
            let purl = rs
                .iter()
                .find_map(|r| r.found.purl.clone())
                .unwrap_or_else(|| {
                    format!(
                        "pkg:generic/{}@{}",
                        packages::encode(name),
                        packages::encode(version)
                    )
                });
            let confidence = rs
                .iter()
                .map(|r| r.found.confidence)
                .max()
                .unwrap_or(Confidence::Low);
            let mut evidence: Vec<ComponentEvidence> =
                rs.iter().map(|r| evidence_of(a, r)).collect();
            evidence.sort();
            evidence.dedup();
            let mut other_versions: Vec<OtherVersion> = folded
                .iter()
                .filter(|(_, (into, _))| *into == version)
                .map(|(&v, (_, reason))| {
                    let mut evidence: Vec<ComponentEvidence> =
                        versions[v].iter().map(|r| evidence_of(a, r)).collect();
                    evidence.sort();
                    evidence.dedup();
                    OtherVersion {
                        version: v.to_string(),
                        reason: reason.clone(),
                        evidence,
                    }
                })
                .collect();
            other_versions.sort();
            components.push(Component {
                name: name.to_string(),
                version: version.to_string(),
                purl,
                cpe,
                confidence,
                evidence,
                other_versions,
            });
        }
    }
    components
}

#[cfg(test)]
mod tests;
