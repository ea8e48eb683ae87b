//! PPMd variant H (Dmitry Shkarin's PPMd var.H, 2001) with RAR's range coder, as RAR 2.9
//! uses it for its PPM blocks: a context model of order 2..64 over one block of memory
//! (contexts, states and the text they came from, managed by the model's own unit
//! allocator) drives an arithmetic decoder that carries, where 7-Zip's does not, a lower
//! bound (`Low`) and a bottom value that bounds the range.
//!
//! Written here: no Rust crate implements this variant under a permissive licence. The
//! algorithm follows Igor Pavlov's public-domain Ppmd7.c (as libarchive carries it,
//! `archive_ppmd7.c`, "2010-03-12 : Igor Pavlov : Public domain", itself based on PPMd
//! var.H by Dmitry Shkarin, public domain). Pointers are offsets into one byte vector and
//! every access is bounds-checked: hostile data yields garbage or an error, never a panic,
//! and every search loop is bounded.

use super::rar_v3_decode::RangeDecoderInput;

const MAX_O: usize = 64;
const UNIT: u32 = 12;
const MAX_FREQ: u32 = 124;
const INT_BITS: u32 = 7;
const PERIOD_BITS: u32 = 7;
const BIN_SCALE: u32 = 1 << (INT_BITS + PERIOD_BITS);
const N_INDEXES: usize = 4 + 4 + 4 + 26;
const TOP: u32 = 1 << 24;
const BOTTOM: u32 = 0x8000;

const INIT_BIN_ESC: [u16; 8] = [
    0x3CDD, 0x1F3F, 0x59BF, 0x48F3, 0x64A1, 0x5ABC, 0x6632, 0x6051,
];
const EXP_ESCAPE: [u8; 16] = [25, 14, 9, 7, 5, 5, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2];

/// RAR's range decoder state.
#[derive(Default, Clone)]
pub struct RangeDecoder {
    range: u32,
    code: u32,
    low: u32,
}

impl RangeDecoder {
    /// Start decoding at the input's next byte (four bytes of code).
    pub(crate) fn new(input: &mut dyn RangeDecoderInput) -> RangeDecoder {
        let mut code = 0u32;
        for _ in 0..4 {
            code = code << 8 | u32::from(input.next_byte());
        }
        RangeDecoder {
            range: u32::MAX,
            code,
            low: 0,
        }
    }

    fn threshold(&mut self, total: u32) -> u32 {
        self.range /= total.max(1);
        self.code.wrapping_sub(self.low) / self.range.max(1)
    }

    fn decode(&mut self, start: u32, size: u32, input: &mut dyn RangeDecoderInput) {
        self.low = self.low.wrapping_add(start.wrapping_mul(self.range));
        self.range = self.range.wrapping_mul(size);
        loop {
            if (self.low ^ self.low.wrapping_add(self.range)) >= TOP {
                if self.range >= BOTTOM {
                    break;
                }
                self.range = self.low.wrapping_neg() & (BOTTOM - 1);
            }
            self.code = self.code << 8 | u32::from(input.next_byte());
            self.range <<= 8;
            self.low <<= 8;
        }
    }

    fn bit(&mut self, size0: u32, input: &mut dyn RangeDecoderInput) -> u32 {
        if self.threshold(BIN_SCALE) < size0 {
            self.decode(0, size0, input);
            0
        } else {
            self.decode(size0, BIN_SCALE - size0, input);
            1
        }
    }
}

#[derive(Clone, Copy, Default)]
struct See {
    summ: u16,
    shift: u8,
    count: u8,
}

impl See {
    fn update(&mut self) {
        if u32::from(self.shift) < PERIOD_BITS {
            self.count = self.count.wrapping_sub(1);
            if self.count == 0 {
                self.summ = self.summ.wrapping_shl(1);
                self.count = (3u32 << self.shift) as u8;
                self.shift += 1;
            }
        }
    }
}

/// A state: symbol, frequency, successor (6 bytes in the model's memory).
#[derive(Clone, Copy, Default)]
struct State {
    symbol: u8,
    freq: u8,
    successor: u32,
}

/// Which SEE context an escape used: a table entry or the dummy one.
#[derive(Clone, Copy)]
enum SeeRef {
    Dummy,
    At(usize, usize),
}

