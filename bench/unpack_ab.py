#!/usr/bin/env python3
"""A/B figures for a change to the engine: `assay unpack` CPU seconds of two builds on the same
images, and optionally the magic scan alone (the `phases` example of each build).

    python3 bench/unpack_ab.py --a OLD/assay --b NEW/assay \
        [--phases-a OLD/phases --phases-b NEW/phases] [--runs 3] IMAGE...

`--a`/`--b` may also be the `tree` example of assay-unpack (`cargo build --release -p
assay-unpack --example tree`): the engine alone, unpacking in memory without writing files.

Prints per image the best-of-N CPU seconds (user + system, GNU time) of each build, and for
the scan its seconds and candidate count. A script that prints figures, not a timed test.
"""
import argparse
import os
import re
import subprocess
import tempfile


def unpack_cpu(binary, image):
    with tempfile.TemporaryDirectory() as tmp:
        timef = os.path.join(tmp, "time.txt")
        if os.path.basename(binary).startswith("tree"):
            cmd = [binary, image]
        else:
            cmd = [binary, "unpack", "-q", image, "-o", os.path.join(tmp, "out")]
        subprocess.run(["/usr/bin/time", "-v", "-o", timef] + cmd, capture_output=True, check=False)
        text = open(timef).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return user + sys_


def scan(phases, image):
    out = subprocess.run([phases, image], capture_output=True, text=True, check=False).stdout
    m = re.search(r"scan\s+([\d.]+) s, (\d+) candidates", out)
    return (float(m.group(1)), int(m.group(2))) if m else (float("nan"), -1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="assay binary before the change")
    ap.add_argument("--b", required=True, help="assay binary after the change")
    ap.add_argument("--phases-a")
    ap.add_argument("--phases-b")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    tot_a = tot_b = 0.0
    print(f"{'image':48} {'cpu A':>8} {'cpu B':>8}  scan A (cands)      scan B (cands)")
    for image in args.images:
        a = min(unpack_cpu(args.a, image) for _ in range(args.runs))
        b = min(unpack_cpu(args.b, image) for _ in range(args.runs))
        tot_a += a
        tot_b += b
        line = f"{os.path.basename(image)[:48]:48} {a:8.3f} {b:8.3f}"
        if args.phases_a and args.phases_b:
            sa = min((scan(args.phases_a, image) for _ in range(args.runs)), key=lambda x: x[0])
            sb = min((scan(args.phases_b, image) for _ in range(args.runs)), key=lambda x: x[0])
            line += f"  {sa[0]:.4f} s ({sa[1]:6}) {sb[0]:.4f} s ({sb[1]:6})"
        print(line)
    print(f"{'total':48} {tot_a:8.3f} {tot_b:8.3f}")


if __name__ == "__main__":
    main()
