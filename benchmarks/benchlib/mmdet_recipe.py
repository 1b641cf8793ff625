"""mmdetection 3.3's MaskTrack R-CNN built to a masktrack_d2 config: the reference model with the
same architecture and settings, for side-by-side training (benchmarks/reference_curve.py).

Needs mmdetection (docs/mmdet_checkpoints.md says how to install it on a CPU machine);
:func:`reference_model_config` itself only reads the detectron2 config and returns a plain
dict, so what is mapped can be checked without it.
"""
from typing import Dict, List

#: the settings of a masktrack_d2 config this mapping knows; anything else is refused, so a
#: recipe change that the reference side would silently ignore fails instead
SUPPORTED = {
    "MODEL.BACKBONE.NAME": ("build_basic_resnet_fpn_backbone", "build_resnet_fpn_backbone"),
    "MODEL.RESNETS.NORM": ("BN", "FrozenBN"),
    "MODEL.ROI_BOX_HEAD.NAME": ("FastRCNNConvFCHead",),
    "MODEL.ROI_MASK_HEAD.NAME": ("MaskRCNNConvUpsampleHead",),
    "MODEL.TRACK_HEAD.NAME": ("RoIEmbedHead",),
    "MODEL.PROPOSAL_GENERATOR.NAME": ("RPN", "MaskTrackRPN"),
    "MODEL.ROI_BOX_HEAD.NORM": ("", "GN"),
    "MODEL.ROI_MASK_HEAD.NORM": ("", "GN"),
    "INPUT.FORMAT": ("BGR",),
}


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[part]
    return node


def check_supported(cfg) -> None:
    for key, allowed in SUPPORTED.items():
        value = _get(cfg, key)
        if value not in allowed:
            raise ValueError(f"the mmdetection side has no mapping for {key} = {value!r} "
                             f"(supported: {allowed})")
    if any(len(s) != 1 for s in cfg.MODEL.ANCHOR_GENERATOR.SIZES):
        raise ValueError("MODEL.ANCHOR_GENERATOR.SIZES: one size per level is mapped, got "
                         f"{cfg.MODEL.ANCHOR_GENERATOR.SIZES}")


def _assigner(pos: float, neg: float, min_pos: float) -> Dict:
    return dict(type="MaxIoUAssigner", pos_iou_thr=pos, neg_iou_thr=neg, min_pos_iou=min_pos,
                match_low_quality=True, ignore_iof_thr=-1)


def _sampler(num: int, positive_fraction: float, add_gt: bool) -> Dict:
    return dict(type="RandomSampler", num=num, pos_fraction=positive_fraction, neg_pos_ub=-1,
                add_gt_as_proposals=add_gt)


def _norm(name: str):
    # detectron2's "GN" is GroupNorm with 32 groups
    return dict(type="GN", num_groups=32, requires_grad=True) if name == "GN" else None


