"""Device tests: the tiny model and the tracker on the device named by MASKTRACK_TEST_DEVICE
(tools/gpu_check.py runs them with ``cuda``). Skipped unless that variable is set."""
import os

import pycocotools.mask as mask_util
import pytest
import torch

import _tiny
from masktrack_d2.data.build import build_frame_pair_train_loader
from masktrack_d2.engine import MaskTrackTrainer
from masktrack_d2.modeling.tracker import MaskTrackTracker

DEVICE = os.environ.get("MASKTRACK_TEST_DEVICE")
pytestmark = [
    pytest.mark.skipif(DEVICE is None, reason="set MASKTRACK_TEST_DEVICE (tools/gpu_check.py)"),
    pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(), reason="no CUDA"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    info = _tiny.make_tiny_data(tmp_path_factory.mktemp("cuda_data"))
    name = _tiny.register(info["train_json"], info["image_root"], prefix="cuda_train")
    yield name
    _tiny.unregister(name)


def test_tracker_on_device_matches_cpu():
    g = torch.Generator().manual_seed(0)
    frames = []
    for _ in range(5):
        xy = torch.rand(6, 2, generator=g) * 50
        frames.append((torch.cat([xy, xy + 10], 1), torch.rand(6, generator=g) * 0.5 + 0.5,
                       torch.randint(0, 3, (6,), generator=g), torch.randn(6, 8, generator=g)))
    ids = {}
    for dev in ("cpu", DEVICE):
        trk = MaskTrackTracker()
        ids[dev] = [trk.step(i, *(t.to(dev) for t in f)) for i, f in enumerate(frames)]
        assert all(x.device.type == torch.device(dev).type for x in ids[dev])
    assert [x.tolist() for x in ids["cpu"]] == [x.cpu().tolist() for x in ids[DEVICE]]


def test_train_steps_and_video_inference_on_device(data, tmp_path):
    # inference at 48x72, not at the videos' 64x96: the masks must come back at 64x96
    cfg = _tiny.tiny_cfg(train=[data], output_dir=tmp_path,
                         opts=["MODEL.DEVICE", DEVICE, "SOLVER.IMS_PER_BATCH", "2",
                               "INPUT.MIN_SIZE_TEST", "48", "INPUT.MAX_SIZE_TEST", "72"])
    model = MaskTrackTrainer.build_model(cfg)
    assert next(model.parameters()).device.type == torch.device(DEVICE).type
    optimizer = MaskTrackTrainer.build_optimizer(cfg, model)
    loader = iter(build_frame_pair_train_loader(cfg))
    from detectron2.utils.events import EventStorage

    with EventStorage(0):
        for _ in range(2):
            losses = model(next(loader))
            assert all(torch.isfinite(v) and v.device.type == torch.device(DEVICE).type
                       for v in losses.values()), losses
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        video = next(iter(MaskTrackTrainer.build_test_loader(cfg, data)))[0]
        out = model.inference_video(video)
    # The device's detections came back as YouTube-VIS tracks of this video: one entry per
    # listed frame, each mask an RLE that decodes at the original (not the network input)
    # size, scores from detections above the test threshold, labels among the classes.
    assert out["video_id"] == video["video_id"]
    tracks = out["tracks"]
    assert tracks, "no track: the checks below would be vacuous"
    assert len({t["track_id"] for t in tracks}) == len(tracks)
    h, w = video["height"], video["width"]
    assert tuple(next(iter(video["frames"]))["image"].shape[-2:]) != (h, w)
    for t in tracks:
        segs = t["segmentations"]
        assert len(segs) == video["length"] == len(video["frames"]), t["track_id"]
        assert any(s is not None for s in segs), t["track_id"]
        for s in segs:
            assert s is None or (s["size"] == [h, w] and mask_util.decode(
                {"size": s["size"], "counts": s["counts"]}).shape == (h, w)), s
        assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST <= t["score"] <= 1, t["score"]
        assert 0 <= t["category_id"] < cfg.MODEL.ROI_HEADS.NUM_CLASSES, t["category_id"]
