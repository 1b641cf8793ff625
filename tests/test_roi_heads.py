"""MaskTrackRCNN / MaskTrackROIHeads on a tiny R-18 model: training on frame pairs, video and
image inference (docs/method.md: "Model", "Training pairs", "Tracker")."""
import os

import pycocotools.mask as mask_util
import pytest
import torch

from detectron2.config import get_cfg
from detectron2.modeling import GeneralizedRCNN, build_model
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.modeling import MaskTrackRCNN, MaskTrackROIHeads

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(REPO, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")

H, W = 64, 96  # network input size of the hand-made pairs


def tiny_cfg():
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(QUICKSTART)
    cfg.merge_from_list([
        "MODEL.DEVICE", "cpu",
        "MODEL.FPN.OUT_CHANNELS", 32,
        "MODEL.RPN.PRE_NMS_TOPK_TRAIN", 50, "MODEL.RPN.POST_NMS_TOPK_TRAIN", 20,
        "MODEL.RPN.PRE_NMS_TOPK_TEST", 50, "MODEL.RPN.POST_NMS_TOPK_TEST", 20,
        "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", 16,
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0,  # random weights: keep detections
        "MODEL.ROI_BOX_HEAD.FC_DIM", 32,
        "MODEL.ROI_MASK_HEAD.CONV_DIM", 32,
        "MODEL.TRACK_HEAD.FC_DIM", 32,
        "INPUT.MIN_SIZE_TEST", 64, "INPUT.MAX_SIZE_TEST", 96,
        "TEST.DETECTIONS_PER_IMAGE", 5,
    ])
    return cfg


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = build_model(tiny_cfg())
    return m


def _gt(boxes, ids, classes, with_masks=True):
    inst = Instances((H, W))
    b = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    inst.gt_boxes = Boxes(b)
    inst.gt_classes = torch.tensor(classes, dtype=torch.long)
    inst.gt_instance_ids = torch.tensor(ids, dtype=torch.long)
    if with_masks:
        masks = torch.zeros(len(b), H, W, dtype=torch.bool)
        for i, (x0, y0, x1, y1) in enumerate(b.round().long().tolist()):
            masks[i, y0:y1, x0:x1] = True
        inst.gt_masks = BitMasks(masks)
    return inst


def _pairs(ref_empty=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    key = _gt([[4, 6, 40, 50], [50, 10, 90, 60]], ids=[7, 9], classes=[0, 2])
    if ref_empty:
        ref = _gt([], ids=[], classes=[], with_masks=False)
    else:
        # instance 9 moved, instance 7 gone, instance 11 new
        ref = _gt([[46, 8, 88, 58], [10, 20, 30, 40]], ids=[9, 11], classes=[2, 1], with_masks=False)
    key2 = _gt([[20, 20, 60, 60]], ids=[3], classes=[1])
    ref2 = _gt([[22, 18, 62, 58]], ids=[3], classes=[1], with_masks=False)

    def img():
        return torch.randint(0, 256, (3, H, W), dtype=torch.uint8, generator=g)

    return [
        {"image": img(), "instances": key, "ref_image": img(), "ref_instances": ref},
        {"image": img(), "instances": key2, "ref_image": img(), "ref_instances": ref2},
    ]


EXPECTED_LOSSES = {"loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask", "loss_match"}


def test_model_is_masktrack_with_track_head(model):
    assert isinstance(model, MaskTrackRCNN)
    assert isinstance(model.roi_heads, MaskTrackROIHeads)
    # the track head reads the 7x7 box-pooler features of the 32-channel FPN
    assert model.roi_heads.track_head.fcs[0].in_features == 32 * 7 * 7
    assert model.roi_heads.track_head.output_dim == 32


def test_training_losses_finite_and_backward_reaches_reference_branch(model):
    model.train()
    model.zero_grad(set_to_none=True)
    captured = {}

    def keep_features(module, inputs, outputs):
        for v in outputs.values():
            v.retain_grad()
        captured.update(outputs)

    handle = model.backbone.register_forward_hook(keep_features)
    try:
        with EventStorage():
            losses = model(_pairs())
    finally:
        handle.remove()
    assert set(losses) == EXPECTED_LOSSES
    for k, v in losses.items():
        assert v.dim() == 0 and torch.isfinite(v), k
    assert losses["loss_match"] > 0

    losses["loss_match"].backward()
    th_grads = [p.grad for p in model.roi_heads.track_head.parameters()]
    assert all(g is not None for g in th_grads)
    assert sum(float(g.abs().sum()) for g in th_grads) > 0
    bb_grad = sum(float(p.grad.abs().sum()) for p in model.backbone.parameters() if p.grad is not None)
    assert bb_grad > 0
    # the box / mask predictors are not in loss_match's graph
    assert model.roi_heads.box_predictor.cls_score.weight.grad is None
    # the reference half of the 2N-image backbone batch receives gradient (not detached)
    n = 2
    ref_grad = sum(float(v.grad[n:].abs().sum()) for v in captured.values() if v.grad is not None)
    key_grad = sum(float(v.grad[:n].abs().sum()) for v in captured.values() if v.grad is not None)
    assert ref_grad > 0 and key_grad > 0
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("separate", [True, False])
def test_separate_sampling_on_and_off(model, monkeypatch, separate):
    model.train()
    heads = model.roi_heads
    monkeypatch.setattr(heads, "track_separate_sampling", separate)
    calls = []
    original = heads.label_and_sample_proposals

    def counting(proposals, targets):
        calls.append(1)
        return original(proposals, targets)

    monkeypatch.setattr(heads, "label_and_sample_proposals", counting)
    with EventStorage() as storage:
        losses = model(_pairs(seed=1))
    assert set(losses) == EXPECTED_LOSSES
    assert all(torch.isfinite(v) for v in losses.values())
    # MMT samples the track head's RoIs a second time; ORIG reuses the box sample
    assert len(calls) == (2 if separate else 1)
    acc = storage.latest()["track_head/match_accuracy"][0]
    assert 0.0 <= acc <= 1.0


def test_empty_reference_frame_gives_zero_match_loss(model):
    model.train()
    with EventStorage():
        batch = _pairs(ref_empty=True, seed=2)
        # make the second pair's reference empty as well
        batch[1]["ref_instances"] = _gt([], ids=[], classes=[], with_masks=False)
        losses = model(batch)
    assert set(losses) == EXPECTED_LOSSES
    assert all(torch.isfinite(v) for v in losses.values())
    assert float(losses["loss_match"].detach()) == 0.0
    assert losses["loss_cls"] > 0  # the detector still trains on the key frames


def test_training_requires_reference_frames(model):
    model.train()
    heads = model.roi_heads
    with EventStorage():
        with pytest.raises(AssertionError, match="reference"):
            heads(None, {}, [], [], ref_features=None, ref_targets=None)


def _frames(length, orig_h, orig_w, seed=3):
    g = torch.Generator().manual_seed(seed)
    return [{"image": torch.randint(0, 256, (3, H, W), dtype=torch.uint8, generator=g),
             "height": orig_h, "width": orig_w, "frame_idx": i} for i in range(length)]


def test_eval_on_video_returns_tracks_at_original_size(model):
    model.eval()
    length, orig_h, orig_w = 3, 128, 192  # resized by MIN_SIZE_TEST 64 to the 64x96 input
    video = {"video_id": 42, "length": length, "height": orig_h, "width": orig_w,
             "frames": _frames(length, orig_h, orig_w)}
    with torch.no_grad():
        out = model([video])
    assert isinstance(out, list) and len(out) == 1
    res = out[0]
    assert set(res) == {"video_id", "tracks"}
    assert res["video_id"] == 42
    tracks = res["tracks"]
    assert len(tracks) > 0  # score threshold 0: frame 0's detections start tracks
    n_rles = 0
    for t in tracks:
        assert len(t["segmentations"]) == length
        assert {"track_id", "score", "category_id", "segmentations"} <= set(t)
        for rle in t["segmentations"]:
            if rle is None:
                continue
            n_rles += 1
            assert list(rle["size"]) == [orig_h, orig_w]
            m = mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()
                                  if isinstance(rle["counts"], str) else rle["counts"]})
            assert m.shape == (orig_h, orig_w)
    assert n_rles > 0


