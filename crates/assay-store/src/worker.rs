//! A worker: claims jobs from the store, keeps their leases alive while `assay_engine::Scan`
//! runs, and stores the signed reports. Used by `assay worker` and by servers that run
//! workers in-process.
//!
//! What a crash costs: nothing is written before the scan's report is stored in one
//! transaction, so a worker killed at any point leaves a running job whose lease expires;
//! the next claim after that takes it, and if the killed worker had stored its report after
//! all, the redo stores nothing ([`Completion::AlreadyStored`]). A store that cannot be
//! reached (a restarted database) is waited for: claims pause, and a finished report is
//! kept in memory and stored as soon as the database answers.

use crate::records::{Completion, JobState, Lease};
use crate::{Store, StoreError};
use assay_engine::{AnalysisConfig, CancelToken, ReferenceTime, Scan};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The worker's name in leases (`host-1`); slot `n` claims as `ID/n`.
    pub id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a lease lasts without a heartbeat (ms).
    pub lease_ms: i64,
    /// How often the lease is renewed (ms); a third of the lease by default.
    pub heartbeat_ms: i64,
    /// How long to wait when no job is ready.
    pub poll: Duration,
    /// Where downloaded images and per-job links go.
    pub scratch: PathBuf,
    /// The analysis settings every scan starts from (rules, limits, vulnerability source);
    /// each job adds its own reference time and extra words.
    pub analysis: AnalysisConfig,
}

impl WorkerConfig {
    /// One slot, 5-minute leases renewed every 100 s, polling every second.
    pub fn new(id: impl Into<String>, scratch: impl Into<PathBuf>) -> Self {
        WorkerConfig {
            id: id.into(),
            concurrency: 1,
            lease_ms: 300_000,
            heartbeat_ms: 100_000,
            poll: Duration::from_secs(1),
            scratch: scratch.into(),
            analysis: AnalysisConfig::new(),
        }
    }

    /// Leases of `lease_ms`, renewed every third of it.
    pub fn with_lease(mut self, lease_ms: i64) -> Self {
        self.lease_ms = lease_ms.max(3);
        self.heartbeat_ms = (lease_ms / 3).max(1);
        self
    }
}

/// What a worker did, for its front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// A slot claimed a job.
    Claimed {
        /// The slot's worker id.
        worker: String,
        /// The job.
        job: i64,
        /// Its attempt number.
        attempt: i64,
    },
    /// A job's report was stored (or had been stored by an earlier attempt).
    Completed {
        /// The slot's worker id.
        worker: String,
        /// The job.
        job: i64,
        /// What was stored.
        completion: Completion,
    },
    /// A job's attempt failed; the job is queued again or dead.
    Failed {
        /// The slot's worker id.
        worker: String,
        /// The job.
        job: i64,
        /// Why.
        error: String,
        /// Where the job is now.
        state: JobState,
    },
    /// The lease was lost (expired and taken): the scan was stopped, nothing stored.
    LeaseLost {
        /// The slot's worker id.
        worker: String,
        /// The job.
        job: i64,
    },
    /// The store could not be reached; the slot retries.
    StoreUnavailable {
        /// The slot's worker id.
        worker: String,
        /// Why.
        error: String,
    },
}

/// A callback for [`WorkerEvent`]s; called from the worker's threads.
pub type EventFn = dyn Fn(WorkerEvent) + Send + Sync;

/// A worker over a store.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    events: Option<Arc<EventFn>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Longest pause between tries to reach an unavailable store.
const MAX_STORE_BACKOFF: Duration = Duration::from_secs(5);
/// How long a finished report is held while the store cannot be reached.
const COMPLETE_PATIENCE: Duration = Duration::from_secs(3600);

/// What one processed job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Stored (or stored before).
    Completed(Completion),
    /// Failed; the job is now in this state.
    Failed(JobState),
    /// The lease was lost.
    LeaseLost,
}

impl Worker {
    /// A worker for `store`.
    pub fn new(store: Store, config: WorkerConfig) -> Self {
        Worker {
            store,
            config,
            events: None,
        }
    }

    /// Report what happens to `callback`.
    pub fn on_event(mut self, callback: Arc<EventFn>) -> Self {
        self.events = Some(callback);
        self
    }

