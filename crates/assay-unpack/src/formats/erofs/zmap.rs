//! EROFS compressed files: the logical-cluster map after the inode (full 8-byte indexes or
//! compacted 2- and 4-byte packs), physical clusters of one block or more ("big pcluster"),
//! tail-packed last clusters, and the decoders: LZ4 blocks, MicroLZMA, stored (uncompressed)
//! clusters. Our own reading of the on-disk layout; the kernel's documentation and
//! `erofs_fs.h` give the field meanings.
//!
//! The file is decoded front to back, one extent (a head cluster and the non-head clusters
//! that follow it) at a time; each extent's output is charged to the budget before it is
//! produced and every index, block address and length is checked against the image.

use crate::cursor::{le16, le32};
use crate::format::UnpackContext;
use std::io::Read;

/// Logical cluster types, the low two bits of an index's advise field.
const PLAIN: u8 = 0;
const HEAD1: u8 = 1;
const NONHEAD: u8 = 2;
const HEAD2: u8 = 3;

/// In a non-head index next to a head: the physical cluster's block count follows.
const D0_CBLKCNT: u32 = 1 << 11;

/// Map header advise bits.
const ADV_COMPACTED_2B: u16 = 0x01;
const ADV_BIG_PCLUSTER_1: u16 = 0x02;
const ADV_BIG_PCLUSTER_2: u16 = 0x04;
const ADV_INLINE_PCLUSTER: u16 = 0x08;
const ADV_INTERLACED_PCLUSTER: u16 = 0x10;
const ADV_FRAGMENT_PCLUSTER: u16 = 0x20;

/// Compression algorithm numbers of the map header.
const ALG_LZ4: u8 = 0;
const ALG_LZMA: u8 = 1;

/// LZ4 cannot expand a block more than about 255 times; an extent claiming more is corrupt.
const LZ4_MAX_RATIO: u64 = 256;
/// Largest MicroLZMA dictionary used (the output of one extent is the only history).
const LZMA_DICT_MAX: u64 = 1 << 30;

/// Which index format the inode uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Indexes {
    /// 8-byte `z_erofs_lcluster_index` records, one per logical cluster.
    Full,
    /// Packs of 2- or 4-byte records sharing one block address.
    Compact,
}

/// What the map needs to know about the file and the image.
pub(super) struct ZFile<'a> {
    pub d: &'a [u8],
    pub block_bits: u32,
    /// Whether compressed data is aligned to the end of its cluster (`0PADDING`).
    pub zero_padding: bool,
    pub indexes: Indexes,
    /// End of the inode and its xattrs: the map header starts at the next multiple of 8.
    pub end: u64,
    pub size: u64,
}

/// One logical cluster's index, decoded.
#[derive(Debug, Clone, Copy)]
struct Lcluster {
    kind: u8,
    /// For heads: where in the logical cluster the extent starts.
    clusterofs: u32,
    /// For heads: first block of the physical cluster.
    pblk: u64,
    /// For non-heads: distance back to the head; 0 when a block count is given instead.
    delta0: u32,
    /// For the non-head after a big-pcluster head: the physical cluster's block count.
    cblks: Option<u32>,
    /// Just past this index's pack: where tail-packed data starts.
    next_pack: u64,
}

struct Map<'a> {
    f: &'a ZFile<'a>,
    advise: u16,
    algorithms: u8,
    lbits: u32,
    idata_size: u64,
    header: u64,
}

fn corrupt<T>(what: impl Into<String>) -> Result<T, String> {
    Err(what.into())
}

