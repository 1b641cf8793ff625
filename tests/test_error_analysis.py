"""TIVE's error breakdown on top of the official metric (ytvis_eval.error_analysis).

Hand-made cases, one per error type, whose dAP follows from the 101-point AP by hand; the
golden fixture written by tools/make_tive_golden.py (TIVE's own numbers) is checked in
test_tive_golden.py.
"""
import numpy as np
import pytest
from pycocotools import mask as mask_util

from masktrack_d2.evaluation.ytvis_eval import YTVISEval
from masktrack_d2.evaluation.ytvis_eval.error_analysis import (
    ERROR_TYPES,
    ErrorAnalysis,
)

H, W, F = 20, 30, 10


def rle(mask):
    r = mask_util.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [H, W], "counts": r["counts"].decode("ascii")}


def box(y0, y1, x0, x1):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return rle(m)


A = box(0, 10, 0, 10)  # 100 px
A_SHIFT = box(0, 10, 6, 16)  # IoU with A: 40 / 160 = 0.25
B = box(10, 20, 15, 25)  # disjoint from A
C = box(0, 5, 20, 30)  # disjoint from A and B
NONE = [None] * F


def track(segm, frames=range(F)):
    return [segm if f in frames else None for f in range(F)]


def gt_json(anns, n_videos=2, n_categories=2):
    """``anns``: (video id, category id, segmentations) per GT track."""
    return {
        "videos": [{"id": v, "height": H, "width": W, "length": F,
                    "file_names": [f"v{v}/{i:05d}.jpg" for i in range(F)]}
                   for v in range(1, n_videos + 1)],
        "annotations": [{"id": i + 1, "video_id": v, "category_id": c, "iscrowd": 0,
                         "segmentations": s, "bboxes": [None] * F,
                         "areas": [int(mask_util.area(x)) if x else None for x in s]}
                        for i, (v, c, s) in enumerate(anns)],
        "categories": [{"id": c, "name": f"cat{c}"} for c in range(1, n_categories + 1)],
    }


def res(video_id, category_id, score, segms):
    return {"video_id": video_id, "category_id": category_id, "score": score,
            "segmentations": [s if s else None for s in segms]}


def analyse(gt, results):
    ev = YTVISEval(gt, results)
    ev.evaluate()
    ev.accumulate()
    stats = ev.summarize()
    analysis = ErrorAnalysis(ev)
    return analysis, analysis.breakdown(), stats


def only(counts, **expected):
    """Counts of every error type: the given ones, 0 elsewhere."""
    return {t: expected.get(t, 0) for t in ERROR_TYPES} == counts


def ap101(precision_at):
    """101-point AP (percent) of a step function of recall."""
    return 100.0 * np.mean([precision_at(r) for r in np.linspace(0, 1, 101)])


TWO_THIRDS_AP = ap101(lambda r: 1.0 if r <= 0.5 + 1e-12 else 2 / 3)  # TP, FP, TP over 2 GT
HALF_RECALL_AP = ap101(lambda r: 1.0 if r <= 0.5 + 1e-12 else 0.0)  # 1 of 2 GT found


def test_class_error_becomes_a_true_positive_of_the_gt_category():
    gt = gt_json([(1, 1, track(A)), (2, 2, track(B))])
    results = [res(1, 2, 0.9, track(A)),  # cat2 on cat1's GT
               res(2, 2, 0.8, track(B))]  # correct
    _, b, stats = analyse(gt, results)
    assert only(b.counts, Cls=1)
    assert b.base_ap50 == pytest.approx(100 * stats["AP50"], abs=1e-9)
    # cat1: its GT missed (AP 0); cat2: FP then TP (precision 1/2 everywhere): mean 25
    assert b.base_ap50 == pytest.approx(25.0, abs=1e-6)
    assert b.main["Cls"] == pytest.approx(75.0, abs=1e-6)
    assert b.main["Miss"] == 0.0  # the GT a class error points at is not missed


