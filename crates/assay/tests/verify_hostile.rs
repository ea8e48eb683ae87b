//! `verify` on reports built to make it slow or greedy (issue 13, item 9): 20,000 findings in
//! reverse order (matched by identity, not by scanning), an envelope larger than the limit
//! (refused before it is read), and an envelope whose payload is not even JSON (the signature
//! fails first, over the raw bytes, and nothing parses the payload).

mod common;

use common::assay;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/terminal")
        .join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn reordered_findings_are_matched_by_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let image = fixture("many-accounts.tar.gz");
    let path = tmp.path().join("report.json");
    let out = assay()
        .args(["scan", "-q", "--format", "json", "-o"])
        .arg(&path)
        .arg(&image)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let findings = report["findings"].as_array_mut().unwrap();
    let n = findings.len();
    // The findings caps (100 of a rule per file) bound what one file can raise; the rest
    // are counted in an ASSAY-EVASION-002 finding, which verify re-derives like any other.
    assert!(n >= 200, "{n} findings");
    assert!(findings.iter().any(|f| f["rule"] == "ASSAY-EVASION-002"));
    findings.reverse();
    let reversed = tmp.path().join("reversed.json");
    std::fs::write(&reversed, serde_json::to_vec(&report).unwrap()).unwrap();
    let out = assay()
        .args(["verify", "-q"])
        .arg(&reversed)
        .arg(&image)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("findings: {n} of {n} hold")),
        "{stdout}"
    );

    // One edited finding among them is found, and only that one.
    let findings = report["findings"].as_array_mut().unwrap();
    findings[n / 2]["evidence"] = "edited".into();
    std::fs::write(&reversed, serde_json::to_vec(&report).unwrap()).unwrap();
    let out = assay()
        .args(["verify", "-q"])
        .arg(&reversed)
        .arg(&image)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    let only = format!("FAIL finding {} ", n / 2);
    assert!(fails.iter().all(|l| l.starts_with(&only)), "{stdout}");
    assert!(
        fails.iter().any(|l| l.contains("edited (evidence)")),
        "{stdout}"
    );
}

/// A DSSE envelope around `payload`, signed by nobody in particular.
fn envelope(payload: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    serde_json::json!({
        "payload": b64.encode(payload),
        "payloadType": "application/vnd.assay.report+json",
        "signatures": [{"keyid": "0000", "sig": b64.encode([0u8; 64])}],
    })
    .to_string()
}

#[test]
fn an_envelope_over_the_limit_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.json");
    std::fs::write(&path, envelope(&vec![b' '; 3 << 20])).unwrap();
    let out = assay()
        .args(["verify", "-q", "--max-report-mib", "1"])
        .arg(&path)
        .arg(fixture("hostile-text.tar"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("more than the 1048576 bytes accepted"),
        "{stderr}"
    );
}

#[test]
fn the_signature_is_checked_before_the_payload_is_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("k");
    let out = assay().args(["keygen", "-o"]).arg(&key).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Not JSON at all: parsing it first would fail with a parse error, not a signature one.
    let path = tmp.path().join("forged.json");
    std::fs::write(&path, envelope(b"\x1b[2J not a report")).unwrap();
    let out = assay()
        .args(["verify", "-q", "--key"])
        .arg(key.with_extension("pub"))
        .arg(&path)
        .arg(fixture("hostile-text.tar"))
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout} {}", text(&out.stderr));
    assert!(stdout.contains("FAIL signature: "), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("NOT verified: the signature does not hold")),
        "{stdout}"
    );
}
