//! The SARIF output validates against the official SARIF 2.1.0 JSON schema (committed copy in
//! `tests/schema/`), for the report of a real scan of the evidence fixture and for a hand-made
//! report with hostile names.

use assay_model::Rule;
use assay_model::{Category, Severity};
use assay_report::{json, sarif};
use serde_json::Value;

#[path = "../src/testdata.rs"]
mod testdata;

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(include_str!("schema/sarif-schema-2.1.0.json")).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn assert_valid(sarif_text: &str) {
    let instance: Value = serde_json::from_str(sarif_text).unwrap();
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF schema violations:\n{}",
        errors.join("\n")
    );
}

/// A few rule docs as the CLI passes them (the real ones come from assay-analyze).
fn docs() -> Vec<Rule> {
    vec![
        Rule {
            id: "ASSAY-ACCT-001",
            category: Category::Account,
            severity: Severity::Critical,
            title: "Additional UID-0 account",
            description: "An account other than root has user id 0 in a passwd file.",
        },
        Rule {
            id: "ASSAY-REMOTE-001",
            category: Category::RemoteAccess,
            severity: Severity::High,
            title: "Telnet server started at boot",
            description: "A telnet daemon is started by the init system.",
        },
    ]
}

#[test]
fn sarif_of_a_real_scan_is_valid() {
    let report = json::from_json(include_str!("fixtures/router.report.json")).unwrap();
    assert!(
        report.findings.len() >= 3,
        "the fixture plants several findings"
    );
    let text = sarif::to_sarif(&report, &docs(), Some("https://example.org/assay"));
    assert_valid(&text);
    let log: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        report.findings.len()
    );
}

#[test]
fn sarif_with_hostile_names_is_valid() {
    let report = testdata::sample_report();
    assert_valid(&sarif::to_sarif(&report, &docs(), None));
}

#[test]
fn schema_rejects_a_broken_log() {
    // The validator is live: a result without a message breaks the schema.
    let report = testdata::sample_report();
    let mut log: Value = serde_json::from_str(&sarif::to_sarif(&report, &docs(), None)).unwrap();
    log["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    log["runs"][0]["results"][1]["level"] = Value::from("severe");
    let v = validator();
    assert!(v.iter_errors(&log).count() >= 2);
}
