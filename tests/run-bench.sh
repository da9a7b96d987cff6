#!/usr/bin/env bash
# `make bench`: prints registration cost (the store vs a one-write baseline on moto), scale-down
# planning time and the cold start of each function's release binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export VENV=${VENV:-$root/.venv}
tests/setup.sh
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/weka-bench.XXXXXX")
trap 'tests/emulator/moto.sh stop "$run_dir"; rm -rf "$run_dir"' EXIT
tests/emulator/moto.sh start "$run_dir"
export WEKA_TEST_AWS_ENDPOINT="http://127.0.0.1:$(cat "$run_dir/moto.port")"
echo "==> registration cost (N concurrent callers against a one-write baseline client, same run)"
cargo bench --locked -p weka-shared --features test-util --bench registration
echo "==> scale-down planning (decode + plan)"
cargo bench --locked -p weka-shared --features test-util --bench plan
echo "==> cold start (process start to the first invocation/next, release binaries; tests/bench/coldstart.py)"
cargo build --locked --release -p clusterize -p clusterize-finalization -p deploy -p fetch -p report \
  -p scale-down -p scale-fetch -p status -p terminate -p transient -p adopt -p certificate
# 40 starts each: medians of 12 moved by 0.1-0.3 ms between runs, as much as the margin to 1.5x.
"$VENV/bin/python" tests/bench/coldstart.py --starts 40 --bin-dir "${CARGO_TARGET_DIR:-$root/target}/release"
