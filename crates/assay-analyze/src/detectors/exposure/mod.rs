//! The exposure map: every program that opens a network socket to receive on, with the
//! protocol and ports recovered from its code (the constant that reaches `bind`'s socket
//! address, `getaddrinfo`/`getservbyname` service strings) and from the command line the boot
//! model starts it with, the bound address, whether the boot model starts it and as which
//! user, whether it is setuid — each fact with the bytes that prove it.
//!
//! The detector half raises two rules on top of the map: a program that compares bytes it
//! received from the network with a magic constant and then runs a shell or writes the
//! configuration (a magic-packet backdoor, found by structure, never by name), and a program
//! that listens although no boot script starts it.
//!
//! The analysis of each program is computed once per [`Analysis`] and shared by the
//! detector, the report's `listeners` section and `assay verify`.

use crate::boot::{boot_model, program_of, StartedCommand, Trigger};
use crate::detectors::magic_compare::{network_program, NetProgram};
use crate::{evidence_excerpt, Analysis, Detector, Rule};
use assay_model::{
    ByteRange, Category, Confidence, Finding, ListenPort, Listener, ListenerEvidence,
    ListenerStart, NodeId, NodeKind, Severity,
};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Range;

/// The exposure detector.
pub struct Exposure;

const NETWORK_TRIGGER: Rule = Rule {
    id: "ASSAY-BACKDOOR-110",
    category: Category::Backdoor,
    severity: Severity::Critical,
    title: "Network input compared with a magic value runs a shell",
    description: "A program that receives from the network (recv, recvfrom, read on an accepted \
        socket) compares the received bytes with a magic constant — a library comparison or an \
        inline word compare — and on that path runs a shell or program (system, popen, exec*) \
        or writes the device's configuration (nvram_set and the like): a magic-packet \
        backdoor. Found by following the received bytes through the decoded code on MIPS, \
        ARM/Thumb, AArch64, x86-32 and x86-64, in dynamically and statically linked programs.",
};

const UNSTARTED_LISTENER: Rule = Rule {
    id: "ASSAY-EXPOSURE-001",
    category: Category::RemoteAccess,
    severity: Severity::Info,
    title: "Program listens on the network but no boot script starts it",
    description: "A program binds or accepts on a network socket, yet no init script, inittab, \
        inetd, systemd unit or crontab of its filesystem names it. It may be started by a \
        compiled init program, by another daemon or by hand; an analyst should know it is \
        there.",
};

static RULES: &[Rule] = &[NETWORK_TRIGGER, UNSTARTED_LISTENER];

impl Detector for Exposure {
    fn name(&self) -> &'static str {
        "exposure"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        let listeners = listeners(a);
        let by_node: BTreeMap<NodeId, &Listener> = listeners.iter().map(|l| (l.node, l)).collect();
        for (node, p) in programs(a) {
            for t in &p.triggers {
                out.push(trigger_finding(a, *node, p, t, by_node.get(node).copied()));
            }
        }
        for l in &listeners {
            if l.started || l.evidence.is_empty() {
                continue;
            }
            let Some(fs) = a.fs_of(l.node) else { continue };
            // Without any boot configuration the question cannot be answered.
            if !has_boot_configuration(a, fs) {
                continue;
            }
            let Some(first) = l.evidence.iter().find(|e| e.node == l.node) else {
                continue;
            };
            let ports = port_list(&l.ports);
            let mut f = a.finding(
                &UNSTARTED_LISTENER,
                l.node,
                first.range.start as usize..first.range.end as usize,
                format!(
                    "{} listens on the network ({}) but no boot script starts it",
                    l.path,
                    if ports.is_empty() {
                        l.protocols.join("/")
                    } else {
                        ports.clone()
                    }
                ),
            );
            f.confidence = Confidence::Medium;
            f.context.insert("protocols".into(), l.protocols.join(","));
            if !ports.is_empty() {
                f.context.insert("ports".into(), ports);
            }
            out.push(f);
        }
    }
}

/// Every program's network facts, computed once per analysis.
fn programs<'a>(a: &'a Analysis) -> &'a [(NodeId, NetProgram)] {
    a.network_programs.get_or_init(|| {
        let files: Vec<_> = a
            .files()
            .filter(|f| f.node.duplicate_of.is_none() && f.bytes.starts_with(b"\x7fELF"))
            .collect();
        let mut found: Vec<(NodeId, NetProgram)> = files
            .par_iter()
            .filter(|f| crate::elf::elf_facts(f.bytes).is_some_and(|e| e.is_executable))
            .filter_map(|f| network_program(f.bytes).map(|p| (f.node.id, p)))
            .collect();
        found.sort_by_key(|(id, _)| *id);
        found
    })
}