def test_spatial_and_temporal_errors_are_told_apart_by_frame_overlap():
    gt = gt_json([(1, 1, track(A)), (2, 1, track(A))])
    results = [res(1, 1, 0.9, track(A_SHIFT)),  # IoU 0.25 in every frame: spatial
               res(2, 1, 0.8, track(A, range(3)))]  # perfect in 3 of 10 frames: temporal
    _, b, _ = analyse(gt, results)
    assert only(b.counts, Spat=1, Temp=1)
    assert b.base_ap50 == 0.0
    # fixing one of the two finds one GT of two: ranked first (Spat) at precision 1, ranked
    # second (Temp) at precision 1/2
    assert b.main["Spat"] == pytest.approx(HALF_RECALL_AP, abs=1e-6)
    assert b.main["Temp"] == pytest.approx(HALF_RECALL_AP / 2, abs=1e-6)


def test_duplicate_ranked_above_a_true_positive_costs_precision():
    gt = gt_json([(1, 1, track(A)), (1, 1, track(B))], n_videos=1, n_categories=1)
    results = [res(1, 1, 0.9, track(A)), res(1, 1, 0.8, track(A)), res(1, 1, 0.7, track(B))]
    _, b, _ = analyse(gt, results)
    assert only(b.counts, Dupe=1)
    assert b.base_ap50 == pytest.approx(TWO_THIRDS_AP, abs=1e-6)
    assert b.main["Dupe"] == pytest.approx(100.0 - TWO_THIRDS_AP, abs=1e-6)
    assert b.special["FalsePos"] == pytest.approx(100.0 - TWO_THIRDS_AP, abs=1e-6)
    assert b.special["FalseNeg"] == pytest.approx(0.0, abs=1e-9)


def test_background_both_and_a_video_without_gt():
    gt = gt_json([(1, 1, track(A)), (1, 2, track(B))], n_videos=2)
    results = [res(1, 1, 0.95, track(C)),  # far from every GT
               res(2, 1, 0.9, track(A)),  # video 2 has no GT at all
               res(1, 2, 0.85, track(A_SHIFT)),  # IoU 0.25 with a GT of another class only
               res(1, 1, 0.5, track(A)), res(1, 2, 0.4, track(B))]
    _, b, _ = analyse(gt, results)
    assert only(b.counts, Bkg=2, Both=1)
    # cat1: FP, FP, TP (precision 1/3); cat2: FP, TP (1/2)
    assert b.base_ap50 == pytest.approx((100 / 3 + 50) / 2, abs=1e-6)
    assert b.base_ap50 + b.main["Bkg"] == pytest.approx((100 + 50) / 2, abs=1e-6)
    assert b.base_ap50 + b.main["Both"] == pytest.approx((100 / 3 + 100) / 2, abs=1e-6)


def test_missed_gt():
    gt = gt_json([(1, 1, track(A)), (1, 1, track(B))], n_videos=1, n_categories=1)
    _, b, _ = analyse(gt, [res(1, 1, 0.9, track(A))])
    assert only(b.counts, Miss=1)
    assert b.base_ap50 == pytest.approx(HALF_RECALL_AP, abs=1e-6)
    assert b.main["Miss"] == pytest.approx(100 - HALF_RECALL_AP, abs=1e-6)
    assert b.special["FalseNeg"] == pytest.approx(100 - HALF_RECALL_AP, abs=1e-6)
    assert b.special["FalsePos"] == pytest.approx(0.0, abs=1e-9)


