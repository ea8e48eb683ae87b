//! SARIF 2.1.0 output, for code-scanning dashboards: one run, the rules with their
//! documentation, one result per finding pointing at the path inside the image, and the
//! image's warnings as tool notifications.
//!
//! The SARIF types are a small serde model of our own rather than the `serde-sarif` crate:
//! we write only the dozen objects we use, and `serde-sarif` brings builder and code-generation
//! dependencies (`typed-builder`, `strum`, `thiserror` 1) for a schema of hundreds of types.
//!
//! Mapping choices:
//! - `artifactLocation.uri` is the finding's path inside its filesystem, made relative and
//!   percent-encoded, under the `uriBaseId` [`IMAGE_ROOT`]; the full location chain from the
//!   image (which container, which offset) is in `logicalLocations[0].fullyQualifiedName` and
//!   in `properties.location`, because one image can hold the same path twice.
//! - `region` is a binary region (`byteOffset`, `byteLength`) with the evidence as snippet.
//! - `partialFingerprints` carries a SHA-256 over rule, location chain and byte range, stable
//!   across runs and Assay versions that find the same thing in the same place.
//! - Rule `properties.security-severity` follows the scale GitHub code scanning reads.

use assay_model::{hex, Finding, NodeId, Report, Rule, Severity};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The `uriBaseId` every artifact location is relative to: the root of the unpacked image.
pub const IMAGE_ROOT: &str = "IMAGEROOT";

/// Where SARIF 2.1.0 (errata 01) publishes its schema; written as the log's `$schema`.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Name of the fingerprint in `partialFingerprints` (versioned: a new recipe gets a new name).
pub const FINGERPRINT_NAME: &str = "assayFinding/v1";

/// Project the report as a SARIF 2.1.0 log: pretty JSON with a trailing newline.
///
/// `rules` documents every rule that ran (findings of a rule missing from it still get a
/// minimal rule entry); `information_uri` is the tool's home page, left out when `None`.
pub fn to_sarif(report: &Report, rules: &[Rule<&str>], information_uri: Option<&str>) -> String {
    let log = build_log(report, rules, information_uri);
    let mut s = serde_json::to_string_pretty(&log).expect("SARIF logs always serialise");
    s.push('\n');
    s
}

/// The SARIF level a finding of this severity is reported at.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// The 0–10 score GitHub code scanning maps to its own critical/high/medium/low labels.
pub fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// The stable fingerprint of a finding: SHA-256 (hex) of rule, location chain and byte range.
pub fn fingerprint(finding: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(finding.rule.as_bytes());
    h.update([0]);
    h.update(finding.location.as_bytes());
    h.update([0]);
    h.update(finding.range.start.to_le_bytes());
    h.update(finding.range.end.to_le_bytes());
    hex(&h.finalize())
}

