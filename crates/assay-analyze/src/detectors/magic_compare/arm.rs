//! ARM (ARM and Thumb state) and AArch64 lowering on top of `yaxpeax-arm`: literal-pool
//! loads, `movw`/`movt`, `adr`, `add rX, pc`, `adrp`+`add`/`ldr`, `mov`/`movk` sequences,
//! stores to the stack and calls.

use super::flow::{Abi, Op, Reg, Src, Target, Val};
use super::lower::{Decoded, Lower};
use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv7::{self, Opcode as O7, Operand as A7};
use yaxpeax_arm::armv8::a64::{self, Opcode as O8, Operand as A8, SizeCode};

const ARM_SP: Reg = 13;
const ARM_LR: Reg = 14;
const ARM_PC: Reg = 15;
/// A scratch register for values jumped through (`ldr pc, [...]`).
const ARM_TMP: Reg = 40;

/// The AAPCS register conventions.
pub fn abi32(big_endian: bool) -> Abi {
    Abi {
        args: &[0, 1, 2, 3],
        caller_saved: &[0, 1, 2, 3, 12, 14],
        sp: ARM_SP,
        pinned: None,
        zero: None,
        word: 4,
        big_endian,
        ret: 0,
        syscall_nr: 7,
        syscall_arg0: 0,
        stack_args: false,
    }
}

const A64_SP: Reg = 31;
const A64_ZR: Reg = 32;
/// Vector registers are numbered from here.
const A64_V: Reg = 64;

/// The AArch64 procedure call standard's registers.
pub fn abi64() -> Abi {
    Abi {
        args: &[0, 1, 2, 3],
        caller_saved: &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30,
        ],
        sp: A64_SP,
        pinned: None,
        zero: Some(A64_ZR),
        word: 8,
        big_endian: false,
        ret: 0,
        syscall_nr: 8,
        syscall_arg0: 0,
        stack_args: false,
    }
}

/// Lowers 32-bit ARM code, in ARM or Thumb state.
pub struct Arm32 {
    thumb: bool,
    arm: armv7::InstDecoder,
    thumb_decoder: armv7::InstDecoder,
}

impl Arm32 {
    /// A lowering starting in Thumb state when `thumb`.
    pub fn new(thumb: bool) -> Self {
        Arm32 {
            thumb,
            arm: armv7::InstDecoder::default(),
            thumb_decoder: armv7::InstDecoder::default_thumb(),
        }
    }
}

fn reg7(op: &A7) -> Option<Reg> {
    match op {
        A7::Reg(r) => Some(r.number()),
        _ => None,
    }
}

