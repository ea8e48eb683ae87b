#!/usr/bin/env bash
# Materialise the samples listed in samples.tsv into bench/rtos/cache/ from the repository
# mirrors (/work/.mirror/<owner>+<name>/, as the search tool's fetch leaves them; override with
# MIRRORS=DIR), checking each sha256. Nothing here is committed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
MIRRORS=${MIRRORS:-/work/.mirror}
mkdir -p "$HERE/cache"
grep -v '^#' "$HERE/samples.tsv" | while IFS=$'\t' read -r name repo commit path sha _lic _what; do
    [ -n "$name" ] || continue
    out="$HERE/cache/$name"
    if [ ! -f "$out" ]; then
        git_dir=""
        for d in "$MIRRORS/${repo/\//+}/repo" "$MIRRORS/${repo/\//+}/repo/.git"; do
            [ -d "$d" ] && git_dir=$d && break
        done
        if [ -z "$git_dir" ]; then
            echo "$name: no mirror of $repo under $MIRRORS" >&2
            continue
        fi
        git --git-dir="$git_dir" show "$commit:$path" > "$out.tmp" && mv "$out.tmp" "$out"
    fi
    got=$(sha256sum < "$out" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        echo "$name: sha256 $got, expected $sha" >&2
        exit 1
    fi
    echo "$name: ok"
done
