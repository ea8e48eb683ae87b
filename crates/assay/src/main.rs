//! The `assay` command: wires the unpacker, the analysers and the report outputs together.
//!
//! Exit codes: 0 the command completed (findings or not); 1 `--fail-on` severity reached;
//! 2 usage error; 3 the input could not be read or the output not written; 4 `verify` found
//! something in the report that the image does not back.

use anyhow::{Context, Result};
use assay_engine::{AnalysisConfig, ReferenceTime, Scan, SignatureCheck, VulnerabilitySource};
use assay_model::Severity;
use assay_report::dsse;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Firmware evidence: what is inside an image, what in it lets someone in, and exactly where
/// each fact comes from.
#[derive(Parser)]
#[command(name = "assay", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Unpack an image, run every detector, and report.
    Scan(ScanArgs),
    /// Unpack an image onto disk for browsing (paths confined to DIR, links never followed).
    Unpack {
        /// The firmware image.
        image: PathBuf,
        /// Output directory (created if missing).
        #[arg(short, long)]
        output: PathBuf,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Check a report (or a signed envelope) against the image: re-derive every file,
    /// finding and component, and say what holds and what does not (exit 4 if anything fails).
    Verify(VerifyArgs),
    /// What changed between two firmware versions (two images, two reports, or one of each).
    Diff(DiffArgs),
    /// Make an ed25519 key pair for signing reports: KEYFILE (secret) and KEYFILE.pub.
    Keygen {
        /// Where to write the private key; the public key goes to the same name plus `.pub`.
        #[arg(short, long)]
        output: PathBuf,
        /// Replace existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Manage the offline vulnerability database used by `scan`.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// List every detection rule with its documentation.
    Rules {
        /// Print Markdown (as in docs/rules.md) instead of plain text.
        #[arg(long)]
        markdown: bool,
        /// Also list the YARA rules (*.yar, *.yara) of this directory (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum VulndbCommand {
    /// Import NVD CVE JSON 2.0 feeds and OSV records (.json, .json.gz, .zip, or a folder);
    /// importing the same bytes again changes nothing.
    Import {
        /// Feed files or folders.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Database path (default: $ASSAY_VULNDB, else ~/.local/share/assay/vulndb.sqlite).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Import date to record (YYYY-MM-DD; default today, UTC), for reproducible databases.
        #[arg(long)]
        date: Option<String>,
    },
    /// List the imported feed snapshots.
    Info {
        /// Database path (default: $ASSAY_VULNDB, else ~/.local/share/assay/vulndb.sqlite).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ScanArgs {
    /// The firmware image.
    image: PathBuf,
    /// Output format [default: text, or json with --sign].
    #[arg(short, long, value_enum)]
    format: Option<OutputFormat>,
    /// Write the output to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Leave out run figures (`stats`) so that identical inputs give identical bytes. Without
    /// --as-of, time-dependent checks are judged as of the image's newest embedded time stamp
    /// (uImage header, archive entry times); an image without one needs --as-of.
    #[arg(long)]
    reproducible: bool,
    /// Judge time-dependent facts (certificate expiry) as of this time: `YYYY-MM-DD`,
    /// `YYYY-MM-DDTHH:MM:SSZ` or `@UNIXSECONDS` (UTC) [default: now]. Recorded in the report.
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Sign the JSON report with this private key (from `assay keygen`): the output is a DSSE
    /// envelope around the canonical JSON.
    #[arg(long, value_name = "KEY")]
    sign: Option<PathBuf>,
    /// Also materialise the unpacked tree under this directory.
    #[arg(long)]
    extract: Option<PathBuf>,
    /// Extra candidate passwords for the hash cracker, one per line.
    #[arg(long, value_name = "FILE")]
    wordlist: Option<PathBuf>,
    /// Exit with status 1 when a finding of this severity or worse is reported.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Add the YARA rules (*.yar, *.yara) of this directory to the built-in rule pack
    /// (repeatable). A rule without `meta: assay_id` reports as ASSAY-USER-<rule name>.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Vulnerability database to match components against (default: $ASSAY_VULNDB, else
    /// ~/.local/share/assay/vulndb.sqlite, when it exists).
    #[arg(long)]
    vulndb: Option<PathBuf>,
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// The report (`assay scan --format json`) or signed envelope (`assay scan --sign`).
    report: PathBuf,
    /// The image the report is about.
    image: PathBuf,
    /// Public key (KEYFILE.pub): the envelope's signature must verify with it before anything
    /// else is checked.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// The same `--rules` directories the scan used (their findings are re-derived too).
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// The same `--wordlist` the scan used (cracked passwords are re-derived too).
    #[arg(long, value_name = "FILE")]
    wordlist: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The older image or report.
    old: PathBuf,
    /// The newer image or report.
    new: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Write the output to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Reference time for images that are scanned (see `scan --as-of`) [default: now].
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// YARA rule directories for images that are scanned (see `scan --rules`).
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Extra password candidates for images that are scanned (see `scan --wordlist`).
    #[arg(long, value_name = "FILE")]
    wordlist: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    /// Human summary.
    Text,
    /// The diff as JSON.
    Json,
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
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
enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Low => Severity::Low,
            FailOn::Medium => Severity::Medium,
            FailOn::High => Severity::High,
            FailOn::Critical => Severity::Critical,
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("assay: {e:#}");
            if e.downcast_ref::<UsageError>().is_some() {
                2
            } else {
                3
            }
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Unpack {
            image,
            output,
            quiet,
        } => {
            let result = scanner(AnalysisConfig::new(), quiet)
                .unpack(&image)
                .map_err(engine_error)?;
            let summary = assay_unpack::extract::extract(&result, &output)
                .with_context(|| format!("extracting into {}", output.display()))?;
            println!(
                "{}: {} files, {} directories, {} symlinks written under {}",
                image.display(),
                summary.files,
                summary.directories,
                summary.symlinks,
                output.display()
            );
            for s in &summary.skipped {
                println!("  not written: {s}");
            }
            for w in &result.warnings {
                println!("  warning [{}] {}: {}", w.kind, w.location, w.message);
            }
            Ok(0)
        }
        Command::Vulndb(cmd) => vulndb(cmd),
        Command::Verify(args) => verify_command(args),
        Command::Diff(args) => diff_command(args),
        Command::Keygen { output, force } => keygen(&output, force),
        Command::Rules { markdown, rules } => {
            let config = match AnalysisConfig::new().with_rule_dirs(&rules) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("assay: {e}");
                    return Ok(2);
                }
            };
            print!("{}", rules_text(&config, markdown));
            Ok(0)
        }
    }
}

