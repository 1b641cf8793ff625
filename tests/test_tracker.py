"""Hand-made cases for the online tracker (docs/method.md, "Tracker")."""
import math

import pytest
import torch

from masktrack_d2.modeling.matching import match_logits
from masktrack_d2.modeling.tracker import MaskTrackTracker

A = [0.0, 0.0, 10.0, 10.0]
B = [20.0, 20.0, 30.0, 30.0]
C = [40.0, 0.0, 50.0, 10.0]


def step(trk, f, boxes, scores, labels, embeds):
    """Run one frame with plain python lists; returns the ids as a list."""
    D = len(boxes)
    out = trk.step(
        f,
        torch.tensor(boxes, dtype=torch.float32).reshape(D, 4),
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(labels, dtype=torch.long),
        None if embeds is None else torch.tensor(embeds, dtype=torch.float32).reshape(D, -1),
    )
    assert out.dtype == torch.long and out.shape == (D,)
    return out.tolist()


# ------------------------------------------------------------------ match logits / IoU
def test_match_logits_shape_and_dummy_column():
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
    ref = torch.tensor([[1.0, 0.0], [2.0, 1.0]])
    lg = match_logits(x, ref)
    assert lg.shape == (3, 3)
    assert torch.equal(lg[:, 0], torch.zeros(3))
    assert torch.equal(lg[:, 1:], x @ ref.t())
    lg0 = match_logits(x, torch.zeros(0, 2))
    assert lg0.shape == (3, 1) and torch.equal(lg0, torch.zeros(3, 1))
    assert match_logits(torch.zeros(0, 2), ref).shape == (0, 3)


def test_match_logits_gradient_reaches_both_inputs():
    x = torch.randn(2, 3, requires_grad=True)
    ref = torch.randn(4, 3, requires_grad=True)
    torch.log_softmax(match_logits(x, ref), 1)[:, 2].sum().backward()
    assert x.grad.abs().sum() > 0 and ref.grad.abs().sum() > 0


def test_iou_term_of_the_score():
    """With only the IoU weight on, the score against track t is IoU(detection, track box)."""
    trk = MaskTrackTracker(match_weights=(0.0, 1.0, 0.0), use_embedding=False)
    mem = torch.tensor([A, B, [5.0, 0.0, 15.0, 10.0], [3.0, 3.0, 3.0, 8.0]])
    trk.step(0, mem, torch.ones(4), torch.zeros(4, dtype=torch.long), None)
    dets = torch.tensor([A, [0.0, 0.0, 5.0, 10.0]])
    S = trk.score_matrix(dets, torch.ones(2), torch.zeros(2, dtype=torch.long), None)
    expect = torch.tensor([[1.0, 0.0, 50 / 150, 0.0], [0.5, 0.0, 0.0, 0.0]])
    assert S.shape == (2, 5)
    assert torch.allclose(S[:, 1:], expect) and torch.equal(S[:, 0], torch.zeros(2))


# ------------------------------------------------------------------ association
def test_first_frame_all_new_and_counter():
    trk = MaskTrackTracker()
    assert step(trk, 0, [A, B, C], [0.9, 0.8, 0.7], [0, 1, 2], [[1, 0], [0, 1], [1, 1]]) == [0, 1, 2]
    assert len(trk) == 3 and trk.next_id == 3
    assert trk.track_ids.tolist() == [0, 1, 2] and trk.last_seen.tolist() == [0, 0, 0]
    assert trk.labels.tolist() == [0, 1, 2]
    assert torch.equal(trk.boxes, torch.tensor([A, B, C]))


def test_embedding_decides_between_tracks():
    # Two tracks with identical box and label: only the embedding can tell them apart.
    trk = MaskTrackTracker()
    assert step(trk, 0, [A, A], [0.9, 0.9], [0, 0], [[5, 0], [0, 5]]) == [0, 1]
    assert step(trk, 1, [A, A], [0.9, 0.8], [0, 0], [[0, 5], [5, 0]]) == [1, 0]
    # a third detection unlike both (negative dot products) starts a new track
    assert step(trk, 2, [A, A, A], [0.9, 0.8, 0.7], [0, 0, 0], [[5, 0], [0, 5], [-5, -5]]) == [0, 1, 2]


