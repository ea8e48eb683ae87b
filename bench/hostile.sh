#!/usr/bin/env bash
# Figures for the hostile inputs of issue 13 that this bench covers (JFFS2 replays, verify on
# reordered findings, oversized envelopes, a sparse-file trap, squashfs hard links, a flood of
# findings): wall seconds and peak RSS of one run each.
#
#   bash bench/hostile.sh [ASSAY_BINARY]      # default: target/release/assay
#
# A script that prints figures, not a test. Inputs are the committed fixtures
# (fixtures/scripts/jffs2-hostile.sh, fixtures/scripts/terminal.sh,
# fixtures/scripts/hostile-traps.sh); the reordered report, the envelope and the findings flood
# (20 tars, each an /etc/passwd of 30,000 UID-0 accounts with empty passwords: 1.2M findings)
# are made here in a temporary directory. A run is cut at 300 s.
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

run "scan ext4, 3 GiB hole before passwd" "$bin" scan -q --format json -o "$tmp/r.json" \
  crates/assay/tests/fixtures/hostile/sparse-trap.ext4.xz
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("  findings:", sorted({f["rule"] for f in r["findings"]}))
PY
run "scan squashfs, 500 links to 1 MiB" "$bin" scan -q --format json -o "$tmp/r.json" \
  crates/assay-unpack/tests/fixtures/hostile/links.sqfs

python3 - "$tmp/flood.tar.gz" <<'PY'
import io, sys, tarfile
def tar_bytes(name, data):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w") as t:
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
    return b.getvalue()
with tarfile.open(sys.argv[1], "w:gz") as t:
    for k in range(20):
        pw = b"root:x:0:0:root:/root:/bin/sh\n" + b"".join(
            b"u%02d%06d::0:0::/:/bin/sh\n" % (k, i) for i in range(30000))
        d = tar_bytes("etc/passwd", pw)
        ti = tarfile.TarInfo("fs%02d.tar" % k); ti.size = len(d); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(d))
PY
run "scan 1.2M findings (flood)" "$bin" scan -q --format json -o "$tmp/r.json" "$tmp/flood.tar.gz"

python3 - "$tmp/many.cpio" <<'PY'
import sys
sys.path.insert(0, "bench")
import entries
entries.cpio(sys.argv[1], 200000)
PY
"$bin" keygen -o "$tmp/key" >/dev/null
"$bin" scan -q --sign "$tmp/key" -o "$tmp/env.json" "$tmp/many.cpio"
echo "  (envelope of $(stat -c %s "$tmp/env.json") bytes)"
run "verify 90 MB envelope, sig + parse" "$bin" verify -q --key "$tmp/key.pub" \
  --max-report-mib 70 "$tmp/env.json" crates/assay/tests/fixtures/hostile/sparse-trap.ext4.xz
