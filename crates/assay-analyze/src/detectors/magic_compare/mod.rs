//! Magic-string authentication in binaries: hard-coded strings compared with input where the
//! comparison guards a shell, a privileged action or a login that skips the real password
//! check (the ideas of Stringer and Firmalice, in a form cheap enough for every ELF of an
//! image).
//!
//! For each ELF executable of MIPS, ARM/Thumb, AArch64 or x86-64 the scanner decodes the code
//! (our own MIPS decoder, `yaxpeax-arm` and `yaxpeax-x86` for the rest), lowers it to a few
//! abstract operations and runs a forward pass per function that tracks constants, literal
//! addresses and bytes stored into the stack frame. Every call to a comparison function
//! (`strcmp`, `strncmp`, `strcasecmp`, `memcmp`, `strstr`, …, or a thin wrapper of one) yields
//! the constant strings of its arguments — including strings the code assembles on the stack
//! from immediates, which `strings` never shows. A literal is reported when it has the shape
//! of a secret, the binary reads login or network input, and what follows the comparison in
//! the function (or in the functions it calls) is a shell, a privilege change, or the normal
//! `crypt(3)`/shadow check that the literal lets a caller skip. No rule names a password.

mod arm;
mod flow;
mod image;
mod libc;
mod lower;
mod mips;
mod net;
mod secret;
mod segments;
mod x86;

use crate::{Analysis, Detector, Rule};
use assay_model::{Category, Confidence, Finding, Severity};
use flow::{Callee, Val};
use image::Image;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

pub use net::{
    looks_magic, network_program, BindCall, NetProgram, NetworkTrigger, ServiceName, SocketCall,
};
pub use secret::secret_score;

/// The magic-comparison detector.
pub struct MagicCompare;

const RULES: &[Rule] = &[
    Rule {
        id: "ASSAY-BACKDOOR-101",
        category: Category::Backdoor,
        severity: Severity::Critical,
        title: "Hard-coded password accepted before or instead of the password check",
        description: "A binary compares input with a hard-coded, password-like string in a \
                      function that also performs the real password check (crypt(3), \
                      getspnam, PAM): whoever knows the string logs in as any user. Found by \
                      decoding the code and recovering the constant arguments of comparison \
                      calls, including strings built on the stack.",
    },
    Rule {
        id: "ASSAY-BACKDOOR-102",
        category: Category::Backdoor,
        severity: Severity::Critical,
        title: "Hard-coded string guards a shell or privileged action",
        description: "A hard-coded, secret-looking string is compared with a value that \
                      comes from the network (bytes a socket received) or from an \
                      authentication path (a function that prompts for or checks a password, \
                      or handles an authorization header), and the code after the comparison \
                      runs a shell or program (system, exec*, popen) or changes privileges \
                      (setuid): a magic password or magic packet. Critical when it leads to a \
                      shell, high for a privilege change. Constants compared with \
                      configuration values are ordinary firmware logic and not reported.",
    },
    Rule {
        id: "ASSAY-BACKDOOR-103",
        category: Category::Backdoor,
        severity: Severity::Medium,
        title: "Hard-coded secret compared with input",
        description: "A hard-coded, secret-looking string is compared with network input or \
                      on an authentication path, but no privileged action was found after \
                      the comparison. Worth a look: it may unlock a hidden mode.",
    },
];

impl Detector for MagicCompare {
    fn name(&self) -> &'static str {
        "magic_compare"
    }

    fn rules(&self) -> &'static [Rule] {
        RULES
    }

    fn run(&self, a: &Analysis, out: &mut crate::FindingSink) {
        let files: Vec<_> = a
            .files()
            .filter(|f| f.node.duplicate_of.is_none() && f.bytes.starts_with(b"\x7fELF"))
            .collect();
        let found: Vec<Finding> = files
            .par_iter()
            .flat_map_iter(|f| {
                let mut v = Vec::new();
                for s in suspicious_comparisons(f.bytes) {
                    v.push(to_finding(a, f.node.id, s));
                }
                v
            })
            .collect();
        out.extend(found);
    }
}

