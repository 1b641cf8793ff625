"""TEST.FRAMES_PER_BATCH and TEST.OUTPUT_WORKER: the detector on K frames at once, with the
outputs made in a background thread, gives what frame by frame, inline, gives.

A random-weight model (seeded) on a generated video with crossings, instances entering and
leaving, and frames the detector leaves empty, compared with K = 1 for K in {2, 5, 8}, on the
three paths that users meet: ``track_frames`` (boxes, scores, classes, ids, masks), the
``--eval-only`` path (``inference_video``'s YouTube-VIS tracks) and the demo's json; the last
two also with the output worker on for K in {1, 2, 5, 8} against the worker off at K = 1, and
the demo's drawn frames. Batched kernels may add in another order, so boxes agree within 1e-3
px, scores within 1e-5 and masks within 0.01% of the pixels; track ids and classes exactly.
"""
import json
import os

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch

from detectron2.modeling import build_model

import _tiny
from masktrack_d2.data.augmentation import build_augmentation
from masktrack_d2.data.datasets import load_ytvis_json
from masktrack_d2.data.frames import VideoFrames
from masktrack_d2.predictor import run_demo, setup_demo_cfg

KS = [2, 5, 8]
SIZE = dict(height=128, width=224)
OPTS = ["INPUT.MIN_SIZE_TEST", "128", "INPUT.MAX_SIZE_TEST", "224",
        "TEST.DETECTIONS_PER_IMAGE", "10", "MODEL.DEVICE", "cpu"]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """One generated video of 12 frames with 3 blank frames put in (at 3, 4 and 9)."""
    root = tmp_path_factory.mktemp("fpb")
    info = _tiny.make_tiny_data(root / "data", num_videos=2, num_frames=12, seed=3, **SIZE)
    record = load_ytvis_json(info["all_json"], info["image_root"])[1]
    blank_dir = root / "blank"
    blank_dir.mkdir()
    files = list(record["file_names"])
    for i in (3, 4, 9):
        path = str(blank_dir / f"{i}.jpg")
        cv2.imwrite(path, np.full((SIZE["height"], SIZE["width"], 3), 90, np.uint8))
        files.insert(i, path)
    return dict(record, file_names=files, length=len(files), root=root)


def _model(threshold):
    cfg = _tiny.tiny_cfg(opts=OPTS + ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(threshold)])
    torch.manual_seed(0)
    model = build_model(cfg)
    model.eval()
    return cfg, model


def _frames(cfg, video):
    return VideoFrames(video, build_augmentation(cfg, is_train=False), cfg.INPUT.FORMAT)


def _track(model, cfg, video, k):
    out = []
    for idx, inst in model.track_frames(_frames(cfg, video), frames_per_batch=k):
        out.append((idx, inst.pred_boxes.tensor, inst.scores, inst.pred_classes,
                    inst.pred_track_ids, inst.pred_masks))
    return out


@pytest.fixture(scope="module")
def threshold(video):
    """A score threshold that leaves some frames without any detection: the median of the
    per-frame best scores of the model at threshold 0."""
    cfg, model = _model(0.0)
    best = [float(s.max()) if len(s) else 0.0 for _, _, s, *_ in _track(model, cfg, video, 1)]
    return float(np.median(best))


def _assert_masks_close(a, b, what):
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    assert a.shape == b.shape, what
    assert (a != b).sum() <= 1e-4 * a.size, what  # 0.01% of the pixels


@pytest.fixture(scope="module")
def reference(video, threshold):
    """Frame by frame (K = 1): the model and its track_frames output."""
    cfg, model = _model(threshold)
    return cfg, model, _track(model, cfg, video, 1)


@pytest.mark.parametrize("k", KS)
def test_track_frames_same_for_k_frames(video, reference, k):
    cfg, model, ref = reference
    got = _track(model, cfg, video, k)
    assert [r[0] for r in got] == [r[0] for r in ref] == list(range(video["length"]))
    empty = sum(len(r[2]) == 0 for r in ref)
    assert 0 < empty < len(ref)  # the case has empty frames and frames with detections
    assert len({int(i) for r in ref for i in r[4]}) >= 3  # and several tracks
    for (idx, *r), (_, *g) in zip(ref, got):
        boxes, scores, classes, ids, masks = r
        assert torch.equal(g[2], classes) and torch.equal(g[3], ids), idx
        torch.testing.assert_close(g[0], boxes, atol=1e-3, rtol=0)
        torch.testing.assert_close(g[1], scores, atol=1e-5, rtol=0)
        _assert_masks_close(g[4], masks, f"frame {idx}")


def _compare_tracks(got, ref):
    """YouTube-VIS results (lists of {"category_id", "score", "segmentations", ...})."""
    assert len(got) == len(ref) > 0
    for g, r in zip(got, ref):
        assert g["category_id"] == r["category_id"]
        assert g.get("track_id") == r.get("track_id")  # the demo json has none
        assert abs(g["score"] - r["score"]) <= 1e-5
        assert [s is None for s in g["segmentations"]] == [s is None for s in r["segmentations"]]
        seg = [(mask_util.decode(a), mask_util.decode(b))
               for a, b in zip(g["segmentations"], r["segmentations"]) if a is not None]
        if seg:
            _assert_masks_close([a for a, _ in seg], [b for _, b in seg], "track")


@pytest.mark.parametrize("k, worker", [(1, True)] + [(k, w) for k in KS for w in (False, True)])
def test_eval_only_results_same_for_k_frames(video, reference, k, worker):
    cfg, model, _ = reference
    inputs = {k_: video[k_] for k_ in ("video_id", "length", "height", "width")}

    def run(kk, output_worker):
        model.frames_per_batch, model.output_worker = kk, output_worker
        try:
            return model([dict(inputs, frames=_frames(cfg, video))])[0]["tracks"]
        finally:
            model.frames_per_batch, model.output_worker = 1, False

    _compare_tracks(run(k, worker), run(1, False))


def _drawn(folder):
    return [cv2.imread(os.path.join(folder, n)) for n in sorted(os.listdir(folder))]


@pytest.mark.slow
def test_demo_json_same_for_k_frames(video, threshold):
    cfg, model = _model(threshold)
    weights = str(video["root"] / "model.pth")
    torch.save({"model": model.state_dict()}, weights)
    config = _tiny.write_config(video["root"] / "cfg.yaml", video["root"] / "out", opts=OPTS)

    def run(k, worker):
        demo_cfg = setup_demo_cfg(config, ["MODEL.WEIGHTS", weights, "TEST.FRAMES_PER_BATCH",
                                           str(k), "TEST.OUTPUT_WORKER", str(worker)],
                                  confidence_threshold=threshold)
        path = str(video["root"] / f"demo_{k}_{worker}.json")
        drawn = str(video["root"] / f"drawn_{k}_{worker}")
        stats = run_demo(demo_cfg, inputs=video["file_names"], json_path=path, output=drawn,
                         progress=False)
        assert stats["frames"] == video["length"]
        with open(path) as f:
            return json.load(f), _drawn(drawn)

    ref, ref_drawn = run(1, False)
    assert len(ref_drawn) == video["length"]
    got, got_drawn = run(1, True)  # the same arithmetic, only another thread: identical
    assert got == ref
    assert all(np.array_equal(a, b) for a, b in zip(got_drawn, ref_drawn))
    for k in KS:
        for worker in (False, True):
            _compare_tracks(run(k, worker)[0], ref)
