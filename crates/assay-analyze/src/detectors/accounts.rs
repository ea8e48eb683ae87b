//! Accounts: passwd, shadow and group files wherever they are (not only `/etc`: overlay
//! `upper/etc`, `/etc/config`, `/var`, defaults in web roots), recognised by name and by the
//! shape of their lines. Reports the hidden and passwordless ways to log in.
//!
//! The parsed files are shared with the credentials detector (which cracks the hashes).

use super::text::{file_name, lines, looks_like_text};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, NodeId, Severity};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// Hidden UID-0 account.
pub const EXTRA_ROOT: Rule = Rule {
    id: "ASSAY-ACCT-001",
    category: Category::Account,
    severity: Severity::Critical,
    title: "Additional UID-0 account",
    description: "An account other than root has user id 0 in a passwd file. Every UID-0 \
        account is root under another name; vendors use them as hidden maintenance logins \
        that survive a change of the root password. Critical when it can log in (an empty or \
        usable password); medium when its password is locked (`*`, `!`): then no one logs in \
        with it, and what remains is a hardening fault (a daemon run as that user runs as root).",
};

/// Account without a password.
pub const EMPTY_PASSWORD: Rule = Rule {
    id: "ASSAY-ACCT-002",
    category: Category::Account,
    severity: Severity::Critical,
    title: "Account with an empty password",
    description: "The password field of an account is empty in shadow or passwd, so the account \
        logs in without a password (`*`, `!`, `!!` and `x` mean locked or shadowed and are not \
        reported). Critical for UID 0 or an account with a login shell, medium otherwise.",
};

/// Service account with a shell.
pub const SERVICE_SHELL: Rule = Rule {
    id: "ASSAY-ACCT-003",
    category: Category::Account,
    severity: Severity::Low,
    title: "Service account with a login shell",
    description: "A system or service account (user id 1-999, or a well-known name like daemon, \
        bin, nobody, operator, ftp) has an interactive login shell. Service accounts should use \
        nologin or false; a shell turns a leaked or default service password into a login. \
        Medium when the account also has a usable password.",
};

/// passwd and shadow disagree.
pub const MISMATCH: Rule = Rule {
    id: "ASSAY-ACCT-004",
    category: Category::Account,
    severity: Severity::Low,
    title: "Account in only one of passwd and shadow",
    description: "An account is listed in a shadow file but not in the passwd file next to it, \
        or the reverse. A leftover or hand-edited account database hides accounts from a casual \
        review and shows that the image was modified after its build.",
};

/// The account detector.
pub struct Accounts;

/// Kinds of account database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFileKind {
    /// `name:pw:uid:gid:gecos:home:shell`
    Passwd,
    /// `name:hash:lastchg:min:max:warn:inactive:expire:`
    Shadow,
    /// `name:pw:gid:members`
    Group,
}

/// One parsed account line.
#[derive(Debug, Clone)]
pub struct AccountEntry {
    /// Account name.
    pub name: String,
    /// The password field verbatim.
    pub password: String,
    /// User id (passwd) or group id (group).
    pub uid: Option<u32>,
    /// Login shell (passwd only).
    pub shell: Option<String>,
    /// Home directory (passwd only).
    pub home: Option<String>,
    /// The line's byte range in the file.
    pub line: Range<usize>,
}

/// A passwd, shadow or group file and its entries.
#[derive(Debug, Clone)]
pub struct AccountFile {
    /// The file's node.
    pub node: NodeId,
    /// Its filesystem.
    pub fs: Option<usize>,
    /// Its path.
    pub path: String,
    /// Which database it is.
    pub kind: AccountFileKind,
    /// Its accounts in file order.
    pub entries: Vec<AccountEntry>,
}

/// What a password field allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    /// Empty: login without a password.
    Empty,
    /// `*`, `!`, `!!`, `!<hash>`, `x` in shadow: no password login.
    Locked,
    /// `x` in passwd: the password is in shadow.
    Shadowed,
    /// Anything else: a hash (or a plaintext) that a password can match.
    Usable,
}

/// Classify a password field of a passwd (`in_passwd`) or shadow file.
pub fn password_state(field: &str, in_passwd: bool) -> PasswordState {
    let f = field.trim();
    if f.is_empty() {
        PasswordState::Empty
    } else if f == "x" && in_passwd {
        PasswordState::Shadowed
    } else if f.starts_with('!') || f.starts_with('*') || f == "x" || f == "NP" || f == "LK" {
        PasswordState::Locked
    } else {
        PasswordState::Usable
    }
}

