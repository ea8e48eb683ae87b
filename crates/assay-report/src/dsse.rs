//! Signed reports: the canonical JSON report wrapped in a DSSE envelope (Dead Simple Signing
//! Envelope, as used by in-toto and Sigstore) and signed with ed25519.
//!
//! DSSE is written here rather than taken from a crate: the whole protocol is the PAE byte
//! string below plus a three-field JSON envelope, and the crates that implement it bring in a
//! far larger signing stack than one ed25519 signature needs.
//!
//! Key files are text, so that they can be read and mailed: lines starting with `#` are
//! comments, the first other line is the standard base64 of 32 bytes — the ed25519 seed in a
//! private key file, the public key in a `.pub` file. A key's id is the lower-case hex SHA-256
//! of its 32 public-key bytes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// DSSE payload type of an Assay report.
pub const REPORT_PAYLOAD_TYPE: &str = "application/vnd.assay.report+json";

/// Why a key, an envelope or a signature was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum DsseError {
    /// The key file holds no base64 line of 32 bytes.
    #[error("not an Assay ed25519 key file (expected one base64 line of 32 bytes)")]
    BadKeyFile,
    /// The envelope is not DSSE JSON or its base64 is broken.
    #[error("not a DSSE envelope: {0}")]
    BadEnvelope(String),
    /// The envelope carries a payload of another type.
    #[error("payload type {0:?} is not an Assay report")]
    WrongPayloadType(String),
    /// No signature was made by the given key.
    #[error("no signature by key {0}")]
    NoSignatureByKey(String),
    /// A signature by the key is there but does not match the payload.
    #[error("signature by key {0} does not match the payload")]
    BadSignature(String),
    /// The payload is larger than the caller accepts.
    #[error("the payload is {length} bytes, more than the {max} bytes accepted")]
    PayloadTooLarge {
        /// Its length once decoded.
        length: u64,
        /// The most accepted.
        max: u64,
    },
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Id of the key that made it (hex SHA-256 of the public key).
    pub keyid: String,
    /// The ed25519 signature of the PAE, base64.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The signed bytes, base64.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Signatures over the PAE of type and payload.
    pub signatures: Vec<EnvelopeSignature>,
}

/// DSSE's pre-authentication encoding: what is actually signed, binding the type to the body.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The id of a public key: hex SHA-256 of its bytes.
pub fn key_id(public: &VerifyingKey) -> String {
    assay_model::hex(&Sha256::digest(public.as_bytes()))
}

/// Sign `payload` (the canonical JSON report) into an envelope.
pub fn sign(payload: &[u8], key: &SigningKey) -> Envelope {
    let sig = key.sign(&pae(REPORT_PAYLOAD_TYPE, payload));
    Envelope {
        payload: B64.encode(payload),
        payload_type: REPORT_PAYLOAD_TYPE.to_string(),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(&key.verifying_key()),
            sig: B64.encode(sig.to_bytes()),
        }],
    }
}

impl Envelope {
    /// Read an envelope from JSON text.
    pub fn from_json(text: &str) -> Result<Self, DsseError> {
        serde_json::from_str(text).map_err(|e| DsseError::BadEnvelope(e.to_string()))
    }

    /// The envelope as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("envelopes always serialise");
        s.push('\n');
        s
    }

    /// The payload bytes, without checking any signature.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        B64.decode(&self.payload)
            .map_err(|e| DsseError::BadEnvelope(format!("payload: {e}")))
    }

    /// Check that `public` signed this envelope's type and payload; returns the payload.
    pub fn verify(&self, public: &VerifyingKey) -> Result<Vec<u8>, DsseError> {
        check_payload_type(&self.payload_type)?;
        let payload = self.payload_bytes()?;
        check_signatures(&self.signatures, &pae(&self.payload_type, &payload), public)?;
        Ok(payload)
    }
}

/// The payload type must be a report's; a foreign one is named shortened (it is the
/// envelope's text, not ours).
fn check_payload_type(payload_type: &str) -> Result<(), DsseError> {
    if payload_type == REPORT_PAYLOAD_TYPE {
        return Ok(());
    }
    Err(DsseError::WrongPayloadType(shortened(payload_type, 80)))
}

