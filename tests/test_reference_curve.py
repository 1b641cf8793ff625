"""The side-by-side training against mmdetection (benchmarks/reference_curve.py): the reference
model built to a masktrack_d2 config, and our weights copied into it.

Without mmdetection: the recorded layout of the reference model for the hard-mode config
(tests/fixtures/mmdet_golden/recipe_model_keys.json, written by ``reference_curve.py --layout``)
must map, through the checkpoint converter, onto exactly the tensors of masktrack_d2's model of
that config. With mmdetection (slow): the copied model computes the same features and the same
RPN outputs as ours on one frame, and one side-by-side training step and evaluation run.
"""
import importlib.util
import json
import os
import sys

import pytest
import torch

from detectron2.engine import default_argument_parser
from detectron2.modeling import build_model

from masktrack_d2.engine import build_cfg
from masktrack_d2.mmdet_import import check_fits, convert_mmdet_state_dict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))
from benchlib.mmdet_recipe import check_supported, reference_model_config  # noqa: E402

HARD = os.path.join(REPO, "configs", "quickstart", "masktrack_R_18_FPN_synthetic_hard.yaml")
LAYOUT = os.path.join(REPO, "tests", "fixtures", "mmdet_golden", "recipe_model_keys.json")
HAS_MMDET = importlib.util.find_spec("mmdet") is not None


def _cfg(path=HARD, opts=()):
    cfg, _ = build_cfg(default_argument_parser().parse_args(["--config-file", path, *opts]),
                       training=False)
    return cfg


def test_recorded_reference_layout_maps_onto_our_model():
    with open(LAYOUT) as f:
        fixture = json.load(f)
    assert fixture["config"] == os.path.relpath(HARD, REPO)
    g = torch.Generator().manual_seed(0)
    sd = {k: torch.randn(shape, generator=g) if shape else torch.tensor(0)
          for k, shape in fixture["keys"].items()}
    renamed, report = convert_mmdet_state_dict(sd, LAYOUT)
    assert report.leftover == []
    assert all(k.endswith("num_batches_tracked") for k in report.ignored)
    ours = build_model(_cfg())
    expected = {k: v.shape for k, v in ours.state_dict().items()
                if not k.endswith("num_batches_tracked")}
    check_fits(renamed, expected, LAYOUT)  # every tensor, same shapes, nothing more
    # the recipe's extras found their place: GroupNorm heads and the track head's LayerNorm
    for key in ("roi_heads.box_head.conv2.norm.weight", "roi_heads.mask_head.mask_fcn1.norm.bias",
                "roi_heads.track_head.norms.0.weight"):
        assert key in renamed


