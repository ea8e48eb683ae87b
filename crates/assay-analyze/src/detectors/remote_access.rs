//! Remote-access services started when the device boots: telnet and SSH servers, bind
//! shells, inetd services, shells on serial consoles, and servers that expose the whole
//! filesystem. A daemon that only ships in the image is not a finding; one that the boot
//! model shows starting is, with the line that starts it and the port it binds.

use crate::boot::{boot_model, program_of, StartedCommand, Trigger};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, Severity};

/// The remote-access detector.
pub struct RemoteAccess;

const TELNET: Rule = Rule {
    id: "ASSAY-REMOTE-001",
    category: Category::RemoteAccess,
    severity: Severity::High,
    title: "Telnet server started at boot",
    description: "A telnet daemon (telnetd, utelnetd) is started by the init system. Telnet sends \
        passwords in clear text; with `-l /bin/sh` it gives a root shell with no password at all \
        (critical).",
};
const SSH: Rule = Rule {
    id: "ASSAY-REMOTE-002",
    category: Category::RemoteAccess,
    severity: Severity::Medium,
    title: "SSH server started at boot",
    description: "An SSH server (dropbear, sshd) is started at boot. Expected on many devices; \
        critical when blank passwords are accepted (dropbear -B), low when password logins are \
        disabled (-s).",
};
const BIND_SHELL: Rule = Rule {
    id: "ASSAY-REMOTE-003",
    category: Category::RemoteAccess,
    severity: Severity::Critical,
    title: "Shell bound to a network port",
    description: "A command that listens on the network and hands each connection a shell \
        (`nc -l -e /bin/sh`, `socat … EXEC:/bin/sh`): anyone who can reach the port is root.",
};
const INETD: Rule = Rule {
    id: "ASSAY-REMOTE-004",
    category: Category::RemoteAccess,
    severity: Severity::High,
    title: "inetd service giving remote access",
    description: "An inetd/xinetd entry starts a telnet, shell or login service on a port; with a \
        shell as the login program it is an unauthenticated root shell (critical).",
};
const SERIAL_SHELL: Rule = Rule {
    id: "ASSAY-REMOTE-005",
    category: Category::RemoteAccess,
    severity: Severity::Medium,
    title: "Shell on a serial console without login",
    description: "An inittab entry spawns a shell on a console or serial line without getty or \
        login: anyone with the UART pins gets a root shell.",
};
const FILE_SERVER: Rule = Rule {
    id: "ASSAY-REMOTE-006",
    category: Category::RemoteAccess,
    severity: Severity::High,
    title: "Server exposing the filesystem started at boot",
    description: "An HTTP, FTP or TFTP server started at boot serves the root filesystem (or is a \
        file server by nature): password files and private keys can be downloaded.",
};

static RULES: &[Rule] = &[TELNET, SSH, BIND_SHELL, INETD, SERIAL_SHELL, FILE_SERVER];

impl Detector for RemoteAccess {
    fn name(&self) -> &'static str {
        "remote-access"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        for fs in 0..a.filesystems.len() {
            let model = boot_model(a, fs);
            for cmd in &model.commands {
                if let Some(f) = classify(a, cmd) {
                    out.push(f);
                }
            }
        }
    }
}

fn option_value<'a>(args: &'a [String], flags: &[&str]) -> Option<&'a str> {
    for (i, w) in args.iter().enumerate() {
        for f in flags {
            if w == f {
                return args.get(i + 1).map(String::as_str);
            }
            // Joined short option: -p2323
            if f.len() == 2 && w.starts_with(f) && w.len() > 2 && !w.starts_with("--") {
                return Some(&w[2..]);
            }
        }
    }
    None
}

fn has_flag(args: &[String], flag: char) -> bool {
    args.iter().any(|w| {
        w.starts_with('-')
            && !w.starts_with("--")
            && w[1..].chars().all(|c| c.is_ascii_alphabetic())
            && w[1..].contains(flag)
    })
}

/// The port in `[addr:]port`.
fn port_of(spec: &str) -> Option<u16> {
    spec.rsplit(':').next()?.parse().ok()
}

fn is_shell(prog: &str) -> bool {
    let base = prog.rsplit('/').next().unwrap_or(prog);
    matches!(
        base,
        "sh" | "ash" | "bash" | "hush" | "dash" | "zsh" | "ksh" | "msh"
    )
}

