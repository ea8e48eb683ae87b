//! BLAKE2sp (BLAKE2s in 8-way parallel tree mode), the hash RAR 5 stores instead of CRC32
//! when an archive is made with `-htb`.
//!
//! Written here from RFC 7693 and the BLAKE2 paper's tree parameters: the `blake2` crate in
//! the dependency tree fixes the parameter block to sequential mode (fanout 1, depth 1, no
//! node offset), so it cannot build the eight leaves and the root BLAKE2sp needs.

const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const BLOCK: usize = 64;
const LEAVES: usize = 8;

/// The compression function F of RFC 7693 (BLAKE2s: 32-bit words, 10 rounds).
fn compress(h: &mut [u32; 8], block: &[u8; BLOCK], t: u64, last: bool, last_node: bool) {
    let mut m = [0u32; 16];
    for (w, c) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    let mut v = [0u32; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= t as u32;
    v[13] ^= (t >> 32) as u32;
    if last {
        v[14] = !v[14];
    }
    if last_node {
        v[15] = !v[15];
    }
    let g = |v: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize, x: u32, y: u32| {
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(12);
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
        v[d] = (v[d] ^ v[a]).rotate_right(8);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(7);
    };
    for s in &SIGMA {
        g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// BLAKE2s-256 of the message made of `blocks` (all full but the last), with the tree
/// parameters of BLAKE2sp: `node_offset`, `node_depth`, and whether it is the last node.
fn node<'a>(
    blocks: impl Iterator<Item = &'a [u8]>,
    node_offset: u32,
    node_depth: u8,
    last_node: bool,
) -> [u8; 32] {
    // Parameter block: digest 32, no key, fanout 8, depth 2, leaf length 0, node offset,
    // node depth, inner length 32.
    let p = [
        32 | (LEAVES as u32) << 16 | 2 << 24,
        0,
        node_offset,
        u32::from(node_depth) << 16 | 32 << 24,
        0,
        0,
        0,
        0,
    ];
    let mut h = IV;
    for (h, p) in h.iter_mut().zip(p) {
        *h ^= p;
    }
    let mut t = 0u64;
    let mut pending: Option<&[u8]> = None;
    for b in blocks {
        if let Some(prev) = pending.replace(b) {
            let mut block = [0u8; BLOCK];
            block.copy_from_slice(prev);
            t += BLOCK as u64;
            compress(&mut h, &block, t, false, false);
        }
    }
    let last = pending.unwrap_or(&[]);
    let mut block = [0u8; BLOCK];
    block[..last.len()].copy_from_slice(last);
    t += last.len() as u64;
    compress(&mut h, &block, t, true, last_node);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// The BLAKE2sp digest of `data`.
pub fn blake2sp(data: &[u8]) -> [u8; 32] {
    let mut root = [0u8; LEAVES * 32];
    for (i, out) in root.chunks_exact_mut(32).enumerate() {
        // Leaf i hashes the 64-byte blocks i, i + 8, i + 16, ... of the input.
        let blocks = (i * BLOCK..data.len())
            .step_by(LEAVES * BLOCK)
            .map(|at| &data[at..(at + BLOCK).min(data.len())]);
        out.copy_from_slice(&node(blocks, i as u32, 0, i == LEAVES - 1));
    }
    node(root.chunks(BLOCK), 0, 1, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        // The BLAKE2 reference's unkeyed BLAKE2sp vectors (input 00 01 02 ... of length n).
        let input: Vec<u8> = (0..=255u8).collect();
        assert_eq!(
            hex(&blake2sp(&[])),
            "dd0e891776933f43c7d032b08a917e25741f8aa9a12c12e1cac8801500f2ca4f"
        );
        assert_eq!(
            hex(&blake2sp(&input[..1])),
            "a6b9eecc25227ad788c99d3f236debc8da408849e9a5178978727a81457f7239"
        );
        // Many strides and a partial one (from Python's hashlib.blake2s tree parameters).
        assert_eq!(
            hex(&blake2sp(&input.repeat(20))),
            "804b2bbfd689bdb86037e7cf35fb6fdc3f9dfbb993dd63e9fd11fe79c576344e"
        );
    }
}
