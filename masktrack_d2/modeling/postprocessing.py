"""A video frame's tracked detections at the frame's original size, with one host read.

detectron2's ``detector_postprocess`` checks that every box is finite (a device read) and
drops empty boxes with a boolean mask applied to every field (a read per field): on a GPU
each waits for the device. :func:`frame_postprocess` does the same scaling, clipping,
filtering and mask pasting with one read, the indices of the boxes it keeps.
"""
import torch

from detectron2.structures import Instances, ROIMasks

from .box_inference import clip_boxes

__all__ = ["frame_postprocess"]


def frame_postprocess(results: Instances, output_height: int, output_width: int,
                      mask_threshold: float = 0.5) -> Instances:
    """
    Args:
        results: detections at the network input size ``results.image_size`` with
            pred_boxes (D, 4), pred_masks (D, 1, M, M) mask-head probabilities, and any other
            per-detection fields; its boxes are finite (the box head checked them).
        output_height, output_width: the frame's original size.
    Returns:
        The detections at the original size, those whose box is empty after clipping left
        out, pred_masks pasted to (D', output_height, output_width) bool: what
        ``detector_postprocess`` returns.
    """
    scale_x, scale_y = output_width / results.image_size[1], output_height / results.image_size[0]
    results = Instances((output_height, output_width), **results.get_fields())
    boxes = results.pred_boxes
    boxes.scale(scale_x, scale_y)
    boxes.tensor = clip_boxes(boxes.tensor, results.image_size)
    keep = torch.nonzero(boxes.nonempty())[:, 0]  # the one read
    if keep.numel() != len(results):
        results = results[keep]
    if results.has("pred_masks"):  # as detectron2 pastes them (its CUDA OOM retry included)
        results.pred_masks = ROIMasks(results.pred_masks[:, 0, :, :]).to_bitmasks(
            results.pred_boxes, output_height, output_width, mask_threshold).tensor
    return results
