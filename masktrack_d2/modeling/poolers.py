"""RoI pooling over FPN levels: the box -> level rule, and few host syncs.

detectron2's :class:`ROIPooler` finds each level's boxes with one ``nonzero`` per level and
builds the batch-index column with a data-dependent ``repeat_interleave``: on a GPU each of
these waits for the device (six syncs per call on four levels, three calls per video frame).
:class:`LevelROIPooler` sorts the boxes by level on the device and reads the per-level counts
once: one sync per call, and the same output, since RoIAlign pools every box on its own.
"""
from typing import List

import torch

from detectron2.layers import cat
from detectron2.modeling.poolers import ROIPooler, assign_boxes_to_levels
from detectron2.structures import Boxes

__all__ = ["LevelROIPooler", "MMDetLevelROIPooler", "build_level_pooler", "pooler_format"]


def pooler_format(box_lists: List[Boxes]) -> torch.Tensor:
    """(M, 5) rows (batch index, x0, y0, x1, y1) of N images' boxes, as detectron2's
    ``convert_boxes_to_pooler_format``, built from the boxes' shapes (known on the host)."""
    boxes = torch.cat([b.tensor for b in box_lists], dim=0)
    index = torch.cat([torch.full((len(b), 1), i, dtype=boxes.dtype, device=boxes.device)
                       for i, b in enumerate(box_lists)], dim=0)
    return torch.cat([index, boxes], dim=1)


class LevelROIPooler(ROIPooler):
    """
    :class:`ROIPooler` with detectron2's box -> level rule, pooling each level's boxes after one
    host read of the per-level counts. Subclasses change the rule through
    :meth:`level_assignments`.
    """

    def level_assignments(self, box_lists: List[Boxes]) -> torch.Tensor:
        """(M,) long level index of every box (0 = ``min_level``), in concatenation order."""
        return assign_boxes_to_levels(box_lists, self.min_level, self.max_level,
                                      self.canonical_box_size, self.canonical_level)

    def forward(self, x: List[torch.Tensor], box_lists: List[Boxes]) -> torch.Tensor:
        """
        Args:
            x: per level, (N, C, H_l, W_l) feature maps.
            box_lists: N Boxes in input-image coordinates.
        Returns:
            (M, C, output_size, output_size) pooled features, M = total number of boxes, in
            the order of ``box_lists``.
        """
        if len(self.level_poolers) == 1 or not box_lists:
            return super().forward(x, box_lists)
        boxes = pooler_format(box_lists)
        levels = self.level_assignments(box_lists)
        out = x[0].new_zeros((boxes.shape[0], x[0].shape[1]) + tuple(self.output_size))
        # a stable sort keeps each level's boxes in their order, as nonzero() lists them
        order = torch.argsort(levels, stable=True)
        # (bincount would read the largest level first: a second sync on a GPU)
        level_ids = torch.arange(len(self.level_poolers), device=levels.device)
        counts = (levels[None, :] == level_ids[:, None]).sum(dim=1).tolist()
        start = 0
        for level, (pooler, n) in enumerate(zip(self.level_poolers, counts)):
            # every level is pooled, even for no box, as detectron2 does: each map stays in
            # the autograd graph
            inds = order[start:start + n]
            out.index_put_((inds,), pooler(x[level], boxes[inds]))
            start += n
        return out


class MMDetLevelROIPooler(LevelROIPooler):
    """
    :class:`LevelROIPooler` that sends a box of size ``s = sqrt(area)`` to FPN level
    ``min_level + floor(log2(s / 56 + 1e-6))`` (clamped to the pooler's levels), the rule of
    mmdetection's ``SingleRoIExtractor`` (``finest_scale=56``). detectron2's rule is the same
    up to its epsilon, so the two disagree only for boxes on a level boundary
    (``s`` within about 1e-6 of 112, 224 or 448).
    """

    FINEST_SCALE = 56.0

    def level_assignments(self, box_lists: List[Boxes]) -> torch.Tensor:
        sizes = torch.sqrt(cat([b.area() for b in box_lists]))
        levels = torch.floor(torch.log2(sizes / self.FINEST_SCALE + 1e-6))
        return levels.clamp(min=0, max=len(self.level_poolers) - 1).to(torch.int64)


def build_level_pooler(rule: str, *, output_size: int, scales, sampling_ratio: int,
                       pooler_type: str) -> ROIPooler:
    """An FPN RoI pooler with the level rule ``rule`` ("detectron2" or "mmdet", the values
    of ``cfg.MODEL.ROI_LEVEL_MAPPING``)."""
    classes = {"detectron2": LevelROIPooler, "mmdet": MMDetLevelROIPooler}
    if rule not in classes:
        raise ValueError(f"MODEL.ROI_LEVEL_MAPPING must be one of {sorted(classes)}, got {rule!r}")
    return classes[rule](output_size=output_size, scales=scales, sampling_ratio=sampling_ratio,
                         pooler_type=pooler_type)
