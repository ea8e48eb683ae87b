//! The driver: decode an image's code with the architecture's lowering, resolve import stubs,
//! split the code into functions and run the abstract machine over each, yielding every call
//! with its argument values.

use super::flow::{Abi, Call, Callee, InlineCompare, Machine, Op, Reg, Syscall, Val};
use super::image::{Arch, CodeRange, Image};
use super::{arm, mips, x86};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// What decoding one instruction tells the driver.
#[derive(Debug, Clone, Copy)]
pub struct Decoded {
    /// Length in bytes.
    pub len: u8,
    /// The next instruction runs before this one's jump (MIPS delay slot).
    pub delay_slot: bool,
    /// Control does not fall through (return, unconditional jump).
    pub ends_flow: bool,
}

/// An architecture's decoder, lowering instructions to [`Op`]s.
pub trait Lower {
    /// Decode the instruction at the start of `bytes` (address `at`), pushing its effect.
    fn decode(&mut self, bytes: &[u8], at: u64, ops: &mut Vec<Op>) -> Option<Decoded>;
    /// Smallest instruction size: how far to skip over bytes that do not decode.
    fn min_len(&self) -> usize;
    /// Switch between instruction sets (ARM/Thumb) for the code at a function start.
    fn set_thumb(&mut self, _thumb: bool) {}
}

/// The calls of one function.
#[derive(Debug, Clone)]
pub struct Function {
    /// Start address.
    pub start: u64,
    /// End address (start of the next function or end of its code range).
    pub end: u64,
    /// Symbol name, when the binary has one.
    pub name: Option<String>,
    /// Its calls, in address order.
    pub calls: Vec<Call>,
    /// Its system calls, in address order.
    pub syscalls: Vec<Syscall>,
    /// Inline comparisons of received values with constants (only in passes that track
    /// input).
    pub compares: Vec<InlineCompare>,
    /// Watched addresses (see [`Pass::watch`]) the function loads.
    pub watched: Vec<u64>,
    /// Decoded in Thumb state.
    pub thumb: bool,
    /// Instructions decoded.
    pub instructions: usize,
}

/// How one pass over code runs the machine.
#[derive(Clone, Copy)]
pub struct Pass<'n> {
    /// Names of local call targets (import stubs, recognised library functions).
    pub names: &'n HashMap<u64, String>,
    /// Track bytes received from the network.
    pub track_input: bool,
    /// Register values at the start of each function.
    pub seeds: &'n [(Reg, Val)],
    /// Stack slots (offsets from the entry stack pointer) seeded at the start of each
    /// function: arguments passed on the stack.
    pub stack_seeds: &'n [(i64, Val)],
    /// Addresses whose loads are noted (see [`Machine::watching`]).
    pub watch: Option<&'n HashSet<u64>>,
}

/// Most instructions decoded for one binary (both passes together).
pub const MAX_INSTRUCTIONS: usize = 5_000_000;

