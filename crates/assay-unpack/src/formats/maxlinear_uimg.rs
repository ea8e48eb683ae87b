//! Intel / MaxLinear Puma "unified image" (`uimg`) of DOCSIS cable gateways (Puma 6 and 7):
//! a big-endian header (`VER2` or `VER3`, the name `Intel_Unified_Image`, a packed creation
//! date and time, a version, the total size, the partition count, a header CRC-32 computed
//! with its own field zeroed, a CRC-32 over all partition data, then per partition slot a
//! CRC-32, a size, a device number and a spare byte: 10 slots in `VER2`, 20 in `VER3`),
//! followed by the partitions' data back to back. The device number says what a partition
//! holds: 2 and 3 the Atom kernel and root file system, 8 and 9 the ARM ones, 10 the gateway
//! file system.
//!
//! The partitions are yielded as streams named by device (`atom-kernel`, `arm-rootfs`,
//! `part-<n>` for others); the list ends at the first empty slot, as the public `uimg` tool
//! reads it. Every CRC is checked (a mismatch is a warning). A candidate needs the name and
//! a sane partition table, so a stray `VER2` never claims bytes. A signed image's leading
//! CMS signature is left to the scan (the header is found after it).
//!
//! Written here (no crate reads it); layout from the public `uimg` tool's header (2019–2020).

use crate::cursor::be32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use std::collections::BTreeMap;

/// A MaxLinear (Intel) Puma unified image.
pub struct MaxlinearUimg;

static MAGICS: &[Magic] = &[Magic::at_start(b"VER2"), Magic::at_start(b"VER3")];

const NAME: &[u8] = b"Intel_Unified_Image";
/// Offset of the header CRC, and of the first partition CRC.
const HEAD_CRC_AT: usize = 0x2C;
const SLOTS_AT: usize = 0x34;

/// The header of either version.
struct Header {
    version: u8,
    slots: usize,
    header_len: usize,
    num_part: u32,
    total: u32,
    head_crc: u32,
    data_crc: u32,
    /// (CRC, size, device) of each used slot, up to the first empty one.
    parts: Vec<(u32, u64, u8)>,
}

impl Header {
    fn parse(d: &[u8]) -> Option<Header> {
        let (version, slots, header_len) = match d.get(..4)? {
            b"VER2" => (2, 10, 0xA0),
            b"VER3" => (3, 20, 0xFC),
            _ => return None,
        };
        let h = d.get(..header_len)?;
        let name = &h[4..24];
        if !name.starts_with(NAME) || name[NAME.len()..].iter().any(|&b| b != 0) {
            return None;
        }
        let num_part = be32(h, 0x28)?;
        if num_part == 0 || num_part as usize > slots {
            return None;
        }
        let sizes_at = SLOTS_AT + 4 * slots;
        let devs_at = sizes_at + 4 * slots;
        let mut parts = Vec::new();
        for i in 0..slots {
            let size = be32(h, sizes_at + 4 * i)?;
            if size == 0 {
                break;
            }
            parts.push((be32(h, SLOTS_AT + 4 * i)?, u64::from(size), h[devs_at + i]));
        }
        if parts.is_empty() {
            return None;
        }
        Some(Header {
            version,
            slots,
            header_len,
            num_part,
            total: be32(h, 0x24)?,
            head_crc: be32(h, HEAD_CRC_AT)?,
            data_crc: be32(h, 0x30)?,
            parts,
        })
    }

    fn end(&self) -> u64 {
        self.header_len as u64 + self.parts.iter().map(|p| p.1).sum::<u64>()
    }
}

/// What a device number holds, as the `uimg` tool names them.
fn device_name(dev: u8) -> String {
    match dev {
        2 => "atom-kernel".into(),
        3 => "atom-rootfs".into(),
        8 => "arm-kernel".into(),
        9 => "arm-rootfs".into(),
        10 => "gw-rootfs".into(),
        n => format!("part-{n}"),
    }
}

