"""The report's numbers, computed once through the metric's own code, and the files that show
them: ``report.json``, the figures, thumbnails, frame strips and ``index.html``."""
import json
import logging
import os
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_util

from ...utils.file_io import atomic_write
from ..ytvis_eval.association import ALPHAS
from ..ytvis_eval.error_analysis import ErrorAnalysis
from ..ytvis_eval.gt import YTVISGroundTruth, load_ytvis_gt
from ..ytvis_eval.metric import YTVISEval
from ..ytvis_eval.params import RECALL_THRESHOLDS, STAT_KEYS
from ..ytvis_eval.track_metrics import (
    evaluate_track_metrics_by_video,
    identity_switches,
    summarize,
)
from ..ytvis_eval.tracks import VideoTracks, video_tracks
from .frames import read_frame

logger = logging.getLogger(__name__)

#: the figures of the page: key -> (file name, drawing function name in .figures, report key)
FIGURES = {
    "category_ap": ("category_ap.png", "category_ap_bars", "per_category"),
    "pr_curves": ("pr_curves.png", "pr_curves", "pr"),
    "category_hota": ("category_hota.png", "category_hota_bars", "per_category"),
    "hota_alpha": ("hota_alpha.png", "hota_alpha", "hota_alpha"),
    "errors": ("errors.png", "error_breakdown", "errors"),
    "length_ap": ("length_ap.png", "length_ap", "length_ap"),
}


def _video_name(video: Dict[str, Any]) -> str:
    """A video's name for people: its 'name', else the folder of its frames, else its id."""
    if video.get("name"):
        return str(video["name"])
    files = video.get("file_names") or []
    if files and os.path.dirname(str(files[0])):
        return os.path.dirname(str(files[0]))
    return str(video["id"])


def compute_report(gt, results, strict: bool = True) -> Dict[str, Any]:
    """The numbers of the report (see :func:`build_report`), without any file.

    Args:
        gt: annotation json path, dict or :class:`YTVISGroundTruth`.
        results: results json path or list.
        strict: see :func:`validate_results`.

    Returns:
        the ``report`` dict (json-able): ``meta``, ``ap``, ``per_category``, ``pr``,
        ``track``, ``hota_alpha``, ``errors``, ``length_ap``, ``videos`` (worst first, by
        per-video HOTA) and ``strips`` (empty here).
    """
    return _compute(gt, results, strict)[0]


