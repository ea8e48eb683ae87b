//! What a program does with the network: the sockets it opens and binds (family, type, the
//! port constant that reaches `bind`'s socket address, the bound address), the service names
//! it resolves, and — following the bytes it receives (`recv`, `recvfrom`, `read`) through its
//! functions and into the functions it hands them to — whether a comparison of those bytes
//! with a magic constant leads to a shell or a configuration write.
//!
//! Works on dynamically linked programs (imports by name) and on static, stripped ones (library
//! functions recognised by the system calls they make, see [`super::libc`]).

use super::flow::{Call, Callee, Val};
use super::image::{Arch, Image};
use super::libc::{plain_name, static_names};
use super::lower::{self, Function, Pass};
use super::{base_name, secret_score, COMPARE, SHELL};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

/// Calls that show a program receives on a socket it bound.
const LISTEN_CALLS: &[&str] = &["bind", "listen", "accept", "accept4"];
/// Library calls that write the device's persistent configuration.
pub const CONFIG_WRITES: &[&str] = &[
    "nvram_set",
    "nvram_bufset",
    "nvram_safe_set",
    "acosNvramConfig_set",
    "acosNvramConfig_write",
    "apmib_set",
];
/// Functions that receive bytes into a buffer (plain names).
const RECEIVE: &[&str] = &["recv", "recvfrom", "read"];
/// Most functions re-run with input tracking for one program.
const MAX_TAINT_RUNS: usize = 96;
/// How far received bytes are followed into callees.
const MAX_TAINT_DEPTH: u8 = 2;
/// Longest magic constant read for one comparison.
const MAX_MAGIC: u64 = 64;

/// One `socket()` call.
#[derive(Debug, Clone)]
pub struct SocketCall {
    /// File bytes of the call instruction.
    pub range: Range<usize>,
    /// `tcp`, `udp`, `raw`, `netlink`, `unix`, `packet`, when the arguments were constant.
    pub protocol: Option<&'static str>,
}

/// One `bind()` call and what its socket address held.
#[derive(Debug, Clone)]
pub struct BindCall {
    /// File bytes of the call instruction.
    pub range: Range<usize>,
    /// Address family (2 = IPv4, 10 = IPv6), when stored as a constant.
    pub family: Option<u16>,
    /// Port, when stored as a constant.
    pub port: Option<u16>,
    /// File bytes of the instruction that stored the port.
    pub port_range: Option<Range<usize>>,
    /// IPv4 address, when stored (or zeroed) as a constant.
    pub address: Option<[u8; 4]>,
}

/// A service name or number passed to `getaddrinfo`/`getservbyname`.
#[derive(Debug, Clone)]
pub struct ServiceName {
    /// The string.
    pub name: String,
    /// Where it is in the file.
    pub range: Range<usize>,
}

/// A comparison of received bytes with a magic constant that leads to a shell or a
/// configuration write.
#[derive(Debug, Clone)]
pub struct NetworkTrigger {
    /// The constant's bytes, in memory order.
    pub magic: Vec<u8>,
    /// File bytes that hold the constant (the data, or the comparing instruction).
    pub range: Range<usize>,
    /// How it was compared (`memcmp`, `inline 4-byte compare`, ...).
    pub compare: String,
    /// Address of the comparison.
    pub compare_at: u64,
    /// What runs after it (`system`, `popen`, `nvram_set`, ...).
    pub sink: String,
    /// The sink's kind: `shell` or `config-write`.
    pub sink_kind: &'static str,
    /// Start of the function holding the comparison.
    pub function: u64,
    /// Its name, when a symbol gives one.
    pub function_name: Option<String>,
    /// The receiving call the bytes came from, by name.
    pub received_by: String,
}

