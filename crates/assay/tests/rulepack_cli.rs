//! The `--rules DIR` option of the real binary: user rules are listed, a broken rule file stops
//! the command with the compiler's message and exit code 2 (not a panic).

mod common;

use common::assay;

#[test]
fn builtin_yara_rules_are_listed() {
    let out = assay().arg("rules").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ASSAY-BACKDOOR-001"), "{text}");
    assert!(text.contains("CVE-2013-6026"), "{text}");
}

#[test]
fn user_rules_are_listed_with_user_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.yar"),
        "rule Local_Debug { strings: $a = \"dbg-7777\" condition: $a }\n",
    )
    .unwrap();
    let out = assay()
        .args(["rules", "--rules"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ASSAY-USER-Local_Debug"), "{text}");
}

#[test]
fn broken_user_rule_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yar"),
        "rule bad { condition: $nope }\n",
    )
    .unwrap();
    let image = dir.path().join("image.bin");
    std::fs::write(&image, b"not firmware").unwrap();
    let out = assay()
        .args(["scan", "--quiet", "--rules"])
        .arg(dir.path())
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yar"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn verify_re_derives_user_rule_findings_when_given_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("local.yar"),
        "rule Local_Root_Login { strings: $a = \"root:\" condition: $a }\n",
    )
    .unwrap();
    let image =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
    let report = dir.path().join("r.json");
    let st = assay()
        .args([
            "scan",
            "-q",
            "--format",
            "json",
            "--reproducible",
            "--as-of",
            "2026-01-01",
            "--rules",
        ])
        .arg(&rules)
        .arg("-o")
        .arg(&report)
        .arg(&image)
        .status()
        .unwrap();
    assert!(st.success());
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("ASSAY-USER-Local_Root_Login"));
    // With the same rules every finding is re-derived; without them the user rule's findings
    // cannot be, and verify says so.
    let with = assay()
        .args(["verify", "-q", "--rules"])
        .arg(&rules)
        .arg(&report)
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stdout)
    );
    let without = assay()
        .args(["verify", "-q"])
        .arg(&report)
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(without.status.code(), Some(4));
}
