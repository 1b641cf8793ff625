"""Running an imported mmdetection MaskTrack R-CNN on frames, and comparing its tracks with
the reference's, frame by frame. Shared by the golden-fixture test and the live test.

Per-frame outputs on both sides are dicts of numpy arrays: ``boxes`` (D, 4) float XYXY at the
frame's original size, ``scores`` (D,), ``labels`` (D,) int, ``ids`` (D,) int track ids,
``masks`` (D, H, W) bool, in the order the model outputs them (descending score).
"""
import os
import sys
from typing import Dict, List, Sequence

import numpy as np
import torch

from detectron2.config import get_cfg

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.predictor import VideoPredictor
from masktrack_d2.utils.video_io import Frame

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import convert_mmdet_checkpoint  # noqa: E402

MMDET_BASE = os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN-mmdet.yaml")

#: The issue's goals, frame by frame.
BOX_TOL = 1e-3  # pixels
SCORE_TOL = 1e-5
MASK_PIXEL_FRACTION = 1e-4  # 0.01 %


def convert(mmdet_ckpt: str, out: str, config_file: str = None):
    return convert_mmdet_checkpoint.convert(mmdet_ckpt, out, config_file, log=lambda *_: None)


def our_tracks(config_file: str, opts: Sequence[str], weights: str,
               frames_bgr: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """Run masktrack_d2's demo predictor (the path ``demo.py`` takes) over one video."""
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts) + ["MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu"])
    cfg.freeze()
    predictor = VideoPredictor(cfg)
    frames = [Frame(i, f"{i:05d}.png", img) for i, img in enumerate(frames_bgr)]
    out = []
    with torch.no_grad():
        for _, inst in predictor(frames):
            out.append({
                "boxes": inst.pred_boxes.tensor.numpy().astype(np.float64),
                "scores": inst.scores.numpy().astype(np.float64),
                "labels": inst.pred_classes.numpy().astype(np.int64),
                "ids": inst.pred_track_ids.numpy().astype(np.int64),
                "masks": inst.pred_masks.numpy().astype(bool),
            })
    return out


def compare_tracks(ref: Sequence[Dict], ours: Sequence[Dict]) -> Dict[str, float]:
    """
    Compare two videos' per-frame outputs detection by detection (same order).

    Returns:
        {"frames", "detections", "max_box_diff", "max_score_diff", "max_mask_fraction"
        (largest fraction of a frame's pixels where one detection's masks differ),
        "count_mismatch", "label_mismatch", "id_mismatch"} -- the last three are numbers of
        frames / detections that differ.
    """
    stats = dict(frames=len(ref), detections=0, max_box_diff=0.0, max_score_diff=0.0,
                 max_mask_fraction=0.0, count_mismatch=abs(len(ref) - len(ours)),
                 label_mismatch=0, id_mismatch=0)
    for r, o in zip(ref, ours):
        if len(r["scores"]) != len(o["scores"]):
            stats["count_mismatch"] += 1
            continue
        n = len(r["scores"])
        stats["detections"] += n
        if n == 0:
            continue
        stats["max_box_diff"] = max(stats["max_box_diff"],
                                    float(np.abs(r["boxes"] - o["boxes"]).max()))
        stats["max_score_diff"] = max(stats["max_score_diff"],
                                      float(np.abs(r["scores"] - o["scores"]).max()))
        stats["label_mismatch"] += int((r["labels"] != o["labels"]).sum())
        stats["id_mismatch"] += int((r["ids"] != o["ids"]).sum())
        h, w = r["masks"].shape[1:]
        diff = (r["masks"] != o["masks"]).reshape(n, -1).sum(axis=1) / float(h * w)
        stats["max_mask_fraction"] = max(stats["max_mask_fraction"], float(diff.max()))
    return stats


def assert_same_tracks(stats: Dict[str, float]) -> None:
    assert stats["count_mismatch"] == 0, stats
    assert stats["label_mismatch"] == 0, stats
    assert stats["id_mismatch"] == 0, stats
    assert stats["max_box_diff"] <= BOX_TOL, stats
    assert stats["max_score_diff"] <= SCORE_TOL, stats
    assert stats["max_mask_fraction"] <= MASK_PIXEL_FRACTION, stats
