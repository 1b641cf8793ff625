"""Checks that compressed RLE strings are RLEs of their stated size, before pycocotools sees them.

pycocotools' C decoder trusts its input: a character outside the alphabet is read as some
number, a string ending inside a number reads past its end, and run lengths that do not add
up to height x width make ``mask.iou`` / ``mask.merge`` loop forever on a pair of masks whose
boxes overlap (the official evaluator included). So every mask is checked here first.

Two implementations give the same verdicts and areas:

- the C extension ``_rlecore`` (built by ``pip install`` where a C compiler exists): one pass
  per string decodes it, checks every run and sums them;
- without it, pycocotools' own C routines (docs/evaluation.md, "Malformed input"): the area
  of the string R, then, with ``P`` the string plus one appended number X (2^20), the area and
  the bounding box of P:

  - ``area(P) - area(R)`` is the length of the appended run if it is a run of ones (the
    string had an odd number of runs), 0 otherwise;
  - ``toBbox`` of P relabelled as a single row (height 1) ends where the last run of ones
    ends: with the appended ones run, that is the sum of all original runs plus its length.

  So, for an odd number of runs, the sum of the run lengths is exact. For an even number (the
  mask ends with a run of ones), the box of the string itself ends where it ends, exact unless
  that final run of ones has length 0 (then one more), which an encoder never writes.

``MASKTRACK_D2_RLE_CORE=0`` in the environment selects the second (for comparisons).
"""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_util

try:
    from . import _rlecore
except ImportError:  # not compiled: the pycocotools path
    _rlecore = None

_ALPHABET = re.compile(r"[0-o]*[0-O]")  # 6-bit digits; the last one without continuation bit
_PROBE = "PPPP1"  # the number 2^20 in pycocotools' string code
_PROBE_VALUE = 1 << 20
_CHUNK = 255  # pycocotools' area()/toBbox() break on longer lists under NumPy 2
_MIN_PARALLEL_SCAN = 20000  # masks; below, check_rles does not split them over two threads


def _chunked(fn, objs):
    return np.concatenate([np.asarray(fn(objs[i:i + _CHUNK]), dtype=np.float64).reshape(
        -1, *([4] if fn is mask_util.toBbox else [])) for i in range(0, len(objs), _CHUNK)])


def rle_problems(objs: Sequence[Mapping]) -> List[Tuple[int, str]]:
    """Masks among ``objs`` (compressed RLE dicts with ``size`` [h, w] and str/bytes
    ``counts``) that are not valid RLEs of their size: ``[(index, reason), ...]``."""
    return check_rles(objs)[1]


def rle_core():
    """The compiled ``_rlecore`` module, or None where it is not built or
    ``MASKTRACK_D2_RLE_CORE=0``."""
    if os.environ.get("MASKTRACK_D2_RLE_CORE", "1") == "0":
        return None
    return _rlecore


def check_rles(objs: Sequence[Mapping]) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
    """:func:`rle_problems`, and the area of every mask (int64; 0 for the invalid ones),
    which the check computes anyway."""
    half = len(objs) // 2 if len(objs) >= _MIN_PARALLEL_SCAN else len(objs)
    with RLECheck() as check:
        check.add(objs[:half])
        check.add(objs[half:])
        return check.result()


