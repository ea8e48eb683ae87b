//! RTOS images through the real binary: the OS becomes a component with its CPE, the
//! recovered symbol table is a file of the report, and `assay verify` re-derives all of it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assay-unpack/tests/fixtures/rtos")
        .join(name)
}

fn scan_json(image: &Path, report: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args([
            "scan",
            "-q",
            "--format",
            "json",
            "--reproducible",
            "--as-of",
        ])
        .arg("2021-01-01")
        .arg("-o")
        .arg(report)
        .arg(image)
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

#[test]
fn vxworks_component_symbols_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("vx5-mips-be.bin");
    let report = dir.path().join("report.json");
    let r = scan_json(&image, &report);
    let vx = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "vxworks")
        .expect("vxworks component");
    assert_eq!(vx["version"], "5.5.1");
    assert_eq!(vx["cpe"], "cpe:2.3:o:windriver:vxworks:5.5.1:*:*:*:*:*:*:*");
    // The unpacker's OS description is evidence (a version-string signature may add more).
    let os_evidence = vx["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["method"] == "os-image")
        .expect("os-image evidence");
    assert_eq!(os_evidence["matched"], "VxWorks5.5.1");
    // A library's version string in the image's unclaimed bytes: evidence in an unknown
    // range, which verify must hold too.
    let ssl = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "openssl")
        .expect("openssl component");
    assert_eq!(ssl["version"], "1.0.2k");
    assert!(ssl["evidence"][0]["location"]
        .as_str()
        .unwrap()
        .ends_with("unknown@0x0"));
    let nodes = r["nodes"].as_array().unwrap();
    let os = nodes
        .iter()
        .find(|n| n["format"] == "vxworks")
        .expect("vxworks node");
    assert_eq!(os["details"]["load_address"], "0x80010000");
    assert!(nodes.iter().any(|n| n["path"] == "/symbols.txt"));
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["verify", "-q"])
        .arg(&report)
        .arg(&image)
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
fn tplink_firmware_components_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let image = fixture("tplink-vxworks.bin");
    let report = dir.path().join("report.json");
    let r = scan_json(&image, &report);
    let names: Vec<(&str, &str)> = r["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["version"].as_str().unwrap()))
        .collect();
    assert!(names.contains(&("vxworks", "5.5.1")), "{names:?}");
    let files = r["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "file")
        .count();
    assert_eq!(files, 4, "three web pages and the symbol table");
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["verify", "-q"])
        .arg(&report)
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
