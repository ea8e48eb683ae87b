//! The facts of a report that questions across images ask about, read once when the report
//! is stored and written to the `facts` table beside it: key fingerprints, password hashes,
//! cracked passwords, endpoint hosts, listener ports, components with versions, CVEs and
//! findings by rule.

use crate::version_key::version_key;
use assay_model::{Category, Report};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a fact is about: the questions the store answers across images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FactKind {
    /// A private key, host key or authorised key, by its fingerprint.
    Key,
    /// A password hash as stored in a password file.
    PasswordHash,
    /// A password that was cracked or found in plain text.
    Password,
    /// A host the firmware contacts.
    Endpoint,
    /// A port a program listens on (`23`), from the report's listeners or, in reports
    /// without them, from remote-access findings.
    ListenerPort,
    /// A component by name; the version is the fact's `detail` and is range-searchable.
    Component,
    /// A known vulnerability (CVE id) of a component.
    Cve,
    /// A finding, by rule id.
    Rule,
}

impl FactKind {
    /// Every kind, in display order.
    pub const ALL: [FactKind; 8] = [
        FactKind::Key,
        FactKind::PasswordHash,
        FactKind::Password,
        FactKind::Endpoint,
        FactKind::ListenerPort,
        FactKind::Component,
        FactKind::Cve,
        FactKind::Rule,
    ];

    /// The name stored in the database and used on command lines and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Key => "key",
            FactKind::PasswordHash => "password-hash",
            FactKind::Password => "password",
            FactKind::Endpoint => "endpoint",
            FactKind::ListenerPort => "listener-port",
            FactKind::Component => "component",
            FactKind::Cve => "cve",
            FactKind::Rule => "rule",
        }
    }
}

impl std::str::FromStr for FactKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        FactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FactKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown fact kind {s:?} (one of {})", names.join(", "))
            })
    }
}

/// One fact of one report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Fact {
    pub kind: FactKind,
    /// What is searched for: a fingerprint, a hash, a host, a port, a component name, a CVE
    /// id, a rule id.
    pub value: String,
    /// For components, the sort key of the version; empty otherwise.
    pub version_key: String,
    /// What a person reads beside it: the version, the account, the protocol and program.
    pub detail: String,
    /// The file it was found in.
    pub path: String,
}

impl Fact {
    fn new(kind: FactKind, value: impl Into<String>, detail: String, path: &str) -> Self {
        Fact {
            kind,
            value: value.into(),
            version_key: String::new(),
            detail: cut(&detail, MAX_DETAIL),
            path: cut(path, MAX_PATH),
        }
    }
}

/// Longest value, detail and path kept, in bytes (a fact longer than this is not a
/// fingerprint, host or version; a longer detail or path is cut for display). The bounds keep
/// a fact within what a database index entry may hold (PostgreSQL: 2704 bytes).
const MAX_VALUE: usize = 256;
const MAX_DETAIL: usize = 256;
const MAX_PATH: usize = 512;

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn bounded(s: &str) -> String {
    cut(s, MAX_VALUE)
}

/// The password hash field of a password-file line (`account:HASH:…`), from a finding's
/// evidence.
fn hash_of_line(evidence: &str, account: &str) -> Option<String> {
    let mut fields = evidence.split(':');
    let first = fields.next()?;
    let hash = fields.next()?;
    (first == account && !hash.is_empty()).then(|| hash.to_string())
}

/// Every fact of `report`; `payload` is the same report as JSON, from which the listeners
/// are read, so that a report imported from an older or newer Assay is read alike (reports
/// made before the exposure map have none: their boot-time remote-access findings stand in).
pub(crate) fn facts_of(report: &Report, payload: &serde_json::Value) -> Vec<Fact> {
    let mut out = BTreeSet::new();
    for f in &report.findings {
        out.insert(Fact::new(
            FactKind::Rule,
            bounded(&f.rule),
            format!("{} {}", f.severity.as_str(), f.title),
            &f.path,
        ));
        if let Some(fp) = f.context.get("fingerprint") {
            let mut detail = f.rule.clone();
            for key in ["key_type", "bits", "account"] {
                if let Some(v) = f.context.get(key) {
                    detail.push(' ');
                    detail.push_str(v);
                }
            }
            out.insert(Fact::new(FactKind::Key, bounded(fp), detail, &f.path));
        }
        if let Some(password) = f.context.get("password") {
            let account = f
                .context
                .get("account")
                .or_else(|| f.context.get("username"))
                .cloned()
                .unwrap_or_default();
            out.insert(Fact::new(
                FactKind::Password,
                bounded(password),
                account,
                &f.path,
            ));
        }
        if let (Some(account), Some(scheme)) = (f.context.get("account"), f.context.get("scheme")) {
            if let Some(hash) = hash_of_line(&f.evidence, account) {
                out.insert(Fact::new(
                    FactKind::PasswordHash,
                    bounded(&hash),
                    format!("{account} {scheme}"),
                    &f.path,
                ));
            }
        }
        if f.category == Category::Endpoint {
            if let Some(host) = f.context.get("host") {
                out.insert(Fact::new(
                    FactKind::Endpoint,
                    bounded(&host.to_ascii_lowercase()),
                    f.rule.clone(),
                    &f.path,
                ));
            }
        }
    }
    let listeners = listener_ports(payload);
    if listeners.is_empty() {
        // Reports made before the exposure map: the boot model's remote-access findings
        // name the ports of the services it starts.
        for f in &report.findings {
            if f.category != Category::RemoteAccess {
                continue;
            }
            if let Some(port) = f.context.get("port").and_then(|p| p.parse::<u16>().ok()) {
                let proto = f.context.get("proto").cloned().unwrap_or_default();
                let service = f.context.get("service").cloned().unwrap_or(f.rule.clone());
                out.insert(Fact::new(
                    FactKind::ListenerPort,
                    port.to_string(),
                    format!("{proto} {service} (started at boot)")
                        .trim()
                        .to_string(),
                    &f.path,
                ));
            }
        }
    } else {
        out.extend(listeners);
    }
    for c in &report.components {
        let path = c.evidence.first().map_or("", |e| e.path.as_str());
        let mut fact = Fact::new(
            FactKind::Component,
            bounded(&c.name.to_ascii_lowercase()),
            bounded(&c.version),
            path,
        );
        fact.version_key = version_key(&c.version);
        out.insert(fact);
    }
    for v in &report.vulnerabilities {
        let component = report.components.get(v.component);
        let detail = match component {
            Some(c) => format!("{} {} {}", c.name, c.version, v.severity.as_str()),
            None => v.severity.as_str().to_string(),
        };
        let path = component
            .and_then(|c| c.evidence.first())
            .map_or("", |e| e.path.as_str());
        for id in std::iter::once(&v.id).chain(&v.aliases) {
            if id.starts_with("CVE-") {
                out.insert(Fact::new(FactKind::Cve, bounded(id), detail.clone(), path));
            }
        }
    }
    out.into_iter().collect()
}

