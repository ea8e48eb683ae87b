use super::*;
use crate::format::{EntryData, EntryKind, WarningKind};
use crate::formats::testutil::hostile::{hostile_with, Hostile};
use crate::formats::testutil::manifest::{check, Check};
use crate::formats::testutil::unpack;
use crate::limits::{Budget, Limits};

const EXPECTED: &str = include_str!("../../../tests/fixtures/squashfs/expected.txt");

macro_rules! fixture {
    ($name:ident, $file:literal, $comp:literal) => {
        #[test]
        fn $name() {
            let data = include_bytes!(concat!("../../../tests/fixtures/squashfs/", $file));
            let p = Squashfs.probe(data).expect("probe");
            assert_eq!(p.length, Some(data.len() as u64));
            let u = unpack(&Squashfs, data);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            assert_eq!(u.details["compression"], $comp);
            check($file, data, &u.entries, EXPECTED, &Check::EXACT);
            // fixtures/scripts/squashfs.sh dates the tree and the image SOURCE_DATE_EPOCH.
            assert_eq!(u.mtime, Some(1_700_000_000), "superblock creation time");
            for e in &u.entries {
                assert_eq!((e.uid, e.gid), (Some(0), Some(0)), "{}", e.path);
                assert_eq!(e.mtime, Some(1_700_000_000), "{}", e.path);
            }
        }
    };
}

fixture!(v4_gzip, "sq-gzip.sqfs", "gzip");
fixture!(v4_lzo, "sq-lzo.sqfs", "lzo");
fixture!(v4_xz, "sq-xz.sqfs", "xz");
fixture!(v4_lz4, "sq-lz4.sqfs", "lz4");
fixture!(v4_zstd, "sq-zstd.sqfs", "zstd");
fixture!(v4_lzma, "sq-lzma.sqfs", "lzma");
fixture!(v4_stored, "sq-stored.sqfs", "gzip");

/// squashfs 3.0 as vendors shipped it, written by `fixtures/scripts/squashfs_legacy.py`:
/// every entry with its mode, owner and bytes, the compressor found, and the magic reported
/// when it is not the standard one.
macro_rules! legacy_fixture {
    ($name:ident, $file:literal, $comp:literal, $magic:expr, $endian:literal) => {
        #[test]
        fn $name() {
            let data = include_bytes!(concat!("../../../tests/fixtures/squashfs/", $file));
            let p = Squashfs.probe(data).expect("probe");
            assert_eq!(p.length, Some(data.len() as u64));
            let u = unpack(&Squashfs, data);
            assert!(u.warnings.is_empty(), "{:?}", u.warnings);
            assert_eq!(u.details["compression"], $comp);
            assert_eq!(u.details["endianness"], $endian);
            assert_eq!(u.details.get("magic").map(String::as_str), $magic);
            check($file, data, &u.entries, EXPECTED, &Check::EXACT);
            assert_eq!(u.mtime, Some(1_700_000_000), "superblock creation time");
            for e in &u.entries {
                assert_eq!((e.uid, e.gid), (Some(0), Some(0)), "{}", e.path);
                assert_eq!(e.mtime, Some(1_700_000_000), "{}", e.path);
            }
        }
    };
}

legacy_fixture!(v3_zlib_le, "sq3-zlib-le.sqfs", "gzip", None, "little");
legacy_fixture!(v3_zlib_be, "sq3-zlib-be.sqfs", "gzip", None, "big");
legacy_fixture!(
    v3_raw_lzma_odd_params,
    "sq3-lzma-raw-le.sqfs",
    "lzma (vendor: 0-byte header, lc=1 lp=2 pb=0)",
    Some("hsqt"),
    "little"
);
legacy_fixture!(
    v3_lzma_13_byte_header_qshs,
    "sq3-lzma13-be-qshs.sqfs",
    "lzma",
    Some("qshs"),
    "big"
);
legacy_fixture!(
    v3_lzma_5_byte_header_shsq,
    "sq3-lzma5-le-shsq.sqfs",
    "lzma (vendor: 5-byte header)",
    Some("shsq"),
    "little"
);
legacy_fixture!(
    v3_minor_l_unknown_magic,
    "sq3-lzma-minor-l-be.sqfs",
    "lzma",
    Some("wxyz"),
    "big"
);
legacy_fixture!(
    v3_lsdk_7zip_tag,
    "sq3-lzma-lsdk-be.sqfs",
    "lzma (vendor: 0-byte header, `7zip` tag, lc=3 lp=0 pb=2)",
    None,
    "big"
);
legacy_fixture!(
    v3_adaptive_zlib_and_lzma,
    "sq3-adaptive-le.sqfs",
    "lzma and zlib",
    Some("shsq"),
    "little"
);

