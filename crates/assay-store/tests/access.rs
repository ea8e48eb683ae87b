//! What the web server keeps in the store — users, sessions, API tokens, the audit log — and
//! deleting images, on SQLite and on a real PostgreSQL server.

mod support;

use assay_store::worker::{Worker, WorkerConfig};
use assay_store::{
    DatabaseLocation, DiskBlobs, FactKind, ImageFilter, ImageMeta, Role, ScanSettings, Store,
    StoreConfig,
};
use std::sync::Arc;
use support::{repo_root, ManualClock, PgServer};

fn open(database: DatabaseLocation, clock: &ManualClock, dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(
        database,
        Arc::new(DiskBlobs::new(dir.join("blobs")).unwrap()),
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        clock.clock(),
    ))
    .unwrap()
}

fn users_sessions_tokens_audit(store: &Store, clock: &ManualClock) {
    assert_eq!(store.user_count().unwrap(), 0);
    let alice = store
        .create_user("alice", Role::Analyst, "$argon2id$hash-a")
        .unwrap();
    assert!(
        store.create_user("alice", Role::Admin, "x").is_err(),
        "names are unique"
    );
    for bad in ["", "a b", "<script>", &"x".repeat(65)] {
        assert!(
            store.create_user(bad, Role::Viewer, "x").is_err(),
            "{bad:?}"
        );
    }
    let (found, hash) = store.user_for_login("alice").unwrap().unwrap();
    assert_eq!(
        (found.role, hash.as_str()),
        (Role::Analyst, "$argon2id$hash-a")
    );
    assert!(store.user_for_login("bob").unwrap().is_none());

    // Sessions end when they expire, when the password changes, when the user is disabled.
    let now = store.now();
    store
        .create_session("s1", alice.id, "csrf-1", now + 1000)
        .unwrap();
    let s = store.session("s1").unwrap().unwrap();
    assert_eq!((s.user.name.as_str(), s.csrf.as_str()), ("alice", "csrf-1"));
    clock.advance(1000);
    assert!(store.session("s1").unwrap().is_none(), "expired");
    store
        .create_session("s2", alice.id, "csrf-2", store.now() + 60_000)
        .unwrap();
    store
        .update_user(alice.id, None, Some("$argon2id$hash-b"), None)
        .unwrap();
    assert!(
        store.session("s2").unwrap().is_none(),
        "a new password ends sessions"
    );
    store
        .create_session("s3", alice.id, "csrf-3", store.now() + 60_000)
        .unwrap();
    store.delete_session("s3").unwrap();
    assert!(store.session("s3").unwrap().is_none(), "logout");
    let admin = store
        .update_user(alice.id, Some(Role::Admin), None, None)
        .unwrap();
    assert_eq!(admin.role, Role::Admin);

    // Tokens: usable until revoked, or until their user is disabled.
    let token = store
        .create_api_token(alice.id, "ci", "$argon2id$token")
        .unwrap();
    let (record, secret, user) = store.api_token_for_use(token.id).unwrap().unwrap();
    assert_eq!(
        (record.name.as_str(), secret.as_str(), user.id),
        ("ci", "$argon2id$token", alice.id)
    );
    store.touch_api_token(token.id).unwrap();
    assert!(store.api_tokens(Some(alice.id)).unwrap()[0]
        .last_used_at
        .is_some());
    store.update_user(alice.id, None, None, Some(true)).unwrap();
    assert!(
        store.api_token_for_use(token.id).unwrap().is_none(),
        "disabled user"
    );
    store
        .update_user(alice.id, None, None, Some(false))
        .unwrap();
    store.revoke_api_token(token.id).unwrap();
    assert!(
        store.api_token_for_use(token.id).unwrap().is_none(),
        "revoked"
    );
    assert!(store.revoke_api_token(token.id).is_err(), "revoked once");
    assert_eq!(store.api_tokens(None).unwrap().len(), 1);

    // The audit log, newest first, paged by id.
    for i in 0..5 {
        store
            .audit("alice", "download", &format!("report {i}"), "")
            .unwrap();
    }
    let log = store.audit_log(None, 3).unwrap();
    assert_eq!(
        log.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["report 4", "report 3", "report 2"]
    );
    let older = store.audit_log(Some(log[2].id), 10).unwrap();
    assert_eq!(older.len(), 2);
    let since = store.now();
    assert_eq!(store.audit_count("download", "report 4", since).unwrap(), 1);
    clock.advance(1);
    assert_eq!(
        store
            .audit_count("download", "report 4", store.now())
            .unwrap(),
        0
    );
    assert_eq!(store.audit_count("upload", "report 4", since).unwrap(), 0);
}

