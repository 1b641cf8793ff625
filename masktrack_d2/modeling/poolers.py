"""RoI pooling over FPN levels with a choice of the box -> level rule."""
from typing import List

import torch

from detectron2.layers import cat, nonzero_tuple
from detectron2.modeling.poolers import ROIPooler, convert_boxes_to_pooler_format
from detectron2.structures import Boxes

__all__ = ["MMDetLevelROIPooler", "build_level_pooler"]


class MMDetLevelROIPooler(ROIPooler):
    """
    :class:`ROIPooler` that sends a box of size ``s = sqrt(area)`` to FPN level
    ``min_level + floor(log2(s / 56 + 1e-6))`` (clamped to the pooler's levels), the rule of
    mmdetection's ``SingleRoIExtractor`` (``finest_scale=56``). detectron2's rule is the same
    up to its epsilon, so the two disagree only for boxes on a level boundary
    (``s`` within about 1e-6 of 112, 224 or 448).
    """

    FINEST_SCALE = 56.0

    def level_assignments(self, box_lists: List[Boxes]) -> torch.Tensor:
        """(M,) long level index of every box (0 = ``min_level``), in concatenation order."""
        sizes = torch.sqrt(cat([b.area() for b in box_lists]))
        levels = torch.floor(torch.log2(sizes / self.FINEST_SCALE + 1e-6))
        return levels.clamp(min=0, max=len(self.level_poolers) - 1).to(torch.int64)

    def forward(self, x: List[torch.Tensor], box_lists: List[Boxes]) -> torch.Tensor:
        """
        Args:
            x: per level, (N, C, H_l, W_l) feature maps.
            box_lists: N Boxes in input-image coordinates.
        Returns:
            (M, C, output_size, output_size) pooled features, M = total number of boxes.
        """
        if len(self.level_poolers) == 1 or not box_lists:
            return super().forward(x, box_lists)
        boxes = convert_boxes_to_pooler_format(box_lists)
        levels = self.level_assignments(box_lists)
        out = x[0].new_zeros((boxes.shape[0], x[0].shape[1]) + tuple(self.output_size))
        for level, pooler in enumerate(self.level_poolers):
            inds = nonzero_tuple(levels == level)[0]
            out.index_put_((inds,), pooler(x[level], boxes[inds]))
        return out


def build_level_pooler(rule: str, *, output_size: int, scales, sampling_ratio: int,
                       pooler_type: str) -> ROIPooler:
    """An FPN RoI pooler with the level rule ``rule`` ("detectron2" or "mmdet", the values
    of ``cfg.MODEL.ROI_LEVEL_MAPPING``)."""
    classes = {"detectron2": ROIPooler, "mmdet": MMDetLevelROIPooler}
    if rule not in classes:
        raise ValueError(f"MODEL.ROI_LEVEL_MAPPING must be one of {sorted(classes)}, got {rule!r}")
    return classes[rule](output_size=output_size, scales=scales, sampling_ratio=sampling_ratio,
                         pooler_type=pooler_type)
