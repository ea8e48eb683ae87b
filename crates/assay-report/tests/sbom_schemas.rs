//! The CycloneDX and SPDX outputs validate against the official schemas (committed copies in
//! `tests/schemas/`, see the README there), resolved offline.

use assay_model::{
    ByteRange, Component, ComponentEvidence, Confidence, Cvss, FeedSnapshot, ImageInfo, Node,
    NodeKind, Report, Severity, Vulnerability, REPORT_SCHEMA,
};
use assay_report::sbom::SbomOptions;
use jsonschema::{Registry, Validator};
use serde_json::Value;
use std::path::PathBuf;

fn schema(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cyclonedx_validator() -> Validator {
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            schema("spdx.schema.json"),
        )
        .unwrap()
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            schema("jsf-0.82.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .offline()
        .should_validate_formats(true)
        .build(&schema("bom-1.6.schema.json"))
        .unwrap()
}

fn spdx_validator() -> Validator {
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .build(&schema("spdx-2.3.schema.json"))
        .unwrap()
}

fn assert_valid(v: &Validator, doc: &str) {
    let value: Value = serde_json::from_str(doc).unwrap();
    let errors: Vec<String> = v
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc}");
}

fn evidence(path: &str, node: u32, method: &str) -> ComponentEvidence {
    ComponentEvidence {
        path: path.into(),
        location: format!("fw.bin ▸ squashfs@0x40 ▸ {path}"),
        node,
        sha256: format!("{node:064x}"),
        method: method.into(),
        matched: Some("BusyBox v1.35.0 (2022-01-01)".into()),
        range: Some(ByteRange {
            start: 4096,
            end: 4124,
        }),
        embedded: false,
    }
}

fn report() -> Report {
    let mut image = Node::new(0, None, NodeKind::Image, "fw.bin".into());
    image.sha256 = Some("a".repeat(64));
    let components = vec![
        Component {
            name: "busybox".into(),
            version: "1.35.0".into(),
            purl: "pkg:generic/busybox@1.35.0".into(),
            cpe: Some("cpe:2.3:a:busybox:busybox:1.35.0:*:*:*:*:*:*:*".into()),
            confidence: Confidence::High,
            evidence: vec![evidence("/bin/busybox", 7, "version-string")],
            other_versions: Vec::new(),
        },
        Component {
            name: "openssl".into(),
            version: "1.0.2k".into(),
            purl: "pkg:generic/openssl@1.0.2k".into(),
            cpe: Some("cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*".into()),
            confidence: Confidence::Medium,
            evidence: vec![
                evidence("/lib/libcrypto.so.1.0.0", 9, "version-string"),
                evidence("/usr/lib/opkg/status", 12, "opkg-status"),
            ],
            other_versions: Vec::new(),
        },
        Component {
            name: "linux".into(),
            version: "4.14.180".into(),
            purl: "pkg:generic/linux@4.14.180".into(),
            cpe: Some("cpe:2.3:o:linux:linux_kernel:4.14.180:*:*:*:*:*:*:*".into()),
            confidence: Confidence::Low,
            evidence: Vec::new(),
            other_versions: Vec::new(),
        },
    ];
    let feed = FeedSnapshot {
        name: "nvdcve-2.0-2022.json".into(),
        kind: "nvd".into(),
        sha256: "c".repeat(64),
        imported: "2026-01-02".into(),
        published: Some("2026-01-01T00:00:00.000".into()),
    };
    let vulnerabilities = vec![
        Vulnerability {
            id: "CVE-2022-28391".into(),
            aliases: vec!["UBUNTU-CVE-2022-28391".into()],
            component: 0,
            summary: Some("BusyBox through 1.35.0 allows remote attackers …".into()),
            cvss: Some(Cvss {
                version: "3.1".into(),
                score: 8.8,
                vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H".into(),
            }),
            severity: Severity::High,
            matched: "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:* versions <= 1.35.0".into(),
            feed: feed.clone(),
        },
        Vulnerability {
            id: "OSV-2022-6".into(),
            aliases: Vec::new(),
            component: 1,
            summary: None,
            cvss: None,
            severity: Severity::Medium,
            matched: "OSS-Fuzz openssl: 1.0.2k listed as affected".into(),
            feed,
        },
    ];
    Report {
        schema: REPORT_SCHEMA.into(),
        tool_version: "0.1.0".into(),
        image: ImageInfo {
            name: "fw.bin".into(),
            size: 1234,
            sha256: "a".repeat(64),
        },
        nodes: vec![image],
        components,
        findings: Vec::new(),
        vulnerabilities,
        listeners: Vec::new(),
        warnings: Vec::new(),
        as_of: None,
        stats: None,
    }
}

fn empty_report() -> Report {
    let mut r = report();
    r.components.clear();
    r.vulnerabilities.clear();
    r
}

#[test]
fn cyclonedx_validates_against_bom_1_6() {
    let v = cyclonedx_validator();
    let reproducible = SbomOptions::default();
    let timed = SbomOptions {
        timestamp: Some("2026-01-02T03:04:05Z".into()),
    };
    for r in [report(), empty_report()] {
        assert_valid(&v, &assay_report::cyclonedx::to_json(&r, &reproducible));
        assert_valid(&v, &assay_report::cyclonedx::to_json(&r, &timed));
    }
}

