use super::node::{
    CH_SIZE, DATA_NODE, DENT_NODE, INO_NODE, INO_NODE_SIZE, NODE_MAGIC, REF_NODE, XENT_NODE,
};
use super::tree::XATTR_FL;
use super::*;
use crate::cursor::le32;
use crate::formats::testutil::hostile::{hostile_with, Hostile, Rng};
use crate::formats::testutil::manifest::{check, Check};
use crate::formats::testutil::{entry_bytes, unpack};
use crate::formats::ubi::mtd_crc32;

const EXPECTED: &str = include_str!("../../../tests/fixtures/ubi/expected.txt");
const NONE: &[u8] = include_bytes!("../../../tests/fixtures/ubi/bare-none.ubifs");
const LZO: &[u8] = include_bytes!("../../../tests/fixtures/ubi/bare-lzo.ubifs");
const ZLIB: &[u8] = include_bytes!("../../../tests/fixtures/ubi/bare-zlib.ubifs");
const ZSTD: &[u8] = include_bytes!("../../../tests/fixtures/ubi/bare-zstd.ubifs");
const UBI: &[u8] = include_bytes!("../../../tests/fixtures/ubi/three-volumes.ubi");

/// Compare every entry with the manifest: kind, mode, bytes or link target or device.
fn check_against_manifest(img: &[u8], u: &Unpacked) {
    check("ubifs", img, &u.entries, EXPECTED, &Check::EXACT);
}

#[test]
fn reads_every_compressor() {
    for (name, img) in [("none", NONE), ("lzo", LZO), ("zlib", ZLIB), ("zstd", ZSTD)] {
        let p = Ubifs.probe(img).unwrap();
        assert_eq!(p.length, Some(img.len() as u64), "{name}");
        let u = unpack(&Ubifs, img);
        assert!(u.warnings.is_empty(), "{name}: {:?}", u.warnings);
        assert_eq!(u.details["compression"], name);
        check_against_manifest(img, &u);
    }
}

#[test]
fn reads_the_ubifs_volume_of_a_ubi_image() {
    let ubi = unpack(&crate::formats::ubi::Ubi, UBI);
    let vol = ubi
        .entries
        .iter()
        .find(|e| e.path == "volume:data")
        .unwrap();
    let bytes = entry_bytes(UBI, vol).unwrap();
    let u = unpack(&Ubifs, &bytes);
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    check_against_manifest(&bytes, &u);
}

#[test]
fn hard_links_share_bytes() {
    let u = unpack(&Ubifs, LZO);
    let a = u.entries.iter().find(|e| e.path == "/etc/motd").unwrap();
    let b = u
        .entries
        .iter()
        .find(|e| e.path == "/etc/motd.hard")
        .unwrap();
    assert_eq!(a.details["inode"], b.details["inode"]);
    assert_eq!(a.details["nlink"], "2");
}

#[test]
fn damaged_data_node_is_reported_and_the_rest_read() {
    // Break one node's CRC after the first LEBs; the index still leads to the others.
    let mut img = LZO.to_vec();
    let leb = 15872;
    let mut hit = None;
    let mut pos = 5 * leb;
    while pos + 24 < img.len() {
        if le32(&img, pos) == Some(NODE_MAGIC) && img[pos + 20] == DATA_NODE {
            hit = Some(pos);
            break;
        }
        pos += 8;
    }
    let pos = hit.expect("a data node");
    img[pos + 60] ^= 0xFF;
    let u = unpack(&Ubifs, &img);
    assert!(u.warnings.iter().any(|(_, w)| w.contains("unreadable")));
    assert!(u.entries.len() >= 20);
}

#[test]
fn missing_master_falls_back_to_scanning() {
    let mut img = NONE.to_vec();
    let leb = 15872;
    img[leb..3 * leb].fill(0xFF);
    let u = unpack(&Ubifs, &img);
    assert!(u
        .warnings
        .iter()
        .any(|(_, w)| w.contains("no valid master")));
    check_against_manifest(&img, &u);
}

