"""Association metrics (HOTA, IDF1, MOTA parts) of YouTube-VIS results, scored the way
TrackEval's YouTube-VIS dataset scores them.

    summary = track_metrics("valid_sub.json", "results.json")
    summary["AssA"], summary["IDSW"]                    # all categories pooled
    summary["class_averaged"]["HOTA"]                   # TrackEval's class average
    summary["per_category"]["person"]["IDF1"]

TrackEval's YouTube-VIS conventions, reproduced here:

* every result is a track; no score threshold (all results count; the score is unused);
* each category is scored on its own: a result only meets GT of its own category, a result
  of the wrong category is a false positive there and its GT a miss;
* similarity is the per-frame mask IoU; crowd GT (``iscrowd``) is ordinary GT;
* per category, videos are pooled by summing counts; the combination over categories is given
  both detection-averaged (pooled again) and class-averaged (plain mean over every category
  of the annotation file, categories without GT or results counting as 0);
* videos without GT annotations still count their results as false positives.

Ratios are fractions in [0, 1]; HOTA, DetA, AssA, LocA (and their Re / Pr) are means over
the 19 alpha thresholds 0.05..0.95.
"""
import logging
import time
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
from pycocotools import mask as mask_util

from . import association as A
from .common import gc_paused
from .errors import GroundTruthFormatError
from .gt import load_ytvis_gt
from .tracks import VideoTracks, video_tracks

logger = logging.getLogger(__name__)

#: the numbers of :func:`track_metrics`, in table order
SUMMARY_KEYS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr",
                "IDF1", "IDP", "IDR", "MOTA", "MOTP", "IDSW", "Frag", "CLR_TP", "CLR_FP",
                "CLR_FN", "MT", "PT", "ML")
#: keys of :data:`SUMMARY_KEYS` that are counts (the rest are fractions)
COUNT_KEYS = ("IDSW", "Frag", "CLR_TP", "CLR_FP", "CLR_FN", "MT", "PT", "ML")


def _presence(seqs, num_frames: int) -> np.ndarray:
    """(len(seqs), num_frames) bool: which frames of each track have a mask (truthy entry)."""
    out = np.zeros((len(seqs), num_frames), dtype=bool)
    for i, s in enumerate(seqs):
        out[i, [f for f, r in enumerate(s[:num_frames]) if r]] = True
    return out


def _sequence(gt_tracks, preds, num_frames: int, video_id
              ) -> Tuple[A.TrackSequence, np.ndarray, np.ndarray]:
    """The TrackSequence of one video and category: GT ``gt_tracks`` (json order) against
    predictions ``preds`` (file order); and the sequence's id of each GT track and each
    prediction (-1: never present)."""
    gt_rles = [t.rles for t in gt_tracks]
    pred_rles = [p["segmentations"] for p in preds]
    gt_present, pred_present = _presence(gt_rles, num_frames), _presence(pred_rles, num_frames)
    # ids: contiguous, in the order of the GT annotation id / of the file, counting only
    # tracks with a mask in some frame (as TrackEval relabels them)
    gt_alive = np.flatnonzero(gt_present.any(1))
    raw = [gt_tracks[i].id for i in gt_alive]
    if len(set(raw)) != len(raw):
        dup = sorted({x for x in raw if raw.count(x) > 1})
        raise GroundTruthFormatError(f"video {video_id}: annotation id(s) {dup} used by more "
                                     "than one annotation; track metrics need unique ids")
    gt_new = np.full(len(gt_tracks), -1, dtype=np.int64)
    gt_new[gt_alive[np.argsort(raw, kind="stable")]] = np.arange(len(gt_alive))
    pred_alive = np.flatnonzero(pred_present.any(1))
    pred_new = np.full(len(preds), -1, dtype=np.int64)
    pred_new[pred_alive] = np.arange(len(pred_alive))

    gt_ids, pred_ids, sims = [], [], []
    for f in range(num_frames):
        gi = np.flatnonzero(gt_present[:, f])
        pi = np.flatnonzero(pred_present[:, f])
        if len(gi) and len(pi):
            iou = mask_util.iou([gt_rles[i][f] for i in gi], [pred_rles[i][f] for i in pi],
                                [0] * len(pi))
            sim = np.asarray(iou, dtype=np.float64).reshape(len(gi), len(pi))
        else:
            sim = np.zeros((len(gi), len(pi)))
        gt_ids.append(gt_new[gi])
        pred_ids.append(pred_new[pi])
        sims.append(sim)
    seq = A.TrackSequence(gt_ids, pred_ids, sims, len(gt_alive), len(pred_alive))
    return seq, gt_new, pred_new


