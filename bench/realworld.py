#!/usr/bin/env python3
"""Precision of Assay's high and critical findings on real vendor firmware (issue 10), and how
far it unpacks those images (issue 9).

    python3 bench/realworld/populate.py            # once: materialise the images
    python3 bench/realworld.py [--assay PATH] [--only ID ...] [--reuse] [--markdown]
                               [--emit-unlabelled FILE] [--quiet-findings]

Scans every image of bench/realworld/manifest.json (from bench/realworld/cache/) with the given
Assay binary as `assay scan -q --format json --as-of 2026-01-01`, with no vulnerability
database (HOME points at an empty folder and ASSAY_VULNDB is unset, so no feed is matched;
`--vulndb /nonexistent` is refused by today's binary). The JSON reports are kept under
bench/realworld/out/<binary name>/ (`--reuse` reads them instead of scanning again).

Prints, in this order:
  1. per image: the file systems and archives reached (format@offset in its parent, and
     entries), the warnings by kind, the number of high/critical findings, components, and the
     scan's CPU seconds (with --reuse: the unpack+analyze wall seconds the report records);
  2. every high/critical finding for review: verdict (or UNLABELLED), rule, image, path,
     evidence excerpt, context and the reviewer's reason;
  3. precision per rule and overall over the labelled findings, and the unlabelled ones.

A last section checks the `expected` list of labels.json: ways in that a reviewer found by hand
in the unpacked images, each of which a high/critical finding on that path should report.

Verdicts live in bench/realworld/labels.json, keyed by a stable identity of the finding:
(image sha256, rule, node path, sha256 of the evidence string). A finding's index or byte
offset is not part of the key, so labels survive unrelated changes of the report. Each label
is `tp` (an analyst would confirm it: a real way into or out of the device) or `fp` (noise),
with a one-line reason. `--emit-unlabelled FILE` writes a stub of every unlabelled finding in
the labels format (verdict and reason empty) for a reviewer to fill in and merge.
"""
import argparse
import collections
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SET = os.path.join(HERE, "realworld")
AS_OF = "2026-01-01"

# Container formats whose children are the entries of a file system or archive.
FILESYSTEMS = {
    "squashfs", "jffs2", "cramfs", "ubifs", "yaffs2", "romfs", "ext", "ext2", "ext3", "ext4",
    "fat", "iso9660", "minix", "erofs", "owfs", "memfs", "cpio",
}
ARCHIVES = {"tar", "zip", "7z", "rar", "ar", "cab", "arj"}
ENTRY_KINDS = {"file", "directory", "symlink", "hardlink", "device", "fifo", "socket"}
# A file system with fewer entries than this is a stub (an initramfs placeholder), not a root.
ROOT_MIN_ENTRIES = 10


def identity(image_sha256, finding):
    """The stable key of a finding: image, rule, path and the hash of its evidence."""
    ev = hashlib.sha256(finding.get("evidence", "").encode("utf-8", "surrogatepass")).hexdigest()
    return (image_sha256, finding["rule"], finding.get("path", ""), ev)


def load_labels(path):
    if not os.path.exists(path):
        return {}, [], []
    doc = json.load(open(path))
    table = {}
    for lab in doc.get("labels", []):
        key = (lab["image"], lab["rule"], lab["path"], lab["evidence_sha256"])
        if lab.get("verdict") not in ("tp", "fp"):
            continue
        table[key] = lab
    return table, doc.get("labels", []), doc.get("expected", [])


def scan(assay, image, out_json, home):
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_VULNDB"}
    env["HOME"] = home
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    proc = subprocess.run([assay, "scan", "-q", "--format", "json", "--as-of", AS_OF,
                           "-o", out_json, image], env=env, capture_output=True)
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.returncode, proc.stderr.decode(errors="replace"), wall, cpu


def reached(report):
    """File systems and archives with their entry counts, and the root file system if any."""
    nodes = report["nodes"]
    by_id = {n["id"]: n for n in nodes}
    count = collections.Counter()
    for n in nodes:
        if n["kind"] not in ENTRY_KINDS:
            continue
        p = n.get("parent")
        while p is not None and by_id[p]["kind"] != "container":
            p = by_id[p].get("parent")
        if p is not None:
            count[p] += 1
    found = []
    for n in nodes:
        if n["kind"] == "container" and n.get("format") in FILESYSTEMS | ARCHIVES:
            found.append({"format": n["format"], "offset": n.get("offset"),
                          "entries": count[n["id"]], "location": n["location"],
                          "archive": n["format"] in ARCHIVES})
    fs = [f for f in found if not f["archive"] and f["entries"] >= ROOT_MIN_ENTRIES]
    root = max(fs, key=lambda f: f["entries"]) if fs else None
    return found, root


