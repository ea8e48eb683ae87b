//! CycloneDX 1.6 JSON: the image as the BOM's firmware component, every identified component
//! with its hashes and evidence occurrences, and the matched vulnerabilities.
//!
//! Our own serde model because the `cyclonedx-bom` crate does not write 1.6; only the parts of
//! the schema Assay fills are modelled. Deterministic: the serial number is a name-based UUID of
//! the image hash and Assay version, the timestamp is left out unless asked for, and every list
//! follows the report's order.

use crate::sbom::{
    advisory_url, component_kind, document_name, uuid_v5, ComponentKind, SbomOptions,
};
use assay_model::{Component, Confidence, Report, Vulnerability};
use serde::Serialize;

/// The BOM document.
#[derive(Debug, Serialize)]
pub struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    #[serde(rename = "serialNumber")]
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<CdxComponent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerabilities: Vec<CdxVulnerability>,
}

#[derive(Debug, Serialize)]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    tools: Tools,
    component: CdxComponent,
}

#[derive(Debug, Serialize)]
struct Tools {
    components: Vec<CdxComponent>,
}

#[derive(Debug, Serialize, Default)]
struct CdxComponent {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<Evidence>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Debug, Serialize)]
struct Evidence {
    identity: Vec<Identity>,
    occurrences: Vec<Occurrence>,
}

#[derive(Debug, Serialize)]
struct Identity {
    field: &'static str,
    confidence: f64,
    #[serde(rename = "concludedValue")]
    concluded_value: String,
    methods: Vec<Method>,
}

#[derive(Debug, Serialize)]
struct Method {
    technique: &'static str,
    confidence: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

#[derive(Debug, Serialize)]
struct Occurrence {
    location: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    #[serde(rename = "additionalContext")]
    additional_context: String,
}

#[derive(Debug, Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<String>,
}

#[derive(Debug, Serialize)]
struct CdxVulnerability {
    #[serde(rename = "bom-ref")]
    bom_ref: String,
    id: String,
    source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    references: Vec<Reference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ratings: Vec<Rating>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    affects: Vec<Affect>,
    properties: Vec<Property>,
}

#[derive(Debug, Serialize)]
struct Source {
    name: String,
    url: String,
}

#[derive(Debug, Serialize)]
struct Reference {
    id: String,
    source: Source,
}

#[derive(Debug, Serialize)]
struct Rating {
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<String>,
}

#[derive(Debug, Serialize)]
struct Affect {
    #[serde(rename = "ref")]
    reference: String,
}

/// bom-ref of the image.
const IMAGE_REF: &str = "image";

fn component_ref(index: usize) -> String {
    format!("component-{index}")
}

fn confidence_value(c: Confidence) -> f64 {
    match c {
        Confidence::High => 1.0,
        Confidence::Medium => 0.7,
        Confidence::Low => 0.4,
    }
}

/// CycloneDX technique for an evidence method of the component identifier.
fn technique(method: &str) -> &'static str {
    let m = method.to_ascii_lowercase();
    if m.contains("status")
        || m.contains("control")
        || m.contains("release")
        || m.contains("dpkg")
        || m.contains("opkg")
        || m.contains("package")
    {
        "manifest-analysis"
    } else if m.contains("filename") || m.contains("file-name") {
        "filename"
    } else {
        "binary-analysis"
    }
}

fn component(index: usize, c: &Component) -> CdxComponent {
    let kind = match component_kind(c) {
        ComponentKind::OperatingSystem => "operating-system",
        ComponentKind::Library => "library",
        ComponentKind::Application => "application",
    };
    let mut hashes: Vec<Hash> = Vec::new();
    for e in &c.evidence {
        let h = Hash {
            alg: "SHA-256",
            content: e.sha256.clone(),
        };
        if e.sha256.len() == 64 && !hashes.contains(&h) {
            hashes.push(h);
        }
    }
    let methods = c
        .evidence
        .iter()
        .map(|e| Method {
            technique: technique(&e.method),
            confidence: confidence_value(c.confidence),
            value: e.matched.clone(),
        })
        .collect();
    let occurrences = c
        .evidence
        .iter()
        .map(|e| Occurrence {
            location: e.path.clone(),
            offset: e.range.map(|r| r.start),
            additional_context: format!("{} ({})", e.location, e.method),
        })
        .collect();
    let mut properties = vec![Property {
        name: "assay:confidence".into(),
        value: format!("{:?}", c.confidence).to_ascii_lowercase(),
    }];
    for e in &c.evidence {
        properties.push(Property {
            name: "assay:location".into(),
            value: e.location.clone(),
        });
    }
    CdxComponent {
        kind,
        bom_ref: Some(component_ref(index)),
        name: c.name.clone(),
        version: Some(c.version.clone()),
        hashes,
        cpe: c.cpe.clone(),
        purl: (!c.purl.is_empty()).then(|| c.purl.clone()),
        evidence: (!c.evidence.is_empty()).then(|| Evidence {
            identity: vec![Identity {
                field: "version",
                confidence: confidence_value(c.confidence),
                concluded_value: c.version.clone(),
                methods,
            }],
            occurrences,
        }),
        properties,
    }
}

