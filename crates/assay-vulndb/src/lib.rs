//! Assay's offline vulnerability database: NVD CVE 2.0 feeds and OSV records imported into a
//! local SQLite file, and the matcher that turns identified components into
//! `vulnerable-component` findings and report vulnerabilities.
//!
//! The model: every imported file, zip or folder is a *feed snapshot* (name, SHA-256, import
//! date, the feed's own date); each vulnerability record remembers the snapshot it came from,
//! so a report says exactly which data it rests on and a re-run with the same database gives
//! the same answer. Importing the same bytes twice changes nothing; importing a newer feed
//! replaces the records it carries.
//!
//! Matching is by CPE (vendor, product and NVD's version bounds, compared by [`version`]) and by
//! package (purl type to OSV ecosystem, name, and the record's ranges or listed versions).
//! It depends on the model only, so the CLI calls it after components are identified.

#![deny(unsafe_code)]

pub mod cpe;
pub mod cvss;
pub mod import;
pub mod matcher;
pub mod nvd;
pub mod osv;
pub mod record;
pub mod store;
pub mod version;

use assay_model::{ByteRange, Category, Component, FeedSnapshot, Finding, Severity, Vulnerability};
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Rule id of `vulnerable-component` findings.
pub const RULE_ID: &str = "ASSAY-VULN-001";
/// Short name of the rule.
pub const RULE_TITLE: &str = "Component with known vulnerabilities";
/// What the rule reports and why it matters.
pub const RULE_DESCRIPTION: &str = "A component whose identified version falls in the affected \
range of one or more vulnerabilities of an imported feed (NVD CVE 2.0 by CPE, OSV by package). \
One finding per component lists every CVE id with its CVSS rating, the matched range and the \
feed snapshot used; severity is that of the worst CVSS base score (critical >= 9, high >= 7, \
medium >= 4, else low; medium when no rating is known).";
/// Default rule severity (a finding takes its worst vulnerability's).
pub const RULE_SEVERITY: Severity = Severity::Medium;
/// Category of the rule.
pub const RULE_CATEGORY: Category = Category::VulnerableComponent;

/// What can go wrong opening, importing or querying the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed.
    #[error("vulnerability database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A document or archive exceeds the import limits.
    #[error("{0}: larger than the import limit")]
    TooLarge(String),
    /// An archive or compressed file is damaged.
    #[error("{0}")]
    Corrupt(String),
    /// The path holds no NVD or OSV records.
    #[error("{0}: no NVD or OSV records found")]
    NotAFeed(String),
    /// No database at the path.
    #[error("{0}: no vulnerability database (run `assay vulndb import`)")]
    Missing(String),
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The outcome of importing one path.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The feed snapshot (the earlier one when the same bytes were imported before).
    pub feed: FeedSnapshot,
    /// Records in the feed.
    pub records: usize,
    /// The same bytes had been imported before; nothing changed.
    pub already_imported: bool,
    /// Documents skipped as not being NVD or OSV records.
    pub skipped: Vec<String>,
}

/// The default database path: `$ASSAY_VULNDB`, else `$XDG_DATA_HOME/assay/vulndb.sqlite`, else
/// `~/.local/share/assay/vulndb.sqlite`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASSAY_VULNDB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("assay").join("vulndb.sqlite"))
}

/// Today's UTC date as `YYYY-MM-DD`, the import date of a feed.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_date((secs / 86_400) as i64)
}