    fn emit(&self, event: WorkerEvent) {
        if let Some(e) = &self.events {
            e(event);
        }
    }

    /// Run `concurrency` slots until `stop` is cancelled (each slot finishes its current
    /// job first).
    pub fn run(&self, stop: &CancelToken) {
        std::thread::scope(|scope| {
            for slot in 0..self.config.concurrency.max(1) {
                let id = format!("{}/{slot}", self.config.id);
                scope.spawn(move || self.slot_loop(&id, stop, false));
            }
        });
    }

    /// Run `concurrency` slots until no job is ready (for an embedded store that drains its
    /// queue, and for tests).
    pub fn run_until_idle(&self) {
        let never = CancelToken::new();
        std::thread::scope(|scope| {
            for slot in 0..self.config.concurrency.max(1) {
                let id = format!("{}/{slot}", self.config.id);
                let never = &never;
                scope.spawn(move || self.slot_loop(&id, never, true));
            }
        });
    }

    fn slot_loop(&self, id: &str, stop: &CancelToken, until_idle: bool) {
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            match self.store.claim(id, self.config.lease_ms) {
                Ok(Some(lease)) => {
                    backoff = Duration::from_millis(100);
                    self.process(&lease);
                }
                Ok(None) if until_idle => return,
                Ok(None) => std::thread::sleep(self.config.poll),
                Err(e) => {
                    self.emit(WorkerEvent::StoreUnavailable {
                        worker: id.to_string(),
                        error: e.to_string(),
                    });
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_STORE_BACKOFF);
                }
            }
        }
    }

    /// Claim one job as `worker` and process it; `None` when no job is ready.
    pub fn run_one(&self, worker: &str) -> Result<Option<JobOutcome>, StoreError> {
        Ok(self
            .store
            .claim(worker, self.config.lease_ms)?
            .map(|lease| self.process(&lease)))
    }

    /// Run a leased job to its end: scan with heartbeats, then store or fail.
    pub fn process(&self, lease: &Lease) -> JobOutcome {
        let worker = lease.owner.clone();
        let job = lease.job.id;
        self.emit(WorkerEvent::Claimed {
            worker: worker.clone(),
            job,
            attempt: lease.attempt,
        });
        let cancel = CancelToken::new();
        let done = CancelToken::new();
        let lost = CancelToken::new();
        let scanned = std::thread::scope(|scope| {
            scope.spawn(|| self.heartbeat_loop(lease, &done, &cancel, &lost));
            let result = self.scan(lease, &cancel);
            done.cancel();
            result
        });
        let outcome = match scanned {
            _ if lost.is_cancelled() => {
                self.emit(WorkerEvent::LeaseLost {
                    worker: worker.clone(),
                    job,
                });
                return JobOutcome::LeaseLost;
            }
            Ok(report) => self.with_store_patience(|| self.store.complete(lease, &report)),
            Err(ScanFailure { error, permanent }) => {
                let state = self.with_store_patience(|| {
                    if permanent {
                        self.store.give_up(lease, &error)
                    } else {
                        self.store.fail(lease, &error)
                    }
                });
                return match state {
                    Ok(state) => {
                        self.emit(WorkerEvent::Failed {
                            worker,
                            job,
                            error,
                            state,
                        });
                        JobOutcome::Failed(state)
                    }
                    Err(_) => {
                        self.emit(WorkerEvent::LeaseLost { worker, job });
                        JobOutcome::LeaseLost
                    }
                };
            }
        };
        match outcome {
            Ok(completion) => {
                self.emit(WorkerEvent::Completed {
                    worker,
                    job,
                    completion,
                });
                JobOutcome::Completed(completion)
            }
            Err(e) => {
                // Not transient, or the store stayed away for an hour: the lease has long
                // expired and another worker redoes the job.
                self.emit(WorkerEvent::StoreUnavailable {
                    worker: worker.clone(),
                    error: e.to_string(),
                });
                JobOutcome::LeaseLost
            }
        }
    }

    /// Call `f` until it succeeds or fails for a reason that waiting does not cure.
    fn with_store_patience<T>(
        &self,
        mut f: impl FnMut() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut waited = Duration::ZERO;
        let mut backoff = Duration::from_millis(100);
        loop {
            match f() {
                Err(e) if e.is_transient() && waited < COMPLETE_PATIENCE => {
                    self.emit(WorkerEvent::StoreUnavailable {
                        worker: self.config.id.clone(),
                        error: e.to_string(),
                    });
                    std::thread::sleep(backoff);
                    waited += backoff;
                    backoff = (backoff * 2).min(MAX_STORE_BACKOFF);
                }
                other => return other,
            }
        }
    }

    /// Renew the lease until `done`; on a lost lease cancel the scan.
    fn heartbeat_loop(
        &self,
        lease: &Lease,
        done: &CancelToken,
        cancel: &CancelToken,
        lost: &CancelToken,
    ) {
        let step = Duration::from_millis(50);
        let every = Duration::from_millis(u64::try_from(self.config.heartbeat_ms).unwrap_or(1));
        let mut since = Duration::ZERO;
        let mut current = lease.clone();
        while !done.is_cancelled() {
            std::thread::sleep(step);
            since += step;
            if since < every {
                continue;
            }
            since = Duration::ZERO;
            match self.store.heartbeat(&current, self.config.lease_ms) {
                Ok(renewed) => current = renewed,
                Err(StoreError::LeaseLost { .. }) => {
                    lost.cancel();
                    cancel.cancel();
                    return;
                }
                // The store is away: keep scanning; the lease may survive the outage.
                Err(_) => {}
            }
        }
    }

    fn scan(
        &self,
        lease: &Lease,
        cancel: &CancelToken,
    ) -> Result<assay_model::Report, ScanFailure> {
        let job = &lease.job;
        let retryable = |e: StoreError| ScanFailure {
            permanent: !e.is_transient(),
            error: e.to_string(),
        };
        let settings = self.store.settings(&job.settings_id).map_err(retryable)?;
        let image = self.store.image(job.image_id).map_err(retryable)?;
        let workdir = self
            .config
            .scratch
            .join(format!("job-{}-{}", job.id, lease.attempt));
        let _cleanup = RemoveOnDrop(workdir.clone());
        std::fs::create_dir_all(&workdir).map_err(|e| ScanFailure {
            error: format!("creating {}: {e}", workdir.display()),
            permanent: false,
        })?;
        let blob = self
            .store
            .blobs()
            .fetch(&job.sha256, &workdir)
            .map_err(retryable)?;
        // The scan names the image after its file: link the blob under the image's name, so
        // that the report's location chains are those `assay verify` finds on the download.
        let named = workdir.join(safe_file_name(&image.meta.name));
        link(blob.path(), &named).map_err(|e| ScanFailure {
            error: format!("linking {}: {e}", named.display()),
            permanent: false,
        })?;
        let mut words = self.config.analysis.detectors().extra_words().to_vec();
        words.extend(settings.extra_words.iter().cloned());
        let config = self
            .config
            .analysis
            .clone()
            .with_extra_words(words)
            .with_reference_time(ReferenceTime::At(job.as_of));
        let scan = Scan::new(config).with_cancel(cancel.clone());
        let result = catch_unwind(AssertUnwindSafe(|| scan.run(&named)));
        drop(blob);
        match result {
            Ok(Ok(output)) => {
                let report = output.report;
                if report.image.sha256 != job.sha256 {
                    return Err(ScanFailure {
                        error: format!(
                            "the stored image hashes to {}, not {}",
                            report.image.sha256, job.sha256
                        ),
                        permanent: true,
                    });
                }
                Ok(report)
            }
            Ok(Err(e)) => Err(ScanFailure {
                error: e.to_string(),
                permanent: false,
            }),
            Err(panic) => Err(ScanFailure {
                error: format!(
                    "the scan panicked: {}",
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default()
                ),
                permanent: false,
            }),
        }
    }
}

/// Why a scan produced no report.
struct ScanFailure {
    error: String,
    /// Trying again cannot help (the image is missing or damaged).
    permanent: bool,
}

/// A file name for an image name: its last path component, or `image.bin`.
fn safe_file_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("image.bin")
        .to_string()
}

#[cfg(unix)]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    let target = std::fs::canonicalize(target)?;
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn link(target: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(target, link).map(|_| ())
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_become_plain_file_names() {
        assert_eq!(safe_file_name("fw.bin"), "fw.bin");
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name(".."), "image.bin");
        assert_eq!(safe_file_name(""), "image.bin");
    }
}
