# Two commands on a fresh machine: `make test` (everything CI runs) and `make demo`.
# `make check` is the fast tier (no emulator) for the edit-compile-test loop.
.PHONY: test check demo bench package setup fmt

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
