//! Reachability: which programs of a filesystem run (started by the boot model, listening on
//! the network), which libraries they load, and which programs or scripts name a given file.
//! Detectors use it so that severity follows what can be reached: a weak key that a started
//! SSH server reads ranks above one no program reads, a hardening gap in a listening daemon
//! above one in an unused tool, a default password that only an emulation harness reads is
//! not the device's.
//!
//! Computed once per [`Analysis`] ([`Analysis::reach`]); file readers are looked up on demand
//! with one substring search over the filesystem's programs and text files.

use crate::boot::{boot_model, program_of, strip_overlay, Trigger};
use crate::detectors::text::{file_name, looks_like_text};
use crate::elf::elf_facts;
use crate::Analysis;
use assay_model::{NodeId, NodeKind};
use std::collections::{BTreeMap, BTreeSet};

/// Directories searched for a program started by its bare name.
const PATH: &[&str] = &[
    "/bin",
    "/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/usr/local/bin",
    "/usr/local/sbin",
];

/// Largest file searched for the path of another file (programs and scripts are far smaller).
const MAX_READER: usize = 32 << 20;

/// What runs in one filesystem.
#[derive(Debug, Default, Clone)]
pub struct FsReach {
    /// Programs the boot model starts (init scripts, inittab, inetd, systemd, cron), with the
    /// script or configuration that starts them.
    pub started: BTreeMap<NodeId, String>,
    /// Programs that listen on an IP socket (the exposure map), with their ports.
    pub listening: BTreeMap<NodeId, String>,
    /// Shared libraries some executable of the filesystem loads: DT_NEEDED (transitively),
    /// `/etc/ld.so.preload` and `LD_PRELOAD=` lines, or a library whose file name a program
    /// names (dlopen).
    pub loaded: BTreeSet<NodeId>,
    /// Every shared library of the filesystem.
    pub libraries: BTreeSet<NodeId>,
    /// Every executable program of the filesystem.
    pub executables: BTreeSet<NodeId>,
}

/// What runs, per filesystem of the analysis (same index as [`Analysis::filesystems`]).
#[derive(Debug, Default, Clone)]
pub struct Reach {
    /// One entry per filesystem.
    pub filesystems: Vec<FsReach>,
}

/// A file that names another file's path, and whether it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// The naming file.
    pub node: NodeId,
    /// Its path.
    pub path: String,
    /// What kind of file it is.
    pub kind: ReaderKind,
    /// Whether the boot model starts it (a program or a boot script).
    pub started: bool,
    /// Whether it listens on the network.
    pub listening: bool,
}

/// The kinds of file that name another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderKind {
    /// An executable program.
    Program,
    /// A shared library some program loads.
    LoadedLibrary,
    /// A shared library that no program of the filesystem loads.
    UnloadedLibrary,
    /// A script or configuration file.
    Text,
}

impl Reader {
    /// Whether this reader can run on the device: a program, a loaded library, a script.
    pub fn is_live(&self) -> bool {
        self.kind != ReaderKind::UnloadedLibrary
    }
}

impl Reach {
    /// Compute what runs in every filesystem of `a`.
    pub fn compute(a: &Analysis) -> Reach {
        let listeners = crate::detectors::exposure::listeners(a);
        let filesystems = (0..a.filesystems.len())
            .map(|fs| fs_reach(a, fs, &listeners))
            .collect();
        Reach { filesystems }
    }

    /// The facts of filesystem `fs` (empty when out of range).
    pub fn fs(&self, fs: usize) -> &FsReach {
        static EMPTY: std::sync::OnceLock<FsReach> = std::sync::OnceLock::new();
        self.filesystems
            .get(fs)
            .unwrap_or_else(|| EMPTY.get_or_init(FsReach::default))
    }

    /// Whether program `node` of filesystem `fs` is started or listens.
    pub fn runs(&self, fs: usize, node: NodeId) -> bool {
        let r = self.fs(fs);
        r.started.contains_key(&node) || r.listening.contains_key(&node)
    }

