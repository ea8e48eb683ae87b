#!/usr/bin/env bash
# What Assay reads of each RTOS sample (bench/rtos/cache/, see fetch.sh) and the CPU time of
# `assay scan` on it: OS, version, kernel, arch, load address, symbol count, files unpacked.
#   bash bench/rtos/measure.sh [ASSAY_BINARY]     (default: target/release/assay)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ASSAY=${1:-$ROOT/target/release/assay}
for f in "$HERE"/cache/*; do
    [ -f "$f" ] || continue
    json=$(mktemp)
    t=$( { /usr/bin/time -f '%U %S' "$ASSAY" scan -q -f json -o "$json" --reproducible --as-of 2020-01-01 "$f" ; } 2>&1 | tail -1)
    python3 - "$f" "$json" "$t" <<'PY'
import json, os, sys
path, report, times = sys.argv[1], sys.argv[2], sys.argv[3].split()
r = json.load(open(report))
cpu = sum(float(x) for x in times)
files = sum(1 for n in r["nodes"] if n["kind"] == "file")
print(f"{os.path.basename(path)}: {r['image']['size']} bytes, scan {cpu:.2f} CPU-s, {len(r['nodes'])} nodes, {files} files")
for n in r["nodes"]:
    d = n.get("details", {})
    if "os" in d:
        keys = ["version", "kernel", "build_date", "arch", "endianness", "load_address",
                "entry_point", "symbols", "symbol_table_offset"]
        facts = ", ".join(f"{k}={d[k]}" for k in keys if k in d)
        print(f"  {n['location']}: {d['os']} {facts}")
for c in r["components"]:
    if any(e["method"] == "os-image" for e in c["evidence"]):
        print(f"  component {c['name']} {c['version']} {c.get('cpe') or c['purl']}")
PY
    rm -f "$json"
done
