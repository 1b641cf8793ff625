"""Results: check a results json against the ground truth and keep what the metric scores."""
import logging
import math
import os
import warnings
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .common import PathLike, as_id, is_number, is_path, load_json, short_list
from .errors import ResultsFormatError, YTVISEvalWarning
from .gt import YTVISGroundTruth, load_ytvis_gt
from ...format.rle import RLECheck

logger = logging.getLogger(__name__)

RESULT_KEYS = ("video_id", "category_id", "score", "segmentations")
_TEXT = (str, bytes)
_CHECK_PIECE = 16384  # masks handed to the RLE check at a time

def validate_results(results: Union[PathLike, Sequence[Mapping[str, Any]]],
                     gt: Union[PathLike, Mapping[str, Any], YTVISGroundTruth],
                     strict: bool = True) -> List[Dict[str, Any]]:
    """Check results against the ground truth and return the ones the metric scores.

    Args:
        results: path of a results json or the list itself: ``[{"video_id", "category_id",
            "score", "segmentations": [compressed RLE or null per frame]}, ...]``.
        gt: the ground truth (see :func:`load_ytvis_gt`).
        strict: if True (default), a segmentation list whose length differs from the video's
            and a mask whose size differs from the video's ``[height, width]`` are errors. If
            False they are scored as the official evaluator scores them (lists zipped with the
            GT's, differently sized frames adding nothing) and a warning is logged.

    Returns:
        new dicts ``{"video_id", "category_id", "score" (float), "segmentations", "areas"}``
        in the given order (``areas``: (len(segmentations),) int64 array, the RLE area per
        frame, 0 where there is no mask). With ``strict=False``, results whose category id
        is not one of the ground truth's categories are dropped, as the official evaluator
        drops them (logged once); with ``strict=True`` they are an error.

    An empty list is not an error: it warns (:class:`YTVISEvalWarning`) and then scores 0 for
    every setting that has ground truth (-1 elsewhere); the official code crashes on it.

    Raises:
        ResultsFormatError: non-list JSON, missing fields, video ids that are not in the
            ground truth (another data set or split), non-finite scores, int-list
            (uncompressed) RLE counts, polygons, RLE strings that are not RLEs of their size
            (see :mod:`.rle`), and (strict) wrong lengths, mask sizes or category ids.
            Messages are one line naming the file, the video, the result's index and the
            field.
    """
    gt = load_ytvis_gt(gt)
    if is_path(results):
        path = os.fspath(results)
        loaded = load_json(results, ResultsFormatError, "results")
        try:
            return _validate_results(loaded, gt, strict)
        except ResultsFormatError as e:
            raise ResultsFormatError(f"{path}: {e}") from None
    return _validate_results(results, gt, strict)


def _mask_size(size) -> Optional[Tuple[int, int]]:
    """``[h, w]`` of positive integers (as ints), else None."""
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        return None
    out = []
    for v in size:
        if not is_number(v) or not math.isfinite(v) or v != int(v) or not 0 < v < 1 << 15:
            return None
        out.append(int(v))
    return out[0], out[1]


def _frame_masks(i: int, vid, segms, size: Optional[Tuple[int, int]], strict: bool,
                 problems: List[str]) -> Tuple[list, List[int]]:
    """The masks of result #i (video ``vid``) and their frames, checked against the video's
    [height, width] ``size``; lenient-mode problems are appended to ``problems``."""
    size_list = list(size) if size is not None else None
    # None / {} / []: no mask in this frame (truthiness, as officially)
    frames = [f for f, s in enumerate(segms) if s]
    present = [segms[f] for f in frames]
    if size_list is not None and all(  # the common case, checked quickly
            type(s) is dict and s.get("size") == size_list
            and type(s.get("counts")) in _TEXT for s in present):
        return present, frames
    for f, s in zip(frames, present):  # one by one, for the error message or the odd case
        if not isinstance(s, Mapping) or "counts" not in s or "size" not in s:
            kind = "polygons" if isinstance(s, list) else f"a {type(s).__name__}"
            raise ResultsFormatError(
                f"video_id {vid}: result #{i} field 'segmentations' frame {f} is {kind}; "
                "results must be compressed RLE {size: [h, w], counts: str}")
        counts = s["counts"]
        if not isinstance(counts, (str, bytes)):
            kind = ("an int list (uncompressed RLE)" if isinstance(counts, list)
                    else f"a {type(counts).__name__}")
            raise ResultsFormatError(
                f"video_id {vid}: result #{i} field 'segmentations' frame {f}: 'counts' is "
                f"{kind}; results must be compressed RLE (encode masks with "
                "pycocotools.mask.encode, or convert with pycocotools.mask.frPyObjects)")
        mh_mw = _mask_size(s["size"])
        if mh_mw is None:
            raise ResultsFormatError(f"video_id {vid}: result #{i} field 'segmentations' "
                                     f"frame {f}: bad 'size' {s['size']!r} (expected "
                                     "[height, width], positive integers)")
        if size is not None and mh_mw != size:
            msg = (f"video_id {vid}: result #{i} field 'segmentations' frame {f}: mask "
                   f"size [{mh_mw[0]}, {mh_mw[1]}] differs from the video's [height, width] "
                   f"[{size[0]}, {size[1]}] (masks must be at the original video "
                   "resolution)")
            if strict:
                raise ResultsFormatError(msg)
            problems.append(msg)
    return present, frames


