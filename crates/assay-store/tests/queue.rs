//! The job queue on both databases: claims, leases, expiry, fencing, retries with back-off,
//! dead letters, exactly-once storage, concurrent claimers, imports. Every scenario runs on
//! SQLite and on a real PostgreSQL server, each in a fresh database.

mod support;

use assay_model::Report;
use assay_store::{
    Completion, DatabaseLocation, DiskBlobs, FactKind, ImageMeta, JobState, RetryPolicy,
    ScanSettings, Store, StoreConfig, StoreError,
};
use ed25519_dalek::SigningKey;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::{ManualClock, PgServer};

/// The start of every manual clock (2024-06-01).
const T0: i64 = 1_717_200_000_000;

struct Fixture {
    store: Store,
    clock: ManualClock,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn open(database: DatabaseLocation) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let config = StoreConfig::new(
            database,
            Arc::new(DiskBlobs::new(dir.path().join("blobs")).unwrap()),
            store_key(),
            clock.clock(),
        )
        .with_lab_keys(vec![lab_key().verifying_key()])
        .with_retry(RetryPolicy {
            max_attempts: 3,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
        });
        Fixture {
            store: Store::open(config).unwrap(),
            clock,
            dir,
        }
    }

    /// An image file with these bytes, added under `name`.
    fn image(&self, name: &str, bytes: &[u8]) -> i64 {
        let path = self.dir.path().join(format!("upload-{name}"));
        std::fs::write(&path, bytes).unwrap();
        self.store
            .add_image(
                &path,
                &ImageMeta {
                    name: name.into(),
                    vendor: "acme".into(),
                    model: "r1".into(),
                    version: "1.0".into(),
                    released: None,
                },
            )
            .unwrap()
            .image
            .id
    }

    fn queue(&self, image: i64) -> i64 {
        self.store
            .queue_scan(image, &ScanSettings::default(), None)
            .unwrap()
            .job
            .id
    }
}

fn store_key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn lab_key() -> SigningKey {
    SigningKey::from_bytes(&[22; 32])
}

/// A real report (the report crate's fixture) made to be about `sha256`.
fn report_about(sha256: &str) -> Report {
    let text = include_str!("../../assay-report/tests/fixtures/router.report.json");
    let mut report: Report = serde_json::from_str(text).unwrap();
    report.image.sha256 = sha256.to_string();
    report
}

type Scenario = fn(&Fixture);

const SCENARIOS: &[(&str, Scenario)] = &[
    (
        "a_lease_keeps_others_out_until_it_expires",
        lease_expiry_and_fencing,
    ),
    ("failures_back_off_then_go_dead", retry_backoff_then_dead),
    (
        "an_expired_last_attempt_is_dead",
        expired_last_attempt_is_dead,
    ),
    ("a_redone_job_stores_one_report", exactly_once),
    ("same_content_is_one_blob_and_one_job", content_dedup),
    ("concurrent_claimers_take_each_job_once", concurrent_claims),
    ("imports_need_a_lab_signature", imports),
    ("approvals_and_listing", approvals_and_listing),
];

fn run_all(open: impl Fn(&str) -> DatabaseLocation) {
    for (name, scenario) in SCENARIOS {
        eprintln!("scenario {name}");
        let fixture = Fixture::open(open(name));
        scenario(&fixture);
    }
}

#[test]
fn queue_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run_all(|name| DatabaseLocation::Sqlite(dir.path().join(format!("{name}.sqlite"))));
}

#[test]
fn queue_on_postgres() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    run_all(|name| DatabaseLocation::Postgres(pg.fresh_database(name)));
}

