//! Command-line behaviour of the real `assay` binary: documented outputs, exit codes and the
//! generated rule documentation.

mod common;

use common::assay;
use std::path::Path;

#[test]
fn rules_doc_in_the_repository_is_current() {
    let out = assay().args(["rules", "--markdown"]).output().unwrap();
    assert!(out.status.success());
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
    let committed = std::fs::read_to_string(&doc).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "docs/rules.md is stale: regenerate with `cargo run -p assay -- rules --markdown > docs/rules.md`"
    );
}

#[test]
fn every_rule_id_is_unique_and_well_formed() {
    let out = assay().args(["rules"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ASSAY-"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(ids.len() >= 20, "{ids:?}");
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "duplicate rule ids");
    for id in ids {
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert!(parts[2].chars().all(|c| c.is_ascii_digit()), "{id}");
    }
}

#[test]
fn unreadable_image_exits_3_and_usage_error_exits_2() {
    let out = assay()
        .args(["scan", "/nonexistent/image.bin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/image.bin"));
    let out = assay().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fail_on_sets_exit_status_1_when_reached() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/escape.tar");
    // No finding in this archive reaches critical.
    let out = assay()
        .args(["scan", "-q", "--fail-on", "critical"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn wordlist_cracks_a_hash_only_its_word_matches() {
    let settings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/settings");
    let scan = |extra: &[&std::ffi::OsStr]| {
        let out = assay()
            .args(["scan", "-q", "--format", "json", "--as-of", "2027-01-01"])
            .arg(settings.join("gateway.sqfs"))
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["context"]["account"] == "netadmin")
            .map(|f| (f["rule"].clone(), f["context"]["password"].clone()))
            .unwrap()
    };
    let wordlist = settings.join("wordlist.txt");
    let (rule, password) = scan(&["--wordlist".as_ref(), wordlist.as_os_str()]);
    assert_eq!(rule, "ASSAY-CRED-001");
    assert_eq!(password, "quartz-lantern-58");
    let (rule, password) = scan(&[]);
    assert_eq!(
        rule, "ASSAY-CRED-002",
        "the built-in list must not crack it"
    );
    assert!(password.is_null());
    // A word list that cannot be read stops the scan (exit 3) and says which file.
    let out = assay()
        .args([
            "scan",
            "-q",
            "--as-of",
            "2027-01-01",
            "--wordlist",
            "/nonexistent/words.txt",
        ])
        .arg(settings.join("gateway.sqfs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/words.txt"));
}

#[test]
fn password_option_opens_an_encrypted_zip() {
    let zip = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assay-unpack/tests/fixtures/encrypted/aes256.zip");
    let passwd = |extra: &[&str]| {
        let out = assay()
            .args(["scan", "-q", "--format", "json", "--as-of", "2027-01-01"])
            .args(extra)
            .arg(&zip)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let node = report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == "/etc/passwd")
            .cloned()
            .unwrap();
        (node, report["warnings"].clone())
    };
    let (node, _) = passwd(&["--password", "wrong", "--password", "Secret"]);
    assert_eq!(
        node["sha256"],
        "a108f80d750655cf5ac9f1097bbc56579943187be3930df643abbeb7c52bdb7e"
    );
    assert_eq!(node["details"]["password"], "user supplied #2");
    let (node, warnings) = passwd(&[]);
    assert!(node["sha256"].is_null());
    assert_eq!(node["details"]["encrypted"], "true");
    assert!(warnings.to_string().contains("not opened"), "{warnings}");
}