/// The PPMd var.H model.
pub struct Ppmd7 {
    mem: Vec<u8>,
    size: u32,
    align: u32,
    min_context: u32,
    max_context: u32,
    found: u32,
    order_fall: u32,
    init_esc: u32,
    prev_success: u32,
    max_order: u32,
    hi_bits_flag: u32,
    run_length: i32,
    init_rl: i32,
    glue_count: u32,
    text: u32,
    lo_unit: u32,
    hi_unit: u32,
    units_start: u32,
    indx2units: [u8; N_INDEXES],
    units2indx: [u8; 128],
    free_list: [u32; N_INDEXES],
    ns2indx: [u8; 256],
    ns2bsindx: [u8; 256],
    hb2flag: [u8; 256],
    dummy_see: See,
    see: [[See; 16]; 25],
    bin_summ: [[u16; 64]; 128],
    /// Set when the model's memory is found inconsistent (hostile data).
    bad: bool,
}

impl Ppmd7 {
    /// A model over `size` bytes of memory; `None` when the size is unusable.
    pub fn new(size: usize) -> Option<Ppmd7> {
        let size = u32::try_from(size).ok()?;
        if !(UNIT..=0xFFFF_FFFF - 12 * 3).contains(&size) {
            return None;
        }
        let align = 4 - (size & 3);
        let total = (align + size + UNIT) as usize;
        let mem = vec![0u8; total];
        let mut p = Ppmd7 {
            mem,
            size,
            align,
            min_context: 0,
            max_context: 0,
            found: 0,
            order_fall: 0,
            init_esc: 0,
            prev_success: 0,
            max_order: 0,
            hi_bits_flag: 0,
            run_length: 0,
            init_rl: 0,
            glue_count: 0,
            text: 0,
            lo_unit: 0,
            hi_unit: 0,
            units_start: 0,
            indx2units: [0; N_INDEXES],
            units2indx: [0; 128],
            free_list: [0; N_INDEXES],
            ns2indx: [0; 256],
            ns2bsindx: [0; 256],
            hb2flag: [0; 256],
            dummy_see: See::default(),
            see: [[See::default(); 16]; 25],
            bin_summ: [[0; 64]; 128],
            bad: false,
        };
        let mut k = 0usize;
        for i in 0..N_INDEXES {
            let step = if i >= 12 { 4 } else { (i >> 2) + 1 };
            for _ in 0..step {
                p.units2indx[k] = i as u8;
                k += 1;
            }
            p.indx2units[i] = k as u8;
        }
        p.ns2bsindx[0] = 0;
        p.ns2bsindx[1] = 2;
        for v in &mut p.ns2bsindx[2..11] {
            *v = 4;
        }
        for v in &mut p.ns2bsindx[11..] {
            *v = 6;
        }
        let mut i = 0usize;
        while i < 3 {
            p.ns2indx[i] = i as u8;
            i += 1;
        }
        let (mut m, mut k) = (i as u32, 1u32);
        while i < 256 {
            p.ns2indx[i] = m as u8;
            k -= 1;
            if k == 0 {
                m += 1;
                k = m - 2;
            }
            i += 1;
        }
        for (i, v) in p.hb2flag.iter_mut().enumerate() {
            *v = if i < 0x40 { 0 } else { 8 };
        }
        Some(p)
    }

    /// Start the model afresh with the given maximum order.
    pub fn init(&mut self, max_order: u32) {
        self.max_order = max_order.min(MAX_O as u32);
        self.restart();
        self.dummy_see = See {
            summ: 0,
            shift: PERIOD_BITS as u8,
            count: 64,
        };
    }

    // ---- memory

