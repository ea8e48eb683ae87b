#!/usr/bin/env python3
"""Component recall of Assay against cve-bin-tool (offline version detection) on the same
unpacked images, scored like ../shared/tools/score.py (normalised name + exact upstream
version, over the truth's components whose version string the image carries).

    python3 bench/components.py [--corpus DIR] [--peers DIR]

For each corpus image: `assay unpack` writes the tree, cve-bin-tool scans that folder (run by
../shared/tools/peers/run.sh cvebin, which seeds an offline placeholder database so that only
version detection runs), and `assay scan` reports its own components. Prints per image and in
total: recall of each tool, and time.
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load_scorer(path):
    spec = importlib.util.spec_from_file_location("score", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cvebin_components(outdir):
    """(name, version) pairs from cve-bin-tool's CycloneDX SBOM, or its JSON report."""
    found = set()
    sbom = os.path.join(outdir, "cvebin-sbom.json")
    if os.path.exists(sbom):
        try:
            for c in json.load(open(sbom)).get("components", []):
                if c.get("name") and c.get("version"):
                    found.add((c["name"], c["version"]))
        except ValueError:
            pass
    rep = os.path.join(outdir, "cvebin.json")
    if os.path.exists(rep):
        try:
            data = json.load(open(rep))
            rows = data if isinstance(data, list) else data.get("results", [])
            for r in rows:
                if isinstance(r, dict) and r.get("product") and r.get("version"):
                    found.add((r["product"], r["version"]))
        except ValueError:
            pass
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "tools", "peers"))
    ap.add_argument("--assay", help="assay binary to measure (default: build this checkout's release binary)")
    ap.add_argument("--no-cvebin", action="store_true", help="leave cve-bin-tool out")
    args = ap.parse_args()
    score = load_scorer(os.path.join(args.corpus, "..", "tools", "score.py"))
    assay = args.assay
    if not assay:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "assay"], cwd=ROOT, check=True)
        assay = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "assay")
    totals = {"assay": [0, 0], "cve-bin-tool": [0, 0]}
    secs = {"assay": 0.0, "cve-bin-tool": 0.0}
    images = []
    for folder in (args.corpus, os.path.join(args.corpus, "real")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".truth.json") and os.path.exists(os.path.join(folder, name[:-11])):
                images.append((os.path.join(folder, name[:-11]), os.path.join(folder, name)))
    for img, truth_path in images:
        truth = json.load(open(truth_path))
        want = {(score.norm_name(c["name"]), score.norm_version(c["version"]))
                for c in truth.get("components", []) if c.get("version_evidence")}
        if not want:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            report = os.path.join(tmp, "r.json")
            t0 = time.time()
            subprocess.run([assay, "scan", "-q", "--format", "json", "-o", report, img], check=False)
            secs["assay"] += time.time() - t0
            rep = json.load(open(report))
            mine = {(score.norm_name(c["name"]), score.norm_version(c["version"])) for c in rep.get("components", [])}
            tree = os.path.join(tmp, "tree")
            subprocess.run([assay, "unpack", "-q", img, "-o", tree], check=False, capture_output=True)
            out = os.path.join(tmp, "cvebin")
            t0 = time.time()
            if not args.no_cvebin:
                subprocess.run(["bash", os.path.join(args.peers, "run.sh"), "cvebin", tree, out], capture_output=True)
            secs["cve-bin-tool"] += time.time() - t0
            theirs = {(score.norm_name(n), score.norm_version(v)) for n, v in cvebin_components(out)}
        a, b = len(want & mine), len(want & theirs)
        totals["assay"][0] += a
        totals["assay"][1] += len(want)
        totals["cve-bin-tool"][0] += b
        totals["cve-bin-tool"][1] += len(want)
        print("%-44s assay %2d/%-2d  cve-bin-tool %2d/%-2d  missed by assay: %s" % (
            os.path.basename(img)[:44], a, len(want), b, len(want),
            ", ".join("%s %s" % x for x in sorted(want - mine)) or "-"), flush=True)
    print()
    for tool, (a, n) in totals.items():
        print("%-13s recall %d/%d (%.1f%%), %.1f s wall in all" % (tool, a, n, 100.0 * a / n if n else 0, secs[tool]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
