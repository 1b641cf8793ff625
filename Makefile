# The two commands the README leads with.
.PHONY: setup quickstart test test-fast bench gpu-check

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

# On a machine with a CUDA GPU: CUDA tests, R-50 training (AMP and fp32), inference, demo.
gpu-check:
	bash tools/gpu_check.sh
