use super::*;
use crate::testutil::{tree, TestEntry::*};

fn fixture_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/rulepack/{kind}"))
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn builtin_rules_compile_with_ids_and_references() {
    let pack = RulePack::builtin().unwrap();
    let documented = pack
        .rules()
        .iter()
        .filter(|r| r.rule.id.as_str() < "ASSAY-BACKDOOR-050")
        .count();
    assert!(documented >= 25, "{documented} documented cases");
    let mut ids: Vec<&str> = pack.rules().iter().map(|r| r.rule.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), pack.rules().len(), "assay ids are unique");
    for r in pack.rules() {
        assert!(r.rule.id.starts_with("ASSAY-BACKDOOR-"), "{}", r.rule.id);
        assert!(!r.reference.is_empty(), "{} has no reference", r.rule.id);
        assert!(
            r.rule.description.len() > 40,
            "{} has no description",
            r.rule.id
        );
    }
}

/// Each built-in rule fires on its synthetic sample, and only that rule does.
#[test]
fn every_rule_matches_its_positive_sample_and_no_other() {
    let pack = RulePack::builtin().unwrap();
    let dir = fixture_dir("positive");
    for rule in pack.rules() {
        let path = dir.join(format!("{}.bin", rule.rule.id));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|_| panic!("no positive sample for {}", rule.rule.id));
        let hits = pack.scan_bytes(&bytes);
        let ids: Vec<&str> = hits.iter().map(|(r, _)| r.rule.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![rule.rule.id.as_str()],
            "sample {}",
            path.display()
        );
        let (_, range) = &hits[0];
        assert!(range.end > range.start && range.end <= bytes.len());
    }
    assert_eq!(read_dir_sorted(&dir).len(), pack.rules().len());
}

/// Real Debian binaries (busybox, dnsmasq, dropbear; mipsel and armel) match nothing.
#[test]
fn real_debian_binaries_match_no_rule() {
    let pack = RulePack::builtin().unwrap();
    let files = read_dir_sorted(&fixture_dir("negative"));
    assert!(files.len() >= 3);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let ids: Vec<&str> = pack
            .scan_bytes(&bytes)
            .iter()
            .map(|(r, _)| r.rule.id.as_str())
            .collect();
        assert!(ids.is_empty(), "{}: {ids:?}", path.display());
    }
}

#[test]
fn generic_rules_ignore_their_harmless_twins() {
    let pack = RulePack::builtin().unwrap();
    let twins: &[&[u8]] = &[
        // netcat without a shell
        b"#!/bin/sh\nnc -l -p 4444 > /tmp/upload\n",
        // busybox usage text of nc
        b"nc [-iN] [-wN] [-l] [-p PORT] [-f FILE|IPADDR PORT] [-e PROG]\0",
        // an unprivileged account appended
        b"echo 'ftp:x:1000:1000::/srv:/bin/false' >> /etc/passwd\n",
        // a root line written elsewhere
        b"echo 'root:x:0:0::/root:/bin/sh' > /tmp/passwd.new\n",
        // chpasswd fed from variables
        b"echo \"$USER:$PASS\" | chpasswd\n",
        // telnetd in a script is the remote-access detector's business, not an ELF listener
        b"telnetd -l /bin/sh -p 23 & recvfrom system\n",
        // an ELF with a shell but no datagram input
        b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0system\0/bin/sh -i\0",
    ];
    for t in twins {
        let ids: Vec<&str> = pack
            .scan_bytes(t)
            .iter()
            .map(|(r, _)| r.rule.id.as_str())
            .collect();
        assert!(ids.is_empty(), "{:?}: {ids:?}", String::from_utf8_lossy(t));
    }
}

#[test]
fn broken_user_rule_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.yar"),
        "rule broken { strings: $a = \"x\" condition: $b }\n",
    )
    .unwrap();
    let err = RulePack::compile(&[dir.path().to_path_buf()]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RulePackError::Compile { .. }), "{msg}");
    assert!(msg.contains("broken.yar"), "{msg}");
    assert!(msg.contains("$b"), "{msg}");

    let missing = dir.path().join("missing");
    let err = RulePack::compile(&[missing]).unwrap_err();
    assert!(matches!(err, RulePackError::Directory { .. }), "{err}");
}

