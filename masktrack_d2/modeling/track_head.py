"""The tracking branch: RoI features -> embedding -> match logits against a reference set."""
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.utils.registry import Registry

from .matching import match_logits

TRACK_HEAD_REGISTRY = Registry("TRACK_HEAD")
TRACK_HEAD_REGISTRY.__doc__ = """
Registry for tracking heads: modules mapping pooled RoI features (R, C, H, W) to
embeddings (R, D) whose dot products score identity matches.
"""


def build_track_head(cfg, input_shape: ShapeSpec):
    return TRACK_HEAD_REGISTRY.get(cfg.MODEL.TRACK_HEAD.NAME)(cfg, input_shape)


@TRACK_HEAD_REGISTRY.register()
class RoIEmbedHead(nn.Module):
    """
    Flatten -> NUM_FC x (FC FC_DIM -> ReLU), the last ReLU optional (paper Sec. 3.1, MMT's
    RoIEmbedHead). Weights are not shared with the box head's FCs.

    ``norm`` (``MODEL.TRACK_HEAD.NORM``: "LN" = LayerNorm over each RoI's FC_DIM units; "" =
    none, as both references) normalises each FC output that a ReLU follows. Trained
    from scratch without it, the first FC can end with every pre-activation negative for every
    RoI: the ReLUs pass nothing, the embedding is one constant vector, and no gradient revives
    it. Normalised, about half of the units of every RoI stay on.
    """

    @configurable
    def __init__(self, input_shape: ShapeSpec, *, num_fc: int, fc_dim: int, last_relu: bool,
                 init: str = "default", norm: str = ""):
        super().__init__()
        in_dim = input_shape.channels * (input_shape.height or 1) * (input_shape.width or 1)
        self.fcs = nn.ModuleList()
        for _ in range(num_fc):
            self.fcs.append(nn.Linear(in_dim, fc_dim))
            in_dim = fc_dim
        self.last_relu = last_relu
        num_relu = num_fc if last_relu else num_fc - 1
        if norm not in ("", "LN"):
            raise ValueError(f"MODEL.TRACK_HEAD.NORM must be '' or 'LN', got {norm!r}")
        # No module at all without a norm: checkpoints keep their keys.
        self.norms = nn.ModuleList(nn.LayerNorm(fc_dim) for _ in range(num_relu)) if norm \
            else None
        self.output_dim = in_dim
        if init == "normal":  # ORIG: N(0, 0.01), zero bias
            for fc in self.fcs:
                nn.init.normal_(fc.weight, std=0.01)
                nn.init.zeros_(fc.bias)
        elif init != "default":
            raise ValueError(f"MODEL.TRACK_HEAD.INIT must be 'default' or 'normal', got {init!r}")

    @classmethod
    def from_config(cls, cfg, input_shape):
        th = cfg.MODEL.TRACK_HEAD
        return {"input_shape": input_shape, "num_fc": th.NUM_FC, "fc_dim": th.FC_DIM,
                "last_relu": th.LAST_RELU, "init": th.INIT, "norm": th.NORM}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Args:
            x: (R, C, H, W) pooled RoI features.
        Returns:
            (R, D) embeddings.
        """
        x = x.flatten(1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.fcs) - 1 or self.last_relu:
                if self.norms is not None:
                    x = self.norms[i](x)
                x = F.relu(x)
        return x


def match_targets(key_ids: torch.Tensor, ref_ids: torch.Tensor) -> torch.Tensor:
    """
    Args:
        key_ids: (P,) instance id of the key-frame ground truth each positive RoI is assigned to.
        ref_ids: (M,) instance ids of the reference frame's ground truth, in memory order.
    Returns:
        (P,) long targets in [0, M]: j + 1 where key_ids[p] == ref_ids[j], 0 ("new") where the
        instance is absent from the reference frame.
    """
    if ref_ids.numel() == 0 or key_ids.numel() == 0:
        return torch.zeros_like(key_ids, dtype=torch.long)
    eq = key_ids[:, None] == ref_ids[None, :]
    # instance ids are unique within a frame, so at most one column matches
    return torch.where(eq.any(dim=1), eq.float().argmax(dim=1) + 1, torch.zeros_like(key_ids))


def match_loss(key_embeds: List[torch.Tensor], ref_embeds: List[torch.Tensor],
               targets: List[torch.Tensor], norm: str = "matched"):
    """
    Softmax cross-entropy over [new, ref_1..ref_M] per positive RoI (docs/method.md,
    "Match targets and loss"), in float32 (:func:`match_logits`), for the whole batch at once.

    The N images are scored in one product of all positives against all references, with a
    -inf logit wherever the two belong to different images: the softmax of each row is then
    exactly its own image's, and the step costs a fixed number of kernels and one host sync
    (the logged accuracy) whatever N is.

    Args:
        key_embeds: per image (P_i, D) embeddings of positive key-frame RoIs.
        ref_embeds: per image (M_i, D) embeddings of the reference ground-truth boxes.
        targets: per image (P_i,) long targets from :func:`match_targets`.
        norm: "matched" (MMT: divide by #targets > 0, min 1) or "positives" (ORIG: by P_i, min 1).
    Returns:
        (loss, accuracy): the mean over images of the per-image normalised loss (a float32
        scalar tensor), and the fraction of positives whose argmax equals the target (a float,
        for logging).
    """
    if norm not in ("matched", "positives"):
        raise ValueError(f"MODEL.TRACK_HEAD.LOSS_NORM must be 'matched' or 'positives', got {norm!r}")
    num_images = len(key_embeds)
    x, ref = torch.cat(key_embeds), torch.cat(ref_embeds)
    device = x.device

    def image_index(parts):
        return torch.cat([torch.full((len(p),), i, dtype=torch.long, device=device)
                          for i, p in enumerate(parts)])

    key_img, ref_img = image_index(key_embeds), image_index(ref_embeds)
    # Targets j > 0 of image i point at column 1 + (references of images < i) + j - 1.
    offsets, total = [], 0
    for ref_i in ref_embeds:
        offsets.append(total)
        total += len(ref_i)
    t = torch.cat([torch.where(t_i > 0, t_i + off, t_i) for t_i, off in zip(targets, offsets)])

    logits = match_logits(x, ref)  # (P, M + 1), float32
    other_image = key_img[:, None] != ref_img[None, :]
    logits = torch.cat([logits[:, :1], logits[:, 1:].masked_fill(other_image, float("-inf"))],
                       dim=1)
    ce = F.cross_entropy(logits, t, reduction="none")  # (P,)
    counted = (t > 0).float() if norm == "matched" else torch.ones_like(ce)
    denom = torch.zeros(num_images, device=device).index_add_(0, key_img, counted)
    loss = (ce / denom.clamp(min=1)[key_img]).sum() / max(num_images, 1)
    correct = (logits.argmax(dim=1) == t).sum()
    return loss, correct.item() / max(t.numel(), 1)
