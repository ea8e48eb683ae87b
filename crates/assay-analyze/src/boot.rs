//! A model of how the device starts: which command lines run at boot, from cron or from
//! inetd, and which script or config line runs them. Detectors use it to tell a daemon that
//! merely ships in the image from one that listens on the network after power-on.
//!
//! Sources read: busybox/SysV `inittab`, `rcS` and every script under `/etc/init.d`, `/etc/rc.d`
//! and `rc.local` (with the scripts they call, followed transitively), OpenWrt procd init
//! scripts (`procd_set_param command …`), systemd units (`ExecStart=`), inetd/xinetd
//! configurations, and crontabs. Everything is bounded: files are read once, scripts are
//! followed at most [`MAX_SCRIPT_DEPTH`] calls deep.

use crate::Analysis;
use assay_model::NodeId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How deep calls from one boot script to the next are followed.
pub const MAX_SCRIPT_DEPTH: usize = 8;

/// What makes a command run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// Run by the init system when the device starts.
    Boot,
    /// Run on a schedule from a crontab.
    Cron,
    /// Started by inetd/xinetd when a connection arrives.
    Inetd,
    /// An inittab entry (console or serial line processes, sysinit).
    Inittab,
}

impl Trigger {
    /// Lower-case name for finding context.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Boot => "boot",
            Trigger::Cron => "cron",
            Trigger::Inetd => "inetd",
            Trigger::Inittab => "inittab",
        }
    }
}

/// One command line the device runs, and where it is written.
#[derive(Debug, Clone)]
pub struct StartedCommand {
    /// The file holding the line.
    pub node: NodeId,
    /// Byte range of the line in that file.
    pub range: std::ops::Range<usize>,
    /// 1-based line number.
    pub line_no: usize,
    /// The command as written (comments stripped, variables from simple assignments
    /// expanded).
    pub command: String,
    /// Words of the command after shell-like splitting.
    pub words: Vec<String>,
    /// What runs it.
    pub trigger: Trigger,
    /// Path of the script or config that starts it (for context).
    pub started_by: String,
    /// The user it runs as, when the starting configuration says (`root` for init scripts
    /// unless the command changes user; the inetd or crontab user; systemd's `User=`).
    pub user: Option<String>,
}

/// Every started command of one filesystem.
#[derive(Debug, Default)]
pub struct BootModel {
    /// Commands in a stable order (file path, then line).
    pub commands: Vec<StartedCommand>,
    /// Paths of scripts known to run at boot (or from cron), with what starts them.
    pub boot_scripts: BTreeMap<String, String>,
}

/// A line of a text file with its byte range and number.
pub struct Line<'a> {
    /// Text of the line without its newline.
    pub text: &'a str,
    /// Byte range in the file.
    pub range: std::ops::Range<usize>,
    /// 1-based line number.
    pub number: usize,
}

/// Split text into lines with byte offsets (lossy for non-UTF-8 lines, which are skipped).
pub fn lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        let end = memchr_newline(&bytes[start..]).map_or(bytes.len(), |i| start + i);
        number += 1;
        let raw = &bytes[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if let Ok(text) = std::str::from_utf8(raw) {
            out.push(Line {
                text,
                range: start..start + raw.len(),
                number,
            });
        }
        start = end + 1;
    }
    out
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Whether bytes look like text a person wrote (scripts, configs): valid UTF-8 or mostly
/// printable ASCII, no NUL bytes in the first 4 KiB.
pub fn is_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    if head.contains(&0) {
        return false;
    }
    let printable = head
        .iter()
        .filter(|&&b| {
            b == b'\n' || b == b'\t' || b == b'\r' || (0x20..0x7f).contains(&b) || b >= 0x80
        })
        .count();
    printable * 100 >= head.len() * 95
}

/// Strip a shell comment (`#` at the start or after whitespace, outside quotes).
pub fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '#' if prev_space => return &line[..i],
                _ => {}
            },
        }
        prev_space = c.is_whitespace() || c == ';';
    }
    line
}

