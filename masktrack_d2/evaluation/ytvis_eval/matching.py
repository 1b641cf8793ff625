"""Matching of results to ground truth per (video, category), and accumulation into
precision / recall (COCO rules applied to tracks; docs/evaluation.md, "Matching" and
"Accumulation")."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


def greedy_match(ious: np.ndarray, gt_ignore: List[bool], gt_crowd: List[bool],
                  gt_nonzero_id: List[bool], thresholds: np.ndarray):
    """COCO greedy matching of score-sorted results to GT sorted with ignored GT last.

    Returns (matched, ignored, gt_index): ``matched`` and ``ignored`` (T, D) bool, ``matched``
    = matched to a GT with a nonzero id (what the official dtMatches array says), ``ignored``
    = matched to an ignored GT; ``gt_index`` (T, D) int64, the column of the GT each result
    was matched to (-1: none).
    """
    D, G = ious.shape
    T = len(thresholds)
    matched = np.zeros((T, D), dtype=bool)
    ignored = np.zeros((T, D), dtype=bool)
    gt_index = np.full((T, D), -1, dtype=np.int64)
    if D == 0 or G == 0 or ious.max() < min(thresholds.min(), 1 - 1e-10):
        return matched, ignored, gt_index  # no IoU reaches the lowest threshold
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
                # matched to a regular GT and reached the ignored ones: stop (docs/evaluation.md)
                if m >= 0 and not gt_ignore[m] and gt_ignore[g]:
                    break
                if row[g] < best:  # '<': equal IoU also matches, so the later GT wins a tie
                    continue
                best, m = row[g], g
            if m >= 0:
                taken[m] = True
                ignored[t, d] = gt_ignore[m]
                matched[t, d] = gt_nonzero_id[m]
                gt_index[t, d] = m
    return matched, ignored, gt_index


class GroupResult:
    """Matching of one (video, category) in one area range, as the accumulation needs it."""

    __slots__ = ("scores", "matched", "ignored", "n_gt", "gt_index")

    def __init__(self, scores, matched, ignored, n_gt, gt_index=None):
        self.scores = scores  # (D,) float64, sorted descending (stable)
        self.matched = matched  # (T, D) bool
        self.ignored = ignored  # (T, D) bool
        self.n_gt = n_gt  # non-ignored GT
        self.gt_index = gt_index  # (T, D) int64: the group's GT (json order) matched, -1 none


def match_group(ious: np.ndarray, gts: Sequence, scores: np.ndarray, dt_areas: np.ndarray,
                area_ranges, iou_thresholds: np.ndarray,
                gt_sizes: Optional[Sequence[float]] = None) -> List[GroupResult]:
    """Matching of one (video, category) in every area range.

    Args:
        ious: (D, G) IoU of the group's results (score order) and GT tracks (json order); NaN
            for pairs not measured (known to be below the lowest threshold).
        gts: the GT tracks (``ignore``, ``crowd``, ``avg_area``, ``id``).
        scores: (D,) result scores, sorted descending.
        dt_areas: (D,) result areas (mean over frames with a non-empty mask).
        area_ranges: ``(label, lo, hi)`` per area range.
        iou_thresholds: (T,) thresholds.
        gt_sizes: (G,) what ``area_ranges`` bound on the GT side; default the GT areas
            (``avg_area``). With ``dt_areas`` and the ranges, any other size works the same
            way (the error analysis ranges tracks by temporal length).

    Returns:
        one :class:`GroupResult` per area range.
    """
    if not gts:  # nothing to match: every result is a false positive or ignored by area
        T = len(iou_thresholds)
        matched = np.zeros((T, len(scores)), dtype=bool)
        lo, hi = np.array([[r[1]] for r in area_ranges]), np.array([[r[2]] for r in area_ranges])
        outside = ((dt_areas[None, :] < lo) | (dt_areas[None, :] > hi)).repeat(T, axis=0)
        gt_index = np.full((T, len(scores)), -1, dtype=np.int64)
        return [GroupResult(scores, matched, outside[a * T:(a + 1) * T], 0, gt_index)
                for a in range(len(area_ranges))]
    if gt_sizes is None:
        gt_sizes = [g.avg_area for g in gts]
    out, cache = [], {}
    # pairs not measured (NaN) are below the lowest threshold: any such value will do
    ious_for_matching = np.where(ious == ious, ious, 0.0) if ious.size else ious
    for _, lo, hi in area_ranges:
        # GT outside the range is ignored (docs/evaluation.md, "Area ranges")
        gt_ignore = tuple(bool(g.ignore or s < lo or s > hi) for g, s in zip(gts, gt_sizes))
        hit = cache.get(gt_ignore)  # area ranges often ignore the same GT: match once
        if hit is None:
            # ignored GT moved last, stably (sorted() is stable)
            order = sorted(range(len(gts)), key=gt_ignore.__getitem__)
            matched, ignored, col = greedy_match(
                ious_for_matching[:, order], [gt_ignore[j] for j in order],
                [gts[j].crowd for j in order], [gts[j].id != 0 for j in order],
                iou_thresholds)
            gt_index = np.where(col >= 0, np.asarray(order, dtype=np.int64)[col], -1)
            hit = cache[gt_ignore] = (matched, ignored, len(gts) - sum(gt_ignore), gt_index)
        matched, ignored, n_gt, gt_index = hit
        # unmatched results outside the range are ignored; matched ones count whatever
        # their own area
        outside = (dt_areas < lo) | (dt_areas > hi)
        out.append(GroupResult(scores, matched, ignored | (~matched & outside[None, :]), n_gt,
                               gt_index))
    return out


def accumulate(per_cat_area: Dict[Tuple[int, int], List[GroupResult]], n_categories: int,
               n_area_ranges: int, iou_thresholds: np.ndarray, recall_thresholds: np.ndarray,
               max_dets: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Precision / recall per IoU threshold, category, area range and maxDets.

    Args:
        per_cat_area: ``{(category index k, area range index a): [GroupResult, ...]}``, groups
            in ascending video id order.

    Returns:
        precision (T, R, K, A, M) and recall (T, K, A, M), -1 where a setting has no GT.
    """
    T, R = len(iou_thresholds), len(recall_thresholds)
    K, A, M = n_categories, n_area_ranges, len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for (k, a), groups in per_cat_area.items():
        n_gt = sum(g.n_gt for g in groups)
        if n_gt == 0:  # no GT in this setting: stays -1, left out of the means
            continue
        # groups are in ascending video id order, results in score order within a group
        all_scores = np.concatenate([g.scores for g in groups])
        all_matched = np.concatenate([g.matched for g in groups], axis=1)
        all_ignored = np.concatenate([g.ignored for g in groups], axis=1)
        rank = np.concatenate([np.arange(len(g.scores)) for g in groups])
        for m, max_det in enumerate(max_dets):
            keep = rank < max_det  # the first maxDet of every (video, category)
            scores = all_scores[keep]
            # a stable sort: ties go to the lower video id, then to results order
            # (docs/evaluation.md, "Accumulation")
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
                idx = np.searchsorted(rc[t], recall_thresholds, side="left")
                q = np.zeros(R)
                ok = idx < nd  # recall points past the last recall get 0
                q[ok] = pr[t, idx[ok]]
                precision[t, :, k, a, m] = q
    return precision, recall