def test_score_matrix_matches_formula():
    trk = MaskTrackTracker(match_weights=(1.0, 2.0, 10.0))
    step(trk, 0, [A, B], [0.9, 0.9], [0, 1], [[1.0, 0.5], [0.2, 1.0]])
    boxes = torch.tensor([[0.0, 0.0, 10.0, 5.0]])
    e = torch.tensor([[0.3, 0.7]])
    S = trk.score_matrix(boxes, torch.tensor([0.6]), torch.tensor([1]), e)
    logits = torch.tensor([0.0, 0.3 * 1.0 + 0.7 * 0.5, 0.3 * 0.2 + 0.7 * 1.0])
    logp = logits - torch.logsumexp(logits, 0)
    expect = logp + math.log(0.6) + torch.tensor([10.0, 2.0 * 0.5 + 0.0, 0.0 + 10.0])
    assert S.shape == (1, 3) and S.dtype == torch.float32
    assert torch.allclose(S[0], expect, atol=1e-6)


def _conflict_tracker(dedup):
    trk = MaskTrackTracker(dedup=dedup)
    assert step(trk, 0, [A], [0.9], [0], [[5.0, 0.0]]) == [0]
    return trk


A2 = [0.5, 0.5, 10.5, 10.5]  # IoU(A, A2) = 0.82


@pytest.mark.parametrize("dedup", [False, True])
def test_two_detections_want_one_track_later_wins(dedup):
    trk = _conflict_tracker(dedup)
    # both prefer track 0; the later one scores higher (log det score) -> it takes the record
    ids = step(trk, 1, [A, A2], [0.5, 0.9], [0, 0], [[5.0, 0.0], [4.0, 0.0]])
    assert ids == ([-1, 0] if dedup else [0, 0])  # bug-compatible: the earlier keeps the id too
    # memory: last written (= the higher-scoring match) wins, in both modes
    assert len(trk) == 1 and trk.next_id == 1
    assert torch.equal(trk.boxes, torch.tensor([A2]))
    assert torch.equal(trk.embeds, torch.tensor([[4.0, 0.0]]))


@pytest.mark.parametrize("dedup", [False, True])
def test_lower_scoring_competitor_is_discarded(dedup):
    trk = _conflict_tracker(dedup)
    ids = step(trk, 1, [A, A2], [0.9, 0.5], [0, 0], [[5.0, 0.0], [4.0, 0.0]])
    assert ids == [0, -1]
    assert torch.equal(trk.boxes, torch.tensor([A]))  # the discarded one is not written
    assert trk.next_id == 1  # a discarded detection does not start a track


def test_three_way_conflict_bug_compatible():
    trk = _conflict_tracker(False)
    ids = step(trk, 1, [A, A, A], [0.5, 0.9, 0.7], [0, 0, 0], [[5.0, 0.0]] * 3)
    assert ids == [0, 0, -1]


def test_new_slot_wins_exact_ties():
    trk = MaskTrackTracker()
    step(trk, 0, [A], [0.9], [0], [[0.0, 0.0]])
    # zero embeddings -> uniform log p; disjoint box -> IoU 0; same label -> exact tie with "new"
    assert step(trk, 1, [B], [0.9], [0], [[0.0, 0.0]]) == [1]


def test_label_term_prevents_cross_category_match():
    def run(label):
        trk = MaskTrackTracker()
        step(trk, 0, [A], [0.9], [0], [[1.0, 2.0]])
        return step(trk, 1, [A], [0.9], [label], [[1.0, 2.0]])  # dot 5, IoU 1

    assert run(0) == [0]
    assert run(1) == [1]  # log p(track) + 2 < log p(new) + 10


@pytest.mark.parametrize("update_label", [True, False])
def test_label_update_on_off(update_label):
    trk = MaskTrackTracker(update_label=update_label)
    step(trk, 0, [A], [0.9], [0], [[20.0, 0.0]])
    # dot 400: the embedding overrides the label bonus of the new slot
    assert step(trk, 1, [A], [0.9], [3], [[20.0, 0.0]]) == [0]
    assert trk.labels.tolist() == ([3] if update_label else [0])


def test_use_embedding_false_ablation_changes_association():
    # det looks like track B (embedding) but sits on track A's box (IoU 1)
    frame0 = ([A, B], [0.9, 0.9], [0, 0], [[2.0, 0.0], [0.0, 2.0]])
    det = ([A], [0.9], [0], [[0.0, 2.0]])
    with_emb = MaskTrackTracker(use_embedding=True)
    step(with_emb, 0, *frame0)
    assert step(with_emb, 1, *det) == [1]
    without = MaskTrackTracker(use_embedding=False)
    step(without, 0, *frame0)
    assert step(without, 1, *det) == [0]
    # the ablation does not need embeddings at all
    no_emb = MaskTrackTracker(use_embedding=False)
    step(no_emb, 0, frame0[0], frame0[1], frame0[2], None)
    assert step(no_emb, 1, det[0], det[1], det[2], None) == [0]
    assert no_emb.embeds is None
    with pytest.raises(ValueError):
        step(MaskTrackTracker(), 0, [A], [0.9], [0], None)


