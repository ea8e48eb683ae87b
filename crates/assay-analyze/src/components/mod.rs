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
//! - kernel banners in decompressed streams that no format claimed, and `vermagic=` of
//!   kernel modules;
//! - operating-system images the unpacker described (VxWorks, eCos, ThreadX; see
//!   `os_images`).
//!
//! Files with the same content are read once (the node's `duplicate_of`), and every copy is
//! listed as evidence. One name in several versions gives several components.

mod os_images;
pub mod packages;
pub mod signatures;

use crate::Analysis;
use assay_model::{ByteRange, Component, ComponentEvidence, Confidence, NodeId, NodeKind};
use assay_unpack::driver::DESCRIBES;
use packages::PackageHit;
use rayon::prelude::*;
use std::collections::BTreeMap;

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
    }
}

/// Everything one node shows.
fn read_node(a: &Analysis, id: NodeId) -> Vec<Found> {
    let node = a.node(id);
    let bytes = a.bytes(id);
    let sigs = signatures::signatures();
    let base = node.path.rsplit('/').next().unwrap_or(&node.path);
    let mut out: Vec<Found> = sigs
        .scan(base, bytes)
        .into_iter()
        .map(|h| {
            let sig = &sigs.sigs[h.sig];
            Found {
                name: sig.name.clone(),
                version: h.version,
                cpe: sig.cpe.clone(),
                purl: None,
                method: sig.kind.method(),
                matched: h.matched,
                range: h.range,
                confidence: h.confidence,
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
    let sigs = signatures::signatures();
    let mut components: BTreeMap<(String, String), Component> = BTreeMap::new();
    let os = os_images::os_components(a);
    let sources = ids
        .iter()
        .filter_map(|&id| {
            let source = a.node(id).duplicate_of.unwrap_or(id);
            Some((id, read.get(&source)?.as_slice()))
        })
        .chain(os.iter().map(|(id, f)| (*id, std::slice::from_ref(f))));
    for (id, found) in sources {
        let node = a.node(id);
        for f in found {
            let key = (f.name.clone(), f.version.clone());
            let c = components.entry(key).or_insert_with(|| {
                let cpe = f
                    .cpe
                    .as_deref()
                    .or_else(|| sigs.cpe_of(&f.name))
                    .map(|c| format!("cpe:2.3:{c}:{}:*:*:*:*:*:*:*", cpe_escape(&f.version)));
                Component {
                    name: f.name.clone(),
                    version: f.version.clone(),
                    purl: format!(
                        "pkg:generic/{}@{}",
                        packages::encode(&f.name),
                        packages::encode(&f.version)
                    ),
                    cpe,
                    confidence: f.confidence,
                    evidence: Vec::new(),
                }
            });
            if f.confidence > c.confidence {
                c.confidence = f.confidence;
            }
            if let Some(p) = &f.purl {
                // A package database's purl says more than a generic one.
                if c.purl.starts_with("pkg:generic/") {
                    c.purl = p.clone();
                }
            }
            let mut matched = assay_model::escape_bytes(f.matched.as_bytes());
            if matched.len() > MAX_MATCHED {
                let cut = (0..=MAX_MATCHED)
                    .rev()
                    .find(|&i| matched.is_char_boundary(i))
                    .unwrap_or(0);
                matched.truncate(cut);
                matched.push('…');
            }
            c.evidence.push(ComponentEvidence {
                path: node.path.clone(),
                location: node.location.clone(),
                node: id,
                sha256: node.sha256.clone().unwrap_or_default(),
                method: f.method.to_string(),
                matched: Some(matched),
                range: f.range.map(|(s, e)| ByteRange {
                    start: s as u64,
                    end: e as u64,
                }),
            });
        }
    }
    components
        .into_values()
        .map(|mut c| {
            c.evidence.sort();
            c.evidence.dedup();
            c
        })
        .collect()
}

#[cfg(test)]
mod tests;
