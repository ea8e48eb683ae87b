//! `assay fleet …`: the store from the terminal — add images, queue scans, watch the queue,
//! ask questions across images, export evidence, import signed reports.

use super::{clock_now, usage, write_output};
use crate::flags::{FleetCommand, JsonFlag, StoreFlags};
use anyhow::{Context, Result};
use assay_model::terminal::{escape, escape_document};
use assay_report::diff::{ReportDiff, SetChange};
use assay_report::dsse;
use assay_store::{
    DatabaseLocation, DiskBlobs, FactKind, ImageFilter, ImageMeta, RetryPolicy, S3Blobs,
    S3Location, ScanSettings, Store, StoreConfig, TimelineEntry,
};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(command: FleetCommand) -> Result<i32> {
    match command {
        FleetCommand::Add {
            paths,
            vendor,
            model,
            fw_version,
            released,
            queue,
            store,
            json,
        } => {
            let meta = ImageMeta {
                name: String::new(),
                vendor,
                model,
                version: fw_version,
                released,
            };
            add(&open_store(&store)?, &paths, &meta, queue, json)
        }
        FleetCommand::Queue {
            images,
            all,
            as_of,
            wordlist,
            attempts,
            store,
            json,
        } => {
            let store = open_store(&store)?;
            let as_of = match as_of.reference_time(false)? {
                assay_engine::ReferenceTime::At(t) if as_of.as_of.is_some() => Some(t),
                _ => None,
            };
            let extra_words = match &wordlist {
                Some(path) => assay_engine::DetectorConfig::words_of_list(
                    &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                ),
                None => Vec::new(),
            };
            let settings = ScanSettings { as_of, extra_words };
            let ids: Vec<i64> = if all {
                store
                    .list_images(&ImageFilter::default())?
                    .iter()
                    .map(|i| i.id)
                    .collect()
            } else if images.is_empty() {
                return Err(usage("give image ids, or --all"));
            } else {
                images
            };
            let retry = RetryPolicy {
                max_attempts: attempts.max(1),
                ..RetryPolicy::default()
            };
            let mut queued = Vec::new();
            for id in ids {
                queued.push(store.queue_scan(id, &settings, Some(retry))?);
            }
            print_or(json, &queued, || {
                let mut out = String::new();
                for q in &queued {
                    let _ = writeln!(
                        out,
                        "job {} for image {}: {}",
                        q.job.id,
                        q.job.image_id,
                        if q.created {
                            "queued".to_string()
                        } else {
                            format!(
                                "already {} (same content and settings)",
                                q.job.state.as_str()
                            )
                        }
                    );
                }
                out
            })
        }
        FleetCommand::Status { store, json } => status(&open_store(&store)?, json),
        FleetCommand::Requeue { job, store } => {
            let job = open_store(&store)?.requeue(job)?;
            println!("job {} queued again", job.id);
            Ok(0)
        }
        FleetCommand::Images {
            vendor,
            model,
            store,
            json,
        } => {
            let images = open_store(&store)?.list_images(&ImageFilter {
                vendor,
                model,
                ..ImageFilter::default()
            })?;
            print_or(json, &images, || {
                let mut out = String::new();
                for i in &images {
                    let _ = writeln!(
                        out,
                        "{:>6}  {:<12} {:<16} {:<12} {}  {}",
                        i.id,
                        i.meta.vendor,
                        i.meta.model,
                        i.meta.version,
                        &i.sha256[..12.min(i.sha256.len())],
                        i.meta.name
                    );
                }
                out
            })
        }
        FleetCommand::Find {
            kind,
            value,
            limit,
            store,
            json,
        } => {
            let kind = fact_kind(&kind)?;
            let hits = open_store(&store)?.images_with(kind, &value, limit)?;
            print_hits(json, &hits)
        }
        FleetCommand::Shared {
            kind,
            min,
            limit,
            store,
            json,
        } => {
            let kind = fact_kind(&kind)?;
            let shared = open_store(&store)?.shared_facts(kind, min, limit)?;
            print_or(json, &shared, || {
                shared
                    .iter()
                    .map(|s| format!("{:>5} images  {}\n", s.images, s.value))
                    .collect()
            })
        }
        FleetCommand::Below {
            component,
            version,
            limit,
            store,
            json,
        } => {
            let hits = open_store(&store)?.components_below(&component, &version, limit)?;
            print_hits(json, &hits)
        }
        FleetCommand::Timeline {
            vendor,
            model,
            store,
            json,
        } => {
            let timeline = open_store(&store)?.vendor_timeline(&vendor, model.as_deref())?;
            print_or(json, &timeline, || timeline_text(&timeline))
        }
        FleetCommand::Approve {
            image,
            by,
            note,
            store,
        } => {
            let approval = open_store(&store)?.approve(image, &by, &note)?;
            println!("image {} approved", approval.image_id);
            Ok(0)
        }
        FleetCommand::SinceApproved {
            vendor,
            model,
            store,
            json,
        } => {
            let Some(since) = open_store(&store)?.new_since_approved(&vendor, &model)? else {
                return Err(usage(format!("no release of {vendor} {model} is approved")));
            };
            print_or(json, &since, || {
                let mut out = format!(
                    "approved: {} {} (image {}, by {:?}: {})\n",
                    since.approved.meta.model,
                    since.approved.meta.version,
                    since.approved.id,
                    since.approval.approved_by,
                    since.approval.note
                );
                out.push_str(&timeline_text(&since.releases));
                out
            })
        }
        FleetCommand::Export {
            image,
            output,
            store,
        } => export(&open_store(&store)?, image, &output),
        FleetCommand::Import { files, store } => {
            if store.lab_keys.is_empty() {
                return Err(usage(
                    "import needs the signing labs' public keys: --lab-key PUB",
                ));
            }
            let store = open_store(&store)?;
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                let outcome = store
                    .import_report(&text)
                    .with_context(|| format!("importing {}", f.display()))?;
                println!("{}", escape(&format!("{}: {outcome:?}", f.display())));
            }
            Ok(0)
        }
    }
}

