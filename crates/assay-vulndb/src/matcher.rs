//! Matching components against the database: by CPE (vendor, product and NVD's version bounds)
//! and by package (purl type → OSV ecosystem, name, ranges or listed versions), grouped so that
//! one vulnerability known to both feeds is reported once per component.

use crate::cpe::{is_unset, Cpe};
use crate::cvss::severity;
use crate::record::{Affected, CpeMatch};
use crate::store::{self, StoredVuln};
use crate::version::{compare_dpkg, compare_upstream};
use crate::Error;
use assay_model::{Component, Severity, Vulnerability};
use rusqlite::Connection;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Severity of a vulnerability whose feed gives no CVSS rating.
const UNRATED: Severity = Severity::Medium;

/// Every (component, vulnerability) pair the database knows, ordered by component index and id.
pub fn match_components(
    conn: &Connection,
    components: &[Component],
) -> Result<Vec<Vulnerability>, Error> {
    let mut out = Vec::new();
    for (index, c) in components.iter().enumerate() {
        let mut hits: Vec<(StoredVuln, String)> = Vec::new();
        for (source, id, matched) in cpe_hits(conn, c)?.into_iter().chain(package_hits(conn, c)?) {
            if let Some(v) = store::vuln(conn, &source, &id)? {
                hits.push((v, matched));
            }
        }
        out.extend(group(index, hits));
    }
    Ok(out)
}

/// The version a CPE-based match compares: the CPE's own version, else the component's.
fn cpe_version(c: &Component, cpe: &Cpe) -> String {
    let base = if is_unset(&cpe.version) {
        c.version.clone()
    } else {
        cpe.version.clone()
    };
    if is_unset(&cpe.update) {
        base
    } else {
        format!("{base}{}", cpe.update)
    }
}

fn cpe_hits(conn: &Connection, c: &Component) -> Result<Vec<(String, String, String)>, Error> {
    let Some(cpe) = c.cpe.as_deref().and_then(Cpe::parse) else {
        return Ok(Vec::new());
    };
    let version = cpe_version(c, &cpe);
    if version.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for row in store::cpe_rows(conn, &cpe.vendor, &cpe.product)? {
        if row.part != cpe.part && !is_unset(&row.part) && !is_unset(&cpe.part) {
            continue;
        }
        if let Some(matched) = cpe_range_matches(&row.range, &version) {
            out.push((row.source, row.vuln, matched));
        }
    }
    Ok(out)
}

/// Whether `version` falls in an NVD CPE match; the range described for the report if so.
pub fn cpe_range_matches(m: &CpeMatch, version: &str) -> Option<String> {
    let crit = Cpe::parse(&m.criteria)?;
    if crit.version == "-" || crit.version.is_empty() {
        return None;
    }
    if crit.version != "*" {
        let target = if is_unset(&crit.update) {
            crit.version.clone()
        } else {
            format!("{}{}", crit.version, crit.update)
        };
        return (compare_upstream(version, &target) == Ordering::Equal)
            .then(|| format!("{} (exactly {target})", m.criteria));
    }
    let mut bounds = Vec::new();
    if let Some(s) = &m.start_including {
        if compare_upstream(version, s) == Ordering::Less {
            return None;
        }
        bounds.push(format!(">= {s}"));
    }
    if let Some(s) = &m.start_excluding {
        if compare_upstream(version, s) != Ordering::Greater {
            return None;
        }
        bounds.push(format!("> {s}"));
    }
    if let Some(e) = &m.end_including {
        if compare_upstream(version, e) == Ordering::Greater {
            return None;
        }
        bounds.push(format!("<= {e}"));
    }
    if let Some(e) = &m.end_excluding {
        if compare_upstream(version, e) != Ordering::Less {
            return None;
        }
        bounds.push(format!("< {e}"));
    }
    let range = if bounds.is_empty() {
        "all versions".to_string()
    } else {
        bounds.join(", ")
    };
    Some(format!("{} versions {range}", m.criteria))
}

/// The parts of a purl that matching uses.
#[derive(Debug, PartialEq, Eq)]
struct Purl {
    kind: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let (h, l) = (b[i + 1], b[i + 2]);
            if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() {
                let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(digit(h) * 16 + digit(l));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_purl(s: &str) -> Option<Purl> {
    let rest = s.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next()?;
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) => (p, Some(percent_decode(v))),
        None => (rest, None),
    };
    let mut segs = path.split('/');
    let kind = segs.next()?.to_ascii_lowercase();
    let segs: Vec<&str> = segs.collect();
    let (name, ns) = segs.split_last()?;
    Some(Purl {
        kind,
        namespace: (!ns.is_empty()).then(|| percent_decode(&ns.join("/")).to_ascii_lowercase()),
        name: percent_decode(name),
        version,
    })
}

