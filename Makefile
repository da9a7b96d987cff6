# Two commands on a fresh machine: `make test` (everything CI runs) and `make demo`.
.PHONY: test demo bench package setup fmt

test:
	bash tests/run-tests.sh

setup:
	bash tests/setup.sh

fmt:
	cargo fmt --all

bench:
	bash tests/run-bench.sh

package:
	bash tests/package.sh

demo:
	@echo "make demo: the local cloud (emulated AWS + simulated WEKA fleet) is not built yet; see README (Two commands)." >&2
	@exit 1
