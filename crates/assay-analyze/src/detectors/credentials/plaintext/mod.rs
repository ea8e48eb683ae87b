//! Plaintext credentials: key/value, UCI, JSON and XML settings, URLs with `user:pass@`,
//! command lines (`wget --password=`, `ftpget -u -p`, `curl -u u:p`), busybox httpd basic-auth
//! lines, hard-coded comparisons in scripts, and `key=value` or paired literals in binaries.
//!
//! One concern per file: `names` judges setting names and values, `config` reads settings of
//! configuration files, `lines` looks line by line at URLs, command lines and comparisons in
//! scripts, `httpd` reads busybox httpd.conf, `binary` looks at the strings of executables.

mod binary;
mod config;
mod httpd;
mod includes;
mod lines;
mod names;

use crate::detectors::text::{is_elf, looks_like_text};
use crate::{Analysis, Rule};
use assay_model::{Category, Finding, Severity};
use binary::scan_binary;
use config::scan_text;
use regex::Regex;
use std::ops::Range;
use std::sync::OnceLock;

pub(super) use httpd::httpd_conf_hashes;
pub use names::{is_password_key, is_user_key, looks_like_code};

/// Password in a configuration file or script.
pub const CONFIG_PASSWORD: Rule = Rule {
    id: "ASSAY-CRED-010",
    category: Category::Credential,
    severity: Severity::High,
    title: "Plaintext password in a configuration file or script",
    description: "A password-like setting (`password=`, `FTP_PASS=`, UCI `option password`, \
        JSON `\"password\":`, XML `<password>`) holds a literal value, not a placeholder or \
        variable. Every device ships the same secret. High when a user name is set next to it \
        (same section or nearby), medium when the password stands alone.",
};

/// `scheme://user:pass@host`.
pub const URL_CREDENTIAL: Rule = Rule {
    id: "ASSAY-CRED-011",
    category: Category::Credential,
    severity: Severity::High,
    title: "Credentials embedded in a URL",
    description: "A URL of the form `scheme://user:password@host` in a file carries a literal \
        password (FTP update servers, ACS, MQTT brokers).",
};

/// Credentials on a command line.
pub const COMMAND_CREDENTIAL: Rule = Rule {
    id: "ASSAY-CRED-012",
    category: Category::Credential,
    severity: Severity::High,
    title: "Credentials passed on a command line",
    description: "A script passes a literal password to a client: `wget --password=`, \
        `--ftp-password=`, `curl -u user:pass`, `ftpget/ftpput -u user -p pass`, `sshpass -p`, \
        `mosquitto_pub -P`. The password is in the image and in the process list.",
};

/// busybox httpd basic auth.
pub const HTTPD_AUTH: Rule = Rule {
    id: "ASSAY-CRED-013",
    category: Category::Credential,
    severity: Severity::High,
    title: "Web server basic-auth credentials in httpd.conf",
    description: "A busybox httpd configuration line `/path:user:password` protects a web path \
        with a literal password (a crypt hash there is cracked by ASSAY-CRED-001 instead).",
};

/// Script compares input with a literal password.
pub const SCRIPT_COMPARISON: Rule = Rule {
    id: "ASSAY-CRED-014",
    category: Category::Credential,
    severity: Severity::Critical,
    title: "Script compares a password with a literal",
    description: "A script (often a CGI login handler) tests a password variable against a \
        string literal (`[ \"$pass\" = \"...\" ]`). Whoever reads the firmware can log in; when \
        the user name is compared on the same line it is a hard-coded account.",
};

/// Credentials in a binary.
pub const BINARY_CREDENTIAL: Rule = Rule {
    id: "ASSAY-CRED-015",
    category: Category::Credential,
    severity: Severity::High,
    title: "Hard-coded credentials in a binary",
    description: "An executable holds literal credentials: `key=value` defaults with a password \
        key (`http_passwd=admin`, nvram defaults; high when a user key sits beside it), or a \
        user-like and password-like literal adjacent to a credential format string or to a \
        password prompt (medium, low confidence: a reviewer should confirm).",
};

