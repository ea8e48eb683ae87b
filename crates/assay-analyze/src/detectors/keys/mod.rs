//! Private keys, certificates and authorized_keys: PEM (PKCS#1, SEC1, PKCS#8, encrypted,
//! OpenSSH), bare DER, and Dropbear's own binary host-key format, found by content anywhere in
//! the tree (not by name). Keys are parsed enough to give type and size, to pair each with the
//! certificate or public key that holds the same public half, and to spot the same key shipped
//! in several places.

pub mod der;

use super::text::{file_name, lines, looks_like_text};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, NodeId, Severity};
use der::{bits, children, read, uint, Wire};
use regex::bytes::Regex;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

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
        is below current minimums and can be factored or forged with public resources.",
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

/// What a parsed key or certificate holds.
#[derive(Debug, Clone, Default)]
struct KeyInfo {
    kind: String,
    bits: usize,
    format: String,
    encrypted: bool,
    /// Public half (RSA modulus, EC point, ed25519 key) for pairing.
    public: Vec<u8>,
}

impl KeyInfo {
    fn label(&self) -> String {
        match self.bits {
            0 => self.kind.clone(),
            b => format!("{}-{}", self.kind, b),
        }
    }
    fn weak(&self) -> bool {
        (self.kind == "rsa" && self.bits > 0 && self.bits < 2048) || self.kind == "dsa"
    }
}

fn curve_name(o: &str) -> Option<(&'static str, usize)> {
    Some(match o {
        "1.2.840.10045.3.1.7" => ("ec-prime256v1", 256),
        "1.3.132.0.34" => ("ec-secp384r1", 384),
        "1.3.132.0.35" => ("ec-secp521r1", 521),
        "1.3.132.0.10" => ("ec-secp256k1", 256),
        _ => return None,
    })
}

fn ints(content: &[u8]) -> Vec<&[u8]> {
    children(content)
        .into_iter()
        .filter(|t| t.tag == 0x02)
        .map(|t| t.content)
        .collect()
}

/// PKCS#1 RSAPrivateKey.
fn pkcs1_rsa(b: &[u8]) -> Option<KeyInfo> {
    let (seq, _) = read(b)?;
    let i = ints(seq.content);
    (seq.tag == 0x30 && i.len() >= 9 && uint(i[0]).is_empty()).then(|| KeyInfo {
        kind: "rsa".into(),
        bits: bits(i[1]),
        format: "PKCS#1".into(),
        public: uint(i[1]).to_vec(),
        ..Default::default()
    })
}

/// SEC1 ECPrivateKey (curve from `curve` when the key omits it).
fn sec1_ec(b: &[u8], curve: Option<&str>) -> Option<KeyInfo> {
    let (seq, _) = read(b)?;
    let c = children(seq.content);
    if seq.tag != 0x30 || c.len() < 2 || c[0].tag != 0x02 || c[1].tag != 0x04 {
        return None;
    }
    let mut oid = curve.map(str::to_string);
    let mut public = Vec::new();
    for t in &c[2..] {
        match t.tag {
            0xa0 => oid = read(t.content).map(|(o, _)| der::oid(o.content)),
            0xa1 => {
                public = read(t.content)
                    .map(|(p, _)| p.content.get(1..).unwrap_or(&[]).to_vec())
                    .unwrap_or_default()
            }
            _ => {}
        }
    }
    let (kind, bits) = oid.as_deref().and_then(curve_name).unwrap_or(("ec", 0));
    Some(KeyInfo {
        kind: kind.into(),
        bits,
        format: "SEC1".into(),
        public,
        ..Default::default()
    })
}

