"""load_ytvis_json, its errors, registration and the built-in data sets (no real data)."""
import json
import os
import uuid

import numpy as np
import pycocotools.mask as mask_util
import pytest
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode

from masktrack_d2.data.datasets import (
    YTVISFormatError,
    load_ytvis_json,
    register_ytvis_instances,
    ytvis_metadata_from_json,
)
from masktrack_d2.data.datasets.builtin import (
    YTVIS_2019_CATEGORIES,
    YTVIS_2021_CATEGORIES,
    ytvis_builtin_metadata,
)
from masktrack_d2.data.datasets.ytvis import segmentation_to_rle

H, W = 6, 8
RECORD_KEYS = {"video_id", "file_names", "length", "height", "width", "annotations"}
INSTANCE_KEYS = {"instance_id", "category_id", "bbox", "bbox_mode", "segmentation", "iscrowd"}


def _box_mask(x0, y0, x1, y1):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _uncompressed(m):
    """Uncompressed RLE written out by hand (column-major runs, zeros first)."""
    flat = m.flatten(order="F").tolist()
    counts, current, run = [], 0, 0
    for v in flat:
        if v != current:
            counts.append(run)
            current, run = v, 0
        run += 1
    counts.append(run)
    return {"size": [H, W], "counts": counts}


def _compressed(m):
    rle = mask_util.encode(np.asfortranarray(m))
    return {"size": [H, W], "counts": rle["counts"].decode("ascii")}


def _decode(segm):
    return mask_util.decode({"size": segm["size"], "counts": segm["counts"].encode()})


MASK_A0 = _box_mask(1, 1, 4, 3)  # 3x2 at (1, 1)
MASK_A2 = _box_mask(5, 2, 8, 6)  # 3x4 at (5, 2)
POLY_B0 = [[0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0]]
POLY_B1 = [[2.0, 2.0, 6.0, 2.0, 6.0, 5.0]]


def _base_json():
    """Two videos; category ids 12, 3, 7 (unsorted, not 1..K); every segmentation flavour."""
    return {
        "info": {"description": "unit test"},
        "videos": [
            {"id": 5, "height": H, "width": W, "length": 3,
             "file_names": ["vid5/00000.jpg", "vid5/00005.jpg", "vid5/00010.jpg"]},
            {"id": 9, "height": H, "width": W,  # no `length`: derived from file_names
             "file_names": ["vid9/00000.jpg", "vid9/00005.jpg"]},
        ],
        "categories": [
            {"id": 12, "name": "c"}, {"id": 3, "name": "a"}, {"id": 7, "name": "b"},
        ],
        "annotations": [
            {"id": 101, "video_id": 5, "category_id": 7, "iscrowd": 0,
             "segmentations": [_uncompressed(MASK_A0), None, _compressed(MASK_A2)],
             "bboxes": [[1.0, 1.0, 3.0, 2.0], None, None],
             "areas": [6.0, None, 12.0]},
            {"id": 102, "video_id": 5, "category_id": 12, "iscrowd": 1,
             "segmentations": [POLY_B0, POLY_B1, None],
             "bboxes": [[0, 0, 4, 4], [2, 2, 4, 3], None],
             "areas": [16.0, 6.0, None]},
            # A track that is null everywhere: video 9 keeps its (empty) frames.
            {"id": 103, "video_id": 9, "category_id": 3, "iscrowd": 0,
             "segmentations": [None, None], "bboxes": [None, None], "areas": [None, None]},
        ],
    }


def _write(tmp_path, data, name="ann.json", frames=True):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    if frames and isinstance(data, dict):
        for video in data.get("videos", []):
            for fn in video.get("file_names", []):
                (tmp_path / "frames" / fn).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / "frames" / fn).write_bytes(b"")
    return str(path), str(tmp_path / "frames")


@pytest.fixture
def loaded(tmp_path):
    json_file, root = _write(tmp_path, _base_json())
    return load_ytvis_json(json_file, root, check_files="all"), root


