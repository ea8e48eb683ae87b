//! A tiny abstract machine shared by every architecture: each decoder lowers an instruction to
//! a few [`Op`]s, and this module tracks what registers and stack bytes hold (constants,
//! addresses of literals, stack addresses) in one forward pass over a function, recording
//! every call with the values of its argument registers.
//!
//! The pass is linear and path-insensitive on purpose: constant arguments are loaded right
//! before their call, and strings built on the stack are stored before the call that reads
//! them, so following the bytes in address order recovers both at a fraction of the cost of
//! a control-flow graph.

use super::image::Image;
use std::collections::HashMap;

/// A register number, in the lowering architecture's own numbering.
pub type Reg = u8;

/// What a register holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    /// Nothing known.
    Unknown,
    /// A constant (an immediate or an address).
    Const(u64),
    /// A word loaded from a fixed address (a GOT slot, a literal pool): where and what.
    Loaded {
        /// Address it was read from.
        from: u64,
        /// The value read.
        value: u64,
    },
    /// An address inside the current stack frame, as an offset from the frame's entry `sp`.
    Stack(i64),
    /// A pointer into bytes received from the network (offset unknown).
    Received,
    /// A value read from bytes received from the network, and the width of the read.
    Input(u8),
    /// Up to 16 bytes copied from a fixed address into a vector register.
    Block {
        /// Address of the bytes.
        from: u64,
        /// How many.
        len: u8,
    },
}

impl Val {
    /// The numeric value, when known.
    pub fn value(self) -> Option<u64> {
        match self {
            Val::Const(v) | Val::Loaded { value: v, .. } => Some(v),
            _ => None,
        }
    }
}

/// Where a call or jump goes.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// A fixed address.
    Addr(u64),
    /// The address in a register.
    Reg(Reg),
    /// The word stored at a fixed address.
    Mem(u64),
}

/// The source of a store.
#[derive(Debug, Clone, Copy)]
pub enum Src {
    /// A register.
    Reg(Reg),
    /// An immediate.
    Imm(u64),
}

/// One step of an instruction's effect.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// `dst = value`.
    Set(Reg, Val),
    /// `dst = src`.
    Mov(Reg, Reg),
    /// `dst = src + imm`.
    AddImm(Reg, Reg, i64),
    /// `dst = a + b`.
    AddReg(Reg, Reg, Reg),
    /// `dst = src | imm`.
    OrImm(Reg, Reg, u64),
    /// `dst = (dst & !(0xffff << shift)) | imm << shift` (`movk`, `movt`).
    Insert16(Reg, u64, u8),
    /// `dst = size bytes at base + off`.
    Load(Reg, Reg, i64, u8),
    /// `dst = size bytes at a fixed address`.
    LoadAbs(Reg, u64, u8),
    /// `size bytes at base + off = src`.
    Store(Src, Reg, i64, u8),
    /// A call.
    Call(Target),
    /// An indirect jump (a stub's or a tail call's).
    Jump(Target),
    /// `dst` now holds something unknown.
    Clobber(Reg),
    /// Limit a register to its low 32 bits (32-bit writes on 64-bit machines).
    Trunc32(Reg),
    /// A system call (`syscall`, `svc 0`, `int 0x80`); its number is in the ABI's register.
    Syscall,
    /// Compare a register with an immediate of `size` bytes.
    CmpImm(Reg, u64, u8),
    /// Compare two registers (one may hold a constant).
    CmpReg(Reg, Reg),
    /// Compare `size` bytes at `base + off` with an immediate.
    CmpMem(Reg, i64, u8, u64),
    /// Store register `value`'s low `unit` bytes `count` times from the address in `dst`
    /// (x86 `rep stos`).
    Fill(Reg, Reg, Reg, u8),
}

/// What a register file looks like for one architecture.
#[derive(Debug, Clone)]
pub struct Abi {
    /// Argument registers, in order.
    pub args: &'static [Reg],
    /// Registers a call may change.
    pub caller_saved: &'static [Reg],
    /// The stack pointer.
    pub sp: Reg,
    /// A register whose value never changes (MIPS `$gp`), with that value.
    pub pinned: Option<(Reg, u64)>,
    /// A register that always reads zero.
    pub zero: Option<Reg>,
    /// Address size in bytes.
    pub word: u8,
    /// Big-endian memory.
    pub big_endian: bool,
    /// The register a function returns its value in.
    pub ret: Reg,
    /// The register holding a system call's number.
    pub syscall_nr: Reg,
    /// The register holding a system call's first argument.
    pub syscall_arg0: Reg,
    /// Arguments are passed on the stack (x86-32 cdecl), not in [`Abi::args`].
    pub stack_args: bool,
}

