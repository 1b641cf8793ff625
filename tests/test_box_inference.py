"""box_inference gives detectron2's fast_rcnn_inference_single_image detections exactly."""
import pytest
import torch

from detectron2.modeling.roi_heads.fast_rcnn import fast_rcnn_inference_single_image

from masktrack_d2.modeling.box_inference import box_inference, class_nms


def _case(rows, classes, agnostic, invalid, seed):
    g = torch.Generator().manual_seed(seed)
    reg = 1 if agnostic else classes
    # a few objects, each proposed many times with jitter: NMS has work in every class
    centres = torch.rand(6, 2, generator=g) * torch.tensor([300.0, 170.0])
    c = centres[torch.randint(0, 6, (rows,), generator=g)] + torch.randn(rows, 2, generator=g) * 6
    wh = torch.rand(rows, 2, generator=g) * 60 + 10
    base = torch.cat([c - wh / 2, c + wh / 2], dim=1)
    boxes = (base[:, None, :] + torch.randn(rows, reg, 4, generator=g) * 3).reshape(rows, -1)
    logits = torch.randn(rows, classes + 1, generator=g) * 3
    scores = logits.softmax(dim=1)
    if invalid:
        boxes[3, 1] = float("nan")
        scores[7, 0] = float("inf")
    return boxes, scores


@pytest.mark.parametrize("rows,classes,agnostic,invalid,thresh,topk", [
    (1000, 40, False, False, 0.05, 100),  # the table config: over torchvision's CPU threshold
    (200, 3, False, True, 0.05, 100),     # non-finite rows
    (300, 5, True, False, 0.0, -1),       # class-agnostic boxes, no cap
    (120, 3, False, False, 0.3, 10),      # under the threshold: the offset branch
    (50, 3, False, False, 1.1, 10),       # nothing passes the score threshold
])
def test_same_detections_as_detectron2(rows, classes, agnostic, invalid, thresh, topk):
    boxes, scores = _case(rows, classes, agnostic, invalid, seed=rows + classes)
    ref, _ = fast_rcnn_inference_single_image(boxes.clone(), scores.clone(), (192, 320),
                                              thresh, 0.5, topk)
    got = box_inference(boxes.clone(), scores.clone(), (192, 320), thresh, 0.5, topk)
    assert torch.equal(got.pred_boxes.tensor, ref.pred_boxes.tensor)
    assert torch.equal(got.scores, ref.scores)
    assert torch.equal(got.pred_classes, ref.pred_classes)
    if thresh < 1:
        assert len(ref) > 0
    if topk > 0 and thresh < 0.1:
        assert len(ref) == topk  # the cap is reached: NMS order matters


def test_class_nms_offset_branch_equals_torchvision():
    from torchvision.ops import batched_nms

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(400, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(400, 2, generator=g) * 40 + 1], dim=1)
    scores = torch.rand(400, generator=g)
    classes = torch.randint(0, 4, (400,), generator=g)
    for n in (0, 50, 400):  # 400 boxes: over the CPU threshold, torchvision's loop branch
        assert torch.equal(class_nms(boxes[:n], scores[:n], classes[:n], 0.5),
                           batched_nms(boxes[:n], scores[:n], classes[:n], 0.5))