    /// Every file of filesystem `fs` (other than `node` itself) that names `path`: programs
    /// and libraries by a string holding the path, scripts and configuration files by a
    /// line holding it. An overlay's `/upper` prefix is not part of the name searched.
    pub fn readers(&self, a: &Analysis, fs: usize, node: NodeId, path: &str) -> Vec<Reader> {
        let name = strip_overlay(path);
        if name.len() < 4 || !name.starts_with('/') {
            return Vec::new();
        }
        let finder = memchr::memmem::Finder::new(name.as_bytes());
        let facts = self.fs(fs);
        let boot = boot_scripts(a, fs);
        let mut out = Vec::new();
        let Some(view) = a.filesystems.get(fs) else {
            return out;
        };
        for &id in view.entries.values() {
            let n = a.node(id);
            if id == node || n.kind != NodeKind::File || n.duplicate_of.is_some() {
                continue;
            }
            let bytes = a.bytes(id);
            if bytes.len() > MAX_READER || finder.find(bytes).is_none() {
                continue;
            }
            let kind = if bytes.starts_with(b"\x7fELF") {
                if facts.libraries.contains(&id) {
                    if facts.loaded.contains(&id) {
                        ReaderKind::LoadedLibrary
                    } else {
                        ReaderKind::UnloadedLibrary
                    }
                } else {
                    ReaderKind::Program
                }
            } else if looks_like_text(bytes) {
                ReaderKind::Text
            } else {
                continue;
            };
            out.push(Reader {
                node: id,
                path: n.path.clone(),
                kind,
                started: facts.started.contains_key(&id) || boot.contains(&id),
                listening: facts.listening.contains_key(&id),
            });
        }
        out.sort_by(|x, y| x.path.cmp(&y.path));
        out
    }
}

/// Whether the readers of a file show that nothing on the device reads it: some files name
/// it, and every one of them is a library that no program loads.
pub fn only_unloaded_readers(readers: &[Reader]) -> bool {
    !readers.is_empty() && readers.iter().all(|r| !r.is_live())
}

/// The script nodes the boot model runs at boot or from cron.
fn boot_scripts(a: &Analysis, fs: usize) -> BTreeSet<NodeId> {
    let model = boot_model(a, fs);
    model
        .boot_scripts
        .keys()
        .filter_map(|p| a.read_nested(fs, p).map(|(_, id, _)| id))
        .collect()
}

fn fs_reach(a: &Analysis, fs: usize, listeners: &[assay_model::Listener]) -> FsReach {
    let mut r = FsReach::default();
    let Some(view) = a.filesystems.get(fs) else {
        return r;
    };
    // Programs and libraries, and the libraries each needs.
    let mut needs: BTreeMap<NodeId, Vec<String>> = BTreeMap::new();
    let mut by_name: BTreeMap<String, NodeId> = BTreeMap::new();
    for &id in view.entries.values() {
        let n = a.node(id);
        if n.kind != NodeKind::File || n.duplicate_of.is_some() {
            continue;
        }
        let bytes = a.bytes(id);
        if !bytes.starts_with(b"\x7fELF") {
            continue;
        }
        let Some(facts) = elf_facts(bytes) else {
            continue;
        };
        if facts.is_library {
            r.libraries.insert(id);
            by_name.insert(file_name(&n.path).to_string(), id);
            if let Some(so) = &facts.soname {
                by_name.entry(so.clone()).or_insert(id);
            }
        } else if facts.is_executable {
            r.executables.insert(id);
        }
        needs.insert(id, facts.needed);
    }
    // Symlinked library names (libc.so.0 -> libuClibc-0.9.33.2.so).
    for (path, &id) in &view.entries {
        if a.node(id).kind == NodeKind::Symlink {
            if let Some(target) = a.resolve(fs, path) {
                if r.libraries.contains(&target) {
                    by_name.entry(file_name(path).to_string()).or_insert(target);
                }
            }
        }
    }
    // Libraries named by programs (dlopen) or preloaded.
    let mut queue: Vec<NodeId> = Vec::new();
    for &exe in &r.executables {
        for lib in needs.get(&exe).into_iter().flatten() {
            if let Some(&id) = by_name.get(lib) {
                queue.push(id);
            }
        }
    }
    queue.extend(named_libraries(a, view, &r, &by_name));
    while let Some(id) = queue.pop() {
        if !r.loaded.insert(id) {
            continue;
        }
        for lib in needs.get(&id).into_iter().flatten() {
            if let Some(&dep) = by_name.get(lib) {
                queue.push(dep);
            }
        }
    }
    // Started programs.
    let model = boot_model(a, fs);
    for c in &model.commands {
        let word = if c.trigger == Trigger::Inetd && c.words.len() >= 6 {
            Some(c.words[5].clone())
        } else {
            program_of(&c.words).and_then(|(_, rest)| c.words.get(rest.checked_sub(1)?).cloned())
        };
        let Some(word) = word else { continue };
        if let Some(id) = resolve_program(a, fs, &word) {
            r.started.entry(id).or_insert_with(|| c.started_by.clone());
        }
    }
    for l in listeners {
        if a.fs_of(l.node) != Some(fs) {
            continue;
        }
        let ports = crate::detectors::exposure::port_list(&l.ports);
        r.listening.insert(l.node, ports);
        if l.started {
            let by = l
                .starts
                .first()
                .map(|s| s.started_by.clone())
                .unwrap_or_default();
            r.started.entry(l.node).or_insert(by);
        }
    }
    r
}

