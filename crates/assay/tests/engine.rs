//! End-to-end tests of the unpacking engine through the real `assay` binary, on fixtures made
//! by `fixtures/scripts/engine.sh`: a five-level nested image, decompression bombs, deep
//! nesting, a container that contains itself, path traversal and symlink escapes.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/engine")
        .join(name)
}

/// Scan a fixture to JSON. How long it takes is measured by `bench/hostile.sh`, not here:
/// the containment is asserted on what the report says was decoded.
fn scan(name: &str) -> Value {
    let out = common::assay()
        .args(["scan", "-q", "--format", "json"])
        .arg(fixture(name))
        .output()
        .expect("run assay");
    assert!(
        out.status.success(),
        "assay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

fn warnings_of_kind<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == kind)
        .collect()
}

#[test]
fn nested_image_five_containers_deep_recovers_every_file() {
    let r = scan("nested.tar");
    let expected = std::fs::read_to_string(fixture("expected-nested.txt")).unwrap();
    let nodes = r["nodes"].as_array().unwrap();
    for line in expected.lines() {
        let (path, sha) = line.split_once('\t').unwrap();
        let node = nodes
            .iter()
            .find(|n| n["path"] == path && n["kind"] == "file")
            .unwrap_or_else(|| panic!("{path} not recovered"));
        assert_eq!(node["sha256"], sha, "{path}");
        // tar ▸ uimage ▸ gzip ▸ cpio ▸ squashfs ▸ file
        let loc = node["location"].as_str().unwrap();
        for fmt in ["tar@", "uimage@", "gzip@", "cpio@", "squashfs@"] {
            assert!(loc.contains(fmt), "{loc} lacks {fmt}");
        }
    }
    let link = nodes.iter().find(|n| n["path"] == "/www/banner").unwrap();
    assert_eq!(link["kind"], "symlink");
    assert_eq!(link["link_target"], "../etc/banner");
    // Nothing went wrong unpacking (the one warning allowed: no vulnerability database).
    assert!(
        r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["kind"] == "vulndb"),
        "{:?}",
        r["warnings"]
    );
}

#[test]
fn flat_and_nested_bombs_stop_at_the_budget_with_a_warning() {
    for name in ["bomb-flat.gz", "bomb-nested.gz"] {
        let r = scan(name);
        assert!(
            !warnings_of_kind(&r, "limit").is_empty(),
            "{name}: {:?}",
            r["warnings"]
        );
        let unpacked = r["stats"]["bytes_unpacked"].as_u64().unwrap();
        assert!(unpacked <= 64 << 20, "{name}: {unpacked} bytes unpacked");
    }
}

#[test]
fn nesting_stops_at_the_depth_limit() {
    let r = scan("deep.gz");
    let w = warnings_of_kind(&r, "limit");
    assert!(w
        .iter()
        .any(|w| w["message"].as_str().unwrap().contains("nesting deeper")));
}

#[test]
fn a_container_that_contains_itself_is_unpacked_once() {
    let r = scan("self-ref.itb");
    assert!(
        !warnings_of_kind(&r, "self-reference").is_empty(),
        "{:?}",
        r["warnings"]
    );
    assert!(r["nodes"].as_array().unwrap().len() < 10);
}

