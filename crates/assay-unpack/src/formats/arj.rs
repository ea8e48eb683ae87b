//! ARJ archives (`60 EA`): a main header, then one local header per member followed by its
//! data. Methods 0 (stored), 1–3 (LZH: static Huffman blocks over a 26 KiB window, the
//! scheme of `ar002`) and 4 ("fastest": unary-prefixed lengths and distances) are decoded;
//! garbled (password) members are listed, not opened.
//!
//! Written here: no Rust crate reads ARJ. The decoders follow ARJ's published technical
//! notes; every member's output is bounded by its stated size and the scan's budget, and
//! checked against the stored CRC32.

use super::member_name::{dos_absolute, dos_time};
use crate::cursor::{le16, le32};
use crate::format::{
    Entry, EntryData, EntryKind, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind,
};
use crate::{Blob, FormatError};

/// An ARJ archive.
pub struct Arj;

static MAGICS: &[Magic] = &[Magic::at_start(b"\x60\xea")];

/// Largest basic header ARJ writes.
const MAX_BASIC: usize = 2600;
/// Smallest first-header size (the fixed fields of a main or local header).
const MIN_FIRST: usize = 30;
/// Flag: the member is garbled (encrypted with a password).
const GARBLED: u8 = 0x01;
/// File type of a directory entry.
const DIRECTORY: u8 = 3;
/// File type of the main header.
const MAIN: u8 = 2;
/// Extended headers read after one basic header at most.
const MAX_EXT: usize = 16;

/// One header: where its fields are and where what follows it starts.
struct Header<'a> {
    /// The basic header from `first_hdr_size` to the end of the comment.
    basic: &'a [u8],
    /// Name as stored.
    name: String,
    /// Offset just after the header (and its extended headers).
    end: usize,
}

/// Read the header at `pos`: `None` when it is not one (bad id, size or CRC), `Some(None)`
/// at the end-of-archive header (basic size 0).
fn header(d: &[u8], pos: usize) -> Option<Option<Header<'_>>> {
    if d.get(pos..pos + 2)? != b"\x60\xea" {
        return None;
    }
    let size = usize::from(le16(d, pos + 2)?);
    if size == 0 {
        return Some(None);
    }
    if size > MAX_BASIC {
        return None;
    }
    let basic = d.get(pos + 4..pos + 4 + size)?;
    let crc = le32(d, pos + 4 + size)?;
    if crc32fast::hash(basic) != crc {
        return None;
    }
    let first = usize::from(basic[0]);
    if first < MIN_FIRST || first > size {
        return None;
    }
    let rest = &basic[first..];
    let name_end = rest.iter().position(|&b| b == 0)?;
    let name = String::from_utf8_lossy(&rest[..name_end]).into_owned();
    // Extended headers: size, bytes, CRC32; a size of 0 ends them.
    let mut end = pos + 4 + size + 4;
    for _ in 0..MAX_EXT {
        let ext = usize::from(le16(d, end)?);
        end += 2;
        if ext == 0 {
            return Some(Some(Header { basic, name, end }));
        }
        end = end.checked_add(ext)?.checked_add(4)?;
    }
    None
}

