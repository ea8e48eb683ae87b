//! x86-64 lowering on top of `yaxpeax-x86`: `lea reg, [rip+disp]`, immediates, loads and
//! stores (including immediates stored into the frame and 16-byte copies through `xmm`
//! registers), pushes and pops, and calls through PLT stubs or the GOT.

use super::flow::{Abi, Op, Reg, Src, Target, Val};
use super::lower::{Decoded, Lower};
use yaxpeax_arch::LengthedInstruction;
use yaxpeax_x86::long_mode::{register_class, InstDecoder, Opcode, Operand, RegSpec};

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
    }
}

/// Lowers x86-64 code.
pub struct X86_64;

/// A general register (any width) or an xmm register: number and whether a write to it
/// zero-extends from 32 bits (then the value is kept), or is partial (then it is lost).
fn reg(r: RegSpec) -> Option<(Reg, Width)> {
    let c = r.class();
    if c == register_class::Q {
        Some((r.num(), Width::Full))
    } else if c == register_class::D {
        Some((r.num(), Width::Low32))
    } else if c == register_class::W || c == register_class::B || c == register_class::RB {
        Some((r.num(), Width::Partial))
    } else if c == register_class::X {
        Some((XMM + (r.num() & 31), Width::Full))
    } else {
        None
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Width {
    Full,
    Low32,
    Partial,
}

/// A memory operand: base register (or rip-relative absolute address) and displacement.
enum Mem {
    Base(Reg, i64),
    Abs(u64),
}

fn mem(op: &Operand, next: u64) -> Option<Mem> {
    match op {
        Operand::Disp { base, disp } => {
            if base.class() == register_class::RIP {
                Some(Mem::Abs(next.wrapping_add(*disp as i64 as u64)))
            } else {
                reg(*base).map(|(r, _)| Mem::Base(r, i64::from(*disp)))
            }
        }
        Operand::MemDeref { base } => {
            if base.class() == register_class::RIP {
                Some(Mem::Abs(next))
            } else {
                reg(*base).map(|(r, _)| Mem::Base(r, 0))
            }
        }
        Operand::AbsoluteU32 { addr } => Some(Mem::Abs(u64::from(*addr))),
        Operand::AbsoluteU64 { addr } => Some(Mem::Abs(*addr)),
        _ => None,
    }
}

fn imm(op: &Operand) -> Option<u64> {
    Some(match op {
        Operand::ImmediateI8 { imm } => *imm as i64 as u64,
        Operand::ImmediateU8 { imm } => u64::from(*imm),
        Operand::ImmediateI16 { imm } => *imm as i64 as u64,
        Operand::ImmediateU16 { imm } => u64::from(*imm),
        Operand::ImmediateI32 { imm } => *imm as i64 as u64,
        Operand::ImmediateU32 { imm } => u64::from(*imm),
        Operand::ImmediateI64 { imm } => *imm as u64,
        Operand::ImmediateU64 { imm } => *imm,
        _ => return None,
    })
}

fn is_mem(op: &Operand) -> bool {
    matches!(
        op,
        Operand::Disp { .. }
            | Operand::MemDeref { .. }
            | Operand::AbsoluteU32 { .. }
            | Operand::AbsoluteU64 { .. }
            | Operand::MemIndexScale { .. }
            | Operand::MemIndexScaleDisp { .. }
            | Operand::MemBaseIndexScale { .. }
            | Operand::MemBaseIndexScaleDisp { .. }
    )
}

impl Lower for X86_64 {
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded> {
        let window = &bytes[..bytes.len().min(15)];
        let inst = super::arm::guarded(|| InstDecoder::default().decode_slice(window).ok())?;
        let len = inst.len().to_const() as u8;
        let next = at + u64::from(len);
        let mut d = Decoded {
            len,
            delay_slot: false,
            ends_flow: false,
        };
        let n = inst.operand_count();
        let o0 = if n > 0 {
            inst.operand(0)
        } else {
            Operand::Nothing
        };
        let o1 = if n > 1 {
            inst.operand(1)
        } else {
            Operand::Nothing
        };
        let size = inst
            .mem_size()
            .and_then(|m| m.bytes_size())
            .unwrap_or(8)
            .min(16);
        let dst = match o0 {
            Operand::Register { reg: r } => reg(r),
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
        match inst.opcode() {
            Opcode::LEA => {
                if let (Some((r, w)), Some(m)) = (dst, mem(&o1, next)) {
                    let op = match m {
                        Mem::Abs(a) => Op::Set(r, Val::Const(a)),
                        Mem::Base(b, off) => Op::AddImm(r, b, off),
                    };
                    write(ops, r, w, op);
                } else if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
            Opcode::MOV
            | Opcode::MOVDQA
            | Opcode::MOVDQU
            | Opcode::MOVAPS
            | Opcode::MOVUPS
            | Opcode::MOVQ => {
                if let Some((r, w)) = dst {
                    if let Some(v) = imm(&o1) {
                        write(ops, r, w, Op::Set(r, Val::Const(v)));
                    } else if let Operand::Register { reg: s } = &o1 {
                        match reg(*s) {
                            Some((s, _)) => write(ops, r, w, Op::Mov(r, s)),
                            None => ops.push(Op::Clobber(r)),
                        }
                    } else {
                        match mem(&o1, next) {
                            Some(Mem::Abs(a)) => write(ops, r, w, Op::LoadAbs(r, a, size)),
                            Some(Mem::Base(b, off)) => write(ops, r, w, Op::Load(r, b, off, size)),
                            None => ops.push(Op::Clobber(r)),
                        }
                    }
                } else if is_mem(&o0) {
                    if let Some(Mem::Base(b, off)) = mem(&o0, next) {
                        let src = if let Some(v) = imm(&o1) {
                            Some(Src::Imm(v))
                        } else if let Operand::Register { reg: s } = &o1 {
                            reg(*s).map(|(s, _)| Src::Reg(s))
                        } else {
                            None
                        };
                        if let Some(src) = src {
                            ops.push(Op::Store(src, b, off, size));
                        }
                    }
                }
            }
            Opcode::MOVZX | Opcode::MOVSX | Opcode::MOVSXD => {
                if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
            Opcode::XOR | Opcode::SUB => {
                if let (Some((r, w)), Operand::Register { reg: s }) = (dst, &o1) {
                    if reg(*s).map(|x| x.0) == Some(r) {
                        write(ops, r, w, Op::Set(r, Val::Const(0)));
                        return Some(d);
                    }
                }
                if inst.opcode() == Opcode::SUB {
                    if let (Some((r, w)), Some(v)) = (dst, imm(&o1)) {
                        write(ops, r, w, Op::AddImm(r, r, (v as i64).wrapping_neg()));
                        return Some(d);
                    }
                }
                if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
            Opcode::ADD => {
                if let (Some((r, w)), Some(v)) = (dst, imm(&o1)) {
                    write(ops, r, w, Op::AddImm(r, r, v as i64));
                } else if let (Some((r, w)), Operand::Register { reg: s }) = (dst, &o1) {
                    match reg(*s) {
                        Some((s, _)) => write(ops, r, w, Op::AddReg(r, r, s)),
                        None => ops.push(Op::Clobber(r)),
                    }
                } else if let Some((r, _)) = dst {
                    ops.push(Op::Clobber(r));
                }
            }
            Opcode::PUSH => {
                ops.push(Op::AddImm(RSP, RSP, -8));
                let src = if let Some(v) = imm(&o0) {
                    Some(Src::Imm(v))
                } else {
                    dst.map(|(r, _)| Src::Reg(r))
                };
                if let Some(src) = src {
                    ops.push(Op::Store(src, RSP, 0, 8));
                }
            }
            Opcode::POP => {
                if let Some((r, _)) = dst {
                    ops.push(Op::Load(r, RSP, 0, 8));
                }
                ops.push(Op::AddImm(RSP, RSP, 8));
            }
            Opcode::CALL => {
                let target = if let Some(v) = imm(&o0) {
                    Some(Target::Addr(next.wrapping_add(v)))
                } else if let Some((r, _)) = dst {
                    Some(Target::Reg(r))
                } else {
                    match mem(&o0, next) {
                        Some(Mem::Abs(a)) => Some(Target::Mem(a)),
                        _ => None,
                    }
                };
                match target {
                    Some(t) => ops.push(Op::Call(t)),
                    None => ops.push(Op::Call(Target::Addr(0))),
                }
            }
            Opcode::JMP => {
                if let Some(Mem::Abs(a)) = mem(&o0, next) {
                    ops.push(Op::Jump(Target::Mem(a)));
                } else if let Some((r, _)) = dst {
                    ops.push(Op::Jump(Target::Reg(r)));
                }
                d.ends_flow = true;
            }
            Opcode::RETURN | Opcode::HLT | Opcode::UD2 => d.ends_flow = true,
            Opcode::CMP | Opcode::TEST | Opcode::NOP => {}
            _ => {
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
