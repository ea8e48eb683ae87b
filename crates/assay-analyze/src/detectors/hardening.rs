//! How each program is hardened against exploitation (NX, PIE, RELRO, stack canaries,
//! FORTIFY, RPATH), plus setuid/setgid programs and world-writable files. One finding per
//! binary summarises what is missing, so a weak vendor binary stands out from the noise.

use crate::elf::{elf_facts, ElfFacts, Relro};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, NodeKind, Severity};

/// The hardening detector.
pub struct Hardening;

const WEAK_BINARY: Rule = Rule {
    id: "ASSAY-HARDEN-001",
    category: Category::Hardening,
    severity: Severity::Medium,
    title: "Program built without exploit mitigations",
    description: "An executable or library lacks several of NX (non-executable stack), PIE, \
        RELRO and stack canaries: a memory-safety bug in it is much easier to turn into code \
        execution. Medium when three or more are missing and the program listens on the \
        network, low otherwise.",
};
const RPATH: Rule = Rule {
    id: "ASSAY-HARDEN-002",
    category: Category::Hardening,
    severity: Severity::Low,
    title: "Program loads libraries from a search path it embeds",
    description: "DT_RPATH/DT_RUNPATH points at a writable or relative directory (/tmp, /var, \
        `.`, `$ORIGIN`-relative): whoever can write there can inject code into the program.",
};
const SETUID: Rule = Rule {
    id: "ASSAY-HARDEN-003",
    category: Category::Hardening,
    severity: Severity::Medium,
    title: "setuid or setgid program",
    description: "A program runs with the owner's (usually root's) privileges whoever starts it; \
        every bug in it is a privilege escalation.",
};
const WORLD_WRITABLE: Rule = Rule {
    id: "ASSAY-HARDEN-004",
    category: Category::Hardening,
    severity: Severity::Low,
    title: "World-writable file or directory",
    description: "Any local process can modify it (a world-writable script or binary is a \
        privilege escalation; a directory without the sticky bit lets anyone replace files).",
};

static RULES: &[Rule] = &[WEAK_BINARY, RPATH, SETUID, WORLD_WRITABLE];

/// Which mitigations a program lacks, in report order.
pub fn missing_mitigations(f: &ElfFacts) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !f.nx {
        missing.push("NX");
    }
    if f.is_executable && !f.pie {
        missing.push("PIE");
    }
    if f.relro == Relro::None && !f.is_static {
        missing.push("RELRO");
    }
    if !f.stack_canary {
        missing.push("stack canary");
    }
    missing
}

