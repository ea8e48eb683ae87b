#!/usr/bin/env python3
"""Side-by-side benchmark of Assay against binwalk v3 and unblob on the same machine, in one run.

Runs every tool on every image under /usr/bin/time -v and prints, per image and tool: wall and
CPU seconds, peak RSS, and the share of ground-truth regular files (by sha256) each recovered.
It is a script that prints figures, not a timed test.

    python3 bench/compare.py [--corpus DIR] [--runs N] [--tools assay,binwalk,...] [--no-random]

Images: every `*.truth.json` image in the corpus folder (default ../shared/corpus, plus its
real/ folder), and a generated 200 MB image of random bytes with a small squashfs at an odd
offset (150 MiB + 12345), built with mksquashfs into bench/out/.

Peers are installed and run by ../shared/tools/peers/ (install.sh, run.sh). Neither peer has
`sasquatch` here, so on their own they extract no squashfs at all; the `-shim` variants put a
stand-in that calls Debian's unsquashfs on PATH ("with unsquashfs in place of sasquatch").
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kw)


def parse_time(path):
    """CPU seconds, wall seconds and peak RSS (MB) from GNU time -v output."""
    text = open(path).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
    parts = [float(p) for p in wall.split(":")]
    secs = 0.0
    for p in parts:
        secs = secs * 60 + p
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    return user + sys_, secs, rss


def truth_hashes(truth_path):
    t = json.load(open(truth_path))
    return {e["sha256"].lower() for e in t.get("files", []) if e.get("type") == "file"}


def tree_hashes(folder):
    out = set()
    for d, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out.add(h.hexdigest())
    return out


def run_assay_unpack(binary, image, workdir):
    """`assay unpack`: the engine alone, writing every file to disk as the peers do."""
    timef = os.path.join(workdir, "time.txt")
    out = os.path.join(workdir, "extract")
    r = sh(["/usr/bin/time", "-v", "-o", timef, binary, "unpack", "-q", image, "-o", out])
    cpu, wall, rss = parse_time(timef)
    return cpu, wall, rss, tree_hashes(out), r.returncode, None


def run_assay(binary, image, workdir):
    """`assay scan`: unpack plus every detector, the whole job."""
    report = os.path.join(workdir, "report.json")
    timef = os.path.join(workdir, "time.txt")
    r = sh(["/usr/bin/time", "-v", "-o", timef, binary, "scan", "-q", "--format", "json", "-o", report, image])
    cpu, wall, rss = parse_time(timef)
    hashes = set()
    analyze = None
    if r.returncode == 0:
        rep = json.load(open(report))
        hashes = {n["sha256"] for n in rep["nodes"] if n.get("sha256")}
        analyze = (rep.get("stats") or {}).get("seconds", {}).get("analyze")
    return cpu, wall, rss, hashes, r.returncode, analyze


def run_peer(peer, image, workdir, peers_dir):
    r = sh(["bash", os.path.join(peers_dir, "run.sh"), peer, image, workdir])
    summary = os.path.join(workdir, "summary.json")
    if not os.path.exists(summary):
        return None
    s = json.load(open(summary))
    cpu = s.get("cpu_s", (s.get("user_s") or 0) + (s.get("sys_s") or 0))
    wall = s.get("wall_s")
    rss_kb = s.get("tree_peak_rss_kb") or s.get("max_rss_kb") or 0
    rss = rss_kb / 1024
    hashes = tree_hashes(os.path.join(workdir, "extract"))
    return cpu, wall, rss, hashes, s.get("exit_code", r.returncode), None


def make_random_image(path, truth_path):
    """200 MB of seeded random bytes with a small squashfs-xz at 150 MiB + 12345."""
    if os.path.exists(path) and os.path.exists(truth_path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "root")
        os.makedirs(os.path.join(src, "etc"))
        files = {
            "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n",
            "etc/banner": b"bench image\n",
            "bin/blob": random.Random(7).randbytes(20000),
        }
        os.makedirs(os.path.join(src, "bin"))
        for p, d in files.items():
            with open(os.path.join(src, p), "wb") as f:
                f.write(d)
        sq = os.path.join(tmp, "fs.sqfs")
        subprocess.run(["mksquashfs", src, sq, "-comp", "xz", "-noappend", "-all-root", "-quiet",
                        "-mkfs-time", "1700000000", "-all-time", "1700000000"], check=True)
        fs = open(sq, "rb").read()
        rng = random.Random(1234)
        offset = 150 * (1 << 20) + 12345
        total = 200 * 1000 * 1000
        with open(path, "wb") as out:
            written = 0
            while written < offset:
                n = min(1 << 22, offset - written)
                out.write(rng.randbytes(n))
                written += n
            out.write(fs)
            written += len(fs)
            while written < total:
                n = min(1 << 22, total - written)
                out.write(rng.randbytes(n))
                written += n
    truth = {"image": os.path.basename(path), "files": [
        {"fs": "bench", "path": "/" + p, "type": "file", "sha256": hashlib.sha256(d).hexdigest()}
        for p, d in files.items()]}
    json.dump(truth, open(truth_path, "w"), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "tools", "peers"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tools", default="assay-unpack,assay,binwalk,binwalk-shim,unblob,unblob-shim")
    ap.add_argument("--no-random", action="store_true")
    ap.add_argument("--only", help="run only the images whose name contains this text")
    ap.add_argument("--json", help="also write all figures to this file")
    args = ap.parse_args()
    tools = args.tools.split(",")

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "assay"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "assay")

    images = []
    for folder in (args.corpus, os.path.join(args.corpus, "real")):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.endswith(".truth.json"):
                img = os.path.join(folder, name[: -len(".truth.json")])
                if os.path.exists(img):
                    images.append((img, os.path.join(folder, name)))
    if not args.no_random:
        img = os.path.join(OUT, "random200m-squashfs.img")
        make_random_image(img, img + ".truth.json")
        images.append((img, img + ".truth.json"))

    if args.only:
        images = [(i, t) for i, t in images if args.only in os.path.basename(i)]
    rows = []
    leftovers = []
    totals = {t: [0.0, 0.0, 0, 0] for t in tools}  # cpu, wall, found, want (corpus only)
    for img, truth in images:
        want = truth_hashes(truth)
        for tool in tools:
            samples = []
            for _ in range(args.runs):
                work = tempfile.mkdtemp(prefix="bench-", dir=OUT if os.path.isdir(OUT) else None)
                # Start every run with no dirty pages left by the previous tool's writes, so
                # that nobody pays for another tool's write-back.
                os.sync()
                if tool == "assay":
                    res = run_assay(binary, img, work)
                elif tool == "assay-unpack":
                    res = run_assay_unpack(binary, img, work)
                else:
                    res = run_peer(tool, img, work, args.peers)
                # Output trees are removed at the end, not between runs: deleting thousands
                # of files just before a timed run makes its writes pay for the discards.
                leftovers.append(work)
                if res:
                    samples.append(res)
            if not samples:
                continue
            cpu = statistics.median(s[0] for s in samples)
            wall = statistics.median(s[1] for s in samples)
            rss = statistics.median(s[2] or 0 for s in samples)
            found = statistics.median(len(want & s[3]) for s in samples)
            analyze = samples[0][5]
            rows.append({"image": os.path.basename(img), "tool": tool, "cpu_s": cpu, "wall_s": wall,
                         "rss_mb": rss, "found": found, "want": len(want), "analyze_s": analyze})
            if "random200m" not in img:
                t = totals[tool]
                t[0] += cpu
                t[1] += wall
                t[2] += found
                t[3] += len(want)
            print("%-48s %-13s cpu %7.2f s  wall %7.2f s  rss %7.1f MB  files %4d/%-4d%s" % (
                os.path.basename(img)[:48], tool, cpu, wall, rss, found, len(want),
                "  (analyze %.3f s)" % analyze if analyze is not None else ""), flush=True)
    print()
    print("Corpus totals (images with truth files, the 200 MB image excluded):")
    for tool in tools:
        cpu, wall, found, want = totals[tool]
        print("  %-13s cpu %8.2f s  wall %8.2f s  files %d/%d (%.1f%%)" % (
            tool, cpu, wall, found, want, 100.0 * found / want if want else 0))
    print("\nbinwalk and unblob have no sasquatch here: on their own they extract no squashfs;")
    print("the -shim variants run with Debian's unsquashfs in place of sasquatch.")
    if args.json:
        json.dump({"rows": rows, "totals": totals}, open(args.json, "w"), indent=1)
    for w in leftovers:
        shutil.rmtree(w, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
