//! What an ELF file says through its program headers alone: executable segments, the
//! interpreter, and the dynamic segment's symbol table and relocations. Router firmware
//! built with OpenWrt's `sstrip` has no section headers at all, so everything the scanner
//! normally reads from `.dynsym`, `.dynamic` and `.rel*` sections is read here from
//! `PT_DYNAMIC` instead. Hostile input yields less, never a panic: every read is bounded by
//! the file.

/// A symbol of the dynamic symbol table.
#[derive(Debug, Clone)]
pub struct DynSym {
    /// Its name.
    pub name: String,
    /// Its value (address).
    pub value: u64,
    /// Section index; 0 for an undefined (imported) symbol.
    pub shndx: u16,
    /// `STT_*` type.
    pub kind: u8,
}

/// A dynamic relocation: where, which symbol, which type, and the explicit addend if any.
#[derive(Debug, Clone, Copy)]
pub struct DynReloc {
    /// Address it patches.
    pub offset: u64,
    /// Symbol index (0 for none).
    pub sym: u32,
    /// Relocation type.
    pub kind: u32,
    /// Explicit addend (RELA).
    pub addend: Option<i64>,
}

/// The program-header view of an ELF file.
#[derive(Debug, Default)]
pub struct Segments {
    /// Virtual address ranges of executable `PT_LOAD` segments.
    pub exec: Vec<(u64, u64)>,
    /// Has a `PT_INTERP` segment (dynamically linked).
    pub has_interp: bool,
    /// The bytes of `PT_DYNAMIC`.
    pub dynamic: Option<Vec<u8>>,
    /// The dynamic symbols, by index (index 0 is the null symbol).
    pub symbols: Vec<DynSym>,
    /// The dynamic relocations.
    pub relocs: Vec<DynReloc>,
}

/// Most dynamic symbols or relocations read.
const MAX_ENTRIES: usize = 200_000;

struct Reader<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Reader<'_> {
    fn uint(&self, off: u64, size: usize) -> Option<u64> {
        let start = usize::try_from(off).ok()?;
        let b = self.data.get(start..start.checked_add(size)?)?;
        let mut v = 0u64;
        for i in 0..size {
            let byte = if self.big_endian {
                b[i]
            } else {
                b[size - 1 - i]
            };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    }
}