/// The OSV ecosystem (the part before `:`) a purl's packages belong to, if any.
fn ecosystem_of(p: &Purl) -> Option<&'static str> {
    Some(match (p.kind.as_str(), p.namespace.as_deref()) {
        ("deb", Some("debian")) => "Debian",
        ("deb", Some("ubuntu")) => "Ubuntu",
        ("apk", Some("alpine")) => "Alpine",
        ("pypi", _) => "PyPI",
        ("npm", _) => "npm",
        ("cargo", _) => "crates.io",
        ("golang", _) => "Go",
        ("maven", _) => "Maven",
        ("gem", _) => "RubyGems",
        ("nuget", _) => "NuGet",
        ("composer", _) => "Packagist",
        ("hex", _) => "Hex",
        ("pub", _) => "Pub",
        _ => return None,
    })
}

/// OSV ecosystems that describe upstream projects rather than a distribution's packages, and
/// so apply to a component identified from its own version string.
fn is_upstream_ecosystem(e: &str) -> bool {
    matches!(e, "" | "OSS-Fuzz" | "GIT")
}

fn package_hits(conn: &Connection, c: &Component) -> Result<Vec<(String, String, String)>, Error> {
    let purl = parse_purl(&c.purl);
    let name = purl
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_else(|| c.name.clone())
        .to_ascii_lowercase();
    let ecosystem = purl.as_ref().and_then(ecosystem_of);
    let version = purl
        .as_ref()
        .and_then(|p| p.version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| c.version.clone());
    if version.is_empty() || name.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for row in store::package_rows(conn, &name)? {
        let row_eco = row.affected.ecosystem.split(':').next().unwrap_or("");
        let applies = match ecosystem {
            Some(e) => row_eco == e,
            None => is_upstream_ecosystem(row_eco),
        };
        if !applies {
            continue;
        }
        let cmp: fn(&str, &str) -> Ordering = match row_eco {
            "Debian" | "Ubuntu" => compare_dpkg,
            _ => compare_upstream,
        };
        if let Some(m) = package_affected(&row.affected, &version, cmp) {
            out.push((row.source, row.vuln, m));
        }
    }
    Ok(out)
}

/// Whether an OSV affected package covers `version`; the matched range described if so.
pub fn package_affected(
    a: &Affected,
    version: &str,
    cmp: fn(&str, &str) -> Ordering,
) -> Option<String> {
    let who = format!("{} {}", a.ecosystem, a.name);
    if a.versions
        .iter()
        .any(|v| v == version || cmp(v, version) == Ordering::Equal)
    {
        return Some(format!("{who}: {version} listed as affected"));
    }
    for r in &a.ranges {
        if r.kind != "ECOSYSTEM" && r.kind != "SEMVER" {
            continue;
        }
        if range_affects(&r.events, version, cmp) {
            let desc: Vec<String> = r.events.iter().map(|(k, v)| format!("{k} {v}")).collect();
            return Some(format!("{who}: {}", desc.join(", ")));
        }
    }
    None
}

/// OSV range evaluation: events in version order; `introduced` opens, `fixed` closes at its
/// version, `last_affected` closes after it.
fn range_affects(
    events: &[(String, String)],
    version: &str,
    cmp: fn(&str, &str) -> Ordering,
) -> bool {
    let mut evs: Vec<&(String, String)> = events
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "introduced" | "fixed" | "last_affected"))
        .collect();
    let key = |(k, v): &(String, String), other: &str| -> Ordering {
        if k == "introduced" && v == "0" {
            Ordering::Less
        } else {
            cmp(v, other)
        }
    };
    evs.sort_by(|a, b| {
        if a.0 == "introduced" && a.1 == "0" {
            Ordering::Less
        } else if b.0 == "introduced" && b.1 == "0" {
            Ordering::Greater
        } else {
            cmp(&a.1, &b.1)
        }
    });
    let mut affected = false;
    for e in evs {
        let o = key(e, version);
        match e.0.as_str() {
            "introduced" if o != Ordering::Greater => affected = true,
            "fixed" if o != Ordering::Greater => affected = false,
            "last_affected" if o == Ordering::Less => affected = false,
            _ => {}
        }
    }
    affected
}

/// The id a vulnerability is reported under: its CVE id when any of its ids is one.
fn canonical_id(v: &StoredVuln) -> String {
    std::iter::once(&v.id)
        .chain(&v.aliases)
        .find(|i| i.starts_with("CVE-"))
        .unwrap_or(&v.id)
        .clone()
}

