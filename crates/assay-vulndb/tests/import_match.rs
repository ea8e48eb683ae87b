//! Import the committed feed excerpts and match hand-made components against them.

use assay_model::{ByteRange, Component, ComponentEvidence, Confidence, Severity};
use assay_vulndb::VulnDb;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn component(name: &str, version: &str, purl: &str, cpe: Option<&str>) -> Component {
    Component {
        name: name.into(),
        version: version.into(),
        purl: purl.into(),
        cpe: cpe.map(Into::into),
        confidence: Confidence::High,
        evidence: vec![ComponentEvidence {
            path: format!("/bin/{name}"),
            location: format!("fw.bin ▸ squashfs@0x40 ▸ /bin/{name}"),
            node: 7,
            sha256: "ab".repeat(32),
            method: "version-string".into(),
            matched: Some(format!("{name} v{version}")),
            range: Some(ByteRange {
                start: 100,
                end: 120,
            }),
            embedded: false,
        }],
        other_versions: Vec::new(),
    }
}

fn busybox(version: &str) -> Component {
    component(
        "busybox",
        version,
        &format!("pkg:generic/busybox@{version}"),
        Some(&format!(
            "cpe:2.3:a:busybox:busybox:{version}:*:*:*:*:*:*:*"
        )),
    )
}

fn db_with_feeds(dir: &tempfile::TempDir) -> VulnDb {
    let mut db = VulnDb::create(&dir.path().join("db/vulndb.sqlite")).unwrap();
    let nvd = db
        .import_dated(&fixture("nvd/nvdcve-2.0-excerpt.json"), "2026-01-02")
        .unwrap();
    assert_eq!((nvd.records, nvd.already_imported), (4, false));
    assert_eq!(nvd.feed.kind, "nvd");
    assert_eq!(
        nvd.feed.published.as_deref(),
        Some("2026-06-17T06:00:00.000")
    );
    let osv = db
        .import_dated(&fixture("osv-excerpt.zip"), "2026-01-02")
        .unwrap();
    assert_eq!((osv.records, osv.feed.kind.as_str()), (2, "osv"));
    assert!(osv.skipped.is_empty(), "{:?}", osv.skipped);
    db
}

#[test]
fn busybox_1_35_0_has_cve_2022_28391_with_range_and_cvss() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_feeds(&dir);
    let comps = vec![busybox("1.35.0")];
    let vulns = db.match_components(&comps).unwrap();
    assert_eq!(vulns.len(), 1, "{vulns:#?}");
    let v = &vulns[0];
    assert_eq!(v.id, "CVE-2022-28391");
    assert_eq!(v.component, 0);
    let cvss = v.cvss.as_ref().unwrap();
    assert_eq!((cvss.version.as_str(), cvss.score), ("3.1", 8.8));
    assert_eq!(cvss.vector, "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H");
    assert_eq!(v.severity, Severity::High);
    assert!(v.matched.contains("<= 1.35.0"), "{}", v.matched);
    assert_eq!(v.feed.name, "nvdcve-2.0-excerpt.json");
    assert_eq!(v.feed.imported, "2026-01-02");
    assert_eq!(v.feed.sha256.len(), 64);

    let findings = assay_vulndb::findings(&comps, &vulns);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.rule, assay_vulndb::RULE_ID);
    assert_eq!(f.category.as_str(), "vulnerable-component");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.path, "/bin/busybox");
    assert_eq!(
        f.range,
        ByteRange {
            start: 100,
            end: 120
        }
    );
    assert_eq!(f.context["vulnerabilities"], "CVE-2022-28391");
    assert!(f.context["CVE-2022-28391"].contains("CVSS 3.1 8.8"));
    assert!(f.context["feeds"].contains(&v.feed.sha256));
}

#[test]
fn versions_outside_the_range_do_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_feeds(&dir);
    let comps = vec![
        busybox("1.36.1"),
        component(
            "dnsmasq",
            "2.90",
            "pkg:generic/dnsmasq@2.90",
            Some("cpe:2.3:a:thekelleys:dnsmasq:2.90:*:*:*:*:*:*:*"),
        ),
        component(
            "openssl",
            "1.1.1k",
            "pkg:generic/openssl@1.1.1k",
            Some("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*"),
        ),
        component(
            "dropbear",
            "2024.85",
            "pkg:generic/dropbear@2024.85",
            Some("cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2024.85:*:*:*:*:*:*:*"),
        ),
    ];
    let vulns = db.match_components(&comps).unwrap();
    assert!(vulns.is_empty(), "{vulns:#?}");
}

