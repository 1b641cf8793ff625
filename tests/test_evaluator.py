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
