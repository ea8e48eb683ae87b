//! `assay unpack`: write the unpacked tree under a directory for browsing.

use super::engine_error;
use crate::flags::UnpackArgs;
use crate::progress::scanner;
use anyhow::{Context, Result};
use assay_engine::AnalysisConfig;

pub fn run(args: UnpackArgs) -> Result<i32> {
    let result = scanner(AnalysisConfig::new(), args.quiet.quiet)
        .unpack(&args.image)
        .map_err(engine_error)?;
    let summary = assay_unpack::extract::extract(&result, &args.output)
        .with_context(|| format!("extracting into {}", args.output.display()))?;
    println!(
        "{}: {} files, {} directories, {} symlinks written under {}",
        args.image.display(),
        summary.files,
        summary.directories,
        summary.symlinks,
        args.output.display()
    );
    for s in &summary.skipped {
        println!("  not written: {s}");
    }
    for w in &result.warnings {
        println!("  warning [{}] {}: {}", w.kind, w.location, w.message);
    }
    Ok(0)
}
