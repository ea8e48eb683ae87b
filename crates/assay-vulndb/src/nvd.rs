//! NVD CVE API / feed JSON 2.0 (`{"vulnerabilities":[{"cve":{…}}]}`): the fields matching
//! needs, with everything else ignored while parsing.

use crate::record::{CpeMatch, Record};
use assay_model::Cvss;
use serde::Deserialize;

/// A whole NVD 2.0 feed file.
#[derive(Debug, Deserialize)]
pub struct Feed {
    /// Feed generation time.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// The CVEs.
    pub vulnerabilities: Vec<Item>,
}

/// One entry of `vulnerabilities`.
#[derive(Debug, Deserialize)]
pub struct Item {
    /// The CVE record.
    pub cve: Cve,
}

/// A CVE record (also the shape of one file of per-CVE mirrors).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cve {
    id: String,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    descriptions: Vec<Description>,
    #[serde(default)]
    metrics: Metrics,
    #[serde(default)]
    configurations: Vec<Configuration>,
}

#[derive(Debug, Deserialize)]
struct Description {
    lang: String,
    value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics {
    #[serde(default)]
    cvss_metric_v40: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v31: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v30: Vec<Metric>,
    #[serde(default)]
    cvss_metric_v2: Vec<Metric>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    cvss_data: CvssData,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CvssData {
    version: String,
    vector_string: String,
    base_score: f64,
}

#[derive(Debug, Deserialize)]
struct Configuration {
    #[serde(default)]
    nodes: Vec<Node>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Node {
    #[serde(default)]
    cpe_match: Vec<NvdCpeMatch>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

/// The preferred rating: the primary (NVD) v3.1 metric, then v3.0, v4.0, v2.
fn best_cvss(m: &Metrics) -> Option<Cvss> {
    for list in [
        &m.cvss_metric_v31,
        &m.cvss_metric_v30,
        &m.cvss_metric_v40,
        &m.cvss_metric_v2,
    ] {
        let pick = list
            .iter()
            .find(|x| x.kind.as_deref() == Some("Primary"))
            .or_else(|| list.first());
        if let Some(x) = pick {
            return Some(Cvss {
                version: x.cvss_data.version.clone(),
                score: x.cvss_data.base_score,
                vector: x.cvss_data.vector_string.clone(),
            });
        }
    }
    None
}

impl Cve {
    /// The feed-neutral record.
    ///
    /// Every vulnerable `cpeMatch` of every configuration is kept, also those in `AND`
    /// configurations ("X running on Y"): for firmware, the component is what ships, so the
    /// over-approximation is the useful side to err on.
    pub fn into_record(self) -> Record {
        let summary = self
            .descriptions
            .iter()
            .find(|d| d.lang == "en")
            .or_else(|| self.descriptions.first())
            .map(|d| d.value.clone());
        let cvss = best_cvss(&self.metrics);
        let cpe_matches = self
            .configurations
            .into_iter()
            .flat_map(|c| c.nodes)
            .flat_map(|n| n.cpe_match)
            .filter(|m| m.vulnerable)
            .map(|m| CpeMatch {
                criteria: m.criteria,
                start_including: m.version_start_including,
                start_excluding: m.version_start_excluding,
                end_including: m.version_end_including,
                end_excluding: m.version_end_excluding,
            })
            .collect();
        Record {
            source: "nvd",
            id: self.id,
            aliases: Vec::new(),
            summary,
            modified: self.last_modified,
            cvss,
            cpe_matches,
            affected: Vec::new(),
        }
    }
}