class RLECheck:
    """:func:`check_rles` over masks given in pieces, in order.

    With the C extension, each piece is decoded in a background thread (the decoding runs
    without the GIL) while the caller goes on, e.g. collecting the next piece; two threads
    where two CPUs exist. Without it, the pieces are checked by :meth:`result`. Use it as a
    context manager, so that an error on the way stops the threads.
    """

    def __init__(self):
        self._core = rle_core()
        self._pool = None
        if self._core is not None:
            self._pool = ThreadPoolExecutor(2 if _cpus() >= 2 else 1)
        self._parts = []  # (piece, future or None)

    def add(self, objs: Sequence[Mapping]) -> None:
        objs = objs if type(objs) is list else list(objs)
        if self._pool is not None and all(type(o) is dict for o in objs):
            self._parts.append((objs, self._pool.submit(_check_rles_core, self._core, objs)))
        else:
            self._parts.append((objs, None))

    def __enter__(self) -> "RLECheck":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def result(self) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
        """(areas, problems) of all masks added, indexed in the order added."""
        areas, problems, offset = [], [], 0
        for objs, future in self._parts:
            a, p = future.result() if future is not None else _check_rles_pycocotools(objs)
            areas.append(a)
            problems.extend((offset + i, why) for i, why in p)
            offset += len(objs)
        if not areas:
            return np.zeros(0, dtype=np.int64), []
        return np.concatenate(areas), problems


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_rles_core(core, objs: List[dict]) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
    areas, totals, status = core.scan(objs)
    areas = np.frombuffer(areas, dtype=np.int64).copy()
    status = np.frombuffer(status, dtype=np.uint8)
    bad = np.flatnonzero(status)
    if not len(bad):
        return areas, []
    totals = np.frombuffer(totals, dtype=np.int64)
    areas[bad] = 0
    problems = []
    for i in bad.tolist():
        o = objs[i]
        code = int(status[i])
        if code == 1:
            why = "'counts' is not an ASCII string"
        elif code == 2:
            c = o["counts"]
            try:
                c = c.decode("ascii") if isinstance(c, bytes) else c
                why = (f"'counts' {_clip(c)} is not a compressed RLE string (characters "
                       "outside '0'..'o', or cut inside a number)")
            except UnicodeDecodeError:
                why = "'counts' is not an ASCII string"
        elif code == 3:
            why = f"bad 'size' {o['size']!r} (expected [height, width])"
        else:
            h, w = (int(v) for v in o["size"])
            why = (f"'counts' has a run length below 0 or above height x width = {h * w} "
                   f"(size {list(o['size'])})" if code == 4 else
                   f"'counts' run lengths add up to {int(totals[i])}, not height x width = "
                   f"{h * w} (size {list(o['size'])})")
        problems.append((i, why))
    return areas, problems


def _check_rles_pycocotools(objs: Sequence[Mapping]) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
    areas_out = np.zeros(len(objs), dtype=np.int64)
    problems: List[Tuple[int, str]] = []
    strings, sizes, where = [], [], []
    for i, o in enumerate(objs):
        c = o["counts"]
        if isinstance(c, bytes):
            try:
                c = c.decode("ascii")
            except UnicodeDecodeError:
                problems.append((i, "'counts' is not an ASCII string"))
                continue
        if not _ALPHABET.fullmatch(c):
            problems.append((i, f"'counts' {_clip(c)} is not a compressed RLE string "
                                "(characters outside '0'..'o', or cut inside a number)"))
            continue
        try:
            h, w = (int(v) for v in o["size"])
        except (TypeError, ValueError):
            problems.append((i, f"bad 'size' {o['size']!r} (expected [height, width])"))
            continue
        strings.append(c)
        sizes.append(h * w)
        where.append(i)
    if not strings:
        return areas_out, sorted(problems)
    hw = np.array(sizes, dtype=np.int64)
    plain = [{"size": [1, int(n)], "counts": s} for s, n in zip(strings, sizes)]
    probe = [{"size": [1, int(n) + _PROBE_VALUE * 2], "counts": s + _PROBE}
             for s, n in zip(strings, sizes)]
    area = _chunked(mask_util.area, plain)
    extra = _chunked(mask_util.area, probe) - area
    odd = extra > 0
    box_probe = _chunked(mask_util.toBbox, probe)
    total = np.where(odd, box_probe[:, 0] + box_probe[:, 2] - extra, 0)
    if (~odd).any():
        box = _chunked(mask_util.toBbox, [plain[j] for j in np.flatnonzero(~odd)])
        total[~odd] = box[:, 0] + box[:, 2]
    bad = np.flatnonzero((total != hw) | (area > hw))
    good = np.ones(len(where), dtype=bool)
    good[bad] = False
    areas_out[np.asarray(where, dtype=np.int64)[good]] = area[good].astype(np.int64)
    for j in bad.tolist():
        problems.append((where[j], f"'counts' run lengths add up to {int(total[j])}, not "
                                   f"height x width = {sizes[j]} (size {list(objs[where[j]]['size'])})"))
    return areas_out, sorted(problems)


def _clip(text: str, n: int = 20) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")


def first_rle_problem(objs: Sequence[Mapping]) -> Optional[Tuple[int, str]]:
    found = rle_problems(objs)
    return found[0] if found else None
