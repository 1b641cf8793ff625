"""One frame's segmentation of a YouTube-VIS json -> a checked compressed RLE.

The json may hold uncompressed RLE (``counts`` an integer list), compressed RLE (``counts`` a
string) or polygons. Each is checked for the video's frame size and with the RLE rule
(:mod:`masktrack_d2.format.rle`), then converted to compressed RLE with ``bytes`` counts.
"""
import math

import numpy as np
import pycocotools.mask as mask_util

from ...format.annotations import is_int, is_number
from ...format.rle import check_rles, check_runs

__all__ = ["segmentation_to_rle", "segmentations_to_rles"]


def segmentation_to_rle(segm, height, width):
    """Convert one frame's segmentation to a compressed RLE with ``bytes`` counts.

    Accepts uncompressed RLE (``counts`` an int list or 1-D integer array), compressed RLE
    (``counts`` str or bytes) and polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists).

    Raises:
        ValueError: on anything else, an RLE whose ``size`` is not ``[height, width]``, RLE
            run lengths that are not non-negative integers adding up to ``height * width``
            (checked for compressed strings too, which must decode), or polygon coordinates
            that are not finite numbers.
    """
    return segmentations_to_rles([segm], height, width)[0]


def _uncompressed_counts(counts):
    """Uncompressed RLE counts (list or integer array) as an int64 array, or None if not
    uncompressed counts at all."""
    if isinstance(counts, np.ndarray):
        if counts.ndim != 1 or (counts.size and counts.dtype.kind not in "iu"):
            raise ValueError("RLE counts must be a flat list of integers")
        return counts.astype(np.int64, copy=False)
    if isinstance(counts, list):
        if not all(is_int(c) for c in counts):
            raise ValueError("RLE counts must be a list of integers")
        if any(c < 0 or c >= 2 ** 63 for c in counts):
            raise ValueError("RLE counts must be non-negative run lengths")
        return np.array(counts, dtype=np.int64)
    return None


def segmentations_to_rles(segms, height, width):
    """Compressed RLEs (``bytes`` counts) of ``segms``, one per entry; the compressed ones are
    checked together and the uncompressed ones converted in one pycocotools call. Raises
    ValueError (see :func:`segmentation_to_rle`), with the index of the offending entry in
    ``args[1]``."""
    out = [None] * len(segms)
    compressed, runs = [], []  # indices into segms
    for i, segm in enumerate(segms):
        try:
            kind, out[i] = _check_segmentation(segm, height, width)
        except ValueError as e:
            raise ValueError(str(e), i) from e
        {"compressed": compressed, "runs": runs}.get(kind, []).append(i)
    problems = check_rles([out[i] for i in compressed])[1]
    if problems:
        j, why = problems[0]
        raise ValueError(why, compressed[j])
    if runs:
        objs = [{"size": [height, width], "counts": out[i]} for i in runs]
        for i, rle in zip(runs, mask_util.frPyObjects(objs, height, width)):
            out[i] = rle
    return out


def _check_segmentation(segm, height, width):
    """``(kind, value)``: ``("compressed", RLE dict)`` (its counts are checked by the caller,
    with the others), ``("runs", int64 array)`` for the checked run lengths of an uncompressed
    RLE, or ``("polygons", RLE dict)`` for the merged mask of polygons."""
    if isinstance(segm, dict):
        if "counts" not in segm or "size" not in segm:
            raise ValueError("RLE needs 'counts' and 'size', got keys {}".format(sorted(segm)))
        size = segm["size"]
        if not isinstance(size, list) or size != [height, width]:
            raise ValueError(
                "RLE size {!r} differs from the video's [height, width] = {}".format(
                    size, [height, width]
                )
            )
        counts = segm["counts"]
        uncompressed = _uncompressed_counts(counts)
        if uncompressed is not None:
            check_runs(uncompressed, height, width)
            return "runs", uncompressed
        if isinstance(counts, str):
            try:
                counts = counts.encode("ascii")
            except UnicodeEncodeError:
                raise ValueError("compressed RLE counts hold non-ASCII characters") from None
        if not isinstance(counts, bytes):
            raise ValueError("RLE counts must be an int list, str or bytes")
        return "compressed", {"size": [height, width], "counts": counts}
    if isinstance(segm, list):
        if not segm or not all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segm
        ):
            raise ValueError("polygons must be a non-empty list of [x0, y0, ...] (>= 3 points)")
        if not all(is_number(v) and math.isfinite(v) for p in segm for v in p):
            raise ValueError("polygon coordinates must be finite numbers")
        # pycocotools rasterises the whole outline: far-off points would take unbounded
        # time and memory (and beyond int range, undefined results).
        reach = max(height, width)
        if any(v < -reach or v > 2 * reach for p in segm for v in p):
            raise ValueError("polygon coordinates lie far outside the {}x{} frame (allowed: "
                             "-{} .. {})".format(height, width, reach, 2 * reach))
        return "polygons", mask_util.merge(mask_util.frPyObjects(segm, height, width))
    raise ValueError("unsupported segmentation type {}".format(type(segm).__name__))
