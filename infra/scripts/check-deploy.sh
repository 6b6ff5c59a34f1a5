#!/usr/bin/env bash
# Checks the AWS deploy path without an AWS account or Docker:
#
#   1. a venv (.venv) with pinned aws-sam-cli, cfn-lint and cargo-lambda (+ zig);
#   2. cfn-lint and `sam validate --lint` on template.yaml, and what SAM's own
#      providers load from it (infra/scripts/sam_providers_check.py): every
#      function for `sam build` / `sam local invoke`, the HTTP API routes, and
#      `sam local start-api` failing on the WebSocket route keys; and what SAM's
#      translator renders from it for each AllowedOrigins
#      (infra/scripts/sam_translate_check.py): the HTTP API's CORS a whole object,
#      its routes public without a `sam deploy --guided` question each, a log
#      group per function, the timer queue's visibility;
#   3. functions/tests: the template matches the code (routes,
#      binaries, tables, IAM) and every file in events/ runs through its handler
#      against the embedded DynamoDB;
#   4. a smoke test through the real Lambda runtime API: `cargo lambda watch`
#      (runtime emulator), the function binaries polling it, an embedded DynamoDB
#      and a recording @connections endpoint (functions/examples/smoke_backend.rs),
#      and `cargo lambda invoke` with the $connect, join_group, $disconnect and
#      POST /groups events;
#   5. `cargo lambda build --release --arm64 --output-format zip` of all functions
#      in one cargo invocation, printing each bootstrap.zip size; fails if
#      any arm64 zip is 2,300,000 bytes or more.
#
#   infra/scripts/check-deploy.sh [--no-release]
#
# Env: CIRCLE_VENV (default .venv), CIRCLE_LAMBDA_ARCH (arm64 | x86-64; default
# arm64). The arm64 build needs the aarch64-unknown-linux-gnu Rust target
# (`rustup target add aarch64-unknown-linux-gnu`); without it the script builds
# for x86-64 instead (sizes are comparable) and says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

# Pinned tools.
SAM_CLI_VERSION=1.170.0
# The translator that SAM CLI 1.170.0 requires (it renders the template on deploy).
SAM_TRANSLATOR_VERSION=1.115.0
CFN_LINT_VERSION=1.58.0
CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.17.1
pins="aws-sam-cli==$SAM_CLI_VERSION aws-sam-translator==$SAM_TRANSLATOR_VERSION cfn-lint==$CFN_LINT_VERSION cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIGLANG_VERSION"

release=1
for arg in "$@"; do
  case "$arg" in
    --no-release) release=0 ;;
    *) echo "usage: $0 [--no-release]" >&2; exit 2 ;;
  esac
done

venv="${CIRCLE_VENV:-$root/.venv}"
export PATH="$venv/bin:$PATH"
export AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
# Never touch a real account: no profile, no credentials from the host.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

t0=$(date +%s)
step_start=$t0
step() {
  local now; now=$(date +%s)
  [ "$step_start" = "$t0" ] || echo "   ($(( now - step_start )) s)"
  step_start=$now
  printf '\n== %s\n' "$*"
}