/// Listener ports from the report's `listeners` records, when it has them.
fn listener_ports(payload: &serde_json::Value) -> Vec<Fact> {
    let Some(listeners) = payload.get("listeners").and_then(|l| l.as_array()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in listeners {
        let path = l.get("path").and_then(|p| p.as_str()).unwrap_or("");
        let started = l.get("started").and_then(|s| s.as_bool()).unwrap_or(false);
        let Some(ports) = l.get("ports").and_then(|p| p.as_array()) else {
            continue;
        };
        for p in ports {
            let Some(port) = p
                .get("port")
                .and_then(|n| n.as_u64())
                .filter(|n| *n <= 65535)
            else {
                continue;
            };
            let proto = p.get("protocol").and_then(|s| s.as_str()).unwrap_or("");
            let how = if started { "started" } else { "not started" };
            out.push(Fact::new(
                FactKind::ListenerPort,
                port.to_string(),
                format!("{proto} {path} ({how})").trim().to_string(),
                path,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> (Report, serde_json::Value) {
        let text = include_str!("../../assay-report/tests/fixtures/router.report.json");
        (
            serde_json::from_str(text).unwrap(),
            serde_json::from_str(text).unwrap(),
        )
    }

    #[test]
    fn a_report_gives_its_components_rules_and_credentials() {
        let (report, payload) = router();
        let facts = facts_of(&report, &payload);
        let kinds: BTreeSet<FactKind> = facts.iter().map(|f| f.kind).collect();
        assert!(kinds.contains(&FactKind::Rule));
        for c in &report.components {
            assert!(facts.iter().any(|f| f.kind == FactKind::Component
                && f.value == c.name.to_ascii_lowercase()
                && f.detail == c.version
                && f.version_key == version_key(&c.version)));
        }
        for f in report.findings.iter() {
            if let Some(pw) = f.context.get("password") {
                assert!(facts
                    .iter()
                    .any(|x| x.kind == FactKind::Password && &x.value == pw));
            }
        }
    }

    #[test]
    fn listeners_are_read_when_the_report_has_them_and_findings_otherwise() {
        let (report, mut payload) = router();
        let from_findings: Vec<Fact> = facts_of(&report, &payload)
            .into_iter()
            .filter(|f| f.kind == FactKind::ListenerPort)
            .collect();
        let boot_ports = report
            .findings
            .iter()
            .filter(|f| f.category == Category::RemoteAccess && f.context.contains_key("port"))
            .count();
        assert_eq!(from_findings.is_empty(), boot_ports == 0);
        payload["listeners"] = serde_json::json!([
            {"path": "/usr/sbin/dropbear", "started": true,
             "ports": [{"port": 22, "protocol": "tcp", "source": "code"}]},
            {"path": "/usr/sbin/bad", "ports": [{"port": 70000}, {"port": "x"}]}
        ]);
        let ports: Vec<Fact> = facts_of(&report, &payload)
            .into_iter()
            .filter(|f| f.kind == FactKind::ListenerPort)
            .collect();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].value, "22");
        assert_eq!(ports[0].detail, "tcp /usr/sbin/dropbear (started)");
    }

    #[test]
    fn long_facts_are_cut_at_character_boundaries() {
        let f = Fact::new(
            FactKind::Rule,
            bounded(&"é".repeat(300)),
            "x".repeat(999),
            &"/p".repeat(999),
        );
        assert_eq!(f.value.len(), 256);
        assert_eq!(f.detail.len(), 256);
        assert_eq!(f.path.len(), 512);
    }

    #[test]
    fn the_hash_is_the_second_field_of_the_account_line() {
        assert_eq!(
            hash_of_line("root:$1$abc$def:0:0:99999:7:::", "root").as_deref(),
            Some("$1$abc$def")
        );
        assert_eq!(hash_of_line("admin:x:0", "root"), None);
        assert_eq!(hash_of_line("root::0", "root"), None);
    }
}
