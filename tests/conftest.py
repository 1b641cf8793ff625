"""Test-session settings that must hold before torch runs its first kernel."""
import os

# oneDNN picks its convolution kernels by CPU. The mmdetection golden fixture
# (tests/test_mmdet_import.py) matches with AVX2 kernels; AVX-512 ones add in another order,
# and as many detections of its random-weight model are near-ties, 3 of its 4 cases kept a
# few other detections in some frames on an AVX-512 machine. Capping the instruction set (an
# explicit setting is kept) gives every machine the fixture's float path.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
