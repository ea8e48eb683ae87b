//! `assay unpack`: write the unpacked tree under a directory for browsing.

use super::{engine_error, shown};
use crate::flags::UnpackArgs;
use crate::progress::scanner;
use anyhow::{Context, Result};
use assay_engine::AnalysisConfig;
use assay_model::terminal::TerminalText;

pub fn run(args: UnpackArgs) -> Result<i32> {
    let result = scanner(
        args.passwords.apply(AnalysisConfig::new()),
        args.quiet.quiet,
    )
    .unpack(&args.image)
    .map_err(engine_error)?;
    let summary = assay_unpack::extract::extract(&result, &args.output)
        .with_context(|| format!("extracting into {}", args.output.display()))?;
    // Entry names and warnings come from the image: every line is escaped whole.
    let mut out = TerminalText::new();
    out.line(format_args!(
        "{}: {} files, {} directories, {} symlinks written under {}",
        shown(&args.image),
        summary.files,
        summary.directories,
        summary.symlinks,
        shown(&args.output)
    ));
    for s in &summary.skipped {
        out.line(format_args!("  not written: {s}"));
    }
    for w in &result.warnings {
        out.line(format_args!(
            "  warning [{}] {}: {}",
            w.kind, w.location, w.message
        ));
    }
    print!("{}", out.as_str());
    Ok(0)
}
