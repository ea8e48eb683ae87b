//! Private keys, certificates and authorized_keys: PEM (PKCS#1, SEC1, PKCS#8, encrypted,
//! OpenSSH), bare DER, and Dropbear's own binary host-key format, found by content anywhere in
//! the tree (not by name). Keys are parsed enough to give type and size, to pair each with the
//! certificate or public key that holds the same public half, and to spot the same key shipped
//! in several places.
//!
//! One concern per file: `parse` reads private keys of every format, `cert` certificates,
//! `pem` finds PEM blocks, `authorized` reads authorized_keys and public keys, `pairing`
//! reports each key with what it pairs with, where else it is and whether it is weak.

mod authorized;
mod cert;
pub mod der;
mod pairing;
mod parse;
mod pem;

use super::text::looks_like_text;
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Severity};
use authorized::authorized_keys;
use cert::certificate;
use pairing::Found;
use parse::{bare_der, dropbear, dsa_traditional, openssh, pkcs1_rsa, pkcs8, sec1_ec, KeyInfo};
use pem::pem_blocks;
use std::collections::BTreeMap;

/// Private key.
pub const PRIVATE_KEY: Rule = Rule {
    id: "ASSAY-KEY-001",
    category: Category::PrivateKey,
    severity: Severity::High,
    title: "Private key in the image",
    description: "An unencrypted private key (PEM PKCS#1/SEC1/PKCS#8, OpenSSH, DER or a Dropbear \
        host key) is shipped in the image. Every device of the model holds the same key, so one \
        extracted firmware impersonates or decrypts all of them. Context gives type, size, the \
        certificate or public key it pairs with and other places holding the same key.",
};

/// Encrypted private key.
pub const ENCRYPTED_KEY: Rule = Rule {
    id: "ASSAY-KEY-002",
    category: Category::PrivateKey,
    severity: Severity::Medium,
    title: "Encrypted private key in the image",
    description: "A passphrase-protected private key is shipped; the passphrase is usually in a \
        script or binary next to it.",
};

/// Weak key.
pub const WEAK_KEY: Rule = Rule {
    id: "ASSAY-KEY-003",
    category: Category::PrivateKey,
    severity: Severity::Medium,
    title: "Weak key",
    description: "An RSA key shorter than 2048 bits or a DSA key (private key or certificate) \
        is below current minimums and can be factored or forged with public resources. Context \
        `used_by` names the listening or started programs that name the key file.",
};

/// Same key in several places.
pub const REUSED_KEY: Rule = Rule {
    id: "ASSAY-KEY-004",
    category: Category::PrivateKey,
    severity: Severity::Low,
    title: "Same private key in several places",
    description: "The same private key (by public-key fingerprint) appears in several files, \
        e.g. one key for the web server, the TR-069 client and SSH.",
};

/// Expired certificate.
pub const EXPIRED_CERT: Rule = Rule {
    id: "ASSAY-KEY-005",
    category: Category::Config,
    severity: Severity::Low,
    title: "Expired certificate",
    description: "A certificate's notAfter date is before the scan's reference time (`--as-of`, \
        default now; recorded in the report as `as_of` so that a verifier judges alike).",
};

/// authorized_keys entry.
pub const AUTHORIZED_KEY: Rule = Rule {
    id: "ASSAY-KEY-006",
    category: Category::Backdoor,
    severity: Severity::Critical,
    title: "SSH key authorised in the image",
    description: "An authorized_keys file in the image lets the holder of the matching private \
        key log in on every device. Under root's home or /etc/dropbear it is a root backdoor \
        (critical); for other accounts it is a high account finding.",
};

/// The key detector.
pub struct Keys;

impl Detector for Keys {
    fn name(&self) -> &'static str {
        "keys"
    }

    fn rules(&self) -> &'static [Rule] {
        &[
            PRIVATE_KEY,
            ENCRYPTED_KEY,
            WEAK_KEY,
            REUSED_KEY,
            EXPIRED_CERT,
            AUTHORIZED_KEY,
        ]
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        let mut keys: Vec<Found> = Vec::new();
        // public half → (path, what) of certificates and public keys
        let mut publics: BTreeMap<Vec<u8>, Vec<(String, String)>> = BTreeMap::new();
        for f in analysis.files() {
            let (node, bytes, path) = (f.node.id, f.bytes, &f.node.path);
            if bytes.len() > 32 << 20 {
                continue;
            }
            for (range, label, der, enc_hdr) in pem_blocks(bytes) {
                let key = match label.as_str() {
                    "RSA PRIVATE KEY" => pkcs1_rsa(&der).or_else(|| {
                        enc_hdr.then(|| KeyInfo {
                            kind: "rsa".into(),
                            ..Default::default()
                        })
                    }),
                    "EC PRIVATE KEY" => sec1_ec(&der, None).or_else(|| {
                        enc_hdr.then(|| KeyInfo {
                            kind: "ec".into(),
                            ..Default::default()
                        })
                    }),
                    "DSA PRIVATE KEY" => dsa_traditional(&der).or_else(|| {
                        enc_hdr.then(|| KeyInfo {
                            kind: "dsa".into(),
                            ..Default::default()
                        })
                    }),
                    "PRIVATE KEY" => pkcs8(&der),
                    "ENCRYPTED PRIVATE KEY" => Some(KeyInfo {
                        kind: "unknown".into(),
                        format: "PKCS#8".into(),
                        encrypted: true,
                        ..Default::default()
                    }),
                    "OPENSSH PRIVATE KEY" => openssh(&der),
                    "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                        if let Some(cert) = certificate(&der, analysis.as_of()) {
                            if cert.expired {
                                let mut x = analysis.finding(
                                    &EXPIRED_CERT,
                                    node,
                                    range.clone(),
                                    format!("Expired certificate CN={} in {path}", cert.cn),
                                );
                                x.context.insert("subject_cn".into(), cert.cn.clone());
                                x.context.insert("not_after".into(), cert.not_after.clone());
                                out.push(x);
                            }
                            if !cert.key.public.is_empty() {
                                publics.entry(cert.key.public.clone()).or_default().push((
                                    path.clone(),
                                    format!(
                                        "certificate CN={} (notAfter {})",
                                        cert.cn, cert.not_after
                                    ),
                                ));
                            }
                        }
                        None
                    }
                    _ => None,
                };
                if let Some(mut key) = key {
                    if enc_hdr {
                        key.encrypted = true;
                    }
                    if key.format.is_empty()
                        || key.format == "PKCS#1"
                        || key.format == "SEC1"
                        || key.format == "DSA"
                    {
                        key.format = format!(
                            "PEM {}",
                            if key.format.is_empty() {
                                &label
                            } else {
                                &key.format
                            }
                        );
                    } else {
                        key.format = format!("PEM {}", key.format);
                    }
                    keys.push(Found {
                        node,
                        path: path.clone(),
                        range,
                        key,
                    });
                }
            }
            if let Some(key) = dropbear(bytes).or_else(|| bare_der(bytes)) {
                keys.push(Found {
                    node,
                    path: path.clone(),
                    range: 0..bytes.len(),
                    key,
                });
            }
            if bytes.len() <= 1 << 20 && looks_like_text(bytes) {
                authorized_keys(analysis, node, path, bytes, &mut publics, out);
            }
        }
        pairing::report(analysis, keys, &publics, out);
    }
}

#[cfg(test)]
mod tests;