fn source_of(id: &str) -> Source {
    if id.starts_with("CVE-") {
        Source {
            name: "NVD".into(),
            url: advisory_url(id),
        }
    } else {
        Source {
            name: "OSV".into(),
            url: advisory_url(id),
        }
    }
}

fn vulnerability(n: usize, v: &Vulnerability) -> CdxVulnerability {
    let ratings = match &v.cvss {
        Some(c) => vec![Rating {
            source: Source {
                name: v.feed.kind.to_ascii_uppercase(),
                url: advisory_url(&v.id),
            },
            score: Some(c.score),
            severity: v.severity.as_str(),
            method: Some(match c.version.as_str() {
                "3.1" => "CVSSv31",
                "3.0" => "CVSSv3",
                "4.0" => "CVSSv4",
                "2.0" => "CVSSv2",
                _ => "other",
            }),
            vector: Some(c.vector.clone()),
        }],
        None => Vec::new(),
    };
    let feed = &v.feed;
    CdxVulnerability {
        bom_ref: format!("vulnerability-{n}"),
        id: v.id.clone(),
        source: source_of(&v.id),
        references: v
            .aliases
            .iter()
            .map(|a| Reference {
                id: a.clone(),
                source: source_of(a),
            })
            .collect(),
        ratings,
        description: v.summary.clone(),
        affects: vec![Affect {
            reference: component_ref(v.component),
        }],
        properties: vec![
            Property {
                name: "assay:severity".into(),
                value: v.severity.as_str().into(),
            },
            Property {
                name: "assay:matched-range".into(),
                value: v.matched.clone(),
            },
            Property {
                name: "assay:feed".into(),
                value: format!(
                    "{} ({}, imported {}{}, sha256 {})",
                    feed.name,
                    feed.kind,
                    feed.imported,
                    feed.published
                        .as_deref()
                        .map(|p| format!(", published {p}"))
                        .unwrap_or_default(),
                    feed.sha256
                ),
            },
        ],
    }
}

/// The CycloneDX document of a report.
pub fn bom(report: &Report, opts: &SbomOptions) -> Bom {
    let image = CdxComponent {
        kind: "firmware",
        bom_ref: Some(IMAGE_REF.into()),
        name: report.image.name.clone(),
        hashes: vec![Hash {
            alg: "SHA-256",
            content: report.image.sha256.clone(),
        }],
        properties: vec![Property {
            name: "assay:size".into(),
            value: report.image.size.to_string(),
        }],
        ..Default::default()
    };
    let tool = CdxComponent {
        kind: "application",
        name: "assay".into(),
        version: Some(report.tool_version.clone()),
        ..Default::default()
    };
    let components: Vec<CdxComponent> = report
        .components
        .iter()
        .enumerate()
        .map(|(i, c)| component(i, c))
        .collect();
    let dependencies = if components.is_empty() {
        Vec::new()
    } else {
        vec![Dependency {
            reference: IMAGE_REF.into(),
            depends_on: (0..components.len()).map(component_ref).collect(),
        }]
    };
    Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", uuid_v5(&document_name(report, "cyclonedx"))),
        version: 1,
        metadata: Metadata {
            timestamp: opts.timestamp.clone(),
            tools: Tools {
                components: vec![tool],
            },
            component: image,
        },
        components,
        dependencies,
        vulnerabilities: report
            .vulnerabilities
            .iter()
            .filter(|v| v.component < report.components.len())
            .enumerate()
            .map(|(n, v)| vulnerability(n, v))
            .collect(),
    }
}

/// The CycloneDX 1.6 JSON of a report, pretty-printed with a trailing newline.
pub fn to_json(report: &Report, opts: &SbomOptions) -> String {
    let mut s = serde_json::to_string_pretty(&bom(report, opts)).expect("BOMs always serialise");
    s.push('\n');
    s
}