def test_only_the_best_error_on_a_gt_is_fixed_and_a_matched_gt_fixes_none():
    gt = gt_json([(1, 1, track(A)), (2, 1, track(B)), (2, 2, track(C))])
    results = [res(1, 1, 0.9, track(A_SHIFT)),  # spatial, best on GT 1
               res(1, 1, 0.8, track(A, range(2))),  # temporal on GT 1: removed when fixed
               res(2, 2, 0.7, track(B)),  # class error on a GT that is matched below
               res(2, 1, 0.6, track(B)), res(2, 2, 0.5, track(C))]
    _, b, _ = analyse(gt, results)
    assert only(b.counts, Spat=1, Temp=1, Cls=1)
    # fixing Spat: cat1 = TP(0.9), FP(0.8 temporal), TP(0.6): 2 GT -> TWO_THIRDS_AP;
    # cat2 = FP(0.7), TP(0.5) -> 50
    base = (HALF_RECALL_AP * 0.5 + 50) / 2  # cat1: FP, FP, TP: precision 1/3 at recall 1/2
    assert b.base_ap50 == pytest.approx((ap101(lambda r: 1 / 3 if r <= 0.5 + 1e-12 else 0)
                                         + 50) / 2, abs=1e-6)
    assert base > 0
    assert b.base_ap50 + b.main["Spat"] == pytest.approx((TWO_THIRDS_AP + 50) / 2, abs=1e-6)
    # fixing Temp: the spatial error is better on the same GT, so the temporal one is only
    # removed: cat1 = FP, TP -> precision 1/2 at recall 1/2
    assert b.base_ap50 + b.main["Temp"] == pytest.approx(
        (ap101(lambda r: 0.5 if r <= 0.5 + 1e-12 else 0) + 50) / 2, abs=1e-6)
    # fixing Cls: its GT is matched, so it is removed: cat2 -> 100
    assert b.base_ap50 + b.main["Cls"] == pytest.approx(
        (ap101(lambda r: 1 / 3 if r <= 0.5 + 1e-12 else 0) + 100) / 2, abs=1e-6)


def test_oracle_keeps_the_category_set_of_the_base():
    # cat2 has GT only in a video where it is missed; fixing misses leaves it without GT
    # while a false positive of it remains: it counts as 0, it does not drop out
    gt = gt_json([(1, 1, track(A)), (2, 2, track(B))])
    results = [res(1, 1, 0.9, track(A)), res(1, 2, 0.8, track(C))]
    _, b, _ = analyse(gt, results)
    assert only(b.counts, Bkg=1, Miss=1)
    assert b.base_ap50 == pytest.approx(50.0, abs=1e-6)
    assert b.main["Miss"] == 0.0
    # without the false positive, cat2 drops out when its GT is fixed away
    _, b2, _ = analyse(gt, results[:1])
    assert b2.main["Miss"] == pytest.approx(50.0, abs=1e-6)


def test_errors_are_listed_with_their_video_and_gt():
    gt = gt_json([(1, 1, track(A)), (2, 2, track(B))])
    results = [res(1, 2, 0.9, track(A)), res(2, 2, 0.8, track(B))]
    _, b, _ = analyse(gt, results)
    (e,) = b.errors
    assert (e.type, e.video_id, e.category_id, e.gt_id, e.score) == ("Cls", 1, 2, 1, 0.9)


def test_length_ap_ranges_tracks_by_frames():
    long_f = 40
    gt = {
        "videos": [{"id": 1, "height": H, "width": W, "length": long_f}],
        "annotations": [
            {"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "bboxes": None,
             "segmentations": [A if f < 10 else None for f in range(long_f)],
             "areas": [100 if f < 10 else None for f in range(long_f)]},
            {"id": 2, "video_id": 1, "category_id": 1, "iscrowd": 0, "bboxes": None,
             "segmentations": [B] * long_f, "areas": [100] * long_f}],
        "categories": [{"id": 1, "name": "x"}],
    }
    results = [res(1, 1, 0.9, [A if f < 10 else None for f in range(long_f)]),
               res(1, 1, 0.8, [C] * 5 + [None] * (long_f - 5))]  # short false positive
    ev = YTVISEval(gt, results)
    by_name = {r["name"]: r for r in ErrorAnalysis(ev).length_ap()}
    assert by_name["short"]["n_gt"] == 1 and by_name["long"]["n_gt"] == 1
    assert by_name["medium"]["AP"] is None and by_name["medium"]["n_gt"] == 0
    # short: TP then FP (precision 1 until recall 1): AP 1; long: its GT is missed: 0
    assert by_name["short"]["AP"] == pytest.approx(1.0, abs=1e-9)
    assert by_name["long"]["AP"] == 0.0
