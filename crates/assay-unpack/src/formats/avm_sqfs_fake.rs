//! AVM "fake squashfs": FRITZ!Box images whose file system is not a squashfs but an ext2
//! image behind one 256-byte block that carries only the squashfs big-endian magic `sqsh`
//! followed by zeros, so that update and boot code looking for a squashfs accepts it. The
//! image follows in whole 256-byte blocks.
//!
//! Recognised only when all 252 bytes after the magic are zero: a real squashfs superblock
//! (read by [`super::squashfs`]) never has a zero inode count, block size and version, so the
//! two never claim the same bytes. The payload is yielded as a `filesystem` stream; when it is
//! an ext file system its own superblock gives the length, otherwise it runs to the end of
//! the blob. A payload that ends inside a 256-byte block is reported as truncated and yielded
//! as stored: a block-wise copy (`dd conv=sync`, as fact_extractor's plugin does) would
//! complete it with zeros, but evidence holds only bytes that are in the image.
//!
//! Written here (no crate reads it; nothing but a magic and a block of zeros to read).

use crate::format::{Entry, EntryData, Format, Magic, Probe, UnpackContext, Unpacked, WarningKind};
use crate::{Blob, FormatError};

/// An AVM fake-squashfs image.
pub struct AvmSqfsFake;

static MAGICS: &[Magic] = &[Magic::at_start(b"sqsh")];

/// The header block, and the unit the image is stored in.
const BLOCK: usize = 256;

/// Payload length: the ext file system's own size when the payload is one, else the rest.
fn payload_len(payload: &[u8]) -> (u64, Option<&'static str>) {
    match super::ext::Ext.probe(payload).and_then(|p| p.length) {
        Some(n) if n > 0 => (n, Some("ext")),
        _ => (payload.len() as u64, None),
    }
}

fn header_ok(data: &[u8]) -> bool {
    data.len() > BLOCK
        && data.starts_with(b"sqsh")
        && data[4..BLOCK].iter().all(|&b| b == 0)
        // An erased or zeroed region is not an image.
        && data[BLOCK..].iter().any(|&b| b != 0)
}

impl Format for AvmSqfsFake {
    fn name(&self) -> &'static str {
        "avm-sqfs-fake"
    }

    fn magics(&self) -> &'static [Magic] {
        MAGICS
    }

    fn probe(&self, data: &[u8]) -> Option<Probe> {
        if !header_ok(data) {
            return None;
        }
        let (n, kind) = payload_len(&data[BLOCK..]);
        Some(Probe {
            length: Some(BLOCK as u64 + n),
            description: format!(
                "AVM fake squashfs, {n}-byte {} image",
                kind.unwrap_or("file system")
            ),
        })
    }

    fn unpack(&self, data: &Blob, _ctx: &UnpackContext) -> Result<Unpacked, FormatError> {
        if !header_ok(data) {
            return Err(FormatError::Corrupt(
                "not an AVM fake squashfs header".into(),
            ));
        }
        let (n, kind) = payload_len(&data[BLOCK..]);
        let mut out = Unpacked::default();
        out.detail("header_size", BLOCK);
        out.detail("payload", kind.unwrap_or("unknown"));
        let short = (BLOCK - (n as usize % BLOCK)) % BLOCK;
        if short != 0 {
            out.warn(
                WarningKind::Truncated,
                format!("image of {n} bytes ends {short} bytes short of a whole 256-byte block"),
            );
        }
        let entry = Entry::stream(
            "filesystem",
            EntryData::Range {
                offset: BLOCK as u64,
                length: n,
            },
        );
        out.entries.push(entry.with_detail("offset", BLOCK));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::manifest::check_streams_in;
    use crate::formats::testutil::{entry_bytes, unpack};

    const MANIFEST: &str = include_str!("../../tests/fixtures/fact-camfs/expected.txt");
    const IMG: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/image.avm-sqfs");
    const ODD: &[u8] = include_bytes!("../../tests/fixtures/fact-camfs/odd.avm-sqfs");

    #[test]
    fn ext2_payload_is_yielded_whole() {
        check_streams_in(MANIFEST, &AvmSqfsFake, "image.avm-sqfs", IMG);
        let u = unpack(&AvmSqfsFake, IMG);
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.details["payload"], "ext");
        // Trailing bytes after the ext2 image are not claimed.
        let mut more = IMG.to_vec();
        more.extend([0xAA; 100]);
        assert_eq!(
            AvmSqfsFake.probe(&more).unwrap().length,
            Some(IMG.len() as u64)
        );
    }

    #[test]
    fn short_last_block_is_yielded_as_stored_with_a_warning() {
        check_streams_in(MANIFEST, &AvmSqfsFake, "odd.avm-sqfs", ODD);
        let u = unpack(&AvmSqfsFake, ODD);
        assert!(u.warnings.iter().any(|(k, _)| *k == WarningKind::Truncated));
        let b = entry_bytes(ODD, &u.entries[0]).unwrap();
        assert_ne!(b.len() % BLOCK, 0);
        assert_eq!(&b[..], &ODD[BLOCK..]);
    }

    #[test]
    fn real_squashfs_and_zeros_are_refused() {
        // A real big-endian squashfs superblock has non-zero fields after the magic.
        let mut sb = IMG.to_vec();
        sb[4] = 1;
        assert!(AvmSqfsFake.probe(&sb).is_none());
        let mut zero = b"sqsh".to_vec();
        zero.resize(4096, 0);
        assert!(AvmSqfsFake.probe(&zero).is_none());
        assert!(AvmSqfsFake.probe(&IMG[..BLOCK]).is_none());
        let sq = include_bytes!("../../tests/fixtures/squashfs/sq3-zlib-be.sqfs");
        assert!(AvmSqfsFake.probe(sq).is_none());
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        hostile_with(&AvmSqfsFake, IMG, &Hostile::flips(200));
        hostile_with(&AvmSqfsFake, ODD, &Hostile::flips(200));
    }
}