impl Format for Arj {
    fn name(&self) -> &'static str {
        "arj"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let main = header(data, 0)??;
        if main.basic[6] != MAIN {
            return None;
        }
        // Walk the members: each header is CRC-checked, so the walk is the validation.
        let mut pos = main.end;
        let mut members = 0usize;
        loop {
            match header(data, pos) {
                Some(Some(h)) => {
                    let packed = le32(h.basic, 12)? as usize;
                    pos = h.end.checked_add(packed)?;
                    members += 1;
                }
                Some(None) => {
                    pos += 4;
                    break;
                }
                // Cut short: the carved archive ends where its last member did.
                None => break,
            }
        }
        Some(Probe {
            length: Some(pos.min(data.len()) as u64),
            description: format!("ARJ archive \"{}\", {members} members", main.name),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let d: &[u8] = data;
        let main = header(d, 0)
            .flatten()
            .ok_or_else(|| FormatError::Corrupt("ARJ main header".into()))?;
        let mut out = Unpacked::default();
        out.detail("archive_name", &main.name);
        if let Some(t) = le32(main.basic, 8).and_then(dos_time) {
            out.mtime = Some(t);
        }
        let mut pos = main.end;
        loop {
            let h = match header(d, pos) {
                Some(Some(h)) => h,
                Some(None) => break,
                None => {
                    out.warn(
                        WarningKind::Truncated,
                        format!("no valid member header at {pos:#x}; the archive ends here"),
                    );
                    break;
                }
            };
            if out.entries.len() >= ctx.max_entries() {
                return Err(FormatError::Limit("entries in the ARJ archive".into()));
            }
            let b = h.basic;
            let (flags, method, ftype) = (b[4], b[5], b[6]);
            let packed = le32(b, 12).unwrap_or(0) as usize;
            let size = u64::from(le32(b, 16).unwrap_or(0));
            let crc = le32(b, 20).unwrap_or(0);
            let path = dos_absolute(&h.name);
            let start = h.end;
            pos = start.saturating_add(packed);
            let mut entry = if ftype == DIRECTORY {
                Entry::fs(path.clone(), EntryKind::Directory)
            } else {
                Entry::fs(path.clone(), EntryKind::File)
            };
            if let Some(t) = le32(b, 8).and_then(dos_time) {
                entry = entry.with_mtime(t);
            }
            entry = entry.with_detail("method", method);
            if ftype == DIRECTORY {
                out.entries.push(entry);
                continue;
            }
            let Some(body) = d.get(start..pos) else {
                out.warn(
                    WarningKind::Truncated,
                    format!("{path}: data runs past the end of the archive"),
                );
                out.entries.push(entry);
                break;
            };
            if flags & GARBLED != 0 {
                out.warn(
                    WarningKind::Unsupported,
                    format!("{path}: encrypted (garbled) member; listed, not opened"),
                );
                out.entries.push(entry.with_detail("encrypted", true));
                continue;
            }
            if size > ctx.stream_limit() {
                out.warn(
                    WarningKind::Limit,
                    format!("{path}: {size} bytes exceed the stream limit; not opened"),
                );
                out.entries.push(entry);
                continue;
            }
            let decoded = match method {
                0 => {
                    if body.len() as u64 != size {
                        out.warn(
                            WarningKind::Corrupt,
                            format!(
                                "{path}: stored member of {} bytes, header says {size}",
                                body.len()
                            ),
                        );
                    }
                    Ok(EntryData::Range {
                        offset: start as u64,
                        length: body.len() as u64,
                    })
                }
                1..=3 => lzh::decode(body, size as usize).map(|v| EntryData::Owned(Blob::from(v))),
                4 => fastest::decode(body, size as usize).map(|v| EntryData::Owned(Blob::from(v))),
                m => Err(format!("method {m} is unknown")),
            };
            match decoded {
                Ok(data) => {
                    let bytes: &[u8] = match &data {
                        EntryData::Owned(v) => v,
                        EntryData::Range { .. } => body,
                        // Never produced here: ARJ stores no holes.
                        EntryData::None | EntryData::Sparse { .. } => &[],
                    };
                    if crc32fast::hash(bytes) != crc {
                        out.warn(WarningKind::Corrupt, format!("{path}: CRC32 mismatch"));
                    }
                    if let EntryData::Owned(v) = &data {
                        ctx.charge(v.len() as u64)?;
                    }
                    out.entries.push(entry.with_data(data));
                }
                Err(e) => {
                    out.warn(WarningKind::Decode, format!("{path}: {e}"));
                    out.entries.push(entry);
                }
            }
        }
        Ok(out)
    }
}

/// MSB-first bit reader over a member's data; past the end it reads zeros, as ARJ's own
/// reader does, and remembers that it did.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    count: u32,
    overrun: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            buf: 0,
            count: 0,
            overrun: 0,
        }
    }

    fn refill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&b) => b,
                None => {
                    self.overrun += 1;
                    0
                }
            };
            self.pos += 1;
            self.buf |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next `n` (≤ 16) bits without consuming them.
    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.refill();
        }
        if n == 0 {
            return 0;
        }
        (self.buf >> (64 - n)) as u32
    }

    fn skip(&mut self, n: u32) {
        if self.count < n {
            self.refill();
        }
        self.buf <<= n;
        self.count -= n;
    }

    fn get(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.skip(n);
        v
    }

    /// Whether the reader has gone well past the data (a damaged stream).
    fn exhausted(&self) -> bool {
        self.overrun > 16
    }
}

