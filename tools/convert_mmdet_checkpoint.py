#!/usr/bin/env python
"""
Convert a MaskTrack R-CNN checkpoint of mmtracking 0.x / mmdetection 3.x to masktrack_d2.

    python tools/convert_mmdet_checkpoint.py IN.pth OUT.pth [--config-file CFG]

The backbone (R-50, R-101, X-101-64x4d, ...) is read from the tensors. Every tensor is mapped
or the conversion fails: a key with no place in the model, a missing key or a shape that
differs is an error naming the file and the key, and OUT is not written (it is written
atomically: an interrupted run leaves no partial file). With ``--config-file`` the result is
checked against the model of that config (for example a ``*_mmdet.yaml`` of configs/);
otherwise against the mmdet base config set to the checkpoint's architecture.

Run the result with the ``_mmdet`` config of the same row, e.g.
    python demo.py --config-file configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e_mmdet.yaml \\
        --video-input clip.mp4 --output out.mp4 --opts MODEL.WEIGHTS OUT.pth
"""
import argparse
import dataclasses
import os
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONFIG = os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN-mmdet.yaml")


def expected_shapes(config_file, opts):
    """name -> shape of every tensor of the masktrack_d2 model of ``config_file`` + ``opts``."""
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from masktrack_d2.config import add_masktrack_config

    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts) + ["MODEL.DEVICE", "meta", "MODEL.WEIGHTS", ""])
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = build_model(cfg)
    return {k: v.shape for k, v in model.state_dict().items()}


def convert(src, dst, config_file=None, allow_pickle=False, log=print):
    from masktrack_d2.mmdet_import import (
        MMDetCheckpointError, check_fits, convert_mmdet_state_dict, describe_architecture,
        read_mmdet_state_dict)
    from masktrack_d2.utils.file_io import atomic_write

    sd = read_mmdet_state_dict(src, allow_pickle=allow_pickle)
    converted, report = convert_mmdet_state_dict(sd, src)
    arch = describe_architecture(sd, src)
    if report.leftover:
        raise MMDetCheckpointError(
            f"{src}: {len(report.leftover)} tensors have no place in masktrack_d2's model: "
            + ", ".join(report.leftover[:5]))
    if config_file is None:
        check_fits(converted, expected_shapes(DEFAULT_CONFIG, arch.config_overrides()), src)
    else:
        check_fits(converted, expected_shapes(config_file, []), src)
    with atomic_write(dst, "wb") as f:
        torch.save({"model": converted, "__author__": "masktrack_d2 convert_mmdet_checkpoint",
                    "matching_heuristics": False,
                    "mmdet_architecture": dataclasses.asdict(arch)}, f)
    log(f"{src}: MaskTrack R-CNN {arch.name}-FPN, {arch.num_classes} classes; "
        f"{report.mapped} tensors mapped, {len(report.ignored)} BatchNorm counters dropped")
    log(f"wrote {dst}")
    return arch, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("input", metavar="IN", help="mmtracking / mmdetection .pth checkpoint")
    parser.add_argument("output", metavar="OUT", help="masktrack_d2 checkpoint to write")
    parser.add_argument("--config-file", metavar="FILE",
                        help="check the result against the model of this config")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="load with full unpickling (weights_only=False), which runs any code the "
                        "file names: only for checkpoints from a source you trust")
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)  # the package, also when it is not installed
    from masktrack_d2.mmdet_import import MMDetCheckpointError

    try:
        convert(args.input, args.output, args.config_file, args.allow_pickle)
    except MMDetCheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
