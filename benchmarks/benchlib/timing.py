"""Timing: device sync, medians, and per-stage wall time through wrapped methods."""
import statistics
import time
from typing import Dict, List, Sequence

def sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


class StageTimer:
    """Accumulates wall time per named stage through wrapped callables.

    ``wrap(obj, "attr", "stage", capture)`` replaces ``obj.attr`` (an instance method, a module's
    forward or a function in a module's namespace) by a timed wrapper; nested stages are
    subtracted from their parents so the stages add up to the total; ``capture`` keeps the
    stage's last output in ``captured``. ``restore()`` undoes the wrapping.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.totals: Dict[str, float] = {}
        self.captured: Dict[str, object] = {}  # last output of stages wrapped with capture
        self._stack: List[List[float]] = []  # per active stage: [child time]
        self._patched = []

    def reset(self) -> None:
        self.totals = {}

    def wrap(self, obj, attr: str, stage: str, capture: bool = False) -> None:
        orig = getattr(obj, attr)
        had_own = attr in getattr(obj, "__dict__", {})
        timer = self

        def timed(*a, **k):
            sync(timer.device)
            t0 = time.perf_counter()
            timer._stack.append([0.0])
            try:
                out = orig(*a, **k)
                if capture:
                    timer.captured[stage] = out
                return out
            finally:
                sync(timer.device)
                dt = time.perf_counter() - t0
                child = timer._stack.pop()[0]
                timer.totals[stage] = timer.totals.get(stage, 0.0) + dt - child
                if timer._stack:
                    timer._stack[-1][0] += dt

        setattr(obj, attr, timed)
        self._patched.append((obj, attr, orig, had_own))

    def restore(self) -> None:
        for obj, attr, orig, had_own in reversed(self._patched):
            if had_own or not hasattr(type(obj), attr):
                setattr(obj, attr, orig)
            else:
                delattr(obj, attr)
        self._patched = []