def _compute(gt, results, strict: bool):
    """(report, the loaded :class:`YTVISGroundTruth`, {video id: :class:`VideoTracks`})."""
    tic = time.perf_counter()
    gt = load_ytvis_gt(gt, strict=strict)
    ev = YTVISEval(gt, results, strict=strict)
    ev.evaluate()
    ev.accumulate()
    stats = ev.summarize()
    analysis = ErrorAnalysis(ev)
    breakdown = analysis.breakdown()
    by_length = analysis.length_ap()
    videos = video_tracks(gt, ev.results, validated=True)
    track, per_video = evaluate_track_metrics_by_video(gt, None, videos=videos)

    n_gt = Counter(t.category_id for tracks in gt.tracks.values() for t in tracks
                   if not t.ignore)
    n_results = Counter(r["category_id"] for r in ev.results)
    per_cat_ap = ev.per_category_stats()
    per_category = []
    for cat in gt.category_ids:
        name = gt.category_name(cat)
        hota = summarize(track[name])
        per_category.append(dict(id=cat, name=name, n_gt=n_gt[cat], n_results=n_results[cat],
                                 **per_cat_ap[name],
                                 **{k: hota[k] for k in ("HOTA", "DetA", "AssA")}))

    curves = {}
    for thr in (0.5, 0.75):
        t = int(np.flatnonzero(ev.iou_thresholds == thr)[0])
        p = ev.precision[t, :, :, 0, -1]  # (R, K)
        valid = p[0] > -1
        curves[str(thr)] = {
            "mean": (p[:, valid].mean(1) if valid.any() else -np.ones(len(p))).tolist(),
            "per_category": {gt.category_name(c): p[:, k].tolist()
                             for k, c in enumerate(gt.category_ids) if valid[k]},
        }

    pooled = track["cls_comb_det_av"]
    track_summary = summarize(pooled)
    video_rows = []
    for vid, scores in per_video.items():
        s = summarize(scores)
        video = gt.videos[vid]
        video_rows.append(dict(video_id=vid, name=_video_name(video),
                               n_frames=gt.video_length(vid) or 0,
                               HOTA=s["HOTA"], DetA=s["DetA"], AssA=s["AssA"],
                               IDSW=s["IDSW"], FN=s["CLR_FN"], FP=s["CLR_FP"],
                               thumbnail=None))
    video_rows.sort(key=lambda r: (r["HOTA"], -r["IDSW"], -(r["FN"] + r["FP"])))

    report = {
        "meta": {"gt": gt.source, "results": str(results) if isinstance(results, (str, os.PathLike))
                 else "<list>", "n_videos": len(gt.video_ids),
                 "n_categories": len(gt.category_ids), "n_gt_tracks": sum(n_gt.values()),
                 "n_results": len(ev.results),
                 "created": time.strftime("%Y-%m-%d %H:%M:%S %Z")},
        "ap": {k: stats[k] for k in STAT_KEYS},
        "per_category": per_category,
        "pr": {"recall": RECALL_THRESHOLDS.tolist(), "curves": curves},
        "track": {k: track_summary[k] for k in ("HOTA", "DetA", "AssA", "LocA", "IDF1", "MOTA",
                                                "IDSW", "Frag", "CLR_FP", "CLR_FN")},
        "hota_alpha": {"alpha": ALPHAS.tolist(),
                       **{k: np.asarray(pooled["HOTA"][k]).tolist()
                          for k in ("HOTA", "DetA", "AssA", "LocA")}},
        "errors": {"base_ap50": breakdown.base_ap50, "main": breakdown.main,
                   "special": breakdown.special, "counts": breakdown.counts},
        "length_ap": by_length,
        "videos": video_rows,
        "strips": [],
    }
    logger.info("report numbers: %.2fs", time.perf_counter() - tic)
    return report, gt, videos


# -- pictures of videos ----------------------------------------------------------------------
#: a thumbnail shows at most this many predictions (the highest scores)
THUMBNAIL_PREDICTIONS = 10
THUMBNAIL_WIDTH = 160


def _strip_frame(video: VideoTracks, gt: YTVISGroundTruth, frame: int, image_root,
                 score_thr: float, switches: Sequence = (), step: int = 1,
                 max_preds: Optional[int] = None):
    """The :class:`StripFrame` of one frame: GT outlines (key: index in ``video.gt``) and
    predictions scoring at least ``score_thr`` (key: index in ``video.predictions``; the
    ``max_preds`` highest), every ``step``-th pixel of each row and column."""
    from .strips import StripFrame

    def decode(rle):
        return mask_util.decode(rle)[::step, ::step].astype(bool)

    image = None
    if image_root is not None:
        image = read_frame(image_root, gt.videos[video.video_id], frame)[::step, ::step]
    gts = [(i, decode(t.rles[frame])) for i, t in enumerate(video.gt)
           if frame < len(t.rles) and t.rles[frame] is not None]
    shown = [i for i, p in enumerate(video.predictions)
             if p["score"] >= score_thr and frame < len(p["segmentations"])
             and p["areas"][frame] > 0]
    shown = sorted(shown, key=lambda i: -video.predictions[i]["score"])[:max_preds]
    preds = [(i, decode(video.predictions[i]["segmentations"][frame])) for i in sorted(shown)]
    size = None
    if video.height:
        size = (len(range(0, video.height, step)), len(range(0, video.width, step)))
    keys = {t.id: i for i, t in enumerate(video.gt)}
    return StripFrame(index=frame, image=image, gt=gts, pred=preds,
                      switches=[keys[g] for f, g, _ in switches if f == frame], size=size)