def _validate_results(results, gt: YTVISGroundTruth, strict: bool) -> List[Dict[str, Any]]:
    if not isinstance(results, (list, tuple)):
        hint = ""
        if isinstance(results, Mapping) and ("videos" in results or "annotations" in results):
            hint = " (this looks like an annotation file, not a results file)"
        raise ResultsFormatError("results must be a JSON list of {video_id, category_id, score, "
                                 "segmentations} objects, got a "
                                 f"{type(results).__name__}{hint}")
    if len(results) == 0:
        warnings.warn("the results list is empty: every metric is 0 where there is ground truth "
                      "(the official evaluator crashes on an empty list)", YTVISEvalWarning,
                      stacklevel=3)
        return []

    # Pass 1: structure and ids.
    ids = []
    for i, r in enumerate(results):
        if type(r) is not dict and not isinstance(r, Mapping):
            raise ResultsFormatError(f"result #{i} is a {type(r).__name__}, expected an object "
                                     "with video_id, category_id, score, segmentations")
        missing = [k for k in RESULT_KEYS if k not in r]
        if missing:
            raise ResultsFormatError(f"result #{i} (video_id {r.get('video_id', '?')}) has no "
                                     f"field {', '.join(repr(k) for k in missing)}")
        vid = as_id(r["video_id"])
        cat = as_id(r["category_id"])
        for key, value in (("video_id", vid), ("category_id", cat)):
            if not is_number(value):
                raise ResultsFormatError(f"result #{i}: field '{key}' must be an integer, got "
                                         f"{r[key]!r}")
        if not is_number(r["score"]):
            raise ResultsFormatError(f"result #{i} (video_id {vid}): field 'score' must be a "
                                     f"number, got {r['score']!r}")
        if not math.isfinite(r["score"]):
            # NaN has no order and inf ties with any other inf: the ranking, hence AP, would
            # be undefined
            raise ResultsFormatError(f"result #{i} (video_id {vid}): field 'score' is "
                                     f"{r['score']!r}; scores must be finite numbers")
        if not isinstance(r["segmentations"], (list, tuple)):
            raise ResultsFormatError(f"result #{i} (video_id {vid}): field 'segmentations' must "
                                     "be a list with one RLE or null per frame, got a "
                                     f"{type(r['segmentations']).__name__}")
        ids.append((vid, cat))
    unknown = {v for v, _ in ids if v not in gt.videos}
    if unknown:
        n_ids = len({v for v, _ in ids})
        unknown_sorted = sorted(unknown)
        raise ResultsFormatError(
            f"{len(unknown)} of the {n_ids} video ids in the results are not in the ground truth "
            f"{gt.source} ({len(gt.videos)} videos, ids {gt.video_ids[0]}..{gt.video_ids[-1]}): "
            f"video_id {short_list(unknown_sorted)}; the results are probably for another data "
            "set or split")

    # Pass 2: per-frame masks.
    problems = []  # lenient mode: what would have been errors
    mask_result, mask_frame = [], []  # every mask's result and frame
    kept, dropped = [], defaultdict(int)
    cat_set = set(gt.category_ids)
    with RLECheck() as check:  # decodes the masks collected so far while this loop goes on
        masks = []
        for i, (r, (vid, cat)) in enumerate(zip(results, ids)):
            segms = r["segmentations"]
            length = gt.video_length(vid)
            if length is not None and len(segms) != length:
                msg = (f"video_id {vid}: result #{i} has {len(segms)} entries in field "
                       f"'segmentations' but the video has {length} frames (one RLE or null per "
                       "frame)")
                if strict:
                    raise ResultsFormatError(msg)
                problems.append(msg)
            present, frames = _frame_masks(i, vid, segms, gt.video_size(vid), strict, problems)
            masks.extend(present)
            mask_result.extend([i] * len(frames))
            mask_frame.extend(frames)
            if len(masks) >= _CHECK_PIECE:
                check.add(masks)
                masks = []
            if cat not in cat_set:
                if strict:
                    raise ResultsFormatError(
                        f"video_id {vid}: result #{i} field 'category_id' is "
                        f"{r['category_id']!r}, not one of the ground truth's categories "
                        f"{short_list(gt.category_ids)} (the official evaluator drops such "
                        "results silently; --lenient does too)")
                dropped[cat] += 1
                continue
            kept.append({"video_id": vid, "category_id": cat, "score": float(r["score"]),
                         "segmentations": segms if type(segms) is list else list(segms),
                         "_index": i})
        check.add(masks)
        areas, found = check.result()
    if found:
        i, f = mask_result[found[0][0]], mask_frame[found[0][0]]
        raise ResultsFormatError(f"video_id {ids[i][0]}: result #{i} field 'segmentations' "
                                 f"frame {f}: {found[0][1]}")
    # the areas the check measured, per kept result and frame (as the official loadRes
    # adds 'areas'), so that the IoU does not measure them again
    lengths = np.fromiter((len(r["segmentations"]) for r in results), np.int64, len(results))
    start = np.zeros(len(results) + 1, dtype=np.int64)
    np.cumsum(lengths, out=start[1:])
    flat = np.zeros(int(start[-1]), dtype=np.int64)
    flat[start[np.asarray(mask_result, dtype=np.int64)] + np.asarray(mask_frame, np.int64)] = areas
    for r in kept:
        i = r.pop("_index")
        r["areas"] = flat[start[i]:start[i + 1]]
    if problems:
        logger.warning("%d problems in the results, scored as the official evaluator scores them "
                       "(frames beyond the shorter list and differently sized masks add nothing); "
                       "first: %s", len(problems), problems[0])
    if dropped:
        logger.warning("%d results with category ids not in the ground truth's categories are "
                       "ignored (as officially): category_id %s", sum(dropped.values()),
                       short_list(sorted(dropped, key=repr)))
    return kept

