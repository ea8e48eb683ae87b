use super::*;
use crate::testutil::{tree, TestEntry::*};

fn find<'a>(cs: &'a [Component], name: &str) -> Vec<&'a Component> {
    cs.iter().filter(|c| c.name == name).collect()
}

fn versions(cs: &[Component], name: &str) -> Vec<String> {
    find(cs, name).iter().map(|c| c.version.clone()).collect()
}

#[test]
fn the_table_parses_and_is_large_enough() {
    let s = signatures::signatures();
    let mut names: Vec<&str> = s.sigs.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 100, "{} components", names.len());
    for n in [
        "busybox", "dropbear", "openssl", "dnsmasq", "glibc", "zlib", "linux",
    ] {
        assert!(s.knows(n), "{n}");
    }
    assert_eq!(s.cpe_of("dnsmasq"), Some("a:thekelleys:dnsmasq"));
}

#[test]
fn malformed_tables_are_rejected() {
    let bad_anchor = "x\t-\tstring\tFoo \t-\tBar (\\d+)\n";
    assert!(signatures::SignatureSet::parse(bad_anchor).is_err());
    let no_group = "x\t-\tstring\tFoo \t-\tFoo \\d+\n";
    assert!(signatures::SignatureSet::parse(no_group).is_err());
    let bare_anywhere = "x\t-\tbare\t-\t-\t(\\d+)\n";
    assert!(signatures::SignatureSet::parse(bare_anywhere).is_err());
}

#[test]
fn version_strings_in_binaries() {
    let busybox = b"\x7fELF\x01\x01\x00junk\x00BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary.\x00";
    let dropbear = b"\x00\x00SSH-2.0-dropbear_2022.83\x00dropbear_rsa_host_key\x00";
    let libc =
        b"\x00GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n\x00";
    let libz = b"\x00 deflate 1.2.13 Copyright 1995-2022 Jean-loup Gailly and Mark Adler \x00";
    let crypto = b"\x00OpenSSL 3.0.20 7 Apr 2026\x00OpenSSL 1.1.1 compat\x00";
    let dnsmasq = b"\x00dnsmasq-2.90\x00";
    let t = tree(&[
        Dir("/bin"),
        File("/bin/busybox", busybox, 0o755),
        File("/usr/sbin/dropbear", dropbear, 0o755),
        File("/lib/libc.so.6", libc, 0o755),
        File("/lib/libz.so.1", libz, 0o644),
        File("/usr/lib/libcrypto.so.3", crypto, 0o644),
        File("/usr/sbin/dnsmasq", dnsmasq, 0o755),
    ]);
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    assert_eq!(versions(&cs, "busybox"), ["1.35.0"]);
    assert_eq!(versions(&cs, "dropbear"), ["2022.83"]);
    assert_eq!(versions(&cs, "glibc"), ["2.36"]);
    assert_eq!(versions(&cs, "zlib"), ["1.2.13"]);
    assert_eq!(versions(&cs, "openssl"), ["3.0.20"]);
    assert_eq!(versions(&cs, "dnsmasq"), ["2.90"]);
    let d = find(&cs, "dnsmasq")[0];
    assert_eq!(
        d.cpe.as_deref(),
        Some("cpe:2.3:a:thekelleys:dnsmasq:2.90:*:*:*:*:*:*:*")
    );
    assert_eq!(d.purl, "pkg:generic/dnsmasq@2.90");
    assert_eq!(d.confidence, Confidence::High);
    let e = &d.evidence[0];
    assert_eq!(e.path, "/usr/sbin/dnsmasq");
    assert_eq!(e.matched.as_deref(), Some("dnsmasq-2.90"));
    assert_eq!(e.range, Some(ByteRange { start: 1, end: 13 }));
    assert_eq!(e.method, "version-string");
    // Sorted by name, then version.
    let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn bare_versions_only_in_the_components_own_files() {
    let lz4 = b"\x00\x00LZ4\x00 1.9.4\x00\x00%s\x00";
    let gpg = b"\x000.0\x00\x001.46\x00";
    let t = tree(&[
        File("/usr/lib/liblz4.so.1", lz4, 0o644),
        File("/usr/lib/libgpg-error.so.0", gpg, 0o644),
        // The same bare string in an unrelated file says nothing.
        File("/usr/bin/other", lz4, 0o755),
    ]);
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    assert_eq!(versions(&cs, "lz4"), ["1.9.4"]);
    assert_eq!(versions(&cs, "libgpg-error"), ["1.46"]);
    let lz = find(&cs, "lz4")[0];
    assert_eq!(lz.confidence, Confidence::Medium);
    assert_eq!(lz.evidence.len(), 1);
    assert_eq!(lz.evidence[0].method, "bare-version-string");
}

#[test]
fn several_copies_and_versions_are_each_reported() {
    let old = b"\x00OpenSSL 1.0.2k  26 Jan 2017\x00";
    let new = b"\x00OpenSSL 3.0.20 7 Apr 2026\x00";
    let t = tree(&[
        File("/lib/libcrypto.so.1.0.0", old, 0o644),
        File("/opt/app/lib/libcrypto.so.3", new, 0o644),
        File("/usr/lib/libcrypto.so.3", new, 0o644),
    ]);
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    assert_eq!(versions(&cs, "openssl"), ["1.0.2k", "3.0.20"]);
    let three = find(&cs, "openssl")[1];
    let paths: Vec<&str> = three.evidence.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/opt/app/lib/libcrypto.so.3", "/usr/lib/libcrypto.so.3"]
    );
}