impl Map<'_> {
    fn total(&self) -> u64 {
        self.f.size.div_ceil(1 << self.lbits)
    }

    fn load(&self, lcn: u64) -> Result<Lcluster, String> {
        if lcn >= self.total() {
            return corrupt(format!("logical cluster {lcn} is past the end of the file"));
        }
        match self.f.indexes {
            Indexes::Full => self.load_full(lcn),
            Indexes::Compact => self.load_compact(lcn),
        }
    }

    fn load_full(&self, lcn: u64) -> Result<Lcluster, String> {
        // Full indexes start 8 bytes after the 8-byte map header.
        let pos = lcn
            .checked_mul(8)
            .and_then(|o| o.checked_add(self.header + 16))
            .filter(|&p| p.saturating_add(8) <= self.f.d.len() as u64)
            .ok_or("cluster index lies past the end of the image")?;
        let p = pos as usize;
        let d = self.f.d;
        let advise = le16(d, p).unwrap_or(0);
        let kind = (advise & 3) as u8;
        let mut lc = Lcluster {
            kind,
            clusterofs: 0,
            pblk: 0,
            delta0: 0,
            cblks: None,
            next_pack: pos + 8,
        };
        if kind == NONHEAD {
            let d0 = u32::from(le16(d, p + 4).unwrap_or(0));
            if d0 & D0_CBLKCNT != 0 {
                if self.advise & (ADV_BIG_PCLUSTER_1 | ADV_BIG_PCLUSTER_2) == 0 {
                    return corrupt("block count in an index without big clusters");
                }
                lc.cblks = Some(d0 & !D0_CBLKCNT);
                lc.delta0 = 1;
            } else {
                lc.delta0 = d0;
            }
        } else {
            lc.clusterofs = u32::from(le16(d, p + 2).unwrap_or(0));
            if lc.clusterofs >= 1 << self.lbits {
                return corrupt(format!("logical cluster {lcn}: offset past the cluster"));
            }
            lc.pblk = u64::from(le32(d, p + 4).unwrap_or(0));
        }
        Ok(lc)
    }

    fn load_compact(&self, lcn: u64) -> Result<Lcluster, String> {
        let ebase = self.header + 8;
        let total = self.total();
        let mut initial_4b = (32 - ebase % 32) / 4;
        if initial_4b == 8 {
            initial_4b = 0;
        }
        let packs_2b = if self.advise & ADV_COMPACTED_2B != 0 && initial_4b < total {
            (total - initial_4b) / 16 * 16
        } else {
            0
        };
        let (shift, pos) = if lcn < initial_4b {
            (2u32, ebase + lcn * 4)
        } else if lcn - initial_4b < packs_2b {
            (1, ebase + initial_4b * 4 + (lcn - initial_4b) * 2)
        } else {
            (
                2,
                ebase + initial_4b * 4 + packs_2b * 2 + (lcn - initial_4b - packs_2b) * 4,
            )
        };
        let vcnt: u64 = match shift {
            2 if self.lbits <= 14 => 2,
            1 if self.lbits <= 12 => 16,
            _ => return corrupt("compacted indexes with clusters this large"),
        };
        let pack = vcnt << shift;
        let base = pos / pack * pack;
        let next_pack = base + pack;
        let d = self.f.d;
        let bytes = d
            .get(base as usize..next_pack as usize)
            .ok_or("cluster index lies past the end of the image")?;
        let lobits = self.lbits.max(12);
        let encodebits = ((pack - 4) * 8 / vcnt) as u32;
        let decode = |i: u64| -> (u32, u8) {
            let bit = encodebits as u64 * i;
            let at = (bit / 8) as usize;
            // The last record's bits may end in the pack's block address; read what exists.
            let mut w = [0u8; 4];
            let avail = bytes.len().saturating_sub(at).min(4);
            w[..avail].copy_from_slice(&bytes[at..at + avail]);
            let v = u32::from_le_bytes(w) >> (bit % 8);
            (v & ((1 << lobits) - 1), ((v >> lobits) & 3) as u8)
        };
        let big = self.advise & ADV_BIG_PCLUSTER_1 != 0;
        let i = (pos - base) >> shift;
        let (lo, kind) = decode(i);
        let mut lc = Lcluster {
            kind,
            clusterofs: 0,
            pblk: 0,
            delta0: 0,
            cblks: None,
            next_pack,
        };
        if kind == NONHEAD {
            lc.clusterofs = 1 << self.lbits;
            if lo & D0_CBLKCNT != 0 {
                if !big {
                    return corrupt("block count in an index without big clusters");
                }
                lc.cblks = Some(lo & !D0_CBLKCNT);
                lc.delta0 = 1;
            } else if i + 1 != vcnt {
                lc.delta0 = lo;
            } else {
                // The pack's last record holds the distance forward; the one before gives
                // the distance back.
                let (lo, kind) = decode(i - 1);
                let lo = if kind != NONHEAD {
                    0
                } else if lo & D0_CBLKCNT != 0 {
                    1
                } else {
                    lo
                };
                lc.delta0 = lo + 1;
            }
            return Ok(lc);
        }
        lc.clusterofs = lo;
        // A head's block is the pack's address plus the blocks of the heads before it.
        let mut nblk: i64 = if big { 0 } else { 1 };
        let mut i = i as i64;
        while i > 0 {
            i -= 1;
            let (lo, kind) = decode(i as u64);
            if !big {
                if kind == NONHEAD {
                    i -= i64::from(lo);
                }
                if i >= 0 {
                    nblk += 1;
                }
            } else if kind == NONHEAD {
                if lo & D0_CBLKCNT != 0 {
                    i -= 1;
                    nblk += i64::from(lo & !D0_CBLKCNT);
                    continue;
                }
                if lo <= 1 {
                    return corrupt("big-cluster pack with a one-cluster back distance");
                }
                i -= i64::from(lo) - 2;
            } else {
                nblk += 1;
            }
        }
        let addr = u64::from(le32(bytes, (pack - 4) as usize).unwrap_or(0));
        lc.pblk = addr.wrapping_add(nblk as u64) & 0xffff_ffff;
        Ok(lc)
    }

    /// Blocks of the physical cluster headed at `lcn`.
    fn pcluster_len(&self, lcn: u64, kind: u8) -> Result<u64, String> {
        let big = (kind == HEAD1 && self.advise & ADV_BIG_PCLUSTER_1 != 0)
            || ((kind == PLAIN || kind == HEAD2) && self.advise & ADV_BIG_PCLUSTER_2 != 0);
        if !big {
            return Ok(1 << self.lbits);
        }
        let blocks = if lcn + 1 >= self.total() {
            // The last logical cluster heads a one-cluster physical cluster.
            1u64 << (self.lbits - self.f.block_bits)
        } else {
            let next = self.load(lcn + 1)?;
            match (next.kind, next.cblks) {
                (NONHEAD, Some(n)) => u64::from(n),
                (NONHEAD, None) => return corrupt("big cluster without its block count"),
                _ => 1u64 << (self.lbits - self.f.block_bits),
            }
        };
        if blocks == 0 {
            return corrupt("big cluster of zero blocks");
        }
        Ok(blocks << self.f.block_bits)
    }
}