impl Lower for Arm32 {
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded> {
        let mut reader = U8Reader::new(bytes);
        let decoder = if self.thumb {
            &self.thumb_decoder
        } else {
            &self.arm
        };
        if !self.thumb {
            // yaxpeax-arm 0.5 panics on LDRD/STRD with Rt = 15 (Rt2 would be r16); they are
            // UNPREDICTABLE encodings anyway.
            let w = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
            if w & 0x0e00_00d0 == 0x0000_00d0 && (w >> 12) & 15 == 15 {
                return None;
            }
        }
        let inst = guarded(|| decoder.decode(&mut reader).ok())?;
        let len: u8 = if self.thumb && !inst.wide { 2 } else { 4 };
        let pc = if self.thumb { at + 4 } else { at + 8 };
        let aligned_pc = pc & !3;
        let mut d = Decoded {
            len,
            delay_slot: false,
            ends_flow: false,
        };
        let o = &inst.operands;
        let dst = reg7(&o[0]);
        let value_of = |op: &A7| -> Option<Op> {
            match op {
                A7::Imm32(i) => Some(Op::Set(0, Val::Const(u64::from(*i)))),
                A7::Imm12(i) => Some(Op::Set(0, Val::Const(u64::from(*i)))),
                _ => None,
            }
        };
        match inst.opcode {
            O7::MOV => match (dst, &o[1]) {
                (Some(r), A7::Reg(s)) if s.number() == ARM_PC => {
                    ops.push(Op::Set(r, Val::Const(pc)))
                }
                (Some(r), A7::Reg(s)) if o[2] == A7::Nothing => ops.push(Op::Mov(r, s.number())),
                (Some(r), other) => match value_of(other) {
                    Some(Op::Set(_, v)) => ops.push(Op::Set(r, v)),
                    _ => ops.push(Op::Clobber(r)),
                },
                _ => {}
            },
            O7::MOVT => {
                if let (Some(r), A7::Imm32(i)) = (dst, &o[1]) {
                    ops.push(Op::Insert16(r, u64::from(*i), 16));
                }
            }
            O7::ADR => {
                if let Some(r) = dst {
                    let imm = match (&o[1], &o[2]) {
                        (A7::Imm32(i), _) | (_, A7::Imm32(i)) => u64::from(*i),
                        _ => 0,
                    };
                    let base = if self.thumb { aligned_pc } else { pc };
                    ops.push(Op::Set(r, Val::Const(base.wrapping_add(imm))));
                }
            }
            O7::ADD | O7::SUB => {
                let sign: i64 = if inst.opcode == O7::SUB { -1 } else { 1 };
                match (dst, &o[1], &o[2]) {
                    (Some(r), A7::Reg(s), A7::Imm32(i)) => {
                        if s.number() == ARM_PC {
                            let v = pc.wrapping_add((sign * i64::from(*i)) as u64);
                            ops.push(Op::Set(r, Val::Const(v)));
                        } else {
                            ops.push(Op::AddImm(r, s.number(), sign * i64::from(*i)));
                        }
                    }
                    (Some(r), A7::Reg(a), A7::Reg(b)) if sign == 1 => {
                        if a.number() == ARM_PC {
                            ops.push(Op::Set(ARM_TMP, Val::Const(pc)));
                            ops.push(Op::AddReg(r, ARM_TMP, b.number()));
                        } else if b.number() == ARM_PC {
                            ops.push(Op::Set(ARM_TMP, Val::Const(pc)));
                            ops.push(Op::AddReg(r, a.number(), ARM_TMP));
                        } else {
                            ops.push(Op::AddReg(r, a.number(), b.number()));
                        }
                    }
                    (Some(r), A7::Imm32(i), A7::Nothing) => {
                        // Thumb two-operand form: `sub sp, #n`, `adds r3, #1`.
                        ops.push(Op::AddImm(r, r, sign * i64::from(*i)));
                    }
                    (Some(r), A7::Imm12(i), A7::Nothing) => {
                        ops.push(Op::AddImm(r, r, sign * i64::from(*i)));
                    }
                    (Some(r), A7::Reg(s), A7::Imm12(i)) => {
                        ops.push(Op::AddImm(r, s.number(), sign * i64::from(*i)));
                    }
                    (Some(r), A7::Reg(s), A7::Nothing) if sign == 1 => {
                        // Thumb `add rd, rm`: rd += rm
                        if s.number() == ARM_PC {
                            ops.push(Op::Set(ARM_TMP, Val::Const(pc)));
                            ops.push(Op::AddReg(r, r, ARM_TMP));
                        } else {
                            ops.push(Op::AddReg(r, r, s.number()));
                        }
                    }
                    (Some(r), ..) => ops.push(Op::Clobber(r)),
                    _ => {}
                }
            }
            O7::LDR | O7::LDRB | O7::LDRH | O7::LDRSB | O7::LDRSH => {
                let size = match inst.opcode {
                    O7::LDR => 4,
                    O7::LDRH | O7::LDRSH => 2,
                    _ => 1,
                };
                if let Some(r) = dst {
                    let target = if r == ARM_PC { ARM_TMP } else { r };
                    match o[1] {
                        A7::RegDerefPreindexOffset(base, imm, add, wback) => {
                            let off = if add { i64::from(imm) } else { -i64::from(imm) };
                            if base.number() == ARM_PC {
                                let addr = aligned_pc.wrapping_add(off as u64);
                                ops.push(Op::LoadAbs(target, addr, size));
                            } else {
                                ops.push(Op::Load(target, base.number(), off, size));
                                if wback && base.number() != r {
                                    ops.push(Op::AddImm(base.number(), base.number(), off));
                                }
                            }
                        }
                        A7::RegDerefPostindexOffset(base, imm, add, _) => {
                            let off = if add { i64::from(imm) } else { -i64::from(imm) };
                            ops.push(Op::Load(target, base.number(), 0, size));
                            if base.number() != r {
                                ops.push(Op::AddImm(base.number(), base.number(), off));
                            }
                        }
                        A7::RegDeref(base) => ops.push(Op::Load(target, base.number(), 0, size)),
                        _ => ops.push(Op::Clobber(target)),
                    }
                    if r == ARM_PC {
                        ops.push(Op::Jump(Target::Reg(ARM_TMP)));
                        d.ends_flow = inst.condition == armv7::ConditionCode::AL;
                    }
                }
            }
            O7::STR | O7::STRB | O7::STRH => {
                let size = match inst.opcode {
                    O7::STR => 4,
                    O7::STRH => 2,
                    _ => 1,
                };
                if let Some(r) = dst {
                    match o[1] {
                        A7::RegDerefPreindexOffset(base, imm, add, wback) => {
                            let off = if add { i64::from(imm) } else { -i64::from(imm) };
                            ops.push(Op::Store(Src::Reg(r), base.number(), off, size));
                            if wback {
                                ops.push(Op::AddImm(base.number(), base.number(), off));
                            }
                        }
                        A7::RegDeref(base) => {
                            ops.push(Op::Store(Src::Reg(r), base.number(), 0, size))
                        }
                        A7::RegDerefPostindexOffset(base, imm, add, _) => {
                            let off = if add { i64::from(imm) } else { -i64::from(imm) };
                            ops.push(Op::Store(Src::Reg(r), base.number(), 0, size));
                            ops.push(Op::AddImm(base.number(), base.number(), off));
                        }
                        _ => {}
                    }
                }
            }
            O7::STRD => {
                let m = if matches!(o[1], A7::Reg(_)) {
                    o[2]
                } else {
                    o[1]
                };
                if let (Some(r), A7::RegDerefPreindexOffset(base, imm, add, wback)) = (dst, m) {
                    let off = if add { i64::from(imm) } else { -i64::from(imm) };
                    ops.push(Op::Store(Src::Reg(r), base.number(), off, 4));
                    ops.push(Op::Store(Src::Reg(r + 1), base.number(), off + 4, 4));
                    if wback {
                        ops.push(Op::AddImm(base.number(), base.number(), off));
                    }
                }
            }
            O7::PUSH => {
                if let A7::RegList(l) = o[0] {
                    ops.push(Op::AddImm(ARM_SP, ARM_SP, -4 * i64::from(l.count_ones())));
                }
            }
            O7::POP => {
                if let A7::RegList(l) = o[0] {
                    pop_list(l, ops, &mut d);
                }
            }
            O7::STM(..) | O7::LDM(..) => {
                let load = matches!(inst.opcode, O7::LDM(..));
                if let (A7::RegWBack(base, true), A7::RegList(l)) = (&o[0], &o[1]) {
                    let add = matches!(inst.opcode, O7::STM(true, ..) | O7::LDM(true, ..));
                    let n = 4 * i64::from(l.count_ones());
                    ops.push(Op::AddImm(
                        base.number(),
                        base.number(),
                        if add { n } else { -n },
                    ));
                }
                if load {
                    if let A7::RegList(l) = o[1] {
                        pop_list(l, ops, &mut d);
                    }
                }
            }
            O7::BL | O7::BLX => match o[0] {
                A7::BranchOffset(off) => {
                    let t = at.wrapping_add((i64::from(off) * 4) as u64);
                    ops.push(Op::Call(Target::Addr(t)));
                }
                A7::BranchThumbOffset(off) => {
                    let base = if inst.opcode == O7::BLX {
                        aligned_pc
                    } else {
                        pc
                    };
                    let t = base.wrapping_add((i64::from(off) * 2) as u64);
                    ops.push(Op::Call(Target::Addr(t)));
                }
                A7::Reg(r) => ops.push(Op::Call(Target::Reg(r.number()))),
                _ => {}
            },
            O7::BX => {
                if let A7::Reg(r) = o[0] {
                    if r.number() != ARM_LR {
                        ops.push(Op::Jump(Target::Reg(r.number())));
                    }
                    d.ends_flow = inst.condition == armv7::ConditionCode::AL;
                }
            }
            O7::CMP => match (dst, &o[1]) {
                (Some(r), A7::Imm32(i)) => ops.push(Op::CmpImm(r, u64::from(*i), 4)),
                (Some(r), A7::Imm12(i)) => ops.push(Op::CmpImm(r, u64::from(*i), 4)),
                (Some(r), A7::Reg(s)) => ops.push(Op::CmpReg(r, s.number())),
                _ => {}
            },
            O7::SVC => ops.push(Op::Syscall),
            // Thumb-1 `movs rd, rm` is `lsls rd, rm, #0`.
            O7::LSL
                if matches!(
                    (&o[1], &o[2]),
                    (A7::Reg(_), A7::Imm32(0)) | (A7::Reg(_), A7::Imm12(0))
                ) =>
            {
                if let (Some(r), A7::Reg(s)) = (dst, &o[1]) {
                    ops.push(Op::Mov(r, s.number()));
                }
            }
            O7::MVN
            | O7::AND
            | O7::EOR
            | O7::RSB
            | O7::ADC
            | O7::SBC
            | O7::RSC
            | O7::ORR
            | O7::BIC
            | O7::LSL
            | O7::LSR
            | O7::ASR
            | O7::ROR
            | O7::MUL
            | O7::MLA
            | O7::UXTB
            | O7::UXTH
            | O7::SXTB
            | O7::SXTH
            | O7::CLZ
            | O7::UBFX
            | O7::SBFX
            | O7::LDRD
            | O7::LDREX
            | O7::SDIV
            | O7::UDIV => {
                if let Some(r) = dst {
                    ops.push(Op::Clobber(r));
                    if inst.opcode == O7::LDRD {
                        ops.push(Op::Clobber(r + 1));
                    }
                }
            }
            _ => {}
        }
        Some(d)
    }