#[test]
fn duplicate_content_is_read_once_and_listed_everywhere() {
    let bb = b"\x00BusyBox v1.19.4 (2013-12-27 23:18:05 CET)\x00";
    let mut t = tree(&[
        File("/bin/busybox", bb, 0o755),
        File("/rescue/busybox", bb, 0o755),
    ]);
    // Mark the second as a copy of the first, as the unpacker does.
    t.nodes[3].duplicate_of = Some(2);
    t.contents[3] = None;
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    let b = find(&cs, "busybox");
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].version, "1.19.4");
    assert_eq!(b[0].evidence.len(), 2);
}

#[test]
fn file_names_carry_versions() {
    let t = tree(&[
        File("/lib/libuClibc-0.9.33.2.so", b"\x7fELF", 0o755),
        File("/lib/libuClibc-1.0.40.so", b"\x7fELF", 0o755),
    ]);
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    assert_eq!(versions(&cs, "uclibc"), ["0.9.33.2"]);
    assert_eq!(versions(&cs, "uclibc-ng"), ["1.0.40"]);
    assert_eq!(find(&cs, "uclibc")[0].confidence, Confidence::Medium);
}

#[test]
fn kernel_banners_and_module_vermagic() {
    let ko = b"\x00license=GPL\x00vermagic=3.10.18 mod_unload MIPS32_R2 32BIT \x00";
    let t = tree(&[File("/lib/modules/3.10.18/ath9k.ko", ko, 0o644)]);
    let a = Analysis::new(&t);
    let cs = identify_components(&a);
    let k = find(&cs, "linux");
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].version, "3.10.18");
    assert_eq!(
        k[0].cpe.as_deref(),
        Some("cpe:2.3:o:linux:linux_kernel:3.10.18:*:*:*:*:*:*:*")
    );
    // The same string outside a module is not a kernel.
    let t = tree(&[File("/usr/bin/x", ko, 0o755)]);
    assert!(identify_components(&Analysis::new(&t)).is_empty());
}