def _video_sequences(video: VideoTracks, category_ids, min_score: Optional[float]):
    """Per category with GT or predictions in the video: (category id, GT tracks,
    predictions, TrackSequence, GT ids, prediction ids) (see :func:`_sequence`)."""
    gt_by_cat, pred_by_cat = defaultdict(list), defaultdict(list)
    for t in video.gt:
        gt_by_cat[t.category_id].append(t)
    for p in video.predictions:
        if min_score is None or p["score"] >= min_score:
            pred_by_cat[p["category_id"]].append(p)
    num_frames = video.length
    if num_frames is None:
        num_frames = max([len(t.rles) for t in video.gt]
                         + [len(p["segmentations"]) for p in video.predictions] + [0])
    for cat in category_ids:
        if cat in gt_by_cat or cat in pred_by_cat:
            gts, preds = gt_by_cat.get(cat, []), pred_by_cat.get(cat, [])
            yield (cat, gts, preds) + _sequence(gts, preds, num_frames, video.video_id)


def _video_scores(video: VideoTracks, category_ids, min_score: Optional[float]
                  ) -> Dict[Any, Dict[str, Dict]]:
    """{category id: scores} for the categories with GT or predictions in the video."""
    return {cat: A.score_sequence(seq)
            for cat, _, _, seq, _, _ in _video_sequences(video, category_ids, min_score)}


def identity_switches(video: VideoTracks, category_ids, min_score: Optional[float] = None
                      ) -> List[Tuple[int, Any, int]]:
    """The ID switches CLEAR counts in one video: ``(frame index, GT annotation id, index in
    video.predictions of the prediction it switched to)``, frames ascending per category."""
    out = []
    for _, gts, preds, seq, gt_new, pred_new in _video_sequences(video, category_ids,
                                                                  min_score):
        events: List[Tuple[int, int, int]] = []
        A.clear_sequence(seq, switches=events)
        gt_of = {int(n): gts[i].id for i, n in enumerate(gt_new) if n >= 0}
        pred_of = {int(n): preds[i] for i, n in enumerate(pred_new) if n >= 0}
        index = {id(p): i for i, p in enumerate(video.predictions)}
        out.extend((frame, gt_of[g], index[id(pred_of[p])]) for frame, g, p in events)
    return out


def evaluate_track_metrics(gt, results, strict: bool = True,
                           min_score: Optional[float] = None) -> Dict[str, Dict[str, Dict]]:
    """All of TrackEval's HOTA, Identity and CLEAR fields, per category and combined.

    Args:
        gt: annotation json path, dict or :class:`YTVISGroundTruth`.
        results: results json path or list (validated as for AP).
        strict: see :func:`validate_results`.
        min_score: if given, results scoring below it are left out. TrackEval has no such
            threshold (None: every result counts).

    Returns:
        ``{key: {"HOTA": {...}, "Identity": {...}, "CLEAR": {...}}}`` where key is each
        category name (annotation file order of ids, ascending), ``"cls_comb_det_av"``
        (detection-averaged) and ``"cls_comb_cls_av"`` (class-averaged); field names as in
        TrackEval, HOTA's array fields with one value per alpha.

    Raises:
        GroundTruthFormatError, ResultsFormatError: bad input (file, video and field named).
    """
    return evaluate_track_metrics_by_video(gt, results, strict, min_score)[0]