impl Format for MaxlinearUimg {
    fn name(&self) -> &'static str {
        "maxlinear-uimg"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let h = Header::parse(data)?;
        Some(Probe {
            length: Some(h.end()),
            description: format!(
                "MaxLinear (Intel) Puma unified image VER{}, {} partitions",
                h.version,
                h.parts.len()
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let h = Header::parse(data)
            .ok_or_else(|| FormatError::Corrupt("bad unified image header".into()))?;
        let mut out = Unpacked::default();
        let raw = &data[..h.header_len];
        let (ts1, ts2) = (be32(raw, 0x18).unwrap_or(0), be32(raw, 0x1C).unwrap_or(0));
        out.detail("header_version", h.version);
        out.detail("version_field", be32(raw, 0x20).unwrap_or(0));
        // Year since 1900, month and day; hours, minutes, seconds (the month as stored).
        out.detail(
            "created",
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                1900 + (ts1 >> 16),
                (ts1 >> 8) & 0xFF,
                ts1 & 0xFF,
                (ts2 >> 16) & 0xFF,
                (ts2 >> 8) & 0xFF,
                ts2 & 0xFF
            ),
        );
        out.detail("declared_size", h.total);
        out.detail("partitions", h.parts.len());
        out.detail("slots", h.slots);
        if h.parts.len() != h.num_part as usize {
            out.warn(
                WarningKind::Corrupt,
                format!(
                    "header counts {} partitions, {} slots are filled",
                    h.num_part,
                    h.parts.len()
                ),
            );
        }
        let mut zeroed = raw.to_vec();
        zeroed[HEAD_CRC_AT..HEAD_CRC_AT + 4].fill(0);
        let head_ok = crc32fast::hash(&zeroed) == h.head_crc;
        out.detail("header_crc", if head_ok { "ok" } else { "mismatch" });
        if !head_ok {
            out.warn(WarningKind::Checksum, "header CRC-32 does not match");
        }
        let len = data.len() as u64;
        let mut at = h.header_len as u64;
        let mut all = crc32fast::Hasher::new();
        let mut complete = true;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, &(crc, size, dev)) in h.parts.iter().enumerate() {
            let base = device_name(dev);
            let n = seen.entry(base.clone()).or_default();
            *n += 1;
            let label = if *n == 1 { base } else { format!("{base}-{n}") };
            let start = at.min(len);
            let avail = (len - start).min(size);
            let bytes = &data[start as usize..(start + avail) as usize];
            all.update(bytes);
            let state = if avail < size {
                complete = false;
                out.warn(
                    WarningKind::Truncated,
                    format!("partition {i} ({label}) declares {size} bytes, {avail} present"),
                );
                "not checked (cut short)"
            } else if crc32fast::hash(bytes) == crc {
                "ok"
            } else {
                out.warn(
                    WarningKind::Checksum,
                    format!("partition {i} ({label}): CRC-32 does not match"),
                );
                "mismatch"
            };
            out.entries.push(
                Entry::stream(
                    label,
                    EntryData::Range {
                        offset: start,
                        length: avail,
                    },
                )
                .with_detail("device", dev)
                .with_detail("crc", state),
            );
            at = at.saturating_add(size);
        }
        if complete {
            let ok = all.finalize() == h.data_crc;
            out.detail("data_crc", if ok { "ok" } else { "mismatch" });
            if !ok {
                out.warn(
                    WarningKind::Checksum,
                    "CRC-32 over all partitions does not match",
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-camfs/expected.txt");
    const V2: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/image.uimg2");
    const V3: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/image.uimg3");

    #[test]
    fn partitions_are_named_streams_with_crcs_checked() {
        for (name, img) in [("image.uimg2", V2), ("image.uimg3", V3)] {
            check_streams_in(MANIFEST, &MaxlinearUimg, name, img);
            let u = unpack(&MaxlinearUimg, img);
            assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
            assert_eq!(u.details["header_crc"], "ok");
            assert_eq!(u.details["data_crc"], "ok");
            assert_eq!(
                MaxlinearUimg.probe(img).unwrap().length,
                Some(img.len() as u64)
            );
        }
    }

    #[test]
    fn bad_crcs_and_truncation_warn() {
        let mut bad = V2.to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let u = unpack(&MaxlinearUimg, &bad);
        let sums = u
            .warnings
            .iter()
            .filter(|(k, _)| *k == WarningKind::Checksum)
            .count();
        assert_eq!(sums, 2, "{:?}", u.warnings); // the partition's and the whole data's
        bad[0x18] ^= 1; // the date: header CRC
        let u = unpack(&MaxlinearUimg, &bad);
        assert_eq!(u.details["header_crc"], "mismatch");
        let u = unpack(&MaxlinearUimg, &V3[..V3.len() - 3]);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
    }

    #[test]
    fn wrong_names_and_counts_are_refused() {
        let mut name = V3.to_vec();
        name[5] = b'X';
        assert!(MaxlinearUimg.probe(&name).is_none());
        let mut count = V2.to_vec();
        count[0x28..0x2C].copy_from_slice(&11u32.to_be_bytes());
        assert!(MaxlinearUimg.probe(&count).is_none());
        let mut empty = V2.to_vec();
        empty[0x5C..0x60].fill(0); // first partition size
        assert!(MaxlinearUimg.probe(&empty).is_none());
        assert!(MaxlinearUimg.probe(&V3[..0x80]).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&MaxlinearUimg, V2, &Hostile::flips(200));
        hostile_with(&MaxlinearUimg, V3, &Hostile::flips(200));
    }
}
