"""
A ResNet of basic blocks (R-18 / R-34 layout) of any width, with FPN.

detectron2's ``build_resnet_backbone`` fixes the width of R-18 / R-34 at 64 channels in
res2. Trained from scratch on 2 CPU cores, most of a step is that backbone; at half the
width it costs about a third as much, so a recipe gets about twice the steps in the same
time. Width is set with ``MODEL.RESNETS.STEM_OUT_CHANNELS`` (the stem) and
``MODEL.RESNETS.RES2_OUT_CHANNELS`` (res2, doubled at each later stage), as for the
bottleneck ResNets. With both at 64 the network is detectron2's R-18 / R-34, parameter for
parameter (same module names, so checkpoints load either way).
"""
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, ResNet

__all__ = ["build_basic_resnet_backbone", "build_basic_resnet_fpn_backbone"]

_BLOCKS_PER_STAGE = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}


@BACKBONE_REGISTRY.register()
def build_basic_resnet_backbone(cfg, input_shape: ShapeSpec) -> ResNet:
    """
    ResNet-18 / 34 with stem width ``STEM_OUT_CHANNELS`` and stage widths
    ``RES2_OUT_CHANNELS x (1, 2, 4, 8)``; outputs ``res2..res5`` at strides 4, 8, 16, 32
    ((N, C_k, H / s, W / s) for the stages in ``MODEL.RESNETS.OUT_FEATURES``).
    """
    r = cfg.MODEL.RESNETS
    if r.DEPTH not in _BLOCKS_PER_STAGE:
        raise ValueError("build_basic_resnet_backbone builds R-18 and R-34 (basic blocks); "
                         "MODEL.RESNETS.DEPTH is {}".format(r.DEPTH))
    if r.NUM_GROUPS != 1 or r.RES5_DILATION != 1 or any(r.DEFORM_ON_PER_STAGE):
        raise ValueError("basic-block ResNets take no groups, dilation or deformable "
                         "convolutions (MODEL.RESNETS.NUM_GROUPS / RES5_DILATION / "
                         "DEFORM_ON_PER_STAGE)")
    stem = BasicStem(input_shape.channels, r.STEM_OUT_CHANNELS, norm=r.NORM)
    names = ["res2", "res3", "res4", "res5"]
    last = max(names.index(f) for f in r.OUT_FEATURES) + 1
    stages, in_channels = [], r.STEM_OUT_CHANNELS
    for k, num_blocks in enumerate(_BLOCKS_PER_STAGE[r.DEPTH][:last]):
        out_channels = r.RES2_OUT_CHANNELS * 2 ** k
        stages.append(ResNet.make_stage(
            BasicBlock, num_blocks, in_channels=in_channels, out_channels=out_channels,
            stride_per_block=[1 if k == 0 else 2] + [1] * (num_blocks - 1), norm=r.NORM))
        in_channels = out_channels
    return ResNet(stem, stages, out_features=r.OUT_FEATURES,
                  freeze_at=cfg.MODEL.BACKBONE.FREEZE_AT)


@BACKBONE_REGISTRY.register()
def build_basic_resnet_fpn_backbone(cfg, input_shape: ShapeSpec) -> FPN:
    """:func:`build_basic_resnet_backbone` + FPN (``p2..p6``, ``MODEL.FPN.OUT_CHANNELS`` each)."""
    return FPN(
        bottom_up=build_basic_resnet_backbone(cfg, input_shape),
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=cfg.MODEL.FPN.NORM,
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
