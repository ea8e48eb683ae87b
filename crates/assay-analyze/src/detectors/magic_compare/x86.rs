//! x86-64 and x86-32 lowering on top of `yaxpeax-x86`: `lea reg, [rip+disp]`, immediates,
//! loads and stores (including immediates stored into the frame and 16-byte copies through
//! `xmm` registers), pushes and pops, comparisons, system calls, and calls through PLT stubs
//! or the GOT. Both modes are first normalised to one small operand and opcode form, so one
//! lowering serves both; 32-bit code passes call arguments on the stack (see
//! [`Abi::stack_args`]) and finds its GOT through `__x86.get_pc_thunk.*` helpers, which the
//! lowering recognises by their four bytes.

use super::flow::{Abi, Op, Reg, Src, Target, Val};
use super::lower::{Decoded, Lower};
use std::collections::HashMap;
use yaxpeax_arch::LengthedInstruction;
use yaxpeax_x86::{long_mode as lm, protected_mode as pm};

const RSP: Reg = 4;
/// `xmm` registers are numbered from here.
const XMM: Reg = 32;

/// The System V AMD64 registers (arguments in rdi, rsi, rdx, rcx).
pub fn abi() -> Abi {
    Abi {
        args: &[7, 6, 2, 1],
        caller_saved: &[0, 1, 2, 6, 7, 8, 9, 10, 11],
        sp: RSP,
        pinned: None,
        zero: None,
        word: 8,
        big_endian: false,
        ret: 0,
        syscall_nr: 0,
        syscall_arg0: 7,
        stack_args: false,
    }
}

/// The i386 System V registers: arguments on the stack, eax/ecx/edx caller-saved.
pub fn abi32() -> Abi {
    Abi {
        args: &[],
        caller_saved: &[0, 1, 2],
        sp: RSP,
        pinned: None,
        zero: None,
        word: 4,
        big_endian: false,
        ret: 0,
        syscall_nr: 0,
        syscall_arg0: EBX,
        stack_args: true,
    }
}

/// `ebx`, which i386 PIC code and PLT stubs hold the GOT address in.
pub const EBX: Reg = 3;

/// Lowers x86-64 (`long_mode`) or x86-32 (`protected_mode`) code.
pub struct X86 {
    /// 64-bit mode.
    pub long_mode: bool,
    /// Addresses of `mov reg, [esp]; ret` helpers (`__x86.get_pc_thunk.*`) and the register
    /// each loads with its return address.
    pub pc_thunks: HashMap<u64, Reg>,
}

/// The `__x86.get_pc_thunk.*` helpers of 32-bit code: `mov reg, [esp]; ret`, found by their
/// bytes anywhere in `code` (whose first byte is at address `base`).
pub fn pc_thunks(code: &[u8], base: u64) -> HashMap<u64, Reg> {
    let mut out = HashMap::new();
    let finder = memchr::memmem::Finder::new(b"\x24\xc3");
    for pos in finder.find_iter(code) {
        let Some(start) = pos.checked_sub(2) else {
            continue;
        };
        if code.get(start) != Some(&0x8b) {
            continue;
        }
        let modrm = code.get(start + 1).copied().unwrap_or(0);
        // mod 00, rm 100 (SIB follows), reg = destination; SIB 0x24 = [esp].
        if modrm & 0xc7 == 0x04 {
            out.insert(base + start as u64, (modrm >> 3) & 7);
        }
    }
    out
}

/// A register operand: number, and whether a write zero-extends from 32 bits (the value is
/// kept) or is partial (it is lost).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Full,
    Low32,
    Partial,
}

/// A memory operand: base register (or an absolute address) and displacement.
#[derive(Clone, Copy)]
enum Mem {
    Base(Reg, i64),
    Abs(u64),
}

/// An operand of either mode, normalised.
#[derive(Clone, Copy)]
enum Opd {
    Reg(Reg, Width, u8),
    Imm(u64),
    Mem(Mem),
    /// A memory operand the lowering cannot follow (indexed).
    OtherMem,
    None,
}

/// The opcodes the lowering distinguishes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Lea,
    Mov,
    Extend,
    Xor,
    Sub,
    Add,
    And,
    Push,
    Pop,
    Call,
    Jmp,
    End,
    Cmp,
    Quiet,
    Syscall,
    Int,
    Stos,
    Other,
}

