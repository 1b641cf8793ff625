"""One set of format rules for the training loader and the metric's ground truth.

Each corruption of a valid annotation file must be refused by both readers, with an error that
names the file, the annotation (or video) and the field; ``--lenient`` / ``strict=False`` still
scores it as the official evaluator reads it.
"""
import copy
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from pycocotools import mask as mask_util

from masktrack_d2.data.datasets.ytvis import YTVISFormatError, load_ytvis_json
from masktrack_d2.evaluation.ytvis_eval import GroundTruthFormatError, evaluate_ytvis

H, W, T = 8, 10, 3


def _rle(y0, y1, x0, x1):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    r = mask_util.encode(np.asfortranarray(m))
    return {"size": [H, W], "counts": r["counts"].decode("ascii")}


def _valid():
    videos = [{"id": v, "height": H, "width": W, "length": T, "name": f"v{v}",
               "file_names": [f"v{v}/{i:05d}.jpg" for i in range(T)]} for v in (1, 2)]
    anns = []
    for i, (v, c, box) in enumerate([(1, 1, (0, 4, 0, 5)), (1, 2, (4, 8, 5, 10)),
                                     (2, 1, (1, 5, 1, 6)), (2, 3, (2, 6, 4, 9))]):
        segms = [_rle(*box)] * T
        anns.append({"id": i + 1, "video_id": v, "category_id": c, "iscrowd": 0,
                     "segmentations": segms, "areas": [20.0] * T,
                     "bboxes": [[box[2], box[0], box[3] - box[2], box[1] - box[0]]] * T})
    cats = [{"id": c, "name": f"cat{c}"} for c in (1, 2, 3)]
    return {"videos": videos, "annotations": anns, "categories": cats}


def _results(gt):
    """A result per GT track (its masks, score by id), plus a miss-labelled one."""
    out = [{"video_id": a["video_id"], "category_id": a["category_id"], "score": 1 - a["id"] / 10,
            "segmentations": a["segmentations"]} for a in gt["annotations"][:4]]
    out.append({"video_id": 1, "category_id": 3, "score": 0.3,
                "segmentations": [_rle(0, 3, 0, 3)] * T})
    return out


def _corrupt(name):
    gt = _valid()
    ann = gt["annotations"][0]
    if name == "unknown_video":
        ann["video_id"] = 9
    elif name == "unknown_category":
        ann["category_id"] = 7
    elif name == "iscrowd_2":
        ann["iscrowd"] = 2
    elif name == "nan_area":
        ann["areas"][1] = math.nan
    elif name == "duplicate_video":
        gt["videos"][1]["id"] = 1
    elif name == "duplicate_annotation":
        ann["id"] = 2
    elif name == "short_segmentations":
        ann["segmentations"] = ann["segmentations"][:2]
    elif name == "bad_box":
        ann["bboxes"][0] = [1, 2, 3]
    elif name == "rle_sum":
        ann["segmentations"][2] = {"size": [H, W], "counts": "0d05\\O"}  # runs 0, 20, 5, 0
    return gt


# (corruption, field the error names, does the error name an annotation)
CASES = [
    ("unknown_video", "video_id", True),
    ("unknown_category", "category_id", True),
    ("iscrowd_2", "iscrowd", True),
    ("nan_area", "areas", True),
    ("duplicate_video", "id", False),
    ("duplicate_annotation", "id", True),
    ("short_segmentations", "segmentations", True),
    ("bad_box", "bboxes", True),
    ("rle_sum", "segmentations", True),
]


def _write(tmp_path, gt, name="gt.json"):
    path = tmp_path / name
    path.write_text(json.dumps(gt, allow_nan=True))
    return str(path)


@pytest.mark.parametrize("name, field, names_annotation", CASES, ids=[c[0] for c in CASES])
def test_loader_and_metric_refuse_alike(tmp_path, name, field, names_annotation):
    path = _write(tmp_path, _corrupt(name))
    with pytest.raises(YTVISFormatError) as loader:
        load_ytvis_json(path, str(tmp_path), check_files="none")
    with pytest.raises(GroundTruthFormatError) as metric:
        evaluate_ytvis(path, _results(_valid()))
    for e in (loader.value, metric.value):
        msg = str(e)
        assert msg.startswith(path + ": ") and "\n" not in msg, msg
        assert f"field '{field}'" in msg, msg
        assert ("annotation id=" in msg) == names_annotation, msg
    # the same rule, so the same words after the file name and before the metric's hint
    assert str(metric.value).startswith(str(loader.value).split(" (known")[0].split(
        "frame 2: ")[0])


