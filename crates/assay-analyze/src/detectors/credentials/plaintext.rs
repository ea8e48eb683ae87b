//! Plaintext credentials: key/value, UCI, JSON and XML settings, URLs with `user:pass@`,
//! command lines (`wget --password=`, `ftpget -u -p`, `curl -u u:p`), busybox httpd basic-auth
//! lines, hard-coded comparisons in scripts, and `key=value` or paired literals in binaries.

use super::hashes::identify;
use super::HashTarget;
use crate::detectors::text::{
    file_name, is_elf, is_placeholder, lines, looks_like_text, strings, unquote,
};
use crate::{Analysis, Rule};
use assay_model::{Category, Confidence, Finding, Severity};
use regex::Regex;
use std::ops::Range;
use std::sync::OnceLock;

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

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).expect("valid regex"))
}

/// Whether a setting name denotes a password value (not a policy, a file or a flag).
pub fn is_password_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let k = k.trim_matches(|c: char| c == '"' || c == '\'' || c == '-' || c == '$');
    let parts: Vec<&str> = k
        .split(['_', '.', '-', ':'])
        .filter(|p| !p.is_empty())
        .collect();
    let pass = parts.iter().any(|p| {
        matches!(
            *p,
            "pass" | "passwd" | "password" | "pwd" | "passphrase" | "passw" | "pw" | "pword"
        ) || p.ends_with("password")
            || p.ends_with("passwd")
            || (p.ends_with("pass") && p.len() <= 8)
            || (p.ends_with("pwd") && p.len() <= 8)
    });
    const NOT: &[&str] = &[
        "file",
        "path",
        "dir",
        "min",
        "max",
        "len",
        "length",
        "age",
        "days",
        "warn",
        "policy",
        "hash",
        "type",
        "mode",
        "enable",
        "enabled",
        "required",
        "prompt",
        "timeout",
        "retry",
        "retries",
        "change",
        "expire",
        "encrypt",
        "encrypted",
        "crypt",
        "cmd",
        "command",
        "prog",
        "program",
        "helper",
        "chars",
        "complexity",
        "history",
        "method",
        "auth",
        "strength",
        "check",
        "reset",
        "field",
        "label",
        "hint",
        "url",
        "uri",
        "regex",
        "format",
        "minlen",
        "maxlen",
        "salt",
        "algo",
        "algorithm",
        "through",
        "thru",
        "bypass",
        "compass",
        "passive",
        "wpa",
        "psk",
    ];
    pass && !parts.iter().any(|p| NOT.contains(p))
}

/// Whether a setting name denotes a user name.
pub fn is_user_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let parts: Vec<&str> = k
        .split(['_', '.', '-', ':', '"', '\''])
        .filter(|p| !p.is_empty())
        .collect();
    parts.iter().any(|p| {
        matches!(
            *p,
            "user" | "username" | "usr" | "login" | "userid" | "uid" | "account" | "name"
        ) || p.ends_with("user")
            || p.ends_with("username")
    }) && !parts
        .iter()
        .any(|p| matches!(*p, "file" | "path" | "dir" | "agent" | "group" | "mode"))
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

fn cred_finding(
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
pub fn scan(analysis: &Analysis, out: &mut Vec<Finding>) {
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
        scan_text(analysis, f.node.id, path, f.bytes, out);
    }
}

struct Setting {
    key: String,
    value: String,
    /// The value was written between quotes (a literal, not an expression).
    quoted: bool,
    range: Range<usize>,
    line_no: usize,
    section: usize,
}

