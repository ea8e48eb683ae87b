//! The engine's pipelines through its public API on committed images: settings carried as
//! values, progress, cancellation, reference times and vulnerability sources.

use assay_engine::{
    AnalysisConfig, CancelToken, Error, Progress, ReferenceTime, Scan, VulnerabilitySource,
};
use assay_model::{Report, WarningKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn settings(name: &str) -> PathBuf {
    root()
        .join("crates/assay/tests/fixtures/settings")
        .join(name)
}

fn demo() -> PathBuf {
    root().join("examples/acme-demo.bin")
}

/// 2027-01-01, after the gateway's certificate expired.
const AS_OF: i64 = 1_798_761_600;

fn rules_of(report: &Report) -> Vec<&str> {
    report.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn password_of(report: &Report, account: &str) -> Option<String> {
    report
        .findings
        .iter()
        .find(|f| {
            f.rule == "ASSAY-CRED-001"
                && f.context.get("account").map(String::as_str) == Some(account)
        })
        .map(|f| f.context["password"].clone())
}

#[test]
fn two_scans_with_different_settings_in_one_process_give_their_own_answers() {
    let base = AnalysisConfig::new().with_reference_time(ReferenceTime::At(AS_OF));
    let diag = base
        .clone()
        .with_word_list(&settings("wordlist.txt"))
        .unwrap()
        .with_rule_dirs(&[settings("rules-diag")])
        .unwrap();
    let beacon = base
        .clone()
        .with_extra_words(vec!["not-the-password".into()])
        .with_rule_dirs(&[settings("rules-beacon")])
        .unwrap();
    let image = settings("gateway.sqfs");
    // Both at once, on two threads, then the plain config after them.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Scan::new(diag.clone()).run(&image).unwrap().report);
        let b = s.spawn(|| Scan::new(beacon.clone()).run(&image).unwrap().report);
        (a.join().unwrap(), b.join().unwrap())
    });
    let plain = Scan::new(base).run(&image).unwrap().report;

    assert_eq!(
        password_of(&a, "netadmin").as_deref(),
        Some("quartz-lantern-58")
    );
    assert!(rules_of(&a).contains(&"ASSAY-USER-factory_diag_marker"));
    assert!(!rules_of(&a).contains(&"ASSAY-USER-BEACON"));

    assert_eq!(password_of(&b, "netadmin"), None);
    assert!(rules_of(&b).contains(&"ASSAY-CRED-002"));
    assert!(rules_of(&b).contains(&"ASSAY-USER-BEACON"));
    assert!(!rules_of(&b).contains(&"ASSAY-USER-factory_diag_marker"));

    assert_eq!(password_of(&plain, "netadmin"), None);
    assert!(!rules_of(&plain)
        .iter()
        .any(|r| r.starts_with("ASSAY-USER-")));

    // Each config documents its own rules.
    let documented = |c: &AnalysisConfig, id: &str| c.rules().iter().any(|r| r.id == id);
    assert!(documented(&diag, "ASSAY-USER-factory_diag_marker"));
    assert!(!documented(&diag, "ASSAY-USER-BEACON"));
    assert!(documented(&beacon, "ASSAY-USER-BEACON"));
}

#[test]
fn a_report_verifies_with_its_scan_settings_only() {
    let config = AnalysisConfig::new()
        .with_reference_time(ReferenceTime::At(AS_OF))
        .with_word_list(&settings("wordlist.txt"))
        .unwrap()
        .with_rule_dirs(&[settings("rules-diag")])
        .unwrap();
    let image = settings("gateway.sqfs");
    let report = Scan::new(config.clone()).run(&image).unwrap().report;
    let same = assay_engine::verify(&report, &image, &config).unwrap();
    assert!(same.holds(), "{:?}", same.failures);
    assert_eq!(same.as_of, AS_OF);
    let plain = assay_engine::verify(&report, &image, &AnalysisConfig::new()).unwrap();
    assert!(!plain.holds());
    assert!(plain
        .failures
        .iter()
        .any(|f| f.contains("ASSAY-USER-factory_diag_marker")));
}

