//! Our own MIPS32/MIPS64 decoder, covering only what the comparison scanner needs: the
//! instructions that build constants and addresses (`lui`, `addiu`, `ori`, `addu`, `move`),
//! loads and stores, calls (`jal`, `jalr`, `bal`) and the branches whose delay slots run before
//! them. Everything else that writes a register is lowered to "unknown". Written here because
//! the one Rust MIPS decoder available is incomplete and unmaintained, and the subset is small.

use super::flow::{Abi, Op, Reg, Src, Target};
use super::lower::{Decoded, Lower};

const ZERO: Reg = 0;
/// `$sp`.
pub const SP: Reg = 29;
/// `$gp`.
pub const GP: Reg = 28;
/// `$t8`, which `.MIPS.stubs` load with the import's dynsym index.
pub const T8: Reg = 24;
const RA: Reg = 31;
/// `$v0`: return values and system call numbers.
const V0: Reg = 2;

/// The o32/n64 register conventions (the first four argument registers are the same).
pub fn abi(gp: Option<u64>, is_64: bool, big_endian: bool) -> Abi {
    Abi {
        args: &[4, 5, 6, 7],
        caller_saved: &[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 31,
        ],
        sp: SP,
        pinned: gp.map(|g| (GP, g)),
        zero: Some(ZERO),
        word: if is_64 { 8 } else { 4 },
        big_endian,
        ret: V0,
        syscall_nr: V0,
        syscall_arg0: 4,
        stack_args: false,
    }
}

/// Lowers MIPS instructions.
pub struct Mips {
    /// Big-endian instruction words.
    pub big_endian: bool,
    /// 64-bit registers (n64).
    pub is_64: bool,
}

fn sext16(v: u32) -> i64 {
    i64::from(v as u16 as i16)
}

impl Lower for Mips {
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded> {
        let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        let w = if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        let op = w >> 26;
        let rs = ((w >> 21) & 31) as Reg;
        let rt = ((w >> 16) & 31) as Reg;
        let rd = ((w >> 11) & 31) as Reg;
        let imm = w & 0xffff;
        let simm = sext16(imm);
        let mut d = Decoded {
            len: 4,
            delay_slot: false,
            ends_flow: false,
        };
        match op {
            0 => {
                let funct = w & 0x3f;
                match funct {
                    // jr
                    0x08 => {
                        d.delay_slot = true;
                        d.ends_flow = true;
                        if rs != RA {
                            ops.push(Op::Jump(Target::Reg(rs)));
                        }
                    }
                    // jalr
                    0x09 => {
                        d.delay_slot = true;
                        ops.push(Op::Call(Target::Reg(rs)));
                        ops.push(Op::Clobber(rd));
                    }
                    // addu, add, daddu, dadd; or (move)
                    0x20 | 0x21 | 0x2c | 0x2d => {
                        if rt == ZERO {
                            ops.push(Op::Mov(rd, rs));
                        } else if rs == ZERO {
                            ops.push(Op::Mov(rd, rt));
                        } else {
                            ops.push(Op::AddReg(rd, rs, rt));
                        }
                        if !self.is_64 || funct < 0x2c {
                            ops.push(Op::Trunc32(rd));
                        }
                    }
                    0x25 => {
                        if rt == ZERO {
                            ops.push(Op::Mov(rd, rs));
                        } else if rs == ZERO {
                            ops.push(Op::Mov(rd, rt));
                        } else {
                            ops.push(Op::Clobber(rd));
                        }
                    }
                    0x0c => {
                        ops.push(Op::Syscall);
                        ops.push(Op::Clobber(7));
                    }
                    // break, sync, mult/div family: no GPR destination
                    0x0d | 0x0f | 0x18..=0x1f => {}
                    _ => ops.push(Op::Clobber(rd)),
                }
            }
            1 => {
                // REGIMM: bltz/bgez(+al); bal = bgezal $0
                d.delay_slot = true;
                let target = at.wrapping_add(4).wrapping_add((simm << 2) as u64);
                if rt == 0x11 && rs == ZERO {
                    ops.push(Op::Call(Target::Addr(target)));
                } else if rt == 0x10 || rt == 0x11 || rt == 0x12 || rt == 0x13 {
                    ops.push(Op::Clobber(RA));
                }
            }
            2 => {
                d.delay_slot = true;
                d.ends_flow = true;
            }
            3 => {
                d.delay_slot = true;
                let target =
                    (at.wrapping_add(4) & !0x0fff_ffff) | (u64::from(w & 0x03ff_ffff) << 2);
                ops.push(Op::Call(Target::Addr(target)));
            }
            // beq (b when both zero), bne, blez, bgtz and the likely forms
            4 => {
                d.delay_slot = true;
                d.ends_flow = rs == ZERO && rt == ZERO;
                if !d.ends_flow {
                    ops.push(Op::CmpReg(rs, rt));
                }
            }
            5 | 0x14 | 0x15 => {
                d.delay_slot = true;
                ops.push(Op::CmpReg(rs, rt));
            }
            6 | 7 | 0x16 | 0x17 => d.delay_slot = true,
            // addi, addiu, daddi, daddiu
            8 | 9 | 0x18 | 0x19 => {
                ops.push(Op::AddImm(rt, rs, simm));
                if op < 0x18 {
                    ops.push(Op::Trunc32(rt));
                }
            }
            0x0d => ops.push(Op::OrImm(rt, rs, u64::from(imm))),
            0x0a..=0x0c | 0x0e => ops.push(Op::Clobber(rt)),
            0x0f => {
                let v = (simm << 16) as u64;
                ops.push(Op::Set(rt, super::flow::Val::Const(v)));
            }
            // lb lh lw lbu lhu lwu ld
            0x20 | 0x21 | 0x23 | 0x24 | 0x25 | 0x27 | 0x37 => {
                let size = match op {
                    0x20 | 0x24 => 1,
                    0x21 | 0x25 => 2,
                    0x37 => 8,
                    _ => 4,
                };
                ops.push(Op::Load(rt, rs, simm, size));
            }
            // lwl lwr ldl ldr ll lld
            0x22 | 0x26 | 0x1a | 0x1b | 0x30 | 0x34 => ops.push(Op::Clobber(rt)),
            // sb sh sw sd
            0x28 | 0x29 | 0x2b | 0x3f => {
                let size = match op {
                    0x28 => 1,
                    0x29 => 2,
                    0x3f => 8,
                    _ => 4,
                };
                ops.push(Op::Store(Src::Reg(rt), rs, simm, size));
            }
            // special2/special3 (mul, ext, ins, seb, rdhwr...): destination varies
            0x1c | 0x1f => {
                ops.push(Op::Clobber(rd));
                ops.push(Op::Clobber(rt));
            }
            // coprocessor moves to GPRs (mfc0/mfc1)
            0x10..=0x12 if rs == 0 || rs == 1 => ops.push(Op::Clobber(rt)),
            _ => {}
        }
        Some(d)
    }

    fn min_len(&self) -> usize {
        4
    }
}
