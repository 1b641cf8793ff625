"""Whole-model gradient-norm clipping, the epoch schedule and the Base config's solver values
(docs/method.md, "Reference settings")."""
import math
import os

import pytest
import torch
from torch import nn

from detectron2.config import get_cfg

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.data.build import iters_per_epoch
from masktrack_d2.solver import (apply_epoch_schedule, build_optimizer,
                                 maybe_add_full_model_gradient_clipping)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN.yaml")
ORIG = os.path.join(REPO, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e_orig.yaml")
LR = 0.1


def _params():
    a = nn.Parameter(torch.zeros(3))
    b = nn.Parameter(torch.zeros(2, 2))
    a.grad = torch.full((3,), 1000.0)
    b.grad = torch.tensor([[-2000.0, 500.0], [0.0, 3000.0]])
    return a, b


def _global_norm(tensors):
    return math.sqrt(sum(float((t ** 2).sum()) for t in tensors))


def test_global_clip_update_norm_is_lr_times_35():
    a, b = _params()
    grads = [a.grad.clone(), b.grad.clone()]
    cls = maybe_add_full_model_gradient_clipping(_solver_cfg(35.0), torch.optim.SGD)
    assert issubclass(cls, torch.optim.SGD)
    assert cls.__name__ == "SGDFullModelGradientClipping"
    opt = cls([a, b], lr=LR, momentum=0.0, weight_decay=0.0)
    opt.step()
    updates = [-a.detach().clone(), -b.detach().clone()]  # params started at 0
    assert _global_norm(updates) == pytest.approx(LR * 35.0, rel=1e-5)
    # direction kept: the update is the gradient scaled by one common factor
    factor = 35.0 / _global_norm(grads)
    for u, g in zip(updates, grads):
        torch.testing.assert_close(u, LR * factor * g)


def test_per_parameter_clipping_differs_from_global():
    a, b = _params()
    opt = torch.optim.SGD([a, b], lr=LR)
    for p in (a, b):  # detectron2's CLIP_GRADIENTS "norm": each parameter on its own
        torch.nn.utils.clip_grad_norm_([p], 35.0)
    opt.step()
    per_param = _global_norm([a.detach(), b.detach()])
    # each parameter's update has norm lr*35, so the total is lr*35*sqrt(2) > lr*35
    assert per_param == pytest.approx(LR * 35.0 * math.sqrt(2), rel=1e-5)
    assert per_param > LR * 35.0 * 1.01


def test_global_clip_leaves_small_gradients_alone():
    p = nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([1.0, -2.0, 0.5, 3.0])
    opt = maybe_add_full_model_gradient_clipping(_solver_cfg(35.0), torch.optim.SGD)([p], lr=LR)
    opt.step()
    torch.testing.assert_close(p.detach(), -LR * torch.tensor([1.0, -2.0, 0.5, 3.0]))


def _solver_cfg(clip):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.SOLVER.BASE_LR = LR
    cfg.SOLVER.MOMENTUM = 0.0
    cfg.SOLVER.WEIGHT_DECAY = 0.0
    cfg.SOLVER.WEIGHT_DECAY_NORM = 0.0
    cfg.SOLVER.CLIP_GRADIENTS.ENABLED = True
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "full_model"
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE = clip
    return cfg


def _step_linear(cfg):
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    before = [p.detach().clone() for p in model.parameters()]
    opt = build_optimizer(cfg, model)
    for p in model.parameters():
        p.grad = torch.full_like(p, 500.0)
    opt.step()
    update = [b - p.detach() for b, p in zip(before, model.parameters())]
    return opt, _global_norm(update)


def test_build_optimizer_applies_global_clip():
    opt, norm = _step_linear(_solver_cfg(35.0))
    assert isinstance(opt, torch.optim.SGD)
    assert type(opt).__name__.endswith("FullModelGradientClipping")
    assert norm == pytest.approx(LR * 35.0, rel=1e-5)


def test_global_clip_zero_disables():
    opt, norm = _step_linear(_solver_cfg(0.0))
    assert type(opt) is torch.optim.SGD
    # unclipped: lr * |grad| = 0.1 * 500 * sqrt(8 parameters)
    assert norm == pytest.approx(LR * 500.0 * math.sqrt(8), rel=1e-5)


# ------------------------------------------------------------------------------ epoch schedule
def test_apply_epoch_schedule_12_epochs():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.SOLVER.EPOCHS = 12
    cfg.SOLVER.EPOCH_STEPS = (8, 11)
    cfg.SOLVER.IMS_PER_BATCH = 8
    e = apply_epoch_schedule(cfg, 100)
    assert e == 13 == iters_per_epoch(100, 8)
    assert cfg.SOLVER.MAX_ITER == 156
    assert tuple(cfg.SOLVER.STEPS) == (104, 143)


def test_apply_epoch_schedule_exact_division():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.SOLVER.EPOCHS = 2
    cfg.SOLVER.EPOCH_STEPS = (1,)
    cfg.SOLVER.IMS_PER_BATCH = 4
    assert apply_epoch_schedule(cfg, 16) == 4
    assert cfg.SOLVER.MAX_ITER == 8 and tuple(cfg.SOLVER.STEPS) == (4,)


def test_apply_epoch_schedule_zero_epochs_keeps_iterations():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.SOLVER.EPOCHS = 0
    cfg.SOLVER.IMS_PER_BATCH = 8
    cfg.SOLVER.MAX_ITER = 777
    cfg.SOLVER.STEPS = (500, 700)
    assert apply_epoch_schedule(cfg, 100) == 13
    assert cfg.SOLVER.MAX_ITER == 777
    assert tuple(cfg.SOLVER.STEPS) == (500, 700)


# ------------------------------------------------------------------------------ Base config values
def test_base_config_solver_values():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(BASE)
    s = cfg.SOLVER
    assert s.BASE_LR == pytest.approx(0.00125)
    assert s.IMS_PER_BATCH == 8
    assert s.MOMENTUM == pytest.approx(0.9) and s.WEIGHT_DECAY == pytest.approx(1e-4)
    assert s.WARMUP_METHOD == "linear" and s.WARMUP_ITERS == 500
    assert s.WARMUP_FACTOR == pytest.approx(1 / 3, abs=1e-6)
    assert s.EPOCHS == 12 and tuple(s.EPOCH_STEPS) == (8, 11)
    clip = s.CLIP_GRADIENTS
    assert clip.ENABLED and clip.CLIP_TYPE == "full_model"
    assert clip.CLIP_VALUE == pytest.approx(35.0) and clip.NORM_TYPE == pytest.approx(2.0)


def test_no_iteration_schedule_in_base_config():
    """The 2021 configs inherit Base: it must not carry 2019's iteration counts. Its schedule
    is in epochs and becomes iterations from the training set at start-up."""
    cfg = get_cfg()
    add_masktrack_config(cfg)
    default_max_iter, default_steps = cfg.SOLVER.MAX_ITER, tuple(cfg.SOLVER.STEPS)
    cfg.merge_from_file(BASE)
    assert cfg.SOLVER.EPOCHS > 0
    assert cfg.SOLVER.MAX_ITER == default_max_iter
    assert tuple(cfg.SOLVER.STEPS) == default_steps


def test_other_clip_types_stay_detectron2s():
    cfg = _solver_cfg(35.0)
    cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE = "norm"  # per parameter
    opt, norm = _step_linear(cfg)
    # weight (6 entries) and bias (2) each clipped to 35 on their own
    assert norm == pytest.approx(LR * 35.0 * math.sqrt(2), rel=1e-5)


def test_added_defaults_and_orig_config():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    assert cfg.SOLVER.EPOCHS == 0
    th = cfg.MODEL.TRACK_HEAD
    assert (th.NUM_FC, th.FC_DIM, th.LAST_RELU, th.INIT, th.SEPARATE_SAMPLING, th.LOSS_NORM) == \
        (2, 1024, True, "default", True, "matched")
    assert cfg.INPUT.SAMPLING_FRAME_RANGE == 100 and cfg.INPUT.REF_NONEMPTY_ONLY is False
    cfg.merge_from_file(ORIG)
    th = cfg.MODEL.TRACK_HEAD
    assert (th.LAST_RELU, th.INIT, th.SEPARATE_SAMPLING, th.LOSS_NORM) == \
        (False, "normal", False, "positives")
    assert cfg.INPUT.SAMPLING_FRAME_RANGE == 0 and cfg.INPUT.REF_NONEMPTY_ONLY is True
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.05 and cfg.TEST.DETECTIONS_PER_IMAGE == 10
    assert cfg.TEST.TRACKER.NUM_FRAMES_RETAIN == 0 and cfg.TEST.TRACKER.UPDATE_LABEL is False
    # the rest is the table config's
    assert cfg.DATASETS.TRAIN == ("ytvis_2019_train",) and cfg.MODEL.RESNETS.DEPTH == 50
    assert cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE == "full_model"


def test_global_clip_survives_lr_scheduler_wrapping():
    from detectron2.solver import build_lr_scheduler

    cfg = _solver_cfg(35.0)
    cfg.SOLVER.WARMUP_ITERS = 0
    cfg.SOLVER.MAX_ITER = 10
    cfg.SOLVER.STEPS = (5,)
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = build_optimizer(cfg, model)
    sched = build_lr_scheduler(cfg, opt)  # torch's LRScheduler wraps opt.step
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.full_like(p, 500.0)
    opt.step()
    sched.step()
    update = [b - p.detach() for b, p in zip(before, model.parameters())]
    assert _global_norm(update) == pytest.approx(LR * 35.0, rel=1e-5)


def test_epoch_schedule_counts_key_frames_of_registered_data(monkeypatch):
    from detectron2.data import DatasetCatalog

    from masktrack_d2.data.build import train_videos_and_items

    def ann(iscrowd=0, w=10.0):
        return {"instance_id": 1, "category_id": 0, "bbox": [0.0, 0.0, w, 10.0], "iscrowd": iscrowd}

    # 3 + 0 + 2 = 5 usable key frames out of 9 listed frames
    videos = [
        {"video_id": 1, "annotations": [[ann()], [ann()], [], [ann()]]},
        {"video_id": 2, "annotations": [[ann(iscrowd=1)], [ann(w=0.5)]]},
        {"video_id": 3, "annotations": [[ann()], [ann(), ann(iscrowd=1)], []]},
    ]
    name = "_test_solver_epoch_videos"
    DatasetCatalog.register(name, lambda: videos)
    try:
        cfg = get_cfg()
        add_masktrack_config(cfg)
        cfg.DATASETS.TRAIN = (name,)
        cfg.SOLVER.IMS_PER_BATCH = 2
        cfg.SOLVER.EPOCHS = 4
        cfg.SOLVER.EPOCH_STEPS = (2, 3)
        _, items = train_videos_and_items(cfg)
        assert len(items) == 5
        assert apply_epoch_schedule(cfg, len(items)) == 3
        assert cfg.SOLVER.MAX_ITER == 12 and tuple(cfg.SOLVER.STEPS) == (6, 9)
    finally:
        DatasetCatalog.remove(name)
