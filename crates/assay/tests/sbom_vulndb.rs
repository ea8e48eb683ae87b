//! The real binary: SBOM formats, `assay vulndb import`, and scans with and without a database.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn image() -> PathBuf {
    root().join("crates/assay-unpack/tests/fixtures/archives/ustar.tar")
}

fn assay(args: &[&str], home: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(args)
        .env_remove("ASSAY_VULNDB")
        .env_remove("XDG_DATA_HOME")
        .env_remove("SOURCE_DATE_EPOCH")
        .env("HOME", home)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn sbom_formats_are_reproducible_and_say_when_no_database() {
    let home = tempfile::tempdir().unwrap();
    let img = image();
    let img = img.to_str().unwrap();
    for format in ["cyclonedx", "spdx"] {
        let args = ["scan", img, "-q", "--reproducible", "--format", format];
        let (code, a, err) = assay(&args, home.path());
        assert_eq!(code, 0, "{err}");
        let (_, b, _) = assay(&args, home.path());
        assert_eq!(a, b, "{format} output differs between runs");
        let doc = json(&a);
        if format == "cyclonedx" {
            assert_eq!(doc["specVersion"], "1.6");
            assert!(doc["metadata"].get("timestamp").is_none());
            assert_eq!(doc["metadata"]["component"]["type"], "firmware");
        } else {
            assert_eq!(doc["spdxVersion"], "SPDX-2.3");
            assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
        }
    }
    let (_, report, _) = assay(
        &["scan", img, "-q", "--reproducible", "--format", "json"],
        home.path(),
    );
    let warnings: Vec<serde_json::Value> = json(&report)["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "vulndb")
        .cloned()
        .collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0]["message"],
        "no vulnerability database; run assay vulndb import"
    );
}

#[test]
fn vulndb_import_is_idempotent_and_scan_uses_the_database() {
    let home = tempfile::tempdir().unwrap();
    let fixtures = root().join("crates/assay-vulndb/tests/fixtures");
    let nvd = fixtures.join("nvd/nvdcve-2.0-excerpt.json");
    let osv = fixtures.join("osv-excerpt.zip");
    let args = [
        "vulndb",
        "import",
        nvd.to_str().unwrap(),
        osv.to_str().unwrap(),
        "--date",
        "2026-01-02",
    ];
    let (code, out, err) = assay(&args, home.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 nvd records, imported"), "{out}");
    assert!(
        out.contains("6 vulnerability records from 2 feeds"),
        "{out}"
    );
    let (code, out, _) = assay(&args, home.path());
    assert_eq!(code, 0);
    assert!(out.contains("already imported on 2026-01-02"), "{out}");
    assert!(
        out.contains("6 vulnerability records from 2 feeds"),
        "{out}"
    );
    let db = home.path().join(".local/share/assay/vulndb.sqlite");
    assert!(db.is_file());

    // The default database is found and used: no warning any more.
    let img = image();
    let (code, report, err) = assay(
        &[
            "scan",
            img.to_str().unwrap(),
            "-q",
            "--reproducible",
            "--format",
            "json",
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{err}");
    let r = json(&report);
    assert!(r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["kind"] != "vulndb"));

    let (code, _, err) = assay(
        &[
            "vulndb",
            "import",
            "--date",
            "2026-1-2",
            nvd.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = assay(
        &[
            "scan",
            img.to_str().unwrap(),
            "-q",
            "--vulndb",
            "/nonexistent/db.sqlite",
        ],
        home.path(),
    );
    assert_eq!(code, 3, "{err}");
}

#[test]
fn rules_list_the_vulnerable_component_rule() {
    let home = tempfile::tempdir().unwrap();
    let (code, out, _) = assay(&["rules"], home.path());
    assert_eq!(code, 0);
    assert!(
        out.contains("ASSAY-VULN-001  [vulnerable-component / medium]"),
        "{out}"
    );
}

#[test]
fn sarif_and_html_document_the_vulnerability_rule() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("vulndb.sqlite");
    let nvd = root().join("crates/assay-vulndb/tests/fixtures/nvd/nvdcve-2.0-excerpt.json");
    let (code, _, err) = assay(
        &[
            "vulndb",
            "import",
            "--db",
            db.to_str().unwrap(),
            nvd.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 0, "{err}");
    let demo = root().join("examples/acme-demo.bin");
    let scan = |format: &str| {
        let (code, out, err) = assay(
            &[
                "scan",
                demo.to_str().unwrap(),
                "-q",
                "--as-of",
                "2024-06-01",
                "--vulndb",
                db.to_str().unwrap(),
                "--format",
                format,
            ],
            home.path(),
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    let sarif = json(&scan("sarif"));
    let rule = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "ASSAY-VULN-001")
        .cloned()
        .expect("the vulnerability rule is listed");
    assert_eq!(
        rule["shortDescription"]["text"],
        "Component with known vulnerabilities"
    );
    assert!(rule["fullDescription"]["text"]
        .as_str()
        .unwrap()
        .starts_with("A component whose identified version falls in the affected range"));
    let html = scan("html");
    assert!(html.contains("ASSAY-VULN-001</span> · Component with known vulnerabilities"));
    assert!(!html.contains("no documentation given"));
}

#[test]
fn vulndb_import_rejects_impossible_dates() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("vulndb.sqlite");
    let nvd = root().join("crates/assay-vulndb/tests/fixtures/nvd/nvdcve-2.0-excerpt.json");
    for date in [
        "2023-02-30",
        "2023-13-01",
        "2023-00-10",
        "2024-04-31",
        "2023-1-01",
        "@170000000",
    ] {
        let (code, _, err) = assay(
            &[
                "vulndb",
                "import",
                "--db",
                db.to_str().unwrap(),
                "--date",
                date,
                nvd.to_str().unwrap(),
            ],
            home.path(),
        );
        assert_eq!(code, 2, "{date}: {err}");
        assert!(err.contains("--date must be YYYY-MM-DD"), "{err}");
        assert!(
            !db.exists(),
            "{date}: nothing is written for a rejected date"
        );
    }
    let (code, _, err) = assay(
        &[
            "vulndb",
            "import",
            "--db",
            db.to_str().unwrap(),
            "--date",
            "2024-02-29",
            nvd.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(code, 0, "a leap day is a date: {err}");
}