/// A call the pass saw, with what its argument registers held.
#[derive(Debug, Clone)]
pub struct Call {
    /// Address of the call instruction.
    pub at: u64,
    /// Where it goes, resolved as far as the values allow.
    pub callee: Callee,
    /// The values of the first argument registers.
    pub args: Vec<Val>,
    /// The strings the stack-address arguments point to (built by stores), per argument.
    pub stack_strings: Vec<Option<StackString>>,
    /// Per argument: whether it points into bytes received from the network (only when the
    /// machine tracks input).
    pub received: Vec<bool>,
    /// For calls that take a socket address as their second argument (`bind`): the first
    /// 16 bytes it points to, where the pass knows them, with the instruction that wrote each.
    pub sockaddr: Option<Vec<Option<(u8, u64)>>>,
    /// Where the call's return lands in the caller (the next instruction).
    pub next: u64,
}

/// Functions whose second argument is a socket address worth capturing.
pub const SOCKADDR_TAKERS: &[&str] = &["bind", "__bind"];

/// A system call the pass saw.
#[derive(Debug, Clone, Copy)]
pub struct Syscall {
    /// The call number, when the register held a constant.
    pub nr: Option<u64>,
    /// The first argument, when constant (the i386 `socketcall` sub-call).
    pub arg0: Option<u64>,
}

/// A value read from received bytes compared inline with a constant (`cmp eax, 0x…`).
#[derive(Debug, Clone, Copy)]
pub struct InlineCompare {
    /// Address of the comparing instruction.
    pub at: u64,
    /// The constant.
    pub value: u64,
    /// Width of the compared value in bytes.
    pub size: u8,
}

/// A string the code wrote into its stack frame.
#[derive(Debug, Clone)]
pub struct StackString {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The addresses of the first and last instruction that wrote it.
    pub written: (u64, u64),
}

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callee {
    /// An imported or named function.
    Named(String),
    /// A local function by address.
    Local(u64),
    /// Not known.
    Unknown,
}

/// One byte of the stack frame that a store wrote, and the instruction that wrote it.
#[derive(Debug, Clone, Copy)]
struct StackByte {
    value: u8,
    at: u64,
}

/// The register and stack state during a pass.
pub struct Machine<'i, 'a> {
    image: &'i Image<'a>,
    abi: &'i Abi,
    regs: HashMap<Reg, Val>,
    stack_bytes: HashMap<i64, StackByte>,
    stack_vals: HashMap<i64, Val>,
    names: Option<&'i HashMap<u64, String>>,
    watch: Option<&'i std::collections::HashSet<u64>>,
    /// Watched addresses that a register or store received.
    pub watched: Vec<u64>,
    track_input: bool,
    received: Vec<(i64, i64)>,
    received_abs: Vec<(u64, u64)>,
    /// Calls seen so far.
    pub calls: Vec<Call>,
    /// System calls seen so far.
    pub syscalls: Vec<Syscall>,
    /// Inline comparisons of received values with constants seen so far.
    pub compares: Vec<InlineCompare>,
}

/// Functions that fill a buffer with bytes from a descriptor or socket, with the index of
/// the buffer argument and of the length argument.
pub const RECEIVERS: &[(&str, usize, usize)] = &[
    ("recv", 1, 2),
    ("recvfrom", 1, 2),
    ("__recv_chk", 1, 3),
    ("__recvfrom_chk", 1, 3),
    ("read", 1, 2),
    ("__read_chk", 1, 3),
    ("__libc_read", 1, 2),
    ("__libc_recv", 1, 2),
    ("__libc_recvfrom", 1, 2),
];

/// Largest received region tracked when the length is not a constant.
const DEFAULT_RECEIVE: i64 = 4096;

/// Most bytes a stack string may have.
const MAX_STACK_STRING: usize = 128;

impl<'i, 'a> Machine<'i, 'a> {
    /// A machine at a function's entry: `sp` is the frame's base, the rest unknown.
    pub fn new(image: &'i Image<'a>, abi: &'i Abi) -> Self {
        let mut m = Machine {
            image,
            abi,
            regs: HashMap::new(),
            stack_bytes: HashMap::new(),
            stack_vals: HashMap::new(),
            names: None,
            watch: None,
            watched: Vec::new(),
            track_input: false,
            received: Vec::new(),
            received_abs: Vec::new(),
            calls: Vec::new(),
            syscalls: Vec::new(),
            compares: Vec::new(),
        };
        m.reset();
        m
    }