/// PKCS#8 PrivateKeyInfo.
fn pkcs8(b: &[u8]) -> Option<KeyInfo> {
    let (seq, _) = read(b)?;
    let c = children(seq.content);
    if seq.tag != 0x30 || c.len() < 3 || c[0].tag != 0x02 || c[1].tag != 0x30 || c[2].tag != 0x04 {
        return None;
    }
    let alg = children(c[1].content);
    let oid = der::oid(alg.first().filter(|t| t.tag == 0x06)?.content);
    let param = alg
        .get(1)
        .filter(|t| t.tag == 0x06)
        .map(|t| der::oid(t.content));
    let mut info = match oid.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => pkcs1_rsa(c[2].content)?,
        "1.2.840.10045.2.1" => sec1_ec(c[2].content, param.as_deref())?,
        "1.2.840.10040.4.1" => {
            let p = alg.get(1).map(|t| ints(t.content)).unwrap_or_default();
            KeyInfo {
                kind: "dsa".into(),
                bits: p.first().map(|p| bits(p)).unwrap_or(0),
                ..Default::default()
            }
        }
        "1.3.101.112" => KeyInfo {
            kind: "ed25519".into(),
            ..Default::default()
        },
        "1.3.101.110" => KeyInfo {
            kind: "x25519".into(),
            ..Default::default()
        },
        _ => return None,
    };
    info.format = "PKCS#8".into();
    Some(info)
}

fn dsa_traditional(b: &[u8]) -> Option<KeyInfo> {
    let (seq, _) = read(b)?;
    let i = ints(seq.content);
    (seq.tag == 0x30 && i.len() == 6).then(|| KeyInfo {
        kind: "dsa".into(),
        bits: bits(i[1]),
        format: "DSA".into(),
        public: uint(i[4]).to_vec(),
        ..Default::default()
    })
}

/// Public half from an SSH wire public-key blob.
fn ssh_public(blob: &[u8]) -> Option<(String, usize, Vec<u8>)> {
    let mut w = Wire(blob);
    let t = std::str::from_utf8(w.string()?).ok()?.to_string();
    match t.as_str() {
        "ssh-rsa" => {
            let _e = w.string()?;
            let n = w.string()?;
            Some(("rsa".into(), bits(n), uint(n).to_vec()))
        }
        "ssh-dss" => {
            let p = w.string()?;
            Some(("dsa".into(), bits(p), uint(p).to_vec()))
        }
        "ssh-ed25519" => Some(("ed25519".into(), 0, w.string()?.to_vec())),
        t if t.starts_with("ecdsa-sha2-") => {
            let curve = w.string()?;
            let q = w.string()?;
            let (kind, b) = match curve {
                b"nistp256" => ("ec-prime256v1", 256),
                b"nistp384" => ("ec-secp384r1", 384),
                b"nistp521" => ("ec-secp521r1", 521),
                _ => ("ec", 0),
            };
            Some((kind.into(), b, q.to_vec()))
        }
        _ => None,
    }
}

fn openssh(b: &[u8]) -> Option<KeyInfo> {
    let rest = b.strip_prefix(b"openssh-key-v1\0")?;
    let mut w = Wire(rest);
    let cipher = w.string()?;
    let _kdf = w.string()?;
    let _opts = w.string()?;
    if w.u32()? < 1 {
        return None;
    }
    let (kind, bits, public) = ssh_public(w.string()?)?;
    Some(KeyInfo {
        kind,
        bits,
        format: "OpenSSH".into(),
        encrypted: cipher != b"none",
        public,
    })
}

