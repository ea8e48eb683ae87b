use super::*;
use crate::format::{EntryData, EntryKind};
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
