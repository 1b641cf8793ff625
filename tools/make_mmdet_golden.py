#!/usr/bin/env python
"""
Make the mmdetection reference outputs that tests/test_mmdet_import.py compares against.

Needs mmdetection 3.3.0 (with mmcv 2.1.0 and mmengine 0.10.7; see docs/mmdet_checkpoints.md for
how to install them on a CPU machine). Nothing of the project's CI needs it: the outputs are
committed under tests/fixtures/mmdet_golden/.

    python tools/make_mmdet_golden.py [--out tests/fixtures/mmdet_golden]

It builds mmdetection's own MaskTrack R-CNN from the config its wheel ships
(``masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py``), narrowed to a few MB
(ResNet-50 at 1/8 width, 32-channel FPN, 64-d heads) so the fixture stays small, gives it
random weights with non-trivial BatchNorm statistics and biases, saves it as mmdetection saves
checkpoints, and records its tracks on two synthetic videos: 640x360 (no resize) and
1280x720 (each framework resizes to 640x360 with its own pipeline), each at two score
thresholds (one keeping a few detections per frame, one reaching the 100-detection cap). It
also lists the tensor names and shapes of the full R-50, R-101 and X-101 models, so the
key mapping is tested on the real layouts.

Frames go through the reference's test pipeline as its data set loader gives them (uint8
BGR, then ``Resize(scale=(640, 360), keep_ratio=True)``); mmdetection's video demo helper
casts frames to float32 before resizing, which the evaluation pipeline does not.
"""
import argparse
import copy
import json
import os

import cv2
import numpy as np
import torch

CONFIG = "masktrack-rcnn_mask-rcnn_r50_fpn_8xb1-12e_youtubevis2019.py"
FULL_BACKBONES = {
    "r50": {},
    "r101": {"depth": 101},
    "x101": {"type": "ResNeXt", "depth": 101, "groups": 64, "base_width": 4},
}


def reference_config():
    import mmdet
    from mmengine.config import Config

    path = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "configs", "masktrack_rcnn", CONFIG)
    cfg = Config.fromfile(path)
    cfg.model.detector.init_cfg = None  # no download of the COCO initialisation
    cfg.model.detector.backbone.init_cfg = None
    return cfg


def narrow(cfg, base=8, fpn=32, fc=64):
    """The reference model at 1/8 width (same depth, heads, test settings)."""
    det = cfg.model.detector
    det.backbone.base_channels = base
    det.neck.in_channels = [base * 4 * 2 ** i for i in range(4)]
    det.neck.out_channels = fpn
    det.rpn_head.in_channels = fpn
    det.rpn_head.feat_channels = fpn
    det.roi_head.bbox_roi_extractor.out_channels = fpn
    det.roi_head.bbox_head.in_channels = fpn
    det.roi_head.bbox_head.fc_out_channels = fc
    det.roi_head.mask_roi_extractor.out_channels = fpn
    det.roi_head.mask_head.in_channels = fpn
    det.roi_head.mask_head.conv_out_channels = fpn
    cfg.model.track_head.roi_extractor.out_channels = fpn
    cfg.model.track_head.embed_head.in_channels = fpn
    cfg.model.track_head.embed_head.fc_out_channels = fc
    return cfg


def build(cfg):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    register_all_modules()
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    return model.eval()


