# The two commands the README leads with.
.PHONY: setup quickstart test test-fast bench

setup:
	bash scripts/setup.sh

quickstart: setup
	.venv/bin/python -m masktrack_d2.quickstart

# Passive OpenMP waiting: some tests run several torch processes on few cores, where spinning
# threads slow each other down by an order of magnitude.
test: setup
	OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q

test-fast:
	OMP_WAIT_POLICY=PASSIVE .venv/bin/python -m pytest -q -m "not slow"

bench:
	.venv/bin/python benchmarks/run_all.py
