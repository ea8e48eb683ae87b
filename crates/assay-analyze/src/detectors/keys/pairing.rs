//! Reporting the keys found: each with the certificates or public keys that hold the same public
//! half, the other places that ship the same key, and whether it is weak.

use super::parse::KeyInfo;
use super::{ENCRYPTED_KEY, PRIVATE_KEY, REUSED_KEY, WEAK_KEY};
use crate::reach::{only_unloaded_readers, ReaderKind};
use crate::Analysis;
use assay_model::{NodeId, Severity};
use std::collections::BTreeMap;
use std::ops::Range;

/// A private key found in a file.
pub(super) struct Found {
    pub(super) node: NodeId,
    pub(super) path: String,
    pub(super) range: Range<usize>,
    pub(super) key: KeyInfo,
}

/// The short fingerprint findings show: the first 16 hex digits of the public half's SHA-256.
pub(super) fn fingerprint(public: &[u8]) -> String {
    assay_model::hex(&assay_unpack::sha256(public))[..16].to_string()
}

/// Who on the device uses a key file.
enum Use {
    /// A program that listens on the network or that the boot model starts names it.
    Server(String),
    /// Only libraries that no program loads name it (their paths).
    Nothing(String),
    /// Not known (nothing names it, or only scripts and other programs do).
    Unknown,
}

/// Whether a started or listening program names the key's path, or only unloaded libraries.
fn key_use(analysis: &Analysis, k: &Found) -> Use {
    let Some(fs) = analysis.fs_of(k.node) else {
        return Use::Unknown;
    };
    let readers = analysis.reach().readers(analysis, fs, k.node, &k.path);
    let server = readers
        .iter()
        .filter(|r| r.kind == ReaderKind::Program && (r.listening || r.started))
        .map(|r| {
            let mut s = r.path.clone();
            if r.listening {
                s.push_str(" (listens)");
            } else {
                s.push_str(" (started at boot)");
            }
            s
        })
        .collect::<Vec<_>>();
    if !server.is_empty() {
        return Use::Server(server.join(", "));
    }
    if only_unloaded_readers(&readers) {
        let names: Vec<&str> = readers.iter().map(|r| r.path.as_str()).collect();
        return Use::Nothing(names.join(", "));
    }
    Use::Unknown
}

/// Report every key found: the key itself, its reuse elsewhere and its weakness.
pub(super) fn report(
    analysis: &Analysis,
    keys: Vec<Found>,
    publics: &BTreeMap<Vec<u8>, Vec<(String, String)>>,
    out: &mut crate::FindingSink,
) {
    let mut by_fp: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    for k in &keys {
        if !k.key.public.is_empty() {
            by_fp
                .entry(k.key.public.clone())
                .or_default()
                .push(k.path.clone());
        }
    }
    for k in &keys {
        let use_ = key_use(analysis, k);
        let rule = if k.key.encrypted {
            &ENCRYPTED_KEY
        } else {
            &PRIVATE_KEY
        };
        let label = k.key.label();
        let mut f = analysis.finding(
            rule,
            k.node,
            k.range.clone(),
            format!(
                "{}{} private key ({}) in {}",
                if k.key.encrypted { "Encrypted " } else { "" },
                label,
                k.key.format,
                k.path
            ),
        );
        f.context.insert("key_type".into(), k.key.kind.clone());
        if k.key.bits > 0 {
            f.context.insert("bits".into(), k.key.bits.to_string());
        }
        f.context.insert("format".into(), k.key.format.clone());
        if !k.key.public.is_empty() {
            f.context
                .insert("fingerprint".into(), fingerprint(&k.key.public));
            if let Some(p) = publics.get(&k.key.public) {
                let list: Vec<String> = p
                    .iter()
                    .map(|(path, what)| format!("{what} at {path}"))
                    .collect();
                f.context.insert("pairs_with".into(), list.join("; "));
            }
            let others: Vec<&String> = by_fp[&k.key.public]
                .iter()
                .filter(|p| **p != k.path)
                .collect();
            if !others.is_empty() {
                let list = others
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                f.context.insert("also_at".into(), list.clone());
                let mut r = analysis.finding(
                    &REUSED_KEY,
                    k.node,
                    k.range.clone(),
                    format!("{label} private key in {} is also at {list}", k.path),
                );
                r.context
                    .insert("fingerprint".into(), fingerprint(&k.key.public));
                r.context.insert("also_at".into(), list);
                out.push(r);
            }
        }
        if k.key.weak() {
            let mut w = analysis.finding(
                &WEAK_KEY,
                k.node,
                k.range.clone(),
                format!("Weak {label} private key in {}", k.path),
            );
            w.context.insert("key_type".into(), k.key.kind.clone());
            w.context.insert("bits".into(), k.key.bits.to_string());
            if let Use::Server(by) = &use_ {
                w.context.insert("used_by".into(), by.clone());
            }
            out.push(w);
        }
        match use_ {
            Use::Server(by) => {
                f.context.insert("used_by".into(), by);
            }
            Use::Nothing(names) if f.severity >= Severity::High => {
                f.severity = Severity::Medium;
                f.context
                    .insert("read_only_by_unloaded_libraries".into(), names);
            }
            _ => {}
        }
        out.push(f);
    }
}
