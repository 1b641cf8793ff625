"""Command line: ``python -m masktrack_d2.evaluation.ytvis_eval --gt GT --results RESULTS``."""
import argparse
import json
import logging
import sys
import time
from typing import Optional, Sequence

from .common import gc_paused
from .errors import YTVISInputError
from .gt import load_ytvis_gt
from .metric import YTVISEval
from .params import STAT_KEYS
from .summary import format_table
from .track_metrics import format_track_table, track_metrics

#: the package's logger: its modules log to children of it
logger = logging.getLogger(__package__)


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
    parser.add_argument("--lenient", action="store_true", help="score what the official "
                        "evaluator scores instead of stopping with an error: ground truth that "
                        "breaks the format's rules (unknown video or category ids, repeated "
                        "ids, iscrowd not 0/1, non-finite areas, ...) and results with wrong "
                        "segmentation-list lengths or mask sizes")
    parser.add_argument("--workers", type=int, default=1, help="forked processes for the "
                        "per-video IoU and matching (default 1: on the YouTube-VIS-sized "
                        "benchmark a second process was slower, as it copies the pages of the "
                        "parsed results it reads); the numbers do not depend on it")
    parser.add_argument("--verbose", action="store_true", help="log timings")
    parser.add_argument("--track-metrics", action="store_true", help="also compute the "
                        "association metrics as TrackEval does for YouTube-VIS: HOTA, DetA, "
                        "AssA, LocA, IDF1, IDP, IDR, MOTA, ID switches, fragmentations, FP, FN "
                        "(with --json: under the key 'track')")
    parser.add_argument("--no-ap", action="store_true", help="with --track-metrics: skip AP")
    args = parser.parse_args(argv)
    if args.no_ap and not args.track_metrics:
        parser.error("--no-ap needs --track-metrics")

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ytvis_eval: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logger.propagate = False
    try:
        with gc_paused():  # nothing cyclic is built; collections would only rescan the input
            return _run(args)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _run(args) -> int:
    """Score and print; 1 on an input error (one line on stderr), else 0."""
    current = args.gt
    seconds = {}  # per stage, logged with --verbose
    tic = time.perf_counter()
    try:
        gt = load_ytvis_gt(args.gt, strict=not args.lenient)
        seconds["gt"] = time.perf_counter() - tic
        current = args.results
        ev = None if args.no_ap else YTVISEval(
            gt, args.results, strict=not args.lenient,
            workers=args.workers)
        if args.track_metrics:  # reuses the results AP has read and checked
            track = track_metrics(gt, args.results if ev is None else ev.results,
                                  strict=not args.lenient)
    except YTVISInputError as e:
        print(f"ytvis_eval: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"ytvis_eval: error: {current}: {_one_line(e.strerror or e)}", file=sys.stderr)
        return 1
    out = {}
    if ev is not None:
        ev.evaluate()
        ev.accumulate()
        stats = ev.summarize()
        seconds.update((k, ev.timings[k]) for k in ("results", "evaluate", "accumulate"))
        logger.info("seconds: %s", ", ".join(f"{k} {v:.3f}" for k, v in seconds.items()))
        out = {k: stats[k] for k in STAT_KEYS}
        if not args.json:
            print(format_table(out, ev.per_category_ap() if args.per_category else None))
    if args.track_metrics:
        out["track"] = track
        if not args.json:
            print(("\n" if ev is not None else "")
                  + format_track_table(track, per_category=args.per_category))
    if args.json:
        print(json.dumps(out))
    return 0
