//! What setting names and values mean: a password key, a user key, an expression rather than a
//! literal, a value that could be a real password.

use super::super::hashes::identify;
use crate::detectors::text::is_placeholder;

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

/// Whether a literal could be a real password: not a placeholder, variable, URL or hash, and
/// not the text of a web page around a password field.
pub(super) fn plausible_password(v: &str) -> bool {
    !is_placeholder(v)
        && !is_ui_text(v)
        && !interpolates(v)
        && !v.contains(' ')
        && v.len() <= 128
        && !v.starts_with("http")
        && identify(v, false).is_none()
}

/// Text of a user interface, not a secret: what is left of a comparison (`pw == ""` leaves
/// `=`), a label (`'Password:'`), localised text (device passwords are typed on the web UI's
/// ASCII keyboards; `'密码'`, `"Router-Passwort"` are field captions), or a placeholder that
/// names the field itself (`wan_pppoe_pass=pppoe_passwd`).
fn is_ui_text(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    // The sources of a name-service switch line (`passwd: compat`).
    const NSS_SOURCES: &[&str] = &[
        "files", "compat", "nis", "nisplus", "ldap", "winbind", "sss",
    ];
    NSS_SOURCES.contains(&lower.as_str())
        || v.starts_with('=')
        || v.ends_with(':')
        || !v.is_ascii()
        || lower.contains("passwort")
        || lower.contains("kennwort")
        || (v.contains(['_', '.', '-']) && is_password_key(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn web_ui_text_is_no_password() {
        for v in [
            "=",
            "Password:",
            "\u{5bc6}\u{7801}",
            "Router-Passwort",
            "pppoe_passwd",
            "l2tp_passwd",
        ] {
            assert!(!plausible_password(v), "{v}");
        }
        for v in ["admin", "sohoadmin", "@1GV)Z<!", "password", "1234"] {
            assert!(plausible_password(v), "{v}");
        }
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
}
