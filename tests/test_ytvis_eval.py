"""The YouTube-VIS metric (masktrack_d2/evaluation/ytvis_eval/), rule by rule.

Every hand-computed case below proves one rule of docs/evaluation.md. Masks are small
(20x30 unless a case needs large areas) and RLE-encoded with pycocotools.
"""
import json
import subprocess
import sys

import numpy as np
import pytest
from pycocotools import mask as mask_util

from masktrack_d2.evaluation import ytvis_eval as Y
from masktrack_d2.evaluation.ytvis_eval import (
    STAT_KEYS,
    GroundTruthFormatError,
    ResultsFormatError,
    YTVISEval,
    YTVISEvalWarning,
    evaluate_ytvis,
    format_table,
    load_ytvis_gt,
    main,
    validate_results,
    video_iou,
    video_iou_loop,
)

from masktrack_d2.format.rle import rle_core

H, W = 20, 30


@pytest.fixture(params=["c_extension", "without_extension"])
def rle_impl(request, monkeypatch):
    """Runs a test with the C extension (where built) and without it (the RLE rule in numpy,
    the IoU on pycocotools)."""
    if request.param == "c_extension":
        if rle_core() is None:
            pytest.skip("the C extension _rlecore is not built here")
        monkeypatch.setenv("MASKTRACK_D2_RLE_CORE", "1")
    else:
        monkeypatch.setenv("MASKTRACK_D2_RLE_CORE", "0")
    return request.param


# ------------------------------------------------------------------------------------------
# builders
# ------------------------------------------------------------------------------------------
def rle(mask):
    r = mask_util.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}


