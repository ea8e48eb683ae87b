#!/usr/bin/env python3
"""Benchmark of Assay's own flash-filesystem readers against the Python tools the peers shell
out to: jefferson (JFFS2) and ubi_reader (UBI/UBIFS), on the same images, in one run.

    python3 bench/flash.py [--corpus DIR] [--venv DIR] [--runs N]

Prints per image and tool: wall and CPU seconds, peak RSS and the number of regular files
recovered whose sha256 the reference set holds (the corpus truth for corpus images, the
fixture manifest for committed fixtures). A script that prints figures, not a timed test.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd, workdir):
    timef = os.path.join(workdir, "time.txt")
    r = subprocess.run(["/usr/bin/time", "-v", "-o", timef] + cmd, capture_output=True, text=True)
    text = open(timef).read()
    cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1)) + float(
        re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    wall = 0.0
    for p in re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1).split(":"):
        wall = wall * 60 + float(p)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    return cpu, wall, rss, r.returncode


def hashes_under(folder):
    out = set()
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.add(hashlib.sha256(open(p, "rb").read()).hexdigest())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--venv", default="/opt/peers/binwalk-deps-venv/bin")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "assay"], cwd=ROOT, check=True)
    assay = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "assay")
    work = tempfile.mkdtemp(prefix="flashbench-")

    # (label, image, wanted sha256 set, python tool command builder)
    cases = []
    c = args.corpus
    p09 = os.path.join(c, "p09_acme-ar934x_mips-be_overlay.jffs2")
    if os.path.exists(p09):
        t = json.load(open(p09 + ".truth.json"))
        cases.append(("p09 jffs2 BE", p09, {e["sha256"] for e in t["files"] if e.get("type") == "file"},
                      lambda img, out: [os.path.join(args.venv, "jefferson"), "-d", out, img]))
    p04 = os.path.join(c, "p04_acme-x55-5gcpe_arm64_sysupgrade.zip")
    if os.path.exists(p04):
        t = json.load(open(p04 + ".truth.json"))
        with zipfile.ZipFile(p04) as z:
            name = [n for n in z.namelist() if n.endswith(".img") or "ubi" in n][0]
            ubi = os.path.join(work, "p04.ubi")
            open(ubi, "wb").write(z.read(name))
        want = {e["sha256"] for e in t["files"] if e.get("type") == "file" and e.get("fs") == "rootfs_data"}
        cases.append(("p04 ubi+ubifs", ubi, want,
                      lambda img, out: [os.path.join(args.venv, "ubireader_extract_files"), "-o", out, img]))
    fx = os.path.join(ROOT, "crates", "assay-unpack", "tests", "fixtures")
    for area, tool, pattern in (("jffs2", "jefferson", r"\.(img|jffs2)$"), ("ubi", "ubireader_extract_files", r"\.(ubi|ubifs)$")):
        folder = os.path.join(fx, area)
        if not os.path.isdir(folder):
            continue
        manifest = os.path.join(folder, "expected.txt")
        want = set()
        if os.path.exists(manifest):
            want = set(re.findall(r"\b[0-9a-f]{64}\b", open(manifest).read()))
        for name in sorted(os.listdir(folder)):
            if re.search(pattern, name) and "damaged" not in name:
                img = os.path.join(folder, name)
                if tool == "jefferson":
                    cmd = lambda i, o: [os.path.join(args.venv, "jefferson"), "-d", o, i]
                else:
                    cmd = lambda i, o: [os.path.join(args.venv, "ubireader_extract_files"), "-o", o, i]
                cases.append(("%s fixture %s" % (area, name), img, want, cmd))

    for label, img, want, pycmd in cases:
        for tool in ("assay", "python"):
            samples = []
            for _ in range(args.runs):
                out = os.path.join(work, "out")
                shutil.rmtree(out, ignore_errors=True)
                if tool == "assay":
                    cpu, wall, rss, rc = timed([assay, "unpack", "-q", img, "-o", out], work)
                else:
                    cpu, wall, rss, rc = timed(pycmd(img, out), work)
                found = len(want & hashes_under(out)) if os.path.isdir(out) else 0
                samples.append((cpu, wall, rss, found, rc))
            med = lambda i: statistics.median(s[i] for s in samples)
            name = "assay" if tool == "assay" else os.path.basename(pycmd(img, "x")[0])
            print("%-44s %-24s cpu %6.3f s  wall %6.3f s  rss %6.1f MB  files %d/%d  exit %d" % (
                label[:44], name, med(0), med(1), med(2), med(3), len(want), samples[-1][4]), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