/// Dropbear's binary host key: SSH wire strings with the private parts, no armour.
fn dropbear(b: &[u8]) -> Option<KeyInfo> {
    if b.len() > 16384 {
        return None;
    }
    let mut w = Wire(b);
    let t = w.string()?;
    let info = match t {
        b"ssh-rsa" => {
            let _e = w.string()?;
            let n = w.string()?;
            let d = w.string()?;
            let _p = w.string()?;
            let _q = w.string()?;
            (bits(d) > 0).then(|| ("rsa".to_string(), bits(n), uint(n).to_vec()))?
        }
        b"ssh-dss" => {
            let p = w.string()?;
            let _q = w.string()?;
            let _g = w.string()?;
            let y = w.string()?;
            let _x = w.string()?;
            ("dsa".to_string(), bits(p), uint(y).to_vec())
        }
        b"ssh-ed25519" => {
            let k = w.string()?;
            (k.len() == 64).then(|| ("ed25519".to_string(), 0, k[32..].to_vec()))?
        }
        t if t.starts_with(b"ecdsa-sha2-") => {
            let mut blob = Vec::new();
            blob.extend_from_slice(&(t.len() as u32).to_be_bytes());
            blob.extend_from_slice(t);
            blob.extend_from_slice(w.0);
            let (kind, bits, q) = ssh_public(&blob)?;
            let _curve = w.string()?;
            let _q = w.string()?;
            let d = w.string()?;
            (!d.is_empty()).then_some((kind, bits, q))?
        }
        _ => return None,
    };
    Some(KeyInfo {
        kind: info.0,
        bits: info.1,
        format: "Dropbear".into(),
        public: info.2,
        ..Default::default()
    })
}

/// A bare DER private key at the start of a file.
fn bare_der(b: &[u8]) -> Option<KeyInfo> {
    if b.len() > 16384 || b.first() != Some(&0x30) {
        return None;
    }
    let mut k = pkcs8(b).or_else(|| pkcs1_rsa(b))?;
    k.format = format!("DER {}", k.format);
    Some(k)
}

/// Certificate: subject CN, notAfter (as written), public key.
struct CertInfo {
    cn: String,
    not_after: String,
    expired: bool,
    key: KeyInfo,
}

fn asn1_time_secs(t: &str, generalized: bool) -> Option<i64> {
    let (year, rest) = if generalized {
        (t.get(..4)?.parse::<i64>().ok()?, t.get(4..)?)
    } else {
        let y: i64 = t.get(..2)?.parse().ok()?;
        (if y >= 50 { 1900 + y } else { 2000 + y }, t.get(2..)?)
    };
    let n = |r: Range<usize>| rest.get(r).and_then(|s| s.parse::<i64>().ok());
    let (mo, d, h, mi) = (n(0..2)?, n(2..4)?, n(4..6)?, n(6..8)?);
    // Days from civil (Howard Hinnant).
    let y = if mo <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60)
}

/// Parse a certificate; `expired` is judged against `as_of` (Unix seconds).
fn certificate(b: &[u8], as_of: i64) -> Option<CertInfo> {
    let (cert, _) = read(b)?;
    let c = children(cert.content);
    let tbs = children(c.first()?.content);
    let off = usize::from(tbs.first()?.tag == 0xa0);
    let validity = children(tbs.get(off + 3)?.content);
    let na = validity.get(1)?;
    let not_after = String::from_utf8_lossy(na.content).to_string();
    let expired = asn1_time_secs(&not_after, na.tag == 0x18)
        .map(|t| t < as_of)
        .unwrap_or(false);
    let mut cn = String::new();
    for rdn in children(tbs.get(off + 4)?.content) {
        for atv in children(rdn.content) {
            let parts = children(atv.content);
            if parts.len() == 2 && der::oid(parts[0].content) == "2.5.4.3" {
                cn = String::from_utf8_lossy(parts[1].content).to_string();
            }
        }
    }
    let spki = children(tbs.get(off + 5)?.content);
    let alg = children(spki.first()?.content);
    let oid = der::oid(alg.first()?.content);
    let bitstr = spki.get(1)?.content.get(1..)?;
    let key = match oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let (seq, _) = read(bitstr)?;
            let i = ints(seq.content);
            KeyInfo {
                kind: "rsa".into(),
                bits: bits(i.first()?),
                public: uint(i.first()?).to_vec(),
                ..Default::default()
            }
        }
        "1.2.840.10045.2.1" => {
            let curve = alg.get(1).map(|t| der::oid(t.content)).unwrap_or_default();
            let (kind, bits) = curve_name(&curve).unwrap_or(("ec", 0));
            KeyInfo {
                kind: kind.into(),
                bits,
                public: bitstr.to_vec(),
                ..Default::default()
            }
        }
        "1.3.101.112" => KeyInfo {
            kind: "ed25519".into(),
            public: bitstr.to_vec(),
            ..Default::default()
        },
        "1.2.840.10040.4.1" => KeyInfo {
            kind: "dsa".into(),
            ..Default::default()
        },
        _ => KeyInfo {
            kind: oid,
            ..Default::default()
        },
    };
    Some(CertInfo {
        cn,
        not_after,
        expired,
        key,
    })
}