/// Whether a shell gives an interactive login (empty means `/bin/sh`).
pub fn is_login_shell(shell: &str) -> bool {
    let s = shell.trim();
    if s.is_empty() {
        return true;
    }
    let name = file_name(s);
    !(name.contains("nologin")
        || matches!(
            name,
            "false" | "true" | "sync" | "shutdown" | "halt" | "reboot" | "poweroff" | "null"
        ))
}

/// Well-known service account names.
const SERVICE_NAMES: &[&str] = &[
    "daemon",
    "bin",
    "sys",
    "adm",
    "lp",
    "sync",
    "shutdown",
    "halt",
    "mail",
    "news",
    "uucp",
    "operator",
    "games",
    "man",
    "proxy",
    "www-data",
    "www",
    "http",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "ftp",
    "sshd",
    "messagebus",
    "dnsmasq",
    "network",
    "ntp",
    "mysql",
    "postgres",
    "systemd-network",
    "systemd-resolve",
    "avahi",
    "dbus",
    "haldaemon",
    "quagga",
    "zebra",
    "snmp",
    "tftp",
    "nogroup",
    "logger",
    "radvd",
    "dhcp",
    "_apt",
];

fn looks_like_passwd_line(f: &[&str]) -> bool {
    f.len() == 7
        && !f[0].is_empty()
        && f[0].len() <= 64
        && f[2].parse::<u32>().is_ok()
        && f[3].parse::<u32>().is_ok()
        && is_account_name(f[0])
}

/// Whether `name` can be an account's name: no blanks, nothing else asked. Login programs
/// compare bytes, so a name with escape sequences, C1 controls or bidirectional overrides
/// is an account like any other (and one chosen to hide); the fields around it tell a
/// passwd line from other text.
fn is_account_name(name: &str) -> bool {
    !name.chars().any(|c| c.is_whitespace() || c == '\0')
}

fn looks_like_shadow_line(f: &[&str]) -> bool {
    let num = |s: &str| s.is_empty() || s.trim_start_matches('-').parse::<i64>().is_ok();
    f.len() == 9
        && !f[0].is_empty()
        && f[0].len() <= 64
        && is_account_name(f[0])
        && f[2..8].iter().all(|s| num(s))
}

fn looks_like_group_line(f: &[&str]) -> bool {
    f.len() == 4 && !f[0].is_empty() && f[2].parse::<u32>().is_ok()
}

