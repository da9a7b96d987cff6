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

# AWS CLI v2, as the seed's users have it: its helper commands use v2-only flags
# (`--cli-binary-format`), and the local cloud runs them verbatim. The venv's awscli (PyPI) is
# v1, which the simulated hosts run. Debian's `awscli` package is v2.
aws_v2() {
  local aws
  for aws in /usr/local/bin/aws /usr/bin/aws; do
    [ -x "$aws" ] && "$aws" --version 2>&1 | grep -q '^aws-cli/2' && { echo "$aws"; return 0; }
  done
  return 1
}
if ! aws_v2 >/dev/null; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing AWS CLI v2 (Debian package awscli)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli >/dev/null 2>&1 || {
      DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q awscli >/dev/null
    } || { echo "setup: could not install AWS CLI v2 with apt-get (package awscli)" >&2; exit 1; }
  fi
  aws_v2 >/dev/null || {
    echo "setup: AWS CLI v2 is required at /usr/bin/aws or /usr/local/bin/aws (Debian: apt-get install awscli; elsewhere: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)" >&2
    exit 1
  }
fi