#[test]
fn the_reference_time_is_the_configs_or_the_images_own() {
    // The demo image's uImage header is dated; the report records that time.
    let embedded = Scan::new(AnalysisConfig::new())
        .run(&demo())
        .unwrap()
        .report;
    let as_of = embedded.as_of.clone().unwrap();
    let newest = assay_engine::newest_embedded_time(
        &Scan::new(AnalysisConfig::new()).unpack(&demo()).unwrap(),
    );
    assert_eq!(
        Some(as_of.as_str()),
        newest.map(assay_model::time::format_utc).as_deref()
    );
    // A bare squashfs is dated by its superblock and inode times.
    let bare = Scan::new(AnalysisConfig::new())
        .run(&settings("gateway.sqfs"))
        .unwrap()
        .report;
    assert_eq!(bare.as_of.as_deref(), Some("2023-11-14T22:13:20Z"));
    // A romfs stores no time at all: the caller must give one.
    let romfs = root().join("crates/assay-unpack/tests/fixtures/squashfs/romfs.img");
    let undated = Scan::new(AnalysisConfig::new()).run(&romfs);
    assert!(
        matches!(undated, Err(Error::NoReferenceTime)),
        "{undated:?}"
    );
    // The certificate is judged as of the given time.
    let expired = |t: i64| {
        let config = AnalysisConfig::new().with_reference_time(ReferenceTime::At(t));
        let report = Scan::new(config)
            .run(&settings("gateway.sqfs"))
            .unwrap()
            .report;
        rules_of(&report).contains(&"ASSAY-KEY-005")
    };
    assert!(expired(AS_OF));
    assert!(!expired(1_700_000_000));
}

#[test]
fn progress_is_reported_in_order_and_a_cancel_stops_the_run() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let scan = Scan::new(
        AnalysisConfig::new()
            .with_reference_time(ReferenceTime::At(AS_OF))
            .with_vulnerabilities(VulnerabilitySource::Unavailable),
    )
    .on_progress(Arc::new(move |e| sink.lock().unwrap().push(e)));
    scan.run(&demo()).unwrap();
    let events = events.lock().unwrap().clone();
    let stages: Vec<Progress> = events
        .iter()
        .copied()
        .filter(|e| !matches!(e, Progress::Unpacking { .. }))
        .collect();
    assert_eq!(
        stages,
        [
            Progress::Unpacked,
            Progress::Analysing,
            Progress::MatchingVulnerabilities
        ]
    );
    let size = std::fs::metadata(demo()).unwrap().len();
    assert!(events.contains(&Progress::Unpacking {
        done: size,
        total: size
    }));

    // Cancelled from inside the run, at its first progress report.
    let token = CancelToken::new();
    let trigger = token.clone();
    let scan = Scan::new(AnalysisConfig::new().with_reference_time(ReferenceTime::At(AS_OF)))
        .with_cancel(token)
        .on_progress(Arc::new(move |_| trigger.cancel()));
    assert!(matches!(scan.run(&demo()), Err(Error::Cancelled)));
    assert!(scan.cancel_token().is_cancelled());
}

