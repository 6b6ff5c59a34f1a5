#!/usr/bin/env bash
# Circle's browser tests: Debian's chromium driven by playwright-core against the
# local stack (circle-local --memory) on a free 127.0.0.1 port.
#
#   tests/browser/run.sh                                  every test file
#   tests/browser/run.sh part2.test.mjs                   just the ones named
#   CIRCLE_LOCAL_BIN=/path/to/circle-local tests/browser/run.sh
#                                                         that binary; no cargo build
#
# circle.test.mjs drives the page against the stack; protocol.test.mjs drives the
# page's Part 2 screens against a stand-in for the README's protocol (the stack
# only serves the page); part2.test.mjs is the Part 2 flows end to end against
# the real server. The stack runs with a short resume grace (GRACE_S, 3 s) and a
# short round "minute" (ROUND_MINUTE_S, 2 s) so that dropped seats and timed
# rounds play out in seconds; the page learns both from the server's events.
#
# Screenshots land in tests/artifacts/screens/, the stack's log in
# tests/artifacts/circle-local.log. Never downloads a browser.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
artifacts="$root/tests/artifacts"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# 1. Debian's chromium (never a downloaded one).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium from Debian"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium >/dev/null
fi

# 2. playwright-core, exactly as locked.
echo "== npm ci"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

# 3. The local stack (CIRCLE_LOCAL_BIN: a binary built elsewhere; no build here).
if [ -n "${CIRCLE_LOCAL_BIN:-}" ]; then
  bin="$CIRCLE_LOCAL_BIN"
  [ -x "$bin" ] || { echo "CIRCLE_LOCAL_BIN=$bin is not an executable" >&2; exit 1; }
else
  echo "== cargo build -p circle-local"
  (cd "$root" && cargo build -q -p circle-local)
  bin="${CARGO_TARGET_DIR:-$root/target}/debug/circle-local"
fi
echo "== stack: $bin"

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
mkdir -p "$artifacts/screens"
rm -f "$artifacts"/screens/*.png
log="$artifacts/circle-local.log"
if [ "$#" -gt 0 ]; then tests=("$@"); else tests=(); for f in "$here"/*.test.mjs; do tests+=("$(basename "$f")"); done; fi
grace_s=3
round_minute_s=2
stack_args=(--port "$port" --memory --web-dir "$root/web" --resume-grace "${grace_s}s" --round-minute "${round_minute_s}s")
"$bin" "${stack_args[@]}" >"$log" 2>&1 &
stack_pid=$!
cleanup() {
  if kill -0 "$stack_pid" 2>/dev/null; then
    kill "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

url="http://127.0.0.1:$port"
echo "== waiting for $url (pid $stack_pid)"
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "$url/config.json" 2>/dev/null; do
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    echo "circle-local exited early; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "circle-local did not answer within 60 s; its log:" >&2
    tail -50 "$log" >&2
    exit 1
  fi
  sleep 0.2
done

# 4. The test, with Node's own runner (prints its pass/fail summary).
echo "== node --test"
cd "$here"
CIRCLE_URL="$url" SCREENS_DIR="$artifacts/screens" GRACE_S="$grace_s" ROUND_MINUTE_S="$round_minute_s" \
  node --test --test-reporter=spec --test-timeout=300000 "${tests[@]}"
