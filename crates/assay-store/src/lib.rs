//! Assay's fleet store: a lab's whole catalogue of firmware images, the scans queued on it,
//! and one signed report per image and settings, with the facts of every report indexed for
//! questions across images.
//!
//! # The model
//!
//! - **Images** are stored by content ([`BlobStore`]: a sharded directory by default, or an
//!   S3-compatible bucket), with the vendor, model and version the lab gives them. The same
//!   bytes under many names are one blob and scanned once.
//! - **Jobs** scan one content with one [`ScanSettings`]. A worker [claims](Store::claim) a
//!   job and gets a [`Lease`]; it [heartbeats](Store::heartbeat) to keep it and
//!   [completes](Store::complete) or [fails](Store::fail) it. A lease that is not renewed
//!   expires and the job goes to the next worker; a failure is retried with exponential
//!   back-off ([`RetryPolicy`]) until the job is dead, with its error kept.
//! - **Reports** are stored exactly once per (content, settings): a unique key and an insert
//!   that does nothing when the report exists, so a job redone after its worker was killed
//!   stores nothing twice. Every report is the canonical JSON in a DSSE envelope signed by
//!   the store's key; [imported](Store::import_report) reports must carry a signature by a
//!   configured lab key.
//! - **Facts** (keys, password hashes, cracked passwords, endpoints, listener ports,
//!   components, CVEs, findings by rule) are written to an indexed table in the transaction
//!   that stores the report, so that [`Store::images_with`], [`Store::components_below`] and
//!   [`Store::shared_facts`] never re-read a report. The [timeline](Store::vendor_timeline)
//!   and [new since approved](Store::new_since_approved) compare stored reports with
//!   `assay_report::diff`.
//!
//! # Two databases, one schema
//!
//! SQLite (embedded, the default: one file in the data directory) or PostgreSQL (many workers
//! on many machines). Jobs are claimed on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED`
//! (claimers never wait for each other), on SQLite inside a `BEGIN IMMEDIATE` transaction
//! (claims are serialised by the write lock). The schema is versioned and migrated when a
//! store opens.
//!
//! The drivers are `rusqlite` and the synchronous `postgres` client, not `sqlx`: `sqlx` 0.8
//! links `libsqlite3-sys` 0.30 and `assay-vulndb` links 0.35 through `rusqlite` 0.37 — two
//! versions of a `links = "sqlite3"` crate cannot be in one binary (cargo refuses the graph)
//! — and `sqlx` 0.9, which accepts 0.35, needs Rust 1.94 and brings an async runtime, macros
//! and its own pool. Cold builds of each dependency set alone, measured on this 2-core
//! machine (user CPU seconds, the workspace's profile: optimised dependencies):
//!
//! | dependency set | crates | CPU s |
//! |---|---|---|
//! | `rusqlite` (bundled SQLite; already in the tree for `assay-vulndb`) | 10 | 43 |
//! | `postgres` (sync client over `tokio-postgres`) | 68 | 78 |
//! | `sqlx` 0.9 with `sqlite`, `postgres`, `runtime-tokio`, `migrate` | 145 | 208 |
//! | S3: `rusty-s3` (SigV4 signing only) + `ureq` (blocking HTTP, rustls) | 86 | 125 |
//! | S3: `object_store` with `aws` (async, reqwest, hyper) | 171 | 361 |
//!
//! so the chosen layer costs 78 s on top of the tree where `sqlx` would cost 208 s (and a
//! second SQLite), and the S3 client a third of `object_store`'s.
//!
//! # A blocking API
//!
//! Every call blocks. A scan is CPU-bound work on rayon threads and the drivers chosen are
//! blocking, so workers call the store directly; an async web server calls it from
//! `spawn_blocking` (or a blocking server from its handler threads). [`Store`] is cheap to
//! clone and shared between threads: it keeps a small pool of connections and drops one
//! that broke (a restarted database), so the next call reconnects.
//!
//! # Time
//!
//! The store reads no clock: it is given one ([`Clock`], Unix milliseconds), which the
//! `assay` binary makes from the system clock and tests make from a counter. Leases compare
//! the claiming worker's clock with the expiry another worker wrote, so worker machines keep
//! their clocks in sync (NTP); lease lengths of minutes dwarf the skew NTP leaves.
//!
//! ```
//! use assay_store::{DatabaseLocation, DiskBlobs, ImageMeta, ScanSettings, Store, StoreConfig};
//! use std::sync::Arc;
//! let dir = tempfile::tempdir()?;
//! let clock: assay_store::Clock = Arc::new(|| 1_717_200_000_000);
//! let store = Store::open(StoreConfig::new(
//!     DatabaseLocation::Sqlite(dir.path().join("store.sqlite")),
//!     Arc::new(DiskBlobs::new(dir.path().join("blobs"))?),
//!     ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
//!     clock,
//! ))?;
//! let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
//! let meta = ImageMeta { name: "acme-demo.bin".into(), vendor: "acme".into(), ..Default::default() };
//! let added = store.add_image(&image, &meta)?;
//! let queued = store.queue_scan(added.image.id, &ScanSettings::default(), None)?;
//! assert!(queued.created);
//! let lease = store.claim("worker-1", 60_000)?.expect("a job is ready");
//! assert_eq!(lease.job.id, queued.job.id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod access;
mod blobs;
mod db;
mod error;
mod facts;
mod images;
mod jobs;
mod query;
mod records;
mod reports;
mod s3;
mod schema;
mod version_key;
pub mod worker;