/// What one program does with the network.
#[derive(Debug, Clone, Default)]
pub struct NetProgram {
    /// Architecture name.
    pub arch: &'static str,
    /// Linked without a dynamic loader.
    pub is_static: bool,
    /// A program rather than a library.
    pub is_executable: bool,
    /// The program binds, listens or accepts.
    pub listens: bool,
    /// Its `socket()` calls.
    pub sockets: Vec<SocketCall>,
    /// Its `bind()` calls.
    pub binds: Vec<BindCall>,
    /// Call sites of `listen`/`accept`/`recv*` (name, file bytes), as evidence.
    pub api_calls: Vec<(String, Range<usize>)>,
    /// Service names it resolves.
    pub services: Vec<ServiceName>,
    /// Magic comparisons of received bytes that lead to a sink.
    pub triggers: Vec<NetworkTrigger>,
    /// Addresses of comparison calls that received bytes reach (whatever the constant).
    pub compared_from_network: HashSet<u64>,
}

/// Analyse one ELF file's network behaviour. `None` when it is not a decodable ELF or makes
/// no socket calls.
pub fn network_program(bytes: &[u8]) -> Option<NetProgram> {
    let image = Image::parse(bytes)?;
    if image.code.is_empty() {
        return None;
    }
    if !image.is_static && !image.imports.iter().any(|n| is_socket_api(plain_name(n))) {
        return None;
    }
    let (mut functions, stubs) = lower::functions_and_stubs(&image);
    let names = name_everything(&image, &mut functions, stubs);
    if image.is_static {
        // The library functions got their names after the pass: run the functions that call
        // bind again, so that its socket address is captured.
        let pass = Pass {
            names: &names,
            track_input: false,
            seeds: &[],
            stack_seeds: &[],
            watch: None,
        };
        for f in functions.iter_mut() {
            let binds = f.calls.iter().any(|c| {
                matches!(&c.callee, Callee::Named(n) if plain_name(n) == "bind")
                    && c.sockaddr.is_none()
            });
            if binds {
                if let Some(r) = lower::rerun(&image, f, pass) {
                    f.calls = r.calls;
                }
            }
        }
    }
    Some(analyse(&image, &functions, &names))
}

fn is_socket_api(n: &str) -> bool {
    LISTEN_CALLS.contains(&n) || n == "socket" || n == "recvfrom" || n == "recv"
}

/// Merge import-stub names and the names recognised in a static program, and name the calls
/// of every function with them.
pub fn name_everything(
    image: &Image,
    functions: &mut [Function],
    stubs: HashMap<u64, String>,
) -> HashMap<u64, String> {
    let mut names = stubs;
    names.extend(static_names(image, functions));
    for f in functions.iter() {
        if let Some(n) = &f.name {
            names.entry(f.start).or_insert_with(|| n.clone());
        }
    }
    for f in functions.iter_mut() {
        for c in &mut f.calls {
            if let Callee::Local(a) = c.callee {
                if let Some(n) = names.get(&a) {
                    c.callee = Callee::Named(n.clone());
                }
            }
        }
    }
    names
}

/// The facts of one decoded program.
pub fn analyse(image: &Image, functions: &[Function], names: &HashMap<u64, String>) -> NetProgram {
    let mut out = NetProgram {
        arch: image.arch.name(image.is_64, image.big_endian),
        is_static: image.is_static,
        is_executable: image.is_executable,
        ..NetProgram::default()
    };
    let call_range = |c: &Call| -> Option<Range<usize>> {
        let start = image.offset_of(c.at)?;
        let len = c.next.saturating_sub(c.at).clamp(1, 16) as usize;
        Some(start..start + len)
    };
    for f in functions {
        for c in &f.calls {
            let Callee::Named(n) = &c.callee else {
                continue;
            };
            let name = plain_name(n);
            match name {
                "socket" => {
                    if let Some(range) = call_range(c) {
                        let arg = |i: usize| c.args.get(i).and_then(|v| v.value());
                        out.sockets.push(SocketCall {
                            range,
                            protocol: protocol_of(image, arg(0), arg(1)),
                        });
                    }
                }
                "bind" => {
                    out.listens = true;
                    if let Some(range) = call_range(c) {
                        out.binds.push(bind_of(image, c, range));
                    }
                }
                "listen" | "accept" | "accept4" | "recv" | "recvfrom" | "recvmsg" => {
                    if name != "recv" && name != "recvfrom" && name != "recvmsg" {
                        out.listens = true;
                    }
                    if let Some(range) = call_range(c) {
                        out.api_calls.push((name.to_string(), range));
                    }
                }
                "getaddrinfo" | "getservbyname" => {
                    let idx = if name == "getaddrinfo" { 1 } else { 0 };
                    if let Some(s) = c
                        .args
                        .get(idx)
                        .and_then(|v| v.value())
                        .and_then(|a| image.string_at(a))
                        .filter(|(_, s)| !s.is_empty() && s.len() <= 32)
                    {
                        let text = String::from_utf8_lossy(s.1).into_owned();
                        out.services.push(ServiceName {
                            name: text,
                            range: s.0..s.0 + s.1.len(),
                        });
                    }
                }
                _ => {}
            }
        }
    }
    if out.listens || !out.api_calls.is_empty() {
        follow_received_bytes(image, functions, names, &mut out);
    }
    out
}