struct Found {
    node: NodeId,
    path: String,
    range: Range<usize>,
    key: KeyInfo,
}

fn fingerprint(public: &[u8]) -> String {
    assay_model::hex(&assay_unpack::sha256(public))[..16].to_string()
}

fn pem_blocks(bytes: &[u8]) -> Vec<(Range<usize>, String, Vec<u8>, bool)> {
    static BEGIN: OnceLock<Regex> = OnceLock::new();
    let begin =
        BEGIN.get_or_init(|| Regex::new(r"-----BEGIN ([A-Z0-9 ]{1,40})-----").expect("regex"));
    let mut out = Vec::new();
    for c in begin.captures_iter(bytes).take(256) {
        let (Some(m), Some(label)) = (c.get(0), c.get(1)) else {
            continue;
        };
        let label = String::from_utf8_lossy(label.as_bytes()).to_string();
        let end_marker = format!("-----END {label}-----");
        let body_start = m.end();
        let window = &bytes[body_start..bytes.len().min(body_start + 65536)];
        let Some(end) = window
            .windows(end_marker.len())
            .position(|w| w == end_marker.as_bytes())
        else {
            continue;
        };
        let body = &window[..end];
        let encrypted_header = body.windows(9).any(|w| w == b"ENCRYPTED");
        // Drop RFC 1421 headers (`Proc-Type:`, `DEK-Info:`).
        let b64: Vec<u8> = lines(body)
            .filter(|(_, l)| !l.contains(&b':'))
            .flat_map(|(_, l)| l.to_vec())
            .collect();
        if let Some(der) = der::base64(&b64) {
            out.push((
                m.start()..body_start + end + end_marker.len(),
                label,
                der,
                encrypted_header,
            ));
        }
    }
    out
}

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

    fn run(&self, analysis: &Analysis, out: &mut Vec<Finding>) {
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
                out.push(w);
            }
            out.push(f);
        }
    }
}

