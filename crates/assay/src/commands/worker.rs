//! `assay worker`: take scan jobs from a fleet store until stopped (or until the queue is
//! empty with --until-idle), one line per event on standard error.

use super::fleet::open_store;
use super::{default_vulndb_path, usage};
use crate::flags::WorkerArgs;
use anyhow::{Context, Result};
use assay_engine::{AnalysisConfig, CancelToken, VulnerabilitySource};
use assay_model::terminal::escape;
use assay_store::worker::{Worker, WorkerConfig, WorkerEvent};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: WorkerArgs) -> Result<i32> {
    if args.concurrency == 0 || args.lease < 3 || !args.poll.is_finite() || args.poll <= 0.0 {
        return Err(usage(
            "--concurrency must be at least 1, --lease at least 3 seconds, --poll positive",
        ));
    }
    let store = open_when_reachable(&args.store, args.quiet.quiet)?;
    let id = args.id.clone().unwrap_or_else(default_worker_id);
    let scratch = args.scratch.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("assay-worker-{}", std::process::id()))
    });
    let analysis = analysis_config(&args.rule_dirs, args.vulndb.clone())?;
    let mut config = WorkerConfig::new(id.clone(), &scratch)
        .with_lease(i64::try_from(args.lease.saturating_mul(1000)).unwrap_or(i64::MAX));
    config.concurrency = args.concurrency;
    config.poll = Duration::from_secs_f64(args.poll);
    config.analysis = analysis;
    let quiet = args.quiet.quiet;
    let worker = Worker::new(store.clone(), config).on_event(Arc::new(move |event| {
        if !quiet {
            // Job errors quote the image and the store: one escaped line.
            eprintln!("{}", escape(&describe(&event)));
        }
    }));
    if !quiet {
        eprintln!(
            "assay worker {id}: {} slot(s), store {store:?}, leases of {} s",
            args.concurrency, args.lease
        );
    }
    if args.until_idle {
        worker.run_until_idle();
    } else {
        // Runs until SIGTERM or SIGINT: the slots stop claiming, finish their current jobs
        // and store their reports. A worker killed harder loses its job to another worker
        // when the lease expires.
        let stop = CancelToken::new();
        assay_server::cancel_on_termination(stop.clone())
            .context("installing the SIGTERM handler")?;
        worker.run(&stop);
        if !quiet {
            eprintln!("assay worker {id}: stopped");
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(0)
}

/// The analysis every scan of a worker starts from: the rule directories and the
/// vulnerability database (the given one, else the default one when it exists).
pub(super) fn analysis_config(
    rule_dirs: &crate::flags::RuleDirsFlag,
    vulndb: Option<std::path::PathBuf>,
) -> Result<AnalysisConfig> {
    let vulnerabilities = match vulndb.or_else(|| default_vulndb_path().filter(|p| p.is_file())) {
        Some(path) => VulnerabilitySource::Path(path),
        None => VulnerabilitySource::Unavailable,
    };
    Ok(rule_dirs
        .apply(AnalysisConfig::new())?
        .with_vulnerabilities(vulnerabilities))
}

/// Open the store, waiting while the database cannot be reached (a worker started before
/// its database, or during a restart).
pub(super) fn open_when_reachable(
    flags: &crate::flags::StoreFlags,
    quiet: bool,
) -> Result<assay_store::Store> {
    let mut backoff = Duration::from_millis(200);
    loop {
        match open_store(flags) {
            Ok(store) => return Ok(store),
            Err(e)
                if e.downcast_ref::<assay_store::StoreError>()
                    .is_some_and(assay_store::StoreError::is_transient) =>
            {
                if !quiet {
                    eprintln!(
                        "{}",
                        escape(&format!(
                            "assay worker: store unavailable ({e:#}); retrying"
                        ))
                    );
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn describe(event: &WorkerEvent) -> String {
    match event {
        WorkerEvent::Claimed {
            worker,
            job,
            attempt,
        } => format!("{worker}: job {job} claimed (attempt {attempt})"),
        WorkerEvent::Completed {
            worker,
            job,
            completion,
        } => match completion {
            assay_store::Completion::Stored { report_id } => {
                format!("{worker}: job {job} done, report {report_id} stored")
            }
            assay_store::Completion::AlreadyStored { report_id } => {
                format!("{worker}: job {job} done, report {report_id} was stored before")
            }
        },
        WorkerEvent::Failed {
            worker,
            job,
            error,
            state,
        } => format!(
            "{worker}: job {job} failed ({error}); now {}",
            state.as_str()
        ),
        WorkerEvent::LeaseLost { worker, job } => {
            format!("{worker}: job {job}: lease lost to another worker, nothing stored")
        }
        WorkerEvent::StoreUnavailable { worker, error } => {
            format!("{worker}: store unavailable ({error}); retrying")
        }
        other => format!("{other:?}"),
    }
}

/// `HOSTNAME-PID`.
pub(super) fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string(Path::new("/etc/hostname")))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}