/// One extent: logical `[la, end)` produced from the physical cluster at `head`.
struct Extent {
    la: u64,
    end: u64,
    head_lcn: u64,
    head: Lcluster,
}

/// The first `want` bytes of the compressed file. Errors name the first problem met; the
/// bytes decoded before it are returned with it.
pub(super) fn read(
    f: &ZFile,
    want: u64,
    ctx: &UnpackContext,
) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let mut out = Vec::new();
    match read_into(f, want, ctx, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => Err((out, e)),
    }
}

fn read_into(f: &ZFile, want: u64, ctx: &UnpackContext, out: &mut Vec<u8>) -> Result<(), String> {
    if want == 0 {
        return Ok(());
    }
    let header = f.end.div_ceil(8) * 8;
    let h = header as usize;
    let d = f.d;
    let (Some(idata), Some(advise), Some(&algorithms), Some(&cbits)) =
        (le16(d, h + 2), le16(d, h + 4), d.get(h + 6), d.get(h + 7))
    else {
        return corrupt("cluster map header lies past the end of the image");
    };
    if cbits & 0x80 != 0 || advise & ADV_FRAGMENT_PCLUSTER != 0 {
        return corrupt("data kept in the packed inode (fragments) is not decoded");
    }
    if advise & ADV_INTERLACED_PCLUSTER != 0 {
        return corrupt("interlaced stored clusters are not decoded");
    }
    let lbits = f.block_bits + u32::from(cbits & 7);
    if f.indexes == Indexes::Compact
        && ((advise & ADV_BIG_PCLUSTER_1 != 0) != (advise & ADV_BIG_PCLUSTER_2 != 0)
            || lbits != f.block_bits)
    {
        return corrupt("compacted indexes with an unsupported cluster layout");
    }
    let map = Map {
        f,
        advise,
        algorithms,
        lbits,
        idata_size: u64::from(idata),
        header,
    };
    let total = map.total();
    let lcs = 1u64 << lbits;
    let mut cur: Option<Extent> = None;
    for lcn in 0..total {
        let lc = map.load(lcn)?;
        if lc.kind == NONHEAD {
            if cur.is_none() {
                return corrupt("the first logical cluster is not a head");
            }
            if lc.delta0 == 0 || lc.delta0 as u64 > lcn {
                return corrupt(format!("logical cluster {lcn}: bad distance to its head"));
            }
            continue;
        }
        let start = (lcn << lbits) | u64::from(lc.clusterofs);
        if let Some(mut e) = cur.take() {
            e.end = start.min(f.size);
            decode(&map, &e, want, ctx, out)?;
            if out.len() as u64 >= want {
                return Ok(());
            }
        } else if start != 0 {
            return corrupt("the first extent does not start at offset 0");
        }
        if start >= f.size {
            break;
        }
        cur = Some(Extent {
            la: start,
            end: ((lcn + 1) * lcs).min(f.size),
            head_lcn: lcn,
            head: lc,
        });
    }
    if let Some(mut e) = cur {
        e.end = f.size;
        decode(&map, &e, want, ctx, out)?;
    }
    if (out.len() as u64) < want {
        return corrupt(format!("cluster map covers {} of {want} bytes", out.len()));
    }
    Ok(())
}