macro_rules! kind_of {
    ($m:ident, $op:expr) => {
        match $op {
            $m::Opcode::LEA => Kind::Lea,
            $m::Opcode::MOV
            | $m::Opcode::MOVDQA
            | $m::Opcode::MOVDQU
            | $m::Opcode::MOVAPS
            | $m::Opcode::MOVUPS
            | $m::Opcode::MOVQ => Kind::Mov,
            $m::Opcode::MOVZX | $m::Opcode::MOVSX => Kind::Extend,
            $m::Opcode::XOR => Kind::Xor,
            $m::Opcode::SUB => Kind::Sub,
            $m::Opcode::ADD => Kind::Add,
            $m::Opcode::AND => Kind::And,
            $m::Opcode::PUSH => Kind::Push,
            $m::Opcode::POP => Kind::Pop,
            $m::Opcode::CALL => Kind::Call,
            $m::Opcode::JMP => Kind::Jmp,
            $m::Opcode::RETURN | $m::Opcode::HLT | $m::Opcode::UD2 => Kind::End,
            $m::Opcode::CMP => Kind::Cmp,
            $m::Opcode::TEST | $m::Opcode::NOP => Kind::Quiet,
            $m::Opcode::SYSCALL | $m::Opcode::SYSENTER => Kind::Syscall,
            $m::Opcode::INT => Kind::Int,
            $m::Opcode::STOS => Kind::Stos,
            _ => Kind::Other,
        }
    };
}

fn imm_of_lm(op: &lm::Operand) -> Option<u64> {
    Some(match op {
        lm::Operand::ImmediateI8 { imm } => *imm as i64 as u64,
        lm::Operand::ImmediateU8 { imm } => u64::from(*imm),
        lm::Operand::ImmediateI16 { imm } => *imm as i64 as u64,
        lm::Operand::ImmediateU16 { imm } => u64::from(*imm),
        lm::Operand::ImmediateI32 { imm } => *imm as i64 as u64,
        lm::Operand::ImmediateU32 { imm } => u64::from(*imm),
        lm::Operand::ImmediateI64 { imm } => *imm as u64,
        lm::Operand::ImmediateU64 { imm } => *imm,
        _ => return None,
    })
}

fn reg_lm(r: lm::RegSpec) -> Option<(Reg, Width, u8)> {
    use lm::register_class as c;
    let k = r.class();
    if k == c::Q {
        Some((r.num(), Width::Full, 8))
    } else if k == c::D {
        Some((r.num(), Width::Low32, 4))
    } else if k == c::W {
        Some((r.num(), Width::Partial, 2))
    } else if k == c::B || k == c::RB {
        Some((r.num(), Width::Partial, 1))
    } else if k == c::X {
        Some((XMM + (r.num() & 31), Width::Full, 16))
    } else {
        None
    }
}

fn opd_lm(op: &lm::Operand, next: u64) -> Opd {
    if let Some(v) = imm_of_lm(op) {
        return Opd::Imm(v);
    }
    let rip = |b: &lm::RegSpec| b.class() == lm::register_class::RIP;
    match op {
        lm::Operand::Register { reg } => {
            reg_lm(*reg).map_or(Opd::None, |(r, w, n)| Opd::Reg(r, w, n))
        }
        lm::Operand::Disp { base, disp } => {
            if rip(base) {
                Opd::Mem(Mem::Abs(next.wrapping_add(*disp as i64 as u64)))
            } else {
                reg_lm(*base).map_or(Opd::OtherMem, |(r, ..)| {
                    Opd::Mem(Mem::Base(r, i64::from(*disp)))
                })
            }
        }
        lm::Operand::MemDeref { base } => {
            if rip(base) {
                Opd::Mem(Mem::Abs(next))
            } else {
                reg_lm(*base).map_or(Opd::OtherMem, |(r, ..)| Opd::Mem(Mem::Base(r, 0)))
            }
        }
        lm::Operand::AbsoluteU32 { addr } => Opd::Mem(Mem::Abs(u64::from(*addr))),
        lm::Operand::AbsoluteU64 { addr } => Opd::Mem(Mem::Abs(*addr)),
        lm::Operand::MemIndexScale { .. }
        | lm::Operand::MemIndexScaleDisp { .. }
        | lm::Operand::MemBaseIndexScale { .. }
        | lm::Operand::MemBaseIndexScaleDisp { .. } => Opd::OtherMem,
        _ => Opd::None,
    }
}

