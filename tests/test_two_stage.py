"""The detector stage (MODEL.TRACK_ON False): trains on single frames with Mask R-CNN losses,
and its checkpoint starts a tracking model whose track head alone is newly initialised;
both stages through train_net.py, and through the quickstart's --stage1-config."""
import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

import _tiny

from masktrack_d2.checkpoint import TrainingCheckpointer, newly_initialised
from masktrack_d2.config import add_masktrack_config, get_config_file


def _cfg(track_on):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(get_config_file("quickstart/masktrack_R_18_FPN_synthetic.yaml"))
    cfg.MODEL.TRACK_ON = track_on
    return cfg


def test_detector_stage_has_no_track_head_and_trains_on_single_frames():
    model = build_model(_cfg(False))
    assert model.roi_heads.track_head is None
    assert not any("track_head" in k for k in model.state_dict())
    inst = Instances((64, 96))
    inst.gt_boxes = Boxes(torch.tensor([[10.0, 10.0, 40.0, 40.0]]))
    inst.gt_classes = torch.tensor([1])
    m = torch.zeros(1, 64, 96, dtype=torch.bool)
    m[0, 10:40, 10:40] = True
    inst.gt_masks = BitMasks(m)
    model.train()
    with EventStorage(0):
        losses = model([{"image": torch.rand(3, 64, 96) * 255, "instances": inst}])
    assert set(losses) == {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask"}
    with pytest.raises(RuntimeError, match="TRACK_ON"):
        model.eval()
        model.roi_heads.detect_and_embed({}, [])


def test_stage1_checkpoint_loads_with_only_track_head_new(tmp_path, caplog):
    stage1 = build_model(_cfg(False))
    path = os.path.join(tmp_path, "stage1.pth")
    torch.save({"model": stage1.state_dict()}, path)
    stage2 = build_model(_cfg(True))
    ckpt = TrainingCheckpointer(stage2, str(tmp_path))
    logger = logging.getLogger("masktrack_d2.checkpoint")
    logger.propagate = True
    with caplog.at_level(logging.INFO, logger="masktrack_d2.checkpoint"):
        ckpt.load(path, checkpointables=[])
    line = [r.getMessage() for r in caplog.records if "newly initialised" in r.getMessage()]
    assert len(line) == 1 and "roi_heads.track_head (" in line[0], line
    # everything else equals stage 1's weights
    sd1, sd2 = stage1.state_dict(), stage2.state_dict()
    for k, v in sd1.items():
        assert torch.equal(v, sd2[k]), k
    fresh = newly_initialised(stage2, [k for k in sd2 if k not in sd1])
    assert list(fresh) == ["roi_heads.track_head"]


def test_checkpoint_of_another_class_count_names_the_class_layers_too(tmp_path, caplog):
    """A COCO-like start (80 classes, no track head): the log line names the track head and
    the box predictor, whose class-specific tensors were skipped for their shape."""
    coco = _cfg(False)
    coco.MODEL.ROI_HEADS.NUM_CLASSES = 80
    path = os.path.join(tmp_path, "coco.pth")
    torch.save({"model": build_model(coco).state_dict()}, path)
    model = build_model(_cfg(True))
    logging.getLogger("masktrack_d2.checkpoint").propagate = True
    with caplog.at_level(logging.INFO, logger="masktrack_d2.checkpoint"):
        TrainingCheckpointer(model, str(tmp_path)).load(path, checkpointables=[])
    line = next(r.getMessage() for r in caplog.records if "newly initialised" in r.getMessage())
    assert "roi_heads.track_head (" in line and "roi_heads.box_predictor (4 tensors)" in line
    assert "backbone" not in line and "mask_head" not in line, line


@pytest.mark.slow
def test_both_stages_through_train_net(tmp_path):
    """Stage 1 (detector, single frames) then stage 2 from its model_final.pth through
    MODEL.WEIGHTS, each a train_net.py run as the README gives them."""
    _tiny.make_subprocess_data(tmp_path / "datasets")
    env = _tiny.subprocess_env(tmp_path / "datasets")
    out1, out2 = tmp_path / "stage1", tmp_path / "stage2"
    stage1 = _tiny.write_config(tmp_path / "stage1.yaml", out1, opts=["MODEL.TRACK_ON", "False"])
    stage2 = _tiny.write_config(tmp_path / "stage2.yaml", out2,
                                opts=["MODEL.WEIGHTS", str(out1 / "model_final.pth")])
    for config in (stage1, stage2):
        proc = subprocess.run(_tiny.train_net_cmd(config), env=env, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    rows1 = _tiny.read_metrics(out1)
    rows2 = _tiny.read_metrics(out2)
    assert rows1 and not any("loss_match" in r for r in rows1)
    assert all("loss_match" in r for r in rows2 if "loss_mask" in r)
    assert not any("track_head" in k for k in torch.load(out1 / "model_final.pth")["model"])
    log = (out2 / "log.txt").read_text()
    assert "newly initialised, not loaded from the checkpoint: roi_heads.track_head (" in log
    # the line names the track head alone
    line = next(x for x in log.splitlines() if "newly initialised" in x)
    assert line.count("(") == 1, line


@pytest.mark.slow
def test_quickstart_runs_both_stages(tmp_path):
    """--stage1-config: stage 1 under <output-dir>/stage1, stage 2 from its final checkpoint,
    the AP curve over both stages in the report."""
    stage1 = tmp_path / "stage1.yaml"
    stage1.write_text(f"_BASE_: {_tiny.QUICKSTART}\nMODEL:\n  TRACK_ON: False\n"
                      "DATASETS:\n  TEST: ()\n")
    tiny = []
    for key, value in zip(_tiny.TINY_OPTS[::2], _tiny.TINY_OPTS[1::2]):
        if key not in ("SOLVER.MAX_ITER", "SOLVER.STEPS", "SOLVER.CHECKPOINT_PERIOD"):
            tiny += [key, value]
    out = tmp_path / "qs"
    env = dict(_tiny.subprocess_env(tmp_path / "datasets"), PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "masktrack_d2.quickstart", "--stage1-config", str(stage1),
         "--output-dir", str(out)] + tiny
        + ["SOLVER.MAX_ITER", "6", "SOLVER.STEPS", "(5,)", "SOLVER.CHECKPOINT_PERIOD", "3"],
        cwd=_tiny.REPO, env=env, capture_output=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    report = json.load(open(out / "quickstart_report.json"))
    assert [p["iteration"] for p in report["stage1_curve"]] == [3, 6]
    assert all(0 <= p["segm"]["AP"] <= 100 for p in report["stage1_curve"])
    assert [h["iteration"] for h in report["heldout_curve"]] == [0, 3, 6]
    assert set(report["training_seconds"]) == {"stage1", "stage2"}
    assert (out / "stage1" / "model_final.pth").is_file()
    assert "MODEL:" in (out / "stage1" / "config.yaml").read_text()
    log = (out / "log.txt").read_text()
    assert "newly initialised, not loaded from the checkpoint: roi_heads.track_head (" in log
    stdout = proc.stdout.decode()
    for stage in ("stage 1", "stage 2", "evaluation"):
        assert f"[quickstart] {stage}" in stdout, stage
