//! End-to-end tests of the evidence commands on the bundled example images: reproducible
//! reports, `verify` and each tampering it must reject, signed envelopes, and `diff`.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

const AS_OF: &str = "2024-06-01";

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

/// Run `assay` with these arguments: (exit code, standard output, standard error).
fn assay(args: &[&str]) -> (i32, String, String) {
    let out = common::assay()
        .args(args)
        .output()
        .expect("the assay binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp paths")
}

/// A reproducible JSON report of an example image, written into `dir`.
fn scan_to(dir: &Path, image: &str, file: &str) -> PathBuf {
    let out = dir.join(file);
    let img = example(image);
    let (code, _, err) = assay(&[
        "scan",
        path_str(&img),
        "-q",
        "--format",
        "json",
        "--reproducible",
        "--as-of",
        AS_OF,
        "-o",
        path_str(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

fn verify(report: &Path, image: &Path) -> (i32, String) {
    let (code, out, err) = assay(&["verify", "-q", path_str(report), path_str(image)]);
    (code, format!("{out}{err}"))
}

/// Index of the first finding of `rule` in a report.
fn finding_index(report: &Value, rule: &str) -> usize {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding"))
}

#[test]
fn two_scans_give_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let a = scan_to(dir.path(), "acme-demo.bin", "a.json");
    let b = scan_to(dir.path(), "acme-demo.bin", "b.json");
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(a, b);
    let v: Value = serde_json::from_slice(&a).unwrap();
    assert!(v.get("stats").is_none(), "--reproducible leaves out stats");
    assert_eq!(v["as_of"], "2024-06-01T00:00:00Z");
    assert!(v["findings"].as_array().unwrap().len() >= 8);
}

#[test]
fn reproducible_without_as_of_takes_the_images_newest_time_stamp() {
    let img = example("acme-demo.bin");
    let (code, out, err) = assay(&["scan", path_str(&img), "-q", "-f", "json", "--reproducible"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // The uImage header's time (SOURCE_DATE_EPOCH of the example script).
    assert_eq!(v["as_of"], "2023-11-14T22:13:20Z");
    let (code, _, err) = assay(&["scan", path_str(&img), "-q", "--as-of", "soon"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_untouched_report_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let r = scan_to(dir.path(), "acme-demo.bin", "r.json");
    let (code, out) = verify(&r, &example("acme-demo.bin"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("verified: every file, finding and component"),
        "{out}"
    );
    assert!(!out.contains("FAIL"), "{out}");
}

/// Tamper with the report's first finding of `rule`, then expect verify to fail with `why`.
fn rejects(rule: &str, why: &str, tamper: impl FnOnce(&mut Value, usize)) {
    let dir = tempfile::tempdir().unwrap();
    let r = scan_to(dir.path(), "acme-demo.bin", "r.json");
    let mut v = read_json(&r);
    let i = finding_index(&v, rule);
    tamper(&mut v, i);
    write_json(&r, &v);
    let (code, out) = verify(&r, &example("acme-demo.bin"));
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("NOT verified"), "{out}");
    assert!(out.contains(why), "expected {why:?} in:\n{out}");
}

#[test]
fn rejects_an_edited_title() {
    rejects("ASSAY-REMOTE-001", "edited (title", |v, i| {
        v["findings"][i]["title"] = "Telnet server (disabled in production)".into();
    });
}

#[test]
fn rejects_an_edited_severity() {
    rejects("ASSAY-ACCT-001", "edited (severity", |v, i| {
        v["findings"][i]["severity"] = "info".into();
    });
}

#[test]
fn rejects_edited_evidence() {
    rejects("ASSAY-CRED-001", "the evidence is not the bytes", |v, i| {
        v["findings"][i]["evidence"] = "root:*:19000:0:99999:7:::".into();
    });
}

#[test]
fn rejects_an_edited_range() {
    rejects(
        "ASSAY-REMOTE-001",
        "not derived by the detectors",
        |v, i| {
            let end = v["findings"][i]["range"]["end"].as_u64().unwrap();
            v["findings"][i]["range"]["end"] = (end + 1).into();
        },
    );
}

#[test]
fn rejects_a_finding_moved_to_another_file() {
    rejects("ASSAY-KEY-001", "not derived by the detectors", |v, i| {
        let passwd = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == "/etc/passwd")
            .unwrap()
            .clone();
        let f = &mut v["findings"][i];
        f["node"] = passwd["id"].clone();
        f["path"] = passwd["path"].clone();
        f["location"] = passwd["location"].clone();
        f["sha256"] = passwd["sha256"].clone();
    });
}

#[test]
fn rejects_an_added_finding() {
    rejects(
        "ASSAY-ENDPOINT-003",
        "not derived by the detectors",
        |v, i| {
            let mut extra = v["findings"][i].clone();
            extra["rule"] = "ASSAY-BACKDOOR-001".into();
            extra["title"] = "Invented backdoor".into();
            v["findings"].as_array_mut().unwrap().push(extra);
        },
    );
}

#[test]
fn rejects_a_deleted_finding() {
    rejects(
        "ASSAY-KEY-006",
        "missing finding [ASSAY-KEY-006]",
        |v, i| {
            v["findings"].as_array_mut().unwrap().remove(i);
        },
    );
}

#[test]
fn rejects_an_image_one_byte_off_where_findings_rest() {
    let dir = tempfile::tempdir().unwrap();
    let r = scan_to(dir.path(), "acme-demo.bin", "r.json");
    let v = read_json(&r);
    // The root filesystem that /etc/passwd (and the account finding) lives in.
    let fs = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["format"] == "squashfs")
        .unwrap();
    let at = fs["offset"].as_u64().unwrap() as usize + 1000;
    let mut bytes = std::fs::read(example("acme-demo.bin")).unwrap();
    bytes[at] ^= 0x01;
    let image = dir.path().join("acme-demo.bin");
    std::fs::write(&image, bytes).unwrap();
    let (code, out) = verify(&r, &image);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("FAIL image:"), "{out}");
    assert!(
        out.contains("FAIL finding") && out.contains("/etc/passwd"),
        "the account finding must fail: {out}"
    );
}

#[test]
fn signed_reports_verify_and_forgeries_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    let other = dir.path().join("other");
    for k in [&key, &other] {
        let (code, _, err) = assay(&["keygen", "-o", path_str(k)]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, _) = assay(&["keygen", "-o", path_str(&key)]);
    assert_eq!(code, 2, "keygen does not overwrite a key");
    let img = example("acme-demo.bin");
    let env = dir.path().join("report.dsse.json");
    let (code, _, err) = assay(&[
        "scan",
        path_str(&img),
        "-q",
        "--reproducible",
        "--as-of",
        AS_OF,
        "--sign",
        path_str(&key),
        "-o",
        path_str(&env),
    ]);
    assert_eq!(code, 0, "{err}");
    let pub_key = dir.path().join("key.pub");
    let other_pub = dir.path().join("other.pub");
    let run = |envelope: &Path, key: &Path| {
        let (code, out, err) = assay(&[
            "verify",
            "-q",
            "--key",
            path_str(key),
            path_str(envelope),
            path_str(&img),
        ]);
        (code, format!("{out}{err}"))
    };

    let (code, out) = run(&env, &pub_key);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signature: ok"), "{out}");

    let (code, out) = run(&env, &other_pub);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("FAIL signature: no signature by key"), "{out}");

    // One flipped byte of the payload (a finding's title): the signature no longer holds.
    let mut v = read_json(&env);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload = b64.decode(v["payload"].as_str().unwrap()).unwrap();
    let at = String::from_utf8_lossy(&payload).find("Telnet").unwrap();
    payload[at] ^= 0x20;
    v["payload"] = b64.encode(&payload).into();
    let forged = dir.path().join("forged.json");
    write_json(&forged, &v);
    let (code, out) = run(&forged, &pub_key);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("does not match the payload"), "{out}");

    // A plain report where a signed one is expected.
    let plain = scan_to(dir.path(), "acme-demo.bin", "plain.json");
    let (code, out) = run(&plain, &pub_key);
    assert_eq!(code, 4, "{out}");
}

#[test]
fn diff_shows_the_planted_account_service_and_component() {
    let dir = tempfile::tempdir().unwrap();
    let old = example("acme-demo.bin");
    let new = example("acme-demo-v2.bin");
    let (code, out, err) = assay(&[
        "diff",
        path_str(&old),
        path_str(&new),
        "-q",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["accounts"]["added"], serde_json::json!(["support"]));
    assert_eq!(d["accounts"]["removed"], serde_json::json!([]));
    assert_eq!(
        d["services"]["added"],
        serde_json::json!(["nc bind shell tcp/4444"])
    );
    assert_eq!(d["services"]["removed"], serde_json::json!([]));
    for fact in ["endpoints", "keys"] {
        assert_eq!(d[fact]["added"], serde_json::json!([]), "{fact}");
        assert_eq!(d[fact]["removed"], serde_json::json!([]), "{fact}");
    }
    let added: Vec<&str> = d["findings"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    // The bind shell is one finding: the boot model's (REMOTE-003), with the reverse-shell
    // detector's (BACKDOOR-030) and the rule pack's (BACKDOOR-051) in its
    // `also_reported_by`; the new account's password is cracked (CRED-001).
    assert_eq!(added, ["ASSAY-REMOTE-003", "ASSAY-CRED-001"]);
    assert_eq!(d["findings"]["removed"], serde_json::json!([]));
    let changed: Vec<&str> = d["files"]["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&"squashfs ▸ /usr/sbin/dropbear"),
        "{changed:?}"
    );
    assert!(changed.contains(&"squashfs ▸ /etc/passwd"), "{changed:?}");
    assert_eq!(d["files"]["added"], serde_json::json!([]));
    assert_eq!(d["files"]["removed"], serde_json::json!([]));
    // Components: dropbear's version changed (and the kernel stand-in's).
    let comps = &d["components"];
    assert_eq!(comps["added"], serde_json::json!([]));
    assert_eq!(comps["removed"], serde_json::json!([]));
    let changed = comps["changed"].as_array().unwrap();
    let old_report = scan_to(dir.path(), "acme-demo.bin", "old.json");
    // The v2 image also carries a newer kernel stand-in; dropbear is the planted change.
    let dropbear = changed
        .iter()
        .find(|c| c["name"] == "dropbear")
        .unwrap_or_else(|| panic!("{comps}"));
    assert_eq!(dropbear["old"], serde_json::json!(["2019.78"]));
    assert_eq!(dropbear["new"], serde_json::json!(["2020.81"]));
    assert!(changed
        .iter()
        .all(|c| c["name"] == "dropbear" || c["name"] == "linux"));

    // Reports give the same diff as images; the text summary names the facts.
    let new_report = scan_to(dir.path(), "acme-demo-v2.bin", "new.json");
    let (code, text, err) = assay(&["diff", path_str(&old_report), path_str(&new_report)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("Accounts: 1 added, 0 removed\n  + support\n"),
        "{text}"
    );
    assert!(text.contains("  + nc bind shell tcp/4444\n"), "{text}");
}