def _middle_frame(video: VideoTracks) -> int:
    """The middle one of the frames where the video has GT (or of all frames)."""
    frames = sorted({f for t in video.gt for f, r in enumerate(t.rles) if r is not None})
    if not frames:
        n = video.length or max([len(p["segmentations"]) for p in video.predictions] + [1])
        return n // 2
    return frames[len(frames) // 2]


def _strip_frames(video: VideoTracks, switches, n_frames: int) -> List[int]:
    """Up to ``n_frames`` frames: every frame with an identity switch first, the rest
    evenly spaced."""
    length = video.length or max([len(t.rles) for t in video.gt] + [1])
    picked = sorted({f for f, _, _ in switches})[:n_frames]
    for f in np.linspace(0, length - 1, n_frames).round().astype(int).tolist():
        if len(picked) >= n_frames:
            break
        if f not in picked:
            picked.append(f)
    return sorted(picked)


def build_report(gt, results, out_dir: str, image_root: Optional[str] = None,
                 n_strips: int = 5, strip_frames: int = 8, score_threshold: float = 0.3,
                 strict: bool = True) -> Dict[str, Any]:
    """Write the report of ``results`` against ``gt`` to ``out_dir``.

    Files: ``index.html``, ``report.json`` (the numbers), ``figures/*.png``, ``videos/*.png``
    (a thumbnail per video) and, with ``image_root``, ``strips/*.png`` (the ``n_strips``
    worst videos, ``strip_frames`` frames each, identity switches marked). Thumbnails and
    strips show GT as outlines and predictions scoring >= ``score_threshold`` filled in
    their track colour. Every file is written atomically.

    Returns:
        the report dict written to ``report.json``.

    Raises:
        YTVISInputError: bad ground truth or results (file, video and field named).
        ReportInputError: a frame under ``image_root`` is missing or unreadable.
    """
    from . import figures
    from .html import render_html
    from .strips import draw_strip

    report, gt, videos = _compute(gt, results, strict)
    os.makedirs(out_dir, exist_ok=True)
    tic = time.perf_counter()
    paths = {}
    for key, (name, func, part) in FIGURES.items():
        rel = os.path.join("figures", name)
        getattr(figures, func)(report[part], os.path.join(out_dir, rel))
        paths[key] = rel
    for i, row in enumerate(report["videos"]):
        video = videos[row["video_id"]]
        rel = os.path.join("videos", f"{i:04d}.png")
        # masks thinned to about twice the thumbnail's width before drawing
        step = max(1, (video.width or 0) // (2 * THUMBNAIL_WIDTH))
        frame = _strip_frame(video, gt, _middle_frame(video), image_root, score_threshold,
                             step=step, max_preds=THUMBNAIL_PREDICTIONS)
        figures.video_thumbnail(frame, os.path.join(out_dir, rel), width=THUMBNAIL_WIDTH)
        row["thumbnail"] = rel
    if image_root is not None:
        for i, row in enumerate(report["videos"][:n_strips]):
            video = videos[row["video_id"]]
            switches = identity_switches(video, gt.category_ids)
            frames = [_strip_frame(video, gt, f, image_root, score_threshold, switches)
                      for f in _strip_frames(video, switches, strip_frames)]
            rel = os.path.join("strips", f"{i:04d}.png")
            draw_strip(frames, os.path.join(out_dir, rel))
            report["strips"].append({"video_id": row["video_id"], "name": row["name"],
                                     "png": rel,
                                     "id_switch_frames": sorted({f for f, _, _ in switches})})
    with atomic_write(os.path.join(out_dir, "report.json")) as f:
        json.dump(report, f, indent=1, default=_json_default)
    render_html(report, paths, os.path.join(out_dir, "index.html"))
    logger.info("report files: %.2fs", time.perf_counter() - tic)
    return report


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not json-able: {type(x).__name__}")
