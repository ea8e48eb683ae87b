//! `assay diff`: what changed between two images or reports.

use super::{engine_error, write_output};
use crate::flags::{DiffArgs, DiffFormat};
use crate::progress::scanner;
use anyhow::Result;

pub fn run(args: DiffArgs) -> Result<i32> {
    // Images that are scanned are judged as of the same moment; no vulnerability matching.
    let config = args
        .detectors
        .config()?
        .with_reference_time(args.as_of.reference_time(false)?)
        .with_max_report_bytes(args.report_size.max_report_bytes());
    let d = scanner(config, args.quiet.quiet)
        .diff(&args.old, &args.new)
        .map_err(engine_error)?;
    let text = match args.format {
        DiffFormat::Text => assay_report::diff::to_text(&d),
        DiffFormat::Json => assay_report::diff::to_json(&d),
    };
    write_output(args.output.output.as_deref(), &text)?;
    Ok(0)
}
