"""The YouTube-VIS video instance segmentation metric (AP / AR over spatio-temporal mask IoU).

This is the one implementation of the metric in the project: the evaluator, the CLI and the
tests all call it. It reproduces the official evaluator (youtubevos/cocoapi ``ytvoseval.py``)
to the last bit, rule by rule as listed in ``design/evaluation.md``; the rules that look odd
are kept on purpose and marked ``(evaluation.md: ...)`` where they are implemented. Where the
official code crashes (unknown video ids, int-list counts in results, a ground truth file
without annotations) this module stops with a clear error; an empty results list is scored
(0 wherever there is ground truth) with a warning. Results whose segmentation lists do not
have one entry per frame, or whose masks are not at the video's size, are errors by default
(``strict=True``; they are nearly always a bug, pitfalls 7.3 / 7.4 of masktrack.md); with
``strict=False`` (CLI ``--lenient``) they are scored exactly as the official code scores them.

It depends on numpy and ``pycocotools.mask`` only (no torch, no detectron2), so it runs
without a model::

    python -m masktrack_d2.evaluation.ytvis_eval --gt valid_sub.json --results results.json
    python -m masktrack_d2.evaluation.ytvis_eval --gt valid_sub.json --results results.json --json

Python use::

    stats = evaluate_ytvis("valid_sub.json", results)          # {"AP": 0.31, ..., "ARl": 0.4}
    ev = YTVISEval(gt, results); ev.evaluate(); ev.accumulate(); ev.summarize()
    ev.per_category_ap()                                       # {"person": 0.52, ...}

Speed: the official code computes every (result, GT) IoU with a Python loop over the frames,
with two ``mask.merge`` and two ``mask.area`` calls per frame and pair. Here all tracks of a
video are measured together (:func:`_iou_vectorized`): one ``mask.area`` pass gives every
mask's area, the frames where only one of a pair has a mask are integer sums of areas, and
the intersections of same-frame pairs come from a few ``mask.iou`` calls over chunks of
frames, recovered exactly from the IoU and the two areas. Pairs whose area-based IoU bound
is below 0.5 are not measured at all (no threshold can match them). :func:`video_iou_loop`
keeps the per-pair loop as the reference; tests check that both give identical IoUs.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import sys
import time
import warnings
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from pycocotools import mask as mask_util

__all__ = [
    "STAT_KEYS",
    "ResultsFormatError",
    "GroundTruthFormatError",
    "YTVISEvalWarning",
    "YTVISGroundTruth",
    "YTVISEval",
    "load_ytvis_gt",
    "validate_results",
    "evaluate_ytvis",
    "video_iou",
    "video_iou_loop",
    "format_table",
    "main",
]

logger = logging.getLogger(__name__)

#: The metric's public output, in the order of the official summary (AR100 left out).
STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "ARs", "ARm", "ARl")
#: Everything :meth:`YTVISEval.summarize` computes (the official 12 numbers).
ALL_STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                 "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# The official parameters (evaluation.md "Thresholds" / "Areas and area ranges").
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # the 9th is 0.8999999999999999, as officially
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
AREA_RANGES = (
    ("all", 0.0, 1e10),
    ("small", 0.0, 128.0**2),
    ("medium", 128.0**2, 256.0**2),
    ("large", 256.0**2, 1e10),
)

PathLike = Union[str, "os.PathLike[str]"]
_RESULT_KEYS = ("video_id", "category_id", "score", "segmentations")


class ResultsFormatError(ValueError):
    """A results file or list cannot be scored as it is (the message says where and why)."""


class GroundTruthFormatError(ValueError):
    """A YouTube-VIS annotation file cannot be used as ground truth."""


class YTVISEvalWarning(UserWarning):
    """Input that is scored, but probably not as the user meant (e.g. an empty results list)."""


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector. Scoring allocates many small acyclic objects, and
    each full collection would walk the whole (large) results set again: ~0.3 s a time at
    YouTube-VIS scale. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _load_json(path: PathLike, error_cls, what: str):
    try:
        with open(path, "r") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise error_cls(f"{os.fspath(path)}: not a valid JSON {what} file ({e.msg} at line "
                        f"{e.lineno} column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise error_cls(f"{os.fspath(path)}: not a valid JSON {what} file ({e})") from None


def _short_list(values, limit: int = 10) -> str:
    values = list(values)
    text = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        text += f", ... ({len(values) - limit} more)"
    return "[" + text + "]"


def _as_id(value):
    """Normalise an id the way the official dict/set lookups see it (1.0 == 1, np.int64 == 1)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------
# ground truth
# ------------------------------------------------------------------------------------------
class _GTTrack:
    """One ground-truth track (a json annotation) as the metric sees it."""

    __slots__ = ("id", "video_id", "category_id", "ignore", "crowd", "avg_area", "rles")

    def __init__(self, id, video_id, category_id, ignore, crowd, avg_area, rles):
        self.id = id
        self.video_id = video_id
        self.category_id = category_id
        self.ignore = ignore  # the official 'ignore' flag: truthiness of iscrowd
        self.crowd = crowd  # int(iscrowd) != 0: may be matched any number of times
        self.avg_area = avg_area
        self.rles = rles  # per frame: compressed RLE dict, or None where absent