fn lease_expiry_and_fencing(f: &Fixture) {
    let s = &f.store;
    let image = f.image("a.bin", b"image a");
    let job = f.queue(image);
    let first = s.claim("w1", 1_000).unwrap().expect("a ready job");
    assert_eq!((first.job.id, first.attempt), (job, 1));
    assert_eq!(first.job.state, JobState::Running);
    assert!(s.claim("w2", 1_000).unwrap().is_none(), "leased to w1");
    // Heartbeats keep it.
    f.clock.advance(800);
    let first = s.heartbeat(&first, 1_000).unwrap();
    f.clock.advance(800);
    assert!(s.claim("w2", 1_000).unwrap().is_none(), "renewed by w1");
    // w1 goes silent: the lease expires and w2 takes the job as attempt 2.
    f.clock.advance(1_001);
    let second = s.claim("w2", 1_000).unwrap().expect("expired lease");
    assert_eq!((second.job.id, second.attempt), (job, 2));
    assert!(second
        .job
        .last_error
        .as_deref()
        .unwrap()
        .contains("the lease of w1 expired"));
    // w1 comes back: its heartbeat and its failure are refused.
    assert!(matches!(
        s.heartbeat(&first, 1_000),
        Err(StoreError::LeaseLost { attempt: 1, .. })
    ));
    let late = s.fail(&first, "late");
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. })),
        "{late:?}"
    );
    assert_eq!(s.job(job).unwrap().lease_owner.as_deref(), Some("w2"));
}

fn retry_backoff_then_dead(f: &Fixture) {
    let s = &f.store;
    let job = f.queue(f.image("b.bin", b"image b"));
    let lease = s.claim("w1", 10_000).unwrap().unwrap();
    assert_eq!(s.fail(&lease, "unpack error").unwrap(), JobState::Queued);
    let queued = s.job(job).unwrap();
    assert_eq!(queued.run_after, f.clock.clock()() + 1_000, "base delay");
    assert!(s.claim("w1", 10_000).unwrap().is_none(), "backing off");
    f.clock.advance(1_000);
    let lease = s.claim("w1", 10_000).unwrap().expect("after the delay");
    assert_eq!(lease.attempt, 2);
    assert_eq!(s.fail(&lease, "again").unwrap(), JobState::Queued);
    assert_eq!(
        s.job(job).unwrap().run_after,
        f.clock.clock()() + 2_000,
        "doubled"
    );
    f.clock.advance(1_999);
    assert!(s.claim("w1", 10_000).unwrap().is_none());
    f.clock.advance(1);
    let lease = s.claim("w1", 10_000).unwrap().unwrap();
    assert_eq!(s.fail(&lease, "for the last time").unwrap(), JobState::Dead);
    let dead = s.job(job).unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("attempt 3: for the last time")
    );
    assert!(dead.finished_at.is_some());
    f.clock.advance(1_000_000);
    assert!(
        s.claim("w1", 10_000).unwrap().is_none(),
        "dead jobs stay dead"
    );
    assert_eq!(s.queue_counts().unwrap().dead, 1);
    assert_eq!(s.jobs(Some(JobState::Dead), 10).unwrap().len(), 1);
    // After the cause is fixed, an operator requeues it.
    assert_eq!(s.requeue(job).unwrap().state, JobState::Queued);
    assert!(s.claim("w1", 10_000).unwrap().is_some());
    assert!(s.requeue(job).is_err(), "only dead jobs are requeued");
    // A job that cannot succeed is dead at once.
    let other = f.queue(f.image("c.bin", b"image c"));
    let lease = s.claim("w1", 10_000).unwrap().unwrap();
    assert_eq!(lease.job.id, other);
    assert_eq!(s.give_up(&lease, "blob missing").unwrap(), JobState::Dead);
}

fn expired_last_attempt_is_dead(f: &Fixture) {
    let s = &f.store;
    let job = f.queue(f.image("d.bin", b"image d"));
    for attempt in 1..=3 {
        let lease = s.claim("crashy", 100).unwrap().expect("claimable");
        assert_eq!(lease.attempt, attempt);
        f.clock.advance(101);
    }
    // The third worker died too: nobody gets the job, it is dead with every expiry noted.
    assert!(s.claim("w", 100).unwrap().is_none());
    let dead = s.job(job).unwrap();
    assert_eq!(dead.state, JobState::Dead);
    let error = dead.last_error.unwrap();
    assert_eq!(
        error.matches("expired without a heartbeat").count(),
        3,
        "{error}"
    );
}

