#!/usr/bin/env bash
# Every test Circle has, in one command (the README's "test it"; CI runs this).
#
#   infra/scripts/test.sh            # everything
#   infra/scripts/test.sh --quick    # Rust only: fmt, clippy, cargo test
#
# Steps: the house rules (infra/scripts/check-modules.py); formatting and lints; the Rust tests (core invariants and concurrency,
# group API, local stack end to end over real WebSockets, Lambda events and
# template checks); the deploy checks (cfn-lint, sam validate, arm64 Lambda
# build, cargo lambda smoke test); the browser test (Debian chromium driven by
# playwright-core); and a benchmark smoke run that fails on invariant violations.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
export RUST_BACKTRACE=0 CARGO_TERM_COLOR=never

step() { printf '\n==== %s (%ss elapsed)\n' "$1" "$SECONDS"; }
# Test runner output is kept so the last line can sum it up.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
summary() {
  local rust node
  rust=$({ grep -oE 'test result: ok\. [0-9]+ passed' "$results" || true; } | awk '{s += $4} END {print s + 0}')
  node=$({ grep -oE '^ℹ pass [0-9]+' "$results" || true; } | awk '{s += $3} END {print s + 0}')
  echo "tests: $((rust + node)) passed, 0 failed"
}

step "house rules: no import cycles, no file over 600 lines, each file says what it is for"
python3 infra/scripts/check-modules.py

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test"
cargo test --workspace --all-features 2>&1 | tee -a "$results"

# Lambda may run one connection's frames concurrently; the emulator does so
# with --concurrent-frames. The end-to-end suites run again in that mode (the
# chaos run always uses it).
step "end-to-end suites with concurrent frames"
CIRCLE_CONCURRENT_FRAMES=1 cargo test -p circle-tests --features e2e --test e2e -- ws:: part2:: fidelity:: 2>&1 | tee -a "$results"

# The same invariants with AWS's behaviour simulated (`--aws-sim`: latency,
# TransactionConflict, per-partition throughput, cold starts): the concurrency
# suite and the chaos run again.
step "concurrency and chaos with the AWS simulation"
CIRCLE_AWS_SIM=1 cargo test -p circle-tests --features e2e --test core --test e2e -- concurrency:: chaos:: 2>&1 | tee -a "$results"

if [ "$quick" = 1 ]; then
  step "done (quick)"
  summary
  exit 0
fi

step "deploy checks"
infra/scripts/check-deploy.sh

step "browser test"
tests/browser/run.sh 2>&1 | tee -a "$results"

step "benchmark smoke (fails on errors or invariant violations, not timings)"
cargo build -p circle-local -p circle-bench
cargo run -q -p circle-bench -- --spawn-stack --smoke

step "all tests passed"
summary
