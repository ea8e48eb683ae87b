//! The `assay` command: wires the unpacker, the analysers and the report outputs together.
//!
//! Exit codes: 0 the command completed (findings or not); 1 `--fail-on` severity reached;
//! 2 usage error; 3 the input could not be read or the output not written.

use anyhow::{Context, Result};
use assay_model::{Report, Severity, Warning, REPORT_SCHEMA};
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
    /// Manage the offline vulnerability database used by `scan`.
    #[command(subcommand)]
    Vulndb(VulndbCommand),
    /// List every detection rule with its documentation.
    Rules {
        /// Print Markdown (as in docs/rules.md) instead of plain text.
        #[arg(long)]
        markdown: bool,
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
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Text)]
    format: OutputFormat,
    /// Write the output to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
    /// Leave out run figures (`stats`) so that identical inputs give identical bytes.
    #[arg(long)]
    reproducible: bool,
    /// Also materialise the unpacked tree under this directory.
    #[arg(long)]
    extract: Option<PathBuf>,
    /// Exit with status 1 when a finding of this severity or worse is reported.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Vulnerability database to match components against (default: $ASSAY_VULNDB, else
    /// ~/.local/share/assay/vulndb.sqlite, when it exists).
    #[arg(long)]
    vulndb: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// Human summary.
    Text,
    /// Canonical JSON report (`assay.report/1`).
    Json,
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
            3
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
        Command::Rules { markdown } => {
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
    let result = Unpacker::new()
        .unpack_file(image, &opts)
        .with_context(|| format!("reading {}", image.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(result)
}

fn scan(args: ScanArgs) -> Result<i32> {
    let unpacked = unpack(&args.image, args.quiet)?;
    if let Some(dir) = &args.extract {
        assay_unpack::extract::extract(&unpacked, dir)
            .with_context(|| format!("extracting into {}", dir.display()))?;
    }
    let started = Instant::now();
    let analysis = assay_analyze::Analysis::new(&unpacked);
    let mut findings = assay_analyze::run_detectors(&analysis);
    // Component identification lands with the components detector; until then the inventory
    // is empty and the SBOMs list the image alone.
    let components: Vec<assay_model::Component> = Vec::new();
    let analyze_secs = started.elapsed().as_secs_f64();
    let mut warnings = unpacked.warnings.clone();
    let started = Instant::now();
    let vulnerabilities = match_vulnerabilities(&args, &components, &mut warnings)?;
    findings.extend(assay_vulndb::findings(&components, &vulnerabilities));
    assay_analyze::sort_findings(&mut findings);
    let mut stats = unpacked.stats.clone();
    stats.seconds.insert("analyze".into(), analyze_secs);
    stats
        .seconds
        .insert("vulndb".into(), started.elapsed().as_secs_f64());
    let report = Report {
        schema: REPORT_SCHEMA.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        image: unpacked.image.clone(),
        nodes: unpacked.nodes.clone(),
        components,
        findings,
        vulnerabilities,
        warnings,
        stats: (!args.reproducible).then_some(stats),
    };
    let sbom = assay_report::sbom::SbomOptions {
        timestamp: sbom_timestamp(args.reproducible),
    };
    let text = match args.format {
        OutputFormat::Text => assay_report::text::summary(&report),
        OutputFormat::Json => assay_report::json::to_json(&report),
        OutputFormat::Cyclonedx => assay_report::cyclonedx::to_json(&report, &sbom),
        OutputFormat::Spdx => assay_report::spdx::to_json(&report, &sbom),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
    }
    let failed = args
        .fail_on
        .is_some_and(|t| report.findings.iter().any(|f| f.severity >= t.severity()));
    Ok(if failed { 1 } else { 0 })
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
    args: &ScanArgs,
    components: &[assay_model::Component],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<assay_model::Vulnerability>> {
    let path = match &args.vulndb {
        Some(p) => Some(p.clone()),
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
