"""The synthetic YouTube-VIS-format data set: format, determinism and required situations."""
import json
import os
import time

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from masktrack_d2.data.datasets import load_ytvis_json, register_ytvis_instances
from masktrack_d2.data.datasets.builtin import ytvis_builtin_metadata
from masktrack_d2.data.synthetic import MIN_VISIBLE_AREA, generate_synthetic_ytvis, main


PER_FRAME = ("segmentations", "bboxes", "areas")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synthetic"))
    start = time.perf_counter()
    summary = generate_synthetic_ytvis(out)
    seconds = time.perf_counter() - start
    with open(summary["all_json"]) as f:
        data = json.load(f)
    return summary, data, seconds


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _rle(segm):
    return mask_util.frPyObjects(segm, *segm["size"])


def test_defaults_are_fast_and_counted(generated):
    summary, data, seconds = generated
    assert seconds < 3.0
    assert summary["num_videos"] == len(data["videos"]) == 24
    assert summary["num_train_videos"] + summary["num_val_videos"] == 24
    assert summary["num_val_videos"] == 6


def test_official_2019_format(generated):
    _, data, _ = generated
    assert data["categories"] == [
        {"id": 1, "name": "circle", "supercategory": "shape"},
        {"id": 2, "name": "square", "supercategory": "shape"},
        {"id": 3, "name": "triangle", "supercategory": "shape"},
    ]
    for video in data["videos"]:
        assert set(video) == {"id", "width", "height", "length", "file_names"}
        assert (video["height"], video["width"], video["length"]) == (192, 320, 10)
        name = os.path.dirname(video["file_names"][0])
        assert video["file_names"] == ["{}/{:05d}.jpg".format(name, 5 * t) for t in range(10)]
    per_video = {}
    for ann in data["annotations"]:
        assert set(ann) == {"id", "video_id", "category_id", "iscrowd"} | set(PER_FRAME)
        assert ann["iscrowd"] == 0 and ann["category_id"] in (1, 2, 3)
        per_video[ann["video_id"]] = per_video.get(ann["video_id"], 0) + 1
        for key in PER_FRAME:
            assert len(ann[key]) == 10
        for s, b, a in zip(ann["segmentations"], ann["bboxes"], ann["areas"]):
            assert (s is None) == (b is None) == (a is None)
            if s is not None:
                assert isinstance(s["counts"], list) and s["size"] == [192, 320]
        assert any(s is not None for s in ann["segmentations"])
    assert set(per_video.values()) <= {2, 3, 4} and len(per_video) == 24


def test_masks_match_areas_and_boxes(generated):
    _, data, _ = generated
    for ann in data["annotations"]:
        for s, b, a in zip(ann["segmentations"], ann["bboxes"], ann["areas"]):
            if s is None:
                continue
            rle = _rle(s)
            assert mask_util.area(rle) == a >= MIN_VISIBLE_AREA
            assert mask_util.toBbox(rle).tolist() == b
            assert int(mask_util.decode(rle).sum()) == a


def test_visible_masks_do_not_overlap(generated):
    _, data, _ = generated
    by_video = {}
    for ann in data["annotations"]:
        by_video.setdefault(ann["video_id"], []).append(ann)
    for anns in list(by_video.values())[:6]:
        for t in range(10):
            segms = [a["segmentations"][t] for a in anns if a["segmentations"][t]]
            masks = [mask_util.decode(_rle(s)) for s in segms]
            if masks:
                assert np.sum(masks, axis=0).max() <= 1


def _boxes_intersect(a, b):
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_y = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap_x > 0 and overlap_y > 0


def test_same_category_pairs_really_cross(generated):
    summary, data, _ = generated
    info = data["info"]
    anns = {a["id"]: a for a in data["annotations"]}
    assert info["crossing_video_ids"] == summary["crossing_video_ids"] == list(range(1, 25, 2))
    assert info["params"]["seed"] == 0 and info["params"]["num_videos"] == 24
    for pair in info["crossing_pairs"]:
        a, b = (anns[i] for i in pair["instance_ids"])
        assert a["video_id"] == b["video_id"] == pair["video_id"]
        assert (a["category_id"] == b["category_id"]) == pair["same_category"]
        assert pair["same_category"] == (pair["video_id"] in info["crossing_video_ids"])
        assert pair["frames"]
        for t in pair["frames"]:
            assert a["bboxes"][t] and b["bboxes"][t]
            assert _boxes_intersect(a["bboxes"][t], b["bboxes"][t])


def test_both_parts_hold_crossing_videos(generated):
    summary, data, _ = generated
    crossing = set(data["info"]["crossing_video_ids"])
    for key in ("train_json", "val_json"):
        with open(summary[key]) as f:
            part = json.load(f)
        assert {v["id"] for v in part["videos"]} & crossing