fn imm_of_pm(op: &pm::Operand) -> Option<u64> {
    Some(match op {
        pm::Operand::ImmediateI8 { imm } => *imm as i64 as u32 as u64,
        pm::Operand::ImmediateU8 { imm } => u64::from(*imm),
        pm::Operand::ImmediateI16 { imm } => *imm as i64 as u32 as u64,
        pm::Operand::ImmediateU16 { imm } => u64::from(*imm),
        pm::Operand::ImmediateI32 { imm } => *imm as u32 as u64,
        pm::Operand::ImmediateU32 { imm } => u64::from(*imm),
        _ => return None,
    })
}

fn reg_pm(r: pm::RegSpec) -> Option<(Reg, Width, u8)> {
    use pm::register_class as c;
    let k = r.class();
    if k == c::D {
        Some((r.num(), Width::Full, 4))
    } else if k == c::W {
        Some((r.num(), Width::Partial, 2))
    } else if k == c::B {
        Some((r.num(), Width::Partial, 1))
    } else if k == c::X {
        Some((XMM + (r.num() & 31), Width::Full, 16))
    } else {
        None
    }
}

fn opd_pm(op: &pm::Operand) -> Opd {
    if let Some(v) = imm_of_pm(op) {
        return Opd::Imm(v);
    }
    match op {
        pm::Operand::Register { reg } => {
            reg_pm(*reg).map_or(Opd::None, |(r, w, n)| Opd::Reg(r, w, n))
        }
        pm::Operand::Disp { base, disp } => reg_pm(*base).map_or(Opd::OtherMem, |(r, ..)| {
            Opd::Mem(Mem::Base(r, i64::from(*disp)))
        }),
        pm::Operand::MemDeref { base } => {
            reg_pm(*base).map_or(Opd::OtherMem, |(r, ..)| Opd::Mem(Mem::Base(r, 0)))
        }
        pm::Operand::AbsoluteU32 { addr } => Opd::Mem(Mem::Abs(u64::from(*addr))),
        pm::Operand::AbsoluteU16 { addr } => Opd::Mem(Mem::Abs(u64::from(*addr))),
        pm::Operand::MemIndexScale { .. }
        | pm::Operand::MemIndexScaleDisp { .. }
        | pm::Operand::MemBaseIndexScale { .. }
        | pm::Operand::MemBaseIndexScaleDisp { .. } => Opd::OtherMem,
        _ => Opd::None,
    }
}

/// One decoded instruction in normalised form.
struct Insn {
    len: u8,
    kind: Kind,
    ops: [Opd; 2],
    /// Memory access size in bytes.
    size: u8,
    /// Uses the `gs` segment (i386 `call *%gs:0x10`, the vsyscall entry).
    gs: bool,
    /// Has a `rep` prefix.
    rep: bool,
}

impl X86 {
    fn decode_insn(&self, bytes: &[u8], at: u64) -> Option<Insn> {
        let window = &bytes[..bytes.len().min(15)];
        if self.long_mode {
            let inst =
                super::arm::guarded(|| lm::InstDecoder::default().decode_slice(window).ok())?;
            let len = inst.len().to_const() as u8;
            let next = at + u64::from(len);
            let n = inst.operand_count();
            let op = |i: u8| {
                if n > i {
                    opd_lm(&inst.operand(i), next)
                } else {
                    Opd::None
                }
            };
            Some(Insn {
                len,
                kind: kind_of!(lm, inst.opcode()),
                ops: [op(0), op(1)],
                size: mem_size(inst.mem_size().and_then(|m| m.bytes_size())),
                gs: false,
                rep: inst.prefixes.rep(),
            })
        } else {
            let inst =
                super::arm::guarded(|| pm::InstDecoder::default().decode_slice(window).ok())?;
            let len = inst.len().to_const() as u8;
            let n = inst.operand_count();
            let op = |i: u8| {
                if n > i {
                    opd_pm(&inst.operand(i))
                } else {
                    Opd::None
                }
            };
            Some(Insn {
                len,
                kind: kind_of!(pm, inst.opcode()),
                ops: [op(0), op(1)],
                size: mem_size(inst.mem_size().and_then(|m| m.bytes_size())),
                gs: inst.prefixes.gs(),
                rep: inst.prefixes.rep(),
            })
        }
    }
}

fn mem_size(s: Option<u8>) -> u8 {
    s.unwrap_or(8).min(16)
}