def reference_model_config(cfg, joint_backbone_pass: bool = False,
                           class_agnostic_rpn: bool = False) -> Dict:
    """
    The ``model`` dict of an mmdetection ``MaskTrackRCNN`` with the architecture and the train
    and test settings of the masktrack_d2 config ``cfg``: ResNet depth and widths, trainable
    or frozen BatchNorm, FPN width, anchors, RPN and RoI sampling, proposal counts, box and
    mask heads (convs, FCs, GroupNorm, class-agnostic masks), the embedding head (its LayerNorm,
    last ReLU and init through ``RecipeEmbedHead``), test thresholds and the tracker's
    weights. Pixel normalisation is the config's (BGR input, its mean and std).

    ``joint_backbone_pass``, ``class_agnostic_rpn``: the model is ``VariantMaskTrackRCNN``
    with these options (see :func:`register_recipe_modules`); with neither it is the
    reference's ``MaskTrackRCNN``.
    """
    check_supported(cfg)
    m = cfg.MODEL
    res = m.RESNETS
    depth = res.DEPTH
    basic = depth in (18, 34)
    # mmdetection derives every stage's width from base_channels (x expansion 1 or 4)
    stage_out = [res.RES2_OUT_CHANNELS * 2 ** i for i in range(4)]
    base = res.RES2_OUT_CHANNELS if basic else res.RES2_OUT_CHANNELS // 4
    if res.STEM_OUT_CHANNELS != base:
        raise ValueError(f"MODEL.RESNETS.STEM_OUT_CHANNELS {res.STEM_OUT_CHANNELS}: mmdetection's "
                         f"ResNet has a stem of base_channels = {base} channels")
    trainable_bn = res.NORM == "BN"
    frozen = m.BACKBONE.FREEZE_AT - 1 if m.BACKBONE.FREEZE_AT > 0 else -1
    fpn = m.FPN.OUT_CHANNELS
    strides = [4, 8, 16, 32, 64]
    roi_strides = strides[:4]
    num_classes = m.ROI_HEADS.NUM_CLASSES
    box, mask, track = m.ROI_BOX_HEAD, m.ROI_MASK_HEAD, m.TRACK_HEAD

    def roi_extractor(size):
        return dict(type="SingleRoIExtractor",
                    roi_layer=dict(type="RoIAlign", output_size=size, sampling_ratio=0),
                    out_channels=fpn, featmap_strides=roi_strides)

    def rpn_proposals(training: bool):
        pre = m.RPN.PRE_NMS_TOPK_TRAIN if training else m.RPN.PRE_NMS_TOPK_TEST
        post = m.RPN.POST_NMS_TOPK_TRAIN if training else m.RPN.POST_NMS_TOPK_TEST
        return dict(nms_pre=pre, max_per_img=post,
                    nms=dict(type="nms", iou_threshold=m.RPN.NMS_THRESH), min_bbox_size=0)

    detector = dict(
        type="MaskRCNN",
        backbone=dict(
            type="ResNet", depth=depth, base_channels=base, num_stages=4,
            out_indices=(0, 1, 2, 3), frozen_stages=frozen,
            norm_cfg=dict(type="BN", requires_grad=trainable_bn), norm_eval=not trainable_bn,
            style="pytorch" if basic or not res.STRIDE_IN_1X1 else "caffe"),
        neck=dict(type="FPN", in_channels=stage_out, out_channels=fpn, num_outs=5),
        rpn_head=dict(
            type="RPNHead", in_channels=fpn, feat_channels=fpn,
            anchor_generator=dict(
                type="AnchorGenerator", strides=strides, scales=[1.0],
                base_sizes=[s[0] for s in m.ANCHOR_GENERATOR.SIZES],
                ratios=list(m.ANCHOR_GENERATOR.ASPECT_RATIOS[0])),
            bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0)),
        roi_head=dict(
            type="StandardRoIHead",
            bbox_roi_extractor=roi_extractor(box.POOLER_RESOLUTION),
            bbox_head=dict(
                type="ConvFCBBoxHead", num_shared_convs=box.NUM_CONV, num_shared_fcs=box.NUM_FC,
                num_cls_convs=0, num_cls_fcs=0, num_reg_convs=0, num_reg_fcs=0,
                in_channels=fpn, conv_out_channels=box.CONV_DIM, fc_out_channels=box.FC_DIM,
                roi_feat_size=box.POOLER_RESOLUTION, num_classes=num_classes,
                norm_cfg=_norm(box.NORM),
                bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                target_stds=[1.0 / w for w in box.BBOX_REG_WEIGHTS]),
                reg_class_agnostic=box.CLS_AGNOSTIC_BBOX_REG,
                loss_cls=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type="L1Loss", loss_weight=1.0)),
            mask_roi_extractor=roi_extractor(mask.POOLER_RESOLUTION),
            mask_head=dict(
                type="FCNMaskHead", num_convs=mask.NUM_CONV, in_channels=fpn,
                conv_out_channels=mask.CONV_DIM, num_classes=num_classes,
                class_agnostic=mask.CLS_AGNOSTIC_MASK, norm_cfg=_norm(mask.NORM),
                loss_mask=dict(type="CrossEntropyLoss", use_mask=True, loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=_assigner(m.RPN.IOU_THRESHOLDS[1], m.RPN.IOU_THRESHOLDS[0],
                                   m.RPN.IOU_THRESHOLDS[0]),
                sampler=_sampler(m.RPN.BATCH_SIZE_PER_IMAGE, m.RPN.POSITIVE_FRACTION, False),
                allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=rpn_proposals(True),
            rcnn=dict(
                assigner=_assigner(*[m.ROI_HEADS.IOU_THRESHOLDS[0]] * 3),
                sampler=_sampler(m.ROI_HEADS.BATCH_SIZE_PER_IMAGE,
                                 m.ROI_HEADS.POSITIVE_FRACTION, True),
                mask_size=mask.POOLER_RESOLUTION * 2, pos_weight=-1, debug=False)),
        test_cfg=dict(
            rpn=rpn_proposals(False),
            rcnn=dict(score_thr=m.ROI_HEADS.SCORE_THRESH_TEST,
                      nms=dict(type="nms", iou_threshold=m.ROI_HEADS.NMS_THRESH_TEST),
                      max_per_img=cfg.TEST.DETECTIONS_PER_IMAGE, mask_thr_binary=0.5)))
    variant = {k: v for k, v in (("joint_backbone_pass", joint_backbone_pass),
                                 ("class_agnostic_rpn", class_agnostic_rpn)) if v}
    return dict(
        type="VariantMaskTrackRCNN" if variant else "MaskTrackRCNN", **variant,
        data_preprocessor=dict(
            type="TrackDataPreprocessor", mean=list(m.PIXEL_MEAN), std=list(m.PIXEL_STD),
            bgr_to_rgb=False, pad_mask=True, pad_size_divisor=32),
        detector=detector,
        track_head=dict(
            type="RoITrackHead",
            roi_extractor=roi_extractor(box.POOLER_RESOLUTION),
            embed_head=dict(
                type="RecipeEmbedHead", num_fcs=track.NUM_FC, roi_feat_size=box.POOLER_RESOLUTION,
                in_channels=fpn, fc_out_channels=track.FC_DIM, last_relu=track.LAST_RELU,
                layer_norm=track.NORM == "LN", normal_init=track.INIT == "normal",
                loss_match=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=False,
                                loss_weight=track.LOSS_WEIGHT)),
            # the reference's own track-head sampling (masktrack_d2's SEPARATE_SAMPLING default)
            train_cfg=dict(assigner=_assigner(0.5, 0.5, 0.5), sampler=_sampler(128, 0.25, True),
                           pos_weight=-1, debug=False)),
        tracker=dict(
            type="MaskTrackRCNNTracker",
            match_weights=dict(zip(("det_score", "iou", "det_label"),
                                   cfg.TEST.TRACKER.MATCH_WEIGHTS)),
            num_frames_retain=cfg.TEST.TRACKER.NUM_FRAMES_RETAIN))