# ------------------------------------------------------------------------------ schema
def test_records_schema_and_order(loaded):
    records, root = loaded
    assert [r["video_id"] for r in records] == [5, 9]
    for r in records:
        assert set(r) == RECORD_KEYS
        assert len(r["annotations"]) == r["length"] == len(r["file_names"])
        for frame in r["annotations"]:
            for inst in frame:
                assert set(inst) == INSTANCE_KEYS
                assert inst["bbox_mode"] == BoxMode.XYWH_ABS
                assert isinstance(inst["segmentation"]["counts"], str)
                assert inst["segmentation"]["size"] == [H, W]
    assert records[0]["file_names"][1] == os.path.join(root, "vid5/00005.jpg")
    assert (records[0]["height"], records[0]["width"]) == (H, W)
    assert records[1]["length"] == 2


def test_contiguous_ids_follow_sorted_json_ids(loaded, tmp_path):
    records, _ = loaded
    by_instance = {i["instance_id"]: i["category_id"] for f in records[0]["annotations"] for i in f}
    assert by_instance == {101: 1, 102: 2}  # sorted ids 3, 7, 12 -> 0, 1, 2
    meta = ytvis_metadata_from_json(_write(tmp_path, _base_json(), "m.json")[0])
    assert meta["thing_classes"] == ["a", "b", "c"]
    assert meta["thing_dataset_id_to_contiguous_id"] == {3: 0, 7: 1, 12: 2}


def test_uncompressed_and_compressed_rle(loaded):
    frames = loaded[0][0]["annotations"]
    a0 = next(i for i in frames[0] if i["instance_id"] == 101)
    np.testing.assert_array_equal(_decode(a0["segmentation"]), MASK_A0)
    assert a0["bbox"] == [1.0, 1.0, 3.0, 2.0] and a0["iscrowd"] == 0
    a2 = next(i for i in frames[2] if i["instance_id"] == 101)
    np.testing.assert_array_equal(_decode(a2["segmentation"]), MASK_A2)
    # null bbox next to a mask: computed from the mask
    assert a2["bbox"] == [5.0, 2.0, 3.0, 4.0]
    assert all(isinstance(v, float) for v in a2["bbox"])


def test_polygons_iscrowd_and_null_frames(loaded):
    frames = loaded[0][0]["annotations"]
    b0 = next(i for i in frames[0] if i["instance_id"] == 102)
    expected = mask_util.decode(mask_util.merge(mask_util.frPyObjects(POLY_B0, H, W)))
    np.testing.assert_array_equal(_decode(b0["segmentation"]), expected)
    assert b0["iscrowd"] == 1 and b0["category_id"] == 2
    assert b0["bbox"] == [0.0, 0.0, 4.0, 4.0]
    assert [i["instance_id"] for i in frames[1]] == [102]  # 101 is null in frame 1
    assert [i["instance_id"] for i in frames[2]] == [101]  # 102 is null in frame 2


def test_all_empty_video_is_kept(loaded):
    assert loaded[0][1]["annotations"] == [[], []]


def test_bytes_counts_accepted():
    rle = mask_util.encode(np.asfortranarray(MASK_A2))
    assert isinstance(rle["counts"], bytes)
    out = segmentation_to_rle({"size": [H, W], "counts": rle["counts"]}, H, W)
    np.testing.assert_array_equal(mask_util.decode(out), MASK_A2)


@pytest.mark.parametrize("variant", ["missing", "null", "empty"])
def test_split_without_annotations_has_no_key(tmp_path, variant):
    data = _base_json()
    if variant == "missing":
        del data["annotations"]
    else:
        data["annotations"] = None if variant == "null" else []
    records = load_ytvis_json(*_write(tmp_path, data))
    assert len(records) == 2 and all("annotations" not in r for r in records)


def test_check_files_modes(tmp_path):
    json_file, root = _write(tmp_path, _base_json())
    os.remove(os.path.join(root, "vid5/00010.jpg"))  # not the first frame
    load_ytvis_json(json_file, root)  # default "first" does not notice
    with pytest.raises(YTVISFormatError, match="00010.jpg"):
        load_ytvis_json(json_file, root, check_files="all")
    os.remove(os.path.join(root, "vid9/00000.jpg"))
    load_ytvis_json(json_file, root, check_files="none")
    with pytest.raises(YTVISFormatError) as e:
        load_ytvis_json(json_file, root)
    assert "vid9/00000.jpg" in str(e.value) and "video id=9" in str(e.value)
    assert "ann.json" in str(e.value) and "file_names" in str(e.value)