def test_zero_alpha_and_zero_score_give_no_nan():
    trk = MaskTrackTracker(match_weights=(0.0, 2.0, 10.0))
    step(trk, 0, [A], [0.9], [0], [[5.0, 0.0]])
    S = trk.score_matrix(torch.tensor([A]), torch.tensor([0.0]), torch.tensor([0]), torch.tensor([[5.0, 0.0]]))
    assert torch.isfinite(S).all()


# ------------------------------------------------------------------ empty frames / reset
def test_empty_frame_in_the_middle_leaves_memory_untouched():
    trk = MaskTrackTracker()
    step(trk, 0, [A, B], [0.9, 0.8], [0, 1], [[5.0, 0.0], [0.0, 5.0]])
    before = (trk.track_ids, trk.last_seen, trk.boxes, trk.labels, trk.embeds)
    out = trk.step(1, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), torch.zeros(0, 2))
    assert out.shape == (0,) and out.dtype == torch.long
    after = (trk.track_ids, trk.last_seen, trk.boxes, trk.labels, trk.embeds)
    assert all(torch.equal(x, y) for x, y in zip(before, after))
    assert trk.next_id == 2
    # ids continue: B matched, a new object gets the next counter value
    assert step(trk, 2, [B, C], [0.9, 0.8], [1, 2], [[0.0, 5.0], [1.0, 1.0]]) == [1, 2]
    assert trk.last_seen.tolist() == [0, 2, 2]


def test_empty_first_frame():
    trk = MaskTrackTracker()
    out = trk.step(0, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), torch.zeros(0, 3))
    assert out.numel() == 0 and len(trk) == 0 and trk.next_id == 0
    assert step(trk, 1, [A, B], [0.9, 0.8], [0, 1], [[1, 0, 0], [0, 1, 0]]) == [0, 1]
    assert trk.last_seen.tolist() == [1, 1]


def test_reset_between_videos():
    trk = MaskTrackTracker()
    step(trk, 0, [A, B, C], [0.9, 0.8, 0.7], [0, 1, 2], [[1, 0], [0, 1], [1, 1]])
    step(trk, 1, [A], [0.9], [5], [[-3, -3]])
    assert trk.next_id == 4
    trk.reset()
    assert len(trk) == 0 and trk.next_id == 0 and trk.boxes is None and trk.embeds is None
    # a new video may even have another embedding size
    assert step(trk, 0, [B, C], [0.9, 0.8], [0, 0], [[1, 0, 0], [0, 1, 0]]) == [0, 1]


# ------------------------------------------------------------------ retention
def _retention_video(retain, last_frame, reappear):
    """Track 0 (label 0 on box A) at frame 0; frames 1..last_frame-1 show only another object
    (label 1 on box C); at last_frame also object 0 again if ``reappear``."""
    trk = MaskTrackTracker(num_frames_retain=retain)
    assert step(trk, 0, [A], [0.9], [0], [[5.0, 0.0]]) == [0]
    for f in range(1, last_frame):
        ids = step(trk, f, [C], [0.9], [1], [[0.0, 5.0]])
        assert ids == [1]
    if reappear:
        return trk, step(trk, last_frame, [A, C], [0.9, 0.9], [0, 1], [[5.0, 0.0], [0.0, 5.0]])
    return trk, step(trk, last_frame, [C], [0.9], [1], [[0.0, 5.0]])


def test_retention_19_stays_20_gone():
    trk, _ = _retention_video(20, 19, reappear=False)
    assert trk.track_ids.tolist() == [0, 1]
    trk, _ = _retention_video(20, 20, reappear=False)
    assert trk.track_ids.tolist() == [1]
    # removal happens after the update, so exactly 20 frames later it is still matchable ...
    trk, ids = _retention_video(20, 20, reappear=True)
    assert ids == [0, 1] and trk.track_ids.tolist() == [0, 1] and trk.last_seen.tolist() == [20, 20]
    # ... and a frame later it is a new track
    trk, ids = _retention_video(20, 21, reappear=True)
    assert ids == [2, 1]


@pytest.mark.parametrize("retain", [0, -1])
def test_retention_disabled(retain):
    trk, ids = _retention_video(retain, 60, reappear=True)
    assert ids == [0, 1] and trk.track_ids.tolist() == [0, 1]


def test_retention_counts_frame_indices_across_empty_frames():
    trk = MaskTrackTracker(num_frames_retain=20)
    step(trk, 0, [A], [0.9], [0], [[5.0, 0.0]])
    for f in range(1, 30):  # empty frames do not touch memory ...
        trk.step(f, torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), torch.zeros(0, 2))
    assert trk.track_ids.tolist() == [0]
    # ... the next non-empty frame may still match it, and then it is refreshed
    assert step(trk, 30, [A], [0.9], [0], [[5.0, 0.0]]) == [0]
    assert trk.last_seen.tolist() == [30]
    # unmatched at a non-empty frame >= 20 frames later: retired after that frame's update
    step(trk, 55, [C], [0.9], [1], [[0.0, 5.0]])
    assert trk.track_ids.tolist() == [1]


