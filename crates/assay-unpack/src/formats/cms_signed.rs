//! A CMS / PKCS #7 `SignedData` structure (DER) at the front of a firmware image: DOCSIS
//! cable modems and gateways (MaxLinear Puma 6/7/8 images among them) are updated with code
//! files that begin with such a signature, whose certificates name the manufacturer and the
//! code verification authority, and the signed image follows it. Without this the signature
//! was an unknown high-entropy range ("possibly encrypted").
//!
//! Recognised by the DER outer `SEQUENCE` (long-form length) whose first element is the
//! `signedData` object identifier (1.2.840.113549.1.7.2) and whose second is the explicit
//! `[0]` content that fits inside it, holding a `SEQUENCE` that starts with a small
//! `INTEGER` version. The structure is yielded whole as the stream `signature.der`; what
//! follows it is left to the scan. The signature is not verified (no trust anchors here).
//!
//! Written here: only the outer DER framing is read, which needs no ASN.1 crate.

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked};
use crate::{Blob, FormatError};

/// A CMS SignedData structure.
pub struct CmsSigned;

/// DER of OBJECT IDENTIFIER 1.2.840.113549.1.7.2 (`signedData`).
const OID: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];
/// The OID follows the outer tag and a long-form length of 1, 2 or 3 bytes.
static MAGICS: &[Magic] = &[Magic::at(OID, 3), Magic::at(OID, 4), Magic::at(OID, 5)];

/// A DER tag-length header at `at`: (tag, header length, content length).
fn tlv(d: &[u8], at: usize) -> Option<(u8, usize, u64)> {
    let tag = *d.get(at)?;
    let first = *d.get(at + 1)?;
    if first < 0x80 {
        return Some((tag, 2, u64::from(first)));
    }
    let n = usize::from(first & 0x7F);
    // DER: 1..=3 length bytes here (a signature is below 16 MiB), no leading zero.
    if !(1..=3).contains(&n) || *d.get(at + 2)? == 0 {
        return None;
    }
    let len = d
        .get(at + 2..at + 2 + n)?
        .iter()
        .fold(0u64, |a, &b| a << 8 | u64::from(b));
    // DER uses the short form below 128.
    if len < 0x80 {
        return None;
    }
    Some((tag, 2 + n, len))
}

/// Total length of the structure when one starts at `d[0]`.
fn parse(d: &[u8]) -> Option<u64> {
    let (tag, hl, len) = tlv(d, 0)?;
    if tag != 0x30 || d.get(hl..hl + OID.len())? != OID {
        return None;
    }
    let total = hl as u64 + len;
    let (ctag, chl, clen) = tlv(d, hl + OID.len())?;
    let content_end = (hl + OID.len() + chl) as u64 + clen;
    if ctag != 0xA0 || content_end != total {
        return None;
    }
    // SignedData ::= SEQUENCE { version CMSVersion (1, 3, 4 or 5), ... }
    let inner = hl + OID.len() + chl;
    let (stag, shl, slen) = tlv(d, inner)?;
    if stag != 0x30 || (inner + shl) as u64 + slen != content_end {
        return None;
    }
    let v = d.get(inner + shl..inner + shl + 3)?;
    if v[0] != 0x02 || v[1] != 0x01 || !(1..=5).contains(&v[2]) {
        return None;
    }
    Some(total)
}

impl Format for CmsSigned {
    fn name(&self) -> &'static str {
        "cms-signed-data"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let total = parse(data)?;
        Some(Probe {
            length: Some(total),
            description: format!("CMS (PKCS #7) SignedData, {total} bytes"),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let total = parse(data)
            .ok_or_else(|| FormatError::Corrupt("not a DER SignedData structure".into()))?;
        let mut out = Unpacked::default();
        out.detail("verified", "no (signature not checked)");
        let len = data.len() as u64;
        if total > len {
            out.warn(
                crate::format::WarningKind::Truncated,
                format!("SignedData declares {total} bytes, {len} present"),
            );
        }
        out.entries.push(Entry::stream(
            "signature.der",
            EntryData::Range {
                offset: 0,
                length: total.min(len),
            },
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::WarningKind;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-camfs/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/signed.bin");

    #[test]
    fn signature_is_carved_before_the_image() {
        check_streams_in(MANIFEST, &CmsSigned, "signed.bin", IMG);
        let p = CmsSigned.probe(IMG).unwrap();
        assert!(p.length.unwrap() < IMG.len() as u64);
        assert!(unpack(&CmsSigned, IMG).warnings.is_empty());
    }

    #[test]
    fn other_der_and_bad_lengths_are_refused() {
        let total = CmsSigned.probe(IMG).unwrap().length.unwrap() as usize;
        let mut oid = IMG.to_vec();
        let at = IMG.windows(OID.len()).position(|w| w == OID).unwrap();
        oid[at + OID.len() - 1] = 0x01; // 1.2.840.113549.1.7.1 (data)
        assert!(CmsSigned.probe(&oid).is_none());
        let mut short = IMG.to_vec();
        short[at - 1] ^= 1; // outer length no longer matches the content
        assert!(CmsSigned.probe(&short).is_none());
        let u = unpack(&CmsSigned, &IMG[..total - 10]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&CmsSigned, IMG, &Hostile::flips(200));
    }
}
