//! Reports read back: plain canonical JSON or the payload of a signed DSSE envelope, and the
//! envelope's signature checked against a public key.

use crate::LoadError;
use assay_model::Report;
use assay_report::dsse::{self, Envelope};
use ed25519_dalek::VerifyingKey;
use std::path::Path;

/// A report read from a file, with the envelope it came in when it was signed.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    /// The report.
    pub report: Report,
    /// The DSSE envelope around it, when the file was one.
    pub envelope: Option<Envelope>,
}

/// What the signature of a loaded report says, checked before anything else is worth checking.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureCheck {
    /// The envelope carries a valid signature by the key.
    Verified {
        /// The key's id.
        key_id: String,
    },
    /// The envelope's signature does not hold for the key.
    Failed(String),
    /// A key was given but the report is not a signed envelope.
    NotAnEnvelope,
    /// The report is signed but no key was given.
    NotChecked,
    /// A plain report, and no key.
    Unsigned,
}

impl SignatureCheck {
    /// Whether nothing speaks against the report: verified, not checked or unsigned.
    pub fn holds(&self) -> bool {
        !matches!(
            self,
            SignatureCheck::Failed(_) | SignatureCheck::NotAnEnvelope
        )
    }
}

impl LoadedReport {
    /// Check the envelope's signature with `key` (see [`SignatureCheck`]).
    pub fn check_signature(&self, key: Option<&VerifyingKey>) -> SignatureCheck {
        match (key, &self.envelope) {
            (Some(key), Some(envelope)) => match envelope.verify(key) {
                Ok(_) => SignatureCheck::Verified {
                    key_id: dsse::key_id(key),
                },
                Err(e) => SignatureCheck::Failed(e.to_string()),
            },
            (Some(_), None) => SignatureCheck::NotAnEnvelope,
            (None, Some(_)) => SignatureCheck::NotChecked,
            (None, None) => SignatureCheck::Unsigned,
        }
    }
}

/// Read a report or a signed envelope; `Ok(None)` when the file is not JSON at all (then it is
/// presumably an image).
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
/// let image = assay_engine::load_report(&dir.join("examples/acme-demo.bin"))?;
/// assert!(image.is_none(), "an image is not a report");
/// let loaded = assay_engine::load_report(
///     &dir.join("crates/assay-report/tests/fixtures/router.report.json"),
/// )?
/// .expect("a report");
/// assert_eq!(loaded.report.image.name, "router.bin");
/// # Ok::<(), assay_engine::LoadError>(())
/// ```
pub fn load_report(path: &Path) -> Result<Option<LoadedReport>, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    if value.get("payloadType").is_some() {
        let envelope = Envelope::from_json(text).map_err(|source| LoadError::Envelope {
            path: path.to_path_buf(),
            source,
        })?;
        let payload = envelope.payload_bytes().map_err(LoadError::Payload)?;
        let report =
            serde_json::from_slice(&payload).map_err(|source| LoadError::PayloadNotAReport {
                path: path.to_path_buf(),
                source,
            })?;
        return Ok(Some(LoadedReport {
            report,
            envelope: Some(envelope),
        }));
    }
    let report = serde_json::from_value(value).map_err(|source| LoadError::NotAReport {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Some(LoadedReport {
        report,
        envelope: None,
    }))
}
