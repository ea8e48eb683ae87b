//! VxWorks images (5.x and 6.x): a raw memory image of the kernel, BSP and application,
//! loaded at a fixed address, with no header of its own (a vendor header may precede it).
//!
//! What identifies one:
//! - the version strings the kernel library compiles in: `runtimeName` ("VxWorks"),
//!   `vxWorksVersion` ("VxWorks5.5.1", "VxWorks 6.7") followed by `creationDate`
//!   ("Mar 01 2012, 10:01:48"), and the WIND kernel's "WIND version 2.12";
//! - the Wind River copyright;
//! - the standalone symbol table (see [`symtab`]), found by structure, which also gives the
//!   load address and the byte order.
//!
//! The format describes the whole blob (its node spans it without claiming it; structures
//! embedded in the image are still found by the scan). Its details say the OS, version,
//! kernel version, build date, CPU architecture and byte order, load address and symbol
//! table; the table itself becomes a derived child, `/symbols.txt`, one `address type name`
//! line per symbol, sorted, for detectors and component identification to read.

pub mod symtab;

use super::firmware_code::{c_string_at, guess_arch, string_starts};
use crate::cursor::Endian;
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};
use std::fmt::Write as _;

/// A VxWorks image.
pub struct VxWorks;

/// Markers: the version string's prefix and the kernel's version string.
static MAGICS: &[Magic] = &[
    Magic::at_start(b"VxWorks"),
    Magic::at_start(b"WIND version "),
];

/// Version strings looked at (a real image has a few; text about VxWorks may have many).
const MAX_MARKERS: usize = 4096;
/// NUL padding allowed between the version string and the creation date.
const DATE_GAP: usize = 16;
/// Strings after the version string searched for the creation date.
const DATE_HOPS: usize = 3;

/// The version string the image carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionString {
    /// The version (`6.7`, `5.5.1`).
    pub version: String,
    /// The whole C string (`VxWorks 6.7`).
    pub text: String,
    /// Where it starts in the blob.
    pub offset: usize,
    /// The `creationDate` string that follows it, when it does.
    pub build_date: Option<String>,
}

/// `d+(.d+){0,3}` and nothing else.
fn is_version(s: &[u8]) -> bool {
    let parts: Vec<&[u8]> = s.split(|&b| b == b'.').collect();
    (1..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.iter().all(u8::is_ascii_digit))
}

/// `Mmm dd yyyy, hh:mm:ss` as `__DATE__ ", " __TIME__` spell it.
fn is_build_date(s: &[u8]) -> bool {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if s.len() != 21 || !MONTHS.contains(&&s[..3]) {
        return false;
    }
    let digit = |i: usize| s[i].is_ascii_digit();
    s[3] == b' '
        && (digit(4) || s[4] == b' ')
        && digit(5)
        && s[6] == b' '
        && (7..11).all(digit)
        && &s[11..13] == b", "
        && digit(13)
        && digit(14)
        && s[15] == b':'
        && digit(16)
        && digit(17)
        && s[18] == b':'
        && digit(19)
        && digit(20)
}

/// The creation date among the few short strings right after the C string that ends at
/// `end` (its NUL): 5.x puts `creationDate` right after `vxWorksVersion`, 6.x puts
/// `runtimeVersion` ("6.7") between them.
fn date_after(data: &[u8], end: usize) -> Option<String> {
    let mut at = end;
    for _ in 0..DATE_HOPS {
        let from = at + 1;
        let pad = data
            .get(from..)?
            .iter()
            .take(DATE_GAP + 1)
            .take_while(|&&b| b == 0)
            .count();
        let s = c_string_at(data, from + pad, 32)?;
        if is_build_date(s) {
            return Some(String::from_utf8_lossy(s).into_owned());
        }
        at = from + pad + s.len();
    }
    None
}

/// The creation date among the few strings right before the C string that starts at
/// `start`: compilers may lay out a file's strings in reverse order of definition.
fn date_before(data: &[u8], start: usize) -> Option<String> {
    let mut at = start;
    for _ in 0..DATE_HOPS {
        // Skip the NUL padding before `at`, then find where the previous string starts.
        let head = data.get(..at)?;
        let end = head.iter().rposition(|&b| b != 0)? + 1;
        if at - end > DATE_GAP + 1 {
            return None;
        }
        let begin = head[..end]
            .iter()
            .rposition(|&b| b == 0)
            .map_or(0, |z| z + 1);
        let s = c_string_at(data, begin, 32)?;
        if is_build_date(s) {
            return Some(String::from_utf8_lossy(s).into_owned());
        }
        at = begin;
    }
    None
}

/// The image's VxWorks version string: a whole C string `VxWorks` + optional space or dash
/// + version. One followed by the creation date is preferred.
pub fn version_string(data: &[u8]) -> Option<VersionString> {
    let mut first = None;
    for at in string_starts(data, b"VxWorks", MAX_MARKERS) {
        let Some(s) = c_string_at(data, at, 40) else {
            continue;
        };
        let rest = &s[7..];
        let rest = rest
            .strip_prefix(b" ")
            .or_else(|| rest.strip_prefix(b"-"))
            .unwrap_or(rest);
        if !is_version(rest) {
            continue;
        }
        let found = VersionString {
            version: String::from_utf8_lossy(rest).into_owned(),
            text: String::from_utf8_lossy(s).into_owned(),
            offset: at,
            build_date: date_after(data, at + s.len()).or_else(|| date_before(data, at)),
        };
        if found.build_date.is_some() {
            return Some(found);
        }
        first.get_or_insert(found);
    }
    first
}

