"""Deterministic by-video split of a YouTube-VIS json."""
import json
import os

import pytest

from masktrack_d2.data.datasets import YTVISFormatError, load_ytvis_json
from masktrack_d2.data.datasets.split import main, select_val_video_ids, split_ytvis_json

VIDEO_IDS = [40, 3, 17, 8, 25, 1, 33, 12, 6, 21]  # deliberately not sorted


def _source_json(tmp_path):
    videos = [
        {
            "id": vid,
            "height": 4,
            "width": 4,
            "length": 2,
            "file_names": ["v{}/0.jpg".format(vid), "v{}/5.jpg".format(vid)],
        }
        for vid in VIDEO_IDS
    ]
    annotations = []
    for i, vid in enumerate(VIDEO_IDS * 2):  # two tracks per video, interleaved
        segm = {"size": [4, 4], "counts": [5, 2, 9]}
        annotations.append(
            {"id": 100 + i, "video_id": vid, "category_id": 1 + i % 2, "iscrowd": 0,
             "segmentations": [segm, None], "bboxes": [[1, 1, 1, 2], None], "areas": [2.0, None]}
        )
    data = {
        "info": {"description": "split test"},
        "videos": videos,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
    }
    path = tmp_path / "train.json"
    path.write_text(json.dumps(data))
    return str(path), data


def test_split_is_byte_identical_disjoint_and_covering(tmp_path):
    src, data = _source_json(tmp_path)
    outs = []
    for run in ("a", "b"):
        tr, va = str(tmp_path / run / "train_sub.json"), str(tmp_path / run / "val_sub.json")
        summary = split_ytvis_json(src, tr, va, val_fraction=0.3, seed=0)
        outs.append((tr, va))
    for i in range(2):
        with open(outs[0][i], "rb") as f0, open(outs[1][i], "rb") as f1:
            assert f0.read() == f1.read()
    assert summary["num_train_videos"] == 7 and summary["num_val_videos"] == 3
    assert summary["num_train_annotations"] == 14 and summary["num_val_annotations"] == 6

    train, val = (json.load(open(p)) for p in outs[0])
    train_ids = [v["id"] for v in train["videos"]]
    val_ids = [v["id"] for v in val["videos"]]
    assert not set(train_ids) & set(val_ids)
    assert set(train_ids) | set(val_ids) == set(VIDEO_IDS)
    # json order kept, annotations follow their video, categories copied
    assert train_ids == [v for v in VIDEO_IDS if v in train_ids]
    for part, ids in ((train, train_ids), (val, val_ids)):
        assert {a["video_id"] for a in part["annotations"]} == set(ids)
        assert part["categories"] == data["categories"]
        assert part["info"]["description"] == "split test"
    expected = {"source": "train.json", "part": "val", "val_fraction": 0.3, "seed": 0}
    assert val["info"]["split"] == expected
    # no temporary files left behind
    assert sorted(os.listdir(tmp_path / "a")) == ["train_sub.json", "val_sub.json"]
    records = load_ytvis_json(outs[0][1], str(tmp_path), check_files="none")
    assert [r["video_id"] for r in records] == val_ids


def test_selection_ignores_json_order_and_depends_on_seed():
    a = select_val_video_ids(VIDEO_IDS, 0.3, seed=0)
    assert a == select_val_video_ids(sorted(VIDEO_IDS, reverse=True), 0.3, seed=0)
    assert len(a) == 3
    assert any(select_val_video_ids(VIDEO_IDS, 0.3, seed=s) != a for s in (1, 2, 3))
    assert len(select_val_video_ids([1, 2], 0.01)) == 1  # both sides keep one video
    assert len(select_val_video_ids([1, 2], 0.99)) == 1
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            select_val_video_ids(VIDEO_IDS, bad)


def test_split_rejects_bad_json(tmp_path):
    src, data = _source_json(tmp_path)
    data["annotations"][0]["video_id"] = 999
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(YTVISFormatError, match="bad.json.*999"):
        split_ytvis_json(str(bad), str(tmp_path / "t.json"), str(tmp_path / "v.json"))
    assert not (tmp_path / "t.json").exists()


def test_cli_prints_counts(tmp_path, capsys):
    src, _ = _source_json(tmp_path)
    tr, va = str(tmp_path / "t.json"), str(tmp_path / "v.json")
    args = ["--json", src, "--out-train", tr, "--out-val", va]
    main(args + ["--val-fraction", "0.2", "--seed", "3"])
    out = capsys.readouterr().out
    assert "train: 8 videos, 16 annotations -> " + tr in out
    assert "val:   2 videos, 4 annotations -> " + va in out
