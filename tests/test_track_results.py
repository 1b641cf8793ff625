"""The video-level formatter (docs/method.md, "Results format" and "Duplicate track ids")."""
import json

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch

from masktrack_d2.modeling.track_results import VideoTrackResults, encode_masks
from masktrack_d2.modeling.tracker import MaskTrackTracker

H, W = 5, 7  # deliberately non-square: catches (H, W) / (W, H) mix-ups


def box_mask(y0, y1, x0, x1, h=H, w=W):
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def decode(rle):
    return mask_util.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def test_encode_masks_roundtrip_and_json_ready():
    masks = np.stack([box_mask(0, 2, 0, 3), box_mask(1, 5, 4, 7), np.zeros((H, W), bool)])
    rles = encode_masks(masks)
    assert len(rles) == 3
    for r, m in zip(rles, masks):
        assert r["size"] == [H, W] and isinstance(r["counts"], str)
        assert np.array_equal(decode(r), m)
    assert encode_masks(np.zeros((0, H, W), bool)) == []
    # non-bool input is binarised (!= 0)
    assert np.array_equal(decode(encode_masks(masks.astype(np.uint8) * 3)[1]), masks[1])


def test_mean_score_vote_padding_and_rle():
    vr = VideoTrackResults(num_frames=4, height=H, width=W)
    m0, m1, m2 = box_mask(0, 2, 0, 2), box_mask(2, 4, 2, 6), box_mask(0, 5, 6, 7)
    vr.add_frame(0, [0, 1], [0.9, 0.4], [2, 5], masks=np.stack([m0, m1]))
    vr.add_frame(2, [0, -1, 1], [0.5, 0.99, 0.6], [3, 7, 5], masks=np.stack([m2, m0, m1]))
    vr.add_frame(3, [0], [0.7], [3], masks=m0[None])
    res = vr.results()
    assert [r["track_id"] for r in res] == [0, 1]
    t0, t1 = res
    assert t0["score"] == pytest.approx((0.9 + 0.5 + 0.7) / 3)  # mean over output frames only
    assert t1["score"] == pytest.approx((0.4 + 0.6) / 2)
    assert t0["category_id"] == 3 and t1["category_id"] == 5  # majority (identity mapping)
    for r in res:
        assert len(r["segmentations"]) == 4
    assert t0["segmentations"][1] is None and t1["segmentations"][1] is None
    assert t1["segmentations"][3] is None
    assert np.array_equal(decode(t0["segmentations"][0]), m0)
    assert np.array_equal(decode(t0["segmentations"][2]), m2)  # not the -1 detection's m0
    assert np.array_equal(decode(t1["segmentations"][2]), m1)
    assert all(s["size"] == [H, W] for r in res for s in r["segmentations"] if s is not None)
    assert vr.frames_added == 3 and vr.num_tracks == 2
    json.dumps(res)


def test_majority_vote_ties_go_to_smallest_label_and_mapping():
    vr = VideoTrackResults(num_frames=4, height=H, width=W)
    m = box_mask(0, 1, 0, 1)[None]
    for f, lab in enumerate([7, 2, 7, 2]):
        vr.add_frame(f, [0], [0.5], [lab], masks=m)
    assert vr.results()[0]["category_id"] == 2
    mapping = {2: 11, 7: 40}
    assert vr.results(mapping)[0]["category_id"] == 11
    assert vr.results([0, 1, 33, 3, 4, 5, 6, 40])[0]["category_id"] == 33
    assert vr.results(lambda lab: lab + 100)[0]["category_id"] == 102


def test_video_id_and_submission_format():
    vr = VideoTrackResults(num_frames=2, height=H, width=W)
    vr.add_frame(1, torch.tensor([4]), torch.tensor([0.25]), torch.tensor([1]),
                 masks=torch.from_numpy(box_mask(1, 3, 1, 3))[None])
    res = vr.results({1: 9}, video_id=123)
    assert res[0]["video_id"] == 123 and res[0]["track_id"] == 4
    sub = vr.to_json_results(123, {1: 9})
    assert sub == [{"video_id": 123, "category_id": 9, "score": pytest.approx(0.25),
                    "segmentations": [None, res[0]["segmentations"][1]]}]
    assert set(sub[0]) == {"video_id", "category_id", "score", "segmentations"}
    back = json.loads(json.dumps(sub))
    assert np.array_equal(decode(back[0]["segmentations"][1]), box_mask(1, 3, 1, 3))
    assert isinstance(back[0]["score"], float) and isinstance(back[0]["category_id"], int)