/// Every function of the image with its calls (callees that are import stubs are named),
/// and the names of the import stubs by address.
pub fn functions_and_stubs(image: &Image) -> (Vec<Function>, HashMap<u64, String>) {
    let (mut lower, abi) = lowering(image);
    let mut stubs = stub_names(image, lower.as_mut(), &stub_abi(image, &abi));
    if image.arch == Arch::Arm {
        // Thumb callers enter an ARM PLT entry through the `bx pc; nop` in front of it.
        let aliases: Vec<(u64, String)> = stubs
            .iter()
            .map(|(&a, n)| (a.wrapping_sub(4), n.clone()))
            .collect();
        for (a, n) in aliases {
            stubs.entry(a).or_insert(n);
        }
    }
    let mut budget = MAX_INSTRUCTIONS;
    let mut starts: BTreeSet<u64> = image
        .functions
        .keys()
        .copied()
        .filter(|&a| image.in_code(a))
        .collect();
    if image.in_code(image.entry) {
        starts.insert(image.entry);
    }
    starts.extend(image.code.iter().map(|r| r.start));
    let watch = shell_path_addresses(image);
    let watch_ref = (!watch.is_empty()).then_some(&watch);
    let first_names = stubs.clone();
    let pass1 = Pass {
        names: &first_names,
        track_input: false,
        seeds: &[],
        stack_seeds: &[],
        watch: watch_ref,
    };
    // Pass 1: find call targets and code addresses passed as arguments, the function starts
    // of a stripped binary. ARM code is decoded in the state of its function start, so the
    // pass repeats while it finds starts (a Thumb `main` reached only through the pointer
    // `_start` hands to the C library, then the functions `main` calls).
    let mut thumb_starts: BTreeMap<u64, bool> = BTreeMap::new();
    let rounds = if image.arch == Arch::Arm { 3 } else { 1 };
    for _ in 0..rounds {
        let before = starts.len();
        let thumb = thumb_map(image, &starts, &thumb_starts);
        for f in run(
            image,
            lower.as_mut(),
            &abi,
            &starts,
            &thumb,
            &mut budget,
            pass1,
        ) {
            let caller_thumb = thumb.get(&f.start).copied().unwrap_or(false);
            for c in f.calls {
                if let Callee::Local(a) = c.callee {
                    if image.in_code(a) && starts.insert(a) && image.arch == Arch::Arm {
                        thumb_starts.insert(a, call_target_thumb(image, caller_thumb, c.at));
                    }
                }
                for v in &c.args {
                    let Some(x) = v.value() else { continue };
                    let code = x & !1;
                    if !image.in_code(code) || image.functions.contains_key(&code) {
                        continue;
                    }
                    if image.arch == Arch::Arm {
                        if (x & 1 == 1 || x & 3 == 0) && starts.insert(code) {
                            thumb_starts.insert(code, x & 1 == 1);
                        }
                    } else if x & 1 == 0 || image.arch.is_x86() {
                        starts.insert(x);
                    }
                }
            }
        }
        if starts.len() == before {
            break;
        }
    }
    if image.stubs.is_empty() && !image.imports.is_empty() {
        // No section marks the stubs (sstrip): try every call target.
        let sabi = stub_abi(image, &abi);
        let mips = image.arch == Arch::Mips;
        for &a in &starts {
            if stubs.contains_key(&a) || image.functions.contains_key(&a) {
                continue;
            }
            let Some(bytes) = image.bytes_at(a, 64) else {
                continue;
            };
            lower.set_thumb(thumb_starts.get(&a).copied().unwrap_or(false));
            if let (Some(name), _) = stub_at(image, lower.as_mut(), &sabi, bytes, a, mips, true) {
                stubs.insert(a, name);
            }
        }
    }
    let pass = Pass {
        names: &stubs,
        track_input: false,
        seeds: &[],
        stack_seeds: &[],
        watch: watch_ref,
    };
    let thumb = thumb_map(image, &starts, &thumb_starts);
    let mut out = run(
        image,
        lower.as_mut(),
        &abi,
        &starts,
        &thumb,
        &mut budget,
        pass,
    );
    for f in &mut out {
        for c in &mut f.calls {
            if let Callee::Local(a) = c.callee {
                if let Some(name) = stubs.get(&a) {
                    c.callee = Callee::Named(name.clone());
                } else if !image.in_code(a) {
                    if let Some(n) = image.function_name(a) {
                        c.callee = Callee::Named(n.to_string());
                    }
                }
            }
        }
    }
    (out, stubs)
}

/// Run the machine once more over one function (`start..end`) with `pass`'s names, input
/// tracking and seeded registers.
pub fn rerun(image: &Image, f: &Function, pass: Pass) -> Option<Function> {
    let (start, end) = (f.start, f.end);
    let (mut lower, abi) = lowering(image);
    let mut budget = MAX_INSTRUCTIONS;
    let starts: BTreeSet<u64> = [start].into_iter().collect();
    let range = CodeRange { start, end };
    let thumb: BTreeMap<u64, bool> = [(start, f.thumb)].into_iter().collect();
    let mut ops = Vec::new();
    let mut out = Vec::new();
    run_range(
        image,
        lower.as_mut(),
        &abi,
        &starts,
        &thumb,
        range,
        &mut budget,
        &mut ops,
        &mut out,
        pass,
    );
    out.into_iter().next()
}