#[test]
fn each_feed_matches_its_components() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_feeds(&dir);
    let comps = vec![
        component(
            "dnsmasq",
            "2.86",
            "pkg:generic/dnsmasq@2.86",
            Some("cpe:2.3:a:thekelleys:dnsmasq:2.86:*:*:*:*:*:*:*"),
        ),
        component(
            "openssl",
            "3.0.2",
            "pkg:generic/openssl@3.0.2",
            Some("cpe:2.3:a:openssl:openssl:3.0.2:*:*:*:*:*:*:*"),
        ),
        component(
            "dropbear",
            "2022.83",
            "pkg:generic/dropbear@2022.83",
            Some("cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*"),
        ),
        component(
            "busybox",
            "1.30.1",
            "pkg:deb/ubuntu/busybox@1%3A1.30.1-7ubuntu3?arch=amd64&distro=jammy",
            None,
        ),
    ];
    let vulns = db.match_components(&comps).unwrap();
    let got: Vec<(usize, &str, Option<f64>)> = vulns
        .iter()
        .map(|v| (v.component, v.id.as_str(), v.cvss.as_ref().map(|c| c.score)))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "CVE-2023-28450", Some(7.5)),
            (0, "OSV-2022-6", None),
            (1, "CVE-2022-3602", Some(7.5)),
            (2, "CVE-2023-48795", Some(5.9)),
            (3, "CVE-2022-28391", Some(8.8)),
        ]
    );
    // The Ubuntu record reports under its CVE, keeps its own id as an alias and the OSV feed.
    assert_eq!(vulns[4].aliases, vec!["UBUNTU-CVE-2022-28391".to_string()]);
    assert_eq!(vulns[4].feed.kind, "osv");
    assert!(vulns[4].matched.contains("Ubuntu:22.04:LTS busybox"));
    // Unrated OSS-Fuzz record: medium.
    assert_eq!(vulns[1].severity, Severity::Medium);
    assert_eq!(vulns[3].severity, Severity::Medium);
    let findings = assay_vulndb::findings(&comps, &vulns);
    assert_eq!(findings.len(), 4);
    assert_eq!(
        findings[0].context["vulnerabilities"],
        "CVE-2023-28450, OSV-2022-6"
    );
}

#[test]
fn reimport_is_idempotent_and_results_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    let comps = vec![busybox("1.35.0")];
    let first = {
        let mut db = VulnDb::create(&path).unwrap();
        db.import_dated(&fixture("nvd/nvdcve-2.0-excerpt.json"), "2026-01-02")
            .unwrap();
        db.match_components(&comps).unwrap()
    };
    let mut db = VulnDb::create(&path).unwrap();
    let again = db
        .import_dated(&fixture("nvd/nvdcve-2.0-excerpt.json"), "2026-03-04")
        .unwrap();
    assert!(again.already_imported);
    assert_eq!(again.records, 4);
    assert_eq!(again.feed.imported, "2026-01-02");
    assert_eq!(db.feeds().unwrap().len(), 1);
    assert_eq!(db.record_count().unwrap(), 4);
    drop(db);
    let ro = VulnDb::open(&path).unwrap();
    assert_eq!(ro.match_components(&comps).unwrap(), first);
    assert_eq!(ro.match_components(&comps).unwrap(), first);
}

#[test]
fn folders_and_single_osv_files_import() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::create(&dir.path().join("v.sqlite")).unwrap();
    let folder = db.import_dated(&fixture("osv"), "2026-01-02").unwrap();
    assert_eq!((folder.records, folder.feed.name.as_str()), (2, "osv"));
    let single = db
        .import_dated(&fixture("osv/OSV-2022-6.json"), "2026-01-02")
        .unwrap();
    assert_eq!(single.records, 1);
    assert!(!single.already_imported);
    assert_eq!(db.record_count().unwrap(), 2);
}

#[test]
fn missing_database_and_non_feeds_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        VulnDb::open(&dir.path().join("none.sqlite")),
        Err(assay_vulndb::Error::Missing(_))
    ));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"hello\": 1}").unwrap();
    let mut db = VulnDb::create(&dir.path().join("v.sqlite")).unwrap();
    assert!(matches!(
        db.import_dated(&junk, "2026-01-02"),
        Err(assay_vulndb::Error::NotAFeed(_))
    ));
    let garbage = dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"PK\x03\x04garbage").unwrap();
    assert!(db.import_dated(&garbage, "2026-01-02").is_err());
}