def randomize(model, seed, cls_gain=3.0):
    """Random weights that keep activations in a useful range: fan-in scaled weights, BN
    with random statistics, scale and shift, biases everywhere; the last BN of each residual
    block small, so 50 blocks do not blow up. ``cls_gain`` sets how peaked the class scores
    are; too high and many detections share a score of 0.99997 (float32 ties, which the two
    frameworks order differently)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        shape = p.shape
        if ".bn" in name or "downsample.1" in name:
            last = ".bn3." in name or "downsample.1" in name
            if name.endswith("weight"):
                lo, hi = (0.1, 0.3) if last else (0.5, 1.5)
                val = lo + (hi - lo) * torch.rand(shape, generator=g)
            elif name.endswith("running_var"):
                val = 0.5 + 1.5 * torch.rand(shape, generator=g)
            else:  # bias, running_mean
                val = 0.2 * torch.randn(shape, generator=g)
        elif name.endswith("bias"):
            val = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            if "upsample" in name:  # ConvTranspose: (in, out, k, k)
                fan_in = shape[0]
            std = 1.4 / np.sqrt(fan_in)
            if "fc_cls" in name:
                std = cls_gain / np.sqrt(fan_in)  # peaked class scores: a range of scores
            if "fc_reg" in name or "rpn_reg" in name:
                std = 0.3 / np.sqrt(fan_in)  # boxes move, but stay boxes
            if "embed_head.fcs.1" in name:
                std = 0.5 / np.sqrt(fan_in)  # match logits of a few units
            val = std * torch.randn(shape, generator=g)
        p.copy_(val.to(p.dtype))
    return model


def save_checkpoint(model, path):
    from mmengine.runner.checkpoint import save_checkpoint as mm_save, weights_to_cpu

    mm_save({"meta": {"note": "random weights for the masktrack_d2 equivalence test"},
             "state_dict": weights_to_cpu(model.state_dict())}, path)


def synthetic_video(h, w, n, seed):
    """n BGR uint8 frames: a textured, panning background with moving shapes."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    shapes = [(rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h, rng.uniform(0.05, 0.25) * h,
               rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h,
               tuple(int(c) for c in rng.randint(0, 255, 3)), k % 2) for k in range(6)]
    for t in range(n):
        base = np.stack([
            127 + 60 * np.sin((xx + 7 * t) / (23.0 + 5 * c)) * np.cos((yy - 3 * t) / (31.0 + 7 * c))
            for c in range(3)], axis=2)
        # 16 grey levels per channel: still sharp edges for the resize to disagree on, and
        # PNGs of a few hundred KB.
        img = (np.clip(base, 0, 255).astype(np.uint8) // 16) * 16
        for (cx, cy, r, vx, vy, color, kind) in shapes:
            c = (int(cx + vx * t), int(cy + vy * t))
            if kind:
                cv2.circle(img, c, int(r), color, -1)
            else:
                cv2.rectangle(img, (c[0] - int(r), c[1] - int(0.6 * r)),
                              (c[0] + int(r), c[1] + int(0.6 * r)), color, -1)
        frames.append(img)
    return frames


def reference_tracks(model, frames, score_thr):
    """mmdetection's MaskTrack R-CNN over one video -> per-frame dicts of numpy arrays."""
    from mmcv.transforms import Compose
    from mmengine.dataset import default_collate

    model.detector.test_cfg.rcnn.score_thr = score_thr
    pipeline = model.cfg.test_dataloader.dataset.pipeline
    broadcaster = copy.deepcopy(pipeline[0])
    broadcaster["transforms"] = [t for t in broadcaster["transforms"] if t["type"] == "Resize"]
    test_pipeline = Compose([broadcaster, copy.deepcopy(pipeline[-1])])
    out = []
    with torch.no_grad():
        for i, img in enumerate(frames):
            data = dict(img=[img], frame_id=[i], ori_shape=[img.shape[:2]], img_id=[i + 1],
                        ori_video_length=[len(frames)])
            data = default_collate([test_pipeline(data)])
            result = model.test_step(data)[0]
            inst = result[0].pred_track_instances
            out.append({
                "boxes": inst.bboxes.numpy().astype(np.float64),
                "scores": inst.scores.numpy().astype(np.float64),
                "labels": inst.labels.numpy().astype(np.int64),
                "ids": inst.instances_id.numpy().astype(np.int64),
                "masks": inst.masks.numpy().astype(bool),
            })
    return out


def pack_masks(tracks):
    """Per-frame masks -> compressed RLE strings (small, exact)."""
    from pycocotools import mask as mask_util

    packed = []
    for f in tracks:
        rles = [mask_util.encode(np.asfortranarray(m.astype(np.uint8)))["counts"].decode()
                for m in f["masks"]]
        packed.append({k: torch.from_numpy(v) for k, v in f.items() if k != "masks"}
                      | {"masks": rles, "size": list(f["masks"].shape[1:])
                         if len(f["masks"]) else []})
    return packed


def key_shapes(cfg):
    model = build(cfg)
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "mmdet_golden"))
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    torch.manual_seed(args.seed)
    model = randomize(build(narrow(reference_config())), args.seed)
    save_checkpoint(model, os.path.join(args.out, "checkpoint.pth"))

    videos = {"640x360": (360, 640), "1280x720": (720, 1280)}
    golden = {"frames": args.frames, "cases": {}}
    for name, (h, w) in videos.items():
        frames = synthetic_video(h, w, args.frames, seed=args.seed + h)
        for i, img in enumerate(frames):
            d = os.path.join(args.out, name)
            os.makedirs(d, exist_ok=True)
            cv2.imwrite(os.path.join(d, f"{i:05d}.png"), img)
        # "cap": the reference's own threshold (0.01), every frame at 100 detections;
        # "few": a threshold that keeps a handful per frame. It is one candidate's score, so
        # float noise decides that candidate's side (the reference drops it: score > thr);
        # the test resolves such near-ties (tests/_mmdet_parity.py, NEAR_TIE_GAP).
        for case, thr in (("cap", 0.01), ("few", None)):
            if thr is None:
                scores = np.concatenate([f["scores"] for f in golden["cases"][f"{name}/cap"]["tracks_raw"]])
                thr = float(np.sort(scores)[-6 * args.frames])
            tracks = reference_tracks(model, frames, thr)
            golden["cases"][f"{name}/{case}"] = {"score_thresh": thr, "tracks_raw": tracks}
            counts = [len(f["scores"]) for f in tracks]
            ids = sorted({int(i) for f in tracks for i in f["ids"]})
            print(f"{name}/{case}: score_thr {thr:.5f}, detections per frame {counts}, "
                  f"{len(ids)} track ids")
    for case in golden["cases"].values():
        case["tracks"] = pack_masks(case.pop("tracks_raw"))
    torch.save(golden, os.path.join(args.out, "reference_tracks.pth"))

    layouts = {name: key_shapes(_with_backbone(reference_config(), bb))
               for name, bb in FULL_BACKBONES.items()}
    with open(os.path.join(args.out, "full_model_keys.json"), "w") as f:
        json.dump(layouts, f, indent=0, sort_keys=True)
    print(f"wrote {args.out}")


def _with_backbone(cfg, overrides):
    cfg.model.detector.backbone.update(overrides)
    return cfg


if __name__ == "__main__":
    main()
