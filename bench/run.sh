#!/usr/bin/env bash
# The full benchmark: release builds, then the embedded DynamoDB alone, the load
# run (1,000 clients, 50 groups, 20 messages each at 1,000/s), 10,000 idle
# sockets, and the criterion CPU benchmarks. Each stack run starts its own
# circle-local (--memory, free port) and stops it by PID.
#
#   bench/run.sh                 # everything; reports in target/bench/
#   bench/run.sh --clients 200   # extra flags go to the load run
#   SKIP_CRITERION=1 bench/run.sh
#
# Exits non-zero when any run had errors or invariant violations (never on timings).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-target/bench}
mkdir -p "$OUT"
# 10,000 sockets in each of two processes (the bench and the stack it spawns).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files: $(ulimit -n)"

cargo build --release -p circle-local -p circle-bench || exit 2
BENCH=target/release/circle-bench
STACK=target/release/circle-local
status=0

"$BENCH" --mode dynamo --json "$OUT/dynamo.json" | tee "$OUT/dynamo.txt" || status=1
"$BENCH" --mode load --spawn-stack --stack-bin "$STACK" --stack-log "$OUT/stack-load.log" \
  --json "$OUT/load.json" "$@" | tee "$OUT/load.txt" || status=1
"$BENCH" --mode idle --spawn-stack --stack-bin "$STACK" --stack-log "$OUT/stack-idle.log" \
  --connections "${IDLE_CONNECTIONS:-10000}" --json "$OUT/idle.json" | tee "$OUT/idle.txt" || status=1
if [ -z "${SKIP_CRITERION:-}" ]; then
  cargo bench -p circle-bench --bench handlers | tee "$OUT/criterion.txt" || status=1
fi
echo "reports: $OUT/{dynamo,load,idle}.{json,txt} criterion.txt"
exit $status
