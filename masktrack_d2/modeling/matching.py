"""Match logits: how the track head scores a query embedding against a set of references.

One function shared by the training loss (:mod:`.track_head`) and the online tracker
(:mod:`.tracker`), so the logits the head is trained on are exactly the ones the tracker scores.
"""
import torch

__all__ = ["match_logits"]


def match_logits(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Match logits of query embeddings against reference embeddings (docs/method.md, "Track head").

    Always float32, also under ``torch.autocast``: the embeddings are unnormalised (1024-d
    after a ReLU), and their dot products leave float16's range (65504) as soon as the
    entries average about 8. An overflowed logit is inf, and the softmax over it NaN.

    Args:
        x: (N, C) query embeddings, any float dtype.
        ref: (M, C) reference / memory embeddings (M may be 0), any float dtype.

    Returns:
        (N, M + 1) float32 logits: column 0 is the constant 0 logit of the "new instance" slot,
        column j + 1 is the plain dot product ``x[i] . ref[j]`` (no normalisation, no
        temperature). With M = 0 only the dummy column is returned.
    """
    with torch.autocast(device_type=x.device.type, enabled=False):
        sim = x.float() @ ref.float().t()
    return torch.cat([sim.new_zeros(sim.shape[0], 1), sim], dim=1)
