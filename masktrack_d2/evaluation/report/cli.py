"""Command line: ``python -m masktrack_d2.evaluation.report --gt G --results R --out DIR``."""
import argparse
import json
import logging
import os
import sys
import time
from typing import Optional, Sequence

from ..ytvis_eval.common import gc_paused
from ..ytvis_eval.errors import YTVISInputError
from .frames import ReportInputError


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the evaluation report; 1 on an input error (one line on stderr), else 0."""
    parser = argparse.ArgumentParser(
        prog="python -m masktrack_d2.evaluation.report",
        description="Evaluation report of YouTube-VIS results for the browser: AP per "
                    "category and precision-recall curves, HOTA / DetA / AssA, TIVE's error "
                    "breakdown, AP over temporal length, videos from worst to best and frame "
                    "strips of the worst. Opens offline (index.html + PNGs).")
    parser.add_argument("--gt", required=True, help="annotation json with annotations")
    parser.add_argument("--results", required=True, help="results json")
    parser.add_argument("--out", required=True, help="output folder (index.html is written "
                        "there)")
    parser.add_argument("--image-root", default=None, help="folder the annotation file's "
                        "'file_names' are relative to: adds frame strips of the worst videos "
                        "and real frames in the thumbnails")
    parser.add_argument("--strips", type=int, default=5, help="number of worst videos to "
                        "draw as frame strips (with --image-root; default 5)")
    parser.add_argument("--strip-frames", type=int, default=8, help="frames per strip "
                        "(default 8; frames with identity switches first)")
    parser.add_argument("--score-threshold", type=float, default=0.3, help="pictures show "
                        "predictions scoring at least this (default 0.3; every number counts "
                        "all results)")
    parser.add_argument("--lenient", action="store_true", help="as the metric CLI's --lenient")
    parser.add_argument("--json", action="store_true", help="print one JSON line: the page's "
                        "path, AP, AP50, HOTA and the error dAPs")
    parser.add_argument("--verbose", action="store_true", help="log timings")
    args = parser.parse_args(argv)
    if args.image_root is not None and not os.path.isdir(args.image_root):
        print(f"report: error: --image-root {args.image_root}: not a folder", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="report: %(levelname)s: %(message)s")
    from .build import build_report  # after argument parsing: --help stays fast

    tic = time.perf_counter()
    try:
        with gc_paused():
            report = build_report(args.gt, args.results, args.out, image_root=args.image_root,
                         n_strips=args.strips, strip_frames=args.strip_frames,
                         score_threshold=args.score_threshold, strict=not args.lenient)
    except (YTVISInputError, ReportInputError) as e:
        print(f"report: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"report: error: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 1
    page = os.path.join(args.out, "index.html")
    if args.json:
        print(json.dumps({"index": page, "AP": report["ap"]["AP"], "AP50": report["ap"]["AP50"],
                          "HOTA": report["track"]["HOTA"], "dAP": report["errors"]["main"],
                          "special": report["errors"]["special"]}))
    else:
        print(f"report: {page} ({time.perf_counter() - tic:.1f} s)")
    return 0
