"""Paths, the arguments every benchmark takes, and torch's device and threads."""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
CACHE_DIR = os.path.join(ROOT, "output", "bench")  # generated inputs (git-ignored)
BASE_CONFIG = os.path.join(ROOT, "configs", "Base-MaskTrack-RCNN-FPN.yaml")
QUICKSTART_CONFIG = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")

def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def add_common_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="default: cuda if available, else cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: the cores this process may use)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    p.add_argument("--out-dir", default=RESULTS_DIR, help="where <name>.md/.json/.png go")
    p.add_argument("--seed", type=int, default=0)
    return p


def setup_torch(args) -> None:
    import torch

    if args.device is None:
        args.device = default_device()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads is None:
        args.threads = min(available_cores(), 16)
    torch.set_num_threads(args.threads)
