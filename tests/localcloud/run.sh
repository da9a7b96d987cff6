#!/usr/bin/env bash
# `make demo` (demo), `make up` (up), the e2e, fault-scenario and migration steps of `make test`
# (e2e, faults, migration): installs what the local cloud needs (pinned venv: moto, awscli,
# boto3), builds the debug binaries, then runs tests/localcloud/demo.py.
#   tests/localcloud/run.sh demo|up|e2e|faults|migration [demo.py flags...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export VENV=${VENV:-$root/.venv}
fail() { echo "local cloud: $*" >&2; exit 1; }
command -v terraform >/dev/null || fail "terraform is not installed (needs >= 1.9; see README)"
[ -d "${TF_PLUGIN_DIR:-/opt/tf-plugins}" ] || fail "no Terraform provider mirror at ${TF_PLUGIN_DIR:-/opt/tf-plugins}"
command -v unshare >/dev/null || fail "unshare (util-linux) is not installed"
command -v jq >/dev/null || fail "jq is not installed (the instance scripts need it)"
tests/setup.sh
# `make test` builds the binaries once, with the features its tests resolved (LOCALCLOUD_PREBUILT=1):
# a plain `cargo build` here would resolve tokio without the tests' `test-util` and rebuild the SDK.
if [ "${LOCALCLOUD_PREBUILT:-0}" != 1 ]; then
  echo "==> building the Lambdas, the operator's CLI and the WEKA simulator (debug)"
  cargo build --locked --workspace --bins
fi
# A private copy of the binaries: a later build into the shared target dir cannot swap them mid-run.
target=${CARGO_TARGET_DIR:-$root/target}
bin_dir=$(mktemp -d "$target/localcloud-bin.XXXXXX")
trap 'rm -rf "$bin_dir"' EXIT
for f in functions/*/; do cp "$target/debug/$(basename "$f")" "$bin_dir/"; done
cp "$target/debug/weka-sim" "$target/debug/wekactl-aws" "$bin_dir/"
# A setup failure (exit 75) gets one fresh attempt with new servers. (It was added for a
# CreateFunction whose answer Terraform lost and whose resend got 409; moto_server.py now gives
# an SDK resend the first attempt's answer.)
for attempt in 1 2; do
  rc=0
  "$VENV/bin/python" tests/localcloud/demo.py "$@" --bin-dir "$bin_dir" || rc=$?
  [ "$rc" -eq 75 ] && [ "$attempt" -eq 1 ] && { echo "local cloud: setup failed, retrying once" >&2; continue; }
  exit "$rc"
done
