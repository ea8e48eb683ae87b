//! The values the store hands out and takes in: images, scan settings, jobs, leases, stored
//! reports. All serialise to JSON, so that a REST API can return them as they are.

use crate::facts::FactKind;
use crate::StoreError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the lab says an image is: its name and the release it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMeta {
    /// File name as received (`WR841Nv12_en_3_16_9_up.bin`).
    pub name: String,
    /// Vendor (`acme`); empty when unknown.
    #[serde(default)]
    pub vendor: String,
    /// Model (`wr841n-v12`); empty when unknown.
    #[serde(default)]
    pub model: String,
    /// Firmware version (`3.16.9`); releases of a model are ordered by it.
    #[serde(default)]
    pub version: String,
    /// Release date when known (`YYYY-MM-DD`), shown beside the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<String>,
}

/// An image of the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Store id.
    pub id: i64,
    /// SHA-256 of its bytes: the blob and the key of its reports.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Name and release.
    #[serde(flatten)]
    pub meta: ImageMeta,
    /// When it was added (Unix milliseconds).
    pub added_at: i64,
}

/// The outcome of adding an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedImage {
    /// The image record (an existing one when the same bytes, name and release were added
    /// before).
    pub image: ImageRecord,
    /// Whether the bytes were new to the blob store (false: stored once already).
    pub new_content: bool,
    /// Whether the record was new.
    pub new_record: bool,
}

/// The settings a scan runs with, part of a report's identity: the store keeps one report
/// per image content and settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanSettings {
    /// Judge time-dependent facts (certificate expiry) as of this time (Unix seconds);
    /// `None`: as of the moment the scan was first queued, recorded with the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<i64>,
    /// Extra candidate passwords for the hash cracker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_words: Vec<String>,
}

impl ScanSettings {
    /// The canonical JSON of the settings.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The settings' id: hex SHA-256 of their canonical JSON.
    pub fn id(&self) -> String {
        assay_model::hex(&Sha256::digest(self.canonical_json().as_bytes()))
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for a worker (possibly until a back-off delay has passed).
    Queued,
    /// Leased by a worker.
    Running,
    /// Its report is stored.
    Done,
    /// Failed as often as it may; the last error is kept.
    Dead,
}

impl JobState {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            other => return Err(StoreError::Row(format!("job state {other:?}"))),
        })
    }
}

/// A scan job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Store id.
    pub id: i64,
    /// The image content to scan.
    pub sha256: String,
    /// The settings' id.
    pub settings_id: String,
    /// The image record it was queued for (its name goes into the report).
    pub image_id: i64,
    /// Reference time of the scan (Unix seconds).
    pub as_of: i64,
    /// Where it is.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: i64,
    /// Attempts allowed before it is dead.
    pub max_attempts: i64,
    /// Not to be claimed before this time (Unix ms): the back-off after a failure.
    pub run_after: i64,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends unless renewed (Unix ms).
    pub lease_expires: Option<i64>,
    /// Last heartbeat (Unix ms).
    pub heartbeat_at: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued (Unix ms).
    pub queued_at: i64,
    /// When the last attempt started (Unix ms).
    pub started_at: Option<i64>,
    /// When it ended done or dead (Unix ms).
    pub finished_at: Option<i64>,
    /// The stored report, once done.
    pub report_id: Option<i64>,
}

/// A claimed job: proof that this worker may run it and report on it until `expires`.
/// Heartbeats, completion and failure name the lease; a lease that expired and was taken by
/// another worker is refused ([`StoreError::LeaseLost`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The job.
    pub job: Job,
    /// The worker.
    pub owner: String,
    /// Which attempt this is (1 for the first).
    pub attempt: i64,
    /// When the lease ends unless renewed (Unix ms).
    pub expires: i64,
}

/// How often and how soon a failed job is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts before the job is dead.
    pub max_attempts: i64,
    /// Delay before the second attempt (ms); doubled for each further one.
    pub base_delay_ms: i64,
    /// Longest delay (ms).
    pub max_delay_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 30_000,
            max_delay_ms: 3_600_000,
        }
    }
}

impl RetryPolicy {
    /// The delay after the `attempt`-th failure: `base × 2^(attempt-1)`, at most `max`.
    ///
    /// ```
    /// let p = assay_store::RetryPolicy { max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 5000 };
    /// assert_eq!([1, 2, 3, 4].map(|a| p.delay_after(a)), [1000, 2000, 4000, 5000]);
    /// ```
    pub fn delay_after(&self, attempt: i64) -> i64 {
        let shift = (attempt.max(1) - 1).min(30) as u32;
        self.base_delay_ms
            .max(0)
            .saturating_mul(1i64 << shift)
            .min(self.max_delay_ms.max(0))
    }
}

