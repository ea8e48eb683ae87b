//! Partition tables through the whole engine: an MBR disk whose sector 0 also sits under a
//! stale ext2 superblock (the table wins), with a FreeBSD slice holding a BSD disklabel whose
//! partition `e` holds a FAT file system (fixtures/scripts/bsdlabel.sh).

use assay_model::{Node, NodeKind};
use assay_unpack::{UnpackOptions, UnpackResult, Unpacker};
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/disks");

fn unpack(name: &str) -> UnpackResult {
    Unpacker::new()
        .unpack_file(&Path::new(FIXTURES).join(name), &UnpackOptions::default())
        .expect("fixture")
}

fn containers(r: &UnpackResult) -> Vec<&Node> {
    r.nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Container)
        .collect()
}

fn parent_of<'a>(r: &'a UnpackResult, n: &Node) -> &'a Node {
    r.nodes
        .iter()
        .find(|p| Some(p.id) == n.parent)
        .expect("parent")
}

#[test]
fn mbr_over_a_stale_ext_superblock_then_the_bsd_label_then_fat() {
    let r = unpack("mbr-bsd.img.gz");
    let names: Vec<_> = containers(&r)
        .iter()
        .filter_map(|n| n.format.as_deref())
        .collect();
    assert!(names.contains(&"mbr"), "{names:?}");
    assert!(
        !names.contains(&"ext"),
        "the stale ext2 must not win: {names:?}"
    );
    let bsd = containers(&r)
        .into_iter()
        .find(|n| n.format.as_deref() == Some("bsd"))
        .expect("a BSD disklabel");
    // The label was found in the FreeBSD slice, partition 2 of the MBR.
    let slice = parent_of(&r, bsd);
    assert!(slice.path.ends_with("partition2"), "{}", slice.path);
    assert_eq!(
        slice.details.get("slice").map(String::as_str),
        Some("FreeBSD")
    );
    let fat = containers(&r)
        .into_iter()
        .find(|n| n.format.as_deref() == Some("fat"))
        .expect("the FAT file system of partition e");
    let e = parent_of(&r, fat);
    assert!(e.path.ends_with("partition-e"), "{}", e.path);
    assert_eq!(parent_of(&r, e).id, bsd.id);
}

#[test]
fn a_big_endian_label_alone() {
    let r = unpack("bsd-be.img.gz");
    let bsd = containers(&r)
        .into_iter()
        .find(|n| n.format.as_deref() == Some("bsd"))
        .expect("a BSD disklabel");
    assert_eq!(bsd.offset, Some(0));
    assert_eq!(
        bsd.details.get("byte_order").map(String::as_str),
        Some("big")
    );
    assert!(containers(&r)
        .iter()
        .any(|n| n.format.as_deref() == Some("fat")));
}