def register_recipe_modules() -> None:
    """
    Register two modules in mmdetection's registry:

    - ``RecipeEmbedHead``: mmdetection's ``RoIEmbedHead`` with the options of masktrack_d2's
      (a LayerNorm before each ReLU, the last ReLU optional, N(0, 0.01) init), which the
      reference head lacks. Without them it is the reference head itself.
    - ``VariantMaskTrackRCNN``: the reference ``MaskTrackRCNN`` with two optional changes
      to its training step, everything else being the reference's own ``loss``:
      ``joint_backbone_pass`` runs the key and the reference frames through the backbone in
      one pass, so that trainable BatchNorm normalises over all 2N images as masktrack_d2's
      does (the reference makes two passes of N; with its frozen BatchNorm the two are the
      same); ``class_agnostic_rpn`` gives the RPN every ground-truth box as class 0, as
      mmdetection's own two-stage detectors do. mmdetection 3.3's ``MaskTrackRCNN.loss``
      passes the key frame's class labels to the RPN unchanged, and its sigmoid objectness
      loss then counts only objects of the first category as foreground: those of every
      other category become negatives.
    """
    import copy

    import torch
    from torch import nn
    from mmdet.models.tracking_heads import RoIEmbedHead
    from mmdet.models.vis import MaskTrackRCNN
    from mmdet.registry import MODELS

    if "RecipeEmbedHead" in MODELS.module_dict:
        return

    @MODELS.register_module()
    class VariantMaskTrackRCNN(MaskTrackRCNN):
        def __init__(self, *args, joint_backbone_pass: bool = False,
                     class_agnostic_rpn: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.joint_backbone_pass = joint_backbone_pass
            self.class_agnostic_rpn = class_agnostic_rpn

        def loss(self, inputs: torch.Tensor, data_samples, **kwargs):
            # Both variants wrap a step of the reference's own loss for its duration.
            patched = []
            if self.joint_backbone_pass:
                # inputs: (N, 2, C, H, W), key frame first (benchlib/mmdet_inputs.py)
                n = inputs.shape[0]
                feats = self.detector.extract_feat(torch.cat([inputs[:, 0], inputs[:, 1]]))
                passes = [tuple(f[:n] for f in feats), tuple(f[n:] for f in feats)]
                # the loss asks for the key frames' features first, then the reference's
                self.detector.extract_feat = lambda imgs: passes.pop(0)
                patched.append((self.detector, "extract_feat"))
            if self.class_agnostic_rpn:
                rpn = self.detector.rpn_head
                released = rpn.loss_and_predict

                def agnostic(x, samples, **kw):
                    samples = copy.deepcopy(samples)
                    for sample in samples:  # as TwoStageDetector.loss does for its RPN
                        sample.gt_instances.labels = torch.zeros_like(
                            sample.gt_instances.labels)
                    return released(x, samples, **kw)

                rpn.loss_and_predict = agnostic
                patched.append((rpn, "loss_and_predict"))
            try:
                return super().loss(inputs, data_samples, **kwargs)
            finally:
                for obj, name in patched:
                    delattr(obj, name)

    @MODELS.register_module()
    class RecipeEmbedHead(RoIEmbedHead):
        def __init__(self, *args, last_relu: bool = True, layer_norm: bool = False,
                     normal_init: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.last_relu = last_relu
            num_relu = self.num_fcs if last_relu else self.num_fcs - 1
            if layer_norm:
                self.norms = nn.ModuleList(nn.LayerNorm(self.fc_out_channels)
                                           for _ in range(num_relu))
            else:
                self.norms = None
            if normal_init:
                for fc in self.fcs:
                    nn.init.normal_(fc.weight, std=0.01)
                    nn.init.zeros_(fc.bias)

        def extract_feat(self, x: torch.Tensor, num_x_per_img: List[int]):
            if self.num_convs > 0 or self.with_avg_pool:
                raise NotImplementedError("RecipeEmbedHead: FCs only")
            x = x.flatten(1)
            for i, fc in enumerate(self.fcs):
                x = fc(x)
                if i < self.num_fcs - 1 or self.last_relu:
                    if self.norms is not None:
                        x = self.norms[i](x)
                    x = self.relu(x)
            return torch.split(x, num_x_per_img, dim=0)