fn settings(bytes: &[u8]) -> Vec<Setting> {
    static KV: OnceLock<Regex> = OnceLock::new();
    static UCI: OnceLock<Regex> = OnceLock::new();
    static XML: OnceLock<Regex> = OnceLock::new();
    static SPACE: OnceLock<Regex> = OnceLock::new();
    let kv = re(
        &KV,
        r#"(?:^|[\s{,;(&?])["']?(?:export\s+)?([A-Za-z][A-Za-z0-9_.\-]{0,63})["']?\s*(?:=>|:=|=|:)\s*("[^"\n]*"|'[^'\n]*'|[^\s,;&#"'<>}\]]+)"#,
    );
    let uci = re(
        &UCI,
        r#"^\s*(?:option|list)\s+([A-Za-z0-9_.\-]+)\s+("[^"]*"|'[^']*'|\S+)"#,
    );
    let xml = re(
        &XML,
        r#"<([A-Za-z][A-Za-z0-9_.\-]{0,63})>([^<\n]{1,200})</([A-Za-z][A-Za-z0-9_.\-]{0,63})>"#,
    );
    let space = re(
        &SPACE,
        r#"^\s*([A-Za-z][A-Za-z0-9_.\-]{0,63})\s+("[^"]*"|'[^']*'|\S+)\s*$"#,
    );
    let mut out = Vec::new();
    let mut section = 0;
    for (no, (range, line)) in lines(bytes).enumerate() {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let t = text.trim_start();
        if t.starts_with('#') || t.starts_with(';') || t.starts_with("//") || t.starts_with("<!--")
        {
            continue;
        }
        if t.starts_with("config ") || t.starts_with('[') {
            section += 1;
        }
        let mut push = |key: &str, value: &str, span: Range<usize>| {
            out.push(Setting {
                key: key.to_string(),
                quoted: value.starts_with('"') || value.starts_with('\''),
                value: unquote(value).to_string(),
                range: range.start + span.start..range.start + span.end,
                line_no: no,
                section,
            });
        };
        if let Some(c) = uci.captures(text) {
            push(&c[1], &c[2], 0..text.len());
            continue;
        }
        let mut any = false;
        for c in xml.captures_iter(text) {
            if c[1] == c[3] {
                push(&c[1], &c[2], 0..text.len());
                any = true;
            }
        }
        for c in kv.captures_iter(text) {
            // `key: value` only in YAML/JSON-like lines, not in prose.
            let whole = c.get(0).map(|m| m.as_str()).unwrap_or("");
            if whole.contains(':') && !whole.contains('=') && text.split_whitespace().count() > 4 {
                continue;
            }
            push(&c[1], &c[2], 0..text.len());
            any = true;
        }
        if !any {
            if let Some(c) = space.captures(text) {
                if is_password_key(&c[1]) || is_user_key(&c[1]) {
                    push(&c[1], &c[2], 0..text.len());
                }
            }
        }
    }
    out
}

/// Source files, where `password = x` is usually an expression: only quoted literals count.
fn is_source_code(path: &str) -> bool {
    [
        ".lua", ".js", ".css", ".py", ".pl", ".pm", ".php", ".rb", ".tcl", ".java", ".htm",
        ".html", ".xsl", ".uc",
    ]
    .iter()
    .any(|e| path.ends_with(e))
}

/// A value that is an expression, not a literal: a call, a variable, a member access.
pub fn looks_like_code(v: &str) -> bool {
    interpolates(v)
        || v.contains(['(', ')', '{', '}', '[', ']'])
        || v.starts_with(['@', '%', '&'])
        || v.contains("::")
        || (v.contains('.')
            && v.split('.').count() >= 2
            && v.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }))
}