    fn min_len(&self) -> usize {
        if self.thumb {
            2
        } else {
            4
        }
    }

    fn set_thumb(&mut self, thumb: bool) {
        self.thumb = thumb;
    }
}

/// Run a third-party decoder, turning a panic on a malformed instruction into "no
/// instruction": the decoders are not meant to panic, but hostile bytes must never end a scan.
pub(super) fn guarded<T>(f: impl FnOnce() -> Option<T>) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .flatten()
}

fn pop_list(list: u16, ops: &mut Vec<Op>, d: &mut Decoded) {
    ops.push(Op::AddImm(ARM_SP, ARM_SP, 4 * i64::from(list.count_ones())));
    for r in 0..16u8 {
        if list & (1 << r) != 0 && r != ARM_SP {
            ops.push(Op::Clobber(r));
        }
    }
    if list & (1 << ARM_PC) != 0 {
        d.ends_flow = true;
    }
}

/// Lowers AArch64 code.
pub struct Arm64 {
    decoder: a64::InstDecoder,
}

impl Arm64 {
    /// A new lowering.
    pub fn new() -> Self {
        Arm64 {
            decoder: a64::InstDecoder::default(),
        }
    }
}

/// A general register operand: its number (`sp` and `xzr` told apart) and whether it is W.
fn reg8(op: &A8) -> Option<(Reg, bool)> {
    match op {
        A8::Register(size, n) => Some((
            if *n == 31 { A64_ZR } else { *n as Reg },
            *size == SizeCode::W,
        )),
        A8::RegisterOrSP(size, n) => Some((*n as Reg, *size == SizeCode::W)),
        A8::SIMDRegister(_, n) => Some((A64_V + (*n as Reg & 31), false)),
        _ => None,
    }
}

