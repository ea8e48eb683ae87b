//! The database behind the store: SQLite through `rusqlite` or PostgreSQL through `postgres`,
//! behind the few operations the store needs (statements with parameters, rows of integers
//! and text, transactions) so that every query is written once.
//!
//! SQL is written in PostgreSQL's form (`$1`, `$2`); for SQLite the placeholders become `?1`,
//! `?2`, which SQLite binds by number the same way. Only integers (`BIGINT`) and text cross
//! the boundary, so both drivers see the same types.

use crate::schema;
use crate::StoreError;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Where the database is: `sqlite:PATH` (embedded) or a PostgreSQL connection URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// An SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://user:password@host:port/db` or key=value form).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseLocation::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // Never print a password that the URL may carry.
            DatabaseLocation::Postgres(_) => f.write_str("postgres://…"),
        }
    }
}

impl std::str::FromStr for DatabaseLocation {
    type Err = StoreError;

    /// `sqlite:PATH`, `sqlite://PATH`, `postgres://…` or `postgresql://…`.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::BadDatabaseUrl(s.to_string()));
            }
            return Ok(DatabaseLocation::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(DatabaseLocation::Postgres(s.to_string()));
        }
        Err(StoreError::BadDatabaseUrl(s.to_string()))
    }
}

/// Which SQL engine a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A parameter or a column value: the only two types the schema uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Row(format!("no column {i}")))
    }

    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.at(i)? {
            Value::Int(v) => Ok(*v),
            Value::Text(None) => Ok(None),
            Value::Text(Some(t)) => t
                .parse()
                .map(Some)
                .map_err(|_| StoreError::Row(format!("column {i}: {t:?} is not an integer"))),
        }
    }

    pub(crate) fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| StoreError::Row(format!("column {i} is NULL")))
    }

    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Value::Text(v) => Ok(v.clone()),
            Value::Int(v) => Ok(v.map(|n| n.to_string())),
        }
    }

    pub(crate) fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Row(format!("column {i} is NULL")))
    }
}

/// What a statement can be run on: a connection or a transaction of either engine.
pub(crate) trait Sql {
    /// The engine (for the few statements that differ).
    fn backend(&self) -> Backend;
    /// Run a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    /// Run a query; its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// Run several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;
}

/// `$N` placeholders as SQLite's `?N`.
fn sqlite_placeholders(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

struct SqliteSql<'c>(&'c rusqlite::Connection);

fn sqlite_params(params: &[Value]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    params
        .iter()
        .map(|p| match p {
            Value::Int(Some(i)) => V::Integer(*i),
            Value::Text(Some(t)) => V::Text(t.clone()),
            Value::Int(None) | Value::Text(None) => V::Null,
        })
        .collect()
}

impl Sql for SqliteSql<'_> {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(&sqlite_placeholders(sql))?;
        let n = stmt.execute(rusqlite::params_from_iter(sqlite_params(params)))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.0.prepare_cached(&sqlite_placeholders(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(sqlite_params(params)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Int(None),
                    ValueRef::Integer(n) => Value::Int(Some(n)),
                    ValueRef::Real(r) => Value::Int(Some(r as i64)),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }
}

struct PostgresSql<'t, 'c>(&'t mut postgres::Transaction<'c>);

fn postgres_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Value::Int(v) => Box::new(*v),
                Value::Text(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn postgres_row(row: &postgres::Row) -> Result<Row, StoreError> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        values.push(if *ty == Type::INT8 {
            Value::Int(row.try_get::<_, Option<i64>>(i)?)
        } else if *ty == Type::INT4 {
            Value::Int(row.try_get::<_, Option<i32>>(i)?.map(i64::from))
        } else if *ty == Type::INT2 {
            Value::Int(row.try_get::<_, Option<i16>>(i)?.map(i64::from))
        } else if *ty == Type::BOOL {
            Value::Int(row.try_get::<_, Option<bool>>(i)?.map(i64::from))
        } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::NAME {
            Value::Text(row.try_get::<_, Option<String>>(i)?)
        } else {
            return Err(StoreError::Row(format!(
                "column {} has type {ty}, which the store does not read",
                column.name()
            )));
        });
    }
    Ok(Row(values))
}

impl Sql for PostgresSql<'_, '_> {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let owned = postgres_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(sql, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let owned = postgres_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        self.0.query(sql, &refs)?.iter().map(postgres_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.batch_execute(sql)?)
    }
}

/// One open connection.
enum Connection {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

impl Connection {
    fn healthy(&self) -> bool {
        match self {
            Connection::Sqlite(_) => true,
            Connection::Postgres(c) => !c.is_closed(),
        }
    }
}

/// How a transaction takes its locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxKind {
    /// Reads only: SQLite readers do not wait for the writer.
    Read,
    /// Writes: SQLite takes the write lock at the start (`BEGIN IMMEDIATE`), so that a
    /// transaction that reads then writes (a claim) is serialised with every other writer.
    Write,
}

