//! The parts of an ELF executable that the comparison scanner needs: where code is, how a
//! virtual address maps to file bytes, which GOT slot or stub stands for which imported
//! function, and the names of local functions. Read with `object`, which never panics on
//! hostile files; anything unreadable is simply absent.

use object::elf;
use object::read::{Object, ObjectSection, ObjectSegment, ObjectSymbol, RelocationTarget};
use object::{RelocationFlags, SectionFlags, SymbolKind};
use std::collections::{BTreeMap, HashMap};

/// The CPU families the scanner decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// MIPS32 o32 or MIPS64 n64, either endian.
    Mips,
    /// 32-bit ARM (ARM and Thumb state).
    Arm,
    /// AArch64.
    Aarch64,
    /// x86-64.
    X86_64,
    /// x86-32 (i386 and later).
    X86,
}

impl Arch {
    /// x86-32 or x86-64.
    pub fn is_x86(self) -> bool {
        matches!(self, Arch::X86 | Arch::X86_64)
    }

    /// Name written into findings.
    pub fn name(self, is_64: bool, big_endian: bool) -> &'static str {
        match (self, is_64, big_endian) {
            (Arch::Mips, false, true) => "mips",
            (Arch::Mips, false, false) => "mipsel",
            (Arch::Mips, true, true) => "mips64",
            (Arch::Mips, true, false) => "mips64el",
            (Arch::Arm, ..) => "arm",
            (Arch::Aarch64, ..) => "aarch64",
            (Arch::X86_64, ..) => "x86_64",
            (Arch::X86, ..) => "x86",
        }
    }
}

/// A file-backed piece of the address space.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    va: u64,
    size: u64,
    offset: u64,
}

/// A range of executable code.
#[derive(Debug, Clone, Copy)]
pub struct CodeRange {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
}

/// What the scanner knows about one ELF executable.
pub struct Image<'a> {
    /// The file's bytes.
    pub data: &'a [u8],
    /// CPU family.
    pub arch: Arch,
    /// 64-bit class.
    pub is_64: bool,
    /// Big-endian.
    pub big_endian: bool,
    /// Entry point.
    pub entry: u64,
    /// Code sections to scan (not the import stubs).
    pub code: Vec<CodeRange>,
    /// Import stub sections (`.plt`, `.plt.sec`, `.MIPS.stubs`).
    pub stubs: Vec<CodeRange>,
    /// Whether each stub range is `.MIPS.stubs` (stubs name their import by dynsym index).
    pub mips_stub_sections: Vec<CodeRange>,
    /// Import (or exported function) name of a GOT slot, by the slot's address.
    pub slot_names: HashMap<u64, String>,
    /// Link-time value of a slot filled by a relative relocation (RELA keeps it out of the file).
    pub relative: HashMap<u64, u64>,
    /// Function symbols by address (`.symtab` and `.dynsym`).
    pub functions: BTreeMap<u64, String>,
    /// Dynamic symbol names by index (MIPS stubs name imports by index).
    pub dynsym_names: Vec<String>,
    /// MIPS `$gp` value (`DT_PLTGOT + 0x7ff0`), when known.
    pub gp: Option<u64>,
    /// Addresses of functions in Thumb state (ARM symbols with the low bit set).
    pub thumb_functions: Vec<u64>,
    /// Whether the entry point is in Thumb state.
    pub thumb_entry: bool,
    /// Names of imported functions.
    pub imports: Vec<String>,
    /// Linked without an interpreter.
    pub is_static: bool,
    /// Has a `.symtab`.
    pub has_symtab: bool,
    /// A program (`ET_EXEC`, or `ET_DYN` with an interpreter), not a library.
    pub is_executable: bool,
    /// Address of `.got.plt` (the GOT that i386 PLT stubs index from `ebx`).
    pub got_plt: Option<u64>,
    mappings: Vec<Mapping>,
}

/// Most functions or symbols read from one file.
const MAX_SYMBOLS: usize = 200_000;