#[test]
fn squashfs_entry_named_dot_dot_is_refused_with_a_warning() {
    let r = scan("traversal.sqfs");
    assert!(!r["warnings"].as_array().unwrap().is_empty());
    for n in r["nodes"].as_array().unwrap() {
        assert!(!n["path"].as_str().unwrap().contains(".."), "{n}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let st = common::assay()
        .args(["unpack", "-q"])
        .arg(fixture("traversal.sqfs"))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(entries_outside(tmp.path(), &out), Vec::<PathBuf>::new());
}

/// Every path under `root` that is not `out` or inside it.
fn entries_outside(root: &Path, out: &Path) -> Vec<PathBuf> {
    let mut stray = Vec::new();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p != out {
            stray.push(p);
        }
    }
    stray
}

#[test]
fn unpack_never_writes_through_symlinks_or_outside_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    // The archive's links point at ../../../../../../tmp; run from a nested output directory so
    // that an escape would land in our temp dir, where we can see it.
    let out = tmp.path().join("a/b/out");
    let st = common::assay()
        .args(["unpack", "-q"])
        .arg(fixture("escape.tar"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let stdout = String::from_utf8_lossy(&st.stdout);
    assert!(stdout.contains("leaves its filesystem"), "{stdout}");
    let tar_dir = out.join("tar@0x0");
    // The escaping link is not created, so nothing was written through it.
    assert!(
        std::fs::symlink_metadata(tar_dir.join("evil")).is_err() || tar_dir.join("evil").is_dir()
    );
    assert!(
        !Path::new("/tmp/pwned").exists()
            || std::fs::read("/tmp/pwned").unwrap() != b"written through a symlink\n"
    );
    // The climbing name was kept inside.
    assert_eq!(
        std::fs::read(tar_dir.join("escaped")).unwrap(),
        b"climbed out\n"
    );
    assert_eq!(std::fs::read(tar_dir.join("ok.txt")).unwrap(), b"fine\n");
    // Nothing appeared beside the output directory.
    assert_eq!(
        entries_outside(&tmp.path().join("a/b"), &out),
        Vec::<PathBuf>::new()
    );
    // The link loop is recreated as links (never followed).
    assert!(std::fs::symlink_metadata(tar_dir.join("loop-a"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Scan an image given by path to JSON (exit status 0 required).
fn scan_path(image: &Path) -> Value {
    let out = common::assay()
        .args(["scan", "-q", "--format", "json"])
        .arg(image)
        .output()
        .expect("run assay");
    assert!(
        out.status.success(),
        "assay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// The findings of a report as (rule, path) pairs, sorted, without the evasion rules.
fn finding_keys(r: &Value) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["rule"].as_str().unwrap().starts_with("ASSAY-EVASION-"))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_bomb_in_front_leaves_the_findings_behind_it_and_says_it_fired() {
    use std::io::Write as _;
    // About 200 KB of gzip'd zeros (200 MiB decoded, past the image's 64 MiB budget), then
    // the example firmware: the bomb may take a fair share, never what the firmware needs.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&zeros).unwrap();
    }
    let mut image = gz.finish().unwrap();
    assert!(image.len() < 300 << 10, "{}", image.len());
    let demo_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme-demo.bin");
    let demo = std::fs::read(&demo_path).unwrap();
    image.extend_from_slice(&demo);
    let dir = tempfile::tempdir().unwrap();
    let trapped = dir.path().join("trapped.bin");
    std::fs::write(&trapped, &image).unwrap();

    let clean = scan_path(&demo_path);
    let r = scan_path(&trapped);
    let want = finding_keys(&clean);
    assert!(want.len() >= 10, "{want:?}");
    assert_eq!(finding_keys(&r), want, "the findings behind the bomb");
    let evasion: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "ASSAY-EVASION-001")
        .collect();
    assert_eq!(evasion.len(), 1, "{evasion:?}");
    assert_eq!(evasion[0]["severity"], "high");
    assert!(evasion[0]["title"]
        .as_str()
        .unwrap()
        .contains("bytes behind a limit"));
    assert!(!warnings_of_kind(&r, "limit").is_empty());
    assert!(clean["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rule"] != "ASSAY-EVASION-001"));

    // Byte budgets are shared out by position: the same tree on every run.
    let again = scan_path(&trapped);
    assert_eq!(again["nodes"], r["nodes"]);
    assert_eq!(again["findings"], r["findings"]);
}

#[test]
fn a_sparse_hole_in_front_costs_nothing_and_hides_nothing() {
    // An ext4 (made by `fixtures/scripts/hostile-traps.sh`) whose first file is a 3 GiB hole,
    // then /etc/passwd with a second UID-0 account and /etc/shadow with an empty root
    // password. Before, reading the hole spent the whole budget and both were cut to 0 bytes.
    let r = scan_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/sparse-trap.ext4.xz"),
    );
    let keys = finding_keys(&r);
    for want in [
        ("ASSAY-ACCT-001", "/etc/passwd"),
        ("ASSAY-ACCT-002", "/etc/shadow"),
    ] {
        assert!(
            keys.iter()
                .any(|(rule, path)| rule == want.0 && path == want.1),
            "{want:?} missing from {keys:?}"
        );
    }
    let nodes = r["nodes"].as_array().unwrap();
    let hole = nodes
        .iter()
        .find(|n| n["path"] == "/a/hole.bin")
        .expect("the hole");
    assert_eq!(hole["size"], 3u64 << 30);
    // The hole is neither decoded nor charged: what was unpacked is the 4 MiB file system the
    // xz stream holds and the two small files.
    let unpacked = r["stats"]["bytes_unpacked"].as_u64().unwrap();
    assert!(unpacked < 8 << 20, "{unpacked}");
}
