"""The synthetic generator's hard mode: six shapes under non-contiguous ids, textures, random
colours, a panning camera, consistent masks, and the same guaranteed situations."""
import json
import os

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from masktrack_d2.data.datasets import load_ytvis_json, register_ytvis_instances
from masktrack_d2.data.datasets.builtin import SYNTHETIC_HARD_CATEGORIES, ytvis_builtin_metadata
from masktrack_d2.data.synthetic import MIN_VISIBLE_AREA, generate_synthetic_ytvis, main

NUM_VIDEOS = 12


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("synthetic_hard"))
    summary = generate_synthetic_ytvis(out, num_videos=NUM_VIDEOS, mode="hard")
    with open(summary["all_json"]) as f:
        data = json.load(f)
    return summary, data


def _decode(segm):
    return mask_util.decode(mask_util.frPyObjects(segm, *segm["size"])).astype(bool)


def _frame(summary, video, t):
    return cv2.imread(os.path.join(summary["image_root"], video["file_names"][t]))


def test_format_size_and_non_contiguous_ids(hard):
    summary, data = hard
    ids = [c["id"] for c in data["categories"]]
    assert data["categories"] == SYNTHETIC_HARD_CATEGORIES
    assert len(ids) == 6 and ids != list(range(1, 7)) and len(set(ids)) == 6
    assert data["info"]["params"]["mode"] == "hard"
    for video in data["videos"]:
        assert (video["height"], video["width"], video["length"]) == (360, 640, 10)
        assert _frame(summary, video, 0).shape == (360, 640, 3)
    used = {a["category_id"] for a in data["annotations"]}
    assert used <= set(ids) and len(used) >= 4
    assert {len([a for a in data["annotations"] if a["video_id"] == v["id"]])
            for v in data["videos"]} <= {3, 4, 5}


def test_masks_boxes_areas_consistent_and_disjoint(hard):
    _, data = hard
    by_video = {}
    for ann in data["annotations"]:
        by_video.setdefault(ann["video_id"], []).append(ann)
        for s, b, a in zip(ann["segmentations"], ann["bboxes"], ann["areas"]):
            assert (s is None) == (b is None) == (a is None)
            if s is not None:
                rle = mask_util.frPyObjects(s, *s["size"])
                assert s["size"] == [360, 640]
                assert mask_util.area(rle) == a >= MIN_VISIBLE_AREA
                assert mask_util.toBbox(rle).tolist() == b
        assert any(s is not None for s in ann["segmentations"])
    for anns in by_video.values():
        for t in range(10):
            masks = [_decode(a["segmentations"][t]) for a in anns if a["segmentations"][t]]
            assert np.sum(masks, axis=0).max() <= 1


def test_same_category_crossings_and_entering(hard):
    summary, data = hard
    info = data["info"]
    anns = {a["id"]: a for a in data["annotations"]}
    assert info["crossing_video_ids"] == list(range(1, NUM_VIDEOS + 1, 2))
    for pair in info["crossing_pairs"]:
        a, b = (anns[i] for i in pair["instance_ids"])
        assert (a["category_id"] == b["category_id"]) == pair["same_category"]
        assert pair["frames"]
    for i in info["enter_leave_instance_ids"]:
        assert any(s is None for s in anns[i]["segmentations"])
    for key in ("train_json", "val_json"):
        with open(summary[key]) as f:
            assert {v["id"] for v in json.load(f)["videos"]} & set(info["crossing_video_ids"])