/// The outcome of queueing a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedScan {
    /// The job (a new one, or the one that already scans this content with these settings).
    pub job: Job,
    /// Whether the job was new.
    pub created: bool,
}

/// Where a stored report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportOrigin {
    /// Scanned by a worker of this store.
    Scan,
    /// Imported, signed by a lab key.
    Import,
}

/// A stored report, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRecord {
    /// Store id.
    pub id: i64,
    /// The image content it is about.
    pub sha256: String,
    /// The settings' id (`import:KEYID` for an imported report).
    pub settings_id: String,
    /// Key ids that signed the envelope, the store's first.
    pub signed_by: String,
    /// Scanned here or imported.
    pub origin: ReportOrigin,
    /// The job that made it.
    pub job_id: Option<i64>,
    /// The worker that made it.
    pub worker: Option<String>,
    /// The image name inside the report.
    pub image_name: String,
    /// Version of Assay that made it.
    pub tool_version: String,
    /// When it was stored (Unix ms).
    pub stored_at: i64,
}

/// What completing a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Completion {
    /// The report was stored.
    Stored {
        /// Its id.
        report_id: i64,
    },
    /// A report for this content and settings was stored before (by an earlier attempt
    /// whose worker was presumed dead): nothing new was stored.
    AlreadyStored {
        /// The existing report's id.
        report_id: i64,
    },
}

impl Completion {
    /// The report's id either way.
    pub fn report_id(self) -> i64 {
        match self {
            Completion::Stored { report_id } | Completion::AlreadyStored { report_id } => report_id,
        }
    }
}

/// Job counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    /// Waiting.
    pub queued: i64,
    /// Leased.
    pub running: i64,
    /// Reported.
    pub done: i64,
    /// Given up.
    pub dead: i64,
}

/// An image that holds a fact, with where and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactHit {
    /// The image.
    pub image: ImageRecord,
    /// The report the fact is from.
    pub report_id: i64,
    /// What was asked about.
    pub kind: FactKind,
    /// The value (fingerprint, host, port, component name, …).
    pub value: String,
    /// The version, account, protocol and program, … (see [`FactKind`]).
    pub detail: String,
    /// The file it was found in.
    pub path: String,
}

/// A value found in several images (a key shipped by many devices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFact {
    /// What it is.
    pub kind: FactKind,
    /// The value.
    pub value: String,
    /// Distinct image contents that hold it.
    pub images: i64,
}

/// An approval of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approved image.
    pub image_id: i64,
    /// Who approved it.
    pub approved_by: String,
    /// Why, or under which conditions.
    pub note: String,
    /// When (Unix ms).
    pub approved_at: i64,
}

/// One release of a model in a vendor timeline, with what it changed from the release
/// before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// The release.
    pub image: ImageRecord,
    /// Its newest stored report, if scanned.
    pub report_id: Option<i64>,
    /// The release before it (same vendor and model), when there is one.
    pub previous: Option<i64>,
    /// What changed since that release, when both have reports.
    pub changes: Option<assay_report::diff::ReportDiff>,
}

/// What the releases after a model's approved release changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewSinceApproved {
    /// The approved release.
    pub approved: ImageRecord,
    /// The approval.
    pub approval: Approval,
    /// Every later release of the model with its changes against the approved one.
    pub releases: Vec<TimelineEntry>,
}

/// An image as the catalogue lists it: with its scan state, read in the same query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// The image.
    #[serde(flatten)]
    pub image: ImageRecord,
    /// Its content's newest stored report.
    pub report_id: Option<i64>,
    /// The state of its content's newest scan job, if one was queued.
    pub job_state: Option<JobState>,
    /// Whether it is an approved release.
    pub approved: bool,
}

/// A vendor's model with its number of images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCount {
    /// Vendor.
    pub vendor: String,
    /// Model.
    pub model: String,
    /// Images of it.
    pub images: i64,
}

/// What deleting an image removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedImage {
    /// The record that was deleted.
    pub image: ImageRecord,
    /// Reports deleted with it (none when other records name the same content).
    pub reports_deleted: i64,
    /// Whether its bytes were deleted from the blob store.
    pub blob_deleted: bool,
}