/// The protocol of `socket(domain, type, …)`.
fn protocol_of(image: &Image, domain: Option<u64>, kind: Option<u64>) -> Option<&'static str> {
    let domain = domain?;
    match domain {
        1 => return Some("unix"),
        16 => return Some("netlink"),
        17 => return Some("packet"),
        2 | 10 => {}
        _ => return None,
    }
    // MIPS numbers SOCK_DGRAM 1 and SOCK_STREAM 2; everyone else the other way round.
    let (stream, dgram) = if image.arch == Arch::Mips {
        (2, 1)
    } else {
        (1, 2)
    };
    match kind? & 0xf {
        k if k == stream => Some("tcp"),
        k if k == dgram => Some("udp"),
        3 => Some("raw"),
        5 => Some("sctp"),
        _ => None,
    }
}

/// The family, port and address a `bind` call's socket address held.
fn bind_of(image: &Image, c: &Call, range: Range<usize>) -> BindCall {
    let mut b = BindCall {
        range,
        family: None,
        port: None,
        port_range: None,
        address: None,
    };
    let Some(bytes) = &c.sockaddr else {
        return b;
    };
    let byte = |i: usize| bytes.get(i).copied().flatten();
    // sa_family is a host-order u16.
    if let (Some((x, _)), Some((y, _))) = (byte(0), byte(1)) {
        b.family = Some(if image.big_endian {
            u16::from_be_bytes([x, y])
        } else {
            u16::from_le_bytes([x, y])
        });
    }
    // sin_port is in network order, whatever the CPU.
    if let (Some((x, at)), Some((y, _))) = (byte(2), byte(3)) {
        b.port = Some(u16::from_be_bytes([x, y]));
        b.port_range = image
            .offset_of(at)
            .filter(|_| at != c.at)
            .map(|o| o..o + instruction_size(image));
    }
    if b.family == Some(2) || b.family.is_none() {
        let addr: Option<Vec<u8>> = (4..8).map(|i| byte(i).map(|(v, _)| v)).collect();
        if let Some(a) = addr {
            b.address = a.try_into().ok();
        }
    }
    if b.port == Some(0) && b.family.is_none() {
        b.port = None;
    }
    b
}

/// Bytes shown as the evidence of one instruction (x86 instructions vary; four bytes cover
/// the opcode and most of its operands).
fn instruction_size(image: &Image) -> usize {
    match image.arch {
        Arch::Arm if image.thumb_entry => 2,
        _ => 4,
    }
}

