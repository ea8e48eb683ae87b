#!/bin/sh
# Fill corpus/<target>/ with the committed fixtures that targets.txt lists for it (gzipped
# and bzip2ed disk images are inflated, except for those compressors' own targets), plus every fixture for the
# driver. The corpus directories are not committed; rerun this after a fresh checkout.
set -eu
cd "$(dirname "$0")"
fixtures=../crates/assay-unpack/tests/fixtures
copy() { # target file
    name=$(echo "$2" | tr / _)
    case "$2" in
        *.gz) if [ "$1" != gzip ]; then
                  gzip -dc "$fixtures/$2" > "corpus/$1/${name%.gz}"; return
              fi ;;
        *.bz2) if [ "$1" != bzip2 ]; then
                  bzip2 -dc "$fixtures/$2" > "corpus/$1/${name%.bz2}"; return
              fi ;;
    esac
    cp "$fixtures/$2" "corpus/$1/$name"
}
grep -v '^#' targets.txt | while read -r target _format seeds; do
    [ -n "$target" ] || continue
    mkdir -p "corpus/$target"
    for glob in $seeds; do
        for f in $(cd $fixtures && ls $glob 2>/dev/null); do copy "$target" "$f"; done
    done
done
mkdir -p corpus/driver
for f in $(cd $fixtures && find . -type f ! -name '*.txt' ! -name '*.md' -size -1024k | sed 's|^\./||'); do
    copy driver "$f"
done
for d in corpus/*; do echo "$d: $(ls "$d" | wc -l) seeds"; done