/// Report each key line of an authorized_keys file; record public keys of `.pub` files.
fn authorized_keys(
    analysis: &Analysis,
    node: NodeId,
    path: &str,
    bytes: &[u8],
    publics: &mut BTreeMap<Vec<u8>, Vec<(String, String)>>,
    out: &mut Vec<Finding>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    macro_rules! data {
        ($f:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys/", $f))
        };
    }

    fn run(entries: &[crate::testutil::TestEntry]) -> Vec<Finding> {
        run_as_of(1_700_000_000, entries)
    }

    fn run_as_of(as_of: i64, entries: &[crate::testutil::TestEntry]) -> Vec<Finding> {
        let t = tree(entries);
        let a = Analysis::new(&t).with_as_of(as_of);
        let mut out = Vec::new();
        Keys.run(&a, &mut out);
        out
    }

    fn key<'f>(out: &'f [Finding], path: &str) -> &'f Finding {
        out.iter()
            .find(|f| (f.rule == "ASSAY-KEY-001" || f.rule == "ASSAY-KEY-002") && f.path == path)
            .unwrap_or_else(|| panic!("no key at {path}: {out:#?}"))
    }

    #[test]
    fn parses_every_format_and_pairs_certificates() {
        let mut server = data!("rsa1024.p8.pem").to_vec();
        server.extend_from_slice(data!("rsa1024.crt"));
        let out = run(&[
            File("/etc/lighttpd/server.pem", &server, 0o600),
            File("/etc/ssl/old.key", data!("rsa1024.pem"), 0o600),
            File("/etc/config/client.pem", data!("ec256.pem"), 0o600),
            File("/etc/acme/support", data!("ed25519"), 0o600),
            File("/etc/acme/support.pub", data!("ed25519.pub"), 0o644),
            File(
                "/etc/dropbear/dropbear_rsa_host_key",
                data!("dropbear_rsa_host_key"),
                0o600,
            ),
            File(
                "/etc/dropbear/dropbear_ecdsa_host_key",
                data!("dropbear_ecdsa_host_key"),
                0o600,
            ),
            File("/lib/firmware/blob.bin", data!("rsa1024.p8.der"), 0o600),
            File("/etc/enc.pem", data!("rsa1024.enc.pem"), 0o600),
        ]);
        let s = key(&out, "/etc/lighttpd/server.pem");
        assert_eq!(s.context["key_type"], "rsa");
        assert_eq!(s.context["bits"], "1024");
        assert!(
            s.context["pairs_with"].contains("CN=router.example"),
            "{s:?}"
        );
        assert!(s.context["also_at"].contains("/etc/ssl/old.key"));
        assert_eq!(
            key(&out, "/etc/config/client.pem").context["key_type"],
            "ec-prime256v1"
        );
        let ed = key(&out, "/etc/acme/support");
        assert_eq!(ed.context["key_type"], "ed25519");
        assert!(ed.context["pairs_with"].contains("/etc/acme/support.pub"));
        assert_eq!(
            key(&out, "/etc/dropbear/dropbear_rsa_host_key").context["format"],
            "Dropbear"
        );
        assert_eq!(
            key(&out, "/etc/dropbear/dropbear_ecdsa_host_key").context["key_type"],
            "ec-prime256v1"
        );
        assert_eq!(
            key(&out, "/lib/firmware/blob.bin").context["format"],
            "DER PKCS#8"
        );
        assert_eq!(key(&out, "/etc/enc.pem").rule, "ASSAY-KEY-002");
        assert!(out
            .iter()
            .any(|f| f.rule == "ASSAY-KEY-003" && f.path == "/etc/ssl/old.key"));
        assert!(out.iter().any(|f| f.rule == "ASSAY-KEY-004"));
        assert!(
            !out.iter().any(|f| f.path == "/etc/acme/support.pub"),
            "public key alone is no finding"
        );
    }

    #[test]
    fn authorized_keys_grant_root_or_accounts() {
        let pubkey = data!("ed25519.pub");
        let out = run(&[
            File("/upper/etc/dropbear/authorized_keys", pubkey, 0o600),
            File("/home/alice/.ssh/authorized_keys", pubkey, 0o600),
            File("/etc/ssh/ssh_known_hosts", pubkey, 0o644),
        ]);
        let root = out
            .iter()
            .find(|f| f.path == "/upper/etc/dropbear/authorized_keys")
            .unwrap();
        assert_eq!(root.category, Category::Backdoor);
        assert_eq!(root.severity, Severity::Critical);
        assert_eq!(root.context["comment"], "support@vendor.example");
        let alice = out
            .iter()
            .find(|f| f.path.starts_with("/home/alice"))
            .unwrap();
        assert_eq!(alice.context["account"], "alice");
        assert_eq!(alice.category, Category::Account);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn certificates_expire_and_garbage_is_quiet() {
        let out = run_as_of(4_102_444_800, &[ // 2100-01-01
            File("/etc/ssl/certs/router.crt", data!("rsa1024.crt"), 0o644),
            File("/etc/doc.txt", b"-----BEGIN RSA PRIVATE KEY-----\n...your key here...\n-----END RSA PRIVATE KEY-----\n", 0o644),
            File("/bin/x", b"\0\0\0\x07ssh-rsa\0\0\0\x01\x03", 0o755),
        ]);
        assert_eq!(out.len(), 1, "{out:#?}");
        assert_eq!(out[0].rule, "ASSAY-KEY-005");
        assert_eq!(out[0].context["subject_cn"], "router.example");
    }
}
