//! Facts about an ELF file that several analysers need: architecture, linking, the exploit
//! mitigations it was built with, and its dynamic symbols. Parsed lazily with `object`,
//! which reads hostile files without panicking; anything it cannot read yields `None`.

use object::elf;
use object::read::elf::{Dyn, ElfFile, FileHeader, ProgramHeader, Sym};
use object::{Endianness, FileKind, Object, ObjectSection, ObjectSymbol};

/// RELRO level of an executable or library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relro {
    /// No read-only relocations.
    None,
    /// GOT made read-only after relocation, but lazy binding leaves the PLT GOT writable.
    Partial,
    /// Everything read-only after start (`BIND_NOW`).
    Full,
}

impl Relro {
    /// Lower-case name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Relro::None => "none",
            Relro::Partial => "partial",
            Relro::Full => "full",
        }
    }
}

/// What an ELF file says about itself.
#[derive(Debug, Clone)]
pub struct ElfFacts {
    /// `e_machine` name (`mips`, `arm`, `aarch64`, `x86_64`, …).
    pub machine: &'static str,
    /// 64-bit class.
    pub is_64: bool,
    /// Big-endian.
    pub big_endian: bool,
    /// `ET_EXEC`/`ET_DYN` with an interpreter or entry: a program rather than a library.
    pub is_executable: bool,
    /// A shared library (`ET_DYN` without an interpreter, with a SONAME or no entry).
    pub is_library: bool,
    /// Relocatable object or kernel module.
    pub is_relocatable: bool,
    /// Linked without an interpreter.
    pub is_static: bool,
    /// Position-independent executable.
    pub pie: bool,
    /// Non-executable stack (`PT_GNU_STACK` without `PF_X`).
    pub nx: bool,
    /// RELRO level.
    pub relro: Relro,
    /// References the stack protector (`__stack_chk_fail`/`__stack_chk_guard`).
    pub stack_canary: bool,
    /// Uses FORTIFY_SOURCE checked functions (`__*_chk`).
    pub fortify: bool,
    /// No `.symtab`.
    pub stripped: bool,
    /// `DT_RPATH`/`DT_RUNPATH` values.
    pub rpath: Vec<String>,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_NEEDED` libraries.
    pub needed: Vec<String>,
    /// Names of imported (undefined) dynamic symbols.
    pub imports: Vec<String>,
}

fn machine_name(m: u16) -> &'static str {
    match m {
        elf::EM_MIPS | elf::EM_MIPS_RS3_LE => "mips",
        elf::EM_ARM => "arm",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_386 => "x86",
        elf::EM_X86_64 => "x86_64",
        elf::EM_PPC => "powerpc",
        elf::EM_PPC64 => "powerpc64",
        elf::EM_RISCV => "riscv",
        elf::EM_SH => "sh",
        elf::EM_SPARC | elf::EM_SPARCV9 => "sparc",
        _ => "other",
    }
}

/// Read the facts of an ELF file, or `None` when it is not a readable ELF.
pub fn elf_facts(data: &[u8]) -> Option<ElfFacts> {
    match FileKind::parse(data).ok()? {
        FileKind::Elf32 => facts::<elf::FileHeader32<Endianness>>(data),
        FileKind::Elf64 => facts::<elf::FileHeader64<Endianness>>(data),
        _ => None,
    }
}

fn facts<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<ElfFacts> {
    let file = ElfFile::<H>::parse(data).ok()?;
    let header = file.elf_header();
    let e = file.endian();
    let e_type = header.e_type(e);
    let phdrs = header.program_headers(e, data).ok()?;
    let mut interp = false;
    let mut nx = false;
    let mut gnu_stack = false;
    let mut relro_seg = false;
    for ph in phdrs {
        match ph.p_type(e) {
            elf::PT_INTERP => interp = true,
            elf::PT_GNU_STACK => {
                gnu_stack = true;
                nx = ph.p_flags(e) & elf::PF_X == 0;
            }
            elf::PT_GNU_RELRO => relro_seg = true,
            _ => {}
        }
    }
    let _ = gnu_stack;
    let mut bind_now = false;
    let mut pie_flag = false;
    let mut rpath = Vec::new();
    let mut soname = None;
    let mut needed = Vec::new();
    let sections = header.sections(e, data).ok()?;
    if let Ok(Some((dyns, link))) = sections.dynamic(e, data) {
        let strings = sections.strings(e, data, link).ok();
        for d in dyns.iter().take(4096) {
            let tag = d.tag32(e).unwrap_or(0);
            let val = d.d_val(e).into();
            let string = || {
                strings
                    .and_then(|s| s.get(val as u32).ok())
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            };
            match tag {
                elf::DT_FLAGS if val & u64::from(elf::DF_BIND_NOW) != 0 => bind_now = true,
                elf::DT_FLAGS_1 => {
                    if val & u64::from(elf::DF_1_NOW) != 0 {
                        bind_now = true;
                    }
                    if val & u64::from(elf::DF_1_PIE) != 0 {
                        pie_flag = true;
                    }
                }
                elf::DT_BIND_NOW => bind_now = true,
                elf::DT_RPATH | elf::DT_RUNPATH => rpath.extend(string()),
                elf::DT_SONAME => soname = string(),
                elf::DT_NEEDED => needed.extend(string()),
                _ => {}
            }
        }
    }
    let mut imports = Vec::new();
    let mut canary = false;
    let mut fortify = false;
    let mut note_symbol = |name: &str, imports: &mut Vec<String>, undefined: bool| {
        if name.starts_with("__stack_chk_") {
            canary = true;
        }
        if name.starts_with("__") && name.ends_with("_chk") && !name.starts_with("__stack_chk") {
            fortify = true;
        }
        if undefined && imports.len() < 100_000 {
            imports.push(name.to_string());
        }
    };
    for sym in file.dynamic_symbols().take(200_000) {
        if let Ok(name) = sym.name() {
            note_symbol(name, &mut imports, sym.is_undefined());
        }
    }
    let mut stripped = true;
    if let Ok(symtab) = sections.symbols(e, data, elf::SHT_SYMTAB) {
        if !symtab.is_empty() {
            stripped = false;
            for s in symtab.iter().take(500_000) {
                if let Ok(name) = symtab.symbol_name(e, s) {
                    let n = String::from_utf8_lossy(name);
                    if n.starts_with("__stack_chk_") || (n.starts_with("__") && n.ends_with("_chk"))
                    {
                        note_symbol(&n, &mut Vec::new(), false);
                    }
                }
                let _ = s.st_shndx(e);
            }
        }
    }
    // Static binaries without symbols: look for the canary's failure message instead.
    if !canary && stripped && !interp {
        canary = memchr::memmem::find(data, b"stack smashing detected").is_some();
    }
    imports.sort();
    imports.dedup();
    let is_relocatable = e_type == elf::ET_REL;
    let entry: u64 = header.e_entry(e).into();
    // A shared object with a SONAME is a library even when it carries an interpreter (glibc's
    // and uClibc's libc.so are runnable).
    let is_executable = e_type == elf::ET_EXEC
        || (e_type == elf::ET_DYN && (interp || pie_flag) && soname.is_none());
    let is_library =
        e_type == elf::ET_DYN && !is_executable && (soname.is_some() || entry == 0 || !interp);
    let _ = file.sections().count();
    let _ = file.section_by_name(".comment").map(|s| s.size());
    let relro = match (relro_seg, bind_now) {
        (false, _) => Relro::None,
        (true, false) => Relro::Partial,
        (true, true) => Relro::Full,
    };
    Some(ElfFacts {
        machine: machine_name(header.e_machine(e)),
        is_64: file.is_64(),
        big_endian: !file.is_little_endian(),
        is_executable,
        is_library,
        is_relocatable,
        is_static: !interp && needed.is_empty(),
        pie: e_type == elf::ET_DYN && (interp || pie_flag),
        nx,
        relro,
        stack_canary: canary,
        fortify,
        stripped,
        rpath,
        soname,
        needed,
        imports,
    })
}

/// The `.comment` section's strings (compiler identification), if any.
pub fn comment_strings(data: &[u8]) -> Vec<String> {
    let Ok(file) = object::File::parse(data) else {
        return Vec::new();
    };
    let Some(section) = file.section_by_name(".comment") else {
        return Vec::new();
    };
    let Ok(bytes) = section.data() else {
        return Vec::new();
    };
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .take(64)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf_and_truncated_headers() {
        assert!(elf_facts(b"not an elf").is_none());
        assert!(elf_facts(b"\x7fELF\x02\x01\x01").is_none());
    }

    #[test]
    fn reads_the_test_binary_itself() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let f = elf_facts(&me).expect("the test binary is ELF");
        assert!(f.is_executable);
        assert!(!f.is_static);
        assert!(f.nx);
        assert!(!f.needed.is_empty());
        assert!(f
            .imports
            .iter()
            .any(|i| i.contains("malloc") || i.contains("memcpy")));
    }
}