#[test]
fn vulnerability_sources_are_explicit() {
    let base = AnalysisConfig::new().with_reference_time(ReferenceTime::At(AS_OF));
    let skip = Scan::new(base.clone()).run(&demo()).unwrap().report;
    assert!(skip.warnings.iter().all(|w| w.kind != WarningKind::Vulndb));

    let none = Scan::new(
        base.clone()
            .with_vulnerabilities(VulnerabilitySource::Unavailable),
    )
    .run(&demo())
    .unwrap()
    .report;
    let warned: Vec<_> = none
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Vulndb)
        .collect();
    assert_eq!(warned.len(), 1);
    assert_eq!(warned[0].message, assay_vulndb::NO_DATABASE);

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    let err = Scan::new(
        base.clone()
            .with_vulnerabilities(VulnerabilitySource::Path(missing)),
    )
    .run(&demo())
    .unwrap_err();
    assert!(matches!(err, Error::OpenVulnDb { .. }), "{err}");

    let path = dir.path().join("vulndb.sqlite");
    let mut db = assay_vulndb::VulnDb::create(&path).unwrap();
    db.import_dated(
        &root().join("crates/assay-vulndb/tests/fixtures/nvd/nvdcve-2.0-excerpt.json"),
        "2024-01-02",
    )
    .unwrap();
    drop(db);
    let open = VulnerabilitySource::Open {
        db: Arc::new(Mutex::new(assay_vulndb::VulnDb::open(&path).unwrap())),
        path: path.clone(),
    };
    let by_path = Scan::new(
        base.clone()
            .with_vulnerabilities(VulnerabilitySource::Path(path)),
    )
    .run(&demo())
    .unwrap()
    .report;
    let shared = Scan::new(base.with_vulnerabilities(open))
        .run(&demo())
        .unwrap()
        .report;
    assert!(by_path
        .vulnerabilities
        .iter()
        .any(|v| v.id == "CVE-2022-28391"));
    assert_eq!(by_path.vulnerabilities, shared.vulnerabilities);
    assert!(rules_of(&shared).contains(&"ASSAY-VULN-001"));
}

#[test]
fn reports_and_images_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let config = AnalysisConfig::new().with_reference_time(ReferenceTime::At(AS_OF));
    let report = Scan::new(config.clone()).run(&demo()).unwrap().report;
    let path = dir.path().join("r.json");
    std::fs::write(&path, assay_report::json::to_json(&report)).unwrap();
    let loaded = assay_engine::load_report(&path).unwrap().unwrap();
    assert_eq!(loaded.report, report);
    assert!(assay_engine::load_report(&demo()).unwrap().is_none());
    std::fs::write(&path, "{\"schema\": 1}").unwrap();
    assert!(assay_engine::load_report(&path).is_err());
    // A report against the image it was made from: nothing changed.
    std::fs::write(&path, assay_report::json::to_json(&report)).unwrap();
    let d = assay_engine::diff(&path, &demo(), &config).unwrap();
    assert!(assay_report::diff::is_empty(&d));
}

#[test]
fn scanners_and_their_outputs_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Scan>();
    send_sync::<AnalysisConfig>();
    send_sync::<assay_engine::ScanOutput>();
    send_sync::<assay_engine::Verification>();
    send_sync::<Error>();
}

/// An unpack fixture of another crate, by its path under `crates/assay-unpack/tests/fixtures`.
fn unpack_fixture(name: &str) -> PathBuf {
    root().join("crates/assay-unpack/tests/fixtures").join(name)
}

/// The reference time a scan without `--as-of` takes from the image itself.
fn embedded_as_of(image: &Path) -> Option<String> {
    Scan::new(AnalysisConfig::new())
        .run(image)
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()))
        .report
        .as_of
}

/// CRC-32 (IEEE, reflected), as TRX and ZIP store it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A Broadcom TRX v1 image whose second partition is `rootfs` (the first a stand-in loader):
/// the header itself records no time.
fn trx_around(rootfs: &[u8]) -> Vec<u8> {
    let loader = vec![0x5au8; 64];
    let total = 28 + loader.len() + rootfs.len();
    let mut image = Vec::with_capacity(total);
    image.extend_from_slice(b"HDR0");
    image.extend_from_slice(&(total as u32).to_le_bytes());
    image.extend_from_slice(&[0; 4]); // CRC, filled in below
    image.extend_from_slice(&0u16.to_le_bytes()); // flags
    image.extend_from_slice(&1u16.to_le_bytes()); // version
    for offset in [28u32, 28 + loader.len() as u32, 0] {
        image.extend_from_slice(&offset.to_le_bytes());
    }
    image.extend_from_slice(&loader);
    image.extend_from_slice(rootfs);
    let crc = !crc32(&image[12..]);
    image[8..12].copy_from_slice(&crc.to_le_bytes());
    image
}

