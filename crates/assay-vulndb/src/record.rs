//! The feed-neutral form of a vulnerability record that the database stores: what both NVD
//! and OSV say about an id, the CPE ranges (NVD) and package ranges (OSV) it affects.

use assay_model::Cvss;
use serde::{Deserialize, Serialize};

/// One vulnerability as one feed describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `nvd` or `osv`.
    pub source: &'static str,
    /// Identifier in that feed.
    pub id: String,
    /// Other ids (OSV `aliases` and `related`).
    pub aliases: Vec<String>,
    /// One-line description.
    pub summary: Option<String>,
    /// Last modification as the feed states it.
    pub modified: Option<String>,
    /// CVSS rating, when known.
    pub cvss: Option<Cvss>,
    /// Vulnerable CPE ranges (NVD).
    pub cpe_matches: Vec<CpeMatch>,
    /// Affected packages (OSV).
    pub affected: Vec<Affected>,
}

/// A vulnerable CPE with an optional version range (NVD `cpeMatch` with `vulnerable: true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeMatch {
    /// The CPE name as given.
    pub criteria: String,
    /// Lower bound, inclusive.
    pub start_including: Option<String>,
    /// Lower bound, exclusive.
    pub start_excluding: Option<String>,
    /// Upper bound, inclusive.
    pub end_including: Option<String>,
    /// Upper bound, exclusive.
    pub end_excluding: Option<String>,
}

/// An affected package of an OSV record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem (`Debian:12`, `Ubuntu:22.04:LTS`, `OSS-Fuzz`, empty for upstream git).
    pub ecosystem: String,
    /// Package name in that ecosystem.
    pub name: String,
    /// Package URL, when given.
    pub purl: Option<String>,
    /// Version ranges.
    pub ranges: Vec<Range>,
    /// Enumerated affected versions.
    pub versions: Vec<String>,
}

/// An OSV range: a type and its ordered events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// `ECOSYSTEM`, `SEMVER` or `GIT`.
    pub kind: String,
    /// `(introduced|fixed|last_affected|limit, version)` in record order.
    pub events: Vec<(String, String)>,
}
