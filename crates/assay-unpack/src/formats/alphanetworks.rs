//! Alpha Networks firmware upgrade files (cameras and routers Alpha Networks builds for
//! D-Link and others): a shell script (`#!/bin/sh`, setting `VENDOR`, `HWBOARD`, … and
//! doing the upgrade), then optionally a line `=== ddPack Boundary ===` followed by a
//! helper program in `uuencode -m` form (`begin-base64 MODE NAME`, base64 lines, `====`),
//! then a line `=== Firmware Boundary ===` and the firmware image to the end of the file.
//! Images whose firmware starts with `REDSONIC` carry it bit-inverted (every byte XOR 0xFF).
//!
//! The probe asks for the script's first line, a firmware boundary line within the first
//! `MAX_SCRIPT` bytes with only text (no NUL byte) before it, and a non-empty firmware.
//! The parts are given under the names fact_extractor's plugin writes (`script.sh`,
//! `ddPack.elf`, `firmware.bin`); the helper program is decoded, an inverted firmware
//! restored.
//!
//! Written here (no crate reads it); base64 by the `base64` crate.

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};
use base64::Engine;
use memchr::{memchr, memmem};

/// An Alpha Networks script-plus-firmware upgrade file.
pub struct AlphaNetworks;

static MAGICS: &[Magic] = &[Magic::at_start(b"#!/bin/sh\n")];

/// How far into the file the firmware boundary may lie: the script is a few KiB.
const MAX_SCRIPT: usize = 1 << 20;
/// The line before the firmware.
const FW_BOUNDARY: &[u8] = b"\n=== Firmware Boundary ===\n";
/// The line before the uuencoded helper program.
const DDPACK_BOUNDARY: &[u8] = b"\n=== ddPack Boundary ===\n";
/// The start of the `uuencode -m` header line and its closing line.
const BEGIN: &[u8] = b"begin-base64 ";
const END: &[u8] = b"\n====\n";
/// The clear-text start of a firmware that is stored inverted.
const INVERTED_MAGIC: &[u8] = b"REDSONIC";

/// Where the parts lie.
struct Layout {
    /// End of the script (the newline before the first boundary line is its last byte).
    script_end: usize,
    /// Start of the ddPack section after its boundary line, if there is one.
    ddpack_at: Option<usize>,
    /// Start of the firmware.
    fw_at: usize,
}

fn parse(data: &[u8]) -> Option<Layout> {
    if !data.starts_with(MAGICS[0].bytes) {
        return None;
    }
    // Text only up to the boundary: the window ends at the first NUL.
    let window = &data[..data.len().min(MAX_SCRIPT)];
    let window = &window[..memchr(0, window).unwrap_or(window.len())];
    let fw = memmem::find(window, FW_BOUNDARY)?;
    let fw_at = fw + FW_BOUNDARY.len();
    if fw_at >= data.len() {
        return None;
    }
    let dd = memmem::find(&window[..fw], DDPACK_BOUNDARY);
    Some(Layout {
        script_end: dd.unwrap_or(fw) + 1,
        ddpack_at: dd.map(|d| d + DDPACK_BOUNDARY.len()),
        fw_at,
    })
}

/// The helper program from its `uuencode -m` section: (offset of the base64 text, bytes).
fn decode_ddpack(section: &[u8], at: usize) -> Result<(usize, Vec<u8>), String> {
    let begin = memmem::find(section, BEGIN).ok_or("no begin-base64 line")?;
    let text_at =
        begin + memchr(b'\n', &section[begin..]).ok_or("begin-base64 line not ended")? + 1;
    // The closing line; its newline before is the last base64 line's own.
    let end = memmem::find(&section[text_at - 1..], END).ok_or("no closing ==== line")?;
    let text: Vec<u8> = section
        .get(text_at..text_at - 1 + end)
        .unwrap_or(&[])
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(&text)
        .map_err(|e| format!("base64: {e}"))?;
    Ok((at + text_at, bytes))
}