fn fact_kind(text: &str) -> Result<FactKind> {
    text.parse::<FactKind>().map_err(usage)
}

fn print_or<T: Serialize + ?Sized>(
    json: JsonFlag,
    value: &T,
    text: impl FnOnce() -> String,
) -> Result<i32> {
    let out = if json.json {
        let mut s = serde_json::to_string_pretty(value)?;
        s.push('\n');
        s
    } else {
        // Facts, paths and names come from images: nothing in them reaches the terminal raw.
        escape_document(&text()).into_owned()
    };
    write_output(None, &out)?;
    Ok(0)
}

fn print_hits(json: JsonFlag, hits: &[assay_store::FactHit]) -> Result<i32> {
    print_or(json, hits, || {
        let mut out = String::new();
        for h in hits {
            let i = &h.image;
            let _ = writeln!(
                out,
                "image {:>5}  {}/{} {}  {}  {}  [{}]",
                i.id, i.meta.vendor, i.meta.model, i.meta.version, i.meta.name, h.path, h.detail
            );
        }
        if hits.is_empty() {
            out.push_str("no image\n");
        }
        out
    })
}

fn status(store: &Store, json: JsonFlag) -> Result<i32> {
    let counts = store.queue_counts()?;
    let dead = store.jobs(Some(assay_store::JobState::Dead), 50)?;
    let running = store.jobs(Some(assay_store::JobState::Running), 50)?;
    #[derive(Serialize)]
    struct Status<'a> {
        counts: assay_store::QueueCounts,
        running: &'a [assay_store::Job],
        dead: &'a [assay_store::Job],
        reports: i64,
    }
    let reports = store.report_count()?;
    print_or(
        json,
        &Status {
            counts,
            running: &running,
            dead: &dead,
            reports,
        },
        || {
            let mut out = format!(
                "jobs: {} queued, {} running, {} done, {} dead; {} reports stored\n",
                counts.queued, counts.running, counts.done, counts.dead, reports
            );
            for j in &running {
                let _ = writeln!(
                    out,
                    "running job {} (image {}) attempt {} on {}",
                    j.id,
                    j.image_id,
                    j.attempts,
                    j.lease_owner.as_deref().unwrap_or("?")
                );
            }
            for j in &dead {
                let _ = writeln!(
                    out,
                    "dead job {} (image {}): {}",
                    j.id,
                    j.image_id,
                    j.last_error.as_deref().unwrap_or("")
                );
            }
            out
        },
    )
}