/// Split a shell command into words, honouring quotes and backslashes; stops at the first
/// unquoted `;`, `&&`, `||` or `|`, so that a line yields its first command (callers split
/// compound lines with [`split_commands`] first).
pub fn shell_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = cmd.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            Some(_) => cur.push(c),
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    in_word = true;
                }
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                        in_word = true;
                    }
                }
                c if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                '&' => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                _ => {
                    cur.push(c);
                    in_word = true;
                }
            },
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Split a script line into its commands at unquoted `;`, `&&`, `||`, `|` and `&`, keeping
/// each piece's byte offset in the line.
pub fn split_commands(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                ';' | '|' | '&' => {
                    if i > start {
                        out.push((start, &line[start..i]));
                    }
                    // Skip doubled operators.
                    if i + 1 < bytes.len() && bytes[i + 1] as char == c {
                        i += 1;
                    }
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    if start < line.len() {
        out.push((start, &line[start..]));
    }
    out.into_iter()
        .filter(|(_, s)| !s.trim().is_empty())
        .collect()
}

/// The program a command runs, past wrappers (`busybox X`, `start-stop-daemon … --exec X`,
/// `nohup`, `exec`, `env`, `/sbin/ssd`), as (basename, index of the word after it).
pub fn program_of(words: &[String]) -> Option<(String, usize)> {
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w.contains('=') && !w.starts_with('/') && !w.starts_with('-') {
            // A `VAR=value` prefix.
            i += 1;
            continue;
        }
        let w = w.trim_start_matches(['(', '{']);
        let base = w.rsplit('/').next().unwrap_or(w);
        if matches!(
            base,
            "" | "do" | "then" | "else" | "elif" | "while" | "until" | "if" | "!" | "time"
        ) {
            i += 1;
            continue;
        }
        match base {
            "procd_set_param" if words.get(i + 1).is_some_and(|w| w == "command") => {
                // OpenWrt procd: `procd_set_param command /usr/sbin/telnetd -F …`.
                i += 2;
            }
            "service_start" => i += 1,
            "nohup" | "exec" | "env" | "nice" | "setsid" | "sudo" | "chroot" | "busybox"
            | "command" => {
                i += 1;
                if base == "chroot" {
                    i += 1;
                }
                if base == "nice" && words.get(i).is_some_and(|w| w.starts_with('-')) {
                    i += 1;
                }
            }
            "start-stop-daemon" | "ssd" => {
                let exec = words.iter().position(|w| w == "--exec" || w == "-x")?;
                let prog = words.get(exec + 1)?;
                let base = prog.rsplit('/').next().unwrap_or(prog).to_string();
                let rest = words
                    .iter()
                    .position(|w| w == "--")
                    .map_or(words.len(), |p| p + 1);
                return Some((base, rest));
            }
            _ => return Some((base.to_string(), i + 1)),
        }
    }
    None
}

