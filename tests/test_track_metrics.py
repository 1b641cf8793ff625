"""Association metrics (HOTA / Identity / CLEAR) against TrackEval.

The fixture tests/fixtures/trackeval_golden/ holds small YouTube-VIS problems and TrackEval's
numbers for them (written by tools/make_trackeval_golden.py); these tests need no TrackEval.
test_live_trackeval re-runs TrackEval when it is importable (TRACKEVAL_PATH=<checkout> or an
installed ``trackeval``) and skips otherwise.
"""
import copy
import json
import os

import numpy as np
import pytest

from _tools import load_tool
from masktrack_d2.evaluation.ytvis_eval import (
    GroundTruthFormatError,
    evaluate_track_metrics,
    track_metrics,
)
from masktrack_d2.evaluation.ytvis_eval import association as A

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "fixtures", "trackeval_golden")
CASES = json.load(open(os.path.join(GOLDEN, "index.json")))["cases"]
TOL = 1e-6


def assert_same_as_trackeval(ours, theirs, where):
    """Every field TrackEval reports, per category and combined, within TOL (counts exact)."""
    assert set(ours) == set(theirs), where
    for cls, metrics in theirs.items():
        for metric, fields in metrics.items():
            for field, expected in fields.items():
                got = np.asarray(ours[cls][metric][field], dtype=np.float64)
                exp = np.asarray(expected, dtype=np.float64)
                assert got.shape == exp.shape, (where, cls, metric, field)
                assert np.all(np.abs(got - exp) <= TOL), (where, cls, metric, field, got, exp)


@pytest.mark.parametrize("name", CASES)
def test_matches_trackeval_golden(name):
    case = json.load(open(os.path.join(GOLDEN, name + ".json")))
    ours = evaluate_track_metrics(case["gt"], case["results"])
    assert_same_as_trackeval(ours, case["trackeval"], name)


def test_golden_cases_cover_the_hard_parts():
    """The fixture must exercise what the metrics are for (else matching it proves little)."""
    seen = {"IDSW": 0, "Frag": 0, "crowd": 0, "empty_video": 0, "class_without_gt": 0}
    for name in CASES:
        case = json.load(open(os.path.join(GOLDEN, name + ".json")))
        comb = case["trackeval"]["cls_comb_det_av"]["CLEAR"]
        seen["IDSW"] += comb["IDSW"] > 0
        seen["Frag"] += comb["Frag"] > 0
        seen["crowd"] += any(a["iscrowd"] for a in case["gt"]["annotations"])
        with_gt = {a["video_id"] for a in case["gt"]["annotations"]}
        seen["empty_video"] += any(v["id"] not in with_gt for v in case["gt"]["videos"])
        gt_cats = {a["category_id"] for a in case["gt"]["annotations"]}
        seen["class_without_gt"] += any(r["category_id"] not in gt_cats for r in case["results"])
    assert all(n >= 2 for n in seen.values()), seen


def test_live_trackeval():
    """Fresh random cases scored by TrackEval itself (skipped when it is not importable)."""
    tool = load_tool("make_trackeval_golden")
    try:
        trackeval = tool.import_trackeval(os.environ.get("TRACKEVAL_PATH"))
    except ImportError:
        pytest.skip("TrackEval not importable (set TRACKEVAL_PATH to a checkout)")
    import contextlib
    import io
    for seed in (1001, 1002, 1003):
        case = tool.case_random(seed, n_videos=6, max_frames=10, n_categories=5)
        with contextlib.redirect_stdout(io.StringIO()):
            theirs = tool.run_trackeval(trackeval, copy.deepcopy(case.gt),
                                        copy.deepcopy(case.results))
        ours = evaluate_track_metrics(case.gt, case.results)
        assert_same_as_trackeval(ours, theirs, f"seed {seed}")


# ------------------------------------------------------------------------------------------
# hand-checked values (independent of TrackEval)
# ------------------------------------------------------------------------------------------
def _seq(frames, n_gt, n_pred):
    """frames: list of (gt ids, pred ids, IoU matrix)."""
    return A.TrackSequence([np.array(g, dtype=np.int64) for g, _, _ in frames],
                           [np.array(p, dtype=np.int64) for _, p, _ in frames],
                           [np.array(s, dtype=np.float64).reshape(len(g), len(p))
                            for g, p, s in frames], n_gt, n_pred)


