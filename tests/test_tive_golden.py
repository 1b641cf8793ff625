"""The error analysis against TIVE (wenhe-jia/TIVE, on tidecv).

tests/fixtures/tive_golden/ holds small YouTube-VIS problems and TIVE's numbers for them
(written by tools/make_tive_golden.py); these tests need no TIVE. Where TIVE's conventions and
the official AP's coincide, every dAP, error count and base AP equals TIVE's within 1e-6; the
differences that remain are checked to be exactly the documented ones (docs/evaluation_report.md).
test_live_tive re-runs TIVE when it imports (TIVE_PATH=<checkout>, tidecv installed).
"""
import glob
import json
import os

import pytest

from _tools import load_tool
from masktrack_d2.evaluation.ytvis_eval import YTVISEval
from masktrack_d2.evaluation.ytvis_eval.error_analysis import ErrorAnalysis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "fixtures", "tive_golden")
TOL = 1e-6
CASES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(GOLDEN, "*.json"))
               if not p.endswith("index.json"))


def load(name):
    with open(os.path.join(GOLDEN, name + ".json")) as f:
        return json.load(f)


def ours(gt, results):
    ev = YTVISEval(gt, results)
    ev.evaluate()
    ev.accumulate()
    analysis = ErrorAnalysis(ev)
    lengths = {r["name"]: r for r in analysis.length_ap()}
    return ev, analysis.breakdown(), lengths


def assert_same_errors(b, tive, where):
    assert b.counts == tive["error_counts"], where
    assert b.base_ap50 == pytest.approx(tive["base_ap50"], abs=TOL), where
    for t, v in tive["main"].items():
        assert b.main[t] == pytest.approx(v, abs=TOL), f"{where}: {t}"
    for t, v in tive["special"].items():
        assert b.special[t] == pytest.approx(v, abs=TOL), f"{where}: {t}"


def _lengths(case):
    """Per track, its length as TIVE ranges it: GT frames with a segmentation, result frames
    with a non-empty mask."""
    from pycocotools import mask as mask_util

    gts = [(a["video_id"], a["category_id"], sum(s is not None for s in a["segmentations"]))
           for a in case["gt"]["annotations"]]
    res = [(r["video_id"], r["category_id"],
            sum(1 for s in r["segmentations"] if s and mask_util.area(s) > 0))
           for r in case["results"]]
    return gts, res


def length_conventions_coincide(case, lo, hi):
    """In this length range, every category with results has GT and every video with results
    has GT: there TIVE's length AP and the official rule agree."""
    gts, res = _lengths(case)
    hi = float("inf") if hi is None else hi
    g = [(v, c) for v, c, n in gts if lo <= n <= hi]
    r = [(v, c) for v, c, n in res if lo <= n <= hi]
    return ({c for _, c in r} <= {c for _, c in g}) and ({v for v, _ in r} <= {v for v, _ in g})


@pytest.mark.parametrize("name", CASES)
def test_matches_tive_golden(name):
    case = load(name)
    ev, b, lengths = ours(case["gt"], case["results"])
    tive = case["tive"]
    # the AP at every threshold is the official one; it is TIVE's where conventions coincide
    aps = [100 * ev.precision[t, :, :, 0, -1][ev.precision[t, :, :, 0, -1] > -1].mean()
           for t in range(10)]
    if case["conventions_differ"]:
        assert max(abs(a - t) for a, t in zip(aps, tive["ap_thresholds"])) > 1
        return
    assert aps == pytest.approx(tive["ap_thresholds"], abs=TOL)
    assert_same_errors(b, tive, name)
    compared = 0
    for rng, (lo, hi) in load("index")["length_ranges"].items():
        if length_conventions_coincide(case, lo, hi):
            mine = lengths[rng]["AP"]
            theirs = tive["length_ap"][rng]
            if theirs is None:
                assert mine is None, f"{name} {rng}"
            else:
                assert 100 * mine == pytest.approx(theirs, abs=TOL), f"{name} {rng}"
            compared += 1
    assert compared >= 1


def test_the_fixture_covers_every_error_type():
    seen = set()
    for name in CASES:
        seen |= {t for t, n in load(name)["tive"]["error_counts"].items() if n}
    assert seen == {"Cls", "Dupe", "Spat", "Temp", "Both", "Bkg", "Miss"}
    # and a length AP comparison in each range
    ranges = set()
    for name in CASES:
        case = load(name)
        for rng, (lo, hi) in load("index")["length_ranges"].items():
            if (not case["conventions_differ"] and case["tive"]["length_ap"][rng] is not None
                    and length_conventions_coincide(case, lo, hi)):
                ranges.add(rng)
    assert ranges == {"short", "medium", "long"}


def test_category_without_gt_is_where_tive_and_the_official_ap_differ():
    """TIVE averages a category that has results but no GT into its mAP as 0; the official AP
    (and so every number here) leaves it out. The dAPs themselves still agree."""
    case = load("nogt_category")
    _, b, _ = ours(case["gt"], case["results"])
    assert b.base_ap50 == pytest.approx(100.0, abs=TOL)
    assert case["tive"]["base_ap50"] == pytest.approx(200 / 3, abs=TOL)
    assert b.counts == case["tive"]["error_counts"]


def test_length_ap_counts_false_positives_in_videos_without_gt_of_that_length():
    """TIVE's length runs skip every video without GT in the range, so a false positive in a
    video without objects costs AP overall but not in its length range (100 there). Here the
    range is scored as the metric's area ranges are: the false positive counts."""
    case = load("no_gt_video")
    _, _, lengths = ours(case["gt"], case["results"])
    assert case["tive"]["length_ap"]["short"] == pytest.approx(100.0)
    assert 100 * lengths["short"]["AP"] == pytest.approx(case["tive"]["ap"], abs=TOL)
    assert lengths["short"]["AP"] < 1.0


def test_live_tive():
    """The cases scored by TIVE itself (skipped where TIVE does not import)."""
    tool = load_tool("make_tive_golden")
    try:
        tivecv = tool.import_tive(os.environ.get("TIVE_PATH"))
    except (ImportError, TypeError, OSError) as e:
        pytest.skip(f"TIVE not importable (set TIVE_PATH to a checkout, install tidecv): {e}")
    for case in tool.build_cases():
        if case["conventions_differ"]:
            continue
        theirs = tool.run_tive(tivecv, case["gt"], case["results"])
        _, b, _ = ours(case["gt"], case["results"])
        assert_same_errors(b, theirs, case["name"])
