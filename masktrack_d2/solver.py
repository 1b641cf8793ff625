"""SGD with clipping of the global gradient norm, as mmcv's OptimizerHook(grad_clip) does."""
import math

import torch

from detectron2.solver import build_optimizer as build_d2_optimizer

from .data.build import iters_per_epoch


def clip_global_grad_norm(optimizer_cls, max_norm: float):
    """
    A subclass of ``optimizer_cls`` whose ``step`` first clips the L2 norm of all its
    parameters' gradients together to ``max_norm``. detectron2's CLIP_GRADIENTS "norm" mode
    clips each parameter on its own, which is a different (weaker) constraint.
    """

    class GlobalNormClipped(optimizer_cls):
        def step(self, closure=None):
            params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, max_norm)
            return super().step(closure)

    GlobalNormClipped.__name__ = optimizer_cls.__name__ + "WithGlobalGradClip"
    return GlobalNormClipped


def build_optimizer(cfg, model):
    optimizer = build_d2_optimizer(cfg, model)
    if cfg.SOLVER.GLOBAL_GRAD_CLIP_NORM > 0:
        optimizer.__class__ = clip_global_grad_norm(
            type(optimizer), cfg.SOLVER.GLOBAL_GRAD_CLIP_NORM)
    return optimizer


def apply_epoch_schedule(cfg, num_key_frames: int):
    """
    If SOLVER.EPOCHS > 0, set MAX_ITER and STEPS from epochs of key frames (in place, before
    the config is frozen): E = ceil(#key frames / IMS_PER_BATCH) iterations per epoch,
    MAX_ITER = EPOCHS * E, STEPS = EPOCH_STEPS * E. Returns E.
    """
    e = iters_per_epoch(num_key_frames, cfg.SOLVER.IMS_PER_BATCH)
    if cfg.SOLVER.EPOCHS > 0:
        cfg.SOLVER.MAX_ITER = int(math.ceil(cfg.SOLVER.EPOCHS * e))
        cfg.SOLVER.STEPS = tuple(int(s * e) for s in cfg.SOLVER.EPOCH_STEPS)
    return e