/// A ZIP archive storing `data` uncompressed as `name`, with the all-zero DOS date ("none"):
/// the archive itself records no time.
fn zip_storing(name: &str, data: &[u8]) -> Vec<u8> {
    let (crc, size, name_len) = (crc32(data), data.len() as u32, name.len() as u16);
    let mut zip = Vec::new();
    zip.extend_from_slice(b"PK\x03\x04");
    zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
    zip.extend_from_slice(&[0; 8]); // flags, method (stored), time, date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes()); // extra length
    zip.extend_from_slice(name.as_bytes());
    zip.extend_from_slice(data);
    let central = zip.len() as u32;
    zip.extend_from_slice(b"PK\x01\x02");
    zip.extend_from_slice(&20u16.to_le_bytes()); // made by
    zip.extend_from_slice(&20u16.to_le_bytes()); // version needed
    zip.extend_from_slice(&[0; 8]); // flags, method, time, date
    zip.extend_from_slice(&crc.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&size.to_le_bytes());
    zip.extend_from_slice(&name_len.to_le_bytes());
    zip.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
    zip.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    zip.extend_from_slice(name.as_bytes());
    let central_len = zip.len() as u32 - central;
    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]); // disk numbers
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&1u16.to_le_bytes());
    zip.extend_from_slice(&central_len.to_le_bytes());
    zip.extend_from_slice(&central.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes()); // comment length
    zip
}

#[test]
fn the_reference_time_is_read_from_every_dated_format_family() {
    // The fixtures are made with SOURCE_DATE_EPOCH 1600000000 (archives, disks) and
    // 1700000000 (squashfs, FIT).
    const ARCHIVES: &str = "2020-09-13T12:26:40Z";
    const SQUASHFS_FIT: &str = "2023-11-14T22:13:20Z";
    for (fixture, expected) in [
        ("archives/stored.zip", ARCHIVES),
        ("archives/deflate.zip", ARCHIVES),
        ("disks/ext2.img", ARCHIVES),
        ("disks/ext4.img", ARCHIVES),
        ("firmware/fit.itb", SQUASHFS_FIT),
        ("squashfs/sq-xz.sqfs", SQUASHFS_FIT),
    ] {
        assert_eq!(
            embedded_as_of(&unpack_fixture(fixture)).as_deref(),
            Some(expected),
            "{fixture}"
        );
    }

    // Containers that record no time of their own are dated by a squashfs inside them.
    let squashfs = std::fs::read(unpack_fixture("squashfs/sq-xz.sqfs")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trx = dir.path().join("router.trx");
    std::fs::write(&trx, trx_around(&squashfs)).unwrap();
    let zip = dir.path().join("update.zip");
    std::fs::write(&zip, zip_storing("rootfs.sqfs", &squashfs)).unwrap();
    for image in [&trx, &zip] {
        let report = Scan::new(AnalysisConfig::new()).run(image).unwrap().report;
        assert!(
            report
                .nodes
                .iter()
                .any(|n| n.format.as_deref() == Some("squashfs")),
            "{}: {:?}",
            image.display(),
            report.nodes
        );
        assert!(
            report
                .warnings
                .iter()
                .all(|w| w.kind != WarningKind::Checksum),
            "{:?}",
            report.warnings
        );
        assert_eq!(
            report.as_of.as_deref(),
            Some(SQUASHFS_FIT),
            "{}",
            image.display()
        );
    }
    // Without the squashfs the same wrappers carry no time: the scan is refused.
    std::fs::write(&trx, trx_around(&[0x11; 4096])).unwrap();
    let undated = Scan::new(AnalysisConfig::new()).run(&trx);
    assert!(
        matches!(undated, Err(Error::NoReferenceTime)),
        "{undated:?}"
    );
}