/// Decode one extent, appending the part of it below `want` to `out`.
fn decode(
    map: &Map,
    e: &Extent,
    want: u64,
    ctx: &UnpackContext,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let f = map.f;
    if e.end <= e.la || e.la != out.len() as u64 {
        return corrupt(format!("extent at {} overlaps or leaves a gap", e.la));
    }
    let llen = e.end - e.la;
    let need = llen.min(want - e.la);
    let tail_packed = map.advise & ADV_INLINE_PCLUSTER != 0 && e.end >= f.size;
    let (pa, plen) = if tail_packed {
        // The last extent's cluster follows the index pack of the file's last cluster.
        let last = map.load((f.size - 1) >> map.lbits)?;
        (last.next_pack, map.idata_size)
    } else {
        let plen = map.pcluster_len(e.head_lcn, e.head.kind)?;
        let pa = e
            .head
            .pblk
            .checked_shl(f.block_bits)
            .ok_or("cluster address is out of range")?;
        (pa, plen)
    };
    let src = pa
        .checked_add(plen)
        .and_then(|end| f.d.get(pa as usize..end as usize))
        .ok_or_else(|| format!("extent at {}: cluster lies past the end of the image", e.la))?;
    let algorithm = match e.head.kind {
        PLAIN => None,
        HEAD1 => Some(map.algorithms & 15),
        _ => Some(map.algorithms >> 4),
    };
    let at = format!("extent at {}", e.la);
    match algorithm {
        None => {
            // Stored: the extent's bytes from the start of the cluster.
            let bytes = src
                .get(..need as usize)
                .ok_or_else(|| format!("{at}: stored cluster is shorter than the extent"))?;
            ctx.charge(need).map_err(|e| e.to_string())?;
            out.extend_from_slice(bytes);
        }
        Some(ALG_LZ4) if f.zero_padding => {
            // The stream ends the cluster; zeros before it pad it to the cluster's start.
            let skip = src.iter().position(|&b| b != 0).unwrap_or(src.len());
            let input = &src[skip..];
            if input.is_empty() || llen > (input.len() as u64).saturating_mul(LZ4_MAX_RATIO) {
                return corrupt(format!("{at}: {llen} bytes cannot come from this cluster"));
            }
            ctx.charge(llen).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; llen as usize];
            let n = lz4_flex::block::decompress_into(input, &mut buf)
                .map_err(|e| format!("{at}: LZ4: {e}"))?;
            if (n as u64) < need {
                return corrupt(format!("{at}: LZ4 gave {n} of {llen} bytes"));
            }
            out.extend_from_slice(&buf[..need as usize]);
        }
        Some(ALG_LZ4) => {
            // Without zero padding the stream starts the cluster and unrelated bytes follow
            // it: only the output length says where it ends.
            if need > (src.len() as u64).saturating_mul(LZ4_MAX_RATIO) {
                return corrupt(format!("{at}: {llen} bytes cannot come from this cluster"));
            }
            ctx.charge(need).map_err(|e| e.to_string())?;
            let bytes = lz4_prefix(src, need as usize).map_err(|e| format!("{at}: LZ4: {e}"))?;
            out.extend_from_slice(&bytes);
        }
        Some(ALG_LZMA) => {
            let skip = src.iter().position(|&b| b != 0).unwrap_or(src.len());
            let input = &src[skip..];
            let [first, rest @ ..] = input else {
                return corrupt(format!("{at}: empty MicroLZMA cluster"));
            };
            ctx.charge(need).map_err(|e| e.to_string())?;
            let bytes = micro_lzma(!first, rest, llen, need).map_err(|e| format!("{at}: {e}"))?;
            out.extend_from_slice(&bytes);
        }
        Some(a) => return corrupt(format!("compression algorithm {a} is not decoded")),
    }
    Ok(())
}