fn scan(args: ScanArgs) -> Result<i32> {
    let format = match (args.format, &args.sign) {
        (None, Some(_)) => OutputFormat::Json,
        (Some(f), Some(_)) if f != OutputFormat::Json => {
            return Err(usage(
                "--sign signs the JSON report: use it with --format json",
            ))
        }
        (f, _) => f.unwrap_or(OutputFormat::Text),
    };
    let config = match settings(args.wordlist.as_deref(), &args.rules)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let reference = reference_time(args.as_of.as_deref(), args.reproducible)?;
    let vulnerabilities = match args.vulndb.clone() {
        Some(p) => VulnerabilitySource::Path(p),
        None => match default_vulndb_path().filter(|p| p.is_file()) {
            Some(p) => VulnerabilitySource::Path(p),
            None => VulnerabilitySource::Unavailable,
        },
    };
    let config = config
        .with_reference_time(reference)
        .with_vulnerabilities(vulnerabilities)
        .with_run_figures(!args.reproducible);
    let signing_key = match &args.sign {
        Some(path) => Some(read_signing_key(path)?),
        None => None,
    };
    let output = scanner(config.clone(), args.quiet)
        .run(&args.image)
        .map_err(engine_error)?;
    let profile = output.entropy_profile();
    let (report, unpacked) = (output.report, output.unpacked);
    if let Some(dir) = &args.extract {
        assay_unpack::extract::extract(&unpacked, dir)
            .with_context(|| format!("extracting into {}", dir.display()))?;
    }
    let text = match (format, &signing_key) {
        (OutputFormat::Json, Some(key)) => {
            let json = assay_report::json::to_json(&report);
            dsse::sign(json.as_bytes(), key).to_json()
        }
        (OutputFormat::Text, _) => assay_report::text::summary(&report),
        (OutputFormat::Json, None) => assay_report::json::to_json(&report),
        (OutputFormat::Cyclonedx, _) => assay_report::cyclonedx::to_json(
            &report,
            &assay_report::sbom::SbomOptions {
                timestamp: sbom_timestamp(args.reproducible),
            },
        ),
        (OutputFormat::Spdx, _) => assay_report::spdx::to_json(
            &report,
            &assay_report::sbom::SbomOptions {
                timestamp: sbom_timestamp(args.reproducible),
            },
        ),
        (OutputFormat::Sarif, _) => {
            let rules = config.rules();
            assay_report::sarif::to_sarif(&report, &rules, information_uri())
        }
        (OutputFormat::Html, _) => {
            let rules = config.rules();
            assay_report::html::to_html(&report, &rules, &profile)?
        }
    };
    write_output(args.output.as_deref(), &text)?;
    let failed = args
        .fail_on
        .is_some_and(|t| report.findings.iter().any(|f| f.severity >= t.severity()));
    Ok(if failed { 1 } else { 0 })
}

fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output"),
    }
}

fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    dsse::signing_key_from_text(&text).with_context(|| format!("key {}", path.display()))
}

fn keygen(output: &Path, force: bool) -> Result<i32> {
    let public_path = {
        let mut p = output.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    };
    if !force && (output.exists() || public_path.exists()) {
        return Err(usage(format!(
            "{} or its .pub exists; pass --force to replace them",
            output.display()
        )));
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("reading random bytes from the system")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    write_secret(output, &dsse::signing_key_to_text(&key))?;
    std::fs::write(
        &public_path,
        dsse::verifying_key_to_text(&key.verifying_key()),
    )
    .with_context(|| format!("writing {}", public_path.display()))?;
    println!(
        "wrote {} (secret) and {}; keyid {}",
        output.display(),
        public_path.display(),
        dsse::key_id(&key.verifying_key())
    );
    Ok(0)
}

/// Write a file only its owner can read.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn verify_command(args: VerifyArgs) -> Result<i32> {
    let config = match settings(args.wordlist.as_deref(), &args.rules)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let loaded = assay_engine::load_report(&args.report)?
        .ok_or_else(|| usage(format!("{} is not a JSON report", args.report.display())))?;
    let mut out = String::new();
    let _ = std::fmt::Write::write_fmt(
        &mut out,
        format_args!(
            "assay verify: {} against {}\n",
            args.report.display(),
            args.image.display()
        ),
    );
    // The signature comes first: nothing in an envelope is worth checking if it is forged.
    let key = match &args.key {
        Some(key_path) if loaded.envelope.is_some() => {
            let text = std::fs::read_to_string(key_path)
                .with_context(|| format!("reading key {}", key_path.display()))?;
            Some(
                dsse::verifying_key_from_text(&text)
                    .with_context(|| format!("key {}", key_path.display()))?,
            )
        }
        _ => None,
    };
    let check = match (&args.key, &key) {
        (Some(_), None) => SignatureCheck::NotAnEnvelope,
        _ => loaded.check_signature(key.as_ref()),
    };
    let signature = match check {
        SignatureCheck::Verified { key_id } => format!("signature: ok (keyid {key_id})"),
        SignatureCheck::Failed(e) => {
            out.push_str(&format!("FAIL signature: {e}\nNOT verified: the signature does not hold; nothing else was checked\n"));
            print!("{out}");
            return Ok(4);
        }
        SignatureCheck::NotAnEnvelope => {
            out.push_str("FAIL signature: --key given but the report is not a signed envelope\nNOT verified: the signature does not hold; nothing else was checked\n");
            print!("{out}");
            return Ok(4);
        }
        SignatureCheck::NotChecked => "signature: not checked (no --key given)".to_string(),
        _ => "signature: none (plain report)".to_string(),
    };
    let report = loaded.report;
    let config = config.with_reference_time(ReferenceTime::At(clock_now()));
    let outcome = scanner(config, args.quiet)
        .verify(&report, &args.image)
        .map_err(engine_error)?;
    for f in &outcome.failures {
        out.push_str(&format!("FAIL {f}\n"));
    }
    out.push_str(&signature);
    out.push('\n');
    if report.as_of.is_none() {
        out.push_str("note: the report records no as_of; time-dependent checks judged as of now\n");
    }
    for line in &outcome.summary {
        out.push_str(line);
        out.push('\n');
    }
    let code = if outcome.failures.is_empty() {
        out.push_str("verified: every file, finding and component of the report holds\n");
        0
    } else {
        out.push_str(&format!(
            "NOT verified: {} failure(s)\n",
            outcome.failures.len()
        ));
        4
    };
    print!("{out}");
    Ok(code)
}