/// A value that takes its text from elsewhere (`$var`, `${var}`, an escaped quote that
/// ends the literal early): never a literal password, quoted or not.
fn interpolates(v: &str) -> bool {
    v.starts_with('$')
        || v.contains("${")
        || v.ends_with('\\')
        || v.split('$')
            .skip(1)
            .any(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
}

fn plausible_password(v: &str) -> bool {
    !is_placeholder(v)
        && !interpolates(v)
        && !v.contains(' ')
        && v.len() <= 128
        && !v.starts_with("http")
        && identify(v, false).is_none()
}

fn scan_text(
    analysis: &Analysis,
    node: assay_model::NodeId,
    path: &str,
    bytes: &[u8],
    out: &mut Vec<Finding>,
) {
    let all = settings(bytes);
    let uci = all.iter().any(|s| s.section > 0) && bytes.windows(7).any(|w| w == b"option ");
    let code = is_source_code(path);
    for s in &all {
        if !is_password_key(&s.key) || !plausible_password(&s.value) || (code && !s.quoted) {
            continue;
        }
        // Parentheses and member access make an expression, unless the value is a quoted
        // literal in a config file (`admin_password="S3cret(x)"` is still a password).
        if looks_like_code(&s.value) && (code || !s.quoted) {
            continue;
        }
        // A user set beside it: same UCI section, or within a few lines elsewhere.
        let user = all.iter().find(|u| {
            is_user_key(&u.key)
                && !is_placeholder(&u.value)
                && !looks_like_code(&u.value)
                && (!code || u.quoted)
                && !u.value.contains(' ')
                && if uci {
                    u.section == s.section
                } else {
                    u.line_no.abs_diff(s.line_no) <= 6
                }
        });
        let mut f = cred_finding(
            analysis,
            &CONFIG_PASSWORD,
            node,
            s.range.clone(),
            match user {
                Some(u) => format!(
                    "Plaintext credentials {}/{} ({}) in {}",
                    u.value, s.value, s.key, path
                ),
                None => format!("Plaintext password ({}) in {}", s.key, path),
            },
            user.map(|u| u.value.as_str()),
            &s.value,
        );
        f.context.insert("key".into(), s.key.clone());
        if user.is_none() {
            f.severity = Severity::Medium;
            f.confidence = Confidence::Medium;
        }
        out.push(f);
    }
    scan_lines(analysis, node, path, bytes, out);
}

fn scan_lines(
    analysis: &Analysis,
    node: assay_model::NodeId,
    path: &str,
    bytes: &[u8],
    out: &mut Vec<Finding>,
) {
    static URL: OnceLock<Regex> = OnceLock::new();
    static CMD: OnceLock<Regex> = OnceLock::new();
    static CURL: OnceLock<Regex> = OnceLock::new();
    static CMP: OnceLock<Regex> = OnceLock::new();
    let url = re(
        &URL,
        r#"\b([a-z][a-z0-9+.\-]{1,15})://([A-Za-z0-9._%\-]{1,64}):([^\s@/'"]{1,128})@([A-Za-z0-9.\-\[\]]+)"#,
    );
    let cmd = re(
        &CMD,
        r#"(?:--(?:ftp-|http-)?password[= ]|\s-p\s+|\s-P\s+|\bsshpass\s+-p\s*)("[^"]*"|'[^']*'|[^\s;|&]+)"#,
    );
    let curl = re(
        &CURL,
        r#"\b(?:curl|wget)\b.*\s(?:-u|--user)[= ]("[^"]*"|'[^']*'|[^\s;|&]+)"#,
    );
    let cmp = re(
        &CMP,
        r#"["']?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?["']?\s*(?:==|=|!=)\s*("[^"]*"|'[^']*'|[^\s;\]]+)"#,
    );
    let name = file_name(path);
    let httpd_conf = name.starts_with("httpd") && name.contains(".conf");
    for (range, line) in lines(bytes) {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        let t = text.trim_start();
        if t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        for c in url.captures_iter(text) {
            let (user, pass) = (&c[2], &c[3]);
            if is_placeholder(pass) || is_placeholder(user) {
                continue;
            }
            out.push(cred_finding(
                analysis,
                &URL_CREDENTIAL,
                node,
                range.clone(),
                format!("Credentials {user}/{pass} in a {} URL in {path}", &c[1]),
                Some(user),
                pass,
            ));
        }
        let clientish = [
            "wget",
            "curl",
            "ftpget",
            "ftpput",
            "ftp ",
            "sshpass",
            "mosquitto",
            "lftp",
            "ncftp",
            "smbclient",
            "rsync",
        ]
        .iter()
        .any(|c| text.contains(c));
        if clientish {
            let user = user_on_command_line(text);
            let mut found = false;
            for c in cmd.captures_iter(text) {
                let pass = unquote(&c[1]);
                if !plausible_password(pass) {
                    continue;
                }
                found = true;
                out.push(cred_finding(
                    analysis,
                    &COMMAND_CREDENTIAL,
                    node,
                    range.clone(),
                    format!("Password '{pass}' passed on a command line in {path}"),
                    user.as_deref(),
                    pass,
                ));
            }
            if !found {
                if let Some(c) = curl.captures(text) {
                    if let Some((u, p)) = unquote(&c[1]).split_once(':') {
                        if plausible_password(p) && !u.is_empty() {
                            out.push(cred_finding(
                                analysis,
                                &COMMAND_CREDENTIAL,
                                node,
                                range.clone(),
                                format!("Credentials {u}/{p} passed on a command line in {path}"),
                                Some(u),
                                p,
                            ));
                        }
                    }
                }
            }
        }
        if httpd_conf {
            if let Some((p, user, pass)) = httpd_auth_line(t) {
                if identify(pass, true).is_none() && !is_placeholder(pass) {
                    let mut f = cred_finding(
                        analysis,
                        &HTTPD_AUTH,
                        node,
                        range.clone(),
                        format!("Web path {p} protected by {user}/{pass} in {path}"),
                        Some(user),
                        pass,
                    );
                    f.context.insert("web_path".into(), p.to_string());
                    out.push(f);
                }
            }
        }
        if text.contains("if ")
            || text.contains("[ ")
            || text.contains("test ")
            || text.contains("case")
        {
            let cmps: Vec<(String, String)> = cmp
                .captures_iter(text)
                .map(|c| (c[1].to_string(), unquote(&c[2]).to_string()))
                .collect();
            for (var, lit) in &cmps {
                if !is_password_key(var) || !plausible_password(lit) || lit.len() < 3 {
                    continue;
                }
                let user = cmps
                    .iter()
                    .find(|(v, l)| is_user_key(v) && !is_placeholder(l));
                let mut f = cred_finding(
                    analysis,
                    &SCRIPT_COMPARISON,
                    node,
                    range.clone(),
                    match user {
                        Some((_, u)) => {
                            format!("Script accepts hard-coded credentials {u}/{lit} in {path}")
                        }
                        None => {
                            format!("Script compares ${var} with the literal '{lit}' in {path}")
                        }
                    },
                    user.map(|u| u.1.as_str()),
                    lit,
                );
                if user.is_none() {
                    f.severity = Severity::High;
                }
                out.push(f);
            }
        }
    }
}

fn user_on_command_line(text: &str) -> Option<String> {
    static U: OnceLock<Regex> = OnceLock::new();
    let u = re(
        &U,
        r#"(?:--(?:ftp-|http-)?user(?:name)?[= ]|\s-u\s+)("[^"]*"|'[^']*'|[^\s;|&]+)"#,
    );
    u.captures(text)
        .map(|c| unquote(&c[1]).to_string())
        .filter(|v| !is_placeholder(v))
}

/// A busybox httpd `/path:user:password` line.
fn httpd_auth_line(t: &str) -> Option<(&str, &str, &str)> {
    let mut it = t.trim().splitn(3, ':');
    let p = it.next()?;
    let user = it.next()?;
    let pass = it.next()?;
    (p.starts_with('/') && !user.is_empty() && !pass.is_empty() && !user.contains(' '))
        .then_some((p, user, pass))
}

/// Hashes found in busybox httpd.conf auth lines, for cracking.
pub(super) fn httpd_conf_hashes(analysis: &Analysis) -> Vec<HashTarget> {
    let mut out = Vec::new();
    for f in analysis.files() {
        let name = file_name(&f.node.path);
        if !(name.starts_with("httpd") && name.contains(".conf") && looks_like_text(f.bytes)) {
            continue;
        }
        for (range, line) in lines(f.bytes) {
            let Ok(text) = std::str::from_utf8(line) else {
                continue;
            };
            if let Some((_, user, pass)) = httpd_auth_line(text) {
                if let Some(scheme) = identify(pass, false) {
                    out.push(HashTarget {
                        node: f.node.id,
                        fs: f.fs,
                        path: f.node.path.clone(),
                        line: range,
                        account: user.to_string(),
                        hash: pass.to_string(),
                        scheme,
                        uid: None,
                        shell: None,
                        web: true,
                    });
                }
            }
        }
    }
    out
}

fn user_like(s: &str) -> bool {
    (3..=32).contains(&s.len())
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b))
}

