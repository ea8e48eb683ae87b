//! The RAR 2.9 compression algorithm (RAR 3.x and 4.x archives, header version 29/36): LZSS
//! over a sliding window with four canonical Huffman tables (main 299, distance 60, low
//! distance 17, length 28 symbols) sent as a delta against the previous block's bit lengths,
//! PPMd variant H blocks (see [`super::rar_ppmd`]) that can alternate with LZ blocks in one
//! stream, and the RarVM filters RAR itself emits (E8, E8E9, Itanium, Delta, RGB, Audio), run
//! natively once recognised by the CRC32 and length of their byte code. Any other VM program
//! is never interpreted: the member keeps the bytes decoded so far and a warning says why.
//!
//! Written here: every Rust crate that decodes RAR binds the unRAR source, whose licence
//! forbids re-creating the compressor and is not a permissive one, and no pure-Rust decoder
//! under a permissive licence exists. The format facts (tables, bit layouts, filter
//! fingerprints and transforms) were taken from libarchive's
//! `archive_read_support_format_rar.c` (BSD-2-Clause) and 7-Zip's public format notes; the
//! code is our own (libarchive's copyright: Copyright (c) 2011 Andres Mejia, Copyright (c)
//! 2011 Michihiro NAKAJIMA; its licence permits use with this notice kept:
//! "Redistribution and use in source and binary forms, with or without modification, are
//! permitted provided that ... retain the above copyright notice").
//!
//! A solid archive is one stream: the window, the tables, the repeat distances, the PPMd
//! model and the filter programs carry from one member into the next, so members must be
//! decoded in order with the same [`Decoder`].

use super::rar_ppmd::{Ppmd7, RangeDecoder};

const MAIN: usize = 299;
const DIST: usize = 60;
const LOW: usize = 17;
const LEN: usize = 28;
const TABLE: usize = MAIN + DIST + LOW + LEN;

/// RarVM memory: no filter block is larger than its work area.
const VM_WORK: usize = 0x3C000;
/// Filters one stream may define (programs) and have pending at once.
const MAX_PROGRAMS: usize = 1024;
const MAX_PENDING: usize = 8192;
/// Largest PPMd model accepted (RAR's own limit is 256 MiB).
pub const MAX_PPMD_MEMORY: usize = 256 << 20;
/// Smallest window: more than one symbol's output.
const MIN_WINDOW: usize = 4096;
/// Bytes decoded past a member's stated end while looking for its end marker.
const OVERRUN_SLACK: usize = 0x1000;

const LEN_BASE: [u32; 28] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224,
];
const LEN_BITS: [u8; 28] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
];
const SHORT_BASE: [u32; 8] = [0, 4, 8, 16, 32, 64, 128, 192];
const SHORT_BITS: [u8; 8] = [2, 2, 3, 4, 5, 6, 6, 6];

/// Distance slots: 4 of 0 extra bits, two each of 1..=15, 14 of 16, 12 of 18.
fn dist_tables() -> ([u32; DIST], [u8; DIST]) {
    let mut base = [0u32; DIST];
    let mut bits = [0u8; DIST];
    let counts: [(u8, usize); 18] = [
        (0, 4),
        (1, 2),
        (2, 2),
        (3, 2),
        (4, 2),
        (5, 2),
        (6, 2),
        (7, 2),
        (8, 2),
        (9, 2),
        (10, 2),
        (11, 2),
        (12, 2),
        (13, 2),
        (14, 2),
        (15, 2),
        (16, 14),
        (18, 12),
    ];
    let mut i = 0;
    let mut b = 0u32;
    for (n, count) in counts {
        for _ in 0..count {
            base[i] = b;
            bits[i] = n;
            b += 1 << n;
            i += 1;
        }
    }
    (base, bits)
}

// ---------------------------------------------------------------------------- bits

/// MSB-first bit reader over one member's packed data; past the end it reads zeros and
/// counts how far it went.
pub(crate) struct Bits<'a> {
    data: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn byte_at(&self, i: usize) -> u32 {
        u32::from(self.data.get(i).copied().unwrap_or(0))
    }

    /// The next `n` (≤ 16) bits without consuming them.
    fn peek(&self, n: u32) -> u32 {
        let b = self.pos >> 3;
        let v = self.byte_at(b) << 24
            | self.byte_at(b + 1) << 16
            | self.byte_at(b + 2) << 8
            | self.byte_at(b + 3);
        (v << (self.pos & 7)) >> (32 - n)
    }

    fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    fn get(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if n > 16 {
            let hi = self.get(n - 16);
            return hi << 16 | self.get(16);
        }
        let v = self.peek(n);
        self.skip(n);
        v
    }

    fn align(&mut self) {
        self.pos = (self.pos + 7) & !7;
    }

    /// A whole byte at a byte boundary (the PPMd range coder's input).
    pub(crate) fn byte(&mut self) -> u8 {
        self.align();
        let v = self.byte_at(self.pos >> 3) as u8;
        self.pos += 8;
        v
    }

    /// Read well past the end of the data: the stream is cut short or garbage.
    fn overrun(&self) -> bool {
        self.pos > (self.data.len() + 8) * 8
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len() * 8
    }
}