def test_frame_counts_per_video_are_independent():
    # one video's frame count must never leak into another's (a formatter bug of this kind
    # once moved mmtracking's published AP by up to 1.0)
    lengths = {10: 3, 11: 6, 12: 1}
    out = []
    for vid, n in lengths.items():
        vr = VideoTrackResults(num_frames=n, height=H, width=W)
        for f in range(n):
            vr.add_frame(f, [0, 1], [0.5, 0.6], [0, 1], masks=np.stack([box_mask(0, 1, 0, 1)] * 2))
        out += vr.to_json_results(vid)
    assert len(out) == 6
    for r in out:
        assert len(r["segmentations"]) == lengths[r["video_id"]]
        assert all(s is not None for s in r["segmentations"])


def test_duplicate_track_id_in_one_frame():
    vr = VideoTrackResults(num_frames=2, height=H, width=W)
    first, last = box_mask(0, 2, 0, 2), box_mask(3, 5, 3, 7)
    vr.add_frame(0, [0, 0], [0.2, 0.8], [1, 4], masks=np.stack([first, last]))
    vr.add_frame(1, [0], [0.5], [4], masks=first[None])
    (r,) = vr.results()
    # the references: the score counts twice, the label votes twice
    assert r["score"] == pytest.approx((0.2 + 0.8 + 0.5) / 3)
    assert r["category_id"] == 4
    assert np.array_equal(decode(r["segmentations"][0]), last)  # last mask wins


def test_discarded_detections_and_empty_frames():
    vr = VideoTrackResults(num_frames=3, height=H, width=W)
    m = box_mask(1, 4, 2, 5)
    vr.add_frame(0, [], [], [])  # an empty frame needs no masks
    vr.add_frame(1, [3, -1], [0.9, 0.1], [0, 0], masks=np.stack([m, ~m]))
    vr.add_frame(2, [-1], [0.3], [0])  # only discarded detections: nothing to encode
    (r,) = vr.results()
    assert r["segmentations"][0] is None and r["segmentations"][2] is None
    assert isinstance(r["segmentations"][1]["counts"], str)
    assert np.array_equal(decode(r["segmentations"][1]), m)  # the kept one's mask, not -1's
    assert r["score"] == pytest.approx(0.9)
    json.dumps(r)


def test_results_do_not_alias_internal_state():
    vr = VideoTrackResults(num_frames=1, height=H, width=W)
    vr.add_frame(0, [0], [0.5], [0], masks=box_mask(0, 1, 0, 1)[None])
    vr.results()[0]["segmentations"][0]["counts"] = "garbage"
    assert vr.results()[0]["segmentations"][0]["counts"] != "garbage"


def test_validation_errors():
    vr = VideoTrackResults(num_frames=2, height=H, width=W)
    with pytest.raises(ValueError):  # network-input size instead of the original size
        vr.add_frame(0, [0], [0.5], [0], masks=np.zeros((1, W, H), bool))
    with pytest.raises(ValueError):
        vr.add_frame(0, [0], [0.5], [0])  # kept detection without a mask
    with pytest.raises(IndexError):
        vr.add_frame(2, [0], [0.5], [0], masks=np.zeros((1, H, W), bool))
    vr.add_frame(0, [0], [0.5], [0], masks=np.zeros((1, H, W), bool))
    with pytest.raises(ValueError):  # a frame added twice would double every score
        vr.add_frame(0, [1], [0.5], [0], masks=np.zeros((1, H, W), bool))


def test_tracker_to_formatter_end_to_end():
    """A 3-frame video: the ids of the tracker drive the formatter; a -1 never reaches it."""
    trk = MaskTrackTracker()
    vr = VideoTrackResults(num_frames=3, height=H, width=W)
    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [4.0, 2.0, 7.0, 5.0]])
    emb = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    masks = np.stack([box_mask(0, 2, 0, 2), box_mask(2, 5, 4, 7)])
    for f in range(3):
        if f == 1:  # empty middle frame
            ids = trk.step(f, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), torch.zeros(0, 2))
            vr.add_frame(f, ids, [], [], masks=np.zeros((0, H, W), bool))
            continue
        order = [0, 1] if f == 0 else [1, 0]
        ids = trk.step(f, boxes[order], torch.tensor([0.9, 0.7]), torch.tensor([1, 2])[order], emb[order])
        vr.add_frame(f, ids, torch.tensor([0.9, 0.7]), torch.tensor([1, 2])[order], masks=masks[order])
    res = vr.results([0, 10, 20])
    assert [(r["track_id"], r["category_id"]) for r in res] == [(0, 10), (1, 20)]
    assert res[0]["score"] == pytest.approx((0.9 + 0.7) / 2)
    assert [s is None for s in res[1]["segmentations"]] == [False, True, False]
    assert np.array_equal(decode(res[1]["segmentations"][2]), masks[1])