impl Format for AlphaNetworks {
    fn name(&self) -> &'static str {
        "alphanetworks"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        let l = parse(data)?;
        Some(Probe {
            length: Some(data.len() as u64),
            description: format!(
                "Alpha Networks upgrade script ({} bytes{}), firmware of {} bytes",
                l.script_end,
                if l.ddpack_at.is_some() {
                    ", with ddPack"
                } else {
                    ""
                },
                data.len() - l.fw_at
            ),
        })
    }

    fn unpack(&self, data: &Blob, ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        let l = parse(data)
            .ok_or_else(|| FormatError::Corrupt("no Alpha Networks firmware boundary".into()))?;
        let mut out = Unpacked::default();
        out.detail("firmware_offset", l.fw_at);
        out.entries.push(Entry::stream(
            "script.sh",
            EntryData::Range {
                offset: 0,
                length: l.script_end as u64,
            },
        ));
        if let Some(at) = l.ddpack_at {
            out.detail("ddpack_offset", at);
            // The section runs to the firmware boundary line.
            let section = &data[at..l.fw_at - FW_BOUNDARY.len() + 1];
            ctx.reserve_stream(section.len() as u64, "ddPack")?;
            match decode_ddpack(section, at) {
                Ok((b64_at, bytes)) => {
                    out.detail("base64_offset", b64_at);
                    out.entries.push(
                        Entry::stream("ddPack.elf", EntryData::Owned(Blob::from(bytes)))
                            .with_detail("offset", b64_at)
                            .with_detail("encoding", "base64 (uuencode -m)"),
                    );
                }
                Err(e) => out.warn(WarningKind::Corrupt, format!("ddPack section: {e}")),
            }
        }
        let fw = &data[l.fw_at..];
        let inverted = fw.len() >= INVERTED_MAGIC.len()
            && fw.iter().zip(INVERTED_MAGIC).all(|(&b, &m)| b == !m);
        out.detail("inverted", inverted);
        let entry = if inverted {
            ctx.reserve_stream(fw.len() as u64, "inverted firmware")?;
            let clear: Vec<u8> = fw.iter().map(|b| !b).collect();
            Entry::stream("firmware.bin", EntryData::Owned(Blob::from(clear)))
                .with_detail("encoding", "bit-inverted")
        } else {
            Entry::stream(
                "firmware.bin",
                EntryData::Range {
                    offset: l.fw_at as u64,
                    length: fw.len() as u64,
                },
            )
        };
        out.entries.push(entry.with_detail("offset", l.fw_at));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::unpack;

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-vendor/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/image.alpha");
    const INV: &[u8] = include_bytes!("../../tests/fixtures/fact-vendor/inverted.alpha");

    #[test]
    fn parts_are_split_decoded_and_restored() {
        check_streams_in(MANIFEST, &AlphaNetworks, "image.alpha", IMG);
        check_streams_in(MANIFEST, &AlphaNetworks, "inverted.alpha", INV);
        for img in [IMG, INV] {
            let u = unpack(&AlphaNetworks, img);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        }
        assert_eq!(unpack(&AlphaNetworks, IMG).entries.len(), 3);
        assert_eq!(unpack(&AlphaNetworks, INV).entries.len(), 2);
    }

    #[test]
    fn broken_ddpack_warns_and_keeps_the_rest() {
        let at = memmem::find(IMG, END).unwrap();
        let mut bad = IMG.to_vec();
        bad[at + 1] = b'#';
        let u = unpack(&AlphaNetworks, &bad);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Corrupt));
        assert_eq!(u.entries.len(), 2);
    }

    #[test]
    fn plain_scripts_and_binary_before_the_boundary_are_refused() {
        assert!(AlphaNetworks
            .probe(b"#!/bin/sh\necho hello\nexit 0\n")
            .is_none());
        let fw = memmem::find(IMG, FW_BOUNDARY).unwrap();
        let mut nul = IMG.to_vec();
        nul[fw - 3] = 0;
        assert!(AlphaNetworks.probe(&nul).is_none());
        // No firmware after the boundary line.
        assert!(AlphaNetworks
            .probe(&IMG[..fw + FW_BOUNDARY.len()])
            .is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&AlphaNetworks, IMG, &Hostile::flips(200));
        hostile_with(&AlphaNetworks, INV, &Hostile::flips(100));
    }
}
