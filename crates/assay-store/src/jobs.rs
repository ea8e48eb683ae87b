//! The job queue: queue, claim with a lease, heartbeat, complete, fail with back-off, dead
//! letters.
//!
//! A claim is one statement that picks the oldest ready job — queued and past its back-off,
//! or running with an expired lease — and leases it. On PostgreSQL the pick is
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers take different jobs without waiting; on
//! SQLite the claim runs in a `BEGIN IMMEDIATE` transaction, which serialises it with every
//! other writer. A lease is named by (job, owner, attempt): after it expired and another
//! worker claimed the job, the first worker's heartbeats and failures are refused.

use crate::db::{Backend, Row, Sql, TxKind, Value};
use crate::records::{Job, JobState, Lease, QueueCounts, QueuedScan, RetryPolicy, ScanSettings};
use crate::{Store, StoreError};

/// The columns of a job, in the order [`job_of_row`] reads them.
pub(crate) const JOB_COLUMNS: &str = "id, sha256, settings_id, image_id, as_of, state, attempts, \
     max_attempts, run_after, lease_owner, lease_expires, heartbeat_at, last_error, queued_at, \
     started_at, finished_at, report_id";

pub(crate) fn job_of_row(row: &Row) -> Result<Job, StoreError> {
    Ok(Job {
        id: row.int(0)?,
        sha256: row.text(1)?,
        settings_id: row.text(2)?,
        image_id: row.int(3)?,
        as_of: row.int(4)?,
        state: JobState::parse(&row.text(5)?)?,
        attempts: row.int(6)?,
        max_attempts: row.int(7)?,
        run_after: row.int(8)?,
        lease_owner: row.opt_text(9)?,
        lease_expires: row.opt_int(10)?,
        heartbeat_at: row.opt_int(11)?,
        last_error: row.opt_text(12)?,
        queued_at: row.int(13)?,
        started_at: row.opt_int(14)?,
        finished_at: row.opt_int(15)?,
        report_id: row.opt_int(16)?,
    })
}

/// The error text a lease expiry appends to a job's `last_error`.
const EXPIRED_NOTE: &str = "COALESCE(last_error || '; ', '') || 'attempt ' || \
     CAST(attempts AS TEXT) || ': the lease of ' || COALESCE(lease_owner, '?') || \
     ' expired without a heartbeat'";

/// Longest error text kept with a job.
const MAX_ERROR: usize = 4000;

fn lock_clause(sql: &dyn Sql) -> &'static str {
    match sql.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