def test_track_frames_yield_frame_idx_and_the_trackers_ids(model, monkeypatch):
    model.eval()
    frames = _frames(3, 128, 192, seed=4)
    for f, i in zip(frames, (0, 5, 10)):
        f["frame_idx"] = i
    returned = []
    step = model.tracker.step

    def recording_step(*args, **kwargs):
        returned.append(step(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(model.tracker, "step", recording_step)
    seen = []
    for frame_idx, inst in model.track_frames(iter(frames)):
        seen.append(frame_idx)
        assert inst.image_size == (128, 192)
        assert inst.pred_masks.shape[1:] == (128, 192)
        ids = returned[-1]
        # exactly the detections the tracker kept, in order, with its ids
        assert torch.equal(inst.pred_track_ids, ids[ids >= 0])
    assert seen == [0, 5, 10]


def _plain_mask_rcnn(model):
    """detectron2's GeneralizedRCNN + StandardROIHeads built from the same config, with
    ``model``'s weights copied in (everything but the track head)."""
    cfg = tiny_cfg()
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    cfg.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    plain = build_model(cfg)
    assert type(plain) is GeneralizedRCNN
    res = plain.load_state_dict(model.state_dict(), strict=False)
    assert not res.missing_keys
    assert res.unexpected_keys and all(".track_head." in k for k in res.unexpected_keys)
    return plain.eval()


def _assert_same_detections(inst, ref):
    assert len(inst) == len(ref) > 0
    torch.testing.assert_close(inst.pred_boxes.tensor, ref.pred_boxes.tensor)
    torch.testing.assert_close(inst.scores, ref.scores)
    assert torch.equal(inst.pred_classes, ref.pred_classes)
    assert torch.equal(inst.pred_masks, ref.pred_masks)


def test_video_inference_with_a_keep_all_tracker_equals_plain_mask_rcnn(model, monkeypatch):
    """With a tracker that starts a new track for every detection (all scores 0, so "new"
    wins every tie), the per-frame boxes, scores, classes and masks of video inference are
    plain Mask R-CNN's on the same frames: the embedding step, the tracker's filtering and the
    mask head for the kept boxes lose or misplace nothing."""
    from masktrack_d2.modeling import MaskTrackTracker

    model.eval()
    plain = _plain_mask_rcnn(model)
    monkeypatch.setattr(model, "tracker", MaskTrackTracker(match_weights=(0.0, 0.0, 0.0),
                                                           use_embedding=False))
    frames = _frames(4, 128, 192, seed=8)
    with torch.no_grad():
        plain_out = [plain([f])[0]["instances"] for f in frames]
        tracked = list(model.track_frames(iter(frames)))
        video = model([{"video_id": 1, "length": len(frames), "height": 128, "width": 192,
                        "frames": frames}])[0]
    assert [i for i, _ in tracked] == list(range(len(frames)))
    for (_, inst), ref in zip(tracked, plain_out):
        _assert_same_detections(inst, ref)
    # the results format: one track per detection, holding that frame's mask and score
    assert len(video["tracks"]) == sum(len(r) for r in plain_out)
    for f, ref in enumerate(plain_out):
        in_frame = [t for t in video["tracks"] if t["segmentations"][f] is not None]
        assert len(in_frame) == len(ref)
        for t, score, label, mask in zip(in_frame, ref.scores, ref.pred_classes, ref.pred_masks):
            assert t["score"] == pytest.approx(float(score))
            assert t["category_id"] == int(label)
            rle = t["segmentations"][f]
            decoded = mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode()})
            assert (decoded.astype(bool) == mask.numpy()).all()