def test_instances_enter_or_leave(generated):
    _, data, _ = generated
    ids = data["info"]["enter_leave_instance_ids"]
    assert ids
    anns = {a["id"]: a for a in data["annotations"]}
    for i in ids:
        segms = anns[i]["segmentations"]
        assert any(s is None for s in segms) and any(s is not None for s in segms)
    # partly outside: a clipped mask touching the border
    touching = [
        b for a in data["annotations"] for b in a["bboxes"]
        if b and (b[0] == 0 or b[1] == 0 or b[0] + b[2] == 320 or b[1] + b[3] == 192)
    ]
    assert touching


def test_instance_colours_are_distinct_and_constant(generated):
    summary, data, _ = generated
    anns = [a for a in data["annotations"] if a["video_id"] == 1]
    video = data["videos"][0]
    colours = {}
    for t in (0, 9):
        path = os.path.join(summary["image_root"], video["file_names"][t])
        image = cv2.imread(path).astype(float)
        background = np.ones(image.shape[:2], bool)
        for a in anns:
            if a["segmentations"][t] is None:
                continue
            mask = mask_util.decode(_rle(a["segmentations"][t])).astype(bool)
            background &= ~mask
            colours.setdefault(a["id"], []).append(np.median(image[mask], axis=0))
        assert image[background].mean() < 60
    for a_id, cs in colours.items():
        assert max(cs[0]) > 150
        assert all(np.abs(c - cs[0]).max() < 25 for c in cs)
    means = [cs[0] for cs in colours.values()]
    for i in range(len(means)):
        for j in range(i):
            assert np.abs(means[i] - means[j]).max() > 40


def test_loads_through_load_ytvis_json(generated, tmp_path):
    summary, data, _ = generated
    for key in ("all_json", "train_json", "val_json"):
        records = load_ytvis_json(summary[key], summary["image_root"], check_files="all")
        for r in records:
            assert len(r["annotations"]) == 10
    records = load_ytvis_json(summary["all_json"], summary["image_root"])
    first = records[0]["annotations"]
    raw = [a for a in data["annotations"] if a["video_id"] == 1]
    assert sum(len(f) for f in first) == sum(s is not None for a in raw for s in a["segmentations"])
    # the registered synthetic categories agree with the generated json
    from detectron2.data import DatasetCatalog, MetadataCatalog

    name = "test_synthetic_registered"
    meta = ytvis_builtin_metadata("ytvis_synthetic")
    register_ytvis_instances(name, meta, summary["val_json"], summary["image_root"])
    try:
        assert len(DatasetCatalog.get(name)) == summary["num_val_videos"]
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def test_same_seed_same_bytes(generated, tmp_path):
    summary, _, _ = generated
    again = generate_synthetic_ytvis(str(tmp_path / "again"))
    for key in ("all_json", "train_json", "val_json"):
        assert _read_bytes(summary[key]) == _read_bytes(again[key])
    for rel in ("video_0001/00000.jpg", "video_0024/00045.jpg"):
        assert _read_bytes(os.path.join(summary["image_root"], rel)) == _read_bytes(
            os.path.join(again["image_root"], rel)
        )


def test_other_seed_differs(generated, tmp_path):
    summary, data, _ = generated
    other = generate_synthetic_ytvis(str(tmp_path / "other"), num_videos=4, seed=1)
    rel = "video_0001/00000.jpg"
    assert _read_bytes(os.path.join(summary["image_root"], rel)) != _read_bytes(
        os.path.join(other["image_root"], rel)
    )
    with open(other["all_json"]) as f:
        other_data = json.load(f)
    first = [a["segmentations"] for a in data["annotations"] if a["video_id"] == 1]
    assert first != [a["segmentations"] for a in other_data["annotations"] if a["video_id"] == 1]


def test_cli(tmp_path, capsys):
    out = str(tmp_path / "cli")
    summary = main(["--output", out, "--num-videos", "3", "--num-frames", "6", "--height", "96",
                    "--width", "160", "--seed", "5", "--val-fraction", "0.3"])
    printed = capsys.readouterr().out
    assert summary["train_json"] in printed and summary["val_json"] in printed
    assert summary["num_val_videos"] == 1 and summary["num_train_videos"] == 2
    assert os.path.isfile(os.path.join(out, "JPEGImages", "video_0003", "00025.jpg"))
    records = load_ytvis_json(summary["val_json"], summary["image_root"], check_files="all")
    assert records[0]["height"] == 96 and records[0]["length"] == 6


def test_category_sets_the_hue_family(generated):
    from masktrack_d2.data.synthetic import CATEGORY_HUES

    summary, data, _ = generated
    for a in data["annotations"][:12]:
        video = next(v for v in data["videos"] if v["id"] == a["video_id"])
        t = next(i for i, s in enumerate(a["segmentations"]) if s is not None)
        image = cv2.imread(os.path.join(summary["image_root"], video["file_names"][t]))
        mask = mask_util.decode(_rle(a["segmentations"][t])).astype(bool)
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[mask]
        hue = np.median(hsv[hsv[:, 1] > 100][:, 0]) / 180.0  # opencv hue is 0..180
        d = abs((hue - CATEGORY_HUES[a["category_id"]] + 0.5) % 1.0 - 0.5)
        assert d < 0.16, (a["id"], a["category_id"], hue)
