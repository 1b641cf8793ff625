"""Configs and models: MaskTrack R-CNN and plain detectron2 Mask R-CNN with the same weights."""
from typing import List, Sequence

from .env import BASE_CONFIG
from .video import model_inputs, moving_shapes_frames

def masktrack_cfg(config_file: str = BASE_CONFIG, opts: Sequence = (), device: str = "cpu"):
    """MaskTrack R-CNN cfg (random init: MODEL.WEIGHTS empty), not frozen."""
    from detectron2.config import get_cfg

    from masktrack_d2.config import add_masktrack_config

    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DEVICE = device
    return cfg


def plain_cfg(cfg):
    """The same cfg as plain detectron2 Mask R-CNN (no track head, no tracker)."""
    c = cfg.clone()
    c.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    c.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    return c


def build_random_model(cfg, seed: int = 0, train: bool = False, calibrate: bool = True):
    """``build_model(cfg)`` with seeded random weights.

    ``calibrate``: set the backbone's normalisation statistics (FrozenBN / BN running mean and
    variance) from one generated frame so that every normalised activation has zero mean and
    unit variance. Without it the random 50-layer features grow by orders of magnitude, the
    RPN's (small-init) regression turns every anchor into the whole image, and NMS leaves ~2
    detections per frame - nothing like a trained model's workload. Weights stay random."""
    import torch
    from detectron2.modeling import build_model

    import masktrack_d2  # noqa: F401  (registers MaskTrackRCNN / MaskTrackROIHeads)

    torch.manual_seed(seed)
    model = build_model(cfg)
    if calibrate:
        calibrate_norms(model, cfg, seed=seed)
    model.train(train)
    return model


def calibrate_norms(model, cfg, seed: int = 0) -> int:
    """Data-dependent init of the backbone's norm layers
    (:func:`masktrack_d2.modeling.calibration.calibrate_backbone_norms`) on one generated frame
    at the cfg's test size. Returns the number of layers set."""
    from masktrack_d2.modeling.calibration import calibrate_backbone_norms

    h = int(cfg.INPUT.MIN_SIZE_TEST)
    w = int(cfg.INPUT.MAX_SIZE_TEST)
    img = next(moving_shapes_frames(1, h, w, seed=seed + 12345))
    return calibrate_backbone_norms(model, model_inputs(cfg, [img]))


def copy_weights(src, dst) -> List[str]:
    """Load ``src``'s weights into ``dst`` (strict=False); returns the keys of ``src`` that
    ``dst`` has no place for (must be the track head only). Raises if ``dst`` misses any."""
    res = dst.load_state_dict(src.state_dict(), strict=False)
    if res.missing_keys:
        raise RuntimeError(f"weights missing in the copy: {res.missing_keys[:5]}")
    bad = [k for k in res.unexpected_keys if ".track_head." not in k]
    if bad:
        raise RuntimeError(f"unexpected keys besides the track head: {bad[:5]}")
    return list(res.unexpected_keys)


def keep_all(tracker):
    """Make ``tracker.step`` keep every detection: the real step runs, then each discarded
    detection (-1) gets a fresh id (outside the tracker's memory)."""
    import torch

    step = tracker.step
    fresh = [10 ** 9]

    def step_keep_all(*a, **k):
        ids = step(*a, **k)
        lost = ids < 0
        n = int(lost.sum())
        if n:
            ids = ids.clone()
            ids[lost] = torch.arange(fresh[0], fresh[0] + n, device=ids.device)
            fresh[0] += n
        return ids

    tracker.step = step_keep_all
