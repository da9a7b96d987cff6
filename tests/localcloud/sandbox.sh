#!/usr/bin/env bash
# `make up`: runs the demo's story, then leaves the local cloud running (control plane, clock,
# fleet) and prints what to export to use it with the AWS CLI; `make down` stops it by pid.
#   tests/localcloud/sandbox.sh up [demo.py flags...] | down | env
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
dir=${SANDBOX_DIR:-$root/target/localcloud/sandbox}
pid_file=$dir/pid
env_file=$dir/run/sandbox.env
# What runs the local cloud (the tests put a stand-in here).
runner=${SANDBOX_RUNNER:-tests/localcloud/run.sh}

running() { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

instructions() {
  echo
  echo "The local cloud is up. In your shell:"
  echo "  source $env_file"
  echo "then run the seed's helper commands (terraform output in $dir/run/tf/infra/examples/local):"
  sed -n 's/^/  /p' "$dir/helper-commands.txt"
  echo "or any aws command (aws autoscaling describe-auto-scaling-groups, ...). Stop it: make down"
}

case "${1:-}" in
up)
  shift
  if running; then
    echo "sandbox: already up (pid $(cat "$pid_file"))"
    instructions
    exit 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  : >"$dir/sandbox.log"
  # Its own session: `down` signals the whole group (run.sh, demo.py, the servers it started).
  setsid "$runner" up --run-dir "$dir/run" "$@" >"$dir/sandbox.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  echo "sandbox: starting (pid $(cat "$pid_file"); log $dir/sandbox.log); the demo's story runs first"
  tail -n +1 -f "$dir/sandbox.log" &
  tail_pid=$!
  while running && [ ! -f "$env_file" ]; do sleep 2; done
  kill "$tail_pid" 2>/dev/null || true
  if [ ! -f "$env_file" ]; then
    echo "sandbox: the local cloud did not come up; see $dir/sandbox.log" >&2
    exit 1
  fi
  sleep 1
  sed -n '/sandbox up:/,/make down/p' "$dir/sandbox.log" | sed '1d;$d' | sed 's/^  //' >"$dir/helper-commands.txt"
  instructions
  ;;
down)
  if ! running; then
    echo "sandbox: not running"
    rm -f "$pid_file"
    exit 0
  fi
  pid=$(cat "$pid_file")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "sandbox: pid $pid did not stop in 30 s; killing its group" >&2
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
  fi
  rm -f "$pid_file"
  echo "sandbox: stopped (pid $pid)"
  ;;
env)
  cat "$env_file"
  ;;
*)
  echo "usage: $0 up [demo flags] | down | env" >&2
  exit 2
  ;;
esac
