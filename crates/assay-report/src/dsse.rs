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
        if self.payload_type != REPORT_PAYLOAD_TYPE {
            return Err(DsseError::WrongPayloadType(self.payload_type.clone()));
        }
        let payload = self.payload_bytes()?;
        let id = key_id(public);
        let signed = pae(&self.payload_type, &payload);
        let mut found = false;
        for s in self.signatures.iter().filter(|s| s.keyid == id) {
            found = true;
            let ok = B64
                .decode(&s.sig)
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok())
                .is_some_and(|sig| public.verify_strict(&signed, &sig).is_ok());
            if ok {
                return Ok(payload);
            }
        }
        Err(if found {
            DsseError::BadSignature(id)
        } else {
            DsseError::NoSignatureByKey(id)
        })
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
    fn key_files_round_trip() {
        let k = key(3);
        let back = signing_key_from_text(&signing_key_to_text(&k)).unwrap();
        assert_eq!(back.to_bytes(), k.to_bytes());
        let p = verifying_key_from_text(&verifying_key_to_text(&k.verifying_key())).unwrap();
        assert_eq!(p, k.verifying_key());
        assert!(signing_key_from_text("# nothing\n").is_err());
        assert!(verifying_key_from_text("AAAA\n").is_err());
    }
}