/// A path inside the image as a relative URI reference: leading slashes dropped (so it can
/// never read as a network path), every byte outside the unreserved set and `/` encoded.
pub fn path_to_uri(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    let mut out = String::with_capacity(trimmed.len());
    for &b in trimmed.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A rule's title as an identifier (`Additional UID-0 account` → `AdditionalUid0Account`),
/// for the SARIF `name` that tools show next to the id.
fn rule_name(title: &str) -> String {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first
                .into_iter()
                .chain(chars.map(|c| c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect()
}

fn build_log<'a>(
    report: &'a Report,
    rules: &[Rule<&'a str>],
    information_uri: Option<&'a str>,
) -> SarifLog<'a> {
    let mut descriptors: Vec<ReportingDescriptor> = rules.iter().map(descriptor).collect();
    let mut rule_index: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        rule_index.entry(r.id).or_insert(i);
    }
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut artifact_index: HashMap<NodeId, usize> = HashMap::new();
    let mut results = Vec::with_capacity(report.findings.len());
    for f in &report.findings {
        let ri = *rule_index.entry(f.rule.as_str()).or_insert_with(|| {
            descriptors.push(fallback_descriptor(f));
            descriptors.len() - 1
        });
        let ai = *artifact_index.entry(f.node).or_insert_with(|| {
            artifacts.push(artifact(report, f));
            artifacts.len() - 1
        });
        results.push(result(f, ri, ai));
    }
    let notifications = report
        .warnings
        .iter()
        .map(|w| Notification {
            level: "warning",
            message: Message::text(w.message.clone()),
            descriptor: ReportingDescriptorReference {
                id: w.kind.as_str(),
            },
            locations: vec![Location {
                physical_location: None,
                logical_locations: vec![LogicalLocation {
                    name: None,
                    fully_qualified_name: &w.location,
                }],
            }],
            properties: w.node.map(|node| NotificationProperties { node }),
        })
        .collect();
    let mut base_ids = BTreeMap::new();
    base_ids.insert(
        IMAGE_ROOT,
        OriginalUriBase {
            description: Message::text(format!(
                "The root of the unpacked image {} (sha256 {}): paths are inside the filesystem \
                 or archive named by each result's location chain.",
                report.image.name, report.image.sha256
            )),
        },
    );
    SarifLog {
        schema: SARIF_SCHEMA_URI,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: ToolComponent {
                    name: "assay",
                    full_name: "Assay firmware evidence",
                    version: &report.tool_version,
                    semantic_version: &report.tool_version,
                    information_uri,
                    rules: descriptors,
                },
            },
            invocations: vec![Invocation {
                execution_successful: true,
                tool_execution_notifications: notifications,
            }],
            original_uri_base_ids: base_ids,
            artifacts,
            results,
            properties: RunProperties {
                report_schema: &report.schema,
                image: ImageProperties {
                    name: &report.image.name,
                    size: report.image.size,
                    sha256: &report.image.sha256,
                },
                listeners: &report.listeners,
            },
        }],
    }
}

fn descriptor<'a>(r: &Rule<&'a str>) -> ReportingDescriptor<'a> {
    ReportingDescriptor {
        id: r.id,
        name: rule_name(r.title),
        short_description: Message::text(r.title.to_string()),
        full_description: Message::text(r.description.to_string()),
        help: MultiformatMessage {
            text: format!(
                "{}\n\nCategory: {}. Default severity: {}.",
                r.description,
                r.category.as_str(),
                r.severity.as_str()
            ),
            markdown: format!(
                "**{}** (`{}`)\n\n{}\n\nCategory: {}. Default severity: {}.",
                r.title,
                r.id,
                r.description,
                r.category.as_str(),
                r.severity.as_str()
            ),
        },
        default_configuration: Some(Configuration {
            level: level(r.severity),
        }),
        properties: RuleProperties {
            category: r.category.as_str(),
            tags: vec!["security", "firmware", r.category.as_str()],
            security_severity: security_severity(r.severity),
        },
    }
}

/// A rule entry for a finding whose rule the caller did not document, so that every result's
/// `ruleIndex` still points at a rule.
fn fallback_descriptor(f: &Finding) -> ReportingDescriptor<'_> {
    ReportingDescriptor {
        id: &f.rule,
        name: rule_name(&f.rule),
        short_description: Message::text(f.rule.clone()),
        full_description: Message::text(format!("Rule {} (no documentation given).", f.rule)),
        help: MultiformatMessage {
            text: format!("Rule {} (no documentation given).", f.rule),
            markdown: format!("Rule `{}` (no documentation given).", f.rule),
        },
        default_configuration: None,
        properties: RuleProperties {
            category: f.category.as_str(),
            tags: vec!["security", "firmware", f.category.as_str()],
            security_severity: security_severity(f.severity),
        },
    }
}

fn artifact<'a>(report: &'a Report, f: &'a Finding) -> Artifact<'a> {
    let node = report.nodes.get(f.node as usize).filter(|n| n.id == f.node);
    let mut hashes = BTreeMap::new();
    hashes.insert("sha-256", f.sha256.as_str());
    Artifact {
        location: ArtifactLocation {
            uri: path_to_uri(&f.path),
            uri_base_id: IMAGE_ROOT,
            index: None,
        },
        length: node.map(|n| n.size),
        hashes,
        properties: ArtifactProperties {
            location: &f.location,
            node: f.node,
        },
    }
}