def box(y0, y1, x0, x1, h=H, w=W):
    m = np.zeros((h, w), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return rle(m)


def empty(h=H, w=W):
    return rle(np.zeros((h, w), dtype=np.uint8))


def area(segm):
    return int(mask_util.area(segm)) if segm else None


A = box(0, 5, 0, 6)  # 30 px
B = box(10, 15, 10, 16)  # 30 px, disjoint from A
C = box(0, 5, 20, 26)  # 30 px, disjoint from A and B


def gt_ann(ann_id, video_id, segms, category_id=1, iscrowd=0, areas=None):
    return {
        "id": ann_id,
        "video_id": video_id,
        "category_id": category_id,
        "iscrowd": iscrowd,
        "segmentations": list(segms),
        "areas": [area(s) for s in segms] if areas is None else list(areas),
        "bboxes": [None] * len(segms),
        "height": H,
        "width": W,
    }


def make_gt(anns, videos=None, n_frames=None, h=H, w=W, n_categories=2):
    if videos is None:
        videos = sorted({a["video_id"] for a in anns})
    length = n_frames if n_frames is not None else max(len(a["segmentations"]) for a in anns)
    return {
        "videos": [{"id": v, "height": h, "width": w, "length": length,
                    "file_names": [f"v{v}/{i:05d}.jpg" for i in range(length)]} for v in videos],
        "annotations": anns,
        "categories": [{"id": c, "name": f"cat{c}", "supercategory": "x"}
                       for c in range(1, n_categories + 1)],
    }


def res(video_id, segms, score=0.9, category_id=1):
    return {"video_id": video_id, "category_id": category_id, "score": score,
            "segmentations": list(segms)}


def approx(x):
    """AP values carry np.spacing(1) in the precision denominator: 1/(1+eps) is not 1.0."""
    return pytest.approx(x, abs=1e-12)


def ap_at(ev, t_index):
    """AP (area all, maxDets 100) at one IoU threshold, averaged over valid categories."""
    s = ev.precision[t_index, :, :, 0, -1]
    return float(np.mean(s[s > -1]))


def run(gt, results, **kw):
    ev = YTVISEval(gt, results, **kw)
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev


# ------------------------------------------------------------------------------------------
# basic cases
# ------------------------------------------------------------------------------------------
def test_perfect_prediction_scores_one():
    gt = make_gt([gt_ann(1, 1, [A, A, B]), gt_ann(2, 1, [B, None, C], category_id=2),
                  gt_ann(3, 2, [C, C, C])])
    results = [res(1, [A, A, B]), res(1, [B, None, C], category_id=2, score=0.3),
               res(2, [C, C, C], score=0.5)]
    stats = evaluate_ytvis(gt, results)
    assert list(stats) == list(STAT_KEYS)
    assert all(type(v) is float for v in stats.values())
    for k in ("AP", "AP50", "AP75", "APs", "AR1", "AR10", "ARs"):
        assert stats[k] == approx(1.0), k
    for k in ("APm", "APl", "ARm", "ARl"):  # all GT is small: no GT in these ranges
        assert stats[k] == -1.0, k


def test_one_missed_frame_gives_iou_two_thirds(rle_impl):
    gt = make_gt([gt_ann(1, 1, [A, A, A])])
    ev = run(gt, [res(1, [A, A, None])])
    assert ev.ious[(1, 1)][0, 0] == 2 / 3
    # matched at 0.5, 0.55, 0.6, 0.65; not from 0.7 on
    assert [ap_at(ev, t) for t in range(10)] == approx([1.0] * 4 + [0.0] * 6)
    assert ev.stats["AP50"] == approx(1.0) and ev.stats["AP75"] == 0.0
    assert ev.stats["AP"] == approx(0.4)
    assert ev.stats["AR10"] == approx(0.4)


def test_iou_is_ratio_of_sums_not_mean_of_frame_ious(rle_impl):
    small = box(0, 1, 0, 2)  # 2 px inside A
    gt = make_gt([gt_ann(1, 1, [A, small])])
    ev = run(gt, [res(1, [A, A])])
    # frames: 30/30 and 2/30 -> (30 + 2) / (30 + 30), not (1 + 1/15) / 2
    assert ev.ious[(1, 1)][0, 0] == 32 / 60


def test_swapped_track_ids_cost_iou(rle_impl):
    # two GT tracks, each result follows one of them but swaps in the last of 5 frames
    gt = make_gt([gt_ann(1, 1, [A, A, A, A, A]), gt_ann(2, 1, [B, B, B, B, B])])
    ev = run(gt, [res(1, [A, A, A, A, B], 0.9), res(1, [B, B, B, B, A], 0.8)])
    np.testing.assert_array_equal(ev.ious[(1, 1)], [[2 / 3, 1 / 9], [1 / 9, 2 / 3]])
    assert ev.stats["AP"] == approx(0.4)
    # fully swapped halves (IoU 1/3 with both): nothing matches
    gt2 = make_gt([gt_ann(1, 1, [A, A]), gt_ann(2, 1, [B, B])])
    ev2 = run(gt2, [res(1, [A, B]), res(1, [B, A], 0.8)])
    np.testing.assert_array_equal(ev2.ious[(1, 1)], [[1 / 3, 1 / 3], [1 / 3, 1 / 3]])
    assert ev2.stats["AP"] == 0.0 and ev2.stats["AR10"] == 0.0


def test_wrong_class_scores_zero_and_class_without_gt_is_left_out():
    gt = make_gt([gt_ann(1, 1, [A, A])])
    stats = evaluate_ytvis(gt, [res(1, [A, A], category_id=2)])
    # category 1: GT, no result -> 0; category 2: no GT -> -1, not averaged in
    assert stats["AP"] == 0.0 and stats["AR1"] == 0.0


def test_categories_unknown_to_gt_are_an_error_or_dropped_when_lenient(caplog):
    gt = make_gt([gt_ann(1, 1, [A, A])])
    results = [res(1, [A, A]), res(1, [B, B], category_id=7)]
    with pytest.raises(ResultsFormatError, match=r"video_id 1: result #1 field 'category_id' "
                                                 r"is 7, not one of .*\[1, 2\]"):
        validate_results(results, gt)
    # lenient: dropped, as the official evaluator drops them
    with caplog.at_level("WARNING", logger=Y.__name__):
        kept = validate_results(results, gt, strict=False)
    assert [r["category_id"] for r in kept] == [1]
    assert "category_id [7]" in caplog.text
    stats = evaluate_ytvis(gt, [res(1, [B, B], score=1.0, category_id=7), res(1, [A, A], 0.1)],
                           strict=False)
    assert stats["AP"] == approx(1.0)


@pytest.mark.parametrize("score", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_scores_are_an_error(score):
    gt = make_gt([gt_ann(1, 1, [A, A])])
    for strict in (True, False):
        with pytest.raises(ResultsFormatError, match=r"result #1 \(video_id 1\): field 'score' "
                                                     r"is -?(nan|inf); scores must be finite"):
            validate_results([res(1, [A, A]), res(1, [B, B], score=score)], gt, strict=strict)


@pytest.mark.parametrize("counts, why", [
    ("!!!garbage", "not a compressed RLE string"),
    ("P", "not a compressed RLE string"),  # ends inside a number
    ("", "not a compressed RLE string"),
    (box(0, 5, 0, 6, h=H - 1)["counts"], "add up to 570, not height x width = 600"),
    (box(0, 5, 0, 6, h=H + 1)["counts"], "add up to 630, not height x width = 600"),
])
def test_counts_that_are_not_an_rle_of_the_size_are_an_error(counts, why, tmp_path, rle_impl):
    gt = make_gt([gt_ann(1, 1, [A, A])])
    bad = {"size": [H, W], "counts": counts}
    path = tmp_path / "results.json"
    path.write_text(json.dumps([res(1, [A, A]), res(1, [A, bad], category_id=2)]))
    for strict in (True, False):
        with pytest.raises(ResultsFormatError) as e:
            validate_results(str(path), gt, strict=strict)
        msg = str(e.value)
        assert msg.startswith(f"{path}: video_id 1: result #1 field 'segmentations' frame 1: ")
        assert why in msg and "\n" not in msg, msg


def test_rle_check_agrees_with_a_plain_decoder_on_random_strings(rle_impl):
    """The RLE check's verdicts and areas against a direct decode of random strings of the
    alphabet, canonical or not, in both implementations."""
    from masktrack_d2.format.rle import check_rles

    def total(s):  # pycocotools' string decoding, in Python
        cnts, p = [], 0
        while p < len(s):
            x, k, more = 0, 0, True
            while more:
                c = ord(s[p]) - 48
                x |= (c & 0x1F) << 5 * k
                more = bool(c & 0x20)
                p += 1
                k += 1
                if not more and c & 0x10:
                    x |= -1 << 5 * k
            if len(cnts) > 2:
                x += cnts[-2]
            cnts.append(x % (1 << 32))  # stored as uint32
        return cnts

    rng = np.random.default_rng(0)
    objs, expect, areas = [], [], []
    for _ in range(3000):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        if rng.random() < 0.5:  # a real mask, maybe with a wrong size
            m = rng.random((h, w)) < rng.random()
            s = rle(m)["counts"]
            if rng.random() < 0.3:
                h += int(rng.integers(-1, 2))
        else:  # random digits, last one without continuation
            n = int(rng.integers(1, 8))
            s = "".join(chr(48 + int(v)) for v in rng.integers(0, 64, n - 1))
            s += chr(48 + int(rng.integers(0, 32)))
        cnts = total(s)
        objs.append({"size": [h, w], "counts": s})
        expect.append(sum(cnts) != h * w or h < 1)
        areas.append(sum(cnts[1::2]))
    got_areas, problems = check_rles(objs)
    flagged = {i for i, _ in problems}
    assert flagged == {i for i, e in enumerate(expect) if e}
    assert 100 < len(flagged) < len(objs) - 100
    ok = np.array([not e for e in expect])
    np.testing.assert_array_equal(got_areas[ok], np.array(areas)[ok])
    assert (got_areas[~ok] == 0).all()


def test_empty_frames_none_empty_dict_and_all_zero_rle_are_alike(rle_impl):
    gt = make_gt([gt_ann(1, 1, [A, A, A])])
    for absent in (None, {}, [], empty()):
        ev = run(gt, [res(1, [A, A, absent])])
        assert ev.ious[(1, 1)][0, 0] == 2 / 3, absent
    # GT frames without a mask: a result mask there only adds to the union
    gt2 = make_gt([gt_ann(1, 1, [A, None, A])])
    ev = run(gt2, [res(1, [A, B, A])])
    assert ev.ious[(1, 1)][0, 0] == 60 / 90
    # a result without any mask: union = GT area, IoU 0
    ev = run(gt2, [res(1, [None, None, None])])
    assert ev.ious[(1, 1)][0, 0] == 0.0


def test_union_zero_gives_iou_zero(rle_impl):
    assert video_iou([[None, empty()]], [[empty(), None]]).tolist() == [[0.0]]
    assert video_iou_loop([[None, empty()]], [[empty(), None]]).tolist() == [[0.0]]


def test_only_top_100_results_per_video_and_category():
    gt = make_gt([gt_ann(1, 1, [A, A])])
    junk = [res(1, [B, B], score=1.0 - i * 1e-3) for i in range(100)]
    # the 101st best result is perfect but is cut
    assert evaluate_ytvis(gt, junk + [res(1, [A, A], score=0.01)])["AR10"] == 0.0
    ev = run(gt, junk[:99] + [res(1, [A, A], score=0.01)])  # now it is the 100th
    assert ev.stats["AR100"] == 1.0 and ev.stats["AR10"] == 0.0 and ev.stats["AR1"] == 0.0
    assert ev.stats["AP"] == approx(0.01)  # precision 1/100 at every recall
    # the cut is per (video, category): another category's results do not compete
    other = [res(1, [B, B], score=1.0, category_id=2) for _ in range(150)]
    assert evaluate_ytvis(gt, other + [res(1, [A, A], score=0.01)])["AP"] == approx(1.0)


def test_max_dets_1_10_are_per_video_and_category():
    gt = make_gt([gt_ann(1, 1, [A]), gt_ann(2, 1, [B]), gt_ann(3, 1, [C], category_id=2)])
    stats = evaluate_ytvis(gt, [res(1, [A], 0.9), res(1, [B], 0.8), res(1, [C], 0.7, 2)])
    assert stats["AR1"] == approx((0.5 + 1.0) / 2)
    assert stats["AR10"] == 1.0


# ------------------------------------------------------------------------------------------
# crowd, ignore and matching
# ------------------------------------------------------------------------------------------
def test_crowd_gt_ignores_its_matches_and_is_taken_many_times():
    crowd = gt_ann(2, 1, [B, B], iscrowd=1)
    gt = make_gt([gt_ann(1, 1, [A, A]), crowd])
    # two results on the crowd region, scored above the true positive: both ignored
    stats = evaluate_ytvis(gt, [res(1, [B, B], 0.9), res(1, [B, B], 0.8), res(1, [A, A], 0.5)])
    assert stats["AP"] == approx(1.0) and stats["AR10"] == 1.0


def test_crowd_gt_uses_plain_iou(rle_impl):
    big = box(0, 20, 0, 30)  # 600 px crowd region
    gt = make_gt([gt_ann(1, 1, [A, A]), gt_ann(2, 1, [big, big], iscrowd=1)])
    # inside the crowd region (COCO's crowd IoU would be 1) but plain IoU 0.05: a false positive
    ev = run(gt, [res(1, [C, C], 0.9), res(1, [A, A], 0.5)], exact_ious=True)
    assert ev.ious[(1, 1)][0, 1] == 60 / 1200
    assert ev.stats["AP"] == approx(0.5)


def test_matched_to_regular_gt_stops_at_ignored_gt():
    part = box(0, 5, 0, 3)  # 15 px
    # crowd GT listed first: ignored GT is moved last before matching
    crowd = gt_ann(1, 1, [A, None], iscrowd=1)  # IoU 1.0 with the result
    regular = gt_ann(2, 1, [A, part])  # IoU 30 / 45 = 2/3 with the result
    ev = run(make_gt([crowd, regular]), [res(1, [A, None])])
    assert ev.ious[(1, 1)].tolist() == [[1.0, 2 / 3]]
    # .5-.65: the regular GT is taken and the better crowd GT is never reached (TP);
    # .7-.95: only the crowd GT qualifies, so the result is ignored (not a FP)
    assert [ap_at(ev, t) for t in range(10)] == approx([1.0] * 4 + [0.0] * 6)
    assert ev.stats["AP"] == approx(0.4)


def test_equal_iou_goes_to_the_later_gt():
    both = rle(mask_util.decode(A) | mask_util.decode(B))
    gt = make_gt([gt_ann(1, 1, [A]), gt_ann(2, 1, [B])])
    # result 1 has IoU 0.5 with both GT; the tie goes to GT 2, which result 2 then misses
    ev = run(gt, [res(1, [both], 0.9), res(1, [B], 0.8)])
    assert ev.ious[(1, 1)].tolist() == [[0.5, 0.5], [0.0, 1.0]]
    assert ap_at(ev, 0) == approx(51 / 101)  # TP, FP: recall 0.5
    assert ev.recall[0, 0, 0, -1] == 0.5
    assert ap_at(ev, 1) == approx(51 * 0.5 / 101)  # from 0.55: result 1 FP, result 2 TP
    assert ev.recall[1, 0, 0, -1] == 0.5


def test_gt_id_zero_reads_as_unmatched():
    # official quirk (docs/evaluation.md, "Ground truth"): the match is stored as the GT id, so id 0 is "unmatched"
    stats = evaluate_ytvis(make_gt([gt_ann(0, 1, [A, A])]), [res(1, [A, A])])
    assert stats["AP"] == 0.0 and stats["AR10"] == 0.0


def test_duplicate_gt_ids_resolve_to_the_last_annotation(caplog):
    # the official loader looks GT up by id: both entries become the last annotation (B)
    gt = make_gt([gt_ann(1, 1, [A, A]), gt_ann(1, 1, [B, B])])
    with caplog.at_level("WARNING", logger=Y.__name__):
        assert evaluate_ytvis(gt, [res(1, [A, A])], strict=False)["AR10"] == 0.0
    assert "not unique" in caplog.text
    assert evaluate_ytvis(gt, [res(1, [B, B])], strict=False)["AR10"] == 0.5
    with pytest.raises(GroundTruthFormatError, match="annotation id=1: field 'id': duplicate"):
        evaluate_ytvis(gt, [res(1, [B, B])])


def test_iscrowd_is_the_only_ignore_flag():
    ann = gt_ann(1, 1, [A, A])
    ann["ignore"] = 1  # overwritten by iscrowd
    assert evaluate_ytvis(make_gt([ann]), [res(1, [A, A])])["AP"] == approx(1.0)


# ------------------------------------------------------------------------------------------
# areas
# ------------------------------------------------------------------------------------------
def test_area_16384_is_small_and_medium():
    gt = make_gt([gt_ann(1, 1, [A, A], areas=[16384, 16384])])
    stats = evaluate_ytvis(gt, [res(1, [A, A])])
    # the result (30 px) counts in 'medium' because it matched a GT of that range
    assert (stats["APs"], stats["APm"], stats["APl"]) == approx((1.0, 1.0, -1.0))
    assert (stats["ARs"], stats["ARm"], stats["ARl"]) == (1.0, 1.0, -1.0)


def test_gt_area_is_the_mean_of_truthy_json_areas_not_the_masks():
    # mask area 30, json areas say 70000 (None and 0 skipped; with 0 counted it would be medium)
    gt = make_gt([gt_ann(1, 1, [A, A, A, A], areas=[None, 0, 60000, 80000])])
    stats = evaluate_ytvis(gt, [res(1, [A, A, A, A])])
    assert (stats["APs"], stats["APm"], stats["APl"]) == approx((-1.0, -1.0, 1.0))
    # with no truthy area left the GT area is 0: small
    gt0 = make_gt([gt_ann(1, 1, [A, A], areas=[None, 0])])
    assert evaluate_ytvis(gt0, [res(1, [A, A])])["APs"] == approx(1.0)


def test_result_area_is_the_mean_over_non_empty_frames():
    h, w = 200, 400  # 80000 px frames: a full mask is 'large'
    small = box(0, 10, 0, 10, h, w)
    full = box(0, h, 0, w, h, w)
    gt = make_gt([gt_ann(1, 1, [small] * 6)], h=h, w=w)
    # unmatched result of area mean(80000) = large; counting the empty frames would make it
    # 80000 / 5 = 16000 = small
    fp = res(1, [full, empty(h, w), empty(h, w), empty(h, w), empty(h, w), None], 0.9)
    stats = evaluate_ytvis(gt, [fp, res(1, [small] * 6, 0.5)])
    assert stats["AP"] == approx(0.5)  # FP ranked first
    assert stats["APs"] == approx(1.0)  # outside 'small' and unmatched: ignored there


# ------------------------------------------------------------------------------------------
# accumulation order
# ------------------------------------------------------------------------------------------
def test_score_ties_keep_results_order_within_a_video():
    gt = make_gt([gt_ann(1, 1, [A, A])])
    fp, tp = res(1, [B, B], 0.5), res(1, [A, A], 0.5)
    assert evaluate_ytvis(gt, [fp, tp])["AP"] == approx(0.5)
    assert evaluate_ytvis(gt, [tp, fp])["AP"] == approx(1.0)


def test_score_ties_across_videos_go_to_the_lower_video_id():
    gt = make_gt([gt_ann(1, 2, [A, A])], videos=[1, 2, 3])
    tp = res(2, [A, A], 0.5)
    # the false positive comes later in the file but in a lower video id: ranked first
    assert evaluate_ytvis(gt, [tp, res(1, [B, B], 0.5)])["AP"] == approx(0.5)
    assert evaluate_ytvis(gt, [res(3, [B, B], 0.5), tp])["AP"] == approx(1.0)


def test_result_in_a_video_without_gt_is_a_false_positive():
    gt = make_gt([gt_ann(1, 1, [A, A])], videos=[1, 2])
    stats = evaluate_ytvis(gt, [res(2, [A, A], 0.9), res(1, [A, A], 0.5)])
    assert stats["AP"] == approx(0.5) and stats["AR10"] == 1.0


def test_precision_has_spacing_in_the_denominator():
    ev = run(make_gt([gt_ann(1, 1, [A, A])]), [res(1, [A, A])])
    assert ev.precision[0, 0, 0, 0, -1] == 1 / (1 + np.spacing(1)) < 1.0


def test_precision_is_read_at_the_first_recall_reaching_the_point():
    # TP, FP, TP over 2 GT: recall [.5, .5, 1], precision [1, 1/2, 2/3] -> [1, 2/3, 2/3];
    # recall point 0.5 reads index 0 (searchsorted side='left'): 1, not 2/3
    gt = make_gt([gt_ann(1, 1, [A]), gt_ann(2, 1, [B])])
    ev = run(gt, [res(1, [A], 0.9), res(1, [C], 0.8), res(1, [B], 0.7)])
    assert ev.precision[0, 50, 0, 0, -1] == approx(1.0)
    assert ap_at(ev, 0) == approx((51 * 1.0 + 50 * 2 / 3) / 101)


def test_parameters():
    assert Y.IOU_THRESHOLDS[8] == 0.8999999999999999  # linspace, not 0.9
    assert Y.IOU_THRESHOLDS[5] == 0.75 and len(Y.RECALL_THRESHOLDS) == 101
    assert Y.MAX_DETS == (1, 10, 100)
    assert [r[1:] for r in Y.AREA_RANGES] == [(0, 1e10), (0, 128**2), (128**2, 256**2),
                                               (256**2, 1e10)]


# ------------------------------------------------------------------------------------------
# frames: zip truncation and sizes
# ------------------------------------------------------------------------------------------
def test_frames_beyond_the_shorter_list_are_ignored():
    # GT list shorter than the video: the result's extra frame is not looked at (lenient;
    # the format's rules refuse such a GT)
    gt = make_gt([gt_ann(1, 1, [A, A])], n_frames=3)
    ev = run(gt, [res(1, [A, A, B])], strict=False)
    assert ev.ious[(1, 1)][0, 0] == 1.0
    with pytest.raises(GroundTruthFormatError, match="'segmentations': has 2 entries"):
        run(gt, [res(1, [A, A, B])])
    # result list shorter than the GT's (lenient mode only; strict rejects it)
    assert video_iou([[A, A]], [[A, A, B]]).tolist() == [[1.0]]
    assert video_iou_loop([[A, A]], [[A, A, B]]).tolist() == [[1.0]]
    gt3 = make_gt([gt_ann(1, 1, [A, A, B])])
    assert evaluate_ytvis(gt3, [res(1, [A, A])], strict=False)["AP"] == approx(1.0)
    with pytest.raises(ResultsFormatError, match="video_id 1.*'segmentations'.*3 frames"):
        evaluate_ytvis(gt3, [res(1, [A, A])])


def test_differently_sized_frame_adds_nothing():
    a_big = box(0, 5, 0, 6, H + 1, W)  # same pixels, other RLE size
    # not 2/3 (as a missing frame would give): the frame adds 0 to union too
    assert video_iou([[A, a_big, A]], [[A, A, A]]).tolist() == [[1.0]]
    assert video_iou_loop([[A, a_big, A]], [[A, A, A]]).tolist() == [[1.0]]
    far = box(15, 20, 25, 30, H + 1, W)  # boxes apart: mask.iou says 0, not -1
    assert video_iou([[A, far]], [[A, A]]).tolist() == [[1.0]]
    gt = make_gt([gt_ann(1, 1, [A, A, A])])
    assert evaluate_ytvis(gt, [res(1, [A, a_big, A])], strict=False)["AP"] == approx(1.0)
    with pytest.raises(ResultsFormatError, match=r"video_id 1.*\[21, 30\].*\[20, 30\]"):
        evaluate_ytvis(gt, [res(1, [A, a_big, A])])


# ------------------------------------------------------------------------------------------
# GT formats
# ------------------------------------------------------------------------------------------
def test_gt_uncompressed_rle_and_polygons():
    m = mask_util.decode(A)
    flat = m.flatten(order="F")
    counts, last, run_len = [], 0, 0
    for v in flat:
        if v != last:
            counts.append(run_len)
            last, run_len = v, 0
        run_len += 1
    counts.append(run_len)
    uncompressed = {"size": [H, W], "counts": counts}
    poly = [[0.0, 0.0, 6.0, 0.0, 6.0, 5.0, 0.0, 5.0]]
    poly_rle = mask_util.merge(mask_util.frPyObjects(poly, H, W))
    gt = make_gt([gt_ann(1, 1, [uncompressed, None, uncompressed], areas=[30, None, 30]),
                  gt_ann(2, 1, [poly, poly, None], category_id=2, areas=[30, 30, None])])
    results = [res(1, [A, None, A]), res(1, [poly_rle, poly_rle, None], category_id=2)]
    results[1]["segmentations"] = [
        {"size": s["size"], "counts": s["counts"].decode()} if s else None
        for s in results[1]["segmentations"]]
    assert evaluate_ytvis(gt, results)["AP"] == approx(1.0)


def test_gt_without_annotations_is_an_error():
    gt = make_gt([gt_ann(1, 1, [A])])
    for value in (None, []):
        gt_valid = dict(gt, annotations=value)
        with pytest.raises(GroundTruthFormatError, match="no annotations"):
            load_ytvis_gt(gt_valid)
    del gt["annotations"]
    with pytest.raises(GroundTruthFormatError, match="evaluation server"):
        evaluate_ytvis(gt, [res(1, [A])])


def test_load_gt_does_not_modify_the_dict():
    gt = make_gt([gt_ann(1, 1, [A, None])])
    before = json.dumps(gt, sort_keys=True)
    loaded = load_ytvis_gt(gt)
    assert load_ytvis_gt(loaded) is loaded
    evaluate_ytvis(loaded, [res(1, [A, None])])
    assert json.dumps(gt, sort_keys=True) == before


# ------------------------------------------------------------------------------------------
# results validation
# ------------------------------------------------------------------------------------------
def test_results_for_another_data_set():
    gt = make_gt([gt_ann(1, 1, [A])], videos=[1, 2])
    with pytest.raises(ResultsFormatError) as e:
        validate_results([res(1, [A]), res(7, [A]), res(9, [A]), res(9, [A])], gt)
    msg = str(e.value)
    assert "2 of the 3 video ids" in msg and "[7, 9]" in msg and "another data set" in msg


def test_results_field_errors_name_video_and_field():
    gt = make_gt([gt_ann(1, 1, [A, A])])
    cases = [
        ({"video_id": 1, "category_id": 1, "segmentations": [A, A]}, r"video_id 1.*'score'"),
        ({"video_id": 1, "score": 0.5, "segmentations": [A, A]}, r"video_id 1.*'category_id'"),
        ({"category_id": 1, "score": 0.5, "segmentations": [A, A]}, r"'video_id'"),
        (res(1, [A]), r"video_id 1.*1 entries.*'segmentations'.*2 frames"),
        (res(1, [A, box(0, 5, 0, 6, 10, 15)]), r"video_id 1.*frame 1.*\[10, 15\].*\[20, 30\]"),
        (res(1, [A, {"size": [H, W], "counts": [0, 5, 595]}]),
         r"video_id 1.*frame 1.*int list \(uncompressed RLE\)"),
        (res(1, [A, [[0, 0, 5, 0, 5, 5]]]), r"video_id 1.*frame 1.*polygons"),
        (dict(res(1, [A, A]), score="high"), r"video_id 1.*'score'"),
        (dict(res(1, [A, A]), segmentations=A), r"video_id 1.*'segmentations'"),
        ("not a result", r"result #0"),
    ]
    for bad, pattern in cases:
        with pytest.raises(ResultsFormatError, match=pattern):
            validate_results([bad], gt)
        with pytest.raises(ValueError):  # ResultsFormatError is a ValueError
            evaluate_ytvis(gt, [res(1, [A, A]), bad])


def test_results_must_be_a_list():
    gt = make_gt([gt_ann(1, 1, [A])])
    with pytest.raises(ResultsFormatError, match="list"):
        validate_results({"video_id": 1}, gt)
    with pytest.raises(ResultsFormatError, match="annotation file"):
        validate_results(gt, gt)


def test_empty_results_warn_and_score_zero():
    gt = make_gt([gt_ann(1, 1, [A, A])])
    with pytest.warns(YTVISEvalWarning, match="empty"):
        stats = evaluate_ytvis(gt, [])
    expected = {k: 0.0 for k in STAT_KEYS}
    expected.update(APm=-1.0, APl=-1.0, ARm=-1.0, ARl=-1.0)  # no medium / large GT
    assert stats == expected


def test_validate_results_file_errors_name_the_file(tmp_path):
    gt = make_gt([gt_ann(1, 1, [A, A])])
    path = tmp_path / "results.json"
    path.write_text(json.dumps([res(5, [A, A])]))
    with pytest.raises(ResultsFormatError, match=r"results\.json: 1 of the 1 video ids"):
        validate_results(str(path), gt)
    path.write_text("[{")
    with pytest.raises(ResultsFormatError, match=r"results\.json: not a valid JSON"):
        validate_results(path, gt)


# ------------------------------------------------------------------------------------------
# IoU implementations
# ------------------------------------------------------------------------------------------
def _random_sequences(rng, n, frames_lo=2, frames_hi=8):
    seqs = []
    for _ in range(n):
        seq = []
        for _ in range(rng.integers(frames_lo, frames_hi)):
            u = rng.random()
            if u < 0.15:
                seq.append(None)
            elif u < 0.2:
                seq.append({})
            elif u < 0.27:
                seq.append(empty())
            elif u < 0.32:  # another size
                y, x = rng.integers(0, H), rng.integers(0, W)
                seq.append(box(y, y + rng.integers(1, 9), x, x + rng.integers(1, 12), H + 1, W))
            else:
                y, x = rng.integers(0, H - 2), rng.integers(0, W - 2)
                seq.append(box(y, y + rng.integers(1, 12), x, x + rng.integers(1, 15)))
        seqs.append(seq)
    return seqs


def test_vectorized_iou_equals_the_loop_on_random_data(rle_impl):
    rng = np.random.default_rng(0)
    for _ in range(150):
        d = _random_sequences(rng, int(rng.integers(0, 7)))
        g = _random_sequences(rng, int(rng.integers(0, 5)))
        fast, slow = video_iou(d, g), video_iou_loop(d, g)
        assert fast.shape == slow.shape == (len(d), len(g))
        np.testing.assert_array_equal(fast, slow)


def test_vectorized_iou_special_masks(rle_impl):
    # a run wrapping from the bottom of one column to the top of the next (its bounding box
    # spans the full height), overlapping the GT only at the top
    m = np.zeros((H, W), dtype=np.uint8)
    m[15:, 3] = 1
    m[:5, 4] = 1
    wrap, top = rle(m), box(0, 3, 4, 5)
    assert video_iou([[wrap]], [[top]]).tolist() == [[3 / 10]]
    # many frames and masks (pycocotools' area() is called in chunks of 255)
    rng = np.random.default_rng(3)
    d = _random_sequences(rng, 3, 300, 301)
    g = _random_sequences(rng, 2, 290, 291)
    np.testing.assert_array_equal(video_iou(d, g), video_iou_loop(d, g))


def test_intersection_recovery_from_iou_is_exact():
    # what the vectorised IoU relies on: i = round(iou * (a + b) / (1 + iou)) with
    # iou = i / (a + b - i) as pycocotools computes it (double division of integers)
    rng = np.random.default_rng(1)
    a = rng.integers(1, 1 << 24, size=200_000)  # up to 16.7 Mpx frames
    b = rng.integers(1, 1 << 24, size=200_000)
    i = (rng.random(200_000) * np.minimum(a, b)).astype(np.int64)
    i[:1000] = np.minimum(a, b)[:1000]  # containment
    i[1000:2000] = 0
    s = a + b
    iou = i.astype(np.float64) / (s - i).astype(np.float64)
    np.testing.assert_array_equal(np.rint(iou * s / (1.0 + iou)).astype(np.int64), i)


def _random_case(rng, n_videos, n=4):
    """GT (n_videos + 1 videos, the last without annotations) and results, random boxes."""
    anns, results = [], []
    for v in range(1, n_videos + 1):
        for _ in range(int(rng.integers(0, 4))):
            seq = _random_sequences(rng, 1, n, n + 1)[0]
            seq = [s if s and s["size"] == [H, W] else None for s in seq]
            cat = int(rng.integers(1, 4))
            anns.append(gt_ann(len(anns) + 1, v, seq, category_id=cat,
                               iscrowd=int(rng.random() < 0.15),
                               areas=[area(s) * rng.choice([1, 300, 2000]) if s else None
                                      for s in seq]))
        for _ in range(int(rng.integers(0, 12))):
            seq = _random_sequences(rng, 1, n, n + 1)[0]
            results.append(res(v, seq, score=float(rng.choice([0.1, 0.5, rng.random()])),
                               category_id=int(rng.integers(1, 4))))
    return make_gt(anns, videos=list(range(1, n_videos + 2)), n_frames=n, n_categories=3), results


def test_full_metric_vectorized_equals_loop_on_random_data(rle_impl):
    gt, results = _random_case(np.random.default_rng(2), 6)
    a = run(gt, results, strict=False, iou_impl="vectorized")
    b = run(gt, results, strict=False, iou_impl="loop")
    c = run(gt, results, strict=False, exact_ious=True)
    assert a.stats == b.stats == c.stats
    np.testing.assert_array_equal(a.precision, b.precision)
    assert a.ious.keys() == b.ious.keys() == c.ious.keys()
    n_pruned = 0
    for key in a.ious:
        np.testing.assert_array_equal(c.ious[key], b.ious[key])
        # skipped pairs (NaN) are exactly those that cannot reach 0.5
        skipped = np.isnan(a.ious[key])
        assert (b.ious[key][skipped] < 0.5).all()
        np.testing.assert_array_equal(a.ious[key][~skipped], b.ious[key][~skipped])
        n_pruned += skipped.sum()
    assert n_pruned > 0
    assert set(a.per_category_ap()) == {"cat1", "cat2", "cat3"}


def test_two_workers_give_the_same_numbers(rle_impl):
    # enough videos that the per-video work is really split over two forked processes
    gt, results = _random_case(np.random.default_rng(5), 3 * Y.metric._MIN_VIDEOS_PER_WORKER)
    one = run(gt, results, strict=False)
    two = run(gt, results, strict=False, workers=2)
    assert one.stats == two.stats
    np.testing.assert_array_equal(one.precision, two.precision)
    np.testing.assert_array_equal(one.recall, two.recall)
    assert one.ious.keys() == two.ious.keys()
    for key in one.ious:
        np.testing.assert_array_equal(one.ious[key], two.ious[key])


# ------------------------------------------------------------------------------------------
# table and CLI
# ------------------------------------------------------------------------------------------
def test_format_table():
    stats = {k: 0.5 for k in STAT_KEYS}
    stats["APl"] = -1.0
    text = format_table(stats, {"person": 0.25, "giant_panda": -1.0})
    assert "AP50" in text and "50.00" in text and "person" in text and "25.00" in text
    assert "AR100" not in text


def _write_case(tmp_path):
    gt = make_gt([gt_ann(1, 1, [A, A, A]), gt_ann(2, 2, [B, B, None])], videos=[1, 2])
    results = [res(1, [A, A, None], 0.9), res(2, [C, C, C], 0.4), res(1, [B, B, None], 0.8, 2)]
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(gt))
    res_path.write_text(json.dumps(results))
    return gt_path, res_path


def test_cli_json_prints_exactly_the_11_keys(tmp_path, capsys):
    gt_path, res_path = _write_case(tmp_path)
    assert main(["--gt", str(gt_path), "--results", str(res_path), "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    stats = json.loads(out[0])
    assert list(stats) == list(STAT_KEYS)
    assert all(v == -1 or 0 <= v <= 1 for v in stats.values())
    assert stats == evaluate_ytvis(str(gt_path), str(res_path))


def test_cli_table(tmp_path, capsys):
    gt_path, res_path = _write_case(tmp_path)
    assert main(["--gt", str(gt_path), "--results", str(res_path), "--per-category"]) == 0
    out = capsys.readouterr().out
    assert "AP75" in out and "cat2" in out


def test_cli_errors_name_the_file(tmp_path, capsys):
    gt_path, res_path = _write_case(tmp_path)
    bad = tmp_path / "broken_results.json"
    bad.write_text('[{"video_id": 1,')
    assert main(["--gt", str(gt_path), "--results", str(bad)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken_results.json" in err[0]
    missing = tmp_path / "nowhere.json"
    assert main(["--gt", str(missing), "--results", str(res_path)]) != 0
    assert "nowhere.json" in capsys.readouterr().err
    # a results file given as ground truth
    assert main(["--gt", str(res_path), "--results", str(res_path)]) != 0
    err = capsys.readouterr().err
    assert "results.json" in err and "results file" in err
    other = tmp_path / "other_set.json"
    other.write_text(json.dumps([res(99, [A, A, A])]))
    assert main(["--gt", str(gt_path), "--results", str(other), "--json"]) != 0
    captured = capsys.readouterr()
    assert captured.out == "" and "other_set.json" in captured.err and "99" in captured.err


def test_metric_package_needs_neither_torch_nor_detectron2():
    # torch and detectron2 made unimportable: the metric package must still import
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['detectron2'] = None\n"
        "import masktrack_d2.evaluation.ytvis_eval as Y\n"
        "assert Y.evaluate_ytvis and Y.main\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    # both installed: importing the metric must not load them (they cost seconds)
    code = (
        "import sys\n"
        "from masktrack_d2.evaluation import evaluate_ytvis, YTVISEval\n"
        "import masktrack_d2.evaluation.ytvis_eval.cli\n"
        "loaded = {'torch', 'detectron2'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_runs_where_torch_and_detectron2_cannot_be_imported(tmp_path):
    """``python -m masktrack_d2.evaluation.ytvis_eval`` in a process where importing torch or
    detectron2 fails: the right numbers, nothing on stderr (no warning, no error)."""
    gt, results = _random_case(np.random.default_rng(7), 8)
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(gt, default=lambda x: x.item()))  # numpy ints in 'areas'

    res_path.write_text(json.dumps(results))
    code = (
        "import runpy, sys\n"
        "sys.modules['torch'] = None\n"  # import torch -> ImportError
        "sys.modules['detectron2'] = None\n"
        "sys.argv = ['ytvis_eval', '--gt', sys.argv[1], '--results', sys.argv[2], '--json',\n"
        "            '--lenient']\n"
        "runpy.run_module('masktrack_d2.evaluation.ytvis_eval', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(gt_path), str(res_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    expected = run(gt, results, strict=False, iou_impl="loop").stats
    assert json.loads(proc.stdout) == {k: expected[k] for k in STAT_KEYS}
    assert "Warning" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_cli_as_module_subprocess(tmp_path):
    gt_path, res_path = _write_case(tmp_path)
    cmd = [sys.executable, "-m", "masktrack_d2.evaluation.ytvis_eval", "--gt", str(gt_path),
           "--results", str(res_path), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert list(json.loads(out)) == list(STAT_KEYS)
    bad = tmp_path / "bad.json"
    bad.write_text("nope")
    proc = subprocess.run(cmd[:-2] + [str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "bad.json" in proc.stderr


def test_video_tracks_groups_gt_and_predictions_per_video():
    gt = make_gt([gt_ann(1, 1, [A, None, B], category_id=2), gt_ann(2, 1, [B, B, B]),
                  gt_ann(3, 2, [C, C, None])], videos=[1, 2, 3])
    results = [res(2, [C, None, C], 0.3), res(1, [A, A, A], 0.9, 2), res(1, [B, B, None], 0.5)]
    videos = Y.video_tracks(gt, results)
    assert list(videos) == [1, 2, 3]
    v1 = videos[1]
    assert (v1.height, v1.width, v1.length) == (H, W, 3)
    assert [t.id for t in v1.gt] == [2, 1]  # categories ascending, then json order
    assert [p["score"] for p in v1.predictions] == [0.9, 0.5]  # file order
    assert videos[3].gt == [] and videos[3].predictions == []
    masks = Y.decode_track(v1.gt[1].rles, v1.height, v1.width)
    assert masks.shape == (3, H, W) and masks[1].sum() == 0
    assert masks[0].sum() == 30 and (masks[2] == mask_util.decode(B)).all()