fn simd_size(op: &A8) -> Option<u8> {
    match op {
        A8::SIMDRegister(s, _) => Some(match s {
            a64::SIMDSizeCode::B => 1,
            a64::SIMDSizeCode::H => 2,
            a64::SIMDSizeCode::S => 4,
            a64::SIMDSizeCode::D => 8,
            a64::SIMDSizeCode::Q => 16,
        }),
        _ => None,
    }
}

impl Lower for Arm64 {
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded> {
        let mut reader = U8Reader::new(bytes.get(..4)?);
        let inst = guarded(|| self.decoder.decode(&mut reader).ok())?;
        let mut d = Decoded {
            len: 4,
            delay_slot: false,
            ends_flow: false,
        };
        let o = &inst.operands;
        let dst = reg8(&o[0]);
        let trunc = |ops: &mut Vec<Op>, r: Reg, w: bool| {
            if w {
                ops.push(Op::Trunc32(r));
            }
        };
        match inst.opcode {
            O8::ADRP => {
                if let (Some((r, _)), A8::PCOffset(off)) = (dst, &o[1]) {
                    let v = (at & !0xfff).wrapping_add(*off as u64);
                    ops.push(Op::Set(r, Val::Const(v)));
                }
            }
            O8::ADR => {
                if let (Some((r, _)), A8::PCOffset(off)) = (dst, &o[1]) {
                    ops.push(Op::Set(r, Val::Const(at.wrapping_add(*off as u64))));
                }
            }
            O8::ADD | O8::SUB => {
                let sign: i64 = if inst.opcode == O8::SUB { -1 } else { 1 };
                match (dst, reg8(&o[1]), &o[2]) {
                    (Some((r, w)), Some((s, _)), A8::Immediate(i)) => {
                        ops.push(Op::AddImm(r, s, sign * i64::from(*i)));
                        trunc(ops, r, w);
                    }
                    (Some((r, w)), Some((s, _)), A8::ImmShift(i, sh)) => {
                        ops.push(Op::AddImm(r, s, sign * (i64::from(*i) << sh)));
                        trunc(ops, r, w);
                    }
                    (Some((r, _)), ..) => ops.push(Op::Clobber(r)),
                    _ => {}
                }
            }
            O8::MOVZ | O8::MOVN => {
                if let (Some((r, w)), A8::ImmShift(i, sh)) = (dst, &o[1]) {
                    let mut v = u64::from(*i) << sh;
                    if inst.opcode == O8::MOVN {
                        v = !v;
                    }
                    if w {
                        v &= 0xffff_ffff;
                    }
                    ops.push(Op::Set(r, Val::Const(v)));
                }
            }
            O8::MOVK => {
                if let (Some((r, w)), A8::ImmShift(i, sh)) = (dst, &o[1]) {
                    ops.push(Op::Insert16(r, u64::from(*i), *sh));
                    trunc(ops, r, w);
                }
            }
            O8::ORR => match (dst, &o[1], &o[2]) {
                (Some((r, _)), A8::Register(_, 31), A8::RegShift(_, 0, _, m)) => {
                    let m = *m as Reg;
                    ops.push(Op::Mov(r, if m == 31 { A64_ZR } else { m }))
                }
                (Some((r, w)), A8::Register(_, 31), A8::Imm64(v)) => {
                    let v = if w { *v & 0xffff_ffff } else { *v };
                    ops.push(Op::Set(r, Val::Const(v)))
                }
                (Some((r, _)), ..) => ops.push(Op::Clobber(r)),
                _ => {}
            },
            O8::LDR | O8::LDRB | O8::LDRH | O8::LDUR | O8::LDURB | O8::LDURH | O8::LDRSW => {
                if let Some((r, w)) = dst {
                    let size = match inst.opcode {
                        O8::LDRB | O8::LDURB => 1,
                        O8::LDRH | O8::LDURH => 2,
                        O8::LDRSW => 4,
                        _ => simd_size(&o[0]).unwrap_or(if w { 4 } else { 8 }),
                    };
                    match o[1] {
                        A8::PCOffset(off) => {
                            ops.push(Op::LoadAbs(r, at.wrapping_add(off as u64), size))
                        }
                        A8::RegPreIndex(b, off, wback) => {
                            ops.push(Op::Load(r, b as Reg, i64::from(off), size));
                            if wback {
                                ops.push(Op::AddImm(b as Reg, b as Reg, i64::from(off)));
                            }
                        }
                        A8::RegPostIndex(b, off) => {
                            ops.push(Op::Load(r, b as Reg, 0, size));
                            ops.push(Op::AddImm(b as Reg, b as Reg, i64::from(off)));
                        }
                        _ => ops.push(Op::Clobber(r)),
                    }
                }
            }
            O8::STR | O8::STRB | O8::STRH | O8::STUR | O8::STURB | O8::STURH => {
                if let Some((r, w)) = dst {
                    let size = match inst.opcode {
                        O8::STRB | O8::STURB => 1,
                        O8::STRH | O8::STURH => 2,
                        _ => simd_size(&o[0]).unwrap_or(if w { 4 } else { 8 }),
                    };
                    match o[1] {
                        A8::RegPreIndex(b, off, wback) => {
                            ops.push(Op::Store(Src::Reg(r), b as Reg, i64::from(off), size));
                            if wback {
                                ops.push(Op::AddImm(b as Reg, b as Reg, i64::from(off)));
                            }
                        }
                        A8::RegPostIndex(b, off) => {
                            ops.push(Op::Store(Src::Reg(r), b as Reg, 0, size));
                            ops.push(Op::AddImm(b as Reg, b as Reg, i64::from(off)));
                        }
                        _ => {}
                    }
                }
            }
            O8::STP | O8::LDP => {
                let load = inst.opcode == O8::LDP;
                if let (Some((r1, w)), Some((r2, _))) = (dst, reg8(&o[1])) {
                    let size = simd_size(&o[0]).unwrap_or(if w { 4 } else { 8 });
                    let (base, off, wback, post) = match o[2] {
                        A8::RegPreIndex(b, off, wb) => (b as Reg, i64::from(off), wb, false),
                        A8::RegPostIndex(b, off) => (b as Reg, i64::from(off), true, true),
                        _ => (255, 0, false, false),
                    };
                    if base != 255 {
                        let at_off = if post { 0 } else { off };
                        if load {
                            ops.push(Op::Load(r1, base, at_off, size));
                            ops.push(Op::Load(r2, base, at_off + i64::from(size), size));
                        } else {
                            ops.push(Op::Store(Src::Reg(r1), base, at_off, size));
                            ops.push(Op::Store(
                                Src::Reg(r2),
                                base,
                                at_off + i64::from(size),
                                size,
                            ));
                        }
                        if wback {
                            ops.push(Op::AddImm(base, base, off));
                        }
                    } else if load {
                        ops.push(Op::Clobber(r1));
                        ops.push(Op::Clobber(r2));
                    }
                }
            }
            O8::BL => {
                if let A8::PCOffset(off) = o[0] {
                    ops.push(Op::Call(Target::Addr(at.wrapping_add(off as u64))));
                }
            }
            O8::BLR => {
                if let Some((r, _)) = dst {
                    ops.push(Op::Call(Target::Reg(r)));
                }
            }
            O8::BR => {
                if let Some((r, _)) = dst {
                    ops.push(Op::Jump(Target::Reg(r)));
                }
                d.ends_flow = true;
            }
            O8::RET | O8::B => d.ends_flow = true,
            O8::SVC => ops.push(Op::Syscall),
            // Compares, branches, barriers, hints and stores of other kinds write no register
            // we track.
            O8::SUBS
            | O8::ADDS
            | O8::ANDS
            | O8::Bcc(_)
            | O8::CBZ
            | O8::CBNZ
            | O8::TBZ
            | O8::TBNZ
            | O8::HINT => {
                if inst.opcode == O8::SUBS && dst.is_some_and(|d| d.0 == A64_ZR) {
                    match (reg8(&o[1]), &o[2]) {
                        (Some((a, w)), A8::Immediate(i)) => {
                            ops.push(Op::CmpImm(a, u64::from(*i), if w { 4 } else { 8 }))
                        }
                        (Some((a, w)), A8::ImmShift(i, sh)) => {
                            ops.push(Op::CmpImm(a, u64::from(*i) << sh, if w { 4 } else { 8 }))
                        }
                        (Some((a, _)), A8::RegShift(_, 0, _, m)) => {
                            ops.push(Op::CmpReg(a, if *m == 31 { A64_ZR } else { *m as Reg }))
                        }
                        (Some((a, _)), other) => {
                            if let Some((b, _)) = reg8(other) {
                                ops.push(Op::CmpReg(a, b));
                            }
                        }
                        _ => {}
                    }
                } else if matches!(inst.opcode, O8::SUBS | O8::ADDS | O8::ANDS) {
                    if let Some((r, _)) = dst {
                        ops.push(Op::Clobber(r));
                    }
                }
            }
            _ => {
                // Anything else that names a register first writes it.
                if let Some((r, _)) = dst {
                    if !matches!(
                        inst.opcode,
                        O8::STLR | O8::STLRB | O8::STLRH | O8::STXR | O8::STLXR
                    ) {
                        ops.push(Op::Clobber(r));
                    }
                }
            }
        }
        Some(d)
    }

    fn min_len(&self) -> usize {
        4
    }
}
