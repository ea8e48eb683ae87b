#!/usr/bin/env python3
"""Materialise the real-world measuring set into the git-ignored bench/realworld/cache/.

    python3 bench/realworld/populate.py [--mirror /work/.mirror] [--shared ../shared/corpus]
                                        [--only ID ...] [--check]

Every image listed in manifest.json comes either from a stored repository snapshot that the
`fetch` tool brought into the mirror directory (read with `git cat-file` at the recorded
commit, so that the bytes are those of that commit even when the file changed or was deleted
later) or from the shared corpus folders (copied). Each file is checked against the sha256 in
the manifest; a mismatch or a missing source is reported and the script exits non-zero.
Nothing here is committed: the images belong to their vendors and the repositories that
published them (see each entry's `licence`).

--check only verifies files already in the cache.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def git_dir(mirror, repo):
    """The git directory of a fetched snapshot (bare, or a clone with a work tree)."""
    base = os.path.join(mirror, repo.replace("/", "+"), "repo")
    return os.path.join(base, ".git") if os.path.isdir(os.path.join(base, ".git")) else base


def default_shared():
    """../shared/corpus beside the checkout; from a worktree under /work/wt that is /work/shared."""
    for cand in (os.path.join(ROOT, "..", "shared", "corpus"),
                 os.path.join(ROOT, "..", "..", "shared", "corpus")):
        if os.path.isdir(cand):
            return os.path.normpath(cand)
    return os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))


def read_source(entry, mirror, shared):
    src = entry["source"]
    if src["kind"] == "shared":
        with open(os.path.join(shared, src["path"]), "rb") as f:
            return f.read()
    gd = git_dir(mirror, src["repo"])
    if not os.path.isdir(gd):
        raise FileNotFoundError(
            "no snapshot of %s under %s (bring it with the fetch tool: github:%s)"
            % (src["repo"], mirror, src["repo"]))
    out = subprocess.run(["git", "--git-dir", gd, "cat-file", "blob",
                          "%s:%s" % (src["commit"], src["path"])],
                         capture_output=True)
    if out.returncode != 0:
        raise FileNotFoundError("%s@%s:%s: %s" % (src["repo"], src["commit"][:12], src["path"],
                                                   out.stderr.decode(errors="replace").strip()))
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", default=os.environ.get("ASSAY_MIRROR", "/work/.mirror"))
    ap.add_argument("--shared", default=default_shared(),
                    help="the shared corpus folder (default: ../shared/corpus beside the checkout)")
    ap.add_argument("--manifest", default=os.path.join(HERE, "manifest.json"))
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    ap.add_argument("--only", nargs="*", help="ids to materialise (default: all)")
    ap.add_argument("--check", action="store_true", help="verify the cache, fetch nothing")
    args = ap.parse_args()

    manifest = json.load(open(args.manifest))
    os.makedirs(args.cache, exist_ok=True)
    bad = 0
    for entry in manifest["images"]:
        if args.only and entry["id"] not in args.only:
            continue
        dst = os.path.join(args.cache, entry["id"])
        try:
            if args.check or (os.path.exists(dst) and sha256_file(dst) == entry["sha256"]):
                data = open(dst, "rb").read()
            else:
                data = read_source(entry, args.mirror, args.shared)
        except (OSError, FileNotFoundError) as e:
            print("MISSING  %-40s %s" % (entry["id"], e))
            bad += 1
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"] or len(data) != entry["size"]:
            print("MISMATCH %-40s sha256 %s size %d (manifest %s, %d)"
                  % (entry["id"], digest, len(data), entry["sha256"], entry["size"]))
            bad += 1
            continue
        if not args.check:
            tmp = dst + ".part"
            with open(tmp, "wb") as f:
                f.write(data)
            shutil.move(tmp, dst)
        print("ok       %-40s %9d %s" % (entry["id"], len(data), digest[:16]))
    total = len(manifest["images"]) if not args.only else len(args.only)
    print("%d of %d images in %s%s" % (total - bad, total, args.cache,
                                       "" if not bad else " (%d missing or wrong)" % bad))
    return 1 if bad else 0


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