impl Store {
    /// Queue a scan of an image's content with these settings. A job that scans the same
    /// content with the same settings is returned instead (whatever its state): the store
    /// keeps one report per content and settings.
    pub fn queue_scan(
        &self,
        image_id: i64,
        settings: &ScanSettings,
        retry: Option<RetryPolicy>,
    ) -> Result<QueuedScan, StoreError> {
        let image = self.image(image_id)?;
        let retry = retry.unwrap_or(self.inner.retry);
        let now = self.now();
        let settings_id = settings.id();
        let as_of = settings.as_of.unwrap_or(now.div_euclid(1000));
        self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "INSERT INTO settings (id, body, added_at) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    settings_id.as_str().into(),
                    settings.canonical_json().into(),
                    now.into(),
                ],
            )?;
            let inserted = sql.query(
                "INSERT INTO jobs (sha256, settings_id, image_id, as_of, state, attempts,
                                   max_attempts, run_after, queued_at)
                 VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)
                 ON CONFLICT (sha256, settings_id) DO NOTHING
                 RETURNING id",
                &[
                    image.sha256.as_str().into(),
                    settings_id.as_str().into(),
                    image.id.into(),
                    as_of.into(),
                    retry.max_attempts.max(1).into(),
                    now.into(),
                ],
            )?;
            let rows = sql.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE sha256 = $1 AND settings_id = $2"),
                &[image.sha256.as_str().into(), settings_id.as_str().into()],
            )?;
            let job = rows
                .first()
                .map(job_of_row)
                .transpose()?
                .ok_or_else(|| StoreError::Row("the job just queued is not there".into()))?;
            Ok(QueuedScan {
                job,
                created: !inserted.is_empty(),
            })
        })
    }

    /// The settings stored under an id.
    pub fn settings(&self, id: &str) -> Result<ScanSettings, StoreError> {
        let body = self.db().transaction(TxKind::Read, |sql| {
            sql.query("SELECT body FROM settings WHERE id = $1", &[id.into()])?
                .first()
                .map(|r| r.text(0))
                .transpose()?
                .ok_or_else(|| StoreError::NotFound {
                    what: "settings",
                    id: id.to_string(),
                })
        })?;
        serde_json::from_str(&body).map_err(|e| StoreError::Row(format!("settings {id}: {e}")))
    }

    /// Claim the oldest ready job for `owner`, leased for `lease_ms`; `None` when no job is
    /// ready. A running job whose lease expired is ready again (its worker is presumed
    /// dead), unless it has used all its attempts: then it is dead.
    pub fn claim(&self, owner: &str, lease_ms: i64) -> Result<Option<Lease>, StoreError> {
        if owner.is_empty() || lease_ms <= 0 {
            return Err(StoreError::Invalid(
                "a claim needs a worker id and a positive lease".into(),
            ));
        }
        let now = self.now();
        let expires = now.saturating_add(lease_ms);
        self.db().transaction(TxKind::Write, |sql| {
            let lock = lock_clause(sql);
            sql.execute(
                &format!(
                    "UPDATE jobs SET state = 'dead', finished_at = $1, last_error = {EXPIRED_NOTE},
                            lease_owner = NULL, lease_expires = NULL
                     WHERE id IN (SELECT id FROM jobs
                                  WHERE state = 'running' AND lease_expires < $1
                                    AND attempts >= max_attempts{lock})"
                ),
                &[now.into()],
            )?;
            let rows = sql.query(
                &format!(
                    "UPDATE jobs SET
                        last_error = CASE WHEN state = 'running' THEN {EXPIRED_NOTE}
                                          ELSE last_error END,
                        state = 'running', lease_owner = $2, lease_expires = $3,
                        heartbeat_at = $1, started_at = $1, attempts = attempts + 1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE (state = 'queued' AND run_after <= $1)
                                    OR (state = 'running' AND lease_expires < $1)
                                 ORDER BY id LIMIT 1{lock})
                     RETURNING {JOB_COLUMNS}"
                ),
                &[now.into(), owner.into(), expires.into()],
            )?;
            rows.first()
                .map(|row| {
                    let job = job_of_row(row)?;
                    Ok(Lease {
                        owner: owner.to_string(),
                        attempt: job.attempts,
                        expires,
                        job,
                    })
                })
                .transpose()
        })
    }

    /// Renew a lease for another `lease_ms`; refused when the lease was lost.
    pub fn heartbeat(&self, lease: &Lease, lease_ms: i64) -> Result<Lease, StoreError> {
        let now = self.now();
        let expires = now.saturating_add(lease_ms.max(1));
        let changed = self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "UPDATE jobs SET lease_expires = $1, heartbeat_at = $2
                 WHERE id = $3 AND state = 'running' AND lease_owner = $4 AND attempts = $5",
                &[
                    expires.into(),
                    now.into(),
                    lease.job.id.into(),
                    lease.owner.as_str().into(),
                    lease.attempt.into(),
                ],
            )
        })?;
        if changed == 0 {
            return Err(lease_lost(lease));
        }
        let mut renewed = lease.clone();
        renewed.expires = expires;
        renewed.job.lease_expires = Some(expires);
        renewed.job.heartbeat_at = Some(now);
        Ok(renewed)
    }

    /// The attempt failed: the job is queued again after the back-off delay, or dead with
    /// the error when it has used all its attempts. Refused when the lease was lost.
    pub fn fail(&self, lease: &Lease, error: &str) -> Result<JobState, StoreError> {
        self.end_attempt(lease, error, true)
    }

    /// The job cannot succeed (its image is missing or damaged): dead at once, with the
    /// error. Refused when the lease was lost.
    pub fn give_up(&self, lease: &Lease, error: &str) -> Result<JobState, StoreError> {
        self.end_attempt(lease, error, false)
    }

    fn end_attempt(&self, lease: &Lease, error: &str, retry: bool) -> Result<JobState, StoreError> {
        let now = self.now();
        let run_after = now.saturating_add(self.inner.retry.delay_after(lease.attempt));
        let error: String = format!("attempt {}: {error}", lease.attempt)
            .chars()
            .take(MAX_ERROR)
            .collect();
        let dead_unless = if retry {
            "attempts >= max_attempts"
        } else {
            "1 = 1"
        };
        let rows = self.db().transaction(TxKind::Write, |sql| {
            sql.query(
                &format!(
                    "UPDATE jobs SET
                        state = CASE WHEN {dead_unless} THEN 'dead' ELSE 'queued' END,
                        finished_at = CASE WHEN {dead_unless} THEN CAST($1 AS BIGINT) ELSE NULL END,
                        run_after = $2, last_error = $3, lease_owner = NULL,
                        lease_expires = NULL
                     WHERE id = $4 AND state = 'running' AND lease_owner = $5 AND attempts = $6
                     RETURNING state"
                ),
                &[
                    now.into(),
                    run_after.into(),
                    error.into(),
                    lease.job.id.into(),
                    lease.owner.as_str().into(),
                    lease.attempt.into(),
                ],
            )
        })?;
        match rows.first() {
            Some(row) => JobState::parse(&row.text(0)?),
            None => Err(lease_lost(lease)),
        }
    }

    /// One job.
    pub fn job(&self, id: i64) -> Result<Job, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
                &[id.into()],
            )?
            .first()
            .map(job_of_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "job",
                id: id.to_string(),
            })
        })
    }

    /// Jobs in a state (all when `None`), oldest first, at most `limit`.
    pub fn jobs(&self, state: Option<JobState>, limit: i64) -> Result<Vec<Job>, StoreError> {
        let (filter, params): (&str, Vec<Value>) = match state {
            Some(s) => (
                "WHERE state = $2",
                vec![limit.max(0).into(), s.as_str().into()],
            ),
            None => ("", vec![limit.max(0).into()]),
        };
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs {filter} ORDER BY id LIMIT $1"),
                &params,
            )?
            .iter()
            .map(job_of_row)
            .collect()
        })
    }

    /// The newest scan jobs, newest first, at most `limit` (the jobs page).
    pub fn recent_jobs(&self, limit: i64) -> Result<Vec<Job>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1"),
                &[limit.max(0).into()],
            )?
            .iter()
            .map(job_of_row)
            .collect()
        })
    }

    /// The newest scan job of an image's content, if one was queued.
    pub fn latest_job(&self, sha256: &str) -> Result<Option<Job>, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            sql.query(
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE sha256 = $1 ORDER BY id DESC LIMIT 1"
                ),
                &[sha256.into()],
            )?
            .first()
            .map(job_of_row)
            .transpose()
        })
    }

    /// How many jobs are in each state.
    pub fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        self.db().transaction(TxKind::Read, |sql| {
            let mut counts = QueueCounts::default();
            for row in sql.query(
                "SELECT state, CAST(COUNT(*) AS BIGINT) FROM jobs GROUP BY state",
                &[],
            )? {
                let n = row.int(1)?;
                match JobState::parse(&row.text(0)?)? {
                    JobState::Queued => counts.queued = n,
                    JobState::Running => counts.running = n,
                    JobState::Done => counts.done = n,
                    JobState::Dead => counts.dead = n,
                }
            }
            Ok(counts)
        })
    }

    /// Give a dead job its attempts back and queue it now (after the cause was fixed).
    pub fn requeue(&self, job_id: i64) -> Result<Job, StoreError> {
        let now = self.now();
        let changed = self.db().transaction(TxKind::Write, |sql| {
            sql.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_after = $1,
                        finished_at = NULL
                 WHERE id = $2 AND state = 'dead'",
                &[now.into(), job_id.into()],
            )
        })?;
        let job = self.job(job_id)?;
        if changed == 0 {
            return Err(StoreError::Invalid(format!(
                "job {job_id} is {}, not dead",
                job.state.as_str()
            )));
        }
        Ok(job)
    }
}

fn lease_lost(lease: &Lease) -> StoreError {
    StoreError::LeaseLost {
        job: lease.job.id,
        owner: lease.owner.clone(),
        attempt: lease.attempt,
    }
}