fn result(f: &Finding, rule_index: usize, artifact_index: usize) -> SarifResult<'_> {
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert(FINGERPRINT_NAME, fingerprint(f));
    SarifResult {
        rule_id: &f.rule,
        rule_index,
        kind: "fail",
        level: level(f.severity),
        message: Message::text(f.title.clone()),
        locations: vec![Location {
            physical_location: Some(PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: path_to_uri(&f.path),
                    uri_base_id: IMAGE_ROOT,
                    index: Some(artifact_index),
                },
                region: Region {
                    byte_offset: f.range.start,
                    byte_length: f.range.end.saturating_sub(f.range.start),
                    snippet: ArtifactContent { text: &f.evidence },
                },
            }),
            logical_locations: vec![LogicalLocation {
                name: Some(&f.path),
                fully_qualified_name: &f.location,
            }],
        }],
        partial_fingerprints: fingerprints,
        properties: ResultProperties {
            severity: f.severity.as_str(),
            confidence: confidence_str(f),
            category: f.category.as_str(),
            location: &f.location,
            node: f.node,
            sha256: &f.sha256,
            security_severity: security_severity(f.severity),
            context: &f.context,
        },
    }
}

fn confidence_str(f: &Finding) -> &'static str {
    match f.confidence {
        assay_model::Confidence::Low => "low",
        assay_model::Confidence::Medium => "medium",
        assay_model::Confidence::High => "high",
    }
}

// --- The SARIF objects we write (names as in the specification, camelCase on the wire). ---

#[derive(Serialize)]
struct SarifLog<'a> {
    #[serde(rename = "$schema")]
    schema: &'a str,
    version: &'a str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    invocations: Vec<Invocation<'a>>,
    original_uri_base_ids: BTreeMap<&'a str, OriginalUriBase>,
    artifacts: Vec<Artifact<'a>>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: ToolComponent<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolComponent<'a> {
    name: &'a str,
    full_name: &'a str,
    version: &'a str,
    semantic_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'a str>,
    rules: Vec<ReportingDescriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor<'a> {
    id: &'a str,
    name: String,
    short_description: Message,
    full_description: Message,
    help: MultiformatMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_configuration: Option<Configuration>,
    properties: RuleProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct RuleProperties<'a> {
    category: &'a str,
    tags: Vec<&'a str>,
    security_severity: &'static str,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

impl Message {
    fn text(text: String) -> Self {
        Message { text }
    }
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct OriginalUriBase {
    description: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<'a> {
    execution_successful: bool,
    tool_execution_notifications: Vec<Notification<'a>>,
}

#[derive(Serialize)]
struct Notification<'a> {
    level: &'static str,
    message: Message,
    descriptor: ReportingDescriptorReference<'a>,
    locations: Vec<Location<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<NotificationProperties>,
}

#[derive(Serialize)]
struct NotificationProperties {
    node: NodeId,
}

#[derive(Serialize)]
struct ReportingDescriptorReference<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct Artifact<'a> {
    location: ArtifactLocation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<u64>,
    hashes: BTreeMap<&'static str, &'a str>,
    properties: ArtifactProperties<'a>,
}

#[derive(Serialize)]
struct ArtifactProperties<'a> {
    location: &'a str,
    node: NodeId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation<'a> {
    uri: String,
    uri_base_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    kind: &'static str,
    level: &'static str,
    message: Message,
    locations: Vec<Location<'a>>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation<'a>>,
    logical_locations: Vec<LogicalLocation<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation<'a>,
    region: Region<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region<'a> {
    byte_offset: u64,
    byte_length: u64,
    snippet: ArtifactContent<'a>,
}