/// Re-run the functions that receive bytes with input tracking, and the functions those hand
/// received bytes to, recording comparisons with constants and what runs after them.
fn follow_received_bytes(
    image: &Image,
    functions: &[Function],
    names: &HashMap<u64, String>,
    out: &mut NetProgram,
) {
    let by_start: HashMap<u64, usize> = functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.start, i))
        .collect();
    let abi = lower::abi_of(image);
    // (function index, argument that points into received bytes, depth, receiving call)
    let mut queue: Vec<(usize, Option<usize>, u8, String)> = Vec::new();
    for (i, f) in functions.iter().enumerate() {
        let receiver = f.calls.iter().find_map(|c| match &c.callee {
            Callee::Named(n) if RECEIVE.contains(&plain_name(n)) => Some(plain_name(n)),
            _ => None,
        });
        if let Some(r) = receiver {
            queue.push((i, None, 0, r.to_string()));
        }
    }
    let mut done: HashSet<(usize, Option<usize>)> = HashSet::new();
    let mut runs = 0;
    while let Some((fi, arg, depth, received_by)) = queue.pop() {
        if runs >= MAX_TAINT_RUNS || !done.insert((fi, arg)) {
            continue;
        }
        runs += 1;
        let f = &functions[fi];
        let mut seeds = Vec::new();
        let mut stack_seeds = Vec::new();
        if let Some(i) = arg {
            if abi.stack_args {
                stack_seeds.push((i64::from(abi.word) * (i as i64 + 1), Val::Received));
            } else if let Some(&r) = abi.args.get(i) {
                seeds.push((r, Val::Received));
            }
        }
        let pass = Pass {
            names,
            track_input: true,
            seeds: &seeds,
            stack_seeds: &stack_seeds,
            watch: None,
        };
        let Some(run) = lower::rerun(image, f, pass) else {
            continue;
        };
        for c in &run.calls {
            let tainted: Vec<usize> = c
                .received
                .iter()
                .enumerate()
                .filter(|(_, &r)| r)
                .map(|(i, _)| i)
                .collect();
            if tainted.is_empty() {
                continue;
            }
            if let Some(kind) = compare_kind(image, c) {
                out.compared_from_network.insert(c.at);
                if let Some((magic, range)) = compared_constant(image, c, &tainted) {
                    if looks_magic(&magic) && protocol_constant(&magic).is_none() {
                        if let Some((sink, kind_of_sink)) =
                            sink_after(functions, &by_start, &run.calls, c.at)
                        {
                            out.triggers.push(NetworkTrigger {
                                magic,
                                range,
                                compare: kind,
                                compare_at: c.at,
                                sink,
                                sink_kind: kind_of_sink,
                                function: f.start,
                                function_name: f.name.clone(),
                                received_by: received_by.clone(),
                            });
                        }
                    }
                }
                continue;
            }
            if depth < MAX_TAINT_DEPTH {
                if let Callee::Local(a) = c.callee {
                    if let Some(&ci) = by_start.get(&a) {
                        queue.push((ci, tainted.first().copied(), depth + 1, received_by.clone()));
                    }
                }
            }
        }
        for cmp in &run.compares {
            let magic = magic_word(cmp.value, cmp.size, image.big_endian);
            if cmp.size < 4 || !looks_magic(&magic) || protocol_constant(&magic).is_some() {
                continue;
            }
            let Some(sink) = sink_after(functions, &by_start, &run.calls, cmp.at) else {
                continue;
            };
            let Some(off) = image.offset_of(cmp.at) else {
                continue;
            };
            out.triggers.push(NetworkTrigger {
                magic,
                range: off..off + instruction_size(image),
                compare: format!("inline {}-byte compare", cmp.size),
                compare_at: cmp.at,
                sink: sink.0,
                sink_kind: sink.1,
                function: f.start,
                function_name: f.name.clone(),
                received_by: received_by.clone(),
            });
        }
    }
    out.triggers.sort_by_key(|t| t.compare_at);
    out.triggers.dedup_by(|a, b| a.compare_at == b.compare_at);
}

/// The bytes of an inline-compared constant in memory order.
fn magic_word(value: u64, size: u8, big_endian: bool) -> Vec<u8> {
    let n = usize::from(size.min(8));
    let le = value.to_le_bytes();
    let mut v: Vec<u8> = le[..n].to_vec();
    if big_endian {
        v.reverse();
    }
    v
}

/// How a call compares, when it is a comparison: a named comparison function, or in a
/// stripped static program an unnamed routine (the library's `memcmp` behind an IFUNC stub).
fn compare_kind(image: &Image, c: &Call) -> Option<String> {
    match &c.callee {
        Callee::Named(n) => {
            let b = base_name(n);
            COMPARE.contains(&b).then(|| b.to_string())
        }
        Callee::Local(_) | Callee::Unknown if image.is_static && !image.has_symtab => {
            Some("an unnamed comparison routine".to_string())
        }
        _ => None,
    }
}

