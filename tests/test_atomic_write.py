"""``results.json`` and the submission zip are written atomically.

An interruption in the middle of writing (json.dump raising after part of the file, or
Ctrl-C) leaves the previous file whole and no temporary file behind; the zip holds only
results.json at its root.
"""
import json
import os
import stat
import zipfile

import pytest

import _tiny
from masktrack_d2.evaluation import evaluator as evaluator_mod
from masktrack_d2.evaluation.evaluator import YTVISEvaluator, write_submission
from masktrack_d2.utils.file_io import atomic_write

OLD = [{"video_id": 1, "category_id": 1, "score": 0.5, "segmentations": [None]}]
NEW = [{"video_id": 2, "category_id": 2, "score": 0.9, "segmentations": [None, None]}] * 50


def _interrupting_dump(exc):
    """A json.dump that writes the first part of the document, then raises ``exc``."""
    real_dumps = json.dumps

    def dump(obj, fp, **kwargs):
        text = real_dumps(obj, **kwargs)
        fp.write(text[: len(text) // 2])
        fp.flush()
        raise exc

    return dump


def _listing(directory):
    return sorted(os.listdir(directory))


def test_atomic_write_keeps_old_file_and_cleans_up(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(str(path)) as f:
            f.write("new, half")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert _listing(tmp_path) == ["results.json"]

    with atomic_write(str(path)) as f:
        f.write("new")
    assert path.read_text() == "new"
    assert _listing(tmp_path) == ["results.json"]


def test_atomic_write_creates_folder_and_gives_umask_permissions(tmp_path):
    path = tmp_path / "a" / "b" / "results.json"
    with atomic_write(str(path), "wb") as f:
        f.write(b"x")
    assert path.read_bytes() == b"x"
    umask = os.umask(0)
    os.umask(umask)
    # Like open(): 0666 less the umask, not mkstemp's owner-only 0600.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()],
                         ids=["oserror", "ctrl-c"])
def test_submission_interrupted_mid_json_leaves_previous_files(tmp_path, monkeypatch, exc):
    json_path, zip_path = write_submission(OLD, str(tmp_path), "sub.zip")
    before = {p: open(p, "rb").read() for p in (json_path, zip_path)}

    monkeypatch.setattr(evaluator_mod.json, "dump", _interrupting_dump(exc))
    with pytest.raises(type(exc)):
        write_submission(NEW, str(tmp_path), "sub.zip")
    monkeypatch.undo()

    assert {p: open(p, "rb").read() for p in before} == before
    assert json.load(open(json_path)) == OLD
    assert _listing(tmp_path) == ["results.json", "sub.zip"]  # no temporary file


def test_submission_interrupted_mid_zip_leaves_previous_zip(tmp_path, monkeypatch):
    _, zip_path = write_submission(OLD, str(tmp_path), "sub.zip")
    old_zip = open(zip_path, "rb").read()

    def failing_write(self, *args, **kwargs):
        self.fp.write(b"PK partial")
        raise OSError("interrupted")

    monkeypatch.setattr(zipfile.ZipFile, "write", failing_write)
    with pytest.raises(OSError, match="interrupted"):
        write_submission(NEW, str(tmp_path), "sub.zip")
    monkeypatch.undo()
    assert open(zip_path, "rb").read() == old_zip
    assert zipfile.ZipFile(zip_path).testzip() is None
    assert _listing(tmp_path) == ["results.json", "sub.zip"]


def test_submission_zip_holds_only_results_json_at_root(tmp_path):
    json_path, zip_path = write_submission(NEW, str(tmp_path / "out"))
    assert os.path.basename(zip_path) == "submission_file.zip"
    with zipfile.ZipFile(zip_path) as z:
        assert z.namelist() == ["results.json"]
        assert z.read("results.json") == open(json_path, "rb").read()
    assert json.load(open(json_path)) == NEW


def _gt_evaluator(tmp_path, output_dir):
    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=2, num_frames=3)
    name = _tiny.register(summary["val_json"], summary["image_root"], prefix="atomic")
    from detectron2.data import DatasetCatalog
    records = DatasetCatalog.get(name)  # loads the categories into the metadata
    return name, records, YTVISEvaluator(name, output_dir=str(output_dir))


def test_evaluator_results_json_interrupted(tmp_path, monkeypatch):
    out = tmp_path / "inference"
    name, records, ev = _gt_evaluator(tmp_path, out)
    try:
        video = records[0]
        segs = [None] * video["length"]
        for f, annos in enumerate(video["annotations"]):
            if annos:
                segs[f] = annos[0]["segmentation"]
                label = annos[0]["category_id"]
        outputs = [{"video_id": video["video_id"],
                    "tracks": [{"category_id": label, "score": 0.9, "segmentations": segs}]}]
        ev.reset()
        ev.process([{"video_id": video["video_id"]}], outputs)
        res = ev.evaluate()
        assert res["segm"]["AP"] > 0
        first = (out / "results.json").read_bytes()

        ev.reset()
        ev.process([{"video_id": video["video_id"]}], [{"video_id": video["video_id"],
                                                        "tracks": []}] * 2)
        monkeypatch.setattr(evaluator_mod.json, "dump", _interrupting_dump(OSError("full")))
        with pytest.raises(OSError, match="full"):
            ev.evaluate()
        monkeypatch.undo()
        assert (out / "results.json").read_bytes() == first
        assert _listing(out) == ["results.json"]
    finally:
        _tiny.unregister(name)