impl RangeDecoderInput for Bits<'_> {
    fn next_byte(&mut self) -> u8 {
        self.byte()
    }
}

/// Where the PPMd range coder takes its bytes from.
pub(crate) trait RangeDecoderInput {
    /// The next byte of the packed stream (zero past its end).
    fn next_byte(&mut self) -> u8;
}

// ---------------------------------------------------------------------------- Huffman

/// A canonical Huffman code as RAR builds it: codes assigned by length, then symbol order.
#[derive(Clone, Default)]
struct Huff {
    /// Left-aligned (16-bit) upper limit of the codes of each length 0..=15.
    limit: [u32; 16],
    /// Index in `symbols` of the first code of each length.
    first: [u32; 16],
    symbols: Vec<u16>,
}

impl Huff {
    fn new(lengths: &[u8]) -> Huff {
        let mut count = [0u32; 16];
        for &l in lengths {
            count[usize::from(l & 15)] += 1;
        }
        count[0] = 0;
        let mut h = Huff::default();
        let mut upper = 0u32;
        for l in 1..16 {
            upper += count[l];
            h.limit[l] = (upper << (16 - l)).min(1 << 16);
            upper *= 2;
            h.first[l] = h.first[l - 1] + count[l - 1];
        }
        let mut next = h.first;
        h.symbols = vec![0; lengths.len()];
        for (s, &l) in lengths.iter().enumerate() {
            let l = usize::from(l & 15);
            if l != 0 {
                h.symbols[next[l] as usize] = s as u16;
                next[l] += 1;
            }
        }
        h
    }

    fn decode(&self, bits: &mut Bits) -> usize {
        let v = bits.peek(16) & 0xfffe;
        let mut l = 15;
        for n in 1..15 {
            if v < self.limit[n] {
                l = n;
                break;
            }
        }
        bits.skip(l as u32);
        let dist = (v.wrapping_sub(self.limit[l - 1])) >> (16 - l);
        let pos = self.first[l].wrapping_add(dist) as usize;
        usize::from(
            self.symbols
                .get(pos)
                .or(self.symbols.first())
                .copied()
                .unwrap_or(0),
        )
    }
}

// ---------------------------------------------------------------------------- filters

/// The filters RAR 3 emits, known by their program's CRC32 and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standard {
    E8,
    E8E9,
    Itanium,
    Delta,
    Rgb,
    Audio,
}

fn standard(code: &[u8]) -> Option<Standard> {
    let crc = crc32fast::hash(code);
    Some(match (code.len(), crc) {
        (53, 0xad57_6887) => Standard::E8,
        (57, 0x3cd7_e57e) => Standard::E8E9,
        (120, 0x3769_893f) => Standard::Itanium,
        (29, 0x0e06_077d) => Standard::Delta,
        (149, 0x1c2c_5dc8) => Standard::Rgb,
        (216, 0xbc85_e701) => Standard::Audio,
        _ => return None,
    })
}

/// A filter program the stream has defined.
struct Program {
    kind: Option<Standard>,
    /// Its code's CRC32 and length, to name an unknown one.
    id: (u32, usize),
    old_length: u32,
    executions: u32,
}

/// A filter waiting for its block to be decoded.
struct Pending {
    program: usize,
    /// Stream position of the block and its length.
    start: u64,
    length: u32,
    regs: [u32; 7],
}

/// Reader of the filter record's RarVM-style numbers.
struct VmBits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl VmBits<'_> {
    fn get(&mut self, n: u32) -> u32 {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.data.get(self.pos >> 3).copied().unwrap_or(0);
            v = v << 1 | u32::from(byte >> (7 - (self.pos & 7)) & 1);
            self.pos += 1;
        }
        v
    }

    fn number(&mut self) -> u32 {
        match self.get(2) {
            0 => self.get(4),
            1 => {
                let v = self.get(8);
                if v >= 16 {
                    v
                } else {
                    0xffff_ff00 | v << 4 | self.get(4)
                }
            }
            2 => self.get(16),
            _ => self.get(32),
        }
    }

    fn past_end(&self) -> bool {
        self.pos > self.data.len() * 8
    }
}

