//! `assay scan`: unpack, analyse and report in one of six formats, optionally signed.

use super::{
    default_vulndb_path, engine_error, usage, write_output, write_output_with, FAIL_ON_REACHED,
};
use crate::flags::{OutputFormat, ScanArgs};
use crate::progress::scanner;
use anyhow::{Context, Result};
use assay_engine::{ScanOutput, VulnerabilitySource};
use assay_report::dsse;
use assay_report::sbom::SbomOptions;
use std::path::Path;

pub fn run(args: ScanArgs) -> Result<i32> {
    let format = match (args.format, &args.sign) {
        (None, Some(_)) => OutputFormat::Json,
        (Some(f), Some(_)) if f != OutputFormat::Json => {
            return Err(usage(
                "--sign signs the JSON report: use it with --format json",
            ))
        }
        (f, _) => f.unwrap_or(OutputFormat::Text),
    };
    let config = args
        .detectors
        .config()?
        .with_reference_time(args.as_of.reference_time(args.reproducible)?)
        .with_vulnerabilities(vulnerability_source(args.vulndb.as_deref()))
        .with_run_figures(!args.reproducible);
    let signing_key = match &args.sign {
        Some(path) => Some(read_signing_key(path)?),
        None => None,
    };
    let output = scanner(config.clone(), args.quiet.quiet)
        .run(&args.image)
        .map_err(engine_error)?;
    if let Some(dir) = &args.extract {
        assay_unpack::extract::extract(&output.unpacked, dir)
            .with_context(|| format!("extracting into {}", dir.display()))?;
    }
    // The unpacked tree is not needed past this point but for the HTML image map: free it
    // (a node list as long as the report's) before the report is serialised.
    let profile = matches!(format, OutputFormat::Html).then(|| output.entropy_profile());
    let ScanOutput { report, unpacked } = output;
    drop(unpacked);
    let report = &report;
    let failed = args
        .fail_on
        .is_some_and(|t| report.findings.iter().any(|f| f.severity >= t.severity()));
    let code = if failed { FAIL_ON_REACHED } else { 0 };
    if let (OutputFormat::Json, None) = (format, &signing_key) {
        // Streamed: a report of a million nodes is never held as one string.
        write_output_with(args.output.output.as_deref(), |w| {
            assay_report::json::write_json(report, w)
        })?;
        return Ok(code);
    }
    let sbom = || SbomOptions {
        timestamp: sbom_timestamp(args.reproducible),
    };
    let text = match (format, &signing_key) {
        (OutputFormat::Json, Some(key)) => {
            dsse::sign(assay_report::json::to_json(report).as_bytes(), key).to_json()
        }
        (OutputFormat::Json, None) => assay_report::json::to_json(report),
        (OutputFormat::Text, _) => assay_report::text::summary_with(report, args.all),
        (OutputFormat::Cyclonedx, _) => assay_report::cyclonedx::to_json(report, &sbom()),
        (OutputFormat::Spdx, _) => assay_report::spdx::to_json(report, &sbom()),
        (OutputFormat::Sarif, _) => {
            assay_report::sarif::to_sarif(report, &config.rules(), information_uri())
        }
        (OutputFormat::Html, _) => {
            assay_report::html::to_html(report, &config.rules(), &profile.unwrap_or_default())?
        }
    };
    write_output(args.output.output.as_deref(), &text)?;
    Ok(code)
}

/// `--vulndb`, else the default database when it exists, else none (the report says so).
fn vulnerability_source(given: Option<&Path>) -> VulnerabilitySource {
    match given
        .map(Path::to_path_buf)
        .or_else(|| default_vulndb_path().filter(|p| p.is_file()))
    {
        Some(path) => VulnerabilitySource::Path(path),
        None => VulnerabilitySource::Unavailable,
    }
}

fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    dsse::signing_key_from_text(&text).with_context(|| format!("key {}", path.display()))
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
    let now = u64::try_from(super::clock_now()).unwrap_or(0);
    Some(assay_report::sbom::rfc3339_utc(epoch.unwrap_or(now)))
}