#[test]
fn decompressed_kernel_streams_are_read() {
    let mut t = tree(&[]);
    let banner = b"\x00\x00Linux version 3.10.26 (builder@host) (gcc version 4.6.4) #1 Mon\x00";
    let id = t.nodes.len() as u32;
    let mut n = assay_model::Node::new(id, Some(0), NodeKind::Stream, "lzma@0x200".into());
    n.location = "test.bin ▸ lzma@0x200".into();
    n.size = banner.len() as u64;
    t.nodes.push(n);
    t.contents
        .push(Some(assay_unpack::Blob::from(banner.to_vec())));
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "linux"), ["3.10.26"]);
    assert_eq!(find(&cs, "linux")[0].evidence[0].path, "lzma@0x200");
}

#[test]
fn opkg_status_and_control_files() {
    let status = b"Package: dnsmasq\nVersion: 2.66-5\nDepends: libc\nStatus: install user installed\nArchitecture: ar71xx\n\nPackage: libc\nVersion: 0.9.33.2-1\nStatus: install hold installed\nArchitecture: ar71xx\n\nPackage: kmod-ath9k\nVersion: 3.10.18+2013-11-05-2\nStatus: install user installed\n\nPackage: kernel\nVersion: 3.10.18-1-7269e3a1ca274be3336707cc39de3b70\nStatus: install user installed\n\nPackage: libcurl\nVersion: 7.33.0-4\nStatus: install user installed\n";
    let control = b"Package: busybox\nVersion: 1.19.4-7\nArchitecture: ar71xx\n";
    let t = tree(&[
        File("/lib/libuClibc-0.9.33.2.so", b"", 0o755),
        File("/usr/lib/opkg/status", status, 0o644),
        File("/usr/lib/opkg/info/busybox.control", control, 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "dnsmasq"), ["2.66"]);
    assert_eq!(versions(&cs, "uclibc"), ["0.9.33.2"]);
    assert_eq!(versions(&cs, "linux"), ["3.10.18"]);
    assert_eq!(versions(&cs, "curl"), ["7.33.0"]);
    assert_eq!(versions(&cs, "busybox"), ["1.19.4"]);
    assert!(find(&cs, "kmod-ath9k").is_empty());
    let d = find(&cs, "dnsmasq")[0];
    assert_eq!(d.purl, "pkg:opkg/dnsmasq@2.66-5?arch=ar71xx");
    assert_eq!(d.evidence[0].method, "opkg-status");
    assert_eq!(d.evidence[0].matched.as_deref(), Some("Version: 2.66-5"));
    // uClibc's evidence: its package record and its file name.
    assert_eq!(find(&cs, "uclibc")[0].evidence.len(), 2);
}

#[test]
fn dpkg_status_uses_the_source_package_and_upstream_version() {
    let status = b"Package: zlib1g\nStatus: install ok installed\nArchitecture: mipsel\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n\nPackage: libssl3\nStatus: install ok installed\nSource: openssl\nVersion: 3.0.20-1~deb12u2\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0-1\n";
    let t = tree(&[File("/var/lib/dpkg/status", status, 0o644)]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "zlib"), ["1.2.13"]);
    assert_eq!(versions(&cs, "openssl"), ["3.0.20"]);
    assert!(find(&cs, "gone").is_empty());
    assert_eq!(
        find(&cs, "zlib")[0].purl,
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=mipsel"
    );
}

