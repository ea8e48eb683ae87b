#!/bin/sh
# Run fuzz targets one after another for a bounded time each, on a stable toolchain, and
# print one summary line per target (seconds, executions, outcome). Usage:
#   ./run-all.sh SECONDS TARGET...      (no TARGET: every target of targets.txt, then driver)
# Logs go to logs/<target>.log, findings to artifacts/<target>/ (neither is committed).
set -u
cd "$(dirname "$0")"
secs=${1:?seconds per target}; shift
targets=${*:-$(grep -v '^#' targets.txt | awk 'NF {print $1}') driver}
mkdir -p logs
[ -d corpus ] || ./seed.sh > /dev/null
for t in $targets; do
    mkdir -p "corpus/$t"
    RUSTC_BOOTSTRAP=1 cargo fuzz build -s none -a "$t" > "logs/$t.build.log" 2>&1 ||
        { echo "$t build failed (logs/$t.build.log)"; continue; }
    started=$(date +%s)
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 > "logs/$t.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - started ))
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
    outcome=ok
    # Keep the binary that crashed: minimising needs it, and the next build replaces it.
    [ $rc -eq 0 ] || cp "target/x86_64-unknown-linux-gnu/release/$t" "artifacts/$t/fuzzer-at-crash"
    [ $rc -eq 0 ] || outcome="FOUND($(grep -o 'ERROR: libFuzzer: [a-z-]*\|panicked at [^ ]*' "logs/$t.log" | head -1)) $(grep -o 'artifacts/[^ ]*' "logs/$t.log" | tail -1)"
    echo "$t secs=$took execs=${execs:-?} $outcome"
done