    fn r8(&self, o: u32) -> u8 {
        self.mem.get(o as usize).copied().unwrap_or(0)
    }
    fn w8(&mut self, o: u32, v: u8) {
        if let Some(b) = self.mem.get_mut(o as usize) {
            *b = v;
        } else {
            self.bad = true;
        }
    }
    fn r16(&self, o: u32) -> u16 {
        u16::from(self.r8(o)) | u16::from(self.r8(o.wrapping_add(1))) << 8
    }
    fn w16(&mut self, o: u32, v: u16) {
        self.w8(o, v as u8);
        self.w8(o.wrapping_add(1), (v >> 8) as u8);
    }
    fn r32(&self, o: u32) -> u32 {
        let o = o as usize;
        match self.mem.get(o..o.wrapping_add(4)) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            None => 0,
        }
    }
    fn w32(&mut self, o: u32, v: u32) {
        let o = o as usize;
        match self.mem.get_mut(o..o.wrapping_add(4)) {
            Some(b) => b.copy_from_slice(&v.to_le_bytes()),
            None => self.bad = true,
        }
    }

    // Context fields: NumStats @0, SummFreq @2, Stats @4, Suffix @8; the one state of a
    // binary context overlays SummFreq and Stats (@2).
    fn num_stats(&self, c: u32) -> u32 {
        u32::from(self.r16(c))
    }
    fn set_num_stats(&mut self, c: u32, v: u32) {
        self.w16(c, v as u16)
    }
    fn summ_freq(&self, c: u32) -> u32 {
        u32::from(self.r16(c + 2))
    }
    fn set_summ_freq(&mut self, c: u32, v: u32) {
        self.w16(c + 2, v as u16)
    }
    fn stats(&self, c: u32) -> u32 {
        self.r32(c + 4)
    }
    fn set_stats(&mut self, c: u32, v: u32) {
        self.w32(c + 4, v)
    }
    fn suffix(&self, c: u32) -> u32 {
        self.r32(c + 8)
    }
    fn set_suffix(&mut self, c: u32, v: u32) {
        self.w32(c + 8, v)
    }
    fn one_state(c: u32) -> u32 {
        c + 2
    }

    // State fields: Symbol @0, Freq @1, Successor @2 (low 16 bits, then high).
    fn sym(&self, s: u32) -> u8 {
        self.r8(s)
    }
    fn freq(&self, s: u32) -> u32 {
        u32::from(self.r8(s + 1))
    }
    fn set_freq(&mut self, s: u32, v: u32) {
        self.w8(s + 1, v as u8)
    }
    fn successor(&self, s: u32) -> u32 {
        u32::from(self.r16(s + 2)) | u32::from(self.r16(s + 4)) << 16
    }
    fn set_successor(&mut self, s: u32, v: u32) {
        self.w16(s + 2, v as u16);
        self.w16(s + 4, (v >> 16) as u16);
    }
    fn state(&self, s: u32) -> State {
        State {
            symbol: self.sym(s),
            freq: self.r8(s + 1),
            successor: self.successor(s),
        }
    }
    fn set_state(&mut self, s: u32, st: State) {
        self.w8(s, st.symbol);
        self.w8(s + 1, st.freq);
        self.set_successor(s, st.successor);
    }
    fn swap_states(&mut self, a: u32, b: u32) {
        let (x, y) = (self.state(a), self.state(b));
        self.set_state(a, y);
        self.set_state(b, x);
    }

    fn i2u(&self, i: usize) -> u32 {
        u32::from(self.indx2units.get(i).copied().unwrap_or(0))
    }
    fn u2i(&self, nu: u32) -> usize {
        usize::from(
            self.units2indx
                .get((nu as usize).wrapping_sub(1))
                .copied()
                .unwrap_or(0),
        )
    }

    fn insert_node(&mut self, node: u32, i: usize) {
        let head = self.free_list.get(i).copied().unwrap_or(0);
        self.w32(node, head);
        if let Some(f) = self.free_list.get_mut(i) {
            *f = node;
        }
    }

    fn remove_node(&mut self, i: usize) -> u32 {
        let node = self.free_list[i];
        self.free_list[i] = self.r32(node);
        node
    }

    fn split_block(&mut self, ptr: u32, old: usize, new: usize) {
        let nu = self.i2u(old).wrapping_sub(self.i2u(new));
        let ptr = ptr + self.i2u(new) * UNIT;
        let mut i = self.u2i(nu);
        if self.i2u(i) != nu {
            i = i.wrapping_sub(1);
            let k = self.i2u(i);
            self.insert_node(
                ptr + k * UNIT,
                (nu.wrapping_sub(k).wrapping_sub(1)) as usize,
            );
        }
        self.insert_node(ptr, i);
    }

    fn glue_free_blocks(&mut self) {
        // Node: Stamp u16 @0, NU u16 @2, Next u32 @4, Prev u32 @8.
        let head = self.align + self.size;
        let mut n = head;
        self.glue_count = 255;
        let mut guard = 0usize;
        let limit = self.mem.len() / UNIT as usize + 16;
        for i in 0..N_INDEXES {
            let nu = self.i2u(i) as u16;
            let mut next = self.free_list[i];
            self.free_list[i] = 0;
            while next != 0 {
                guard += 1;
                if guard > limit {
                    self.bad = true;
                    return;
                }
                let node = next;
                self.w32(node + 4, n);
                self.w32(n + 8, next);
                n = next;
                next = self.r32(node);
                self.w16(node, 0);
                self.w16(node + 2, nu);
            }
        }
        self.w16(head, 1);
        self.w32(head + 4, n);
        self.w32(n + 8, head);
        if self.lo_unit != self.hi_unit {
            self.w16(self.lo_unit, 1);
        }
        guard = 0;
        while n != head {
            guard += 1;
            if guard > limit {
                self.bad = true;
                return;
            }
            let node = n;
            let mut nu = u32::from(self.r16(node + 2));
            loop {
                let node2 = node.wrapping_add(nu * UNIT);
                nu += u32::from(self.r16(node2 + 2));
                if self.r16(node2) != 0 || nu >= 0x10000 {
                    break;
                }
                let (prev2, next2) = (self.r32(node2 + 8), self.r32(node2 + 4));
                self.w32(prev2 + 4, next2);
                self.w32(next2 + 8, prev2);
                self.w16(node + 2, nu as u16);
            }
            n = self.r32(node + 4);
        }
        n = self.r32(head + 4);
        guard = 0;
        while n != head {
            guard += 1;
            if guard > limit {
                self.bad = true;
                return;
            }
            let mut node = n;
            let next = self.r32(node + 4);
            let mut nu = u32::from(self.r16(node + 2));
            while nu > 128 {
                self.insert_node(node, N_INDEXES - 1);
                nu -= 128;
                node += 128 * UNIT;
            }
            let mut i = self.u2i(nu);
            if self.i2u(i) != nu {
                i = i.wrapping_sub(1);
                let k = self.i2u(i);
                self.insert_node(
                    node + k * UNIT,
                    (nu.wrapping_sub(k).wrapping_sub(1)) as usize,
                );
            }
            self.insert_node(node, i);
            n = next;
        }
    }

    fn alloc_units_rare(&mut self, indx: usize) -> u32 {
        if self.glue_count == 0 {
            self.glue_free_blocks();
            if self.free_list[indx] != 0 {
                return self.remove_node(indx);
            }
        }
        let mut i = indx;
        loop {
            i += 1;
            if i == N_INDEXES {
                let bytes = self.i2u(indx) * UNIT;
                self.glue_count = self.glue_count.wrapping_sub(1);
                return if self.units_start.wrapping_sub(self.text) > bytes {
                    self.units_start -= bytes;
                    self.units_start
                } else {
                    0
                };
            }
            if self.free_list[i] != 0 {
                break;
            }
        }
        let r = self.remove_node(i);
        self.split_block(r, i, indx);
        r
    }

    fn alloc_units(&mut self, indx: usize) -> u32 {
        if self.free_list[indx] != 0 {
            return self.remove_node(indx);
        }
        let bytes = self.i2u(indx) * UNIT;
        if bytes <= self.hi_unit.wrapping_sub(self.lo_unit) {
            let r = self.lo_unit;
            self.lo_unit += bytes;
            return r;
        }
        self.alloc_units_rare(indx)
    }

    fn copy_units(&mut self, dst: u32, src: u32, nu: u32) {
        let n = (nu * UNIT) as usize;
        let (d, s) = (dst as usize, src as usize);
        if d.checked_add(n).is_some_and(|e| e <= self.mem.len())
            && s.checked_add(n).is_some_and(|e| e <= self.mem.len())
        {
            self.mem.copy_within(s..s + n, d);
        } else {
            self.bad = true;
        }
    }

    fn shrink_units(&mut self, old_ptr: u32, old_nu: u32, new_nu: u32) -> u32 {
        let i0 = self.u2i(old_nu);
        let i1 = self.u2i(new_nu);
        if i0 == i1 {
            return old_ptr;
        }
        if self.free_list[i1] != 0 {
            let ptr = self.remove_node(i1);
            self.copy_units(ptr, old_ptr, new_nu);
            self.insert_node(old_ptr, i0);
            return ptr;
        }
        self.split_block(old_ptr, i0, i1);
        old_ptr
    }

    fn restart(&mut self) {
        self.free_list = [0; N_INDEXES];
        self.text = self.align;
        self.hi_unit = self.text + self.size;
        self.lo_unit = self.hi_unit - self.size / 8 / UNIT * 7 * UNIT;
        self.units_start = self.lo_unit;
        self.glue_count = 0;
        self.order_fall = self.max_order;
        self.init_rl = -(self.max_order.min(12) as i32) - 1;
        self.run_length = self.init_rl;
        self.prev_success = 0;
        self.hi_unit -= UNIT;
        self.min_context = self.hi_unit;
        self.max_context = self.hi_unit;
        let c = self.min_context;
        self.set_suffix(c, 0);
        self.set_num_stats(c, 256);
        self.set_summ_freq(c, 257);
        self.found = self.lo_unit;
        self.set_stats(c, self.lo_unit);
        for i in 0..256u32 {
            self.set_state(
                self.lo_unit + i * 6,
                State {
                    symbol: i as u8,
                    freq: 1,
                    successor: 0,
                },
            );
        }
        self.lo_unit += 128 * UNIT;
        for (i, row) in self.bin_summ.iter_mut().enumerate() {
            for (k, &esc) in INIT_BIN_ESC.iter().enumerate() {
                let v = (BIN_SCALE - u32::from(esc) / (i as u32 + 2)) as u16;
                for m in (0..64).step_by(8) {
                    row[k + m] = v;
                }
            }
        }
        for (i, row) in self.see.iter_mut().enumerate() {
            for s in row.iter_mut() {
                s.shift = (PERIOD_BITS - 4) as u8;
                s.summ = ((5 * i as u32 + 10) << s.shift) as u16;
                s.count = 4;
            }
        }
    }

    /// The state of `c` for the found state's symbol (at most 256 steps).
    fn find_symbol(&mut self, c: u32, symbol: u8) -> u32 {
        let mut s = self.stats(c);
        for _ in 0..256 {
            if self.sym(s) == symbol {
                return s;
            }
            s += 6;
        }
        self.bad = true;
        s
    }

    fn create_successors(&mut self, skip: bool) -> u32 {
        let mut c = self.min_context;
        let up_branch = self.successor(self.found);
        let mut ps = [0u32; MAX_O];
        let mut num = 0usize;
        if !skip {
            ps[num] = self.found;
            num += 1;
        }
        let fsym = self.sym(self.found);
        while self.suffix(c) != 0 {
            c = self.suffix(c);
            let s = if self.num_stats(c) != 1 {
                self.find_symbol(c, fsym)
            } else {
                Self::one_state(c)
            };
            let succ = self.successor(s);
            if succ != up_branch {
                c = succ;
                if num == 0 {
                    return c;
                }
                break;
            }
            if num >= MAX_O || self.bad {
                self.bad = true;
                return 0;
            }
            ps[num] = s;
            num += 1;
        }
        let up_sym = self.r8(up_branch);
        let up_freq = if self.num_stats(c) == 1 {
            self.freq(Self::one_state(c))
        } else {
            let s = self.find_symbol(c, up_sym);
            let cf = self.freq(s).wrapping_sub(1);
            let s0 = self
                .summ_freq(c)
                .wrapping_sub(self.num_stats(c))
                .wrapping_sub(cf);
            1u32.wrapping_add(if cf.wrapping_mul(2) <= s0 {
                u32::from(cf.wrapping_mul(5) > s0)
            } else {
                cf.wrapping_mul(2)
                    .wrapping_add(s0.wrapping_mul(3))
                    .wrapping_sub(1)
                    / s0.wrapping_mul(2).max(1)
            })
        };
        let up = State {
            symbol: up_sym,
            freq: up_freq as u8,
            successor: up_branch.wrapping_add(1),
        };
        while num != 0 {
            let c1 = if self.hi_unit != self.lo_unit {
                self.hi_unit -= UNIT;
                self.hi_unit
            } else if self.free_list[0] != 0 {
                self.remove_node(0)
            } else {
                let r = self.alloc_units_rare(0);
                if r == 0 {
                    return 0;
                }
                r
            };
            self.set_num_stats(c1, 1);
            self.set_state(Self::one_state(c1), up);
            self.set_suffix(c1, c);
            num -= 1;
            self.set_successor(ps[num], c1);
            c = c1;
        }
        c
    }

    fn update_model(&mut self) {
        let found = self.found;
        let fsym = self.sym(found);
        let ffreq = self.freq(found);
        let mut f_successor = self.successor(found);
        if ffreq < MAX_FREQ / 4 && self.suffix(self.min_context) != 0 {
            let c = self.suffix(self.min_context);
            if self.num_stats(c) == 1 {
                let s = Self::one_state(c);
                if self.freq(s) < 32 {
                    self.set_freq(s, self.freq(s) + 1);
                }
            } else {
                let mut s = self.stats(c);
                if self.sym(s) != fsym {
                    s = self.find_symbol(c, fsym);
                    if self.freq(s) >= self.freq(s - 6) {
                        self.swap_states(s, s - 6);
                        s -= 6;
                    }
                }
                if self.freq(s) < MAX_FREQ - 9 {
                    self.set_freq(s, self.freq(s) + 2);
                    self.set_summ_freq(c, self.summ_freq(c) + 2);
                }
            }
        }
        if self.order_fall == 0 {
            let c = self.create_successors(true);
            self.min_context = c;
            self.max_context = c;
            if c == 0 {
                self.restart();
                return;
            }
            self.set_successor(self.found, c);
            return;
        }
        self.w8(self.text, fsym);
        self.text += 1;
        let mut successor = self.text;
        if self.text >= self.units_start {
            self.restart();
            return;
        }
        if f_successor != 0 {
            if f_successor <= successor {
                let cs = self.create_successors(false);
                if cs == 0 {
                    self.restart();
                    return;
                }
                f_successor = cs;
            }
            self.order_fall -= 1;
            if self.order_fall == 0 {
                successor = f_successor;
                if self.max_context != self.min_context {
                    self.text -= 1;
                }
            }
        } else {
            self.set_successor(self.found, successor);
            f_successor = self.min_context;
        }
        let ns = self.num_stats(self.min_context);
        let s0 = self
            .summ_freq(self.min_context)
            .wrapping_sub(ns)
            .wrapping_sub(self.freq(self.found).wrapping_sub(1));
        let mut c = self.max_context;
        let mut guard = 0;
        while c != self.min_context {
            guard += 1;
            if guard > MAX_O + 2 || self.bad {
                self.bad = true;
                return;
            }
            let ns1 = self.num_stats(c);
            if ns1 != 1 {
                if ns1 & 1 == 0 {
                    let old_nu = ns1 >> 1;
                    let i = self.u2i(old_nu);
                    if i != self.u2i(old_nu + 1) {
                        let ptr = self.alloc_units(i + 1);
                        if ptr == 0 {
                            self.restart();
                            return;
                        }
                        let old = self.stats(c);
                        self.copy_units(ptr, old, old_nu);
                        self.insert_node(old, i);
                        self.set_stats(c, ptr);
                    }
                }
                let sf = self.summ_freq(c);
                let add =
                    u32::from(2 * ns1 < ns) + 2 * u32::from((4 * ns1 <= ns) & (sf <= 8 * ns1));
                self.set_summ_freq(c, sf + add);
            } else {
                let s = self.alloc_units(0);
                if s == 0 {
                    self.restart();
                    return;
                }
                let mut st = self.state(Self::one_state(c));
                self.set_stats(c, s);
                if u32::from(st.freq) < MAX_FREQ / 4 - 1 {
                    st.freq <<= 1;
                } else {
                    st.freq = (MAX_FREQ - 4) as u8;
                }
                self.set_state(s, st);
                self.set_summ_freq(c, u32::from(st.freq) + self.init_esc + u32::from(ns > 3));
            }
            let mut cf = 2 * self.freq(self.found) * (self.summ_freq(c) + 6);
            let sf = s0.wrapping_add(self.summ_freq(c));
            if cf < sf.wrapping_mul(6) {
                cf = 1 + u32::from(cf > sf) + u32::from(cf >= sf.wrapping_mul(4));
                self.set_summ_freq(c, self.summ_freq(c) + 3);
            } else {
                cf = 4
                    + u32::from(cf >= sf.wrapping_mul(9))
                    + u32::from(cf >= sf.wrapping_mul(12))
                    + u32::from(cf >= sf.wrapping_mul(15));
                self.set_summ_freq(c, self.summ_freq(c) + cf);
            }
            let s = self.stats(c) + ns1 * 6;
            self.set_state(
                s,
                State {
                    symbol: fsym,
                    freq: cf as u8,
                    successor,
                },
            );
            self.set_num_stats(c, ns1 + 1);
            c = self.suffix(c);
        }
        self.max_context = f_successor;
        self.min_context = f_successor;
    }

    fn rescale(&mut self) {
        let mc = self.min_context;
        let stats = self.stats(mc);
        let mut s = self.found;
        // Move the found state to the front.
        {
            let tmp = self.state(s);
            let mut guard = 0;
            while s != stats {
                guard += 1;
                if guard > 256 || s < stats {
                    self.bad = true;
                    return;
                }
                let prev = self.state(s - 6);
                self.set_state(s, prev);
                s -= 6;
            }
            self.set_state(s, tmp);
        }
        let mut esc_freq = self.summ_freq(mc).wrapping_sub(self.freq(s));
        let adder = u32::from(self.order_fall != 0);
        let f = (self.freq(s) + 4 + adder) >> 1;
        self.set_freq(s, f);
        let mut sum_freq = f;
        let ns = self.num_stats(mc);
        if !(2..=256).contains(&ns) {
            self.bad = true;
            return;
        }
        let mut i = ns - 1;
        loop {
            s += 6;
            esc_freq = esc_freq.wrapping_sub(self.freq(s));
            let f = (self.freq(s) + adder) >> 1;
            self.set_freq(s, f);
            sum_freq += f;
            if f > self.freq(s - 6) {
                let tmp = self.state(s);
                let mut s1 = s;
                loop {
                    let prev = self.state(s1 - 6);
                    self.set_state(s1, prev);
                    s1 -= 6;
                    if s1 == stats || u32::from(tmp.freq) <= self.freq(s1 - 6) {
                        break;
                    }
                }
                self.set_state(s1, tmp);
            }
            i -= 1;
            if i == 0 {
                break;
            }
        }
        if self.freq(s) == 0 {
            let num_stats = ns;
            let mut i = 0u32;
            loop {
                i += 1;
                s -= 6;
                if self.freq(s) != 0 || s <= stats {
                    break;
                }
            }
            esc_freq = esc_freq.wrapping_add(i);
            let new_ns = num_stats.wrapping_sub(i);
            self.set_num_stats(mc, new_ns);
            if new_ns == 1 {
                let mut tmp = self.state(stats);
                loop {
                    tmp.freq -= tmp.freq >> 1;
                    esc_freq >>= 1;
                    if esc_freq <= 1 {
                        break;
                    }
                }
                let idx = self.u2i((num_stats + 1) >> 1);
                self.insert_node(stats, idx);
                self.found = Self::one_state(mc);
                self.set_state(self.found, tmp);
                return;
            }
            let n0 = (num_stats + 1) >> 1;
            let n1 = (new_ns + 1) >> 1;
            if n0 != n1 {
                let p = self.shrink_units(stats, n0, n1);
                self.set_stats(mc, p);
            }
        }
        self.set_summ_freq(
            mc,
            sum_freq.wrapping_add(esc_freq).wrapping_sub(esc_freq >> 1),
        );
        self.found = self.stats(mc);
    }

    fn make_esc_freq(&mut self, num_masked: u32) -> (SeeRef, u32) {
        let mc = self.min_context;
        let ns = self.num_stats(mc);
        let non_masked = ns.wrapping_sub(num_masked);
        if ns != 256 {
            let row = usize::from(
                self.ns2indx
                    .get((non_masked as usize).wrapping_sub(1))
                    .copied()
                    .unwrap_or(0),
            );
            let suffix_ns = self.num_stats(self.suffix(mc));
            let col = u32::from(non_masked < suffix_ns.wrapping_sub(ns))
                + 2 * u32::from(self.summ_freq(mc) < 11 * ns)
                + 4 * u32::from(num_masked > non_masked)
                + self.hi_bits_flag;
            let (row, col) = (row.min(24), (col as usize).min(15));
            let see = &mut self.see[row][col];
            let r = u32::from(see.summ >> see.shift);
            see.summ = see.summ.wrapping_sub(r as u16);
            (SeeRef::At(row, col), r + u32::from(r == 0))
        } else {
            (SeeRef::Dummy, 1)
        }
    }

    fn next_context(&mut self) {
        let c = self.successor(self.found);
        if self.order_fall == 0 && c > self.text {
            self.min_context = c;
            self.max_context = c;
        } else {
            self.update_model();
        }
    }

    fn update1(&mut self) {
        let mut s = self.found;
        self.set_freq(s, self.freq(s) + 4);
        let mc = self.min_context;
        self.set_summ_freq(mc, self.summ_freq(mc) + 4);
        if self.freq(s) > self.freq(s - 6) {
            self.swap_states(s, s - 6);
            s -= 6;
            self.found = s;
            if self.freq(s) > MAX_FREQ {
                self.rescale();
            }
        }
        self.next_context();
    }

    fn update1_0(&mut self) {
        let mc = self.min_context;
        self.prev_success = u32::from(2 * self.freq(self.found) > self.summ_freq(mc));
        self.run_length += self.prev_success as i32;
        self.set_summ_freq(mc, self.summ_freq(mc) + 4);
        let f = self.freq(self.found) + 4;
        self.set_freq(self.found, f);
        if f > MAX_FREQ {
            self.rescale();
        }
        self.next_context();
    }

    fn update_bin(&mut self) {
        let f = self.freq(self.found);
        self.set_freq(self.found, f + u32::from(f < 128));
        self.prev_success = 1;
        self.run_length += 1;
        self.next_context();
    }

    fn update2(&mut self) {
        let mc = self.min_context;
        self.set_summ_freq(mc, self.summ_freq(mc) + 4);
        let f = self.freq(self.found) + 4;
        self.set_freq(self.found, f);
        if f > MAX_FREQ {
            self.rescale();
        }
        self.run_length = self.init_rl;
        self.update_model();
    }

    /// Decode one symbol; `None` at the end of the model's data or on corrupt data.
    pub(crate) fn decode_symbol(
        &mut self,
        rc: &mut RangeDecoder,
        input: &mut dyn RangeDecoderInput,
    ) -> Option<u8> {
        let r = self.decode_inner(rc, input);
        if self.bad {
            return None;
        }
        r
    }

    fn decode_inner(
        &mut self,
        rc: &mut RangeDecoder,
        input: &mut dyn RangeDecoderInput,
    ) -> Option<u8> {
        let mut mask = [true; 256];
        let mc = self.min_context;
        let ns = self.num_stats(mc);
        if ns != 1 {
            if ns > 256 || ns == 0 {
                self.bad = true;
                return None;
            }
            let mut s = self.stats(mc);
            let summ = self.summ_freq(mc);
            let count = rc.threshold(summ);
            let mut hi = self.freq(s);
            if count < hi {
                rc.decode(0, hi, input);
                self.found = s;
                let sym = self.sym(s);
                self.update1_0();
                return Some(sym);
            }
            self.prev_success = 0;
            for _ in 1..ns {
                s += 6;
                hi += self.freq(s);
                if hi > count {
                    let f = self.freq(s);
                    rc.decode(hi - f, f, input);
                    self.found = s;
                    let sym = self.sym(s);
                    self.update1();
                    return Some(sym);
                }
            }
            if count >= summ {
                return None;
            }
            self.hi_bits_flag = u32::from(self.hb2flag[usize::from(self.sym(self.found))]);
            rc.decode(hi, summ - hi, input);
            for _ in 0..ns {
                mask[usize::from(self.sym(s))] = false;
                s = s.wrapping_sub(6);
            }
        } else {
            let one = Self::one_state(mc);
            let freq = self.freq(one) as usize;
            let suffix_ns = self.num_stats(self.suffix(mc)) as usize;
            self.hi_bits_flag = u32::from(self.hb2flag[usize::from(self.sym(self.found))]);
            let col = self.prev_success as usize
                + usize::from(
                    self.ns2bsindx
                        .get(suffix_ns.wrapping_sub(1))
                        .copied()
                        .unwrap_or(0),
                )
                + self.hi_bits_flag as usize
                + 2 * usize::from(self.hb2flag[usize::from(self.sym(one))])
                + ((self.run_length >> 26) & 0x20) as usize;
            let (row, col) = (freq.wrapping_sub(1).min(127), col.min(63));
            let prob = u32::from(self.bin_summ[row][col]);
            if rc.bit(prob, input) == 0 {
                self.bin_summ[row][col] = (prob + (1 << INT_BITS) - mean(prob)) as u16;
                self.found = one;
                let sym = self.sym(one);
                self.update_bin();
                return Some(sym);
            }
            let prob = prob - mean(prob);
            self.bin_summ[row][col] = prob as u16;
            self.init_esc = u32::from(EXP_ESCAPE[(prob >> 10) as usize & 15]);
            mask[usize::from(self.sym(one))] = false;
            self.prev_success = 0;
        }
        let mut ps = [0u32; 256];
        for _ in 0..MAX_O * 4 {
            let num_masked = self.num_stats(self.min_context);
            let mut guard = 0;
            loop {
                self.order_fall += 1;
                let suffix = self.suffix(self.min_context);
                if suffix == 0 {
                    return None;
                }
                self.min_context = suffix;
                guard += 1;
                if guard > MAX_O + 2 {
                    self.bad = true;
                    return None;
                }
                if self.num_stats(suffix) != num_masked {
                    break;
                }
            }
            let mc = self.min_context;
            let ns = self.num_stats(mc);
            if ns > 256 || ns < num_masked {
                self.bad = true;
                return None;
            }
            let mut hi = 0u32;
            let mut s = self.stats(mc);
            let num = (ns - num_masked) as usize;
            let mut i = 0usize;
            let mut steps = 0;
            while i != num {
                steps += 1;
                if steps > 256 {
                    self.bad = true;
                    return None;
                }
                if mask[usize::from(self.sym(s))] {
                    hi += self.freq(s);
                    ps[i] = s;
                    i += 1;
                }
                s += 6;
            }
            let (see, esc) = self.make_esc_freq(num_masked);
            let freq_sum = esc + hi;
            let count = rc.threshold(freq_sum);
            if count < hi {
                let mut acc = 0u32;
                let mut k = 0usize;
                loop {
                    acc += self.freq(ps[k]);
                    if acc > count || k + 1 >= num {
                        break;
                    }
                    k += 1;
                }
                let s = ps[k];
                let f = self.freq(s);
                rc.decode(acc - f, f, input);
                if let SeeRef::At(r, c) = see {
                    self.see[r][c].update();
                }
                self.found = s;
                let sym = self.sym(s);
                self.update2();
                return Some(sym);
            }
            if count >= freq_sum {
                return None;
            }
            rc.decode(hi, freq_sum - hi, input);
            match see {
                SeeRef::At(r, c) => {
                    let e = &mut self.see[r][c];
                    e.summ = e.summ.wrapping_add(freq_sum as u16);
                }
                SeeRef::Dummy => {
                    self.dummy_see.summ = self.dummy_see.summ.wrapping_add(freq_sum as u16)
                }
            }
            for &p in &ps[..num] {
                mask[usize::from(self.sym(p))] = false;
            }
        }
        self.bad = true;
        None
    }
}

fn mean(prob: u32) -> u32 {
    (prob + (1 << (PERIOD_BITS - 2))) >> PERIOD_BITS
}