/// A constant string one comparison call received.
#[derive(Debug, Clone)]
pub struct ComparedLiteral {
    /// The string.
    pub text: Vec<u8>,
    /// Bytes of the file that hold it: the string itself, or the instructions that built it
    /// on the stack.
    pub range: Range<usize>,
    /// Built on the stack from immediates rather than read from a data section.
    pub on_stack: bool,
    /// Start address of the calling function.
    pub function: u64,
    /// Its symbol name, when known.
    pub function_name: Option<String>,
    /// Address of the call instruction.
    pub call_at: u64,
    /// The comparison function (or the wrapper's name).
    pub compare: String,
    /// Which argument (0-based) the string was.
    pub argument: usize,
    /// Whether the other argument is also a constant (then it compares nothing from input).
    pub other_constant: bool,
}

/// Every constant string passed to a comparison function in an ELF executable, for the
/// detectors that look for credentials in binaries. Empty for files it cannot decode.
pub fn compared_literals(bytes: &[u8]) -> Vec<ComparedLiteral> {
    match scan(bytes) {
        Some(s) => s.literals,
        None => Vec::new(),
    }
}

/// The result of scanning one binary.
struct Scan {
    arch: &'static str,
    literals: Vec<ComparedLiteral>,
    functions: Vec<lower::Function>,
    names: HashSet<String>,
    symbols_known: bool,
    is_executable: bool,
    /// Comparison calls that bytes received from the network reach.
    compared_from_network: HashSet<u64>,
    /// Function start → the authentication evidence of the function (an auth call it makes,
    /// or a prompt or header string it uses), for the functions that have one.
    auth: HashMap<u64, String>,
}

const COMPARE: &[&str] = &[
    "strcmp",
    "strncmp",
    "strcasecmp",
    "strncasecmp",
    "memcmp",
    "bcmp",
    "strstr",
    "strcasestr",
    "strcoll",
    "timingsafe_bcmp",
    "CRYPTO_memcmp",
];
const SHELL: &[&str] = &[
    "system",
    "popen",
    "execl",
    "execlp",
    "execle",
    "execv",
    "execvp",
    "execve",
    "execvpe",
    "fexecve",
    "posix_spawn",
    "posix_spawnp",
];
const PRIVILEGE: &[&str] = &[
    "setuid",
    "setgid",
    "seteuid",
    "setegid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
];
const PASSWORD_CHECK: &[&str] = &[
    "crypt",
    "crypt_r",
    "crypt_rn",
    "crypt_ra",
    "getspnam",
    "getspnam_r",
    "pam_authenticate",
    "pam_start",
];
const INPUT: &[&str] = &[
    "recv",
    "recvfrom",
    "recvmsg",
    "read",
    "fgets",
    "fgets_unlocked",
    "gets",
    "getpass",
    "getline",
    "getdelim",
    "fread",
    "scanf",
    "__isoc99_scanf",
    "fscanf",
    "__isoc99_fscanf",
    "sscanf",
    "__isoc99_sscanf",
    "getc",
    "fgetc",
    "getchar",
    "readline",
    "getenv",
    "accept",
    "crypt",
    "getspnam",
];

/// A glibc internal variant (`__strcmp_sse2`, `__memcmp_evex_movbe`) of a function.
pub(crate) fn base_name(name: &str) -> &str {
    let n = name.split('@').next().unwrap_or(name);
    if let Some(rest) = n.strip_prefix("__") {
        for &c in COMPARE.iter().chain(SHELL) {
            if rest.starts_with(c) && rest[c.len()..].starts_with('_') {
                return c;
            }
        }
    }
    n
}