/// A regex compiled once, on first use.
pub(super) fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}
/// Files that are documentation, not configuration.
fn is_documentation(path: &str) -> bool {
    const DOC: &[&str] = &[
        "/usr/share/doc/",
        "/usr/share/man/",
        "/usr/share/info/",
        "/usr/share/locale/",
        "/usr/include/",
        "/usr/share/common-licenses/",
    ];
    DOC.iter().any(|d| path.contains(d))
        || [
            ".md", ".txt", ".html", ".htm", ".h", ".c", ".pod", ".1", ".5", ".8", ".gz",
        ]
        .iter()
        .any(|e| path.ends_with(e))
}

/// A finding of `rule` with the user name (when known) and password in its context.
pub(super) fn cred_finding(
    analysis: &Analysis,
    rule: &Rule,
    node: assay_model::NodeId,
    range: Range<usize>,
    title: String,
    user: Option<&str>,
    password: &str,
) -> Finding {
    let mut f = analysis.finding(rule, node, range, title);
    if let Some(u) = user {
        f.context.insert("username".into(), u.to_string());
    }
    f.context.insert("password".into(), password.to_string());
    f
}

/// Scan every text file and binary for plaintext credentials.
pub fn scan(analysis: &Analysis, out: &mut crate::FindingSink) {
    for f in analysis.files() {
        let path = &f.node.path;
        if is_elf(f.bytes) {
            if f.bytes.len() <= 32 << 20 {
                scan_binary(analysis, f.node.id, f.bytes, out);
            }
            continue;
        }
        if is_documentation(path) || !looks_like_text(f.bytes) {
            continue;
        }
        // A copy of a file at the same path (a default configuration archive holding the
        // live one) is reported once, at the first copy.
        if f.node
            .duplicate_of
            .is_some_and(|d| analysis.node(d).path == f.node.path)
        {
            continue;
        }
        // One file's findings in a sink of their own (capped as they come), demoted as a
        // group, then handed on.
        let mut here = crate::FindingSink::new();
        scan_text(analysis, f.node.id, path, f.bytes, &mut here);
        if let Some(fs) = f.fs {
            demote_unread(analysis, fs, f.node.id, path, here.held_mut());
            demote_disabled(analysis, fs, path, here.held_mut());
        }
        out.append(here);
    }
}

/// A configuration file that only libraries no program loads name (an emulation harness's
/// NVRAM override left in the image, a plug-in that was never installed) holds no
/// credentials of the device: its high findings become low, with the readers named.
fn demote_unread(
    analysis: &Analysis,
    fs: usize,
    node: assay_model::NodeId,
    path: &str,
    found: &mut [Finding],
) {
    if !found.iter().any(|f| f.severity >= Severity::High) {
        return;
    }
    let readers = analysis.reach().readers(analysis, fs, node, path);
    if !crate::reach::only_unloaded_readers(&readers) {
        return;
    }
    let names = readers
        .iter()
        .map(|r| r.path.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for f in found.iter_mut().filter(|f| f.severity >= Severity::High) {
        f.severity = Severity::Low;
        f.context
            .insert("read_only_by_unloaded_libraries".into(), names.clone());
    }
}

/// A configuration fragment that its server's configuration includes only on commented-out
/// lines (an upstream module example shipped with the server) is not in effect: its high
/// findings become low, with the switched-off include lines named.
fn demote_disabled(analysis: &Analysis, fs: usize, path: &str, found: &mut [Finding]) {
    if !found.iter().any(|f| f.severity >= Severity::High) {
        return;
    }
    let Some(lines) = includes::disabled_include(analysis, fs, path) else {
        return;
    };
    let lines = lines.join(", ");
    for f in found.iter_mut().filter(|f| f.severity >= Severity::High) {
        f.severity = Severity::Low;
        f.context.insert("included_only_by".into(), lines.clone());
    }
}

#[cfg(test)]
mod tests;