#[test]
fn cyclonedx_content() {
    let doc: Value = serde_json::from_str(&assay_report::cyclonedx::to_json(
        &report(),
        &SbomOptions::default(),
    ))
    .unwrap();
    assert_eq!(doc["specVersion"], "1.6");
    assert!(doc["metadata"].get("timestamp").is_none());
    assert_eq!(doc["metadata"]["component"]["type"], "firmware");
    assert_eq!(
        doc["metadata"]["component"]["hashes"][0]["content"],
        "a".repeat(64)
    );
    let comps = doc["components"].as_array().unwrap();
    assert_eq!(comps[0]["type"], "application");
    assert_eq!(comps[1]["type"], "library");
    assert_eq!(comps[2]["type"], "operating-system");
    assert_eq!(comps[1]["hashes"].as_array().unwrap().len(), 2);
    assert_eq!(
        comps[0]["evidence"]["occurrences"][0]["location"],
        "/bin/busybox"
    );
    assert_eq!(comps[0]["evidence"]["occurrences"][0]["offset"], 4096);
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns[0]["id"], "CVE-2022-28391");
    assert_eq!(vulns[0]["ratings"][0]["score"], 8.8);
    assert_eq!(vulns[0]["ratings"][0]["method"], "CVSSv31");
    assert_eq!(vulns[0]["affects"][0]["ref"], "component-0");
    assert_eq!(vulns[1]["affects"][0]["ref"], "component-1");
}

#[test]
fn serial_number_is_deterministic_per_image() {
    let opts = SbomOptions::default();
    let a = assay_report::cyclonedx::to_json(&report(), &opts);
    assert_eq!(a, assay_report::cyclonedx::to_json(&report(), &opts));
    let mut other = report();
    other.image.sha256 = "b".repeat(64);
    let b = assay_report::cyclonedx::to_json(&other, &opts);
    let serial = |s: &str| {
        let v: Value = serde_json::from_str(s).unwrap();
        v["serialNumber"].as_str().unwrap().to_string()
    };
    assert_ne!(serial(&a), serial(&b));
    assert!(serial(&a).starts_with("urn:uuid:"));
    assert_eq!(&serial(&a)[9 + 14..9 + 15], "5");
}

#[test]
fn spdx_validates_against_2_3() {
    let v = spdx_validator();
    for r in [report(), empty_report()] {
        assert_valid(
            &v,
            &assay_report::spdx::to_json(&r, &SbomOptions::default()),
        );
        assert_valid(
            &v,
            &assay_report::spdx::to_json(
                &r,
                &SbomOptions {
                    timestamp: Some("2026-01-02T03:04:05Z".into()),
                },
            ),
        );
    }
}

#[test]
fn spdx_content() {
    let text = assay_report::spdx::to_json(&report(), &SbomOptions::default());
    assert_eq!(
        text,
        assay_report::spdx::to_json(&report(), &SbomOptions::default())
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "1970-01-01T00:00:00Z");
    assert_eq!(doc["creationInfo"]["creators"][0], "Tool: assay-0.1.0");
    let pkgs = doc["packages"].as_array().unwrap();
    assert_eq!(pkgs.len(), 4);
    let refs = pkgs[1]["externalRefs"].as_array().unwrap();
    let kinds: Vec<&str> = refs
        .iter()
        .map(|r| r["referenceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["purl", "cpe23Type", "advisory"]);
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    assert_eq!(files[0]["fileName"], "./bin/busybox");
    assert_eq!(files[0]["checksums"][0]["algorithm"], "SHA256");
    let rels: Vec<(String, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_string(),
                r["relationshipType"].as_str().unwrap().to_string(),
                r["relatedSpdxElement"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |a: &str, k: &str, b: &str| rels.contains(&(a.into(), k.into(), b.into()));
    assert!(has("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));
    assert!(has("SPDXRef-Image", "CONTAINS", "SPDXRef-File-7"));
    assert!(has("SPDXRef-File-7", "CONTAINS", "SPDXRef-Package-0"));
    assert!(has("SPDXRef-File-12", "CONTAINS", "SPDXRef-Package-1"));
    assert!(has("SPDXRef-Image", "CONTAINS", "SPDXRef-Package-2"));
}

#[test]
fn validators_reject_broken_documents() {
    let cdx = cyclonedx_validator();
    let mut doc: Value = serde_json::from_str(&assay_report::cyclonedx::to_json(
        &report(),
        &SbomOptions::default(),
    ))
    .unwrap();
    doc["components"][0]["hashes"][0]["alg"] = "SHA-257".into();
    assert!(!cdx.is_valid(&doc));
    let spdx = spdx_validator();
    let mut doc: Value = serde_json::from_str(&assay_report::spdx::to_json(
        &report(),
        &SbomOptions::default(),
    ))
    .unwrap();
    doc["files"][0]["checksums"][0]["algorithm"] = "SHA257".into();
    assert!(!spdx.is_valid(&doc));
}
