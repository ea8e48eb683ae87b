//! Decoding a data node: every compressor Linux and OpenWrt write into JFFS2 (none, zero,
//! rtime, rubin/dynrubin, zlib, lzo and lzma), each bounded to the node's stated size.

use crate::limits::read_bounded;

pub(super) const COMPR_NONE: u8 = 0;
pub(super) const COMPR_ZERO: u8 = 1;
const COMPR_RTIME: u8 = 2;
const COMPR_RUBINMIPS: u8 = 3;
const COMPR_COPY: u8 = 4;
const COMPR_DYNRUBIN: u8 = 5;
const COMPR_ZLIB: u8 = 6;
const COMPR_LZO: u8 = 7;
const COMPR_LZMA: u8 = 8;

/// Decode one node's data to exactly `dsize` bytes.
pub(super) fn decompress(compr: u8, src: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let out = match compr {
        COMPR_NONE | COMPR_COPY => src
            .get(..dsize)
            .ok_or("stored data shorter than its size")?
            .to_vec(),
        COMPR_ZERO => vec![0u8; dsize],
        COMPR_RTIME => rtime(src, dsize),
        COMPR_RUBINMIPS => rubin(src, dsize, BIT_DIVIDER_MIPS, &BITS_MIPS),
        COMPR_DYNRUBIN => {
            let bits: [u8; 8] = src
                .get(..8)
                .ok_or("dynrubin data too short")?
                .try_into()
                .map_err(|_| "dynrubin")?;
            let bits = bits.map(u32::from);
            rubin(&src[8..], dsize, 256, &bits)
        }
        COMPR_ZLIB => zlib(src, dsize)?,
        COMPR_LZO => lzo::decompress(src, dsize).map_err(|e| format!("lzo: {e:?}"))?,
        COMPR_LZMA => {
            let r = lzma_rust2::LzmaReader::new(src, dsize as u64, 0, 0, 0, LZMA_DICT_SIZE, None)
                .map_err(|e| format!("lzma: {e}"))?;
            let dec = read_bounded(r, dsize as u64);
            if let Some(err) = dec.error {
                return Err(format!("lzma: {err}"));
            }
            dec.data
        }
        other => return Err(format!("unknown compressor {other:#x}")),
    };
    if out.len() != dsize {
        return Err(format!("decoded {} bytes, node says {dsize}", out.len()));
    }
    Ok(out)
}

/// OpenWrt's JFFS2 LZMA: raw LZMA1 with lc=0, lp=0, pb=0 and an 8 KiB dictionary.
const LZMA_DICT_SIZE: u32 = 0x2000;

pub(super) fn zlib(src: &[u8], dsize: usize) -> Result<Vec<u8>, String> {
    let run = |zlib_header: bool, input: &[u8]| -> Result<Vec<u8>, String> {
        let mut z = flate2::Decompress::new(zlib_header);
        let mut out = Vec::with_capacity(dsize);
        // Bounded: the output never grows past dsize, and a pass that makes no progress ends.
        for _ in 0..64 {
            let before = (z.total_in(), z.total_out());
            let consumed = z.total_in() as usize;
            let status = z
                .decompress_vec(
                    input.get(consumed..).unwrap_or(&[]),
                    &mut out,
                    flate2::FlushDecompress::Finish,
                )
                .map_err(|e| format!("zlib: {e}"))?;
            if status == flate2::Status::StreamEnd || out.len() >= dsize {
                return Ok(out);
            }
            if (z.total_in(), z.total_out()) == before {
                break;
            }
        }
        Err("zlib stream ends early".into())
    };
    match run(true, src) {
        Ok(v) => Ok(v),
        // Linux inflates a header-less deflate stream too (skipping the two header bytes).
        Err(first) => run(false, src.get(2..).unwrap_or(&[])).map_err(|_| first),
    }
}

/// The "rtime" compressor: each literal byte is followed by a repeat count that copies from
/// where that byte value was last seen.
pub(super) fn rtime(src: &[u8], dsize: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(dsize);
    let mut positions = [0usize; 256];
    let mut ip = 0usize;
    while out.len() < dsize {
        let (Some(&value), Some(&repeat)) = (src.get(ip), src.get(ip + 1)) else {
            break;
        };
        ip += 2;
        out.push(value);
        let back = positions[value as usize];
        positions[value as usize] = out.len();
        for from in back..back + repeat as usize {
            if out.len() >= dsize {
                break;
            }
            let b = out.get(from).copied().unwrap_or(0);
            out.push(b);
        }
    }
    out
}

