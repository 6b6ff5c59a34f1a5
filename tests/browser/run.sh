#!/usr/bin/env bash
# Circle's browser test: Debian's chromium driven by playwright-core against the
# local stack (circle-local --memory) on a free 127.0.0.1 port.
#
#   tests/browser/run.sh                   circle.test.mjs and protocol.test.mjs
#   CIRCLE_PART2=1 tests/browser/run.sh    also part2.test.mjs (needs the Part 2 server)
#
# circle.test.mjs drives the page against the stack; protocol.test.mjs drives the
# page's Part 2 screens against a stand-in for the README's protocol (the stack
# only serves the page); part2.test.mjs is the Part 2 flows end to end against
# the real server, run with a short resume grace.
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

# 3. The local stack.
echo "== cargo build -p circle-local"
(cd "$root" && cargo build -q -p circle-local)
bin="${CARGO_TARGET_DIR:-$root/target}/debug/circle-local"

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
mkdir -p "$artifacts/screens"
rm -f "$artifacts"/screens/*.png
log="$artifacts/circle-local.log"
tests=(circle.test.mjs protocol.test.mjs)
stack_args=(--port "$port" --memory)
grace_s=30
if [ "${CIRCLE_PART2:-}" = 1 ]; then
  grace_s=3
  tests+=(part2.test.mjs)
  stack_args+=(--resume-grace "${grace_s}s")
fi
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
CIRCLE_URL="$url" SCREENS_DIR="$artifacts/screens" GRACE_S="$grace_s" \
  node --test --test-reporter=spec --test-timeout=300000 "${tests[@]}"
