//! The SQLite database: feeds imported (the snapshots), vulnerability records, and the CPE and
//! package ranges they affect, indexed by what matching looks up (vendor/product, package name).

use crate::cpe::Cpe;
use crate::record::{Affected, CpeMatch, Record};
use crate::Error;
use assay_model::{Cvss, FeedSnapshot};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    imported TEXT NOT NULL,
    published TEXT,
    records INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vulns (
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    feed INTEGER NOT NULL REFERENCES feeds(id),
    aliases TEXT NOT NULL,
    summary TEXT,
    modified TEXT,
    cvss_version TEXT,
    cvss_score REAL,
    cvss_vector TEXT,
    PRIMARY KEY (source, id)
);
CREATE TABLE IF NOT EXISTS cpe_matches (
    source TEXT NOT NULL,
    vuln TEXT NOT NULL,
    part TEXT NOT NULL,
    vendor TEXT NOT NULL,
    product TEXT NOT NULL,
    criteria TEXT NOT NULL,
    start_incl TEXT,
    start_excl TEXT,
    end_incl TEXT,
    end_excl TEXT
);
CREATE INDEX IF NOT EXISTS cpe_by_product ON cpe_matches (vendor, product);
CREATE INDEX IF NOT EXISTS cpe_by_vuln ON cpe_matches (source, vuln);
CREATE TABLE IF NOT EXISTS packages (
    source TEXT NOT NULL,
    vuln TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    name TEXT NOT NULL,
    affected TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS packages_by_name ON packages (name);
CREATE INDEX IF NOT EXISTS packages_by_vuln ON packages (source, vuln);
PRAGMA user_version = 1;
";

/// A stored vulnerability with the snapshot of the feed that last provided it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVuln {
    /// `nvd` or `osv`.
    pub source: String,
    /// Id in that feed.
    pub id: String,
    /// Other ids.
    pub aliases: Vec<String>,
    /// One-line description.
    pub summary: Option<String>,
    /// CVSS rating.
    pub cvss: Option<Cvss>,
    /// The feed.
    pub feed: FeedSnapshot,
}

/// A CPE range row together with its vulnerability id.
#[derive(Debug, Clone)]
pub struct CpeRow {
    /// `nvd`.
    pub source: String,
    /// CVE id.
    pub vuln: String,
    /// CPE part of the criteria.
    pub part: String,
    /// The range.
    pub range: CpeMatch,
}

/// An affected-package row together with its vulnerability id.
#[derive(Debug, Clone)]
pub struct PackageRow {
    /// `osv`.
    pub source: String,
    /// OSV id.
    pub vuln: String,
    /// The affected package.
    pub affected: Affected,
}