#[derive(Serialize)]
struct ArtifactContent<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    fully_qualified_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ResultProperties<'a> {
    severity: &'static str,
    confidence: &'static str,
    category: &'static str,
    location: &'a str,
    node: NodeId,
    sha256: &'a str,
    security_severity: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    context: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    report_schema: &'a str,
    image: ImageProperties<'a>,
    /// The exposure map (the report's `listeners`), as the report writes it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    listeners: &'a [assay_model::Listener],
}

#[derive(Serialize)]
struct ImageProperties<'a> {
    name: &'a str,
    size: u64,
    sha256: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::sample_report;
    use serde_json::Value;

    fn docs() -> Vec<Rule> {
        vec![Rule {
            id: "ASSAY-ACCT-001",
            category: assay_model::Category::Account,
            severity: Severity::Critical,
            title: "Additional UID-0 account",
            description: "An account other than root has user id 0.",
        }]
    }

    #[test]
    fn levels_follow_severity() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(path_to_uri("/etc/shadow"), "etc/shadow");
        assert_eq!(path_to_uri("//host/x"), "host/x");
        assert_eq!(path_to_uri("/a b/<s>:é"), "a%20b/%3Cs%3E%3A%C3%A9");
        assert_eq!(path_to_uri(""), ".");
    }

    #[test]
    fn rule_names_are_identifiers() {
        assert_eq!(
            rule_name("Additional UID-0 account"),
            "AdditionalUid0Account"
        );
    }

    #[test]
    fn the_exposure_map_is_a_run_property() {
        let report = sample_report();
        let log: Value = serde_json::from_str(&to_sarif(&report, &docs(), None)).unwrap();
        let l = &log["runs"][0]["properties"]["listeners"][0];
        assert_eq!(l["path"], "/usr/sbin/telnetd");
        assert_eq!(l["ports"][0]["port"], 2323);
        let mut quiet = report.clone();
        quiet.listeners.clear();
        let log: Value = serde_json::from_str(&to_sarif(&quiet, &docs(), None)).unwrap();
        assert!(log["runs"][0]["properties"].get("listeners").is_none());
    }

    #[test]
    fn one_result_per_finding_with_location_and_fingerprint() {
        let report = sample_report();
        let log: Value = serde_json::from_str(&to_sarif(&report, &docs(), None)).unwrap();
        let run = &log["runs"][0];
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), report.findings.len());
        let first = &results[0];
        let f = &report.findings[0];
        assert_eq!(first["ruleId"], f.rule.as_str());
        assert_eq!(first["level"], "error");
        let phys = &first["locations"][0]["physicalLocation"];
        assert_eq!(phys["artifactLocation"]["uriBaseId"], IMAGE_ROOT);
        assert_eq!(phys["region"]["byteOffset"], f.range.start);
        assert_eq!(phys["region"]["byteLength"], f.range.end - f.range.start);
        assert_eq!(phys["region"]["snippet"]["text"], f.evidence.as_str());
        assert_eq!(
            first["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
            f.location.as_str()
        );
        assert_eq!(
            first["partialFingerprints"][FINGERPRINT_NAME],
            fingerprint(f).as_str()
        );
        // Every result's rule index points at its rule, documented or not.
        for r in results {
            let i = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(run["tool"]["driver"]["rules"][i]["id"], r["ruleId"]);
            let a = r["locations"][0]["physicalLocation"]["artifactLocation"]["index"]
                .as_u64()
                .unwrap() as usize;
            assert_eq!(
                run["artifacts"][a]["location"]["uri"],
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            );
        }
        assert!(run["tool"]["driver"].get("informationUri").is_none());
    }

    #[test]
    fn fingerprint_changes_with_range_and_not_with_title() {
        let report = sample_report();
        let mut f = report.findings[0].clone();
        let base = fingerprint(&f);
        f.title.push_str(" (reworded)");
        assert_eq!(fingerprint(&f), base);
        f.range.start += 1;
        assert_ne!(fingerprint(&f), base);
    }

    #[test]
    fn output_is_deterministic() {
        let report = sample_report();
        assert_eq!(
            to_sarif(&report, &docs(), Some("https://example.org/assay")),
            to_sarif(&report, &docs(), Some("https://example.org/assay"))
        );
    }
}
