#!/usr/bin/env python3
"""Conformance with the peers' own test suites: what Assay recognises and extracts on each sample
of binwalk v3, binwalk-ng, fact_extractor, util-linux (blkid) and dissect.* against what that
peer's test asserts, and (with --peers) what binwalk v3 and unblob do on the same samples.

    python3 bench/conformance/populate.py              # once: samples into bench/conformance/cache/
    python3 bench/conformance.py [--assay PATH] [--peers] [--family F] [--sample ID]
                                 [--network-gear] [--json OUT] [--timeout S] [--reuse]

For every sample it runs `assay unpack` (the extracted tree) and `assay scan --format json`
(the recognised formats: every node's format, with the offset in the input of those whose
bytes are the input's own: carved from the image, directly or through carved parts),
and with --peers the `binwalk-shim` and `unblob-shim` variants of ../shared/tools/peers/run.sh
(binwalk v3 and unblob with Debian's `unsquashfs` in place of `sasquatch`, which no registry
has; say so beside every figure). Each tool is judged only on what the sample's expectation in
bench/conformance/manifest.json asserts:

  formats         a format recognised at an offset (offset null: anywhere in the tree), with a
                  size where the test asserts one;
  formats_absent  a format that must not be recognised;
  min_files / max_files   how many regular files the extracted tree must / may hold;
  files           files (or symlinks) the tree must hold: by name (case-insensitive basename),
                  path suffix, size, sha256 / sha1 / sha256 prefix, or leading / trailing /
                  contained bytes.

A run that exceeds the timeout is a failure. Output: one row per sample (pass/fail per tool with
a short reason), one per format family (passes per tool), a summary line, and the network-gear
samples that a peer passes and Assay fails. --json writes every judgement with what each tool
recognised and extracted. Work directories: bench/conformance/out/<tool>/<sample id>/ (--out).
"""
import argparse
import collections
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
CONF = os.path.join(HERE, "conformance")
CACHE = os.path.join(CONF, "cache", "samples")
OUT = os.path.join(CONF, "out")
SHARED = next((d for d in [os.path.join(ROOT, "..", "shared"), "/work/shared"] if os.path.isdir(d)),
              os.path.join(ROOT, "..", "shared"))
PEERS_RUN = os.environ.get("PEERS_RUN", os.path.join(SHARED, "tools", "peers", "run.sh"))
PEERS = ["binwalk-shim", "unblob-shim"]

# Canonical format name (manifest) -> what each tool calls it (lower-cased), as a regex.
# A name not listed here matches itself exactly.
ALIASES = {
    "7z": r"^(7z|7zip|sevenzip)$",
    "arcadyan": r"^arcadyan",
    "avm-eva": r"^eva",
    "bzip2": r"^bzip2$",
    "compress": r"^(compress|compressd)$",
    "cramfs": r"^cramfs",
    "crypto_LUKS": r"^(crypto_)?luks",
    "ext": r"^(ext[234]?|extfs)$",
    "fat": r"^(v?fat|fat12|fat16|fat32)$",
    "gpt": r"^(gpt|efigpt|efi_gpt)$",
    "gzip": r"^gzip",
    "ihex": r"^(ihex|intel_?hex)",
    "jffs2": r"^jffs2",
    "jpeg": r"^jpe?g$",
    "lz4": r"^lz4",
    "lzma": r"^lzma$",
    "lzop": r"^lzo(p)?$",
    "matter-ota": r"^matter",
    "mbr": r"^(mbr|dos_?mbr|dos)$",
    "minix": r"^minix",
    "program-store": r"^program_store",
    "qcow": r"^qcow",
    "rar": r"^rar",
    "romfs": r"^romfs",
    "squashfs": r"^squashfs",
    "srec": r"^(srec|srecord)",
    "tar": r"^(tar|tarball)$",
    "uimage": r"^(uimage|uboot)$",
    "yaffs2": r"^yaffs",
    "zip": r"^zip$",
    "zstd": r"^zstd",
}


def canon_match(canon, name):
    rx = ALIASES.get(canon)
    name = (name or "").lower()
    return re.search(rx, name) is not None if rx else name == canon.lower()


# ----------------------------------------------------------------------------- running tools