#[test]
fn upstream_versions_of_packages() {
    use packages::upstream_version as up;
    assert_eq!(up("1:1.35.0-4+deb12u1+b1"), "1.35.0");
    assert_eq!(up("2:6.2.1+dfsg1-1.1"), "6.2.1");
    assert_eq!(up("2.1.12-stable-8"), "2.1.12-stable");
    assert_eq!(up("252.39-1~deb12u2"), "252.39");
    assert_eq!(up("1.5.4+dfsg2-5+deb12u1"), "1.5.4");
    assert_eq!(up("2013.59-1"), "2013.59");
    assert_eq!(up("svn-r9945-1"), "svn-r9945");
    assert_eq!(up("2013-10-23"), "2013-10-23");
    // OpenWrt snapshot versions keep their source hash: it is the exact upstream version.
    assert_eq!(
        up("2013-11-07-8ea96670367e5dd23988b51ee4f0f790393effaf"),
        "2013-11-07-8ea96670367e5dd23988b51ee4f0f790393effaf"
    );
    assert_eq!(
        up("2013-11-13-f9d31edb8938341b9217ee4c14eb58111414eb97-1"),
        "2013-11-13-f9d31edb8938341b9217ee4c14eb58111414eb97"
    );
    assert_eq!(
        up("9c97d5ecd795709c8584e972bfdf3aee3a5b846d-6"),
        "9c97d5ecd795709c8584e972bfdf3aee3a5b846d"
    );
    assert_eq!(up("20130807-1"), "20130807");
}