/// The register conventions the import stubs run with: i386 stubs of position-independent
/// code index the GOT from `ebx`.
fn stub_abi(image: &Image, abi: &Abi) -> Abi {
    let mut a = abi.clone();
    if image.arch == Arch::X86 {
        if let Some(got) = image.got_plt {
            a.pinned = Some((x86::EBX, got));
        }
    }
    a
}

/// The register conventions of the image's architecture.
pub fn abi_of(image: &Image) -> Abi {
    lowering(image).1
}

fn lowering(image: &Image) -> (Box<dyn Lower>, Abi) {
    match image.arch {
        Arch::Mips => (
            Box::new(mips::Mips {
                big_endian: image.big_endian,
                is_64: image.is_64,
            }),
            mips::abi(image.gp, image.is_64, image.big_endian),
        ),
        Arch::Arm => (
            Box::new(arm::Arm32::new(image.thumb_entry)),
            arm::abi32(image.big_endian),
        ),
        Arch::Aarch64 => (Box::new(arm::Arm64::new()), arm::abi64()),
        Arch::X86_64 => (
            Box::new(x86::X86 {
                long_mode: true,
                pc_thunks: Default::default(),
            }),
            x86::abi(),
        ),
        Arch::X86 => {
            let mut thunks = HashMap::new();
            for r in &image.code {
                if let Some(b) = image.bytes_at(r.start, (r.end - r.start) as usize) {
                    thunks.extend(x86::pc_thunks(b, r.start));
                }
            }
            (
                Box::new(x86::X86 {
                    long_mode: false,
                    pc_thunks: thunks,
                }),
                x86::abi32(),
            )
        }
    }
}

/// Import names of stub entry addresses, found by emulating a few instructions from each
/// instruction of the stub sections until an indirect jump through a named GOT slot.
fn stub_names(image: &Image, lower: &mut dyn Lower, abi: &Abi) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    for range in &image.stubs {
        let mips_stubs = image
            .mips_stub_sections
            .iter()
            .any(|r| r.start == range.start);
        let Some(bytes) = image.bytes_at(range.start, (range.end - range.start) as usize) else {
            continue;
        };
        lower.set_thumb(false);
        let mut pos = 0usize;
        while pos < bytes.len() && pos < 1 << 20 {
            let start = range.start + pos as u64;
            let (name, first_len) =
                stub_at(image, lower, abi, &bytes[pos..], start, mips_stubs, false);
            if let Some(name) = name {
                out.entry(start).or_insert(name);
            }
            pos += first_len;
        }
    }
    out
}

/// The import a stub at `start` (whose bytes begin `bytes`) jumps to, found by emulating up to
/// six instructions until an indirect jump through a named GOT slot (or, for MIPS lazy
/// stubs, a call to the resolver with the import's dynsym index in `$t8`); with the first
/// instruction's length. `strict` accepts only jumps and the MIPS stub convention, not calls
/// through named slots (for code whose stubs no section marks).
fn stub_at(
    image: &Image,
    lower: &mut dyn Lower,
    abi: &Abi,
    bytes: &[u8],
    start: u64,
    mips_stubs: bool,
    strict: bool,
) -> (Option<String>, usize) {
    let no_names = HashMap::new();
    let mut ops = Vec::new();
    let mut m = Machine::new(image, abi).with_names(&no_names);
    let mut p = 0usize;
    let mut first_len = lower.min_len();
    for i in 0..6 {
        ops.clear();
        let Some(d) = lower.decode(&bytes[p.min(bytes.len())..], start + p as u64, &mut ops) else {
            break;
        };
        if i == 0 {
            first_len = usize::from(d.len.max(1));
        }
        let jump = ops.iter().find_map(|o| match o {
            Op::Jump(t) => Some((*t, false)),
            Op::Call(t) => Some((*t, true)),
            _ => None,
        });
        let non_jump: Vec<Op> = ops
            .iter()
            .copied()
            .filter(|o| !matches!(o, Op::Jump(_) | Op::Call(_)))
            .collect();
        m.apply(&non_jump, start + p as u64, d.len);
        p += usize::from(d.len.max(1));
        if d.delay_slot {
            ops.clear();
            if let Some(d2) = lower.decode(&bytes[p.min(bytes.len())..], start + p as u64, &mut ops)
            {
                m.apply(&ops, start + p as u64, d2.len);
                p += usize::from(d2.len.max(1));
            }
        }
        if let Some((t, is_call)) = jump {
            let named = m.jump_name(t);
            if let Some(name) = named.clone().filter(|_| !(strict && is_call)) {
                return (Some(name), first_len);
            }
            if mips_stubs && named.is_none() {
                if let Val::Const(idx) = m.get(mips::T8) {
                    if let Some(n) = image.dynsym_names.get(idx as usize) {
                        if !n.is_empty() {
                            return (Some(n.clone()), first_len);
                        }
                    }
                }
            }
            break;
        }
    }
    (None, first_len)
}

