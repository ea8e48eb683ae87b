//! authorized_keys files (a login backdoor when shipped) and public keys (which pair with the
//! private keys found elsewhere).

use super::der;
use super::pairing::fingerprint;
use super::parse::ssh_public;
use super::AUTHORIZED_KEY;
use crate::detectors::text::{file_name, lines};
use crate::Analysis;
use assay_model::{Category, Confidence, NodeId, Severity};
use std::collections::BTreeMap;

/// Report each key line of an authorized_keys file; record public keys of `.pub` files.
pub(super) fn authorized_keys(
    analysis: &Analysis,
    node: NodeId,
    path: &str,
    bytes: &[u8],
    publics: &mut BTreeMap<Vec<u8>, Vec<(String, String)>>,
    out: &mut crate::FindingSink,
) {
    let name = file_name(path);
    let authorized = name.starts_with("authorized_keys") || path.contains("/authorized_keys/");
    for (range, line) in lines(bytes) {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let toks: Vec<&str> = text.split_whitespace().collect();
        let Some(i) = toks.iter().position(|t| {
            *t == "ssh-rsa"
                || *t == "ssh-dss"
                || *t == "ssh-ed25519"
                || t.starts_with("ecdsa-sha2-")
                || t.starts_with("sk-")
        }) else {
            continue;
        };
        let Some(blob) = toks.get(i + 1).and_then(|b| der::base64(b.as_bytes())) else {
            continue;
        };
        let Some((kind, bits, public)) = ssh_public(&blob) else {
            continue;
        };
        let comment = toks.get(i + 2..).map(|c| c.join(" ")).unwrap_or_default();
        publics
            .entry(public.clone())
            .or_default()
            .push((path.to_string(), format!("SSH public key {comment}")));
        if !authorized {
            continue;
        }
        let account = account_of(path);
        let root = account == "root";
        let mut f = analysis.finding(
            &AUTHORIZED_KEY,
            node,
            range,
            format!(
                "SSH {} key '{}' may log in as {} ({})",
                toks[i], comment, account, path
            ),
        );
        if !root {
            f.category = Category::Account;
            f.severity = Severity::High;
        }
        f.confidence = Confidence::High;
        f.context.insert("account".into(), account);
        f.context.insert("key_type".into(), kind);
        if bits > 0 {
            f.context.insert("bits".into(), bits.to_string());
        }
        f.context.insert("comment".into(), comment);
        f.context.insert("fingerprint".into(), fingerprint(&public));
        if i > 0 {
            f.context.insert("options".into(), toks[..i].join(" "));
        }
        out.push(f);
    }
}

/// The account an authorized_keys path grants.
fn account_of(path: &str) -> String {
    if path.contains("/root/") || path.contains("/dropbear/") || path.starts_with("/.ssh/") {
        return "root".into();
    }
    if let Some(rest) = path.split("/home/").nth(1) {
        if let Some(user) = rest.split('/').next() {
            return user.to_string();
        }
    }
    if let Some(rest) = path.split("/authorized_keys/").nth(1) {
        return rest.to_string();
    }
    "root".into()
}
