"""The switches that make the *_mmdet configs compute what mmdetection computes: resize, box
delta clamp, RoI level rule, tracker log-probability and initial best score. Each is checked
against a direct formula, and against detectron2's default where they differ."""
import math

import cv2
import numpy as np
import pytest
import torch

from detectron2.config import get_cfg
from detectron2.data import transforms as T
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.poolers import ROIPooler
from detectron2.structures import Boxes

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.data.augmentation import (
    CV2ResizeTransform, ResizeShortestEdgeCV2, build_augmentation)
from masktrack_d2.modeling.box_regression import Box2BoxTransformClampBoth
from masktrack_d2.modeling.poolers import (
    LevelROIPooler, MMDetLevelROIPooler, build_level_pooler, pooler_format)
from masktrack_d2.modeling.tracker import MaskTrackTracker


# ------------------------------------------------------------------ resize
def _mmcv_size(h, w, short=360, long=640):
    s = min(long / max(h, w), short / min(h, w))
    return int(h * s + 0.5), int(w * s + 0.5)


@pytest.mark.parametrize("h,w", [(720, 1280), (720, 1281), (480, 640), (1080, 1920), (361, 641),
                                 (1280, 720), (333, 500)])
def test_cv2_resize_size_and_pixels(h, w):
    img = np.random.RandomState(h + w).randint(0, 256, (h, w, 3), dtype=np.uint8)
    t = ResizeShortestEdgeCV2(360, 640).get_transform(img)
    assert isinstance(t, CV2ResizeTransform)
    assert (t.new_h, t.new_w) == _mmcv_size(h, w)
    out = t.apply_image(img)
    expect = cv2.resize(img, (t.new_w, t.new_h), interpolation=cv2.INTER_LINEAR)
    assert out.dtype == np.uint8 and np.array_equal(out, expect)
    boxes = t.apply_box(np.array([[0.0, 0.0, w, h]]))
    np.testing.assert_allclose(boxes, [[0, 0, t.new_w, t.new_h]], rtol=1e-6)


def test_cv2_and_pil_resize_differ_at_720p():
    """Why the switch exists: detectron2's PIL resize antialiases, cv2's does not."""
    img = np.random.RandomState(0).randint(0, 256, (720, 1280, 3), dtype=np.uint8)
    cv = ResizeShortestEdgeCV2(360, 640).get_transform(img).apply_image(img)
    pil = T.ResizeShortestEdge(360, 640).get_transform(img).apply_image(img)
    assert cv.shape == pil.shape == (360, 640, 3)
    assert np.abs(cv.astype(int) - pil.astype(int)).max() > 10


def test_cv2_resize_of_masks_and_single_channel():
    t = CV2ResizeTransform(4, 6, 2, 3)
    seg = np.array([[1, 1, 0, 0, 2, 2]] * 4, dtype=np.uint8)
    assert t.apply_segmentation(seg).shape == (2, 3)
    assert t.apply_image(np.zeros((4, 6, 1), np.uint8)).shape == (2, 3, 1)


def test_build_augmentation_follows_the_config():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST = 360, 640
    assert type(build_augmentation(cfg, is_train=False)[0]) is T.ResizeShortestEdge
    cfg.INPUT.RESIZE_IMPL = "cv2"
    train = build_augmentation(cfg, is_train=True)
    assert isinstance(train[0], ResizeShortestEdgeCV2)
    assert any(isinstance(a, T.RandomFlip) for a in train)
    cfg.INPUT.RESIZE_IMPL = "bicubic"
    with pytest.raises(ValueError, match="RESIZE_IMPL"):
        build_augmentation(cfg, is_train=False)


# ------------------------------------------------------------------ box delta clamp
def test_box_delta_clamp_both_sides():
    weights = (10.0, 10.0, 5.0, 5.0)
    boxes = torch.tensor([[10.0, 20.0, 110.0, 70.0]])
    deltas = torch.tensor([[0.0, 0.0, -40.0, 30.0]])  # dw = -8, dh = 6 after the weights
    clamp = math.log(1000.0 / 16)
    both = Box2BoxTransformClampBoth(weights).apply_deltas(deltas, boxes)[0]
    upper = Box2BoxTransform(weights).apply_deltas(deltas, boxes)[0]
    w = 100 * math.exp(-clamp)
    h = 50 * math.exp(clamp)
    np.testing.assert_allclose(both.numpy(), [60 - w / 2, 45 - h / 2, 60 + w / 2, 45 + h / 2],
                               rtol=1e-5)
    # detectron2 lets the width shrink to 100 * e^-8; the heights agree.
    assert float(upper[2] - upper[0]) == pytest.approx(100 * math.exp(-8), rel=1e-4)
    assert float(upper[3] - upper[1]) == pytest.approx(h, rel=1e-5)
    # Inside the clamp both transforms agree.
    small = torch.tensor([[0.5, -0.3, 1.0, -2.0]])
    torch.testing.assert_close(Box2BoxTransformClampBoth(weights).apply_deltas(small, boxes),
                               Box2BoxTransform(weights).apply_deltas(small, boxes))


# ------------------------------------------------------------------ RoI level rule
def _square(size):
    return Boxes(torch.tensor([[0.0, 0.0, size, size]]))


@pytest.mark.parametrize("size,mmdet_level,d2_level", [
    (50.0, 0, 0), (111.99997, 1, 0), (112.5, 1, 1), (223.99997, 2, 1), (300.0, 2, 2),
    (447.0, 2, 2), (449.0, 3, 3), (900.0, 3, 3)])