impl<'a> Image<'a> {
    /// Read an ELF executable or library of a supported architecture.
    pub fn parse(data: &'a [u8]) -> Option<Image<'a>> {
        let file = object::File::parse(data).ok()?;
        if file.format() != object::BinaryFormat::Elf {
            return None;
        }
        let arch = match file.architecture() {
            object::Architecture::Mips | object::Architecture::Mips64 => Arch::Mips,
            object::Architecture::Arm => Arch::Arm,
            object::Architecture::Aarch64 => Arch::Aarch64,
            object::Architecture::X86_64 => Arch::X86_64,
            object::Architecture::I386 => Arch::X86,
            _ => return None,
        };
        let is_64 = file.is_64();
        let big_endian = !file.is_little_endian();
        let mut mappings = Vec::new();
        for seg in file.segments() {
            let (offset, size) = seg.file_range();
            if size == 0
                || offset
                    .checked_add(size)
                    .is_none_or(|e| e > data.len() as u64)
            {
                continue;
            }
            mappings.push(Mapping {
                va: seg.address(),
                size,
                offset,
            });
        }
        let mut code = Vec::new();
        let mut stubs = Vec::new();
        let mut mips_stub_sections = Vec::new();
        let mut dynamic = None;
        let mut got_plt = None;
        for sec in file.sections() {
            let name = sec.name().unwrap_or("");
            if name == ".got.plt" {
                got_plt = Some(sec.address());
            }
            let exec = matches!(sec.flags(), SectionFlags::Elf { sh_flags }
                if sh_flags & u64::from(elf::SHF_EXECINSTR) != 0);
            if name == ".dynamic" {
                dynamic = sec.data().ok();
            }
            if !exec || sec.size() == 0 {
                continue;
            }
            let range = CodeRange {
                start: sec.address(),
                end: sec.address().saturating_add(sec.size()),
            };
            match name {
                ".plt" | ".plt.sec" | ".plt.got" | ".iplt" => stubs.push(range),
                ".MIPS.stubs" => {
                    stubs.push(range);
                    mips_stub_sections.push(range);
                }
                ".init" | ".fini" => {}
                _ => code.push(range),
            }
        }
        // Without section headers (sstrip), read the program headers instead.
        let segs = super::segments::read(data).unwrap_or_default();
        let sectionless = file.sections().count() <= 1;
        if code.is_empty() {
            code.extend(
                segs.exec
                    .iter()
                    .map(|&(start, end)| CodeRange { start, end }),
            );
        }
        let dynamic: Option<&[u8]> = dynamic.or(segs.dynamic.as_deref());
        let dynsym_names: Vec<String> = file
            .dynamic_symbols()
            .take(MAX_SYMBOLS)
            .map(|s| s.name().unwrap_or("").to_string())
            .collect();
        // dynamic_symbols() skips the null symbol at index 0; indexes below count from it.
        let mut dynsym_by_index = vec![String::new()];
        dynsym_by_index.extend(dynsym_names.iter().cloned());
        let mut imports: Vec<String> = file
            .dynamic_symbols()
            .take(MAX_SYMBOLS)
            .filter(|s| s.is_undefined())
            .filter_map(|s| s.name().ok().map(str::to_string))
            .filter(|n| !n.is_empty())
            .collect();
        let use_segment_symbols = dynsym_names.is_empty() && !segs.symbols.is_empty();
        if use_segment_symbols {
            dynsym_by_index = segs.symbols.iter().map(|x| x.name.clone()).collect();
            imports.extend(
                segs.symbols
                    .iter()
                    .filter(|x| x.shndx == 0 && !x.name.is_empty())
                    .map(|x| x.name.clone()),
            );
        }
        imports.sort();
        imports.dedup();
        let mut functions = BTreeMap::new();
        let mut thumb_functions = Vec::new();
        let mut has_symtab = false;
        for sym in file.symbols().take(MAX_SYMBOLS) {
            has_symtab = true;
            note_function(&sym, arch, &mut functions, &mut thumb_functions);
        }
        for sym in file.dynamic_symbols().take(MAX_SYMBOLS) {
            note_function(&sym, arch, &mut functions, &mut thumb_functions);
        }
        if use_segment_symbols {
            for x in &segs.symbols {
                // STT_FUNC, defined.
                if x.kind == 2 && x.shndx != 0 && x.value != 0 && !x.name.is_empty() {
                    let mut addr = x.value;
                    if arch == Arch::Arm && addr & 1 == 1 {
                        addr &= !1;
                        thumb_functions.push(addr);
                    }
                    functions.entry(addr).or_insert_with(|| x.name.clone());
                }
            }
        }
        let mut slot_names = HashMap::new();
        let mut relative = HashMap::new();
        if let Some(relocs) = file.dynamic_relocations() {
            for (offset, reloc) in relocs.take(MAX_SYMBOLS) {
                let r_type = match reloc.flags() {
                    RelocationFlags::Elf { r_type } => r_type,
                    _ => continue,
                };
                match reloc.target() {
                    RelocationTarget::Symbol(idx) => {
                        if let Some(name) = dynsym_by_index.get(idx.0) {
                            if !name.is_empty() {
                                slot_names.insert(offset, name.clone());
                            }
                        }
                    }
                    RelocationTarget::Absolute if is_relative(arch, r_type) => {
                        if reloc.has_implicit_addend() {
                            continue;
                        }
                        relative.insert(offset, reloc.addend() as u64);
                    }
                    _ => {}
                }
            }
        }
        if slot_names.is_empty() && relative.is_empty() && sectionless {
            for r in segs.relocs.iter().take(MAX_SYMBOLS) {
                if r.sym != 0 {
                    if let Some(name) = dynsym_by_index.get(r.sym as usize) {
                        if !name.is_empty() {
                            slot_names.insert(r.offset, name.clone());
                        }
                    }
                } else if is_relative(arch, r.kind) {
                    if let Some(a) = r.addend {
                        relative.insert(r.offset, a as u64);
                    }
                }
            }
        }
        let mut gp = None;
        if arch == Arch::Mips {
            if let Some(dynamic) = dynamic {
                let tags = dynamic_tags(dynamic, is_64, big_endian);
                let pltgot = tags.get(&i64::from(elf::DT_PLTGOT)).copied();
                let local = tags.get(&i64::from(elf::DT_MIPS_LOCAL_GOTNO)).copied();
                let gotsym = tags.get(&i64::from(elf::DT_MIPS_GOTSYM)).copied();
                if let Some(pltgot) = pltgot {
                    gp = Some(pltgot.wrapping_add(0x7ff0));
                    if let (Some(local), Some(gotsym)) = (local, gotsym) {
                        let word = if is_64 { 8 } else { 4 };
                        for (i, name) in dynsym_by_index.iter().enumerate().skip(gotsym as usize) {
                            let slot =
                                pltgot.wrapping_add((local + i as u64 - gotsym).wrapping_mul(word));
                            if !name.is_empty() {
                                slot_names.entry(slot).or_insert_with(|| name.clone());
                            }
                        }
                    }
                }
            }
            if gp.is_none() {
                gp = file
                    .symbols()
                    .find(|s| s.name() == Ok("_gp"))
                    .map(|s| s.address());
            }
            if gp.is_none() {
                // A stripped static program keeps its section headers: `_gp` is `.got`
                // plus 0x7ff0 by the MIPS ABI's convention.
                gp = file
                    .section_by_name(".got")
                    .map(|s| s.address().wrapping_add(0x7ff0));
            }
        }
        let entry = file.entry();
        let thumb_entry = arch == Arch::Arm && entry & 1 == 1;
        let is_static = !segs.has_interp && !file.sections().any(|s| s.name() == Ok(".interp"));
        let is_executable =
            file.kind() == object::ObjectKind::Executable || (!is_static && file.entry() != 0);
        Some(Image {
            data,
            arch,
            is_64,
            big_endian,
            entry: if arch == Arch::Arm { entry & !1 } else { entry },
            code,
            stubs,
            mips_stub_sections,
            slot_names,
            relative,
            functions,
            dynsym_names: dynsym_by_index,
            gp,
            thumb_functions,
            thumb_entry,
            imports,
            is_static,
            has_symtab,
            is_executable,
            got_plt,
            mappings,
        })
    }

    /// File offset of virtual address `va`, when it is file-backed.
    pub fn offset_of(&self, va: u64) -> Option<usize> {
        self.mappings.iter().find_map(|m| {
            let delta = va.checked_sub(m.va)?;
            (delta < m.size).then(|| (m.offset + delta) as usize)
        })
    }

    /// Virtual address of file offset `off`, when a segment maps it.
    pub fn va_of(&self, off: usize) -> Option<u64> {
        let off = off as u64;
        self.mappings.iter().find_map(|m| {
            let delta = off.checked_sub(m.offset)?;
            (delta < m.size).then(|| m.va + delta)
        })
    }

    /// Up to `len` file bytes at `va` (fewer at the end of a mapping).
    pub fn bytes_at(&self, va: u64, len: usize) -> Option<&'a [u8]> {
        let m = self
            .mappings
            .iter()
            .find(|m| va >= m.va && va - m.va < m.size)?;
        let start = (m.offset + (va - m.va)) as usize;
        let end = (m.offset + m.size).min(start as u64 + len as u64) as usize;
        self.data.get(start..end)
    }