    /// Name local call targets from `names` as the calls are seen (import stubs, library
    /// functions recognised in static programs), so that their effects (memset, htons, a
    /// receive into a buffer) are applied during the pass.
    pub fn with_names(mut self, names: &'i HashMap<u64, String>) -> Self {
        self.names = Some(names);
        self
    }

    /// Note every time a register or a store receives one of the `addresses` (the strings
    /// that identify library functions of a static program).
    pub fn watching(mut self, addresses: &'i std::collections::HashSet<u64>) -> Self {
        self.watch = Some(addresses);
        self
    }

    /// Seed stack slot `off` (relative to the entry stack pointer) with `v`: an argument
    /// passed on the stack.
    pub fn seed_stack(&mut self, off: i64, v: Val) {
        self.stack_vals.insert(off, v);
    }

    /// Track which bytes were received from the network and which values were read from
    /// them.
    pub fn tracking_input(mut self) -> Self {
        self.track_input = true;
        self
    }

    /// Seed register `r` with `v` (a callee's argument known from its caller).
    pub fn seed(&mut self, r: Reg, v: Val) {
        self.set(r, v);
    }

    /// Forget everything (a new function starts).
    pub fn reset(&mut self) {
        self.regs.clear();
        self.stack_bytes.clear();
        self.stack_vals.clear();
        self.received.clear();
        self.received_abs.clear();
        self.regs.insert(self.abi.sp, Val::Stack(0));
    }

    /// Whether `v` points into bytes received from the network.
    pub fn points_to_received(&self, v: Val) -> bool {
        match v {
            Val::Received => true,
            Val::Stack(o) => self.received.iter().any(|&(s, e)| o >= s && o < e),
            Val::Const(a) => self.received_abs.iter().any(|&(s, e)| a >= s && a < e),
            _ => false,
        }
    }

    /// What register `r` holds.
    pub fn get(&self, r: Reg) -> Val {
        if let Some((p, v)) = self.abi.pinned {
            if p == r {
                return Val::Const(v);
            }
        }
        if Some(r) == self.abi.zero {
            return Val::Const(0);
        }
        self.regs.get(&r).copied().unwrap_or(Val::Unknown)
    }

    fn set(&mut self, r: Reg, v: Val) {
        if Some(r) == self.abi.zero || self.abi.pinned.is_some_and(|(p, _)| p == r) {
            return;
        }
        let v = match v {
            Val::Const(c) if self.abi.word == 4 => Val::Const(c & 0xffff_ffff),
            other => other,
        };
        if let (Some(w), Val::Const(c)) = (self.watch, v) {
            if w.contains(&c) {
                self.watched.push(c);
            }
        }
        if v == Val::Unknown {
            self.regs.remove(&r);
        } else {
            self.regs.insert(r, v);
        }
    }

    fn add(&self, v: Val, imm: i64) -> Val {
        match v {
            Val::Received => Val::Received,
            Val::Const(c) => Val::Const(c.wrapping_add(imm as u64)),
            Val::Loaded { value, .. } => Val::Const(value.wrapping_add(imm as u64)),
            Val::Stack(o) => Val::Stack(o.wrapping_add(imm)),
            _ => Val::Unknown,
        }
    }

    /// Apply one instruction's ops; `at` and `len` locate the instruction.
    pub fn apply(&mut self, ops: &[Op], at: u64, len: u8) {
        for op in ops {
            self.step(*op, at, len);
        }
    }

