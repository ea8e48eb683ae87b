//! Programs that hand a shell to whoever connects: a listening program (from the exposure
//! map) that duplicates a descriptor onto its standard streams (`dup2`), runs a program
//! (`execve`, `execl`, `system` …) and holds a shell's path, never reads from a connection
//! itself (no `recv`, `read`, `fgets` …: the shell does the reading) and has nothing that asks
//! for a password (no `crypt`, `getspnam`, `getpwnam`, PAM, no password or login prompt). That
//! is a bind shell, whatever the program is called; telnetd, dropbear and busybox also dup2
//! and exec a shell, but only after a login, and servers that run scripts (dnsmasq's lease
//! script) read their requests themselves. A shell behind a magic word read from the socket
//! is ASSAY-BACKDOOR-110's.
//!
//! Found in dynamically linked programs (the imports say what they call); a statically linked,
//! stripped bind shell names no imports and is not found here.

use crate::detectors::exposure::listeners;
use crate::elf::elf_facts;
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Severity};

const BIND_SHELL_PROGRAM: Rule = Rule {
    id: "ASSAY-BACKDOOR-031",
    category: Category::Backdoor,
    severity: Severity::High,
    title: "Listening program hands a shell to whoever connects",
    description: "A program that accepts network connections duplicates the connection onto \
        its standard streams (dup2), runs a shell (execve, execl, system …, with a shell's path \
        in its strings), never reads from a connection itself and has no code that checks a \
        password (crypt, getspnam, getpwnam, PAM) and no login or password prompt: a bind \
        shell. Critical when the boot model starts it, high otherwise.",
};

/// Shell paths a bind shell runs.
const SHELLS: &[&[u8]] = &[
    b"/bin/sh\0",
    b"/bin/ash\0",
    b"/bin/bash\0",
    b"/bin/busybox sh\0",
];

/// Calls that run a program.
const EXEC: &[&str] = &[
    "execve",
    "execl",
    "execle",
    "execlp",
    "execv",
    "execvp",
    "execvpe",
    "system",
    "popen",
    "posix_spawn",
];

/// Calls that check a password.
const AUTH: &[&str] = &[
    "crypt",
    "crypt_r",
    "getspnam",
    "getspnam_r",
    "getpwnam",
    "getpwnam_r",
    "pam_start",
    "pam_authenticate",
    "getpass",
];

/// Calls that receive input: a program that makes them reads its connections itself.
const RECEIVE: &[&str] = &[
    "recv", "recvfrom", "recvmsg", "read", "readv", "fread", "fgets", "fgetc", "getc", "getline",
    "fscanf", "scanf",
];

/// The bind-shell detector.
pub struct BindShell;

impl Detector for BindShell {
    fn name(&self) -> &'static str {
        "bind-shell"
    }

    fn rules(&self) -> &'static [Rule] {
        std::slice::from_ref(&BIND_SHELL_PROGRAM)
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        for l in listeners(a) {
            if !l.protocols.iter().any(|p| p.starts_with("tcp")) {
                continue;
            }
            let bytes = a.bytes(l.node);
            let Some(facts) = elf_facts(bytes) else {
                continue;
            };
            let imports: Vec<&str> = facts
                .imports
                .iter()
                .map(|n| n.split('@').next().unwrap_or(n))
                .collect();
            let has = |names: &[&str]| imports.iter().any(|i| names.contains(i));
            if !has(&["dup2", "dup3"]) || !has(EXEC) || has(AUTH) || has(RECEIVE) {
                continue;
            }
            let Some((shell, at)) = SHELLS
                .iter()
                .find_map(|s| memchr::memmem::find(bytes, s).map(|at| (*s, at)))
            else {
                continue;
            };
            if asks_for_password(bytes) {
                continue;
            }
            let shell = String::from_utf8_lossy(&shell[..shell.len() - 1]).into_owned();
            let ports = crate::detectors::exposure::port_list(&l.ports);
            let mut f = a.finding(
                &BIND_SHELL_PROGRAM,
                l.node,
                at..at + shell.len(),
                format!(
                    "{} hands {shell} to whoever connects{}",
                    l.path,
                    if ports.is_empty() {
                        String::new()
                    } else {
                        format!(" on {ports}")
                    }
                ),
            );
            f.confidence = Confidence::High;
            f.context.insert("shell".into(), shell);
            if !ports.is_empty() {
                f.context.insert("ports".into(), ports);
            }
            let calls: Vec<&str> = imports
                .iter()
                .copied()
                .filter(|i| *i == "dup2" || *i == "dup3" || EXEC.contains(i))
                .collect();
            f.context.insert("calls".into(), calls.join(","));
            if l.started {
                f.severity = Severity::Critical;
                if let Some(s) = l.starts.first() {
                    f.context.insert("started_by".into(), s.started_by.clone());
                }
            }
            out.push(f);
        }
    }
}

/// Whether a program's strings ask for a password or a login name.
fn asks_for_password(bytes: &[u8]) -> bool {
    const PROMPTS: &[&[u8]] = &[b"assword", b"ogin:", b"ogin incorrect", b"/bin/login"];
    PROMPTS
        .iter()
        .any(|p| memchr::memmem::find(bytes, p).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    fn fixture(name: &str) -> Vec<u8> {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bind_shell/");
        std::fs::read(format!("{p}{name}")).expect("fixture (fixtures/scripts/bind-shell.sh)")
    }

    #[test]
    fn bind_shell_is_found_and_its_login_twin_is_not() {
        for arch in ["mipsel", "armel"] {
            let bind = fixture(&format!("bindsh-{arch}"));
            let login = fixture(&format!("loginsh-{arch}"));
            let t = tree(&[
                File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
                File(
                    "/etc/init.d/rcS",
                    b"#!/bin/sh\n/usr/bin/supportd &\n",
                    0o755,
                ),
                File("/usr/bin/supportd", &bind, 0o755),
                File("/usr/bin/bindsh", &bind[..], 0o700),
                File("/usr/sbin/rlogind", &login, 0o755),
            ]);
            let a = Analysis::new(&t);
            let mut out = crate::FindingSink::new();
            BindShell.run(&a, &mut out);
            assert_eq!(out.len(), 2, "{arch}: {out:#?}");
            let f = out
                .iter()
                .find(|f| f.path == "/usr/bin/supportd")
                .expect("started");
            assert_eq!(f.severity, Severity::Critical, "{arch}");
            assert_eq!(f.evidence, "/bin/sh");
            assert_eq!(f.context["ports"], "TCP 31337", "{arch}");
            let idle = out
                .iter()
                .find(|f| f.path == "/usr/bin/bindsh")
                .expect("not started");
            assert_eq!(idle.severity, Severity::High, "{arch}");
            assert_eq!(f.context["started_by"], "/etc/init.d/rcS");
        }
    }

    #[test]
    fn login_prompts_and_programs_count_as_authentication() {
        assert!(asks_for_password(b"\0Password: \0"));
        assert!(asks_for_password(b"\0/bin/login\0"));
        assert!(!asks_for_password(b"\0[~] Bind Shell Ready\0/bin/sh\0"));
    }
}
