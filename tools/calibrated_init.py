#!/usr/bin/env python
"""Write a randomly initialised checkpoint whose backbone norms are calibrated on real frames.

    python tools/calibrated_init.py --config-file CFG --out init.pth [KEY VALUE ...]

The model of ``CFG`` (``MODEL.WEIGHTS`` ignored) is built with seed ``SEED``; the statistics of
its backbone's norm layers are set from the first frame of the first ``--frames`` videos of
``DATASETS.TRAIN``, at the test-time size (:func:`masktrack_d2.modeling.calibration.calibrate_backbone_norms`).
The file loads through ``MODEL.WEIGHTS``. The GPU check trains from it: a trained-like start
without a download.
"""
import argparse
import logging
import os
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # the package, also when it is not installed

logger = logging.getLogger(__name__)


def calibration_inputs(cfg, num_frames: int):
    """Model inputs of the first listed frame of the first ``num_frames`` training videos,
    made as the video test loader makes them."""
    from masktrack_d2.data.augmentation import build_augmentation
    from masktrack_d2.data.build import get_video_dicts
    from masktrack_d2.data.frames import VideoFrames

    augs = build_augmentation(cfg, is_train=False)
    videos = get_video_dicts(cfg.DATASETS.TRAIN)[:num_frames]
    return [next(iter(VideoFrames(v, augs, cfg.INPUT.FORMAT))) for v in videos]


def build_calibrated_model(cfg, num_frames: int = 4):
    """``build_model(cfg)`` seeded by ``cfg.SEED`` (when >= 0), norms calibrated on
    ``num_frames`` frames (0: left as built, e.g. identity FrozenBN)."""
    from detectron2.modeling import build_model

    from masktrack_d2.modeling.calibration import calibrate_backbone_norms

    if cfg.SEED >= 0:
        torch.manual_seed(cfg.SEED)
    model = build_model(cfg)
    if num_frames > 0:
        n = calibrate_backbone_norms(model, calibration_inputs(cfg, num_frames))
        logger.info(f"calibrated {n} backbone norm layers on {num_frames} frames")
    return model


def main(argv=None):
    from detectron2.config import get_cfg

    import masktrack_d2  # noqa: F401  (registers the model and the data sets)

    from masktrack_d2.config import add_masktrack_config
    from masktrack_d2.utils.file_io import atomic_write

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config-file", required=True)
    p.add_argument("--out", required=True, help="checkpoint to write (.pth)")
    p.add_argument("--frames", type=int, default=4,
                   help="frames to calibrate on (0: no calibration, plain random init)")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="config KEY VALUE pairs")
    args = p.parse_args(argv)
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DEVICE = "cpu"  # the file is device-free; training moves it
    logging.basicConfig(level=logging.INFO)
    model = build_calibrated_model(cfg, args.frames)
    with atomic_write(args.out, "wb") as f:
        torch.save({"model": model.state_dict()}, f)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