fn diff_command(args: DiffArgs) -> Result<i32> {
    let config = match settings(args.wordlist.as_deref(), &args.rules)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // Both images judged as of the same moment.
    let config = config.with_reference_time(reference_time(args.as_of.as_deref(), false)?);
    let d = scanner(config, args.quiet)
        .diff(&args.old, &args.new)
        .map_err(engine_error)?;
    let text = match args.format {
        DiffFormat::Text => assay_report::diff::to_text(&d),
        DiffFormat::Json => assay_report::diff::to_json(&d),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(0)
}

/// The project's home page for SARIF's `informationUri`, when the package declares one.
fn information_uri() -> Option<&'static str> {
    Some(env!("CARGO_PKG_REPOSITORY")).filter(|s| !s.is_empty())
}

/// The SBOM creation time: now, or `$SOURCE_DATE_EPOCH` (or none) for a reproducible run.
fn sbom_timestamp(reproducible: bool) -> Option<String> {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if reproducible {
        return epoch.map(assay_report::sbom::rfc3339_utc);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Some(assay_report::sbom::rfc3339_utc(epoch.unwrap_or(now)))
}

fn vulndb_path(db: Option<PathBuf>) -> Result<PathBuf> {
    db.or_else(default_vulndb_path)
        .context("no database path: give --db, or set ASSAY_VULNDB or HOME")
}

fn vulndb(cmd: VulndbCommand) -> Result<i32> {
    match cmd {
        VulndbCommand::Import { files, db, date } => {
            let path = vulndb_path(db)?;
            if let Some(d) = &date {
                // A real calendar date: 2023-02-30 and month 13 are refused.
                let ok = d.len() == 10
                    && d.as_bytes()[0].is_ascii_digit()
                    && assay_model::time::parse_utc(d).is_some();
                if !ok {
                    eprintln!("assay: --date must be YYYY-MM-DD");
                    return Ok(2);
                }
            }
            let date = date
                .unwrap_or_else(|| assay_model::time::format_utc(clock_now())[..10].to_string());
            let mut store = assay_vulndb::VulnDb::create(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            for f in &files {
                let out = store
                    .import_dated(f, &date)
                    .with_context(|| format!("importing {}", f.display()))?;
                let state = if out.already_imported {
                    format!("already imported on {}", out.feed.imported)
                } else {
                    "imported".to_string()
                };
                println!(
                    "{}: {} {} records, {state} (sha256 {})",
                    f.display(),
                    out.records,
                    out.feed.kind,
                    out.feed.sha256
                );
                for s in &out.skipped {
                    println!("  skipped: {s}");
                }
            }
            println!(
                "{}: {} vulnerability records from {} feeds",
                path.display(),
                store.record_count()?,
                store.feeds()?.len()
            );
            Ok(0)
        }
        VulndbCommand::Info { db } => {
            let path = vulndb_path(db)?;
            let store = assay_vulndb::VulnDb::open(&path)?;
            println!(
                "{}: {} vulnerability records",
                path.display(),
                store.record_count()?
            );
            for f in store.feeds()? {
                println!(
                    "  {} ({}) imported {}{} sha256 {}",
                    f.name,
                    f.kind,
                    f.imported,
                    f.published
                        .map(|p| format!(", published {p},"))
                        .unwrap_or_default(),
                    f.sha256
                );
            }
            Ok(0)
        }
    }
}

fn rules_text(config: &AnalysisConfig, markdown: bool) -> String {
    let rules = config.rules();
    let mut out = String::new();
    if markdown {
        out.push_str("# Assay detection rules\n\nGenerated by `assay rules --markdown`.\n\n");
        out.push_str("| rule | category | default severity | title | what and why |\n|---|---|---|---|---|\n");
        for r in &rules {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.id,
                r.category.as_str(),
                r.severity.as_str(),
                r.title,
                r.description.replace('|', "\\|").replace('\n', " ")
            ));
        }
    } else {
        for r in &rules {
            out.push_str(&format!(
                "{}  [{} / {}]  {}\n    {}\n",
                r.id,
                r.category.as_str(),
                r.severity.as_str(),
                r.title,
                r.description
            ));
        }
    }
    out
}

