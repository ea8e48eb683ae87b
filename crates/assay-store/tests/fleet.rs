//! Workers scanning real images through the store, and the questions across images asked of
//! what they stored, on SQLite and on a real PostgreSQL server.

mod support;

use assay_model::Report;
use assay_store::worker::{Worker, WorkerConfig};
use assay_store::{
    DatabaseLocation, DiskBlobs, FactKind, ImageMeta, ImageRecord, ScanSettings, Store, StoreConfig,
};
use ed25519_dalek::SigningKey;
use std::collections::BTreeSet;
use std::sync::Arc;
use support::{repo_root, system_clock, PgServer};

fn store_key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32])
}

struct Catalogue {
    store: Store,
    v1: ImageRecord,
    v2: ImageRecord,
    copy: ImageRecord,
    variant: ImageRecord,
    _dir: tempfile::TempDir,
}

fn meta(name: &str, vendor: &str, model: &str, version: &str) -> ImageMeta {
    ImageMeta {
        name: name.into(),
        vendor: vendor.into(),
        model: model.into(),
        version: version.into(),
        released: None,
    }
}

/// The two example releases, a copy of the first under another name and model, and a variant
/// of the first with one byte appended (other bytes, the same facts); all scanned by a
/// two-slot worker.
fn scanned_catalogue(database: DatabaseLocation) -> Catalogue {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(
        database,
        Arc::new(DiskBlobs::new(dir.path().join("blobs")).unwrap()),
        store_key(),
        system_clock(),
    ))
    .unwrap();
    let examples = repo_root().join("examples");
    let demo = examples.join("acme-demo.bin");
    let add = |path: &std::path::Path, m: ImageMeta| store.add_image(path, &m).unwrap().image;
    let v1 = add(&demo, meta("acme-demo.bin", "acme", "demo", "1.0"));
    let v2 = add(
        &examples.join("acme-demo-v2.bin"),
        meta("acme-demo-v2.bin", "acme", "demo", "2.0"),
    );
    let copy = add(&demo, meta("renamed.bin", "acme", "demo-b", "1.0"));
    let mut bytes = std::fs::read(&demo).unwrap();
    bytes.push(0);
    let variant_path = dir.path().join("variant.bin");
    std::fs::write(&variant_path, bytes).unwrap();
    let variant = add(&variant_path, meta("variant.bin", "other", "z", "7"));
    let settings = ScanSettings {
        as_of: Some(1_717_200_000),
        ..ScanSettings::default()
    };
    let mut created = 0;
    for image in [&v1, &v2, &copy, &variant] {
        created += usize::from(store.queue_scan(image.id, &settings, None).unwrap().created);
    }
    assert_eq!(created, 3, "the copy shares the first release's job");
    let mut config = WorkerConfig::new("test", dir.path().join("scratch")).with_lease(60_000);
    config.concurrency = 2;
    config.analysis = config.analysis.with_run_figures(false);
    Worker::new(store.clone(), config).run_until_idle();
    Catalogue {
        store,
        v1,
        v2,
        copy,
        variant,
        _dir: dir,
    }
}

fn report_of(store: &Store, image: &ImageRecord) -> Report {
    let id = store
        .newest_report_id(&image.sha256)
        .unwrap()
        .expect("scanned");
    store.report(id).unwrap().report().unwrap()
}