class YTVISGroundTruth:
    """A YouTube-VIS annotation json, indexed and converted for evaluation.

    Attributes:
        dataset: the json dict as given (never modified).
        source: the file it came from, or ``"<dict>"``.
        videos: ``{video_id: video dict}``; ``video_ids``: sorted ids.
        categories: ``{category_id: category dict}``; ``category_ids``: sorted ids.
        tracks: ``{(video_id, category_id): [track, ...]}`` in json order, each track with
            ``id``, ``ignore``, ``crowd``, ``avg_area`` and ``rles`` (compressed RLE or None
            per frame).
    """

    def __init__(self, dataset: Mapping[str, Any], source: str = "<dict>"):
        self.dataset = dataset
        self.source = source
        if not isinstance(dataset, Mapping):
            raise GroundTruthFormatError(
                f"{source}: expected a YouTube-VIS annotation object (videos, annotations, "
                f"categories), got a JSON {type(dataset).__name__}"
                + (" (this looks like a results file)" if isinstance(dataset, list) else ""))
        for key in ("videos", "categories"):
            if not isinstance(dataset.get(key), list):
                raise GroundTruthFormatError(f"{source}: no '{key}' list; not a YouTube-VIS "
                                             "annotation file")
        annotations = dataset.get("annotations")
        if not annotations:
            raise GroundTruthFormatError(
                f"{source}: has no annotations (the official valid/test jsons carry none; those "
                "splits are scored by the evaluation server - evaluate on held-out train videos)")

        self.videos: Dict[Any, Mapping] = {}
        for v in dataset["videos"]:
            try:
                self.videos[_as_id(v["id"])] = v
            except (KeyError, TypeError):
                raise GroundTruthFormatError(f"{source}: a video entry has no 'id'") from None
        self.categories: Dict[Any, Mapping] = {}
        for c in dataset["categories"]:
            try:
                self.categories[_as_id(c["id"])] = c
            except (KeyError, TypeError):
                raise GroundTruthFormatError(f"{source}: a category entry has no 'id'") from None
        self.video_ids = sorted(self.videos)
        self.category_ids = sorted(self.categories)
        self.tracks: Dict[Tuple[Any, Any], List[_GTTrack]] = defaultdict(list)
        self._index_annotations(annotations)
        self.tracks = dict(self.tracks)
        self._video_masks: Dict[Any, tuple] = {}

    # -- video geometry --------------------------------------------------------------------
    def video_size(self, video_id) -> Optional[Tuple[int, int]]:
        v = self.videos[video_id]
        if "height" in v and "width" in v:
            return int(v["height"]), int(v["width"])
        return None

    def video_length(self, video_id) -> Optional[int]:
        v = self.videos[video_id]
        if v.get("length") is not None:
            return int(v["length"])
        if v.get("file_names") is not None:
            return len(v["file_names"])
        return None

    def video_masks(self, video_id) -> Tuple[Dict[Any, Tuple[int, int]], "_TrackMasks"]:
        """All GT tracks of a video as one _TrackMasks (cached), and each category's rows."""
        hit = self._video_masks.get(video_id)
        if hit is None:
            offsets, seqs = {}, []
            for cat in self.category_ids:
                tracks = self.tracks.get((video_id, cat))
                if tracks:
                    offsets[cat] = (len(seqs), len(seqs) + len(tracks))
                    seqs.extend(t.rles for t in tracks)
            hit = self._video_masks[video_id] = (offsets, _TrackMasks(seqs))
        return hit

    def category_name(self, category_id) -> str:
        return str(self.categories[category_id].get("name", category_id))

    # -- annotations -----------------------------------------------------------------------
    def _index_annotations(self, annotations) -> None:
        source = self.source
        for i, ann in enumerate(annotations):
            if not isinstance(ann, Mapping):
                raise GroundTruthFormatError(f"{source}: annotation #{i} is not an object")
            for key in ("id", "video_id", "category_id", "segmentations", "areas"):
                if key not in ann:
                    raise GroundTruthFormatError(
                        f"{source}: annotation #{i} (id {ann.get('id', '?')}, video "
                        f"{ann.get('video_id', '?')}) has no '{key}' field")
            if not _is_number(ann["id"]):
                raise GroundTruthFormatError(f"{source}: annotation #{i} has a non-numeric id "
                                             f"{ann['id']!r}")

        # Selection and order as the official index gives them: video ids ascending, json
        # order within a video, categories of the json 'categories' only, annotations of
        # videos missing from 'videos' left out.
        by_video = defaultdict(list)
        for ann in annotations:
            by_video[_as_id(ann["video_id"])].append(ann)
        skipped = len(annotations) - sum(len(by_video[v]) for v in self.video_ids if v in by_video)
        if skipped:
            logger.warning("%s: %d annotations belong to videos not listed in 'videos' and are "
                           "ignored", source, skipped)
        # The official loader looks annotations up by id, so with a duplicated id the last
        # annotation carrying it stands in for every one of them; reproduced, with a warning.
        by_id = {}
        for ann in annotations:
            by_id[_as_id(ann["id"])] = ann
        if len(by_id) != len(annotations):
            logger.warning("%s: annotation ids are not unique (%d annotations, %d ids); as in the "
                           "official evaluator the last annotation with an id replaces the others",
                           source, len(annotations), len(by_id))
        if 0 in by_id:
            # (evaluation.md: a match is stored as the GT id, 0 reads as "unmatched")
            logger.warning("%s: an annotation has id 0; the official evaluator counts results "
                           "matched to it as false positives (GT ids should be >= 1)", source)

        converted: Dict[int, _GTTrack] = {}
        cat_set = set(self.category_ids)
        for vid in self.video_ids:
            for ann in by_video.get(vid, ()):
                if _as_id(ann["category_id"]) not in cat_set:
                    continue
                ann = by_id[_as_id(ann["id"])]
                track = converted.get(id(ann))
                if track is None:
                    track = converted[id(ann)] = self._convert(ann)
                self.tracks[(track.video_id, track.category_id)].append(track)

    def _convert(self, ann) -> _GTTrack:
        vid = _as_id(ann["video_id"])
        if vid not in self.videos:
            raise GroundTruthFormatError(f"{self.source}: annotation {ann['id']} refers to "
                                         f"video {vid}, which is not in 'videos'")
        size = self.video_size(vid)
        segms = ann["segmentations"]
        if not isinstance(segms, list):
            raise GroundTruthFormatError(f"{self.source}: annotation {ann['id']} (video {vid}): "
                                         "'segmentations' is not a list")
        rles: List[Optional[dict]] = [None] * len(segms)
        uncompressed = []
        for f, segm in enumerate(segms):
            if not segm:  # None / {} / []: no mask in this frame (truthiness, as officially)
                continue
            where = f"{self.source}: annotation {ann['id']} (video {vid}) frame {f}"
            if isinstance(segm, list):  # polygons, merged into one mask
                if size is None:
                    raise GroundTruthFormatError(f"{where}: polygons need the video's height "
                                                 "and width")
                try:
                    rles[f] = mask_util.merge(mask_util.frPyObjects(segm, *size))
                except Exception as e:  # pycocotools raises bare Exceptions
                    raise GroundTruthFormatError(f"{where}: bad polygon ({e})") from None
            elif ((type(segm) is dict or isinstance(segm, Mapping))
                  and "counts" in segm and "size" in segm):
                if isinstance(segm["counts"], list):
                    uncompressed.append(f)
                else:
                    rles[f] = segm
            else:
                raise GroundTruthFormatError(f"{where}: unsupported segmentation (expected RLE "
                                             "{size, counts}, polygons or null)")
        if uncompressed:
            # One batched call; pycocotools takes the size of an uncompressed RLE from the
            # object itself, so this equals the official per-frame conversion.
            h, w = size if size is not None else segms[uncompressed[0]]["size"]
            objs = [{"size": list(segms[f]["size"]), "counts": segms[f]["counts"]}
                    for f in uncompressed]
            for f, rle in zip(uncompressed, mask_util.frPyObjects(objs, h, w)):
                rles[f] = rle
        # (evaluation.md: GT area = mean of the json areas over truthy entries; masks unused)
        areas = ann["areas"] if ann["areas"] is not None else []
        truthy = [a for a in areas if a]
        avg_area = np.array(truthy).mean() if truthy else 0
        iscrowd = ann.get("iscrowd") or 0  # missing iscrowd crashes the official code; 0 here
        return _GTTrack(
            id=_as_id(ann["id"]),
            video_id=vid,
            category_id=_as_id(ann["category_id"]),
            ignore=bool(iscrowd),  # iscrowd is the only ignore flag; a json 'ignore' is unused
            crowd=int(iscrowd) != 0,
            avg_area=avg_area,
            rles=rles,
        )


