"""MaskTrackRPN's proposal selection (top_proposals) against detectron2's
find_top_rpn_proposals: the same proposals, bit for bit, with two device reads per image."""
import pytest
import torch

from detectron2.modeling.proposal_generator.proposal_utils import find_top_rpn_proposals

from masktrack_d2.modeling.proposals import top_proposals


def inputs(seed, n_images=2, sizes=(300, 120, 40, 12), spoil=0):
    """Per level (N, M, 4) boxes around random centres (some tiny, some outside the image)
    and (N, M) logits; ``spoil`` boxes / logits per image set to NaN or inf."""
    g = torch.Generator().manual_seed(seed)
    boxes, logits = [], []
    for m in sizes:
        c = torch.rand(n_images, m, 2, generator=g) * 400 - 50
        wh = torch.rand(n_images, m, 2, generator=g) * 120 * (torch.rand(n_images, m, 1,
                                                                           generator=g) > 0.1)
        boxes.append(torch.cat([c - wh / 2, c + wh / 2], dim=2))
        logits.append(torch.randn(n_images, m, generator=g))
    for i in range(spoil):
        boxes[i % len(sizes)][i % n_images, i, i % 4] = (float("nan"), float("inf"),
                                                         -float("inf"))[i % 3]
        logits[(i + 1) % len(sizes)][i % n_images, i + 1] = float("nan") if i % 2 else float(
            "inf")
    return boxes, logits


@pytest.mark.parametrize("seed,spoil,pre,post,min_size,sizes", [
    (0, 0, 200, 200, 0.0, (300, 120, 40, 12)), (1, 0, 50, 100, 0.0, (300, 120, 40, 12)),
    (2, 6, 200, 300, 2.0, (300, 120, 40, 12)), (3, 0, 1000, 1000, 0.5, (300, 120, 40, 12)),
    (4, 9, 30, 20, 0.0, (300, 120, 40, 12)),
    # more than 1000 boxes: torchvision's per-level NMS loop on the CPU
    (5, 3, 1000, 1000, 0.0, (3000, 800, 200))])
def test_same_proposals_as_detectron2(seed, spoil, pre, post, min_size, sizes):
    boxes, logits = inputs(seed, sizes=sizes, spoil=spoil)
    sizes = [(256, 320), (300, 200)]
    ref = find_top_rpn_proposals(boxes, logits, sizes, 0.7, pre, post, min_size, False)
    ours = top_proposals(boxes, logits, sizes, 0.7, pre, post, min_size, False)
    for r, o in zip(ref, ours):
        assert o.image_size == r.image_size
        assert torch.equal(o.proposal_boxes.tensor, r.proposal_boxes.tensor)
        assert torch.equal(o.objectness_logits, r.objectness_logits)
        assert len(o) > 0


def test_training_stops_on_non_finite_proposals_as_detectron2_does():
    boxes, logits = inputs(5, spoil=1)
    with pytest.raises(FloatingPointError, match="diverged"):
        top_proposals(boxes, logits, [(256, 320)] * 2, 0.7, 200, 200, 0.0, True)
    boxes, logits = inputs(5)
    ref = find_top_rpn_proposals(boxes, logits, [(256, 320)] * 2, 0.7, 200, 200, 0.0, True)
    ours = top_proposals(boxes, logits, [(256, 320)] * 2, 0.7, 200, 200, 0.0, True)
    assert all(torch.equal(a.proposal_boxes.tensor, b.proposal_boxes.tensor)
               for a, b in zip(ref, ours))


def test_the_config_builds_it():
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from masktrack_d2.config import add_masktrack_config, get_config_file

    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(get_config_file("quickstart/masktrack_R_18_FPN_synthetic.yaml"))
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)
    assert type(model.proposal_generator).__name__ == "MaskTrackRPN"
