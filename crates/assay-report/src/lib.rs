//! Assay's report outputs. The JSON report is canonical; every other output (the terminal
//! summary, and later SARIF, CycloneDX, SPDX, HTML) is a projection of the same
//! [`assay_model::Report`], so they never disagree.

#![deny(unsafe_code)]

pub mod diff;
pub mod dsse;
pub mod json;
pub mod text;
