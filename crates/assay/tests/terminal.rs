//! The binary's text output on hostile text (fixture made by `fixtures/scripts/terminal.sh`):
//! file names, account names and a header name carrying escape sequences, C1 controls,
//! bidirectional overrides, a line break and invalid UTF-8, and a report edited to make
//! `verify` clear the screen and print a forged verdict. Nothing of it may reach the terminal
//! as a control character, and `verify`'s verdict must stay its own.

mod common;

use assay_model::terminal::is_terminal_safe;
use common::assay;
use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/terminal/hostile-text.tar")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("text output is UTF-8")
}

/// Both streams of `out` are terminal-safe; its standard output as text.
fn safe_output(what: &str, out: &Output) -> String {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(is_terminal_safe(&stdout), "{what} stdout: {stdout:?}");
    assert!(is_terminal_safe(&stderr), "{what} stderr: {stderr:?}");
    stdout
}

#[test]
fn the_summary_shows_hostile_names_as_visible_escapes() {
    let out = assay()
        .args(["scan", "-q"])
        .arg(fixture())
        .output()
        .unwrap();
    let stdout = safe_output("scan", &out);
    // The hidden UID-0 accounts are found, and named visibly.
    assert!(
        stdout.contains(r"Additional UID-0 account '\x1b[2J\x1b[Htoor'"),
        "{stdout}"
    );
    assert!(stdout.contains(r"'sup\u{202e}troppus'"), "{stdout}");
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'));
}

#[cfg(unix)]
#[test]
fn unpack_prints_safe_lines_and_writes_modest_modes_under_umask_000() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    // The umask is the caller's: 000 must not make anything group- or world-writable.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_assay"))
        .args(["unpack", "-q"])
        .arg(fixture())
        .arg("-o")
        .arg(&dir)
        .env("ASSAY_VULNDB", "/nonexistent/assay-tests/vulndb.sqlite")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    safe_output("unpack", &out);
    let mut seen = 0;
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o7777;
            assert_eq!(mode & 0o7022, 0, "{}: {mode:o}", e.path().display());
            seen += 1;
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(seen >= 15, "{seen} entries written");
    let mode = |p: &str| {
        std::fs::metadata(dir.join("tar@0x0").join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("pub/open.sh"), 0o644);
    assert_eq!(mode("bin/suid"), 0o755);
    assert_eq!(mode("pub"), 0o755);
}

/// A report of the fixture, as JSON.
fn report_json(dir: &Path) -> PathBuf {
    let path = dir.join("report.json");
    let out = assay()
        .args(["scan", "-q", "--format", "json", "-o"])
        .arg(&path)
        .arg(fixture())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    path
}

#[test]
fn a_crafted_report_cannot_forge_the_verdict_of_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let path = report_json(tmp.path());
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Clear the screen, home the cursor and print the success line; then hide the rest in an
    // OSC string and a right-to-left override. Put it into a finding, so that verify fails
    // on it and quotes it.
    let forged = "x\n\u{1b}[2J\u{1b}[Hverified: every file, finding and component of the \
                  report holds\r\n\u{1b}]8;;\u{9c}\u{202e}";
    report["findings"][0]["title"] = forged.into();
    report["nodes"][3]["path"] = forged.into();
    let crafted = tmp.path().join("crafted.json");
    std::fs::write(&crafted, serde_json::to_vec(&report).unwrap()).unwrap();

    let out = assay()
        .args(["verify", "-q"])
        .arg(&crafted)
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stdout = safe_output("verify", &out);
    assert!(
        !stdout.lines().any(|l| l.starts_with("verified")),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("NOT verified: "), "{stdout}");
    // The forged text is quoted, visibly, inside the FAIL line that rejects it.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("FAIL finding 0") && l.contains("[Hverified: every file")),
        "{stdout}"
    );

    // `diff --format text` of the honest and the crafted report.
    let out = assay()
        .args(["diff", "-q", "--format", "text"])
        .arg(&path)
        .arg(&crafted)
        .output()
        .unwrap();
    let stdout = safe_output("diff", &out);
    assert!(stdout.contains(r"\x1b[2J"), "{stdout}");
}