/// The database with a small pool of open connections. Connections that broke (a restarted
/// server) are dropped, and the next call opens a new one.
pub(crate) struct Database {
    location: DatabaseLocation,
    idle: Mutex<Vec<Connection>>,
}

/// How long SQLite waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long connecting to PostgreSQL may take.
const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept for reuse.
const POOL_IDLE_MAX: usize = 8;

impl Database {
    /// Open the database and bring its schema up to date.
    pub(crate) fn open(location: DatabaseLocation, now_ms: i64) -> Result<Self, StoreError> {
        let db = Database {
            location,
            idle: Mutex::new(Vec::new()),
        };
        db.transaction(TxKind::Write, |sql| schema::migrate(sql, now_ms))?;
        Ok(db)
    }

    /// The engine.
    pub(crate) fn backend(&self) -> Backend {
        match self.location {
            DatabaseLocation::Sqlite(_) => Backend::Sqlite,
            DatabaseLocation::Postgres(_) => Backend::Postgres,
        }
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        match &self.location {
            DatabaseLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::io("creating", dir, e))?;
                }
                let conn = rusqlite::Connection::open(path)?;
                conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
                // WAL: readers never wait for the writer; NORMAL sync is durable across
                // process crashes (a killed worker), which is the failure the queue is for.
                conn.execute_batch(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON;",
                )?;
                conn.set_prepared_statement_cache_capacity(64);
                Ok(Connection::Sqlite(conn))
            }
            DatabaseLocation::Postgres(url) => {
                let mut config: postgres::Config = url.parse()?;
                config.connect_timeout(POSTGRES_CONNECT_TIMEOUT);
                let client = config.connect(postgres::NoTls)?;
                Ok(Connection::Postgres(Box::new(client)))
            }
        }
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(c) if c.healthy() => Ok(c),
            _ => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        if !conn.healthy() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_IDLE_MAX {
            idle.push(conn);
        }
    }

    /// Run `f` in one transaction, committed when it returns `Ok`.
    pub(crate) fn transaction<T>(
        &self,
        kind: TxKind,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.take()?;
        let result = match &mut conn {
            Connection::Sqlite(c) => {
                let behaviour = match kind {
                    TxKind::Read => rusqlite::TransactionBehavior::Deferred,
                    TxKind::Write => rusqlite::TransactionBehavior::Immediate,
                };
                (|| {
                    let tx = c.transaction_with_behavior(behaviour)?;
                    let value = f(&mut SqliteSql(&tx))?;
                    tx.commit()?;
                    Ok(value)
                })()
            }
            Connection::Postgres(client) => (|| {
                let mut tx = client.transaction()?;
                if kind == TxKind::Read {
                    tx.batch_execute("SET TRANSACTION READ ONLY")?;
                }
                let value = f(&mut PostgresSql(&mut tx))?;
                tx.commit()?;
                Ok(value)
            })(),
        };
        self.give_back(conn);
        result
    }
}

impl Database {
    /// Refresh the planner's statistics (and, on PostgreSQL, the visibility map that lets
    /// questions read the covering index alone): what autovacuum does some time after a bulk
    /// load, done now.
    pub(crate) fn optimize(&self) -> Result<(), StoreError> {
        let mut conn = self.take()?;
        let result = match &mut conn {
            Connection::Sqlite(c) => c
                .execute_batch("ANALYZE; PRAGMA optimize;")
                .map_err(Into::into),
            Connection::Postgres(c) => c
                .batch_execute("VACUUM (ANALYZE) facts, images, reports, jobs")
                .map_err(Into::into),
        };
        self.give_back(conn);
        result
    }
}

/// `($1, $2, $3), ($4, $5, $6), …` for `rows` rows of `columns` values: one statement
/// inserts many rows (a report's facts) in one round trip.
pub(crate) fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::new();
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&n.to_string());
            n += 1;
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_question_marks_for_sqlite() {
        assert_eq!(
            sqlite_placeholders("SELECT $1, $12 FROM t WHERE a = $2"),
            "SELECT ?1, ?12 FROM t WHERE a = ?2"
        );
        assert_eq!(sqlite_placeholders("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn locations_parse_and_hide_passwords() {
        let s: DatabaseLocation = "sqlite:/tmp/x.db".parse().unwrap();
        assert_eq!(s, DatabaseLocation::Sqlite("/tmp/x.db".into()));
        let p: DatabaseLocation = "postgres://u:secret@h/db".parse().unwrap();
        assert!(!format!("{p:?}").contains("secret"));
        assert!("mysql://x".parse::<DatabaseLocation>().is_err());
        assert!("sqlite:".parse::<DatabaseLocation>().is_err());
    }

    #[test]
    fn multi_row_placeholders_number_in_order() {
        assert_eq!(values_placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
