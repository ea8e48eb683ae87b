//! What the raw code and strings of an operating-system image tell without any header: the
//! CPU architecture and byte order from instruction statistics, and NUL-terminated strings.
//! Shared by the formats that describe whole RTOS images (VxWorks, eCos, ThreadX).
//!
//! The architecture is read from how often each instruction set's commonest prologue and
//! epilogue words occur (a function return, saving the return address), counted at every
//! byte offset and held against what random bytes would give. Real code shows hundreds to
//! thousands of them; the other instruction sets and the other byte order a handful.

/// A CPU architecture and instruction byte order read from code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeArch {
    /// Architecture name as reports spell it (`arm`, `mips`, `powerpc`, `x86`, ...).
    pub arch: &'static str,
    /// `little` or `big`: the byte order of the instructions.
    pub endianness: &'static str,
    /// Instruction words that matched, the evidence behind the guess.
    pub matches: usize,
}

/// One instruction pattern: a value under a mask, of `width` bytes (2 or 4) read in the
/// set's byte order.
struct Pattern {
    value: u32,
    mask: u32,
    width: u8,
}

const fn word(value: u32) -> Pattern {
    Pattern {
        value,
        mask: u32::MAX,
        width: 4,
    }
}

const fn masked(value: u32, mask: u32) -> Pattern {
    Pattern {
        value,
        mask,
        width: 4,
    }
}

const fn half(value: u16) -> Pattern {
    Pattern {
        value: value as u32,
        mask: 0xffff,
        width: 2,
    }
}

/// An instruction set in one byte order and its patterns.
struct InstructionSet {
    arch: &'static str,
    big: bool,
    patterns: &'static [Pattern],
}

/// A32 (ARM mode): `bx lr`, `mov pc, lr`, `push {…, lr}`, `pop {…, pc}`, `str lr, [sp, #-4]!`,
/// `ldr pc, [sp], #4`.
const ARM: &[Pattern] = &[
    word(0xe12f_ff1e),
    word(0xe1a0_f00e),
    masked(0xe92d_4000, 0xffff_4000),
    masked(0xe8bd_8000, 0xffff_8000),
    word(0xe52d_e004),
    word(0xe49d_f004),
];
/// Thumb: `bx lr` and the commonest `push {…, lr}` / `pop {…, pc}` register lists.
const THUMB: &[Pattern] = &[
    half(0x4770),
    half(0xb510),
    half(0xbd10),
    half(0xb570),
    half(0xbd70),
    half(0xb5f8),
    half(0xbdf8),
    half(0xb538),
    half(0xbd38),
];
/// AArch64: `ret`, `stp x29, x30, [sp, #-N]!`, `ldp x29, x30, [sp], #N`.
const AARCH64: &[Pattern] = &[
    word(0xd65f_03c0),
    masked(0xa980_7bfd, 0xffc0_7fff),
    masked(0xa8c0_7bfd, 0xffc0_7fff),
];
/// MIPS: `jr ra`, `addiu sp, sp, -N` (N up to 256), `lw ra, N(sp)`, `sw ra, N(sp)`.
const MIPS: &[Pattern] = &[
    word(0x03e0_0008),
    masked(0x27bd_ff00, 0xffff_ff00),
    masked(0x8fbf_0000, 0xffff_ff00),
    masked(0xafbf_0000, 0xffff_ff00),
];
/// PowerPC: `blr`, `mflr r0`, `mtlr r0`, `stwu r1, -N(r1)`.
const POWERPC: &[Pattern] = &[
    word(0x4e80_0020),
    word(0x7c08_02a6),
    word(0x7c08_03a6),
    masked(0x9421_8000, 0xffff_8000),
];
/// SuperH: `rts` with a `nop` in its delay slot, `sts.l pr, @-r15` + `mov.l r14, @-r15`.
const SUPERH: &[Pattern] = &[word(0x000b_0009), word(0x4f22_2fe6)];
/// m68k / ColdFire: `unlk a6; rts`, `link.w a6, #-N`.
const M68K: &[Pattern] = &[word(0x4e5e_4e75), masked(0x4e56_0000, 0xffff_0000)];

