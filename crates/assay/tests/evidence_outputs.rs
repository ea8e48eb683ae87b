//! End-to-end tests of the evidence outputs: the real `assay` binary scans the evidence
//! fixture (`fixtures/scripts/evidence-b.sh`: a hidden root account, telnet with a root shell,
//! a weak root password, a file whose name and content are HTML injections) and writes SARIF
//! and HTML.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidence-b/router.bin")
}

fn scan(format: &str, out: &Path) {
    let status = common::assay()
        .args([
            "scan",
            "--quiet",
            "--reproducible",
            "--as-of",
            "2026-01-01",
            "--format",
            format,
            "-o",
        ])
        .arg(out)
        .arg(fixture())
        .status()
        .expect("runs assay");
    assert!(status.success(), "assay scan --format {format} failed");
}

fn json_report(dir: &Path) -> Value {
    let path = dir.join("report.json");
    scan("json", &path);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Undo the HTML escaping of text (minijinja escapes `& < > " ' /`).
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

#[test]
fn sarif_is_valid_and_has_one_result_per_finding() {
    let dir = tempfile::tempdir().unwrap();
    let report = json_report(dir.path());
    let path = dir.path().join("report.sarif");
    scan("sarif", &path);
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let schema: Value = serde_json::from_str(include_str!(
        "../../assay-report/tests/schema/sarif-schema-2.1.0.json"
    ))
    .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let findings = report["findings"].as_array().unwrap();
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    assert!(
        findings.len() >= 4,
        "the fixture plants at least four findings"
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for (f, r) in findings.iter().zip(results) {
        assert_eq!(r["ruleId"], f["rule"]);
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], f["rule"]);
        assert!(
            !rule["fullDescription"]["text"]
                .as_str()
                .unwrap()
                .contains("no documentation"),
            "every rule that fired is documented"
        );
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["byteOffset"], f["range"]["start"]);
        assert_eq!(region["snippet"]["text"], f["evidence"]);
        assert_eq!(
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            f["location"]
        );
    }
    let levels: Vec<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert!(levels.contains(&"error"));
}

#[test]
fn html_shows_the_summary_and_every_finding_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let report = json_report(dir.path());
    let path = dir.path().join("report.html");
    scan("html", &path);
    let html = std::fs::read_to_string(&path).unwrap();
    let text = unescape(&html);

    assert!(
        text.contains("This image contains "),
        "first-screen summary"
    );
    // The fixture's extra UID-0 account is locked (medium), so the high/critical summary
    // names the cracked and plaintext passwords instead.
    assert!(text.contains("hard-coded or weak passwords"));
    assert!(text.contains("remote access opened at boot"));
    for f in report["findings"].as_array().unwrap() {
        let title = f["title"].as_str().unwrap();
        assert!(text.contains(title), "finding title missing: {title}");
    }
    // The fixture's hostile file name and evidence arrive as text, never as markup.
    assert!(text.contains("<img src=x onerror=alert(1)>.conf"));
    assert!(text.contains("<script>alert(2)</script>"));
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "no script element");
    assert!(!lower.contains("<img"), "no image element");
    // Self-contained: no tag refers to anything outside the page.
    for tag in html
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(""))
    {
        let t = tag.to_ascii_lowercase();
        for bad in ["http:", "https:", "src=", "url(", "@import"] {
            assert!(!t.contains(bad), "external reference in <{tag}>");
        }
    }
    assert!(!lower.contains("<link"));
    assert!(html.contains("<svg"), "the image map is drawn");
}
