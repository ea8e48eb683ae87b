//! JFFS2 logs crafted to make the reader redo work (made by `fixtures/scripts/jffs2-hostile.sh`):
//! thousands of truncations, thousands of overwrites of one range, and a staircase in which
//! every node keeps one byte. The reader must decode only what shows, charge what it decodes
//! beyond that to the budget, and still list the real files next to the crafted one.

use assay_model::{Node, NodeKind};
use assay_unpack::{Blob, UnpackOptions, UnpackResult, Unpacker};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jffs2-hostile/");

fn run(name: &str) -> UnpackResult {
    let data = std::fs::read(format!("{FIXTURES}{name}")).expect("fixture");
    let started = Instant::now();
    let r = Unpacker::new().unpack_bytes(name, Blob::from(data), &UnpackOptions::default());
    // A guard against a hang, not a measurement (the figures are in the README).
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{name} took too long"
    );
    r
}

fn file<'a>(r: &'a UnpackResult, path: &str) -> (&'a Node, &'a [u8]) {
    let node = r
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::File && n.path == path)
        .unwrap_or_else(|| panic!("{path} missing: {:?}", r.warnings));
    let bytes = r.content(node.id).map(|b| &b[..]).unwrap_or_default();
    (node, bytes)
}

fn jffs2(r: &UnpackResult) -> &Node {
    r.nodes
        .iter()
        .find(|n| n.format.as_deref() == Some("jffs2"))
        .expect("a jffs2 container")
}

/// The files of the real image are there beside the crafted one.
fn real_files_listed(r: &UnpackResult) {
    let (_, passwd) = file(r, "/etc/passwd");
    assert!(passwd.starts_with(b"root::0:0:"));
    let (_, rc) = file(r, "/etc/rc.local");
    assert!(rc.ends_with(b"telnetd -l /bin/sh -p 2323\n"));
}

#[test]
fn truncations_are_replayed_without_touching_the_bytes() {
    let r = run("truncations.jffs2.xz");
    real_files_listed(&r);
    let (node, bytes) = file(&r, "/swing");
    assert_eq!(node.size, 40_000_000);
    assert!(bytes.starts_with(b"#!/bin/sh\ntelnetd -l /bin/sh -p 2323\n"));
    assert!(bytes[64..].iter().all(|&b| b == 0));
    // The one data node is decoded (and the two small files of the real image).
    let details = &jffs2(&r).details;
    assert_eq!(
        details.get("data_nodes_decoded").map(String::as_str),
        Some("3")
    );
}

#[test]
fn only_the_newest_of_overlapping_nodes_is_decoded() {
    let r = run("overwrites.jffs2.xz");
    real_files_listed(&r);
    let (node, bytes) = file(&r, "/layers");
    assert_eq!(node.size, 256 * 1024);
    assert!(bytes.starts_with(b"newest layer\n"));
    let details = &jffs2(&r).details;
    assert_eq!(
        details.get("data_nodes_decoded").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        details.get("data_nodes_overwritten").map(String::as_str),
        Some("9999")
    );
}

#[test]
fn decoding_for_a_byte_is_charged_to_the_budget() {
    let r = run("staircase.jffs2.xz");
    real_files_listed(&r);
    // Every node keeps a byte, so each would be decoded whole for it: the budget (64 MiB for
    // an image this small) stops that long before 2.6 GB, says so, and the file is still
    // listed with its size.
    let (node, _) = file(&r, "/stairs");
    assert_eq!(node.size, 256 * 1024 + 9_999);
    assert!(
        r.warnings.iter().any(
            |w| w.message.contains("/stairs: data nodes from the one at")
                && w.message.contains("not decoded")
        ),
        "{:?}",
        r.warnings
    );
    let decoded: usize = jffs2(&r)
        .details
        .get("data_nodes_decoded")
        .and_then(|d| d.parse().ok())
        .expect("decoded count");
    assert!((2..1_000).contains(&decoded), "{decoded}");
}
