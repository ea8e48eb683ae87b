//! `assay verify`: the signature first, then every file, finding and component of the report
//! against the image.

use super::{clock_now, engine_error, usage, NOT_VERIFIED};
use crate::flags::VerifyArgs;
use crate::progress::scanner;
use anyhow::{Context, Result};
use assay_engine::{ReferenceTime, SignatureCheck};
use assay_report::dsse;
use std::fmt::Write as _;

pub fn run(args: VerifyArgs) -> Result<i32> {
    let config = args.detectors.config()?;
    let loaded = assay_engine::load_report(&args.report)?
        .ok_or_else(|| usage(format!("{} is not a JSON report", args.report.display())))?;
    let mut out = format!(
        "assay verify: {} against {}\n",
        args.report.display(),
        args.image.display()
    );
    // The signature comes first: nothing in an envelope is worth checking if it is forged.
    let check = match (&args.key, &loaded.envelope) {
        (Some(path), Some(_)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading key {}", path.display()))?;
            let key = dsse::verifying_key_from_text(&text)
                .with_context(|| format!("key {}", path.display()))?;
            loaded.check_signature(Some(&key))
        }
        (key, _) if key.is_some() => SignatureCheck::NotAnEnvelope,
        _ => loaded.check_signature(None),
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
            let _ = writeln!(out, "FAIL signature: {why}");
            out.push_str("NOT verified: the signature does not hold; nothing else was checked\n");
            print!("{out}");
            return Ok(NOT_VERIFIED);
        }
    };
    let report = loaded.report;
    // A report without `as_of` is judged as of now.
    let config = config.with_reference_time(ReferenceTime::At(clock_now()));
    let outcome = scanner(config, args.quiet.quiet)
        .verify(&report, &args.image)
        .map_err(engine_error)?;
    for f in &outcome.failures {
        let _ = writeln!(out, "FAIL {f}");
    }
    let _ = writeln!(out, "{signature}");
    if report.as_of.is_none() {
        out.push_str("note: the report records no as_of; time-dependent checks judged as of now\n");
    }
    for line in &outcome.summary {
        let _ = writeln!(out, "{line}");
    }
    let code = if outcome.holds() {
        out.push_str("verified: every file, finding and component of the report holds\n");
        0
    } else {
        let _ = writeln!(out, "NOT verified: {} failure(s)", outcome.failures.len());
        NOT_VERIFIED
    };
    print!("{out}");
    Ok(code)
}