impl Detector for Hardening {
    fn name(&self) -> &'static str {
        "hardening"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        for node in &a.unpacked.nodes {
            let is_entry = matches!(node.kind, NodeKind::File | NodeKind::Directory);
            if !is_entry {
                continue;
            }
            let mode = node.mode.unwrap_or(0);
            if node.kind == NodeKind::File && mode & 0o6000 != 0 && mode & 0o111 != 0 {
                let which = match (mode & 0o4000 != 0, mode & 0o2000 != 0) {
                    (true, true) => "setuid and setgid",
                    (true, false) => "setuid",
                    _ => "setgid",
                };
                let owner = node.uid.map_or("?".to_string(), |u| u.to_string());
                let mut f = a.finding(
                    &SETUID,
                    node.id,
                    0..0,
                    format!("{which} program {} (owner uid {owner})", node.path),
                );
                if node.uid != Some(0) {
                    f.severity = Severity::Low;
                }
                f.context
                    .insert("mode".into(), format!("{:o}", mode & 0o7777));
                out.push(f);
            }
            if mode & 0o002 != 0 && node.mode.is_some() {
                let sticky_dir = node.kind == NodeKind::Directory && mode & 0o1000 != 0;
                if !sticky_dir {
                    let mut f = a.finding(
                        &WORLD_WRITABLE,
                        node.id,
                        0..0,
                        format!(
                            "World-writable {} {}",
                            if node.kind == NodeKind::Directory {
                                "directory"
                            } else {
                                "file"
                            },
                            node.path
                        ),
                    );
                    if node.kind == NodeKind::File && mode & 0o111 != 0 {
                        f.severity = Severity::Medium;
                    }
                    f.context
                        .insert("mode".into(), format!("{:o}", mode & 0o7777));
                    out.push(f);
                }
            }
        }
        for file in a.files() {
            if file.node.duplicate_of.is_some() || !file.bytes.starts_with(b"\x7fELF") {
                continue;
            }
            let Some(facts) = elf_facts(file.bytes) else {
                continue;
            };
            if facts.is_relocatable || !(facts.is_executable || facts.is_library) {
                continue;
            }
            let missing = missing_mitigations(&facts);
            if missing.len() >= 2
                || (missing.len() == 1 && missing[0] != "stack canary" && facts.is_executable)
            {
                // What the network reaches first: a weak program that listens is where a
                // memory-safety bug becomes a way in; the same build of a local tool is not.
                let listens = file
                    .fs
                    .and_then(|fs| a.reach().fs(fs).listening.get(&file.node.id).cloned());
                let reachable = listens.is_some() || file.fs.is_none();
                let severity = if missing.len() >= 3 && reachable {
                    Severity::Medium
                } else {
                    Severity::Low
                };
                let kind = if facts.is_library {
                    "Library"
                } else {
                    "Program"
                };
                let mut f = a.finding(
                    &WEAK_BINARY,
                    file.node.id,
                    0..4,
                    format!(
                        "{kind} {} built without {}",
                        file.node.path,
                        missing.join(", ")
                    ),
                );
                f.severity = severity;
                f.confidence = if facts.stripped && !facts.stack_canary {
                    Confidence::Medium
                } else {
                    Confidence::High
                };
                describe(&facts, &mut f);
                if let Some(l) = listens {
                    f.context.insert("listens".into(), l);
                }
                out.push(f);
            }
            let risky: Vec<&String> = facts
                .rpath
                .iter()
                .filter(|r| {
                    r.split(':').any(|p| {
                        p.is_empty()
                            || p == "."
                            || p.starts_with("/tmp")
                            || p.starts_with("/var")
                            || p.starts_with("/mnt")
                            || !p.starts_with('/') && !p.starts_with("$ORIGIN")
                    })
                })
                .collect();
            if !risky.is_empty() {
                let mut f = a.finding(
                    &RPATH,
                    file.node.id,
                    0..4,
                    format!(
                        "{} searches libraries in {}",
                        file.node.path,
                        risky
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                describe(&facts, &mut f);
                out.push(f);
            }
        }
    }
}

fn describe(facts: &ElfFacts, f: &mut Finding) {
    f.context.insert("arch".into(), facts.machine.into());
    f.context.insert("nx".into(), facts.nx.to_string());
    f.context.insert("pie".into(), facts.pie.to_string());
    f.context
        .insert("relro".into(), facts.relro.as_str().into());
    f.context
        .insert("stack_canary".into(), facts.stack_canary.to_string());
    f.context
        .insert("fortify".into(), facts.fortify.to_string());
    f.context
        .insert("static".into(), facts.is_static.to_string());
    f.context
        .insert("stripped".into(), facts.stripped.to_string());
    if !facts.rpath.is_empty() {
        f.context.insert("rpath".into(), facts.rpath.join(":"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    #[test]
    fn flags_setuid_and_world_writable_entries() {
        let t = tree(&[
            File("/usr/bin/su", b"#!", 0o4755),
            File("/etc/rc.local", b"x", 0o777),
            Dir("/tmp"),
        ]);
        let a = Analysis::new(&t);
        let mut out = crate::FindingSink::new();
        Hardening.run(&a, &mut out);
        assert!(out
            .iter()
            .any(|f| f.rule == SETUID.id && f.path == "/usr/bin/su"));
        assert!(out.iter().any(|f| f.rule == WORLD_WRITABLE.id
            && f.path == "/etc/rc.local"
            && f.severity == Severity::Medium));
    }

    #[test]
    fn weak_programs_rank_by_whether_they_listen() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exposure/");
        let daemon = std::fs::read(format!("{dir}netcmd_clean-mips-static")).unwrap();
        let tool = std::fs::read(format!("{dir}rc_config-mips")).unwrap();
        let t = tree(&[
            File("/usr/sbin/netcmd", &daemon, 0o755),
            File("/sbin/rc_config", &tool, 0o755),
        ]);
        let a = Analysis::new(&t);
        let mut sink = crate::FindingSink::new();
        Hardening.run(&a, &mut sink);
        let out = sink.finish(&a);
        let weak = |p: &str| {
            out.iter()
                .find(|f| f.rule == WEAK_BINARY.id && f.path == p)
                .cloned()
        };
        // The daemon (static, no NX, no PIE) listens; the local tool (dynamic, no NX, no RELRO,
        // no canary) misses three mitigations, which would be medium in a listener, and stays
        // low because nothing reaches it from the network.
        let daemon_facts = elf_facts(&daemon).unwrap();
        let tool_facts = elf_facts(&tool).unwrap();
        assert_eq!(missing_mitigations(&daemon_facts), ["NX", "PIE"]);
        assert_eq!(missing_mitigations(&tool_facts).len(), 3, "{tool_facts:?}");
        let listening = weak("/usr/sbin/netcmd").expect("the listening daemon is weak");
        assert_eq!(listening.severity, Severity::Low, "{listening:#?}");
        assert!(listening.context.contains_key("listens"), "{listening:#?}");
        let local = weak("/sbin/rc_config").expect("the local tool is weak");
        assert_eq!(local.severity, Severity::Low, "{local:#?}");
        assert!(!local.context.contains_key("listens"));
    }

    #[test]
    fn hardened_host_binary_has_no_weak_binary_finding() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let facts = elf_facts(&me).unwrap();
        // Rust test binaries are PIE with NX and RELRO; only the canary may be missing.
        assert!(
            missing_mitigations(&facts).len() <= 1,
            "{:?}",
            missing_mitigations(&facts)
        );
    }
}
