//! Reports read back: plain canonical JSON or the payload of a signed DSSE envelope, and the
//! envelope's signature checked against a public key.
//!
//! A report is evidence someone handed over, so it is read as hostile input: its size is
//! checked before it is read (and the read stops at the limit whatever the file claims), an
//! envelope's signature is checked over the raw payload bytes before the payload is parsed,
//! and the JSON goes straight into the report's types, never through a generic tree.

use crate::LoadError;
use assay_model::Report;
use assay_report::dsse::{self, SignedPayload};
use ed25519_dalek::VerifyingKey;
use serde::de::IgnoredAny;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest report read back by default: 512 MiB of JSON (a signed envelope may be a third
/// larger). Reports of real images are a few MB; one this large is a crafted one, or an image
/// whose size calls for [`AnalysisConfig::with_max_report_bytes`](crate::AnalysisConfig::with_max_report_bytes).
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 512 << 20;

/// A report as read, and whether it came signed.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    /// The report.
    pub report: Report,
    /// Whether it came in a DSSE envelope (its signature is checked on the [`ReportFile`]).
    pub signed: bool,
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

/// A report file read but not yet parsed: the plain JSON, or an envelope's signed bytes.
/// Check the signature with [`ReportFile::check_signature`], then [`ReportFile::parse`].
#[derive(Debug)]
pub struct ReportFile {
    path: PathBuf,
    content: Content,
}

#[derive(Debug)]
enum Content {
    Plain(Vec<u8>),
    Envelope(SignedPayload),
}

/// Just enough of a JSON object to tell an envelope from a report; everything else is
/// skipped without being kept.
#[derive(serde::Deserialize)]
struct Shape {
    #[serde(rename = "payloadType")]
    payload_type: Option<IgnoredAny>,
}

impl ReportFile {
    /// Read a report or a signed envelope of at most `max_report` bytes of report;
    /// `Ok(None)` when the file is not a JSON object at all (then it is presumably an image).
    pub fn read(path: &Path, max_report: u64) -> Result<Option<ReportFile>, LoadError> {
        let read_error = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        // Base64 makes an envelope a third larger than its payload; the signatures and the
        // field names are small.
        let max_file = max_report
            .saturating_add(max_report / 3)
            .saturating_add(64 << 10);
        let file = std::fs::File::open(path).map_err(read_error)?;
        let declared = file.metadata().map_err(read_error)?.len();
        let too_large = |size| LoadError::TooLarge {
            path: path.to_path_buf(),
            size,
            max: max_report,
        };
        if declared > max_file {
            return Err(too_large(declared));
        }
        // The read stops one byte past the limit whatever the metadata said (a growing file,
        // a device or a pipe).
        let mut bytes = Vec::new();
        file.take(max_file.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > max_file {
            return Err(too_large(bytes.len() as u64));
        }
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Ok(None);
        }
        let Ok(shape) = serde_json::from_slice::<Shape>(&bytes) else {
            return Ok(None);
        };
        let content = if shape.payload_type.is_some() {
            let signed =
                SignedPayload::from_json_owned(bytes, max_report).map_err(
                    |source| match source {
                        dsse::DsseError::PayloadTooLarge { length, .. } => too_large(length),
                        source => LoadError::Envelope {
                            path: path.to_path_buf(),
                            source,
                        },
                    },
                )?;
            Content::Envelope(signed)
        } else if bytes.len() as u64 > max_report {
            return Err(too_large(bytes.len() as u64));
        } else {
            Content::Plain(bytes)
        };
        Ok(Some(ReportFile {
            path: path.to_path_buf(),
            content,
        }))
    }

    /// Whether the file is a signed envelope.
    pub fn is_envelope(&self) -> bool {
        matches!(self.content, Content::Envelope(_))
    }

    /// Check the envelope's signature with `key`, over the payload's raw bytes and before
    /// anything parses them (see [`SignatureCheck`]).
    pub fn check_signature(&self, key: Option<&VerifyingKey>) -> SignatureCheck {
        match (key, &self.content) {
            (Some(key), Content::Envelope(signed)) => match signed.verify(key) {
                Ok(()) => SignatureCheck::Verified {
                    key_id: dsse::key_id(key),
                },
                Err(e) => SignatureCheck::Failed(e.to_string()),
            },
            (Some(_), Content::Plain(_)) => SignatureCheck::NotAnEnvelope,
            (None, Content::Envelope(_)) => SignatureCheck::NotChecked,
            (None, Content::Plain(_)) => SignatureCheck::Unsigned,
        }
    }

    /// Parse the report (an envelope's payload must be of a report's type).
    pub fn parse(self) -> Result<LoadedReport, LoadError> {
        let path = self.path;
        match self.content {
            Content::Plain(bytes) => {
                let report = serde_json::from_slice(&bytes)
                    .map_err(|source| LoadError::NotAReport { path, source })?;
                Ok(LoadedReport {
                    report,
                    signed: false,
                })
            }
            Content::Envelope(signed) => {
                if signed.payload_type() != dsse::REPORT_PAYLOAD_TYPE {
                    return Err(LoadError::Payload(dsse::DsseError::WrongPayloadType(
                        signed.payload_type().chars().take(80).collect(),
                    )));
                }
                let report = serde_json::from_slice(signed.payload())
                    .map_err(|source| LoadError::PayloadNotAReport { path, source })?;
                Ok(LoadedReport {
                    report,
                    signed: true,
                })
            }
        }
    }
}

/// Read a report or a signed envelope (signature not checked) of at most
/// [`DEFAULT_MAX_REPORT_BYTES`]; `Ok(None)` when the file is not JSON at all (then it is
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
    ReportFile::read(path, DEFAULT_MAX_REPORT_BYTES)?
        .map(ReportFile::parse)
        .transpose()
}
