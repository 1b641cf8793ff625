"""Match accuracy of the tracking head on held-out frame pairs (a learning check, not VIS AP)."""
from typing import Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from ..data.pair_mapper import FramePairDatasetMapper, key_frame_items
from ..modeling.track_head import match_targets
from ..modeling.matching import match_logits


@torch.no_grad()
def evaluate_match_accuracy(model, cfg, videos: List[Dict], max_pairs: int = 200,
                            seed: int = 0) -> Dict[str, float]:
    """
    For held-out pairs (key frame, reference frame of the same video), embed the key frame's
    ground-truth boxes and the reference's, and count how often the argmax of the match
    logits picks the right reference instance (or "new" for an instance absent there).

    Returns: {"match_accuracy", "match_loss", "chance", "num_queries"}: match_loss is the mean
    cross-entropy per query (a fixed task, unlike the training loss whose RoIs change as the
    RPN learns); chance is the mean of 1 / (M + 1) over queries, a uniform guess's accuracy.
    """
    was_training = model.training
    model.eval()
    mapper = FramePairDatasetMapper(cfg, videos, is_train=False)
    items = key_frame_items(videos)
    state = np.random.get_state()
    np.random.seed(seed)  # the mapper draws reference frames from the global RNG
    try:
        order = np.random.permutation(len(items))[:max_pairs]
        correct, total, chance, ce = 0, 0, 0.0, 0.0
        for i in order:
            pair = mapper(items[i])
            _, key_features, ref_features = model.pair_features([pair])
            key = pair["instances"].to(model.device)
            ref = pair["ref_instances"].to(model.device)
            if len(key) == 0:
                continue
            emb = model.roi_heads.embed(key_features, [key.gt_boxes])
            ref_emb = model.roi_heads.embed(ref_features, [ref.gt_boxes])
            t = match_targets(key.gt_instance_ids, ref.gt_instance_ids)
            logits = match_logits(emb, ref_emb)
            pred = logits.argmax(dim=1)
            ce += float(F.cross_entropy(logits, t, reduction="sum"))
            correct += int((pred == t).sum())
            total += len(t)
            chance += len(t) / (len(ref) + 1)
    finally:
        np.random.set_state(state)
        model.train(was_training)
    return {"match_accuracy": correct / max(total, 1), "match_loss": ce / max(total, 1),
            "chance": chance / max(total, 1), "num_queries": total}