def run_assay(binary, sample, workdir, timeout):
    """`assay unpack` into workdir/extract and `assay scan -f json` into workdir/report.json."""
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    res = {"timed_out": False}
    t0 = time.time()
    for step, cmd in [("unpack", [binary, "unpack", "-q", sample, "-o", os.path.join(workdir, "extract")]),
                      ("scan", [binary, "scan", "-q", "-f", "json", "-o", os.path.join(workdir, "report.json"), sample])]:
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=timeout)
            res[f"{step}_exit"] = r.returncode
            with open(os.path.join(workdir, f"{step}.stderr"), "wb") as fh:
                fh.write(r.stderr)
        except subprocess.TimeoutExpired:
            res[f"{step}_exit"] = None
            res["timed_out"] = True
            res.setdefault("timeout_step", step)
    res["wall_s"] = round(time.time() - t0, 3)
    return res


def run_peer(peer, sample, workdir, timeout):
    if not os.path.isfile(PEERS_RUN):
        sys.exit(f"no {PEERS_RUN} (set PEERS_RUN)")
    env = dict(os.environ, RUN_TIMEOUT=str(timeout))
    subprocess.run(["bash", PEERS_RUN, peer, sample, workdir], capture_output=True, env=env)
    try:
        with open(os.path.join(workdir, "summary.json")) as fh:
            s = json.load(fh)
    except (OSError, ValueError):
        return {"timed_out": False, "exit": None, "error": "run.sh wrote no summary"}
    return {"timed_out": bool(s.get("timed_out")), "exit": s.get("exit_code"), "wall_s": s.get("wall_s"),
            "cpu_s": s.get("cpu_s")}


# ----------------------------------------------------------------------------- what a tool recognised

