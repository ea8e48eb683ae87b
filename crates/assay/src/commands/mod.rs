//! One module per command, each turning its flags into engine settings, running the engine
//! and printing; plus the little they share (errors that are usage mistakes, "now", the
//! default database path, writing an output).

mod diff;
mod fleet;
mod keygen;
mod rules;
mod scan;
mod serve;
mod unpack;
mod verify;
mod vulndb;
mod worker;

use crate::flags::Command;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit status when `--fail-on` was reached.
const FAIL_ON_REACHED: i32 = 1;
/// Exit status of `verify` when something in the report does not hold.
const NOT_VERIFIED: i32 = 4;

/// Run one command; its exit status, or the error that stopped it.
pub fn run(command: Command) -> Result<i32> {
    match command {
        Command::Scan(args) => scan::run(args),
        Command::Unpack(args) => unpack::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Vulndb(command) => vulndb::run(command),
        Command::Rules(args) => rules::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Fleet(command) => fleet::run(command),
        Command::Serve(args) => serve::run(args),
    }
}

/// A mistake in how the command was called (exit code 2).
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error with this message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// An engine error as the command reports it: a missing reference time is a usage error that
/// names the flag to give.
fn engine_error(e: assay_engine::Error) -> anyhow::Error {
    match e {
        assay_engine::Error::NoReferenceTime => usage(
            "--reproducible needs a fixed reference time for certificate expiry, and this image \
             carries no time stamp to take it from: give one with --as-of DATE",
        ),
        e => e.into(),
    }
}

/// The wall clock in Unix seconds: "now" for the engine, which reads no clock.
pub fn clock_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The default database path: `$ASSAY_VULNDB`, else `$XDG_DATA_HOME/assay/vulndb.sqlite`, else
/// `~/.local/share/assay/vulndb.sqlite`.
pub(crate) fn default_vulndb_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ASSAY_VULNDB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("assay").join("vulndb.sqlite"))
}

/// A path as the user gave it, for a line of output: bytes that are not UTF-8 shown as
/// `\xNN` (the line it goes into is escaped whole, see [`TerminalText`]).
///
/// [`TerminalText`]: assay_model::terminal::TerminalText
fn shown(path: &Path) -> std::borrow::Cow<'_, str> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        assay_model::terminal::escape_raw(path.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy()
    }
}

/// Write a command's document to `path`, or to standard output.
/// Write to the file named by `path`, or to standard output, through a buffer.
fn write_output_with(
    path: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    match path {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("writing {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            write(&mut w)
                .and_then(|()| w.flush())
                .with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut w)
                .and_then(|()| w.flush())
                .context("writing to standard output")
        }
    }
}

fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(path) => std::fs::write(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to standard output"),
    }
}
