#!/usr/bin/env python3
"""Cost of unpacking archives with very many entries: CPU seconds and peak RSS of
`assay scan` (unpack + every detector + report) on a cpio (newc), a tar (ustar) and a zip
(stored) of N empty files each, for several N, so that the trend (linear or not) is plain.

    python3 bench/entries.py [--bin target/release/assay] [N ...]   (default 1000000)

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


MAKERS = {"cpio": cpio, "tar": tar, "zip": zip_}


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
