"""The YouTube-VIS metric staged like pycocotools' COCOeval: :class:`YTVISEval` (evaluate,
accumulate, summarize) and the one-call :func:`evaluate_ytvis`."""
import logging
import multiprocessing
import time
from collections import defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .common import gc_paused
from .gt import load_ytvis_gt
from .iou import TrackMasks, iou_matrix, iou_matrix_loop, mean_areas_loop, mean_track_areas
from .matching import GroupResult, accumulate, match_group
from .params import AREA_RANGES, IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS, STAT_KEYS
from .results import validate_results
from .summary import format_table

logger = logging.getLogger(__name__)

# Below this many videos per worker, forking costs more than it saves.
_MIN_VIDEOS_PER_WORKER = 32
_FORKED_EVAL = None  # the YTVISEval a forked worker scores (set around the pool)


def top_results(dts: List[Dict[str, Any]], max_det: int) -> Tuple[List[Dict[str, Any]],
                                                                  np.ndarray]:
    """The results of one (video, category) the metric scores: the ``max_det`` highest
    scores, in score order (a stable sort: ties keep the results order), and their (D,)
    float64 scores."""
    scores = np.array([d["score"] for d in dts], dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")[:max_det]
    return [dts[i] for i in order], scores[order]


def mean_precision(precision: np.ndarray) -> float:
    """The mean of the defined entries (> -1) of a slice of :attr:`YTVISEval.precision`:
    AP over whatever thresholds, recall points and categories it holds; -1 if none is
    defined (no GT in that setting)."""
    valid = precision[precision > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _score_videos_in_worker(jobs):
    with gc_paused():
        return [_FORKED_EVAL._score_video(vid, cats) for vid, cats in jobs]


class YTVISEval:
    """The YouTube-VIS metric, staged like pycocotools' COCOeval.

    Example::

        ev = YTVISEval(gt, results)
        ev.evaluate(); ev.accumulate(); stats = ev.summarize()
        ev.per_category_ap()

    Args:
        gt: ground truth (path, dict or :class:`YTVISGroundTruth`).
        results: results (path or list); validated with :func:`validate_results`.
        strict: see :func:`validate_results` and :func:`load_ytvis_gt`.
        iou_impl: ``"vectorized"`` (default) or ``"loop"`` (the official per-pair loop; for
            checks and benchmarks, same numbers, much slower).
        exact_ious: with the vectorised IoU, measure every (result, GT) pair. By default a
            pair whose area-based upper bound is below the lowest IoU threshold (0.5) is not
            measured (NaN in ``ious``): no threshold can match it, so the metric is the same.
        verbose: log progress and print the summary table.
        workers: processes for the per-video IoU and matching (forked, Linux / macOS); the
            numbers do not depend on it.

    After :meth:`evaluate`, ``ious[(video_id, category_id)]`` is the (D, G) IoU matrix of
    the group's top-100 results (score order) and GT tracks (json order). After
    :meth:`accumulate`, ``precision`` is a (T, R, K, A, M) array and ``recall`` a
    (T, K, A, M) array (T IoU thresholds, R recall points, K categories sorted by id, A area
    ranges all/small/medium/large, M maxDets 1/10/100), -1 where a setting has no GT.
    """

    def __init__(self, gt, results, strict: bool = True, iou_impl: str = "vectorized",
                 exact_ious: bool = False, verbose: bool = False, workers: int = 1):
        if iou_impl not in ("vectorized", "loop"):
            raise ValueError(f"iou_impl must be 'vectorized' or 'loop', got {iou_impl!r}")
        tic = time.perf_counter()
        with gc_paused():
            self.gt = load_ytvis_gt(gt, strict=strict)
            toc = time.perf_counter()
            self.results = validate_results(results, self.gt, strict=strict)
        self.timings: Dict[str, float] = {"gt": toc - tic, "results": time.perf_counter() - toc}
        self.iou_impl = iou_impl
        self.exact_ious = exact_ious
        self.verbose = verbose
        self.workers = max(1, int(workers))
        self.iou_thresholds = IOU_THRESHOLDS
        self.recall_thresholds = RECALL_THRESHOLDS
        self.max_dets = MAX_DETS
        self.area_ranges = AREA_RANGES
        self.ious: Dict[Tuple[Any, Any], np.ndarray] = {}
        self.precision: Optional[np.ndarray] = None
        self.recall: Optional[np.ndarray] = None
        self.stats: Optional[Dict[str, float]] = None
        self._per_cat_area: Optional[Dict[Tuple[int, int], List[GroupResult]]] = None

    # -- stage 1 -----------------------------------------------------------------------------
    def evaluate(self) -> None:
        """Compute the IoUs and match results to GT per (video, category) and area range."""
        with gc_paused():
            self._evaluate()

    def _evaluate(self) -> None:
        tic = time.perf_counter()
        gt = self.gt
        dt_groups = defaultdict(list)
        for r in self.results:  # results order kept within a group
            dt_groups[(r["video_id"], r["category_id"])].append(r)
        cat_index = {c: k for k, c in enumerate(gt.category_ids)}
        cats_by_video = defaultdict(set)
        for vid, cat in list(gt.tracks) + list(dt_groups):
            if cat in cat_index:
                cats_by_video[vid].add(cat)
        # video ids ascending: the accumulation order
        jobs = [(vid, sorted(cats_by_video[vid], key=cat_index.__getitem__))
                for vid in gt.video_ids if cats_by_video.get(vid)]
        self._dt_groups = dt_groups
        try:
            outputs = self._map_videos(jobs)
            per_cat_area: Dict[Tuple[int, int], List[GroupResult]] = defaultdict(list)
            iou_time = iou_cpu = 0.0
            n_empty_union, empty_groups = 0, []
            for (vid, _), (per_group, t_wall, t_cpu) in zip(jobs, outputs):
                iou_time += t_wall
                iou_cpu += t_cpu
                for cat, ious, empty, results in per_group:
                    self.ious[(vid, cat)] = ious
                    if empty:
                        n_empty_union += empty
                        empty_groups.append((vid, cat))
                    k = cat_index[cat]
                    for a, result in enumerate(results):
                        per_cat_area[(k, a)].append(result)
        finally:
            del self._dt_groups
        if n_empty_union:
            logger.warning("%d (result, GT) pairs in %d (video, category) groups have no frame "
                           "with a mask in either (or only differently sized masks): IoU 0 "
                           "(\"Mask sizes may not match!\"), first in video %s category %s",
                           n_empty_union, len(empty_groups), *empty_groups[0])
        self._per_cat_area = dict(per_cat_area)
        self.timings["iou"] = iou_time  # wall-clock seconds (summed over workers)
        self.timings["iou_cpu"] = iou_cpu  # CPU seconds (summed over workers)
        self.timings["evaluate"] = time.perf_counter() - tic
        if self.verbose:
            logger.info("evaluate: %.2fs (IoU %.2fs, %s, %d worker(s))", self.timings["evaluate"],
                        iou_time, self.iou_impl, self.workers)

    def _map_videos(self, jobs):
        """:meth:`_score_video` over ``jobs`` in order; in ``workers`` forked processes if
        more than one (each scores whole videos, so the outputs are the same)."""
        if self.workers <= 1 or len(jobs) < 2 * _MIN_VIDEOS_PER_WORKER:
            return [self._score_video(vid, cats) for vid, cats in jobs]
        global _FORKED_EVAL
        n_chunks = min(len(jobs) // _MIN_VIDEOS_PER_WORKER, 4 * self.workers)
        bounds = np.linspace(0, len(jobs), n_chunks + 1).astype(int)
        chunks = [jobs[i:j] for i, j in zip(bounds[:-1], bounds[1:])]
        _FORKED_EVAL = self  # read by the forked workers (copy-on-write), never pickled
        try:
            with multiprocessing.get_context("fork").Pool(self.workers) as pool:
                return [out for part in pool.imap(_score_videos_in_worker, chunks)
                        for out in part]
        finally:
            _FORKED_EVAL = None

    def _score_video(self, vid, cats):
        """IoUs and matching of one video: ([(cat, ious, n empty unions, [GroupResult per area
        range])], IoU wall s, IoU CPU s)."""
        gt, max_det = self.gt, self.max_dets[-1]
        groups = []  # (cat, gts, dts, scores)
        for cat in cats:
            dts, scores = top_results(self._dt_groups.get((vid, cat), []), max_det)
            groups.append((cat, gt.tracks.get((vid, cat), []), dts, scores))
        t0, c0 = time.perf_counter(), time.process_time()
        group_ious, dt_areas = self._video_ious(vid, groups)
        t_wall, t_cpu = time.perf_counter() - t0, time.process_time() - c0
        out, start = [], 0
        for (cat, gts, dts, scores), (ious, empty) in zip(groups, group_ious):
            areas = dt_areas[start:start + len(dts)]
            start += len(dts)
            out.append((cat, ious, empty, match_group(ious, gts, scores, areas, self.area_ranges,
                                                      self.iou_thresholds)))
        return out, t_wall, t_cpu

    def _video_ious(self, vid, groups) -> Tuple[List[Tuple[np.ndarray, int]], np.ndarray]:
        """For one video: per group the (D, G) IoU matrix and its number of empty unions, and
        the area of every kept result (groups in order)."""
        all_dts = [d["segmentations"] for _, _, dts, _ in groups for d in dts]
        if self.iou_impl == "loop":
            out = []
            for _, gts, dts, _ in groups:
                ious, empty = iou_matrix_loop([d["segmentations"] for d in dts],
                                              [g.rles for g in gts])
                out.append((ious, int(empty.sum())))
            return out, mean_areas_loop(all_dts)
        # All results and GT of the video at once (pairs across categories are computed as
        # well and left out: cheaper than one computation per group).
        gt_offsets, gt_masks = self.gt.video_masks(vid)
        rows, spans, start = [], [], 0
        for cat, gts, dts, _ in groups:
            if gts and dts:
                spans.append((len(rows), len(rows) + len(dts)) + gt_offsets[cat])
                rows.extend(range(start, start + len(dts)))
            else:
                spans.append(None)
            start += len(dts)
        all_areas = [d.get("areas") for _, _, dts, _ in groups for d in dts]
        if any(a is None for a in all_areas):  # results not from validate_results
            dt_masks = TrackMasks(all_dts).fill_areas()
            row_masks, mean_areas = dt_masks.take(rows), dt_masks.mean_areas()
        else:  # only the results that can match a GT need their masks indexed
            row_masks = TrackMasks([all_dts[i] for i in rows], [all_areas[i] for i in rows])
            mean_areas = mean_track_areas(all_areas)
        if rows:
            min_iou = None if self.exact_ious else min(min(self.iou_thresholds), 1 - 1e-10)
            ious_all, empty_all = iou_matrix(row_masks, gt_masks, min_iou)
        out = []
        for (_, gts, dts, _), span in zip(groups, spans):
            if span is None:
                out.append((np.zeros((len(dts), len(gts))), 0))
            else:
                r0, r1, g0, g1 = span
                out.append((ious_all[r0:r1, g0:g1], int(empty_all[r0:r1, g0:g1].sum())))
        return out, mean_areas

    # -- stage 2 -----------------------------------------------------------------------------
    def accumulate(self) -> None:
        """Precision / recall per IoU threshold, category, area range and maxDets."""
        if self._per_cat_area is None:
            raise RuntimeError("run evaluate() first")
        tic = time.perf_counter()
        self.precision, self.recall = accumulate(
            self._per_cat_area, len(self.gt.category_ids), len(self.area_ranges),
            self.iou_thresholds, self.recall_thresholds, self.max_dets)
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
        return mean_precision(s)

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
        return {name: values["AP"] for name, values in self.per_category_stats().items()}

    def per_category_stats(self) -> Dict[str, Dict[str, float]]:
        """``{category name: {"AP", "AP50", "AP75"}}`` (area all, maxDets 100); -1 for a
        category without GT."""
        if self.precision is None:
            raise RuntimeError("run accumulate() first")
        t50, t75 = (int(np.flatnonzero(self.iou_thresholds == t)[0]) for t in (0.5, 0.75))
        out = {}
        for k, cat in enumerate(self.gt.category_ids):
            s = self.precision[:, :, k, 0, -1]
            out[self.gt.category_name(cat)] = {
                "AP": mean_precision(s), "AP50": mean_precision(s[t50]),
                "AP75": mean_precision(s[t75])}
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