def test_perfect_tracking():
    seq = _seq([([0, 1], [0, 1], [[1, 0], [0, 1]])] * 4, 2, 2)
    s = A.score_sequence(seq)
    assert np.allclose(s["HOTA"]["HOTA"], 1) and np.allclose(s["HOTA"]["AssA"], 1)
    assert s["Identity"]["IDF1"] == 1 and s["CLEAR"]["IDSW"] == 0 and s["CLEAR"]["MOTA"] == 1


def test_swap_by_hand():
    """Two objects, two predictions exchanging them after 2 of 4 frames (IoU 1 throughout)."""
    frames = [([0, 1], [0, 1], [[1, 0], [0, 1]])] * 2 + [([0, 1], [0, 1], [[0, 1], [1, 0]])] * 2
    s = A.score_sequence(_seq(frames, 2, 2))
    assert s["CLEAR"]["IDSW"] == 2 and s["CLEAR"]["CLR_TP"] == 8 and s["CLEAR"]["Frag"] == 0
    assert s["CLEAR"]["MOTA"] == pytest.approx((8 - 0 - 2) / 8)
    # best identity map keeps 2 of 4 frames per object: IDTP 4 of 8
    assert s["Identity"]["IDTP"] == 4 and s["Identity"]["IDF1"] == pytest.approx(0.5)
    # every matched pair shares 2 frames out of a union of 4+4-2: AssA = 2/6 at every alpha
    assert np.allclose(s["HOTA"]["AssA"], 2 / 6) and np.allclose(s["HOTA"]["DetA"], 1)
    assert np.allclose(s["HOTA"]["HOTA"], np.sqrt(2 / 6))


def test_gap_is_a_fragmentation_not_a_switch():
    # frame 1: the prediction is elsewhere (IoU 0.1): the GT is lost, then found again by
    # the same prediction
    frames = [([0], [0], [[0.9]]), ([0], [1], [[0.1]]), ([0], [0], [[0.9]])]
    c = A.score_sequence(_seq(frames, 1, 2))["CLEAR"]
    assert (c["IDSW"], c["Frag"], c["CLR_FN"], c["CLR_FP"], c["CLR_TP"]) == (0, 1, 1, 1, 2)
    # as in TrackEval, a frame without any prediction of the category does not end the
    # tracked stretch (a miss, but no fragmentation)
    frames = [([0], [0], [[0.9]]), ([0], [], []), ([0], [0], [[0.9]])]
    c = A.score_sequence(_seq(frames, 1, 1))["CLEAR"]
    assert (c["IDSW"], c["Frag"], c["CLR_FN"], c["CLR_TP"]) == (0, 0, 1, 2)


def test_hota_alpha_thresholds():
    """IoU 0.5 counts for alpha <= 0.5 (9 of 19 thresholds) and misses for the others."""
    h = A.hota_sequence(_seq([([0], [0], [[0.5]])], 1, 1))
    assert list(h["HOTA_TP"]) == [1.0] * 10 + [0.0] * 9
    assert np.mean(h["DetA"]) == pytest.approx(10 / 19)


def test_api_summary_and_score_threshold():
    case = json.load(open(os.path.join(GOLDEN, "swap.json")))
    s = track_metrics(case["gt"], case["results"])
    te = case["trackeval"]["cls_comb_det_av"]
    assert s["HOTA"] == pytest.approx(np.mean(te["HOTA"]["HOTA"]), abs=TOL)
    assert s["IDSW"] == te["CLEAR"]["IDSW"] and isinstance(s["IDSW"], int)
    assert s["class_averaged"]["AssA"] == pytest.approx(
        np.mean(case["trackeval"]["cls_comb_cls_av"]["HOTA"]["AssA"]), abs=TOL)
    assert set(s["per_category"]) == {c["name"] for c in case["gt"]["categories"]}
    # dropping every result below the top score leaves fewer detections
    top = max(r["score"] for r in case["results"])
    t = track_metrics(case["gt"], case["results"], min_score=top)
    assert t["CLR_TP"] + t["CLR_FP"] < s["CLR_TP"] + s["CLR_FP"]