/// The exposure map of the analysed tree: one record per program that listens, in node order.
pub fn listeners(a: &Analysis) -> Vec<Listener> {
    let progs = programs(a);
    let mut starts: BTreeMap<NodeId, Vec<(StartedCommand, String)>> = BTreeMap::new();
    for fs in 0..a.filesystems.len() {
        let model = boot_model(a, fs);
        for cmd in model.commands {
            if let Some((node, invoked)) = started_program(a, fs, &cmd) {
                starts.entry(node).or_default().push((cmd, invoked));
            }
        }
    }
    let mut out = Vec::new();
    let listening: BTreeMap<NodeId, &NetProgram> = progs
        .iter()
        .filter(|(_, p)| p.listens && p.is_executable && reachable_over_ip(p))
        .map(|(id, p)| (*id, p))
        .collect();
    let inetd_served: BTreeSet<NodeId> = starts
        .iter()
        .filter(|(_, v)| v.iter().any(|(c, _)| c.trigger == Trigger::Inetd))
        .map(|(id, _)| *id)
        .collect();
    let nodes: BTreeSet<NodeId> = listening.keys().chain(&inetd_served).copied().collect();
    for node in nodes {
        let n = a.node(node);
        if n.kind != NodeKind::File {
            continue;
        }
        let program = listening.get(&node).copied();
        // A program reached under another name (a multi-call binary's applet, a client
        // mode linked to the daemon) counts as started only when that name is a daemon's
        // (ends in `d`) or the command gives it a port.
        let own_name = n.path.rsplit('/').next().unwrap_or(&n.path);
        let cmds: Vec<&(StartedCommand, String)> = starts
            .get(&node)
            .map(|v| {
                v.iter()
                    .filter(|(c, invoked)| {
                        invoked == own_name
                            || c.trigger == Trigger::Inetd
                            || (invoked.ends_with('d')
                                && !TOOLS_ENDING_IN_D.contains(&invoked.as_str()))
                            || command_port(c).is_some()
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(listener_record(a, node, program, &cmds));
    }
    out
}

fn listener_record(
    a: &Analysis,
    node: NodeId,
    program: Option<&NetProgram>,
    cmds: &[&(StartedCommand, String)],
) -> Listener {
    let n = a.node(node);
    let fs = a.fs_of(node);
    let mut protocols: BTreeSet<String> = BTreeSet::new();
    let mut ports: BTreeSet<ListenPort> = BTreeSet::new();
    let mut evidence: Vec<ListenerEvidence> = Vec::new();
    let ev = |node: NodeId, range: Range<usize>, fact: String| -> ListenerEvidence {
        let bytes = a.bytes(node);
        let start = range.start.min(bytes.len());
        let end = range.end.clamp(start, bytes.len());
        ListenerEvidence {
            fact,
            node,
            location: a.node(node).location.clone(),
            range: ByteRange {
                start: start as u64,
                end: end as u64,
            },
            excerpt: evidence_excerpt(&bytes[start..end]),
        }
    };
    if let Some(p) = program {
        for s in &p.sockets {
            if let Some(proto) = s.protocol {
                protocols.insert(proto.to_string());
            }
            evidence.push(ev(
                node,
                s.range.clone(),
                format!(
                    "socket() call ({})",
                    s.protocol.unwrap_or("protocol not constant")
                ),
            ));
        }
        let ip_protocols: Vec<&String> = protocols
            .iter()
            .filter(|p| matches!(p.as_str(), "tcp" | "udp" | "sctp"))
            .collect();
        let single = (ip_protocols.len() == 1).then(|| ip_protocols[0].clone());
        for b in &p.binds {
            evidence.push(ev(node, b.range.clone(), "bind() call".into()));
            if let (Some(port), Some(fam)) = (b.port, b.family) {
                if (fam == 2 || fam == 10) && port != 0 {
                    ports.insert(ListenPort {
                        port,
                        protocol: single.clone(),
                        address: b.address.map(address_name),
                        source: "code".into(),
                    });
                    if let Some(r) = &b.port_range {
                        evidence.push(ev(
                            node,
                            r.clone(),
                            format!("port {port} stored into the socket address"),
                        ));
                    }
                }
            }
        }
        let mut seen_calls = BTreeSet::new();
        for (name, range) in &p.api_calls {
            if seen_calls.insert(name.clone()) {
                evidence.push(ev(node, range.clone(), format!("{name}() call")));
            }
        }
        for s in &p.services {
            let port = s
                .name
                .parse::<u16>()
                .ok()
                .or_else(|| fs.and_then(|fs| services_port(a, fs, &s.name)));
            if let Some(port) = port.filter(|&p| p != 0) {
                ports.insert(ListenPort {
                    port,
                    protocol: single.clone(),
                    address: None,
                    source: "service-name".into(),
                });
            }
            evidence.push(ev(
                node,
                s.range.clone(),
                format!("service name {:?}", s.name),
            ));
        }
    }
    if let (Some(fs), Some(_)) = (fs, program) {
        let ip: Vec<String> = protocols
            .iter()
            .filter(|p| matches!(p.as_str(), "tcp" | "udp"))
            .cloned()
            .collect();
        for (port, address, id, range) in config_ports(a, fs, node) {
            let path = a.node(id).path.clone();
            ports.insert(ListenPort {
                port,
                protocol: (ip.len() == 1).then(|| ip[0].clone()),
                address,
                source: "config".into(),
            });
            evidence.push(ev(id, range, format!("port {port} set in {path}")));
        }
    }
    let mut starts = Vec::new();
    for (c, _) in cmds {
        starts.push(ListenerStart {
            command: c.command.clone(),
            started_by: c.started_by.clone(),
            line: c.line_no,
            trigger: c.trigger.as_str().into(),
            user: c.user.clone(),
        });
        evidence.push(ev(
            c.node,
            c.range.clone(),
            format!("started by {} line {}", c.started_by, c.line_no),
        ));
        if c.trigger == Trigger::Inetd {
            if let Some(p) = c.words.get(2) {
                let proto = if p.starts_with("udp") { "udp" } else { "tcp" };
                protocols.insert(proto.into());
                let port = c.words.first().and_then(|svc| {
                    svc.parse::<u16>()
                        .ok()
                        .or_else(|| fs.and_then(|fs| services_port(a, fs, svc)))
                });
                if let Some(port) = port {
                    ports.insert(ListenPort {
                        port,
                        protocol: Some(proto.into()),
                        address: None,
                        source: "inetd".into(),
                    });
                }
            }
        } else if let Some((port, address)) = command_port(c) {
            let ip: Vec<&String> = protocols
                .iter()
                .filter(|p| matches!(p.as_str(), "tcp" | "udp"))
                .collect();
            ports.insert(ListenPort {
                port,
                protocol: (ip.len() == 1).then(|| ip[0].clone()),
                address,
                source: "command-line".into(),
            });
        }
    }
    starts.sort();
    starts.dedup();
    Listener {
        path: n.path.clone(),
        location: n.location.clone(),
        node,
        sha256: n.sha256.clone().unwrap_or_default(),
        architecture: program.map_or_else(
            || {
                crate::elf::elf_facts(a.bytes(node))
                    .map_or("", |f| f.machine)
                    .to_string()
            },
            |p| p.arch.to_string(),
        ),
        statically_linked: program.is_some_and(|p| p.is_static),
        protocols: protocols.into_iter().collect(),
        ports: ports.into_iter().collect(),
        started: !starts.is_empty(),
        starts,
        setuid: n.mode.is_some_and(|m| m & 0o4000 != 0),
        evidence,
    }
}

/// Utilities whose names end in `d` like a daemon's, which a multi-call binary also provides.
const TOOLS_ENDING_IN_D: &[&str] = &[
    "cd", "chmod", "dd", "find", "head", "insmod", "mknod", "read", "rmdir", "rmmod", "sed", "uid",
    "passwd",
];

/// Keys of configuration files that set a listening port (last component, lower case).
const PORT_KEYS: &[&str] = &[
    "port",
    "listen",
    "listen_port",
    "listenport",
    "listen_http",
    "listen_https",
    "http_port",
    "https_port",
    "listenaddress",
];

/// A port set in a configuration file: port, address, the file and the line.
type ConfigPort = (u16, Option<String>, NodeId, Range<usize>);

/// Listening ports set in the configuration files of a program: its UCI file
/// (`/etc/config/NAME`), `/etc/NAME.conf`, `/etc/NAME/NAME.conf`, and the `/etc/…` files whose
/// paths the program's code names. Each with the line that sets it.
fn config_ports(a: &Analysis, fs: usize, node: NodeId) -> Vec<ConfigPort> {
    let n = a.node(node);
    let base = n.path.rsplit('/').next().unwrap_or("");
    let mut paths: BTreeSet<String> = BTreeSet::new();
    if !base.is_empty() {
        paths.insert(format!("/etc/config/{base}"));
        paths.insert(format!("/etc/{base}.conf"));
        paths.insert(format!("/etc/{base}/{base}.conf"));
    }
    let bytes = a.bytes(node);
    for pos in memchr::memmem::find_iter(bytes, b"/etc/").take(256) {
        if pos > 0 && bytes[pos - 1] != 0 {
            continue;
        }
        let end = bytes[pos..]
            .iter()
            .take(128)
            .position(|&c| c == 0)
            .map_or(pos, |e| pos + e);
        if let Ok(p) = std::str::from_utf8(&bytes[pos..end]) {
            if [".conf", ".cfg", ".ini", ".config"]
                .iter()
                .any(|x| p.ends_with(x))
            {
                paths.insert(p.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for p in paths.iter().take(32) {
        let Some((id, text)) = a.read(fs, p) else {
            continue;
        };
        if !crate::boot::is_text(text) {
            continue;
        }
        for line in crate::boot::lines(text) {
            if let Some((port, addr)) = port_setting(line.text) {
                out.push((port, addr, id, line.range.clone()));
            }
        }
    }
    out
}

/// The port a configuration line sets (`option Port '22'`, `port=53`, `Listen 8080`,
/// `list listen_http 0.0.0.0:80`, `server.port = 80`), with its address when given.
fn port_setting(line: &str) -> Option<(u16, Option<String>)> {
    let t = line.trim();
    if t.starts_with('#') || t.starts_with(';') {
        return None;
    }
    let t = t
        .strip_prefix("option ")
        .or_else(|| t.strip_prefix("list "))
        .unwrap_or(t)
        .trim();
    let split = t.find(|c: char| c == '=' || c.is_whitespace())?;
    let key = t[..split]
        .trim()
        .trim_matches(['\'', '"'])
        .to_ascii_lowercase();
    let key = key.rsplit('.').next().unwrap_or(&key);
    if !PORT_KEYS.contains(&key) {
        return None;
    }
    let value = t[split..]
        .trim_start_matches(|c: char| c == '=' || c.is_whitespace())
        .split_whitespace()
        .next()?
        .trim_matches(['\'', '"']);
    let (addr, port) = match value.rsplit_once(':') {
        Some((a, p)) => (Some(a.trim_matches(['[', ']'])), p),
        None => (None, value),
    };
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    let address = addr.map(|a| match a {
        "" | "0.0.0.0" | "::" | "*" => "any".to_string(),
        a if a.starts_with("127.") || a == "::1" => "loopback".into(),
        a => a.to_string(),
    });
    Some((port, address))
}

/// Whether a program's sockets can be reached over IP: it binds an IPv4/IPv6 address, names
/// a service, or opens an IP socket and binds something of unknown family (or accepts
/// without a bind of its own). Programs whose every bind is a Unix or netlink address and
/// whose IP sockets only serve interface ioctls are not in the map.
fn reachable_over_ip(p: &NetProgram) -> bool {
    let ip_bind = p
        .binds
        .iter()
        .any(|b| matches!(b.family, Some(2) | Some(10)));
    let unknown_bind = p.binds.iter().any(|b| b.family.is_none());
    let ip_socket = p
        .sockets
        .iter()
        .any(|s| !matches!(s.protocol, Some("unix") | Some("netlink")));
    ip_bind || !p.services.is_empty() || (ip_socket && (unknown_bind || p.binds.is_empty()))
}

/// `any`, `loopback` or the dotted address of a bound IPv4 address.
fn address_name(ip: [u8; 4]) -> String {
    match ip {
        [0, 0, 0, 0] => "any".into(),
        [127, ..] => "loopback".into(),
        [a, b, c, d] => format!("{a}.{b}.{c}.{d}"),
    }
}

/// The port (and bound address) a command line gives with `-p [addr:]port` or `--port`.
fn command_port(c: &StartedCommand) -> Option<(u16, Option<String>)> {
    let (_, rest) = program_of(&c.words)?;
    let args = c.words.get(rest..)?;
    for (i, w) in args.iter().enumerate() {
        let value = if w == "-p" || w == "--port" || w == "--listen-port" {
            args.get(i + 1).map(String::as_str)
        } else if let Some(v) = w.strip_prefix("--port=") {
            Some(v)
        } else if w.len() > 2 && w.starts_with("-p") && w[2..].chars().all(|c| c.is_ascii_digit()) {
            Some(&w[2..])
        } else {
            None
        };
        let Some(v) = value else { continue };
        let (addr, port) = match v.rsplit_once(':') {
            Some((a, p)) => (Some(a.trim_matches(['[', ']'])), p),
            None => (None, v),
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let address = addr.map(|a| match a {
            "" | "0.0.0.0" | "::" | "*" => "any".to_string(),
            a if a.starts_with("127.") || a == "::1" || a == "localhost" => "loopback".into(),
            a => a.to_string(),
        });
        return Some((port, address));
    }
    None
}

/// The port of a service name in the filesystem's `/etc/services`.
fn services_port(a: &Analysis, fs: usize, name: &str) -> Option<u16> {
    let (_, bytes) = a.read(fs, "/etc/services")?;
    String::from_utf8_lossy(bytes).lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let mut it = line.split_whitespace();
        let svc = it.next()?;
        let pp = it.next()?;
        let aliases: Vec<&str> = it.collect();
        (svc == name || aliases.contains(&name))
            .then(|| pp.split('/').next()?.parse().ok())
            .flatten()
    })
}

/// Directories a bare command name is looked up in.
const PATH: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
];

/// The program file a started command runs (symlinks followed, duplicates mapped to the
/// analysed copy), and the name it was invoked by.
fn started_program(a: &Analysis, fs: usize, c: &StartedCommand) -> Option<(NodeId, String)> {
    let word = if c.trigger == Trigger::Inetd && c.words.len() >= 6 {
        c.words[5].clone()
    } else {
        let (_, rest) = program_of(&c.words)?;
        let ssd = c
            .words
            .iter()
            .position(|w| w == "--exec" || w == "-x")
            .filter(|_| {
                c.words
                    .iter()
                    .any(|w| w.ends_with("start-stop-daemon") || w == "ssd")
            });
        match ssd {
            Some(i) => c.words.get(i + 1)?.clone(),
            None => c.words.get(rest.checked_sub(1)?)?.clone(),
        }
    };
    let invoked = word.rsplit('/').next().unwrap_or(&word).to_string();
    if invoked.is_empty() || invoked.contains('$') {
        return None;
    }
    let candidates: Vec<String> = if word.starts_with('/') {
        vec![word.clone()]
    } else if word.contains('/') {
        return None;
    } else {
        PATH.iter().map(|d| format!("{d}/{word}")).collect()
    };
    for path in candidates {
        let found = a.resolve(fs, &path).map(|id| (fs, id)).or_else(|| {
            a.nested_filesystems(fs)
                .into_iter()
                .find_map(|n| a.resolve(n, &path).map(|id| (n, id)))
        });
        if let Some((_, id)) = found {
            let node = a.node(id);
            if node.kind != NodeKind::File {
                continue;
            }
            let id = node.duplicate_of.unwrap_or(id);
            return Some((id, invoked));
        }
    }
    None
}

/// Whether filesystem `fs` has any boot configuration the boot model reads.
fn has_boot_configuration(a: &Analysis, fs: usize) -> bool {
    let m = boot_model(a, fs);
    !m.commands.is_empty()
}

/// A listener's ports in words (`TCP 23, UDP 69`; `port 23` when the protocol is unknown),
/// each once: the one wording every finding that names ports uses.
pub(crate) fn port_list(ports: &[ListenPort]) -> String {
    let mut seen = BTreeSet::new();
    ports
        .iter()
        .filter(|p| seen.insert((p.protocol.clone(), p.port)))
        .map(|p| match &p.protocol {
            Some(proto) => format!("{} {}", proto.to_uppercase(), p.port),
            None => format!("port {}", p.port),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn trigger_finding(
    a: &Analysis,
    node: NodeId,
    p: &NetProgram,
    t: &crate::detectors::magic_compare::NetworkTrigger,
    listener: Option<&Listener>,
) -> Finding {
    let function = t
        .function_name
        .clone()
        .unwrap_or_else(|| format!("sub_{:x}", t.function));
    let shown = if t.magic.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        format!("'{}'", String::from_utf8_lossy(&t.magic))
    } else {
        format!("0x{}", hex(&t.magic))
    };
    let what = if t.sink_kind == "shell" {
        format!("runs {}", t.sink)
    } else {
        format!("writes the configuration ({})", t.sink)
    };
    let ports = listener.map(|l| port_list(&l.ports)).unwrap_or_default();
    let on = if ports.is_empty() {
        String::new()
    } else {
        format!(" on {ports}")
    };
    let title = format!(
        "Bytes received from the network{on} compared with magic {shown} ({}) {what} in {function}",
        t.compare
    );
    let mut f = a.finding(&NETWORK_TRIGGER, node, t.range.clone(), title);
    f.confidence = if p.is_static || t.compare.contains("unnamed") {
        Confidence::Medium
    } else {
        Confidence::High
    };
    f.context.insert("magic_hex".into(), hex(&t.magic));
    f.context
        .insert("magic".into(), assay_model::escape_bytes(&t.magic));
    f.context.insert("compare".into(), t.compare.clone());
    f.context
        .insert("compare_address".into(), format!("{:#x}", t.compare_at));
    f.context.insert("sink".into(), t.sink.clone());
    f.context.insert("sink_kind".into(), t.sink_kind.into());
    f.context.insert("function".into(), function);
    f.context.insert("architecture".into(), p.arch.into());
    f.context
        .insert("input".into(), format!("network ({})", t.received_by));
    if !ports.is_empty() {
        f.context.insert("ports".into(), ports);
    }
    if let Some(l) = listener {
        f.context.insert(
            "started".into(),
            if l.started { "yes" } else { "no" }.into(),
        );
    }
    f
}

/// Hold the listener records of a report against the ones re-derived from the image: every
/// claimed record must be derived unchanged and its evidence must be the bytes at its ranges;
/// nothing derived may be missing. Returns (records that hold, records missing from the
/// report) and pushes one line per failure.
pub fn verify_listeners<'b>(
    claimed: &[Listener],
    derived: &[Listener],
    bytes_at: impl Fn(&str) -> Option<&'b [u8]>,
    failures: &mut Vec<String>,
) -> (usize, usize) {
    // Derived records by location, handed out in order: one pass however many are claimed.
    let mut by_location: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (j, d) in derived.iter().enumerate() {
        by_location.entry(&d.location).or_default().push_back(j);
    }
    let mut used = vec![false; derived.len()];
    let mut held = 0;
    for l in claimed {
        let name = format!("listener {} ({})", l.path, l.location);
        let mut ok = true;
        for e in &l.evidence {
            let holds = bytes_at(&e.location).is_some_and(|b| {
                let range = usize::try_from(e.range.start)
                    .ok()
                    .zip(usize::try_from(e.range.end).ok());
                range
                    .and_then(|(s, end)| b.get(s..end))
                    .is_some_and(|at| evidence_excerpt(at) == e.excerpt)
            });
            if !holds {
                failures.push(format!(
                    "{name}: evidence {:?} is not the bytes at {}..{} of {}",
                    e.fact, e.range.start, e.range.end, e.location
                ));
                ok = false;
            }
        }
        match by_location
            .get_mut(l.location.as_str())
            .and_then(VecDeque::pop_front)
        {
            Some(j) => {
                used[j] = true;
                if &derived[j] != l {
                    failures.push(format!(
                        "{name}: edited: not what the analysis derives from the image"
                    ));
                    ok = false;
                }
            }
            None => {
                failures.push(format!(
                    "{name}: not derived from the image (added or moved)"
                ));
                ok = false;
            }
        }
        if ok {
            held += 1;
        }
    }
    let mut missing = 0;
    for (j, d) in derived.iter().enumerate() {
        if !used[j] {
            missing += 1;
            failures.push(format!(
                "missing listener {} ({}): the image yields it, the report does not list it",
                d.path, d.location
            ));
        }
    }
    (held, missing)
}

#[cfg(test)]
mod tests;