/// A superblock behind a magic no list holds is found by the scanner from its structure
/// (version, block size and log at bytes 28..36), at any offset.
#[test]
fn scanner_finds_superblock_by_structure() {
    let img = include_bytes!("../../../tests/fixtures/squashfs/sq3-lzma-minor-l-be.sqfs");
    let mut data = vec![0x5au8; 1000];
    data.extend_from_slice(img);
    let scanner = crate::scan::MagicScanner::new(&[&Squashfs]);
    let starts: Vec<usize> = scanner.candidates(&data).iter().map(|c| c.start).collect();
    assert!(starts.contains(&1000), "{starts:?}");
    assert!(Squashfs.probe(&data[1000..]).is_some());
    // Only there: no other candidate probes as a squashfs.
    let found = starts
        .iter()
        .filter(|&&s| data.get(s..).and_then(|d| Squashfs.probe(d)).is_some())
        .count();
    assert_eq!(found, 1);
}

#[test]
fn hostile_squashfs() {
    hostile_with(
        &Squashfs,
        include_bytes!("../../../tests/fixtures/squashfs/sq-gzip.sqfs"),
        &Hostile::unprobed(),
    );
    hostile_with(
        &Squashfs,
        include_bytes!("../../../tests/fixtures/squashfs/sq-xz.sqfs"),
        &Hostile::unprobed(),
    );
    hostile_with(
        &Squashfs,
        include_bytes!("../../../tests/fixtures/squashfs/sq-stored.sqfs"),
        &Hostile::unprobed(),
    );
    hostile_with(
        &Squashfs,
        &crate::formats::testutil::gunzip(include_bytes!(
            "../../../tests/fixtures/filesystems/squashfs-hole.sqfs.gz"
        )),
        &Hostile::unprobed(),
    );
}

/// The vendor paths under damage: the raw LZMA parameter search, the tagged and mixed
/// blocks, the big-endian bit-packed inodes. Each sweep must stay bounded (the search gives
/// up after a few failures on one image).
#[test]
fn hostile_legacy_vendor_lzma() {
    for data in [
        &include_bytes!("../../../tests/fixtures/squashfs/sq3-lzma-raw-le.sqfs")[..],
        &include_bytes!("../../../tests/fixtures/squashfs/sq3-lzma-lsdk-be.sqfs")[..],
        &include_bytes!("../../../tests/fixtures/squashfs/sq3-adaptive-le.sqfs")[..],
        &include_bytes!("../../../tests/fixtures/squashfs/sq3-lzma13-be-qshs.sqfs")[..],
    ] {
        hostile_with(&Squashfs, data, &Hostile::unprobed());
    }
}

#[test]
fn probe_rejects_bad_headers() {
    let data = include_bytes!("../../../tests/fixtures/squashfs/sq-gzip.sqfs");
    for (at, v) in [(28usize, 5u8), (12, 0x33), (20, 9), (22, 11)] {
        let mut d = data.to_vec();
        d[at] = v;
        assert!(Squashfs.probe(&d).is_none(), "byte {at} = {v}");
    }
    assert!(Squashfs.probe(&data[..50]).is_none());
}

/// mksquashfs cannot write big-endian images: check the v4 big-endian superblock on a
/// synthetic header (the v4 gzip fixture's fields byte-swapped).
#[test]
fn big_endian_v4_superblock() {
    let le = include_bytes!("../../../tests/fixtures/squashfs/sq-gzip.sqfs");
    let mut be = le[..96].to_vec();
    be[..4].copy_from_slice(b"sqsh");
    for (off, w) in [
        (4, 4),
        (8, 4),
        (12, 4),
        (16, 4),
        (20, 2),
        (22, 2),
        (24, 2),
        (26, 2),
        (28, 2),
        (30, 2),
    ]
    .into_iter()
    .chain((32..96).step_by(8).map(|o| (o, 8)))
    {
        be[off..off + w].reverse();
    }
    be.resize(le.len(), 0);
    let sb = Superblock::parse(&be).expect("BE superblock");
    let sl = Superblock::parse(le).unwrap();
    assert_eq!(sb.endian, crate::cursor::Endian::Big);
    assert_eq!(
        (
            sb.inodes,
            sb.block_size,
            sb.bytes_used,
            sb.root_inode,
            sb.inode_table
        ),
        (
            sl.inodes,
            sl.block_size,
            sl.bytes_used,
            sl.root_inode,
            sl.inode_table
        )
    );
    assert!(Squashfs
        .probe(&be)
        .unwrap()
        .description
        .contains("big-endian"));
}

static REAL_V2: &[u8] =
    include_bytes!("../../../tests/fixtures/real/binwalk-tests_squashfs_v2.bin");