def test_duplicate_gt_ids_are_an_error():
    case = json.load(open(os.path.join(GOLDEN, "crowd.json")))
    gt = copy.deepcopy(case["gt"])
    gt["annotations"][1]["id"] = gt["annotations"][0]["id"]
    with pytest.raises(GroundTruthFormatError, match="duplicate annotation id"):
        evaluate_track_metrics(gt, case["results"])
    with pytest.raises(GroundTruthFormatError, match="more than one annotation"):
        evaluate_track_metrics(gt, case["results"], strict=False)


# ------------------------------------------------------------------------------------------
# entry points: CLI flag and evaluator option
# ------------------------------------------------------------------------------------------
def _write_case(tmp_path, name):
    case = json.load(open(os.path.join(GOLDEN, name + ".json")))
    gt, res = tmp_path / "gt.json", tmp_path / "results.json"
    gt.write_text(json.dumps(case["gt"]))
    res.write_text(json.dumps(case["results"]))
    return case, str(gt), str(res)


def test_cli_track_metrics(tmp_path, capsys):
    from masktrack_d2.evaluation.ytvis_eval import main

    case, gt, res = _write_case(tmp_path, "frag")
    assert main(["--gt", gt, "--results", res, "--json", "--track-metrics"]) == 0
    out = json.loads(capsys.readouterr().out)
    te = case["trackeval"]["cls_comb_det_av"]
    assert "AP" in out  # AP still computed
    assert out["track"]["AssA"] == pytest.approx(np.mean(te["HOTA"]["AssA"]), abs=TOL)
    assert out["track"]["Frag"] == te["CLEAR"]["Frag"] > 0
    assert main(["--gt", gt, "--results", res, "--track-metrics", "--no-ap",
                 "--per-category"]) == 0
    text = capsys.readouterr().out
    assert "HOTA" in text and "cat1" in text and "AP50" not in text
    assert main(["--gt", gt, "--results", res, "--json"]) == 0  # default: AP only
    assert "track" not in json.loads(capsys.readouterr().out)


def test_evaluator_option(tmp_path):
    """YTVISEvaluator(track_metrics=True) adds a 'track' entry: the GT itself as predictions
    tracks perfectly; the default adds nothing."""
    import _tiny
    from detectron2.data import DatasetCatalog, MetadataCatalog
    from pycocotools import mask as mask_util

    from masktrack_d2.evaluation.evaluator import YTVISEvaluator

    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=2, num_frames=3)
    name = _tiny.register(summary["all_json"], summary["image_root"], prefix="trackmetrics")
    try:
        DatasetCatalog.get(name)
        to_label = MetadataCatalog.get(name).thing_dataset_id_to_contiguous_id
        gt = json.load(open(summary["all_json"]))
        outputs = {v["id"]: {"video_id": v["id"], "tracks": []} for v in gt["videos"]}
        for a in gt["annotations"]:
            segs = []
            for s in a["segmentations"]:
                r = mask_util.frPyObjects(s, *s["size"]) if s else None
                if r:
                    r["counts"] = r["counts"].decode("ascii")
                segs.append(r)
            outputs[a["video_id"]]["tracks"].append(
                {"category_id": to_label[a["category_id"]], "score": 0.9, "segmentations": segs})
        results = {}
        for flag in (True, False):
            ev = YTVISEvaluator(name, output_dir=str(tmp_path / f"out{flag}"), distributed=False,
                                track_metrics=flag)
            ev.process([], list(outputs.values()))
            results[flag] = ev.evaluate()
        track = results[True]["track"]
        assert track["HOTA"] == pytest.approx(100) and track["IDF1"] == pytest.approx(100)
        assert track["IDSW"] == 0 and track["CLR_FN"] == 0 and track["CLR_FP"] == 0
        assert "track" not in results[False]
        np.testing.assert_equal(results[True]["segm"], results[False]["segm"])  # NaN == NaN
    finally:
        _tiny.unregister(name)
