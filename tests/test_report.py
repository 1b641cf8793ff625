"""The evaluation report (masktrack_d2.evaluation.report): its numbers are the metric's, its
files are complete, bad input is named, and --eval-only writes it with TEST.REPORT."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_util

from masktrack_d2.evaluation.report import compute_report
from masktrack_d2.evaluation.ytvis_eval import YTVISEval, track_metrics, video_tracks
from masktrack_d2.evaluation.ytvis_eval.error_analysis import ErrorAnalysis
from masktrack_d2.evaluation.ytvis_eval.track_metrics import identity_switches

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H, W, F = 24, 32, 6


def rle(mask):
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [H, W], "counts": r["counts"].decode("ascii")}


def box(y, x, h=8, w=8):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y:y + h, x:x + w] = 1
    return rle(m)


def case():
    """Video 1: two objects crossing, the prediction swaps identity at frame 3 (ID switch);
    video 2: perfect; video 3: a missed object and a false positive."""
    left = [box(2, 2 + 4 * f) for f in range(F)]
    right = [box(14, 24 - 4 * f) for f in range(F)]
    anns = [(1, 1, left), (1, 1, right), (2, 1, left), (3, 2, right)]
    gt = {
        "videos": [{"id": v, "height": H, "width": W, "length": F,
                    "file_names": [f"vid{v}/{f:05d}.jpg" for f in range(F)]} for v in (1, 2, 3)],
        "annotations": [{"id": i + 1, "video_id": v, "category_id": c, "iscrowd": 0,
                         "segmentations": s, "bboxes": None,
                         "areas": [int(mask_util.area(x)) for x in s]}
                        for i, (v, c, s) in enumerate(anns)],
        "categories": [{"id": 1, "name": "thing"}, {"id": 2, "name": "<b>other</b>"}],
    }
    results = [
        {"video_id": 1, "category_id": 1, "score": 0.9, "segmentations": left[:3] + right[3:]},
        {"video_id": 1, "category_id": 1, "score": 0.8, "segmentations": right[:3] + left[3:]},
        {"video_id": 2, "category_id": 1, "score": 0.95, "segmentations": left},
        {"video_id": 3, "category_id": 2, "score": 0.7, "segmentations": [box(0, 0)] * F},
    ]
    return gt, results


def write_frames(root, gt):
    rng = np.random.default_rng(0)
    for v in gt["videos"]:
        for name in v["file_names"]:
            path = os.path.join(root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            cv2.imwrite(path, rng.integers(0, 255, (v["height"], v["width"], 3), dtype=np.uint8))


def test_numbers_are_the_metrics():
    gt, results = case()
    report = compute_report(gt, results)
    ev = YTVISEval(gt, results)
    ev.evaluate()
    ev.accumulate()
    stats = ev.summarize()
    assert report["ap"] == {k: stats[k] for k in report["ap"]}
    track = track_metrics(gt, results)
    for k in ("HOTA", "DetA", "AssA", "IDSW", "CLR_FN", "CLR_FP"):
        assert report["track"][k] == track[k]
    per_cat = {c["name"]: c for c in report["per_category"]}
    assert per_cat["thing"]["HOTA"] == track["per_category"]["thing"]["HOTA"]
    assert per_cat["thing"]["AP"] == ev.per_category_ap()["thing"]
    assert per_cat["thing"]["n_gt"] == 3 and per_cat["<b>other</b>"]["n_results"] == 1
    b = ErrorAnalysis(ev).breakdown()
    assert report["errors"]["main"] == b.main and report["errors"]["counts"] == b.counts
    assert report["errors"]["base_ap50"] == pytest.approx(100 * stats["AP50"], abs=1e-9)
    # the mean precision-recall curve at 0.5 integrates to AP50
    assert np.mean(report["pr"]["curves"]["0.5"]["mean"]) == pytest.approx(stats["AP50"])
    assert report["hota_alpha"]["HOTA"][0] >= report["hota_alpha"]["HOTA"][-1]
    # videos worst first: the missed one, then the swapped one, then the perfect one
    assert [v["video_id"] for v in report["videos"]] == [3, 1, 2]
    assert [v["IDSW"] for v in report["videos"]] == [0, 2, 0]
    assert report["videos"][2]["HOTA"] == pytest.approx(1.0)


def test_identity_switches_name_the_frame_gt_and_prediction():
    gt, results = case()
    video = video_tracks(gt, results)[1]
    # both GT tracks change prediction at frame 3
    assert sorted(identity_switches(video, [1, 2])) == [(3, 1, 1), (3, 2, 0)]
    assert identity_switches(video_tracks(gt, results)[2], [1, 2]) == []


def test_cli_writes_a_complete_offline_report(tmp_path):
    gt, results = case()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "results.json").write_text(json.dumps(results))
    write_frames(tmp_path / "frames", gt)
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "masktrack_d2.evaluation.report", "--gt", str(tmp_path / "gt.json"),
         "--results", str(tmp_path / "results.json"), "--image-root", str(tmp_path / "frames"),
         "--out", str(out), "--strips", "2"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    page = (out / "index.html").read_text()
    report = json.loads((out / "report.json").read_text())
    # every picture the page shows exists, and every figure, thumbnail and strip is shown
    shown = set(__import__("re").findall(r'<img[^>]*src="([^"]+)"', page))
    assert shown and all((out / p).is_file() for p in shown)
    wanted = ({os.path.join("figures", f) for f in os.listdir(out / "figures")}
              | {v["thumbnail"] for v in report["videos"]} | {s["png"] for s in report["strips"]})
    assert wanted <= shown
    assert [s["video_id"] for s in report["strips"]] == [3, 1]
    assert report["strips"][1]["id_switch_frames"] == [3]
    assert "http://" not in page and "https://" not in page
    assert "<b>other</b>" not in page and "&lt;b&gt;other&lt;/b&gt;" in page
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_bad_input_is_named(tmp_path):
    gt, results = case()
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    results[0]["video_id"] = 99
    (tmp_path / "results.json").write_text(json.dumps(results))
    run = lambda *extra: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "masktrack_d2.evaluation.report", "--gt",
         str(tmp_path / "gt.json"), "--out", str(tmp_path / "out"), *extra],
        capture_output=True, text=True, cwd=ROOT)
    proc = run("--results", str(tmp_path / "results.json"))
    assert proc.returncode == 1
    assert "results.json" in proc.stderr and "99" in proc.stderr
    assert not (tmp_path / "out" / "index.html").exists()
    # a frame missing under --image-root: the video, frame and file are named
    results[0]["video_id"] = 1
    (tmp_path / "results.json").write_text(json.dumps(results))
    write_frames(tmp_path / "frames", gt)
    os.remove(tmp_path / "frames" / "vid3" / "00000.jpg")
    proc = run("--results", str(tmp_path / "results.json"), "--image-root",
               str(tmp_path / "frames"))
    assert proc.returncode == 1
    assert "video 3" in proc.stderr and "vid3/00000.jpg" in proc.stderr, proc.stderr


def test_eval_only_writes_the_report_with_test_report(tmp_path):
    """YTVISEvaluator(report=True), as TEST.REPORT builds it, writes report/index.html beside
    results.json, with strips from the data set's image_root."""
    import _tiny
    from detectron2.data import DatasetCatalog

    from masktrack_d2.engine.trainer import MaskTrackTrainer
    from masktrack_d2.evaluation.ytvis_eval import YTVISGroundTruth

    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=3, num_frames=3)
    name = _tiny.register(summary["all_json"], summary["image_root"], prefix="report")
    DatasetCatalog.get(name)
    cfg = _tiny.tiny_cfg(test=[name], output_dir=tmp_path / "out", opts=["TEST.REPORT", True])
    ev = MaskTrackTrainer.build_evaluator(cfg, name)
    with open(summary["all_json"]) as f:
        gt = YTVISGroundTruth(json.load(f))
    cats = sorted(gt.category_ids)
    outputs = [{"video_id": vid, "tracks": [
        {"category_id": cats.index(cat), "score": 0.9,
         "segmentations": [None if r is None else dict(r, counts=r["counts"] if isinstance(
             r["counts"], str) else r["counts"].decode()) for r in t.rles]}
        for (v, cat), ts in gt.tracks.items() if v == vid for t in ts]} for vid in gt.video_ids]
    ev.process([], outputs)
    res = ev.evaluate()
    report_dir = tmp_path / "out" / "inference" / name / "report"
    report = json.loads((report_dir / "report.json").read_text())
    assert report["ap"]["AP"] == pytest.approx(res["segm"]["AP"] / 100)
    assert (report_dir / "index.html").is_file() and report["strips"]
    assert all((report_dir / s["png"]).is_file() for s in report["strips"])
