//! Traditional DES-based `crypt(3)`: the 13-character hashes of old `/etc/passwd` files,
//! busybox builds and embedded web servers (two salt characters, then eleven of hash; only the
//! first eight password bytes count, seven bits each).
//!
//! Written here because no maintained crate implements it: RustCrypto's `des` is the plain block
//! cipher, and `crypt(3)` perturbs DES's expansion with the salt, so the cipher cannot be used
//! as it is; `pwhash`, which did implement it, is unmaintained. The algorithm: the password's
//! bytes shifted left by one form a DES key; a zero block is encrypted 25 times with DES whose
//! expansion output has bit `i` swapped with bit `i + 24` for every salt bit `i` that is set;
//! the 64-bit result, padded to 66 bits, is written in the crypt base-64 alphabet. Tables are
//! those of FIPS 46-3. So that cracking stays fast, everything is tables built once: the round
//! function looks up combined S-box and permutation tables, and the key and final permutations
//! go a byte at a time.

use super::CRYPT64;
use std::sync::OnceLock;

/// Permuted choice 1: the 56 key bits DES uses, from the 64-bit key (1 = most significant).
const PC1: [u8; 56] = [
    57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
    52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
];

/// Permuted choice 2: a round key's 48 bits, from the 56 rotated key bits.
const PC2: [u8; 48] = [
    14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
    31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];

/// Left rotations of the two 28-bit key halves before each round.
const SHIFTS: [u32; 16] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];

/// The permutation applied to the S-boxes' 32 output bits.
const P: [u8; 32] = [
    16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19,
    13, 30, 6, 22, 11, 4, 25,
];

/// The final permutation (the inverse of the initial one).
const FP: [u8; 64] = [
    40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30,
    37, 5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27,
    34, 2, 42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];

/// The eight S-boxes, each four rows of sixteen.
const S: [[u8; 64]; 8] = [
    [
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12,
        11, 9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9,
        1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    ],
    [
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1,
        10, 6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15,
        4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    ],
    [
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5,
        14, 12, 11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6,
        9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    ],
    [
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2,
        12, 1, 10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1,
        13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    ],
    [
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15,
        10, 3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14,
        2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    ],
    [
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13,
        14, 0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5,
        15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    ],
    [
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5,
        12, 2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4,
        10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    ],
    [
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6,
        11, 0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10,
        8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    ],
];

/// Bit `table[k]` of the `width`-bit `input` becomes bit `k` of the output (both counted from
/// 1 at the most significant end, as FIPS 46 counts them).
fn permute(input: u64, width: u32, table: &[u8]) -> u64 {
    let out_width = table.len() as u32;
    table.iter().enumerate().fold(0, |acc, (k, &from)| {
        let bit = (input >> (width - u32::from(from))) & 1;
        acc | bit << (out_width - 1 - k as u32)
    })
}

/// A bit permutation applied a byte at a time: for each input byte position and value, the
/// output bits it sets. Built once per table, so that the key schedule of every candidate costs
/// a few lookups instead of a loop over every bit.
struct BytePermutation {
    /// Input width in bits (a multiple of 8).
    width: u32,
    tables: Vec<[u64; 256]>,
}

impl BytePermutation {
    fn new(width: u32, table: &[u8]) -> Self {
        let tables = (0..width / 8)
            .map(|byte| {
                let mut t = [0u64; 256];
                for (v, entry) in t.iter_mut().enumerate() {
                    let shift = width - 8 * (byte + 1);
                    *entry = permute((v as u64) << shift, width, table);
                }
                t
            })
            .collect();
        BytePermutation { width, tables }
    }

    fn apply(&self, input: u64) -> u64 {
        self.tables.iter().enumerate().fold(0, |acc, (byte, t)| {
            let shift = self.width - 8 * (byte as u32 + 1);
            acc | t[((input >> shift) & 0xff) as usize]
        })
    }
}

/// Everything built once: the combined S-box and permutation tables of the round function and
/// the byte tables of the key permutations and the final permutation.
struct Tables {
    /// For each S-box, its output for each 6-bit input already placed and permuted by [`P`].
    sp: [[u32; 64]; 8],
    pc1: BytePermutation,
    /// PC2 over the 56 key bits, taken as 7 bytes.
    pc2: BytePermutation,
    fp: BytePermutation,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut sp = [[0u32; 64]; 8];
        for (i, (table, sbox)) in sp.iter_mut().zip(&S).enumerate() {
            for (b, entry) in table.iter_mut().enumerate() {
                let row = ((b >> 4) & 2) | (b & 1);
                let col = (b >> 1) & 0xf;
                let s = u64::from(sbox[row * 16 + col]) << (28 - 4 * i);
                *entry = permute(s, 32, &P) as u32;
            }
        }
        Tables {
            sp,
            pc1: BytePermutation::new(64, &PC1),
            pc2: BytePermutation::new(56, &PC2),
            fp: BytePermutation::new(64, &FP),
        }
    })
}

/// The sixteen round keys of a 64-bit DES key, each as the eight 6-bit groups that meet the
/// eight groups of the expansion.
fn round_keys(t: &Tables, key: u64) -> [[u32; 8]; 16] {
    let cd = t.pc1.apply(key);
    let (mut c, mut d) = ((cd >> 28) as u32, (cd & 0x0fff_ffff) as u32);
    let rotate = |h: u32, s: u32| ((h << s) | (h >> (28 - s))) & 0x0fff_ffff;
    let mut keys = [[0; 8]; 16];
    for (k, &s) in keys.iter_mut().zip(&SHIFTS) {
        c = rotate(c, s);
        d = rotate(d, s);
        let kn = t.pc2.apply(u64::from(c) << 28 | u64::from(d));
        for (i, group) in k.iter_mut().enumerate() {
            *group = ((kn >> (42 - 6 * i)) & 0x3f) as u32;
        }
    }
    keys
}