def test_eval_on_plain_image_equals_plain_mask_rcnn(model):
    model.eval()
    plain = _plain_mask_rcnn(model)
    inputs = [{"image": _frames(1, 128, 192, seed=5)[0]["image"], "height": 128, "width": 192}]
    with torch.no_grad():
        out = model(inputs)
        ref = plain(inputs)
    assert isinstance(out, list) and len(out) == 1 and set(out[0]) == {"instances"}
    inst = out[0]["instances"]
    assert inst.image_size == (128, 192)
    assert not inst.has("pred_track_ids")
    _assert_same_detections(inst, ref[0]["instances"])


def test_key_frame_without_instances_in_batch(model):
    # possible after augmentation: filter_empty_instances can drop a key frame's only instance
    model.train()
    batch = _pairs(seed=6)
    batch[0]["instances"] = _gt([], ids=[], classes=[], with_masks=False)
    with EventStorage():
        losses = model(batch)
    assert set(losses) == EXPECTED_LOSSES
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_match"] > 0  # the second pair still has a matched instance


def test_video_without_detections_gives_no_tracks(model, monkeypatch):
    model.eval()
    monkeypatch.setattr(model.roi_heads.box_predictor, "test_score_thresh", 1.01)
    video = {"video_id": 5, "length": 2, "height": 128, "width": 192,
             "frames": _frames(2, 128, 192, seed=7)}
    with torch.no_grad():
        out = model([video])
    assert out == [{"video_id": 5, "tracks": []}]
