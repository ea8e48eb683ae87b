#!/usr/bin/env python3
"""Materialises every sample of manifest.json into the git-ignored cache/ beside this file.

Nothing of the peers' test data is committed: each sample is read from where the manifest says
it comes from, transformed as the peer's test does (`xz`/`gzip`: the test decompresses the file
before use) and written to cache/samples/<id>, after its sha256 is checked against the manifest.

Sources:
  git            a repository snapshot under $ASSAY_MIRROR (default /work/.mirror), as brought
                 by the search tool's `fetch`: `<owner>+<name>/repo` (a bare git directory); the
                 blob is read at the recorded commit.
  pypi           an sdist downloaded with `pip download --no-binary :all: --no-deps` into
                 cache/pypi/, the member read from the tarball.
  debian-source  a Debian source package fetched with `apt-get source --download-only` through a
                 private apt configuration in cache/apt/ (a deb-src list of its own; the
                 system's apt configuration is not touched), the member read from its tarball.

    python3 bench/conformance/populate.py [--only ID-PREFIX] [--cache DIR]

Exit status 1 when any sample could not be materialised or its hash does not match.
"""
import argparse
import glob
import gzip
import hashlib
import json
import lzma
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
MIRROR = os.environ.get("ASSAY_MIRROR", "/work/.mirror")
DEBIAN_SUITE = os.environ.get("ASSAY_DEBIAN_SUITE", "bookworm")
DEBIAN_URI = os.environ.get("ASSAY_DEBIAN_URI", "http://deb.debian.org/debian")


class SourceError(Exception):
    """A sample's source is not available here (no snapshot, no download)."""


def git_blob(repo, commit, path):
    gitdir = os.path.join(MIRROR, repo.replace("/", "+"), "repo")
    if not os.path.isdir(gitdir):
        raise SourceError(f"no snapshot of {repo} under {MIRROR} (bring it with the search tool's fetch)")
    r = subprocess.run(["git", "--git-dir", gitdir, "cat-file", "blob", f"{commit}:{path}"],
                       capture_output=True)
    if r.returncode != 0:
        raise SourceError(f"{repo}@{commit[:12]}:{path}: {r.stderr.decode(errors='replace').strip()}")
    if r.stdout.startswith(b"version https://git-lfs"):
        raise SourceError(f"{repo}:{path} is a Git LFS pointer (the content is not in the snapshot)")
    return r.stdout


def pypi_sdist(package, version, cache):
    d = os.path.join(cache, "pypi")
    os.makedirs(d, exist_ok=True)
    stem = package.replace(".", "_").replace("-", "_")
    found = glob.glob(os.path.join(d, f"{stem}-{version}.tar.gz"))
    if not found:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                            "-d", d, f"{package}=={version}"], capture_output=True, text=True)
        found = glob.glob(os.path.join(d, f"{stem}-{version}.tar.gz"))
        if not found:
            raise SourceError(f"pip download {package}=={version} failed: {r.stderr.strip()[-300:]}")
    return found[0]


def tar_member(tarball, path):
    with tarfile.open(tarball) as tf:
        for m in tf.getmembers():
            parts = m.name.split("/", 1)
            if len(parts) == 2 and parts[1] == path and m.isfile():
                return tf.extractfile(m).read()
    raise SourceError(f"{path} not in {os.path.basename(tarball)}")


def apt(cache, *args):
    a = os.path.join(cache, "apt")
    lists = os.path.join(a, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    src = os.path.join(a, "sources.list")
    if not os.path.exists(src):
        with open(src, "w") as fh:
            fh.write(f"deb-src {DEBIAN_URI} {DEBIAN_SUITE} main\n")
    opts = ["-o", f"Dir::Etc::SourceList={src}", "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={lists}", "-o", "APT::Sandbox::User=root"]
    return subprocess.run(["apt-get", *opts, *args], capture_output=True, text=True, cwd=a)


def debian_orig(package, version, cache):
    """The upstream tarball of a Debian source package (downloaded once into cache/apt/)."""
    a = os.path.join(cache, "apt")
    upstream = version.split("-")[0]
    pat = os.path.join(a, f"{package}_{upstream}.orig.tar.*")
    if not glob.glob(pat):
        os.makedirs(a, exist_ok=True)
        apt(cache, "update")
        r = apt(cache, "source", "--download-only", f"{package}={version}")
        if not glob.glob(pat):
            # a later Debian revision of the same upstream version has the same upstream tarball
            r = apt(cache, "source", "--download-only", package)
        if not glob.glob(pat):
            raise SourceError(f"apt-get source {package}={version} failed: {r.stderr.strip()[-300:]}")
    return glob.glob(pat)[0]


def debian_source_tree(package, version, cache):
    """The upstream tree's tests/ folder, unpacked once under cache/debian/ (for make_manifest)."""
    root = os.path.join(cache, "debian", f"{package}-{version}")
    if not os.path.isdir(os.path.join(root, "tests")):
        tarball = debian_orig(package, version, cache)
        os.makedirs(root, exist_ok=True)
        with tarfile.open(tarball) as tf:
            for m in tf.getmembers():
                parts = m.name.split("/", 1)
                if len(parts) == 2 and parts[1].startswith("tests/") and m.isfile():
                    out = os.path.join(root, parts[1])
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with open(out, "wb") as fh:
                        fh.write(tf.extractfile(m).read())
    return root


def read_source(src, cache):
    kind = src["kind"]
    if kind == "git":
        return git_blob(src["repo"], src["commit"], src["path"])
    if kind == "pypi":
        return tar_member(pypi_sdist(src["package"], src["version"], cache), src["path"])
    if kind == "debian-source":
        return tar_member(debian_orig(src["package"], src["version"], cache), src["path"])
    raise SourceError(f"unknown source kind {kind}")


def apply_transform(data, transform):
    if transform is None:
        return data
    if transform == "xz":
        return lzma.decompress(data)
    if transform == "gzip":
        return gzip.decompress(data)
    raise ValueError(f"unknown transform {transform}")


def sample_path(cache, sid):
    return os.path.join(cache, "samples", *sid.split("/"))


def load_manifest():
    with open(os.path.join(HERE, "manifest.json")) as fh:
        return json.load(fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    ap.add_argument("--only", default="", help="only samples whose id starts with this")
    a = ap.parse_args()
    man = load_manifest()
    ok = have = bad = 0
    for rec in man["samples"]:
        if not rec["id"].startswith(a.only):
            continue
        out = sample_path(a.cache, rec["id"])
        if os.path.isfile(out):
            with open(out, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() == rec["sha256"]:
                    have += 1
                    continue
        try:
            data = apply_transform(read_source(rec["source"], a.cache), rec.get("transform"))
        except (SourceError, OSError, lzma.LZMAError, EOFError) as e:
            print(f"MISSING {rec['id']}: {e}", file=sys.stderr)
            bad += 1
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != rec["sha256"]:
            print(f"MISMATCH {rec['id']}: sha256 {digest}, manifest {rec['sha256']}", file=sys.stderr)
            bad += 1
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as fh:
            fh.write(data)
        ok += 1
    print(f"populate: {ok} written, {have} already present, {bad} missing or wrong -> {os.path.join(a.cache, 'samples')}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
