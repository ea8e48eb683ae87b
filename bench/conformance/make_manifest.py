#!/usr/bin/env python3
"""Writes bench/conformance/manifest.json: the peers' own test samples and what their tests assert.

Each record names where a sample comes from (a repository snapshot at a commit, a PyPI sdist or
a Debian source package, and the path inside it), its sha256 and size, the licence of its
source, its format family, whether that family is a network-gear format, and the expectation in
machine-checkable form (see README.md beside this file). The expectations were written by
reading each peer's test (named in `asserted_by`); they state only what that test asserts, in
tool-neutral terms: a format recognised at an offset, a number of extracted files, files with a
name, size or hash, or "extracts without error".

This script needs the sources on this machine (the `/work/.mirror/...` snapshots and the
downloads that populate.py makes); it is kept so that the manifest can be audited and extended.

    python3 bench/conformance/make_manifest.py [--cache DIR]
"""
import argparse
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import populate  # noqa: E402  (shared source readers)

BINWALK = ("ReFirmLabs/binwalk", "4b09fca2af088e38ed1a16889c2df4ca7e59fe6e", "MIT")
BINWALK_NG = ("binwalk-ng/binwalk-ng", "4106fbfc0d6a9d879d853c24f12d8c7d3cad1613", "MIT")
FACT = ("fkie-cad/fact_extractor", "86f39b4772ee1075ca410bcfaa74b08ea84b0323", "GPL-3.0")
UTIL_LINUX = ("util-linux", "2.38.1-5+deb12u3", "GPL-2.0-or-later (util-linux tests; see README.licensing)")
DISSECT = {
    "dissect.jffs": "1.6",
    "dissect.squashfs": "1.12",
    "dissect.extfs": "3.15",
    "dissect.fat": "3.13",
    "dissect.qnxfs": "1.2",
}

# Families that are network-gear formats: firmware containers of routers, cameras and telecom
# gear, flash and embedded file systems, and the compressions and archives found in firmware.
NETWORK_GEAR = {
    # firmware containers and vendor formats
    "arcadyan", "alphanetworks", "ambarella-romfs", "android-sparse", "avm-fake-squashfs", "avm-eva",
    "bneg", "boschtool", "broadcom-sao", "buffalo", "csman", "dahua", "dlink-encrpted-img",
    "dlink-mh01", "dlink-shrs", "draytek", "fit", "gm8126", "linux-kernel", "matter-ota",
    "maxlinear", "ros", "senao", "tenvis-pk2", "tplink", "trx", "uimage", "dtb", "xiaomi-hdr",
    "program-store",
    # flash and embedded file systems
    "squashfs", "cramfs", "jffs2", "yaffs2", "ubi", "ubifs", "romfs", "ext", "fat", "erofs", "minix",
    # disk layouts of embedded storage (SD cards, eMMC)
    "mbr", "gpt",
    # compressions and archives seen in firmware
    "gzip", "bzip2", "xz", "lzma", "lz4", "lzop", "zstd", "zlib", "compress", "lzip",
    "tar", "cpio", "zip", "7z", "rar", "arj", "cab", "ar",
}

STD_SET = ["testfile1", "testfile2", "test file 3_.txt"]  # fact_extractor's standard unpack set
# FACT's tests assert the names of the standard set; the images were made from the folder
# fact_extractor/test/data/get_files_test (its name is the prefix the tests expect), so each
# file must also hold that folder's content: a tool that writes empty placeholders (for
# encrypted members, say) has not extracted them.
STD_CONTENT = {
    "testfile1": ("fact_extractor/test/data/get_files_test/testfile1"),
    "testfile2": ("fact_extractor/test/data/get_files_test/testfile2"),
    "test file 3_.txt": ("fact_extractor/test/data/get_files_test/generic folder/test file 3_.txt"),
}


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def lit(b):
    """A file whose content the test asserts exactly."""
    return {"sha256": sha256(b), "size": len(b)}


class Builder:
    def __init__(self, cache):
        self.cache = cache
        self.records = []
        self.ids = set()
        self.unavailable = []

    def add(self, sid, source, family, expect, asserted_by, transform=None, note=None, licence=None):
        assert sid not in self.ids, sid
        self.ids.add(sid)
        try:
            raw = populate.read_source(source, self.cache)
        except populate.SourceError as e:
            self.unavailable.append({"id": sid, "source": source, "asserted_by": asserted_by, "reason": str(e)})
            print(f"unavailable: {sid}: {e}", file=sys.stderr)
            return
        data = populate.apply_transform(raw, transform)
        rec = {
            "id": sid,
            "source": source,
            "source_sha256": sha256(raw),
            "transform": transform,
            "sha256": sha256(data),
            "size": len(data),
            "licence": licence,
            "family": family,
            "network_gear": family in NETWORK_GEAR,
            "asserted_by": asserted_by,
            "expect": expect,
        }
        if transform is None:
            del rec["transform"]
        if note:
            rec["note"] = note
        self.records.append(rec)


def git_src(repo, path):
    r, commit, _ = repo
    return {"kind": "git", "repo": r, "commit": commit, "path": path}


