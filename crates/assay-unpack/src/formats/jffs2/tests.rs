use super::compress::COMPR_NONE;
use super::node::{jffs2_crc, MAGIC, NODETYPE_DIRENT, NODETYPE_INODE, NODE_ACCURATE};
use super::*;
use crate::format::WarningKind;
use crate::formats::testutil::hostile::hostile;
use crate::formats::testutil::manifest::{parse, Line};
use crate::formats::testutil::{self, entry_bytes, unpack};

const LE_ZLIB: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/le-zlib.jffs2");
const BE_ZLIB_PADDED: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/be-zlib-padded.jffs2");
const LE_RTIME: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/le-rtime.jffs2");
const BE_LZO: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/be-lzo.jffs2");
const LE_NONE: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/le-none.jffs2");
const LE_SUMMARY: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/le-zlib-summary.jffs2");
const FLIP: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/damaged-flip.jffs2");
const TRUNC: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/damaged-truncated.jffs2");
const TORN: &[u8] = include_bytes!("../../../tests/fixtures/jffs2/damaged-torn.jffs2");
const EXPECTED: &str = include_str!("../../../tests/fixtures/jffs2/expected.txt");

fn manifest(image: &[u8], u: &Unpacked) -> Vec<Line> {
    testutil::manifest::manifest(image, &u.entries)
}

fn expected() -> Vec<Line> {
    parse(EXPECTED)
}

#[test]
fn every_compressor_and_endianness_round_trips() {
    for (name, img) in [
        ("le-zlib", LE_ZLIB),
        ("be-zlib-padded", BE_ZLIB_PADDED),
        ("le-rtime", LE_RTIME),
        ("be-lzo", BE_LZO),
        ("le-none", LE_NONE),
        ("le-zlib-summary", LE_SUMMARY),
    ] {
        let u = unpack(&Jffs2, img);
        assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
        assert_eq!(manifest(img, &u), expected(), "{name}");
    }
}