const BIT_DIVIDER_MIPS: u32 = 1043;
const BITS_MIPS: [u32; 8] = [277, 249, 290, 267, 229, 341, 212, 241];
const RUBIN_REG_SIZE: u32 = 16;
const UPPER_BIT_RUBIN: u64 = 1 << (RUBIN_REG_SIZE - 1);
const LOWER_BITS_RUBIN: u64 = UPPER_BIT_RUBIN - 1;

/// The "rubin" arithmetic coder (fixed MIPS bit model, or dynamic with the model in the first
/// eight bytes). Reads past the input yield zero bits, as the encoder pads.
pub(super) fn rubin(src: &[u8], dsize: usize, divider: u32, bits: &[u32; 8]) -> Vec<u8> {
    let mut bitpos = 0usize;
    let mut pull = || {
        let b = src
            .get(bitpos >> 3)
            .map_or(0, |byte| (byte >> (7 - (bitpos & 7))) & 1);
        bitpos += 1;
        u64::from(b)
    };
    let mut p: u64 = 2 * UPPER_BIT_RUBIN;
    let mut q: u64 = 0;
    let mut rec_q: u64 = 0;
    for _ in 0..RUBIN_REG_SIZE {
        rec_q = rec_q * 2 + pull();
    }
    let mut out = Vec::with_capacity(dsize);
    while out.len() < dsize {
        let mut byte = 0u8;
        for (i, &b) in bits.iter().enumerate() {
            let a = u64::from(divider.saturating_sub(b));
            let bb = u64::from(b);
            if q >= UPPER_BIT_RUBIN || p + q <= UPPER_BIT_RUBIN {
                let mut n = 0;
                loop {
                    n += 1;
                    q &= LOWER_BITS_RUBIN;
                    q <<= 1;
                    p <<= 1;
                    if !(q >= UPPER_BIT_RUBIN || p + q <= UPPER_BIT_RUBIN) || n > 64 {
                        break;
                    }
                }
                for _ in 0..n {
                    rec_q &= LOWER_BITS_RUBIN;
                    rec_q <<= 1;
                    rec_q += pull();
                }
            }
            let mut i0 = a.saturating_mul(p).checked_div(a + bb).unwrap_or(0);
            if i0 == 0 {
                i0 = 1;
            }
            if i0 >= p {
                i0 = p.saturating_sub(1);
            }
            let threshold = q + i0;
            let symbol = rec_q >= threshold;
            if symbol {
                q += i0;
                i0 = p - i0;
            }
            p = i0;
            byte |= u8::from(symbol) << i;
        }
        out.push(byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::Rng;
    #[test]
    fn lzma_uses_openwrt_parameters() {
        // `xz --format=raw --lzma1=lc=0,lp=0,pb=0,dict=8KiB` of a short config file: raw LZMA1
        // as OpenWrt's JFFS2 writes it (no header; the node gives the size).
        let src = [
            0x00, 0x31, 0x9d, 0x6b, 0x10, 0x57, 0x97, 0x15, 0xf8, 0x01, 0x0f, 0xe4, 0x7c, 0xef,
            0x6e, 0x9e, 0xf4, 0x0d, 0x29, 0x1c, 0x0c, 0x27, 0xd9, 0x6a, 0x1b, 0x1f, 0x30, 0xde,
            0x2f, 0xce, 0x9f, 0x0c, 0xce, 0xa0, 0x79, 0xab, 0xf7, 0x35, 0x51, 0x36, 0x38, 0xfd,
            0xf1, 0x74, 0x56, 0x00,
        ];
        let want = b"config wifi\n\toption key acmewifi2023\n\toption key acmewifi2023\n";
        assert_eq!(decompress(COMPR_LZMA, &src, want.len()).unwrap(), want);
    }

    #[test]
    fn rtime_copies_back_references() {
        // 'a' then repeat 3 from its last position (0 at first): "aaaa".
        assert_eq!(rtime(&[b'a', 3, b'b', 0], 5), b"aaaab");
    }

    #[test]
    fn random_bytes_do_not_panic() {
        // Random bytes through every decompressor.
        let mut rng = Rng::new(0x9e37_79b9);
        for c in 0..10u8 {
            for _ in 0..50 {
                let len = rng.below(300);
                let src: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let _ = decompress(c, &src, 4096);
            }
        }
    }
}
