//! OSV records (ossf/osv-schema): the fields matching needs.

use crate::cvss::v3_base_score;
use crate::record::{Affected, Range, Record};
use assay_model::Cvss;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One OSV record.
#[derive(Debug, Deserialize)]
pub struct OsvRecord {
    id: String,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    #[serde(default)]
    ecosystem: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    purl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    events: Vec<BTreeMap<String, String>>,
}

fn cvss_of(list: &[OsvSeverity]) -> Option<Cvss> {
    list.iter().find_map(|s| {
        if s.kind != "CVSS_V3" {
            return None;
        }
        let (version, score) = v3_base_score(&s.score)?;
        Some(Cvss {
            version,
            score,
            vector: s.score.clone(),
        })
    })
}

impl OsvRecord {
    /// Whether the record was withdrawn and must not match.
    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }

    /// Last modification, for the feed's snapshot date.
    pub fn modified(&self) -> Option<&str> {
        self.modified.as_deref()
    }

    /// The feed-neutral record.
    pub fn into_record(self) -> Record {
        let cvss = cvss_of(&self.severity)
            .or_else(|| self.affected.iter().find_map(|a| cvss_of(&a.severity)));
        let mut aliases = self.aliases;
        for r in self.related {
            if !aliases.contains(&r) {
                aliases.push(r);
            }
        }
        let summary = self.summary.or_else(|| {
            self.details
                .map(|d| d.lines().next().unwrap_or_default().to_string())
        });
        let affected = self
            .affected
            .into_iter()
            .filter_map(|a| {
                let p = a.package?;
                Some(Affected {
                    ecosystem: p.ecosystem,
                    name: p.name,
                    purl: p.purl,
                    ranges: a
                        .ranges
                        .into_iter()
                        .map(|r| Range {
                            kind: r.kind,
                            events: r.events.into_iter().flatten().collect(),
                        })
                        .collect(),
                    versions: a.versions,
                })
            })
            .collect();
        Record {
            source: "osv",
            id: self.id,
            aliases,
            summary,
            modified: self.modified,
            cvss,
            cpe_matches: Vec::new(),
            affected,
        }
    }
}
