//! Why a store operation failed.

use std::path::PathBuf;

/// Why a store operation failed. Database and object-storage errors are worth retrying (a
/// restarted server, a dropped connection); the others are not.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database location is not `sqlite:PATH` or `postgres://…`.
    #[error("database {0:?}: expected sqlite:PATH or postgres://USER@HOST/DB")]
    BadDatabaseUrl(String),
    /// The blob location is not a directory or `s3://BUCKET` with an endpoint.
    #[error("blob store {0:?}: {1}")]
    BadBlobLocation(String, String),
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no, or the connection broke.
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    /// The database holds a schema newer than this build knows.
    #[error(
        "the database schema is version {found}, newer than this build's {known}: upgrade assay"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build applies.
        known: i64,
    },
    /// A row did not hold what the schema says (a value of another type, a missing column).
    #[error("unexpected row: {0}")]
    Row(String),
    /// A file of the blob store or an image could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The object store answered with an error or could not be reached.
    #[error("object storage: {0}")]
    ObjectStorage(String),
    /// A blob's bytes do not hash to its name (damaged or tampered storage).
    #[error("blob {expected} holds bytes hashing to {found}")]
    BlobCorrupt {
        /// The name (expected SHA-256).
        expected: String,
        /// What the bytes hash to.
        found: String,
    },
    /// The blob store has no bytes for this hash.
    #[error("no blob {0} in the store")]
    BlobMissing(String),
    /// No such image, job or report.
    #[error("no {what} {id} in the store")]
    NotFound {
        /// `image`, `job`, `report`.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A stored or imported report is not a readable `assay.report/1` document.
    #[error("report: {0}")]
    BadReport(String),
    /// An imported report's signature is not by a configured lab key, or does not hold.
    #[error("report signature: {0}")]
    Signature(String),
    /// The lease is no longer this worker's (it expired and another worker took the job).
    #[error("job {job}: the lease of {owner} (attempt {attempt}) is lost")]
    LeaseLost {
        /// The job.
        job: i64,
        /// The worker that held it.
        owner: String,
        /// Its attempt number.
        attempt: i64,
    },
    /// An argument was out of range (an empty worker id, a zero lease).
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether trying again later may succeed: the database or the object store could not
    /// be reached or broke the connection (a restart, a failover).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Postgres(_) | StoreError::ObjectStorage(_) => true,
            StoreError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
