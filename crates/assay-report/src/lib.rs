//! Assay's report outputs. The JSON report is canonical; every other output (the terminal
//! summary, SARIF, HTML, and later CycloneDX and SPDX) is a projection of the same
//! [`assay_model::Report`], so they never disagree.
//!
//! Outputs that explain rules (SARIF, HTML) take the rule documentation as
//! [`assay_model::Rule`] values from the caller: this crate sits below the analysers and must
//! not know them.

use assay_model::Severity;

pub mod cyclonedx;
pub mod diff;
pub mod dsse;
pub mod fuzzing;
pub mod html;
pub mod json;
pub mod sarif;
pub mod sbom;
pub mod spdx;
pub mod text;

/// The documentation of one detection rule as the outputs read it: the model's
/// [`Rule`](assay_model::Rule) with borrowed text (kept under this name for its callers).
pub type RuleDoc<'a> = assay_model::Rule<&'a str>;

/// Every severity, most severe first: the order findings are grouped and counted in.
pub const SEVERITIES_WORST_FIRST: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

#[cfg(test)]
pub(crate) mod testdata;