def test_level_rules(size, mmdet_level, d2_level):
    kw = dict(output_size=2, scales=(1 / 4, 1 / 8, 1 / 16, 1 / 32), sampling_ratio=0,
              pooler_type="ROIAlignV2")
    mm = build_level_pooler("mmdet", **kw)
    assert isinstance(mm, MMDetLevelROIPooler)
    assert int(mm.level_assignments([_square(size)])[0]) == mmdet_level
    assert min(max(math.floor(math.log2(size / 56 + 1e-6)), 0), 3) == mmdet_level  # the rule
    # Pooled features come from that level: each level is a constant map of its index.
    x = [torch.full((1, 1, 256 // 2 ** i, 256 // 2 ** i), float(i)) for i in range(4)]
    assert float(mm(x, [_square(size)]).mean()) == pytest.approx(mmdet_level)
    d2 = build_level_pooler("detectron2", **kw)
    assert isinstance(d2, LevelROIPooler) and not isinstance(d2, MMDetLevelROIPooler)
    assert float(d2(x, [_square(size)]).mean()) == pytest.approx(d2_level)
    with pytest.raises(ValueError, match="ROI_LEVEL_MAPPING"):
        build_level_pooler("other", **kw)


def test_mmdet_pooler_matches_detectron2_away_from_boundaries():
    kw = dict(output_size=7, scales=(1 / 4, 1 / 8, 1 / 16, 1 / 32), sampling_ratio=0,
              pooler_type="ROIAlignV2")
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(2, 3, 128 // 2 ** i, 160 // 2 ** i, generator=g) for i in range(4)]
    xy = torch.rand(2, 20, 2, generator=g) * 300
    wh = torch.rand(2, 20, 2, generator=g) * 300 + 4
    boxes = [Boxes(torch.cat([xy[i], xy[i] + wh[i]], dim=1)) for i in range(2)]
    torch.testing.assert_close(build_level_pooler("mmdet", **kw)(x, boxes),
                               build_level_pooler("detectron2", **kw)(x, boxes))


@pytest.mark.parametrize("counts", [(20, 20), (0, 7), (5, 0), (0, 0)])
def test_level_pooler_equals_detectron2s_bit_for_bit(counts):
    """The one-sync pooler gives detectron2's ROIPooler output and gradients exactly, with
    boxes on every level and images without boxes."""
    from detectron2.modeling.poolers import convert_boxes_to_pooler_format

    kw = dict(output_size=7, scales=(1 / 4, 1 / 8, 1 / 16, 1 / 32), sampling_ratio=0,
              pooler_type="ROIAlignV2")
    g = torch.Generator().manual_seed(sum(counts))
    x = [torch.randn(2, 3, 128 // 2 ** i, 160 // 2 ** i, generator=g, requires_grad=True)
         for i in range(4)]
    boxes = []
    for n in counts:
        xy = torch.rand(n, 2, generator=g) * 300
        wh = torch.rand(n, 2, generator=g) ** 2 * 600 + 4  # small and large: all four levels
        boxes.append(Boxes(torch.cat([xy, xy + wh], dim=1)))
    if sum(counts) == 40:
        levels = build_level_pooler("detectron2", **kw).level_assignments(boxes)
        assert set(levels.tolist()) == {0, 1, 2, 3}
    assert torch.equal(pooler_format(boxes), convert_boxes_to_pooler_format(boxes))
    ours = build_level_pooler("detectron2", **kw)(x, boxes)
    ref = ROIPooler(**kw)(x, boxes)
    assert ours.shape == ref.shape == (sum(counts), 3, 7, 7)
    assert torch.equal(ours, ref)
    if sum(counts):
        w = torch.randn(ref.shape, generator=g)
        grads = [torch.autograd.grad((out * w).sum(), x) for out in (ours, ref)]
        assert all(torch.equal(a, b) for a, b in zip(*grads))


# ------------------------------------------------------------------ tracker arithmetic
def _tracker(**kw):
    t = MaskTrackTracker(num_frames_retain=20, **kw)
    # one track, label 0, box at the origin
    t.step(0, torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([0.9]),
           torch.tensor([0]), torch.tensor([[1.0, 0.0]]))
    return t


def test_log_of_softmax_is_minus_inf_where_softmax_underflows():
    emb = torch.tensor([[200.0, 0.0]])  # logits [0, 200]: p(new) = e^-200 underflows in float32
    args = (torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([0.5]), torch.tensor([0]), emb)
    exact = _tracker().score_matrix(*args)
    ref = _tracker(match_log_prob="log_of_softmax").score_matrix(*args)
    assert torch.isfinite(exact).all()
    assert exact[0, 0] == pytest.approx(-200 + math.log(0.5) + 10, rel=1e-6)
    assert ref[0, 0] == -math.inf
    assert ref[0, 1] == pytest.approx(float(exact[0, 1]), abs=1e-6)
    with pytest.raises(ValueError, match="match_log_prob"):
        MaskTrackTracker(match_log_prob="softmax")


def test_initial_best_score_is_the_bar_to_take_a_track():
    det = (torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([0.9]), torch.tensor([0]),
           torch.tensor([[5.0, 0.0]]))
    # Score of the match column: log softmax([0, 5])[1] + log 0.9 + 2 * 1 + 10 ~ 11.89.
    assert _tracker().step(1, *det).tolist() == [0]
    assert _tracker(initial_best_score=-1e6).step(1, *det).tolist() == [0]
    assert _tracker(initial_best_score=12.0).step(1, *det).tolist() == [-1]
