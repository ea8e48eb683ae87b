#!/usr/bin/env python3
"""Cost of unpacking archives and flash file systems with very many entries: CPU seconds and
peak RSS of `assay scan` (unpack + every detector + report) on a cpio (newc), a tar (ustar), a
zip (stored), a JFFS2 (mkfs.jffs2), a bare UBIFS (mkfs.ubifs), a UBI image holding it
(ubinize) and a YAFFS2 (written here, Debian has no maker) of N empty files each, for several
N, so that the trend (linear or not) is plain.

    python3 bench/entries.py [--bin target/release/assay] [--formats cpio,tar,...] [N ...]

The flash file systems are made by Debian's mtd-utils from a directory of N empty files
(1,000 a directory), which takes a while for large N; they are cached like the archives.

The archives are generated into bench/entries/cache (git-ignored) by this script; nothing is
downloaded. Figures are printed, never asserted: see README "Hostile input".
"""
import argparse
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "bench", "entries", "cache")


def cpio(path, n):
    """A newc cpio of n empty regular files, written with the format's own fields."""
    def member(f, name, mode, ino):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(
            "%08x" % v for v in (ino, mode, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(nb), 0))
        rec = hdr.encode() + nb
        rec += b"\0" * (-len(rec) % 4)
        f.write(rec)
        return len(rec)
    with open(path, "wb") as f:
        size = 0
        for i in range(n):
            size += member(f, "d%d/f%d" % (i // 1000, i), 0o100644, i + 1)
        size += member(f, "TRAILER!!!", 0, 0)
        f.write(b"\0" * (-size % 512))


def tar(path, n):
    """A ustar archive of n empty regular files (headers built as tarfile would)."""
    import tarfile
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo()
        for i in range(n):
            info.name = "d%d/f%d" % (i // 1000, i)
            info.size = 0
            info.mode = 0o644
            t.addfile(info)


def zip_(path, n):
    """A stored zip of n empty files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for i in range(n):
            z.writestr("d%d/f%d" % (i // 1000, i), b"")


def empty_tree(n):
    """A directory of n empty files, 1,000 a directory, made once per n."""
    root = os.path.join(CACHE, "tree-%d" % n)
    if os.path.exists(root):
        return root
    part = root + ".part"
    if os.path.exists(part):
        subprocess.run(["rm", "-rf", part], check=True)
    os.makedirs(part)
    for i in range(n):
        d = os.path.join(part, "d%d" % (i // 1000))
        if i % 1000 == 0:
            os.mkdir(d)
        open(os.path.join(d, "f%d" % i), "wb").close()
    os.replace(part, root)
    return root


def jffs2(path, n):
    """mkfs.jffs2 (little endian, 64 KiB erase blocks, no cleanmarkers) of n empty files."""
    subprocess.run(["mkfs.jffs2", "-r", empty_tree(n), "-o", path, "-e", "65536", "-n", "-q"],
                   check=True)


def ubifs(path, n):
    """mkfs.ubifs (2 KiB pages, 126,976-byte LEBs) of n empty files."""
    lebs = max(64, n // 200 + 64)
    subprocess.run(["mkfs.ubifs", "-r", empty_tree(n), "-m", "2048", "-e", "126976",
                    "-c", str(lebs), "-o", path], check=True)


def ubi(path, n):
    """The UBIFS of `ubifs` in a UBI image (ubinize, 128 KiB erase blocks)."""
    fs = os.path.join(CACHE, "ubifs-%d.ubifs" % n)
    if not os.path.exists(fs):
        ubifs(fs + ".part", n)
        os.replace(fs + ".part", fs)
    ini = path + ".ini"
    with open(ini, "w") as f:
        f.write("[rootfs]\nmode=ubi\nimage=%s\nvol_id=0\nvol_type=dynamic\n"
                "vol_name=rootfs\nvol_flags=autoresize\n" % fs)
    subprocess.run(["ubinize", "-o", path, "-m", "2048", "-p", "128KiB", "-s", "2048", ini],
                   check=True)
    os.remove(ini)


def yaffs2(path, n):
    """A YAFFS2 (2 KiB pages, 64-byte spare, packed tags 2 in the spare) of n empty files
    in directories of 1,000: one object header chunk each, as mkyaffs2image writes them."""
    import struct

    def header(t, parent, name, mode):
        h = struct.pack("<II", t, parent) + b"\xff\xff"
        h += name.encode().ljust(256, b"\0") + b"\xff\xff"
        h += struct.pack("<IIIIIIIi", mode, 0, 0, 1700000000, 1700000000, 1700000000, 0, -1)
        h += b"\0" * 160 + struct.pack("<I", 0) + b"\0" * 24
        h += struct.pack("<IIIIii", 0, 0, 0xFFFFFFFF, 0, 0, 0)
        return h.ljust(2048, b"\xff")

    def chunk(f, seq, obj, t, hdr):
        tags = struct.pack("<IIII", seq, obj | (t << 28), 0x80000000, 0)
        f.write(hdr + tags + b"\xff" * 48)

    with open(path, "wb") as f:
        obj, k = 0x100, 0
        for i in range(n):
            if i % 1000 == 0:
                obj += 1
                d = obj
                chunk(f, 0x1000 + k // 64, d, 3, header(3, 1, "d%d" % (i // 1000), 0o40755))
                k += 1
            obj += 1
            chunk(f, 0x1000 + k // 64, obj, 1, header(1, d, "f%d" % i, 0o100644))
            k += 1
        while k % 64:
            f.write(b"\xff" * 2112)
            k += 1


MAKERS = {"cpio": cpio, "tar": tar, "zip": zip_, "jffs2": jffs2, "ubifs": ubifs, "ubi": ubi,
          "yaffs2": yaffs2}


def measure(binary, image):
    """CPU seconds (user + system) and peak RSS (MiB) of one `assay scan`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.json")
        p = subprocess.Popen([binary, "scan", "-q", "--format", "json", "-o", out, image],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # This child's own figures (RUSAGE_CHILDREN would give the peak of all children).
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        rss = usage.ru_maxrss / 1024.0
        # The report is not parsed here: a forked child's peak RSS counts this process's
        # memory up to the exec, and a parsed million-node report is large.
        nodes = None
        if p.returncode in (0, 1, 2, 3) and os.path.exists(out):
            with open(out, "rb") as f:
                head = f.read(1 << 16)
            nodes = head.count(b"\n") > 0 and os.path.getsize(out)
        return cpu, rss, p.returncode, nodes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "assay"))
    ap.add_argument("--formats", default="cpio,tar,zip")
    ap.add_argument("n", nargs="*", type=int, default=[1_000_000])
    a = ap.parse_args()
    os.makedirs(CACHE, exist_ok=True)
    print("%-5s %9s %10s %9s %12s %6s" % ("fmt", "entries", "CPU-s", "RSS-MiB", "bytes/entry", "exit"))
    for fmt in a.formats.split(","):
        for n in a.n:
            path = os.path.join(CACHE, "%s-%d.%s" % (fmt, n, fmt))
            if not os.path.exists(path):
                MAKERS[fmt](path + ".part", n)
                os.replace(path + ".part", path)
            cpu, rss, rc, nodes = measure(a.bin, path)
            print("%-5s %9d %10.2f %9.0f %12.0f %6d  report=%s bytes" % (
                fmt, n, cpu, rss, rss * 1048576 / max(n, 1), rc, nodes))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
