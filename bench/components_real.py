#!/usr/bin/env python3
"""Component recall with exact versions on real firmware, against truth established by hand.

    python3 bench/components_real.py [--assay PATH] [--no-cvebin] [--images DIR ...]
    python3 bench/components_real.py --fill [--assay PATH]    # (re)locate the truth's evidence

Truth: `bench/components_real/<image>.truth.json`, one per real image, written by reading the
image's unpacked bytes (strings, banners, SONAMEs, package databases). Each component has a
name, an exact version and its evidence: the file (its path inside the file system, or a hint
of the unpacked tree path for kernels and RTOS blobs), the exact string and its byte offset,
and the file's sha256 (`--fill` locates them; a normal run checks that they still hold).
`unversioned` lists components the image has but whose version its bytes do not give;
`not_components` lists what a tool might wrongly report (toolchains, comments, sub-packages).

Images (not committed) are found by sha256 in ../shared/corpus/real*/, in
bench/realworld/cache/ and in the folders given with --images.

For each image: `assay scan --extract` gives the report and the unpacked tree; cve-bin-tool
scans that same tree (../shared/tools/peers/run.sh cvebin, offline: version detection only;
skipped with a note when /opt/peers has no cve-bin-tool). Printed per image and overall:
recall of exact (name, version) pairs, the misses, and false components (a reported pair the
truth does not have: another version of a true component, or no component at all).
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TRUTH = os.path.join(HERE, "components_real")
WORK = os.path.join(HERE, "out", "components_real")

# cve-bin-tool product names (and a few others) -> the names the truth uses.
ALIASES = {
    "linux_kernel": "linux", "kernel": "linux", "dropbear_ssh": "dropbear", "libcurl": "curl",
    "uclibc-ng": "uclibc", "point-to-point_protocol": "ppp", "pppd": "ppp", "http_server": "apache-httpd",
    "wireless_tools": "wireless-tools", "wireless-tools": "wireless-tools", "net_snmp": "net-snmp",
    "ipsec_tools": "ipsec-tools", "bridge_utils": "bridge-utils", "json_c": "json-c",
    "goahead_webserver": "goahead", "u_boot": "u-boot", "uboot": "u-boot", "busybox_udhcp": "udhcp",
    "wpa_supplicant": "wpa_supplicant", "hostapd": "hostapd", "libjansson": "jansson",
    "lua_lua": "lua", "openssh": "openssh", "mathopd": "mathopd", "musl-libc": "musl",
}


def norm_name(n):
    n = (n or "").strip().lower()
    return ALIASES.get(n, n)


def norm_version(v):
    v = str(v or "").strip().lower()
    return re.sub(r"^v(?=\d)", "", v)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def image_dirs(extra):
    dirs = list(extra)
    dirs += glob.glob(os.path.join(ROOT, "..", "shared", "corpus", "real*"))
    dirs += glob.glob("/work/shared/corpus/real*")
    dirs.append(os.path.join(HERE, "realworld", "cache"))
    return [d for d in dirs if os.path.isdir(d)]


def find_images(dirs, wanted):
    """image name -> path of the file in `dirs` with the truth's sha256 (looked for under
    its own name first, then among every file; without a recorded sha256, by name)."""
    found = {}
    by_name = {}
    for d in dirs:
        for dp, _, fn in os.walk(d):
            for f in fn:
                by_name.setdefault(f, []).append(os.path.join(dp, f))
    hashes = {}

    def sha_of(p):
        if p not in hashes:
            hashes[p] = sha256_file(p)
        return hashes[p]

    for name, sha in wanted:
        own = by_name.get(name, [])
        if sha is None:
            if own:
                found[name] = own[0]
            continue
        for p in own + [p for ps in by_name.values() for p in ps if p not in own]:
            if os.path.getsize(p) > 0 and sha_of(p) == sha:
                found[name] = p
                break
    return found


def tree_files(tree):
    out = []
    for dp, _, fn in os.walk(tree):
        for f in fn:
            p = os.path.join(dp, f)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(os.path.relpath(p, tree))
    return sorted(out)


def read(tree, rel):
    with open(os.path.join(tree, rel), "rb") as f:
        return f.read()


def locate(ev, tree, files, image):
    """Fill in where one piece of evidence sits: tree path, offset, string, sha256."""
    def suffix(p):
        p = "/" + p.lstrip("/")
        return [r for r in files if ("/" + r).endswith(p)]

    if "opkg" in ev:
        for rel in files:
            if re.search(r"/usr/lib/(?:opkg|ipkg)/status$", "/" + rel):
                data = read(tree, rel)
                m = re.search(rb"Package: " + re.escape(ev["opkg"].encode()) + rb"\nVersion: [^\n]+", data)
                if m:
                    return dict(ev, tree=rel, string=m.group().decode(), offset=m.start(),
                                sha256=hashlib.sha256(data).hexdigest())
        return None
    if "in_image" in ev:
        with open(image, "rb") as f:
            data = f.read()
        at = data.find(ev["string"].encode())
        return dict(ev, offset=at, sha256=hashlib.sha256(data).hexdigest()) if at >= 0 else None
    if "file_name" in ev:
        for rel in suffix(ev["file_name"]):
            return dict(ev, tree=rel, sha256=hashlib.sha256(read(tree, rel)).hexdigest())
        return None
    if "tree" in ev and "path" not in ev:
        cands = [r for r in files if ev["tree"] in r]
    else:
        cands = suffix(ev["path"])
    for rel in cands:
        data = read(tree, rel)
        if "string" not in ev:
            return dict(ev, tree=rel, sha256=hashlib.sha256(data).hexdigest())
        at = data.find(ev["string"].encode())
        if at >= 0:
            return dict(ev, tree=rel, offset=at, sha256=hashlib.sha256(data).hexdigest())
    return None


def check(ev, tree, by_sha, image):
    """Whether recorded evidence still holds in this tree (found by the file's sha256)."""
    if "in_image" in ev:
        with open(image, "rb") as f:
            f.seek(ev["offset"])
            return f.read(len(ev["string"].encode())) == ev["string"].encode()
    rel = by_sha.get(ev.get("sha256"))
    if rel is None:
        return False
    if "offset" in ev:
        data = read(tree, rel)
        s = ev["string"].encode()
        return data[ev["offset"]:ev["offset"] + len(s)] == s
    return True


def run_assay(assay, img, outdir):
    tree = os.path.join(outdir, "tree")
    report = os.path.join(outdir, "assay.json")
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    t0 = time.time()
    subprocess.run([assay, "scan", "-q", "--format", "json", "-o", report, "--extract", tree, img],
                   check=False, capture_output=True)
    secs = time.time() - t0
    try:
        rep = json.load(open(report))
    except (OSError, ValueError):
        rep = {}
    return rep, tree, secs


def cvebin_pairs(outdir):
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


def score(truth, pairs):
    want = {(norm_name(c["name"]), norm_version(c["version"])) for c in truth["components"]}
    got = {(norm_name(n), norm_version(v)) for n, v in pairs}
    return want & got, want - got, got - want


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assay", help="assay binary (default: build this checkout's debug binary)")
    ap.add_argument("--images", nargs="*", default=[])
    ap.add_argument("--no-cvebin", action="store_true")
    ap.add_argument("--fill", action="store_true", help="locate the truth's evidence and write it back")
    ap.add_argument("--only", help="only the truth files whose image name contains this")
    ap.add_argument("--peers", default=os.path.join(ROOT, "..", "shared", "tools", "peers"))
    args = ap.parse_args()
    assay = args.assay
    if not assay:
        subprocess.run(["cargo", "build", "-q", "-p", "assay"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        assay = os.path.join(target, "debug", "assay")
    if not os.path.isdir(args.peers):
        args.peers = "/work/shared/tools/peers"
    cvebin = not args.no_cvebin and os.path.isdir("/opt/peers/cvebin-venv")
    truths = []
    for p in sorted(glob.glob(os.path.join(TRUTH, "*.truth.json"))):
        t = json.load(open(p))
        if args.only and args.only not in t["image"]:
            continue
        truths.append((p, t))
    images = find_images(image_dirs(args.images), [(t["image"], t.get("image_sha256")) for _, t in truths])
    totals = {"assay": [0, 0, 0], "cve-bin-tool": [0, 0, 0]}
    secs = {"assay": 0.0, "cve-bin-tool": 0.0}
    bad_truth = 0
    for path, truth in truths:
        img = images.get(truth["image"])
        if img is None:
            print("%-32s image not found (sha256 %s): skipped" % (truth["image"], truth.get("image_sha256")))
            continue
        out = os.path.join(WORK, truth["image"])
        rep, tree, s = run_assay(assay, img, out)
        secs["assay"] += s
        files = tree_files(tree)
        if args.fill:
            truth["image_sha256"] = sha256_file(img)
            for c in truth["components"]:
                for i, ev in enumerate(c["evidence"]):
                    got = locate(ev, tree, files, img)
                    if got is None:
                        print("  %s %s: evidence not found: %s" % (c["name"], c["version"], ev))
                        bad_truth += 1
                    else:
                        c["evidence"][i] = got
            with open(path, "w") as f:
                json.dump(truth, f, indent=1, ensure_ascii=False)
                f.write("\n")
        else:
            by_sha = {}
            for rel in files:
                by_sha.setdefault(sha256_file(os.path.join(tree, rel)), rel)
            for c in truth["components"]:
                for ev in c["evidence"]:
                    if not check(ev, tree, by_sha, img):
                        print("  truth evidence no longer holds: %s %s %s" % (c["name"], c["version"], ev))
                        bad_truth += 1
        mine = [(c.get("name"), c.get("version")) for c in rep.get("components", [])]
        hit, miss, false = score(truth, mine)
        n = len(truth["components"])
        totals["assay"][0] += len(hit)
        totals["assay"][1] += n
        totals["assay"][2] += len(false)
        line = "%-32s assay %2d/%-2d false %d" % (truth["image"][:32], len(hit), n, len(false))
        detail = ["  assay missed: %s" % ", ".join("%s %s" % x for x in sorted(miss))] if miss else []
        if false:
            detail.append("  assay false:  %s" % ", ".join("%s %s" % x for x in sorted(false)))
        if cvebin:
            cout = os.path.join(out, "cvebin")
            t0 = time.time()
            subprocess.run(["bash", os.path.join(args.peers, "run.sh"), "cvebin", tree, cout], capture_output=True)
            secs["cve-bin-tool"] += time.time() - t0
            chit, cmiss, cfalse = score(truth, cvebin_pairs(cout))
            totals["cve-bin-tool"][0] += len(chit)
            totals["cve-bin-tool"][1] += n
            totals["cve-bin-tool"][2] += len(cfalse)
            line += "   cve-bin-tool %2d/%-2d false %d" % (len(chit), n, len(cfalse))
            if cfalse:
                detail.append("  cve-bin-tool false: %s" % ", ".join("%s %s" % x for x in sorted(cfalse)))
        print(line)
        for d in detail:
            print(d)
        sys.stdout.flush()
    print()
    for tool, (a, n, f) in totals.items():
        if tool == "cve-bin-tool" and not cvebin:
            print("cve-bin-tool  not run (%s)" % ("--no-cvebin" if args.no_cvebin else "no /opt/peers/cvebin-venv"))
            continue
        print("%-13s recall %d/%d (%.1f%%), false components %d, %.1f s wall in all"
              % (tool, a, n, 100.0 * a / n if n else 0, f, secs[tool]))
    if bad_truth:
        print("truth evidence problems: %d" % bad_truth)
    return 1 if bad_truth else 0


if __name__ == "__main__":
    sys.exit(main())
