//! Every flag of the `assay` command, declared once. Flags that several commands take live in
//! groups flattened into each (`DetectorFlags`, `AsOfFlag`, `QuietFlag`, `OutputFlag`,
//! `DbFlag`); the groups also turn themselves into the engine's settings, so a command body
//! never parses a flag itself.

use crate::commands::{clock_now, usage};
use anyhow::Result;
use assay_engine::{AnalysisConfig, ReferenceTime};
use assay_model::Severity;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Firmware evidence: what is inside an image, what in it lets someone in, and exactly where
/// each fact comes from.
#[derive(Parser)]
#[command(name = "assay", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Unpack an image, run every detector, and report.
    Scan(ScanArgs),
    /// Unpack an image onto disk for browsing (paths confined to DIR, links never followed).
    Unpack(UnpackArgs),
    /// Check a report (or a signed envelope) against the image: re-derive every file,
    /// finding and component, and say what holds and what does not (exit 4 if anything fails).
    Verify(VerifyArgs),
    /// What changed between two firmware versions (two images, two reports, or one of each).
    Diff(DiffArgs),
    /// Make an ed25519 key pair for signing reports: KEYFILE (secret) and KEYFILE.pub.
    Keygen(KeygenArgs),
    /// Manage the offline vulnerability database used by `scan`.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// List every detection rule with its documentation.
    Rules(RulesArgs),
    /// Take scan jobs from a fleet store, scan, and store the signed reports.
    Worker(WorkerArgs),
    /// A lab's catalogue: add images, queue scans, ask questions across images.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// The fleet's web UI and REST API, with in-process workers (embedded store by default).
    Serve(ServeArgs),
}

/// `--rules DIR` (repeatable).
#[derive(clap::Args)]
pub struct RuleDirsFlag {
    /// Add the YARA rules (*.yar, *.yara) of this directory to the built-in rule pack
    /// (repeatable). A rule without `meta: assay_id` reports as `ASSAY-USER-<rule name>`. Give
    /// `verify` and `diff` the directories the scan used.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
}

/// The detectors' settings: `--rules` and `--wordlist`.
#[derive(clap::Args)]
pub struct DetectorFlags {
    #[command(flatten)]
    pub rule_dirs: RuleDirsFlag,
    /// Extra candidate passwords for the hash cracker, one per line. Give `verify` and `diff`
    /// the list the scan used.
    #[arg(long, value_name = "FILE")]
    pub wordlist: Option<PathBuf>,
    #[command(flatten)]
    pub passwords: PasswordFlag,
}

/// `--password PW` (repeatable).
#[derive(clap::Args)]
pub struct PasswordFlag {
    /// Try this password on encrypted zip and 7z members before the empty password and the
    /// built-in list (repeatable). Give `verify` and `diff` the passwords the scan used.
    #[arg(long = "password", value_name = "PW")]
    pub passwords: Vec<String>,
}

impl PasswordFlag {
    /// `config` with these archive passwords.
    pub fn apply(&self, config: AnalysisConfig) -> AnalysisConfig {
        config.with_archive_passwords(self.passwords.clone())
    }
}

impl DetectorFlags {
    /// The settings these flags ask for: the word list is read first (exit 3 when it cannot
    /// be), then the rules compile (exit 2 with the compiler's message).
    pub fn config(&self) -> Result<AnalysisConfig> {
        let mut config = self.passwords.apply(AnalysisConfig::new());
        if let Some(path) = &self.wordlist {
            config = config.with_word_list(path)?;
        }
        self.rule_dirs.apply(config)
    }
}

impl RuleDirsFlag {
    /// `config` with these rule directories compiled in; a broken rule is a usage error.
    pub fn apply(&self, config: AnalysisConfig) -> Result<AnalysisConfig> {
        config
            .with_rule_dirs(&self.rules)
            .map_err(|e| usage(e.to_string()))
    }
}

