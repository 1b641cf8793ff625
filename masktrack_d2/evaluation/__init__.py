"""Evaluation: the YouTube-VIS metric (:mod:`.ytvis_eval`, numpy + pycocotools only) and the
detectron2-side pieces (:class:`YTVISEvaluator`, the learning checks).

``from masktrack_d2.evaluation import evaluate_ytvis`` imports neither torch nor detectron2;
the torch-based names are loaded on first use.
"""
import importlib

from .ytvis_eval import (  # noqa: F401
    STAT_KEYS,
    GroundTruthFormatError,
    ResultsFormatError,
    YTVISEval,
    YTVISInputError,
    evaluate_ytvis,
    video_tracks,
)

__all__ = ["STAT_KEYS", "GroundTruthFormatError", "ResultsFormatError", "YTVISEval",
           "YTVISInputError", "evaluate_ytvis", "video_tracks", "YTVISEvaluator", "write_submission"]

_LAZY = {"YTVISEvaluator": "evaluator", "write_submission": "evaluator"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