/// At most `max` characters of `text`, with `…` when cut.
fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Check that one of `signatures` is `public`'s over the PAE bytes `signed`.
fn check_signatures(
    signatures: &[EnvelopeSignature],
    signed: &[u8],
    public: &VerifyingKey,
) -> Result<(), DsseError> {
    let id = key_id(public);
    let mut found = false;
    for s in signatures.iter().filter(|s| s.keyid == id) {
        found = true;
        let ok = B64
            .decode(&s.sig)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .is_some_and(|sig| public.verify_strict(signed, &sig).is_ok());
        if ok {
            return Ok(());
        }
    }
    Err(if found {
        DsseError::BadSignature(id)
    } else {
        DsseError::NoSignatureByKey(id)
    })
}

/// An envelope read for checking before anything trusts its payload: the type and
/// signatures, and the signed bytes (the PAE) with the decoded payload inside them. The
/// payload is decoded once, straight into the PAE, and never copied, so a large envelope
/// costs its file plus three quarters of it, and nothing parses the payload before the
/// caller has checked the signature.
#[derive(Debug, Clone)]
pub struct SignedPayload {
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
    /// `DSSEv1 <len> <type> <len> <payload>`.
    pae: Vec<u8>,
    /// Where the payload starts in `pae`.
    payload_at: usize,
}

/// The envelope's fields, with the payload's base64 borrowed from the file's bytes.
#[derive(Deserialize)]
struct EnvelopeText<'a> {
    #[serde(borrow)]
    payload: std::borrow::Cow<'a, str>,
    #[serde(rename = "payloadType")]
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

impl SignedPayload {
    /// Read an envelope from its JSON bytes; fails when it is not DSSE, its base64 is
    /// broken, or its payload would be longer than `max_payload` bytes (checked before
    /// decoding).
    pub fn from_json(bytes: &[u8], max_payload: u64) -> Result<Self, DsseError> {
        let text: EnvelopeText = serde_json::from_slice(bytes)
            .map_err(|e| DsseError::BadEnvelope(shortened(&e.to_string(), 200)))?;
        let b64 = text.payload.as_bytes();
        let padding = b64.iter().rev().take(2).filter(|&&b| b == b'=').count();
        let length = (b64.len() / 4 * 3).saturating_sub(padding) + (b64.len() % 4 * 3 / 4);
        if length as u64 > max_payload {
            return Err(DsseError::PayloadTooLarge {
                length: length as u64,
                max: max_payload,
            });
        }
        let mut pae = format!(
            "DSSEv1 {} {} {length} ",
            text.payload_type.len(),
            text.payload_type
        )
        .into_bytes();
        let payload_at = pae.len();
        pae.try_reserve_exact(length).map_err(|_| {
            DsseError::BadEnvelope(format!("no memory for a {length}-byte payload"))
        })?;
        B64.decode_vec(b64, &mut pae)
            .map_err(|e| DsseError::BadEnvelope(format!("payload: {e}")))?;
        if pae.len() - payload_at != length {
            return Err(DsseError::BadEnvelope(
                "payload: base64 of an unexpected length".into(),
            ));
        }
        Ok(SignedPayload {
            payload_type: text.payload_type,
            signatures: text.signatures,
            pae,
            payload_at,
        })
    }

