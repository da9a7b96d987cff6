#!/usr/bin/env bash
# Start or stop the patched moto server on loopback, tracked by pid.
#   tests/emulator/moto.sh start <run-dir>   -> writes <run-dir>/moto.pid, <run-dir>/moto.port
#   tests/emulator/moto.sh stop <run-dir>    -> stops only the pid it started
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${VENV:-$root/.venv}
cmd=${1:?start|stop}
run_dir=${2:?run directory}
mkdir -p "$run_dir"

case "$cmd" in
start)
  port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # MOTO_PORT: moto's Step Functions interpreter calls AWS services back on this port.
  MOTO_PORT=${MOTO_CALLBACK_PORT:-$port} "$venv/bin/python" "$here/moto_server.py" -H 127.0.0.1 -p "$port" \
    >"$run_dir/moto.log" 2>&1 &
  echo $! >"$run_dir/moto.pid"
  echo "$port" >"$run_dir/moto.port"
  for _ in $(seq 1 200); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/moto-api/"; then
      curl -fs -X POST "http://127.0.0.1:$port/moto-api/config" \
        -d '{"stepfunctions":{"execute_state_machine":true}}' >/dev/null
      echo "moto server ready on 127.0.0.1:$port (pid $(cat "$run_dir/moto.pid"))"
      exit 0
    fi
    if ! kill -0 "$(cat "$run_dir/moto.pid")" 2>/dev/null; then
      echo "moto server exited during start; log:" >&2
      cat "$run_dir/moto.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "moto server did not answer on 127.0.0.1:$port within 20 s" >&2
  exit 1
  ;;
stop)
  if [ -f "$run_dir/moto.pid" ]; then
    pid=$(cat "$run_dir/moto.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$run_dir/moto.pid"
  fi
  ;;
*) echo "usage: $0 start|stop <run-dir>" >&2; exit 2 ;;
esac
