"""YTVISEvaluator checks that the videos it was given are those of its data set."""
import logging

import pytest

import _tiny
from masktrack_d2.evaluation.evaluator import YTVISEvaluator


@pytest.fixture
def evaluator(tmp_path):
    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=3, num_frames=3)
    name = _tiny.register(summary["all_json"], summary["image_root"], prefix="coverage")
    from detectron2.data import DatasetCatalog

    videos = DatasetCatalog.get(name)
    return YTVISEvaluator(name, output_dir=str(tmp_path / "out"), distributed=False), videos


def test_videos_of_another_data_set_are_an_error(evaluator):
    ev, videos = evaluator
    ev.process([], [{"video_id": 999, "tracks": []}])
    with pytest.raises(ValueError, match=r"processed videos \[999\] are not in .*another data set"):
        ev.evaluate()


def test_unprocessed_videos_are_a_warning(evaluator, caplog):
    ev, videos = evaluator
    ev.process([], [{"video_id": videos[0]["video_id"], "tracks": []}])
    with caplog.at_level(logging.WARNING, logger="masktrack_d2"):
        res = ev.evaluate()
    assert "2 of 3 videos were not processed" in caplog.text
    assert res["segm"]["AP"] == 0


def test_ground_truth_fed_back_as_predictions_scores_100(tmp_path, monkeypatch):
    """GT tracks given to the evaluator as model outputs (contiguous labels) score AP 100:
    fails if labels are mapped to the wrong category ids. The json's category ids are made
    non-contiguous and listed out of order, so neither "label + 1" nor "json order" works.
    The evaluator reads the annotation json once and scores on the CLI's path (the C
    extension, where built)."""
    import json

    from masktrack_d2.evaluation import evaluator as evaluator_module
    from masktrack_d2.format import rle as rle_module

    from detectron2.data import DatasetCatalog

    from masktrack_d2.evaluation.ytvis_eval import YTVISGroundTruth

    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=3, num_frames=3)
    with open(summary["all_json"]) as f:
        data = json.load(f)
    new_id = {c["id"]: 100 - 7 * c["id"] for c in data["categories"]}  # order reversed
    for c in data["categories"]:
        c["id"] = new_id[c["id"]]
    data["categories"] = data["categories"][1:] + data["categories"][:1]
    for a in data["annotations"]:
        a["category_id"] = new_id[a["category_id"]]
    json_file = tmp_path / "remapped.json"
    json_file.write_text(json.dumps(data))
    name = _tiny.register(json_file, summary["image_root"], prefix="gt_as_pred")
    DatasetCatalog.get(name)  # as the test loader does: fills the metadata

    gt = YTVISGroundTruth(data)
    label_of = {cid: k for k, cid in enumerate(sorted(new_id.values()))}
    outputs = []
    for vid in gt.video_ids:
        tracks = []
        for (v, cat), gts in gt.tracks.items():
            if v != vid:
                continue
            for t in gts:
                segs = [None if r is None else
                        {"size": list(r["size"]), "counts": r["counts"].decode()
                         if isinstance(r["counts"], bytes) else r["counts"]} for r in t.rles]
                tracks.append({"category_id": label_of[cat], "score": 0.9, "segmentations": segs})
        outputs.append({"video_id": vid, "tracks": tracks})
    assert sum(len(o["tracks"]) for o in outputs) >= 3
    reads, calls = [], []
    real_load = evaluator_module.load_json
    monkeypatch.setattr(evaluator_module, "load_json",
                        lambda path, *a: reads.append(path) or real_load(path, *a))
    core = rle_module.rle_core()
    if core is not None:
        class Counting:  # the extension's calls, counted
            def __getattr__(self, name):
                calls.append(name)
                return getattr(core, name)
        monkeypatch.setattr(rle_module, "_rlecore", Counting())
    ev = YTVISEvaluator(name, output_dir=str(tmp_path / "out"), distributed=False)
    ev.process([], outputs)
    res = ev.evaluate()
    assert res["segm"]["AP"] == pytest.approx(100.0, abs=1e-6)
    assert reads == [str(json_file)]
    if core is not None:
        assert {"scan", "video_iou"} <= set(calls)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {r["category_id"] for r in written} <= set(new_id.values())