    /// Like [`from_json`](Self::from_json), taking the envelope's bytes and decoding the
    /// payload's base64 in place inside them: the envelope and its payload are never held
    /// twice, so reading an envelope costs about its own size in memory, not twice that.
    pub fn from_json_owned(mut bytes: Vec<u8>, max_payload: u64) -> Result<Self, DsseError> {
        let (payload_type, signatures, span) = {
            let text: EnvelopeText = serde_json::from_slice(&bytes)
                .map_err(|e| DsseError::BadEnvelope(shortened(&e.to_string(), 200)))?;
            let span = match &text.payload {
                std::borrow::Cow::Borrowed(b64) => {
                    let at = (b64.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
                    Some(at..at + b64.len())
                }
                // Escapes in the string (never in base64 written by a signer): the copy.
                std::borrow::Cow::Owned(_) => None,
            };
            (text.payload_type, text.signatures, span)
        };
        let Some(span) = span.filter(|r| r.end <= bytes.len()) else {
            return Self::from_json(&bytes, max_payload);
        };
        let b64_len = span.len();
        let tail = bytes.get(span.clone()).unwrap_or_default();
        let padding = tail.iter().rev().take(2).filter(|&&b| b == b'=').count();
        let length = (b64_len / 4 * 3).saturating_sub(padding) + (b64_len % 4 * 3 / 4);
        if length as u64 > max_payload {
            return Err(DsseError::PayloadTooLarge {
                length: length as u64,
                max: max_payload,
            });
        }
        let header =
            format!("DSSEv1 {} {} {length} ", payload_type.len(), payload_type).into_bytes();
        if header.len() + length > bytes.len() {
            return Self::from_json(&bytes, max_payload);
        }
        // Decode chunk by chunk to the front of the buffer: the output (three bytes per four
        // characters) never overtakes the input still to be read, which starts later.
        const CHUNK: usize = 64 << 10;
        let mut input = vec![0u8; CHUNK];
        let mut output = vec![0u8; CHUNK / 4 * 3 + 16];
        let mut read = span.start;
        let mut written = 0usize;
        while read < span.end {
            let n = (span.end - read).min(CHUNK);
            let (Some(src), Some(dst)) = (input.get_mut(..n), bytes.get(read..read + n)) else {
                break;
            };
            src.copy_from_slice(dst);
            let got = B64
                .decode_slice(&*src, &mut output)
                .map_err(|e| DsseError::BadEnvelope(format!("payload: {e}")))?;
            let Some(out) = bytes.get_mut(written..written + got) else {
                break;
            };
            out.copy_from_slice(output.get(..got).unwrap_or_default());
            written += got;
            read += n;
        }
        if written != length {
            return Err(DsseError::BadEnvelope(
                "payload: base64 of an unexpected length".into(),
            ));
        }
        // `DSSEv1 <len> <type> <len> ` in front of the payload: the PAE, in the same buffer.
        let payload_at = header.len();
        bytes.truncate(length);
        bytes.splice(0..0, header);
        bytes.shrink_to_fit();
        Ok(SignedPayload {
            payload_type,
            signatures,
            pae: bytes,
            payload_at,
        })
    }

    /// The payload bytes, not checked by anyone yet.
    pub fn payload(&self) -> &[u8] {
        self.pae.get(self.payload_at..).unwrap_or_default()
    }

    /// The type the envelope declares for its payload.
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// Check that `public` signed this type and payload, over the raw payload bytes.
    pub fn verify(&self, public: &VerifyingKey) -> Result<(), DsseError> {
        check_payload_type(&self.payload_type)?;
        check_signatures(&self.signatures, &self.pae, public)
    }
}

/// The 32 bytes of a key file (comments skipped).
fn key_file_bytes(text: &str) -> Result<[u8; 32], DsseError> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or(DsseError::BadKeyFile)?;
    let bytes = B64.decode(line).map_err(|_| DsseError::BadKeyFile)?;
    bytes.try_into().map_err(|_| DsseError::BadKeyFile)
}

/// Read a private key file.
pub fn signing_key_from_text(text: &str) -> Result<SigningKey, DsseError> {
    Ok(SigningKey::from_bytes(&key_file_bytes(text)?))
}

/// Read a public key file.
pub fn verifying_key_from_text(text: &str) -> Result<VerifyingKey, DsseError> {
    VerifyingKey::from_bytes(&key_file_bytes(text)?).map_err(|_| DsseError::BadKeyFile)
}

/// The private key file text of a seed.
pub fn signing_key_to_text(key: &SigningKey) -> String {
    format!(
        "# Assay ed25519 private key: base64 of the 32-byte seed. Keep it secret.\n{}\n",
        B64.encode(key.to_bytes())
    )
}

