//! RTOS images through the whole engine: whole-blob descriptions beside the containers the
//! scan finds, TP-Link IMG0 → lzma OS → VxWorks with its symbol table, OWFS web pages; and
//! the real VxWorks 6 image of the shared corpus when it is present (ignored by default: the
//! suite must not depend on files outside the repository).

use assay_model::{Node, NodeKind};
use assay_unpack::{Blob, UnpackOptions, UnpackResult, Unpacker};
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rtos");

fn unpack(name: &str) -> UnpackResult {
    let path = Path::new(FIXTURES).join(name);
    Unpacker::new()
        .unpack_file(&path, &UnpackOptions::default())
        .expect("fixture")
}

fn formats(r: &UnpackResult) -> Vec<&Node> {
    r.nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Container)
        .collect()
}

#[test]
fn a_vxworks_image_is_described_and_its_bytes_stay_unclaimed() {
    let r = unpack("vx6-arm-le.bin");
    let vx = formats(&r);
    assert_eq!(vx.len(), 1);
    let vx = vx[0];
    assert_eq!(vx.format.as_deref(), Some("vxworks"));
    assert_eq!((vx.offset, vx.size), (Some(0), r.image.size));
    assert_eq!(
        vx.details.get("describes").map(String::as_str),
        Some("the whole blob")
    );
    assert_eq!(vx.details.get("version").map(String::as_str), Some("6.7"));
    let symbols = r
        .nodes
        .iter()
        .find(|n| n.path == "/symbols.txt")
        .expect("symbols");
    assert_eq!(symbols.parent, Some(vx.id));
    // The image's bytes are still an unknown region, read by later stages.
    assert!(r
        .nodes
        .iter()
        .any(|n| n.kind == NodeKind::Unknown && n.size == r.image.size));
}

#[test]
fn tplink_firmware_down_to_the_os_and_the_web_pages() {
    let r = unpack("tplink-vxworks.bin");
    let expected = std::fs::read_to_string(Path::new(FIXTURES).join("expected.txt")).unwrap();
    for line in expected.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (kind, path, sha) = (f[0], f[2], f[3]);
        let found = r.nodes.iter().find(|n| {
            n.sha256.as_deref() == Some(sha)
                && match kind {
                    "f" => n.kind == NodeKind::File && n.path == path,
                    _ => n.kind == NodeKind::Stream,
                }
        });
        assert!(found.is_some(), "{line}: not in the tree");
    }
    let os = r
        .nodes
        .iter()
        .find(|n| n.format.as_deref() == Some("vxworks"))
        .expect("vxworks inside");
    let stream = &r.nodes[os.parent.unwrap() as usize];
    assert_eq!(stream.kind, NodeKind::Stream);
    // The OS is the decoded data of an lzma node that sits in the IMG0 part at its offset.
    let lzma = &r.nodes[stream.parent.unwrap() as usize];
    assert_eq!(lzma.format.as_deref(), Some("lzma"));
    assert_eq!(lzma.offset, Some(0));
    let part = &r.nodes[lzma.parent.unwrap() as usize];
    assert_eq!((part.kind, part.offset), (NodeKind::Stream, Some(128)));
    assert_eq!(
        os.details.get("load_address").map(String::as_str),
        Some("0x80010000")
    );
    // Two IMG0 headers, one OWFS; the OS is described once (inside the inner IMG0, not at
    // the top where its markers sit inside a claimed container).
    let count = |f: &str| {
        r.nodes
            .iter()
            .filter(|n| n.format.as_deref() == Some(f))
            .count()
    };
    assert_eq!(count("tplink-img0"), 2);
    assert_eq!(count("owfs"), 1);
    assert_eq!(count("vxworks"), 1);
}

#[test]
fn an_image_that_contains_itself_ends() {
    // An IMG0 part that repeats the whole container: the engine's lineage check stops it.
    let fw = std::fs::read(Path::new(FIXTURES).join("tplink-vxworks.bin")).unwrap();
    let inner = &fw[20..];
    let mut img = b"IMG0".to_vec();
    img.extend_from_slice(&((128 + inner.len()) as u32).to_be_bytes());
    img.extend_from_slice(&[7, 2, 0x11, 1]);
    img.resize(64, 0);
    img.extend_from_slice(&128u32.to_be_bytes());
    img.extend_from_slice(&(inner.len() as u32).to_be_bytes());
    img.resize(128, 0);
    img.extend_from_slice(inner);
    let r = Unpacker::new().unpack_bytes("nested", Blob::from(img), &UnpackOptions::default());
    assert!(r.nodes.len() < 100);
    assert_eq!(
        r.nodes
            .iter()
            .filter(|n| n.format.as_deref() == Some("owfs"))
            .count(),
        1
    );
}

/// The real VxWorks 6.7 ARM image of `../shared/corpus/real-vendor/` (from vxhunter's
/// examples), when present: `cargo test -p assay-unpack --test rtos -- --ignored`.
#[test]
#[ignore = "needs ../shared/corpus/real-vendor/vxworks6-arm-le.bin"]
fn real_vxworks6_arm_image() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/real-vendor/vxworks6-arm-le.bin");
    let path = if path.exists() {
        path
    } else {
        Path::new("/work/shared/corpus/real-vendor/vxworks6-arm-le.bin").to_path_buf()
    };
    if !path.exists() {
        eprintln!("skipped: {} is absent", path.display());
        return;
    }
    let r = Unpacker::new()
        .unpack_file(&path, &UnpackOptions::default())
        .unwrap();
    let vx = r
        .nodes
        .iter()
        .find(|n| n.format.as_deref() == Some("vxworks"))
        .expect("vxworks");
    let d = |k: &str| vx.details.get(k).map(String::as_str);
    assert_eq!(d("version"), Some("6.7"));
    assert_eq!(d("kernel"), Some("WIND 2.12"));
    assert_eq!(d("build_date"), Some("Mar 01 2012, 10:01:48"));
    assert_eq!(d("arch"), Some("arm"));
    assert_eq!(d("endianness"), Some("little"));
    assert_eq!(d("symbols"), Some("11519"));
    assert_eq!(d("load_address"), Some("0xf2003fe4"));
    assert_eq!(d("entry_point"), Some("0xf2004000"));
    let symbols = r.nodes.iter().find(|n| n.path == "/symbols.txt").unwrap();
    let text = String::from_utf8(r.content(symbols.id).unwrap().to_vec()).unwrap();
    for line in [
        "f2004000 T sysInit",
        "f20141b8 T usrInit",
        "f20153f8 T usrRoot",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}");
    }
}