    fn step(&mut self, op: Op, at: u64, len: u8) {
        match op {
            Op::Set(d, v) => self.set(d, v),
            Op::Mov(d, s) => {
                let v = self.get(s);
                self.set(d, v)
            }
            Op::AddImm(d, s, imm) => {
                let v = self.add(self.get(s), imm);
                self.set(d, v)
            }
            Op::AddReg(d, a, b) => {
                let (va, vb) = (self.get(a), self.get(b));
                let v = match (va, vb) {
                    (Val::Received, _) | (_, Val::Received) => Val::Received,
                    (Val::Stack(o), x) | (x, Val::Stack(o)) => match x.value() {
                        Some(c) => Val::Stack(o.wrapping_add(c as i64)),
                        None => Val::Unknown,
                    },
                    (x, y) => match (x.value(), y.value()) {
                        (Some(p), Some(q)) => Val::Const(p.wrapping_add(q)),
                        _ => Val::Unknown,
                    },
                };
                self.set(d, v)
            }
            Op::OrImm(d, s, imm) => {
                let v = match self.get(s).value() {
                    Some(c) => Val::Const(c | imm),
                    None => Val::Unknown,
                };
                self.set(d, v)
            }
            Op::Insert16(d, imm, shift) => {
                let shift = u32::from(shift.min(48));
                let old = self.get(d).value().unwrap_or(0);
                let v = (old & !(0xffff << shift)) | ((imm & 0xffff) << shift);
                self.set(d, Val::Const(v))
            }
            Op::Trunc32(d) => {
                if let Some(c) = self.get(d).value() {
                    self.set(d, Val::Const(c & 0xffff_ffff));
                }
            }
            Op::Load(d, base, off, size) => {
                let b = self.get(base);
                if self.track_input && self.points_to_received(self.add(b, off)) {
                    self.set(d, Val::Input(size));
                    return;
                }
                let v = match b {
                    Val::Stack(o) => self.load_stack(o.wrapping_add(off), size),
                    b => match b.value() {
                        Some(addr) => self.load_abs(addr.wrapping_add(off as u64), size),
                        None => Val::Unknown,
                    },
                };
                self.set(d, v)
            }
            Op::LoadAbs(d, addr, size) => {
                let v = self.load_abs(addr, size);
                self.set(d, v)
            }
            Op::Store(src, base, off, size) => {
                if let Val::Stack(o) = self.get(base) {
                    let value = match src {
                        Src::Reg(r) => self.get(r),
                        Src::Imm(i) => Val::Const(i),
                    };
                    self.store_stack(o.wrapping_add(off), size, value, at);
                }
            }
            Op::Call(t) => self.record_call(t, at, len),
            Op::Jump(_) => {}
            Op::Clobber(d) => self.set(d, Val::Unknown),
            Op::Syscall => {
                let nr = self.get(self.abi.syscall_nr).value();
                let arg0 = self.get(self.abi.syscall_arg0).value();
                self.syscalls.push(Syscall { nr, arg0 });
                self.set(self.abi.ret, Val::Unknown);
            }
            Op::CmpImm(r, imm, size) => {
                if let Val::Input(w) = self.get(r) {
                    self.note_compare(at, imm, size.min(w));
                }
            }
            Op::CmpReg(a, b) => match (self.get(a), self.get(b)) {
                (Val::Input(w), other) | (other, Val::Input(w)) => {
                    if let Some(c) = other.value() {
                        self.note_compare(at, c, w);
                    }
                }
                _ => {}
            },
            Op::Fill(dst, count, value, unit) => {
                if let (Val::Stack(o), Some(n), Some(v)) = (
                    self.get(dst),
                    self.get(count).value(),
                    self.get(value).value(),
                ) {
                    let total = n.saturating_mul(u64::from(unit));
                    if total <= 512 {
                        for i in 0..n as i64 {
                            let off = o.wrapping_add(i * i64::from(unit));
                            self.store_stack(off, unit, Val::Const(v), at);
                        }
                    }
                }
            }
            Op::CmpMem(base, off, size, imm) => {
                if self.track_input && self.points_to_received(self.add(self.get(base), off)) {
                    self.note_compare(at, imm, size);
                }
            }
        }
    }

