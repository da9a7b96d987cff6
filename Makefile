# Two commands on a fresh machine: `make test` (everything CI runs) and `make demo`.
# `make check` is the fast tier (no emulator) for the edit-compile-test loop.
.PHONY: test check demo up down bench package setup fmt

test:
	bash tests/run-tests.sh

check:
	bash tests/check.sh

setup:
	bash tests/setup.sh

fmt:
	cargo fmt --all

bench:
	bash tests/run-bench.sh

package:
	bash tests/package.sh

demo:
	bash tests/localcloud/run.sh demo

# The demo's story, then the local cloud stays up for your own aws commands; `make down` stops it.
up:
	bash tests/localcloud/sandbox.sh up

down:
	bash tests/localcloud/sandbox.sh down