fn check(c: &Catalogue) {
    let s = &c.store;
    let counts = s.queue_counts().unwrap();
    assert_eq!(
        (counts.done, counts.dead, counts.queued),
        (3, 0, 0),
        "{counts:?}"
    );
    assert_eq!(s.report_count().unwrap(), 3);

    // Each stored report is signed by the store, and `assay verify` holds for it against
    // the image downloaded under its name.
    let r1 = report_of(s, &c.v1);
    let r2 = report_of(s, &c.v2);
    assert_eq!(r1.image.name, "acme-demo.bin");
    let stored = s
        .report(s.newest_report_id(&c.v1.sha256).unwrap().unwrap())
        .unwrap();
    assert!(stored.envelope.verify(&store_key().verifying_key()).is_ok());
    let download = tempfile::tempdir().unwrap();
    let named = download.path().join(&c.v1.meta.name);
    std::fs::copy(repo_root().join("examples/acme-demo.bin"), &named).unwrap();
    let verification =
        assay_engine::verify(&r1, &named, &assay_engine::AnalysisConfig::new()).unwrap();
    assert!(verification.holds(), "{:?}", verification.failures);

    // Images sharing a fact: expectations read from the reports themselves.
    let reports: Vec<(ImageRecord, Report)> = [&c.v1, &c.v2, &c.copy, &c.variant]
        .into_iter()
        .map(|i| (i.clone(), report_of(s, i)))
        .collect();
    let holders = |pick: &dyn Fn(&Report) -> bool| -> BTreeSet<i64> {
        reports
            .iter()
            .filter(|(_, r)| pick(r))
            .map(|(i, _)| i.id)
            .collect()
    };
    let found = |kind: FactKind, value: &str| -> BTreeSet<i64> {
        s.images_with(kind, value, 1000)
            .unwrap()
            .into_iter()
            .map(|h| h.image.id)
            .collect()
    };
    let cracked = r1
        .findings
        .iter()
        .find_map(|f| f.context.get("password"))
        .expect("the demo image has a cracked password");
    let expected = holders(&|r| {
        r.findings
            .iter()
            .any(|f| f.context.get("password") == Some(cracked))
    });
    assert!(expected.len() >= 3, "v1, its copy and its variant");
    assert_eq!(found(FactKind::Password, cracked), expected);
    for (kind, key) in [(FactKind::Key, "fingerprint"), (FactKind::Endpoint, "host")] {
        for value in r1.findings.iter().filter_map(|f| f.context.get(key)) {
            let expected = holders(&|r| {
                r.findings.iter().any(|f| {
                    f.context.get(key).map(|v| v.to_ascii_lowercase())
                        == Some(value.to_ascii_lowercase())
                })
            });
            assert_eq!(found(kind, value), expected, "{kind:?} {value}");
        }
    }
    let rule = &r2.findings[0].rule;
    assert_eq!(
        found(FactKind::Rule, rule),
        holders(&|r| r.findings.iter().any(|f| &f.rule == rule))
    );
    let shared = s.shared_facts(FactKind::Password, 2, 100).unwrap();
    let entry = shared.iter().find(|f| &f.value == cracked).expect("shared");
    let contents: BTreeSet<&str> = reports
        .iter()
        .filter(|(_, r)| {
            r.findings
                .iter()
                .any(|f| f.context.get("password") == Some(cracked))
        })
        .map(|(i, _)| i.sha256.as_str())
        .collect();
    assert_eq!(entry.images as usize, contents.len(), "contents, not names");
    assert!(contents.len() < expected.len(), "the copy is v1's bytes");

    // Components below a bound.
    if let Some(component) = r1.components.first() {
        let below_next = s
            .components_below(&component.name, &format!("{}.1", component.version), 100)
            .unwrap();
        assert!(below_next.iter().any(|h| h.image.id == c.v1.id));
        let below_own = s
            .components_below(&component.name, &component.version, 100)
            .unwrap();
        assert!(below_own.iter().all(|h| h.image.id != c.v1.id));
    }

    // The vendor timeline: release 2.0 against 1.0 of the same model.
    let timeline = s.vendor_timeline("acme", Some("demo")).unwrap();
    assert_eq!(
        timeline.iter().map(|t| t.image.id).collect::<Vec<_>>(),
        [c.v1.id, c.v2.id]
    );
    assert!(timeline[0].changes.is_none());
    let changes = timeline[1].changes.as_ref().expect("both scanned");
    assert_eq!(changes, &assay_report::diff::diff(&r1, &r2));
    assert!(
        changes.accounts.added.iter().any(|a| a == "support"),
        "{changes:?}"
    );
    let all = s.vendor_timeline("acme", None).unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .find(|t| t.image.id == c.copy.id)
            .unwrap()
            .previous
            .is_none(),
        "another model"
    );

    // New since approved.
    s.approve(c.v1.id, "lab", "certified 2024-06").unwrap();
    let since = s.new_since_approved("acme", "demo").unwrap().unwrap();
    assert_eq!(since.approved.id, c.v1.id);
    assert_eq!(since.releases.len(), 1);
    assert_eq!(since.releases[0].changes.as_ref(), Some(changes));
}

#[test]
fn fleet_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check(&scanned_catalogue(DatabaseLocation::Sqlite(
        dir.path().join("fleet.sqlite"),
    )));
}

#[test]
fn fleet_on_postgres() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    check(&scanned_catalogue(DatabaseLocation::Postgres(
        pg.fresh_database("fleet"),
    )));
}
