//! `assay verify`: the signature first, then every file, finding and component of the report
//! against the image.
//!
//! The report is the input under suspicion, so what `verify` prints is built to survive it:
//! every line is escaped whole ([`TerminalText`]), so text from the report can neither send a
//! control sequence to the terminal nor start a line of its own; and the verdict lines
//! (signature, counts, "verified" or "NOT verified") are made from `verify`'s own findings
//! only, after every line that quotes the report.

use super::{clock_now, engine_error, shown, usage, NOT_VERIFIED};
use crate::flags::VerifyArgs;
use crate::progress::scanner;
use anyhow::{Context, Result};
use assay_engine::{ReferenceTime, ReportFile, SignatureCheck};
use assay_model::terminal::TerminalText;
use assay_report::dsse;

pub fn run(args: VerifyArgs) -> Result<i32> {
    let config = args
        .detectors
        .config()?
        .with_max_report_bytes(args.report_size.max_report_bytes());
    let file = ReportFile::read(&args.report, config.max_report_bytes())?
        .ok_or_else(|| usage(format!("{} is not a JSON report", shown(&args.report))))?;
    let mut out = TerminalText::new();
    out.line(format_args!(
        "assay verify: {} against {}",
        shown(&args.report),
        shown(&args.image)
    ));
    // The signature comes first, over the payload's raw bytes: nothing in an envelope is
    // worth parsing, let alone checking, if it is forged.
    let check = match &args.key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading key {}", shown(path)))?;
            let key = dsse::verifying_key_from_text(&text)
                .with_context(|| format!("key {}", shown(path)))?;
            file.check_signature(Some(&key))
        }
        None => file.check_signature(None),
    };
    let signature = match check {
        SignatureCheck::Verified { key_id } => format!("signature: ok (keyid {key_id})"),
        SignatureCheck::NotChecked => "signature: not checked (no --key given)".into(),
        SignatureCheck::Unsigned => "signature: none (plain report)".into(),
        failed => {
            let why = match failed {
                SignatureCheck::Failed(e) => e,
                _ => "--key given but the report is not a signed envelope".into(),
            };
            out.line(format_args!("FAIL signature: {why}"));
            out.line(format_args!(
                "NOT verified: the signature does not hold; nothing else was checked"
            ));
            print!("{}", out.as_str());
            return Ok(NOT_VERIFIED);
        }
    };
    let report = file.parse()?.report;
    // A report without `as_of` is judged as of now.
    let config = config.with_reference_time(ReferenceTime::At(clock_now()));
    let outcome = scanner(config, args.quiet.quiet)
        .verify(&report, &args.image)
        .map_err(engine_error)?;
    for f in &outcome.failures {
        out.line(format_args!("FAIL {f}"));
    }
    // The verdict: from verify's own data only, after everything that quotes the report.
    out.line(format_args!("{signature}"));
    if report.as_of.is_none() {
        out.line(format_args!(
            "note: the report records no as_of; time-dependent checks judged as of now"
        ));
    }
    for line in &outcome.summary {
        out.line(format_args!("{line}"));
    }
    let code = if outcome.holds() {
        out.line(format_args!(
            "verified: every file, finding and component of the report holds"
        ));
        0
    } else {
        out.line(format_args!(
            "NOT verified: {} failure(s)",
            outcome.failures.len()
        ));
        NOT_VERIFIED
    };
    print!("{}", out.as_str());
    Ok(code)
}