#[test]
fn release_files() {
    let osr = b"NAME=\"OpenWrt\"\nVERSION=\"23.05.2\"\nID=\"openwrt\"\nVERSION_ID=\"23.05.2\"\n";
    let owr = b"DISTRIB_ID=\"OpenWrt\"\nDISTRIB_RELEASE=\"Bleeding Edge\"\n";
    let t = tree(&[
        File("/etc/os-release", osr, 0o644),
        File("/etc/openwrt_release", owr, 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "openwrt"), ["23.05.2"]);
    assert_eq!(find(&cs, "openwrt")[0].evidence.len(), 1);
}

#[test]
fn hostile_bytes_do_not_panic() {
    let mut junk = Vec::new();
    for i in 0..20_000u32 {
        junk.extend_from_slice(b"OpenSSL ");
        junk.push((i % 251) as u8);
        junk.extend_from_slice(b"dnsmasq-");
    }
    junk.extend_from_slice(b"Linux version ");
    let t = tree(&[
        File("/usr/lib/libcrypto.so.3", &junk, 0o644),
        File("/usr/lib/opkg/status", &junk, 0o644),
        File("/lib/libc.so.6", b"\x7fELF\x02\x01\x01", 0o644),
    ]);
    let _ = identify_components(&Analysis::new(&t));
}

#[test]
fn old_busybox_and_four_part_kernels_keep_their_exact_versions() {
    let bb100 = b"\x00BusyBox v1.00 (2009.02.12-09:06+0000) multi-call binary\x00";
    let bb_pre = b"\x00BusyBox v1.00-pre10 (2004.05.01) multi-call binary\x00";
    let ko = b"\x00vermagic=2.6.8.1 gcc-3.4\x00";
    let t = tree(&[
        File("/bin/busybox", bb100, 0o755),
        File("/rescue/busybox", bb_pre, 0o755),
        File("/lib/modules/2.6.8.1/kernel/ip_tables.ko", ko, 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "busybox"), ["1.00", "1.00-pre10"]);
    // The module directory says the same as vermagic: one component, two kinds of evidence.
    assert_eq!(versions(&cs, "linux"), ["2.6.8.1"]);
    let methods: Vec<&str> = find(&cs, "linux")[0]
        .evidence
        .iter()
        .map(|e| e.method.as_str())
        .collect();
    assert!(methods.contains(&"module-directory") && methods.contains(&"version-string"));
    assert!(find(&cs, "gcc").is_empty());
}

#[test]
fn module_directories_name_the_kernel_when_modules_carry_no_vermagic() {
    let t = tree(&[
        File(
            "/lib/modules/4.14.241/ath9k.ko",
            b"\x7fELF no modinfo",
            0o644,
        ),
        File("/lib/modules/2.6.36.4brcmarm/wl.ko", b"\x7fELF", 0o644),
        // Not a kernel release.
        File("/lib/modules/extra/x.ko", b"\x7fELF", 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "linux"), ["2.6.36.4", "4.14.241"]);
    let e = &find(&cs, "linux")[1].evidence[0];
    assert_eq!(e.method, "module-directory");
    assert_eq!(e.matched.as_deref(), Some("/lib/modules/4.14.241/"));
}

#[test]
fn versions_beside_their_format_strings() {
    // Layouts as real builds store them: the version is a string of its own near the format
    // string (or the marker) that prints it.
    let pppd = b"\x00pppd %s started by %s, uid %d\x00\x00\x002.4.2b3\x00Couldn't\x00";
    let radvd = b"\x00Version: %s\x00\x001.8\x00\x00/etc/radvd.conf\x00/var/run/radvd.pid\x00";
    let musl = b"\x00musl libc (mips-sf)\x00Version %s\x00Dynamic Program Loader\x00\x001.1.24\x00";
    let snmp = b"\x00NET-SNMP version %s\x00\x005.0.8\x00UDP: unknown\x00";
    let tc = b"\x00tc utility, iproute2-ss%s\x00\x00\x00091226\x00Usage: tc\x00";
    let ip6 = b"\x00ip utility, iproute2-%s\x00\x006.1.0\x00";
    let goahead = b"\x00Server: %s\r\n\x00GoAhead-Webs\x002.1.8\x00SERVER_SOFTWARE\x00";
    let t = tree(&[
        File("/usr/sbin/pppd", pppd, 0o755),
        File("/usr/sbin/radvd", radvd, 0o755),
        File("/lib/libc.so", musl, 0o755),
        File("/bin/snmp", snmp, 0o755),
        File("/sbin/tc", tc, 0o755),
        File("/sbin/ip", ip6, 0o755),
        File("/bin/webs", goahead, 0o755),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "ppp"), ["2.4.2b3"]);
    assert_eq!(versions(&cs, "radvd"), ["1.8"]);
    assert_eq!(versions(&cs, "musl"), ["1.1.24"]);
    assert_eq!(versions(&cs, "net-snmp"), ["5.0.8"]);
    assert_eq!(versions(&cs, "iproute2"), ["6.1.0", "ss091226"]);
    assert_eq!(versions(&cs, "goahead"), ["2.1.8"]);
    let r = &find(&cs, "radvd")[0];
    assert_eq!(r.evidence[0].method, "version-beside-marker");
    assert_eq!(r.evidence[0].matched.as_deref(), Some("1.8"));
    assert_eq!(r.confidence, Confidence::Medium);
}

#[test]
fn markers_in_scripts_and_names_in_comments_are_no_components() {
    // Negatives: text that mentions a component (and a version-like string) is not it.
    let init =
        b"#!/bin/sh\n# start radvd\nradvd -p /var/run/radvd.pid -C /etc/radvd.conf\nVERSION=1.8\n";
    let l7 = b"# Tor - The Onion Router\n# works, but this matches every stream I have made using Tor 0.1.0.16 as\ntor\n^.*\n";
    let radvd_named_other = b"\x00/var/run/radvd.pid\x00\x001.8\x00";
    let bb_udhcp = b"\x00BusyBox v1.01 (2016.06.17)\x00udhcpcd, version %s\x00\x000.9.9-pre\x00";
    let t = tree(&[
        File("/etc/init.d/radvd", init, 0o755),
        File("/etc/l7-protocols/protocols/tor.pat", l7, 0o644),
        File("/usr/sbin/radvdctl", radvd_named_other, 0o755),
        File("/bin/busybox", bb_udhcp, 0o755),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert!(find(&cs, "radvd").is_empty(), "{cs:?}");
    assert!(find(&cs, "tor").is_empty());
    // udhcp inside BusyBox is BusyBox's applet, not a component of its own.
    assert!(find(&cs, "udhcp").is_empty());
    assert_eq!(versions(&cs, "busybox"), ["1.01"]);
}

#[test]
fn components_inside_other_programs_are_marked_embedded() {
    let cfm = b"\x00Dropbear sshd v%s\x00\x000.46\x00SSH-2.0-dropbear_0.46\x00";
    let httpd = b"\x7fELF\x00 inflate 1.1.4 Copyright 1995-2002 Mark Adler \x00";
    let own = b"\x7fELF\x00 inflate 1.2.13 Copyright 1995-2022 Mark Adler \x00";
    let mut cfm_elf = b"\x7fELF".to_vec();
    cfm_elf.extend_from_slice(cfm);
    let t = tree(&[
        File("/bin/cfm", &cfm_elf, 0o755),
        File("/usr/bin/httpd", httpd, 0o755),
        File("/lib/libz.so.1", own, 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "dropbear"), ["0.46"]);
    assert!(find(&cs, "dropbear")[0].evidence.iter().all(|e| e.embedded));
    let z = find(&cs, "zlib");
    assert_eq!(versions(&cs, "zlib"), ["1.1.4", "1.2.13"]);
    assert!(z[0].evidence[0].embedded, "zlib inside httpd");
    assert!(!z[1].evidence[0].embedded, "libz is zlib's own file");
}

#[test]
fn package_records_that_disagree_with_the_binary_are_kept_as_other_versions() {
    let status = b"Package: wpad-mini\nVersion: 20130807-1\nStatus: install user installed\n\nPackage: libuci-lua\nVersion: 2013-10-15.1-1\nStatus: install user installed\n\nPackage: uci\nVersion: 2013-10-15.1-1\nStatus: install user installed\n\nPackage: libgcc\nVersion: 4.6-linaro-1\nStatus: install user installed\n\nPackage: base-files\nVersion: 149-r38816\nStatus: install user installed\n";
    let wpad = b"\x00hostapd v2.1-devel\x00wpa_supplicant v2.1-devel\x00";
    let release =
        b"DISTRIB_ID=\"OpenWrt\"\nDISTRIB_RELEASE=\"Bleeding Edge\"\nDISTRIB_REVISION=\"r38816\"\n";
    let t = tree(&[
        File("/usr/lib/opkg/status", status, 0o644),
        File("/usr/sbin/wpad", wpad, 0o755),
        File("/etc/openwrt_release", release, 0o644),
        // The SONAME's 0.9.7 is a less precise reading of the banner's 0.9.7f.
        File(
            "/lib/libcrypto.so.0.9.7",
            b"\x00MD5 part of OpenSSL 0.9.7f 22 Mar 2005\x00",
            0o644,
        ),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "hostapd"), ["2.1-devel"]);
    let h = find(&cs, "hostapd")[0];
    assert_eq!(h.other_versions.len(), 1);
    assert_eq!(h.other_versions[0].version, "20130807");
    assert!(h.other_versions[0].reason.contains("binary"));
    assert_eq!(h.other_versions[0].evidence[0].method, "opkg-status");
    assert_eq!(versions(&cs, "uci"), ["2013-10-15.1"]);
    assert!(find(&cs, "libuci-lua").is_empty());
    assert!(find(&cs, "gcc").is_empty() && find(&cs, "libgcc").is_empty());
    assert!(find(&cs, "base-files").is_empty());
    assert_eq!(versions(&cs, "openwrt"), ["r38816"]);
    assert_eq!(versions(&cs, "openssl"), ["0.9.7f"]);
}

#[test]
fn sonames_that_carry_release_versions() {
    let t = tree(&[
        File("/lib/libiw.so.29", b"\x7fELF", 0o644),
        File("/lib/libubus.so.20210603", b"\x7fELF", 0o644),
        // An ABI version is not the release: libjansson.so.4.2.1 is jansson 2.2.1.
        File("/usr/lib/libjansson.so.4.2.1", b"\x7fELF", 0o644),
    ]);
    let cs = identify_components(&Analysis::new(&t));
    assert_eq!(versions(&cs, "wireless-tools"), ["29"]);
    assert_eq!(versions(&cs, "ubus"), ["2021-06-03"]);
    assert!(find(&cs, "jansson").is_empty());
}
