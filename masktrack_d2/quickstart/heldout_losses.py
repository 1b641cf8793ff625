"""Training losses on held-out frame pairs, measured on a fixed task at any checkpoint.

The training log cannot show every loss falling: early on the only positive RoIs are the
ground-truth boxes appended to the proposals (zero regression targets, trivially matched
identities), and the RoI task gets harder as the RPN learns. Here the RoI heads instead see
the same proposals at every checkpoint (seeded jitters of the ground-truth boxes plus random
background boxes), and the RPN is scored against the same anchors, so the numbers of two
checkpoints are comparable.
"""
import copy
from collections import defaultdict
from typing import Dict, List

import numpy as np
import torch

from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from ..data.pair_mapper import FramePairDatasetMapper, key_frame_items


def fixed_proposals(gt_boxes: torch.Tensor, image_size, rng: np.random.RandomState,
                    jitters: int = 4, background: int = 16) -> Instances:
    """
    Args:
        gt_boxes: (G, 4) XYXY ground-truth boxes of one image.
        image_size: (H, W).
    Returns:
        Instances with ``proposal_boxes`` ((G * jitters + background), 4) and zero
        ``objectness_logits``: each GT box shifted by up to 10% and scaled by 0.9-1.1, and
        random boxes of 8-40% of the image side.
    """
    h, w = image_size
    boxes = []
    for x1, y1, x2, y2 in gt_boxes.tolist():
        bw, bh = x2 - x1, y2 - y1
        for _ in range(jitters):
            cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * bw
            cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * bh
            sw, sh = bw * rng.uniform(0.9, 1.1) / 2, bh * rng.uniform(0.9, 1.1) / 2
            boxes.append([cx - sw, cy - sh, cx + sw, cy + sh])
    for _ in range(background):
        bw, bh = rng.uniform(0.08, 0.4) * w, rng.uniform(0.08, 0.4) * h
        x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        boxes.append([x, y, x + bw, y + bh])
    props = Instances((h, w))
    props.proposal_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32, device=gt_boxes.device))
    props.proposal_boxes.clip((h, w))
    props.objectness_logits = torch.zeros(len(boxes), device=gt_boxes.device)
    return props


@torch.no_grad()
def evaluate_heldout_losses(model, cfg, videos: List[Dict], max_pairs: int = 100,
                            seed: int = 0) -> Dict[str, float]:
    """
    Mean of every training loss of ``model`` over up to ``max_pairs`` held-out pairs of
    ``videos`` (same pairs, proposals and RoI samples for any model with the same config).
    The model is not changed: a copy runs in training mode, as the losses need, but with its
    BatchNorm layers on their running statistics (a key frame and its reference are a batch
    of two near-identical images, whose own statistics would misrepresent the model).
    """
    model = copy.deepcopy(model).train()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    mapper = FramePairDatasetMapper(cfg, videos, is_train=False)
    items = key_frame_items(videos)
    order = np.random.RandomState(seed).permutation(len(items))[:max_pairs]
    np_state, torch_state = np.random.get_state(), torch.random.get_rng_state()
    sums, n = defaultdict(float), 0
    try:
        with EventStorage():
            for k, i in enumerate(order):
                np.random.seed(seed + k)  # the reference frame and the RoI sampling
                torch.manual_seed(seed + k)
                pair = mapper(items[i])
                gt = pair["instances"].to(model.device)
                ref = pair["ref_instances"].to(model.device)
                key_images, key_f, ref_f = model.pair_features([pair])
                _, losses = model.proposal_generator(key_images, key_f, [gt])
                props = fixed_proposals(gt.gt_boxes.tensor, key_images.image_sizes[0],
                                        np.random.RandomState(seed + k))
                _, roi_losses = model.roi_heads(key_images, key_f, [props], [gt],
                                                ref_features=ref_f, ref_targets=[ref])
                losses.update(roi_losses)
                for name, v in losses.items():
                    sums[name] += float(v)
                n += 1
    finally:
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)
    return {name: s / max(n, 1) for name, s in sums.items()}