def assay_report(workdir):
    try:
        with open(os.path.join(workdir, "report.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def assay_warnings(workdir):
    """What Assay said about the image (the vulnerability-database notice left out)."""
    return [f"{w.get('kind')}: {w.get('location', '')}: {w.get('message')}"
            for w in assay_report(workdir).get("warnings", []) if w.get("kind") != "vulndb"][:8]


def assay_recognised(workdir):
    """(top, anywhere): formats found in the input's own bytes, with their offset in the input and
    size; every format in the tree.

    A node is in the input's own bytes when every node from it up to the image was carved from
    its parent (each has an offset there): a container directly in the image, or one inside a
    part that a vendor container carves out. Its offset in the input is the sum of those
    offsets, which is what binwalk's signature offsets mean. Nodes below a decoded layer (no
    offset in their parent) are not in the input's bytes and count for "anywhere" only.
    """
    rep = assay_report(workdir)
    nodes = rep.get("nodes", [])
    root = nodes[0]["id"] if nodes else None
    by_id = {n["id"]: n for n in nodes}

    def input_offset(n):
        total = 0
        while n.get("parent") is not None:
            if n.get("offset") is None:
                return None
            total += n["offset"]
            if n["parent"] == root:
                return total
            n = by_id.get(n["parent"])
            if n is None:
                return None
        return None

    top = []
    for n in nodes:
        if not n.get("format"):
            continue
        at = input_offset(n)
        if at is not None:
            top.append((n["format"], at, n.get("size")))
    anywhere = sorted({n["format"] for n in nodes if n.get("format")})
    return top, anywhere


def json_stream(text):
    """The objects of a log that holds several JSON documents in a row (binwalk's --log with -M)."""
    dec, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text):
        if text[pos] in " \t\r\n,[]":
            pos += 1
            continue
        try:
            obj, pos = dec.raw_decode(text, pos)
        except ValueError:
            break
        out.append(obj)
    return out


def binwalk_recognised(workdir, sample):
    try:
        with open(os.path.join(workdir, "binwalk.json")) as fh:
            log = json_stream(fh.read())
    except OSError:
        return [], []
    top, anywhere = [], set()
    base = os.path.basename(sample)
    first = True
    for entry in log:
        a = entry.get("Analysis") or {}
        fm = a.get("file_map", [])
        is_input = first and os.path.basename(a.get("file_path", "")) == base
        first = False
        for s in fm:
            anywhere.add(s.get("name"))
            if is_input:
                top.append((s.get("name"), s.get("offset"), s.get("size")))
    return top, sorted(anywhere)


def unblob_recognised(workdir):
    try:
        with open(os.path.join(workdir, "unblob-report.json")) as fh:
            rep = json.load(fh)
    except (OSError, ValueError):
        return [], []
    top, anywhere = [], set()
    for task in rep:
        depth = (task.get("task") or {}).get("depth")
        for r in task.get("reports", []):
            if r.get("__typename__") == "ChunkReport":
                anywhere.add(r.get("handler_name"))
                if depth == 0:
                    top.append((r.get("handler_name"), r.get("start_offset"), r.get("size")))
    return top, sorted(anywhere)


# ----------------------------------------------------------------------------- what a tool extracted

class Tree:
    """The regular files and symlinks under an extraction directory, hashed on demand."""

    def __init__(self, root, input_path):
        self.files, self.links = [], []
        self._cache = {}
        input_real = os.path.realpath(input_path)
        if not os.path.isdir(root):
            return
        for d, dirs, files in os.walk(root):
            for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
                p = os.path.join(d, name)
                rel = os.path.relpath(p, root)
                if os.path.islink(p):
                    # binwalk puts a link to the input at the top of its output: not extracted
                    if os.path.realpath(p) != input_real:
                        self.links.append(rel)
                elif os.path.isfile(p):
                    self.files.append((rel, os.path.getsize(p)))
        self.root = root

    def data(self, rel):
        with open(os.path.join(self.root, rel), "rb") as fh:
            return fh.read()

    def digest(self, rel, algo):
        key = (rel, algo)
        if key not in self._cache:
            h = hashlib.new(algo)
            with open(os.path.join(self.root, rel), "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            self._cache[key] = h.hexdigest()
        return self._cache[key]

    def count(self, input_sha256):
        """Regular files other than copies of the input."""
        n = 0
        for rel, size in self.files:
            if size and self.digest(rel, "sha256") == input_sha256:
                continue
            n += 1
        return n


def spec_text(spec):
    parts = []
    if "path_suffix" in spec:
        parts.append(spec["path_suffix"])
    elif "name" in spec:
        parts.append(spec["name"])
    if spec.get("type") == "symlink":
        parts.append("(symlink)")
    for k in ("size", "min_size"):
        if k in spec:
            parts.append(f"{k} {spec[k]}")
    for k in ("sha256", "sha1", "sha256_prefix"):
        if k in spec:
            parts.append(f"{k} {spec[k][:12]}")
    for k in ("prefix", "suffix", "contains"):
        if k in spec:
            parts.append(f"{k} {bytes.fromhex(spec[k])[:24]!r}")
    return " ".join(parts) or "a file"


def file_matches(tree, rel, size, spec):
    base = os.path.basename(rel)
    if "name" in spec and base.lower() != spec["name"].lower():
        return False
    if "path_suffix" in spec and not ("/" + rel.lower()).endswith("/" + spec["path_suffix"].lower()):
        return False
    if spec.get("type") == "symlink":
        return True
    if "size" in spec and size != spec["size"]:
        return False
    if "min_size" in spec and size < spec["min_size"]:
        return False
    if "sha256" in spec and tree.digest(rel, "sha256") != spec["sha256"]:
        return False
    if "sha1" in spec and tree.digest(rel, "sha1") != spec["sha1"]:
        return False
    if "sha256_prefix" in spec and not tree.digest(rel, "sha256").startswith(spec["sha256_prefix"]):
        return False
    if any(k in spec for k in ("prefix", "suffix", "contains")):
        if size > 256 << 20:
            return False
        data = tree.data(rel)
        if "prefix" in spec and not data.startswith(bytes.fromhex(spec["prefix"])):
            return False
        if "suffix" in spec and not data.endswith(bytes.fromhex(spec["suffix"])):
            return False
        if "contains" in spec and bytes.fromhex(spec["contains"]) not in data:
            return False
    return True


def find_file(tree, spec):
    if spec.get("type") == "symlink":
        return any(file_matches(tree, rel, 0, spec) for rel in tree.links)
    return any(file_matches(tree, rel, size, spec) for rel, size in tree.files)


def fmt_offset(o):
    return "?" if o is None else hex(o)


def judge(expect, top, anywhere, tree, input_sha256, run):
    """(passed, reasons, facts) for one tool on one sample."""
    reasons = []
    if run.get("timed_out"):
        reasons.append(f"timed out ({run.get('timeout_step', 'run')})")
    for f in expect.get("formats", []):
        canon, off, size = f["format"], f.get("offset"), f.get("size")
        if off is None:
            ok = any(canon_match(canon, n) for n in anywhere)
        else:
            ok = any(canon_match(canon, n) and o == off and (size is None or s == size) for n, o, s in top)
        if not ok:
            seen = ", ".join(f"{n}@{fmt_offset(o)}" for n, o, _ in top[:4]) or "nothing"
            want = f"{canon}@{fmt_offset(off)}" + (f" size {size}" if size is not None else "")
            reasons.append(f"no {want} (saw {seen})")
    for canon in expect.get("formats_absent", []):
        if any(canon_match(canon, n) for n in anywhere):
            reasons.append(f"claims {canon}")
    n = tree.count(input_sha256)
    if "min_files" in expect and n < expect["min_files"]:
        reasons.append(f"{n} files < {expect['min_files']}")
    if "max_files" in expect and n > expect["max_files"]:
        reasons.append(f"{n} files > {expect['max_files']}")
    missing = [spec_text(s) for s in expect.get("files", []) if not find_file(tree, s)]
    if missing:
        reasons.append(f"missing {len(missing)}/{len(expect['files'])}: " + "; ".join(missing[:2]))
    facts = {"files": n, "symlinks": len(tree.links), "top": [[a, o, s] for a, o, s in top][:20],
             "formats": anywhere[:40]}
    return not reasons, reasons, facts


# ----------------------------------------------------------------------------- main

def load_manifest():
    with open(os.path.join(CONF, "manifest.json")) as fh:
        return json.load(fh)


def select(samples, a):
    out = []
    for r in samples:
        if a.family and r["family"] not in a.family:
            continue
        if a.sample and not any(r["id"] == s or (s.endswith(("/", "*")) and r["id"].startswith(s.rstrip("*")))
                                for s in a.sample):
            continue
        if a.network_gear and not r["network_gear"]:
            continue
        out.append(r)
    return out


def tool_version(binary):
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--assay", default=os.path.join(ROOT, "target", "release", "assay"))
    ap.add_argument("--peers", action="store_true", help="also run binwalk-shim and unblob-shim")
    ap.add_argument("--family", action="append", default=[], help="only this format family (repeatable)")
    ap.add_argument("--sample", action="append", default=[],
                    help="only this sample id, or ids under this prefix (PREFIX/ or PREFIX*) (repeatable)")
    ap.add_argument("--network-gear", action="store_true", help="only network-gear samples")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per tool run (a failure when exceeded)")
    ap.add_argument("--reuse", action="store_true",
                    help="judge the outputs already under out/ (re-run only what is missing)")
    ap.add_argument("--no-assay", action="store_true", help="judge the peers only")
    ap.add_argument("--peer", action="append", choices=PEERS, default=[],
                    help="run only this peer (repeatable; implies --peers)")
    ap.add_argument("--out", default=OUT, help="work directories (default bench/conformance/out)")
    ap.add_argument("--json", help="write every judgement here")
    a = ap.parse_args()

    man = load_manifest()
    samples = select(man["samples"], a)
    tools = ([] if a.no_assay else ["assay"]) + (a.peer or (PEERS if a.peers else []))
    if not tools:
        sys.exit("nothing to run")
    if "assay" in tools and not os.access(a.assay, os.X_OK):
        sys.exit(f"no Assay binary at {a.assay} (give --assay PATH)")
    results = []
    for i, rec in enumerate(samples, 1):
        path = os.path.join(CACHE, *rec["id"].split("/"))
        if not os.path.isfile(path):
            sys.exit(f"{rec['id']}: not in {CACHE}; run bench/conformance/populate.py first")
        row = {"id": rec["id"], "family": rec["family"], "network_gear": rec["network_gear"], "tools": {}}
        for tool in tools:
            wd = os.path.join(a.out, tool, *rec["id"].split("/"))
            stamp = os.path.join(wd, "conformance-run.json")
            run = None
            if a.reuse and os.path.isfile(stamp):
                with open(stamp) as fh:
                    prev = json.load(fh)
                if prev.get("sha256") == rec["sha256"] and (tool != "assay" or prev.get("binary") == a.assay):
                    run = prev["run"]
            if run is None:
                if tool == "assay":
                    run = run_assay(a.assay, path, wd, a.timeout)
                else:
                    run = run_peer(tool, path, wd, a.timeout)
                os.makedirs(wd, exist_ok=True)
                with open(stamp, "w") as fh:
                    json.dump({"sha256": rec["sha256"], "binary": a.assay if tool == "assay" else tool,
                               "run": run}, fh)
            if tool == "assay":
                top, anywhere = assay_recognised(wd)
            elif tool.startswith("binwalk"):
                top, anywhere = binwalk_recognised(wd, path)
            else:
                top, anywhere = unblob_recognised(wd)
            tree = Tree(os.path.join(wd, "extract"), path)
            ok, reasons, facts = judge(rec["expect"], top, anywhere, tree, rec["sha256"], run)
            row["tools"][tool] = {"pass": ok, "reasons": reasons, "run": run, **facts}
            if tool == "assay":
                row["tools"][tool]["warnings"] = assay_warnings(wd)
        results.append(row)
        cells = "  ".join(f"{t}:{'ok' if row['tools'][t]['pass'] else 'FAIL'}" for t in tools)
        print(f"[{i}/{len(samples)}] {rec['id']}  {cells}", file=sys.stderr, flush=True)

    report(results, tools)
    if a.json:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "assay": a.assay,
                "assay_version": tool_version(a.assay) if "assay" in tools else None,
                "peers": [t for t in tools if t != "assay"], "timeout_s": a.timeout,
                "note": "peers: binwalk v3 and unblob with Debian's unsquashfs in place of sasquatch"}
        with open(a.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)


def cell(t):
    if t["pass"]:
        return "pass"
    return "FAIL: " + "; ".join(t["reasons"])[:90]


def report(results, tools):
    short = {"assay": "assay", "binwalk-shim": "binwalk*", "unblob-shim": "unblob*"}
    peers = [t for t in tools if t != "assay"]
    print("## Per sample\n")
    print("| sample | family | NG | " + " | ".join(short[t] for t in tools) + " |")
    print("|---|---|---|" + "---|" * len(tools))
    for r in results:
        print(f"| {r['id']} | {r['family']} | {'yes' if r['network_gear'] else ''} | "
              + " | ".join(cell(r["tools"][t]).replace("|", "/") for t in tools) + " |")
    print("\n## Per format family (passes / samples)\n")
    print("| family | NG | samples | " + " | ".join(short[t] for t in tools) + " |")
    print("|---|---|---|" + "---|" * len(tools))
    fam = collections.OrderedDict()
    for r in sorted(results, key=lambda r: (not r["network_gear"], r["family"])):
        fam.setdefault(r["family"], []).append(r)
    for f, rs in fam.items():
        print(f"| {f} | {'yes' if rs[0]['network_gear'] else ''} | {len(rs)} | "
              + " | ".join(str(sum(x["tools"][t]["pass"] for x in rs)) for t in tools) + " |")
    ng = [r for r in results if r["network_gear"]]
    print("\n## Summary\n")
    parts = []
    for t in tools:
        parts.append(f"{short[t]} {sum(r['tools'][t]['pass'] for r in results)}/{len(results)} "
                     f"(network gear {sum(r['tools'][t]['pass'] for r in ng)}/{len(ng)})")
    print(f"{len(results)} samples, {len(ng)} network-gear: " + ", ".join(parts))
    if "assay" in tools and len(tools) > 1:
        gap = [r for r in ng if not r["tools"]["assay"]["pass"]
               and any(r["tools"][t]["pass"] for t in tools if t != "assay")]
        print(f"\nnetwork-gear samples a peer passes and Assay fails: {len(gap)}")
        for r in gap:
            who = ", ".join(short[t] for t in tools if t != "assay" and r["tools"][t]["pass"])
            print(f"- {r['id']} ({r['family']}; {who}): {'; '.join(r['tools']['assay']['reasons'])}")
    if peers:
        print("\n(* binwalk v3 and unblob with Debian's unsquashfs in place of sasquatch)")


if __name__ == "__main__":
    main()
