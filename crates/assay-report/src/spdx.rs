//! SPDX 2.3 JSON: the image as the described package, one package per identified component
//! (purl and CPE external references, advisories of matched vulnerabilities), the evidence
//! files with their SHA-256, and the relationships image CONTAINS file, file CONTAINS package.
//!
//! Our own serde model of the few SPDX fields Assay fills. Deterministic: the document
//! namespace is a name-based UUID of the image hash and Assay version, and `created` is the
//! given timestamp or, for a reproducible document, the Unix epoch.

use crate::sbom::{
    advisory_url, component_kind, document_name, uuid_v5, ComponentKind, SbomOptions,
};
use assay_model::{NodeId, Report};
use serde::Serialize;
use std::collections::BTreeMap;

/// The SPDX document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    document_describes: Vec<String>,
    packages: Vec<Package>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<File>,
    relationships: Vec<Relationship>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    license_concluded: &'static str,
    license_declared: &'static str,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    file_name: String,
    checksums: Vec<Checksum>,
    license_concluded: &'static str,
    copyright_text: &'static str,
    comment: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

const IMAGE_ID: &str = "SPDXRef-Image";

fn relationship(a: &str, kind: &'static str, b: &str) -> Relationship {
    Relationship {
        spdx_element_id: a.to_string(),
        relationship_type: kind,
        related_spdx_element: b.to_string(),
    }
}

fn sha256(value: &str) -> Vec<Checksum> {
    if value.len() == 64 {
        vec![Checksum {
            algorithm: "SHA256",
            checksum_value: value.to_string(),
        }]
    } else {
        Vec::new()
    }
}

/// A file name as SPDX wants it: relative to the package root, starting with `./`.
fn spdx_file_name(path: &str) -> String {
    format!("./{}", path.trim_start_matches('/'))
}

/// The SPDX document of a report.
pub fn document(report: &Report, opts: &SbomOptions) -> Document {
    let image = Package {
        spdx_id: IMAGE_ID.into(),
        name: report.image.name.clone(),
        version_info: None,
        download_location: "NOASSERTION",
        files_analyzed: false,
        checksums: sha256(&report.image.sha256),
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION",
        copyright_text: "NOASSERTION",
        external_refs: Vec::new(),
        primary_package_purpose: "FIRMWARE",
        comment: Some(format!(
            "{} bytes; unpacked and analysed by Assay",
            report.image.size
        )),
    };
    let mut packages = vec![image];
    let mut files: BTreeMap<NodeId, File> = BTreeMap::new();
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", IMAGE_ID)];
    let mut contains: Vec<(NodeId, String)> = Vec::new();
    for (i, c) in report.components.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}");
        let mut external_refs = Vec::new();
        if !c.purl.is_empty() {
            external_refs.push(ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: c.purl.clone(),
                comment: None,
            });
        }
        if let Some(cpe) = &c.cpe {
            external_refs.push(ExternalRef {
                reference_category: "SECURITY",
                reference_type: "cpe23Type",
                reference_locator: cpe.clone(),
                comment: None,
            });
        }
        for v in report.vulnerabilities.iter().filter(|v| v.component == i) {
            external_refs.push(ExternalRef {
                reference_category: "SECURITY",
                reference_type: "advisory",
                reference_locator: advisory_url(&v.id),
                comment: Some(format!(
                    "{} ({}); affected: {}",
                    v.id,
                    v.severity.as_str(),
                    v.matched
                )),
            });
        }
        let purpose = match component_kind(c) {
            ComponentKind::OperatingSystem => "OPERATING_SYSTEM",
            ComponentKind::Library => "LIBRARY",
            ComponentKind::Application => "APPLICATION",
        };
        let seen: Vec<String> = c
            .evidence
            .iter()
            .map(|e| format!("{} ({})", e.location, e.method))
            .collect();
        packages.push(Package {
            spdx_id: id.clone(),
            name: c.name.clone(),
            version_info: Some(c.version.clone()),
            download_location: "NOASSERTION",
            files_analyzed: false,
            checksums: Vec::new(),
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION",
            copyright_text: "NOASSERTION",
            external_refs,
            primary_package_purpose: purpose,
            comment: Some(format!(
                "confidence {:?}; seen in {}",
                c.confidence,
                seen.join(", ")
            )),
        });
        if c.evidence.is_empty() {
            relationships.push(relationship(IMAGE_ID, "CONTAINS", &id));
        }
        for e in &c.evidence {
            files.entry(e.node).or_insert_with(|| File {
                spdx_id: format!("SPDXRef-File-{}", e.node),
                file_name: spdx_file_name(&e.path),
                checksums: sha256(&e.sha256),
                license_concluded: "NOASSERTION",
                copyright_text: "NOASSERTION",
                comment: e.location.clone(),
            });
            if !contains.contains(&(e.node, id.clone())) {
                contains.push((e.node, id.clone()));
            }
        }
    }
    // A file without a SHA-256 cannot be listed (SPDX requires a checksum): its packages are
    // then contained in the image directly.
    files.retain(|_, f| !f.checksums.is_empty());
    for f in files.values() {
        relationships.push(relationship(IMAGE_ID, "CONTAINS", &f.spdx_id));
    }
    for (node, pkg) in contains {
        match files.get(&node) {
            Some(f) => relationships.push(relationship(&f.spdx_id, "CONTAINS", &pkg)),
            None => relationships.push(relationship(IMAGE_ID, "CONTAINS", &pkg)),
        }
    }
    let uuid = uuid_v5(&document_name(report, "spdx"));
    let safe_name: String = report
        .image
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: format!("assay-{}", report.image.name),
        document_namespace: format!("https://spdx.org/spdxdocs/assay-{safe_name}-{uuid}"),
        creation_info: CreationInfo {
            created: opts
                .timestamp
                .clone()
                .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
            creators: vec![format!("Tool: assay-{}", report.tool_version)],
        },
        document_describes: vec![IMAGE_ID.into()],
        packages,
        files: files.into_values().collect(),
        relationships,
    }
}

/// The SPDX 2.3 JSON of a report, pretty-printed with a trailing newline.
pub fn to_json(report: &Report, opts: &SbomOptions) -> String {
    let mut s =
        serde_json::to_string_pretty(&document(report, opts)).expect("documents always serialise");
    s.push('\n');
    s
}
