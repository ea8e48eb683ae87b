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
    /// Calls seen so far.
    pub calls: Vec<Call>,
}

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
            calls: Vec::new(),
        };
        m.reset();
        m
    }

    /// Forget everything (a new function starts).
    pub fn reset(&mut self) {
        self.regs.clear();
        self.stack_bytes.clear();
        self.stack_vals.clear();
        self.regs.insert(self.abi.sp, Val::Stack(0));
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
        if v == Val::Unknown {
            self.regs.remove(&r);
        } else {
            self.regs.insert(r, v);
        }
    }

    fn add(&self, v: Val, imm: i64) -> Val {
        match v {
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
                let v = match self.get(base) {
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
            Op::Call(t) => {
                self.record_call(t, at, len);
                for &r in self.abi.caller_saved {
                    self.set(r, Val::Unknown);
                }
            }
            Op::Jump(_) => {}
            Op::Clobber(d) => self.set(d, Val::Unknown),
        }
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
        if let Val::Loaded { .. } = value {
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
        let args: Vec<Val> = self.abi.args.iter().map(|&r| self.get(r)).collect();
        let stack_strings = args
            .iter()
            .map(|v| match v {
                Val::Stack(o) => self.stack_string(*o),
                _ => None,
            })
            .collect();
        let _ = len;
        self.calls.push(Call {
            at,
            callee,
            args,
            stack_strings,
        });
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
