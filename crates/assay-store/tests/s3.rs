//! The S3 blob store against a real S3-compatible server (`s3s-fs`, which verifies SigV4
//! signatures, or `s3rver`: the S3 REST API over files on disk), and a worker scanning an
//! image it fetched from there.

mod support;

use assay_store::worker::{Worker, WorkerConfig};
use assay_store::{
    BlobStore, DatabaseLocation, ImageMeta, S3Blobs, ScanSettings, Store, StoreConfig, StoreError,
};
use std::sync::Arc;
use support::{repo_root, system_clock, S3Server};

#[test]
fn blobs_round_trip_through_a_real_s3_server() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let blobs = S3Blobs::new(&server.location("assay-blobs"), system_clock()).unwrap();
    blobs.create_bucket().unwrap();
    blobs.create_bucket().unwrap();
    let image = repo_root().join("examples/acme-demo.bin");
    let first = blobs.put_file(&image).unwrap();
    assert!(first.new);
    let again = blobs.put_file(&image).unwrap();
    assert!(!again.new, "stored once by content");
    assert_eq!(again.sha256, first.sha256);
    assert!(blobs.contains(&first.sha256).unwrap());
    assert!(!blobs.contains(&"0".repeat(64)).unwrap());
    let scratch = tempfile::tempdir().unwrap();
    let local = blobs.fetch(&first.sha256, scratch.path()).unwrap();
    assert_eq!(
        std::fs::read(local.path()).unwrap(),
        std::fs::read(&image).unwrap()
    );
    let path = local.path().to_path_buf();
    drop(local);
    assert!(!path.exists(), "downloads are temporary");
    assert!(matches!(
        blobs.fetch(&"0".repeat(64), scratch.path()),
        Err(StoreError::BlobMissing(_))
    ));
    // The server checks who signs: an unknown access key is refused.
    let mut wrong = server.location("assay-blobs");
    wrong.access_key = "NOT-A-KEY".into();
    let intruder = S3Blobs::new(&wrong, system_clock()).unwrap();
    let refused = intruder.contains(&first.sha256);
    assert!(
        matches!(refused, Err(StoreError::ObjectStorage(_))),
        "{refused:?}"
    );
    // A server that verifies SigV4 (s3s-fs) also refuses the right key signed with the
    // wrong secret, so the requests that pass above are correctly signed.
    if server.verifies_signatures {
        let mut forged = server.location("assay-blobs");
        forged.secret_key = "not the secret".into();
        let forger = S3Blobs::new(&forged, system_clock()).unwrap();
        let refused = forger.contains(&first.sha256);
        assert!(
            matches!(refused, Err(StoreError::ObjectStorage(_))),
            "{refused:?}"
        );
        let scratch2 = tempfile::tempdir().unwrap();
        assert!(forger.fetch(&first.sha256, scratch2.path()).is_err());
    } else {
        eprintln!("*** the S3 server (s3rver) does not verify signatures; install s3s-fs ***");
    }
}

#[test]
fn a_worker_scans_an_image_kept_in_s3() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let blobs = S3Blobs::new(&server.location("fleet"), system_clock()).unwrap();
    blobs.create_bucket().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let store = Store::open(StoreConfig::new(
        DatabaseLocation::Sqlite(dir.path().join("s.sqlite")),
        Arc::new(blobs),
        key.clone(),
        system_clock(),
    ))
    .unwrap();
    let image = repo_root().join("examples/acme-demo-v2.bin");
    let added = store
        .add_image(
            &image,
            &ImageMeta {
                name: "acme-demo-v2.bin".into(),
                ..ImageMeta::default()
            },
        )
        .unwrap();
    store
        .queue_scan(added.image.id, &ScanSettings::default(), None)
        .unwrap();
    Worker::new(
        store.clone(),
        WorkerConfig::new("s3-worker", dir.path().join("scratch")),
    )
    .run_until_idle();
    let report_id = store
        .newest_report_id(&added.image.sha256)
        .unwrap()
        .unwrap();
    let stored = store.report(report_id).unwrap();
    assert!(stored.envelope.verify(&key.verifying_key()).is_ok());
    let report = stored.report().unwrap();
    assert_eq!(report.image.sha256, added.image.sha256);
    assert_eq!(report.image.name, "acme-demo-v2.bin");
    // Nothing is left in the scratch directory.
    assert_eq!(
        std::fs::read_dir(dir.path().join("scratch"))
            .unwrap()
            .count(),
        0
    );
}