/// Libraries loaded by name rather than by DT_NEEDED: named by a program's strings (dlopen),
/// listed in `/etc/ld.so.preload` or on an `LD_PRELOAD=` line of a script.
fn named_libraries(
    a: &Analysis,
    view: &crate::FsView,
    r: &FsReach,
    by_name: &BTreeMap<String, NodeId>,
) -> Vec<NodeId> {
    let names: Vec<(&String, NodeId)> = by_name
        .iter()
        .filter(|(n, _)| n.len() >= 6)
        .map(|(n, &id)| (n, id))
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let Ok(ac) = aho_corasick::AhoCorasick::new(names.iter().map(|(n, _)| n.as_bytes())) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (path, &id) in &view.entries {
        let n = a.node(id);
        if n.kind != NodeKind::File || n.duplicate_of.is_some() {
            continue;
        }
        let bytes = a.bytes(id);
        let preload_text = !bytes.starts_with(b"\x7fELF")
            && looks_like_text(bytes)
            && (strip_overlay(path) == "/etc/ld.so.preload"
                || memchr::memmem::find(bytes, b"LD_PRELOAD").is_some());
        if !(r.executables.contains(&id) || preload_text) || bytes.len() > MAX_READER {
            continue;
        }
        for m in ac.find_iter(bytes) {
            let (_, lib) = names[m.pattern().as_usize()];
            if lib != id {
                out.push(lib);
            }
        }
    }
    out
}

/// The program a command word names: an absolute path, or a bare name on the usual `PATH`.
fn resolve_program(a: &Analysis, fs: usize, word: &str) -> Option<NodeId> {
    if word.is_empty() || word.contains('$') {
        return None;
    }
    let candidates: Vec<String> = if word.starts_with('/') {
        vec![word.to_string()]
    } else if word.contains('/') {
        return None;
    } else {
        PATH.iter().map(|d| format!("{d}/{word}")).collect()
    };
    candidates.iter().find_map(|p| {
        let id = a.resolve(fs, p)?;
        let n = a.node(id);
        (n.kind == NodeKind::File).then(|| n.duplicate_of.unwrap_or(id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{tree, TestEntry::*};

    /// A minimal 32-bit little-endian ELF header of type `e_type` (no sections): enough for
    /// `elf_facts` to call it a program or a library.
    fn elf(e_type: u16) -> Vec<u8> {
        let mut h = vec![0u8; 52];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 1;
        h[5] = 1;
        h[6] = 1;
        h[16..18].copy_from_slice(&e_type.to_le_bytes());
        h[18..20].copy_from_slice(&8u16.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h[40..42].copy_from_slice(&52u16.to_le_bytes());
        h[42..44].copy_from_slice(&32u16.to_le_bytes());
        h[46..48].copy_from_slice(&40u16.to_le_bytes());
        h
    }

    #[test]
    fn readers_tell_started_scripts_from_unloaded_libraries() {
        let mut lib = elf(3);
        lib.extend_from_slice(b"\0/bin/cp /emu/nvram.override/* /emu/nvram/\0");
        let t = tree(&[
            File("/etc/inittab", b"::sysinit:/etc/init.d/rcS\n", 0o644),
            File(
                "/etc/init.d/rcS",
                b"#!/bin/sh\ncp -p /etc/passwd.bak /var/passwd\n",
                0o755,
            ),
            File("/etc/passwd.bak", b"admin:x:0:0::/:/bin/sh\n", 0o644),
            File("/emu/nvram.override", b"http_passwd=admin\n", 0o644),
            File("/emu/libnvram.so", &lib, 0o755),
        ]);
        let a = Analysis::new(&t);
        let reach = a.reach();
        let id = |p: &str| a.resolve(0, p).unwrap();
        let passwd = reach.readers(&a, 0, id("/etc/passwd.bak"), "/etc/passwd.bak");
        assert_eq!(passwd.len(), 1);
        assert_eq!(passwd[0].path, "/etc/init.d/rcS");
        assert!(passwd[0].started && passwd[0].is_live());
        let nvram = reach.readers(&a, 0, id("/emu/nvram.override"), "/emu/nvram.override");
        assert_eq!(nvram.len(), 1, "{nvram:?}");
        assert_eq!(nvram[0].kind, ReaderKind::UnloadedLibrary);
        assert!(only_unloaded_readers(&nvram));
        assert!(!only_unloaded_readers(&passwd));
        assert!(!only_unloaded_readers(&[]));
    }
}
