#!/usr/bin/env bash
# Start or stop the patched moto server on loopback, tracked by pid, for the shell pipelines
# (tests/harness.py does the work, as for the Python harnesses).
#   tests/emulator/moto.sh start <run-dir>   -> writes <run-dir>/moto.pid, <run-dir>/moto.port
#   tests/emulator/moto.sh stop <run-dir>    -> stops only the pid it started
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$root/.venv}
exec "$venv/bin/python" "$root/tests/harness.py" moto "$@"
