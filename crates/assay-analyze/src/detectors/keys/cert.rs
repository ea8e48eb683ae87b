//! X.509 certificates: subject CN, expiry as of the scan's reference time, and the public key
//! that pairs them with a private key.

use super::der::{self, bits, children, read, uint};
use super::parse::{curve_name, ints, KeyInfo};
use std::ops::Range;

/// Certificate: subject CN, notAfter (as written), public key.
pub(super) struct CertInfo {
    pub(super) cn: String,
    pub(super) not_after: String,
    pub(super) expired: bool,
    pub(super) key: KeyInfo,
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
    let days = assay_model::time::days_from_civil(year, mo, d);
    Some(days * 86400 + h * 3600 + mi * 60)
}

/// Parse a certificate; `expired` is judged against `as_of` (Unix seconds).
pub(super) fn certificate(b: &[u8], as_of: i64) -> Option<CertInfo> {
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
