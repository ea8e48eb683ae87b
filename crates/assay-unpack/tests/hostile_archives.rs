//! The whole engine on hostile archives (made by `fixtures/scripts/archives.sh`): names that
//! climb out of the archive, symlinks that point outside followed by paths through them,
//! entry-count bombs and a zip bomb. Every run must finish, keep every path inside its root,
//! and say what it refused.

use assay_model::{NodeKind, Warning, WarningKind};
use assay_unpack::{Blob, Limits, UnpackOptions, UnpackResult, Unpacker};
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/archives/");

fn run(name: &str, limits: Option<Limits>) -> UnpackResult {
    let data = std::fs::read(format!("{FIXTURES}{name}")).expect("fixture");
    let started = Instant::now();
    let r = Unpacker::new().unpack_bytes(
        name,
        Blob::from(data),
        &UnpackOptions {
            limits,
            progress: None,
            ..Default::default()
        },
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{name} took too long"
    );
    for n in &r.nodes {
        assert!(
            !n.path.split('/').any(|c| c == ".."),
            "{name}: node path {:?} climbs",
            n.path
        );
    }
    r
}

fn has_limit_warning(warnings: &[Warning]) -> bool {
    // The driver and the formats name the kind of every warning they raise.
    warnings.iter().any(|w| w.kind == WarningKind::Limit)
}

#[test]
fn traversal_is_contained_and_reported() {
    for name in [
        "hostile-traversal.tar",
        "hostile-traversal.zip",
        "hostile-traversal.cpio",
    ] {
        let r = run(name, None);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.kind == WarningKind::PathTraversal),
            "{name}: {:?}",
            r.warnings
        );
        let paths: Vec<(&str, NodeKind)> = r
            .nodes
            .iter()
            .filter(|n| {
                matches!(
                    n.kind,
                    NodeKind::File | NodeKind::Symlink | NodeKind::Directory
                )
            })
            .map(|n| (n.path.as_str(), n.kind))
            .collect();
        for want in ["/etc/x", "/etc/abs", "/link", "/link/passwd"] {
            assert!(
                paths.iter().any(|(p, _)| p.ends_with(want)),
                "{name}: {want} missing from {paths:?}"
            );
        }
        let link = r
            .nodes
            .iter()
            .find(|n| n.kind == NodeKind::Symlink)
            .unwrap_or_else(|| panic!("{name}: no symlink"));
        assert_eq!(link.link_target.as_deref(), Some("../../../../etc"));
    }
}

#[test]
fn entry_count_bombs_stop_at_the_limit() {
    for name in ["hostile-many.tar.gz", "hostile-many.zip"] {
        let data_len = std::fs::metadata(format!("{FIXTURES}{name}"))
            .unwrap()
            .len();
        let mut limits = Limits::for_image(data_len);
        limits.max_entries = 100;
        let r = run(name, Some(limits));
        assert!(has_limit_warning(&r.warnings), "{name}: {:?}", r.warnings);
        let files = r.nodes.iter().filter(|n| n.kind == NodeKind::File).count();
        assert!(files <= 100, "{name}: {files} files");
        assert!(files > 0, "{name}: nothing kept");
    }
}

#[test]
fn zip_bomb_stops_at_the_budget() {
    let r = run("hostile-bomb.zip", None);
    let limits = Limits::for_image(
        std::fs::metadata(format!("{FIXTURES}hostile-bomb.zip"))
            .unwrap()
            .len(),
    );
    assert!(has_limit_warning(&r.warnings), "{:?}", r.warnings);
    assert!(r.stats.bytes_unpacked <= limits.max_total_bytes);
    // The members are all there, the later ones without data.
    let files = r.nodes.iter().filter(|n| n.kind == NodeKind::File).count();
    assert_eq!(files, 12);
}