/// The real vendor image (squashfs 2.0, big-endian, LZMA data blocks with a 5-byte header)
/// (a committed fixture from binwalk's test inputs): every entry listed, every file decoded.
#[test]
fn real_v2_vendor_lzma() {
    let d = REAL_V2.to_vec();
    let u = unpack(&Squashfs, &d);
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    assert_eq!(u.entries.len(), 430);
    assert_eq!(u.details["compression"], "lzma (vendor: 5-byte header)");
    let busybox = u.entries.iter().find(|e| e.path == "/bin/busybox").unwrap();
    let EntryData::Owned(b) = &busybox.data else {
        panic!()
    };
    assert_eq!(b.len(), 224756);
    assert!(b.starts_with(b"\x7fELF"));
    let links = u
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Symlink(_)))
        .count();
    assert_eq!(links, 68);
    // Version 2 dates the image and its file and directory inodes, not its links.
    assert_eq!(u.mtime, Some(1_234_429_795));
    assert_eq!(busybox.mtime, Some(1_234_429_780));
    let bin = u.entries.iter().find(|e| e.path == "/bin").unwrap();
    assert_eq!(bin.mtime, Some(1_234_429_739));
    assert!(u
        .entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::Symlink(_)))
        .all(|e| e.mtime.is_none()));
}

/// Hostile variants of the real legacy image, flipped in its tables (the legacy, bit-packed
/// and vendor-LZMA paths).
#[test]
fn hostile_real_v2_tables() {
    let d = REAL_V2.to_vec();
    let sb = Superblock::parse(&d).unwrap();
    let tables = sb.inode_table as usize;
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let start = std::time::Instant::now();
    for i in 0..24 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut m = d.clone();
        if i < 4 {
            m.truncate(tables + (d.len() - tables) * i / 4);
        } else if i % 4 == 0 {
            // A data block: the LZMA search must stay bounded.
            let at = 0x40 + (x as usize % (tables - 0x40));
            m[at] ^= 0xff;
        } else {
            let at = tables + (x as usize % (d.len() - tables));
            m[at] ^= 1 << (x >> 60 & 7);
        }
        let blob = Blob::from(m);
        let budget = Budget::new(Limits::for_image(d.len() as u64));
        let _ = Squashfs.unpack(&blob, &UnpackContext { budget: &budget });
    }
    assert!(start.elapsed().as_secs() < 120);
}

/// A superblock whose `bytes_used` is zero or points past the data: the length comes from
/// the end of its last table, with a warning, and every entry is read.
#[test]
fn bytes_used_repaired_from_tables() {
    let v3 = include_bytes!("../../../tests/fixtures/squashfs/sq3-zlib-le.sqfs");
    let v4 = include_bytes!("../../../tests/fixtures/squashfs/sq-gzip.sqfs");
    for (img, at) in [(&v3[..], 63usize), (&v4[..], 40)] {
        let good = Superblock::parse(img).unwrap();
        assert_eq!(good.declared_bytes_used, None);
        for bad in [0u64, 1 << 40, good.inode_table + 1] {
            let mut d = img.to_vec();
            d[at..at + 8].copy_from_slice(&bad.to_le_bytes());
            let sb = Superblock::parse(&d).expect("repaired superblock");
            assert_eq!(
                (sb.bytes_used, sb.declared_bytes_used),
                (good.bytes_used, Some(bad))
            );
            let u = unpack(&Squashfs, &d);
            assert_eq!(u.warnings.len(), 1, "{:?}", u.warnings);
            assert!(
                u.warnings[0].1.contains("tables end at"),
                "{:?}",
                u.warnings
            );
            assert_eq!(u.warnings[0].0, WarningKind::Format);
            let name = if at == 63 {
                "sq3-zlib-le.sqfs"
            } else {
                "sq-gzip.sqfs"
            };
            check(name, &d, &u.entries, EXPECTED, &Check::EXACT);
        }
    }
}

#[test]
fn a_two_gib_run_of_sparse_blocks_is_walked_not_stored() {
    // mksquashfs writes the zero blocks of a 2 GiB file made by `truncate` as sparse blocks
    // (size 0); they are neither decoded, charged nor kept, and the file hashes as the source.
    let img = crate::formats::testutil::gunzip(include_bytes!(
        "../../../tests/fixtures/filesystems/squashfs-hole.sqfs.gz"
    ));
    let started = std::time::Instant::now();
    let u = unpack(&Squashfs, &img);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_millis(500), "{took:?}");
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    let e = u.entries.iter().find(|e| e.path == "/a/hole.bin").unwrap();
    let EntryData::Sparse { data, length } = &e.data else {
        panic!("not sparse: {:?}", e.data);
    };
    assert_eq!(*length, 2 << 30);
    assert!(data.len() <= 128 << 10, "{}", data.len());
    assert_eq!(
        crate::formats::testutil::sparse_sha_hex(data, *length),
        crate::formats::testutil::manifest_sha(
            include_str!("../../../tests/fixtures/filesystems/expected-hole.txt"),
            "/a/hole.bin"
        )
    );
}
