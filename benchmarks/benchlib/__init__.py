"""Helpers shared by the benchmarks, one module per job:

* :mod:`.env`: paths, the common command-line arguments, torch threads and device;
* :mod:`.models`: MaskTrack and plain Mask R-CNN configs, seeded random models with
  calibrated backbone norms, weight copying, a tracker that keeps every detection;
* :mod:`.video`: a generated moving-shapes video (in memory or as JPEGs) and its model inputs;
* :mod:`.timing`: per-stage wall time through wrapped methods, medians;
* :mod:`.memory`: peak / current RSS, and benchmark children run in fresh interpreters;
* :mod:`.report`: markdown tables, the environment line, result files and plots.

Benchmarks report ratios measured in one run (interleaved, repeated, medians), which is what
stays meaningful on a shared 2-core machine.
"""
import os

# Before torch is imported (libgomp reads it once): waiting OpenMP threads sleep instead of
# spinning. On a 2-core machine shared with other jobs the default (spinning) policy makes
# every parallel region wait for a descheduled partner thread: 2 threads ran 4-10x slower
# than 1 thread there, and tiny ops (the tracker's) took 50-80 ms instead of 0.5 ms.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
