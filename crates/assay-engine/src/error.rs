//! What can stop a pipeline. Bad *content* never does: a damaged container becomes a warning in
//! the report. These errors are about the inputs as a whole and the environment.

use assay_report::dsse::DsseError;
use std::path::PathBuf;

/// Why a scan, verification or diff did not produce its result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image (or a report) could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The reference time is [`NewestEmbedded`](crate::ReferenceTime::NewestEmbedded) and the
    /// image records no time stamp: the caller must give the reference time.
    #[error("the image carries no time stamp to take the reference time from; give it explicitly")]
    NoReferenceTime,
    /// A report to verify records an `as_of` that is not a date.
    #[error("the report's as_of {as_of:?} is not a date")]
    ReportAsOf {
        /// The recorded text.
        as_of: String,
    },
    /// The one-thread pool for the deterministic re-unpack could not be started.
    #[error("starting a one-thread pool")]
    ThreadPool(#[source] rayon::ThreadPoolBuildError),
    /// The vulnerability database at a path could not be opened.
    #[error("opening vulnerability database {path}")]
    OpenVulnDb {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: assay_vulndb::Error,
    },
    /// Querying the vulnerability database failed.
    #[error(transparent)]
    VulnDb(#[from] assay_vulndb::Error),
    /// A report or envelope could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The run was cancelled through its [`CancelToken`](crate::CancelToken).
    #[error("the run was cancelled")]
    Cancelled,
}

/// Why a file that looks like a report (JSON) could not be loaded as one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is JSON with a `payloadType` but not a well-formed DSSE envelope.
    #[error("reading envelope {path}")]
    Envelope {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: DsseError,
    },
    /// The envelope's payload is not base64 of a report, or of another type.
    #[error(transparent)]
    Payload(DsseError),
    /// The envelope's payload is not an Assay report.
    #[error("the payload of {path} is not a report")]
    PayloadNotAReport {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The file is larger than a report may be; nothing of it was parsed.
    #[error("{path} holds {size} bytes of report, more than the {max} bytes accepted")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (of the file, or of an envelope's payload), or how much was read before
        /// the limit stopped the read.
        size: u64,
        /// The most accepted.
        max: u64,
    },
    /// The file is JSON but not an Assay report.
    #[error("{path} is JSON but not an Assay report")]
    NotAReport {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}
