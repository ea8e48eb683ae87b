//! Credentials: weak password hashes (cracked with a bounded dictionary) and plaintext
//! passwords in configs, scripts, web server password files and binaries.
//!
//! Cracking is count-bounded per hash (see [`hashes::Scheme::budget`]), so results do not depend
//! on the machine's speed. Candidates, in order: the account's own variants (its name, name +
//! digits, reversed), the device's host and model strings found in the same filesystem, the
//! words of a user list ([`DetectorConfig::extra_words`](crate::DetectorConfig::extra_words),
//! the CLI's `--wordlist FILE`), then the built-in list
//! `data/passwords.txt` (vendor defaults, the Mirai list, the most common passwords).

pub mod hashes;
mod plaintext;
pub use plaintext::looks_like_code;

pub use plaintext::{is_password_key, is_user_key};

use super::accounts::{
    account_files, is_login_shell, passwd_for, password_state, AccountFileKind, PasswordState,
};
use super::text::{file_name, lines, looks_like_text};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, NodeId, Severity};
use hashes::{crack, identify, Scheme};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::OnceLock;

/// Cracked password hash.
pub const WEAK_PASSWORD: Rule = Rule {
    id: "ASSAY-CRED-001",
    category: Category::Credential,
    severity: Severity::High,
    title: "Weak password (hash cracked)",
    description: "A password hash in a shadow, passwd or htpasswd-style file matches a word of \
        the built-in dictionary (vendor defaults, the Mirai list, common passwords) or a \
        variant of the account or device name. Anyone who tries the usual defaults logs in. \
        High for UID-0 and login accounts and web users, medium otherwise.",
};

/// Hash not cracked.
pub const UNCRACKED: Rule = Rule {
    id: "ASSAY-CRED-002",
    category: Category::Credential,
    severity: Severity::Info,
    title: "Password hash shipped in the image",
    description: "A usable password hash that the bounded dictionary did not crack (or whose \
        scheme, like yescrypt, is not cracked). Every device of the model shares it; it is \
        listed so that a reviewer can try a larger list.",
};

/// Obsolete hash scheme.
pub const OBSOLETE_SCHEME: Rule = Rule {
    id: "ASSAY-CRED-003",
    category: Category::Credential,
    severity: Severity::Low,
    title: "Obsolete password hash scheme",
    description: "A password is stored with DES crypt (only 8 characters count, 4096 salts) or \
        as an unsalted MD5/SHA-1 digest, which a GPU cracks in seconds whatever the password.",
};

/// The built-in dictionary, most likely first.
const DICTIONARY: &str = include_str!("../../../data/passwords.txt");

/// The line of the dictionary after its vendor defaults (written by make-passwords.py).
const VENDOR_END: &str = "# -- end of vendor defaults --";

/// The built-in dictionary, most likely first: vendor defaults, then the rest.
pub fn builtin_words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        DICTIONARY
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// How many words at the head of [`builtin_words`] are vendor default passwords (Mirai's list
/// and other public default-credential lists): tried before anything else.
pub fn vendor_word_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        DICTIONARY
            .lines()
            .take_while(|l| *l != VENDOR_END)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .count()
    })
}

/// The credentials detector.
pub struct Credentials;

impl Detector for Credentials {
    fn name(&self) -> &'static str {
        "credentials"
    }

    fn rules(&self) -> &'static [Rule] {
        &[
            WEAK_PASSWORD,
            UNCRACKED,
            OBSOLETE_SCHEME,
            plaintext::CONFIG_PASSWORD,
            plaintext::URL_CREDENTIAL,
            plaintext::COMMAND_CREDENTIAL,
            plaintext::HTTPD_AUTH,
            plaintext::SCRIPT_COMPARISON,
            plaintext::BINARY_CREDENTIAL,
        ]
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        let targets = hash_targets(analysis);
        let results: Vec<Finding> = targets
            .par_iter()
            .flat_map_iter(|t| crack_target(analysis, t))
            .collect();
        out.extend(results);
        plaintext::scan(analysis, out);
    }
}

/// A password hash to try, with where it is and whose it is.
#[derive(Debug, Clone)]
pub(crate) struct HashTarget {
    pub node: NodeId,
    pub fs: Option<usize>,
    pub path: String,
    pub line: Range<usize>,
    pub account: String,
    pub hash: String,
    pub scheme: Scheme,
    pub uid: Option<u32>,
    pub shell: Option<String>,
    /// A web (htpasswd / httpd.conf) user rather than a system account.
    pub web: bool,
}

