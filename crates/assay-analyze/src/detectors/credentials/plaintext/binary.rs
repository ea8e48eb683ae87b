//! Credentials in executables: `key=value` defaults with a password key, and user-like and
//! password-like literals next to a login format string or a password prompt.

use super::super::hashes::identify;
use super::names::{is_password_key, is_user_key};
use super::{cred_finding, BINARY_CREDENTIAL};
use crate::detectors::text::{is_placeholder, strings};
use crate::Analysis;
use assay_model::{Confidence, Severity};

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
        && !names_something_else(s)
}

/// Strings a program holds that have a password's mix of letters, digits and symbols but name
/// something else: a setting (`ddns_passwd_2`, `PASSWORD2`), an algorithm or encoding of a
/// crypto library (`PKCS12`, `PKCS#5_2`, `rc4-40`, `des-ede3-cbc`), a function
/// (`base64Encode`), a source file (`a_int.c`), a host name (`rad02.hotradius.com`), a
/// dotted configuration path (`glconfig.general.led`) or markup (`<Code>100</Code>`).
fn names_something_else(s: &str) -> bool {
    const CRYPTO: &[&str] = &[
        "pkcs",
        "rc2",
        "rc4",
        "rc5",
        "des",
        "aes",
        "sha",
        "md2",
        "md4",
        "md5",
        "hmac",
        "rsa",
        "dsa",
        "ecdsa",
        "ecdh",
        "x509",
        "x9",
        "asn1",
        "base64",
        "utf8",
        "ucs2",
        "camellia",
        "seed",
        "idea",
        "cast5",
        "bf-",
        "blowfish",
        "chacha",
        "poly1305",
        "gost",
        "sm2",
        "sm3",
        "sm4",
        "tls1",
        "ssl2",
        "ssl3",
        "dtls1",
        "ripemd",
        "whirlpool",
        "prime",
        "secp",
        "sect",
        "brainpool",
        "id-",
        "pbe",
        "pbkdf2",
        "scrypt",
        "ecb",
        "cbc",
        "ofb",
        "cfb",
        "ctr",
        "gcm",
        "ccm",
    ];
    let lower = s.to_ascii_lowercase();
    if ["pass", "pwd", "user", "login"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return true;
    }
    if CRYPTO.iter().any(|c| lower.starts_with(c)) {
        return true;
    }
    if s.contains(['<', '>']) {
        return true;
    }
    if [".c", ".h", ".cc", ".cpp", ".o"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return true;
    }
    // Dotted names: host names and configuration paths.
    let dotted = s.split('.').count() >= 3
        && s.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if dotted {
        return true;
    }
    // camelCase identifiers (`base64Encode`, `getHostByName2`).
    let b = s.as_bytes();
    b[0].is_ascii_lowercase()
        && s.bytes().all(|c| c.is_ascii_alphanumeric())
        && s.bytes().any(|c| c.is_ascii_uppercase())
        && !b
            .windows(2)
            .any(|w| w[0].is_ascii_uppercase() && w[1].is_ascii_uppercase())
}

/// Report the credentials among an executable's printable strings.
pub(super) fn scan_binary(
    analysis: &Analysis,
    node: assay_model::NodeId,
    bytes: &[u8],
    out: &mut crate::FindingSink,
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

    #[test]
    fn library_names_settings_and_hosts_are_no_passwords() {
        for s in [
            "PKCS12",
            "PKCS#5_2",
            "rc4-40",
            "des-ede3-cbc",
            "base64Encode",
            "ddns_passwd_2",
            "PASSWORD2",
            "rad02.hotradius.com",
            "glconfig.general.led",
            "<ResponseCode>100</ResponseCode>",
            "a_int2.c",
        ] {
            assert!(!password_like(s), "{s}");
        }
        for s in ["Adm1n#2024", "HG532eJLMkl23qcd36JKoi909WEqwAik", "Zq8-mLx7"] {
            assert!(password_like(s), "{s}");
        }
    }
}
