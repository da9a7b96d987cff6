#!/usr/bin/env bash
# The fast tier (`make check`): formatting, lints, and the unit, handler, planner, script and
# contract tests, with no emulator. `make test` runs it with NEXTEST_PROFILE=ci and moto up, so
# the emulator tests run too. NEXTEST_LOG, when set, receives nextest's output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export VENV=${VENV:-$root/.venv}
profile=${NEXTEST_PROFILE:-default}
log=${NEXTEST_LOG:-/dev/null}

step() { printf '\n==> [%4ss] %s\n' "$SECONDS" "$*"; }

step "setup"
tests/setup.sh
export PATH="$VENV/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "cargo nextest (profile $profile)"
cargo nextest run --workspace --all-features --locked --profile "$profile" 2>&1 | tee "$log"

step "check passed"