def binwalk_samples(b):
    # (file, canonical format, signature offsets asserted with extraction, offsets recognised only)
    table = [
        ("7z.bin", "7z", [0], [], "sevenzip.rs"),
        ("arcadyan.bin", "arcadyan", [0], [], "arcadyan.rs"),
        ("arj.bin", "arj", [0xD], [], "arj.rs"),
        ("bmp.bin", "bmp", [0xB7F94, 0x10AFEC], [], "bmp.rs"),
        ("bzip2.bin", "bzip2", [0], [], "bzip2.rs"),
        ("cramfs.bin", "cramfs", [0], [], "cramfs.rs"),
        ("gzip.bin", "gzip", [0], [], "gzip.rs"),
        ("jpeg.bin", "jpeg", [0, 0x15BBE], [], "jpeg.rs"),
        ("matter_ota.bin", "matter-ota", [0], [], "matter_ota.rs"),
        ("mbr.bin", "mbr", [0], [], "mbr.rs"),
        ("pdf.bin", "pdf", [], [0], "pdf.rs"),
        ("qcow.bin", "qcow", [], [0], "qcow.rs"),
        ("riff.bin", "riff", [0], [], "riff.rs"),
        ("romfs.bin", "romfs", [0], [], "romfs.rs"),
        ("squashfs.bin", "squashfs", [0], [], "squashfs.rs"),
        ("squashfs_v2.bin", "squashfs", [0], [], "squashfs_v2.rs"),
        ("yaffs2.bin", "yaffs2", [0], [], "yaffs2.rs"),
        ("zip.bin", "zip", [0], [], "zip.rs"),
        ("zip_truncated.bin", "zip", [0], [], "zip_truncated.rs"),
    ]
    for fname, fmt, xoffs, roffs, test in table:
        exp = {"formats": [{"format": fmt, "offset": o} for o in xoffs + roffs]}
        if xoffs:
            exp["min_files"] = len(xoffs)
        b.add(f"binwalk/{fname}", git_src(BINWALK, f"tests/inputs/{fname}"), fmt, exp,
              f"ReFirmLabs/binwalk tests/{test}", licence=BINWALK[2])
    b.add("binwalk/png_malformed.bin", git_src(BINWALK, "tests/inputs/png_malformed.bin"), "png",
          {"formats_absent": ["png"]}, "ReFirmLabs/binwalk tests/png.rs (no signature expected)",
          licence=BINWALK[2])
    # binwalk-ng: inputs not in binwalk v3's tree (the others are the same blobs)
    ng = [
        ("csman.bin", "csman", "csman.rs"),
        ("eva_dual_kernel.bin", "avm-eva", "eva_dual_kernel.rs"),
        ("eva_secondary_only.bin", "avm-eva", "eva_secondary_only.rs"),
        ("eva_single_kernel.bin", "avm-eva", "eva_single_kernel.rs"),
        ("lz4.bin", "lz4", "lz4.rs"),
        ("lzfse.bin", "lzfse", "lzfse.rs"),
        ("program_store.bin", "program-store", "program_store.rs"),
        ("program_store_dual.bin", "program-store", "program_store.rs"),
        ("srec.hex", "srec", "srec.rs"),
        ("srec_s6.hex", "srec", "srec.rs"),
        ("zstd.bin", "zstd", "zstd.rs"),
    ]
    for fname, fmt, test in ng:
        exp = {"formats": [{"format": fmt, "offset": 0}], "min_files": 1}
        b.add(f"binwalk-ng/{fname}", git_src(BINWALK_NG, f"tests/inputs/{fname}"), fmt, exp,
              f"binwalk-ng/binwalk-ng tests/{test}", licence=BINWALK_NG[2])
    b.add("binwalk-ng/csman_decompression_bomb.bin",
          git_src(BINWALK_NG, "tests/inputs/csman_decompression_bomb.bin"), "csman",
          {"formats_absent": ["csman"]},
          "binwalk-ng/binwalk-ng tests/csman.rs decompression_bomb_test (no csman signature)",
          licence=BINWALK_NG[2])
    testfile = lit(b"Testing 123\n")
    for fname in ["testfile.rar3.rar", "testfile.rar3.solid.rar", "testfile.rar5.rar", "testfile.rar5.solid.rar"]:
        b.add(f"binwalk-ng/{fname}", git_src(BINWALK_NG, f"tests/inputs/{fname}"), "rar",
              {"formats": [{"format": "rar", "offset": 0}],
               "files": [dict(name="testfile.txt", **testfile)]},
              "binwalk-ng/binwalk-ng tests/rar.rs", licence=BINWALK_NG[2])
    b.add("binwalk-ng/testfile.rar3.dos_sfx.exe", git_src(BINWALK_NG, "tests/inputs/testfile.rar3.dos_sfx.exe"),
          "rar", {"files": [dict(name="testfile.txt", **testfile), {"name": "acknow.txt", "min_size": 1}]},
          "binwalk-ng/binwalk-ng tests/rar.rs sfx_extraction", licence=BINWALK_NG[2])
    b.add("binwalk-ng/tarball.bin", git_src(BINWALK_NG, "tests/inputs/tarball.bin"), "tar",
          {"formats": [{"format": "tar", "offset": 0}],
           "files": [dict(name="hello.txt", path_suffix="testdir/hello.txt", **lit(b"Hello, binwalk-ng tarball!\n")),
                     dict(name="readme.md", path_suffix="testdir/readme.md", **lit(b"# Tarball test fixture\n")),
                     dict(name="data.bin", path_suffix="testdir/nested/data.bin", **lit(b"\xab" * 256)),
                     dict(name="run.sh", path_suffix="testdir/run.sh", **lit(b"#!/bin/sh\necho hi\n")),
                     {"name": "hello.link", "type": "symlink"}]},
          "binwalk-ng/binwalk-ng tests/tarball.rs", licence=BINWALK_NG[2])


