//! The `assay` command: wires the unpacker, the analysers and the report outputs together.
//!
//! Exit codes: 0 the command completed (findings or not); 1 `--fail-on` severity reached;
//! 2 usage error; 3 the input could not be read or the output not written; 4 `verify` found
//! something in the report that the image does not back.

mod verify;

use anyhow::{Context, Result};
use assay_model::{Component, Finding, Report, Severity, Warning, REPORT_SCHEMA};
use assay_report::dsse;
use assay_unpack::{UnpackOptions, Unpacker};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

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
            let result = unpack(&image, quiet)?;
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
            if let Err(code) = configure_rule_pack(&rules) {
                return Ok(code);
            }
            print!("{}", rules_text(markdown));
            Ok(0)
        }
    }
}

fn unpack(image: &Path, quiet: bool) -> Result<assay_unpack::UnpackResult> {
    let size = std::fs::metadata(image)
        .with_context(|| format!("reading {}", image.display()))?
        .len();
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template("{spinner} unpacking [{bar:40}] {bytes}/{total_bytes}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let opts = UnpackOptions {
        limits: None,
        progress: bar.clone().map(|b| {
            Arc::new(move |done: u64, _total: u64| b.set_position(done))
                as Arc<assay_unpack::driver::ProgressFn>
        }),
    };
    let mut result = Unpacker::new()
        .unpack_file(image, &opts)
        .with_context(|| format!("reading {}", image.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // Branches that unpack in parallel share the byte and node budgets, so which branch a
    // spent budget stops depends on thread timing. When a limit was reached, unpack again on
    // one thread, where the order is fixed: the report stays reproducible and verifiable.
    if result.warnings.iter().any(|w| w.kind == "limit") {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .context("starting a one-thread pool")?;
        let quiet_opts = UnpackOptions {
            limits: None,
            progress: None,
        };
        result = pool
            .install(|| Unpacker::new().unpack_file(image, &quiet_opts))
            .with_context(|| format!("reading {}", image.display()))?;
    }
    Ok(result)
}

/// Compile the rule pack with the user's rule directories before anything else runs, so a
/// broken rule file stops the command with the compiler's message (exit code 2).
fn configure_rule_pack(dirs: &[PathBuf]) -> Result<(), i32> {
    if dirs.is_empty() {
        return Ok(());
    }
    assay_analyze::detectors::rulepack::configure(dirs).map_err(|e| {
        eprintln!("assay: {e}");
        2
    })
}

/// Load `--wordlist FILE` into the hash cracker's extra candidates.
fn configure_wordlist(path: Option<&Path>) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let extra_words = String::from_utf8_lossy(&text)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    let _ = assay_analyze::detectors::credentials::configure(
        assay_analyze::detectors::credentials::CredentialOptions { extra_words },
    );
    Ok(())
}

/// What [`analyse`] derives: findings, components, seconds per detector, the exposure map.
type Analysed = (
    Vec<Finding>,
    Vec<Component>,
    Vec<(&'static str, f64)>,
    Vec<assay_model::Listener>,
);

/// Run every detector (and, once merged, component identification) as of `as_of`: the one
/// place that derives facts from an unpacked tree, shared by `scan`, `verify` and `diff`.
fn analyse(unpacked: &assay_unpack::UnpackResult, as_of: i64) -> Analysed {
    let analysis = assay_analyze::Analysis::new(unpacked).with_as_of(as_of);
    let (findings, detector_secs) = assay_analyze::run_detectors_timed(&analysis);
    let components = assay_analyze::components::identify_components(&analysis);
    let listeners = assay_analyze::detectors::exposure::listeners(&analysis);
    (findings, components, detector_secs, listeners)
}

/// The reference time of a scan: `--as-of` when given; with `--reproducible` alone, the
/// image's newest embedded time stamp; otherwise the clock.
fn reference_time(
    as_of: Option<&str>,
    reproducible: bool,
    unpacked: &assay_unpack::UnpackResult,
) -> Result<i64> {
    if let Some(text) = as_of {
        return assay_model::time::parse_utc(text).ok_or_else(|| {
            usage(format!(
                "--as-of {text:?}: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or @UNIXSECONDS"
            ))
        });
    }
    if !reproducible {
        return Ok(assay_analyze::clock_now());
    }
    newest_embedded_time(unpacked).ok_or_else(|| {
        usage(
            "--reproducible needs a fixed reference time for certificate expiry, and this image \
             carries no time stamp to take it from: give one with --as-of DATE",
        )
    })
}

/// The newest time stamp the image itself records (uImage/FIT headers, archive and flash
/// filesystem entry times), in Unix seconds.
fn newest_embedded_time(unpacked: &assay_unpack::UnpackResult) -> Option<i64> {
    unpacked
        .nodes
        .iter()
        .flat_map(|n| ["timestamp", "mtime"].map(|k| n.details.get(k)))
        .flatten()
        .filter_map(|v| v.parse::<i64>().ok())
        .filter(|&t| t > 0)
        .max()
}

/// Whether a scan matches its components against a vulnerability database.
#[derive(Clone, Copy)]
enum VulnSource<'a> {
    /// No matching (verify and diff re-derive the image's own facts only).
    Skip,
    /// Match against this database, or the default one when it exists.
    Match(Option<&'a Path>),
}

/// Unpack and analyse an image into a report.
fn scan_image(
    image: &Path,
    as_of: Option<&str>,
    reproducible: bool,
    quiet: bool,
    vulndb: VulnSource<'_>,
) -> Result<(Report, assay_unpack::UnpackResult)> {
    let unpacked = unpack(image, quiet)?;
    let as_of = reference_time(as_of, reproducible, &unpacked)?;
    let started = Instant::now();
    let (mut findings, components, detector_secs, listeners) = analyse(&unpacked, as_of);
    let mut stats = unpacked.stats.clone();
    stats
        .seconds
        .insert("analyze".into(), started.elapsed().as_secs_f64());
    for (name, secs) in detector_secs {
        stats.seconds.insert(format!("detector:{name}"), secs);
    }
    let mut warnings = unpacked.warnings.clone();
    let mut vulnerabilities = Vec::new();
    if let VulnSource::Match(path) = vulndb {
        let started = Instant::now();
        vulnerabilities = match_vulnerabilities(path, &components, &mut warnings)?;
        findings.extend(assay_vulndb::findings(&components, &vulnerabilities));
        assay_analyze::sort_findings(&mut findings);
        stats
            .seconds
            .insert("vulndb".into(), started.elapsed().as_secs_f64());
    }
    let report = Report {
        schema: REPORT_SCHEMA.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        image: unpacked.image.clone(),
        nodes: unpacked.nodes.clone(),
        components,
        findings,
        vulnerabilities,
        listeners,
        warnings,
        as_of: Some(assay_model::time::format_utc(as_of)),
        stats: (!reproducible).then_some(stats),
    };
    Ok((report, unpacked))
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
    configure_wordlist(args.wordlist.as_deref())?;
    if let Err(code) = configure_rule_pack(&args.rules) {
        return Ok(code);
    }
    let signing_key = match &args.sign {
        Some(path) => Some(read_signing_key(path)?),
        None => None,
    };
    let (report, unpacked) = scan_image(
        &args.image,
        args.as_of.as_deref(),
        args.reproducible,
        args.quiet,
        VulnSource::Match(args.vulndb.as_deref()),
    )?;
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
            let rules = assay_analyze::all_rules();
            assay_report::sarif::to_sarif(&report, &rule_docs(&rules), information_uri())
        }
        (OutputFormat::Html, _) => {
            let rules = assay_analyze::all_rules();
            let profile = unpacked
                .content(0)
                .map(|image| entropy_profile(image))
                .unwrap_or_default();
            assay_report::html::to_html(&report, &rule_docs(&rules), &profile)?
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

/// A report read from a file: plain JSON or the payload of a DSSE envelope.
struct LoadedReport {
    report: Report,
    envelope: Option<dsse::Envelope>,
}

/// Read a report or envelope; `None` when the file is not JSON at all (then it is an image).
fn load_report(path: &Path) -> Result<Option<LoadedReport>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Ok(None);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return Ok(None),
    };
    if value.get("payloadType").is_some() {
        let envelope = dsse::Envelope::from_json(text)
            .with_context(|| format!("reading envelope {}", path.display()))?;
        let payload = envelope.payload_bytes()?;
        let report = serde_json::from_slice(&payload)
            .with_context(|| format!("the payload of {} is not a report", path.display()))?;
        return Ok(Some(LoadedReport {
            report,
            envelope: Some(envelope),
        }));
    }
    let report = serde_json::from_value(value)
        .with_context(|| format!("{} is JSON but not an Assay report", path.display()))?;
    Ok(Some(LoadedReport {
        report,
        envelope: None,
    }))
}

fn verify_command(args: VerifyArgs) -> Result<i32> {
    configure_wordlist(args.wordlist.as_deref())?;
    if let Err(code) = configure_rule_pack(&args.rules) {
        return Ok(code);
    }
    let loaded = load_report(&args.report)?
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
    let signature = match (&args.key, &loaded.envelope) {
        (Some(key_path), Some(envelope)) => {
            let text = std::fs::read_to_string(key_path)
                .with_context(|| format!("reading key {}", key_path.display()))?;
            let key = dsse::verifying_key_from_text(&text)
                .with_context(|| format!("key {}", key_path.display()))?;
            match envelope.verify(&key) {
                Ok(_) => format!("signature: ok (keyid {})", dsse::key_id(&key)),
                Err(e) => {
                    out.push_str(&format!("FAIL signature: {e}\nNOT verified: the signature does not hold; nothing else was checked\n"));
                    print!("{out}");
                    return Ok(4);
                }
            }
        }
        (Some(_), None) => {
            out.push_str("FAIL signature: --key given but the report is not a signed envelope\nNOT verified: the signature does not hold; nothing else was checked\n");
            print!("{out}");
            return Ok(4);
        }
        (None, Some(_)) => "signature: not checked (no --key given)".to_string(),
        (None, None) => "signature: none (plain report)".to_string(),
    };
    let report = loaded.report;
    let as_of = match report.as_of.as_deref() {
        Some(t) => assay_model::time::parse_utc(t)
            .ok_or_else(|| anyhow::anyhow!("the report's as_of {t:?} is not a date"))?,
        None => assay_analyze::clock_now(),
    };
    let unpacked = unpack(&args.image, args.quiet)?;
    let (mut findings, components, _, listeners) = analyse(&unpacked, as_of);
    // Vulnerability findings come from a database verify does not have: derive them from the
    // report's own vulnerability records over the re-derived components, so their node, range
    // and evidence are still checked against the image.
    if !report.vulnerabilities.is_empty() {
        findings.extend(assay_vulndb::findings(&components, &report.vulnerabilities));
        assay_analyze::sort_findings(&mut findings);
    }
    let outcome = verify::check(&report, &unpacked, &findings, &components, &listeners);
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

/// A report for one side of a diff: read it, or scan the image.
fn report_for_diff(path: &Path, as_of: Option<&str>, quiet: bool) -> Result<Report> {
    if let Some(loaded) = load_report(path)? {
        return Ok(loaded.report);
    }
    let (report, _) = scan_image(path, as_of, false, quiet, VulnSource::Skip)?;
    Ok(report)
}

fn diff_command(args: DiffArgs) -> Result<i32> {
    configure_wordlist(args.wordlist.as_deref())?;
    if let Err(code) = configure_rule_pack(&args.rules) {
        return Ok(code);
    }
    let as_of = match args.as_of.as_deref() {
        Some(t) => Some(t.to_string()),
        // Both images judged as of the same moment.
        None => Some(format!("@{}", assay_analyze::clock_now())),
    };
    let old = report_for_diff(&args.old, as_of.as_deref(), args.quiet)?;
    let new = report_for_diff(&args.new, as_of.as_deref(), args.quiet)?;
    let d = assay_report::diff::diff(&old, &new);
    let text = match args.format {
        DiffFormat::Text => assay_report::diff::to_text(&d),
        DiffFormat::Json => assay_report::diff::to_json(&d),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(0)
}

/// The rules' documentation as the report outputs take it.
fn rule_docs(rules: &[assay_analyze::Rule]) -> Vec<assay_report::RuleDoc<'_>> {
    rules
        .iter()
        .map(|r| assay_report::RuleDoc {
            id: r.id,
            category: r.category,
            severity: r.severity,
            title: r.title,
            description: r.description,
        })
        .collect()
}

/// The project's home page for SARIF's `informationUri`, when the package declares one.
fn information_uri() -> Option<&'static str> {
    Some(env!("CARGO_PKG_REPOSITORY")).filter(|s| !s.is_empty())
}

/// How many blocks the HTML image map divides the image into, at most.
const ENTROPY_BLOCKS: usize = 512;
/// The smallest block measured: below this, entropy says little about the data.
const MIN_ENTROPY_BLOCK: usize = 256;

/// Entropy of the image block by block, for the HTML report's image map.
fn entropy_profile(image: &[u8]) -> assay_report::html::EntropyProfile {
    let block_size = image.len().div_ceil(ENTROPY_BLOCKS).max(MIN_ENTROPY_BLOCK);
    assay_report::html::EntropyProfile {
        block_size: block_size as u64,
        values: image
            .chunks(block_size)
            .map(assay_unpack::scan::entropy)
            .collect(),
    }
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

/// Match the components against the vulnerability database given or found at the default
/// path; without one, say so once in the warnings.
fn match_vulnerabilities(
    given: Option<&Path>,
    components: &[assay_model::Component],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<assay_model::Vulnerability>> {
    let path = match given {
        Some(p) => Some(p.to_path_buf()),
        None => assay_vulndb::default_path().filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        warnings.push(Warning {
            node: None,
            location: String::new(),
            kind: "vulndb".into(),
            message: assay_vulndb::NO_DATABASE.into(),
        });
        return Ok(Vec::new());
    };
    let db = assay_vulndb::VulnDb::open(&path)
        .with_context(|| format!("opening vulnerability database {}", path.display()))?;
    if db.feeds()?.is_empty() {
        warnings.push(Warning {
            node: None,
            location: path.display().to_string(),
            kind: "vulndb".into(),
            message: "the vulnerability database holds no feed; run assay vulndb import".into(),
        });
    }
    Ok(db.match_components(components)?)
}

fn vulndb_path(db: Option<PathBuf>) -> Result<PathBuf> {
    db.or_else(assay_vulndb::default_path)
        .context("no database path: give --db, or set ASSAY_VULNDB or HOME")
}

fn vulndb(cmd: VulndbCommand) -> Result<i32> {
    match cmd {
        VulndbCommand::Import { files, db, date } => {
            let path = vulndb_path(db)?;
            if let Some(d) = &date {
                let ok = d.len() == 10
                    && d.bytes().enumerate().all(|(i, b)| {
                        if i == 4 || i == 7 {
                            b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    });
                if !ok {
                    eprintln!("assay: --date must be YYYY-MM-DD");
                    return Ok(2);
                }
            }
            let date = date.unwrap_or_else(assay_vulndb::today);
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

fn rules_text(markdown: bool) -> String {
    let mut rules = assay_analyze::all_rules();
    rules.push(assay_analyze::Rule {
        id: assay_vulndb::RULE_ID,
        category: assay_vulndb::RULE_CATEGORY,
        severity: assay_vulndb::RULE_SEVERITY,
        title: assay_vulndb::RULE_TITLE,
        description: assay_vulndb::RULE_DESCRIPTION,
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_profile_covers_the_image_in_bounded_blocks() {
        let image: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let p = entropy_profile(&image);
        assert!(p.values.len() <= ENTROPY_BLOCKS);
        assert_eq!(
            p.values.len() as u64,
            (image.len() as u64).div_ceil(p.block_size)
        );
        assert!(p.values.iter().all(|&e| (0.0..=8.0).contains(&e)));
        assert!(entropy_profile(&[]).values.is_empty());
        assert_eq!(entropy_profile(&[0; 100]).values, vec![0.0]);
    }
}
