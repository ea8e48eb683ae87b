//! U-Boot environment blocks: a little-endian CRC-32 over the rest of the block, an optional
//! flag byte (redundant environments), then `key=value` strings each ending in NUL, the list
//! ending in an empty string.
//!
//! The block has no magic, so the scanner looks for the usual first variables (`bootcmd=`,
//! `bootargs=`, ...) right after the CRC (offset 4) or the CRC and flag (offset 5), and the
//! probe accepts a candidate only when the CRC matches for one of the usual block sizes.
//! The variables are yielded as one text stream (`key=value` lines) for later detectors.

use crate::cursor::le32;
use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// A U-Boot environment block (single or redundant).
pub struct UBootEnv;

static MAGICS: &[Magic] = &[
    Magic::at(b"bootcmd=", 4),
    Magic::at(b"bootargs=", 4),
    Magic::at(b"baudrate=", 4),
    Magic::at(b"bootdelay=", 4),
    Magic::at(b"ethaddr=", 4),
    Magic::at(b"arch=", 4),
    Magic::at(b"bootcmd=", 5),
    Magic::at(b"bootargs=", 5),
    Magic::at(b"baudrate=", 5),
    Magic::at(b"bootdelay=", 5),
    Magic::at(b"ethaddr=", 5),
    Magic::at(b"arch=", 5),
];

/// Block sizes U-Boot builds commonly use (`CONFIG_ENV_SIZE`).
const ENV_SIZES: &[usize] = &[0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000];
/// Most variables kept from one block.
const MAX_VARS: usize = 10_000;

/// Where the variables start and how long the block is, when the CRC proves it.
fn locate(data: &[u8]) -> Option<(usize, usize)> {
    let stored = le32(data, 0)?;
    for &size in ENV_SIZES {
        let Some(block) = data.get(..size) else {
            break;
        };
        for start in [4usize, 5] {
            if crc32fast::hash(&block[start..]) == stored {
                return Some((start, size));
            }
        }
    }
    None
}

impl Format for UBootEnv {
    fn name(&self) -> &'static str {
        "u-boot-env"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        // The candidate's first variable sits at 4 or 5; a variable name is printable.
        let first = *data.get(4)?;
        if !(first.is_ascii_alphanumeric() || first <= 1) {
            return None;
        }
        let (start, size) = locate(data)?;
        Some(Probe {
            length: Some(size as u64),
            description: format!(
                "U-Boot environment, {size:#x} bytes{}",
                if start == 5 { ", redundant" } else { "" }
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let (start, size) =
            locate(data).ok_or_else(|| FormatError::Corrupt("environment CRC mismatch".into()))?;
        let mut out = Unpacked::default();
        out.detail("size", format!("{size:#x}"));
        if start == 5 {
            out.detail("redundant", "yes");
            out.detail("flag", data[4]);
        }
        let mut text = Vec::new();
        let mut count = 0usize;
        for var in data[start..size].split(|&b| b == 0) {
            if var.is_empty() {
                break;
            }
            count += 1;
            if count > MAX_VARS {
                out.warn(
                    WarningKind::Limit,
                    format!("more than {MAX_VARS} variables; the rest is not kept"),
                );
                break;
            }
            let s = String::from_utf8_lossy(var);
            match s.split_once('=') {
                Some((k @ ("bootcmd" | "bootargs" | "ethaddr" | "ipaddr" | "serverip"), v)) => {
                    out.detail(k, v);
                }
                Some(_) => {}
                None => out.warn(WarningKind::Format, format!("variable without '=': {s:?}")),
            }
            text.extend_from_slice(var);
            text.push(b'\n');
        }
        out.detail("variables", count);
        ctx.charge(text.len() as u64)?;
        out.entries.push(Entry::stream(
            "environment",
            EntryData::Owned(Blob::from(text)),
        ));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams;
    use crate::formats::testutil::unpack;

    const ENV: &[u8] = include_bytes!("../../tests/fixtures/firmware/uboot-env.bin");
    const ENV2: &[u8] = include_bytes!("../../tests/fixtures/firmware/uboot-env-redundant.bin");

    #[test]
    fn single_and_redundant_environments_decode() {
        check_streams(&UBootEnv, "uboot-env.bin", ENV);
        check_streams(&UBootEnv, "uboot-env-redundant.bin", ENV2);
        let u = unpack(&UBootEnv, ENV);
        assert_eq!(u.details["bootcmd"], "bootm 0x9f020000");
        assert_eq!(u.details["variables"], "6");
        assert_eq!(unpack(&UBootEnv, ENV2).details["redundant"], "yes");
    }

    #[test]
    fn crc_mismatch_is_rejected() {
        let mut d = ENV.to_vec();
        d[40] ^= 1;
        assert!(UBootEnv.probe(&d).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&UBootEnv, ENV, &Hostile::flips(200));
    }
}