def test_the_valid_file_passes_both(tmp_path):
    path = _write(tmp_path, _valid())
    records = load_ytvis_json(path, str(tmp_path), check_files="none")
    assert sum(len(f) for r in records for f in r["annotations"]) == 4 * T
    assert evaluate_ytvis(path, _results(_valid()))["AP"] > 0.5


def test_pycocotools_own_encoding_is_accepted_by_both(tmp_path):
    """runs [0, 2, 2, 2, 14, 0] encode as '0220<N' (an empty last run of ones): a valid 4x5
    mask for the loader and the metric, whichever implementation of the RLE rule runs."""
    gt = {"videos": [{"id": 1, "height": 4, "width": 5, "length": 1,
                      "file_names": ["v/0.jpg"]}],
          "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0,
                           "areas": [4], "segmentations": [{"size": [4, 5], "counts": "0220<N"}]}],
          "categories": [{"id": 1, "name": "a"}]}
    results = [{"video_id": 1, "category_id": 1, "score": 0.9,
                "segmentations": [{"size": [4, 5], "counts": "0220<N"}]}]
    path = _write(tmp_path, gt)
    for core in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", "import sys, json; from masktrack_d2.data.datasets.ytvis "
             "import load_ytvis_json; from masktrack_d2.evaluation.ytvis_eval import "
             "evaluate_ytvis; r = load_ytvis_json(sys.argv[1], '.', check_files='none'); "
             "print(len(r[0]['annotations'][0]), evaluate_ytvis(sys.argv[1], json.loads("
             "sys.argv[2]))['AP'])", path, json.dumps(results)],
            env={**__import__("os").environ, "MASKTRACK_D2_RLE_CORE": core},
            capture_output=True, text=True, check=True)
        count, ap = out.stdout.split()
        assert int(count) == 1 and float(ap) == pytest.approx(1.0, abs=1e-12), (core, out)


def _without(gt, ann_index):
    gt = copy.deepcopy(gt)
    del gt["annotations"][ann_index]
    return gt


def test_lenient_scores_as_the_official_evaluator_reads_the_file():
    """What the official loader does with each corruption, checked on its numbers: an
    annotation of an unknown video or category is left out, and any non-zero iscrowd makes a
    crowd (ignored) track."""
    results = _results(_valid())
    dropped = evaluate_ytvis(_without(_valid(), 0), results)
    for name in ("unknown_video", "unknown_category"):
        assert evaluate_ytvis(_corrupt(name), results, strict=False) == dropped, name
    crowd = _valid()
    crowd["annotations"][0]["iscrowd"] = 1
    assert evaluate_ytvis(_corrupt("iscrowd_2"), results, strict=False) == \
        evaluate_ytvis(crowd, results)
    for name in ("nan_area", "duplicate_video", "duplicate_annotation"):
        # with two videos of id 1, the official index keeps the last one: results for 1 only
        kept = [r for r in results if r["video_id"] == 1] if name == "duplicate_video" else results
        stats = evaluate_ytvis(_corrupt(name), kept, strict=False)
        assert all(math.isfinite(v) for v in stats.values()), name
    assert dropped != evaluate_ytvis(_valid(), results)  # the cases above are not vacuous


def test_cli_refuses_and_lenient_scores(tmp_path):
    gt = _write(tmp_path, _corrupt("iscrowd_2"))
    res = tmp_path / "res.json"
    res.write_text(json.dumps(_results(_valid())))
    cmd = [sys.executable, "-m", "masktrack_d2.evaluation.ytvis_eval", "--gt", gt,
           "--results", str(res), "--json"]
    refused = subprocess.run(cmd, capture_output=True, text=True)
    assert refused.returncode != 0
    assert f"{gt}: video id=1 ('v1'): annotation id=1: field 'iscrowd'" in refused.stderr
    scored = subprocess.run(cmd + ["--lenient"], capture_output=True, text=True, check=True)
    assert json.loads(scored.stdout.strip().splitlines()[-1])["AP"] >= 0