/// Builders of small hostile archives at test time (smaller than committing them).
mod build {
    /// A ustar header block for `name` (`kind` is the type flag), `size` bytes of data,
    /// `link` as link name.
    fn tar_header(name: &[u8], kind: u8, size: usize, link: &[u8]) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        let n = name.len().min(100);
        h[..n].copy_from_slice(&name[..n]);
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = kind;
        let l = link.len().min(100);
        h[157..157 + l].copy_from_slice(&link[..l]);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    /// Append one tar member with its data, padded to the block size.
    pub fn tar_member(out: &mut Vec<u8>, name: &[u8], kind: u8, data: &[u8], link: &[u8]) {
        if name.len() > 100 {
            // GNU long name: an `L` member carrying the name.
            let mut long = name.to_vec();
            long.push(0);
            tar_member(out, b"././@LongLink", b'L', &long, b"");
        }
        out.extend(tar_header(name, kind, data.len(), link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    /// End a tar archive.
    pub fn tar_end(mut out: Vec<u8>) -> Vec<u8> {
        out.extend([0u8; 1024]);
        out
    }

    /// A stored zip whose central directory lists `copies` members that all point at the
    /// one local header of `data`.
    pub fn zip_overlapping(data: &[u8], copies: usize) -> Vec<u8> {
        let crc = crc32(data);
        let mut out = Vec::new();
        let name = b"payload";
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(crc.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        let cd_start = out.len();
        for i in 0..copies {
            let member = format!("copy{i:05}");
            out.extend(0x0201_4b50u32.to_le_bytes());
            out.extend([20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend(crc.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((member.len() as u16).to_le_bytes());
            out.extend([0u8; 8]);
            out.extend((0o100644u32 << 16).to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend_from_slice(member.as_bytes());
        }
        let cd_size = out.len() - cd_start;
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend((copies as u16).to_le_bytes());
        out.extend((copies as u16).to_le_bytes());
        out.extend((cd_size as u32).to_le_bytes());
        out.extend((cd_start as u32).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A newc cpio of `n` empty files.
    pub fn cpio_empty_files(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut member = |name: &str, mode: u32, ino: usize| {
            let namesize = name.len() + 1;
            out.extend(
                format!(
                    "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{namesize:08x}{:08x}",
                    0, 0, 1, 0, 0, 0, 0, 0, 0, 0
                )
                .as_bytes(),
            );
            out.extend(name.as_bytes());
            out.push(0);
            out.resize(out.len().div_ceil(4) * 4, 0);
        };
        for i in 0..n {
            member(&format!("f{i}"), 0o100644, i + 1);
        }
        member("TRAILER!!!", 0, 0);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }
}

fn unpack_bytes(name: &str, data: Vec<u8>) -> UnpackResult {
    Unpacker::new().unpack_bytes(name, Blob::from(data), &UnpackOptions::default())
}

#[test]
fn hard_links_are_references_not_copies() {
    // One 1 MiB file and 2,000 hard links to it: the links name the file and share its
    // content; extraction writes one copy and hard links.
    let payload: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut tar = Vec::new();
    build::tar_member(&mut tar, b"data.bin", b'0', &payload, b"");
    for i in 0..2000 {
        build::tar_member(&mut tar, format!("l{i}").as_bytes(), b'1', b"", b"data.bin");
    }
    let r = unpack_bytes("links.tar", build::tar_end(tar));
    let first = r
        .nodes
        .iter()
        .find(|n| n.path == "/data.bin")
        .expect("the file");
    let links: Vec<_> = r
        .nodes
        .iter()
        .filter(|n| n.path.starts_with("/l"))
        .collect();
    assert_eq!(links.len(), 2000);
    for l in &links {
        assert_eq!(
            l.details.get("same_as").map(String::as_str),
            Some("/data.bin")
        );
        assert_eq!(l.sha256, first.sha256);
        assert_eq!(l.size, 1 << 20);
        assert_eq!(l.duplicate_of, Some(first.id));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = assay_unpack::extract::extract(&r, dir.path()).expect("extract");
    assert_eq!(summary.hard_links, 2000, "{:?}", summary.skipped);
}

#[test]
fn overlapping_zip_members_are_references() {
    let payload = vec![0x5au8; 64 << 10];
    let r = unpack_bytes("overlap.zip", build::zip_overlapping(&payload, 1000));
    let copies: Vec<_> = r
        .nodes
        .iter()
        .filter(|n| n.path.starts_with("/copy"))
        .collect();
    assert_eq!(copies.len(), 1000);
    let shared = copies
        .iter()
        .filter(|n| n.details.get("same_as").map(String::as_str) == Some("/copy00000"))
        .count();
    assert_eq!(shared, 999, "every later member refers to the first");
}

#[test]
fn long_names_and_deep_paths_are_bounded() {
    // 64 KB names nested 8 deep, and 3,000 nested directories: every node path stays within
    // PATH_MAX, and the cut is reported.
    let mut tar = Vec::new();
    let mut path = String::new();
    for i in 0..8 {
        path.push_str(&format!("{i}{}/", "n".repeat(64 << 10)));
        build::tar_member(&mut tar, path.as_bytes(), b'5', b"", b"");
    }
    let mut deep = String::new();
    for _ in 0..3000 {
        deep.push_str("d/");
        build::tar_member(&mut tar, deep.as_bytes(), b'5', b"", b"");
    }
    build::tar_member(
        &mut tar,
        format!("{deep}passwd").as_bytes(),
        b'0',
        b"root::0:0::/:/bin/sh\n",
        b"",
    );
    let r = unpack_bytes("long.tar", build::tar_end(tar));
    assert!(r.nodes.len() > 3000, "{}", r.nodes.len());
    for n in &r.nodes {
        assert!(
            n.path.len() <= assay_unpack::driver::MAX_PATH,
            "{}",
            n.path.len()
        );
    }
    assert!(r
        .warnings
        .iter()
        .any(|w| w.kind == assay_model::WarningKind::NameLength));
    assert!(r.nodes.iter().any(|n| n.path.ends_with("/d/d/passwd")));
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = assay_unpack::extract::extract(&r, dir.path()).expect("extract");
    assert!(summary.directories > 1000, "{summary:?}");
}

#[test]
fn cpio_of_many_empty_files_is_one_container() {
    let r = unpack_bytes("many.cpio", build::cpio_empty_files(20_000));
    let containers = r
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Container)
        .count();
    assert_eq!(containers, 1);
    assert_eq!(
        r.nodes.iter().filter(|n| n.kind == NodeKind::File).count(),
        20_000
    );
}

#[test]
fn budget_accounting_holds_and_is_the_same_on_every_run() {
    // A zip bomb and a tar of twelve gzip bombs next to a small file: the shares add up to
    // at most the total, the tree is the same on a second run, and the small file behind
    // the bombs keeps its bytes.
    let mut limits = Limits::for_image(0);
    limits.max_total_bytes = 8 << 20;
    let r = run("hostile-bomb.zip", Some(limits.clone()));
    assay_unpack::fuzzing::check_budget(&r, &limits);

    let mut gz = Vec::new();
    {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::best());
        e.write_all(&vec![0u8; 16 << 20]).unwrap();
        e.finish().unwrap();
    }
    let mut tar = Vec::new();
    for i in 0..12 {
        build::tar_member(&mut tar, format!("bomb{i}.gz").as_bytes(), b'0', &gz, b"");
    }
    let passwd = b"root::0:0:root:/root:/bin/sh\n";
    build::tar_member(&mut tar, b"etc/passwd.gz", b'0', &gzip(passwd), b"");
    let r = Unpacker::new().unpack_bytes(
        "bombs.tar",
        Blob::from(build::tar_end(tar)),
        &UnpackOptions {
            limits: Some(limits.clone()),
            ..Default::default()
        },
    );
    assay_unpack::fuzzing::check_budget(&r, &limits);
    assert!(has_limit_warning(&r.warnings));
    let inner = r
        .nodes
        .iter()
        .find(|n| n.location.contains("/etc/passwd.gz ▸ gzip@"))
        .and_then(|gz| r.nodes.iter().find(|n| n.parent == Some(gz.id)))
        .expect("the small file behind the bombs is decoded");
    assert_eq!(
        r.content(inner.id).map(|b| b.to_vec()),
        Some(passwd.to_vec())
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn squashfs_hard_links_are_decoded_and_charged_once() {
    // One 1 MiB file and 500 hard links to its inode (mksquashfs, made by
    // `fixtures/scripts/hostile-traps.sh`). Decoding every link would need 501 MiB; a budget
    // of 4 MiB must be enough, since the inode is decoded once and the links refer to it.
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hostile/links.sqfs"
    ))
    .expect("fixture");
    let mut limits = Limits::for_image(data.len() as u64);
    limits.max_total_bytes = 4 << 20;
    let r = Unpacker::new().unpack_bytes(
        "links.sqfs",
        Blob::from(data),
        &UnpackOptions {
            limits: Some(limits),
            progress: None,
            ..Default::default()
        },
    );
    assert!(!has_limit_warning(&r.warnings), "{:?}", r.warnings);
    let files: Vec<_> = r
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::File)
        .collect();
    assert_eq!(files.len(), 501);
    assert!(files.iter().all(|n| n.size == 1 << 20));
    let first = files
        .iter()
        .find(|n| !n.details.contains_key("same_as"))
        .expect("one decoded copy");
    let refs = files
        .iter()
        .filter(|n| n.details.get("same_as") == Some(&first.path))
        .count();
    assert_eq!(refs, 500);
    assert!(files.iter().all(|n| n.sha256 == first.sha256));
    assert!(
        r.stats.bytes_unpacked < 2 << 20,
        "{} bytes decoded",
        r.stats.bytes_unpacked
    );
}