/// The first `len` bytes an LZ4 block decodes to, ignoring what follows them. Our own small
/// decoder: lz4_flex decodes whole blocks only, and a cluster written without zero padding
/// has no end but its output length.
fn lz4_prefix(input: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let cut = || "the block is cut short".to_string();
    let length = |i: &mut usize, mut n: usize| -> Result<usize, String> {
        if n == 15 {
            loop {
                let b = *input.get(*i).ok_or_else(cut)?;
                *i += 1;
                n = n.saturating_add(usize::from(b));
                if b != 255 {
                    break;
                }
            }
        }
        Ok(n)
    };
    let mut out = Vec::with_capacity(len);
    let mut i = 0usize;
    while out.len() < len {
        let token = *input.get(i).ok_or_else(cut)?;
        i += 1;
        let lit = length(&mut i, usize::from(token >> 4))?;
        let bytes = i
            .checked_add(lit)
            .and_then(|e| input.get(i..e))
            .ok_or_else(cut)?;
        i += lit;
        out.extend_from_slice(&bytes[..lit.min(len - out.len())]);
        if out.len() >= len {
            break;
        }
        let offset = usize::from(le16(input, i).ok_or_else(cut)?);
        i += 2;
        if offset == 0 || offset > out.len() {
            return Err(format!("match offset {offset} is out of range"));
        }
        let matched = length(&mut i, usize::from(token & 15))?
            .saturating_add(4)
            .min(len - out.len());
        let start = out.len() - offset;
        for k in start..start + matched {
            out.push(out[k]);
        }
    }
    Ok(out)
}

/// The first `len` of the `full` bytes of a MicroLZMA stream: LZMA1 whose properties byte is
/// stored inverted in the first byte and whose range coder's first byte (always zero) is left
/// out, with no end marker.
fn micro_lzma(props: u8, rest: &[u8], full: u64, len: u64) -> Result<Vec<u8>, String> {
    // Only the first `len` bytes are decoded: no match reaches further back.
    let dict = len.clamp(4096, LZMA_DICT_MAX) as u32;
    let input = std::io::Cursor::new([0u8]).chain(rest);
    let mut r = lzma_rust2::LzmaReader::new_with_props(input, full, props, dict, None)
        .map_err(|e| format!("MicroLZMA: {e}"))?;
    let mut out = vec![0u8; len as usize];
    r.read_exact(&mut out)
        .map_err(|e| format!("MicroLZMA: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A raw LZMA1 stream (lc=3 lp=0 pb=2, with an end marker) of 600 bytes of a repeating
    /// text, written by Python's `lzma` module (liblzma) in `fixtures/scripts/filesystems.sh`.
    const RAW: &[u8] = include_bytes!("../../../tests/fixtures/filesystems/lzma1-raw.bin");

    #[test]
    fn lz4_prefix_stops_at_the_output_length() {
        let text: Vec<u8> = b"an EROFS cluster, an EROFS cluster, and more".repeat(20);
        let mut block = lz4_flex::block::compress(&text);
        block.extend_from_slice(&[0, 0, 0xff, 0x12]);
        assert_eq!(lz4_prefix(&block, text.len()).unwrap(), text);
        assert_eq!(lz4_prefix(&block, 50).unwrap(), &text[..50]);
        assert!(lz4_prefix(&block[..5], text.len()).is_err());
        // A match reaching before the output's start.
        assert!(lz4_prefix(&[0x10, b'a', 9, 0], 10).is_err());
    }

    #[test]
    fn micro_lzma_decodes_a_raw_stream_without_its_first_byte() {
        let expected: Vec<u8> = b"erofs microlzma "
            .iter()
            .copied()
            .cycle()
            .take(600)
            .collect();
        assert_eq!(RAW[0], 0, "a range coder starts with a zero byte");
        let props = 3 + 9 * (5 * 2); // lc 3, lp 0, pb 2
        assert_eq!(micro_lzma(props, &RAW[1..], 600, 600).unwrap(), expected);
        // Fewer bytes than the stream holds: decoding stops there.
        assert_eq!(
            micro_lzma(props, &RAW[1..], 600, 20).unwrap(),
            &expected[..20]
        );
        // Cut input is an error, not a panic.
        assert!(micro_lzma(props, &RAW[1..8], 600, 600).is_err());
        assert!(micro_lzma(0xff, &RAW[1..], 600, 600).is_err());
    }
}