/// Whether each function start is in Thumb state (ARM only): as its symbol says, else as the
/// call or pointer that found it says, else as the entry point.
fn thumb_map(
    image: &Image,
    starts: &BTreeSet<u64>,
    found: &BTreeMap<u64, bool>,
) -> BTreeMap<u64, bool> {
    if image.arch != Arch::Arm {
        return BTreeMap::new();
    }
    starts
        .iter()
        .map(|&s| {
            let t = if image.functions.contains_key(&s) {
                image.thumb_functions.contains(&s)
            } else if s == image.entry {
                image.thumb_entry
            } else {
                found
                    .get(&s)
                    .copied()
                    .unwrap_or_else(|| looks_like_thumb(image, s))
            };
            (s, t)
        })
        .collect()
}

/// Whether code at `at` whose state nothing tells reads as Thumb: ARM instructions nearly all
/// carry the "always" condition (top nibble 0xe), Thumb pairs of half-words rarely do.
fn looks_like_thumb(image: &Image, at: u64) -> bool {
    let Some(b) = image.bytes_at(at, 32) else {
        return image.thumb_entry;
    };
    let words: Vec<u32> = b
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if words.is_empty() {
        return image.thumb_entry;
    }
    let arm_like = words.iter().filter(|&&w| w >> 28 == 0xe).count();
    arm_like * 2 < words.len()
}

/// Whether the call at `at` (in Thumb state when `caller_thumb`) lands in Thumb state: `bl`
/// keeps the state, `blx <imm>` switches it.
fn call_target_thumb(image: &Image, caller_thumb: bool, at: u64) -> bool {
    let Some(b) = image.bytes_at(at, 4).filter(|b| b.len() == 4) else {
        return caller_thumb;
    };
    if caller_thumb {
        let hw1 = u16::from_le_bytes([b[0], b[1]]);
        let hw2 = u16::from_le_bytes([b[2], b[3]]);
        if hw1 & 0xf800 == 0xf000 {
            return hw2 & 0x1000 != 0;
        }
        true
    } else {
        let w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        w >> 25 == 0b111_1101
    }
}