static SETS: &[InstructionSet] = &[
    InstructionSet {
        arch: "arm",
        big: false,
        patterns: ARM,
    },
    InstructionSet {
        arch: "arm",
        big: true,
        patterns: ARM,
    },
    InstructionSet {
        arch: "arm-thumb",
        big: false,
        patterns: THUMB,
    },
    InstructionSet {
        arch: "aarch64",
        big: false,
        patterns: AARCH64,
    },
    InstructionSet {
        arch: "mips",
        big: false,
        patterns: MIPS,
    },
    InstructionSet {
        arch: "mips",
        big: true,
        patterns: MIPS,
    },
    InstructionSet {
        arch: "powerpc",
        big: true,
        patterns: POWERPC,
    },
    InstructionSet {
        arch: "powerpc",
        big: false,
        patterns: POWERPC,
    },
    InstructionSet {
        arch: "superh",
        big: false,
        patterns: SUPERH,
    },
    InstructionSet {
        arch: "superh",
        big: true,
        patterns: SUPERH,
    },
    InstructionSet {
        arch: "m68k",
        big: true,
        patterns: M68K,
    },
];

/// x86 (32-bit) is variable-length; its prologue `push ebp; mov ebp, esp` (both encodings)
/// and the epilogues `leave; ret`, `pop ebp; ret` are byte sequences.
const X86: &[&[u8]] = &[b"\x55\x89\xe5", b"\x55\x8b\xec", b"\xc9\xc3", b"\x5d\xc3"];

/// Bytes looked at: [`WINDOWS`] windows of [`WINDOW`] bytes spread evenly over the blob (or
/// all of it when smaller). Code shows thousands of matches per MiB, so a sample gives the
/// verdict at a cost that does not grow with the image.
const WINDOW: usize = 128 << 10;
const WINDOWS: usize = 8;
/// Fewest matches a verdict needs.
const MIN_MATCHES: usize = 16;

/// The ranges of `data` sampled.
fn sample(len: usize) -> Vec<std::ops::Range<usize>> {
    if len <= WINDOW * WINDOWS {
        return std::iter::once(0..len).collect();
    }
    let stride = (len - WINDOW) / (WINDOWS - 1);
    (0..WINDOWS)
        .map(|i| i * stride..(i * stride + WINDOW).min(len))
        .collect()
}

/// The instruction set whose patterns stand out in `data`, if one clearly does: at least
/// [`MIN_MATCHES`] matches, four times what random bytes would give, and four times the
/// runner-up.
pub fn guess_arch(data: &[u8]) -> Option<CodeArch> {
    let ranges = sample(data.len());
    let positions: f64 = ranges.iter().map(|r| r.len() as f64).sum();
    // hits[set], counted in one pass: each offset read once in each byte order.
    let mut hits = vec![0usize; SETS.len()];
    let mut x86_hits = 0usize;
    for r in &ranges {
        let part = &data[r.clone()];
        for w in part.windows(4) {
            let b = [w[0], w[1], w[2], w[3]];
            let (le, be) = (u32::from_le_bytes(b), u32::from_be_bytes(b));
            for (i, set) in SETS.iter().enumerate() {
                let v = if set.big { be } else { le };
                let matched = set.patterns.iter().any(|p| match p.width {
                    2 => (v & 0xffff) & p.mask == p.value,
                    _ => v & p.mask == p.value,
                });
                if matched {
                    hits[i] += 1;
                }
            }
        }
        for pat in X86 {
            x86_hits += memchr::memmem::find_iter(part, pat).count();
        }
    }
    let mut scores: Vec<(usize, f64, &'static str, &'static str)> = SETS
        .iter()
        .zip(&hits)
        .map(|(set, &h)| {
            let expected: f64 = set
                .patterns
                .iter()
                .map(|p| positions / 2f64.powi(p.mask.count_ones() as i32))
                .sum();
            (
                h,
                expected,
                set.arch,
                if set.big { "big" } else { "little" },
            )
        })
        .collect();
    let x86_expected: f64 = X86
        .iter()
        .map(|pat| positions / 2f64.powi(8 * pat.len() as i32))
        .sum();
    scores.push((x86_hits, x86_expected, "x86", "little"));
    // Rank by hits above what chance gives.
    let excess = |s: &(usize, f64, &str, &str)| s.0 as f64 - s.1;
    scores.sort_by(|a, b| excess(b).total_cmp(&excess(a)));
    let best = scores.first()?;
    let runner = scores.get(1).map(excess).unwrap_or(0.0).max(0.0);
    let clear =
        best.0 >= MIN_MATCHES && best.0 as f64 >= 4.0 * best.1 && excess(best) >= 4.0 * runner;
    clear.then_some(CodeArch {
        arch: best.2,
        endianness: best.3,
        matches: best.0,
    })
}

