"""Initialising MaskTrack R-CNN from a COCO Mask R-CNN checkpoint (docs/method.md, "Solver and
schedule"), and the configs of the model table."""
import glob
import logging
import os
import pickle
import re

import pytest
import torch

from detectron2 import model_zoo
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog
from detectron2.modeling import GeneralizedRCNN, build_model

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.modeling import MaskTrackRCNN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(REPO, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")


def tiny_cfg(meta_arch, roi_heads, num_classes):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(QUICKSTART)
    cfg.merge_from_list([
        "MODEL.DEVICE", "cpu",
        "MODEL.META_ARCHITECTURE", meta_arch,
        "MODEL.ROI_HEADS.NAME", roi_heads,
        "MODEL.ROI_HEADS.NUM_CLASSES", num_classes,
        "MODEL.FPN.OUT_CHANNELS", 32,
        "MODEL.ROI_BOX_HEAD.FC_DIM", 32,
        "MODEL.ROI_MASK_HEAD.CONV_DIM", 32,
        "MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK", False,  # the model table's class-specific masks
        "MODEL.TRACK_HEAD.FC_DIM", 32,
    ])
    return cfg


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module", params=["pth", "pkl"])
def loaded(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(1)
    coco = build_model(tiny_cfg("GeneralizedRCNN", "StandardROIHeads", 80))
    assert type(coco) is GeneralizedRCNN
    if request.param == "pth":  # a detectron2 training checkpoint
        DetectionCheckpointer(coco, save_dir=str(out)).save("coco_mask_rcnn")
        path = os.path.join(str(out), "coco_mask_rcnn.pth")
    else:  # the model-zoo format of the detectron2:// files: numpy arrays + __author__
        path = os.path.join(str(out), "model_final.pkl")
        with open(path, "wb") as f:
            pickle.dump({"model": {k: v.numpy() for k, v in coco.state_dict().items()},
                         "__author__": "Detectron2 Model Zoo"}, f)
    assert os.path.isfile(path)
    saved = {k: v.clone() for k, v in coco.state_dict().items()}

    torch.manual_seed(2)
    model = build_model(tiny_cfg("MaskTrackRCNN", "MaskTrackROIHeads", 3))
    assert isinstance(model, MaskTrackRCNN)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    checkpointer = DetectionCheckpointer(model)
    handler = _ListHandler()
    checkpointer.logger.addHandler(handler)
    old_level = checkpointer.logger.level
    checkpointer.logger.setLevel(logging.DEBUG)
    try:
        # what train_net does through DefaultTrainer.resume_or_load(resume=False)
        checkpointer.resume_or_load(path, resume=False)
    finally:
        checkpointer.logger.removeHandler(handler)
        checkpointer.logger.setLevel(old_level)
    after = model.state_dict()
    return saved, before, after, "\n".join(handler.messages)


def _keys(state, prefix):
    keys = [k for k in state if k.startswith(prefix)]
    assert keys, prefix
    return keys


@pytest.mark.parametrize("prefix", [
    "backbone.",
    "proposal_generator.",
    "roi_heads.box_head.",
    "roi_heads.mask_head.mask_fcn",
    "roi_heads.mask_head.deconv",
])
def test_shared_parts_are_loaded(loaded, prefix):
    saved, before, after, _ = loaded
    keys = _keys(after, prefix)
    for k in keys:
        assert k in saved, k
        assert torch.equal(after[k], saved[k]), k
    # and loading changed them (different random init before)
    assert any(not torch.equal(before[k], saved[k]) for k in keys if before[k].is_floating_point())


@pytest.mark.parametrize("key,new_shape", [
    ("roi_heads.box_predictor.cls_score.weight", (4, 32)),
    ("roi_heads.box_predictor.cls_score.bias", (4,)),
    ("roi_heads.box_predictor.bbox_pred.weight", (12, 32)),
    ("roi_heads.box_predictor.bbox_pred.bias", (12,)),
    ("roi_heads.mask_head.predictor.weight", (3, 32, 1, 1)),
    ("roi_heads.mask_head.predictor.bias", (3,)),
])
def test_class_specific_layers_keep_fresh_init(loaded, key, new_shape):
    saved, before, after, _ = loaded
    assert tuple(after[key].shape) == new_shape
    assert tuple(saved[key].shape) != new_shape  # 80 classes in the checkpoint
    assert torch.equal(after[key], before[key])


def test_track_head_untouched(loaded):
    saved, before, after, _ = loaded
    keys = _keys(after, "roi_heads.track_head.")
    assert not any(k in saved for k in keys)
    for k in keys:
        assert torch.equal(after[k], before[k]), k


def test_log_names_skipped_and_missing_keys(loaded):
    _, _, _, log = loaded
    for key in ("roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.bbox_pred.weight",
                "roi_heads.mask_head.predictor.weight"):
        assert re.search(r"Skip loading parameter '{}'.*incompatible shapes".format(re.escape(key)), log), key
    assert "not found in the checkpoint" in log
    missing_part = log[log.index("not found in the checkpoint"):]
    assert "roi_heads.track_head" in missing_part
    # the shared parts are not reported as missing
    assert "roi_heads.box_head" not in missing_part


# ------------------------------------------------------------------------------ model table configs
# the table's configs; variants such as *_12e_orig.yaml (the original code's settings) inherit one
TABLE = sorted(glob.glob(os.path.join(REPO, "configs", "youtubevis_*", "masktrack_rcnn_*_FPN_12e.yaml")))
ZOO = {
    "R_50": ("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_1x.yaml", 50),
    "R_101": ("COCO-InstanceSegmentation/mask_rcnn_R_101_FPN_3x.yaml", 101),
    "X_101": ("COCO-InstanceSegmentation/mask_rcnn_X_101_32x8d_FPN_3x.yaml", 101),
}


def test_table_has_three_backbones_per_year():
    names = sorted(os.path.relpath(p, os.path.join(REPO, "configs")) for p in TABLE)
    assert names == sorted(
        f"youtubevis_{y}/masktrack_rcnn_{b}_FPN_12e.yaml"
        for y in (2019, 2021) for b in ("R_50", "R_101", "X_101"))


@pytest.mark.parametrize("path", TABLE, ids=lambda p: os.path.relpath(p, REPO))
def test_table_config(path):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(path)
    year = re.search(r"youtubevis_(\d{4})", path).group(1)
    backbone = re.search(r"masktrack_rcnn_([RX]_\d+)_FPN", path).group(1)
    zoo_yaml, depth = ZOO[backbone]

    assert cfg.MODEL.META_ARCHITECTURE == "MaskTrackRCNN"
    assert cfg.MODEL.ROI_HEADS.NAME == "MaskTrackROIHeads"
    assert cfg.MODEL.ROI_HEADS.NUM_CLASSES == 40
    assert cfg.MODEL.MASK_ON
    assert tuple(cfg.DATASETS.TRAIN) == (f"ytvis_{year}_train",)
    assert tuple(cfg.DATASETS.TEST) == (f"ytvis_{year}_val",)
    registered = DatasetCatalog.list()
    assert all(n in registered for n in cfg.DATASETS.TRAIN + cfg.DATASETS.TEST)

    weights = cfg.MODEL.WEIGHTS
    assert weights.startswith("detectron2://")
    # the URL is the detectron2 model zoo's checkpoint of the matching Mask R-CNN
    url = model_zoo.get_checkpoint_url(zoo_yaml)
    assert url.endswith("/" + weights[len("detectron2://"):])
    assert cfg.MODEL.RESNETS.DEPTH == depth
    if backbone == "X_101":
        assert (cfg.MODEL.RESNETS.NUM_GROUPS, cfg.MODEL.RESNETS.WIDTH_PER_GROUP) == (32, 8)
        assert cfg.MODEL.RESNETS.STRIDE_IN_1X1 is False
        assert list(cfg.MODEL.PIXEL_STD) == pytest.approx([57.375, 57.120, 58.395])
    else:
        assert cfg.MODEL.RESNETS.NUM_GROUPS == 1
        assert list(cfg.MODEL.PIXEL_STD) == [1.0, 1.0, 1.0]
    # the detectron2 COCO zoo's input convention
    assert cfg.INPUT.FORMAT == "BGR"
    assert list(cfg.MODEL.PIXEL_MEAN) == pytest.approx([103.530, 116.280, 123.675])
    # backbone frozen as in the references, 12 epochs
    assert cfg.MODEL.BACKBONE.FREEZE_AT == 2 and cfg.MODEL.RESNETS.NORM == "FrozenBN"
    assert cfg.SOLVER.EPOCHS == 12
    assert cfg.OUTPUT_DIR.endswith(f"ytvis_{year}_{backbone}_FPN_12e")
