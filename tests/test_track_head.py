"""Track head: match targets, the match loss (both normalisers) and RoIEmbedHead (docs/method.md, "Track head" and "Match targets and loss")."""
import pytest
import torch
import torch.nn.functional as F

from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.modeling import match_logits
from masktrack_d2.modeling.track_head import RoIEmbedHead, build_track_head, match_loss, match_targets


# ------------------------------------------------------------------------------ match_targets
def test_match_targets_maps_to_reference_column_plus_one():
    key_ids = torch.tensor([7, 3, 9, 3, 5])
    ref_ids = torch.tensor([3, 5, 7])  # memory order: column j+1 for ref_ids[j]
    t = match_targets(key_ids, ref_ids)
    assert t.dtype == torch.long
    # 7 -> ref index 2 -> 3; 3 -> 1; 9 absent -> 0; 5 -> 2
    assert t.tolist() == [3, 1, 0, 1, 2]


def test_match_targets_empty_reference_is_all_new():
    key_ids = torch.tensor([4, 2, 4])
    t = match_targets(key_ids, torch.zeros(0, dtype=torch.long))
    assert t.dtype == torch.long
    assert t.tolist() == [0, 0, 0]


def test_match_targets_key_instance_missing_in_ref():
    t = match_targets(torch.tensor([11, 12]), torch.tensor([12, 13, 14]))
    assert t.tolist() == [0, 1]
    # no key RoI at all
    empty = match_targets(torch.zeros(0, dtype=torch.long), torch.tensor([1, 2]))
    assert empty.shape == (0,) and empty.dtype == torch.long


def test_match_targets_first_and_last_reference_columns():
    ref_ids = torch.tensor([100, 200, 300, 400])
    t = match_targets(torch.tensor([400, 100]), ref_ids)
    assert t.tolist() == [4, 1]


# ------------------------------------------------------------------------------ match_loss
def test_match_logits_shape_and_dummy_column():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 8, generator=g)
    ref = torch.randn(3, 8, generator=g)
    logits = match_logits(x, ref)
    assert logits.shape == (5, 4)
    assert torch.all(logits[:, 0] == 0)
    torch.testing.assert_close(logits[:, 1:], x @ ref.t())
    # M = 0: only the dummy column
    only_dummy = match_logits(x, ref[:0])
    assert only_dummy.shape == (5, 1) and torch.all(only_dummy == 0)


def _batch():
    g = torch.Generator().manual_seed(1)
    key = [torch.randn(4, 6, generator=g), torch.randn(3, 6, generator=g)]
    ref = [torch.randn(2, 6, generator=g), torch.randn(3, 6, generator=g)]
    # image 0: 2 of 4 matched; image 1: 1 of 3 matched
    targets = [torch.tensor([1, 0, 2, 0]), torch.tensor([0, 3, 0])]
    return key, ref, targets


def _hand_loss(key, ref, targets, norm):
    per_image = []
    for x, r, t in zip(key, ref, targets):
        logits = torch.cat([torch.zeros(len(x), 1), x @ r.t()], dim=1)
        ce_sum = F.cross_entropy(logits, t, reduction="sum")
        denom = int((t > 0).sum()) if norm == "matched" else len(t)
        per_image.append(ce_sum / max(denom, 1))
    return sum(per_image) / len(per_image)


@pytest.mark.parametrize("norm", ["matched", "positives"])
def test_match_loss_normalisers_against_hand_computation(norm):
    key, ref, targets = _batch()
    loss, acc = match_loss(key, ref, targets, norm=norm)
    torch.testing.assert_close(loss, _hand_loss(key, ref, targets, norm))
    # accuracy over all positives of the batch
    correct = sum(int((match_logits(x, r).argmax(1) == t).sum()) for x, r, t in zip(key, ref, targets))
    assert acc == pytest.approx(correct / 7)


def test_match_loss_normalisers_differ():
    key, ref, targets = _batch()
    matched, _ = match_loss(key, ref, targets, norm="matched")
    positives, _ = match_loss(key, ref, targets, norm="positives")
    # image 0: /2 vs /4; image 1: /1 vs /3 -> "matched" is strictly larger
    assert matched > positives
    # explicit per-image check of the divisors
    x, r, t = key[1], ref[1], targets[1]
    ce = F.cross_entropy(match_logits(x, r), t, reduction="sum")
    l_m, _ = match_loss([x], [r], [t], norm="matched")
    l_p, _ = match_loss([x], [r], [t], norm="positives")
    torch.testing.assert_close(l_m, ce / 1)
    torch.testing.assert_close(l_p, ce / 3)


def test_match_loss_matched_normaliser_min_one():
    # no target > 0: "matched" divides by max(0, 1) = 1, i.e. the plain sum
    g = torch.Generator().manual_seed(2)
    x, r = torch.randn(3, 4, generator=g), torch.randn(2, 4, generator=g)
    t = torch.zeros(3, dtype=torch.long)
    loss, _ = match_loss([x], [r], [t], norm="matched")
    torch.testing.assert_close(loss, F.cross_entropy(match_logits(x, r), t, reduction="sum"))
    assert loss > 0


def test_match_loss_empty_reference_is_zero():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 5, generator=g, requires_grad=True)
    r = torch.zeros(0, 5)
    t = match_targets(torch.tensor([1, 2, 3, 4]), torch.zeros(0, dtype=torch.long))
    for norm in ("matched", "positives"):
        loss, acc = match_loss([x], [r], [t], norm=norm)
        assert torch.isfinite(loss) and float(loss.detach()) == 0.0
        assert acc == 1.0  # every RoI predicts the only ("new") column