fn hash_targets(analysis: &Analysis) -> Vec<HashTarget> {
    let files = account_files(analysis);
    let mut out = Vec::new();
    let mut seen_nodes = BTreeSet::new();
    for file in &files {
        seen_nodes.insert(file.node);
        let passwd = match file.kind {
            AccountFileKind::Shadow => passwd_for(&files, file).map(|p| p.0),
            AccountFileKind::Passwd => Some(file),
            AccountFileKind::Group => continue,
        };
        let in_passwd = file.kind == AccountFileKind::Passwd;
        for e in &file.entries {
            if password_state(&e.password, in_passwd) != PasswordState::Usable {
                continue;
            }
            let Some(scheme) = identify(&e.password, true) else {
                continue;
            };
            let info = passwd.and_then(|p| p.entries.iter().find(|x| x.name == e.name));
            let uid = info.and_then(|i| i.uid).or((e.name == "root").then_some(0));
            out.push(HashTarget {
                node: file.node,
                fs: file.fs,
                path: file.path.clone(),
                line: e.line.clone(),
                account: e.name.clone(),
                hash: e.password.clone(),
                scheme,
                uid,
                shell: info.and_then(|i| i.shell.clone()),
                web: false,
            });
        }
    }
    // htpasswd-style files: `user:hash` lines.
    for f in analysis.files() {
        if seen_nodes.contains(&f.node.id) || f.bytes.len() > 1 << 20 || !looks_like_text(f.bytes) {
            continue;
        }
        let name = file_name(&f.node.path).to_ascii_lowercase();
        let passwordish =
            name.contains("passwd") || name.contains("htdigest") || name.contains("users");
        for (range, line) in lines(f.bytes) {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let fields: Vec<&str> = line.trim().split(':').collect();
            if fields.len() < 2
                || fields.len() > 3
                || fields[0].is_empty()
                || fields[0].starts_with('/')
            {
                continue;
            }
            if !fields[0]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
            {
                continue;
            }
            let Some(scheme) = identify(fields[1], passwordish) else {
                continue;
            };
            out.push(HashTarget {
                node: f.node.id,
                fs: f.fs,
                path: f.node.path.clone(),
                line: range,
                account: fields[0].to_string(),
                hash: fields[1].to_string(),
                scheme,
                uid: None,
                shell: None,
                web: true,
            });
        }
    }
    out.extend(plaintext::httpd_conf_hashes(analysis));
    out
}