def test_colour_does_not_tell_the_category(hard):
    """Objects are textured, and a nearest-centroid rule on colour names their category
    barely better than chance (the default mode's hue families would give ~100%)."""
    summary, data = hard
    videos = {v["id"]: v for v in data["videos"]}
    colours, labels = [], []
    for a in data["annotations"]:
        t = max(range(10), key=lambda i: a["areas"][i] or 0)
        image = _frame(summary, videos[a["video_id"]], t).astype(float)
        pixels = image[_decode(a["segmentations"][t])]
        if len(pixels) < 300:
            continue
        assert pixels.std(axis=0).max() > 8, a["id"]  # a texture, not a flat fill
        colours.append(pixels.mean(axis=0))
        labels.append(a["category_id"])
    colours, labels = np.array(colours), np.array(labels)
    cats = sorted(set(labels))
    centroids = np.array([colours[labels == c].mean(axis=0) for c in cats])
    nearest = np.array(cats)[np.argmin(
        ((colours[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]
    assert len(labels) >= 30
    assert (nearest == labels).mean() < 0.6


def test_camera_pans(hard):
    """The background moves between frames: phase correlation of consecutive frames finds
    a shift of about 1-3 px per frame, the same direction through the video."""
    summary, data = hard
    for video in data["videos"][:4]:
        frames = [cv2.cvtColor(_frame(summary, video, t), cv2.COLOR_BGR2GRAY).astype(np.float32)
                  for t in range(10)]
        shifts = np.array([cv2.phaseCorrelate(frames[t], frames[t + 1])[0] for t in range(9)])
        speed = np.linalg.norm(shifts, axis=1)
        assert np.median(speed) > 0.7 and np.median(speed) < 4.0, shifts
        total = shifts.sum(axis=0)
        assert np.linalg.norm(total) > 0.5 * speed.sum(), shifts


def test_registered_with_contiguous_labels(hard):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    summary, data = hard
    meta = ytvis_builtin_metadata("ytvis_synthetic_hard")
    assert meta["thing_classes"] == [c["name"] for c in SYNTHETIC_HARD_CATEGORIES]
    name = "test_synthetic_hard_registered"
    register_ytvis_instances(name, meta, summary["train_json"], summary["image_root"])
    try:
        records = DatasetCatalog.get(name)
        labels = {obj["category_id"] for r in records for f in r["annotations"] for obj in f}
        assert labels <= set(range(6)) and max(labels) >= 3
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    assert "ytvis_synthetic_hard_train" in DatasetCatalog.list()
    assert "ytvis_synthetic_hard_val" in DatasetCatalog.list()
    records = load_ytvis_json(summary["val_json"], summary["image_root"], check_files="all")
    assert records and all(r["height"] == 360 for r in records)


def test_hard_is_deterministic_and_cli_uses_its_folder(hard, tmp_path, monkeypatch, capsys):
    summary, _ = hard
    monkeypatch.setenv("DETECTRON2_DATASETS", str(tmp_path))
    again = main(["--mode", "hard", "--num-videos", str(NUM_VIDEOS)])
    assert again["output_dir"] == os.path.join(str(tmp_path), "synthetic_hard")
    for key in ("all_json", "train_json", "val_json"):
        with open(summary[key], "rb") as f1, open(again[key], "rb") as f2:
            assert f1.read() == f2.read()
    rel = "video_0003/00020.jpg"
    with open(os.path.join(summary["image_root"], rel), "rb") as f1, \
            open(os.path.join(again["image_root"], rel), "rb") as f2:
        assert f1.read() == f2.read()


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        generate_synthetic_ytvis(str(tmp_path), mode="harder")


def test_second_family_draws_from_its_own_ranges(hard, tmp_path):
    """Mode hard_b: the same six shapes and guarantees, 640x480 frames, 4-7 objects a video,
    smaller objects than the hard family (relative to the frame)."""
    from masktrack_d2.data.synthetic.hard_mode import HARD_FAMILIES

    summary_b = generate_synthetic_ytvis(str(tmp_path / "b"), num_videos=6, seed=11,
                                         mode="hard_b")
    with open(summary_b["all_json"]) as f:
        data_b = json.load(f)
    assert data_b["categories"] == SYNTHETIC_HARD_CATEGORIES
    assert data_b["info"]["params"]["mode"] == "hard_b"
    low, high = HARD_FAMILIES["hard_b"].num_instances
    for video in data_b["videos"]:
        assert (video["height"], video["width"]) == (480, 640)
        assert _frame(summary_b, video, 0).shape == (480, 640, 3)
        n = len([a for a in data_b["annotations"] if a["video_id"] == video["id"]])
        assert low <= n < high
    assert data_b["info"]["crossing_video_ids"]

    def mean_area_fraction(data):
        areas = [a for ann in data["annotations"] for a in ann["areas"] if a]
        v = data["videos"][0]
        return sum(areas) / len(areas) / (v["height"] * v["width"])

    assert mean_area_fraction(data_b) < 0.8 * mean_area_fraction(hard[1])