def load_ytvis_gt(gt: Union[PathLike, Mapping[str, Any], YTVISGroundTruth]) -> YTVISGroundTruth:
    """Load YouTube-VIS ground truth.

    Args:
        gt: path of an official-format annotation json, the already-loaded dict, or a
            :class:`YTVISGroundTruth` (returned as is). Videos need ``id``, ``height``,
            ``width`` and ``length`` (or ``file_names``); annotations ``id`` (>= 1),
            ``video_id``, ``category_id``, ``iscrowd``, ``areas`` and per-frame
            ``segmentations`` (uncompressed RLE, compressed RLE, polygons or null).

    Returns:
        the indexed ground truth, masks converted to compressed RLE once.

    Raises:
        GroundTruthFormatError: not a YouTube-VIS annotation file, or one without annotations
            (the official valid / test jsons).
        OSError: the file cannot be read.
    """
    if isinstance(gt, YTVISGroundTruth):
        return gt
    if _is_path(gt):
        dataset = _load_json(gt, GroundTruthFormatError, "annotation")
        return YTVISGroundTruth(dataset, source=os.fspath(gt))
    if isinstance(gt, Mapping):
        return YTVISGroundTruth(gt)
    raise TypeError(f"gt must be a path, a dict or a YTVISGroundTruth, got {type(gt).__name__}")


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
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
        new dicts ``{"video_id", "category_id", "score" (float), "segmentations"}`` in the
        given order, without the results whose category id is not one of the ground truth's
        categories: those are dropped, as the official evaluator drops them (logged once).

    An empty list is not an error: it warns (:class:`YTVISEvalWarning`) and then scores 0 for
    every setting that has ground truth (-1 elsewhere); the official code crashes on it.

    Raises:
        ResultsFormatError: non-list JSON, missing fields, video ids that are not in the
            ground truth (another data set or split), int-list (uncompressed) RLE counts,
            polygons, and (strict) wrong lengths or mask sizes. Messages name the video id,
            the field and, for a file, the file.
    """
    gt = load_ytvis_gt(gt)
    if _is_path(results):
        path = os.fspath(results)
        loaded = _load_json(results, ResultsFormatError, "results")
        try:
            return _validate_results(loaded, gt, strict)
        except ResultsFormatError as e:
            raise ResultsFormatError(f"{path}: {e}") from None
    return _validate_results(results, gt, strict)


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
        missing = [k for k in _RESULT_KEYS if k not in r]
        if missing:
            raise ResultsFormatError(f"result #{i} (video_id {r.get('video_id', '?')}) has no "
                                     f"field {', '.join(repr(k) for k in missing)}")
        vid = _as_id(r["video_id"])
        cat = _as_id(r["category_id"])
        for key, value in (("video_id", vid), ("category_id", cat)):
            if not _is_number(value):
                raise ResultsFormatError(f"result #{i}: field '{key}' must be an integer, got "
                                         f"{r[key]!r}")
        if not _is_number(r["score"]):
            raise ResultsFormatError(f"result #{i} (video_id {vid}): field 'score' must be a "
                                     f"number, got {r['score']!r}")
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
            f"video_id {_short_list(unknown_sorted)}; the results are probably for another data "
            "set or split")

    # Pass 2: per-frame masks.
    problems = []  # lenient mode: what would have been errors
    kept, dropped = [], defaultdict(int)
    cat_set = set(gt.category_ids)
    for i, (r, (vid, cat)) in enumerate(zip(results, ids)):
        segms = r["segmentations"]
        length = gt.video_length(vid)
        if length is not None and len(segms) != length:
            msg = (f"video_id {vid}: result #{i} has {len(segms)} entries in field "
                   f"'segmentations' but the video has {length} frames (one RLE or null per frame)")
            if strict:
                raise ResultsFormatError(msg)
            problems.append(msg)
        size = gt.video_size(vid)
        size_list = list(size) if size is not None else None
        for f, s in enumerate(segms):
            if not s:  # None / {} / []: no mask in this frame (truthiness, as officially)
                continue
            if type(s) is dict and size_list is not None and s.get("size") == size_list:
                counts = s.get("counts")
                if type(counts) is str or type(counts) is bytes:
                    continue  # the common case, checked quickly
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
            if size is not None:
                try:
                    mh, mw = int(s["size"][0]), int(s["size"][1])
                except (TypeError, ValueError, IndexError):
                    raise ResultsFormatError(f"video_id {vid}: result #{i} field 'segmentations' "
                                             f"frame {f}: bad 'size' {s['size']!r}") from None
                if (mh, mw) != size:
                    msg = (f"video_id {vid}: result #{i} field 'segmentations' frame {f}: mask "
                           f"size [{mh}, {mw}] differs from the video's [height, width] "
                           f"[{size[0]}, {size[1]}] (masks must be at the original video "
                           "resolution)")
                    if strict:
                        raise ResultsFormatError(msg)
                    problems.append(msg)
        if cat not in cat_set:
            dropped[cat] += 1
            continue
        kept.append({"video_id": vid, "category_id": cat, "score": float(r["score"]),
                     "segmentations": list(segms)})
    if problems:
        logger.warning("%d problems in the results, scored as the official evaluator scores them "
                       "(frames beyond the shorter list and differently sized masks add nothing); "
                       "first: %s", len(problems), problems[0])
    if dropped:
        logger.warning("%d results with category ids not in the ground truth's categories are "
                       "ignored (as officially): category_id %s", sum(dropped.values()),
                       _short_list(sorted(dropped, key=repr)))
    return kept


# ------------------------------------------------------------------------------------------
# spatio-temporal IoU
# ------------------------------------------------------------------------------------------
class _TrackMasks:
    """The masks of a set of tracks as (N, F) arrays: presence, RLE height / width and (after
    :meth:`fill_areas`) RLE area; 0 where a track has no mask or has ended.

    ``present`` is Python truthiness of the frame entry (evaluation.md: "has a mask").
    ``objs``, ``track`` and ``frame`` list the present masks, track by track.
    """

    def __init__(self, seqs: Sequence[Sequence[Optional[Mapping]]]):
        self.seqs = seqs
        n = len(seqs)
        self.lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        f_max = int(self.lengths.max()) if n else 0
        objs, track, frame = [], [], []
        for t, seq in enumerate(seqs):
            fs = [f for f, r in enumerate(seq) if r]
            objs.extend([seq[f] for f in fs])
            track.extend([t] * len(fs))
            frame.extend(fs)
        self.objs = objs
        self.track = np.array(track, dtype=np.int64)
        self.frame = np.array(frame, dtype=np.int64)
        self.present = np.zeros((n, f_max), dtype=bool)
        self.present[self.track, self.frame] = True
        self.heights = np.zeros((n, f_max), dtype=np.int64)
        self.widths = np.zeros((n, f_max), dtype=np.int64)
        sizes = [o["size"] for o in objs]
        if sizes and sizes.count(sizes[0]) == len(sizes):  # usually all of the video's size
            self.heights[self.track, self.frame] = sizes[0][0]
            self.widths[self.track, self.frame] = sizes[0][1]
        elif sizes:
            sizes = np.array(sizes, dtype=np.int64).reshape(-1, 2)
            self.heights[self.track, self.frame] = sizes[:, 0]
            self.widths[self.track, self.frame] = sizes[:, 1]
        self.areas: Optional[np.ndarray] = None

    def fill_areas(self) -> "_TrackMasks":
        """Compute the RLE area of every mask (one pycocotools pass)."""
        if self.areas is None:
            self.areas = np.zeros(self.present.shape, dtype=np.int64)
            self.areas[self.track, self.frame] = _rle_areas(self.objs)
        return self

    def take(self, idx: Sequence[int]) -> "_TrackMasks":
        """The tracks ``idx`` (areas included) as a new _TrackMasks."""
        self.fill_areas()
        out = _TrackMasks([])
        idx = np.asarray(idx, dtype=np.int64)
        out.seqs = [self.seqs[i] for i in idx.tolist()]
        for name in ("lengths", "present", "heights", "widths", "areas"):
            setattr(out, name, getattr(self, name)[idx])
        return out

    def padded(self, name: str, n_frames: int) -> np.ndarray:
        a = getattr(self, name)
        if a.shape[1] == n_frames:
            return a
        out = np.zeros((a.shape[0], n_frames), dtype=a.dtype)
        out[:, : a.shape[1]] = a
        return out

    def mean_areas(self) -> np.ndarray:
        """Per track: mean RLE area over frames with a non-empty mask, 0 if none
        (evaluation.md: result area). Integer sum, one division, like numpy's mean."""
        count = np.count_nonzero(self.areas, axis=1)
        total = self.areas.sum(axis=1)
        out = np.zeros(len(count), dtype=np.float64)
        np.divide(total, count, out=out, where=count > 0)
        return out


