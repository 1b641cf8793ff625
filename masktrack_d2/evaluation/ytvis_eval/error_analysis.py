"""Where the AP goes: TIVE's error types, each weighed by the AP an oracle gains by fixing it,
on top of the official metric.

Every result the metric counts as a false positive at IoU 0.5 gets one error type, in TIVE's
order of tests (``bg`` = 0.1, ``pos`` = 0.5; IoU is the metric's video IoU):

* ``Bkg``: the video has no (non-crowd) ground truth at all;
* ``Spat`` / ``Temp``: its best IoU with a GT of its category lies in [bg, pos]. ``Spat``
  (spatial segmentation) if it overlaps that GT (per-frame IoU > 0.1) in at least 70% of the
  frames where either of the two has a mask, else ``Temp`` (temporal association);
* ``Cls``: IoU >= pos with a GT of another category;
* ``Dupe``: IoU >= pos with a GT of its category that another result already took;
* ``Bkg``: IoU <= bg with every GT;
* ``Both``: none of the above.

A GT that no result matched and no ``Cls`` / ``Spat`` / ``Temp`` error points at is ``Miss``.

Each oracle changes the metric's matching at IoU 0.5 and re-scores it with the metric's own
accumulation (:func:`.matching.accumulate`): ``Cls`` / ``Spat`` / ``Temp`` errors become true
positives of their GT (in the GT's category), except where the GT was matched or a
higher-scored error of any of the three types points at the same GT: those are removed, as
are ``Dupe``, ``Bkg`` and ``Both`` errors; ``Miss`` removes the missed GT. dAP = fixed AP50 -
AP50, in AP points, negative values clipped to 0. The two special errors: ``FalsePos``
removes every false positive, ``FalseNeg`` every unmatched GT.

The base is the official AP50. The fixed AP averages over the categories the base averages
(those with GT); a category an oracle leaves without GT counts as 0 if results of it remain
(they are all false positives) and drops out otherwise. Where every category with results
has GT, TIVE's numbers are the same (its AP also averages in categories that only have
results, as 0). docs/error_analysis.md says where else the two differ.

:func:`length_ap` is the official AP over instance temporal length: GT tracks are ranged by
the number of frames that have a segmentation, results by the number of frames with a
non-empty mask, and the ranges act as the metric's area ranges do.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_util

from .iou import TrackMasks, iou_matrix, mean_track_areas
from .matching import GroupResult, accumulate, match_group
from .metric import YTVISEval, mean_precision, top_results
from .params import IOU_THRESHOLDS, MAX_DETS, RECALL_THRESHOLDS

#: TIVE's seven error types, in its order
ERROR_TYPES = ("Cls", "Dupe", "Spat", "Temp", "Both", "Bkg", "Miss")
#: their long names
ERROR_NAMES = {"Cls": "classification", "Dupe": "duplicate", "Spat": "spatial segmentation",
               "Temp": "temporal association", "Both": "both (class and location)",
               "Bkg": "background", "Miss": "missed"}
#: the two special errors, and their long names
SPECIAL_TYPES = ("FalsePos", "FalseNeg")
SPECIAL_NAMES = {"FalsePos": "false positives", "FalseNeg": "false negatives"}
#: instance temporal length ranges (frames, inclusive), as TIVE's YouTube-VIS split
LENGTH_RANGES = (("short", 0, 16), ("medium", 17, 32), ("long", 33, 1e10))

_ALL_AREAS = (("all", 0.0, 1e10),)
_FIX_TYPES = ("Cls", "Spat", "Temp")  # the errors an oracle turns into true positives


@dataclass
class TrackError:
    """One error: a false positive (``result`` set) or a missed GT (``result`` None).

    ``target`` is the GT a ``Cls`` / ``Spat`` / ``Temp`` error would match once fixed
    (``(category id, index in the video's GT of that category)``), else None.
    """

    type: str
    video_id: Any
    category_id: Any
    score: float = 0.0
    result: Optional[Dict[str, Any]] = None
    gt_id: Any = None
    target: Optional[Tuple[Any, int]] = None
    target_free: bool = False  # no result matched the target GT: the oracle may use it


@dataclass
class ErrorBreakdown:
    """The error analysis of one results set.

    Attributes:
        base_ap50: the official AP50, in AP points (percent).
        main: ``{type: dAP}`` for :data:`ERROR_TYPES` (AP points, >= 0).
        special: ``{type: dAP}`` for :data:`SPECIAL_TYPES`.
        counts: ``{type: number of errors}`` for :data:`ERROR_TYPES`.
        errors: every error, video by video.
    """

    base_ap50: float
    main: Dict[str, float]
    special: Dict[str, float]
    counts: Dict[str, int]
    errors: List[TrackError] = field(repr=False, default_factory=list)


class _Group:
    """One (video, category) at IoU 0.5: the results the metric scores and their state."""

    __slots__ = ("dts", "scores", "tp", "dropped", "n_gt", "gt_used")

    def __init__(self, dts, scores, res: GroupResult, gts):
        self.dts = dts
        self.scores = scores
        self.tp = res.matched[0].copy()
        self.dropped = res.ignored[0].copy()  # matched to crowd GT: not counted
        self.n_gt = res.n_gt
        # (G,) the non-crowd GT some result matched
        self.gt_used = np.zeros(len(gts), dtype=bool)
        self.gt_used[res.gt_index[0][res.gt_index[0] >= 0]] = True
        self.gt_used &= np.array([not t.ignore for t in gts], dtype=bool)


def _frame_overlap(dt: Dict[str, Any], gt_rles, frame_thr: float) -> float:
    """Fraction of the frames where the GT has a segmentation or the result a non-empty mask
    in which the two overlap with IoU > ``frame_thr``."""
    union = hits = 0
    for d, area, g in zip(dt["segmentations"], dt["areas"], gt_rles):
        if not area and g is None:
            continue
        union += 1
        if area and g is not None and float(mask_util.iou([d], [g], [0])[0][0]) > frame_thr:
            hits += 1
    return hits / union if union else 0.0


class ErrorAnalysis:
    """TIVE's error breakdown and AP over temporal length, computed with the metric's code.

    Example::

        ev = YTVISEval(gt, results)
        analysis = ErrorAnalysis(ev)
        analysis.breakdown().main["Cls"]      # AP50 points gained by fixing class errors
        analysis.length_ap()                  # [{"name": "short", "AP": ..., "n_gt": ...}, ...]

    Args:
        ev: a :class:`YTVISEval` (its ground truth and validated results are used; it need
            not have been evaluated).
        pos_thr, bg_thr: TIVE's foreground and background IoU thresholds.
        frame_thr, temporal_thr: a false positive near its GT is spatial if its per-frame
            IoU exceeds ``frame_thr`` in at least ``temporal_thr`` of the frames.
    """

    def __init__(self, ev: YTVISEval, pos_thr: float = 0.5, bg_thr: float = 0.1,
                 frame_thr: float = 0.1, temporal_thr: float = 0.7):
        self.gt = ev.gt
        self.results = ev.results
        self.pos_thr, self.bg_thr = pos_thr, bg_thr
        self.frame_thr, self.temporal_thr = frame_thr, temporal_thr
        self._cat_index = {c: k for k, c in enumerate(self.gt.category_ids)}
        self._videos: Optional[Dict[Any, dict]] = None
        self._breakdown: Optional[ErrorBreakdown] = None

    # -- per video ---------------------------------------------------------------------------
    def _video_data(self) -> Dict[Any, dict]:
        """Per video: the scored results per category and the exact IoUs (>= bg) with all
        of the video's GT."""
        if self._videos is not None:
            return self._videos
        gt, max_det = self.gt, MAX_DETS[-1]
        by_group = defaultdict(list)
        for r in self.results:
            by_group[(r["video_id"], r["category_id"])].append(r)
        by_video = defaultdict(list)
        for (vid, cat), dts in by_group.items():
            by_video[vid].append(cat)
        videos = {}
        for vid in gt.video_ids:
            offsets, gt_masks = gt.video_masks(vid)
            cats = sorted(by_video.get(vid, []), key=self._cat_index.__getitem__)
            groups = {cat: top_results(by_group[(vid, cat)], max_det) for cat in cats}
            dts = [d for cat in cats for d in groups[cat][0]]
            ious = np.zeros((len(dts), len(gt_masks.seqs)))
            if dts and gt_masks.seqs:
                dt_masks = TrackMasks([d["segmentations"] for d in dts],
                                      [d["areas"] for d in dts])
                measured, _ = iou_matrix(dt_masks, gt_masks, min(self.bg_thr, 1 - 1e-10))
                ious = np.where(measured == measured, measured, 0.0)  # NaN: provably < bg
            videos[vid] = dict(offsets=offsets, groups=groups, cats=cats, ious=ious)
        self._videos = videos
        return videos

    # -- the breakdown -----------------------------------------------------------------------
    def breakdown(self) -> ErrorBreakdown:
        """The errors, their counts and each type's dAP (see the module docstring)."""
        if self._breakdown is None:
            self._breakdown = self._compute_breakdown()
        return self._breakdown

    def _compute_breakdown(self) -> ErrorBreakdown:
        gt = self.gt
        thr = np.array([self.pos_thr])
        groups: Dict[Tuple[Any, Any], _Group] = {}
        errors: List[TrackError] = []
        for vid, v in self._video_data().items():
            cat_gts = {c: gt.tracks.get((vid, c), []) for c in gt.category_ids
                       if (vid, c) in gt.tracks}
            # the columns of the video's GT: (category, index in it, track)
            cols = [(c, j, t) for c in cat_gts for j, t in enumerate(cat_gts[c])]
            row = 0
            for cat in v["cats"]:
                dts, scores = v["groups"][cat]
                gts = cat_gts.get(cat, [])
                c0, c1 = v["offsets"].get(cat, (0, 0))
                areas = mean_track_areas([d["areas"] for d in dts])
                res = match_group(v["ious"][row:row + len(dts), c0:c1], gts, scores, areas,
                                  _ALL_AREAS, thr)[0]
                groups[(vid, cat)] = _Group(dts, scores, res, gts)
                row += len(dts)
            for cat, gts in cat_gts.items():  # categories of the video without results
                if (vid, cat) not in groups:
                    n_gt = sum(not t.ignore for t in gts)
                    groups[(vid, cat)] = _Group([], np.zeros(0), GroupResult(
                        np.zeros(0), np.zeros((1, 0), bool), np.zeros((1, 0), bool), n_gt,
                        np.zeros((1, 0), np.int64)), gts)
            errors.extend(self._video_errors(vid, v, cols, groups))
        counts = {t: 0 for t in ERROR_TYPES}
        for e in errors:
            counts[e.type] += 1
        n_gt = np.zeros(len(gt.category_ids), dtype=np.int64)
        for (_, c), g in groups.items():
            n_gt[self._cat_index[c]] += g.n_gt
        base_cats = np.flatnonzero(n_gt > 0).tolist()
        base = self._ap50(groups, base_cats)
        best = self._best_per_target(errors)
        main = {}
        for t in ERROR_TYPES:
            fixed = self._ap50(self._fixed(groups, errors, best, t), base_cats)
            main[t] = max(fixed - base, 0.0)
        special = {
            "FalsePos": self._ap50(self._without_false_positives(groups), base_cats) - base,
            "FalseNeg": self._ap50(self._without_false_negatives(groups), base_cats) - base,
        }
        return ErrorBreakdown(base, main, special, counts, errors)

    def _video_errors(self, vid, v, cols, groups) -> List[TrackError]:
        """Classify the false positives of one video, then its missed GT."""
        regular = np.array([not t.ignore for _, _, t in cols], dtype=bool)
        col_cat = np.array([self._cat_index[c] for c, _, _ in cols], dtype=np.int64)
        used = np.array([groups[(vid, c)].gt_used[j] for c, j, _ in cols], dtype=bool)
        errors, targeted = [], set()
        row = 0
        for cat in v["cats"]:
            g = groups[(vid, cat)]
            same = col_cat == self._cat_index[cat]
            for d, dt in enumerate(g.dts):
                ious = v["ious"][row + d]
                if g.tp[d] or g.dropped[d]:
                    continue
                e = TrackError("", vid, cat, float(g.scores[d]), dt)
                if not regular.any():
                    e.type = "Bkg"
                else:
                    e.type, col = self._classify(ious, regular, same, used)
                    if e.type in _FIX_TYPES:
                        c, j, track = cols[col]
                        if e.type == "Spat" and _frame_overlap(
                                dt, track.rles, self.frame_thr) < self.temporal_thr:
                            e.type = "Temp"
                        e.target, e.gt_id, e.target_free = (c, j), track.id, not used[col]
                        targeted.add((c, j))
                errors.append(e)
            row += len(g.dts)
        for i, (c, j, track) in enumerate(cols):
            if regular[i] and not used[i] and (c, j) not in targeted:
                errors.append(TrackError("Miss", vid, c, gt_id=track.id, target=(c, j)))
        return errors

    def _classify(self, ious, regular, same, used) -> Tuple[str, int]:
        """TIVE's tests for one false positive: (type, GT column it points at or -1).
        ``Spat`` here stands for spatial or temporal (told apart by the caller)."""
        pos, bg = self.pos_thr, self.bg_thr
        cls_iou = np.where(regular & same, ious, 0.0)
        col = int(np.argmax(cls_iou))
        if bg <= cls_iou[col] <= pos:
            return "Spat", col
        other = np.where(regular & ~same, ious, 0.0)
        col = int(np.argmax(other))
        if other[col] >= pos:
            return "Cls", col
        if np.max(np.where(regular & same & used, ious, 0.0)) >= pos:
            return "Dupe", -1
        if np.max(np.where(regular, ious, 0.0)) <= bg:
            return "Bkg", -1
        return "Both", -1

    @staticmethod
    def _best_per_target(errors: Sequence[TrackError]) -> Dict[Tuple, int]:
        """Per (video, GT): the id() of the highest-scored fixable error pointing at it (the
        first one on equal scores)."""
        best: Dict[Tuple, TrackError] = {}
        for e in errors:
            if e.type in _FIX_TYPES and e.target_free:
                key = (e.video_id,) + e.target
                if key not in best or best[key].score < e.score:
                    best[key] = e
        return {k: id(e) for k, e in best.items()}

    # -- oracles -----------------------------------------------------------------------------
    @staticmethod
    def _copy(groups) -> Dict[Tuple, dict]:
        return {k: dict(scores=list(g.scores), tp=list(g.tp), dropped=list(g.dropped),
                        n_gt=g.n_gt, index={id(dt): i for i, dt in enumerate(g.dts)})
                for k, g in groups.items()}

    def _fixed(self, groups, errors, best, fix_type: str) -> Dict[Tuple, dict]:
        out = self._copy(groups)
        for e in errors:
            if e.type != fix_type:
                continue
            if fix_type == "Miss":
                out[(e.video_id, e.category_id)]["n_gt"] -= 1
                continue
            own = out[(e.video_id, e.category_id)]
            i = own["index"][id(e.result)]
            own["dropped"][i] = True
            if fix_type in _FIX_TYPES and best.get((e.video_id,) + e.target) == id(e):
                gt_cat = e.target[0]
                if gt_cat == e.category_id:
                    own["dropped"][i], own["tp"][i] = False, True
                else:
                    dest = out[(e.video_id, gt_cat)]
                    dest["scores"].append(e.score)
                    dest["tp"].append(True)
                    dest["dropped"].append(False)
        return out

    def _without_false_positives(self, groups) -> Dict[Tuple, dict]:
        out = self._copy(groups)
        for g in out.values():
            g["dropped"] = [dr or not tp for tp, dr in zip(g["tp"], g["dropped"])]
        return out

    def _without_false_negatives(self, groups) -> Dict[Tuple, dict]:
        out = self._copy(groups)
        for k, g in out.items():
            g["n_gt"] = int(groups[k].gt_used.sum())  # a matched GT is never crowd
        return out

    def _ap50(self, groups, base_cats: Sequence[int]) -> float:
        """AP at ``pos_thr`` (AP points) of groups in either form, through the metric's
        accumulation; the mean over ``base_cats`` (see the module docstring)."""
        per_cat = defaultdict(list)
        has_results = set()
        for (vid, cat), g in groups.items():
            if isinstance(g, _Group):
                g = dict(scores=g.scores, tp=g.tp, dropped=g.dropped, n_gt=g.n_gt)
            k = self._cat_index[cat]
            scores = np.asarray(g["scores"], dtype=np.float64)
            tp = np.asarray(g["tp"], dtype=bool)[None, :]
            dropped = np.asarray(g["dropped"], dtype=bool)[None, :]
            if (~dropped).any():
                has_results.add(k)
            per_cat[(k, 0)].append(GroupResult(scores, tp, dropped, g["n_gt"]))
        # results appended by an oracle may exceed a group's max_det: no cut here (the
        # groups already hold only the results the metric scores)
        precision, _ = accumulate(per_cat, len(self.gt.category_ids), 1,
                                  np.array([self.pos_thr]), RECALL_THRESHOLDS,
                                  (np.iinfo(np.int64).max,))
        aps = []
        for k in base_cats:
            p = precision[0, :, k, 0, 0]
            if p[0] > -1:
                aps.append(mean_precision(p))
            elif k in has_results:
                aps.append(0.0)
        return 100.0 * float(np.mean(aps)) if aps else 0.0

    # -- AP over temporal length -------------------------------------------------------------
    def length_ap(self, ranges=LENGTH_RANGES) -> List[Dict[str, Any]]:
        """The official AP (IoU 0.50:0.95) per instance temporal length range.

        Returns:
            per range ``{"name", "range": [lo, hi or None], "AP": fraction or None (no GT in
            the range), "n_gt": non-crowd GT tracks in the range}``.
        """
        gt = self.gt
        per_cat_area = defaultdict(list)
        n_gt = [0] * len(ranges)
        for vid, v in self._video_data().items():
            for cat in gt.category_ids:
                gts = gt.tracks.get((vid, cat), [])
                dts, scores = v["groups"].get(cat, ([], np.zeros(0)))
                if not gts and not dts:
                    continue
                lengths = [sum(r is not None for r in t.rles) for t in gts]
                for a, (_, lo, hi) in enumerate(ranges):
                    n_gt[a] += sum(lo <= n <= hi and not t.ignore for n, t in zip(lengths, gts))
                if dts and gts:
                    c0, c1 = v["offsets"][cat]
                    r0 = sum(len(v["groups"][c][0]) for c in v["cats"][:v["cats"].index(cat)])
                    ious = v["ious"][r0:r0 + len(dts), c0:c1]
                else:
                    ious = np.zeros((len(dts), len(gts)))
                dt_lengths = np.array([np.count_nonzero(d["areas"]) for d in dts],
                                      dtype=np.float64)
                results = match_group(ious, gts, scores, dt_lengths, ranges, IOU_THRESHOLDS,
                                      gt_sizes=lengths)
                k = self._cat_index[cat]
                for a, res in enumerate(results):
                    per_cat_area[(k, a)].append(res)
        precision, _ = accumulate(per_cat_area, len(gt.category_ids), len(ranges),
                                  IOU_THRESHOLDS, RECALL_THRESHOLDS, MAX_DETS[-1:])
        out = []
        for a, (name, lo, hi) in enumerate(ranges):
            ap = mean_precision(precision[:, :, :, a, 0])
            out.append({"name": name, "range": [int(lo), None if hi >= 1e9 else int(hi)],
                        "AP": None if ap < 0 else ap, "n_gt": n_gt[a]})
        return out