/// Read the program headers and the dynamic segment of an ELF file.
pub fn read(data: &[u8]) -> Option<Segments> {
    if data.get(..4)? != b"\x7fELF" {
        return None;
    }
    let is_64 = *data.get(4)? == 2;
    let big_endian = *data.get(5)? == 2;
    let r = Reader { data, big_endian };
    let word = if is_64 { 8 } else { 4 };
    let (phoff, phentsize, phnum) = if is_64 {
        (r.uint(0x20, 8)?, r.uint(0x36, 2)?, r.uint(0x38, 2)?)
    } else {
        (r.uint(0x1c, 4)?, r.uint(0x2a, 2)?, r.uint(0x2c, 2)?)
    };
    let mut out = Segments::default();
    // (va, file offset, file size) of each PT_LOAD, to translate addresses.
    let mut loads: Vec<(u64, u64, u64)> = Vec::new();
    let mut dynamic_at: Option<(u64, u64)> = None;
    for i in 0..phnum.min(256) {
        let ph = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = r.uint(ph, 4)? as u32;
        let (flags, offset, vaddr, filesz, memsz) = if is_64 {
            (
                r.uint(ph + 4, 4)? as u32,
                r.uint(ph + 8, 8)?,
                r.uint(ph + 16, 8)?,
                r.uint(ph + 32, 8)?,
                r.uint(ph + 40, 8)?,
            )
        } else {
            (
                r.uint(ph + 24, 4)? as u32,
                r.uint(ph + 4, 4)?,
                r.uint(ph + 8, 4)?,
                r.uint(ph + 16, 4)?,
                r.uint(ph + 20, 4)?,
            )
        };
        match p_type {
            1 => {
                loads.push((vaddr, offset, filesz));
                if flags & 1 != 0 && filesz > 0 {
                    out.exec
                        .push((vaddr, vaddr.saturating_add(filesz.min(memsz))));
                }
            }
            2 => dynamic_at = Some((offset, filesz)),
            3 => out.has_interp = true,
            _ => {}
        }
    }
    let to_off = |va: u64| -> Option<u64> {
        loads.iter().find_map(|&(v, o, s)| {
            let d = va.checked_sub(v)?;
            (d < s).then(|| o + d)
        })
    };
    let Some((doff, dsize)) = dynamic_at else {
        return Some(out);
    };
    let start = usize::try_from(doff).ok()?;
    let end = start
        .checked_add(usize::try_from(dsize).ok()?)?
        .min(data.len());
    let dynamic = data.get(start..end)?.to_vec();
    let mut tags: Vec<(u64, u64)> = Vec::new();
    for e in dynamic.chunks_exact(word * 2).take(4096) {
        let rr = Reader {
            data: e,
            big_endian,
        };
        let tag = rr.uint(0, word)?;
        if tag == 0 {
            break;
        }
        tags.push((tag, rr.uint(word as u64, word)?));
    }
    out.dynamic = Some(dynamic);
    let tag = |t: u64| tags.iter().find(|(k, _)| *k == t).map(|(_, v)| *v);
    const DT_HASH: u64 = 4;
    const DT_STRTAB: u64 = 5;
    const DT_SYMTAB: u64 = 6;
    const DT_RELA: u64 = 7;
    const DT_RELASZ: u64 = 8;
    const DT_STRSZ: u64 = 10;
    const DT_REL: u64 = 17;
    const DT_RELSZ: u64 = 18;
    const DT_PLTREL: u64 = 20;
    const DT_PLTRELSZ: u64 = 2;
    const DT_JMPREL: u64 = 23;
    const DT_GNU_HASH: u64 = 0x6fff_fef5;
    const DT_MIPS_SYMTABNO: u64 = 0x7000_0011;
    let (Some(symtab), Some(strtab)) = (
        tag(DT_SYMTAB).and_then(to_off),
        tag(DT_STRTAB).and_then(to_off),
    ) else {
        return Some(out);
    };
    let strsz = tag(DT_STRSZ).unwrap_or(0x10000);
    let count = tag(DT_MIPS_SYMTABNO)
        .or_else(|| {
            let h = to_off(tag(DT_HASH)?)?;
            r.uint(h + 4, 4)
        })
        .or_else(|| gnu_hash_count(&r, to_off(tag(DT_GNU_HASH)?)?, is_64))
        .unwrap_or(0)
        .min(MAX_ENTRIES as u64);
    let entsize = if is_64 { 24 } else { 16 };
    for i in 0..count {
        let s = symtab + i * entsize;
        let (name_off, value, shndx, info) = if is_64 {
            (
                r.uint(s, 4),
                r.uint(s + 8, 8),
                r.uint(s + 6, 2),
                r.uint(s + 4, 1),
            )
        } else {
            (
                r.uint(s, 4),
                r.uint(s + 4, 4),
                r.uint(s + 14, 2),
                r.uint(s + 12, 1),
            )
        };
        let (Some(name_off), Some(value), Some(shndx), Some(info)) = (name_off, value, shndx, info)
        else {
            break;
        };
        let name = if name_off < strsz {
            read_cstr(data, strtab + name_off)
        } else {
            String::new()
        };
        out.symbols.push(DynSym {
            name,
            value,
            shndx: shndx as u16,
            kind: (info & 0xf) as u8,
        });
    }
    let mut tables: Vec<(u64, u64, bool)> = Vec::new();
    if let (Some(a), Some(n)) = (tag(DT_REL), tag(DT_RELSZ)) {
        tables.push((a, n, false));
    }
    if let (Some(a), Some(n)) = (tag(DT_RELA), tag(DT_RELASZ)) {
        tables.push((a, n, true));
    }
    if let (Some(a), Some(n)) = (tag(DT_JMPREL), tag(DT_PLTRELSZ)) {
        tables.push((a, n, tag(DT_PLTREL) == Some(DT_RELA)));
    }
    for (addr, size, rela) in tables {
        let Some(base) = to_off(addr) else { continue };
        let ent = (if rela { 3 } else { 2 }) * word as u64;
        for i in 0..(size / ent).min(MAX_ENTRIES as u64) {
            let e = base + i * ent;
            let (Some(offset), Some(info)) = (r.uint(e, word), r.uint(e + word as u64, word))
            else {
                break;
            };
            let (sym, kind) = if is_64 {
                ((info >> 32) as u32, info as u32)
            } else {
                ((info >> 8) as u32, (info & 0xff) as u32)
            };
            let addend = if rela {
                r.uint(e + 2 * word as u64, word).map(|a| {
                    if is_64 {
                        a as i64
                    } else {
                        a as u32 as i32 as i64
                    }
                })
            } else {
                None
            };
            out.relocs.push(DynReloc {
                offset,
                sym,
                kind,
                addend,
            });
        }
    }
    Some(out)
}

/// The number of symbols a GNU hash table covers: one past the highest index its chains
/// reach.
fn gnu_hash_count(r: &Reader, at: u64, is_64: bool) -> Option<u64> {
    let nbuckets = r.uint(at, 4)?;
    let symoffset = r.uint(at + 4, 4)?;
    let bloom = r.uint(at + 8, 4)?;
    let buckets = at + 16 + bloom * if is_64 { 8 } else { 4 };
    let chains = buckets + nbuckets * 4;
    let mut max = 0u64;
    for i in 0..nbuckets.min(1 << 20) {
        max = max.max(r.uint(buckets + i * 4, 4)?);
    }
    if max < symoffset {
        return Some(symoffset);
    }
    (max..max + MAX_ENTRIES as u64).find_map(|idx| {
        let h = r.uint(chains + (idx - symoffset) * 4, 4)?;
        (h & 1 == 1).then_some(idx + 1)
    })
}

fn read_cstr(data: &[u8], off: u64) -> String {
    let Ok(start) = usize::try_from(off) else {
        return String::new();
    };
    let Some(tail) = data.get(start..) else {
        return String::new();
    };
    let end = tail.iter().take(512).position(|&c| c == 0).unwrap_or(0);
    String::from_utf8_lossy(&tail[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_stripped_program_without_section_headers() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/exposure/netcmd_magic-mipsel"
        );
        let mut bytes = std::fs::read(p).unwrap();
        // Drop the section header table as sstrip does.
        bytes[0x20..0x24].copy_from_slice(&[0; 4]);
        bytes[0x30..0x32].copy_from_slice(&[0; 2]);
        let s = read(&bytes).unwrap();
        assert!(s.has_interp);
        assert!(!s.exec.is_empty());
        let names: Vec<&str> = s.symbols.iter().map(|x| x.name.as_str()).collect();
        for n in ["recv", "bind", "system", "memcmp"] {
            assert!(names.contains(&n), "{n}: {names:?}");
        }
    }

    #[test]
    fn hostile_headers_yield_less_not_a_panic() {
        assert!(read(b"\x7fELF").is_none());
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 1;
        b[0x2c] = 0xff;
        b[0x2a] = 0xff;
        let _ = read(&b);
    }
}
