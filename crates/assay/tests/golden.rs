//! Golden outputs: the real binary on small committed images, every output format and every
//! command, compared byte for byte with the files under `tests/golden/`. Any change to what
//! Assay prints — the report contract above all — shows up here as a readable diff.
//!
//! Re-bless after an intended change (then review `git diff crates/assay/tests/golden`):
//!
//! ```text
//! ASSAY_BLESS=1 cargo test -p assay --test golden
//! ```
//!
//! What is held fixed so that the bytes do not depend on the machine: the reference time
//! (`--as-of`), `--reproducible` (no run figures), `SOURCE_DATE_EPOCH` (SBOM creation time),
//! the vulnerability database (built from the committed feed fixtures with a fixed import
//! date, or `ASSAY_VULNDB` naming a file that does not exist), `HOME` and `XDG_DATA_HOME`
//! (an empty directory), and the working directory (the repository root, so that image paths
//! are the relative ones given). The one thing normalised is the path of the per-run
//! temporary directory (reports, keys and unpack output go there), written as `$TMP`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root: every image path below is relative to it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The reference time of every scan of the demo images.
const AS_OF: &str = "2024-06-01";
/// The reference time of the gateway fixture: its certificate expired on 2026-11-30.
const GATEWAY_AS_OF: &str = "2027-01-01";

const DEMO: &str = "examples/acme-demo.bin";
const DEMO_V2: &str = "examples/acme-demo-v2.bin";
const ROUTER: &str = "crates/assay/tests/fixtures/evidence-b/router.bin";
const GATEWAY: &str = "crates/assay/tests/fixtures/settings/gateway.sqfs";
const SETTINGS: &str = "crates/assay/tests/fixtures/settings";
/// A file system that records no time stamp at all.
const ROMFS: &str = "crates/assay-unpack/tests/fixtures/squashfs/romfs.img";

/// One run of the binary whose outputs are compared with golden files.
struct Case {
    /// File stem under `tests/golden/`.
    name: &'static str,
    /// Extension of the standard output's golden file.
    ext: &'static str,
    args: Vec<String>,
}

/// The environment every run shares.
struct Runner {
    tmp: tempfile::TempDir,
    bless: bool,
    mismatches: Vec<String>,
    exit_codes: String,
}

impl Runner {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temporary directory");
        std::fs::create_dir_all(tmp.path().join("home")).unwrap();
        Runner {
            tmp,
            bless: std::env::var_os("ASSAY_BLESS").is_some_and(|v| !v.is_empty() && v != "0"),
            mismatches: Vec::new(),
            exit_codes: String::new(),
        }
    }

    /// A path inside the run's temporary directory, as an argument.
    fn tmp(&self, name: &str) -> String {
        self.tmp.path().join(name).display().to_string()
    }

    /// Run the binary and compare its standard output, standard error and exit code.
    fn check(&mut self, case: Case) {
        let out = Command::new(env!("CARGO_BIN_EXE_assay"))
            .args(&case.args)
            .current_dir(root())
            .env("ASSAY_VULNDB", self.tmp("no-such-vulndb.sqlite"))
            .env("HOME", self.tmp("home"))
            .env_remove("XDG_DATA_HOME")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env("NO_COLOR", "1")
            .output()
            .expect("run assay");
        let code = out.status.code().unwrap_or(-1);
        let _ = writeln!(self.exit_codes, "{}.{} {code}", case.name, case.ext);
        let stdout = self.normalise(&out.stdout);
        let stderr = self.normalise(&out.stderr);
        self.compare(&format!("{}.{}", case.name, case.ext), Some(&stdout));
        let stderr = (!stderr.is_empty()).then_some(stderr.as_slice());
        self.compare(&format!("{}.stderr", case.name), stderr);
    }

    /// Replace the temporary directory's path, the one part of an output that varies between
    /// runs, with `$TMP`.
    fn normalise(&self, bytes: &[u8]) -> Vec<u8> {
        let tmp = self.tmp.path().display().to_string();
        match std::str::from_utf8(bytes) {
            Ok(text) => text.replace(&tmp, "$TMP").into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }

    /// Compare `actual` with the golden file `name` (`None`: the file must not exist).
    fn compare(&mut self, name: &str, actual: Option<&[u8]>) {
        let path = golden_dir().join(name);
        let expected = std::fs::read(&path).ok();
        if expected.as_deref() == actual {
            return;
        }
        if self.bless {
            match actual {
                Some(bytes) => std::fs::write(&path, bytes).expect("write golden file"),
                None => std::fs::remove_file(&path).expect("remove golden file"),
            }
            return;
        }
        let message = match (expected.as_deref(), actual) {
            (None, Some(_)) => format!("{name}: no golden file, but the run printed it"),
            (Some(_), None) => {
                format!("{name}: the golden file exists, but the run printed nothing")
            }
            (Some(e), Some(a)) => format!("{name} differs:\n{}", line_diff(e, a)),
            (None, None) => unreachable!("equal above"),
        };
        self.mismatches.push(message);
    }

    fn finish(mut self) {
        let codes = std::mem::take(&mut self.exit_codes);
        self.compare("exit-codes.txt", Some(codes.as_bytes()));
        assert!(
            self.mismatches.is_empty(),
            "{} golden output(s) differ; if the change is intended, re-bless with\n  \
             ASSAY_BLESS=1 cargo test -p assay --test golden\nand review the diff.\n\n{}",
            self.mismatches.len(),
            self.mismatches.join("\n\n")
        );
    }
}

