"""Data-dependent initialisation of the backbone's normalisation statistics.

A randomly initialised ResNet with ``FrozenBN`` (detectron2's default for R-50 / R-101) has
identity norms: every activation keeps whatever scale the random convolutions give it, and
through 50 layers the FPN maps reach thousands. Training from there diverges (a classification
loss of hundreds at the first step). Real training starts from a pretrained checkpoint; where
none is at hand (a GPU check, a benchmark) the statistics of each norm layer are set from the
activations it sees on a few real frames, so that every normalised activation starts with zero
mean and unit variance. The weights stay random.
"""
from typing import Dict, List

import torch
from torch import nn

from detectron2.layers import FrozenBatchNorm2d

__all__ = ["calibrate_backbone_norms"]


@torch.no_grad()
def calibrate_backbone_norms(model: nn.Module, batched_inputs: List[Dict]) -> int:
    """
    Set ``running_mean`` / ``running_var`` of every FrozenBN and BatchNorm layer of
    ``model.backbone`` to the per-channel mean and variance of that layer's input, in one
    forward pass over ``batched_inputs``. The layers are set in forward order, each before it
    runs, so each one sees inputs already normalised by the layers before it.

    Args:
        model: a GeneralizedRCNN-like model (``preprocess_image`` and ``backbone``).
        batched_inputs: model inputs, each {"image": (C, H, W) uint8 tensor} at network size.
    Returns:
        the number of layers set (0: the backbone has no such layer, nothing changed).
    """
    norms = [m for m in model.backbone.modules()
             if isinstance(m, (FrozenBatchNorm2d, nn.modules.batchnorm._BatchNorm))]

    def set_from_input(module, inputs):
        x = inputs[0].float()
        module.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        module.running_var.copy_(x.var(dim=(0, 2, 3)).clamp(min=1e-5))

    handles = [m.register_forward_pre_hook(set_from_input) for m in norms]
    was_training = model.training
    model.eval()  # BatchNorm normalises with the statistics just set, as FrozenBN does
    try:
        images = model.preprocess_image(batched_inputs)
        model.backbone(images.tensor)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return len(norms)