    /// The word at `va` as the loader leaves it: a relative relocation's value when one
    /// applies, otherwise the file's bytes.
    pub fn word_at(&self, va: u64, size: u8) -> Option<u64> {
        if let Some(&v) = self.relative.get(&va) {
            return Some(v);
        }
        let b = self.bytes_at(va, size as usize)?;
        if b.len() < size as usize || size == 0 || size > 8 {
            return None;
        }
        let mut v = 0u64;
        for i in 0..size as usize {
            let byte = if self.big_endian {
                b[i]
            } else {
                b[size as usize - 1 - i]
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }

    /// The NUL-terminated string at `va` (at most 256 bytes), with its file offset.
    pub fn string_at(&self, va: u64) -> Option<(usize, &'a [u8])> {
        let off = self.offset_of(va)?;
        let b = self.bytes_at(va, 257)?;
        let end = b.iter().position(|&c| c == 0)?;
        Some((off, &b[..end]))
    }

    /// Whether `va` lies in scanned code.
    pub fn in_code(&self, va: u64) -> bool {
        self.code.iter().any(|r| va >= r.start && va < r.end)
    }

    /// Name of the function starting at `va`, if a symbol says.
    pub fn function_name(&self, va: u64) -> Option<&str> {
        self.functions.get(&va).map(String::as_str)
    }
}

fn note_function<'d, S: ObjectSymbol<'d>>(
    sym: &S,
    arch: Arch,
    functions: &mut BTreeMap<u64, String>,
    thumb: &mut Vec<u64>,
) {
    if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
        return;
    }
    let Ok(name) = sym.name() else { return };
    if name.is_empty() {
        return;
    }
    let mut addr = sym.address();
    if arch == Arch::Arm && addr & 1 == 1 {
        addr &= !1;
        thumb.push(addr);
    }
    functions.entry(addr).or_insert_with(|| name.to_string());
}

fn is_relative(arch: Arch, r_type: u32) -> bool {
    match arch {
        Arch::Aarch64 => r_type == elf::R_AARCH64_RELATIVE,
        Arch::X86_64 => r_type == elf::R_X86_64_RELATIVE,
        Arch::Arm => r_type == elf::R_ARM_RELATIVE,
        Arch::X86 => r_type == elf::R_386_RELATIVE,
        Arch::Mips => false,
    }
}

/// `(tag, value)` pairs of a `.dynamic` section, up to `DT_NULL`.
fn dynamic_tags(data: &[u8], is_64: bool, big_endian: bool) -> HashMap<i64, u64> {
    let word = if is_64 { 8 } else { 4 };
    let read = |b: &[u8]| -> u64 {
        let mut v = 0u64;
        for i in 0..b.len() {
            let byte = if big_endian { b[i] } else { b[b.len() - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        v
    };
    let mut tags = HashMap::new();
    for entry in data.chunks_exact(word * 2).take(4096) {
        let tag = read(&entry[..word]);
        let tag = if is_64 {
            tag as i64
        } else {
            tag as u32 as i32 as i64
        };
        if tag == 0 {
            break;
        }
        tags.entry(tag).or_insert(read(&entry[word..]));
    }
    tags
}