fn e8(data: &mut [u8], offset: u32, e9: bool) {
    const FILE_SIZE: u32 = 0x0100_0000;
    if data.len() <= 4 {
        return;
    }
    let mut i = 0usize;
    while i + 4 < data.len() {
        let b = data[i];
        if b == 0xe8 || (e9 && b == 0xe9) {
            let cur = offset.wrapping_add(i as u32 + 1);
            let addr = u32::from_le_bytes([data[i + 1], data[i + 2], data[i + 3], data[i + 4]]);
            let signed = addr as i32;
            let new = if signed < 0 {
                (cur >= addr.wrapping_neg()).then(|| addr.wrapping_add(FILE_SIZE))
            } else {
                (addr < FILE_SIZE).then(|| addr.wrapping_sub(cur))
            };
            if let Some(n) = new {
                data[i + 1..i + 5].copy_from_slice(&n.to_le_bytes());
            }
            i += 5;
        } else {
            i += 1;
        }
    }
}

fn itanium(data: &mut [u8], offset: u32) {
    const MASKS: [u8; 16] = [4, 4, 6, 6, 0, 0, 7, 7, 4, 4, 0, 0, 4, 4, 0, 0];
    fn get_bits(d: &[u8], pos: usize, n: u32) -> u32 {
        let a = pos / 8;
        let v = u32::from_le_bytes([d[a], d[a + 1], d[a + 2], d[a + 3]]);
        (v >> (pos & 7)) & (u32::MAX >> (32 - n))
    }
    fn set_bits(d: &mut [u8], value: u32, pos: usize, n: u32) {
        let a = pos / 8;
        let shift = pos & 7;
        let mut and = !((u32::MAX >> (32 - n)) << shift);
        let mut v = value << shift;
        for b in &mut d[a..a + 4] {
            *b &= and as u8;
            *b |= v as u8;
            and = (and >> 8) | 0xff00_0000;
            v >>= 8;
        }
    }
    if data.len() < 21 {
        return;
    }
    let mut file_offset = offset >> 4;
    let mut at = 0usize;
    while at + 21 < data.len() {
        let block = &mut data[at..at + 16];
        let b = i32::from(block[0] & 0x1f) - 0x10;
        if b >= 0 {
            let mask = MASKS[b as usize];
            for i in 0..3 {
                if mask & (1 << i) != 0 {
                    let start = i * 41 + 5;
                    if get_bits(block, start + 37, 4) == 5 {
                        let off = get_bits(block, start + 13, 20);
                        set_bits(
                            block,
                            off.wrapping_sub(file_offset) & 0xfffff,
                            start + 13,
                            20,
                        );
                    }
                }
            }
        }
        at += 16;
        file_offset = file_offset.wrapping_add(1);
    }
}

fn delta(data: &mut [u8], channels: u32) -> Result<(), String> {
    let channels = channels as usize;
    if channels == 0 || channels > 128 {
        return Err(format!("delta filter with {channels} channels"));
    }
    let src = data.to_vec();
    let mut s = src.iter();
    for c in 0..channels {
        let mut prev = 0u8;
        let mut i = c;
        while i < data.len() {
            prev = prev.wrapping_sub(*s.next().unwrap_or(&0));
            data[i] = prev;
            i += channels;
        }
    }
    Ok(())
}

fn rgb(data: &mut [u8], width: u32, pos_r: u32) -> Result<(), String> {
    let n = data.len();
    let width = width as usize;
    if width < 3 || width > n || n < 3 || pos_r > 2 {
        return Err(format!("RGB filter with width {width}, red at {pos_r}"));
    }
    let width = width - 3;
    let src = data.to_vec();
    let mut s = src.iter();
    for c in 0..3 {
        let mut prev = 0u32;
        let mut i = c;
        while i < n {
            let predicted = if i >= width + 3 {
                let upper = u32::from(data[i - width]);
                let upper_left = u32::from(data[i - width - 3]);
                let p = prev.wrapping_add(upper).wrapping_sub(upper_left);
                let pa = (p as i32).wrapping_sub(prev as i32).unsigned_abs();
                let pb = (p as i32).wrapping_sub(upper as i32).unsigned_abs();
                let pc = (p as i32).wrapping_sub(upper_left as i32).unsigned_abs();
                if pa <= pb && pa <= pc {
                    prev
                } else if pb <= pc {
                    upper
                } else {
                    upper_left
                }
            } else {
                prev
            };
            let v = (predicted as u8).wrapping_sub(*s.next().unwrap_or(&0));
            data[i] = v;
            prev = u32::from(v);
            i += 3;
        }
    }
    let mut i = pos_r as usize;
    while i + 2 < n {
        let g = data[i + 1];
        data[i] = data[i].wrapping_add(g);
        data[i + 2] = data[i + 2].wrapping_add(g);
        i += 3;
    }
    Ok(())
}

