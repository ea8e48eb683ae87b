//! Assay's report outputs. The JSON report is canonical; every other output (the terminal
//! summary, and later SARIF, CycloneDX, SPDX, HTML) is a projection of the same
//! [`assay_model::Report`], so they never disagree.

#![deny(unsafe_code)]

pub mod cyclonedx;
pub mod json;
pub mod sbom;
pub mod spdx;
pub mod text;
