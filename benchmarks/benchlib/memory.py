"""Memory: this process's peak / current RSS, and children run in fresh interpreters (each
memory number is the peak RSS of its own process)."""
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, Optional, Sequence

from .env import ROOT

def peak_rss_mb() -> float:
    """Peak resident set size of this process so far: VmHWM of /proc/self/status.

    Not ``ru_maxrss``: Linux keeps that across execve, and a child started by subprocess
    (vfork + exec) starts with its parent's high-water mark - a child of a benchmark that
    holds two R-50 models reported the parent's 2.5 GB whatever it did. VmHWM belongs to the
    process's own address space, which exec replaces. ``ru_maxrss`` is the fallback off Linux.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2 ** 20


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


CHILD_TAG = "BENCH_CHILD_RESULT "


def child_result(obj: Dict) -> None:
    """Print a child's result (the parent reads the last such line)."""
    print(CHILD_TAG + json.dumps(obj), flush=True)


def run_child(script: str, child_args: Sequence[str], timeout: Optional[float] = None) -> Dict:
    """Run ``python script --child ...`` in a fresh interpreter; return the JSON it reported
    (its own peak RSS from :func:`peak_rss_mb` among it) plus ``child_wall_s``."""
    cmd = [sys.executable, script, "--child", *map(str, child_args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"child {cmd} failed with exit code {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(CHILD_TAG)]
    if not lines:
        raise RuntimeError(f"child {cmd} reported nothing:\n{proc.stdout[-2000:]}")
    out = json.loads(lines[-1][len(CHILD_TAG):])
    out["child_wall_s"] = wall
    return out