def short(text, n):
    text = text.replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "…"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assay", default=os.environ.get("ASSAY_BIN")
                    or os.path.join(ROOT, "target", "release", "assay"))
    ap.add_argument("--manifest", default=os.path.join(SET, "manifest.json"))
    ap.add_argument("--cache", default=os.path.join(SET, "cache"))
    ap.add_argument("--labels", default=os.path.join(SET, "labels.json"))
    ap.add_argument("--out", help="report folder (default bench/realworld/out/<binary name>)")
    ap.add_argument("--only", nargs="*", help="image ids to scan (default: all)")
    ap.add_argument("--reuse", action="store_true", help="read existing reports, scan no image")
    ap.add_argument("--emit-unlabelled", metavar="FILE",
                    help="write a labels stub of every unlabelled high/critical finding")
    ap.add_argument("--quiet-findings", action="store_true",
                    help="list only unlabelled findings, not every one")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args()

    manifest = json.load(open(args.manifest))
    images = [e for e in manifest["images"] if not args.only or e["id"] in args.only]
    out = args.out or os.path.join(SET, "out", os.path.basename(args.assay))
    os.makedirs(out, exist_ok=True)
    if not args.reuse and not os.access(args.assay, os.X_OK):
        sys.exit("no Assay binary at %s (give --assay PATH)" % args.assay)
    labels, _, expected = load_labels(args.labels)

    home = tempfile.mkdtemp(prefix="assay-realworld-home-")
    rows, findings, failures = [], [], []
    try:
        for e in images:
            img = os.path.join(args.cache, e["id"])
            rep_path = os.path.join(out, e["id"] + ".json")
            wall = cpu = None
            if not args.reuse:
                if not os.path.exists(img):
                    failures.append((e["id"], "not in the cache: run bench/realworld/populate.py"))
                    continue
                rc, err, wall, cpu = scan(args.assay, img, rep_path, home)
                if rc != 0 or not os.path.exists(rep_path):
                    failures.append((e["id"], "exit %d: %s" % (rc, short(err.strip(), 200))))
                    continue
            elif not os.path.exists(rep_path):
                failures.append((e["id"], "no report in %s" % out))
                continue
            report = json.load(open(rep_path))
            if report["image"]["sha256"] != e["sha256"]:
                failures.append((e["id"], "report is of another image (sha256 differs)"))
                continue
            if cpu is None:
                cpu = sum(v for k, v in (report.get("stats") or {}).get("seconds", {}).items()
                          if k in ("unpack", "analyze"))
            found, root = reached(report)
            kinds = collections.Counter(w["kind"] for w in report["warnings"] if w["kind"] != "vulndb")
            hc = [f for f in report["findings"] if f["severity"] in ("high", "critical")]
            for f in hc:
                key = identity(e["sha256"], f)
                findings.append((e, f, key, labels.get(key)))
            rows.append({"id": e["id"], "found": found, "root": root, "warnings": kinds,
                         "hc": len(hc), "components": len(report["components"]),
                         "nodes": len(report["nodes"]), "cpu": cpu})
    finally:
        shutil.rmtree(home, ignore_errors=True)

    print_images(rows, failures, args.markdown, "wall s" if args.reuse else "CPU s")
    print_findings(findings, args.quiet_findings)
    print_precision(findings, labels, args.markdown)
    print_expected(findings, expected, {e["sha256"] for e in images})

    if args.emit_unlabelled:
        stub = []
        seen = set()
        for e, f, key, lab in findings:
            if lab is None and key not in seen:
                seen.add(key)
                stub.append({"image": key[0], "image_id": e["id"], "rule": key[1], "path": key[2],
                             "evidence_sha256": key[3], "evidence": short(f.get("evidence", ""), 160),
                             "title": f["title"], "verdict": "", "reason": ""})
        json.dump({"schema": "assay.realworld-labels/1", "labels": stub},
                  open(args.emit_unlabelled, "w"), indent=1, ensure_ascii=False)
        print("\nwrote %d unlabelled finding(s) to %s" % (len(stub), args.emit_unlabelled))
    return 1 if failures else 0


def describe_root(r):
    if r["root"]:
        f = r["root"]
        return "%s@%s, %d entries" % (f["format"], hex(f["offset"]) if f["offset"] is not None
                                      else "-", f["entries"])
    others = [f for f in r["found"] if f["entries"]]
    if others:
        return "no root fs (%s)" % ", ".join("%s %d" % (f["format"], f["entries"]) for f in others)
    return "no root fs"


