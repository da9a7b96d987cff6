#!/usr/bin/env bash
# Everything CI runs (`make test`): the fast tier (tests/check.sh: formatting, lints,
# unit/handler/property tests) with the emulator tests against moto, then doc tests, the
# moto patches, the state machine in moto, the local-cloud e2e, migration and fault scenarios
# and the Terraform checks.
# Prints the number of tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export VENV=${VENV:-$root/.venv}
# A clean clone never reuses incremental caches: they would cost a third of the target dir
# (1.6 GB) and build time for nothing.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
tests/disk-space.sh
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/weka-test.XXXXXX")
static_pid=""
apply_pid=""
cleanup() {
  if [ -n "$static_pid" ]; then kill "$static_pid" 2>/dev/null || true; fi
  if [ -n "$apply_pid" ]; then kill "$apply_pid" 2>/dev/null || true; fi
  tests/emulator/moto.sh stop "$run_dir" || true
  rm -rf "$run_dir"
}
trap cleanup EXIT

step() { printf '\n==> [%4ss] %s\n' "$SECONDS" "$*"; }

step "starting moto (patched, loopback)"
tests/setup.sh
tests/emulator/moto.sh start "$run_dir"
export WEKA_TEST_AWS_ENDPOINT="http://127.0.0.1:$(cat "$run_dir/moto.port")"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# An emulator test that finds no emulator fails here instead of skipping.
export WEKA_TEST_REQUIRE_EMULATOR=1

# The Terraform static checks need no Rust build and no emulator: they run beside the build
# and the Rust tests (one core of terraform and checkov against two of cargo), and are waited
# for below.
if [ -x infra/tests/static.sh ]; then
  step "terraform static checks, in the background (infra/tests/static.sh; waited for after the fault scenarios)"
  infra/tests/static.sh >"$run_dir/static.log" 2>&1 &
  static_pid=$!
fi

NEXTEST_PROFILE=ci NEXTEST_LOG="$run_dir/nextest.log" tests/check.sh
export PATH="$VENV/bin:$PATH"

step "cargo test --doc"
cargo test --doc --workspace --all-features --locked 2>&1 | tee "$run_dir/doctest.log"

# The binaries the state machine, e2e and fault steps run, built with the features nextest
# resolved (the tests' dev-dependencies turn on tokio's `test-util`): every dependency is already
# compiled, only the binaries link. A build without `--all-features --tests` would rebuild the SDK.
step "the debug binaries of the local-cloud steps (cargo build --workspace --all-features --bins --tests)"
cargo build --locked --workspace --all-features --bins --tests
export LOCALCLOUD_PREBUILT=1

step "Auto Scaling lifecycle hooks, Lambda and IAM enforcement in the patched moto (tests/emulator/LIFECYCLE.md, moto_iam.py); the cold start harness"
"$VENV/bin/python" -m unittest tests/emulator/test_moto_lifecycle.py tests/emulator/test_moto_server.py \
  tests/emulator/test_moto_instances.py tests/localcloud/test_reachability.py tests/emulator/test_moto_iam.py tests/emulator/test_moto_dynamodb.py tests/emulator/test_moto_acm.py \
  tests/localcloud/test_sandbox.py tests/localcloud/test_timeline.py tests/bench/test_coldstart.py tests/test_release_manifest.py tests/test_harness.py

step "scale state machine in moto's Step Functions interpreter with the real Lambda binaries"
"$VENV/bin/python" tests/emulator/sfn_scale.py --no-build

step "end-to-end scenarios on the local cloud (tests/localcloud, README \"The local cloud\")"
tests/localcloud/run.sh e2e --bootstrap-grace-minutes 2

step "switching a deployment of WEKA's module to this module on the local cloud: plan, apply, adopt, scale-out, self-heal (tests/localcloud/migration.py, MIGRATION.md)"
tests/localcloud/run.sh migration --bootstrap-grace-minutes 1 --down-removal-timeout 10s

step "fault scenarios on the local cloud, in a private subnet without NAT (tests/localcloud/faults.py, README \"Fault scenarios\")"
tests/localcloud/run.sh faults --bootstrap-grace-minutes 2 --private-subnet

if [ -n "$static_pid" ]; then
  step "terraform static checks (started in the background)"
  status=0
  wait "$static_pid" || status=$?
  static_pid=""
  if [ "$status" -ne 0 ]; then
    cat "$run_dir/static.log"
    echo "terraform static checks failed (exit $status)" >&2
    exit 1
  fi
  grep -E '^\[static\]' "$run_dir/static.log" | tail -4
fi
# The two applies against moto wait mostly on their own moto server (one each): side by side.
step "terraform apply/drift/destroy against moto (default configuration, in the background) and drift of the full-featured configuration (ALB with its self-signed certificate, OBS, NFS/SMB/S3 gateways, client)"
infra/tests/apply_moto.sh >"$run_dir/apply_moto.log" 2>&1 &
apply_pid=$!
drift_status=0
infra/tests/drift_moto.sh || drift_status=$?
apply_status=0
wait "$apply_pid" || apply_status=$?
apply_pid=""
cat "$run_dir/apply_moto.log"
if [ "$drift_status" -ne 0 ] || [ "$apply_status" -ne 0 ]; then
  echo "terraform against moto failed (apply_moto exit $apply_status, drift_moto exit $drift_status)" >&2
  exit 1
fi

tests_run=$(grep -Eo '[0-9]+ tests? run' "$run_dir/nextest.log" | tail -1 | grep -Eo '^[0-9]+')
doc_run=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$run_dir/doctest.log" | awk '{s+=$4} END {print s+0}')
printf '\n==> [%4ss] all checks passed: %s tests run by nextest, %s doc tests\n' "$SECONDS" "${tests_run:-?}" "${doc_run:-0}"