/// The constant the other argument of a comparison points to, and where it is.
fn compared_constant(
    image: &Image,
    c: &Call,
    tainted: &[usize],
) -> Option<(Vec<u8>, Range<usize>)> {
    let other = (0..2).find(|i| !tainted.contains(i))?;
    let n = c
        .args
        .get(2)
        .and_then(|v| v.value())
        .filter(|&n| (1..=MAX_MAGIC).contains(&n));
    if let Some(Some(s)) = c.stack_strings.get(other) {
        let a = image.offset_of(s.written.0)?;
        let b = image.offset_of(s.written.1)?;
        return Some((s.bytes.clone(), a..b + 4));
    }
    let addr = c.args.get(other)?.value()?;
    if image.in_code(addr) {
        return None;
    }
    let fixed_len = match &c.callee {
        Callee::Named(name) => matches!(
            base_name(name),
            "memcmp" | "bcmp" | "strncmp" | "strncasecmp" | "timingsafe_bcmp" | "CRYPTO_memcmp"
        ),
        _ => n.is_some(),
    };
    if fixed_len {
        let n = n? as usize;
        let bytes = image.bytes_at(addr, n)?;
        if bytes.len() < n {
            return None;
        }
        // strncmp with a length past the string compares the string.
        let bytes = match bytes.iter().position(|&b| b == 0) {
            Some(z)
                if z > 0
                    && !matches!(&c.callee, Callee::Named(x) if base_name(x).contains("mem") || base_name(x).contains("bcmp")) =>
            {
                &bytes[..z]
            }
            _ => bytes,
        };
        let off = image.offset_of(addr)?;
        return Some((bytes.to_vec(), off..off + bytes.len()));
    }
    let (off, s) = image.string_at(addr)?;
    Some((s.to_vec(), off..off + s.len()))
}

/// Whether compared bytes are a magic value rather than a protocol keyword or a command
/// word: a secret-shaped string, or at least four binary bytes of some variety.
pub fn looks_magic(b: &[u8]) -> bool {
    if b.len() < 4 {
        return false;
    }
    if b.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        return secret_score(b).is_some();
    }
    let distinct: BTreeSet<u8> = b.iter().copied().collect();
    distinct.len() >= 3 && b.iter().filter(|&&c| c != 0 && c != 0xff).count() >= 3
}

/// EtherTypes (network order) that open the header of a frame a program parses.
const ETHERTYPES: &[(u16, &str)] = &[
    (0x0800, "IPv4"),
    (0x0806, "ARP"),
    (0x8035, "RARP"),
    (0x86dd, "IPv6"),
    (0x8100, "802.1Q VLAN"),
    (0x88a8, "802.1ad VLAN"),
    (0x8863, "PPPoE discovery"),
    (0x8864, "PPPoE session"),
    (0x888e, "EAPOL"),
    (0x88c7, "802.11i pre-authentication"),
    (0x88cc, "LLDP"),
    (0x8809, "slow protocols (LACP)"),
    (0x8847, "MPLS"),
    (0x8848, "MPLS multicast"),
    (0x88e5, "MACsec"),
    (0x88f7, "PTP"),
    (0x893a, "IEEE 1905.1"),
    (0x9000, "loopback"),
];

/// Fixed values that well-known protocols put at the start of a header or a field.
const PROTOCOL_MAGICS: &[(&[u8], &str)] = &[
    (&[0x63, 0x82, 0x53, 0x63], "DHCP magic cookie"),
    (&[0xaa, 0xaa, 0x03], "LLC/SNAP header"),
    (
        &[0x01, 0x80, 0xc2, 0x00, 0x00],
        "IEEE 802.1 multicast address",
    ),
    (&[0x01, 0x00, 0x5e], "IPv4 multicast MAC address"),
    (&[0x33, 0x33], "IPv6 multicast MAC address"),
    (
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        "broadcast MAC address",
    ),
    (&[0x16, 0x03], "TLS handshake record"),
    (&[0xfe, 0x53, 0x4d, 0x42], "SMB2 header"),
    (&[0xff, 0x53, 0x4d, 0x42], "SMB header"),
    (&[0x21, 0x12, 0xa4, 0x42], "STUN magic cookie"),
];