fn classify(a: &Analysis, cmd: &StartedCommand) -> Option<Finding> {
    if cmd.trigger == Trigger::Inetd {
        return inetd_entry(a, cmd);
    }
    let (prog, rest) = program_of(&cmd.words)?;
    if runs_a_script(a, cmd, rest) {
        return None;
    }
    let args = &cmd.words[rest.min(cmd.words.len())..];
    let when = cmd.trigger.as_str();
    let (rule, severity, title, port, service) = match prog.as_str() {
        "telnetd" | "utelnetd" | "in.telnetd" => {
            let port = option_value(args, &["-p"]).and_then(port_of).unwrap_or(23);
            let login = option_value(args, &["-l"]);
            match login {
                Some(l) if is_shell(l) => (
                    TELNET,
                    Severity::Critical,
                    format!("Telnet on TCP {port} gives a root shell without a password ({prog} -l {l})"),
                    port,
                    prog.clone(),
                ),
                _ => (
                    TELNET,
                    Severity::High,
                    format!("Telnet server {prog} started at {when} on TCP {port}"),
                    port,
                    prog.clone(),
                ),
            }
        }
        "dropbear" | "sshd" => {
            let port = option_value(args, &["-p"]).and_then(port_of).unwrap_or(22);
            if prog == "dropbear" && has_flag(args, 'B') {
                (
                    SSH,
                    Severity::Critical,
                    format!("Dropbear on TCP {port} accepts logins with blank passwords (-B)"),
                    port,
                    prog.clone(),
                )
            } else if prog == "dropbear" && has_flag(args, 's') {
                (
                    SSH,
                    Severity::Low,
                    format!("Dropbear SSH server started at {when} on TCP {port} (password logins disabled)"),
                    port,
                    prog.clone(),
                )
            } else {
                (
                    SSH,
                    Severity::Medium,
                    format!("SSH server {prog} started at {when} on TCP {port}"),
                    port,
                    prog.clone(),
                )
            }
        }
        "nc" | "netcat" | "ncat" => {
            let listens = has_flag(args, 'l') || args.iter().any(|w| w == "--listen");
            let exec = option_value(args, &["-e", "-c", "--exec", "--sh-exec"]);
            if !listens || !exec.is_some_and(|e| is_shell(e.split_whitespace().next().unwrap_or(e)))
            {
                return None;
            }
            let port = option_value(args, &["-p"])
                .and_then(port_of)
                .or_else(|| args.iter().rev().find_map(|w| w.parse::<u16>().ok()))
                .unwrap_or(0);
            (
                BIND_SHELL,
                Severity::Critical,
                format!(
                    "Bind shell: {prog} listens on TCP {port} and runs {} for every connection",
                    exec.unwrap_or("a shell")
                ),
                port,
                format!("{prog} bind shell"),
            )
        }
        "socat" => {
            let lower = cmd.command.to_ascii_lowercase();
            if !(lower.contains("listen")
                && (lower.contains("exec:/bin/sh")
                    || lower.contains("exec:sh")
                    || lower.contains("system:")))
            {
                return None;
            }
            let port = lower
                .split("listen:")
                .nth(1)
                .and_then(|p| p.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            (
                BIND_SHELL,
                Severity::Critical,
                format!("Bind shell: socat listens on TCP {port} and executes a shell"),
                port,
                "socat bind shell".into(),
            )
        }
        "httpd" | "mini_httpd" | "thttpd" | "uhttpd" | "lighttpd" | "boa" | "goahead" => {
            let root = option_value(args, &["-h", "-d"]);
            if root != Some("/") {
                return None;
            }
            let port = option_value(args, &["-p"]).and_then(port_of).unwrap_or(80);
            (
                FILE_SERVER,
                Severity::High,
                format!("{prog} on TCP {port} serves the whole root filesystem (document root /)"),
                port,
                prog.clone(),
            )
        }
        "tcpsvd" | "udpsvd" => {
            // tcpsvd [opts] IP PORT PROG ARGS
            let pos: Vec<&String> = args.iter().filter(|w| !w.starts_with('-')).collect();
            let port = pos.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            let served = pos
                .get(2)
                .map(|s| s.rsplit('/').next().unwrap_or(s))
                .unwrap_or("");
            let rule_sev = match served {
                s if is_shell(s) => (BIND_SHELL, Severity::Critical),
                "telnetd" => (TELNET, Severity::High),
                "ftpd" | "tftpd" => (FILE_SERVER, Severity::High),
                _ => return None,
            };
            (
                rule_sev.0,
                rule_sev.1,
                format!("{prog} serves {served} on port {port}, started at {when}"),
                port,
                served.to_string(),
            )
        }
        "tftpd" | "ftpd" | "vsftpd" | "proftpd" | "pure-ftpd" => {
            let port = if prog == "tftpd" { 69 } else { 21 };
            (
                FILE_SERVER,
                Severity::Medium,
                format!("File server {prog} started at {when}"),
                port,
                prog.clone(),
            )
        }
        p if cmd.trigger == Trigger::Inittab && is_shell(p) => {
            let line = a.bytes(cmd.node).get(cmd.range.clone()).unwrap_or(&[]);
            let console = String::from_utf8_lossy(line)
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            let console = if console.is_empty() {
                "console".to_string()
            } else {
                console
            };
            let mut f = a.finding(
                &SERIAL_SHELL,
                cmd.node,
                cmd.range.clone(),
                format!("Root shell on {console} without login ({})", cmd.command),
            );
            f.context.insert("console".into(), console);
            f.context
                .insert("started_by".into(), cmd.started_by.clone());
            f.context.insert("line".into(), cmd.line_no.to_string());
            return Some(f);
        }
        _ => return None,
    };
    let mut f = a.finding(&rule, cmd.node, cmd.range.clone(), title);
    f.severity = severity;
    f.confidence = Confidence::High;
    f.context.insert("service".into(), service);
    f.context.insert("port".into(), port.to_string());
    f.context.insert("proto".into(), "tcp".into());
    f.context
        .insert("started_by".into(), cmd.started_by.clone());
    f.context
        .insert("trigger".into(), cmd.trigger.as_str().into());
    f.context.insert("line".into(), cmd.line_no.to_string());
    f.context.insert("command".into(), cmd.command.clone());
    Some(f)
}

/// Whether the program word names a script of the same filesystem (an init script called
/// `dropbear` is not the dropbear daemon; the boot model follows it separately).
fn runs_a_script(a: &Analysis, cmd: &StartedCommand, rest: usize) -> bool {
    let Some(word) = rest.checked_sub(1).and_then(|i| cmd.words.get(i)) else {
        return false;
    };
    if !word.starts_with('/') {
        return false;
    }
    // `/etc/init.d/sshd enabled` asks an init script, whether or not the script ships.
    if word.starts_with("/etc/init.d/") || word.starts_with("/etc/rc.d/") {
        return true;
    }
    let Some(fs) = a.fs_of(cmd.node) else {
        return false;
    };
    a.read_nested(fs, word)
        .is_some_and(|(_, _, bytes)| bytes.starts_with(b"#!") || crate::boot::is_text(bytes))
}

/// Well-known service names of inetd.conf mapped to their ports.
fn service_port(a: &Analysis, cmd: &StartedCommand, name: &str) -> Option<u16> {
    if let Ok(p) = name.parse() {
        return Some(p);
    }
    // Look the name up in the same filesystem's /etc/services first.
    if let Some(fs) = a.fs_of(cmd.node) {
        if let Some((_, bytes)) = a.read(fs, "/etc/services") {
            for line in String::from_utf8_lossy(bytes).lines() {
                let mut it = line.split_whitespace();
                if it.next() == Some(name) {
                    if let Some(pp) = it.next() {
                        if let Some(p) = pp.split('/').next().and_then(|p| p.parse().ok()) {
                            return Some(p);
                        }
                    }
                }
            }
        }
    }
    Some(match name {
        "telnet" => 23,
        "ftp" => 21,
        "tftp" => 69,
        "shell" | "cmd" => 514,
        "login" => 513,
        "exec" => 512,
        "ssh" => 22,
        _ => return None,
    })
}

fn inetd_entry(a: &Analysis, cmd: &StartedCommand) -> Option<Finding> {
    let w = &cmd.words;
    // service socket proto wait user server [args...]
    if w.len() < 6 || w[0].starts_with('#') {
        return None;
    }
    let server = w[5].rsplit('/').next().unwrap_or(&w[5]).to_string();
    let args = &w[6.min(w.len())..];
    let args = if args
        .first()
        .is_some_and(|a0| a0.rsplit('/').next() == Some(server.as_str()))
    {
        &args[1..]
    } else {
        args
    };
    let port = service_port(a, cmd, &w[0]).unwrap_or(0);
    let (severity, title) = match server.as_str() {
        "telnetd" | "in.telnetd" | "utelnetd" => {
            match option_value(args, &["-l"]) {
                Some(l) if is_shell(l) => (
                    Severity::Critical,
                    format!("inetd serves an unauthenticated root shell over telnet on TCP {port} ({server} -l {l})"),
                ),
                _ => (Severity::High, format!("inetd serves telnet on TCP {port}")),
            }
        }
        s if is_shell(s) => (Severity::Critical, format!("inetd runs a shell for every connection on port {port}")),
        "in.rshd" | "rshd" | "in.rlogind" | "rlogind" | "in.rexecd" | "rexecd" => {
            (Severity::High, format!("inetd serves {server} (r-services) on port {port}"))
        }
        "ftpd" | "in.ftpd" | "tftpd" | "in.tftpd" => (Severity::Medium, format!("inetd serves {server} on port {port}")),
        _ => return None,
    };
    let mut f = a.finding(&INETD, cmd.node, cmd.range.clone(), title);
    f.severity = severity;
    f.context
        .insert("service".into(), format!("{server} via inetd"));
    f.context.insert("port".into(), port.to_string());
    f.context.insert("proto".into(), w[2].clone());
    f.context.insert("user".into(), w[4].clone());
    f.context.insert("line".into(), cmd.line_no.to_string());
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TestEntry::*;

    fn run(entries: &[crate::testutil::TestEntry]) -> Vec<Finding> {
        crate::testutil::run_detector(&RemoteAccess, entries)
    }

    #[test]
    fn reports_services_started_at_boot_with_ports() {
        let f = run(&[
            File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/ash --login\n", 0o644),
            File(
                "/etc/init.d/rcS",
                b"#!/bin/sh\n/usr/sbin/telnetd -p 2323 -l /bin/login\n/usr/sbin/dropbear -B -p 2222 -r /k\nhttpd -p 8081 -h /\n",
                0o755,
            ),
            File("/etc/inetd.conf", b"2601\tstream\ttcp\tnowait\troot\t/usr/sbin/telnetd\ttelnetd -i -l /bin/sh\n", 0o644),
            File("/bin/diagd.sh", b"nc -l -p 4444 -e /bin/sh\n", 0o755),
        ]);
        let find = |port: &str| {
            f.iter()
                .find(|x| x.context.get("port").map(String::as_str) == Some(port))
        };
        assert_eq!(find("2323").unwrap().severity, Severity::High);
        assert_eq!(find("2222").unwrap().severity, Severity::Critical);
        assert_eq!(find("8081").unwrap().rule, FILE_SERVER.id);
        assert_eq!(find("2601").unwrap().severity, Severity::Critical);
        assert!(f
            .iter()
            .any(|x| x.rule == SERIAL_SHELL.id && x.path == "/etc/inittab"));
        // diagd.sh is not started by anything here: no bind-shell finding.
        assert!(find("4444").is_none());
    }

    #[test]
    fn quiet_on_shipped_but_unstarted_daemons_and_hardened_ssh() {
        let f = run(&[
            File(
                "/etc/inittab",
                b"::sysinit:/etc/init.d/rcS\nttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n",
                0o644,
            ),
            File(
                "/etc/init.d/rcS",
                b"#!/bin/sh\n/etc/init.d/dropbear start\n",
                0o755,
            ),
            File(
                "/etc/init.d/dropbear",
                b"#!/bin/sh\ndropbear -s -g -r /tmp/key\n",
                0o755,
            ),
            Symlink("/usr/sbin/telnetd", "../../bin/busybox"),
        ]);
        assert!(f.iter().all(|x| x.severity <= Severity::Low), "{f:?}");
        assert_eq!(f.len(), 1);
    }
}
