//! `assay fleet` and `assay worker` as a lab runs them: real worker processes, killed with
//! SIGKILL mid-job, and a PostgreSQL server restarted under a running worker. Afterwards every
//! job is done exactly once and no report is lost.

mod common;
#[path = "../../assay-store/tests/support/mod.rs"]
mod support;

use common::assay;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{repo_root, PgServer};

/// `assay fleet …` against the store at `data` (and `db`), parsed as JSON.
fn fleet_json(data: &Path, db: &str, args: &[&str]) -> serde_json::Value {
    let out = assay()
        .arg("fleet")
        .args(args)
        .args(["--json", "--data"])
        .arg(data)
        .args(["--db", db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "assay fleet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn add(data: &Path, db: &str, image: &Path) -> i64 {
    let added = fleet_json(
        data,
        db,
        &[
            "add",
            image.to_str().unwrap(),
            "--vendor",
            "acme",
            "--queue",
        ],
    );
    added[0]["image"]["id"].as_i64().unwrap()
}

fn worker(data: &Path, db: &str, extra: &[&str]) -> Child {
    // Scratch space inside the test's directory: a killed worker cannot clean up its own.
    let scratch = tempfile::tempdir_in(data).unwrap().keep();
    assay()
        .args(["worker", "--data"])
        .arg(data)
        .arg("--scratch")
        .arg(scratch)
        .args(["--db", db, "--lease", "3", "--poll", "0.2"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn status(data: &Path, db: &str) -> serde_json::Value {
    fleet_json(data, db, &["status"])
}

/// Random bytes: nothing to find, but a scan long enough to be interrupted in.
fn noise(data: &Path) -> std::path::PathBuf {
    let image = data.join("noise.bin");
    let mut bytes = vec![0u8; 24 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&image, &bytes).unwrap();
    image
}

/// Send SIGTERM to a child.
fn terminate(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Wait for a child at most `within`; its exit status (the child is killed past that).
fn wait_within(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > within {
            child.kill().unwrap();
            panic!("the process did not stop within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM in the middle of a job: the worker claims nothing more, finishes the job, stores
/// its report and exits 0; nothing is left running.
#[test]
fn sigterm_lets_a_worker_finish_its_job_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let db = format!("sqlite:{}", data.join("store.sqlite").display());
    add(data, &db, &noise(data));
    let mut polite = worker(data, &db, &["--id", "polite"]);
    let mut stderr = BufReader::new(polite.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("claimed") {
        line.clear();
    }
    assert!(line.contains("claimed"), "{line}");
    terminate(&polite);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(
        wait_within(&mut polite, Duration::from_secs(300)).success(),
        "{rest}"
    );
    assert!(
        rest.contains("done, report") && rest.contains("stopped"),
        "{rest}"
    );
    let s = status(data, &db);
    assert_eq!(
        (
            s["counts"]["done"].as_i64(),
            s["counts"]["running"].as_i64()
        ),
        (Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(s["reports"], 1, "{s}");
}

/// SIGTERM stops `assay serve` (its listener and its in-process workers) promptly.
#[test]
fn sigterm_stops_the_server_and_its_workers() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = assay()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--data",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("http://") {
        line.clear();
    }
    assert!(line.contains("assay serve: http://127.0.0.1:"), "{line}");
    terminate(&server);
    let status = wait_within(&mut server, Duration::from_secs(30));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("stopping"), "{rest}");
}

/// A worker is killed right after it claims a job; after its lease expires another worker
/// redoes the job, and the store holds one report.
fn killed_worker_loses_nothing(db: &str, data: &Path) {
    let image = noise(data);
    let id = add(data, db, &image);
    let mut doomed = worker(data, db, &["--id", "doomed"]);
    let stderr = BufReader::new(doomed.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("claimed") {
            break;
        }
    }
    doomed.kill().unwrap(); // SIGKILL: no chance to clean up
    doomed.wait().unwrap();
    let s = status(data, db);
    assert_eq!(s["counts"]["running"], 1, "{s}");
    assert!(s["running"][0]["lease_owner"]
        .as_str()
        .unwrap()
        .starts_with("doomed"));
    // The lease (3 s) expires; a second worker redoes the job.
    std::thread::sleep(Duration::from_millis(3_200));
    let out = worker(data, db, &["--id", "rescuer", "--until-idle"])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let s = status(data, db);
    assert_eq!(s["counts"]["done"], 1, "{s}");
    assert_eq!(s["reports"], 1, "{s}");
    let found = fleet_json(data, db, &["images"]);
    assert_eq!(found[0]["id"], id);
    let rule = fleet_json(data, db, &["shared", "rule", "--min", "1"]);
    assert!(rule.as_array().is_some());
}

/// The database restarts while a worker runs: the worker waits for it and finishes every
/// job, each once.
fn worker_outlives_a_database_restart(db: &str, data: &Path, pg: &PgServer) {
    let demo = std::fs::read(repo_root().join("examples/acme-demo.bin")).unwrap();
    let mut jobs = 0;
    for i in 0..6u8 {
        let path = data.join(format!("demo-{i}.bin"));
        let mut bytes = demo.clone();
        bytes.push(i);
        std::fs::write(&path, &bytes).unwrap();
        add(data, db, &path);
        jobs += 1;
    }
    let before = status(data, db)["counts"]["done"].as_i64().unwrap();
    let mut running = worker(data, db, &["--id", "steady"]);
    // Restart once the worker is at work; keep reading its messages so it never blocks.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = BufReader::new(running.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    while !rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the worker claims a job")
        .contains("claimed")
    {}
    pg.restart();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = status(data, db);
        if s["counts"]["done"].as_i64().unwrap() == before + jobs {
            assert_eq!(s["counts"]["queued"], 0);
            assert_eq!(s["counts"]["dead"], 0);
            assert_eq!(s["reports"].as_i64().unwrap(), before + jobs, "{s}");
            break;
        }
        let said: Vec<String> = rx.try_iter().collect();
        assert!(
            Instant::now() < deadline,
            "jobs not done after a restart: {s}\n{}",
            said.join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    running.kill().unwrap();
    running.wait().unwrap();
}

#[test]
fn a_killed_worker_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("store.sqlite").display());
    killed_worker_loses_nothing(&db, dir.path());
}

#[test]
fn workers_survive_kills_and_database_restarts_on_postgres() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = pg.fresh_database("fleet");
    killed_worker_loses_nothing(&db, dir.path());
    worker_outlives_a_database_restart(&db, dir.path(), &pg);
}

#[test]
fn export_gives_what_assay_verify_needs_and_import_checks_lab_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let db = format!("sqlite:{}", data.join("store.sqlite").display());
    let id = add(data, &db, &repo_root().join("examples/acme-demo.bin"));
    let out = worker(data, &db, &["--until-idle", "-q"])
        .wait_with_output()
        .unwrap();
    assert!(out.status.success());
    let export = data.join("export");
    let status = assay()
        .args(["fleet", "export", &id.to_string(), "-o"])
        .arg(&export)
        .arg("--data")
        .arg(data)
        .args(["--db", &db])
        .status()
        .unwrap();
    assert!(status.success());
    let verified = assay()
        .args(["verify", "-q", "--key"])
        .arg(export.join("store.pub"))
        .arg(export.join("acme-demo.bin.report.json"))
        .arg(export.join("acme-demo.bin"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    // Another store imports the export only with the first store's key as a lab key.
    let other = tempfile::tempdir().unwrap();
    let import = |lab_key: Option<&Path>| {
        let mut c = assay();
        c.args(["fleet", "import"])
            .arg(export.join("acme-demo.bin.report.json"))
            .arg("--data")
            .arg(other.path());
        if let Some(k) = lab_key {
            c.arg("--lab-key").arg(k);
        }
        c.output().unwrap()
    };
    assert_eq!(
        import(None).status.code(),
        Some(2),
        "no lab key: usage error"
    );
    let stranger = other.path().join("stranger.key");
    assert!(assay()
        .args(["keygen", "-o"])
        .arg(&stranger)
        .output()
        .unwrap()
        .status
        .success());
    let refused = import(Some(&other.path().join("stranger.key.pub")));
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature"));
    let accepted = import(Some(&export.join("store.pub")));
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
}