fn exactly_once(f: &Fixture) {
    let s = &f.store;
    let image = f.image("e.bin", b"image e");
    let job = f.queue(image);
    let sha = s.image(image).unwrap().sha256;
    let slow = s.claim("slow", 1_000).unwrap().unwrap();
    f.clock.advance(1_001);
    let fresh = s.claim("fresh", 1_000).unwrap().unwrap();
    // Both finish: the presumed-dead worker first, then the one that redid the job.
    let report = report_about(&sha);
    let a = s.complete(&slow, &report).unwrap();
    let b = s.complete(&fresh, &report).unwrap();
    assert!(matches!(a, Completion::Stored { .. }), "{a:?}");
    assert_eq!(
        b,
        Completion::AlreadyStored {
            report_id: a.report_id()
        }
    );
    assert_eq!(s.report_count().unwrap(), 1);
    let done = s.job(job).unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.report_id, Some(a.report_id()));
    // The facts were written once.
    let hits = s.images_with(FactKind::Password, "admin", 100).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].image.id, image);
    assert_eq!(hits[0].detail, "root");
    // The stored report is the canonical JSON signed by the store.
    let stored = s.report(a.report_id()).unwrap();
    let payload = stored
        .envelope
        .verify(&store_key().verifying_key())
        .unwrap();
    assert_eq!(payload, assay_report::json::to_json(&report).into_bytes());
    assert_eq!(stored.record.signed_by, s.key_id());
    assert_eq!(stored.report().unwrap(), report);
    // A report about other bytes is refused.
    let other = report_about(&"0".repeat(64));
    assert!(matches!(
        s.complete(&fresh, &other),
        Err(StoreError::BadReport(_))
    ));
}

fn content_dedup(f: &Fixture) {
    let s = &f.store;
    let path = f.dir.path().join("same.bin");
    std::fs::write(&path, b"same bytes").unwrap();
    let mut ids = BTreeSet::new();
    let mut new_content = Vec::new();
    for name in ["one.bin", "two.bin", "three.bin"] {
        let added = s
            .add_image(
                &path,
                &ImageMeta {
                    name: name.into(),
                    ..ImageMeta::default()
                },
            )
            .unwrap();
        new_content.push(added.new_content);
        ids.insert(added.image.id);
    }
    assert_eq!(new_content, [true, false, false]);
    assert_eq!(ids.len(), 3, "three records");
    let again = s
        .add_image(
            &path,
            &ImageMeta {
                name: "one.bin".into(),
                ..ImageMeta::default()
            },
        )
        .unwrap();
    assert!(!again.new_record);
    let jobs: Vec<(i64, bool)> = ids
        .iter()
        .map(|&id| {
            let q = s.queue_scan(id, &ScanSettings::default(), None).unwrap();
            (q.job.id, q.created)
        })
        .collect();
    assert!(
        jobs.iter().all(|(id, _)| *id == jobs[0].0),
        "one job: {jobs:?}"
    );
    assert_eq!(jobs.iter().filter(|(_, created)| *created).count(), 1);
    // Other settings are another job.
    let words = ScanSettings {
        extra_words: vec!["quartz".into()],
        ..ScanSettings::default()
    };
    let other = s.queue_scan(*ids.first().unwrap(), &words, None).unwrap();
    assert!(other.created && other.job.id != jobs[0].0);
    let sha = s.image(*ids.first().unwrap()).unwrap().sha256;
    assert_eq!(s.images_with_content(&sha).unwrap().len(), 3);
    assert_eq!(s.settings(&words.id()).unwrap(), words);
    s.optimize().unwrap();
}

fn concurrent_claims(f: &Fixture) {
    let s = &f.store;
    let mut jobs = BTreeSet::new();
    for i in 0..24 {
        jobs.insert(f.queue(f.image(&format!("c{i}.bin"), format!("content {i}").as_bytes())));
    }
    let claimed: Vec<i64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|w| {
                let s = s.clone();
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(lease) = s.claim(&format!("w{w}"), 60_000).unwrap() {
                        mine.push(lease.job.id);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: BTreeSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), unique.len(), "a job was claimed twice");
    assert_eq!(unique, jobs);
}

