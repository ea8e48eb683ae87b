#!/usr/bin/env bash
# Score Assay's reports on every corpus image with the shared scorer (files, symlinks,
# components, planted findings, precision), and print each image's analysis time.
#
#   bash bench/score.sh [CORPUS_DIR]        (default ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/corpus}
scorer=$corpus/../tools/score.py
cargo build --release -q -p assay
bin=${CARGO_TARGET_DIR:-target}/release/assay
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
for truth in "$corpus"/*.truth.json "$corpus"/real/*.truth.json; do
  img=${truth%.truth.json}
  [ -f "$img" ] || continue
  name=$(basename "$img")
  "$bin" scan -q --format json -o "$out/$name.json" "$img"
  python3 "$scorer" "$out/$name.json" "$truth"
  python3 - "$out/$name.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])).get("stats", {}).get("seconds", {})
d = ", ".join("%s %.3f" % (k.split(":", 1)[1], v) for k, v in sorted(s.items()) if k.startswith("detector:"))
print("  unpack %.3f s, analyze %.3f s (%s)" % (s.get("unpack", 0), s.get("analyze", 0), d))
PY
done