def fact_samples(b):
    P = "fact_extractor/plugins/unpacking/"

    def add(sid, path, family, expect, test, transform=None, note=None):
        b.add(f"fact/{sid}", git_src(FACT, path), family, expect,
              f"fkie-cad/fact_extractor {test}", transform=transform, note=note, licence=FACT[2])

    std_files = {n: dict(name=n, **lit(populate.git_blob(FACT[0], FACT[1], path))) for n, path in STD_CONTENT.items()}

    def std(names=STD_SET):
        return {"files": [std_files[n] for n in names], "min_files": len(names)}

    t = P + "alphanetworks/test/"
    add("alphanetworks/test_sample", t + "data/test_sample", "alphanetworks",
        {"min_files": 3, "files": [{"name": "script.sh"}, dict(name="firmware.bin", **lit(b"firmware_foobar\n")),
                                   {"name": "ddPack.elf", "prefix": b"foobar".hex()}]},
        t + "test_plugin_alphanetworks.py::test_extraction_normal")
    add("alphanetworks/test_sample_inverted", t + "data/test_sample_inverted", "alphanetworks",
        {"min_files": 2, "files": [{"name": "script.sh"}, {"name": "firmware.bin", "suffix": b"fw_foobar".hex()}]},
        t + "test_plugin_alphanetworks.py::test_extraction_inverted")
    add("ambarella/ambarella_rom.fs", P + "ambarella/test/data/ambarella_rom.fs", "ambarella-romfs",
        {"min_files": 4}, P + "ambarella/test/test_plugin_ambarella_romfs.py (file_count 4)")
    add("android_simg/simg.img", P + "android_simg/test/data/simg.img", "android-sparse",
        {"min_files": 1}, P + "android_simg/test/test_plugin_android_simg.py (one raw image)")
    add("ascii85/testfile.adobe85", P + "ascii85/test/data/testfile.adobe85", "ascii85",
        {"min_files": 1, "files": [{"contains": b"test for a FACT plugin".hex()}]},
        P + "ascii85/test/test_plugin_adobe.py::test_extraction")
    add("avm_sqfs_fake/fake.sqfs", P + "avm_sqfs_fake/test/data/fake.sqfs", "avm-fake-squashfs",
        {"files": [lit(b"Test File" + 247 * b"\x00")]}, P + "avm_sqfs_fake/test/test_plugin.py")
    add("bneg/test.bneg", P + "bneg/test/data/test.bneg", "bneg",
        {"min_files": 2, "files": [lit(b"foobar\n"), lit(b"test123\n")]}, P + "bneg/test/test_bneg.py")
    add("boschtool/test.fw", P + "boschtool/test/data/test.fw", "boschtool",
        {"min_files": 2, "files": [{"name": "test_file_1.txt", "contains": b"test file!".hex()},
                                   {"name": "test_file_2.txt", "contains": b"test file!".hex()}]},
        P + "boschtool/test/test_boschtool.py::test_extraction")
    add("broadcom/broadcom-sao.bin", P + "broadcom/test/data/broadcom-sao.bin", "broadcom-sao",
        {"min_files": 4, "files": [{"name": n} for n in ["META", "DTBB", "KRNL", "RTFS"]]},
        P + "broadcom/test/test_plugin_broadcom_sao.py")
    add("buffalo/buffalo.bin", P + "buffalo/test/data/buffalo.bin", "buffalo",
        {"min_files": 1, "files": [lit(b"foobar 123 test\n")]}, P + "buffalo/test/test_plugin_buffalo_bgn.py")
    add("dahua/dh.bin", P + "dahua/test/data/dh.bin", "dahua", {"min_files": 1},
        P + "dahua/test/test_dahua.py (header fixed to zip; only that one file is asserted)")
    add("dji/dji.img", P + "dji/test/data/dji.img", "dji",
        {"min_files": 2, "files": [{"name": "m0305_main_controller.module"}]},
        P + "dji/test/test_plugin_dji_drones.py")
    add("dlink/testfile.encrpted_img", P + "dlink/test/data/testfile.encrpted_img", "dlink-encrpted-img",
        {"min_files": 1, "files": [{"contains": b"foobar test!".hex()}]},
        P + "dlink/test/test_dlink_encrpted_img.py")
    add("dlink/fw_mh01_test.bin", P + "dlink/test/data/fw_mh01_test.bin", "dlink-mh01",
        {"min_files": 3, "files": [lit(b"foobar 1234 test\n")]}, P + "dlink/test/test_dlink_mh01.py")
    add("dlink/test.dec", P + "dlink/test/data/test.dec", "dlink-shrs",
        {"min_files": 1, "files": [{"contains": b"This is a decrypted test file!".hex()}]},
        P + "dlink/test/test_dlink_shrs.py")
    add("draytek/valid_draytekvigor167_image.bin", P + "draytek_vigor_167/test/data/valid_draytekvigor167_image.bin",
        "draytek", {"formats": [{"format": "squashfs", "offset": 256, "size": 4096}], "min_files": 1},
        P + "draytek_vigor_167/test/test_draytek_vigor_167.py::test_extraction_valid_image",
        note="the test hashes the carved squashfs image (sha256 73b648f4...), which is bytes 256..4352 of the "
             "sample: held here as a squashfs of 4096 bytes at 256, whose content must be extracted")
    # generic carver
    t = P + "generic_carver/test/"
    b.add("fact/generic_carver/generic_carver_test", git_src(FACT, "fact_extractor/test/data/generic_carver_test"),
          "zip", {"formats": [{"format": "zip", "offset": 100, "size": 787}]},
          "fkie-cad/fact_extractor " + t + "test_plugin_generic_carver.py::test_extraction (hidden zip 100-887)",
          licence=FACT[2])
    add("generic_carver/zlib_carving_test", t + "data/zlib_carving_test", "zlib",
        {"files": [{"contains": b"test file".hex()}]}, t + "test_plugin_generic_carver.py::test_zlib_carving")
    add("generic_carver/carving_test_file", t + "data/carving_test_file", "zip",
        {"formats": [{"format": "zip", "offset": 128, "size": 172}, {"format": "7z", "offset": 428, "size": 134}]},
        t + "test_plugin_generic_carver.py::test_filter")
    for ext, fam in [("7z", "7z"), ("gz", "gzip"), ("tar", "tar"), ("xz", "xz"), ("zip", "zip")]:
        add(f"generic_carver/fake_{ext}.{ext}", t + f"data/fake_{ext}.{ext}", fam, {"max_files": 0},
            t + "test_plugin_generic_carver.py::test_fake_archives (no valid chunk)")
    for ext, fam, size in [("bz2", "bzip2", 52), ("zip", "zip", 170)]:
        b.add(f"fact/trailing_data.{ext}", git_src(FACT, f"fact_extractor/test/data/trailing_data.{ext}"), fam,
              {"formats": [{"format": fam, "offset": 0, "size": size}], "min_files": 1},
              "fkie-cad/fact_extractor " + t + "test_plugin_generic_carver.py::test_trailing_data", licence=FACT[2])
    b.add("fact/trailing_data.lzma", git_src(FACT, "fact_extractor/test/data/trailing_data.lzma"), "lzma",
          {"formats": [{"format": "lzma", "offset": 0}], "min_files": 1},
          "fkie-cad/fact_extractor " + P + "sevenz/test/test_plugin_sevenz.py::test_trailing_data (100 bytes after the stream)",
          licence=FACT[2])
    # generic_fs
    t = P + "generic_fs/test/"
    add("generic_fs/romfs.img", t + "data/romfs.img", "romfs", std(), t + "test_plugin_generic_fs.py::test_extraction_romfs")
    for fs, fam in [("btrfs", "btrfs"), ("jfs", "jfs"), ("minix", "minix"), ("reiserfs", "reiserfs"),
                    ("udf", "udf"), ("xfs", "xfs"), ("f2fs", "f2fs")]:
        add(f"generic_fs/{fs}.img", t + f"data/{fs}.img.xz", fam, std(),
            t + f"test_plugin_generic_fs.py::test_extraction_{fs}", transform="xz")
    add("generic_fs/mbr.img", t + "data/mbr.img.xz", "mbr",
        {"min_files": 3, "files": [{"name": "test_data_file.bin"}, {"name": "yara_test_file"}, std_files["testfile1"]]},
        t + "test_plugin_generic_fs.py::test_extract_multiple_partitions", transform="xz")
    add("grain_media/test.gm8126", P + "grain_media/test/data/test.gm8126", "gm8126",
        {"min_files": 1, "files": [lit(b"foobar 123")]}, P + "grain_media/test/test_plugin_gm8126.py")
    t = P + "hp/test/"
    add("hp/hp_container.pjl", t + "data/hp_container.pjl", "hp-pjl", {"min_files": 2},
        t + "test_pjl.py::test_extraction_old_container_format (two upgrade files)")
    add("hp/hp_new_container.pjl", t + "data/hp_new_container.pjl", "hp-pjl",
        {"files": [{"size": 224, "prefix": "941e1200"}]}, t + "test_pjl.py::test_extraction_new_container_format")
    add("hp/update_stream.bin", t + "data/update_stream.bin", "hp-update-stream",
        {"files": [lit(b"compressed_stream_data")]}, t + "test_update_stream.py (the LZMA stream at 0x8d)")
    t = P + "intel_hex/test/"
    add("intel_hex/testfile.hex", t + "data/testfile.hex", "ihex",
        {"min_files": 1, "files": [{"contains": b"test string".hex()}]}, t + "test_intel_hex.py::test_extraction")
    t = P + "jffs2/test/"
    for e in ["be", "le"]:
        add(f"jffs2/jffs2_{e}.img", t + f"data/jffs2_{e}.img", "jffs2", std(), t + "test_plugin_jffs2.py")
    t = P + "linuxkernel/test/"
    for name, fmt, off in [("bzImage_bzip2", "bzip2", 17001), ("bzImage_gzip", "gzip", 17001),
                           ("bzImage_lz4", "lz4", 17001), ("bzImage_lzma", "lzma", 17001),
                           ("bzImage_lzo", "lzop", 17001), ("bzImage_xz", "xz", 17001)]:
        add(f"linuxkernel/{name}", t + f"data/{name}", "linux-kernel",
            {"formats": [{"format": fmt, "offset": off}], "min_files": 1},
            t + "test_plugin_linuxkernel.py::test_extraction_valid_bz_image")
    add("linuxkernel/zImage_be32", t + "data/zImage_be32", "linux-kernel", {"min_files": 1},
        t + "test_plugin_linuxkernel.py::test_extraction_valid_bz_image (gzip in 32-bit byte-swapped words at 13068)")
    add("linuxkernel/bogus_image.bin", t + "data/bogus_image.bin", "linux-kernel", {"max_files": 0},
        t + "test_plugin_linuxkernel.py::test_extraction_invalid_image")
    t = P + "maxlinear/test/"
    add("maxlinear/maxlinear-puma-8-vendor-image.bin", t + "data/maxlinear-puma-8-vendor-image.bin", "maxlinear",
        {"min_files": 4}, t + "test_plugin_maxlinear_puma_8_vendor_image.py (kernel, dtb, rootfs, signature)")
    add("maxlinear/maxlinear-uimage-v2.bin", t + "data/maxlinear-uimage-v2.bin", "maxlinear",
        {"min_files": 4}, t + "test_plugin_maxlinear_uimage.py (two kernels, two root file systems)")
    # patool
    t = P + "patool/test/"
    for f, fam in [("test.cab", "cab"), ("test.cpio", "cpio"), ("test.jar", "zip"), ("test.lha", "lha"),
                   ("test.shar", "shar"), ("test.tar.Z", "compress"), ("test.tar.bz2", "bzip2"), ("test.tar", "tar"),
                   ("test.tar.lz", "lzip"), ("test.zoo", "zoo"), ("test.zpaq", "zpaq")]:
        add(f"patool/{f}", t + f"data/{f}", fam, std(), t + "test_plugin_patool.py::test_archive_extraction")
    for f, fam in [("test.a", "ar"), ("test.bz2", "bzip2"), ("test.lrz", "lrzip"), ("test.lz", "lzip"),
                   ("test.lz4", "lz4"), ("test.lzo", "lzop"), ("test.rz", "rzip"), ("test.zst", "zstd")]:
        add(f"patool/{f}", t + f"data/{f}", fam, {"min_files": 1, "files": [{"sha256_prefix": "deadc0de"}]},
            t + "test_plugin_patool.py::test_file_extraction")
    add("patool/test.arc", t + "data/test.arc", "arc", {"min_files": 2, "files": [std_files["testfile1"], std_files["testfile2"]]},
        t + "test_plugin_patool.py::test_extraction_arc")
    add("patool/test.deb", t + "data/test.deb", "ar", {"min_files": 3}, t + "test_plugin_patool.py::test_extract_deb")
    t = P + "raw/test/"
    add("raw/raw.bin", t + "data/raw.bin", "lzma", {"formats": [{"format": "lzma", "offset": 0x8D}], "min_files": 1},
        t + "test_raw.py::test_extraction")
    add("raw/encoded.bin", t + "data/encoded.bin", "ihex",
        {"formats": [{"format": "ihex", "offset": 6}, {"format": "srec", "offset": 0x291F}], "min_files": 2},
        t + "test_raw.py::test_extraction_encoded")
    add("raw/nothing.bin", t + "data/nothing.bin", "none", {"max_files": 0}, t + "test_raw.py::test_extraction_nothing_included")
    add("ros/test.ros", P + "ros/test/data/test.ros", "ros", {"min_files": 6, "files": [{"name": "DATETIME_C"}]},
        P + "ros/test/test_ros.py::test_extraction")
    add("senao/testfw_1.enc", P + "senao/test/data/testfw_1.enc", "senao",
        {"min_files": 1, "files": [{"size": 44, "prefix": b"foobar".hex()}]}, P + "senao/test/test_plugin_senao.py")
    # 7z plugin
    t = P + "sevenz/test/"
    for f, fam, names in [("test.7z", "7z", STD_SET), ("test.rar", "rar", STD_SET), ("test.arj", "arj", STD_SET),
                          ("test.xar", "xar", STD_SET), ("cramfs.img", "cramfs", STD_SET), ("test.iso", "iso9660", STD_SET),
                          ("test_password.7z", "7z", STD_SET), ("test_password.zip", "zip", STD_SET)]:
        note = "password 'test' (FACT tries a password list)" if "password" in f else None
        add(f"sevenz/{f}", t + f"data/{f}", fam, std(names), t + "test_plugin_sevenz.py", note=note)
    for f, fam in [("fat", "fat"), ("hfs", "hfs"), ("ntfs", "ntfs"), ("ext2", "ext"), ("ext3", "ext"), ("ext4", "ext")]:
        add(f"sevenz/{f}.img", t + f"data/{f}.img.xz", fam, std(), t + "test_plugin_sevenz.py::test_extraction_compressed",
            transform="xz")
    for f, fam in [("test.gz", "gzip"), ("test.xz", "xz")]:
        add(f"sevenz/{f}", t + f"data/{f}", fam, {"min_files": 1}, t + "test_plugin_sevenz.py::test_stream_extraction")
    add("sevenz/test_zisofs.iso", t + "data/test_zisofs.iso", "iso9660",
        {"files": [dict(name="FOO", **lit(b"foo\n")), {"name": "LOREM", "prefix": b"Lorem ipsum".hex()}]},
        t + "test_plugin_sevenz.py::test_iso9660_extraction")
    t = P + "sfx/test/"
    for f in ["test_elf_normal", "test_rsrc", "no_section_header.elf"]:
        add(f"sfx/{f}", t + f"data/{f}", "executable", {"max_files": 0}, t + "test_sfx.py (not a self-extractor)")
    for f in ["test_elf_sfx", "test_pe_sfx"]:
        add(f"sfx/{f}", t + f"data/{f}", "sfx", std(), t + "test_sfx.py::test_self_extracting_archives")
    t = P + "squashFS/test/"
    for f in ["avm_be.sqfs4", "avm_le.sqfs4", "gzip.sqfs", "lz4.sqfs", "lzma.sqfs", "lzma1_be.sqfs3", "lzma1_le.sqfs3",
              "lzma_be.sqfs2", "lzma_le.sqfs2", "lzo.sqfs", "xz.sqfs", "zlib_be.sqfs3", "zlib_le.sqfs3", "zstd.sqfs"]:
        add(f"squashfs/{f}", t + f"data/{f}", "squashfs", std(), t + "test_plugin_squashfs.py::test_extraction_sqfs")
    t = P + "srec/test/"
    for f in ["testfile.srec", "testfile_noS0.srec", "additional_data.srec"]:
        add(f"srec/{f}", t + f"data/{f}", "srec", {"min_files": 1, "files": [{"contains": b"Hello world.".hex()}]},
            t + "test_srec.py::test_extraction")
    add("stuffit/test.sitx", P + "stuffit/test/data/test.sitx", "stuffit",
        {"min_files": 1, "files": [{"name": "Sampling SIM.app.rsrc"}]}, P + "stuffit/test/test_sit.py")
    t = P + "tektronix/test/"
    for f, fam in [("testfile.tek", "tek"), ("testfile.xtek", "xtek"), ("objcopy.xtek", "xtek")]:
        add(f"tektronix/{f}", t + f"data/{f}", fam, {"min_files": 1, "files": [{"contains": b"Hello world.".hex()}]},
            t + "test_plugin_tek.py / test_plugin_xtek.py::test_extraction")
    add("tenvis_pk2/test.pk2", P + "tenvis_pk2/test/data/test.pk2", "tenvis-pk2",
        {"min_files": 2, "files": [{"name": "bar"}, {"name": "foo"}, lit(b"foobar\n")]},
        P + "tenvis_pk2/test/test_tenvis_pk2.py::test_extraction_pk2")
    t = P + "tpl/test/"
    add("tpl/wr.fw", t + "data/wr.fw", "tplink",
        {"formats": [{"format": "lzma", "offset": 26820}, {"format": "lzma", "offset": 262420}], "min_files": 2},
        t + "test_tp_wr702n.py::test_get_meta_dict (bootloader_offset 26820, os_offset 262420), test_extraction",
        note="the test hashes FACT's carved pieces (headers, the LZMA streams themselves, the raw OWFS region); "
             "what a tool-neutral expectation keeps is the boot loader and the OS found where the header says "
             "and decoded (both streams carry LZMA properties byte 0x6e)")
    add("tpl/test.tpl", t + "data/test.tpl", "tplink", {"min_files": 4},
        t + "test_tpl.py (header, boot loader, kernel, rootfs)")
    t = P + "trx/test/"
    add("trx/trx.img", t + "data/trx.img", "trx", {"files": [std_files[n] for n in STD_SET]},
        t + "test_plugin_untrx.py::test_extraction_trx (a zip holding the standard set)")
    add("trx/netgear.trx", t + "data/netgear.trx", "trx", {"min_files": 2},
        t + "test_plugin_untrx.py::test_extraction_trx2 (LZMA squashfs image and a segment)")
    t = P + "ubi/test/"
    add("ubi/ubi.img", t + "data/ubi.img", "ubi", {"min_files": 1}, t + "test_plugin_ubi_image.py")
    add("ubi/test.ubifs", t + "data/test.ubifs", "ubifs", std(), t + "test_plugin_ubifs.py")
    t = P + "uboot/test/"
    add("uboot/fit.itb", t + "data/fit.itb", "fit", {"min_files": 3}, t + "test_plugin_fit.py (kernel, fdt, rootfs)")
    add("uboot/uboot.image_with_header", t + "data/uboot.image_with_header", "uimage",
        {"formats": [{"format": "uimage", "offset": 0}], "min_files": 1},
        t + "test_plugin_uboot.py::test_extraction, test_container_uboot_image.py (header fields)")
    add("uboot/uboot.dtb", t + "data/uboot.dtb", "dtb", {"min_files": 1}, t + "test_plugin_uboot.py::test_extraction_dtb")
    add("uefi/UEFI.CAP", P + "uefi/test/data/UEFI.CAP", "uefi", {"min_files": 1395}, P + "uefi/test/test_plugin_uefi.py")
    t = P + "xerox/test/"
    add("xerox/DLM-First_1MB.DLM", t + "data/DLM-First_1MB.DLM", "xerox-dlm",
        {"files": [{"sha256": "701962b0d11f50d9129d5a1655ee054865e90cd1b547d40d590ea96f7dfb64eb"}]}, t + "test_dlm.py")
    add("xerox/test.dsk1", t + "data/test.dsk1", "xerox-dsk",
        {"files": [{"sha256": "057e936e6c1d45d617fe52decd532776c95c06a1b5e4a8f752d4227a645e5edc", "size": 860293}]},
        t + "test_container_dsk_one.py, test_dsk.py")
    add("xerox/test.dsk_ext", t + "data/test.dsk_ext", "xerox-dsk", {"min_files": 1}, t + "test_dsk_extended.py")
    add("xerox/xerox.ps", t + "data/xerox.ps", "xerox-ps", {"min_files": 3}, t + "test_postscript.py")
    add("xiaomi_hdr/test.hdr1", P + "xiaomi_hdr/test/data/test.hdr1", "xiaomi-hdr", std(), P + "xiaomi_hdr/test/test_hdr.py")
    t = P + "yaffs/test/"
    for e in ["be", "le"]:
        add(f"yaffs/yaffs2_{e}.img", t + f"data/yaffs2_{e}.img", "yaffs2", std(), t + "test_plugin_yaffs.py")
    add("zlib/test.zlib", P + "zlib/test/data/test.zlib", "zlib",
        {"files": [{"sha256": "e429103649e24ca126077bfb38cce8c57cc913a966d7e36356e4fe0513ab02c4"}]},
        P + "zlib/test/test_plugin_zlib.py")