/// The protocol a compared constant belongs to, when it is the fixed part of a well-known
/// header rather than a secret: an EtherType followed by that protocol's fields (`88 63 11
/// 07 …` is a PPPoE discovery header: version/type 0x11, code PADO), a DHCP cookie, an LLC
/// header. Comparing received bytes with one is parsing the protocol, not a magic knock.
pub fn protocol_constant(magic: &[u8]) -> Option<&'static str> {
    // A printable string is judged by its shape as a secret, not as a header.
    if magic.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        return None;
    }
    if let [a, b, ..] = magic {
        let ethertype = u16::from_be_bytes([*a, *b]);
        if let Some((_, name)) = ETHERTYPES.iter().find(|(t, _)| *t == ethertype) {
            return Some(name);
        }
    }
    PROTOCOL_MAGICS
        .iter()
        .find(|(m, _)| magic.starts_with(m))
        .map(|(_, name)| *name)
}

/// The shells and configuration writes called after `at` in the function, directly or
/// through the functions it calls (two levels): their names, and `shell` when any is one.
fn sink_after(
    functions: &[Function],
    by_start: &HashMap<u64, usize>,
    calls: &[Call],
    at: u64,
) -> Option<(String, &'static str)> {
    let mut seen = HashSet::new();
    let mut found: Vec<(String, &'static str)> = Vec::new();
    for c in calls.iter().filter(|c| c.at > at) {
        if let Some(s) = sink_of(functions, by_start, &c.callee, 2, &mut seen) {
            if !found.iter().any(|f| f.0 == s.0) {
                found.push(s);
            }
        }
    }
    let kind = if found.iter().any(|f| f.1 == "shell") {
        "shell"
    } else {
        found.first()?.1
    };
    let names: Vec<String> = found.into_iter().map(|f| f.0).collect();
    Some((names.join(", "), kind))
}

fn sink_of(
    functions: &[Function],
    by_start: &HashMap<u64, usize>,
    callee: &Callee,
    depth: u8,
    seen: &mut HashSet<u64>,
) -> Option<(String, &'static str)> {
    match callee {
        Callee::Named(n) => {
            let p = plain_name(n);
            if SHELL.contains(&p) {
                return Some((p.to_string(), "shell"));
            }
            if CONFIG_WRITES.contains(&p) {
                return Some((p.to_string(), "config-write"));
            }
            None
        }
        Callee::Local(a) if depth > 0 && seen.insert(*a) => {
            let f = &functions[*by_start.get(a)?];
            f.calls
                .iter()
                .find_map(|c| sink_of(functions, by_start, &c.callee, depth - 1, seen))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_values_are_told_from_command_words() {
        assert!(looks_magic(&[0xd3, 0x4d, 0xb3, 0x3f]));
        assert!(looks_magic(b"xK3y!dBg_7Q"));
        assert!(!looks_magic(b"reboot"));
        assert!(!looks_magic(b"status"));
        assert!(!looks_magic(&[0, 0, 0, 1]));
        assert!(!looks_magic(&[0xff, 0xff, 0xf0, 0]));
        assert!(!looks_magic(b"GET"));
    }

    #[test]
    fn protocol_headers_are_no_magic_knock() {
        // The PPPoE discovery (PADO) and session headers a raw-frame parser compares.
        assert_eq!(
            protocol_constant(&[0x88, 0x63, 0x11, 0x07, 0, 0]),
            Some("PPPoE discovery")
        );
        assert_eq!(
            protocol_constant(&[0x88, 0x64, 0x11, 0, 0, 1]),
            Some("PPPoE session")
        );
        assert_eq!(
            protocol_constant(&[0x63, 0x82, 0x53, 0x63]),
            Some("DHCP magic cookie")
        );
        // A knock value shaped like no protocol stays magic.
        assert_eq!(protocol_constant(&[0xd3, 0x4d, 0xb3, 0x3f]), None);
        assert_eq!(protocol_constant(b"xK3y!dBg_7Q"), None);
    }

    #[test]
    fn inline_constants_are_laid_out_in_memory_order() {
        assert_eq!(
            magic_word(0x5a17c3e9, 4, false),
            vec![0xe9, 0xc3, 0x17, 0x5a]
        );
        assert_eq!(
            magic_word(0x5a17c3e9, 4, true),
            vec![0x5a, 0x17, 0xc3, 0xe9]
        );
    }
}