fn audio(data: &mut [u8], channels: u32) -> Result<(), String> {
    let channels = channels as usize;
    if channels == 0 || channels > 128 {
        return Err(format!("audio filter with {channels} channels"));
    }
    let src = data.to_vec();
    let mut s = src.iter();
    for c in 0..channels {
        let (mut prev_byte, mut prev_delta) = (0u32, 0i32);
        let (mut d1, mut d2) = (0i32, 0i32);
        let mut k = [0i32; 3];
        let mut dif = [0u32; 7];
        let mut count = 0u32;
        let mut i = c;
        while i < data.len() {
            let d3 = d2;
            d2 = prev_delta.wrapping_sub(d1);
            d1 = prev_delta;
            let predicted = (8i32)
                .wrapping_mul(prev_byte as i32)
                .wrapping_add(k[0].wrapping_mul(d1))
                .wrapping_add(k[1].wrapping_mul(d2))
                .wrapping_add(k[2].wrapping_mul(d3));
            let predicted = ((predicted as u32) >> 3) & 0xff;
            let cur = *s.next().unwrap_or(&0);
            let byte = (predicted as u8).wrapping_sub(cur);
            data[i] = byte;
            prev_delta = i32::from(byte.wrapping_sub(prev_byte as u8) as i8);
            prev_byte = u32::from(byte);
            let d = i32::from(cur as i8) << 3;
            dif[0] += d.unsigned_abs();
            dif[1] += (d - d1).unsigned_abs();
            dif[2] += (d + d1).unsigned_abs();
            dif[3] += (d - d2).unsigned_abs();
            dif[4] += (d + d2).unsigned_abs();
            dif[5] += (d - d3).unsigned_abs();
            dif[6] += (d + d3).unsigned_abs();
            if count & 0x1f == 0 {
                let mut min = 0;
                for j in 1..7 {
                    if dif[j] < dif[min] {
                        min = j;
                    }
                }
                dif = [0; 7];
                match min {
                    1 if k[0] >= -16 => k[0] -= 1,
                    2 if k[0] < 16 => k[0] += 1,
                    3 if k[1] >= -16 => k[1] -= 1,
                    4 if k[1] < 16 => k[1] += 1,
                    5 if k[2] >= -16 => k[2] -= 1,
                    6 if k[2] < 16 => k[2] += 1,
                    _ => {}
                }
            }
            count = count.wrapping_add(1);
            i += channels;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------- the decoder

/// What decoding one member gave: its bytes (possibly fewer than stated, when `problem`
/// says why) and notes on anything skipped.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The member's bytes, cut at its stated size.
    pub data: Vec<u8>,
    /// Why decoding stopped early; the stream cannot continue after it.
    pub problem: Option<String>,
}

/// One RAR 2.9 stream: a non-solid member, or every member of a solid archive in order.
pub struct Decoder {
    window: Vec<u8>,
    mask: usize,
    /// Bytes the stream has produced (the window's write position).
    written: u64,
    old_dist: [u32; 4],
    last_dist: u32,
    last_len: u32,
    low_reps: u32,
    prev_low: u32,
    lengths: [u8; TABLE],
    main: Huff,
    dist: Huff,
    low: Huff,
    len: Huff,
    tables_read: bool,
    ppm_block: bool,
    ppm: Option<Box<Ppmd7>>,
    rc: RangeDecoder,
    esc: u8,
    programs: Vec<Program>,
    last_program: usize,
    pending: Vec<Pending>,
    dist_base: [u32; DIST],
    dist_bits: [u8; DIST],
    /// Set once the stream is broken: later solid members cannot be decoded.
    broken: Option<String>,
}

/// How the member's decoding loop ended.
enum Stop {
    /// The end-of-file marker.
    EndOfFile,
    /// The input ran out.
    Exhausted,
}

impl Decoder {
    /// A stream with a window of `window` bytes (a power of two; the caller bounds it by
    /// the dictionary, the data and the budget).
    pub fn new(window: usize) -> Decoder {
        // Never smaller than what one symbol can produce (a match of 260, PPMd's 287).
        let window = window.max(MIN_WINDOW).next_power_of_two();
        let (dist_base, dist_bits) = dist_tables();
        Decoder {
            window: vec![0; window],
            mask: window - 1,
            written: 0,
            old_dist: [0; 4],
            last_dist: 0,
            last_len: 0,
            low_reps: 0,
            prev_low: 0,
            lengths: [0; TABLE],
            main: Huff::default(),
            dist: Huff::default(),
            low: Huff::default(),
            len: Huff::default(),
            tables_read: false,
            ppm_block: false,
            ppm: None,
            rc: RangeDecoder::default(),
            esc: 2,
            programs: Vec::new(),
            last_program: 0,
            pending: Vec::new(),
            dist_base,
            dist_bits,
            broken: None,
        }
    }

    /// A stream that cannot go on (a solid run after a member that could not be decoded):
    /// every member given to it gets `why` as its problem.
    pub fn failed(why: String) -> Decoder {
        let mut d = Decoder::new(1);
        d.broken = Some(why);
        d
    }

    /// Decode the next member: `packed` is its data, `size` its stated unpacked size.
    pub fn member(&mut self, packed: &[u8], size: usize) -> Decoded {
        if let Some(b) = &self.broken {
            return Decoded {
                data: Vec::new(),
                problem: Some(format!(
                    "an earlier member of the solid stream failed ({b})"
                )),
            };
        }
        let mut m = Member {
            out: Vec::with_capacity(size.min(1 << 24)),
            base: self.written,
            size,
        };
        let mut bits = Bits::new(packed);
        let result = self.run(&mut bits, &mut m);
        let mut problem = match result {
            Ok(_) if m.out.len() >= size => None,
            Ok(Stop::EndOfFile) => {
                Some(format!("end of data after {} of {size} bytes", m.out.len()))
            }
            Ok(Stop::Exhausted) => Some(format!(
                "packed data ends after {} of {size} bytes",
                m.out.len()
            )),
            Err(e) => Some(e),
        };
        // Filters whose blocks the member did not reach are dropped with it.
        if problem.is_none() {
            if let Some(p) = self.pending.iter().find(|p| p.start < m.base + size as u64) {
                problem = Some(format!(
                    "a filter block at {} runs past the member's end",
                    p.start - m.base.min(p.start)
                ));
            }
        }
        if problem.is_some() {
            self.broken = problem.clone();
        }
        m.out.truncate(size);
        Decoded {
            data: m.out,
            problem,
        }
    }

    fn run(&mut self, bits: &mut Bits, m: &mut Member) -> Result<Stop, String> {
        if !self.tables_read {
            self.read_tables(bits)?;
        }
        loop {
            if m.out.len() >= m.size + OVERRUN_SLACK {
                return Ok(Stop::EndOfFile);
            }
            // The range coder reads ahead: a PPMd member ends at its end-of-file escape,
            // which a solid run needs to see.
            if bits.overrun() || (bits.at_end() && m.out.len() >= m.size && !self.ppm_block) {
                self.flush(m)?;
                return Ok(Stop::Exhausted);
            }
            if self.ppm_block {
                match self.ppm_step(bits, m)? {
                    Some(stop) => {
                        self.flush(m)?;
                        return Ok(stop);
                    }
                    None => continue,
                }
            }
            let sym = self.main.decode(bits);
            if sym < 256 {
                self.put(sym as u8);
            } else if sym == 256 {
                // End of block: a new table follows, or the file ends.
                if bits.get(1) == 1 {
                    self.tables_read = false;
                    self.read_tables(bits)?;
                } else {
                    self.tables_read = bits.get(1) == 0;
                    self.flush(m)?;
                    return Ok(Stop::EndOfFile);
                }
            } else if sym == 257 {
                let first = bits.get(8) as u8;
                let mut length = usize::from(first & 7) + 1;
                if length == 7 {
                    length = bits.get(8) as usize + 7;
                } else if length == 8 {
                    length = bits.get(16) as usize;
                }
                let code: Vec<u8> = (0..length).map(|_| bits.get(8) as u8).collect();
                self.add_filter(first, &code)?;
            } else if sym == 258 {
                if self.last_len != 0 {
                    self.copy(self.last_dist, self.last_len);
                }
            } else if sym < 263 {
                let n = sym - 259;
                let dist = self.old_dist[n];
                for i in (1..=n).rev() {
                    self.old_dist[i] = self.old_dist[i - 1];
                }
                self.old_dist[0] = dist;
                let ls = self.len.decode(bits).min(LEN - 1);
                let len = LEN_BASE[ls] + 2 + bits.get(u32::from(LEN_BITS[ls]));
                self.last_dist = dist;
                self.last_len = len;
                self.copy(dist, len);
            } else if sym < 271 {
                let n = sym - 263;
                let dist = SHORT_BASE[n] + 1 + bits.get(u32::from(SHORT_BITS[n]));
                self.insert_old(dist);
                self.last_dist = dist;
                self.last_len = 2;
                self.copy(dist, 2);
            } else {
                let n = (sym - 271).min(LEN - 1);
                let mut len = LEN_BASE[n] + 3 + bits.get(u32::from(LEN_BITS[n]));
                let ds = self.dist.decode(bits).min(DIST - 1);
                let mut dist = self.dist_base[ds] + 1;
                let nb = u32::from(self.dist_bits[ds]);
                if nb > 0 {
                    if ds > 9 {
                        if nb > 4 {
                            dist = dist.wrapping_add(bits.get(nb - 4) << 4);
                        }
                        if self.low_reps > 0 {
                            self.low_reps -= 1;
                            dist = dist.wrapping_add(self.prev_low);
                        } else {
                            let low = self.low.decode(bits) as u32;
                            if low == 16 {
                                self.low_reps = 15;
                                dist = dist.wrapping_add(self.prev_low);
                            } else {
                                dist = dist.wrapping_add(low);
                                self.prev_low = low;
                            }
                        }
                    } else {
                        dist = dist.wrapping_add(bits.get(nb));
                    }
                }
                if dist >= 0x2000 {
                    len += 1;
                    if dist >= 0x40000 {
                        len += 1;
                    }
                }
                self.insert_old(dist);
                self.last_dist = dist;
                self.last_len = len;
                self.copy(dist, len);
            }
            self.flush(m)?;
        }
    }

    /// One PPMd symbol (or escape sequence); `Some` when the member ends.
    fn ppm_step(&mut self, bits: &mut Bits, m: &mut Member) -> Result<Option<Stop>, String> {
        let ch = self.ppm_char(bits)?;
        if ch != self.esc {
            self.put(ch);
            self.flush(m)?;
            return Ok(None);
        }
        match self.ppm_char(bits)? {
            0 => {
                self.tables_read = false;
                self.read_tables(bits)?;
            }
            2 => {
                // The next member of a solid stream starts with a block header.
                self.tables_read = false;
                return Ok(Some(Stop::EndOfFile));
            }
            3 => {
                let first = self.ppm_char(bits)?;
                let mut length = usize::from(first & 7) + 1;
                if length == 7 {
                    length = usize::from(self.ppm_char(bits)?) + 7;
                } else if length == 8 {
                    length = usize::from(self.ppm_char(bits)?) << 8;
                    length |= usize::from(self.ppm_char(bits)?);
                }
                let mut code = Vec::with_capacity(length);
                for _ in 0..length {
                    code.push(self.ppm_char(bits)?);
                }
                self.add_filter(first, &code)?;
            }
            4 => {
                let mut dist = 0u32;
                for _ in 0..3 {
                    dist = dist << 8 | u32::from(self.ppm_char(bits)?);
                }
                let len = u32::from(self.ppm_char(bits)?);
                self.copy(dist + 2, len + 32);
            }
            5 => {
                let len = u32::from(self.ppm_char(bits)?);
                self.copy(1, len + 4);
            }
            _ => self.put(ch),
        }
        self.flush(m)?;
        Ok(None)
    }

    fn ppm_char(&mut self, bits: &mut Bits) -> Result<u8, String> {
        let ppm = self.ppm.as_mut().ok_or("PPMd block without a model")?;
        if bits.overrun() {
            return Err("PPMd data ends early".into());
        }
        ppm.decode_symbol(&mut self.rc, bits)
            .ok_or_else(|| "PPMd data is corrupt".to_string())
    }

    fn insert_old(&mut self, dist: u32) {
        self.old_dist = [dist, self.old_dist[0], self.old_dist[1], self.old_dist[2]];
    }

    fn put(&mut self, b: u8) {
        self.window[self.written as usize & self.mask] = b;
        self.written += 1;
    }

    fn copy(&mut self, dist: u32, len: u32) {
        let mut src = (self.written as usize).wrapping_sub(dist as usize);
        for _ in 0..len {
            let b = self.window[src & self.mask];
            self.put(b);
            src = src.wrapping_add(1);
        }
    }

    /// Move what the window holds beyond the member's output into it, and run each filter
    /// whose block is complete.
    fn flush(&mut self, m: &mut Member) -> Result<(), String> {
        let have = m.base + m.out.len() as u64;
        let mut from = have;
        let want = self.written;
        if want - from > self.window.len() as u64 {
            return Err("window overrun".into());
        }
        while from < want {
            let at = from as usize & self.mask;
            let run = ((want - from) as usize).min(self.window.len() - at);
            m.out.extend_from_slice(&self.window[at..at + run]);
            from += run as u64;
        }
        while let Some(p) = self.pending.first() {
            let end = p.start + u64::from(p.length);
            if end > self.written {
                break;
            }
            let p = self.pending.remove(0);
            if p.start < m.base {
                // Its block began in an earlier member: nothing left to filter.
                continue;
            }
            let a = (p.start - m.base) as usize;
            let Some(block) = m.out.get_mut(a..a + p.length as usize) else {
                continue;
            };
            let prog = &self.programs[p.program];
            let offset = a as u32;
            match prog.kind {
                Some(Standard::E8) => e8(block, offset, false),
                Some(Standard::E8E9) => e8(block, offset, true),
                Some(Standard::Itanium) => itanium(block, offset),
                Some(Standard::Delta) => delta(block, p.regs[0])?,
                Some(Standard::Rgb) => rgb(block, p.regs[0], p.regs[1])?,
                Some(Standard::Audio) => audio(block, p.regs[0])?,
                None => {
                    m.out.truncate(a);
                    return Err(format!(
                        "unknown RarVM filter program (CRC32 {:08x}, {} bytes) at offset {a}: not interpreted",
                        prog.id.0, prog.id.1
                    ));
                }
            }
        }
        Ok(())
    }

    fn add_filter(&mut self, first: u8, code: &[u8]) -> Result<(), String> {
        let mut r = VmBits { data: code, pos: 0 };
        let mut num = self.last_program;
        if first & 0x80 != 0 {
            num = r.number() as usize;
            if num == 0 {
                self.programs.clear();
                self.pending.clear();
            } else {
                num -= 1;
            }
        }
        if num > self.programs.len() || num >= MAX_PROGRAMS {
            return Err(format!("filter number {num} is undefined"));
        }
        self.last_program = num;
        let new = num == self.programs.len();
        let mut start = u64::from(r.number());
        if first & 0x40 != 0 {
            start += 258;
        }
        let length = if first & 0x20 != 0 {
            r.number()
        } else if new {
            0
        } else {
            self.programs[num].old_length
        };
        let mut regs = [0u32; 7];
        if first & 0x10 != 0 {
            let mask = r.get(7);
            for (i, reg) in regs.iter_mut().enumerate() {
                if mask & (1 << i) != 0 {
                    *reg = r.number();
                }
            }
        }
        if new {
            let n = r.number() as usize;
            if n == 0 || n >= 0x10000 {
                return Err(format!("filter program of {n} bytes"));
            }
            let prog: Vec<u8> = (0..n).map(|_| r.get(8) as u8).collect();
            let xor = prog[1..].iter().fold(0u8, |a, b| a ^ b);
            let kind = if xor == prog[0] {
                standard(&prog)
            } else {
                None
            };
            self.programs.push(Program {
                kind,
                id: (crc32fast::hash(&prog), n),
                old_length: 0,
                executions: 0,
            });
        } else {
            self.programs[num].executions += 1;
        }
        self.programs[num].old_length = length;
        if r.past_end() {
            return Err("filter record is cut short".into());
        }
        if length as usize > VM_WORK || length as usize > self.window.len() {
            return Err(format!("filter block of {length} bytes"));
        }
        if self.pending.len() >= MAX_PENDING {
            return Err("too many pending filters".into());
        }
        let _ = self.programs[num].executions;
        self.pending.push(Pending {
            program: num,
            start: self.written + start,
            length,
            regs,
        });
        Ok(())
    }

    fn read_tables(&mut self, bits: &mut Bits) -> Result<(), String> {
        bits.align();
        if bits.overrun() {
            return Err("packed data ends before a block header".into());
        }
        if bits.peek(1) == 1 {
            let flags = bits.get(8);
            let mut memory = 0usize;
            if flags & 0x20 != 0 {
                memory = (bits.get(8) as usize + 1) << 20;
            }
            if flags & 0x40 != 0 {
                self.esc = bits.get(8) as u8;
            }
            if flags & 0x20 != 0 {
                let mut order = (flags & 0x1f) + 1;
                if order > 16 {
                    order = 16 + (order - 16) * 3;
                }
                if order == 1 {
                    return Err("PPMd block with model order 1".into());
                }
                if memory > MAX_PPMD_MEMORY {
                    return Err(format!("PPMd model of {} MiB refused", memory >> 20));
                }
                let mut p = Ppmd7::new(memory).ok_or("PPMd model memory unavailable")?;
                self.rc = RangeDecoder::new(bits);
                p.init(order);
                self.ppm = Some(Box::new(p));
            } else {
                if self.ppm.is_none() {
                    return Err("PPMd block continues a model never started".into());
                }
                self.rc = RangeDecoder::new(bits);
            }
            self.ppm_block = true;
            self.tables_read = true;
            return Ok(());
        }
        self.ppm_block = false;
        self.prev_low = 0;
        self.low_reps = 0;
        bits.skip(1);
        if bits.get(1) == 0 {
            self.lengths = [0; TABLE];
        }
        let pre = super::rar::pre_table_lengths(|| bits.get(4) as u8);
        let pre = Huff::new(&pre);
        let mut i = 0;
        while i < TABLE {
            if bits.overrun() {
                return Err("packed data ends inside the code tables".into());
            }
            let v = pre.decode(bits);
            if v < 16 {
                self.lengths[i] = (self.lengths[i] + v as u8) & 15;
                i += 1;
            } else if v < 18 {
                if i == 0 {
                    return Err("code tables start with a repeat".into());
                }
                let n = if v == 16 {
                    bits.get(3) + 3
                } else {
                    bits.get(7) + 11
                };
                for _ in 0..n {
                    if i >= TABLE {
                        break;
                    }
                    self.lengths[i] = self.lengths[i - 1];
                    i += 1;
                }
            } else {
                let n = if v == 18 {
                    bits.get(3) + 3
                } else {
                    bits.get(7) + 11
                };
                for _ in 0..n {
                    if i >= TABLE {
                        break;
                    }
                    self.lengths[i] = 0;
                    i += 1;
                }
            }
        }
        if bits.overrun() {
            return Err("packed data ends inside the code tables".into());
        }
        self.main = Huff::new(&self.lengths[..MAIN]);
        self.dist = Huff::new(&self.lengths[MAIN..MAIN + DIST]);
        self.low = Huff::new(&self.lengths[MAIN + DIST..MAIN + DIST + LOW]);
        self.len = Huff::new(&self.lengths[MAIN + DIST + LOW..]);
        self.tables_read = true;
        Ok(())
    }
}

/// The member being decoded: its output so far, where it starts in the stream, its size.
struct Member {
    out: Vec<u8>,
    base: u64,
    size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_slots_match_the_format() {
        let (base, bits) = dist_tables();
        assert_eq!(base[4], 4);
        assert_eq!(base[48], 1_048_576);
        assert_eq!(base[59], 3_932_160);
        assert_eq!(bits[47], 16);
        assert_eq!(bits[48], 18);
    }

    #[test]
    fn canonical_codes_decode_in_length_then_symbol_order() {
        // Lengths 2,1,3,3: codes 10, 0, 110, 111.
        let h = Huff::new(&[2, 1, 3, 3]);
        let data = [0b1001_1011, 0b1000_0000];
        let mut b = Bits::new(&data);
        let got: Vec<usize> = (0..4).map(|_| h.decode(&mut b)).collect();
        assert_eq!(got, [0, 1, 2, 3]);
    }

    #[test]
    fn vm_numbers() {
        // 00 0101 -> 5; 10 + 16 bits.
        let data = [0b0001_0110, 0x12, 0x34, 0];
        let mut r = VmBits {
            data: &data,
            pos: 0,
        };
        assert_eq!(r.number(), 5);
        assert_eq!(r.number(), 0x1234);
    }

    #[test]
    fn delta_filter_undoes_differences() {
        let mut d = [
            0u8.wrapping_sub(1),
            0u8.wrapping_sub(1),
            0u8.wrapping_sub(1),
        ];
        delta(&mut d, 1).unwrap();
        assert_eq!(d, [1, 2, 3]);
        assert!(delta(&mut d, 0).is_err());
    }

    /// Bits, MSB first, from a string of 0s and 1s.
    fn pack(bits: &str) -> Vec<u8> {
        let bits: Vec<u8> = bits
            .bytes()
            .filter(|b| *b != b' ')
            .map(|b| b - b'0')
            .collect();
        bits.chunks(8)
            .map(|c| c.iter().enumerate().fold(0u8, |a, (i, b)| a | b << (7 - i)))
            .collect()
    }

    #[test]
    fn unknown_filter_programs_are_not_run() {
        let mut d = Decoder::new(1 << 16);
        // Program 1 (new), block at +0, length 4, a 3-byte program whose XOR checks.
        let record = pack("000001 000000 000100 000011 00000011 00000001 00000010");
        d.add_filter(0x80 | 0x20, &record).unwrap();
        assert_eq!(d.programs.len(), 1);
        assert_eq!(d.programs[0].kind, None);
        let mut m = Member {
            out: Vec::new(),
            base: 0,
            size: 8,
        };
        for b in b"abcdefgh" {
            d.put(*b);
        }
        let err = d.flush(&mut m).unwrap_err();
        assert!(err.contains("unknown RarVM filter program"), "{err}");
        // What came before the block is kept.
        assert!(m.out.is_empty());
    }

    #[test]
    fn oversized_filter_blocks_are_refused() {
        let mut d = Decoder::new(1 << 20);
        // Length 0x40000 (32-bit number form): past RarVM's work area.
        let record = pack(
            "000001 000000 11 00000000000001000000000000000000 000011 00000011 00000001 00000010",
        );
        assert!(d.add_filter(0x80 | 0x20, &record).is_err());
        // A program number never defined.
        assert!(d.add_filter(0x80, &pack("000101 000000")).is_err());
    }

    #[test]
    fn e8_filter_makes_call_targets_relative_again() {
        // A call at offset 0 to absolute 0x105 becomes relative to the next instruction.
        let mut d = [0xe8, 0x05, 0x01, 0, 0, 0x90, 0x90];
        e8(&mut d, 0, false);
        assert_eq!(d, [0xe8, 0x04, 0x01, 0, 0, 0x90, 0x90]);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x1234_5678u32;
        for round in 0..200 {
            let data: Vec<u8> = (0..(round * 7 % 300))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let mut d = Decoder::new(1 << 16);
            let _ = d.member(&data, 5000);
        }
    }
}