#[test]
fn user_rules_get_user_ids_and_their_metadata() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.yar"),
        r#"
rule Vendor_Debug_Port { strings: $a = "debug-shell-7777" condition: $a }
rule Vendor_Key {
    meta:
        assay_id = "ASSAY-LOCAL-001"
        severity = "medium"
        category = "secret"
        reference = "internal audit 42"
    strings: $k = "VENDOR-KEY-" condition: $k
}
"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule file {").unwrap();
    let pack = RulePack::compile(&[dir.path().to_path_buf()]).unwrap();
    let hits = pack.scan_bytes(b"xx debug-shell-7777 VENDOR-KEY-1");
    let got: Vec<(&str, Severity, Category, std::ops::Range<usize>)> = hits
        .iter()
        .map(|(r, range)| {
            (
                r.rule.id.as_str(),
                r.rule.severity,
                r.rule.category,
                range.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "ASSAY-USER-Vendor_Debug_Port",
                Severity::High,
                Category::Backdoor,
                3..19
            ),
            (
                "ASSAY-LOCAL-001",
                Severity::Medium,
                Category::Secret,
                20..31
            ),
        ]
    );
}

#[test]
fn detector_reports_each_copy_at_the_matched_bytes() {
    let sample = b"\x7fELF....User-Agent\0xmlset_roodkcableoj28840ybtide\0";
    let t = tree(&[
        Dir("/bin"),
        File("/bin/thttpd", sample, 0o755),
        File("/usr/bin/thttpd.bak", sample, 0o755),
        File("/etc/hosts", b"127.0.0.1 localhost\n", 0o644),
    ]);
    let analysis = Analysis::new(&t);
    let pack = RulePack::builtin().unwrap();
    let mut sink = crate::FindingSink::new();
    pack.scan_analysis(&analysis, &mut sink);
    let mut out = sink.held().to_vec();
    crate::sort_findings(&mut out);
    assert_eq!(out.len(), 2);
    for f in &out {
        assert_eq!(f.rule, "ASSAY-BACKDOOR-001");
        assert_eq!(f.category, Category::Backdoor);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence, "xmlset_roodkcableoj28840ybtide");
        assert_eq!(f.range.start, 19);
        assert_eq!(f.range.end, 49);
        assert!(f.context["reference"].contains("CVE-2013-6026"));
    }
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"/bin/thttpd") && paths.contains(&"/usr/bin/thttpd.bak"));
}

#[test]
fn rules_are_listed_for_assay_rules() {
    let listed: Vec<Rule> = crate::all_rules();
    assert!(listed.iter().any(|r| r.id == "ASSAY-BACKDOOR-001"));
    assert!(listed.iter().any(|r| r.id == "ASSAY-BACKDOOR-053"));
}

#[test]
fn each_config_runs_and_lists_its_own_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.yar"),
        "rule Factory_Switch { strings: $a = \"factory-mode=1\" condition: $a }\n",
    )
    .unwrap();
    let t = tree(&[File("/etc/mode.conf", b"x factory-mode=1\n", 0o644)]);
    let user = crate::DetectorConfig::new()
        .with_rule_dirs(&[dir.path().to_path_buf()])
        .unwrap();
    let builtin = crate::DetectorConfig::new();
    let run = |config: &crate::DetectorConfig| {
        let analysis = Analysis::new(&t).with_config(config);
        let mut out = crate::FindingSink::new();
        RulePackDetector.run(&analysis, &mut out);
        out.iter().map(|f| f.rule.clone()).collect::<Vec<_>>()
    };
    // Interleaved in one process: neither config leaks into the other.
    assert_eq!(run(&user), vec!["ASSAY-USER-Factory_Switch"]);
    assert!(run(&builtin).is_empty());
    assert_eq!(run(&user), vec!["ASSAY-USER-Factory_Switch"]);
    let listed = |config: &crate::DetectorConfig| {
        config
            .rules()
            .iter()
            .any(|r| r.id == "ASSAY-USER-Factory_Switch")
    };
    assert!(listed(&user));
    assert!(!listed(&builtin));
    assert!(!crate::all_rules()
        .iter()
        .any(|r| r.id.starts_with("ASSAY-USER-")));
}