# ------------------------------------------------------------------------------ errors
def _drop(path):
    def edit(d):
        *parents, key = path
        target = d
        for p in parents:
            target = target[p]
        del target[key]
    return edit


def _set(path, value):
    def edit(d):
        *parents, key = path
        target = d
        for p in parents:
            target = target[p]
        target[key] = value
    return edit


V5, V9 = "video id=5", "video id=9"
A101, A102 = "annotation id=101", "annotation id=102"
ERROR_CASES = {
    # name: (edit, strings the message must contain)
    "missing_videos": (_drop(["videos"]), ["'videos'", "missing"]),
    "missing_categories": (_drop(["categories"]), ["'categories'"]),
    "video_missing_height": (_drop(["videos", 0, "height"]), [V5, "'height'"]),
    "video_missing_file_names": (_drop(["videos", 1, "file_names"]), [V9, "'file_names'"]),
    "length_mismatch": (_set(["videos", 0, "length"], 4), [V5, "'length'"]),
    "duplicate_video_id": (_set(["videos", 1, "id"], 5), [V5, "duplicate", "'id'"]),
    "annotation_missing_category": (
        _drop(["annotations", 0, "category_id"]),
        [V5, A101, "'category_id'"],
    ),
    "annotation_missing_segmentations": (
        _drop(["annotations", 1, "segmentations"]),
        [V5, A102, "'segmentations'"],
    ),
    "short_segmentations": (
        _set(["annotations", 0, "segmentations"], [None, None]),
        [V5, A101, "'segmentations'", "3"],
    ),
    "short_bboxes": (_set(["annotations", 1, "bboxes"], [None]), [V5, A102, "'bboxes'"]),
    "long_areas": (
        _set(["annotations", 2, "areas"], [None] * 3),
        [V9, "annotation id=103", "'areas'"],
    ),
    "unknown_video": (_set(["annotations", 0, "video_id"], 77), ["77", A101, "'video_id'"]),
    "unknown_category": (
        _set(["annotations", 0, "category_id"], 4),
        [V5, A101, "'category_id'", "4"],
    ),
    "rle_size_mismatch": (
        _set(["annotations", 0, "segmentations", 0], {"size": [H + 1, W], "counts": [H * W + W]}),
        [V5, A101, "'segmentations'", "frame 0"],
    ),
    "bad_polygon": (
        _set(["annotations", 1, "segmentations", 0], [[1.0, 2.0]]),
        [V5, "'segmentations'"],
    ),
    "bad_bbox": (_set(["annotations", 0, "bboxes", 0], [1, 2, 3]), [V5, "'bboxes'"]),
    "duplicate_annotation_id": (_set(["annotations", 1, "id"], 101), [A101, "duplicate"]),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_format_errors_name_file_video_field(tmp_path, case):
    edit, needles = ERROR_CASES[case]
    data = _base_json()
    edit(data)
    json_file, root = _write(tmp_path, data, name="bad_{}.json".format(case))
    with pytest.raises(YTVISFormatError) as e:
        load_ytvis_json(json_file, root, check_files="none")
    message = str(e.value)
    assert isinstance(e.value, ValueError)
    assert json_file in message
    for needle in needles:
        assert needle in message, (needle, message)


def test_coco_image_json_is_recognised(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "height": H, "width": W}],
            "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    json_file, root = _write(tmp_path, coco, "coco.json")
    with pytest.raises(YTVISFormatError, match="COCO image json") as e:
        load_ytvis_json(json_file, root)
    assert "coco.json" in str(e.value) and "'videos'" in str(e.value)


def test_invalid_json_keeps_position(tmp_path):
    json_file, root = _write(tmp_path, '{"videos": [1, 2,,]}', "broken.json")
    with pytest.raises(YTVISFormatError) as e:
        load_ytvis_json(json_file, root)
    assert "broken.json" in str(e.value) and "line 1 column" in str(e.value)