BLKID_FAMILY = [
    (r"^cramfs$", "cramfs"), (r"^romfs$", "romfs"), (r"^ubi$", "ubi"), (r"^ubifs$", "ubifs"),
    (r"^erofs$", "erofs"), (r"^minix$", "minix"), (r"^squashfs", "squashfs"), (r"^ext[234]$", "ext"),
    (r"^jbd$", "ext-journal"), (r"^vfat$", "fat"), (r"^jffs2$", "jffs2"),
]


def blkid_samples(b, root):
    """util-linux tests/ts/blkid: each image with the file-system type blkid must report."""
    exp_dir = os.path.join(root, "tests/expected/blkid")
    names = sorted(n for n in os.listdir(os.path.join(root, "tests/ts/blkid/images-fs")) if n.endswith(".img.xz"))
    for n in names:
        base = n[: -len(".img.xz")]
        cands = [f for f in os.listdir(exp_dir) if f == f"low-probe-{base}"]
        if not cands:
            # multi-session images: the expectation of the first session (offset 0)
            stem = re.sub(r"-\d+", "", base)
            cands = sorted(f for f in os.listdir(exp_dir) if f.startswith(f"low-probe-{stem}-") and f.endswith("-0"))
        if not cands:
            continue
        text = open(os.path.join(exp_dir, cands[0])).read()
        m = re.search(r"^ID_FS_TYPE=(\S+)", text, re.M)
        if not m:
            continue
        fstype = m.group(1)
        family = fstype
        for rx, fam in BLKID_FAMILY:
            if re.match(rx, fstype):
                family = fam
                break
        b.add(f"blkid/{base}", {"kind": "debian-source", "package": UTIL_LINUX[0], "version": UTIL_LINUX[1],
                                "path": f"tests/ts/blkid/images-fs/{n}"},
              family, {"formats": [{"format": family if family != fstype else fstype, "offset": None}]},
              f"util-linux tests/ts/blkid/low-probe, tests/expected/blkid/{cands[0]} (ID_FS_TYPE={fstype})",
              transform="xz", licence=UTIL_LINUX[2])
    for n in sorted(os.listdir(os.path.join(root, "tests/ts/blkid/images-pt"))):
        base = n[: -len(".img.xz")]
        text = open(os.path.join(exp_dir, f"lowprobe-pt-{base}")).read()
        m = re.search(r"PT: (\S+), offset: (\d+)", text)
        pt = m.group(1)
        family = {"dos": "mbr", "gpt": "gpt"}.get(pt, pt)
        parts = len(re.findall(r"^#\d+:", text, re.M))
        b.add(f"blkid/pt-{base}", {"kind": "debian-source", "package": UTIL_LINUX[0], "version": UTIL_LINUX[1],
                                   "path": f"tests/ts/blkid/images-pt/{n}"},
              family, {"formats": [{"format": family, "offset": None}], "partitions_asserted": parts},
              f"util-linux tests/ts/blkid/lowprobe-pt, tests/expected/blkid/lowprobe-pt-{base} (PT: {pt}, {parts} partitions)",
              transform="xz", licence=UTIL_LINUX[2])