/// `--as-of DATE`.
#[derive(clap::Args)]
pub struct AsOfFlag {
    /// Judge time-dependent facts (certificate expiry) as of this time: `YYYY-MM-DD`,
    /// `YYYY-MM-DDTHH:MM:SSZ` or `@UNIXSECONDS` (UTC) [default: now]. A scan records it in
    /// its report.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

impl AsOfFlag {
    /// The reference time: `--as-of`, else the image's own (`reproducible`), else now.
    pub fn reference_time(&self, reproducible: bool) -> Result<ReferenceTime> {
        if let Some(text) = &self.as_of {
            return assay_model::time::parse_utc(text)
                .map(ReferenceTime::At)
                .ok_or_else(|| {
                    usage(format!(
                        "--as-of {text:?}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS"
                    ))
                });
        }
        Ok(if reproducible {
            ReferenceTime::NewestEmbedded
        } else {
            ReferenceTime::At(clock_now())
        })
    }
}

/// `-q, --quiet`.
#[derive(clap::Args)]
pub struct QuietFlag {
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `--max-report-mib N` of the commands that read reports back.
#[derive(clap::Args)]
pub struct ReportSizeFlag {
    /// Refuse a report (or a signed envelope's payload) larger than this many MiB before
    /// reading it.
    #[arg(long, value_name = "MIB", default_value_t = assay_engine::DEFAULT_MAX_REPORT_BYTES >> 20)]
    pub max_report_mib: u64,
}

impl ReportSizeFlag {
    /// The limit in bytes.
    pub fn max_report_bytes(&self) -> u64 {
        self.max_report_mib.saturating_mul(1 << 20)
    }
}

/// `-o, --output FILE` of the commands that print a document.
#[derive(clap::Args)]
pub struct OutputFlag {
    /// Write the output to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `--db PATH` of the vulnerability database commands.
#[derive(clap::Args)]
pub struct DbFlag {
    /// Database path (default: $ASSAY_VULNDB, else ~/.local/share/assay/vulndb.sqlite).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// The firmware image.
    pub image: PathBuf,
    /// Output format [default: text, or json with --sign].
    #[arg(short, long, value_enum)]
    pub format: Option<OutputFormat>,
    #[command(flatten)]
    pub output: OutputFlag,
    #[command(flatten)]
    pub quiet: QuietFlag,
    /// Leave out run figures (`stats`) so that identical inputs give identical bytes. Without
    /// --as-of, time-dependent checks are judged as of the image's newest embedded time stamp
    /// (uImage header, archive entry times); an image without one needs --as-of.
    #[arg(long)]
    pub reproducible: bool,
    #[command(flatten)]
    pub as_of: AsOfFlag,
    /// Sign the JSON report with this private key (from `assay keygen`): the output is a DSSE
    /// envelope around the canonical JSON.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Also materialise the unpacked tree under this directory.
    #[arg(long)]
    pub extract: Option<PathBuf>,
    #[command(flatten)]
    pub detectors: DetectorFlags,
    /// Exit with status 1 when a finding of this severity or worse is reported.
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Vulnerability database to match components against (default: $ASSAY_VULNDB, else
    /// ~/.local/share/assay/vulndb.sqlite, when it exists).
    #[arg(long)]
    pub vulndb: Option<PathBuf>,
    /// List every finding in the text summary (it shows three of each rule and counts the rest).
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args)]
pub struct UnpackArgs {
    /// The firmware image.
    pub image: PathBuf,
    /// Output directory (created if missing).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub passwords: PasswordFlag,
    #[command(flatten)]
    pub quiet: QuietFlag,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The report (`assay scan --format json`) or signed envelope (`assay scan --sign`).
    pub report: PathBuf,
    /// The image the report is about.
    pub image: PathBuf,
    /// Public key (KEYFILE.pub): the envelope's signature must verify with it before anything
    /// else is checked.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub report_size: ReportSizeFlag,
    #[command(flatten)]
    pub detectors: DetectorFlags,
    #[command(flatten)]
    pub quiet: QuietFlag,
}

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The older image or report.
    pub old: PathBuf,
    /// The newer image or report.
    pub new: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    #[command(flatten)]
    pub output: OutputFlag,
    #[command(flatten)]
    pub as_of: AsOfFlag,
    #[command(flatten)]
    pub report_size: ReportSizeFlag,
    #[command(flatten)]
    pub detectors: DetectorFlags,
    #[command(flatten)]
    pub quiet: QuietFlag,
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to the same name plus `.pub`.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand)]
pub enum VulndbCommand {
    /// Import NVD CVE JSON 2.0 feeds and OSV records (.json, .json.gz, .zip, or a folder);
    /// importing the same bytes again changes nothing.
    Import {
        /// Feed files or folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        db: DbFlag,
        /// Import date to record (YYYY-MM-DD; default today, UTC), for reproducible databases.
        #[arg(long)]
        date: Option<String>,
    },
    /// List the imported feed snapshots.
    Info {
        #[command(flatten)]
        db: DbFlag,
    },
}

#[derive(clap::Args)]
pub struct RulesArgs {
    /// Print Markdown (as in docs/rules.md) instead of plain text.
    #[arg(long)]
    pub markdown: bool,
    #[command(flatten)]
    pub rule_dirs: RuleDirsFlag,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    /// Human summary.
    Text,
    /// The diff as JSON.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human summary.
    Text,
    /// Canonical JSON report (`assay.report/1`).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// One self-contained HTML page for people who decide (no scripts, no network).
    Html,
    /// CycloneDX 1.6 JSON SBOM (with the matched vulnerabilities).
    Cyclonedx,
    /// SPDX 2.3 JSON SBOM.
    Spdx,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    /// The least severity that sets exit status 1.
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

/// Where the fleet store is: `--data`, `--db`, `--blobs`, `--key`, `--lab-key`.
#[derive(clap::Args, Clone)]
pub struct StoreFlags {
    /// Data directory of the embedded store: its SQLite database, image blobs and signing key
    /// [default: $XDG_DATA_HOME/assay/fleet, else ~/.local/share/assay/fleet].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Database: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB (password and port
    /// optional)
    /// [default: sqlite:DATA/store.sqlite].
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Image blobs: a directory (shared by all workers), or s3://BUCKET with the endpoint and
    /// credentials from $AWS_ENDPOINT_URL, $AWS_REGION, $AWS_ACCESS_KEY_ID and
    /// $AWS_SECRET_ACCESS_KEY [default: DATA/blobs].
    #[arg(long, value_name = "DIR|s3://BUCKET")]
    pub blobs: Option<String>,
    /// The store's signing key (every stored report is signed with it; give workers on other
    /// machines a copy) [default: DATA/store.key, made on first use].
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Public key (KEYFILE.pub) of a lab whose signed reports may be imported (repeatable).
    #[arg(long = "lab-key", value_name = "PUB")]
    pub lab_keys: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreFlags,
    /// This worker's name in job leases [default: HOSTNAME-PID].
    #[arg(long)]
    pub id: Option<String>,
    /// Jobs scanned at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seconds a lease lasts without a heartbeat; a worker that stops answering loses its job
    /// to another after this long.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub lease: u64,
    /// Seconds to wait when no job is ready.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub poll: f64,
    /// Stop when no job is ready instead of waiting for more.
    #[arg(long)]
    pub until_idle: bool,
    /// Where images are downloaded and linked for scanning [default: a directory under the
    /// system's temporary directory].
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// Vulnerability database to match components against (default: $ASSAY_VULNDB, else
    /// ~/.local/share/assay/vulndb.sqlite, when it exists).
    #[arg(long)]
    pub vulndb: Option<PathBuf>,
    #[command(flatten)]
    pub rule_dirs: RuleDirsFlag,
    #[command(flatten)]
    pub quiet: QuietFlag,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreFlags,
    /// Address and port to listen on (put a TLS proxy in front for other machines).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Scan jobs run at once inside the server; 0: only external `assay worker` processes
    /// scan.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub workers: usize,
    /// Let anyone read images, reports and answers without logging in (writing still needs
    /// a login).
    #[arg(long)]
    pub public_read: bool,
    /// Mark cookies Secure: the server is reached over HTTPS (directly or through a proxy).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Largest image upload, in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub max_upload: u64,
    /// A folder on the server that analysts may register images from (repeatable).
    #[arg(long = "import-root", value_name = "DIR")]
    pub import_roots: Vec<PathBuf>,
    /// A bucket analysts may register images from, as s3://BUCKET/PREFIX (repeatable;
    /// endpoint and credentials from the AWS variables, as for --blobs).
    #[arg(long = "import-bucket", value_name = "s3://BUCKET")]
    pub import_buckets: Vec<String>,
    /// Hours a login lasts.
    #[arg(long, default_value_t = 12, value_name = "HOURS")]
    pub session_hours: u32,
    /// Create an admin user NAME and exit: the password is read from standard input when it
    /// is not a terminal, else generated and printed once.
    #[arg(long, value_name = "NAME")]
    pub create_admin: Option<String>,
    /// Vulnerability database for the in-process workers (default: $ASSAY_VULNDB, else
    /// ~/.local/share/assay/vulndb.sqlite, when it exists).
    #[arg(long)]
    pub vulndb: Option<PathBuf>,
    #[command(flatten)]
    pub rule_dirs: RuleDirsFlag,
    #[command(flatten)]
    pub quiet: QuietFlag,
}

/// `--json` of the fleet commands that print records.
#[derive(clap::Args, Clone, Copy)]
pub struct JsonFlag {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Add image files, or every file under a folder, to the store (stored once by content).
    Add {
        /// Image files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Vendor of the images.
        #[arg(long, default_value = "")]
        vendor: String,
        /// Model of the images.
        #[arg(long, default_value = "")]
        model: String,
        /// Firmware version of the images.
        #[arg(long = "fw-version", default_value = "")]
        fw_version: String,
        /// Release date (YYYY-MM-DD).
        #[arg(long)]
        released: Option<String>,
        /// Also queue a scan of each image (with the default settings).
        #[arg(long)]
        queue: bool,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Queue scans of images (by id), or of every image with --all.
    Queue {
        /// Image ids.
        images: Vec<i64>,
        /// Every image of the store.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        as_of: AsOfFlag,
        /// Extra candidate passwords for the hash cracker, one per line (part of the settings:
        /// a scan with other words is another report).
        #[arg(long, value_name = "FILE")]
        wordlist: Option<PathBuf>,
        /// Attempts before a job is dead.
        #[arg(long, default_value_t = 3)]
        attempts: i64,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Jobs by state, and the errors of dead ones.
    Status {
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Give a dead job its attempts back.
    Requeue {
        /// Job id.
        job: i64,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// List images by vendor, model and version.
    Images {
        /// Only this vendor.
        #[arg(long)]
        vendor: Option<String>,
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Images holding a fact: key, password-hash, password, endpoint, listener-port,
    /// component, cve or rule.
    Find {
        /// What to look for.
        kind: String,
        /// The value: a fingerprint, hash, password, host, port, component name, CVE id or
        /// rule id.
        value: String,
        /// At most this many images.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Values of a kind found in several images (keys shipped by many devices).
    Shared {
        /// key, password-hash, password, endpoint, listener-port, component, cve or rule.
        kind: String,
        /// In at least this many distinct images.
        #[arg(long, default_value_t = 2)]
        min: i64,
        /// At most this many values.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Images carrying a component older than a version (busybox 1.36).
    Below {
        /// Component name.
        component: String,
        /// The version bound (excluded).
        version: String,
        /// At most this many images.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// A vendor's releases in order, with what each added or removed.
    Timeline {
        /// Vendor.
        vendor: String,
        /// Only this model.
        #[arg(long)]
        model: Option<String>,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Mark an image as the approved release of its model.
    Approve {
        /// Image id.
        image: i64,
        /// Who approves.
        #[arg(long, default_value = "")]
        by: String,
        /// Why, or on which conditions.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// What the releases of a model after its approved release changed.
    SinceApproved {
        /// Vendor.
        vendor: String,
        /// Model.
        model: String,
        #[command(flatten)]
        store: StoreFlags,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Write an image, its newest signed report and the store's public key into a directory,
    /// for `assay verify --key store.pub NAME.report.json NAME`.
    Export {
        /// Image id.
        image: i64,
        /// Output directory (created if missing).
        #[arg(short, long)]
        output: PathBuf,
        #[command(flatten)]
        store: StoreFlags,
    },
    /// Import signed reports made elsewhere (`assay scan --sign`); each must be signed by a
    /// --lab-key.
    Import {
        /// Signed report files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        store: StoreFlags,
    },
}