/// Parse `bytes` as an account database of `kind`: the lines of that shape (comments and
/// blank lines skipped), and how many lines were not of that shape.
fn parse(bytes: &[u8], kind: AccountFileKind) -> (Vec<AccountEntry>, usize) {
    let mut entries = Vec::new();
    let mut other = 0;
    for (range, line) in lines(bytes) {
        let Ok(line) = std::str::from_utf8(line) else {
            other += 1;
            continue;
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let ok = match kind {
            AccountFileKind::Passwd => looks_like_passwd_line(&f),
            AccountFileKind::Shadow => looks_like_shadow_line(&f),
            AccountFileKind::Group => looks_like_group_line(&f),
        };
        if !ok {
            other += 1;
            continue;
        }
        let (uid, shell, home) = match kind {
            AccountFileKind::Passwd => (
                f[2].parse().ok(),
                Some(f[6].to_string()),
                Some(f[5].to_string()),
            ),
            AccountFileKind::Group => (f[2].parse().ok(), None, None),
            AccountFileKind::Shadow => (None, None, None),
        };
        entries.push(AccountEntry {
            name: f[0].to_string(),
            password: f[1].to_string(),
            uid,
            shell,
            home,
            line: range,
        });
    }
    (entries, other)
}

/// Which database a file name suggests.
fn kind_by_name(name: &str) -> Option<AccountFileKind> {
    let n = name.to_ascii_lowercase();
    let n = n.trim_end_matches('-');
    let stem = n.split('.').next().unwrap_or(n);
    let is =
        |w: &str| stem == w || stem.ends_with(&format!("_{w}")) || n.ends_with(&format!(".{w}"));
    if is("passwd") {
        Some(AccountFileKind::Passwd)
    } else if is("shadow") {
        Some(AccountFileKind::Shadow)
    } else if is("group") {
        Some(AccountFileKind::Group)
    } else {
        None
    }
}

/// Find and parse every account database in the tree.
pub fn account_files(analysis: &Analysis) -> Vec<AccountFile> {
    let mut out = Vec::new();
    for f in analysis.files() {
        if f.bytes.len() > 1 << 20 || !looks_like_text(f.bytes) {
            continue;
        }
        let name = file_name(&f.node.path);
        let found = match kind_by_name(name) {
            Some(kind) => {
                let (entries, _) = parse(f.bytes, kind);
                (!entries.is_empty()).then_some((kind, entries))
            }
            None => {
                // By content: every non-comment line of the shape, and at least two of them
                // or a root line.
                [AccountFileKind::Passwd, AccountFileKind::Shadow]
                    .into_iter()
                    .find_map(|kind| {
                        let (entries, other) = parse(f.bytes, kind);
                        let enough = entries.len() >= 2 || entries.iter().any(|e| e.name == "root");
                        (other == 0 && enough).then_some((kind, entries))
                    })
            }
        };
        if let Some((kind, entries)) = found {
            out.push(AccountFile {
                node: f.node.id,
                fs: f.fs,
                path: f.node.path.clone(),
                kind,
                entries,
            });
        }
    }
    out
}

/// The passwd file that describes the accounts of `shadow`: the sibling passwd (same
/// directory, same naming), else `/etc/passwd` of the same filesystem, else of any filesystem.
/// The flag says whether it is a sibling.
pub fn passwd_for<'f>(
    files: &'f [AccountFile],
    shadow: &AccountFile,
) -> Option<(&'f AccountFile, bool)> {
    let passwds = || files.iter().filter(|f| f.kind == AccountFileKind::Passwd);
    let dir = shadow.path.rsplit_once('/').map(|p| p.0).unwrap_or("");
    let sibling_name = file_name(&shadow.path).replace("shadow", "passwd");
    if let Some(p) =
        passwds().find(|p| p.fs == shadow.fs && p.path == format!("{dir}/{sibling_name}"))
    {
        return Some((p, true));
    }
    if let Some(p) =
        passwds().find(|p| p.fs == shadow.fs && p.path.rsplit_once('/').map(|x| x.0) == Some(dir))
    {
        return Some((p, true));
    }
    passwds()
        .find(|p| p.fs == shadow.fs && p.path == "/etc/passwd")
        .or_else(|| passwds().find(|p| p.path == "/etc/passwd"))
        .or_else(|| passwds().next())
        .map(|p| (p, false))
}

/// The shadow file next to a passwd file, if any.
fn sibling_shadow<'f>(files: &'f [AccountFile], passwd: &AccountFile) -> Option<&'f AccountFile> {
    files
        .iter()
        .filter(|f| f.kind == AccountFileKind::Shadow)
        .find(|s| matches!(passwd_for(files, s), Some((p, true)) if p.node == passwd.node))
}

fn is_service(e: &AccountEntry) -> bool {
    matches!(e.uid, Some(1..=999)) || SERVICE_NAMES.contains(&e.name.as_str())
}

fn context(f: &mut Finding, file: &AccountFile, e: &AccountEntry, info: Option<&AccountEntry>) {
    f.context.insert("account".into(), e.name.clone());
    f.context.insert("file".into(), file.path.clone());
    let info = info.unwrap_or(e);
    if let Some(uid) = info.uid {
        f.context.insert("uid".into(), uid.to_string());
    }
    if let Some(shell) = &info.shell {
        f.context.insert("shell".into(), shell.clone());
    }
    if let Some(home) = &info.home {
        f.context.insert("home".into(), home.clone());
    }
}

impl Detector for Accounts {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn rules(&self) -> &'static [Rule] {
        &[EXTRA_ROOT, EMPTY_PASSWORD, SERVICE_SHELL, MISMATCH]
    }

    fn run(&self, analysis: &Analysis, out: &mut crate::FindingSink) {
        let files = account_files(analysis);
        for file in &files {
            match file.kind {
                AccountFileKind::Passwd => passwd_findings(analysis, &files, file, out),
                AccountFileKind::Shadow => shadow_findings(analysis, &files, file, out),
                AccountFileKind::Group => {}
            }
        }
    }
}

