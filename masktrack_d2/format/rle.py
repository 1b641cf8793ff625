"""The RLE rule: when a COCO run-length encoding really is a mask of its stated size.

pycocotools decodes whatever it is given: a character outside the alphabet is read as some
number, a string ending inside a number reads past its end, and run lengths that do not add up
to height x width make ``mask.iou`` / ``mask.merge`` loop forever on a pair of masks whose boxes
overlap (the official evaluator included). So the loader and the metric check every mask with
this rule first:

- ``size`` is ``[h, w]`` of integers (or integral floats) in ``1 .. 2^15 - 1``;
- ``counts`` is an ASCII ``str`` or ``bytes`` in the compressed code: each number is written
  in 5-bit groups, least significant first, one character ``chr(48 + group)`` per group, plus
  32 when more groups follow; bit 16 of the last group is the sign; at most 12 characters per
  number; from the fourth number on, the string stores the difference to the number two places
  earlier (pycocotools' ``rleFrString``);
- every run length, read in order, lies in ``0 .. h * w`` (the first one outside decides);
- the runs add up to exactly ``h * w``.

Uncompressed counts (an integer list) follow the last two points (:func:`check_runs`).

Two implementations of :func:`scan` give the same verdicts, areas and sums: the C extension
``_rlecore`` (built by ``pip install`` where a C compiler exists; one pass per string, without
the GIL) and :func:`scan_numpy` (all strings of a call decoded together with array operations).
``MASKTRACK_D2_RLE_CORE=0`` in the environment selects the numpy one.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

try:
    from . import _rlecore
except ImportError:  # not compiled: the numpy path
    _rlecore = None

__all__ = ["STATUS_OK", "STATUS_NOT_TEXT", "STATUS_BAD_CODE", "STATUS_BAD_SIZE",
           "STATUS_BAD_RUN", "STATUS_BAD_TOTAL", "rle_core", "scan", "scan_numpy",
           "check_rles", "RLECheck", "rle_problems", "first_rle_problem", "check_runs"]

# Verdicts of scan(), as the C extension numbers them.
STATUS_OK = 0
STATUS_NOT_TEXT = 1  # counts is not an ASCII str / bytes
STATUS_BAD_CODE = 2  # a character outside '0'..'o', a cut number, one over 12 characters, ""
STATUS_BAD_SIZE = 3  # size is not [h, w] of integers in 1 .. 2^15 - 1
STATUS_BAD_RUN = 4  # a run length below 0 or above h * w
STATUS_BAD_TOTAL = 5  # the runs do not add up to h * w

_MAX_DIGITS = 12  # 60 bits: far beyond any run of a mask of at most 2^30 pixels
_MAX_SIDE = 1 << 15
_CHUNK_CHARS = 1 << 20  # characters decoded together by scan_numpy
_MIN_PARALLEL_SCAN = 20000  # masks; below, check_rles does not split them over two threads


def rle_core():
    """The compiled ``_rlecore`` module, or None where it is not built or
    ``MASKTRACK_D2_RLE_CORE=0``."""
    if os.environ.get("MASKTRACK_D2_RLE_CORE", "1") == "0":
        return None
    return _rlecore


# ------------------------------------------------------------------------------ the rule
def _side(v) -> int:
    """An int, or a float with an integral value (json may write 720.0); -1 otherwise."""
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float) and 1 <= v < _MAX_SIDE and v == int(v):
        return int(v)
    return -1


def _pixels(size) -> int:
    """h * w of a valid ``size``, else -1."""
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        return -1
    h, w = _side(size[0]), _side(size[1])
    if not (1 <= h < _MAX_SIDE and 1 <= w < _MAX_SIDE):
        return -1
    return h * w


def scan_numpy(objs: Sequence[Mapping]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rule over compressed RLEs ``objs`` (mappings with ``size`` and ``counts``).

    Returns:
        areas (int64[n], the sum of the ones runs), totals (int64[n], the sum of all runs) and
        status (uint8[n], a ``STATUS_*`` verdict). Areas and totals are exact where the status
        is ``STATUS_OK`` (areas) or ``STATUS_OK`` / ``STATUS_BAD_TOTAL`` (totals).
    """
    n = len(objs)
    status = np.zeros(n, dtype=np.uint8)
    areas = np.zeros(n, dtype=np.int64)
    totals = np.zeros(n, dtype=np.int64)
    texts, hws, where = [], [], []
    for i, o in enumerate(objs):
        c = o["counts"]
        if isinstance(c, str):
            if not c.isascii():
                status[i] = STATUS_NOT_TEXT
                continue
            c = c.encode("ascii")
        elif not isinstance(c, bytes):
            status[i] = STATUS_NOT_TEXT
            continue
        hw = _pixels(o["size"])
        if hw < 0:
            status[i] = STATUS_BAD_SIZE
        elif not c:
            status[i] = STATUS_BAD_CODE
        else:
            texts.append(c)
            hws.append(hw)
            where.append(i)
    if not texts:
        return areas, totals, status

    where = np.asarray(where, dtype=np.int64)
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    # Strings in pieces of about _CHUNK_CHARS characters: the temporaries stay small and
    # their memory is reused (one pass over all of a large set is several times slower).
    bounds = np.searchsorted(np.cumsum(lens), np.arange(_CHUNK_CHARS, lens.sum(), _CHUNK_CHARS))
    for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(texts)]])):
        if hi > lo:
            idx = where[lo:hi]
            status[idx], ones, total = _scan_strings(texts[lo:hi], lens[lo:hi], hws[lo:hi])
            clean = status[idx] == STATUS_OK
            areas[idx[clean]] = ones[clean]
            counted = clean | (status[idx] == STATUS_BAD_TOTAL)
            totals[idx[counted]] = total[counted]
    return areas, totals, status


