"""Bad input stops with a clear error naming the file / video / frame, and leaves
nothing half-written.

Cases: a corrupt JPEG (pair mapper, video test frames, train_net.py), a missing frame file
(first frame: at load; a later one: when read), a json with a wrong schema, results for
another data set (metric CLI), a checkpoint that does not fit the model (--eval-only: an
error; training: warnings only), a missing checkpoint file (--eval-only and MODEL.WEIGHTS),
an unreadable checkpoint, no weights for --eval-only, and a non-finite loss in training.
"""
import json
import logging
import os
import re
import subprocess
import sys

import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.data import DatasetCatalog
from detectron2.utils.events import get_event_storage

import _tiny
from masktrack_d2.data.build import train_videos_and_items
from masktrack_d2.data.datasets import YTVISFormatError
from masktrack_d2.data.frames import FrameReadError, VideoFrames
from masktrack_d2.data.pair_mapper import FramePairDatasetMapper
from masktrack_d2.engine import MaskTrackTrainer
from masktrack_d2.checkpoint import CheckpointError, load_checkpoint_strict


@pytest.fixture(autouse=True)
def _one_thread():
    with _tiny.one_thread():
        yield


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The tiny data set (never modified: tests that break files copy it first)."""
    return _tiny.make_tiny_data(tmp_path_factory.mktemp("bad_input_data"))


@pytest.fixture
def registered():
    names = []

    def register(json_file, image_root, **kwargs):
        names.append(_tiny.register(json_file, image_root, prefix="bad", **kwargs))
        return names[-1]

    yield register
    _tiny.unregister(*names)


def _copy_data(data, dst):
    """A private copy of the tiny data set (jsons + frames) under ``dst``."""
    import shutil
    shutil.copytree(data["output_dir"], dst)
    return {k: (v.replace(data["output_dir"], str(dst)) if isinstance(v, str) else v)
            for k, v in data.items()}


def _truncate(path, keep=200):
    with open(path, "rb") as f:
        head = f.read(keep)
    with open(path, "wb") as f:
        f.write(head)


def _run(cmd, env=None, timeout=300):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def _save_model(cfg, path_stem, save_dir):
    """Save a freshly built model of ``cfg`` as ``save_dir/path_stem.pth``; returns the path."""
    model = MaskTrackTrainer.build_model(cfg)
    DetectionCheckpointer(model, save_dir=str(save_dir)).save(path_stem)
    return os.path.join(str(save_dir), path_stem + ".pth")


# ------------------------------------------------------------------------------ frames
def test_corrupt_jpeg_in_pair_mapper_names_video_and_file(data, tmp_path, registered):
    d = _copy_data(data, tmp_path / "data")
    name = registered(d["train_json"], d["image_root"])
    cfg = _tiny.tiny_cfg(train=[name])
    videos, items = train_videos_and_items(cfg)
    video = videos[0]
    bad = video["file_names"][1]
    with open(bad, "wb") as f:
        f.write(b"this is not a JPEG")
    mapper = FramePairDatasetMapper(cfg, videos, is_train=True)
    item = next(i for i in items if i["video_index"] == 0 and i["frame_idx"] == 1)
    with pytest.raises(FrameReadError) as e:
        mapper(item)
    msg = str(e.value)
    assert f"frame 1 of video {video['video_id']}" in msg and bad in msg, msg
    assert "UnidentifiedImageError" in msg


def test_corrupt_jpeg_in_video_test_frames(data, tmp_path, registered):
    d = _copy_data(data, tmp_path / "data")
    name = registered(d["val_json"], d["image_root"])
    video = DatasetCatalog.get(name)[0]
    bad = video["file_names"][2]
    _truncate(bad)
    frames = iter(VideoFrames(video, [], "BGR"))
    next(frames), next(frames)  # the good frames are read
    with pytest.raises(FrameReadError, match=f"frame 2 of video {video['video_id']}: {bad}"):
        next(frames)


def test_missing_later_frame_is_named_when_read(data, tmp_path, registered):
    d = _copy_data(data, tmp_path / "data")
    name = registered(d["train_json"], d["image_root"])  # check_files="first": frame 0 only
    cfg = _tiny.tiny_cfg(train=[name])
    videos, items = train_videos_and_items(cfg)
    video = videos[1]
    missing = video["file_names"][2]
    os.remove(missing)
    mapper = FramePairDatasetMapper(cfg, videos, is_train=True)
    item = next(i for i in items if i["video_index"] == 1 and i["frame_idx"] == 2)
    with pytest.raises(FrameReadError) as e:
        mapper(item)
    msg = str(e.value)
    assert f"frame 2 of video {video['video_id']}" in msg and missing in msg, msg
    assert "FileNotFoundError" in msg or "No such file" in msg, msg


def test_missing_first_frame_fails_at_load(data, tmp_path, registered):
    d = _copy_data(data, tmp_path / "data")
    with open(d["train_json"]) as f:
        first = json.load(f)["videos"][0]
    os.remove(os.path.join(d["image_root"], first["file_names"][0]))
    name = registered(d["train_json"], d["image_root"])
    with pytest.raises(YTVISFormatError) as e:
        MaskTrackTrainer(_tiny.tiny_cfg(train=[name]))
    msg = str(e.value)
    assert d["train_json"] in msg and f"video id={first['id']}" in msg, msg
    assert "field 'file_names'" in msg and first["file_names"][0] in msg, msg


@pytest.mark.slow
def test_train_net_stops_on_corrupt_jpeg(data, tmp_path):
    root = tmp_path / "datasets"
    d = _copy_data(data, root / "synthetic")
    with open(d["train_json"]) as f:
        listed = [fn for v in json.load(f)["videos"] for fn in v["file_names"]]
    bad = [os.path.join(d["image_root"], fn) for fn in listed]
    for path in bad:  # every training frame: whichever pair comes first fails
        _truncate(path)
    out = tmp_path / "out"
    # One loader worker: the error must also cross the worker boundary intact.
    config = _tiny.write_config(tmp_path / "c.yaml", out, opts=[
        "DATALOADER.NUM_WORKERS", "1", "SOLVER.CHECKPOINT_PERIOD", "1"])
    rc, log = _run(_tiny.train_net_cmd(config), _tiny.subprocess_env(root))
    assert rc != 0, log[-3000:]
    assert "FrameReadError" in log, log[-3000:]
    line = next(ln for ln in log.splitlines() if "FrameReadError: cannot read frame" in ln)
    assert any(p in line for p in bad), line
    assert "OSError" in line and "runcated" in line, line  # PIL: truncated JPEG
    # Nothing trained, nothing saved.
    assert not [f for f in os.listdir(out) if f.endswith(".pth") or f == "last_checkpoint"]


# ------------------------------------------------------------------------------ json
@pytest.mark.parametrize("case", ["video_without_height", "segmentations_not_a_list"])
def test_wrong_schema_names_file_and_field(data, tmp_path, registered, case):
    with open(data["train_json"]) as f:
        gt = json.load(f)
    if case == "video_without_height":
        del gt["videos"][1]["height"]
        field, where = "height", f"video id={gt['videos'][1]['id']}"
    else:
        gt["annotations"][0]["segmentations"] = {"counts": "abc"}
        field, where = "segmentations", f"annotation id={gt['annotations'][0]['id']}"
    bad_json = tmp_path / "bad.json"
    bad_json.write_text(json.dumps(gt))
    name = registered(str(bad_json), data["image_root"])
    with pytest.raises(YTVISFormatError) as e:
        MaskTrackTrainer(_tiny.tiny_cfg(train=[name]))
    msg = str(e.value)
    assert str(bad_json) in msg and where in msg and f"field '{field}'" in msg, msg


def test_results_for_another_data_set_metric_cli(data, tmp_path):
    with open(data["val_json"]) as f:
        val_ids = {v["id"] for v in json.load(f)["videos"]}
    other = [{"video_id": 900 + i, "category_id": 1, "score": 0.5, "segmentations": [None] * 4}
             for i in range(3)]
    results = tmp_path / "results.json"
    results.write_text(json.dumps(other))
    rc, log = _run([sys.executable, "-m", "masktrack_d2.evaluation.ytvis_eval",
                    "--gt", data["val_json"], "--results", str(results)])
    assert rc != 0, log
    assert "900" in log and "901" in log and "902" in log, log
    assert str(results) in log and "not in the ground truth" in log, log
    assert not val_ids & {900, 901, 902}
    assert "Traceback" not in log  # a one-line error, not a crash


# ------------------------------------------------------------------------------ checkpoints
def test_strict_load_accepts_a_fitting_checkpoint(tmp_path):
    cfg = _tiny.tiny_cfg()
    path = _save_model(cfg, "fits", tmp_path)
    model = MaskTrackTrainer.build_model(cfg)
    load_checkpoint_strict(model, path)
    saved = torch.load(path, map_location="cpu", weights_only=False)["model"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_strict_load_rejects_other_shapes_missing_and_unexpected_keys(tmp_path):
    cfg = _tiny.tiny_cfg()
    other = _save_model(_tiny.tiny_cfg(opts=["MODEL.ROI_HEADS.NUM_CLASSES", "5"]), "other",
                        tmp_path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint_strict(MaskTrackTrainer.build_model(cfg), other)
    msg = str(e.value)
    assert f"checkpoint {other} does not fit the model" in msg, msg
    assert "roi_heads.box_predictor.cls_score.weight: (6, 64) vs (4, 64)" in msg, msg

    deeper = _save_model(_tiny.tiny_cfg(opts=["MODEL.TRACK_HEAD.NUM_FC", "3"]), "deeper",
                         tmp_path)
    with pytest.raises(CheckpointError, match=r"not in the model: roi_heads\.track_head\.fcs"
                       r"\.2\.weight, roi_heads\.track_head\.fcs\.2\.bias"):
        load_checkpoint_strict(MaskTrackTrainer.build_model(cfg), deeper)
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint: "
                       r"roi_heads\.track_head\.fcs\.2\.weight"):
        load_checkpoint_strict(MaskTrackTrainer.build_model(
            _tiny.tiny_cfg(opts=["MODEL.TRACK_HEAD.NUM_FC", "3"])), _save_model(cfg, "a", tmp_path))


def test_missing_unreadable_or_no_checkpoint_for_evaluation(tmp_path):
    model = MaskTrackTrainer.build_model(_tiny.tiny_cfg())
    missing = str(tmp_path / "nowhere" / "model_final.pth")
    with pytest.raises(CheckpointError, match=f"checkpoint file not found: {re.escape(missing)}"):
        load_checkpoint_strict(model, missing)
    broken = _save_model(_tiny.tiny_cfg(), "broken", tmp_path)
    _truncate(broken, 1000)
    with pytest.raises(CheckpointError, match=f"cannot load checkpoint {re.escape(broken)}: "):
        load_checkpoint_strict(model, broken)
    with pytest.raises(CheckpointError, match="no checkpoint given: set MODEL.WEIGHTS"):
        load_checkpoint_strict(model, "")


def test_training_still_loads_a_mismatched_checkpoint_with_warnings(data, tmp_path, registered,
                                                                     caplog):
    # Fine-tuning from e.g. a COCO model: other class count -> predictor layers skipped.
    other = _save_model(_tiny.tiny_cfg(opts=["MODEL.ROI_HEADS.NUM_CLASSES", "5"]), "coco",
                        tmp_path)
    name = registered(data["train_json"], data["image_root"])
    cfg = _tiny.tiny_cfg(train=[name], output_dir=tmp_path / "out",
                         opts=["MODEL.WEIGHTS", other])
    trainer = MaskTrackTrainer(cfg)
    with caplog.at_level("WARNING"):
        trainer.resume_or_load(resume=False)
    assert "roi_heads.box_predictor.cls_score.weight" in caplog.text
    assert trainer.start_iter == 0
    saved = torch.load(other, map_location="cpu", weights_only=False)["model"]
    w = "backbone.bottom_up.stem.conv1.weight"
    assert torch.equal(trainer.model.state_dict()[w], saved[w])


def test_training_with_missing_model_weights_names_the_path(data, tmp_path, registered):
    name = registered(data["train_json"], data["image_root"])
    missing = str(tmp_path / "R-18.pkl")
    cfg = _tiny.tiny_cfg(train=[name], output_dir=tmp_path / "out",
                         opts=["MODEL.WEIGHTS", missing])
    trainer = MaskTrackTrainer(cfg)
    with pytest.raises(FileNotFoundError, match=f"MODEL.WEIGHTS: checkpoint file {missing} "
                       "not found"):
        trainer.resume_or_load(resume=False)


@pytest.mark.slow
def test_train_net_eval_only_rejects_mismatched_and_missing_checkpoints(data, tmp_path):
    root = tmp_path / "datasets"
    _copy_data(data, root / "synthetic")
    env = _tiny.subprocess_env(root)
    other = _save_model(_tiny.tiny_cfg(opts=["MODEL.ROI_HEADS.NUM_CLASSES", "5"]), "other",
                        tmp_path)
    out = tmp_path / "out"
    config = _tiny.write_config(tmp_path / "c.yaml", out, test=True)

    rc, log = _run(_tiny.train_net_cmd(config, "--eval-only", "MODEL.WEIGHTS", other), env)
    assert rc != 0, log[-3000:]
    err = next(ln for ln in log.splitlines()
               if ln.startswith("masktrack_d2.checkpoint.CheckpointError: checkpoint"))
    assert f"{other} does not fit" in err, err
    assert "roi_heads.box_predictor.cls_score.weight: (6, 64) vs (4, 64)" in err, err
    assert not os.path.exists(out / "inference"), "evaluated a model that did not load"

    missing = str(tmp_path / "missing.pth")
    rc, log = _run(_tiny.train_net_cmd(config, "--eval-only", "MODEL.WEIGHTS", missing), env)
    assert rc != 0, log[-3000:]
    assert f"CheckpointError: checkpoint file not found: {missing}" in log, log[-3000:]
    assert not os.path.exists(out / "inference")


# ------------------------------------------------------------------------------ label space
def test_a_class_count_that_does_not_fit_the_data_fails_before_any_work(data, tmp_path,
                                                                        registered, caplog):
    """A model whose labels do not fit the data: the trainer (when built, for its evaluations),
    its loader (for a data set of more categories than classes) and the evaluator refuse before
    a frame is run, naming both numbers and the key. Training a model of more classes than the
    data set's categories is allowed, with a warning."""
    train = registered(data["train_json"], data["image_root"])
    val = registered(data["val_json"], data["image_root"])
    n = len(json.load(open(data["train_json"]))["categories"])
    assert 1 < n != 40

    def cfg(num_classes, test=(val,)):
        return _tiny.tiny_cfg(train=[train], test=list(test), output_dir=tmp_path / "out",
                              opts=["MODEL.ROI_HEADS.NUM_CLASSES", str(num_classes)])

    def refusal(num_classes):
        return (f"has {n} categories but the model predicts {num_classes} classes: set "
                f"MODEL.ROI_HEADS.NUM_CLASSES {n}")

    # scoring: any other count is refused, before inference
    model = MaskTrackTrainer.build_model(cfg(40))
    calls = []
    model.register_forward_pre_hook(lambda *a: calls.append(1))
    with pytest.raises(ValueError, match=re.escape(f"'{val}' " + refusal(40))):
        MaskTrackTrainer.test(cfg(40), model)
    assert not calls, "ran inference before refusing"
    with pytest.raises(ValueError, match=re.escape(refusal(n - 1))):
        MaskTrackTrainer.build_evaluator(cfg(n - 1), val)
    # training with evaluations: refused when the trainer is built
    with pytest.raises(ValueError, match=re.escape(f"'{val}' " + refusal(40))):
        MaskTrackTrainer(cfg(40))
    # training alone: fewer classes than categories is refused, more only warned about
    with pytest.raises(ValueError, match=re.escape(f"'{train}' " + refusal(n - 1))):
        MaskTrackTrainer.build_train_loader(cfg(n - 1, test=()))
    with caplog.at_level(logging.WARNING):
        assert MaskTrackTrainer.build_train_loader(cfg(40, test=())) is not None
    assert f"classes {n}-39 see no positive example" in caplog.text
    # the fitting count passes everything
    MaskTrackTrainer.build_evaluator(cfg(n), val)
    assert MaskTrackTrainer.build_train_loader(cfg(n)) is not None