/// Build the boot model of filesystem `fs`.
pub fn boot_model(a: &Analysis, fs: usize) -> BootModel {
    let mut model = BootModel::default();
    let Some(view) = a.filesystems.get(fs) else {
        return model;
    };
    // Seeds: (path, trigger, started_by).
    let mut queue: VecDeque<(String, Trigger, String, usize)> = VecDeque::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut seen_nodes: BTreeSet<NodeId> = BTreeSet::new();
    for path in view.entries.keys() {
        let p = strip_overlay(path);
        let seed = if p == "/etc/inittab" {
            Some((Trigger::Inittab, "init".to_string()))
        } else if p == "/etc/init.d/rcS"
            || p == "/etc/rc.local"
            || p == "/etc/rc.d/rc.local"
            || p.starts_with("/etc/init.d/")
            || p.starts_with("/etc/rc.d/")
            || p.starts_with("/etc/rcS.d/")
            || p.starts_with("/etc/rc2.d/")
            || p.starts_with("/etc/rc3.d/")
            || p.starts_with("/etc/rc5.d/")
        {
            Some((Trigger::Boot, p.to_string()))
        } else if p.starts_with("/etc/systemd/system/")
            || p.starts_with("/lib/systemd/system/")
            || p.starts_with("/usr/lib/systemd/system/")
        {
            p.ends_with(".service")
                .then(|| (Trigger::Boot, p.to_string()))
        } else if p == "/etc/inetd.conf"
            || p.starts_with("/etc/xinetd.d/")
            || p == "/etc/xinetd.conf"
        {
            Some((Trigger::Inetd, p.to_string()))
        } else if p == "/etc/crontab"
            || p.starts_with("/etc/crontabs/")
            || p.starts_with("/var/spool/cron/")
            || p.starts_with("/etc/cron.d/")
        {
            Some((Trigger::Cron, p.to_string()))
        } else {
            None
        };
        if let Some((trigger, by)) = seed {
            queue.push_back((path.clone(), trigger, by, 0));
        }
    }
    while let Some((path, trigger, by, depth)) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some((_, id, bytes)) = read_script(a, fs, &path) else {
            continue;
        };
        // The same script reached by another name (an rc.d symlink) is read once.
        if !seen_nodes.insert(id) {
            continue;
        }
        if !is_text(bytes) {
            continue;
        }
        if matches!(trigger, Trigger::Boot | Trigger::Cron) {
            model.boot_scripts.insert(path.clone(), by.clone());
        }
        let p = strip_overlay(&path);
        let file_user = file_user(p, bytes, trigger);
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for line in lines(bytes) {
            let text = strip_comment(line.text);
            if text.trim().is_empty() {
                continue;
            }
            let push =
                |cmd: String, trig: Trigger, model: &mut BootModel, forced: Option<String>| {
                    let words = shell_words(&cmd);
                    if words.is_empty() {
                        return Vec::new();
                    }
                    let called = called_scripts(&words);
                    let user = forced
                        .or_else(|| command_user(&words, trig))
                        .or_else(|| file_user.clone());
                    model.commands.push(StartedCommand {
                        node: id,
                        range: line.range.clone(),
                        line_no: line.number,
                        command: cmd,
                        words,
                        trigger: trig,
                        started_by: path.clone(),
                        user,
                    });
                    called
                };
            let mut called = Vec::new();
            if p == "/etc/inittab" {
                // id:runlevels:action:process
                let parts: Vec<&str> = text.splitn(4, ':').collect();
                if parts.len() == 4 && !parts[3].trim().is_empty() {
                    called.extend(push(
                        parts[3].trim().to_string(),
                        Trigger::Inittab,
                        &mut model,
                        None,
                    ));
                }
                continue;
            }
            if trigger == Trigger::Inetd && p == "/etc/inetd.conf" {
                called.extend(push(
                    text.trim().to_string(),
                    Trigger::Inetd,
                    &mut model,
                    None,
                ));
                continue;
            }
            if p.ends_with(".service") {
                if let Some(v) = text.trim().strip_prefix("ExecStart=") {
                    called.extend(push(
                        v.trim_start_matches(['-', '@', '+', '!']).to_string(),
                        Trigger::Boot,
                        &mut model,
                        None,
                    ));
                }
                continue;
            }
            if trigger == Trigger::Inetd {
                // xinetd: server / server_args
                called.extend(push(
                    text.trim().to_string(),
                    Trigger::Inetd,
                    &mut model,
                    None,
                ));
                continue;
            }
            for (_, cmd) in split_commands(text) {
                let cmd = cmd.trim();
                let expanded = expand_vars(cmd, &vars);
                // Simple assignments `NAME=value` feed later expansions.
                if let Some((name, value)) = assignment(&expanded) {
                    vars.insert(name, value);
                    // An assignment can still hold a URL worth reporting; keep it.
                }
                let mut forced = None;
                let cmd_text = if trigger == Trigger::Cron {
                    let c = cron_command(&expanded).unwrap_or(expanded.clone());
                    // System crontabs name the user before the command.
                    match c.split_once(char::is_whitespace) {
                        Some((u, rest)) if p == "/etc/crontab" || p.starts_with("/etc/cron.d/") => {
                            forced = Some(u.to_string());
                            rest.trim().to_string()
                        }
                        _ => c,
                    }
                } else {
                    expanded.clone()
                };
                called.extend(push(cmd_text, trigger, &mut model, forced));
            }
            for c in called {
                if depth < MAX_SCRIPT_DEPTH {
                    queue.push_back((c, trigger_for_callee(trigger), path.clone(), depth + 1));
                }
            }
        }
    }
    model.commands.sort_by(|x, y| {
        x.started_by
            .cmp(&y.started_by)
            .then(x.range.start.cmp(&y.range.start))
            .then(x.command.cmp(&y.command))
    });
    model
}

