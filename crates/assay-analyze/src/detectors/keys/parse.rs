//! Private keys of every format firmware ships, parsed enough to give type, size and the
//! public half: PKCS#1, SEC1, PKCS#8 and traditional DSA (DER), OpenSSH, Dropbear's binary host
//! keys and SSH public-key blobs.

use super::der::{self, bits, children, read, uint, Wire};

/// What a parsed key or certificate holds.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyInfo {
    pub(super) kind: String,
    pub(super) bits: usize,
    pub(super) format: String,
    pub(super) encrypted: bool,
    /// Public half (RSA modulus, EC point, ed25519 key) for pairing.
    pub(super) public: Vec<u8>,
}

impl KeyInfo {
    pub(super) fn label(&self) -> String {
        match self.bits {
            0 => self.kind.clone(),
            b => format!("{}-{}", self.kind, b),
        }
    }
    pub(super) fn weak(&self) -> bool {
        (self.kind == "rsa" && self.bits > 0 && self.bits < 2048) || self.kind == "dsa"
    }
}

pub(super) fn curve_name(o: &str) -> Option<(&'static str, usize)> {
    Some(match o {
        "1.2.840.10045.3.1.7" => ("ec-prime256v1", 256),
        "1.3.132.0.34" => ("ec-secp384r1", 384),
        "1.3.132.0.35" => ("ec-secp521r1", 521),
        "1.3.132.0.10" => ("ec-secp256k1", 256),
        _ => return None,
    })
}

pub(super) fn ints(content: &[u8]) -> Vec<&[u8]> {
    children(content)
        .into_iter()
        .filter(|t| t.tag == 0x02)
        .map(|t| t.content)
        .collect()
}

/// PKCS#1 RSAPrivateKey.
pub(super) fn pkcs1_rsa(b: &[u8]) -> Option<KeyInfo> {
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
pub(super) fn sec1_ec(b: &[u8], curve: Option<&str>) -> Option<KeyInfo> {
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
pub(super) fn pkcs8(b: &[u8]) -> Option<KeyInfo> {
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

pub(super) fn dsa_traditional(b: &[u8]) -> Option<KeyInfo> {
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
pub(super) fn ssh_public(blob: &[u8]) -> Option<(String, usize, Vec<u8>)> {
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

pub(super) fn openssh(b: &[u8]) -> Option<KeyInfo> {
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
pub(super) fn dropbear(b: &[u8]) -> Option<KeyInfo> {
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
pub(super) fn bare_der(b: &[u8]) -> Option<KeyInfo> {
    if b.len() > 16384 || b.first() != Some(&0x30) {
        return None;
    }
    let mut k = pkcs8(b).or_else(|| pkcs1_rsa(b))?;
    k.format = format!("DER {}", k.format);
    Some(k)
}
