//! Settings of configuration files and scripts (key/value, UCI, JSON, XML, `key value`), and
//! the passwords among them with the user name set beside them.

use super::lines::scan_lines;
use super::names::{is_password_key, is_user_key, looks_like_code, plausible_password};
use super::{cred_finding, re, CONFIG_PASSWORD};
use crate::detectors::text::{is_placeholder, lines, unquote};
use crate::Analysis;
use assay_model::{Confidence, Severity};
use regex::Regex;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

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
        let header = t.trim_end();
        if t.starts_with("config ")
            || (header.starts_with('[') && header.ends_with(']') && !header.contains(' '))
        {
            section += 1;
        }
        let mut push = |key: &str, value: &str, span: Range<usize>| {
            out.push(Setting {
                key: key.to_string(),
                quoted: value.starts_with('"') || value.starts_with('\''),
                // Fixed-width INI files pad quoted values with blanks (`"admin      "`).
                value: unquote(value).trim_end().to_string(),
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
            // `${name:+word}`, `${name:-word}`: a shell parameter expansion inside a command,
            // not a setting of `name`.
            let key_at = c.get(1).map_or(0, |m| m.start());
            if text[..key_at].ends_with("${") {
                continue;
            }
            // `challengePassword = A challenge password`: an unquoted first word of prose
            // (a field description of openssl.cnf), not a value.
            let value_end = c.get(2).map_or(text.len(), |m| m.end());
            if !c[2].starts_with(['"', '\''])
                && text[value_end..]
                    .trim_start()
                    .starts_with(|ch: char| ch.is_ascii_alphabetic())
                && text[value_end..].starts_with([' ', '\t'])
            {
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

/// Whether a setting names a mobile network's access point (`apn`, `wan_3g_apn`, `APN`).
fn is_apn_key(key: &str) -> bool {
    key.to_ascii_lowercase()
        .split(['_', '.', '-', ':'])
        .any(|p| p == "apn" || p == "apnname")
}

/// Literals a script compares with the value of a password field (`Password.value !=
/// 'x'`, `'x' != PageData.Password`, `getValue('pppPassword') == 'x'`). A web page that
/// writes such a literal into the field and tests for it again is showing a stand-in for a
/// secret it never received, to submit the field only when the user typed a new one: the
/// literal is a placeholder, not the password.
fn compared_with_password_fields(bytes: &[u8]) -> HashSet<String> {
    static LEFT: OnceLock<Regex> = OnceLock::new();
    static RIGHT: OnceLock<Regex> = OnceLock::new();
    const OPERAND: &str =
        r#"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*|\([^()\n]{0,64}\)|\[[^\]\n]{0,32}\])*"#;
    let left = re(
        &LEFT,
        &format!(r#"(?:^|[^\w$.])({OPERAND})\s*(?:!==|===|!=|==)\s*(?:"([^"\n]*)"|'([^'\n]*)')"#),
    );
    let right = re(
        &RIGHT,
        &format!(r#"(?:"([^"\n]*)"|'([^'\n]*)')\s*(?:!==|===|!=|==)\s*({OPERAND})"#),
    );
    let names_password = |operand: &str| {
        operand
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(is_password_key)
    };
    let mut out = HashSet::new();
    if memchr::memmem::find(bytes, b"==").is_none() && memchr::memmem::find(bytes, b"!=").is_none()
    {
        return out;
    }
    for (_, line) in lines(bytes) {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        if !text.contains("==") && !text.contains("!=") {
            continue;
        }
        for c in left.captures_iter(text) {
            if names_password(&c[1]) {
                if let Some(m) = c.get(2).or(c.get(3)) {
                    out.insert(m.as_str().to_string());
                }
            }
        }
        for c in right.captures_iter(text) {
            if names_password(&c[3]) {
                if let Some(m) = c.get(1).or(c.get(2)) {
                    out.insert(m.as_str().to_string());
                }
            }
        }
    }
    out
}

/// Whether a setting is a caption of a web UI's string table: `share.passwd="Wachtwoord"`
/// among `share.usrname="Gebruikersnaam"`, `share.hostname="Host Naam"` — a capitalised
/// word in a run of settings of the same namespace whose values are captions (some of
/// them several words).
fn is_caption(all: &[Setting], s: &Setting) -> bool {
    let Some((ns, _)) = s.key.rsplit_once('.') else {
        return false;
    };
    let titled = |v: &str| {
        v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && v.chars().any(|c| c.is_ascii_lowercase())
            && v.chars().all(|c| c.is_alphabetic() || c == '-' || c == ' ')
    };
    if !s.quoted || !titled(&s.value) {
        return false;
    }
    let prefix = format!("{ns}.");
    let neighbours: Vec<&Setting> = all
        .iter()
        .filter(|o| {
            !std::ptr::eq(*o, s)
                && o.quoted
                && o.key.starts_with(&prefix)
                && o.line_no.abs_diff(s.line_no) <= 8
        })
        .collect();
    neighbours.len() >= 3
        && neighbours.iter().any(|o| o.value.contains(' '))
        && neighbours.iter().filter(|o| titled(&o.value)).count() * 2 >= neighbours.len()
}

/// Report the passwords set in a text file, then look at it line by line.
pub(super) fn scan_text(
    analysis: &Analysis,
    node: assay_model::NodeId,
    path: &str,
    bytes: &[u8],
    out: &mut crate::FindingSink,
) {
    let all = settings(bytes);
    // UCI `config` and INI `[name]` sections: a user belongs to its own section.
    let sectioned = all.iter().any(|s| s.section > 0);
    let code = is_source_code(path);
    let stand_ins = if all.iter().any(|s| s.quoted && is_password_key(&s.key)) {
        compared_with_password_fields(bytes)
    } else {
        HashSet::new()
    };
    for s in &all {
        if !is_password_key(&s.key) || !plausible_password(&s.value) || (code && !s.quoted) {
            continue;
        }
        // Parentheses and member access make an expression, unless the value is a quoted
        // literal in a config file (`admin_password="S3cret(x)"` is still a password).
        if looks_like_code(&s.value) && (code || !s.quoted) {
            continue;
        }
        // `this.Password = Password`: a variable copied into a field of the same name.
        let field = s.key.rsplit('.').next().unwrap_or(&s.key);
        if !s.quoted && s.value.eq_ignore_ascii_case(field) {
            continue;
        }
        // A stand-in the page writes into a password field and tests for again, or the
        // field's caption in a string table.
        if (s.quoted && stand_ins.contains(&s.value)) || is_caption(&all, s) {
            continue;
        }
        // A user set beside it: same section, or within a few lines elsewhere; the nearest.
        let user = all
            .iter()
            .filter(|u| {
                is_user_key(&u.key)
                    && !is_placeholder(&u.value)
                    && !looks_like_code(&u.value)
                    && (!code || u.quoted)
                    && !u.value.contains(' ')
                    && if sectioned {
                        u.section == s.section
                    } else {
                        u.line_no.abs_diff(s.line_no) <= 6
                    }
            })
            .min_by_key(|u| u.line_no.abs_diff(s.line_no));
        // A mobile carrier's dial-up profile (an APN beside the account): the public PPP login
        // of a 3G/4G network, not a credential of the device.
        let carrier = all.iter().find(|o| {
            is_apn_key(&o.key)
                && !is_placeholder(&o.value)
                && if sectioned {
                    o.section == s.section
                } else {
                    o.line_no.abs_diff(s.line_no) <= 6
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
        if let Some(apn) = carrier {
            f.severity = Severity::Low;
            f.context.insert(
                "carrier_profile".into(),
                format!("{}={}", apn.key, apn.value),
            );
        }
        out.push(f);
    }
    scan_lines(analysis, node, path, bytes, out);
}