def _scan_strings(texts: List[bytes], lens: np.ndarray, hws: List[int]):
    """(status, sum of the ones runs, sum of all runs) of non-empty strings ``texts`` of
    lengths ``lens`` as RLEs of ``hws`` pixels."""
    m = len(texts)
    digit = np.frombuffer(b"".join(texts), dtype=np.uint8) - np.uint8(48)  # wraps below '0'
    bad_char = digit > 63
    last_char = np.zeros(digit.size, dtype=bool)
    last_char[np.cumsum(lens) - 1] = True

    # Numbers: each ends at a terminator (no continuation bit) or at the end of its string
    # (then it is cut).
    terminator = ((digit & 0x20) == 0) & ~bad_char
    ends = np.flatnonzero(terminator | last_char)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    n_chars = ends - starts + 1
    last_num = last_char[ends]
    first_num = np.flatnonzero(np.concatenate([[True], last_num[:-1]]))
    string_of_num = np.repeat(np.arange(m), np.diff(np.append(first_num, ends.size)))
    k = np.arange(ends.size) - first_num[string_of_num]  # index of the number in its string
    bad_num = ~terminator[ends] | (n_chars > _MAX_DIGITS)
    bad_num[np.searchsorted(ends, np.flatnonzero(bad_char))] = True

    # Values, digit position by digit position (nearly all numbers have one or two). Bad
    # numbers read as 0: only what comes before the first of them counts.
    low = (digit & 0x1F).astype(np.int64)
    x = low[starts]
    longer = np.flatnonzero(n_chars > 1)
    for j in range(1, _MAX_DIGITS):
        if not longer.size:
            break
        x[longer] |= low[starts[longer] + j] << (5 * j)
        longer = longer[n_chars[longer] > j + 1]
    sign = ((digit[ends] & 0x10) != 0) & ~bad_num
    x -= sign.astype(np.int64) << (5 * np.minimum(n_chars, _MAX_DIGITS))
    x[bad_num] = 0

    # From index 3 on a number adds the run two places earlier: chains 1, 3, 5, ... and
    # 2, 4, 6, ... are running sums within each string (int64 wrap-around cancels out in
    # the differences, and every run before the first bad one is exact).
    runs = np.empty_like(x)
    for g in (0, 1):  # the numbers at even / odd positions of the whole list
        cs = np.cumsum(x[g::2])
        if not cs.size:
            continue
        # the chain of parity g in each string starts at its number 1 or 2
        start = first_num + 1 + ((first_num + 1) % 2 != g)
        before = cs[np.clip((start - g) // 2 - 1, 0, cs.size - 1)]
        before[start - g < 2] = 0
        runs[g::2] = cs - before[string_of_num[g::2]]
    runs[first_num] = x[first_num]

    hw = np.asarray(hws, dtype=np.int64)
    never = np.iinfo(np.int64).max
    bad_run = ~bad_num & ((runs < 0) | (runs > hw[string_of_num]))
    # Numbers are in string order and every string has one at least: per-string reductions.
    first_bad_num = np.minimum.reduceat(np.where(bad_num, k, never), first_num)
    first_bad_run = np.minimum.reduceat(np.where(bad_run, k, never), first_num)
    fine = ~bad_num & ~bad_run
    total = np.add.reduceat(np.where(fine, runs, 0), first_num)
    ones = np.add.reduceat(np.where(fine & ((k & 1) == 1), runs, 0), first_num)

    verdict = np.where(first_bad_run < first_bad_num, STATUS_BAD_RUN,
                       np.where(first_bad_num < never, STATUS_BAD_CODE,
                                np.where(total == hw, STATUS_OK, STATUS_BAD_TOTAL)))
    return verdict.astype(np.uint8), ones, total


def scan(objs: Sequence[Mapping]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`scan_numpy`, through the C extension where it is built and ``objs`` is a list of
    dicts."""
    core = rle_core()
    if core is not None and type(objs) is list and all(type(o) is dict for o in objs):
        return _core_scan(core, objs)
    return scan_numpy(objs)


def _core_scan(core, objs: List[dict]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    areas, totals, status = core.scan(objs)
    return (np.frombuffer(areas, dtype=np.int64).copy(), np.frombuffer(totals, dtype=np.int64),
            np.frombuffer(status, dtype=np.uint8))


def _reason(code: int, obj: Mapping, total: int) -> str:
    """The message of a ``STATUS_*`` verdict on ``obj``."""
    if code == STATUS_NOT_TEXT:
        return "'counts' is not an ASCII string"
    if code == STATUS_BAD_CODE:
        c = obj["counts"]
        c = c.decode("ascii") if isinstance(c, bytes) else c
        return (f"'counts' {_clip(c)} is not a compressed RLE string (characters outside "
                "'0'..'o', or cut inside a number)")
    if code == STATUS_BAD_SIZE:
        return f"bad 'size' {obj['size']!r} (expected [height, width])"
    hw = _pixels(obj["size"])
    if code == STATUS_BAD_RUN:
        return (f"'counts' has a run length below 0 or above height x width = {hw} "
                f"(size {list(obj['size'])})")
    return (f"'counts' run lengths add up to {total}, not height x width = {hw} "
            f"(size {list(obj['size'])})")


def _verdicts(objs, areas, totals, status) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
    bad = np.flatnonzero(status)
    if not len(bad):
        return areas, []
    areas = areas.copy()
    areas[bad] = 0
    return areas, [(i, _reason(int(status[i]), objs[i], int(totals[i]))) for i in bad.tolist()]


def check_runs(counts: np.ndarray, height: int, width: int) -> None:
    """The rule over uncompressed run lengths (an integer array): raise ValueError unless they
    are run lengths in ``0 .. h * w`` adding up to ``h * w``."""
    obj = {"size": [height, width]}
    hw = height * width
    outside = np.flatnonzero((counts < 0) | (counts > hw))
    if outside.size:
        raise ValueError(_reason(STATUS_BAD_RUN, obj, 0))
    total = int(counts.sum())
    if total != hw:
        raise ValueError(_reason(STATUS_BAD_TOTAL, obj, total))


# ------------------------------------------------------------------------------ callers
def check_rles(objs: Sequence[Mapping]) -> Tuple[np.ndarray, List[Tuple[int, str]]]:
    """The masks among ``objs`` (compressed RLE mappings with ``size`` and ``counts``) that
    break the rule, ``[(index, reason), ...]``, and the area of every mask (int64; 0 for the
    invalid ones). Large lists are checked in two threads where the C extension is built."""
    if len(objs) < _MIN_PARALLEL_SCAN:  # threads would cost more than they save
        return _verdicts(objs, *scan(objs))
    half = len(objs) // 2
    with RLECheck() as check:
        check.add(objs[:half])
        check.add(objs[half:])
        return check.result()


def rle_problems(objs: Sequence[Mapping]) -> List[Tuple[int, str]]:
    """:func:`check_rles` without the areas."""
    return check_rles(objs)[1]


def first_rle_problem(objs: Sequence[Mapping]) -> Optional[Tuple[int, str]]:
    found = rle_problems(objs)
    return found[0] if found else None


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
            self._parts.append((objs, self._pool.submit(_core_scan, self._core, objs)))
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
            scanned = future.result() if future is not None else scan_numpy(objs)
            a, p = _verdicts(objs, *scanned)
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


def _clip(text: str, n: int = 20) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")
