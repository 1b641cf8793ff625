"""The RPN's proposal selection with two host reads per image.

detectron2's ``find_top_rpn_proposals`` reads from the device eight times per image on a GPU:
the finite check, the box clip's ``assert``, the empty-box count, three boolean indexings,
torchvision's host-made NMS offset and the NMS itself. :func:`top_proposals` selects the same
proposals, bit for bit, with two at inference: one index of the finite, non-empty boxes and the
NMS. Training keeps the finite check, which stops a diverged run.
"""
from typing import List, Tuple

import torch

from detectron2.modeling.proposal_generator import PROPOSAL_GENERATOR_REGISTRY
from detectron2.modeling.proposal_generator.rpn import RPN
from detectron2.structures import Boxes, Instances

from .box_inference import class_nms, clip_boxes

__all__ = ["top_proposals", "MaskTrackRPN"]


def top_proposals(proposals: List[torch.Tensor], logits: List[torch.Tensor],
                  image_sizes: List[Tuple[int, int]], nms_thresh: float, pre_nms_topk: int,
                  post_nms_topk: int, min_box_size: float, training: bool) -> List[Instances]:
    """
    Per level and image the ``pre_nms_topk`` best-scored proposals; then per image: clip, drop
    non-finite and small boxes, NMS within each level, keep the ``post_nms_topk`` best.

    Args:
        proposals: L tensors (N, Hi*Wi*A, 4), decoded XYXY boxes of every anchor.
        logits: L tensors (N, Hi*Wi*A), objectness logits.
        image_sizes: N (h, w).
        training: raise FloatingPointError on a non-finite box or score.

    Returns:
        N Instances with ``proposal_boxes`` (P, 4) and ``objectness_logits`` (P,), by
        decreasing score: detectron2's ``find_top_rpn_proposals``.
    """
    device = proposals[0].device
    batch = torch.arange(len(image_sizes), device=device)[:, None]
    top_boxes, top_scores, levels = [], [], []
    for level, (boxes_l, logits_l) in enumerate(zip(proposals, logits)):
        k = min(logits_l.shape[1], pre_nms_topk)
        # a full sort rather than topk: the order of equal logits is then detectron2's
        scores_l, order = logits_l.sort(descending=True, dim=1)
        top_scores.append(scores_l[:, :k])
        top_boxes.append(boxes_l[batch, order[:, :k]])  # (N, k, 4)
        levels.append(torch.full((k,), level, dtype=torch.int64, device=device))
    top_boxes, top_scores = torch.cat(top_boxes, dim=1), torch.cat(top_scores, dim=1)
    levels = torch.cat(levels)

    results = []
    for n, image_size in enumerate(image_sizes):
        boxes, scores = top_boxes[n], top_scores[n]
        finite = torch.isfinite(boxes).all(dim=1) & torch.isfinite(scores)
        if training and not bool(finite.all()):
            raise FloatingPointError("Predicted boxes or scores contain Inf/NaN. Training has "
                                     "diverged.")
        boxes = clip_boxes(boxes, image_size)
        size_ok = ((boxes[:, 2] - boxes[:, 0] > min_box_size)
                   & (boxes[:, 3] - boxes[:, 1] > min_box_size))
        keep = torch.nonzero(finite & size_ok)[:, 0]  # the first read
        boxes, scores, lvl = boxes[keep], scores[keep], levels[keep]
        keep = class_nms(boxes, scores, lvl, nms_thresh)[:post_nms_topk]  # the second
        res = Instances(image_size)
        res.proposal_boxes = Boxes(boxes[keep])
        res.objectness_logits = scores[keep]
        results.append(res)
    return results


@PROPOSAL_GENERATOR_REGISTRY.register()
class MaskTrackRPN(RPN):
    """detectron2's RPN (same parameters, losses and proposals) selecting its proposals with
    :func:`top_proposals`."""

    def predict_proposals(self, anchors, pred_objectness_logits, pred_anchor_deltas,
                          image_sizes):
        with torch.no_grad():
            proposals = self._decode_proposals(anchors, pred_anchor_deltas)
            return top_proposals(proposals, pred_objectness_logits, image_sizes,
                                 self.nms_thresh, self.pre_nms_topk[self.training],
                                 self.post_nms_topk[self.training], self.min_box_size,
                                 self.training)