/// The differing middle of two texts, as `-`/`+` lines with a little context around it.
fn line_diff(expected: &[u8], actual: &[u8]) -> String {
    const CONTEXT: usize = 3;
    const MAX_LINES: usize = 40;
    let e: Vec<&str> = std::str::from_utf8(expected)
        .unwrap_or("(binary)")
        .lines()
        .collect();
    let a: Vec<&str> = std::str::from_utf8(actual)
        .unwrap_or("(binary)")
        .lines()
        .collect();
    let prefix = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let suffix = e[prefix..]
        .iter()
        .rev()
        .zip(a[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("@@ line {} @@\n", prefix + 1);
    let from = prefix.saturating_sub(CONTEXT);
    for line in &e[from..prefix] {
        let _ = writeln!(out, "  {line}");
    }
    for (sign, lines) in [
        ('-', &e[prefix..e.len() - suffix]),
        ('+', &a[prefix..a.len() - suffix]),
    ] {
        for line in lines.iter().take(MAX_LINES) {
            let _ = writeln!(out, "{sign} {line}");
        }
        if lines.len() > MAX_LINES {
            let _ = writeln!(out, "{sign} … {} more lines", lines.len() - MAX_LINES);
        }
    }
    for line in e[e.len() - suffix..].iter().take(CONTEXT) {
        let _ = writeln!(out, "  {line}");
    }
    if expected.ends_with(b"\n") != actual.ends_with(b"\n") {
        out.push_str("(the final newline differs)\n");
    }
    out
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn case(name: &'static str, ext: &'static str, list: &[&str]) -> Case {
    Case {
        name,
        ext,
        args: args(list),
    }
}

#[test]
fn every_output_matches_its_golden_file() {
    let mut run = Runner::new();
    let db = run.tmp("vulndb.sqlite");
    let nvd = "crates/assay-vulndb/tests/fixtures/nvd/nvdcve-2.0-excerpt.json";
    let osv = "crates/assay-vulndb/tests/fixtures/osv-excerpt.zip";
    run.check(case(
        "vulndb-import",
        "txt",
        &[
            "vulndb",
            "import",
            "--db",
            &db,
            "--date",
            "2024-01-02",
            nvd,
            osv,
        ],
    ));
    run.check(case("vulndb-info", "txt", &["vulndb", "info", "--db", &db]));

    // The demo image in every report format, matched against the fixture database.
    let demo = [
        "scan",
        DEMO,
        "-q",
        "--reproducible",
        "--as-of",
        AS_OF,
        "--vulndb",
        &db,
    ];
    for (name, format, ext) in [
        ("demo-scan", "text", "txt"),
        ("demo-scan", "json", "json"),
        ("demo-scan", "sarif", "sarif"),
        ("demo-scan", "html", "html"),
        ("demo-scan", "cyclonedx", "cdx.json"),
        ("demo-scan", "spdx", "spdx.json"),
    ] {
        let mut a = args(&demo);
        a.extend(args(&["--format", format]));
        run.check(Case { name, ext, args: a });
    }
    // The same as of the image's own newest time stamp (its uImage header).
    run.check(case(
        "demo-scan-embedded-time",
        "txt",
        &["scan", DEMO, "-q", "--reproducible", "--vulndb", &db],
    ));
    run.check(case(
        "demo-v2-scan",
        "txt",
        &[
            "scan",
            DEMO_V2,
            "-q",
            "--reproducible",
            "--as-of",
            AS_OF,
            "--vulndb",
            &db,
        ],
    ));
    run.check(case(
        "demo-fail-on-high",
        "txt",
        &[
            "scan",
            DEMO,
            "-q",
            "--reproducible",
            "--as-of",
            AS_OF,
            "--vulndb",
            &db,
            "--fail-on",
            "high",
        ],
    ));

    // Accounts, credentials and hostile names, without a database (the default path is
    // set to a file that does not exist).
    let router = ["scan", ROUTER, "-q", "--reproducible", "--as-of", AS_OF];
    for (format, ext) in [
        ("text", "txt"),
        ("json", "json"),
        ("sarif", "sarif"),
        ("html", "html"),
    ] {
        let mut a = args(&router);
        a.extend(args(&["--format", format]));
        run.check(Case {
            name: "router-scan",
            ext,
            args: a,
        });
    }

    // Keys, an expired certificate, package components and the settings: word list and
    // user rule directories.
    let wordlist = format!("{SETTINGS}/wordlist.txt");
    let rules_diag = format!("{SETTINGS}/rules-diag");
    let rules_beacon = format!("{SETTINGS}/rules-beacon");
    let gateway_plain = [
        "scan",
        GATEWAY,
        "-q",
        "--reproducible",
        "--as-of",
        GATEWAY_AS_OF,
    ];
    run.check(case("gateway-scan-plain", "txt", &gateway_plain));
    let gateway = [
        "scan",
        GATEWAY,
        "-q",
        "--reproducible",
        "--as-of",
        GATEWAY_AS_OF,
        "--vulndb",
        &db,
        "--wordlist",
        &wordlist,
        "--rules",
        &rules_diag,
        "--rules",
        &rules_beacon,
    ];
    for (format, ext) in [
        ("text", "txt"),
        ("json", "json"),
        ("sarif", "sarif"),
        ("html", "html"),
    ] {
        let mut a = args(&gateway);
        a.extend(args(&["--format", format]));
        run.check(Case {
            name: "gateway-scan",
            ext,
            args: a,
        });
    }
    // Without --as-of the reference time is the image's own newest time stamp (here the
    // squashfs's); an image that records none is refused.
    run.check(case(
        "gateway-reproducible",
        "txt",
        &["scan", GATEWAY, "-q", "--reproducible"],
    ));
    run.check(case(
        "romfs-no-time",
        "txt",
        &["scan", ROMFS, "-q", "--reproducible"],
    ));

    // unpack
    let unpacked = run.tmp("unpacked");
    run.check(case(
        "demo-unpack",
        "txt",
        &["unpack", DEMO, "-q", "-o", &unpacked],
    ));

    // verify: reports written to the temporary directory, then held against their images.
    let demo_report = run.tmp("demo.json");
    let mut a = args(&demo);
    a.extend(args(&["--format", "json", "-o", &demo_report]));
    run.check(Case {
        name: "demo-scan-to-file",
        ext: "txt",
        args: a,
    });
    run.check(case(
        "demo-verify",
        "txt",
        &["verify", &demo_report, DEMO, "-q"],
    ));
    run.check(case(
        "demo-verify-wrong-image",
        "txt",
        &["verify", &demo_report, DEMO_V2, "-q"],
    ));
    let report = std::fs::read_to_string(&demo_report).expect("the scan wrote its report");
    let tampered = run.tmp("tampered.json");
    std::fs::write(&tampered, report.replacen("'admin'", "'hunter2'", 1)).unwrap();
    run.check(case(
        "demo-verify-tampered",
        "txt",
        &["verify", &tampered, DEMO, "-q"],
    ));
    let gateway_report = run.tmp("gateway.json");
    let mut a = args(&gateway);
    a.extend(args(&["--format", "json", "-o", &gateway_report]));
    run.check(Case {
        name: "gateway-scan-to-file",
        ext: "txt",
        args: a,
    });
    run.check(case(
        "gateway-verify",
        "txt",
        &[
            "verify",
            &gateway_report,
            GATEWAY,
            "-q",
            "--wordlist",
            &wordlist,
            "--rules",
            &rules_diag,
            "--rules",
            &rules_beacon,
        ],
    ));
    // Without the scan's settings, what they found cannot be re-derived.
    run.check(case(
        "gateway-verify-without-settings",
        "txt",
        &["verify", &gateway_report, GATEWAY, "-q"],
    ));

    // diff: two images, and two reports.
    for (format, ext) in [("text", "txt"), ("json", "json")] {
        run.check(Case {
            name: "demo-diff",
            ext,
            args: args(&[
                "diff", DEMO, DEMO_V2, "-q", "--as-of", AS_OF, "--format", format,
            ]),
        });
    }
    run.check(case(
        "gateway-diff-reports",
        "txt",
        &["diff", &demo_report, &gateway_report],
    ));

    // rules
    run.check(case("rules", "txt", &["rules"]));
    run.check(case("rules-markdown", "md", &["rules", "--markdown"]));
    run.check(case(
        "rules-user",
        "txt",
        &["rules", "--rules", &rules_diag, "--rules", &rules_beacon],
    ));
    // The command line itself: every command's help.
    for (name, command) in [
        ("help", vec![]),
        ("help-scan", vec!["scan"]),
        ("help-unpack", vec!["unpack"]),
        ("help-verify", vec!["verify"]),
        ("help-diff", vec!["diff"]),
        ("help-keygen", vec!["keygen"]),
        ("help-vulndb-import", vec!["vulndb", "import"]),
        ("help-vulndb-info", vec!["vulndb", "info"]),
        ("help-rules", vec!["rules"]),
    ] {
        let mut a = command;
        a.push("--help");
        run.check(case(name, "txt", &a));
    }

    // A rule file that does not compile stops the command before anything runs.
    let broken = run.tmp("broken-rules");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        format!("{broken}/broken.yar"),
        "rule broken { condition: }\n",
    )
    .unwrap();
    run.check(case(
        "scan-broken-rules",
        "txt",
        &["scan", DEMO, "-q", "--as-of", AS_OF, "--rules", &broken],
    ));
    run.finish();
}