/// Create the tables when missing.
pub fn init(conn: &Connection) -> Result<(), Error> {
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// The feed with this content hash, if it was imported before.
pub fn feed_by_hash(conn: &Connection, sha256: &str) -> Result<Option<FeedSnapshot>, Error> {
    Ok(conn
        .query_row(
            "SELECT name, kind, sha256, imported, published FROM feeds WHERE sha256 = ?1",
            [sha256],
            snapshot_row,
        )
        .optional()?)
}

/// Number of records a stored feed held when imported.
pub fn feed_records(conn: &Connection, sha256: &str) -> Result<u64, Error> {
    Ok(conn
        .query_row(
            "SELECT records FROM feeds WHERE sha256 = ?1",
            [sha256],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}

fn snapshot_row(r: &rusqlite::Row) -> rusqlite::Result<FeedSnapshot> {
    Ok(FeedSnapshot {
        name: r.get(0)?,
        kind: r.get(1)?,
        sha256: r.get(2)?,
        imported: r.get(3)?,
        published: r.get(4)?,
    })
}

/// Every imported feed, oldest first.
pub fn feeds(conn: &Connection) -> Result<Vec<FeedSnapshot>, Error> {
    let mut st =
        conn.prepare("SELECT name, kind, sha256, imported, published FROM feeds ORDER BY id")?;
    let rows = st.query_map([], snapshot_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Store one feed and its records in one transaction; a record already stored from an earlier
/// feed is replaced (the newer import wins).
pub fn insert_feed(
    conn: &mut Connection,
    snapshot: &FeedSnapshot,
    records: &[Record],
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO feeds (name, kind, sha256, imported, published, records)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            snapshot.name,
            snapshot.kind,
            snapshot.sha256,
            snapshot.imported,
            snapshot.published,
            records.len() as i64
        ],
    )?;
    let feed = tx.last_insert_rowid();
    {
        let mut del_cpe = tx.prepare("DELETE FROM cpe_matches WHERE source = ?1 AND vuln = ?2")?;
        let mut del_pkg = tx.prepare("DELETE FROM packages WHERE source = ?1 AND vuln = ?2")?;
        let mut ins_vuln = tx.prepare(
            "INSERT OR REPLACE INTO vulns
             (source, id, feed, aliases, summary, modified, cvss_version, cvss_score, cvss_vector)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut ins_cpe = tx.prepare(
            "INSERT INTO cpe_matches
             (source, vuln, part, vendor, product, criteria, start_incl, start_excl, end_incl, end_excl)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut ins_pkg = tx.prepare(
            "INSERT INTO packages (source, vuln, ecosystem, name, affected)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in records {
            del_cpe.execute(params![r.source, r.id])?;
            del_pkg.execute(params![r.source, r.id])?;
            let aliases = serde_json::to_string(&r.aliases).unwrap_or_else(|_| "[]".into());
            ins_vuln.execute(params![
                r.source,
                r.id,
                feed,
                aliases,
                r.summary,
                r.modified,
                r.cvss.as_ref().map(|c| c.version.clone()),
                r.cvss.as_ref().map(|c| c.score),
                r.cvss.as_ref().map(|c| c.vector.clone()),
            ])?;
            for m in &r.cpe_matches {
                let Some(cpe) = Cpe::parse(&m.criteria) else {
                    continue;
                };
                ins_cpe.execute(params![
                    r.source,
                    r.id,
                    cpe.part,
                    cpe.vendor,
                    cpe.product,
                    m.criteria,
                    m.start_including,
                    m.start_excluding,
                    m.end_including,
                    m.end_excluding,
                ])?;
            }
            for a in &r.affected {
                let json = serde_json::to_string(a).unwrap_or_else(|_| "{}".into());
                ins_pkg.execute(params![
                    r.source,
                    r.id,
                    a.ecosystem,
                    a.name.to_ascii_lowercase(),
                    json
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// CPE ranges for a vendor and product, in a stable order.
pub fn cpe_rows(conn: &Connection, vendor: &str, product: &str) -> Result<Vec<CpeRow>, Error> {
    let mut st = conn.prepare_cached(
        "SELECT source, vuln, part, criteria, start_incl, start_excl, end_incl, end_excl
         FROM cpe_matches WHERE vendor = ?1 AND product = ?2
         ORDER BY source, vuln, criteria, start_incl, start_excl, end_incl, end_excl",
    )?;
    let rows = st.query_map([vendor, product], |r| {
        Ok(CpeRow {
            source: r.get(0)?,
            vuln: r.get(1)?,
            part: r.get(2)?,
            range: CpeMatch {
                criteria: r.get(3)?,
                start_including: r.get(4)?,
                start_excluding: r.get(5)?,
                end_including: r.get(6)?,
                end_excluding: r.get(7)?,
            },
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Affected-package rows for a package name (lower case), in a stable order.
pub fn package_rows(conn: &Connection, name: &str) -> Result<Vec<PackageRow>, Error> {
    let mut st = conn.prepare_cached(
        "SELECT source, vuln, affected FROM packages WHERE name = ?1
         ORDER BY source, vuln, ecosystem, affected",
    )?;
    let rows = st.query_map([name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (source, vuln, json) = row?;
        if let Ok(affected) = serde_json::from_str(&json) {
            out.push(PackageRow {
                source,
                vuln,
                affected,
            });
        }
    }
    Ok(out)
}

/// One stored vulnerability with its feed snapshot.
pub fn vuln(conn: &Connection, source: &str, id: &str) -> Result<Option<StoredVuln>, Error> {
    let mut st = conn.prepare_cached(
        "SELECT v.aliases, v.summary, v.cvss_version, v.cvss_score, v.cvss_vector,
                f.name, f.kind, f.sha256, f.imported, f.published
         FROM vulns v JOIN feeds f ON f.id = v.feed WHERE v.source = ?1 AND v.id = ?2",
    )?;
    Ok(st
        .query_row([source, id], |r| {
            let aliases: String = r.get(0)?;
            let version: Option<String> = r.get(2)?;
            let score: Option<f64> = r.get(3)?;
            let vector: Option<String> = r.get(4)?;
            Ok(StoredVuln {
                source: source.to_string(),
                id: id.to_string(),
                aliases: serde_json::from_str(&aliases).unwrap_or_default(),
                summary: r.get(1)?,
                cvss: match (version, score, vector) {
                    (Some(version), Some(score), Some(vector)) => Some(Cvss {
                        version,
                        score,
                        vector,
                    }),
                    _ => None,
                },
                feed: FeedSnapshot {
                    name: r.get(5)?,
                    kind: r.get(6)?,
                    sha256: r.get(7)?,
                    imported: r.get(8)?,
                    published: r.get(9)?,
                },
            })
        })
        .optional()?)
}

/// Number of stored vulnerability records.
pub fn vuln_count(conn: &Connection) -> Result<u64, Error> {
    Ok(conn.query_row("SELECT COUNT(*) FROM vulns", [], |r| r.get::<_, i64>(0))? as u64)
}