def dissect_samples(b):
    def src(pkg, path):
        return {"kind": "pypi", "package": pkg, "version": DISSECT[pkg], "path": path}

    def add(sid, pkg, path, family, expect, test, transform=None, note=None):
        b.add(f"dissect/{sid}", src(pkg, path), family, expect, f"{pkg} {DISSECT[pkg]} {test}",
              transform=transform, note=note, licence="AGPL-3.0-or-later")

    add("jffs2.bin", "dissect.jffs", "tests/_data/jffs2.bin.gz", "jffs2",
        {"files": [dict(name="test.txt", **lit(b"contents\n")), {"name": "link.txt", "type": "symlink"}]},
        "tests/test_jffs2.py::test_jffs2_uncompressed", transform="gzip")
    add("jffs2.zlib.bin", "dissect.jffs", "tests/_data/jffs2.zlib.bin.gz", "jffs2",
        {"files": [{"name": "fox-banner.png", "size": 103911, "sha1": "a0dc9f8d64cd34a96778984f3f13ca75cc99bbe4"},
                   {"name": "readme.md"}]},
        "tests/test_jffs2.py::test_jffs2_zlib_compressed", transform="gzip")
    add("router.bin", "dissect.jffs", "tests/_data/router.bin.gz", "jffs2",
        {"files": [{"name": "background.jpg", "path_suffix": "www/src/static/images/background.jpg",
                    "size": 45469, "sha1": "669b00be651d29e618befddbfecf9f9ee82b93f9"}]},
        "tests/test_jffs2.py::test_jffs2_first_ctf_2023 (a router's JFFS2 overlay)", transform="gzip")
    large = b"".join([bytes([i] * 4096) for i in range(255)]) * 4
    sq = {"files": [dict(name="small-file", **lit(b"contents\n")), dict(name="large-file", **lit(large)),
                    {"name": "file_69", "path_suffix": "dir/file_69"}, {"name": "symlink-1", "type": "symlink"}],
          "min_files": 102}
    for c in ["gzip", "gzip-opts", "lz4", "lzo", "xz", "zstd"]:
        add(f"{c}.sqfs", "dissect.squashfs", f"tests/_data/{c}.sqfs", "squashfs", sq, "tests/test_squashfs.py::test_squashfs")
    add("lzma.sqfs", "dissect.squashfs", "tests/_data/lzma.sqfs", "squashfs", sq,
        "tests/test_squashfs.py (lzma case shipped as reference; the test leaves it out)",
        note="dissect's test disables this case; the expectation is that of the other compressors, "
             "whose images were made from the same tree")
    add("ext4.bin", "dissect.extfs", "tests/data/ext4.bin.gz", "ext",
        {"files": [dict(name="test_file", **lit(b"dissect test file in ext4\n"))]}, "tests/test_ext4.py::test_ext4",
        transform="gzip")
    add("ext4_sparse.bin", "dissect.extfs", "tests/data/ext4_sparse.bin.gz", "ext",
        {"files": [{"name": "sparse_start", "size": 0x3C000}, {"name": "sparse_hole", "size": 0x3C000},
                   {"name": "sparse_end", "size": 0x28000}, {"name": "sparse_all", "size": 0x500000}]},
        "tests/test_ext4.py::test_sparse", transform="gzip")
    add("ext4_symlink_test.bin", "dissect.extfs", "tests/data/ext4_symlink_test.bin.gz", "ext",
        {"files": [{"name": "file.ext", "path_suffix": "path/to/dir/with/file.ext", "type": "symlink"}]},
        "tests/test_ext4.py::test_symlinks", transform="gzip")
    fatx = {"files": [{"name": "file1.txt", "size": 20}, {"name": "file2.txt", "size": 23},
                      {"name": "file3.txt", "path_suffix": "subdir1/file3.txt", "size": 27}]}
    for f in ["fat12", "fat16", "fat32"]:
        add(f"{f}.bin", "dissect.fat", f"tests/data/{f}.bin", "fat", fatx, f"tests/test_fat.py::test_{f}")
    add("exfat.bin", "dissect.fat", "tests/data/exfat.bin", "exfat",
        {"files": [{"name": "cat.jpg", "size": 88786}, {"name": "find_me.txt", "size": 9}]},
        "tests/test_exfat.py::test_exfat")
    add("exfat4m.bin", "dissect.fat", "tests/data/exfat4m.bin", "exfat",
        {"files": [{"name": "file.txt", "size": 0}, {"name": "sub.txt", "path_suffix": "subdir/sub.txt"}]},
        "tests/test_exfat.py::test_exfat_4m")
    qnx = {"files": [dict(name="file.txt", **lit(b"wow much qnx\n")),
                     dict(name="very_long_file_name_that_will_never_fit_in_a_regular_directory_entry.txt",
                          **lit(b"very long file indeed\n")),
                     dict(name="another_very_long_file_name_to_find_out_how_the_long_entries_work.txt",
                          **lit(b"how long?\n")),
                     dict(name="another.txt", path_suffix="directory/another.txt", **lit(b"very realtime\n"))]}
    for f in ["qnx6-le", "qnx6-be", "qnx4"]:
        add(f"{f}.bin", "dissect.qnxfs", f"tests/_data/{f}.bin.gz", "qnx", qnx, "tests/test_qnx.py::test_qnx",
            transform="gzip")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    a = ap.parse_args()
    b = Builder(a.cache)
    binwalk_samples(b)
    fact_samples(b)
    root = populate.debian_source_tree(UTIL_LINUX[0], UTIL_LINUX[1], a.cache)
    blkid_samples(b, root)
    dissect_samples(b)
    out = {
        "schema": "assay.conformance-manifest/1",
        "about": "Samples of the peers' own test suites with what their tests assert; see README.md. "
                 "The samples are not in git: populate.py materialises them into cache/.",
        "network_gear_families": sorted(NETWORK_GEAR),
        "samples": b.records,
        "unavailable": b.unavailable,
    }
    with open(os.path.join(HERE, "manifest.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print(f"{len(b.records)} samples, {sum(r['network_gear'] for r in b.records)} network-gear")


if __name__ == "__main__":
    main()
