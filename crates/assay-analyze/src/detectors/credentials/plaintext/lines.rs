//! Line by line through a text file: credentials in URLs, on command lines, in busybox httpd
//! auth lines and in script comparisons.

use super::super::hashes::identify;
use super::httpd::httpd_auth_line;
use super::names::{is_password_key, is_user_key, looks_like_code, plausible_password};
use super::{cred_finding, re, COMMAND_CREDENTIAL, HTTPD_AUTH, SCRIPT_COMPARISON, URL_CREDENTIAL};
use crate::detectors::text::{file_name, is_placeholder, lines, unquote};
use crate::Analysis;
use assay_model::Severity;
use regex::Regex;
use std::sync::OnceLock;

/// Report credentials in URLs, command lines, httpd auth lines and comparisons.
pub(super) fn scan_lines(
    analysis: &Analysis,
    node: assay_model::NodeId,
    path: &str,
    bytes: &[u8],
    out: &mut crate::FindingSink,
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
            // An unquoted operand that is a call or a member access (`query("password")`)
            // is the configured value, not a literal.
            let cmps: Vec<(String, String)> = cmp
                .captures_iter(text)
                .filter(|c| c[2].starts_with(['"', '\'']) || !looks_like_code(&c[2]))
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