/// Find a script a boot command names: in the filesystem itself, or in an archive nested in
/// it that a boot script unpacks somewhere (`tar -xzf /opt/tools.tar.gz -C /opt/diag` then
/// `/opt/diag/bin/x.sh`): there the path is tried without its leading directories.
pub fn read_script<'a>(
    a: &Analysis<'a>,
    fs: usize,
    path: &str,
) -> Option<(usize, NodeId, &'a [u8])> {
    if let Some(hit) = a.read_nested(fs, path) {
        return Some(hit);
    }
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for skip in 1..parts.len() {
        let suffix = format!("/{}", parts[skip..].join("/"));
        for nested in a.nested_filesystems(fs) {
            if let Some((id, b)) = a.read(nested, &suffix) {
                return Some((nested, id, b));
            }
        }
    }
    None
}

/// The user every command of a file runs as, when the file says: systemd's `User=`, the
/// owner of a per-user crontab, xinetd's `user =`; init scripts and inittab run as root.
fn file_user(path: &str, bytes: &[u8], trigger: Trigger) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    if path.ends_with(".service") {
        let user = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("User=").map(|u| u.trim().to_string()));
        return Some(user.unwrap_or_else(|| "root".into()));
    }
    match trigger {
        Trigger::Boot | Trigger::Inittab => Some("root".into()),
        Trigger::Cron => {
            let base = path.rsplit('/').next().unwrap_or("");
            (path.starts_with("/etc/crontabs/") || path.starts_with("/var/spool/cron/"))
                .then(|| base.to_string())
                .filter(|b| !b.is_empty())
        }
        Trigger::Inetd => text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "user").then(|| v.trim().to_string())
        }),
    }
}

/// The user a command itself asks for: the inetd.conf user column, `start-stop-daemon -c`,
/// `su USER -c`, a system crontab's user column (moved to the end of the command).
fn command_user(words: &[String], trigger: Trigger) -> Option<String> {
    let clean = |u: &str| u.split([':', '.']).next().unwrap_or(u).to_string();
    if trigger == Trigger::Inetd
        && words.len() >= 6
        && matches!(words[1].as_str(), "stream" | "dgram")
    {
        return Some(clean(&words[4]));
    }
    for (i, w) in words.iter().enumerate() {
        match w.as_str() {
            "-c" | "--chuid"
                if words
                    .first()
                    .is_some_and(|p| p.ends_with("start-stop-daemon")) =>
            {
                return words.get(i + 1).map(|u| clean(u));
            }
            "su" if i == 0 => {
                return words[1..]
                    .iter()
                    .find(|x| !x.starts_with('-'))
                    .map(|u| clean(u));
            }
            _ => {}
        }
    }
    None
}

fn trigger_for_callee(t: Trigger) -> Trigger {
    match t {
        Trigger::Inittab => Trigger::Boot,
        other => other,
    }
}

/// Remove an OpenWrt-style overlay prefix (`/upper`) so overlay files count as the root's.
pub fn strip_overlay(path: &str) -> &str {
    path.strip_prefix("/upper")
        .filter(|p| p.starts_with('/'))
        .unwrap_or(path)
}

/// Absolute script paths a command runs (`/etc/init.d/S50x start`, `sh /bin/x.sh`,
/// `. /lib/functions.sh`).
fn called_scripts(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if matches!(
            w.as_str(),
            "sh" | "/bin/sh" | "ash" | "/bin/ash" | "bash" | "/bin/bash" | "." | "source"
        ) {
            if let Some(n) = words.get(i + 1) {
                if n.starts_with('/') {
                    out.push(n.clone());
                }
            }
        } else if i == 0 && w.starts_with('/') {
            out.push(w.clone());
        }
        i += 1;
    }
    // `for i in /etc/init.d/S??*` loops: every S-script is already seeded.
    out
}

fn assignment(cmd: &str) -> Option<(String, String)> {
    let cmd = cmd.strip_prefix("export ").unwrap_or(cmd).trim();
    let (name, value) = cmd.split_once('=')?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    if value.contains(char::is_whitespace) && !(value.starts_with('"') || value.starts_with('\'')) {
        return None;
    }
    let words = shell_words(value);
    Some((name.to_string(), words.join(" ")))
}

