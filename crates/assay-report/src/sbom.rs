//! What the two SBOM outputs share: deterministic identifiers derived from the image hash, the
//! kind of a component, and UTC timestamps.

use assay_model::{Component, Report};
use sha1::{Digest, Sha1};

/// Options of the SBOM outputs.
#[derive(Debug, Clone, Default)]
pub struct SbomOptions {
    /// Creation time (RFC 3339, UTC) to record; `None` for a reproducible document (CycloneDX
    /// then omits it, SPDX, where it is mandatory, writes the Unix epoch).
    pub timestamp: Option<String>,
}

/// The RFC 4122 URL namespace, under which Assay's name-based UUIDs are made.
const NAMESPACE_URL: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// A version-5 (SHA-1, name-based) UUID of `name` in the URL namespace.
pub fn uuid_v5(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(NAMESPACE_URL);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = assay_model::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The name the document identifiers are derived from: same image and Assay version, same
/// identifiers.
pub fn document_name(report: &Report, format: &str) -> String {
    format!(
        "assay:{format}:{}:{}",
        report.image.sha256, report.tool_version
    )
}

/// What kind of thing a component is, in the terms both formats share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    /// An operating-system kernel.
    OperatingSystem,
    /// A library linked into programs.
    Library,
    /// A program.
    Application,
}

/// Libraries known by a name that does not start with `lib`.
const LIBRARIES: &[&str] = &[
    "openssl",
    "wolfssl",
    "mbedtls",
    "gnutls",
    "zlib",
    "uclibc",
    "uclibc-ng",
    "glibc",
    "musl",
    "sqlite",
    "expat",
    "json-c",
    "nettle",
    "gmp",
    "ncurses",
    "readline",
    "pcre",
    "pcre2",
    "c-ares",
    "cyassl",
    "matrixssl",
    "polarssl",
    "axtls",
    "boringssl",
    "libressl",
    "lzo",
    "xz",
    "bzip2",
    "lz4",
    "zstd",
    "jansson",
    "cjson",
    "protobuf-c",
    "ubus",
    "uci",
    "ubox",
];

/// Operating systems known by name (kernels and RTOS images).
const OPERATING_SYSTEMS: &[&str] = &[
    "linux",
    "linux-kernel",
    "linux_kernel",
    "kernel",
    "vxworks",
    "ecos",
    "threadx",
];

/// Classify a component by its name (and CPE part `o`, an operating system).
pub fn component_kind(c: &Component) -> ComponentKind {
    let n = c.name.to_ascii_lowercase();
    let os_cpe = c
        .cpe
        .as_deref()
        .is_some_and(|p| p.starts_with("cpe:2.3:o:"));
    if OPERATING_SYSTEMS.contains(&n.as_str()) || os_cpe {
        ComponentKind::OperatingSystem
    } else if n.starts_with("lib") || LIBRARIES.contains(&n.as_str()) {
        ComponentKind::Library
    } else {
        ComponentKind::Application
    }
}

/// Seconds since the Unix epoch as an RFC 3339 UTC timestamp (`2024-01-31T12:00:00Z`).
pub fn rfc3339_utc(secs: u64) -> String {
    assay_model::time::format_utc(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Web page of a vulnerability id, for references.
pub fn advisory_url(id: &str) -> String {
    if id.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v5_matches_rfc_example() {
        // Python: uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com")
        assert_eq!(
            uuid_v5("https://example.com"),
            "4fd35a71-71ef-5a55-a9d9-aa75c889a6d0"
        );
    }

    #[test]
    fn operating_systems_by_name_or_cpe_part() {
        let c = |name: &str, cpe: Option<&str>| Component {
            name: name.into(),
            version: "1".into(),
            purl: format!("pkg:generic/{name}@1"),
            cpe: cpe.map(str::to_string),
            confidence: assay_model::Confidence::High,
            evidence: Vec::new(),
            other_versions: Vec::new(),
        };
        assert_eq!(
            component_kind(&c("threadx", None)),
            ComponentKind::OperatingSystem
        );
        assert_eq!(
            component_kind(&c("foo-rtos", Some("cpe:2.3:o:acme:foo:1:*:*:*:*:*:*:*"))),
            ComponentKind::OperatingSystem
        );
        assert_eq!(component_kind(&c("openssl", None)), ComponentKind::Library);
        assert_eq!(
            component_kind(&c("dropbear", None)),
            ComponentKind::Application
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