/// The WIND kernel version (`2.12`) and where its string starts.
pub fn kernel_version(data: &[u8]) -> Option<(String, usize)> {
    string_starts(data, b"WIND version ", MAX_MARKERS)
        .into_iter()
        .find_map(|at| {
            let s = c_string_at(data, at, 32)?;
            let v = &s[13..];
            is_version(v).then(|| (String::from_utf8_lossy(v).into_owned(), at))
        })
}

/// What the strings alone say, when they say VxWorks.
struct Identity {
    version: Option<VersionString>,
    kernel: Option<(String, usize)>,
    copyright: bool,
}

fn identify(data: &[u8]) -> Option<Identity> {
    let version = version_string(data);
    let kernel = kernel_version(data);
    let copyright = memchr::memmem::find(data, b"Wind River Systems").is_some();
    // A version string alone could be text about VxWorks; the kernel's own version, the
    // creation date beside the version or the Wind River copyright make it an image.
    let corroborated = kernel.is_some()
        || version
            .as_ref()
            .is_some_and(|v| v.build_date.is_some() || copyright);
    corroborated.then_some(Identity {
        version,
        kernel,
        copyright,
    })
}

fn describe(id: &Identity) -> String {
    let mut d = String::from("VxWorks");
    if let Some(v) = &id.version {
        let _ = write!(d, " {}", v.version);
    }
    if let Some((k, _)) = &id.kernel {
        let _ = write!(d, " (WIND {k})");
    }
    d
}

/// The generation (`5`, `6`, …) a version string names.
fn major(version: &str) -> Option<&str> {
    version.split('.').next()
}

impl Format for VxWorks {
    fn name(&self) -> &'static str {
        "vxworks"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn describes_whole_blob(&self) -> bool {
        true
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let id = identify(data)?;
        Some(Probe {
            length: Some(data.len() as u64),
            description: describe(&id),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let id = identify(data)
            .ok_or_else(|| FormatError::Corrupt("no VxWorks version strings".into()))?;
        let mut out = Unpacked::default();
        out.detail("os", "VxWorks");
        if let Some(v) = &id.version {
            out.detail("version", &v.version);
            out.detail("version_string", &v.text);
            out.detail("version_offset", format!("{:#x}", v.offset));
            if let Some(d) = &v.build_date {
                out.detail("build_date", d);
            }
        }
        if let Some((k, at)) = &id.kernel {
            out.detail("kernel", format!("WIND {k}"));
            out.detail("kernel_offset", format!("{at:#x}"));
        }
        if id.copyright {
            out.detail("copyright", "Wind River Systems");
        }
        let code = guess_arch(data);
        if let Some(c) = &code {
            out.detail("arch", c.arch);
            out.detail(
                "arch_evidence",
                format!(
                    "{} instruction patterns ({}-endian)",
                    c.matches, c.endianness
                ),
            );
        }
        match symtab::find(data, ctx.max_entries()) {
            Some(t) => {
                let order = match t.endian {
                    Endian::Big => "big",
                    Endian::Little => "little",
                };
                out.detail("endianness", order);
                out.detail("load_address", format!("{:#010x}", t.load_address));
                out.detail("symbols", t.symbols.len());
                out.detail("symbol_table_offset", format!("{:#x}", t.offset));
                out.detail("symbol_table_size", t.byte_len());
                out.detail(
                    "symbol_table_layout",
                    format!(
                        "VxWorks {} ({}-byte records)",
                        t.layout.generation(),
                        t.layout.size()
                    ),
                );
                if t.count_word_matches {
                    out.detail("symbol_table_count_word", "matches the records");
                }
                if t.unreadable > 0 {
                    out.warn(
                        WarningKind::Format,
                        format!(
                            "{} of {} symbol records name no readable string",
                            t.unreadable, t.records
                        ),
                    );
                }
                if t.symbols.len() + t.unreadable < t.records {
                    out.warn(
                        WarningKind::Limit,
                        format!(
                            "symbol table of {} records; only the first {} read (entry limit)",
                            t.records,
                            ctx.max_entries()
                        ),
                    );
                }
                if let Some(v) = &id.version {
                    let generation = major(t.layout.generation());
                    if major(&v.version) != generation {
                        out.warn(WarningKind::Format, format!(
                            "version string says VxWorks {} but the symbol records have the {} layout",
                            v.version,
                            t.layout.generation()
                        ));
                    }
                }
                // VxWorks enters at sysInit, the first routine of the image's text.
                if let Some(entry) = t.symbols.iter().find(|s| s.name == "sysInit") {
                    out.detail("entry_point", format!("{:#010x}", entry.value));
                    let offset = entry.value.wrapping_sub(t.load_address) as usize;
                    if offset < data.len() {
                        out.detail("entry_offset", format!("{offset:#x}"));
                    }
                }
                let mut text = String::with_capacity(t.symbols.len() * 32);
                for s in &t.symbols {
                    let _ = writeln!(text, "{:08x} {} {}", s.value, s.letter, s.name);
                }
                ctx.charge(text.len() as u64)?;
                out.entries.push(
                    Entry::fs("/symbols.txt", EntryKind::File)
                        .with_data(EntryData::Owned(Blob::from(text.into_bytes())))
                        .with_detail("derived", "symbol table recovered from the image"),
                );
            }
            None => {
                if let Some(c) = &code {
                    out.detail("endianness", c.endianness);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
