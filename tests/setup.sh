#!/usr/bin/env bash
# Installs what `make test` and `make demo` need into the repository (idempotent), and fails
# with a clear message where a tool that cannot be installed from here is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is required but not installed: $2" >&2; exit 1; }
}
need cargo "install Rust with rustup (https://rustup.rs)"
need python3 "install CPython 3.10 or newer"
need curl "install curl"
need jq "install jq (apt-get install jq)"
need bash "install bash"
cargo nextest --version >/dev/null 2>&1 || {
  echo "setup: cargo-nextest missing, installing it with cargo (one-off, a few minutes)" >&2
  cargo install cargo-nextest --locked
}

stamp="$venv/.requirements.sha"
want=$(sha256sum "$root/tests/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating $venv with pinned tools from tests/requirements.txt"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/tests/requirements.txt"
  echo "$want" >"$stamp"
fi