/// A node with a valid common header around `body` (which starts at offset 24).
fn mk_node(node_type: u8, sqnum: u64, body: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend_from_slice(&NODE_MAGIC.to_le_bytes());
    n.extend_from_slice(&[0; 4]);
    n.extend_from_slice(&sqnum.to_le_bytes());
    n.extend_from_slice(&((CH_SIZE + body.len()) as u32).to_le_bytes());
    n.extend_from_slice(&[node_type, 0, 0, 0]);
    n.extend_from_slice(body);
    let crc = mtd_crc32(&n[8..]);
    n[4..8].copy_from_slice(&crc.to_le_bytes());
    n
}

fn key(inum: u32, key_type: u32, low: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&inum.to_le_bytes());
    k[4..8].copy_from_slice(&((key_type << 29) | low).to_le_bytes());
    k
}

fn dent(parent: u32, inum: u64, name: &[u8]) -> Vec<u8> {
    entry_body(2, parent, inum, name)
}

fn entry_body(key_type: u32, parent: u32, inum: u64, name: &[u8]) -> Vec<u8> {
    let mut b = key(parent, key_type, 0x1234).to_vec();
    b.extend_from_slice(&inum.to_le_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&(name.len() as u16).to_le_bytes());
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(name);
    b.push(0);
    b
}

/// The bare uncompressed image with `nodes` written to a journal bud (LEB 12, free in
/// this image) that a reference node in the log names after the commit start node.
fn with_journal(nodes: &[Vec<u8>]) -> Vec<u8> {
    let leb = 15872;
    let mut img = NONE.to_vec();
    let bud = 12usize;
    assert!(img[bud * leb..(bud + 1) * leb].iter().all(|&b| b == 0xFF));
    let mut bytes = Vec::new();
    for n in nodes {
        bytes.extend_from_slice(n);
        bytes.resize(bytes.len().next_multiple_of(8), 0);
    }
    img[bud * leb..bud * leb + bytes.len()].copy_from_slice(&bytes);
    let mut r = Vec::new();
    r.extend_from_slice(&(bud as u32).to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&1u32.to_le_bytes());
    r.extend_from_slice(&[0; 28]);
    let r = mk_node(REF_NODE, 100, &r);
    img[3 * leb + 512..3 * leb + 512 + r.len()].copy_from_slice(&r);
    img
}

fn inode_of(u: &Unpacked, path: &str) -> u32 {
    u.entries.iter().find(|e| e.path == path).unwrap().details["inode"]
        .parse()
        .unwrap()
}

#[test]
fn directory_loops_are_cut() {
    let before = unpack(&Ubifs, NONE);
    let etc = inode_of(&before, "/etc");
    let deep = inode_of(&before, "/deep");
    // /etc/up names the root, /deep/a/b/c/back names /deep: both close a loop.
    let c = inode_of(&before, "/deep/a/b/c");
    let img = with_journal(&[
        mk_node(DENT_NODE, 101, &dent(etc, 1, b"up")),
        mk_node(DENT_NODE, 102, &dent(c, deep as u64, b"back")),
    ]);
    let u = unpack(&Ubifs, &img);
    assert!(u.warnings.iter().any(|(_, w)| w.contains("reached twice")));
    assert_eq!(u.entries.len(), before.entries.len() + 2);
}