/// Expand `$NAME` and `${NAME}` from simple assignments seen earlier in the same script.
pub fn expand_vars(cmd: &str, vars: &BTreeMap<String, String>) -> String {
    if !cmd.contains('$') || vars.is_empty() {
        return cmd.to_string();
    }
    let mut out = String::with_capacity(cmd.len());
    let b = cmd.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                match cmd[i + 2..].find('}') {
                    Some(end) => (&cmd[i + 2..i + 2 + end], i + 3 + end),
                    None => ("", i + 1),
                }
            } else {
                let len = cmd[i + 1..]
                    .bytes()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                    .count();
                (&cmd[i + 1..i + 1 + len], i + 1 + len)
            };
            if let Some(v) = vars.get(name) {
                out.push_str(v);
                i = next;
                continue;
            }
        }
        let ch = cmd[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The command part of a crontab line (five time fields, an optional user in system
/// crontabs, then the command), or `None` for environment lines.
fn cron_command(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('@') {
        return line
            .split_once(char::is_whitespace)
            .map(|(_, c)| c.trim().to_string());
    }
    let mut rest = line;
    for _ in 0..5 {
        let (field, r) = rest.split_once(char::is_whitespace)?;
        if !field
            .chars()
            .all(|c| c.is_ascii_digit() || "*/,-".contains(c))
        {
            return None;
        }
        rest = r.trim_start();
    }
    Some(rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    #[test]
    fn splits_shell_lines() {
        assert_eq!(
            shell_words(r#"/usr/sbin/telnetd -p 2323 -l "/bin/login" &"#),
            vec!["/usr/sbin/telnetd", "-p", "2323", "-l", "/bin/login"]
        );
        let parts: Vec<&str> = split_commands("a; b && c | d &")
            .into_iter()
            .map(|p| p.1.trim())
            .collect();
        assert_eq!(parts, vec!["a", "b", "c", "d"]);
        assert_eq!(strip_comment("x # y"), "x ");
        assert_eq!(strip_comment("echo '#x'"), "echo '#x'");
        let w = shell_words("start-stop-daemon -S -x /usr/sbin/dropbear -- -p 22");
        assert_eq!(program_of(&w), Some(("dropbear".into(), 5)));
        assert_eq!(
            program_of(&shell_words("busybox telnetd -l /bin/sh"))
                .unwrap()
                .0,
            "telnetd"
        );
        assert_eq!(
            cron_command("*/15 * * * * /bin/x.sh"),
            Some("/bin/x.sh".into())
        );
    }

    #[test]
    fn unwraps_procd_and_service_helpers() {
        let procd = shell_words("procd_set_param command /usr/sbin/telnetd -F -l /bin/login.sh");
        assert_eq!(program_of(&procd), Some(("telnetd".into(), 3)));
        let svc = shell_words("service_start /usr/sbin/dropbear -p 22");
        assert_eq!(program_of(&svc).unwrap().0, "dropbear");
    }

    #[test]
    fn follows_scripts_started_at_boot_and_expands_variables() {
        let t = tree(&[
            File(
                "/etc/inittab",
                b"::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/sh\n",
                0o644,
            ),
            File(
                "/etc/init.d/rcS",
                b"#!/bin/sh\nPORT=2323\ntelnetd -p $PORT &\n/opt/start.sh\n",
                0o755,
            ),
            File("/opt/start.sh", b"nc -l -p 4444 -e /bin/sh\n", 0o755),
            File("/opt/unused.sh", b"telnetd -p 1\n", 0o755),
        ]);
        let a = Analysis::new(&t);
        let m = boot_model(&a, 0);
        let cmds: Vec<&str> = m.commands.iter().map(|c| c.command.as_str()).collect();
        assert!(cmds.contains(&"telnetd -p 2323"), "{cmds:?}");
        assert!(cmds.contains(&"nc -l -p 4444 -e /bin/sh"));
        assert!(!cmds.iter().any(|c| c.contains("-p 1")));
        assert!(m.boot_scripts.contains_key("/opt/start.sh"));
        let tty = m.commands.iter().find(|c| c.command == "/bin/sh").unwrap();
        assert_eq!(tty.trigger, Trigger::Inittab);
    }
}
