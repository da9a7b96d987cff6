#!/usr/bin/env bash
# Says, before anything is built, whether the disk holding the cargo target dir has room for
# `make test` (a clean run peaks near 5 GB there). A build that runs out of disk ends in a
# linker "Bus error" that names no cause; this names it first. A warning, not a failure: the
# figure is a measurement of this repository's build, not a hard limit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
need_gib=${WEKA_TEST_DISK_GIB:-8}
target=${CARGO_TARGET_DIR:-$root/target}
probe=$target
while [ ! -d "$probe" ]; do probe=$(dirname "$probe"); done
free_kib=$(df -Pk "$probe" | awk 'NR == 2 { print $4 }')
free_gib=$((free_kib / 1024 / 1024))
if [ "$free_gib" -lt "$need_gib" ]; then
  echo "disk-space: WARNING: ${free_gib} GiB free on the disk of $target; make test needs about ${need_gib} GiB (a full disk shows up as a linker 'Bus error')" >&2
else
  echo "disk-space: ${free_gib} GiB free on the disk of $target (make test needs about ${need_gib} GiB)"
fi