pub use access::{ApiTokenRecord, AuditEntry, Role, SessionRecord, UserRecord};
pub use blobs::{is_sha256, BlobStore, DiskBlobs, LocalBlob, PutBlob};
pub use db::{Backend, DatabaseLocation};
pub use error::StoreError;
pub use facts::FactKind;
pub use images::ImageFilter;
pub use records::{
    AddedImage, Approval, Completion, DeletedImage, FactHit, ImageMeta, ImageRecord, ImageSummary,
    Job, JobState, Lease, ModelCount, NewSinceApproved, QueueCounts, QueuedScan, ReportOrigin,
    ReportRecord, RetryPolicy, ScanSettings, SharedFact, TimelineEntry,
};
pub use reports::StoredReport;
pub use s3::{S3Blobs, S3Location, S3Object};
pub use schema::current_version as schema_version;
pub use version_key::version_key;

use db::Database;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::sync::Arc;

/// The time now, in Unix milliseconds: the store's only source of time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Everything a store is opened with.
pub struct StoreConfig {
    /// The database.
    pub database: DatabaseLocation,
    /// Where image bytes live.
    pub blobs: Arc<dyn BlobStore>,
    /// The store's key: every report it stores is signed with it.
    pub signing_key: SigningKey,
    /// Keys whose signatures make a report importable (other labs, other stores).
    pub lab_keys: Vec<VerifyingKey>,
    /// The time.
    pub clock: Clock,
    /// How failed jobs are retried, unless a queue call says otherwise.
    pub retry: RetryPolicy,
}

impl StoreConfig {
    /// A config with no lab keys and the default retry policy.
    pub fn new(
        database: DatabaseLocation,
        blobs: Arc<dyn BlobStore>,
        signing_key: SigningKey,
        clock: Clock,
    ) -> Self {
        StoreConfig {
            database,
            blobs,
            signing_key,
            lab_keys: Vec::new(),
            clock,
            retry: RetryPolicy::default(),
        }
    }

    /// Accept imported reports signed by these keys.
    pub fn with_lab_keys(mut self, keys: Vec<VerifyingKey>) -> Self {
        self.lab_keys = keys;
        self
    }

    /// Retry failed jobs by this policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

struct Inner {
    db: Database,
    blobs: Arc<dyn BlobStore>,
    signing_key: SigningKey,
    lab_keys: Vec<VerifyingKey>,
    clock: Clock,
    retry: RetryPolicy,
}

/// An open store. Cheap to clone; clones share the connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.db.backend())
            .field("blobs", &self.inner.blobs.describe())
            .field("key", &self.key_id())
            .finish()
    }
}

impl Store {
    /// Open (and create or migrate) the store.
    pub fn open(config: StoreConfig) -> Result<Self, StoreError> {
        let now = (config.clock)();
        let db = Database::open(config.database, now)?;
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                blobs: config.blobs,
                signing_key: config.signing_key,
                lab_keys: config.lab_keys,
                clock: config.clock,
                retry: config.retry,
            }),
        })
    }

    /// The database engine.
    pub fn backend(&self) -> Backend {
        self.inner.db.backend()
    }

    /// The blob store.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.inner.blobs
    }

    /// The id of the store's signing key (hex SHA-256 of the public key).
    pub fn key_id(&self) -> String {
        assay_report::dsse::key_id(&self.inner.signing_key.verifying_key())
    }

    /// The store's public key, for `assay verify --key` and for other labs' import lists.
    pub fn public_key(&self) -> VerifyingKey {
        self.inner.signing_key.verifying_key()
    }

    /// The time now, by the store's clock (Unix ms).
    pub fn now(&self) -> i64 {
        (self.inner.clock)()
    }

    /// Refresh the database's statistics after a bulk load (thousands of imported reports),
    /// so that questions use the best plan at once rather than after the database's own
    /// maintenance catches up.
    pub fn optimize(&self) -> Result<(), StoreError> {
        self.inner.db.optimize()
    }

    pub(crate) fn db(&self) -> &Database {
        &self.inner.db
    }
}