/// Copy a match of `len` bytes from `dist + 1` bytes back, stopping at `size`.
fn copy_match(out: &mut Vec<u8>, dist: usize, len: usize, size: usize) -> Result<(), String> {
    if dist >= out.len() {
        return Err(format!("match distance {} before the start", dist + 1));
    }
    let from = out.len() - dist - 1;
    for k in 0..len.min(size - out.len()) {
        let b = out[from + k];
        out.push(b);
    }
    Ok(())
}

/// Methods 1–3: static-Huffman LZ77 in blocks (the `ar002` scheme ARJ adopted).
mod lzh {
    use super::{copy_match, Bits};

    const NC: usize = 255 + 256 + 2 - 3; // literals, lengths 3..=256
    const NP: usize = 17; // distance classes
    const NT: usize = 19; // code-length codes
    const CBIT: u32 = 9;
    const PBIT: u32 = 5;
    const TBIT: u32 = 5;
    const THRESHOLD: usize = 3;

    /// A canonical Huffman code: symbol counts per length and symbols in code order, or a
    /// single symbol that takes no bits.
    struct Code {
        counts: [u16; 17],
        symbols: Vec<u16>,
        single: Option<u16>,
    }

    impl Code {
        fn from_lengths(lengths: &[u8]) -> Result<Code, String> {
            let mut counts = [0u16; 17];
            for &l in lengths {
                counts[usize::from(l)] += 1;
            }
            counts[0] = 0;
            // Over-subscribed codes cannot be decoded; ARJ's encoder writes complete ones.
            let mut left = 1i32;
            for &c in &counts[1..] {
                left = left * 2 - i32::from(c);
                if left < 0 {
                    return Err("over-subscribed Huffman code".into());
                }
            }
            let mut symbols = Vec::with_capacity(lengths.len());
            for len in 1..=16u8 {
                for (s, &l) in lengths.iter().enumerate() {
                    if l == len {
                        symbols.push(s as u16);
                    }
                }
            }
            Ok(Code {
                counts,
                symbols,
                single: None,
            })
        }

        fn single(symbol: u16) -> Code {
            Code {
                counts: [0; 17],
                symbols: Vec::new(),
                single: Some(symbol),
            }
        }

        fn decode(&self, bits: &mut Bits) -> Result<usize, String> {
            if let Some(s) = self.single {
                return Ok(usize::from(s));
            }
            let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
            for len in 1..=16 {
                code |= bits.get(1) as i32;
                let count = i32::from(self.counts[len]);
                if code - first < count {
                    return Ok(usize::from(self.symbols[(index + code - first) as usize]));
                }
                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }
            Err("invalid Huffman code".into())
        }
    }

    /// Lengths of the code-length code (or of the distance code): `n` 3-bit-or-unary
    /// lengths; after the `special`-th, a 2-bit run of zero lengths.
    fn read_pt(
        bits: &mut Bits,
        nn: usize,
        nbit: u32,
        special: Option<usize>,
    ) -> Result<Code, String> {
        let n = bits.get(nbit) as usize;
        if n == 0 {
            let c = bits.get(nbit) as usize;
            if c >= nn {
                return Err("bad constant code".into());
            }
            return Ok(Code::single(c as u16));
        }
        if n > nn {
            return Err("too many code lengths".into());
        }
        let mut lengths = vec![0u8; nn];
        let mut i = 0;
        while i < n {
            let mut c = bits.peek(3);
            if c == 7 {
                bits.skip(3);
                while bits.get(1) == 1 {
                    c += 1;
                    if c > 16 {
                        return Err("code length over 16".into());
                    }
                }
            } else {
                bits.skip(3);
            }
            lengths[i] = c as u8;
            i += 1;
            if Some(i) == special {
                let zeros = bits.get(2) as usize;
                i += zeros;
                if i > nn {
                    return Err("zero run past the table".into());
                }
            }
        }
        Code::from_lengths(&lengths)
    }