fn deleting_images(store: &Store, dir: &std::path::Path) {
    let demo = repo_root().join("examples/acme-demo.bin");
    let meta = |name: &str, model: &str| ImageMeta {
        name: name.into(),
        vendor: "acme".into(),
        model: model.into(),
        ..ImageMeta::default()
    };
    let first = store.add_image(&demo, &meta("a.bin", "one")).unwrap().image;
    let second = store.add_image(&demo, &meta("b.bin", "two")).unwrap().image;
    store
        .queue_scan(first.id, &ScanSettings::default(), None)
        .unwrap();
    store.approve(first.id, "lab", "").unwrap();
    let mut config = WorkerConfig::new("t", dir.join("scratch"));
    config.analysis = config.analysis.with_run_figures(false);
    Worker::new(store.clone(), config).run_until_idle();
    let report = store.newest_report_id(&first.sha256).unwrap().unwrap();
    let summaries = store.image_summaries(&ImageFilter::default()).unwrap();
    assert_eq!(summaries.len(), 2);
    assert!(summaries.iter().all(|s| s.report_id == Some(report)));
    assert!(summaries
        .iter()
        .any(|s| s.approved && s.image.id == first.id));
    assert_eq!(
        store
            .count_images(&ImageFilter {
                model: Some("two".into()),
                ..ImageFilter::default()
            })
            .unwrap(),
        1
    );
    assert_eq!(store.catalogue().unwrap().len(), 2);

    // The first record goes; the second still names the content, so the bytes, the job
    // (moved to the second record) and the report stay.
    let gone = store.delete_image(first.id).unwrap();
    assert_eq!((gone.reports_deleted, gone.blob_deleted), (0, false));
    assert!(store.image(first.id).is_err());
    assert!(store.blobs().contains(&first.sha256).unwrap());
    assert_eq!(
        store.latest_job(&first.sha256).unwrap().unwrap().image_id,
        second.id
    );
    assert!(store.approved_release("acme", "one").unwrap().is_none());
    // The last record: bytes, report, facts and jobs go.
    let gone = store.delete_image(second.id).unwrap();
    assert_eq!((gone.reports_deleted, gone.blob_deleted), (1, true));
    assert!(!store.blobs().contains(&first.sha256).unwrap());
    assert!(store.report(report).is_err());
    assert!(store.latest_job(&first.sha256).unwrap().is_none());
    for kind in FactKind::ALL {
        assert!(
            store.shared_facts(kind, 1, 10).unwrap().is_empty(),
            "{kind:?}"
        );
    }
    assert_eq!(store.report_count().unwrap(), 0);
    // The same bytes can be added and scanned again.
    let again = store.add_image(&demo, &meta("c.bin", "three")).unwrap();
    assert!(again.new_content);
}

#[test]
fn access_and_deletion_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_717_200_000_000);
    let store = open(
        DatabaseLocation::Sqlite(dir.path().join("s.sqlite")),
        &clock,
        dir.path(),
    );
    users_sessions_tokens_audit(&store, &clock);
    deleting_images(&store, dir.path());
}

#[test]
fn access_and_deletion_on_postgres() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_717_200_000_000);
    let store = open(
        DatabaseLocation::Postgres(pg.fresh_database("access")),
        &clock,
        dir.path(),
    );
    users_sessions_tokens_audit(&store, &clock);
    deleting_images(&store, dir.path());
}