fn set_lines(out: &mut String, title: &str, s: &SetChange) {
    for a in &s.added {
        let _ = writeln!(out, "    + {title} {a}");
    }
    for r in &s.removed {
        let _ = writeln!(out, "    - {title} {r}");
    }
}

/// The facts a release changed, without the file list.
fn changes_text(out: &mut String, d: &ReportDiff) {
    set_lines(out, "account", &d.accounts);
    set_lines(out, "service", &d.services);
    set_lines(out, "endpoint", &d.endpoints);
    set_lines(out, "key", &d.keys);
    for a in &d.components.added {
        let _ = writeln!(out, "    + component {a}");
    }
    for r in &d.components.removed {
        let _ = writeln!(out, "    - component {r}");
    }
    for c in &d.components.changed {
        let _ = writeln!(
            out,
            "    ~ component {} {} -> {}",
            c.name,
            c.old.join(", "),
            c.new.join(", ")
        );
    }
    for f in &d.findings.added {
        let _ = writeln!(out, "    + finding [{}] {}", f.rule, f.title);
    }
    for f in &d.findings.removed {
        let _ = writeln!(out, "    - finding [{}] {}", f.rule, f.title);
    }
    let files = &d.files;
    let _ = writeln!(
        out,
        "    files: {} added, {} removed, {} changed",
        files.added.len(),
        files.removed.len(),
        files.changed.len()
    );
}

fn timeline_text(entries: &[TimelineEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let i = &e.image;
        let _ = writeln!(
            out,
            "{}/{} {} — image {} {}{}",
            i.meta.vendor,
            i.meta.model,
            i.meta.version,
            i.id,
            i.meta.name,
            if e.report_id.is_none() {
                " (not scanned)"
            } else {
                ""
            }
        );
        if let Some(d) = &e.changes {
            changes_text(&mut out, d);
        }
    }
    out
}

fn add(
    store: &Store,
    paths: &[PathBuf],
    meta: &ImageMeta,
    queue: bool,
    json: JsonFlag,
) -> Result<i32> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut added = Vec::new();
    for f in &files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image.bin".into());
        let a = store
            .add_image(
                f,
                &ImageMeta {
                    name,
                    ..meta.clone()
                },
            )
            .with_context(|| format!("adding {}", f.display()))?;
        let job = if queue {
            Some(store.queue_scan(a.image.id, &ScanSettings::default(), None)?)
        } else {
            None
        };
        if !json.json {
            let line = format!(
                "{}: image {} (sha256 {}, {}){}",
                f.display(),
                a.image.id,
                a.image.sha256,
                if a.new_content {
                    "new content"
                } else {
                    "content stored before"
                },
                job.as_ref()
                    .map(|j| format!(", job {}", j.job.id))
                    .unwrap_or_default()
            );
            println!("{}", escape(&line));
        }
        added.push(a);
    }
    if json.json {
        print_or(json, &added, String::new)?;
    }
    Ok(0)
}

/// Regular files at `path` (a file, or every file under a folder; links are not followed).
fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta =
        std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_file() || (meta.file_type().is_symlink() && path.is_file()) {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            let m = std::fs::symlink_metadata(&e)?;
            if m.is_dir() {
                collect_files(&e, out)?;
            } else if m.is_file() {
                out.push(e);
            }
        }
    }
    Ok(())
}