fn scan(bytes: &[u8]) -> Option<Scan> {
    let image = Image::parse(bytes)?;
    if image.code.is_empty() {
        return None;
    }
    let (functions, stubs) = lower::functions_and_stubs(&image);
    let compared_from_network = if receives_from_network(&image) {
        let mut named = functions.clone();
        let names = net::name_everything(&image, &mut named, stubs);
        net::analyse(&image, &named, &names).compared_from_network
    } else {
        HashSet::new()
    };
    let auth = auth_functions(&image, &functions);
    let arch = image.arch.name(image.is_64, image.big_endian);
    // Comparison functions: by name, then the binary's own thin wrappers of them.
    let mut wrappers: HashMap<u64, String> = HashMap::new();
    for _ in 0..2 {
        for f in &functions {
            if f.instructions > 48 || f.calls.is_empty() || wrappers.contains_key(&f.start) {
                continue;
            }
            let compares: Vec<String> = f
                .calls
                .iter()
                .filter_map(|c| compare_name(&c.callee, &wrappers))
                .collect();
            if compares.len() == f.calls.len() && compares.len() <= 2 {
                let own = f
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("sub_{:x}", f.start));
                wrappers.insert(f.start, format!("{own} (wraps {})", compares[0]));
            }
        }
    }
    let mut literals = Vec::new();
    for f in &functions {
        if wrappers.contains_key(&f.start) {
            continue;
        }
        for c in &f.calls {
            let Some(compare) = compare_name(&c.callee, &wrappers) else {
                continue;
            };
            let strings: Vec<Option<Literal>> = c
                .args
                .iter()
                .zip(&c.stack_strings)
                .take(2)
                .map(|(v, st)| literal_of(&image, *v, st.as_ref()))
                .collect();
            for (i, s) in strings.iter().enumerate() {
                let Some((text, range, on_stack)) = s else {
                    continue;
                };
                let other_constant = strings.get(1 - i).is_some_and(|o| o.is_some());
                literals.push(ComparedLiteral {
                    text: text.clone(),
                    range: range.clone(),
                    on_stack: *on_stack,
                    function: f.start,
                    function_name: f.name.clone(),
                    call_at: c.at,
                    compare: compare.clone(),
                    argument: i,
                    other_constant,
                });
            }
        }
    }
    let mut names: HashSet<String> = image.imports.iter().cloned().collect();
    names.extend(image.functions.values().map(|n| base_name(n).to_string()));
    Some(Scan {
        arch,
        literals,
        functions,
        names,
        symbols_known: !image.is_static || image.has_symtab,
        is_executable: image.is_executable,
        compared_from_network,
        auth,
    })
}

/// Whether a program may receive from the network: it imports a socket call, or it is static
/// (its library functions are recognised later).
fn receives_from_network(image: &Image) -> bool {
    image.is_static
        || image.imports.iter().any(|n| {
            matches!(
                libc::plain_name(n),
                "recv" | "recvfrom" | "accept" | "accept4" | "bind" | "listen"
            )
        })
}

/// Library calls that authenticate a user.
const AUTH_CALLS: &[&str] = &[
    "getpass",
    "crypt",
    "crypt_r",
    "getspnam",
    "getspnam_r",
    "pam_start",
    "pam_authenticate",
    "readpassphrase",
];
/// Words of the strings only an authentication path uses: login prompts and HTTP
/// authorization headers.
const AUTH_WORDS: &[&str] = &["login:", "authoriz", "www-authenticate"];
/// Words of a credential prompt (`Password:`, `Enter user name: `); a bare field or tag name
/// (`Username`, `login_passwd`) is used by every handler that configures any account.
const PROMPT_WORDS: &[&str] = &["password", "passwd", "username", "user name", "passphrase"];

/// First words of setting names that hold the account of another service the device logs
/// into (a PPPoE or L2TP uplink, a DDNS provider, a Wi-Fi network, an ACS): a function that
/// reads `ppp_username` or `wan_pppoe_passwd` configures a client, it does not authenticate
/// anyone who talks to the device.
const CLIENT_SERVICES: &[&str] = &[
    "ppp",
    "pppoe",
    "pppoa",
    "pptp",
    "l2tp",
    "wan",
    "wl",
    "wlan",
    "wifi",
    "wps",
    "wpa",
    "psk",
    "ddns",
    "dyndns",
    "smb",
    "samba",
    "ftp",
    "smtp",
    "mail",
    "pop3",
    "snmp",
    "vpn",
    "ipsec",
    "openvpn",
    "radius",
    "acs",
    "cwmp",
    "tr069",
    "stun",
    "sip",
    "voip",
    "apn",
    "3g",
    "umts",
    "proxy",
    "wds",
    "dsl",
    "wisp",
    "bigpond",
    "heartbeat",
    "ntp",
    "cloud",
];

/// Whether a string a function passes to a call shows an authentication path: a login or
/// password prompt or an authorization header (`Password:`, `login:`, `Authorization`), not
/// a field name every configuration handler uses (`Username`), nor the prompt or message of
/// a client account the device logs into (`HNAP:wan username or password has error`).
fn is_auth_word(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let prompt = lower.trim_end().ends_with(':') && PROMPT_WORDS.iter().any(|w| lower.contains(w));
    if !prompt && !AUTH_WORDS.iter().any(|w| lower.contains(w)) {
        return false;
    }
    // A setting name (`wan_pppoe_passwd`) or a message about one (`HNAP:wan username or
    // password has error`) names the client account it belongs to.
    !lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|p| CLIENT_SERVICES.contains(&p))
}

