//! The standalone symbol table a VxWorks image carries when it was built with
//! `INCLUDE_STANDALONE_SYM_TBL` (and the one `makeSymTbl` compiles into it): an array of
//! fixed-size `SYMBOL` records, `standTbl[]`, followed by its length, `standTblSize`.
//!
//! A record is a hash-chain link, a pointer to the name, the value, (6.x: a module
//! reference,) a 16-bit group and an 8-bit type, padded to a multiple of four:
//!
//! | version | size | next | name | value | symRef | group | type | pad |
//! |---|---|---|---|---|---|---|---|---|
//! | 5.x | 16 | 0 | 4 | 8 | — | 12 | 14 | 15 |
//! | 6.x | 20 | 0 | 4 | 8 | 12 | 16 | 18 | 19 |
//!
//! Nothing marks the table, and the image says neither its load address nor its byte
//! order. So the table is found by structure: the longest run of records whose group is 0,
//! whose type is a known symbol type and whose pad byte is 0. Its byte order is the one in
//! which the name pointers cluster (they point into one string pool). The load address is
//! the one that puts the name pointers, in order, on NUL-terminated identifiers: the gaps
//! between consecutive sorted pointers are the lengths of the strings laid out back to
//! back, and exactly one place of the image (in practice) has strings of those lengths.

use super::super::firmware_code::{is_symbol_byte, starts_string};
use crate::cursor::Endian;

/// Record layout of one VxWorks generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordLayout {
    /// VxWorks 5.x and earlier (16 bytes, a.out symbol types).
    Five,
    /// VxWorks 6.x (20 bytes, with a module reference and the 6.x type bits).
    Six,
}

impl RecordLayout {
    /// Bytes per record.
    pub fn size(self) -> usize {
        match self {
            RecordLayout::Five => 16,
            RecordLayout::Six => 20,
        }
    }

    fn group_at(self) -> usize {
        self.size() - 4
    }

    fn type_at(self) -> usize {
        self.size() - 2
    }

    /// Whether `t` is a symbol type this generation writes into its tables.
    fn valid_type(self, t: u8) -> bool {
        match self {
            // a.out: absolute 2, text 4, data 6, bss 8, common 0x12, ORed with external 1;
            // PowerPC small-data flags 0x40 / 0x80 on top.
            RecordLayout::Five => {
                let kind = t & 0x3e;
                t != 0 && (matches!(kind, 2 | 4 | 6 | 8 | 0x12) || (kind == 0 && t & 0xc0 != 0))
            }
            // One kind bit (absolute 2, text 4, data 8, bss 0x10, common 0x20) with the
            // global 1, local 0x40 and Thumb 0x80 flags.
            RecordLayout::Six => matches!(t & 0x3e, 2 | 4 | 8 | 0x10 | 0x20),
        }
    }

    /// `nm`-style letter of a type: upper case for global symbols.
    pub fn letter(self, t: u8) -> char {
        let kind = match self {
            RecordLayout::Five => match t & 0x3e {
                2 => 'a',
                4 => 't',
                6 => 'd',
                8 => 'b',
                0x12 => 'c',
                0 if t & 0xc0 != 0 => 's',
                _ => '?',
            },
            RecordLayout::Six => match t & 0x3e {
                2 => 'a',
                4 => 't',
                8 => 'd',
                0x10 => 'b',
                0x20 => 'c',
                _ => '?',
            },
        };
        if t & 1 != 0 {
            kind.to_ascii_uppercase()
        } else {
            kind
        }
    }

    /// VxWorks generation the layout stands for.
    pub fn generation(self) -> &'static str {
        match self {
            RecordLayout::Five => "5.x",
            RecordLayout::Six => "6.x",
        }
    }
}

/// One recovered symbol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Symbol {
    /// Its value (an address for text, data and bss symbols).
    pub value: u32,
    /// `nm`-style type letter.
    pub letter: char,
    /// Its name.
    pub name: String,
}