def print_images(rows, failures, markdown, time_label):
    reached_n = sum(1 for r in rows if r["root"])
    title = "Images: %d scanned, root file system reached in %d" % (len(rows), reached_n)
    if markdown:
        print("### " + title + "\n")
        print("| image | root file system reached | other fs/archives | warnings (kind: count) | H/C | components | %s |" % time_label)
        print("|---|---|---|---|---|---|---|")
    else:
        print(title)
    for r in rows:
        others = ", ".join("%s@%s %d" % (f["format"], hex(f["offset"]) if f["offset"] is not None
                                         else "-", f["entries"])
                           for f in r["found"] if f is not r["root"])
        warns = ", ".join("%s: %d" % kv for kv in sorted(r["warnings"].items())) or "-"
        if markdown:
            print("| %s | %s | %s | %s | %d | %d | %.2f |" % (
                r["id"], describe_root(r), others or "-", warns, r["hc"], r["components"], r["cpu"]))
        else:
            print("  %-38s %-34s H/C %-3d comp %-3d %s %5.2f  %s%s" % (
                r["id"], describe_root(r), r["hc"], r["components"], time_label, r["cpu"],
                "warn " + warns, ("; also " + others) if others else ""))
    for fid, why in failures:
        print(("| %s | FAILED: %s |||||" if markdown else "  %-38s FAILED: %s") % (fid, why))
    print()


def print_findings(findings, quiet):
    print("High/critical findings: %d" % len(findings))
    for e, f, key, lab in findings:
        if quiet and lab is not None:
            continue
        verdict = lab["verdict"].upper() if lab else "UNLABELLED"
        print("  [%s] %s %s  %s  %s" % (verdict, f["rule"], f["severity"], e["id"], f.get("path", "")))
        print("      title:    %s" % short(f["title"], 150))
        print("      evidence: %s" % short(f.get("evidence", ""), 150))
        ctx = "; ".join("%s=%s" % kv for kv in sorted(f.get("context", {}).items()))
        if ctx:
            print("      context:  %s" % short(ctx, 200))
        if lab:
            print("      reason:   %s" % lab.get("reason", ""))
        else:
            print("      key:      image=%s rule=%s path=%s evidence_sha256=%s" % key)
    print()


def print_precision(findings, labels, markdown):
    per = collections.defaultdict(lambda: collections.Counter())
    for e, f, key, lab in findings:
        per[f["rule"]][lab["verdict"] if lab else "unlabelled"] += 1
    tot = collections.Counter()
    if markdown:
        print("| rule | findings | tp | fp | unlabelled | precision |")
        print("|---|---|---|---|---|---|")
    else:
        print("Precision per rule (tp / labelled):")
    for rule in sorted(per):
        c = per[rule]
        tot.update(c)
        n = c["tp"] + c["fp"]
        prec = "%.0f%%" % (100.0 * c["tp"] / n) if n else "-"
        fmt = "| %s | %d | %d | %d | %d | %s |" if markdown else "  %-22s %4d  tp %4d  fp %4d  unlabelled %4d  precision %s"
        print(fmt % (rule, sum(c.values()), c["tp"], c["fp"], c["unlabelled"], prec))
    n = tot["tp"] + tot["fp"]
    prec = "%.1f%%" % (100.0 * tot["tp"] / n) if n else "-"
    fmt = "| **all** | %d | %d | %d | %d | **%s** |" if markdown else "  %-22s %4d  tp %4d  fp %4d  unlabelled %4d  precision %s"
    vals = (sum(tot.values()), tot["tp"], tot["fp"], tot["unlabelled"], prec)
    print(fmt % (vals if markdown else ("all",) + vals))
    used = {key for _, _, key, lab in findings if lab}
    stale = [k for k in labels if k not in used]
    print("\nOverall precision %s over %d labelled high/critical findings; %d unlabelled; "
          "%d label(s) match no current finding." % (prec, n, tot["unlabelled"], len(stale)))


def print_expected(findings, expected, scanned):
    """Known ways in, found by hand: is each reported as a high/critical finding on its path?"""
    todo = [x for x in expected if x["image"] in scanned]
    if not todo:
        return
    hit = {(key[0], key[2]) for _, _, key, _ in findings}
    found = [x for x in todo if (x["image"], x["path"]) in hit]
    print("\nKnown ways in (labels.json 'expected'): %d of %d reported as high/critical"
          % (len(found), len(todo)))
    for x in todo:
        print("  [%s] %s  %s: %s" % ("found" if x in found else "MISSED", x["image_id"], x["path"],
                                    short(x["what"], 150)))


if __name__ == "__main__":
    sys.exit(main())