/// The salt as masks over the first two expansion groups: salt bit `i` swaps expansion bits
/// `i` and `i + 24`, which are the same bit of groups 0 and 4 (bits 0–5) or 1 and 5 (6–11).
#[derive(Clone, Copy)]
struct SaltMasks(u32, u32);

impl SaltMasks {
    fn new(salt_bits: u32) -> Self {
        // Expansion bit j of a group is its (5 - j)th bit from the least significant end.
        let group = |bits: u32| {
            (0..6)
                .filter(|j| (bits >> j) & 1 == 1)
                .fold(0, |m, j| m | 1 << (5 - j))
        };
        SaltMasks(group(salt_bits & 0x3f), group(salt_bits >> 6))
    }
}

/// The round function: the eight 6-bit groups of the expansion of `r` (group i is bits
/// 4i..4i+5, counted from 1 at the most significant end and wrapping around), the salt's swaps,
/// the round key, and the combined S-box and permutation tables.
fn feistel(sp: &[[u32; 64]; 8], r: u32, key: &[u32; 8], salt: SaltMasks) -> u32 {
    let g0 = r.rotate_left(5) & 0x3f;
    let g1 = (r >> 23) & 0x3f;
    let g4 = (r >> 11) & 0x3f;
    let g5 = (r >> 7) & 0x3f;
    let swap0 = (g0 ^ g4) & salt.0;
    let swap1 = (g1 ^ g5) & salt.1;
    let lookup = |i: usize, g: u32| sp[i][((g ^ key[i]) & 0x3f) as usize];
    lookup(0, g0 ^ swap0)
        | lookup(1, g1 ^ swap1)
        | lookup(2, r >> 19)
        | lookup(3, r >> 15)
        | lookup(4, g4 ^ swap0)
        | lookup(5, g5 ^ swap1)
        | lookup(6, r >> 3)
        | lookup(7, r.rotate_left(1))
}

/// The value of a crypt base-64 character.
fn crypt64_value(c: u8) -> Option<u32> {
    CRYPT64.iter().position(|&x| x == c).map(|v| v as u32)
}

/// `crypt(password, setting)` for a traditional DES setting (its first two characters are the
/// salt); `None` when the salt has characters outside the crypt alphabet, as `crypt(3)` fails.
pub fn des_crypt(password: &[u8], setting: &str) -> Option<String> {
    let salt = setting.as_bytes().get(..2)?;
    let salt_bits = crypt64_value(salt[0])? | crypt64_value(salt[1])? << 6;
    let masks = SaltMasks::new(salt_bits);
    // A C string: the password ends at its first NUL; eight bytes of seven bits each.
    let key = password
        .iter()
        .take_while(|&&b| b != 0)
        .take(8)
        .enumerate()
        .fold(0u64, |k, (i, &b)| k | u64::from(b << 1) << (56 - 8 * i));
    let t = tables();
    let keys = round_keys(t, key);
    // The block stays in the initial permutation's order between the 25 encryptions (the final
    // and initial permutations cancel out); only the halves' final swap is kept.
    let (mut l, mut r) = (0u32, 0u32);
    for _ in 0..25 {
        for k in &keys {
            (l, r) = (r, l ^ feistel(&t.sp, r, k, masks));
        }
        (l, r) = (r, l);
    }
    let block = t.fp.apply(u64::from(l) << 32 | u64::from(r));
    let mut out = String::with_capacity(13);
    out.push(char::from(salt[0]));
    out.push(char::from(salt[1]));
    for k in 0..11u32 {
        // 66 bits: the block and two zero bits, six at a time from the most significant end.
        let v = if k < 10 {
            (block >> (58 - 6 * k)) & 0x3f
        } else {
            (block & 0xf) << 2
        };
        out.push(char::from(CRYPT64[v as usize]));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain DES known answer of FIPS 81 (key `0123456789abcdef`, "Now is t"), through the
    /// same round keys, tables and round function with no salt and the initial permutation
    /// (the inverse of [`FP`]) applied.
    #[test]
    fn plain_des_known_answer() {
        let mut ip = [0u8; 64];
        for (k, &from) in FP.iter().enumerate() {
            ip[usize::from(from) - 1] = k as u8 + 1;
        }
        let t = tables();
        let block = permute(0x4e6f_7720_6973_2074, 64, &ip);
        let (mut l, mut r) = ((block >> 32) as u32, block as u32);
        for k in &round_keys(t, 0x0123_4567_89ab_cdef) {
            (l, r) = (r, l ^ feistel(&t.sp, r, k, SaltMasks(0, 0)));
        }
        let out = t.fp.apply(u64::from(r) << 32 | u64::from(l));
        assert_eq!(out, permute(u64::from(r) << 32 | u64::from(l), 64, &FP));
        assert_eq!(out, 0x3fa4_0e8a_984d_4815);
    }

    #[test]
    fn crypt_of_known_passwords() {
        assert_eq!(des_crypt(b"test", "aZ").as_deref(), Some("aZGJuE6EXrjEE"));
        assert_eq!(des_crypt(b"oper8", "ab").as_deref(), Some("ablTxbTxaaYfA"));
        // Only eight bytes count.
        assert_eq!(
            des_crypt(b"password", "ab"),
            des_crypt(b"password123", "ab")
        );
        assert_eq!(des_crypt(b"test", "a!"), None);
        assert_eq!(des_crypt(b"test", "a"), None);
    }
}
