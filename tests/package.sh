#!/usr/bin/env bash
# `make package`: one arm64 Lambda zip per function in target/lambda/<function>/bootstrap.zip,
# where the Terraform module looks by default, and the release the module consumes without a
# compiler: target/dist/<version>/ (<function>.zip, SHA256SUMS, manifest.json; version: the tag
# on HEAD, or RELEASE_VERSION). Prints each zip's size (goal: < 4 MB). Cutting a release: README
# "Releases".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export VENV=${VENV:-$root/.venv}
tests/setup.sh
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements-package.txt
export PATH="$VENV/bin:$PATH"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu || {
    echo "package: the aarch64-unknown-linux-gnu Rust target is missing and rustup could not add it" >&2
    exit 1
  }
fi
cargo lambda build --release --arm64 --locked --lambda-dir target/lambda -o zip
printf '\n%-28s %10s\n' function "zip bytes"
status=0
for dir in functions/*/; do
  name=$(basename "$dir")
  zip="target/lambda/$name/bootstrap.zip"
  [ -f "$zip" ] || { echo "package: $zip was not produced" >&2; status=1; continue; }
  size=$(stat -c %s "$zip")
  flag=""
  [ "$size" -lt 4194304 ] || flag="  (over the 4 MB goal)"
  printf '%-28s %10d%s\n' "$name" "$size" "$flag"
done
[ $status -eq 0 ] || exit $status
"$VENV/bin/python" tests/release_manifest.py --zips target/lambda --out target/dist \
  ${RELEASE_VERSION:+--version "$RELEASE_VERSION"}