/// Days since 1970-01-01 as the `YYYY-MM-DD` date they fall on.
fn civil_date(days: i64) -> String {
    let (y, m, d) = assay_model::time::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// An open vulnerability database.
pub struct VulnDb {
    conn: Connection,
}

impl VulnDb {
    /// Open or create the database at `path` for importing (parent folders are created).
    pub fn create(path: &Path) -> Result<Self, Error> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let conn = Connection::open(path)?;
        store::init(&conn)?;
        Ok(VulnDb { conn })
    }

    /// Open an existing database read-only, for matching.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if !path.is_file() {
            return Err(Error::Missing(path.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Also validates that this is a database with our tables.
        store::vuln_count(&conn)?;
        Ok(VulnDb { conn })
    }

    /// Import one file, zip or folder as a feed snapshot dated today.
    pub fn import(&mut self, path: &Path) -> Result<ImportOutcome, Error> {
        self.import_dated(path, &today())
    }

    /// Import with an explicit import date (`YYYY-MM-DD`), for reproducible databases.
    pub fn import_dated(&mut self, path: &Path, date: &str) -> Result<ImportOutcome, Error> {
        // A file imported before is recognised by its hash without parsing it again (a yearly
        // NVD feed is hundreds of MB).
        if path.is_file() {
            let sha256 = import::file_sha256(path)?;
            if let Some(feed) = store::feed_by_hash(&self.conn, &sha256)? {
                return Ok(ImportOutcome {
                    records: store::feed_records(&self.conn, &sha256)? as usize,
                    feed,
                    already_imported: true,
                    skipped: Vec::new(),
                });
            }
        }
        let loaded = import::load(path)?;
        if let Some(feed) = store::feed_by_hash(&self.conn, &loaded.sha256)? {
            return Ok(ImportOutcome {
                feed,
                records: loaded.records.len(),
                already_imported: true,
                skipped: loaded.skipped,
            });
        }
        let feed = FeedSnapshot {
            name: loaded.name,
            kind: loaded.kind,
            sha256: loaded.sha256,
            imported: date.to_string(),
            published: loaded.published,
        };
        store::insert_feed(&mut self.conn, &feed, &loaded.records)?;
        Ok(ImportOutcome {
            feed,
            records: loaded.records.len(),
            already_imported: false,
            skipped: loaded.skipped,
        })
    }

    /// Every imported feed snapshot, oldest first.
    pub fn feeds(&self) -> Result<Vec<FeedSnapshot>, Error> {
        store::feeds(&self.conn)
    }

    /// Number of vulnerability records held.
    pub fn record_count(&self) -> Result<u64, Error> {
        store::vuln_count(&self.conn)
    }

    /// The vulnerabilities of each component (`component` indexes `components`).
    pub fn match_components(&self, components: &[Component]) -> Result<Vec<Vulnerability>, Error> {
        matcher::match_components(&self.conn, components)
    }
}

/// The warning a scan reports (kind `vulndb`) when no database is available.
pub const NO_DATABASE: &str = "no vulnerability database; run assay vulndb import";

/// One `vulnerable-component` finding per component with vulnerabilities, resting on the
/// component's first evidence file and the bytes that carry its version.
pub fn findings(components: &[Component], vulns: &[Vulnerability]) -> Vec<Finding> {
    let mut by_component: BTreeMap<usize, Vec<&Vulnerability>> = BTreeMap::new();
    for v in vulns {
        by_component.entry(v.component).or_default().push(v);
    }
    let mut out = Vec::new();
    for (index, list) in by_component {
        let Some(c) = components.get(index) else {
            continue;
        };
        let severity = list
            .iter()
            .map(|v| v.severity)
            .max()
            .unwrap_or(RULE_SEVERITY);
        let ids: Vec<&str> = list.iter().map(|v| v.id.as_str()).collect();
        let shown: Vec<&str> = ids.iter().take(5).copied().collect();
        let more = if ids.len() > 5 { ", …" } else { "" };
        let title = format!(
            "{} {} has {} known vulnerabilit{} ({}{more})",
            c.name,
            c.version,
            ids.len(),
            if ids.len() == 1 { "y" } else { "ies" },
            shown.join(", ")
        );
        let mut context = BTreeMap::new();
        context.insert("component".to_string(), c.name.clone());
        context.insert("version".to_string(), c.version.clone());
        context.insert("purl".to_string(), c.purl.clone());
        if let Some(cpe) = &c.cpe {
            context.insert("cpe".to_string(), cpe.clone());
        }
        context.insert("vulnerabilities".to_string(), ids.join(", "));
        let mut feeds: Vec<String> = Vec::new();
        for v in &list {
            let rating = match &v.cvss {
                Some(c) => format!("CVSS {} {} ({})", c.version, c.score, c.vector),
                None => "no CVSS rating".to_string(),
            };
            let feed = format!(
                "{} ({}, imported {}, sha256 {})",
                v.feed.name, v.feed.kind, v.feed.imported, v.feed.sha256
            );
            context.insert(
                v.id.clone(),
                format!(
                    "{}; {rating}; affected: {}; feed: {feed}",
                    v.severity.as_str(),
                    v.matched
                ),
            );
            if !feeds.contains(&feed) {
                feeds.push(feed);
            }
        }
        feeds.sort();
        context.insert("feeds".to_string(), feeds.join("; "));
        let ev = c.evidence.first();
        out.push(Finding {
            rule: RULE_ID.to_string(),
            category: RULE_CATEGORY,
            severity,
            confidence: c.confidence,
            title,
            path: ev.map(|e| e.path.clone()).unwrap_or_default(),
            location: ev.map(|e| e.location.clone()).unwrap_or_default(),
            node: ev.map(|e| e.node).unwrap_or(0),
            range: ev
                .and_then(|e| e.range)
                .unwrap_or(ByteRange { start: 0, end: 0 }),
            evidence: ev
                .and_then(|e| e.matched.clone())
                .unwrap_or_else(|| c.version.clone()),
            sha256: ev.map(|e| e.sha256.clone()).unwrap_or_default(),
            context,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }
}
