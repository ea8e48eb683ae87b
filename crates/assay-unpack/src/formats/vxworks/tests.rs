use super::*;

#[test]
fn version_strings_are_whole_c_strings_with_a_version() {
    let d = b"\0VxWorks\x005.5.1\0VxWorks5.5.1\0\0\0\0Aug 24 2011, 18:58:12\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "5.5.1");
    assert_eq!(v.text, "VxWorks5.5.1");
    assert_eq!(v.offset, 15);
    assert_eq!(v.build_date.as_deref(), Some("Aug 24 2011, 18:58:12"));
    let d = b"xx\0VxWorks 6.7\0\0Mar  1 2012, 10:01:48\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "6.7");
    assert_eq!(v.build_date.as_deref(), Some("Mar  1 2012, 10:01:48"));
    // Text about VxWorks, not a version string of an image.
    assert_eq!(version_string(b"\0VxWorks 6.7 is great\0"), None);
    assert_eq!(version_string(b"aVxWorks 6.7\0"), None);
    assert_eq!(version_string(b"\0VxWorks 6.\0"), None);
}

#[test]
fn kernel_version_and_corroboration() {
    let d = b"\0WIND version 2.12\0";
    assert_eq!(kernel_version(d), Some(("2.12".into(), 1)));
    assert!(identify(d).is_some());
    // A lone version string is not enough; with the copyright it is.
    assert!(identify(b"\0VxWorks 6.7\0").is_none());
    assert!(identify(b"\0VxWorks 6.7\0Copyright Wind River Systems, Inc.\0").is_some());
}

#[test]
fn creation_date_may_follow_the_runtime_version() {
    let d = b"\0VxWorks\0VxWorks 6.7\x006.7\0Mar 01 2012, 10:01:48\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "6.7");
    assert_eq!(v.build_date.as_deref(), Some("Mar 01 2012, 10:01:48"));
}

mod fixtures {
    use super::super::*;
    use crate::formats::testutil::hostile::{hostile_with, Hostile};
    use crate::formats::testutil::{entry_bytes, unpack};

    const VX5_MIPS_BE: &[u8] = include_bytes!("../../../tests/fixtures/rtos/vx5-mips-be.bin");
    const VX5_NM: &str = include_str!("../../../tests/fixtures/rtos/vx5-mips-be.nm");
    const VX6_ARM_LE: &[u8] = include_bytes!("../../../tests/fixtures/rtos/vx6-arm-le.bin");
    const VX6_NM: &str = include_str!("../../../tests/fixtures/rtos/vx6-arm-le.nm");
    const VX5_NOSYM: &[u8] = include_bytes!("../../../tests/fixtures/rtos/vx5-mipsel-nosym.bin");

    fn detail<'a>(u: &'a Unpacked, key: &str) -> Option<&'a str> {
        u.details.get(key).map(String::as_str)
    }

    /// Every global symbol `nm` lists for the linked image is in the recovered table, at the
    /// same address and of the same kind.
    fn check_symbols(u: &Unpacked, data: &[u8], nm: &str) {
        let file = u
            .entries
            .iter()
            .find(|e| e.path == "/symbols.txt")
            .expect("symbols.txt");
        let text = String::from_utf8(entry_bytes(data, file).expect("bytes")).expect("utf-8");
        let lines: std::collections::BTreeSet<&str> = text.lines().collect();
        let mut expected = 0;
        for l in nm.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let line = format!("{} {} {}", f[0], f[1], f[2]);
            assert!(lines.contains(line.as_str()), "{line:?} missing");
            expected += 1;
        }
        assert_eq!(lines.len(), expected, "only nm's symbols, once each");
        let sorted: Vec<&str> = text.lines().collect();
        let mut again = sorted.clone();
        again.sort();
        assert_eq!(sorted, again, "sorted by address");
    }

    #[test]
    fn vxworks5_mips_big_endian_with_symbol_table() {
        let u = unpack(&VxWorks, VX5_MIPS_BE);
        assert_eq!(detail(&u, "version"), Some("5.5.1"));
        assert_eq!(detail(&u, "version_string"), Some("VxWorks5.5.1"));
        assert_eq!(detail(&u, "build_date"), Some("Jan 14 2020, 10:20:30"));
        assert_eq!(detail(&u, "kernel"), Some("WIND 2.6"));
        assert_eq!(detail(&u, "arch"), Some("mips"));
        assert_eq!(detail(&u, "endianness"), Some("big"));
        assert_eq!(detail(&u, "load_address"), Some("0x80010000"));
        assert_eq!(detail(&u, "entry_point"), Some("0x80010000"));
        assert_eq!(detail(&u, "entry_offset"), Some("0x0"));
        assert_eq!(
            detail(&u, "symbol_table_layout"),
            Some("VxWorks 5.x (16-byte records)")
        );
        assert_eq!(
            detail(&u, "symbol_table_count_word"),
            Some("matches the records")
        );
        assert_eq!(detail(&u, "symbols"), Some("69"));
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check_symbols(&u, VX5_MIPS_BE, VX5_NM);
    }

    #[test]
    fn vxworks6_arm_little_endian_behind_a_vendor_header() {
        let u = unpack(&VxWorks, VX6_ARM_LE);
        assert_eq!(detail(&u, "version"), Some("6.7"));
        assert_eq!(detail(&u, "kernel"), Some("WIND 2.12"));
        assert_eq!(detail(&u, "arch"), Some("arm"));
        assert_eq!(detail(&u, "endianness"), Some("little"));
        // The image is linked at 0x108000 and sits 0x1c bytes into the file.
        assert_eq!(detail(&u, "load_address"), Some("0x00107fe4"));
        assert_eq!(detail(&u, "entry_point"), Some("0x00108000"));
        assert_eq!(detail(&u, "entry_offset"), Some("0x1c"));
        assert_eq!(
            detail(&u, "symbol_table_layout"),
            Some("VxWorks 6.x (20-byte records)")
        );
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        check_symbols(&u, VX6_ARM_LE, VX6_NM);
    }

    #[test]
    fn vxworks_without_symbol_table_is_still_identified() {
        let u = unpack(&VxWorks, VX5_NOSYM);
        assert_eq!(detail(&u, "version"), Some("5.5.1"));
        assert_eq!(detail(&u, "arch"), Some("mips"));
        assert_eq!(detail(&u, "endianness"), Some("little"));
        assert_eq!(detail(&u, "load_address"), None);
        assert!(u.entries.is_empty());
    }

    #[test]
    fn symbol_table_names_outside_the_image_are_not_read() {
        // Cut the image just after the table: the names (in .rodata, before it) remain, so
        // cut before the names instead; the table's pointers then lead outside the blob.
        let t = symtab::find(VX5_MIPS_BE, usize::MAX).expect("table");
        let names_at = t
            .symbols
            .iter()
            .map(|s| s.name.as_str())
            .filter_map(|n| memchr::memmem::find(VX5_MIPS_BE, n.as_bytes()))
            .min()
            .expect("names");
        let mut cut = VX5_MIPS_BE[..names_at].to_vec();
        cut.extend_from_slice(&VX5_MIPS_BE[t.offset..t.offset + t.byte_len() + 4]);
        assert!(symtab::find(&cut, usize::MAX).is_none());
        // Its own entry limit bounds what is read.
        let few = symtab::find(VX5_MIPS_BE, 5).expect("table");
        assert_eq!(few.symbols.len(), 5);
        assert_eq!(few.records, 69);
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for img in [VX5_MIPS_BE, VX6_ARM_LE] {
            hostile_with(&VxWorks, img, &Hostile::flips(200));
        }
    }
}