    /// Lengths of the literal/length code, coded with the code-length code `pt`.
    fn read_c(bits: &mut Bits, pt: &Code) -> Result<Code, String> {
        let n = bits.get(CBIT) as usize;
        if n == 0 {
            let c = bits.get(CBIT) as usize;
            if c >= NC {
                return Err("bad constant code".into());
            }
            return Ok(Code::single(c as u16));
        }
        if n > NC {
            return Err("too many code lengths".into());
        }
        let mut lengths = vec![0u8; NC];
        let mut i = 0;
        while i < n {
            let c = pt.decode(bits)?;
            if c <= 2 {
                let run = match c {
                    0 => 1,
                    1 => bits.get(4) as usize + 3,
                    _ => bits.get(CBIT) as usize + 20,
                };
                i += run;
                if i > NC {
                    return Err("zero run past the table".into());
                }
            } else {
                lengths[i] = (c - 2) as u8;
                i += 1;
            }
            if bits.exhausted() {
                return Err("data ends inside a code table".into());
            }
        }
        Code::from_lengths(&lengths)
    }

    /// Decode `size` bytes.
    pub fn decode(data: &[u8], size: usize) -> Result<Vec<u8>, String> {
        let mut bits = Bits::new(data);
        let mut out = Vec::with_capacity(size.min(data.len().saturating_mul(16)));
        let mut left_in_block = 0u32;
        let mut tables: Option<(Code, Code)> = None;
        while out.len() < size {
            if bits.exhausted() {
                return Err(format!("data ends after {} of {size} bytes", out.len()));
            }
            if left_in_block == 0 {
                left_in_block = bits.get(16);
                let pt = read_pt(&mut bits, NT, TBIT, Some(3))?;
                let c = read_c(&mut bits, &pt)?;
                let p = read_pt(&mut bits, NP, PBIT, None)?;
                tables = Some((c, p));
                if left_in_block == 0 {
                    return Err("empty block".into());
                }
            }
            left_in_block -= 1;
            let Some((c_code, p_code)) = &tables else {
                return Err("no tables".into());
            };
            let c = c_code.decode(&mut bits)?;
            if c < 256 {
                out.push(c as u8);
            } else {
                let len = c - 256 + THRESHOLD;
                let mut dist = p_code.decode(&mut bits)?;
                if dist != 0 {
                    dist -= 1;
                    dist = (1 << dist) + bits.get(dist as u32) as usize;
                }
                copy_match(&mut out, dist, len, size)?;
            }
        }
        Ok(out)
    }
}

/// Method 4: lengths and distances with unary-prefixed widths, literals as plain bytes.
mod fastest {
    use super::{copy_match, Bits};

    const THRESHOLD: usize = 3;

    /// A value: a unary prefix of up to `stop - start` one-bits picks the width, then that
    /// many bits are added to the sum of the skipped ranges.
    fn value(bits: &mut Bits, start: u32, stop: u32) -> usize {
        let mut plus = 0usize;
        let mut pwr = 1usize << start;
        let mut width = start;
        while width < stop {
            if bits.get(1) == 0 {
                break;
            }
            plus += pwr;
            pwr <<= 1;
            width += 1;
        }
        let v = if width != 0 {
            bits.get(width) as usize
        } else {
            0
        };
        v + plus
    }