fn group(component: usize, hits: Vec<(StoredVuln, String)>) -> Vec<Vulnerability> {
    let mut groups: BTreeMap<String, Vec<(StoredVuln, String)>> = BTreeMap::new();
    for (v, m) in hits {
        groups.entry(canonical_id(&v)).or_default().push((v, m));
    }
    let mut out = Vec::new();
    for (id, mut members) in groups {
        // NVD first (it carries the CPE ranges and the NVD rating), then by id.
        members.sort_by(|a, b| {
            (a.0.source != "nvd", &a.0.id, &a.1).cmp(&(b.0.source != "nvd", &b.0.id, &b.1))
        });
        members.dedup_by(|a, b| a.0.id == b.0.id && a.0.source == b.0.source && a.1 == b.1);
        let primary = &members[0].0;
        let cvss = members.iter().find_map(|(v, _)| v.cvss.clone());
        let mut aliases: Vec<String> = members
            .iter()
            .flat_map(|(v, _)| std::iter::once(v.id.clone()).chain(v.aliases.iter().cloned()))
            .filter(|a| *a != id)
            .collect();
        aliases.sort();
        aliases.dedup();
        let mut matched: Vec<&str> = members.iter().map(|(_, m)| m.as_str()).collect();
        matched.dedup();
        out.push(Vulnerability {
            id,
            aliases,
            component,
            summary: members.iter().find_map(|(v, _)| v.summary.clone()),
            severity: cvss.as_ref().map(|c| severity(c.score)).unwrap_or(UNRATED),
            cvss,
            matched: matched.join("; "),
            feed: primary.feed.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Range;

    fn m(crit: &str, si: Option<&str>, ee: Option<&str>, ei: Option<&str>) -> CpeMatch {
        CpeMatch {
            criteria: crit.into(),
            start_including: si.map(Into::into),
            start_excluding: None,
            end_including: ei.map(Into::into),
            end_excluding: ee.map(Into::into),
        }
    }

    #[test]
    fn cpe_bounds() {
        let busybox = m(
            "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*",
            None,
            None,
            Some("1.35.0"),
        );
        assert!(cpe_range_matches(&busybox, "1.35.0").is_some());
        assert!(cpe_range_matches(&busybox, "1.36.0").is_none());
        let ossl = m(
            "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*",
            Some("3.0.0"),
            Some("3.0.7"),
            None,
        );
        assert!(cpe_range_matches(&ossl, "3.0.2").is_some());
        assert!(cpe_range_matches(&ossl, "3.0.7").is_none());
        assert!(cpe_range_matches(&ossl, "1.1.1k").is_none());
        let exact = m(
            "cpe:2.3:a:openbsd:openssh:7.4:p1:*:*:*:*:*:*",
            None,
            None,
            None,
        );
        assert!(cpe_range_matches(&exact, "7.4p1").is_some());
        assert!(cpe_range_matches(&exact, "7.4").is_none());
        let na = m("cpe:2.3:a:x:y:-:*:*:*:*:*:*:*", None, None, None);
        assert!(cpe_range_matches(&na, "1.0").is_none());
    }

    #[test]
    fn purls_parse() {
        let p = parse_purl("pkg:deb/ubuntu/busybox@1%3A1.30.1-7ubuntu3?arch=amd64").unwrap();
        assert_eq!(p.version.as_deref(), Some("1:1.30.1-7ubuntu3"));
        assert_eq!(ecosystem_of(&p), Some("Ubuntu"));
        let p = parse_purl("pkg:generic/busybox@1.35.0").unwrap();
        assert_eq!((p.name.as_str(), ecosystem_of(&p)), ("busybox", None));
        assert!(parse_purl("nonsense").is_none());
        assert_eq!(percent_decode("a%"), "a%");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn osv_ranges() {
        let ev = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let a = Affected {
            ecosystem: "OSS-Fuzz".into(),
            name: "dnsmasq".into(),
            purl: None,
            ranges: vec![Range {
                kind: "ECOSYSTEM".into(),
                events: ev(&[("introduced", "2.80"), ("fixed", "2.90")]),
            }],
            versions: vec![],
        };
        assert!(package_affected(&a, "2.89", compare_upstream).is_some());
        assert!(package_affected(&a, "2.80", compare_upstream).is_some());
        assert!(package_affected(&a, "2.90", compare_upstream).is_none());
        assert!(package_affected(&a, "2.79", compare_upstream).is_none());
        let last = ev(&[("introduced", "0"), ("last_affected", "1.35.0")]);
        assert!(range_affects(&last, "1.35.0", compare_upstream));
        assert!(!range_affects(&last, "1.35.1", compare_upstream));
    }
}