fn passwd_findings(
    analysis: &Analysis,
    files: &[AccountFile],
    file: &AccountFile,
    out: &mut crate::FindingSink,
) {
    let shadow = sibling_shadow(files, file);
    let shadow_entry = |name: &str| shadow.and_then(|s| s.entries.iter().find(|e| e.name == name));
    for e in &file.entries {
        let shell = e.shell.as_deref().unwrap_or("");
        let login = is_login_shell(shell);
        let mut state = password_state(&e.password, true);
        if state == PasswordState::Shadowed {
            if let Some(s) = shadow_entry(&e.name) {
                state = password_state(&s.password, false);
            }
        }
        if e.uid == Some(0) && e.name != "root" {
            let usable = !matches!(state, PasswordState::Locked);
            let mut f = analysis.finding(
                &EXTRA_ROOT,
                file.node,
                e.line.clone(),
                format!("Additional UID-0 account '{}' in {}", e.name, file.path),
            );
            if !usable {
                f.severity = Severity::Medium;
                f.title.push_str(" (locked: no password login)");
            }
            context(&mut f, file, e, None);
            out.push(f);
        }
        if password_state(&e.password, true) == PasswordState::Empty {
            let mut f = analysis.finding(
                &EMPTY_PASSWORD,
                file.node,
                e.line.clone(),
                format!(
                    "Account '{}' has an empty password in {}",
                    e.name, file.path
                ),
            );
            if e.uid != Some(0) && !login {
                f.severity = Severity::Medium;
            }
            context(&mut f, file, e, None);
            out.push(f);
        }
        if e.uid != Some(0) && e.name != "root" && is_service(e) && login && !shell.is_empty() {
            let mut f = analysis.finding(
                &SERVICE_SHELL,
                file.node,
                e.line.clone(),
                format!("Service account '{}' has the login shell {}", e.name, shell),
            );
            if state == PasswordState::Usable {
                f.severity = Severity::Medium;
            }
            context(&mut f, file, e, None);
            out.push(f);
        }
        if let Some(s) = shadow {
            if e.password == "x" && !s.entries.iter().any(|x| x.name == e.name) {
                let mut f = analysis.finding(
                    &MISMATCH,
                    file.node,
                    e.line.clone(),
                    format!(
                        "Account '{}' is in {} but not in {}",
                        e.name, file.path, s.path
                    ),
                );
                f.confidence = Confidence::Medium;
                context(&mut f, file, e, None);
                out.push(f);
            }
        }
    }
}

