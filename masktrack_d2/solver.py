"""The optimizer (detectron2's SGD, plus whole-model gradient clipping) and the epoch schedule."""
import math

import torch

from detectron2.solver import build_optimizer as build_d2_optimizer
from detectron2.solver.build import get_default_optimizer_params

from .data.build import iters_per_epoch

#: ``SOLVER.CLIP_GRADIENTS.CLIP_TYPE`` value that clips the L2 norm of all the model's
#: gradients together (as mmcv's ``OptimizerHook(grad_clip=...)`` and Mask2Former's trainer).
#: detectron2's own "norm" type clips each parameter on its own: a different, weaker rule.
FULL_MODEL = "full_model"


def maybe_add_full_model_gradient_clipping(cfg, optimizer_cls):
    """
    ``optimizer_cls``, or a subclass of it whose ``step`` first clips the norm
    (``SOLVER.CLIP_GRADIENTS.NORM_TYPE``) of all its parameters' gradients together to
    ``CLIP_VALUE``, when ``SOLVER.CLIP_GRADIENTS`` is enabled with CLIP_TYPE "full_model" and
    CLIP_VALUE > 0.
    """
    clip = cfg.SOLVER.CLIP_GRADIENTS
    if not (clip.ENABLED and clip.CLIP_TYPE == FULL_MODEL and clip.CLIP_VALUE > 0):
        return optimizer_cls
    max_norm, norm_type = float(clip.CLIP_VALUE), float(clip.NORM_TYPE)

    class FullModelGradientClipping(optimizer_cls):
        def step(self, closure=None):
            params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
            return super().step(closure)

    FullModelGradientClipping.__name__ = optimizer_cls.__name__ + "FullModelGradientClipping"
    return FullModelGradientClipping


def build_optimizer(cfg, model):
    """detectron2's ``build_optimizer`` (SGD, its parameter groups and its clip types), which
    also accepts ``SOLVER.CLIP_GRADIENTS.CLIP_TYPE: "full_model"``."""
    if cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE != FULL_MODEL:
        return build_d2_optimizer(cfg, model)
    params = get_default_optimizer_params(
        model,
        base_lr=cfg.SOLVER.BASE_LR,
        weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
        bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
        weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
    )
    return maybe_add_full_model_gradient_clipping(cfg, torch.optim.SGD)(
        params,
        lr=cfg.SOLVER.BASE_LR,
        momentum=cfg.SOLVER.MOMENTUM,
        nesterov=cfg.SOLVER.NESTEROV,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
    )


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