/// The public key file text, with the key id as a comment.
pub fn verifying_key_to_text(key: &VerifyingKey) -> String {
    format!(
        "# Assay ed25519 public key: base64 of 32 bytes. keyid {}\n{}\n",
        key_id(key),
        B64.encode(key.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_good_signature_verifies() {
        let env = sign(b"{\"schema\":\"assay.report/1\"}\n", &key(7));
        let env = Envelope::from_json(&env.to_json()).unwrap();
        let payload = env.verify(&key(7).verifying_key()).unwrap();
        assert_eq!(payload, b"{\"schema\":\"assay.report/1\"}\n");
    }

    #[test]
    fn a_flipped_payload_byte_or_another_key_is_rejected() {
        let env = sign(b"{\"a\":1}", &key(7));
        let mut payload = env.payload_bytes().unwrap();
        payload[5] ^= 1;
        let tampered = Envelope {
            payload: B64.encode(&payload),
            ..env.clone()
        };
        assert!(matches!(
            tampered.verify(&key(7).verifying_key()),
            Err(DsseError::BadSignature(_))
        ));
        assert!(matches!(
            env.verify(&key(8).verifying_key()),
            Err(DsseError::NoSignatureByKey(_))
        ));
        let retyped = Envelope {
            payload_type: "text/plain".into(),
            ..env
        };
        assert!(retyped.verify(&key(7).verifying_key()).is_err());
    }

    #[test]
    fn signed_payloads_are_checked_over_the_raw_bytes_before_use() {
        for payload in [
            &b""[..],
            b"x",
            b"xy",
            b"xyz",
            b"{\"schema\":\"assay.report/1\"}\n",
        ] {
            let env = sign(payload, &key(7));
            let read = SignedPayload::from_json(env.to_json().as_bytes(), 1 << 20).unwrap();
            assert_eq!(read.payload(), payload);
            assert_eq!(read.payload_type(), REPORT_PAYLOAD_TYPE);
            read.verify(&key(7).verifying_key()).unwrap();
            assert!(matches!(
                read.verify(&key(8).verifying_key()),
                Err(DsseError::NoSignatureByKey(_))
            ));
        }
        // A flipped payload byte fails; the payload is never parsed to find that out.
        let env = sign(b"not even json", &key(7));
        let mut bytes = env.payload_bytes().unwrap();
        bytes[0] ^= 1;
        let tampered = Envelope {
            payload: B64.encode(&bytes),
            ..env.clone()
        };
        let read = SignedPayload::from_json(tampered.to_json().as_bytes(), 1 << 20).unwrap();
        assert!(matches!(
            read.verify(&key(7).verifying_key()),
            Err(DsseError::BadSignature(_))
        ));
        // The size is known, and refused, before anything is decoded.
        let big = sign(&[b' '; 5000], &key(7));
        assert!(matches!(
            SignedPayload::from_json(big.to_json().as_bytes(), 4999),
            Err(DsseError::PayloadTooLarge {
                length: 5000,
                max: 4999
            })
        ));
        assert!(SignedPayload::from_json(big.to_json().as_bytes(), 5000).is_ok());
        // A foreign type is named shortened.
        let long_type = Envelope {
            payload_type: "t".repeat(10_000),
            ..env
        };
        let read = SignedPayload::from_json(long_type.to_json().as_bytes(), 1 << 20).unwrap();
        let err = read
            .verify(&key(7).verifying_key())
            .unwrap_err()
            .to_string();
        assert!(err.len() < 200, "{err}");
        for broken in [
            &b"{}"[..],
            b"{\"payload\":\"!!\",\"payloadType\":\"x\",\"signatures\":[]}",
        ] {
            assert!(SignedPayload::from_json(broken, 1 << 20).is_err());
        }
    }

    #[test]
    fn key_files_round_trip() {
        let k = key(3);
        let back = signing_key_from_text(&signing_key_to_text(&k)).unwrap();
        assert_eq!(back.to_bytes(), k.to_bytes());
        let p = verifying_key_from_text(&verifying_key_to_text(&k.verifying_key())).unwrap();
        assert_eq!(p, k.verifying_key());
        assert!(signing_key_from_text("# nothing\n").is_err());
        assert!(verifying_key_from_text("AAAA\n").is_err());
    }

    #[test]
    fn an_envelope_decoded_in_place_equals_one_decoded_aside() {
        for len in [0usize, 1, 2, 3, 100, 65_535, 65_536, 200_001] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let json = sign(&payload, &key(3)).to_json().into_bytes();
            let aside = SignedPayload::from_json(&json, u64::MAX).unwrap();
            let inside = SignedPayload::from_json_owned(json.clone(), u64::MAX).unwrap();
            assert_eq!(inside.payload(), &payload[..], "{len}");
            assert_eq!(inside.pae, aside.pae, "{len}");
            assert!(inside.verify(&key(3).verifying_key()).is_ok());
            if len > 10 {
                assert!(matches!(
                    SignedPayload::from_json_owned(json.clone(), len as u64 - 1),
                    Err(DsseError::PayloadTooLarge { .. })
                ));
                // A character that is no base64, late in the payload.
                let mut bad = json.clone();
                let start = bad
                    .windows(12)
                    .position(|w| w == b"\"payload\": \"")
                    .unwrap()
                    + 12;
                let end = start + bad[start..].iter().position(|&b| b == b'"').unwrap();
                let at = end - 6;
                bad[at] = b'*';
                assert!(SignedPayload::from_json_owned(bad, u64::MAX).is_err());
            }
        }
    }
}