/// The wall clock in Unix seconds: "now" for the engine, which reads no clock.
fn clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The default database path: `$ASSAY_VULNDB`, else `$XDG_DATA_HOME/assay/vulndb.sqlite`, else
/// `~/.local/share/assay/vulndb.sqlite`.
fn default_vulndb_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASSAY_VULNDB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("assay").join("vulndb.sqlite"))
}

/// The detectors' settings from `--wordlist` and `--rules`: the word list is read first (exit
/// 3 when it cannot be), then the rules compile (exit 2 with the compiler's message).
fn settings(wordlist: Option<&Path>, rules: &[PathBuf]) -> Result<Result<AnalysisConfig, i32>> {
    let mut config = AnalysisConfig::new();
    if let Some(path) = wordlist {
        config = config.with_word_list(path)?;
    }
    match config.with_rule_dirs(rules) {
        Ok(c) => Ok(Ok(c)),
        Err(e) => {
            eprintln!("assay: {e}");
            Ok(Err(2))
        }
    }
}

/// The reference time from `--as-of`, else the image's (with `--reproducible`), else now.
fn reference_time(as_of: Option<&str>, reproducible: bool) -> Result<ReferenceTime> {
    if let Some(text) = as_of {
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

/// An engine error as the CLI reports it: a missing reference time is a usage error.
fn engine_error(e: assay_engine::Error) -> anyhow::Error {
    match e {
        assay_engine::Error::NoReferenceTime => usage(
            "--reproducible needs a fixed reference time for certificate expiry, and this image \
             carries no time stamp to take it from: give one with --as-of DATE",
        ),
        e => e.into(),
    }
}

/// A scanner with a progress bar on a terminal (unless quiet).
fn scanner(config: AnalysisConfig, quiet: bool) -> Scan {
    let scan = Scan::new(config);
    if quiet || !std::io::stderr().is_terminal() {
        return scan;
    }
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    scan.on_progress(Arc::new(move |event| {
        let Ok(mut bar) = bar.lock() else { return };
        match event {
            assay_engine::Progress::Unpacking { done, total } => {
                let b = bar.get_or_insert_with(|| {
                    let b = ProgressBar::new(total);
                    b.set_style(
                        ProgressStyle::with_template(
                            "{spinner} unpacking [{bar:40}] {bytes}/{total_bytes}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                    );
                    b
                });
                b.set_position(done);
            }
            _ => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }))
}