fn export(store: &Store, image_id: i64, dir: &Path) -> Result<i32> {
    let image = store.image(image_id)?;
    let report_id = store
        .newest_report_id(&image.sha256)?
        .ok_or_else(|| usage(format!("image {image_id} has no report yet")))?;
    let report = store.report(report_id)?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = Path::new(&image.meta.name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image.bin".into());
    let scratch = tempfile_dir(dir)?;
    let blob = store.blobs().fetch(&image.sha256, &scratch)?;
    std::fs::copy(blob.path(), dir.join(&name))
        .with_context(|| format!("writing {}", dir.join(&name).display()))?;
    drop(blob);
    let _ = std::fs::remove_dir_all(&scratch);
    let report_path = dir.join(format!("{name}.report.json"));
    std::fs::write(&report_path, report.envelope.to_json())
        .with_context(|| format!("writing {}", report_path.display()))?;
    let key_path = dir.join("store.pub");
    std::fs::write(&key_path, dsse::verifying_key_to_text(&store.public_key()))
        .with_context(|| format!("writing {}", key_path.display()))?;
    let line = format!(
        "wrote {}, {} and {}: check with assay verify --key {} {} {}",
        dir.join(&name).display(),
        report_path.display(),
        key_path.display(),
        key_path.display(),
        report_path.display(),
        dir.join(&name).display()
    );
    println!("{}", escape(&line));
    Ok(0)
}

fn tempfile_dir(near: &Path) -> Result<PathBuf> {
    let dir = near.join(format!(".assay-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The default data directory: `$XDG_DATA_HOME/assay/fleet`, else
/// `~/.local/share/assay/fleet`.
pub(super) fn default_data_dir() -> Result<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| usage("no data directory: give --data DIR (or set $HOME)"))?;
    Ok(data.join("assay").join("fleet"))
}

/// The system clock in Unix milliseconds, the store's clock.
pub(super) fn clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_else(|_| clock_now().saturating_mul(1000))
}

/// Open the store the flags name (the embedded one in the data directory by default).
pub fn open_store(flags: &StoreFlags) -> Result<Store> {
    let data = match &flags.data {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    let database = match &flags.db {
        Some(url) => url
            .parse::<DatabaseLocation>()
            .map_err(|e| usage(e.to_string()))?,
        None => DatabaseLocation::Sqlite(data.join("store.sqlite")),
    };
    let clock: assay_store::Clock = Arc::new(clock_ms);
    let blobs: Arc<dyn assay_store::BlobStore> = match flags.blobs.as_deref() {
        Some(s) if s.starts_with("s3://") => {
            Arc::new(S3Blobs::new(&s3_location(s)?, clock.clone())?)
        }
        Some(dir) => Arc::new(DiskBlobs::new(dir)?),
        None => Arc::new(DiskBlobs::new(data.join("blobs"))?),
    };
    let signing_key = match &flags.key {
        Some(path) => read_signing_key(path)?,
        None => default_signing_key(&data)?,
    };
    let mut lab_keys = Vec::new();
    for path in &flags.lab_keys {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading key {}", path.display()))?;
        lab_keys.push(
            dsse::verifying_key_from_text(&text)
                .with_context(|| format!("key {}", path.display()))?,
        );
    }
    let config = StoreConfig::new(database, blobs, signing_key, clock).with_lab_keys(lab_keys);
    Store::open(config).context("opening the store")
}

fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    dsse::signing_key_from_text(&text).with_context(|| format!("key {}", path.display()))
}

/// `DATA/store.key`, made (with `store.key.pub`) when missing.
fn default_signing_key(data: &Path) -> Result<ed25519_dalek::SigningKey> {
    let path = data.join("store.key");
    if path.exists() {
        return read_signing_key(&path);
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("reading random bytes from the system")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    super::keygen::write_secret(&path, &dsse::signing_key_to_text(&key))?;
    let public = data.join("store.key.pub");
    std::fs::write(&public, dsse::verifying_key_to_text(&key.verifying_key()))
        .with_context(|| format!("writing {}", public.display()))?;
    Ok(key)
}

/// `s3://BUCKET` with the endpoint, region and credentials from the AWS variables.
pub(super) fn s3_location(url: &str) -> Result<S3Location> {
    let bucket = url
        .strip_prefix("s3://")
        .map(|b| b.trim_end_matches('/'))
        .filter(|b| !b.is_empty() && !b.contains('/'))
        .ok_or_else(|| usage(format!("{url}: expected s3://BUCKET")))?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let (endpoint, path_style) =
        match var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
            // A self-hosted server (MinIO, Ceph, Garage) addresses buckets as paths.
            Some(e) => (e, true),
            None => (format!("https://s3.{region}.amazonaws.com"), false),
        };
    Ok(S3Location {
        endpoint,
        bucket: bucket.to_string(),
        region,
        access_key: var("AWS_ACCESS_KEY_ID")
            .ok_or_else(|| usage("s3:// blobs need $AWS_ACCESS_KEY_ID"))?,
        secret_key: var("AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| usage("s3:// blobs need $AWS_SECRET_ACCESS_KEY"))?,
        path_style,
    })
}