fn imports(f: &Fixture) {
    let s = &f.store;
    let sha = "ab".repeat(32);
    let report = report_about(&sha);
    let payload = assay_report::json::to_json(&report);
    let signed = assay_report::dsse::sign(payload.as_bytes(), &lab_key());
    let stored = s.import_report(&signed.to_json()).unwrap();
    let record = s.report(stored.report_id()).unwrap();
    // The imported report is about an image the store now knows by the report's name.
    let images = s.images_with_content(&sha).unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].meta.name, report.image.name);
    assert_eq!(
        s.images_with(FactKind::Password, "admin", 10).unwrap()[0]
            .image
            .id,
        images[0].id
    );
    // Both the lab's and the store's signatures hold over the same bytes.
    assert!(record.envelope.verify(&lab_key().verifying_key()).is_ok());
    assert!(record.envelope.verify(&store_key().verifying_key()).is_ok());
    assert_eq!(
        record.record.settings_id,
        format!(
            "import:{}",
            assay_report::dsse::key_id(&lab_key().verifying_key())
        )
    );
    assert_eq!(
        s.import_report(&signed.to_json()).unwrap(),
        Completion::AlreadyStored {
            report_id: stored.report_id()
        }
    );
    // Another key, a flipped byte, no envelope: refused, nothing stored.
    let stranger = assay_report::dsse::sign(payload.as_bytes(), &SigningKey::from_bytes(&[99; 32]));
    assert!(matches!(
        s.import_report(&stranger.to_json()),
        Err(StoreError::Signature(_))
    ));
    let mut tampered = signed.clone();
    let mut bytes = payload.clone().into_bytes();
    let at = bytes.iter().position(|&b| b == b'a').unwrap();
    bytes[at] = b'b';
    tampered.payload = assay_report::dsse::sign(&bytes, &lab_key()).payload;
    assert!(matches!(
        s.import_report(&tampered.to_json()),
        Err(StoreError::Signature(_))
    ));
    assert!(s.import_report(&payload).is_err());
    assert_eq!(s.report_count().unwrap(), 1);
}

fn approvals_and_listing(f: &Fixture) {
    let s = &f.store;
    let add = |name: &str, version: &str| {
        let path = f.dir.path().join(name);
        std::fs::write(&path, name.as_bytes()).unwrap();
        s.add_image(
            &path,
            &ImageMeta {
                name: name.into(),
                vendor: "acme".into(),
                model: "x1".into(),
                version: version.into(),
                released: None,
            },
        )
        .unwrap()
        .image
    };
    let v9 = add("x1-1.9.bin", "1.9");
    let v10 = add("x1-1.10.bin", "1.10");
    let v2 = add("x1-2.0.bin", "2.0");
    let listed = s
        .list_images(&assay_store::ImageFilter {
            vendor: Some("acme".into()),
            model: Some("x1".into()),
            ..Default::default()
        })
        .unwrap();
    let order: Vec<i64> = listed.iter().map(|i| i.id).collect();
    assert_eq!(
        order,
        [v9.id, v10.id, v2.id],
        "version order, not text order"
    );
    let named = s
        .list_images(&assay_store::ImageFilter {
            name_contains: Some("1.1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(named.iter().map(|i| i.id).collect::<Vec<_>>(), [v10.id]);
    assert!(s.approved_release("acme", "x1").unwrap().is_none());
    s.approve(v10.id, "lab", "certified").unwrap();
    let (approved, approval) = s.approved_release("acme", "x1").unwrap().unwrap();
    assert_eq!(approved.id, v10.id);
    assert_eq!(approval.note, "certified");
    let since = s.new_since_approved("acme", "x1").unwrap().unwrap();
    assert_eq!(
        since
            .releases
            .iter()
            .map(|r| r.image.id)
            .collect::<Vec<_>>(),
        [v2.id]
    );
    assert!(since.releases[0].changes.is_none(), "not scanned yet");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite");
    drop(Fixture::open(DatabaseLocation::Sqlite(db.clone())));
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO assay_schema (version, name, applied_at) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let config = StoreConfig::new(
        DatabaseLocation::Sqlite(db),
        Arc::new(DiskBlobs::new(dir.path().join("b")).unwrap()),
        store_key(),
        ManualClock::new(T0).clock(),
    );
    assert!(matches!(
        Store::open(config),
        Err(StoreError::SchemaTooNew { found: 999, .. })
    ));
}