/// The functions on an authentication path: they call an authentication function, or pass a
/// prompt, form field or authorization header string to a call.
fn auth_functions(image: &Image, functions: &[lower::Function]) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    for f in functions {
        for c in &f.calls {
            if let Callee::Named(n) = &c.callee {
                let b = base_name(n);
                if AUTH_CALLS.contains(&b) {
                    out.insert(f.start, format!("calls {b}"));
                    break;
                }
            }
            let word = c.args.iter().take(4).find_map(|v| {
                let (_, s) = image.string_at(v.value()?)?;
                let text = String::from_utf8_lossy(s);
                is_auth_word(&text).then(|| text.into_owned())
            });
            if let Some(w) = word {
                let w: String = w.chars().take(40).collect();
                out.insert(f.start, format!("uses {w:?}"));
                break;
            }
        }
    }
    out
}

fn compare_name(callee: &Callee, wrappers: &HashMap<u64, String>) -> Option<String> {
    match callee {
        Callee::Named(n) => {
            let b = base_name(n);
            COMPARE.contains(&b).then(|| b.to_string())
        }
        Callee::Local(a) => wrappers.get(a).cloned(),
        Callee::Unknown => None,
    }
}

/// A recovered string: its bytes, the file bytes that show it, and whether it was built on
/// the stack.
type Literal = (Vec<u8>, Range<usize>, bool);

/// The string a call argument points to: in the file, or built on the stack.
fn literal_of(image: &Image, v: Val, stack: Option<&flow::StackString>) -> Option<Literal> {
    if let Some(s) = stack {
        let a = image.offset_of(s.written.0)?;
        let b = image.offset_of(s.written.1)?;
        return Some((s.bytes.clone(), a..b + 4, true));
    }
    let addr = v.value()?;
    if image.in_code(addr) {
        return None;
    }
    let (off, bytes) = image.string_at(addr)?;
    if bytes.len() < 2 || !bytes.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        return None;
    }
    Some((bytes.to_vec(), off..off + bytes.len(), false))
}

/// A comparison with a secret-looking literal, with what it guards.
struct Suspicious {
    literal: ComparedLiteral,
    arch: &'static str,
    rule: &'static Rule,
    severity: Severity,
    confidence: Confidence,
    guards: Option<String>,
    bypasses: Option<String>,
    /// Where the compared value comes from: `network` or `authentication (…)`.
    input: Option<String>,
}

/// Named callees reachable from `calls` (and up to two levels of local callees).
fn reachable_names(
    functions: &[lower::Function],
    by_start: &HashMap<u64, usize>,
    calls: &[flow::Call],
    depth: u8,
    seen: &mut HashSet<u64>,
    out: &mut Vec<String>,
) {
    for c in calls {
        match &c.callee {
            Callee::Named(n) => out.push(base_name(n).to_string()),
            Callee::Local(a) if depth > 0 && seen.insert(*a) => {
                if let Some(&i) = by_start.get(a) {
                    reachable_names(
                        functions,
                        by_start,
                        &functions[i].calls,
                        depth - 1,
                        seen,
                        out,
                    );
                }
            }
            _ => {}
        }
    }
}

