"""Mixed precision: the match logits, the match loss and the tracker stay float32 under autocast
(embeddings scaled until float16 would overflow), and MixedPrecisionTrainer trains, scales and
counts the steps its gradient scaler skips.

Everything runs on the CPU under ``torch.autocast("cpu", ...)``, which has both dtypes.
"""
import itertools

import pytest
import torch
from torch import nn

from detectron2.layers import ShapeSpec
from detectron2.utils.events import EventStorage

import _tiny
from masktrack_d2.engine import MaskTrackTrainer
from masktrack_d2.engine.amp import MixedPrecisionTrainer, amp_dtype
from masktrack_d2.modeling.matching import match_logits
from masktrack_d2.modeling.track_head import RoIEmbedHead, match_loss, match_targets
from masktrack_d2.modeling.tracker import MaskTrackTracker

FP16_MAX = torch.finfo(torch.float16).max
DTYPES = [torch.float16, torch.bfloat16]


def _large_embeddings(n, dim=1024, scale=20.0, seed=0):
    """(n, dim) non-negative embeddings (as after the head's last ReLU) whose pairwise dot
    products are about dim * scale**2 / 4: 1e5 at the default, beyond float16's range."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=g) * scale


def test_large_embeddings_overflow_float16():
    # The regime the tests below run in: a plain float16 product is inf there.
    x = _large_embeddings(4)
    assert (x @ x.t()).min() > FP16_MAX
    assert torch.isinf(x.half() @ x.half().t()).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_match_logits_float32_under_autocast(dtype):
    x, ref = _large_embeddings(5, seed=1), _large_embeddings(3, seed=2)
    want = match_logits(x, ref)
    with torch.autocast("cpu", dtype=dtype):
        got = match_logits(x, ref)
        # what the head hands over under autocast: embeddings in the autocast dtype
        got_low = match_logits(x.to(dtype), ref.to(dtype))
    assert got.dtype == got_low.dtype == torch.float32
    assert torch.equal(got, want)
    assert torch.isfinite(got_low).all()
    # only the inputs' rounding to dtype differs: relative error of a sum of positive products
    torch.testing.assert_close(got_low, want, rtol=2 * torch.finfo(dtype).eps, atol=0)


def _head_batch(scale):
    """A RoIEmbedHead and per-image RoI features of 3 images whose embeddings, times
    ``scale``, have float16-overflowing dot products."""
    torch.manual_seed(0)
    head = RoIEmbedHead(ShapeSpec(channels=8, height=7, width=7), num_fc=2, fc_dim=1024,
                        last_relu=True)
    g = torch.Generator().manual_seed(3)
    key_feats = [torch.randn(p, 8, 7, 7, generator=g) * scale for p in (6, 0, 5)]
    ref_feats = [torch.randn(m, 8, 7, 7, generator=g) * scale for m in (3, 2, 0)]
    key_ids = [torch.tensor([1, 2, 3, 1, 9, 2]), torch.zeros(0, dtype=torch.long),
               torch.tensor([4, 4, 5, 6, 7])]
    ref_ids = [torch.tensor([3, 1, 2]), torch.tensor([8, 9]), torch.zeros(0, dtype=torch.long)]
    targets = [match_targets(k, r) for k, r in zip(key_ids, ref_ids)]
    return head, key_feats, ref_feats, targets


def _head_loss(head, key_feats, ref_feats, targets):
    key = head(torch.cat(key_feats)).split([len(f) for f in key_feats])
    ref = head(torch.cat(ref_feats)).split([len(f) for f in ref_feats])
    return match_loss(list(key), list(ref), targets), key, ref


@pytest.mark.parametrize("dtype", DTYPES)
def test_match_loss_under_autocast_finite_and_equal_to_float32(dtype):
    head, key_feats, ref_feats, targets = _head_batch(scale=80.0)
    (want, _), key32, ref32 = _head_loss(head, key_feats, ref_feats, targets)
    # the scale reaches float16's overflow: some dot product of these embeddings is > 65504
    assert max(float((k @ r.t()).abs().max()) for k, r in zip(key32, ref32) if len(k) and len(r)) \
        > FP16_MAX
    with torch.autocast("cpu", dtype=dtype):
        (got, acc), key, _ = _head_loss(head, key_feats, ref_feats, targets)
    assert key[0].dtype == dtype  # the head itself ran in the low precision
    assert got.dtype == torch.float32 and torch.isfinite(got)
    got.backward()
    assert all(torch.isfinite(p.grad).all() for p in head.parameters())
    # The embeddings differ by their rounding to dtype; logits of ~1e5 then move by up to
    # ~eps * 1e5, and the loss (a difference of such logits) by as much. Stated tolerance:
    # 8 eps relative (float16: 3.9e-3, bfloat16: 3.1e-2).
    torch.testing.assert_close(got, want.detach(), rtol=8 * torch.finfo(dtype).eps, atol=0)


def _video(num_frames=8, num_tracks=4, seed=0):
    """Per frame (boxes, scores, labels, embeds): tracks that move and cross, with large,
    well separated embeddings (distinct supports), each a little perturbed every frame."""
    g = torch.Generator().manual_seed(seed)
    dim = 1024
    base = torch.zeros(num_tracks, dim)
    for t in range(num_tracks):
        base[t, t * 256:(t + 1) * 256] = 20.0  # dot with itself 102400, with others 0
    base = base + torch.rand(num_tracks, dim, generator=g) * 4.0
    frames = []
    for f in range(num_frames):
        order = torch.randperm(num_tracks, generator=g)  # detection order changes
        x = torch.tensor([20.0 + 15 * f, 180.0 - 15 * f, 40.0, 120.0])[:num_tracks]
        boxes = torch.stack([x, x * 0 + 30.0, x + 50, x * 0 + 90.0], dim=1)[order]
        scores = (0.6 + 0.3 * torch.rand(num_tracks, generator=g))[order]
        labels = torch.tensor([0, 0, 1, 1])[:num_tracks][order]
        embeds = (base + torch.rand(num_tracks, dim, generator=g))[order]
        frames.append((boxes, scores, labels, embeds))
    return frames


def _run_tracker(frames, dtype=None):
    tracker = MaskTrackTracker()
    ids = []
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        for f, (boxes, scores, labels, embeds) in enumerate(frames):
            if dtype is not None:
                embeds = embeds.to(dtype)  # as the track head gives them under autocast
            ids.append(tracker.step(f, boxes, scores, labels, embeds).tolist())
    return ids


@pytest.mark.parametrize("dtype", DTYPES)
def test_tracker_same_ids_under_autocast(dtype):
    frames = _video()
    e = frames[1][3]
    assert torch.isinf(e.half() @ e.half().t()).any()  # float16 scores would overflow
    want = _run_tracker(frames)
    got = _run_tracker(frames, dtype)
    assert got == want
    # the crossing tracks are kept apart by the embeddings: every frame has 4 distinct ids
    assert all(sorted(ids) == [0, 1, 2, 3] for ids in want)


def test_amp_dtype_rejects_unknown_precision():
    assert amp_dtype("bfloat16") is torch.bfloat16
    with pytest.raises(ValueError, match="SOLVER.AMP.PRECISION"):
        amp_dtype("float32")


# ------------------------------------------------------------------------ the trainer
class _ToyModel(nn.Module):
    """loss = factor * mean(linear(x)^2): the gradient of the linear output grows with factor."""

    def __init__(self, factor):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(16, 16)
        self.factor = factor

    def forward(self, batch):
        y = self.linear(torch.stack([b["x"] for b in batch]))
        return {"loss": self.factor * (y.float() ** 2).mean()}


def _toy_loader():
    g = torch.Generator().manual_seed(1)
    return itertools.cycle([[{"x": torch.randn(16, generator=g)} for _ in range(4)]
                            for _ in range(3)])


def _run_toy(factor, init_scale, iters, precision=torch.float16):
    model = _ToyModel(factor)
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)
    trainer = MixedPrecisionTrainer(model, _toy_loader(), opt, precision=precision,
                                    init_scale=init_scale)
    weights = [model.linear.weight.detach().clone()]
    scalars = []
    with EventStorage(0) as storage:
        trainer.storage = storage
        for trainer.iter in range(iters):
            storage.iter = trainer.iter
            trainer.run_step()
            weights.append(model.linear.weight.detach().clone())
            scalars.append({k: v[0] for k, v in storage.latest().items()})
    return trainer, weights, scalars


def test_grad_scaler_skips_are_counted_and_leave_weights_unchanged():
    # factor 1e3: output gradients ~1e2, times 2^16 beyond float16's range: the first steps
    # overflow and are skipped, each halving the scale, until it fits
    trainer, weights, scalars = _run_toy(factor=1e3, init_scale=2.0 ** 16, iters=12)
    skipped = [s["amp/skipped_steps"] for s in scalars]
    assert skipped[-1] == trainer.skipped_steps >= 3
    assert skipped == sorted(skipped)
    for i in range(12):
        moved = not torch.equal(weights[i], weights[i + 1])
        assert moved == (skipped[i] == (skipped[i - 1] if i else 0)), i
    assert scalars[-1]["amp/loss_scale"] == 2.0 ** 16 / 2 ** trainer.skipped_steps
    # a lower initial scale skips nothing and every step updates
    trainer, weights, _ = _run_toy(factor=1e3, init_scale=2.0 ** 6, iters=4)
    assert trainer.skipped_steps == 0
    assert all(not torch.equal(a, b) for a, b in zip(weights, weights[1:]))


def test_bfloat16_has_no_scaler_and_updates_every_step():
    trainer, weights, scalars = _run_toy(factor=1e3, init_scale=2.0 ** 16, iters=3,
                                         precision=torch.bfloat16)
    assert trainer.grad_scaler is None
    assert "amp/loss_scale" not in scalars[-1]
    assert all(not torch.equal(a, b) for a, b in zip(weights, weights[1:]))


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_masktrack_trainer_trains_under_amp_on_cpu(tmp_path, precision):
    """The real trainer with SOLVER.AMP.ENABLED on the CPU: the heads run in the chosen
    dtype, the losses stay finite, the scaler (float16 only) is logged, the model moves."""
    info = _tiny.make_tiny_data(tmp_path / "data")
    name = _tiny.register(info["train_json"], info["image_root"])
    try:
        cfg = _tiny.tiny_cfg(train=(name,), output_dir=tmp_path / "out", opts=[
            "SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.PRECISION", precision,
            "SOLVER.MAX_ITER", "2", "INPUT.MIN_SIZE_TRAIN", "(32,)", "INPUT.MAX_SIZE_TRAIN", "48"])
        with _tiny.one_thread():
            trainer = MaskTrackTrainer(cfg)
            model = trainer.checkpointer.model
            dtypes = set()
            model.roi_heads.track_head.register_forward_hook(
                lambda mod, inp, out: dtypes.add(out.dtype))
            before = {k: v.clone() for k, v in model.state_dict().items()}
            trainer.train()
        assert dtypes == {amp_dtype(precision)}
        losses = [r for r in _tiny.read_metrics(tmp_path / "out") if "total_loss" in r]
        assert losses  # written at the end of the run
        assert all(torch.isfinite(torch.tensor(r["total_loss"])) for r in losses)
        assert all(("amp/loss_scale" in r) == (precision == "float16") for r in losses)
        after = model.state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before)
    finally:
        _tiny.unregister(name)
