"""The box head's inference step (score filter, per-class NMS, top-k) with two host reads.

detectron2's ``fast_rcnn_inference_single_image`` reads from the device seven times per image
on a GPU: a finite check, the box clip's ``assert``, the filter's ``nonzero``, two boolean
indexings, torchvision's host-made NMS offset and the NMS itself. :func:`box_inference` gives
the same detections with two: the filter's indices (folded with the finite check) and the
NMS.
"""
from typing import Tuple

import torch
from torchvision.ops import nms

from detectron2.layers import batched_nms
from detectron2.structures import Boxes, Instances

__all__ = ["clip_boxes", "class_nms", "box_inference"]


def clip_boxes(boxes: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
    """(N, 4) XYXY boxes clamped to ``image_size`` (h, w), as ``Boxes.clip`` does, without its
    finite check (a device read): the callers' boxes are finite, or filtered out after."""
    h, w = image_size
    x1, y1, x2, y2 = boxes.unbind(dim=1)
    return torch.stack((x1.clamp(min=0, max=w), y1.clamp(min=0, max=h),
                        x2.clamp(min=0, max=w), y2.clamp(min=0, max=h)), dim=-1)


def class_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor,
              iou_threshold: float) -> torch.Tensor:
    """
    detectron2's ``batched_nms`` (NMS within each class; kept indices by decreasing score),
    taking torchvision's branch for the input's size and device. In the offset branch, the
    one a GPU takes for up to 25000 boxes, the offsets are computed on the device (torchvision
    copies a host scalar there first), so the NMS is the only read.

    Args:
        boxes: (N, 4) XYXY; scores: (N,); classes: (N,) long.
    Returns:
        (N',) long indices into the inputs.
    """
    threshold = 4000 if boxes.device.type == "cpu" else 100_000
    if len(boxes) >= 40000 or boxes.numel() > threshold:  # the per-class loop branches
        return batched_nms(boxes, scores, classes, iou_threshold)
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    boxes = boxes.float()
    offsets = classes.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def box_inference(boxes: torch.Tensor, scores: torch.Tensor, image_size: Tuple[int, int],
                  score_thresh: float, nms_thresh: float, topk: int) -> Instances:
    """
    One image's detections from the box head's outputs.

    Args:
        boxes: (R, C * 4) class-specific or (R, 4) class-agnostic decoded XYXY boxes.
        scores: (R, K + 1) class probabilities, the background last.
        image_size: (h, w) the boxes are clipped to.
        score_thresh, nms_thresh, topk: as ``FastRCNNOutputLayers``' test settings
            (``topk < 0``: no cap).
    Returns:
        Instances with pred_boxes (D, 4), scores (D,), pred_classes (D,): what
        ``fast_rcnn_inference_single_image`` returns, in the same order. Rows with a
        non-finite box or score are left out, as there.
    """
    valid = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores).all(dim=1)
    scores = scores[:, :-1]
    num_reg = boxes.shape[1] // 4
    boxes = clip_boxes(boxes.reshape(-1, 4), image_size).view(-1, num_reg, 4)
    # (R', 2) (row, class) of the candidates, row-major as a boolean mask selects them
    inds = ((scores > score_thresh) & valid[:, None]).nonzero()
    boxes = boxes[inds[:, 0], 0 if num_reg == 1 else inds[:, 1]]
    scores = scores[inds[:, 0], inds[:, 1]]
    keep = class_nms(boxes, scores, inds[:, 1], nms_thresh)
    if topk >= 0:
        keep = keep[:topk]
    result = Instances(image_size)
    result.pred_boxes = Boxes(boxes[keep])
    result.scores = scores[keep]
    result.pred_classes = inds[keep, 1]
    return result