fn password_like(s: &str) -> bool {
    let letters = s.bytes().any(|b| b.is_ascii_alphabetic());
    let digits = s.bytes().any(|b| b.is_ascii_digit());
    let symbols = s.bytes().any(|b| b.is_ascii_punctuation());
    (6..=64).contains(&s.len())
        && !s.contains(' ')
        && !s.contains('%')
        && !s.starts_with('/')
        && !s.starts_with('.')
        && !s.contains("://")
        && !s.ends_with(".so")
        && !s.contains(".so.")
        && letters
        && digits
        && (symbols || s.bytes().any(|b| b.is_ascii_uppercase()) || s.contains('-'))
        && identify(s, false).is_none()
}

fn scan_binary(
    analysis: &Analysis,
    node: assay_model::NodeId,
    bytes: &[u8],
    out: &mut Vec<Finding>,
) {
    let strs = strings(bytes, 4);
    // (a) key=value defaults.
    let kv: Vec<(usize, &str, &str)> = strs
        .iter()
        .enumerate()
        .filter_map(|(i, (_, s))| {
            let (k, v) = s.split_once('=')?;
            (!k.is_empty()
                && k.len() <= 48
                && k.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'))
            .then_some((i, k, v))
        })
        .collect();
    for &(i, k, v) in &kv {
        if !is_password_key(k) || is_placeholder(v) || v.contains(' ') || v.len() > 64 {
            continue;
        }
        let user = kv
            .iter()
            .filter(|(j, uk, uv)| j.abs_diff(i) <= 8 && is_user_key(uk) && !is_placeholder(uv))
            .min_by_key(|(j, ..)| j.abs_diff(i));
        let mut f = cred_finding(
            analysis,
            &BINARY_CREDENTIAL,
            node,
            strs[i].0.clone(),
            match user {
                Some((_, uk, uv)) => {
                    format!("Hard-coded default credentials {uk}={uv} / {k}={v} in a binary")
                }
                None => format!("Hard-coded default password {k}={v} in a binary"),
            },
            user.map(|u| u.2),
            v,
        );
        f.context.insert("key".into(), k.to_string());
        if user.is_none() {
            f.severity = Severity::Medium;
            f.confidence = Confidence::Medium;
        }
        out.push(f);
    }
    if bytes.len() > 1 << 20 {
        return;
    }
    // (b) a credential format string with a user-like and a password-like literal adjacent
    // nearby; (c) a password prompt with a password-like literal beside it.
    let lower: Vec<String> = strs.iter().map(|(_, s)| s.to_ascii_lowercase()).collect();
    let is_format = |s: &str| {
        s.contains("%s")
            && (s.contains("password=%s")
                || s.contains("passwd=%s")
                || s.contains("pass=%s")
                || s.contains("-p %s")
                || s.contains("%s:%s@")
                || s.contains("user=%s"))
    };
    let is_prompt = |s: &str| {
        let t = s.trim().trim_end_matches(':').trim();
        matches!(
            t,
            "password" | "enter password" | "secret" | "enable password" | "passphrase"
        ) || s.contains("bad secret")
            || s.contains("bad password")
            || s.contains("wrong password")
            || s.contains("incorrect password")
            || s.contains("invalid password")
    };
    let mut reported = std::collections::BTreeSet::new();
    for (i, l) in lower.iter().enumerate() {
        if is_format(l) {
            let lo = i.saturating_sub(12);
            let hi = (i + 12).min(strs.len() - 1);
            for j in lo..hi {
                let (u, p) = (strs[j].1, strs[j + 1].1);
                if user_like(u) && password_like(p) && reported.insert(j + 1) {
                    let mut f = cred_finding(
                        analysis,
                        &BINARY_CREDENTIAL,
                        node,
                        strs[j].0.start..strs[j + 1].0.end,
                        format!(
                            "Likely hard-coded credentials {u}/{p} next to a login format string"
                        ),
                        Some(u),
                        p,
                    );
                    f.severity = Severity::Medium;
                    f.confidence = Confidence::Low;
                    f.context.insert("format".into(), strs[i].1.to_string());
                    out.push(f);
                }
            }
        } else if is_prompt(l) {
            let lo = i.saturating_sub(3);
            let hi = (i + 4).min(strs.len());
            for j in lo..hi {
                let p = strs[j].1;
                if j != i && password_like(p) && reported.insert(j) {
                    let mut f = cred_finding(
                        analysis,
                        &BINARY_CREDENTIAL,
                        node,
                        strs[j].0.clone(),
                        format!(
                            "Likely hard-coded password '{p}' next to the prompt '{}'",
                            strs[i].1.trim()
                        ),
                        None,
                        p,
                    );
                    f.severity = Severity::Medium;
                    f.confidence = Confidence::Low;
                    f.context.insert("prompt".into(), strs[i].1.to_string());
                    out.push(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    fn run(entries: &[crate::testutil::TestEntry]) -> Vec<Finding> {
        let t = tree(entries);
        let a = Analysis::new(&t);
        let mut out = Vec::new();
        scan(&a, &mut out);
        out
    }

    #[test]
    fn password_keys() {
        for k in [
            "password",
            "FTP_PASS",
            "http_passwd",
            "remote_mgmt_passwd",
            "acs_pass",
            "adminPassword",
            "login_pwd",
        ] {
            assert!(is_password_key(k), "{k}");
        }
        for k in [
            "PASS_MAX_DAYS",
            "password_file",
            "passwd_path",
            "pass_min_len",
            "bypass",
            "passive",
        ] {
            assert!(!is_password_key(k), "{k}");
        }
    }

    #[test]
    fn uci_script_json_xml_url_command_and_httpd() {
        let out = run(&[
            File("/upper/etc/config/tr069", b"config acs 'acs'\n\toption url 'http://198.51.100.23:7547/acs'\n\toption username 'acs-cpe'\n\toption password 'Acs#2024cpe'\n\noption other '1'\n", 0o644),
            File("/upgrade.sh", b"#!/bin/sh\nFTP_HOST=192.0.2.10\nFTP_USER=olt_upd\nFTP_PASS='Upd@te2019'\nftpget -u \"$FTP_USER\" -p \"$FTP_PASS\" $FTP_HOST x y\n", 0o755),
            File("/etc/app.json", b"{\n  \"user\": \"svc\",\n  \"password\": \"Hunter2!\"\n}\n", 0o644),
            File("/etc/app.xml", b"<cfg><Username>adm</Username>\n<Password>s3cr3t</Password></cfg>\n", 0o644),
            File("/etc/init.d/fetch", b"wget ftp://upd:Fw2020x@192.0.2.1/fw.bin\ncurl -u bob:B0bPass http://x.example/\n", 0o755),
            File("/etc/httpd.conf", b"H:/www\n/cgi-bin:admin:password\n", 0o644),
            File("/www/cgi-bin/login.cgi", b"#!/bin/sh\nif [ \"$user\" = \"super\" ] && [ \"$pass\" = \"Zx9!acme\" ]; then\n  echo ok\nfi\n", 0o755),
        ]);
        let has = |rule: &str, path: &str, pw: &str| {
            out.iter().any(|f| {
                f.rule == rule
                    && f.path == path
                    && f.context.get("password").map(String::as_str) == Some(pw)
            })
        };
        assert!(
            has("ASSAY-CRED-010", "/upper/etc/config/tr069", "Acs#2024cpe"),
            "{out:#?}"
        );
        assert!(has("ASSAY-CRED-010", "/upgrade.sh", "Upd@te2019"));
        assert!(has("ASSAY-CRED-010", "/etc/app.json", "Hunter2!"));
        assert!(has("ASSAY-CRED-010", "/etc/app.xml", "s3cr3t"));
        assert!(has("ASSAY-CRED-011", "/etc/init.d/fetch", "Fw2020x"));
        assert!(has("ASSAY-CRED-012", "/etc/init.d/fetch", "B0bPass"));
        assert!(has("ASSAY-CRED-013", "/etc/httpd.conf", "password"));
        assert!(has("ASSAY-CRED-014", "/www/cgi-bin/login.cgi", "Zx9!acme"));
        let tr = out
            .iter()
            .find(|f| f.path == "/upper/etc/config/tr069")
            .unwrap();
        assert_eq!(tr.context["username"], "acs-cpe");
        assert_eq!(tr.severity, Severity::High);
        assert_eq!(tr.evidence, "\\toption password 'Acs#2024cpe'");
    }

    #[test]
    fn placeholders_comments_and_policies_are_quiet() {
        let out = run(&[
            File("/etc/sample.conf", b"# password=secret123\npassword=<your password>\npassword=\nadmin_password=${ADMIN_PW}\nPASS_MAX_DAYS 99999\npassword_file=/etc/pw\n", 0o644),
            File("/etc/login.defs", b"PASS_MIN_LEN 5\nPASS_WARN_AGE 7\n", 0o644),
            File("/usr/share/doc/x/README", b"password=example123\n", 0o644),
            File("/etc/init.d/s", b"if [ \"$pass\" = \"\" ]; then exit 1; fi\nwget --password=\"$PW\" http://x/\n", 0o755),
        ]);
        assert!(out.is_empty(), "{out:#?}");
    }

    #[test]
    fn binaries_with_nvram_defaults_and_paired_literals() {
        let mut elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0".to_vec();
        elf.extend_from_slice(b"\0lan_ipaddr=192.168.0.1\0http_username=admin\0http_passwd=admin\0remote_mgmt_user=support\0remote_mgmt_passwd=Supp0rt!AR934x\0");
        elf.extend_from_slice(
            b"\0http://acs.example/\0cwmp-cpe\0cwmp#Acme2016\0wget --user=%s --password=%s '%s'\0",
        );
        elf.extend_from_slice(b"\0OLT> \0enable\0Password: \0olt-enable-2019\0% Bad secret\0");
        let out = run(&[File("/usr/sbin/tool", &elf, 0o755)]);
        let pw = |p: &str| {
            out.iter()
                .find(|f| f.context.get("password").map(String::as_str) == Some(p))
        };
        assert_eq!(pw("admin").unwrap().severity, Severity::High);
        assert_eq!(pw("Supp0rt!AR934x").unwrap().context["username"], "support");
        assert_eq!(pw("cwmp#Acme2016").unwrap().context["username"], "cwmp-cpe");
        assert!(pw("olt-enable-2019").is_some(), "{out:#?}");
        assert!(out.iter().all(|f| f.rule == "ASSAY-CRED-015"));
    }
}