/// A recovered symbol table and what it tells about the image.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    /// Offset of the first record in the blob.
    pub offset: usize,
    /// Records in the table.
    pub records: usize,
    /// Record layout, hence VxWorks generation.
    pub layout: RecordLayout,
    /// Byte order of the image's data.
    pub endian: Endian,
    /// Address at which the blob's first byte is loaded (modulo 2^32).
    pub load_address: u32,
    /// Symbols whose names were read, sorted by value and name.
    pub symbols: Vec<Symbol>,
    /// Records whose name pointer does not land on a string.
    pub unreadable: usize,
    /// Whether the word after the table (`standTblSize`) holds the record count.
    pub count_word_matches: bool,
}

impl SymbolTable {
    /// Bytes the records span.
    pub fn byte_len(&self) -> usize {
        self.records * self.layout.size()
    }
}

/// Fewest consecutive records taken for a table: long enough that chance cannot produce
/// them, short enough for the smallest real images (a boot ROM exports a few hundred).
pub const MIN_RECORDS: usize = 24;
/// Runs kept for validation, longest first.
const MAX_CANDIDATES: usize = 8;
/// Longest symbol name read.
const MAX_NAME: usize = 1024;
/// Share of the sampled name pointers that must land on identifiers.
const MIN_NAMED_SHARE: f64 = 0.9;
/// Pointers sampled to validate a load address.
const SAMPLE: usize = 64;
/// Distinct smallest name pointers tried as anchors of the string pool.
const ANCHORS: usize = 4;

/// The record at `at` passes the local checks (group 0, known type, pad 0, name set).
fn plausible(data: &[u8], at: usize, layout: RecordLayout) -> bool {
    let Some(rec) = data.get(at..at + layout.size()) else {
        return false;
    };
    let g = layout.group_at();
    let t = layout.type_at();
    rec[t + 1] == 0
        && rec[g] == 0
        && rec[g + 1] == 0
        && layout.valid_type(rec[t])
        && rec[4..8] != [0, 0, 0, 0]
}

/// Runs of plausible records, `(offset, records, layout)`, longest first.
fn runs(data: &[u8]) -> Vec<(usize, usize, RecordLayout)> {
    let mut found: Vec<(usize, usize, RecordLayout)> = Vec::new();
    for layout in [RecordLayout::Five, RecordLayout::Six] {
        let size = layout.size();
        // Every residue modulo the record size is its own chain of candidate records.
        for residue in 0..size {
            let mut start = residue;
            let mut len = 0usize;
            let mut at = residue;
            while at + size <= data.len() {
                if plausible(data, at, layout) {
                    if len == 0 {
                        start = at;
                    }
                    len += 1;
                } else {
                    if len >= MIN_RECORDS {
                        found.push((start, len, layout));
                    }
                    len = 0;
                }
                at += size;
            }
            if len >= MIN_RECORDS {
                found.push((start, len, layout));
            }
        }
    }
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    found.truncate(MAX_CANDIDATES);
    found
}

fn read_u32(data: &[u8], at: usize, endian: Endian) -> Option<u32> {
    let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
    Some(match endian {
        Endian::Little => u32::from_le_bytes(b),
        Endian::Big => u32::from_be_bytes(b),
    })
}

/// The identifier at `at`: a C string of symbol bytes, starting a string.
fn identifier_at(data: &[u8], at: usize) -> Option<&[u8]> {
    if !starts_string(data, at) {
        return None;
    }
    let tail = data.get(at..)?;
    let window = &tail[..tail.len().min(MAX_NAME + 1)];
    let end = memchr::memchr(0, window)?;
    let s = &window[..end];
    (!s.is_empty() && s.iter().all(|&b| is_symbol_byte(b))).then_some(s)
}