    /// Decode `size` bytes.
    pub fn decode(data: &[u8], size: usize) -> Result<Vec<u8>, String> {
        let mut bits = Bits::new(data);
        let mut out = Vec::with_capacity(size.min(data.len().saturating_mul(16)));
        while out.len() < size {
            if bits.exhausted() {
                return Err(format!("data ends after {} of {size} bytes", out.len()));
            }
            let c = value(&mut bits, 0, 7);
            if c == 0 {
                out.push(bits.get(8) as u8);
            } else {
                let len = c - 1 + THRESHOLD;
                let dist = value(&mut bits, 9, 13);
                copy_match(&mut out, dist, len, size)?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::cab::tests::check_members;
    use crate::formats::testutil::hostile::hostile;
    use crate::formats::testutil::unpack;

    const M0: &[u8] = include_bytes!("../../tests/fixtures/dosarc/m0.arj");
    const M1: &[u8] = include_bytes!("../../tests/fixtures/dosarc/m1.arj");
    const M2: &[u8] = include_bytes!("../../tests/fixtures/dosarc/m2.arj");
    const M3: &[u8] = include_bytes!("../../tests/fixtures/dosarc/m3.arj");
    const M4: &[u8] = include_bytes!("../../tests/fixtures/dosarc/m4.arj");

    #[test]
    fn reads_every_method() {
        for (label, data) in [("m0", M0), ("m1", M1), ("m2", M2), ("m3", M3), ("m4", M4)] {
            let p = Arj.probe(data).expect("probe");
            assert_eq!(p.length, Some(data.len() as u64), "{label}");
            let u = unpack(&Arj, data);
            assert!(u.warnings.is_empty(), "{label}: {:?}", u.warnings);
            check_members(label, data, &u);
        }
    }

    #[test]
    fn carved_after_junk_and_before_junk() {
        let mut d = b"junk before".to_vec();
        d.extend_from_slice(M1);
        d.extend_from_slice(b"junk after the end-of-archive header");
        let p = Arj.probe(&d[11..]).unwrap();
        assert_eq!(p.length, Some(M1.len() as u64));
    }

    #[test]
    fn bad_crc_is_a_warning() {
        // Flip a byte inside the first member's data: the decoder or the CRC check says so.
        let mut d = M1.to_vec();
        let main = header(&d, 0).unwrap().unwrap().end;
        let first = header(&d, main).unwrap().unwrap().end;
        d[first + 40] ^= 0x10;
        let u = unpack(&Arj, &d);
        assert!(!u.warnings.is_empty());
    }

    /// `M1` with its first member's stated size replaced (header CRC recomputed).
    fn with_size(size: u32) -> Vec<u8> {
        let mut d = M1.to_vec();
        let at = header(&d, 0).unwrap().unwrap().end;
        let basic = usize::from(le16(&d, at + 2).unwrap());
        d[at + 4 + 16..at + 4 + 20].copy_from_slice(&size.to_le_bytes());
        let crc = crc32fast::hash(&d[at + 4..at + 4 + basic]);
        d[at + 4 + basic..at + 8 + basic].copy_from_slice(&crc.to_le_bytes());
        d
    }

    #[test]
    fn garbled_members_are_listed_not_opened() {
        let mut d = M0.to_vec();
        let at = header(&d, 0).unwrap().unwrap().end;
        let basic = usize::from(le16(&d, at + 2).unwrap());
        d[at + 4 + 4] |= GARBLED;
        let crc = crc32fast::hash(&d[at + 4..at + 4 + basic]);
        d[at + 4 + basic..at + 8 + basic].copy_from_slice(&crc.to_le_bytes());
        let u = unpack(&Arj, &d);
        assert_eq!(u.entries.len(), 4);
        assert!(matches!(u.entries[0].data, EntryData::None));
        assert_eq!(u.entries[0].details["encrypted"], "true");
        assert!(u.warnings[0].1.contains("encrypted (garbled) member"));
    }

    #[test]
    fn stated_sizes_are_bounded() {
        // Past the stream limit: not decoded at all.
        let d = with_size(u32::MAX);
        let mut limits = crate::limits::Limits::for_image(d.len() as u64);
        limits.max_stream_bytes = 1 << 20;
        let u = crate::formats::testutil::unpack_with_limits(&Arj, &d, limits);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Limit));
        // Larger than the data holds: decoding stops at the data's end with a warning.
        let d = with_size(1 << 20);
        let u = unpack(&Arj, &d);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Decode));
    }

    #[test]
    fn probe_rejects_bad_headers() {
        assert!(Arj.probe(b"\x60\xea").is_none());
        let mut d = M0.to_vec();
        d[10] ^= 1; // basic header CRC no longer matches
        assert!(Arj.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for data in [M0, M1, M3, M4] {
            hostile(&Arj, data);
        }
    }
}