# ------------------------------------------------------------------------------ catalogs
@pytest.fixture
def dataset_name():
    name = "test_ytvis_{}".format(uuid.uuid4().hex[:8])
    yield name
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def test_register_round_trip_derives_metadata_lazily(tmp_path, dataset_name):
    json_file, root = _write(tmp_path, _base_json())
    register_ytvis_instances(dataset_name, {}, json_file, root)
    meta = MetadataCatalog.get(dataset_name)
    assert meta.evaluator_type == "ytvis"
    assert meta.json_file == json_file and meta.image_root == root
    assert meta.get("thing_classes") is None
    records = DatasetCatalog.get(dataset_name)
    assert records == load_ytvis_json(json_file, root)
    assert meta.thing_classes == ["a", "b", "c"]
    assert meta.thing_dataset_id_to_contiguous_id == {3: 0, 7: 1, 12: 2}


def test_register_needs_no_file(tmp_path, dataset_name):
    missing = str(tmp_path / "nowhere.json")
    meta = ytvis_builtin_metadata("ytvis_2019")
    register_ytvis_instances(dataset_name, meta, missing, str(tmp_path))
    assert dataset_name in DatasetCatalog.list()
    with pytest.raises(FileNotFoundError):
        DatasetCatalog.get(dataset_name)


def _json_with_categories(categories):
    data = _base_json()
    data["categories"] = [{"id": i, "name": n} for i, n in categories]
    for ann, cid in zip(data["annotations"], (1, 2, 3)):
        ann["category_id"] = cid
    return data


def test_registered_categories_are_checked(tmp_path, dataset_name):
    json_2021, root = _write(tmp_path, _json_with_categories(YTVIS_2021_CATEGORIES), "y21.json")
    register_ytvis_instances(dataset_name, ytvis_builtin_metadata("ytvis_2019"), json_2021, root)
    with pytest.raises(YTVISFormatError) as e:
        DatasetCatalog.get(dataset_name)
    assert "y21.json" in str(e.value) and dataset_name in str(e.value)
    assert "'categories'" in str(e.value)
    json_2019, _ = _write(tmp_path, _json_with_categories(YTVIS_2019_CATEGORIES), "y19.json")
    records = load_ytvis_json(json_2019, root, dataset_name)
    assert records[0]["annotations"][0][0]["category_id"] == 0


BUILTIN = {
    "ytvis_2019": ("ytvis_2019/train.json", 40),
    "ytvis_2021": ("ytvis_2021/train/instances.json", 40),
    "ovis": ("ovis/annotations_train.json", 25),
}


@pytest.mark.parametrize("prefix", sorted(BUILTIN))
def test_builtin_registrations(prefix):
    train_json, count = BUILTIN[prefix]
    for split in ("train", "val", "test", "train_sub", "val_sub"):
        name = "{}_{}".format(prefix, split)
        assert name in DatasetCatalog.list()
        meta = MetadataCatalog.get(name)
        assert meta.evaluator_type == "ytvis"
        assert len(meta.thing_classes) == count
        assert meta.thing_dataset_id_to_contiguous_id == {i + 1: i for i in range(count)}
    assert MetadataCatalog.get(prefix + "_train").json_file.endswith(train_json)


def test_builtin_category_lists_differ_by_year():
    c19 = MetadataCatalog.get("ytvis_2019_train").thing_classes
    c21 = MetadataCatalog.get("ytvis_2021_train").thing_classes
    assert c19[:3] == ["person", "giant_panda", "lizard"] and c19[-1] == "tennis_racket"
    assert c21[:3] == ["airplane", "bear", "bird"] and c21 == sorted(c21)
    assert "sedan" in c19 and "car" not in c19 and "hand" in c19
    assert "car" in c21 and "sedan" not in c21 and "hand" not in c21
    assert {"flying_disc", "squirrel", "whale"} <= set(c21) - set(c19)
    ovis = MetadataCatalog.get("ovis_val").thing_classes
    assert ovis[0] == "Person" and ovis[-1] == "Vehicle" and len(set(ovis)) == 25
    syn = MetadataCatalog.get("ytvis_synthetic_train")
    assert syn.thing_classes == ["circle", "square", "triangle"]
    assert syn.json_file.endswith(os.path.join("synthetic", "train.json"))


def test_builtin_val_sub_uses_train_frames():
    meta = MetadataCatalog.get("ytvis_2019_val_sub")
    assert meta.image_root == MetadataCatalog.get("ytvis_2019_train").image_root
    assert meta.json_file.endswith(os.path.join("ytvis_2019", "val_sub.json"))