/// Host, model and product strings of a filesystem: hostname, release files, banner.
fn device_words(analysis: &Analysis, fs: Option<usize>) -> Vec<String> {
    let Some(view) = fs.and_then(|i| analysis.filesystems.get(i)) else {
        return Vec::new();
    };
    let mut words = BTreeSet::new();
    for (path, &id) in &view.entries {
        let name = file_name(path).to_ascii_lowercase();
        let interesting = matches!(
            name.as_str(),
            "hostname"
                | "banner"
                | "issue"
                | "model"
                | "board"
                | "product"
                | "device_info"
                | "system"
        ) || name.ends_with("release")
            || name.ends_with("version");
        if !interesting || !path.contains("etc") {
            continue;
        }
        let bytes = analysis.bytes(id);
        if bytes.len() > 8192 || !looks_like_text(bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        for tok in
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        {
            let tok = tok.trim_matches(|c: char| c == '.' || c == '-' || c == '_');
            let mut add = |t: &str| {
                if (3..=32).contains(&t.len())
                    && t.bytes().any(|b| b.is_ascii_alphabetic())
                    && words.len() < 200
                {
                    words.insert(t.to_string());
                    words.insert(t.to_ascii_lowercase());
                }
            };
            add(tok);
            for part in tok.split(['-', '_', '.']) {
                add(part);
            }
        }
    }
    words.into_iter().collect()
}

/// The candidates for one account, most likely first.
fn account_candidates(account: &str, device: &[String]) -> Vec<String> {
    let mut v = Vec::new();
    let lower = account.to_ascii_lowercase();
    let mut cap = lower.clone();
    if let Some(f) = cap.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    for base in [account.to_string(), lower.clone(), cap] {
        v.push(base.clone());
        for s in [
            "1", "12", "123", "1234", "12345", "!", "@123", "01", "2020", "2021", "2022", "2023",
            "2024",
        ] {
            v.push(format!("{base}{s}"));
        }
    }
    v.push(account.chars().rev().collect());
    // Shortened name plus a digit or two (`oper8`, `adm1n` aside): cheap, and common.
    for n in 3..lower.len().min(8) {
        if let Some(prefix) = lower.get(..n) {
            for d in 0..10 {
                v.push(format!("{prefix}{d}"));
            }
            v.push(format!("{prefix}123"));
        }
    }
    v.push(format!("{account}{account}"));
    for d in device {
        v.push(d.clone());
        v.push(format!("{d}123"));
        v.push(format!("{account}{d}"));
    }
    let mut seen = BTreeSet::new();
    v.retain(|w| !w.is_empty() && seen.insert(w.clone()));
    v
}

fn crack_target(analysis: &Analysis, t: &HashTarget) -> Vec<Finding> {
    let device = device_words(analysis, t.fs);
    let own = account_candidates(&t.account, &device);
    let extra = analysis.config().extra_words();
    // Vendor defaults first, then the account's and the device's own words (model, host
    // name), the configured extra words and the rest of the dictionary: all within the
    // scheme's budget of guesses.
    let (vendor, rest) = builtin_words().split_at(vendor_word_count().min(builtin_words().len()));
    let candidates = vendor
        .iter()
        .copied()
        .chain(own.iter().map(String::as_str))
        .chain(extra.iter().map(String::as_str))
        .chain(rest.iter().copied());
    let mut out = Vec::new();
    let cracked = crack(t.scheme, &t.hash, candidates);
    let login = t.shell.as_deref().map(is_login_shell).unwrap_or(true);
    let base = |f: &mut Finding| {
        f.context.insert("account".into(), t.account.clone());
        f.context.insert("scheme".into(), t.scheme.name().into());
        f.context.insert("file".into(), t.path.clone());
        if let Some(uid) = t.uid {
            f.context.insert("uid".into(), uid.to_string());
        }
        if let Some(shell) = &t.shell {
            f.context.insert("shell".into(), shell.clone());
        }
    };
    match cracked {
        Some(pw) => {
            let mut f = analysis.finding(
                &WEAK_PASSWORD,
                t.node,
                t.line.clone(),
                format!(
                    "Password of '{}' is '{}' ({}, cracked)",
                    t.account,
                    pw,
                    t.scheme.name()
                ),
            );
            if !(t.uid == Some(0) || t.web || login) {
                f.severity = Severity::Medium;
            }
            base(&mut f);
            f.context.insert("password".into(), pw.to_string());
            out.push(f);
        }
        None => {
            let mut f = analysis.finding(
                &UNCRACKED,
                t.node,
                t.line.clone(),
                match t.scheme {
                    Scheme::Yescrypt => {
                        format!("Password hash of '{}' not cracked (yescrypt)", t.account)
                    }
                    s => format!(
                        "Password hash of '{}' not cracked ({})",
                        t.account,
                        s.name()
                    ),
                },
            );
            base(&mut f);
            f.context.insert(
                "tried".into(),
                (own.len() + extra.len() + builtin_words().len())
                    .min(t.scheme.budget())
                    .to_string(),
            );
            out.push(f);
        }
    }
    if t.scheme.is_obsolete() {
        let mut f = analysis.finding(
            &OBSOLETE_SCHEME,
            t.node,
            t.line.clone(),
            format!("Password of '{}' stored as {}", t.account, t.scheme.name()),
        );
        f.confidence = Confidence::High;
        base(&mut f);
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    fn run(t: &assay_unpack::UnpackResult) -> Vec<Finding> {
        let a = Analysis::new(t);
        let mut out = crate::FindingSink::new();
        Credentials.run(&a, &mut out);
        out.held().to_vec()
    }

    #[test]
    fn cracks_shadow_passwords_with_account_and_device_variants() {
        let shadow = "root:$1$saltsalt$Y3BMhxQHmg7scgLILa56u1:19000:0:99999:7:::\n\
operator:ablTxbTxaaYfA:19000:0:99999:7:::\n\
igw:$6$igwsalt$BB1LFTGqXoKJVSLqXEuYi1awDp8Bzl8W.2m.48GaziZE7Qtzupc9fS2Yc8imCr.oHRpCwOXspmS.ToK9EDJLn.:19000:0:99999:7:::\n\
admin:$6$strongsalt$ByFRihc1sZqBOqyYc2F1GtVQK4WETVf/ml7bi5ZgqRtM8eWDGBBjr1e2yPIx0o4jxUP.8dgJNqsETSVr4sHfI0:19000:0:99999:7:::\n\
daemon:*:19000:0:99999:7:::\n";
        let passwd = "root:x:0:0:root:/root:/bin/sh\noperator:x:0:0::/root:/bin/sh\nigw:x:1000:1000::/home/igw:/bin/sh\nadmin:x:1001:1001::/home/admin:/bin/sh\ndaemon:x:1:1::/:/bin/false\n";
        let t = tree(&[
            File("/etc/passwd", passwd.as_bytes(), 0o644),
            File("/etc/shadow", shadow.as_bytes(), 0o600),
            File("/etc/hostname", b"acme-igw500\n", 0o644),
        ]);
        let out = run(&t);
        let cracked: Vec<_> = out.iter().filter(|f| f.rule == "ASSAY-CRED-001").collect();
        let pw = |acct: &str| {
            cracked
                .iter()
                .find(|f| f.context["account"] == acct)
                .map(|f| f.context["password"].clone())
        };
        assert_eq!(pw("root").as_deref(), Some("admin"));
        assert_eq!(pw("operator").as_deref(), Some("oper8"));
        assert_eq!(pw("igw").as_deref(), Some("igw500"));
        assert_eq!(pw("admin"), None, "strong password must not crack");
        assert!(out
            .iter()
            .any(|f| f.rule == "ASSAY-CRED-002" && f.context["account"] == "admin"));
        assert!(out
            .iter()
            .any(|f| f.rule == "ASSAY-CRED-003" && f.context["account"] == "operator"));
        let root = cracked
            .iter()
            .find(|f| f.context["account"] == "root")
            .unwrap();
        assert_eq!(root.path, "/etc/shadow");
        assert_eq!(root.severity, Severity::High);
        assert!(root.evidence.starts_with("root:$1$"));
    }

    #[test]
    fn cracks_htpasswd_files() {
        let t = tree(&[File(
            "/www/.htpasswd",
            b"admin:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1\nsupport:5bdcd3c0d4d24ae3e71b3b452a024c6324c7e4bb\n",
            0o644,
        )]);
        let out = run(&t);
        let cracked: Vec<_> = out.iter().filter(|f| f.rule == "ASSAY-CRED-001").collect();
        assert_eq!(cracked.len(), 2, "{out:?}");
    }

    #[test]
    fn extra_words_of_the_config_crack_what_the_built_in_list_cannot() {
        // md5crypt of "quartz-lantern-58" (openssl passwd -1 -salt Gw4tQ9zR).
        let shadow = "netadmin:$1$Gw4tQ9zR$QqLJvmefPREu..3.yXZXk/:19000:0:99999:7:::\n";
        let t = tree(&[
            File(
                "/etc/passwd",
                b"netadmin:x:1000:1000::/home/netadmin:/bin/sh\n",
                0o644,
            ),
            File("/etc/shadow", shadow.as_bytes(), 0o600),
        ]);
        assert!(!builtin_words().contains(&"quartz-lantern-58"));
        let with_words = crate::DetectorConfig::new()
            .with_extra_words(vec!["hunter2".into(), "quartz-lantern-58".into()]);
        let other_words = crate::DetectorConfig::new().with_extra_words(vec!["hunter2".into()]);
        let cracked = |config: &crate::DetectorConfig| {
            let a = Analysis::new(&t).with_config(config);
            let mut out = crate::FindingSink::new();
            Credentials.run(&a, &mut out);
            out.iter()
                .find(|f| f.rule == "ASSAY-CRED-001")
                .map(|f| f.context["password"].clone())
        };
        assert_eq!(cracked(&with_words).as_deref(), Some("quartz-lantern-58"));
        assert_eq!(cracked(&other_words), None);
        assert_eq!(cracked(&crate::DetectorConfig::new()), None);
        assert_eq!(cracked(&with_words).as_deref(), Some("quartz-lantern-58"));
    }

    #[test]
    fn word_lists_are_read_line_by_line() {
        assert_eq!(
            crate::DetectorConfig::words_of_list(b"one\r\n\ntwo words\n\xff\n"),
            vec!["one", "two words", "\u{fffd}"]
        );
    }

    #[test]
    fn dictionary_holds_the_mirai_defaults() {
        let w = builtin_words();
        assert!(w.len() > 2000);
        for p in ["xc3511", "vizxv", "7ujMko0admin", "admin", "toor"] {
            assert!(w.contains(&p), "{p}");
        }
    }

    #[test]
    fn vendor_defaults_are_tried_first() {
        let n = vendor_word_count();
        let w = builtin_words();
        assert!(n > 100 && n < w.len(), "{n}");
        for p in ["xc3511", "sohoadmin", "ubnt"] {
            assert!(w[..n].contains(&p), "{p}");
        }
        let t = tree(&[
            File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
            File(
                "/etc/shadow",
                b"root:$1$Xq3vT9aL$4xH4eHrf4E0tv2BIbiKNk0:16000:0:99999:7:::\n",
                0o600,
            ),
        ]);
        let out = run(&t);
        let f = out
            .iter()
            .find(|f| f.rule == "ASSAY-CRED-001")
            .expect("cracked");
        assert_eq!(f.context["password"], "sohoadmin");
    }
}