/// Run the machine over every code range, resetting at each function start.
fn run(
    image: &Image,
    lower: &mut dyn Lower,
    abi: &Abi,
    starts: &BTreeSet<u64>,
    thumb: &BTreeMap<u64, bool>,
    budget: &mut usize,
    pass: Pass,
) -> Vec<Function> {
    let mut out = Vec::new();
    let mut ops = Vec::new();
    for range in &image.code {
        run_range(
            image, lower, abi, starts, thumb, *range, budget, &mut ops, &mut out, pass,
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn run_range(
    image: &Image,
    lower: &mut dyn Lower,
    abi: &Abi,
    starts: &BTreeSet<u64>,
    thumb: &BTreeMap<u64, bool>,
    range: CodeRange,
    budget: &mut usize,
    ops: &mut Vec<Op>,
    out: &mut Vec<Function>,
    pass: Pass,
) {
    let Some(bytes) = image.bytes_at(range.start, (range.end - range.start) as usize) else {
        return;
    };
    let mut m = Machine::new(image, abi).with_names(pass.names);
    if pass.track_input {
        m = m.tracking_input();
    }
    if let Some(w) = pass.watch {
        m = m.watching(w);
    }
    for &(r, v) in pass.seeds {
        m.seed(r, v);
    }
    for &(o, v) in pass.stack_seeds {
        m.seed_stack(o, v);
    }
    let mut current = Function {
        start: range.start,
        end: range.end,
        name: image.function_name(range.start).map(str::to_string),
        calls: Vec::new(),
        syscalls: Vec::new(),
        compares: Vec::new(),
        watched: Vec::new(),
        thumb: thumb.get(&range.start).copied().unwrap_or(false),
        instructions: 0,
    };
    if let Some(&t) = thumb.get(&range.start) {
        lower.set_thumb(t);
    }
    let mut pos = 0usize;
    while pos < bytes.len() {
        if *budget == 0 {
            break;
        }
        let at = range.start + pos as u64;
        if at != current.start && starts.contains(&at) {
            current.end = at;
            current.calls = std::mem::take(&mut m.calls);
            current.syscalls = std::mem::take(&mut m.syscalls);
            current.compares = std::mem::take(&mut m.compares);
            out.push(std::mem::replace(
                &mut current,
                Function {
                    start: at,
                    end: range.end,
                    name: image.function_name(at).map(str::to_string),
                    calls: Vec::new(),
                    syscalls: Vec::new(),
                    compares: Vec::new(),
                    watched: Vec::new(),
                    thumb: thumb.get(&at).copied().unwrap_or(false),
                    instructions: 0,
                },
            ));
            m.reset();
            current_watched(&mut m, out);
            for &(r, v) in pass.seeds {
                m.seed(r, v);
            }
            for &(o, v) in pass.stack_seeds {
                m.seed_stack(o, v);
            }
            if let Some(&t) = thumb.get(&at) {
                lower.set_thumb(t);
            }
        }
        *budget -= 1;
        current.instructions += 1;
        ops.clear();
        let Some(d) = lower.decode(&bytes[pos..], at, ops) else {
            pos += lower.min_len();
            continue;
        };
        let len = usize::from(d.len.max(1));
        if d.delay_slot && pos + len < bytes.len() {
            // The delay slot runs first; then the jump or call.
            let main: Vec<Op> = std::mem::take(ops);
            let slot_at = at + len as u64;
            if let Some(d2) = lower.decode(&bytes[pos + len..], slot_at, ops) {
                m.apply(ops, slot_at, d2.len);
            }
            m.apply(&main, at, d.len);
            pos += len + lower.min_len();
            continue;
        }
        m.apply(ops, at, d.len);
        pos += len;
    }
    current.calls = std::mem::take(&mut m.calls);
    current.syscalls = std::mem::take(&mut m.syscalls);
    current.compares = std::mem::take(&mut m.compares);
    current.watched = std::mem::take(&mut m.watched);
    out.push(current);
}

/// Hand the watched addresses seen so far to the function just closed.
fn current_watched(m: &mut Machine, out: &mut [Function]) {
    if let Some(last) = out.last_mut() {
        last.watched = std::mem::take(&mut m.watched);
    }
}

/// Addresses of the string `/bin/sh` in a static program without symbols: the function
/// that loads one runs a shell (glibc's `do_system`, uClibc's and musl's `system`, `popen`).
fn shell_path_addresses(image: &Image) -> HashSet<u64> {
    let mut out = HashSet::new();
    if !image.is_static || image.has_symtab {
        return out;
    }
    for pos in memchr::memmem::find_iter(image.data, b"/bin/sh\0").take(64) {
        if pos > 0 && image.data[pos - 1] != 0 {
            continue;
        }
        if let Some(va) = image.va_of(pos) {
            out.insert(va);
        }
    }
    out
}