#[test]
fn length_is_the_log_and_padding_to_the_erase_block() {
    let u = unpack(&Jffs2, LE_ZLIB);
    assert_eq!(u.consumed, Some(LE_ZLIB.len() as u64));
    let u = unpack(&Jffs2, BE_ZLIB_PADDED);
    assert_eq!(u.consumed, Some(BE_ZLIB_PADDED.len() as u64));
    // Carved from a larger dump: garbage after the image is not claimed.
    let mut dump = LE_ZLIB.to_vec();
    let mut x = 0x1234_5678u32;
    dump.extend((0..200_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let u = unpack(&Jffs2, &dump);
    assert_eq!(u.consumed, Some(LE_ZLIB.len() as u64));
    assert_eq!(manifest(&dump, &u), expected());
}

#[test]
fn flipped_byte_loses_one_node_only() {
    let u = unpack(&Jffs2, FLIP);
    assert!(
        u.warnings
            .iter()
            .any(|(k, w)| *k == WarningKind::Checksum && w.contains("data CRC")),
        "{:?}",
        u.warnings
    );
    let got = manifest(FLIP, &u);
    let want = expected();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        if w.path == "/bin/random.bin" {
            assert_ne!(g, w);
        } else {
            assert_eq!(g, w);
        }
    }
}

#[test]
fn truncated_and_torn_images_keep_the_rest() {
    for (name, img) in [("truncated", TRUNC), ("torn", TORN)] {
        let u = unpack(&Jffs2, img);
        let got = manifest(img, &u);
        let want = expected();
        let same = got.iter().filter(|g| want.contains(g)).count();
        assert!(same >= 7, "{name}: only {same} intact: {got:#?}");
        assert!(
            u.warnings
                .iter()
                .any(|(_, w)| w.contains("past the end") || w.contains("CRC mismatch")),
            "{name}: {:?}",
            u.warnings
        );
    }
}

/// A little-endian node with correct CRCs, padded to 4 bytes.
fn node(nodetype: u16, body: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend_from_slice(&MAGIC.to_le_bytes());
    n.extend_from_slice(&nodetype.to_le_bytes());
    n.extend_from_slice(&((12 + body.len()) as u32).to_le_bytes());
    n.extend_from_slice(&jffs2_crc(&n).to_le_bytes());
    n.extend_from_slice(body);
    while n.len() % 4 != 0 {
        n.push(0xff);
    }
    n
}

fn dirent(pino: u32, version: u32, ino: u32, name: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [pino, version, ino, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&[name.len() as u8, 8, 0, 0]);
    let mut n = node(NODETYPE_DIRENT, &b);
    n.truncate(32);
    let node_crc = jffs2_crc(&n);
    b.extend_from_slice(&node_crc.to_le_bytes());
    b.extend_from_slice(&jffs2_crc(name.as_bytes()).to_le_bytes());
    b.extend_from_slice(name.as_bytes());
    node(NODETYPE_DIRENT, &b)
}

fn inode(ino: u32, version: u32, isize: u32, offset: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for v in [ino, version, 0o100644, 0, isize, 0, 0, 0, offset] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // csize
    b.extend_from_slice(&(data.len() as u32).to_le_bytes()); // dsize
    b.extend_from_slice(&[COMPR_NONE, 0, 0, 0]);
    b.extend_from_slice(&jffs2_crc(data).to_le_bytes());
    let mut head = node(NODETYPE_INODE, &b);
    head.truncate(60);
    b.extend_from_slice(&jffs2_crc(&head).to_le_bytes());
    b.extend_from_slice(data);
    node(NODETYPE_INODE, &b)
}

#[test]
fn newest_versions_win_and_deletions_remove_names() {
    let mut img = Vec::new();
    img.extend(dirent(1, 1, 2, "a.txt"));
    img.extend(inode(2, 1, 10, 0, b"0123456789"));
    // A newer write over bytes 2..5, then a truncation to 8 bytes and an extension to 12
    // (the bytes 8..12 read as zeros).
    img.extend(inode(2, 3, 10, 2, b"abc"));
    img.extend(inode(2, 4, 8, 8, b""));
    img.extend(inode(2, 5, 12, 12, b""));
    // An older write, found later in the log, is applied beneath the newer ones: it wins
    // over version 1 (bytes 0..2) but not over version 3 (bytes 2..5).
    img.extend(inode(2, 2, 10, 0, b"zzzz"));
    // A file that is renamed (old name deleted) and one that is deleted.
    img.extend(dirent(1, 1, 3, "old-name"));
    img.extend(inode(3, 1, 2, 0, b"hi"));
    img.extend(dirent(1, 2, 3, "new-name"));
    img.extend(dirent(1, 3, 0, "old-name"));
    img.extend(dirent(1, 1, 4, "gone"));
    img.extend(inode(4, 1, 1, 0, b"x"));
    img.extend(dirent(1, 5, 0, "gone"));
    // An obsolete node (accurate bit cleared in place) is ignored.
    let mut obsolete = dirent(1, 9, 2, "ghost");
    obsolete[2..4].copy_from_slice(&(NODETYPE_DIRENT & !NODE_ACCURATE).to_le_bytes());
    img.extend(obsolete);
    let u = unpack(&Jffs2, &img);
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    let got: Vec<(String, Vec<u8>)> = u
        .entries
        .iter()
        .map(|e| (e.path.clone(), entry_bytes(&img, e).unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/a.txt".to_string(), b"zzabc567\0\0\0\0".to_vec()),
            ("/new-name".to_string(), b"hi".to_vec()),
        ]
    );
    assert_eq!(
        u.details.get("obsolete_nodes").map(String::as_str),
        Some("1")
    );
}

#[test]
fn directory_loops_are_cut() {
    let mut img = Vec::new();
    img.extend(dirent(1, 1, 2, "d"));
    let mut dir = inode(2, 1, 0, 0, b"");
    // Make inode 2 a directory (mode at 20), fixing the node CRC.
    dir[20..24].copy_from_slice(&0o40755u32.to_le_bytes());
    let crc = jffs2_crc(&dir[..60]);
    dir[64..68].copy_from_slice(&crc.to_le_bytes());
    img.extend(dir);
    // d/self points back at d itself.
    img.extend(dirent(2, 1, 2, "self"));
    let u = unpack(&Jffs2, &img);
    assert_eq!(u.entries.len(), 1);
    assert!(
        u.warnings.iter().any(|(_, w)| w.contains("loop")),
        "{:?}",
        u.warnings
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    for img in [LE_ZLIB, BE_LZO, LE_RTIME] {
        hostile(&Jffs2, img);
    }
}
