//! The `assay` command: wires the unpacker, the analysers and the report outputs together.
//!
//! Exit codes: 0 the command completed (findings or not); 1 `--fail-on` severity reached;
//! 2 usage error; 3 the input could not be read or the output not written.

use anyhow::{Context, Result};
use assay_model::{Report, Severity, REPORT_SCHEMA};
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
    /// List every detection rule with its documentation.
    Rules {
        /// Print Markdown (as in docs/rules.md) instead of plain text.
        #[arg(long)]
        markdown: bool,
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
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// Human summary.
    Text,
    /// Canonical JSON report (`assay.report/1`).
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// One self-contained HTML page for people who decide (no scripts, no network).
    Html,
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
    let findings = assay_analyze::run_detectors(&analysis);
    let analyze_secs = started.elapsed().as_secs_f64();
    let mut stats = unpacked.stats.clone();
    stats.seconds.insert("analyze".into(), analyze_secs);
    let report = Report {
        schema: REPORT_SCHEMA.to_string(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        image: unpacked.image.clone(),
        nodes: unpacked.nodes.clone(),
        components: Vec::new(),
        findings,
        warnings: unpacked.warnings.clone(),
        stats: (!args.reproducible).then_some(stats),
    };
    let text = match args.format {
        OutputFormat::Text => assay_report::text::summary(&report),
        OutputFormat::Json => assay_report::json::to_json(&report),
        OutputFormat::Sarif => {
            let rules = assay_analyze::all_rules();
            assay_report::sarif::to_sarif(&report, &rule_docs(&rules), information_uri())
        }
        OutputFormat::Html => {
            let rules = assay_analyze::all_rules();
            let profile = unpacked
                .content(0)
                .map(|image| entropy_profile(image))
                .unwrap_or_default();
            assay_report::html::to_html(&report, &rule_docs(&rules), &profile)?
        }
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

fn rules_text(markdown: bool) -> String {
    let rules = assay_analyze::all_rules();
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
