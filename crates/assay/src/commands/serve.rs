//! `assay serve`: the fleet's web UI and REST API over a store, with scan workers running in
//! the same process (or none, when external `assay worker` processes scan). Stops cleanly on
//! SIGTERM or Ctrl-C: no new requests or jobs, requests and scans in flight finish.

use super::fleet::default_data_dir;
use super::usage;
use super::worker::{analysis_config, default_worker_id};
use crate::flags::ServeArgs;
use anyhow::{Context, Result};
use assay_engine::CancelToken;
use assay_server::{App, Settings, Termination};
use assay_store::worker::{Worker, WorkerConfig};
use std::io::{BufRead, IsTerminal};

pub fn run(args: ServeArgs) -> Result<i32> {
    if args.max_upload == 0 || args.session_hours == 0 {
        return Err(usage("--max-upload and --session-hours must be at least 1"));
    }
    let store = super::worker::open_when_reachable(&args.store, args.quiet.quiet)?;
    if let Some(name) = &args.create_admin {
        return create_admin(&store, name);
    }
    let data = match &args.store.data {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let mut settings = Settings::new(data.join("uploads"));
    settings.public_read = args.public_read;
    settings.secure_cookies = args.secure_cookies;
    settings.max_upload = args.max_upload.saturating_mul(1 << 20);
    settings.import_roots = args.import_roots.clone();
    settings.import_buckets = args
        .import_buckets
        .iter()
        .map(|b| super::fleet::s3_location(b))
        .collect::<Result<_>>()?;
    settings.session_ms = i64::from(args.session_hours) * 3_600_000;
    let quiet = args.quiet.quiet;
    if !quiet && store.user_count()? == 0 {
        eprintln!(
            "assay serve: no user yet; create the first admin with `assay serve --create-admin NAME`"
        );
    }
    let app = App::new(store.clone(), settings).context("starting the server")?;
    let stop = CancelToken::new();
    let worker = if args.workers > 0 {
        let id = format!("{}-web", default_worker_id());
        let scratch = data.join("scratch").join(&id);
        let mut config = WorkerConfig::new(id, scratch);
        config.concurrency = args.workers;
        config.analysis = analysis_config(&args.rule_dirs, args.vulndb.clone())?;
        let worker = Worker::new(store.clone(), config);
        let stop = stop.clone();
        Some(
            std::thread::Builder::new()
                .name("workers".into())
                .spawn(move || worker.run(&stop))
                .context("starting the workers")?,
        )
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let served = runtime.block_on(async {
        let signals = Termination::register().context("installing the SIGTERM handler")?;
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        if !quiet {
            let addr = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            eprintln!(
                "assay serve: http://{addr}/ store {store:?}, {} in-process worker slot(s){}",
                args.workers,
                if args.public_read {
                    ", public read"
                } else {
                    ""
                }
            );
        }
        assay_server::serve(&app, listener, signals.wait())
            .await
            .context("serving")
    });
    if !quiet {
        eprintln!("assay serve: stopping; scans in progress finish first");
    }
    stop.cancel();
    if let Some(handle) = worker {
        let _ = handle.join();
    }
    served.map(|()| 0)
}

/// `--create-admin NAME`: the password from standard input (first line) when it is not a
/// terminal, else a generated one printed once.
fn create_admin(store: &assay_store::Store, name: &str) -> Result<i32> {
    let stdin = std::io::stdin();
    let given = if stdin.is_terminal() {
        None
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = line.trim_end_matches(['\n', '\r']).to_string();
        (!line.is_empty()).then_some(line)
    };
    let (user, generated) = assay_server::auth::create_admin(store, name, given.as_deref())
        .map_err(|f| usage(f.message))?;
    match generated {
        Some(password) => println!(
            "admin {} created; password (shown once): {password}",
            user.name
        ),
        None => println!("admin {} created", user.name),
    }
    Ok(0)
}