fn suspicious_comparisons(bytes: &[u8]) -> Vec<Suspicious> {
    let Some(scan) = scan(bytes) else {
        return Vec::new();
    };
    let reads_input = scan.names.iter().any(|n| INPUT.contains(&n.as_str()))
        || memchr::memmem::find(bytes, b"assword").is_some();
    if !reads_input {
        return Vec::new();
    }
    let by_start: HashMap<u64, usize> = scan
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.start, i))
        .collect();
    let mut out = Vec::new();
    let mut reported: BTreeMap<Vec<u8>, ()> = BTreeMap::new();
    for lit in &scan.literals {
        if lit.other_constant {
            continue;
        }
        let Some(score) = secret_score(&lit.text) else {
            continue;
        };
        let Some(&fi) = by_start.get(&lit.function) else {
            continue;
        };
        let f = &scan.functions[fi];
        let after: Vec<flow::Call> = f
            .calls
            .iter()
            .filter(|c| c.at > lit.call_at)
            .cloned()
            .collect();
        let mut after_names = Vec::new();
        reachable_names(
            &scan.functions,
            &by_start,
            &after,
            2,
            &mut HashSet::new(),
            &mut after_names,
        );
        let mut all_names = Vec::new();
        reachable_names(
            &scan.functions,
            &by_start,
            &f.calls,
            2,
            &mut HashSet::new(),
            &mut all_names,
        );
        let shell = after_names
            .iter()
            .find(|n| SHELL.contains(&n.as_str()))
            .cloned();
        let privilege = after_names
            .iter()
            .find(|n| PRIVILEGE.contains(&n.as_str()))
            .cloned();
        let bypass = all_names
            .iter()
            .find(|n| PASSWORD_CHECK.contains(&n.as_str()))
            .cloned();
        // A constant compared before system() is ordinary firmware logic (configuration
        // checks in rc programs) unless the compared value comes from the network or an
        // authentication path.
        let input = if scan.compared_from_network.contains(&lit.call_at) {
            Some("network".to_string())
        } else {
            let mut auth = scan.auth.get(&f.start).cloned();
            if auth.is_none() {
                auth = all_names
                    .iter()
                    .find(|n| AUTH_CALLS.contains(&n.as_str()))
                    .map(|n| format!("calls {n}"));
            }
            auth.map(|a| format!("authentication ({a})"))
        };
        if bypass.is_none() && input.is_none() {
            continue;
        }
        let (rule, severity, guards) = if bypass.is_some() {
            (
                &RULES[0],
                Severity::Critical,
                shell.clone().or(privilege.clone()),
            )
        } else if shell.is_some() {
            (&RULES[1], Severity::Critical, shell.clone())
        } else if privilege.is_some() {
            (&RULES[1], Severity::High, privilege.clone())
        } else if score >= 3 && scan.is_executable {
            // Unguarded: only the most password-like literals of programs, or every
            // library's algorithm and curve names would be reported.
            (&RULES[2], Severity::Medium, None)
        } else {
            continue;
        };
        let mut evidence = score;
        if bypass.is_some() && shell.is_some() {
            evidence += 1;
        }
        if lit.compare.contains("wraps") || !scan.symbols_known {
            evidence = evidence.saturating_sub(1);
        }
        let confidence = match (severity, evidence) {
            (Severity::Medium, _) => Confidence::Low,
            (_, 3..) => Confidence::High,
            _ => Confidence::Medium,
        };
        if reported.insert(lit.text.clone(), ()).is_some() {
            continue;
        }
        out.push(Suspicious {
            literal: lit.clone(),
            arch: scan.arch,
            rule,
            severity,
            confidence,
            guards,
            bypasses: bypass,
            input,
        });
    }
    out
}

fn to_finding(a: &Analysis, node: assay_model::NodeId, s: Suspicious) -> Finding {
    let lit = &s.literal;
    let text = String::from_utf8_lossy(&lit.text).into_owned();
    let function = lit
        .function_name
        .clone()
        .unwrap_or_else(|| format!("sub_{:x}", lit.function));
    let title = match (&s.bypasses, &s.guards) {
        (Some(check), _) => format!(
            "Hard-coded password '{text}' compared with {} in {function}, which also runs the {check} password check",
            lit.compare
        ),
        (None, Some(g)) => format!(
            "Hard-coded string '{text}' compared with {} guards {g}() in {function}",
            lit.compare
        ),
        (None, None) => format!(
            "Hard-coded secret '{text}' compared with {} in {function}",
            lit.compare
        ),
    };
    let mut f = a.finding(s.rule, node, lit.range.clone(), title);
    f.severity = s.severity;
    f.confidence = s.confidence;
    f.evidence = assay_model::escape_bytes(&lit.text);
    f.context.insert("function".into(), function);
    f.context
        .insert("call_address".into(), format!("{:#x}", lit.call_at));
    f.context
        .insert("compare_function".into(), lit.compare.clone());
    f.context.insert("architecture".into(), s.arch.into());
    f.context.insert("password".into(), text);
    if lit.on_stack {
        f.context.insert("built_on_stack".into(), "true".into());
    }
    if let Some(g) = s.guards {
        f.context.insert("guards".into(), g);
    }
    if let Some(b) = s.bypasses {
        f.context.insert("bypasses".into(), b);
    }
    if let Some(i) = s.input {
        f.context.insert("input".into(), i);
    }
    f
}

#[cfg(test)]
mod tests;