# ------------------------------------------------------------------------------ loss
def test_non_finite_loss_stops_training_and_keeps_last_checkpoint(data, tmp_path, registered):
    name = registered(data["train_json"], data["image_root"])
    out = tmp_path / "out"
    cfg = _tiny.tiny_cfg(train=[name], output_dir=out,
                         opts=["SOLVER.CHECKPOINT_PERIOD", "2", "SOLVER.MAX_ITER", "6"])
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    real_forward = trainer.model.forward

    def forward(batched_inputs):  # the loss turns NaN at iteration 3
        losses = real_forward(batched_inputs)
        if get_event_storage().iter >= 3:
            losses["loss_match"] = losses["loss_match"] * float("nan")
        return losses

    trainer.model.forward = forward
    with pytest.raises(FloatingPointError, match=r"Loss became infinite or NaN at iteration=3"):
        trainer.train()
    files = sorted(os.listdir(out))
    assert "model_0000001.pth" in files and "model_final.pth" not in files, files
    assert not [f for f in files if f.endswith(".pth") and f != "model_0000001.pth"], files
    with open(out / "last_checkpoint") as f:
        assert f.read().strip() == "model_0000001.pth"
    # The last good checkpoint loads completely, and holds finite weights.
    model = MaskTrackTrainer.build_model(cfg)
    load_checkpoint_strict(model, str(out / "model_0000001.pth"))
    assert all(torch.isfinite(v).all() for v in model.state_dict().values()
               if v.is_floating_point())
