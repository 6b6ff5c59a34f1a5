#!/usr/bin/env bash
# Measures circle-local: start-up time, idle RSS, and RSS with N idle WebSocket
# connections (default 10,000). Release build, in-memory data, loopback only.
#
#   infra/scripts/measure.sh [connections] [port]
set -euo pipefail
count="${1:-10000}"
port="${2:-3999}"
cd "$(dirname "$0")/../.."

# Each side of every socket needs a descriptor: the stack and the client are
# separate processes, each needs about `count` plus a margin.
ulimit -n "$(( count + 1024 ))"

cargo build --release -p circle-local --bin circle-local --example idle_connections

log="$(mktemp)"
start_ns="$(date +%s%N)"
# Every socket comes from 127.0.0.1: no per-address socket cap for this run.
MAX_SOCKETS_PER_ADDRESS=0 ./target/release/circle-local --memory --port "$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

ready=""
for _ in $(seq 1 500); do   # at most ~5 s
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/config.json" 2>/dev/null; then
    ready="$(date +%s%N)"; break
  fi
  sleep 0.01
done
[ -n "$ready" ] || { echo "circle-local did not come up"; cat "$log"; exit 1; }
echo "start-up: $(( (ready - start_ns) / 1000000 )) ms to first HTTP answer (external, incl. process spawn)"
grep -m1 "ready in" "$log" || true

./target/release/examples/idle_connections "127.0.0.1:$port" "$count"

kill -TERM "$pid"
wait "$pid" || true
trap - EXIT
tail -n 2 "$log"
echo "warnings/errors logged: $(grep -cE 'WARN|ERROR' "$log" || true)"
rm -f "$log"