def test_memory_stays_bounded_over_1000_frames():
    torch.manual_seed(0)
    retain, per_frame, c = 20, 3, 4
    trk = MaskTrackTracker(num_frames_retain=retain)
    max_len = 0
    for f in range(1000):
        # unique labels -> every detection starts a new track
        labels = torch.arange(f * per_frame, (f + 1) * per_frame)
        xy = torch.rand(per_frame, 2) * 100
        boxes = torch.cat([xy, xy + 10], 1)
        ids = trk.step(f, boxes, torch.full((per_frame,), 0.9), labels, torch.rand(per_frame, c))
        assert ids.tolist() == list(range(f * per_frame, (f + 1) * per_frame))
        max_len = max(max_len, len(trk))
        assert trk.embeds.shape == (len(trk), c) and trk.boxes.shape == (len(trk), 4)
        assert trk.labels.shape == (len(trk),) and trk.last_seen.shape == (len(trk),)
    assert max_len == retain * per_frame
    assert int(trk.last_seen.min()) == 1000 - retain


# ------------------------------------------------------------------ config / misc
def test_from_config_default_and_orig():
    pytest.importorskip("detectron2")
    import os

    from detectron2.config import get_cfg

    from masktrack_d2.config import add_masktrack_config

    cfg = get_cfg()
    add_masktrack_config(cfg)
    trk = MaskTrackTracker.from_config(cfg)
    assert (trk.alpha, trk.beta, trk.gamma) == (1.0, 2.0, 10.0)
    assert trk.num_frames_retain == 20 and trk.update_label and not trk.dedup and trk.use_embedding
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg.merge_from_file(os.path.join(
        repo, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e_orig.yaml"))
    cfg.TEST.TRACKER.DEDUP = True
    cfg.TEST.TRACKER.USE_EMBEDDING = False
    trk = MaskTrackTracker.from_config(cfg)
    assert trk.num_frames_retain == 0 and not trk.update_label and trk.dedup and not trk.use_embedding


def test_input_validation():
    trk = MaskTrackTracker()
    with pytest.raises(ValueError):
        trk.step(0, torch.zeros(2, 5), torch.zeros(2), torch.zeros(2, dtype=torch.long), torch.zeros(2, 3))
    with pytest.raises(ValueError):
        trk.step(0, torch.zeros(2, 4), torch.zeros(3), torch.zeros(2, dtype=torch.long), torch.zeros(2, 3))
    step(trk, 0, [A], [0.9], [0], [[1.0, 0.0]])
    with pytest.raises(ValueError):  # embedding size must not change within a video
        step(trk, 1, [A], [0.9], [0], [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("dedup", [False, True])
def test_memory_follows_the_last_writer_over_a_video(dedup):
    """Over a random video with conflicts, empty frames and retired tracks, each matched or new
    track's memory holds its last writer's box, label and embedding (the index lists reach the
    memory through one copy per device)."""
    g = torch.Generator().manual_seed(7)
    t = MaskTrackTracker(num_frames_retain=3, dedup=dedup)
    discarded = retired = 0
    for f in range(30):
        d = 0 if f % 7 == 3 else int(torch.randint(1, 7, (1,), generator=g))
        xy = torch.rand(d, 2, generator=g) * 50
        boxes = torch.cat([xy, xy + 10 + torch.rand(d, 2, generator=g) * 20], dim=1)
        scores = torch.rand(d, generator=g) * 0.9 + 0.05
        labels = torch.randint(0, 2, (d,), generator=g)
        embeds = torch.randn(d, 4, generator=g)
        before, started = len(t), t.next_id
        ids = t.step(f, boxes, scores, labels, embeds)
        assert ids.shape == (d,) and ids.dtype == torch.long
        discarded += int((ids < 0).sum())
        retired += before + (t.next_id - started) - len(t)
        live = t.track_ids.tolist()
        for j in reversed(range(d)):  # the last writer of a track wins
            tid = int(ids[j])
            if tid >= 0 and tid in live:
                row = live.index(tid)
                live[row] = None  # written once, by the last detection
                assert torch.equal(t.boxes[row], boxes[j])
                assert torch.equal(t.embeds[row], embeds[j])
                assert int(t.labels[row]) == int(labels[j])
                assert int(t.last_seen[row]) == f
    assert discarded > 0 and retired > 0  # the case has conflicts and retirements