/// Load addresses that put the pool's first strings where the gaps between the sorted
/// pointers say: a string at `f` of length < gap, NUL padding up to the gap, and the next
/// string right after it.
fn load_candidates(data: &[u8], sorted: &[u32]) -> Vec<u32> {
    let mut out = Vec::new();
    for j in 0..ANCHORS.min(sorted.len().saturating_sub(2)) {
        let (p, q, r) = (sorted[j], sorted[j + 1], sorted[j + 2]);
        let gap = (q - p) as usize;
        let gap2 = (r - q) as usize;
        if !(2..=MAX_NAME).contains(&gap) || gap2 < 2 {
            continue;
        }
        let mut f = 0usize;
        while f + gap + gap2 <= data.len() {
            // Cheapest checks first: the byte before the next string and the one before
            // the string after it are NUL, and the strings start with symbol bytes.
            if data[f + gap - 1] == 0
                && data[f + gap + gap2 - 1] == 0
                && is_symbol_byte(data[f])
                && is_symbol_byte(data[f + gap])
                && starts_string(data, f)
            {
                let name_ok = identifier_at(data, f).is_some_and(|s| s.len() < gap)
                    && data[f..f + gap]
                        .iter()
                        .skip_while(|&&b| b != 0)
                        .all(|&b| b == 0);
                if name_ok && identifier_at(data, f + gap).is_some_and(|s| s.len() < gap2) {
                    out.push(p.wrapping_sub(f as u32));
                }
            }
            f += 1;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Share of `sample` name pointers that land on identifiers under `load`.
fn named_share(data: &[u8], sample: &[u32], load: u32) -> f64 {
    if sample.is_empty() {
        return 0.0;
    }
    let ok = sample
        .iter()
        .filter(|&&p| identifier_at(data, p.wrapping_sub(load) as usize).is_some())
        .count();
    ok as f64 / sample.len() as f64
}

/// Validate one run: byte order, load address, names.
fn validate(
    data: &[u8],
    offset: usize,
    records: usize,
    layout: RecordLayout,
    max_symbols: usize,
) -> Option<SymbolTable> {
    let size = layout.size();
    let mut best: Option<(Endian, u32, f64)> = None;
    for endian in [Endian::Big, Endian::Little] {
        let names: Vec<u32> = (0..records)
            .filter_map(|i| read_u32(data, offset + i * size + 4, endian))
            .collect();
        let (Some(&lo), Some(&hi)) = (names.iter().min(), names.iter().max()) else {
            continue;
        };
        // The names live in one pool inside the image: in the wrong byte order the
        // pointers scatter over the address space.
        if (hi - lo) as usize >= data.len() {
            continue;
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let step = (names.len() / SAMPLE).max(1);
        let sample: Vec<u32> = names.iter().step_by(step).copied().take(SAMPLE).collect();
        for load in load_candidates(data, &sorted) {
            let share = named_share(data, &sample, load);
            if share >= MIN_NAMED_SHARE && best.is_none_or(|b| share > b.2) {
                best = Some((endian, load, share));
            }
        }
    }
    let (endian, load, _) = best?;
    let mut symbols = Vec::new();
    let mut unreadable = 0usize;
    for i in 0..records.min(max_symbols) {
        let at = offset + i * size;
        let (Some(name), Some(value)) = (
            read_u32(data, at + 4, endian),
            read_u32(data, at + 8, endian),
        ) else {
            break;
        };
        let t = data[at + layout.type_at()];
        match identifier_at(data, name.wrapping_sub(load) as usize) {
            Some(s) => symbols.push(Symbol {
                value,
                letter: layout.letter(t),
                name: String::from_utf8_lossy(s).into_owned(),
            }),
            None => unreadable += 1,
        }
    }
    symbols.sort();
    let count_word_matches =
        read_u32(data, offset + records * size, endian) == u32::try_from(records).ok();
    Some(SymbolTable {
        offset,
        records,
        layout,
        endian,
        load_address: load,
        symbols,
        unreadable,
        count_word_matches,
    })
}

/// Find and read the image's standalone symbol table, keeping at most `max_symbols`.
pub fn find(data: &[u8], max_symbols: usize) -> Option<SymbolTable> {
    runs(data)
        .into_iter()
        .find_map(|(offset, records, layout)| validate(data, offset, records, layout, max_symbols))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob with a string pool and a table of `names` in `layout` and `endian`, loaded
    /// at `load`, behind `lead` bytes of code-like filler.
    pub(crate) fn synthetic(
        names: &[&str],
        layout: RecordLayout,
        endian: Endian,
        load: u32,
        lead: usize,
    ) -> Vec<u8> {
        let mut data: Vec<u8> = (0..lead).map(|i| (i * 7 + 3) as u8 | 1).collect();
        let mut ptrs = Vec::new();
        data.push(0);
        for n in names {
            ptrs.push(load.wrapping_add(data.len() as u32));
            data.extend_from_slice(n.as_bytes());
            data.push(0);
        }
        while !data.len().is_multiple_of(4) {
            data.push(0);
        }
        let put = |d: &mut Vec<u8>, v: u32| match endian {
            Endian::Big => d.extend_from_slice(&v.to_be_bytes()),
            Endian::Little => d.extend_from_slice(&v.to_le_bytes()),
        };
        for (i, p) in ptrs.iter().enumerate() {
            put(&mut data, 0);
            put(&mut data, *p);
            put(&mut data, load.wrapping_add(0x100 + 0x10 * i as u32));
            if layout == RecordLayout::Six {
                put(&mut data, 0);
            }
            data.extend_from_slice(&[0, 0]);
            data.push(5);
            data.push(0);
        }
        put(&mut data, names.len() as u32);
        data.extend_from_slice(&[0xff; 64]);
        data
    }

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("func_{i:03}_{}", "x".repeat(i % 7)))
            .collect()
    }

    #[test]
    fn finds_tables_of_both_generations_and_byte_orders() {
        let owned = names(40);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        for layout in [RecordLayout::Five, RecordLayout::Six] {
            for endian in [Endian::Big, Endian::Little] {
                for (load, lead) in [(0x8001_0000u32, 0x400usize), (0x0000_1000, 0x1c)] {
                    let data = synthetic(&refs, layout, endian, load, lead);
                    let t = find(&data, usize::MAX).expect("table");
                    assert_eq!(t.layout, layout);
                    assert_eq!(t.endian, endian);
                    assert_eq!(t.load_address, load);
                    assert_eq!(t.records, 40);
                    assert_eq!(t.symbols.len(), 40);
                    assert!(t.count_word_matches);
                    assert_eq!(t.symbols[0].name, "func_000_");
                    assert_eq!(t.symbols[0].letter, 'T');
                }
            }
        }
    }

    #[test]
    fn short_runs_and_pointers_outside_the_image_give_nothing() {
        let owned = names(MIN_RECORDS - 1);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let data = synthetic(&refs, RecordLayout::Six, Endian::Big, 0x1000, 64);
        assert!(find(&data, usize::MAX).is_none());
        // Name pointers shifted off the pool: no load address puts them on strings.
        let owned = names(40);
        let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut data = synthetic(&refs, RecordLayout::Five, Endian::Big, 0x1000, 64);
        let table = data.len() - 64 - 4 - 40 * 16;
        for i in 0..40 {
            let at = table + i * 16 + 4;
            let v = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
            data[at..at + 4].copy_from_slice(&(v ^ 0x4000_0003).to_be_bytes());
        }
        assert!(find(&data, usize::MAX).is_none());
    }

    #[test]
    fn types_read_as_nm_letters() {
        assert_eq!(RecordLayout::Five.letter(5), 'T');
        assert_eq!(RecordLayout::Five.letter(6), 'd');
        assert_eq!(RecordLayout::Five.letter(0x13), 'C');
        assert_eq!(RecordLayout::Six.letter(9), 'D');
        assert_eq!(RecordLayout::Six.letter(0x11), 'B');
        assert_eq!(RecordLayout::Six.letter(0x44), 't');
        assert!(!RecordLayout::Six.valid_type(0));
        assert!(!RecordLayout::Six.valid_type(0x0c));
    }
}
