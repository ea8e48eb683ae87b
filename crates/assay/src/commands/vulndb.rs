//! `assay vulndb import|info`: the offline vulnerability database.

use super::{clock_now, default_vulndb_path, shown};
use crate::flags::{DbFlag, VulndbCommand};
use anyhow::{Context, Result};
use assay_model::terminal::TerminalText;
use assay_vulndb::VulnDb;
use std::path::{Path, PathBuf};

pub fn run(command: VulndbCommand) -> Result<i32> {
    match command {
        VulndbCommand::Import { files, db, date } => import(&files, &db, date),
        VulndbCommand::Info { db } => info(&db),
    }
}

fn import(files: &[PathBuf], db: &DbFlag, date: Option<String>) -> Result<i32> {
    let path = path_of(db)?;
    if let Some(d) = &date {
        // A real calendar date: 2023-02-30 and month 13 are refused.
        let ok = d.len() == 10
            && d.as_bytes()[0].is_ascii_digit()
            && assay_model::time::parse_utc(d).is_some();
        if !ok {
            eprintln!("assay: --date must be YYYY-MM-DD");
            return Ok(2);
        }
    }
    let date = date.unwrap_or_else(|| assay_model::time::format_utc(clock_now())[..10].to_string());
    let mut store = VulnDb::create(&path).with_context(|| format!("opening {}", path.display()))?;
    for f in files {
        let out = store
            .import_dated(f, &date)
            .with_context(|| format!("importing {}", f.display()))?;
        let state = if out.already_imported {
            format!("already imported on {}", out.feed.imported)
        } else {
            "imported".to_string()
        };
        // Feed names and skipped records are the feed's text: every line escaped whole.
        let mut text = TerminalText::new();
        text.line(format_args!(
            "{}: {} {} records, {state} (sha256 {})",
            shown(f),
            out.records,
            out.feed.kind,
            out.feed.sha256
        ));
        for s in &out.skipped {
            text.line(format_args!("  skipped: {s}"));
        }
        print!("{}", text.as_str());
    }
    let mut text = TerminalText::new();
    text.line(format_args!(
        "{}: {} vulnerability records from {} feeds",
        shown(&path),
        store.record_count()?,
        store.feeds()?.len()
    ));
    print!("{}", text.as_str());
    Ok(0)
}

fn info(db: &DbFlag) -> Result<i32> {
    let path = path_of(db)?;
    let store = VulnDb::open(&path)?;
    let mut text = TerminalText::new();
    text.line(format_args!(
        "{}: {} vulnerability records",
        shown(&path),
        store.record_count()?
    ));
    for f in store.feeds()? {
        text.line(format_args!(
            "  {} ({}) imported {}{} sha256 {}",
            f.name,
            f.kind,
            f.imported,
            f.published
                .map(|p| format!(", published {p},"))
                .unwrap_or_default(),
            f.sha256
        ));
    }
    print!("{}", text.as_str());
    Ok(0)
}

/// `--db`, else the default path.
fn path_of(db: &DbFlag) -> Result<PathBuf> {
    db.db
        .as_deref()
        .map(Path::to_path_buf)
        .or_else(default_vulndb_path)
        .context("no database path: give --db, or set ASSAY_VULNDB or HOME")
}
