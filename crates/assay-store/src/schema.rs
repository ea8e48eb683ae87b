//! The schema, as numbered migrations applied in order when a store opens. One schema for
//! both engines: the SQL differs only in how an auto-numbered key is declared.
//!
//! A migration, once released, is never edited: a change is a new migration at the end.

use crate::db::{Backend, Sql};
use crate::StoreError;

/// One schema change.
struct Migration {
    version: i64,
    name: &'static str,
    /// SQL with placeholders for what the engines declare differently: `{id}` an
    /// auto-numbered primary key, `{bytes}` a text column compared byte by byte (sort keys
    /// must not follow a language's collation), `{facts_key}` and `{facts_index}` how the
    /// facts table is laid out for range reads.
    sql: &'static str,
}

/// The engine-specific text of each placeholder.
fn dialect(backend: Backend) -> [(&'static str, &'static str); 4] {
    match backend {
        Backend::Sqlite => [
            ("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("{bytes}", ""),
            (
                "{facts_key}",
                ", PRIMARY KEY (kind, value, version_key, report_id, detail, path)) WITHOUT ROWID",
            ),
            ("{facts_index}", ""),
        ],
        Backend::Postgres => [
            ("{id}", "BIGSERIAL PRIMARY KEY"),
            ("{bytes}", "COLLATE \"C\""),
            ("{facts_key}", ")"),
            (
                "{facts_index}",
                "CREATE INDEX facts_by_value ON facts (kind, value, version_key) \
                 INCLUDE (sha256, report_id, detail, path);",
            ),
        ],
    }
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "images, settings, jobs, reports, facts, approvals",
        sql: r#"
-- Image bytes known to the blob store, by content.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    size BIGINT NOT NULL,
    added_at BIGINT NOT NULL
);

-- An image as the lab knows it: a name and vendor/model/version over some content. The same
-- content under several names is several rows over one blob.
CREATE TABLE images (
    id {id},
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    name TEXT NOT NULL,
    vendor TEXT {bytes} NOT NULL,
    model TEXT {bytes} NOT NULL,
    version TEXT NOT NULL,
    version_key TEXT {bytes} NOT NULL,
    released TEXT,
    added_at BIGINT NOT NULL,
    UNIQUE (sha256, name, vendor, model, version)
);
CREATE INDEX images_by_sha256 ON images (sha256);
CREATE INDEX images_by_release ON images (vendor, model, version_key);

-- Scan settings by the hash of their canonical JSON.
CREATE TABLE settings (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

-- One scan of some content with some settings.
CREATE TABLE jobs (
    id {id},
    sha256 TEXT NOT NULL,
    settings_id TEXT NOT NULL REFERENCES settings (id),
    image_id BIGINT NOT NULL REFERENCES images (id),
    as_of BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires BIGINT,
    heartbeat_at BIGINT,
    last_error TEXT,
    queued_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    report_id BIGINT,
    UNIQUE (sha256, settings_id)
);
CREATE INDEX jobs_ready ON jobs (state, run_after, id);
CREATE INDEX jobs_leases ON jobs (state, lease_expires);

-- Signed reports, exactly one per content and settings (the envelope in its own table, so
-- that listing and joining reports never reads report bodies).
CREATE TABLE reports (
    id {id},
    sha256 TEXT NOT NULL,
    settings_id TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('scan', 'import')),
    job_id BIGINT,
    worker TEXT,
    image_name TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    stored_at BIGINT NOT NULL,
    UNIQUE (sha256, settings_id)
);
CREATE INDEX reports_by_sha256 ON reports (sha256);
CREATE TABLE report_bodies (
    report_id BIGINT PRIMARY KEY REFERENCES reports (id),
    envelope TEXT NOT NULL
);

-- Facts of each report, written with it, for questions across images (with the content
-- hash, so that a question joins facts to images directly).
-- Stored in the order of the questions: on SQLite the table is clustered on its key, on
-- PostgreSQL an index carries every column a question reads, so a question reads one
-- contiguous range instead of one table page per fact.
CREATE TABLE facts (
    report_id BIGINT NOT NULL REFERENCES reports (id),
    sha256 TEXT NOT NULL,
    kind TEXT {bytes} NOT NULL,
    value TEXT {bytes} NOT NULL,
    version_key TEXT {bytes} NOT NULL,
    detail TEXT NOT NULL,
    path TEXT NOT NULL
    {facts_key};
{facts_index}
CREATE INDEX facts_by_report ON facts (report_id, kind);

-- The release of a model a lab has approved.
CREATE TABLE approvals (
    image_id BIGINT PRIMARY KEY REFERENCES images (id),
    approved_by TEXT NOT NULL,
    note TEXT NOT NULL,
    approved_at BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        name: "users, sessions, API tokens, audit log, catalogue order",
        sql: r#"
-- The catalogue's order (the image list pages through it): an index in exactly that order,
-- so that a page at any offset reads the index instead of sorting every image.
CREATE INDEX images_in_catalogue_order ON images (vendor, model, version_key, released, id);

-- People who may use the web UI and the REST API. Passwords are argon2 PHC strings made by
-- the server; the store never sees a password.
CREATE TABLE users (
    id {id},
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0
);

-- Browser sessions by the SHA-256 of their random cookie value (a stolen database yields
-- no usable cookie), with the CSRF token of their forms.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- API tokens: the id is public (part of the token), the secret is kept as an argon2 hash.
CREATE TABLE api_tokens (
    id {id},
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Who did what: logins, uploads, downloads, approvals, deletions, user and token changes.
CREATE TABLE audit (
    id {id},
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
-- Recent entries of one kind about one target (failed logins for a user name).
CREATE INDEX audit_by_target ON audit (target, action, at);
"#,
    },
];

/// The newest schema version this build knows.
pub fn current_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Apply every migration the database lacks, in one transaction.
pub(crate) fn migrate(sql: &mut dyn Sql, now_ms: i64) -> Result<(), StoreError> {
    if sql.backend() == Backend::Postgres {
        // Two processes starting on a new database at once: the second waits here.
        sql.execute("SELECT pg_advisory_xact_lock(4242424242)", &[])?;
    }
    sql.batch(
        "CREATE TABLE IF NOT EXISTS assay_schema (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )?;
    let found = sql
        .query(
            "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM assay_schema",
            &[],
        )?
        .first()
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(0);
    if found > current_version() {
        return Err(StoreError::SchemaTooNew {
            found,
            known: current_version(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let mut text = m.sql.to_string();
        for (placeholder, replacement) in dialect(sql.backend()) {
            text = text.replace(placeholder, replacement);
        }
        sql.batch(&text)?;
        sql.execute(
            "INSERT INTO assay_schema (version, name, applied_at) VALUES ($1, $2, $3)",
            &[m.version.into(), m.name.into(), now_ms.into()],
        )?;
    }
    Ok(())
}