def evaluate_track_metrics_by_video(gt, results, strict: bool = True,
                                    min_score: Optional[float] = None,
                                    videos: Optional[Dict[Any, VideoTracks]] = None
                                    ) -> Tuple[Dict[str, Dict[str, Dict]], Dict[Any, Dict]]:
    """:func:`evaluate_track_metrics`, and per video its categories pooled:
    ``{video id: {"HOTA": ..., "Identity": ..., "CLEAR": ...}}`` (every video of the ground
    truth; a video without GT or predictions scores as an empty sequence).

    ``videos``: :func:`video_tracks` of ``gt`` and ``results`` if already made (``results``
    is then not read)."""
    tic = time.perf_counter()
    with gc_paused():
        gt = load_ytvis_gt(gt, strict=strict)
        if videos is None:
            videos = video_tracks(gt, results, strict=strict)
        parsed = time.perf_counter()
        per_cat: Dict[Any, List[Dict]] = {c: [] for c in gt.category_ids}
        per_video: Dict[Any, Dict] = {}
        for vid, video in videos.items():
            scores_by_cat = _video_scores(video, gt.category_ids, min_score)
            for cat, scores in scores_by_cat.items():
                per_cat[cat].append(scores)
            per_video[vid] = A.combine(list(scores_by_cat.values())
                                       or [A.empty_sequence_scores()])
        out = {}
        for cat in gt.category_ids:
            parts = per_cat[cat] or [A.empty_sequence_scores()]
            out[gt.category_name(cat)] = A.combine(parts)
        classes = list(out.values())
        out["cls_comb_cls_av"] = A.class_average(classes)
        out["cls_comb_det_av"] = A.combine(classes)
    logger.info("track metrics: input %.2fs, scoring %.2fs", parsed - tic,
                time.perf_counter() - parsed)
    return out, per_video


def summarize(scores: Mapping[str, Dict]) -> Dict[str, float]:
    """The :data:`SUMMARY_KEYS` numbers of one entry of :func:`evaluate_track_metrics`
    (HOTA's array fields averaged over alpha; counts as int)."""
    hota, ident, clear = scores["HOTA"], scores["Identity"], scores["CLEAR"]
    out = {}
    for k in SUMMARY_KEYS:
        if k in hota:
            out[k] = float(np.mean(hota[k]))
        elif k in ident:
            out[k] = float(ident[k])
        else:
            out[k] = int(clear[k]) if k in COUNT_KEYS else float(clear[k])
    return out


def track_metrics(gt, results, strict: bool = True,
                  min_score: Optional[float] = None) -> Dict[str, Any]:
    """HOTA / DetA / AssA / LocA, IDF1 / IDP / IDR and MOTA / IDSW / Frag / FP / FN of
    YouTube-VIS results, TrackEval's way.

    Args: as :func:`evaluate_track_metrics`.

    Returns:
        the :data:`SUMMARY_KEYS` numbers over all categories pooled (detection-averaged), plus
        ``"class_averaged"``: the same keys averaged over categories (counts summed), and
        ``"per_category"``: ``{category name: the same keys}``.
    """
    scores = evaluate_track_metrics(gt, results, strict=strict, min_score=min_score)
    out: Dict[str, Any] = summarize(scores["cls_comb_det_av"])
    out["class_averaged"] = summarize(scores["cls_comb_cls_av"])
    out["per_category"] = {k: summarize(v) for k, v in scores.items()
                           if k not in ("cls_comb_det_av", "cls_comb_cls_av")}
    return out


def _cell(key: str, value) -> str:
    return str(int(value)) if key in COUNT_KEYS else f"{100.0 * value:.2f}"


def format_track_table(summary: Mapping[str, Any], per_category: bool = False) -> str:
    """A printable table of :func:`track_metrics` (ratios in percent)."""
    keys = ("HOTA", "DetA", "AssA", "LocA", "IDF1", "IDP", "IDR", "MOTA", "IDSW", "Frag",
            "CLR_FP", "CLR_FN")
    rows: List[Tuple[str, Mapping]] = [("all (det. av.)", summary),
                                       ("all (class av.)", summary["class_averaged"])]
    if per_category:
        rows += list(summary["per_category"].items())
    names = [n for n, _ in rows]
    nw = max(len("categories"), *(len(n) for n in names))
    cells = [[_cell(k, r[k]) for k in keys] for _, r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["Track metrics, TrackEval's YouTube-VIS way (%; HOTA/DetA/AssA/LocA averaged over "
             "alpha 0.05..0.95; IDF1 and CLEAR at IoU 0.5; counts are frames)",
             "| " + f"{'categories':<{nw}} | " + " | ".join(
                 k.center(w) for k, w in zip(keys, widths)) + " |",
             "|:" + "-" * nw + "-|" + "|".join(":" + "-" * w + ":" for w in widths) + "|"]
    for name, row in zip(names, cells):
        lines.append("| " + f"{name:<{nw}} | " + " | ".join(
            c.rjust(w) for c, w in zip(row, widths)) + " |")
    return "\n".join(lines)
