//! Real servers for the store's tests: a PostgreSQL cluster made with `initdb` and run with
//! `pg_ctl` in a temporary directory on a free port, and an S3-compatible server (`s3s-fs`,
//! which verifies signatures, or else `s3rver` from npm) in a temporary directory. When the programs are absent the tests that need
//! them say so loudly and return; `.ci/run` installs both, so CI always runs them.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A clock the test moves by hand (Unix ms).
#[derive(Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start)))
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn clock(&self) -> assay_store::Clock {
        let inner = self.0.clone();
        Arc::new(move || inner.load(Ordering::SeqCst))
    }
}

/// The system clock, for tests with real workers.
pub fn system_clock() -> assay_store::Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })
}

/// Directory of PostgreSQL's server programs: `$ASSAY_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else `initdb` on the `PATH`.
fn pg_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ASSAY_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    // The uid of this process, from /proc (no libc call needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A PostgreSQL server of this test.
pub struct PgServer {
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
    pub port: u16,
    as_postgres_user: bool,
}

impl PgServer {
    /// Start a fresh cluster; `None` (after a loud message) when PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = pg_bin_dir() else {
            eprintln!(
                "\n*** SKIPPING PostgreSQL tests: initdb/pg_ctl not found (install Debian's \
                 `postgresql` package or set ASSAY_PG_BIN) ***\n"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("assay-pg-")
            .tempdir()
            .expect("temp dir");
        let as_postgres_user = is_root();
        if as_postgres_user {
            // initdb refuses to run as root: the cluster belongs to the `postgres` user.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown of the cluster directory failed");
        }
        let data = dir.path().join("data");
        let server = PgServer {
            bin,
            data,
            _dir: dir,
            port: free_port(),
            as_postgres_user,
        };
        let out = server
            .command("initdb")
            .args(["-D"])
            .arg(&server.data)
            .args(["-U", "assay", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .stdout(Stdio::null())
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.pg_ctl_start();
        Some(server)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c max_connections=60",
            self.port,
            self.data.parent().unwrap().display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &options, "-l"])
            .arg(self.data.parent().unwrap().join("server.log"))
            .args(["-w", "start"])
            .stdout(Stdio::null())
            .output()
            .expect("running pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(wait_for_port(self.port, Duration::from_secs(30)));
    }

    /// Stop at once (as a crash would), then start again.
    pub fn restart(&self) {
        self.stop();
        self.pg_ctl_start();
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// A new, empty database on the server, as a `postgres://` URL.
    pub fn fresh_database(&self, name: &str) -> String {
        let mut admin = postgres::Client::connect(
            &format!(
                "host=127.0.0.1 port={} user=assay dbname=postgres",
                self.port
            ),
            postgres::NoTls,
        )
        .expect("connecting to the test server");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a database");
        self.url(name)
    }

    /// The URL of a database of this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://assay@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `s3rver` program: `$ASSAY_S3RVER`, else `s3rver` on the `PATH`.
fn s3rver_program() -> Option<PathBuf> {
    program("ASSAY_S3RVER", "s3rver")
}

/// `$VAR`, else `name` on the `PATH`.
fn program(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Credentials of the S3 servers the tests start.
const ACCESS_KEY: &str = "ASSAYTESTACCESSKEY";
const SECRET_KEY: &str = "assay-test-secret-key-0123456789";

/// An S3-compatible server of this test: `s3s-fs` (Rust; the S3 REST API over files on
/// disk, and it verifies every SigV4 signature) when installed (`$ASSAY_S3S_FS` or on the
/// `PATH`; `.ci/run` installs it), else `s3rver` (npm; it checks the access key of a request
/// but not its signature bytes).
pub struct S3Server {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
    /// Whether the server checks signatures (s3s-fs) or only access keys (s3rver).
    pub verifies_signatures: bool,
    access_key: &'static str,
    secret_key: &'static str,
}

impl S3Server {
    /// Start one; `None` (after a loud message) when neither server is installed.
    pub fn start() -> Option<S3Server> {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let (child, verifies_signatures, access_key, secret_key) =
            if let Some(s3s) = program("ASSAY_S3S_FS", "s3s-fs") {
                let child = Command::new(s3s)
                    .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
                    .arg(dir.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("starting s3s-fs");
                (child, true, ACCESS_KEY, SECRET_KEY)
            } else if let Some(s3rver) = s3rver_program() {
                let child = Command::new(s3rver)
                    .arg("-d")
                    .arg(dir.path())
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--silent"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("starting s3rver");
                // s3rver knows the access key `S3RVER` and refuses others.
                (child, false, "S3RVER", "S3RVER")
            } else {
                eprintln!(
                    "\n*** SKIPPING S3 tests: neither s3s-fs nor s3rver found (set ASSAY_S3S_FS \
                     or ASSAY_S3RVER) ***\n"
                );
                return None;
            };
        assert!(
            wait_for_port(port, Duration::from_secs(30)),
            "the S3 server did not start"
        );
        Some(S3Server {
            child,
            _dir: dir,
            port,
            verifies_signatures,
            access_key,
            secret_key,
        })
    }

    /// Where the bucket `name` is, with the server's credentials.
    pub fn location(&self, bucket: &str) -> assay_store::S3Location {
        assay_store::S3Location {
            endpoint: format!("http://127.0.0.1:{}", self.port),
            bucket: bucket.to_string(),
            region: "us-east-1".into(),
            access_key: self.access_key.into(),
            secret_key: self.secret_key.into(),
            path_style: true,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