def test_match_loss_no_positive_rois_is_zero_and_finite():
    x = torch.zeros(0, 5, requires_grad=True)
    r = torch.randn(2, 5)
    loss, acc = match_loss([x], [r], [torch.zeros(0, dtype=torch.long)])
    assert torch.isfinite(loss) and float(loss.detach()) == 0.0
    loss.backward()  # still part of the graph


def test_match_loss_gradient_reaches_reference_and_key_embeddings():
    key, ref, targets = _batch()
    key = [k.clone().requires_grad_(True) for k in key]
    ref = [r.clone().requires_grad_(True) for r in ref]
    loss, _ = match_loss(key, ref, targets)
    loss.backward()
    for r in ref:
        assert r.grad is not None and r.grad.abs().sum() > 0
    for k in key:
        assert k.grad is not None and k.grad.abs().sum() > 0


def test_match_loss_rejects_unknown_norm():
    key, ref, targets = _batch()
    with pytest.raises(ValueError, match="LOSS_NORM"):
        match_loss(key, ref, targets, norm="mean")


# ------------------------------------------------------------------------------ RoIEmbedHead
SHAPE = ShapeSpec(channels=4, height=7, width=7)


def _head(**kw):
    args = dict(num_fc=2, fc_dim=16, last_relu=True, init="default")
    args.update(kw)
    return RoIEmbedHead(SHAPE, **args)


def test_embed_head_output_shape():
    torch.manual_seed(0)
    head = _head()
    out = head(torch.randn(5, 4, 7, 7))
    assert out.shape == (5, 16)
    assert head.output_dim == 16
    assert head.fcs[0].in_features == 4 * 7 * 7
    assert len(head.fcs) == 2


def test_embed_head_last_relu_on_is_non_negative_off_can_be_negative():
    torch.manual_seed(0)
    x = torch.randn(32, 4, 7, 7)
    on = _head(last_relu=True)
    off = _head(last_relu=False)
    off.load_state_dict(on.state_dict())
    y_on, y_off = on(x), off(x)
    assert (y_on >= 0).all()
    assert (y_off < 0).any()
    # the only difference is the final ReLU
    torch.testing.assert_close(y_on, F.relu(y_off))


def test_embed_head_normal_init():
    torch.manual_seed(0)
    head = _head(init="normal", fc_dim=64)
    for fc in head.fcs:
        assert abs(float(fc.weight.std()) - 0.01) < 0.001
        assert abs(float(fc.weight.mean())) < 0.001
        assert torch.all(fc.bias == 0)
    # the default (PyTorch) init differs: uniform with non-zero bias
    default = _head(init="default", fc_dim=64)
    assert torch.any(default.fcs[0].bias != 0)
    assert abs(float(default.fcs[0].weight.std()) - 0.01) > 0.001


def test_embed_head_rejects_unknown_init():
    with pytest.raises(ValueError, match="INIT"):
        _head(init="xavier")


def test_build_track_head_from_config_defaults_and_orig():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.MODEL.TRACK_HEAD.FC_DIM = 24
    head = build_track_head(cfg, SHAPE)
    assert isinstance(head, RoIEmbedHead)
    assert head.last_relu is True and head.output_dim == 24
    cfg.MODEL.TRACK_HEAD.LAST_RELU = False
    cfg.MODEL.TRACK_HEAD.INIT = "normal"
    head = build_track_head(cfg, SHAPE)
    assert head.last_relu is False
    assert all(torch.all(fc.bias == 0) for fc in head.fcs)


# ------------------------------------------------------------------------------ NORM
def test_norm_ln_keeps_a_shifted_first_layer_alive():
    """The failure NORM guards against: the first FC's pre-activations all negative. Without
    a norm every RoI then gets the same embedding (and no gradient reaches the first FC);
    with LayerNorm the embeddings still differ and the first FC still gets a gradient."""
    shape = ShapeSpec(channels=4, height=3, width=3)
    torch.manual_seed(0)
    x = torch.randn(6, 4, 3, 3)
    out = {}
    for norm in ("", "LN"):
        torch.manual_seed(1)
        head = RoIEmbedHead(shape, num_fc=2, fc_dim=16, last_relu=False, norm=norm)
        with torch.no_grad():
            head.fcs[0].bias.fill_(-100.0)  # every unit off for every RoI
        e = head(x)
        e.pow(2).sum().backward()
        out[norm] = (e.detach(), head.fcs[0].weight.grad.abs().sum().item())
    dead, dead_grad = out[""]
    alive, alive_grad = out["LN"]
    assert torch.allclose(dead, dead[:1].expand_as(dead)) and dead_grad == 0
    assert alive.std(dim=0).mean() > 0.01 and alive_grad > 0


def test_norm_modules_and_checkpoint_keys():
    shape = ShapeSpec(channels=2, height=2, width=2)
    plain = RoIEmbedHead(shape, num_fc=2, fc_dim=8, last_relu=False)
    assert all(k.startswith("fcs.") for k in plain.state_dict())  # the references' keys
    last = RoIEmbedHead(shape, num_fc=2, fc_dim=8, last_relu=True, norm="LN")
    no_last = RoIEmbedHead(shape, num_fc=2, fc_dim=8, last_relu=False, norm="LN")
    assert len(last.norms) == 2 and len(no_last.norms) == 1  # one per ReLU
    with pytest.raises(ValueError, match="TRACK_HEAD.NORM"):
        RoIEmbedHead(shape, num_fc=2, fc_dim=8, last_relu=False, norm="GN")