#[test]
fn journal_nodes_are_replayed_over_the_index() {
    let before = unpack(&Ubifs, NONE);
    let etc = inode_of(&before, "/etc");
    let mut ino = vec![0u8; INO_NODE_SIZE - CH_SIZE];
    ino[..16].copy_from_slice(&key(500, 0, 0));
    ino[48 - 24..56 - 24].copy_from_slice(&5u64.to_le_bytes());
    ino[92 - 24..96 - 24].copy_from_slice(&1u32.to_le_bytes());
    ino[104 - 24..108 - 24].copy_from_slice(&0o100640u32.to_le_bytes());
    // An extended attribute of the new file: an entry naming inode 501, which holds the value.
    let mut xino = vec![0u8; INO_NODE_SIZE - CH_SIZE];
    xino[..16].copy_from_slice(&key(501, 0, 0));
    xino[92 - 24..96 - 24].copy_from_slice(&1u32.to_le_bytes());
    xino[104 - 24..108 - 24].copy_from_slice(&0o100644u32.to_le_bytes());
    xino[108 - 24..112 - 24].copy_from_slice(&XATTR_FL.to_le_bytes());
    xino[112 - 24..116 - 24].copy_from_slice(&9u32.to_le_bytes());
    xino.extend_from_slice(b"pinned-ok");
    let mut data = key(500, 1, 0).to_vec();
    data.extend_from_slice(&5u32.to_le_bytes());
    data.extend_from_slice(&[0; 4]);
    data.extend_from_slice(b"fresh");
    let img = with_journal(&[
        mk_node(INO_NODE, 101, &ino),
        mk_node(DATA_NODE, 102, &data),
        mk_node(DENT_NODE, 103, &dent(1, 500, b"journal.txt")),
        mk_node(DENT_NODE, 104, &dent(etc, 0, b"passwd")),
        mk_node(INO_NODE, 105, &xino),
        mk_node(XENT_NODE, 106, &entry_body(3, 500, 501, b"user.note")),
    ]);

    let u = unpack(&Ubifs, &img);
    assert!(
        u.warnings.iter().any(|(_, w)| w.contains("journal")),
        "{:?}",
        u.warnings
    );
    let new = u.entries.iter().find(|e| e.path == "/journal.txt").unwrap();
    assert_eq!(entry_bytes(&img, new).unwrap(), b"fresh");
    assert_eq!(new.mode, Some(0o100640));
    assert_eq!(new.details["xattr.user.note"], "pinned-ok");
    assert!(!u.entries.iter().any(|e| e.path == "/etc/passwd"));
    assert_eq!(u.entries.len(), before.entries.len());
}

#[test]
fn torn_index_leb_falls_back_to_scanning() {
    // The index sits in the last LEB; cut the image 100 bytes into it.
    let cut = &LZO[..12 * 15872 + 100];
    let u = unpack(&Ubifs, cut);
    assert!(
        u.warnings
            .iter()
            .any(|(_, w)| w.contains("index root unreadable")),
        "{:?}",
        u.warnings
    );
    check_against_manifest(cut, &u);
}

#[test]
fn rejects_non_superblock_nodes() {
    let mut img = LZO.to_vec();
    img[20] = 1;
    assert!(Ubifs.probe(&img).is_none());
    let mut img = LZO.to_vec();
    img[40] ^= 1;
    assert!(Ubifs.probe(&img).is_none());
}

#[test]
fn hostile_inputs_do_not_panic() {
    // Flip inside a node and then (mostly) repair its CRC so the damage gets past the
    // check.
    let damage = |img: &mut Vec<u8>, rng: &mut Rng| {
        let mut pos = rng.below(img.len()) & !7;
        while pos + 24 < img.len() && le32(img, pos) != Some(NODE_MAGIC) {
            pos += 8;
        }
        if pos + 24 >= img.len() {
            return false;
        }
        let len = (le32(img, pos + 16).unwrap() as usize).min(img.len() - pos);
        let at = pos + 8 + rng.below(len.saturating_sub(8).max(1));
        img[at] ^= 1 << rng.below(8);
        if rng.below(4) != 0 && len >= 8 {
            let crc = mtd_crc32(&img[pos + 8..pos + len]);
            img[pos + 4..pos + 8].copy_from_slice(&crc.to_le_bytes());
        }
        true
    };
    let how = Hostile {
        flips: 75,
        damage: Some(&damage),
        ..Hostile::default()
    };
    for img in [NONE, LZO, ZLIB, ZSTD] {
        hostile_with(&Ubifs, img, &how);
    }
}