fn shadow_findings(
    analysis: &Analysis,
    files: &[AccountFile],
    file: &AccountFile,
    out: &mut crate::FindingSink,
) {
    let passwd = passwd_for(files, file);
    let names: BTreeSet<&str> = passwd
        .map(|(p, _)| p.entries.iter().map(|e| e.name.as_str()).collect())
        .unwrap_or_default();
    let info: BTreeMap<&str, &AccountEntry> = passwd
        .map(|(p, _)| p.entries.iter().map(|e| (e.name.as_str(), e)).collect())
        .unwrap_or_default();
    for e in &file.entries {
        let pw = info.get(e.name.as_str()).copied();
        if password_state(&e.password, false) == PasswordState::Empty {
            let uid0 = pw.map(|p| p.uid == Some(0)).unwrap_or(e.name == "root");
            let login = pw
                .map(|p| is_login_shell(p.shell.as_deref().unwrap_or("")))
                .unwrap_or(true);
            let mut f = analysis.finding(
                &EMPTY_PASSWORD,
                file.node,
                e.line.clone(),
                format!(
                    "Account '{}' has an empty password in {}",
                    e.name, file.path
                ),
            );
            if !uid0 && !login {
                f.severity = Severity::Medium;
            } else if !uid0 && pw.is_none() {
                f.severity = Severity::High;
            }
            context(&mut f, file, e, pw);
            out.push(f);
        }
        if let Some((p, true)) = passwd {
            if !names.contains(e.name.as_str()) {
                let mut f = analysis.finding(
                    &MISMATCH,
                    file.node,
                    e.line.clone(),
                    format!(
                        "Account '{}' is in {} but not in {}",
                        e.name, file.path, p.path
                    ),
                );
                f.confidence = Confidence::Medium;
                context(&mut f, file, e, None);
                out.push(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    fn run(t: &assay_unpack::UnpackResult) -> Vec<Finding> {
        let a = Analysis::new(t);
        let mut out = crate::FindingSink::new();
        Accounts.run(&a, &mut out);
        out.held().to_vec()
    }

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/ash\n\
daemon:*:1:1:daemon:/var:/bin/false\n\
ftp:*:55:55:ftp:/home/ftp:/bin/false\n\
dbgadmin:x:0:0:debug:/root:/bin/sh\n\
operator:x:37:37:Operator:/var:/bin/sh\n\
nobody:*:65534:65534:nobody:/var:/bin/false\n";

    const SHADOW: &[u8] = b"root:$1$abcdefgh$0123456789012345678901:19000:0:99999:7:::\n\
daemon:*:19000:0:99999:7:::\n\
ftp:*:19000:0:99999:7:::\n\
dbgadmin::19000:0:99999:7:::\n\
operator:$1$x$y:19000:0:99999:7:::\n\
nobody:*:19000:0:99999:7:::\n\
ghost:!:19000:0:99999:7:::\n";

    #[test]
    fn finds_hidden_root_empty_password_service_shell_and_mismatch() {
        let t = tree(&[
            Dir("/etc"),
            File("/etc/passwd", PASSWD, 0o644),
            File("/etc/shadow", SHADOW, 0o600),
        ]);
        let out = run(&t);
        let by = |rule: &str| out.iter().filter(|f| f.rule == rule).collect::<Vec<_>>();
        let hidden = by("ASSAY-ACCT-001");
        assert_eq!(hidden.len(), 1);
        assert_eq!(hidden[0].context["account"], "dbgadmin");
        assert_eq!(hidden[0].severity, Severity::Critical);
        assert_eq!(hidden[0].evidence, "dbgadmin:x:0:0:debug:/root:/bin/sh");
        assert_eq!(hidden[0].path, "/etc/passwd");
        let empty = by("ASSAY-ACCT-002");
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].path, "/etc/shadow");
        assert_eq!(empty[0].severity, Severity::Critical);
        assert_eq!(empty[0].context["uid"], "0");
        let svc = by("ASSAY-ACCT-003");
        assert_eq!(svc.len(), 1);
        assert_eq!(svc[0].context["account"], "operator");
        assert_eq!(svc[0].severity, Severity::Medium);
        let mis = by("ASSAY-ACCT-004");
        assert_eq!(mis.len(), 1);
        assert_eq!(mis[0].context["account"], "ghost");
    }

    #[test]
    fn locked_accounts_are_quiet() {
        let t = tree(&[
            File("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1::/:/usr/sbin/nologin\nsync:x:4:65534:sync:/bin:/bin/sync\n", 0o644),
            File("/etc/shadow", b"root:!:19000:0:99999:7:::\ndaemon:*:19000::::::\nsync:!!:19000::::::\n", 0o600),
        ]);
        assert!(run(&t).is_empty(), "{:?}", run(&t));
    }

    #[test]
    fn locked_uid0_account_is_a_medium_hardening_fault_not_a_login() {
        let t = tree(&[File(
            "/etc/passwd.bak",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:*:0:0:nobody:/:/bin/sh\nadmin:$1$$iC.dUsGpxNNJGeOm1dFio/:0:0:root:/:/bin/sh\n",
            0o644,
        )]);
        let out = run(&t);
        let hidden: Vec<_> = out.iter().filter(|f| f.rule == "ASSAY-ACCT-001").collect();
        assert_eq!(hidden.len(), 2, "{out:?}");
        let nobody = hidden
            .iter()
            .find(|f| f.context["account"] == "nobody")
            .unwrap();
        assert_eq!(nobody.severity, Severity::Medium);
        assert!(nobody.title.contains("locked"));
        let admin = hidden
            .iter()
            .find(|f| f.context["account"] == "admin")
            .unwrap();
        assert_eq!(admin.severity, Severity::Critical);
    }

    #[test]
    fn finds_account_files_by_shape_and_in_overlays() {
        let t = tree(&[
            File(
                "/upper/etc/passwd",
                b"root:x:0:0:root:/root:/bin/ash\nremote:x:0:0::/root:/bin/ash\n",
                0o644,
            ),
            File(
                "/www/defaults/users.txt",
                b"root::0:0:root:/root:/bin/sh\nadmin:x:1000:1000::/home/admin:/bin/sh\n",
                0o644,
            ),
            File("/etc/notes.txt", b"see the manual: a:b:c\n", 0o644),
        ]);
        let out = run(&t);
        assert!(out
            .iter()
            .any(|f| f.rule == "ASSAY-ACCT-001" && f.path == "/upper/etc/passwd"));
        assert!(out.iter().any(|f| f.rule == "ASSAY-ACCT-002"
            && f.path == "/www/defaults/users.txt"
            && f.severity == Severity::Critical));
    }

    #[test]
    fn shadow_override_in_other_filesystem_uses_the_etc_passwd() {
        let t = tree(&[
            File("/etc/passwd", b"root:x:0:0:root:/root:/bin/ash\n", 0o644),
            File("/overlay/etc/shadow", b"root::19000:0:99999:7:::\n", 0o600),
        ]);
        let out = run(&t);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "/overlay/etc/shadow");
        assert_eq!(out[0].severity, Severity::Critical);
    }
}