impl Lower for X86 {
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded> {
        let insn = self.decode_insn(bytes, at)?;
        let len = insn.len;
        let next = at + u64::from(len);
        let mut d = Decoded {
            len,
            delay_slot: false,
            ends_flow: false,
        };
        let word_size: u8 = if self.long_mode { 8 } else { 4 };
        let size = if self.long_mode {
            insn.size
        } else {
            insn.size.min(16)
        };
        let [o0, o1] = insn.ops;
        let dst = match o0 {
            Opd::Reg(r, w, _) => Some((r, if self.long_mode { w } else { fix32(w) })),
            _ => None,
        };
        let write = |ops: &mut Vec<Op>, r: Reg, w: Width, op: Op| match w {
            Width::Partial => ops.push(Op::Clobber(r)),
            Width::Low32 => {
                ops.push(op);
                ops.push(Op::Trunc32(r));
            }
            Width::Full => ops.push(op),
        };
        match insn.kind {
            Kind::Lea => match (dst, o1) {
                (Some((r, w)), Opd::Mem(Mem::Abs(a))) => {
                    write(ops, r, w, Op::Set(r, Val::Const(a)))
                }
                (Some((r, w)), Opd::Mem(Mem::Base(b, off))) => {
                    write(ops, r, w, Op::AddImm(r, b, off))
                }
                (Some((r, _)), _) => ops.push(Op::Clobber(r)),
                _ => {}
            },
            Kind::Mov => match (dst, o0, o1) {
                (Some((r, w)), _, Opd::Imm(v)) => write(ops, r, w, Op::Set(r, Val::Const(v))),
                (Some((r, w)), _, Opd::Reg(s, ..)) => write(ops, r, w, Op::Mov(r, s)),
                (Some((r, w)), _, Opd::Mem(Mem::Abs(a))) => {
                    write(ops, r, w, Op::LoadAbs(r, a, size))
                }
                (Some((r, w)), _, Opd::Mem(Mem::Base(b, off))) => {
                    write(ops, r, w, Op::Load(r, b, off, size))
                }
                (Some((r, _)), ..) => ops.push(Op::Clobber(r)),
                (None, Opd::Mem(Mem::Base(b, off)), src) => {
                    let src = match src {
                        Opd::Imm(v) => Some(Src::Imm(v)),
                        Opd::Reg(s, ..) => Some(Src::Reg(s)),
                        _ => None,
                    };
                    if let Some(src) = src {
                        ops.push(Op::Store(src, b, off, size));
                    }
                }
                _ => {}
            },
            Kind::Extend => match (dst, o1) {
                // A zero- or sign-extending load keeps what the bytes are (received input).
                (Some((r, _)), Opd::Mem(Mem::Base(b, off))) => {
                    ops.push(Op::Load(r, b, off, size.min(4)))
                }
                (Some((r, _)), _) => ops.push(Op::Clobber(r)),
                _ => {}
            },
            Kind::Xor | Kind::Sub => {
                if let (Some((r, w)), Opd::Reg(s, ..)) = (dst, o1) {
                    if s == r {
                        write(ops, r, w, Op::Set(r, Val::Const(0)));
                        return Some(d);
                    }
                }
                if insn.kind == Kind::Sub {
                    if let (Some((r, w)), Opd::Imm(v)) = (dst, o1) {
                        write(ops, r, w, Op::AddImm(r, r, (v as i64).wrapping_neg()));
                        return Some(d);
                    }
                }
                if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
            Kind::Add => match (dst, o1) {
                (Some((r, w)), Opd::Imm(v)) => {
                    write(ops, r, w, Op::AddImm(r, r, imm_signed(v, self.long_mode)))
                }
                (Some((r, w)), Opd::Reg(s, ..)) => write(ops, r, w, Op::AddReg(r, r, s)),
                (Some((r, _)), _) => ops.push(Op::Clobber(r)),
                _ => {}
            },
            Kind::And => {
                // `and esp, -16` aligns the frame: offsets stay relative to the same base.
                if let Some((r, _)) = dst {
                    if r != RSP {
                        ops.push(Op::Clobber(r));
                    }
                }
            }
            Kind::Push => {
                ops.push(Op::AddImm(RSP, RSP, -i64::from(word_size)));
                let src = match o0 {
                    Opd::Imm(v) => Some(Src::Imm(v)),
                    Opd::Reg(r, ..) => Some(Src::Reg(r)),
                    _ => None,
                };
                match (src, o0) {
                    (Some(src), _) => ops.push(Op::Store(src, RSP, 0, word_size)),
                    (None, Opd::Mem(Mem::Base(b, off))) => {
                        // push [mem]: copy through a scratch register.
                        ops.push(Op::Load(XMM - 1, b, off + i64::from(word_size), word_size));
                        ops.push(Op::Store(Src::Reg(XMM - 1), RSP, 0, word_size));
                    }
                    (None, Opd::Mem(Mem::Abs(a))) => {
                        ops.push(Op::LoadAbs(XMM - 1, a, word_size));
                        ops.push(Op::Store(Src::Reg(XMM - 1), RSP, 0, word_size));
                    }
                    _ => {
                        ops.push(Op::Clobber(XMM - 1));
                        ops.push(Op::Store(Src::Reg(XMM - 1), RSP, 0, word_size));
                    }
                }
            }
            Kind::Pop => {
                if let Some((r, _)) = dst {
                    ops.push(Op::Load(r, RSP, 0, word_size));
                }
                ops.push(Op::AddImm(RSP, RSP, i64::from(word_size)));
            }
            Kind::Call => {
                if insn.gs && !self.long_mode {
                    // i386 `call *%gs:0x10`: the kernel's system call entry.
                    ops.push(Op::Syscall);
                    return Some(d);
                }
                let target = match o0 {
                    Opd::Imm(v) => {
                        let t = if self.long_mode {
                            next.wrapping_add(v)
                        } else {
                            next.wrapping_add(v) & 0xffff_ffff
                        };
                        if let Some(&r) = self.pc_thunks.get(&t) {
                            ops.push(Op::Set(r, Val::Const(next)));
                            return Some(d);
                        }
                        Some(Target::Addr(t))
                    }
                    Opd::Reg(r, ..) => Some(Target::Reg(r)),
                    Opd::Mem(Mem::Abs(a)) => Some(Target::Mem(a)),
                    Opd::Mem(Mem::Base(b, off)) => {
                        // call [ebx+disp] (i386 PIC calls through the GOT).
                        ops.push(Op::Load(XMM - 1, b, off, word_size));
                        Some(Target::Reg(XMM - 1))
                    }
                    _ => None,
                };
                ops.push(Op::Call(target.unwrap_or(Target::Addr(0))));
            }
            Kind::Jmp => {
                match o0 {
                    Opd::Mem(Mem::Abs(a)) => ops.push(Op::Jump(Target::Mem(a))),
                    Opd::Mem(Mem::Base(b, off)) => {
                        ops.push(Op::Load(XMM - 1, b, off, word_size));
                        ops.push(Op::Jump(Target::Reg(XMM - 1)));
                    }
                    Opd::Reg(r, ..) => ops.push(Op::Jump(Target::Reg(r))),
                    _ => {}
                }
                d.ends_flow = true;
            }
            Kind::End => d.ends_flow = true,
            Kind::Cmp => match (o0, o1) {
                (Opd::Reg(r, ..), Opd::Imm(v)) => ops.push(Op::CmpImm(r, v, size_of_reg(o0, size))),
                (Opd::Reg(a, ..), Opd::Reg(b, ..)) => ops.push(Op::CmpReg(a, b)),
                (Opd::Mem(Mem::Base(b, off)), Opd::Imm(v)) => {
                    ops.push(Op::CmpMem(b, off, size.min(8), v))
                }
                _ => {}
            },
            Kind::Quiet => {}
            Kind::Syscall => ops.push(Op::Syscall),
            Kind::Stos => {
                // rep stos: fill rcx units of the accumulator's low bytes at rdi.
                if insn.rep {
                    ops.push(Op::Fill(7, 1, 0, size.clamp(1, 8)));
                }
                ops.push(Op::Clobber(7));
                ops.push(Op::Clobber(1));
            }
            Kind::Int => {
                if matches!(o0, Opd::Imm(0x80)) {
                    ops.push(Op::Syscall);
                }
            }
            Kind::Other => {
                // Instructions that write their first register operand.
                if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
        }
        Some(d)
    }

    fn min_len(&self) -> usize {
        1
    }
}

/// 32-bit registers are full-width in protected mode.
fn fix32(w: Width) -> Width {
    match w {
        Width::Low32 => Width::Full,
        other => other,
    }
}

/// An immediate added to a register, as a signed amount.
fn imm_signed(v: u64, long_mode: bool) -> i64 {
    if long_mode {
        v as i64
    } else {
        v as u32 as i32 as i64
    }
}

/// The width of a compared operand: a register's size, or the memory size.
fn size_of_reg(o: Opd, mem: u8) -> u8 {
    match o {
        Opd::Reg(_, _, n) => n.min(8),
        _ => mem,
    }
}
