"""build_basic_resnet_fpn_backbone: a basic-block ResNet (R-18 / R-34) of any width + FPN."""
import pytest
import torch

from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone

from masktrack_d2.config import add_masktrack_config
import masktrack_d2.modeling  # noqa: F401  (registers the backbones)


def r18_cfg(name, width=64, depth=18, norm="BN"):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.MODEL.BACKBONE.NAME = name
    cfg.MODEL.BACKBONE.FREEZE_AT = 0
    cfg.MODEL.RESNETS.DEPTH = depth
    cfg.MODEL.RESNETS.NORM = norm
    cfg.MODEL.RESNETS.STEM_OUT_CHANNELS = width
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = width
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.IN_FEATURES = ["res2", "res3", "res4", "res5"]
    cfg.MODEL.FPN.OUT_CHANNELS = 32
    return cfg


@pytest.mark.parametrize("depth", [18, 34])
def test_full_width_is_detectron2_resnet(depth):
    """At width 64 it is detectron2's R-18 / R-34 FPN: same parameter names and shapes, and
    the same outputs with the same weights."""
    torch.manual_seed(0)
    theirs = build_backbone(r18_cfg("build_resnet_fpn_backbone", depth=depth))
    ours = build_backbone(r18_cfg("build_basic_resnet_fpn_backbone", depth=depth))
    a, b = theirs.state_dict(), ours.state_dict()
    assert list(a) == list(b)
    assert all(a[k].shape == b[k].shape for k in a)
    ours.load_state_dict(a)
    theirs.eval()
    ours.eval()
    x = torch.randn(1, 3, 96, 160)
    out_a, out_b = theirs(x), ours(x)
    assert list(out_a) == list(out_b) == ["p2", "p3", "p4", "p5", "p6"]
    for k in out_a:
        torch.testing.assert_close(out_a[k], out_b[k], rtol=0, atol=0)


def test_half_width_shapes_and_cost():
    """Width 32: stages of 32 / 64 / 128 / 256 channels at strides 4-32, about a quarter of
    the parameters of width 64 (convolutions scale with the square of the width)."""
    cfg = r18_cfg("build_basic_resnet_fpn_backbone", width=32)
    slim = build_backbone(cfg)
    bottom_up = slim.bottom_up
    shapes = bottom_up.output_shape()
    assert [shapes[f].channels for f in ("res2", "res3", "res4", "res5")] == [32, 64, 128, 256]
    assert [shapes[f].stride for f in ("res2", "res3", "res4", "res5")] == [4, 8, 16, 32]
    full = build_backbone(r18_cfg("build_basic_resnet_fpn_backbone", width=64)).bottom_up
    n_slim = sum(p.numel() for p in bottom_up.parameters())
    n_full = sum(p.numel() for p in full.parameters())
    assert 0.2 < n_slim / n_full < 0.3
    out = slim(torch.randn(2, 3, 64, 96))
    assert out["p2"].shape == (2, 32, 16, 24) and out["p6"].shape == (2, 32, 1, 2)


def test_rejects_bottleneck_depth():
    with pytest.raises(ValueError, match="DEPTH is 50"):
        build_backbone(r18_cfg("build_basic_resnet_fpn_backbone", depth=50))


def test_freeze_at_freezes_stem():
    cfg = r18_cfg("build_basic_resnet_backbone", width=16)
    cfg.MODEL.BACKBONE.FREEZE_AT = 1
    net = build_backbone(cfg, ShapeSpec(channels=3))
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert all(p.requires_grad for p in net.res2.parameters())