def _rle_areas(objs: List[Mapping]) -> np.ndarray:
    # pycocotools' area() breaks on lists of more than 255 RLEs under NumPy 2 (it builds a
    # uint8 array holding the list length), so call it in chunks.
    if not objs:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([mask_util.area(objs[i:i + 255]) for i in range(0, len(objs), 255)])


# Frames are put into one mask.iou call until its output would exceed this many cells:
# fewer calls (Python overhead) against more pairs from different frames (bounding boxes).
_IOU_CALL_CELLS = 4096


def _iou_vectorized(dm: _TrackMasks, gm: _TrackMasks,
                    min_iou: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Spatio-temporal IoU matrix (D, G), and where the union is empty (D, G) bool.

    Also fills ``dm.areas`` and ``gm.areas`` if not done yet. With ``min_iou``, pairs whose
    IoU provably stays below it are not measured and come back as NaN: the matching never
    looks at an IoU below the lowest threshold.

    How: with the RLE areas of every mask, the frames where only one of a pair has a mask
    and the frames where both have masks of different sizes (adding nothing,
    evaluation.md) are sums of areas. Only the intersections of same-frame, same-size pairs
    need pycocotools: the masks of several frames go into one ``mask.iou`` call, each
    relabelled with the size [h, w + frame]. pycocotools reads only the height when it
    decodes a mask and computes its bounding box (the width only bounds the box from
    above), so nothing changes for a mask, but masks of different frames now differ in size
    and for such a pair mask.iou stops after the bounding-box test. From iou = i / (a + b - i)
    the intersection is i = iou (a + b) / (1 + iou), exact after rounding (the float error
    is far below 0.5 pixel for any frame size).
    """
    D, G = len(dm.seqs), len(gm.seqs)
    dm.fill_areas()
    gm.fill_areas()
    if D == 0 or G == 0:
        return np.zeros((D, G)), np.zeros((D, G), dtype=bool)
    F = max(dm.present.shape[1], gm.present.shape[1])
    pd, pg = dm.padded("present", F), gm.padded("present", F)
    ad, ag = dm.padded("areas", F), gm.padded("areas", F)

    # Frames where only one has a mask add its area to the union. Frames beyond the shorter
    # of the two lists are ignored (zip, evaluation.md), hence prefix sums up to
    # min(len_d, len_g); a list has no mask beyond its own end, so the frames where both
    # have a mask are simply all f with both present.
    stop = np.minimum(dm.lengths[:, None], gm.lengths[None, :])
    cum_g = np.zeros((G, F + 1), dtype=np.int64)
    np.cumsum(ag, axis=1, out=cum_g[:, 1:])
    cum_d = np.zeros((D, F + 1), dtype=np.int64)
    np.cumsum(ad, axis=1, out=cum_d[:, 1:])
    only = (cum_g[np.arange(G)[None, :], stop] - pd.astype(np.int64) @ ag.T
            + cum_d[np.arange(D)[:, None], stop] - ad @ pg.astype(np.int64).T)

    # (F, D, G): both have a mask of the same size. A frame whose two RLE sizes differ adds
    # 0 to both sums (the official merge returns an empty mask; evaluation.md).
    both = ((pd.T[:, :, None] & pg.T[:, None, :])
            & (dm.padded("heights", F).T[:, :, None] == gm.padded("heights", F).T[:, None, :])
            & (dm.padded("widths", F).T[:, :, None] == gm.padded("widths", F).T[:, None, :]))
    a_d, a_g = ad.T[:, :, None], ag.T[:, None, :]
    measure = both.any(axis=0)  # pairs that need intersections
    pruned = None
    if min_iou is not None:
        # IoU = I / U <= sum(min(a_d, a_g)) / (sum(max(a_d, a_g)) + only): an intersection is
        # at most the smaller mask. Pairs clearly below min_iou are skipped.
        upper_num = np.where(both, np.minimum(a_d, a_g), 0).sum(axis=0)
        upper_den = np.where(both, np.maximum(a_d, a_g), 0).sum(axis=0) + only
        pruned = measure & (upper_num < (min_iou - 1e-9) * upper_den)
        measure &= ~pruned
    need = both & measure[None]
    need_d, need_g = need.any(axis=2), need.any(axis=1)  # (F, D), (F, G)

    inter = np.zeros((D, G), dtype=np.int64)
    union = only.copy()
    frames_to_do = np.flatnonzero(need_d.any(axis=1))
    n_d, n_g = need_d.sum(axis=1), need_g.sum(axis=1)
    k = 0
    while k < len(frames_to_do):
        j = k + 1  # grow the chunk of frames while the mask.iou output stays small
        while (j < len(frames_to_do) and n_d[frames_to_do[k:j + 1]].sum()
               * n_g[frames_to_do[k:j + 1]].sum() <= _IOU_CALL_CELLS):
            j += 1
        frames = frames_to_do[k:j]
        k = j
        fd, td = np.nonzero(need_d[frames])  # chunk frame index, track
        fg, tg = np.nonzero(need_g[frames])
        rows = [{"size": [int(dm.heights[t, f]), int(dm.widths[t, f]) + f],
                 "counts": dm.seqs[t][f]["counts"]}
                for t, f in zip(td.tolist(), frames[fd].tolist())]
        cols = [{"size": [int(gm.heights[t, f]), int(gm.widths[t, f]) + f],
                 "counts": gm.seqs[t][f]["counts"]}
                for t, f in zip(tg.tolist(), frames[fg].tolist())]
        block = np.zeros((len(rows) + 1, len(cols) + 1))  # last row / column: not measured
        block[:-1, :-1] = np.asarray(mask_util.iou(rows, cols, np.zeros(len(cols), np.uint8)),
                                     dtype=np.float64).reshape(len(rows), len(cols))
        row_of = np.full((len(frames), D), len(rows))
        row_of[fd, td] = np.arange(len(rows))
        col_of = np.full((len(frames), G), len(cols))
        col_of[fg, tg] = np.arange(len(cols))
        sel = need[frames]
        iou = np.where(sel, block[row_of[:, :, None], col_of[:, None, :]], 0.0)
        area_sum = a_d[frames] + a_g[frames]
        inter_f = np.rint(iou * area_sum / (1.0 + iou)).astype(np.int64)
        inter += inter_f.sum(axis=0)
        union += np.where(sel, area_sum - inter_f, 0).sum(axis=0)
    # pairs without same-size frames in common: intersection 0, union = the "only" sums

    # int64 sums, one float64 division (the official float sums of integers are exact too)
    ious = np.zeros((D, G), dtype=np.float64)
    nz = union > 0
    ious[nz] = inter[nz] / union[nz]
    empty = ~nz
    if pruned is not None:
        ious[pruned] = np.nan
        empty &= ~pruned
    return ious, empty


def _iou_loop(d_seqs, g_seqs) -> Tuple[np.ndarray, np.ndarray]:
    """Reference: the per-pair, per-frame loop with pycocotools merge / area."""
    ious = np.zeros((len(d_seqs), len(g_seqs)), dtype=np.float64)
    empty = np.zeros((len(d_seqs), len(g_seqs)), dtype=bool)
    for i, d_seq in enumerate(d_seqs):
        for j, g_seq in enumerate(g_seqs):
            inter = union = 0.0
            for d, g in zip(d_seq, g_seq):
                if d and g:
                    inter += mask_util.area(mask_util.merge([d, g], intersect=True))
                    union += mask_util.area(mask_util.merge([d, g], intersect=False))
                elif g:
                    union += mask_util.area(g)
                elif d:
                    union += mask_util.area(d)
            if union > 0:
                ious[i, j] = inter / union
            else:
                empty[i, j] = True
    return ious, empty


def _mean_areas_per_track(seqs) -> np.ndarray:
    """Result areas the plain way: per track, mask.area of its masks, mean of the non-zero."""
    out = np.zeros(len(seqs), dtype=np.float64)
    for t, seq in enumerate(seqs):
        areas = _rle_areas([r for r in seq if r])
        areas = areas[areas > 0]
        if areas.size:
            out[t] = areas.mean()
    return out


def video_iou(dt_seqs: Sequence[Sequence[Optional[Mapping]]],
              gt_seqs: Sequence[Sequence[Optional[Mapping]]]) -> np.ndarray:
    """Spatio-temporal mask IoU between result tracks and GT tracks (vectorised).

    Args:
        dt_seqs, gt_seqs: tracks, each a list with one compressed RLE (or a falsy value: no
            mask) per frame.

    Returns:
        (len(dt_seqs), len(gt_seqs)) float64 array of
        ``sum_f |d_f & g_f| / sum_f |d_f | g_f|`` over the zipped frames, exactly as
        :func:`video_iou_loop` (and the official evaluator) computes it.
    """
    return _iou_vectorized(_TrackMasks(dt_seqs), _TrackMasks(gt_seqs))[0]


def video_iou_loop(dt_seqs: Sequence[Sequence[Optional[Mapping]]],
                   gt_seqs: Sequence[Sequence[Optional[Mapping]]]) -> np.ndarray:
    """Same as :func:`video_iou`, computed the official way: a Python loop over pairs and
    frames with ``mask.merge`` / ``mask.area`` (the reference and the benchmark baseline)."""
    return _iou_loop(dt_seqs, gt_seqs)[0]


# ------------------------------------------------------------------------------------------
# the metric
# ------------------------------------------------------------------------------------------
def _greedy_match(ious: np.ndarray, gt_ignore: List[bool], gt_crowd: List[bool],
                  gt_nonzero_id: List[bool], thresholds: np.ndarray):
    """COCO greedy matching of score-sorted results to GT sorted with ignored GT last.

    Returns (matched, ignored), both (T, D) bool: ``matched`` = matched to a GT with a nonzero
    id (what the official dtMatches array says), ``ignored`` = matched to an ignored GT.
    """
    D, G = ious.shape
    T = len(thresholds)
    matched = np.zeros((T, D), dtype=bool)
    ignored = np.zeros((T, D), dtype=bool)
    if D == 0 or G == 0 or ious.max() < min(thresholds.min(), 1 - 1e-10):
        return matched, ignored  # no IoU reaches the lowest threshold: nothing matches
    rows = ious.tolist()
    row_max = ious.max(axis=1).tolist()
    for t, thr in enumerate(thresholds.tolist()):
        thr = min(thr, 1 - 1e-10)
        taken = [False] * G
        for d in range(D):
            if row_max[d] < thr:  # no GT reaches the threshold: nothing to scan
                continue
            row = rows[d]
            best, m = thr, -1
            for g in range(G):
                if taken[g] and not gt_crowd[g]:  # crowd GT can be taken any number of times
                    continue
                # matched to a regular GT and reached the ignored ones: stop (evaluation.md)
                if m >= 0 and not gt_ignore[m] and gt_ignore[g]:
                    break
                if row[g] < best:  # '<': equal IoU also matches, so the later GT wins a tie
                    continue
                best, m = row[g], g
            if m >= 0:
                taken[m] = True
                ignored[t, d] = gt_ignore[m]
                matched[t, d] = gt_nonzero_id[m]
    return matched, ignored


class _GroupResult:
    """Matching of one (video, category) in one area range, as the accumulation needs it."""

    __slots__ = ("scores", "matched", "ignored", "n_gt")

    def __init__(self, scores, matched, ignored, n_gt):
        self.scores = scores  # (D,) float64, sorted descending (stable)
        self.matched = matched  # (T, D) bool
        self.ignored = ignored  # (T, D) bool
        self.n_gt = n_gt  # non-ignored GT


class YTVISEval:
    """The YouTube-VIS metric, staged like pycocotools' COCOeval.

    Example::

        ev = YTVISEval(gt, results)
        ev.evaluate(); ev.accumulate(); stats = ev.summarize()
        ev.per_category_ap()

    Args:
        gt: ground truth (path, dict or :class:`YTVISGroundTruth`).
        results: results (path or list); validated with :func:`validate_results`.
        strict: see :func:`validate_results`.
        iou_impl: ``"vectorized"`` (default) or ``"loop"`` (the official per-pair loop; for
            checks and benchmarks, same numbers, much slower).
        exact_ious: with the vectorised IoU, measure every (result, GT) pair. By default a
            pair whose area-based upper bound is below the lowest IoU threshold (0.5) is not
            measured (NaN in ``ious``): no threshold can match it, so the metric is the same.
        verbose: log progress and print the summary table.

    After :meth:`evaluate`, ``ious[(video_id, category_id)]`` is the (D, G) IoU matrix of
    the group's top-100 results (score order) and GT tracks (json order). After
    :meth:`accumulate`, ``precision`` is a (T, R, K, A, M) array and ``recall`` a
    (T, K, A, M) array (T IoU thresholds, R recall points, K categories sorted by id, A area
    ranges all/small/medium/large, M maxDets 1/10/100), -1 where a setting has no GT.
    """

    def __init__(self, gt, results, strict: bool = True, iou_impl: str = "vectorized",
                 exact_ious: bool = False, verbose: bool = False):
        if iou_impl not in ("vectorized", "loop"):
            raise ValueError(f"iou_impl must be 'vectorized' or 'loop', got {iou_impl!r}")
        with _gc_paused():
            self.gt = load_ytvis_gt(gt)
            self.results = validate_results(results, self.gt, strict=strict)
        self.iou_impl = iou_impl
        self.exact_ious = exact_ious
        self.verbose = verbose
        self.iou_thresholds = IOU_THRESHOLDS
        self.recall_thresholds = RECALL_THRESHOLDS
        self.max_dets = MAX_DETS
        self.area_ranges = AREA_RANGES
        self.ious: Dict[Tuple[Any, Any], np.ndarray] = {}
        self.precision: Optional[np.ndarray] = None
        self.recall: Optional[np.ndarray] = None
        self.stats: Optional[Dict[str, float]] = None
        self.timings: Dict[str, float] = {}
        self._per_cat_area: Optional[Dict[Tuple[int, int], List[_GroupResult]]] = None

    # -- stage 1 -----------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Compute the IoUs and match results to GT per (video, category) and area range."""
        with _gc_paused():
            self._evaluate()

    def _evaluate(self) -> None:
        tic = time.perf_counter()
        gt = self.gt
        dt_groups = defaultdict(list)
        for r in self.results:  # results order kept within a group
            dt_groups[(r["video_id"], r["category_id"])].append(r)
        max_det = self.max_dets[-1]
        cat_index = {c: k for k, c in enumerate(gt.category_ids)}
        cats_by_video = defaultdict(set)
        for vid, cat in list(gt.tracks) + list(dt_groups):
            if cat in cat_index:
                cats_by_video[vid].add(cat)

        per_cat_area: Dict[Tuple[int, int], List[_GroupResult]] = defaultdict(list)
        iou_time = iou_cpu = 0.0
        n_empty_union, empty_groups = 0, []
        for vid in gt.video_ids:  # video ids ascending: the accumulation order
            cats = sorted(cats_by_video.get(vid, ()), key=cat_index.__getitem__)
            if not cats:
                continue
            groups = []  # (cat, gts, dts, scores)
            for cat in cats:
                dts = dt_groups.get((vid, cat), [])
                scores = np.array([d["score"] for d in dts], dtype=np.float64)
                # stable sort by score (ties keep results order), top 100
                order = np.argsort(-scores, kind="mergesort")[:max_det]
                groups.append((cat, gt.tracks.get((vid, cat), []), [dts[i] for i in order],
                               scores[order]))

            t0, c0 = time.perf_counter(), time.process_time()
            group_ious, dt_areas = self._video_ious(vid, groups)
            iou_time += time.perf_counter() - t0
            iou_cpu += time.process_time() - c0

            start = 0
            for (cat, gts, dts, scores), (ious, empty) in zip(groups, group_ious):
                self.ious[(vid, cat)] = ious
                if empty:
                    n_empty_union += empty
                    empty_groups.append((vid, cat))
                k = cat_index[cat]
                areas = dt_areas[start:start + len(dts)]
                start += len(dts)
                for a, result in enumerate(self._match_group(ious, gts, scores, areas)):
                    per_cat_area[(k, a)].append(result)
        if n_empty_union:
            logger.warning("%d (result, GT) pairs in %d (video, category) groups have no frame "
                           "with a mask in either (or only differently sized masks): IoU 0 "
                           "(\"Mask sizes may not match!\"), first in video %s category %s",
                           n_empty_union, len(empty_groups), *empty_groups[0])
        self._per_cat_area = dict(per_cat_area)
        self.timings["iou"] = iou_time  # wall-clock seconds
        self.timings["iou_cpu"] = iou_cpu  # CPU seconds of this process
        self.timings["evaluate"] = time.perf_counter() - tic
        if self.verbose:
            logger.info("evaluate: %.2fs (IoU %.2fs, %s)", self.timings["evaluate"], iou_time,
                        self.iou_impl)

    def _video_ious(self, vid, groups) -> Tuple[List[Tuple[np.ndarray, int]], np.ndarray]:
        """For one video: per group the (D, G) IoU matrix and its number of empty unions, and
        the area of every kept result (groups in order)."""
        all_dts = [d["segmentations"] for _, _, dts, _ in groups for d in dts]
        if self.iou_impl == "loop":
            out = []
            for _, gts, dts, _ in groups:
                ious, empty = _iou_loop([d["segmentations"] for d in dts], [g.rles for g in gts])
                out.append((ious, int(empty.sum())))
            return out, _mean_areas_per_track(all_dts)
        # All results and GT of the video at once (pairs across categories are computed as
        # well and left out: cheaper than one computation per group).
        gt_offsets, gt_masks = self.gt.video_masks(vid)
        dt_masks = _TrackMasks(all_dts).fill_areas()
        rows, spans, start = [], [], 0
        for cat, gts, dts, _ in groups:
            if gts and dts:
                spans.append((len(rows), len(rows) + len(dts)) + gt_offsets[cat])
                rows.extend(range(start, start + len(dts)))
            else:
                spans.append(None)
            start += len(dts)
        if rows:
            min_iou = None if self.exact_ious else min(min(self.iou_thresholds), 1 - 1e-10)
            ious_all, empty_all = _iou_vectorized(dt_masks.take(rows), gt_masks, min_iou)
        out = []
        for (_, gts, dts, _), span in zip(groups, spans):
            if span is None:
                out.append((np.zeros((len(dts), len(gts))), 0))
            else:
                r0, r1, g0, g1 = span
                out.append((ious_all[r0:r1, g0:g1], int(empty_all[r0:r1, g0:g1].sum())))
        return out, dt_masks.mean_areas()

    def _match_group(self, ious, gts, scores, dt_areas) -> List[_GroupResult]:
        """Matching of one (video, category) in every area range."""
        out, cache = [], {}
        # pairs not measured (NaN) are below the lowest threshold: any such value will do
        ious_for_matching = np.where(ious == ious, ious, 0.0) if ious.size else ious
        for _, lo, hi in self.area_ranges:
            # GT outside the range is ignored (evaluation.md: Areas and area ranges)
            gt_ignore = tuple(bool(g.ignore or g.avg_area < lo or g.avg_area > hi) for g in gts)
            hit = cache.get(gt_ignore)  # area ranges often ignore the same GT: match once
            if hit is None:
                # ignored GT moved last, stably (sorted() is stable)
                order = sorted(range(len(gts)), key=gt_ignore.__getitem__)
                matched, ignored = _greedy_match(
                    ious_for_matching[:, order], [gt_ignore[j] for j in order],
                    [gts[j].crowd for j in order], [gts[j].id != 0 for j in order],
                    self.iou_thresholds)
                hit = cache[gt_ignore] = (matched, ignored, len(gts) - sum(gt_ignore))
            matched, ignored, n_gt = hit
            # unmatched results outside the range are ignored; matched ones count whatever
            # their own area
            outside = (dt_areas < lo) | (dt_areas > hi)
            out.append(_GroupResult(scores, matched, ignored | (~matched & outside[None, :]), n_gt))
        return out

    # -- stage 2 -----------------------------------------------------------------------------
    def accumulate(self) -> None:
        """Precision / recall per IoU threshold, category, area range and maxDets."""
        if self._per_cat_area is None:
            raise RuntimeError("run evaluate() first")
        tic = time.perf_counter()
        T, R = len(self.iou_thresholds), len(self.recall_thresholds)
        K, A, M = len(self.gt.category_ids), len(self.area_ranges), len(self.max_dets)
        precision = -np.ones((T, R, K, A, M))
        recall = -np.ones((T, K, A, M))
        for (k, a), groups in self._per_cat_area.items():
            n_gt = sum(g.n_gt for g in groups)
            if n_gt == 0:  # no GT in this setting: stays -1, left out of the means
                continue
            # groups are in ascending video id order, results in score order within a group
            all_scores = np.concatenate([g.scores for g in groups])
            all_matched = np.concatenate([g.matched for g in groups], axis=1)
            all_ignored = np.concatenate([g.ignored for g in groups], axis=1)
            rank = np.concatenate([np.arange(len(g.scores)) for g in groups])
            for m, max_det in enumerate(self.max_dets):
                keep = rank < max_det  # the first maxDet of every (video, category)
                scores = all_scores[keep]
                # a stable sort: ties go to the lower video id, then to results order
                # (evaluation.md: Accumulation)
                order = np.flatnonzero(keep)[np.argsort(-scores, kind="mergesort")]
                matched = all_matched[:, order]
                ignored = all_ignored[:, order]
                tps = matched & ~ignored
                fps = ~matched & ~ignored
                tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
                nd = tp_sum.shape[1]
                if nd == 0:
                    recall[:, k, a, m] = 0
                    precision[:, :, k, a, m] = 0
                    continue
                rc = tp_sum / n_gt
                pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
                recall[:, k, a, m] = rc[:, -1]
                pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # non-increasing
                for t in range(T):
                    idx = np.searchsorted(rc[t], self.recall_thresholds, side="left")
                    q = np.zeros(R)
                    ok = idx < nd  # recall points past the last recall get 0
                    q[ok] = pr[t, idx[ok]]
                    precision[t, :, k, a, m] = q
        self.precision, self.recall = precision, recall
        self.timings["accumulate"] = time.perf_counter() - tic

    # -- stage 3 -----------------------------------------------------------------------------
    def _summary_value(self, ap: bool, iou_thr=None, area="all", max_det=100) -> float:
        a = [lbl for lbl, _, _ in self.area_ranges].index(area)
        m = list(self.max_dets).index(max_det)
        if ap:
            s = self.precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == self.iou_thresholds)[0]]
            s = s[:, :, :, a, m]
        else:
            s = self.recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == self.iou_thresholds)[0]]
            s = s[:, :, a, m]
        valid = s[s > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    def summarize(self) -> Dict[str, float]:
        """The official 12 numbers (fractions, -1 where undefined) as a dict; also ``.stats``."""
        if self.precision is None:
            raise RuntimeError("run accumulate() first")
        v = self._summary_value
        self.stats = {
            "AP": v(True),
            "AP50": v(True, iou_thr=0.5),
            "AP75": v(True, iou_thr=0.75),
            "APs": v(True, area="small"),
            "APm": v(True, area="medium"),
            "APl": v(True, area="large"),
            "AR1": v(False, max_det=1),
            "AR10": v(False, max_det=10),
            "AR100": v(False, max_det=100),
            "ARs": v(False, area="small"),
            "ARm": v(False, area="medium"),
            "ARl": v(False, area="large"),
        }
        if self.verbose:
            print(format_table(self.stats))
        return self.stats

    def per_category_ap(self) -> Dict[str, float]:
        """AP@[.5:.95] (area all, maxDets 100) per category name; -1 for a category without GT."""
        if self.precision is None:
            raise RuntimeError("run accumulate() first")
        out = {}
        for k, cat in enumerate(self.gt.category_ids):
            s = self.precision[:, :, k, 0, -1]
            valid = s[s > -1]
            out[self.gt.category_name(cat)] = float(np.mean(valid)) if valid.size else -1.0
        return out


def evaluate_ytvis(gt, results, verbose: bool = False, strict: bool = True,
                   iou_impl: str = "vectorized") -> Dict[str, float]:
    """Score YouTube-VIS results.

    Args:
        gt: ground truth (path, dict or :class:`YTVISGroundTruth`, see :func:`load_ytvis_gt`).
        results: results json path or list (see :func:`validate_results`).
        verbose: print the summary table.
        strict, iou_impl: see :class:`YTVISEval`.

    Returns:
        ``{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "ARs", "ARm", "ARl"}``:
        Python floats, fractions in [0, 1], -1 where the setting has no ground truth.
    """
    ev = YTVISEval(gt, results, strict=strict, iou_impl=iou_impl, verbose=verbose)
    ev.evaluate()
    ev.accumulate()
    stats = ev.summarize()
    return {k: stats[k] for k in STAT_KEYS}


# ------------------------------------------------------------------------------------------
# printing and CLI
# ------------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    return "-" if value < 0 else f"{100.0 * value:.2f}"


def format_table(stats: Mapping[str, float],
                 per_category: Optional[Mapping[str, float]] = None) -> str:
    """A printable table of the metric (percent; ``-`` where a setting has no GT).

    Args:
        stats: output of :func:`evaluate_ytvis` or :meth:`YTVISEval.summarize`.
        per_category: optional ``{category name: AP}`` (:meth:`YTVISEval.per_category_ap`).
    """
    keys = [k for k in ALL_STAT_KEYS if k in stats]
    cells = [_fmt(stats[k]) for k in keys]
    widths = [max(len(k), len(c)) for k, c in zip(keys, cells)]
    lines = ["YouTube-VIS segm metric (%; '-' = no ground truth in that setting)",
             "| " + " | ".join(k.center(w) for k, w in zip(keys, widths)) + " |",
             "|" + "|".join(":" + "-" * w + ":" for w in widths) + "|",
             "| " + " | ".join(c.center(w) for c, w in zip(cells, widths)) + " |"]
    if per_category:
        items = [(name, _fmt(ap)) for name, ap in per_category.items()]
        nw = max(len("category"), *(len(n) for n, _ in items))
        cols = 3
        lines += ["", "Per-category AP (%):",
                  "| " + " | ".join(f"{'category':<{nw}} | {'AP':>6}" for _ in range(cols)) + " |",
                  "|" + "|".join(f":{'-' * nw}-|{'-' * 7}:" for _ in range(cols)) + "|"]
        for start in range(0, len(items), cols):
            row = items[start:start + cols]
            row += [("", "")] * (cols - len(row))
            lines.append("| " + " | ".join(f"{n:<{nw}} | {v:>6}" for n, v in row) + " |")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI: score a results json against a YouTube-VIS annotation json."""
    parser = argparse.ArgumentParser(
        prog="python -m masktrack_d2.evaluation.ytvis_eval",
        description="YouTube-VIS video instance segmentation AP/AR (same numbers as the official "
                    "youtubevos/cocoapi evaluator).")
    parser.add_argument("--gt", required=True, help="annotation json with annotations "
                        "(e.g. a held-out train split)")
    parser.add_argument("--results", required=True, help="results json: a list of {video_id, "
                        "category_id, score, segmentations}")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the 11 "
                        "numbers (fractions, -1 = no ground truth) instead of the table")
    parser.add_argument("--per-category", action="store_true", help="also print per-category AP")
    parser.add_argument("--lenient", action="store_true", help="score wrong segmentation-list "
                        "lengths and mask sizes as the official evaluator does instead of "
                        "stopping with an error")
    parser.add_argument("--verbose", action="store_true", help="log timings")
    args = parser.parse_args(argv)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ytvis_eval: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logger.propagate = False
    try:
        current = args.gt
        try:
            gt = load_ytvis_gt(args.gt)
            current = args.results
            ev = YTVISEval(gt, args.results, strict=not args.lenient)
        except (ResultsFormatError, GroundTruthFormatError) as e:
            print(f"ytvis_eval: error: {_one_line(e)}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"ytvis_eval: error: {current}: {_one_line(e.strerror or e)}", file=sys.stderr)
            return 1
        ev.evaluate()
        ev.accumulate()
        stats = ev.summarize()
        if args.json:
            print(json.dumps({k: stats[k] for k in STAT_KEYS}))
        else:
            print(format_table({k: stats[k] for k in STAT_KEYS},
                               ev.per_category_ap() if args.per_category else None))
        return 0
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


if __name__ == "__main__":
    sys.exit(main())
