# The two commands the README leads with.
.PHONY: setup quickstart test test-fast bench

setup:
	bash scripts/setup.sh

quickstart: setup
	.venv/bin/python -m masktrack_d2.quickstart

test: setup
	.venv/bin/python -m pytest -q

test-fast:
	.venv/bin/python -m pytest -q -m "not slow"

bench:
	.venv/bin/python benchmarks/run_all.py
