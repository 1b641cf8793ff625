"""The YouTube-VIS video instance segmentation metric (AP / AR over spatio-temporal mask IoU).

This is the one implementation of the metric in the project: the evaluator, the CLI and the
tests all call it. It reproduces the official evaluator (youtubevos/cocoapi ``ytvoseval.py``)
to the last bit; docs/evaluation.md lists its rules one by one, including the odd ones kept on
purpose. Where the official code crashes or silently scores nonsense (unknown video ids,
int-list counts in results, a ground truth file without annotations, ...) this package stops
with a one-line :class:`YTVISInputError`; an empty results list is scored (0 wherever there is
ground truth) with a warning. Results whose segmentation lists do not have one entry per frame,
or whose masks are not at the video's size, are errors by default (``strict=True``: nearly
always a bug); with ``strict=False`` (CLI ``--lenient``) they are scored exactly as the official
code scores them.

It needs numpy and ``pycocotools.mask`` only (no torch, no detectron2)::

    python -m masktrack_d2.evaluation.ytvis_eval --gt valid_sub.json --results results.json
    python -m masktrack_d2.evaluation.ytvis_eval --gt valid_sub.json --results results.json --json

Python use::

    stats = evaluate_ytvis("valid_sub.json", results)          # {"AP": 0.31, ..., "ARl": 0.4}
    ev = YTVISEval(gt, results); ev.evaluate(); ev.accumulate(); ev.summarize()
    ev.per_category_ap()                                       # {"person": 0.52, ...}
    videos = video_tracks(gt, results)                         # per-video GT and predictions

Modules: :mod:`.gt` (ground truth), :mod:`.results` (results validation), :mod:`.iou` (video
IoU), :mod:`.matching` (matching and accumulation), :mod:`.metric` (:class:`YTVISEval`),
:mod:`.summary` (table), :mod:`.cli` (command line), :mod:`.tracks` (per-video view).
"""
from .cli import main
from .errors import GroundTruthFormatError, ResultsFormatError, YTVISEvalWarning, YTVISInputError
from .gt import GTTrack, YTVISGroundTruth, load_ytvis_gt
from .iou import video_iou, video_iou_loop
from .metric import YTVISEval, evaluate_ytvis
from .params import (
    ALL_STAT_KEYS,
    AREA_RANGES,
    IOU_THRESHOLDS,
    MAX_DETS,
    RECALL_THRESHOLDS,
    STAT_KEYS,
)
from .results import validate_results
from .summary import format_table
from .tracks import VideoTracks, decode_track, video_tracks
from .track_metrics import evaluate_track_metrics, format_track_table, track_metrics

__all__ = [
    "STAT_KEYS",
    "ALL_STAT_KEYS",
    "IOU_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "MAX_DETS",
    "AREA_RANGES",
    "YTVISInputError",
    "ResultsFormatError",
    "GroundTruthFormatError",
    "YTVISEvalWarning",
    "GTTrack",
    "YTVISGroundTruth",
    "YTVISEval",
    "VideoTracks",
    "load_ytvis_gt",
    "validate_results",
    "video_tracks",
    "decode_track",
    "evaluate_ytvis",
    "video_iou",
    "video_iou_loop",
    "format_table",
    "main",
    "track_metrics",
    "evaluate_track_metrics",
    "format_track_table",
]
