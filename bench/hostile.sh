#!/usr/bin/env bash
# Figures for the hostile inputs of issue 13 that this bench covers (JFFS2 replays, verify on
# reordered findings, oversized envelopes): wall seconds and peak RSS of one run each.
#
#   bash bench/hostile.sh [ASSAY_BINARY]      # default: target/release/assay
#
# A script that prints figures, not a test. Inputs are the committed fixtures
# (fixtures/scripts/jffs2-hostile.sh, fixtures/scripts/terminal.sh); the reordered report and
# the envelope are made here in a temporary directory. A run is cut at 300 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/assay}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASSAY_VULNDB=/nonexistent/vulndb.sqlite

run() { # label, command...
  local label=$1; shift
  local rc=0
  /usr/bin/time -f '%e %M' -o "$tmp/time" timeout 300 "$@" >"$tmp/out" 2>&1 || rc=$?
  read -r wall rss < <(tail -n1 "$tmp/time") || true
  printf '%-34s %8s s %8d MB  exit %s\n' "$label" "$wall" "$(( ${rss:-0} / 1024 ))" "$rc"
}

jf=crates/assay-unpack/tests/fixtures/jffs2-hostile
for f in truncations overwrites staircase; do
  run "scan jffs2 $f" "$bin" scan -q --format json -o "$tmp/r.json" "$jf/$f.jffs2.xz"
done

many=crates/assay/tests/fixtures/terminal/many-accounts.tar.gz
"$bin" scan -q --format json -o "$tmp/many.json" "$many"
python3 - "$tmp/many.json" "$tmp/reversed.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["findings"].reverse()
print(f"  ({len(r['findings'])} findings)")
json.dump(r, open(sys.argv[2], "w"))
PY
run "verify 20k findings in order" "$bin" verify -q "$tmp/many.json" "$many"
run "verify 20k findings reversed" "$bin" verify -q "$tmp/reversed.json" "$many"

python3 - "$tmp/big.json" <<'PY'
import base64, json, sys
payload = b" " * (700 << 20)
json.dump({"payload": base64.b64encode(payload).decode(), "payloadType":
           "application/vnd.assay.report+json", "signatures": []}, open(sys.argv[1], "w"))
PY
run "verify 700 MB envelope (limit)" "$bin" verify -q "$tmp/big.json" "$many"