/// Whether `b` may appear in a symbol name: C identifiers, C++ mangling and the few
/// punctuation marks compilers put in local labels.
pub fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.' | b'@' | b'?')
}

/// The NUL-terminated string starting at `at`, when it is at most `max` printable bytes.
pub fn c_string_at(data: &[u8], at: usize, max: usize) -> Option<&[u8]> {
    let tail = data.get(at..)?;
    let window = &tail[..tail.len().min(max + 1)];
    let end = memchr::memchr(0, window)?;
    let s = &window[..end];
    s.iter().all(|&b| (0x20..0x7f).contains(&b)).then_some(s)
}

/// Whether a C string starts at `at`: the byte before is NUL (or `at` is 0).
pub fn starts_string(data: &[u8], at: usize) -> bool {
    at == 0 || data.get(at - 1) == Some(&0)
}

/// Every offset where `needle` starts a whole C string of `data` (NUL before it, or the
/// start), up to `limit` of them.
pub fn string_starts(data: &[u8], needle: &[u8], limit: usize) -> Vec<usize> {
    memchr::memmem::find_iter(data, needle)
        .filter(|&at| starts_string(data, at))
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat_words(words: &[u32], big: bool, times: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..times {
            for w in words {
                out.extend_from_slice(&if big {
                    w.to_be_bytes()
                } else {
                    w.to_le_bytes()
                });
            }
            // Some filler that is not a pattern, varying so it is not one either.
            out.extend_from_slice(&(i as u32).wrapping_mul(0x9e37_79b9).to_le_bytes());
        }
        out
    }

    #[test]
    fn tells_instruction_sets_and_byte_orders_apart() {
        let mips_be = repeat_words(
            &[0x27bd_ffe0, 0xafbf_001c, 0x8fbf_001c, 0x03e0_0008],
            true,
            64,
        );
        let got = guess_arch(&mips_be).expect("mips");
        assert_eq!((got.arch, got.endianness), ("mips", "big"));
        let mips_le = repeat_words(
            &[0x27bd_ffe0, 0xafbf_001c, 0x8fbf_001c, 0x03e0_0008],
            false,
            64,
        );
        let got = guess_arch(&mips_le).expect("mipsel");
        assert_eq!((got.arch, got.endianness), ("mips", "little"));
        let arm = repeat_words(&[0xe92d_4010, 0xe8bd_8010, 0xe12f_ff1e], false, 64);
        let got = guess_arch(&arm).expect("arm");
        assert_eq!((got.arch, got.endianness), ("arm", "little"));
        let ppc = repeat_words(
            &[0x9421_ffe0, 0x7c08_02a6, 0x7c08_03a6, 0x4e80_0020],
            true,
            64,
        );
        let got = guess_arch(&ppc).expect("ppc");
        assert_eq!((got.arch, got.endianness), ("powerpc", "big"));
    }

    #[test]
    fn random_bytes_and_text_give_no_verdict() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(guess_arch(&noise), None);
        assert_eq!(guess_arch(&b"hello world ".repeat(10_000)), None);
        assert_eq!(guess_arch(&[]), None);
    }

    #[test]
    fn c_strings_are_bounded_and_printable() {
        let d = b"\0abc\0de\x01f\0";
        assert_eq!(c_string_at(d, 1, 16), Some(&b"abc"[..]));
        assert_eq!(c_string_at(d, 1, 2), None);
        assert_eq!(c_string_at(d, 5, 16), None);
        assert_eq!(c_string_at(d, 99, 16), None);
        assert_eq!(string_starts(d, b"abc", 4), vec![1]);
        assert_eq!(string_starts(d, b"bc", 4), Vec::<usize>::new());
    }
}