def test_reference_config_follows_the_recipe():
    m = reference_model_config(_cfg())
    det = m["detector"]
    # half-width R-18: mmdetection derives the stage widths from base_channels
    assert (det["backbone"]["depth"], det["backbone"]["base_channels"]) == (18, 32)
    assert det["neck"]["in_channels"] == [32, 64, 128, 256]
    assert det["backbone"]["norm_cfg"]["requires_grad"] and not det["backbone"]["norm_eval"]
    assert det["rpn_head"]["anchor_generator"]["base_sizes"] == [16, 32, 64, 128, 256]
    assert det["roi_head"]["bbox_head"]["norm_cfg"]["type"] == "GN"
    assert det["roi_head"]["mask_head"]["class_agnostic"] is True
    assert det["roi_head"]["bbox_head"]["bbox_coder"]["target_stds"] == [0.1, 0.1, 0.2, 0.2]
    embed = m["track_head"]["embed_head"]
    assert (embed["last_relu"], embed["layer_norm"], embed["normal_init"]) == (False, True, True)
    # the paper's settings of the base config stay the reference's own
    base = reference_model_config(_cfg(os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN.yaml")))
    assert base["detector"]["backbone"]["frozen_stages"] == 1
    assert base["detector"]["backbone"]["norm_eval"] is True
    assert base["detector"]["backbone"]["style"] == "caffe"
    assert base["track_head"]["embed_head"]["last_relu"] is True


def test_unmapped_recipe_settings_are_refused():
    with pytest.raises(ValueError, match="MODEL.ROI_BOX_HEAD.NORM"):
        check_supported(_cfg(opts=["MODEL.ROI_BOX_HEAD.NORM", "SyncBN"]))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MMDET, reason="mmdetection 3.3 is not installed")
def test_copied_reference_model_computes_our_features(tmp_path):
    from reference_curve import build_reference_model

    from benchlib.mmdet_inputs import test_frame

    cfg = _cfg()
    ours = build_model(cfg).eval()
    theirs = build_reference_model(cfg, ours).eval()
    image = torch.randint(0, 256, (3, 192, 341), dtype=torch.uint8)
    with torch.no_grad():
        ours_feats = ours.backbone(ours.preprocess_image([{"image": image}]).tensor)
        data = theirs.data_preprocessor(test_frame(
            {"image": image, "height": 360, "width": 640, "frame_idx": 0}, 1), False)
        theirs_feats = theirs.detector.extract_feat(data["inputs"][:, 0])
    assert len(theirs_feats) == 5
    for level, theirs_level in zip(("p2", "p3", "p4", "p5", "p6"), theirs_feats):
        torch.testing.assert_close(theirs_level, ours_feats[level], rtol=1e-4, atol=1e-4)


def _pair_item(classes, seed=0):
    """A frame pair with two boxes (and masks) of the given classes on both frames."""
    from detectron2.structures import BitMasks, Boxes, Instances

    g = torch.Generator().manual_seed(seed)
    h, w = 192, 320
    boxes = torch.tensor([[40.0, 30.0, 120.0, 110.0], [180.0, 60.0, 260.0, 150.0]])

    def instances(with_masks):
        inst = Instances((h, w))
        inst.gt_boxes = Boxes(boxes.clone())
        inst.gt_classes = torch.tensor(classes)
        inst.gt_instance_ids = torch.tensor([1, 2])
        if with_masks:
            masks = torch.zeros(2, h, w, dtype=torch.bool)
            for m, (x0, y0, x1, y1) in zip(masks, boxes.long().tolist()):
                m[y0:y1, x0:x1] = True
            inst.gt_masks = BitMasks(masks)
        return inst

    image = lambda: torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)  # noqa: E731
    return {"image": image(), "instances": instances(True), "frame_idx": 0,
            "ref_image": image(), "ref_instances": instances(False), "ref_frame_idx": 1,
            "height": h, "width": w}


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MMDET, reason="mmdetection 3.3 is not installed")
def test_released_reference_rpn_counts_other_categories_as_background():
    """With every RPN logit at +10 ("object" everywhere), a sampled anchor costs ~0 where the
    loss calls it foreground and ~10 where it calls it background. mmdetection 3.3's
    MaskTrackRCNN calls every anchor background when no box is of category 0; the
    class-agnostic variant (and masktrack_d2) count the positive anchors as foreground."""
    from detectron2.utils.events import EventStorage
    from reference_curve import build_reference_model, loss_values

    from benchlib.mmdet_inputs import training_batch

    cfg = _cfg()
    batch = [_pair_item([2, 4])]
    ours = build_model(cfg)
    for head in (ours.proposal_generator.rpn_head.objectness_logits,):
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.constant_(head.bias, 10.0)
    rpn_cls = {}
    for name, variant in (("released", None), ("agnostic", {"class_agnostic_rpn": True})):
        model = build_reference_model(cfg, ours, variant).train()
        data = model.data_preprocessor(training_batch(batch), True)
        _, values = loss_values(model.loss(data["inputs"], data["data_samples"]))
        rpn_cls[name] = values["loss_rpn_cls"]
    with EventStorage(0):
        rpn_cls["ours"] = float(ours.train()(batch)["loss_rpn_cls"])
    background = float(torch.nn.functional.softplus(torch.tensor(10.0)))  # -log(1 - sigmoid(10))
    assert rpn_cls["released"] == pytest.approx(background, rel=1e-4)
    # positives (about a tenth of the 64 sampled anchors here) cost nothing
    assert rpn_cls["agnostic"] < 0.97 * background
    assert rpn_cls["ours"] < 0.97 * background