step "tools: $pins"
if [ "$(cat "$venv/.circle-pins" 2>/dev/null)" != "$pins" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" \
    || { echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  # shellcheck disable=SC2086 # the pins are separate words
  "$venv/bin/pip" install --quiet --disable-pip-version-check $pins
  echo "$pins" > "$venv/.circle-pins"
fi
sam --version
cfn-lint --version
cargo lambda --version

step "cfn-lint template.yaml"
cfn-lint template.yaml
step "sam validate --lint"
sam validate --lint --template template.yaml
# docs/deploy.md says what `sam build`, `sam local invoke` and `sam local
# start-api` do with this template; this runs SAM's own template readers (no
# Docker) so that stays true when the template or the pinned SAM changes.
step "SAM's providers on template.yaml (sam build / local invoke / local start-api)"
"$venv/bin/python" infra/scripts/sam_providers_check.py template.yaml
# What CloudFormation gets: SAM's translator on the template, offline, with
# AllowedOrigins empty and set (the CORS of aws/serverless-application-model#1515).
step "SAM's translator on template.yaml (CORS, routes, log groups, timer queue)"
"$venv/bin/python" infra/scripts/sam_translate_check.py template.yaml

# Same package and feature selection as the workspace test run (test.sh), so
# that after it nothing here recompiles.
step "cargo test: functions/tests/{template,events}.rs"
cargo test --workspace --all-features --test template --test events
# That (debug) build also holds the function binaries and the smoke backend.
cargo build --workspace --all-features --bins --examples
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

step "smoke test: cargo lambda watch + cargo lambda invoke"
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Polls `cond` (a command) every 0.1 s for at most `secs` seconds.
wait_for() {
  local secs=$1; shift
  local i
  for i in $(seq 1 $(( secs * 10 ))); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  return 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
dump_logs() { for f in "$work"/*.log; do [ -f "$f" ] || continue; echo "--- $f"; tail -n 40 "$f"; done; }
fail() { echo "FAIL: $*" >&2; dump_logs >&2; exit 1; }

export GROUPS_TABLE=smoke-groups CONNECTIONS_TABLE=smoke-connections
"$target_dir/debug/examples/smoke_backend" > "$work/backend.log" 2>&1 &
pids+=($!)
wait_for 60 grep -q '^READY$' "$work/backend.log" || fail "the smoke backend did not start"
dynamodb_url=$(sed -n 's/^DYNAMODB=//p' "$work/backend.log")
connections_url=$(sed -n 's/^CONNECTIONS=//p' "$work/backend.log")
echo "embedded DynamoDB at $dynamodb_url, @connections at $connections_url"

port=$(free_port)
cargo-lambda lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$port" \
  --manifest-path functions/Cargo.toml > "$work/watch.log" 2>&1 &
pids+=($!)
wait_for 60 port_open "$port" || fail "cargo lambda watch did not listen on $port"
echo "cargo lambda watch (runtime API emulator) on 127.0.0.1:$port"

# The functions, configured as on AWS except for endpoints and credentials.
start_function() {
  local bin=$1
  env AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt/$bin" \
    AWS_LAMBDA_FUNCTION_NAME="$bin" AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=smoke AWS_SECRET_ACCESS_KEY=smoke AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE="$work/no-config" AWS_SHARED_CREDENTIALS_FILE="$work/no-credentials" \
    AWS_ENDPOINT_URL_DYNAMODB="$dynamodb_url" CONNECTIONS_ENDPOINT="$connections_url" \
    WS_URL="ws://127.0.0.1:1/smoke" LOG_LEVEL=info \
    "$target_dir/debug/$bin" > "$work/$bin.log" 2>&1 &
  pids+=($!)
}
for bin in ws-connect ws-join-group ws-disconnect http-api; do start_function "$bin"; done

# invoke FUNCTION EVENT_FILE EXPECTED_STATUS
invoke() {
  local out status
  out=$(timeout 120 cargo-lambda lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$port" \
    --data-file "events/$2" --output-format json) || fail "invoking $1 with events/$2"
  status=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("statusCode"))') \
    || fail "$1 answered something that is not JSON: $out"
  [ "$status" = "$3" ] || fail "$1 with events/$2 answered $status, expected $3: $out"
  echo "ok  $1 <- events/$2: statusCode $status"
}
connection=$(python3 -c 'import json; print(json.load(open("events/ws-connect.json"))["requestContext"]["connectionId"])')
invoke ws-connect ws-connect.json 200
invoke ws-join-group ws-join-group.json 200
grep -qF "POST $connection {\"event\":\"waiting\"" "$work/backend.log" \
  || fail "join_group did not post a waiting event to $connection through @connections"
echo "ok  the joiner got a waiting event through @connections"
invoke ws-disconnect ws-disconnect.json 200
invoke http-api http-create-group.json 201
cleanup
pids=()
trap - EXIT

if [ "$release" = 1 ]; then
  arch="${CIRCLE_LAMBDA_ARCH:-arm64}"
  if [ "$arch" = arm64 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    echo "WARNING: the aarch64-unknown-linux-gnu Rust target is not installed" \
      "(rustup target add aarch64-unknown-linux-gnu); building for x86-64 to measure instead." >&2
    arch=x86-64
  fi
  step "cargo lambda build --release --$arch --output-format zip (all functions, one cargo run)"
  build_start=$(date +%s)
  cargo-lambda lambda build --release "--$arch" --output-format zip --manifest-path functions/Cargo.toml
  echo "release build: $(( $(date +%s) - build_start )) s"
  # Lambda cold start grows with the package (docs/deploy.md, "Package size").
  # The limit is for the arm64 artifacts that are deployed; an x86-64 fallback
  # build only reports. Every binary in functions/src/bin is a function.
  limit=2300000
  over=()
  for src in functions/src/bin/*.rs; do
    bin=$(basename "$src" .rs)
    zip="$target_dir/lambda/$bin/bootstrap.zip"
    [ -f "$zip" ] || fail "no artifact $zip"
    size=$(stat -c %s "$zip")
    awk -v b="$bin" -v s="$size" -v a="$arch" 'BEGIN { printf "%-16s %9d bytes  %5.2f MB  (%s)\n", b, s, s / 1e6, a }'
    [ "$size" -lt "$limit" ] || over+=("$bin")
  done
  if [ "${#over[@]}" -gt 0 ]; then
    if [ "$arch" = arm64 ]; then
      fail "bootstrap.zip of ${over[*]} is $limit bytes or more"
    fi
    echo "WARNING: ${over[*]} over $limit bytes on $arch; the limit is checked on arm64" >&2
  fi
fi

step "done"
echo "check-deploy: $(( $(date +%s) - t0 )) s in all"