    fn note_compare(&mut self, at: u64, value: u64, size: u8) {
        let size = size.clamp(1, 8);
        let mask = if size >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * u32::from(size))) - 1
        };
        self.compares.push(InlineCompare {
            at,
            value: value & mask,
            size,
        });
    }

    fn load_abs(&self, addr: u64, size: u8) -> Val {
        if size > 8 {
            return Val::Block {
                from: addr,
                len: size.min(16),
            };
        }
        match self.image.word_at(addr, size) {
            Some(value) => Val::Loaded { from: addr, value },
            None => Val::Unknown,
        }
    }

    fn load_stack(&self, off: i64, size: u8) -> Val {
        if let Some(v) = self.stack_vals.get(&off) {
            return *v;
        }
        if size == 0 || size > 8 {
            return Val::Unknown;
        }
        let mut v = 0u64;
        for i in 0..i64::from(size) {
            let idx = if self.abi.big_endian {
                i
            } else {
                i64::from(size) - 1 - i
            };
            match self.stack_bytes.get(&off.wrapping_add(idx)) {
                Some(b) => v = (v << 8) | u64::from(b.value),
                None => return Val::Unknown,
            }
        }
        Val::Const(v)
    }

    fn store_stack(&mut self, off: i64, size: u8, value: Val, at: u64) {
        let size = size.min(16);
        for i in 0..i64::from(size) {
            self.stack_bytes.remove(&off.wrapping_add(i));
            self.stack_vals.remove(&off.wrapping_add(i));
        }
        if matches!(value, Val::Loaded { .. } | Val::Received | Val::Input(_)) {
            self.stack_vals.insert(off, value);
        }
        let bytes: Option<Vec<u8>> = match value {
            Val::Const(c) | Val::Loaded { value: c, .. } if size <= 8 => Some(
                (0..size)
                    .map(|i| {
                        let shift = if self.abi.big_endian {
                            8 * u32::from(size - 1 - i)
                        } else {
                            8 * u32::from(i)
                        };
                        (c >> shift) as u8
                    })
                    .collect(),
            ),
            Val::Block { from, len } => self
                .image
                .bytes_at(from, usize::from(len.min(size)))
                .map(<[u8]>::to_vec),
            _ => None,
        };
        match bytes {
            Some(bytes) => {
                for (i, b) in bytes.into_iter().enumerate() {
                    self.stack_bytes
                        .insert(off.wrapping_add(i as i64), StackByte { value: b, at });
                }
            }
            None if matches!(value, Val::Stack(_)) => {
                self.stack_vals.insert(off, value);
            }
            None => {}
        }
    }

    /// The string built at stack offset `off`: printable bytes up to a NUL.
    fn stack_string(&self, off: i64) -> Option<StackString> {
        let mut bytes = Vec::new();
        let (mut first, mut last) = (u64::MAX, 0u64);
        let mut terminated = false;
        for i in 0..MAX_STACK_STRING as i64 {
            let Some(b) = self.stack_bytes.get(&off.wrapping_add(i)) else {
                break;
            };
            if b.value == 0 {
                terminated = true;
                break;
            }
            first = first.min(b.at);
            last = last.max(b.at);
            bytes.push(b.value);
        }
        let printable = bytes.iter().all(|&c| (0x20..0x7f).contains(&c));
        (printable && bytes.len() >= 4 && (terminated || bytes.len() >= 6)).then_some(StackString {
            bytes,
            written: (first, last),
        })
    }

    fn record_call(&mut self, target: Target, at: u64, len: u8) {
        let callee = match target {
            Target::Addr(a) => Callee::Local(a),
            Target::Mem(slot) => self.slot_callee(slot),
            Target::Reg(r) => match self.get(r) {
                Val::Loaded { from, value } => match self.image.slot_names.get(&from) {
                    Some(n) => Callee::Named(n.clone()),
                    None => Callee::Local(value),
                },
                Val::Const(c) => Callee::Local(c),
                _ => Callee::Unknown,
            },
        };
        let callee = match callee {
            Callee::Local(a) => match self.names.and_then(|n| n.get(&a)) {
                Some(name) => Callee::Named(name.clone()),
                None => Callee::Local(a),
            },
            other => other,
        };
        let args: Vec<Val> = self.call_args();
        let stack_strings = args
            .iter()
            .map(|v| match v {
                Val::Stack(o) => self.stack_string(*o),
                _ => None,
            })
            .collect();
        let received = args
            .iter()
            .map(|&v| self.track_input && self.points_to_received(v))
            .collect();
        let sockaddr = match (&callee, args.get(1)) {
            (Callee::Named(n), Some(&Val::Stack(o)))
                if SOCKADDR_TAKERS.contains(&super::base_name(n)) =>
            {
                Some(
                    (0..16i64)
                        .map(|i| {
                            self.stack_bytes
                                .get(&o.wrapping_add(i))
                                .map(|b| (b.value, b.at))
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        for &r in self.abi.caller_saved {
            self.set(r, Val::Unknown);
        }
        if let Callee::Named(name) = &callee {
            self.call_effects(super::base_name(name), &args, at);
        }
        self.calls.push(Call {
            at,
            callee,
            args,
            stack_strings,
            received,
            sockaddr,
            next: at.wrapping_add(u64::from(len)),
        });
    }

    /// The values of a call's first four arguments: in registers, or on the stack above the
    /// stack pointer (x86-32).
    fn call_args(&self) -> Vec<Val> {
        if !self.abi.stack_args {
            return self.abi.args.iter().map(|&r| self.get(r)).collect();
        }
        let word = i64::from(self.abi.word);
        match self.get(self.abi.sp) {
            Val::Stack(o) => (0..4)
                .map(|i| self.load_stack(o.wrapping_add(i * word), self.abi.word))
                .collect(),
            _ => vec![Val::Unknown; 4],
        }
    }

    /// What a few well-known library calls do to the state: fill a buffer, swap a port's
    /// bytes, receive bytes from the network.
    fn call_effects(&mut self, name: &str, args: &[Val], at: u64) {
        let arg = |i: usize| args.get(i).copied().unwrap_or(Val::Unknown);
        match name {
            "memset" | "bzero" | "__bzero" | "explicit_bzero" => {
                let (fill, len) = if name == "memset" {
                    (arg(1).value(), arg(2).value())
                } else {
                    (Some(0), arg(1).value())
                };
                if let (Val::Stack(o), Some(c), Some(n)) = (arg(0), fill, len) {
                    if n <= 512 {
                        for i in 0..n as i64 {
                            self.stack_vals.remove(&o.wrapping_add(i));
                            self.stack_bytes
                                .insert(o.wrapping_add(i), StackByte { value: c as u8, at });
                        }
                    }
                }
            }
            "htons" | "ntohs" | "htonl" | "ntohl" => {
                if let Some(v) = arg(0).value() {
                    let swapped = match (name, self.abi.big_endian) {
                        (_, true) => v,
                        ("htons" | "ntohs", false) => u64::from((v as u16).swap_bytes()),
                        _ => u64::from((v as u32).swap_bytes()),
                    };
                    let mask = if name.ends_with('s') {
                        0xffff
                    } else {
                        0xffff_ffff
                    };
                    self.set(self.abi.ret, Val::Const(swapped & mask));
                }
            }
            "inet_addr" => {
                if let Some(ip) = arg(0).value().and_then(|a| self.dotted_quad(a)) {
                    let v = if self.abi.big_endian {
                        u32::from_be_bytes(ip)
                    } else {
                        u32::from_le_bytes(ip)
                    };
                    self.set(self.abi.ret, Val::Const(u64::from(v)));
                }
            }
            "inet_pton" | "inet_aton" => {
                let (src, dst) = if name == "inet_pton" {
                    (arg(1), arg(2))
                } else {
                    (arg(0), arg(1))
                };
                if let (Some(ip), Val::Stack(o)) =
                    (src.value().and_then(|a| self.dotted_quad(a)), dst)
                {
                    for (i, b) in ip.into_iter().enumerate() {
                        self.stack_bytes
                            .insert(o.wrapping_add(i as i64), StackByte { value: b, at });
                    }
                }
            }
            _ => {}
        }
        if !self.track_input {
            return;
        }
        if let Some(&(_, buf, len)) = RECEIVERS.iter().find(|r| r.0 == name) {
            let n = arg(len)
                .value()
                .map_or(DEFAULT_RECEIVE, |n| (n as i64).clamp(1, 1 << 16));
            match arg(buf) {
                Val::Stack(o) => self.received.push((o, o.saturating_add(n))),
                Val::Const(a) => self.received_abs.push((a, a.saturating_add(n as u64))),
                _ => {}
            }
        }
    }

    /// The IPv4 address written as a constant string at `addr`.
    fn dotted_quad(&self, addr: u64) -> Option<[u8; 4]> {
        let (_, s) = self.image.string_at(addr)?;
        let text = std::str::from_utf8(s).ok()?;
        let ip: std::net::Ipv4Addr = text.parse().ok()?;
        Some(ip.octets())
    }

    fn slot_callee(&self, slot: u64) -> Callee {
        match self.image.slot_names.get(&slot) {
            Some(n) => Callee::Named(n.clone()),
            None => match self.image.word_at(slot, self.abi.word) {
                Some(v) if v != 0 => Callee::Local(v),
                _ => Callee::Unknown,
            },
        }
    }

    /// Where an indirect jump of a stub goes: the import's name, when its slot is known.
    pub fn jump_name(&self, target: Target) -> Option<String> {
        let slot = match target {
            Target::Mem(slot) => slot,
            Target::Reg(r) => match self.get(r) {
                Val::Loaded { from, .. } => from,
                _ => return None,
            },
            Target::Addr(_) => return None,
        };
        self.image.slot_names.get(&slot).cloned()
    }
}
