"""Frame-pair training mapper, key-frame items, frame reading and the lazy video test mapper
(docs/method.md, "Training pairs"; datasets/README.md)."""
import os
import pickle

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
from PIL import Image

from detectron2.config import get_cfg
from detectron2.structures import BoxMode

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.data.datasets import load_ytvis_json
from masktrack_d2.data.frames import FrameReadError, VideoFrames, read_frame
from masktrack_d2.data.pair_mapper import FramePairDatasetMapper, is_valid_annotation, key_frame_items
from masktrack_d2.data.synthetic import generate_synthetic_ytvis
from masktrack_d2.data.video_mapper import VideoTestMapper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN.yaml")

H, W = 64, 96


# ------------------------------------------------------------------------------ helpers
def base_cfg(**overrides):
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(BASE)
    for k, v in overrides.items():
        node = cfg
        *path, last = k.split(".")
        for p in path:
            node = getattr(node, p)
        setattr(node, last, v)
    return cfg


def small_cfg(**overrides):
    """Frames of 64x96 -> network input 32x48."""
    return base_cfg(**{"INPUT.MIN_SIZE_TRAIN": (32,), "INPUT.MAX_SIZE_TRAIN": 48,
                       "INPUT.MIN_SIZE_TEST": 32, "INPUT.MAX_SIZE_TEST": 48, **overrides})


def _image(seed, h=H, w=W):
    rng = np.random.RandomState(seed)
    img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    img[:, : w // 3] = (200, 30, 30)  # left-right asymmetric
    return img


def _write(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img)
    return path


def _ann(instance_id, box, category=0, iscrowd=0, h=H, w=W):
    x, y, bw, bh = box
    m = np.zeros((h, w), dtype=np.uint8, order="F")
    m[int(y): int(y + bh), int(x): int(x + bw)] = 1
    rle = mask_util.encode(np.asfortranarray(m))
    return {"instance_id": instance_id, "category_id": category, "bbox": [float(v) for v in box],
            "bbox_mode": BoxMode.XYWH_ABS, "iscrowd": iscrowd,
            "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")}}


def make_video(tmp_path, video_id, annotations, identical=False, h=H, w=W, seed=0):
    """A record as load_ytvis_json returns it, with one real JPEG per listed frame."""
    files = []
    for f in range(len(annotations)):
        img = _image(seed if identical else seed * 100 + f, h, w)
        files.append(_write(str(tmp_path / f"v{video_id}" / f"{5 * f:05d}.jpg"), img))
    return {"video_id": video_id, "file_names": files, "length": len(files), "height": h,
            "width": w, "annotations": annotations}


def _ids(inst):
    return inst.gt_instance_ids.tolist()


# ------------------------------------------------------------------------------ shared augmentation
def test_key_and_ref_share_resize_and_flip(tmp_path):
    annos = [[_ann(5, (4, 8, 20, 30)), _ann(6, (60, 20, 30, 40), category=1)] for _ in range(3)]
    video = make_video(tmp_path, 1, annos, identical=True)
    mapper = FramePairDatasetMapper(small_cfg(), [video], is_train=True)
    flips = set()
    for seed in range(16):
        np.random.seed(seed)
        out = mapper({"video_index": 0, "frame_idx": 1})
        assert out["ref_frame_idx"] != 1
        assert out["image"].shape == (3, 32, 48)
        assert torch.equal(out["image"], out["ref_image"])
        key, ref = out["instances"], out["ref_instances"]
        assert _ids(key) == _ids(ref) == [5, 6]
        assert torch.equal(key.gt_boxes.tensor, ref.gt_boxes.tensor)
        assert not ref.has("gt_masks")  # the reference only needs boxes and ids
        assert key.gt_masks.tensor.shape == (2, 32, 48)
        # instance 5 starts on the left; a flip moves it to the right half
        cx = float(key.gt_boxes.tensor[0, [0, 2]].mean())
        flips.add(cx > 24)
    assert flips == {True, False}


@pytest.mark.parametrize("size,expected_hw", [((720, 1280), (360, 640)),
                                              ((480, 640), (360, 480)),
                                              ((640, 480), (480, 360))])
def test_resize_fits_640x360_with_base_config(tmp_path, size, expected_hw):
    h, w = size
    box = (w / 4, h / 4, w / 4, h / 4)
    video = make_video(tmp_path, 1, [[_ann(1, box, h=h, w=w)]], h=h, w=w)
    cfg = base_cfg()
    assert cfg.INPUT.MIN_SIZE_TRAIN == (360,) and cfg.INPUT.MAX_SIZE_TRAIN == 640
    mapper = FramePairDatasetMapper(cfg, [video], is_train=True)
    np.random.seed(0)
    out = mapper({"video_index": 0, "frame_idx": 0})
    assert tuple(out["image"].shape[1:]) == expected_hw
    assert tuple(out["ref_image"].shape[1:]) == expected_hw
    assert (out["height"], out["width"]) == expected_hw
    scale = expected_hw[0] / h
    b = out["instances"].gt_boxes.tensor[0]
    assert float(b[2] - b[0]) == pytest.approx(w / 4 * scale, abs=1e-3)
    assert float(b[3] - b[1]) == pytest.approx(h / 4 * scale, abs=1e-3)
    # one-frame video: the key is its own reference
    assert out["ref_frame_idx"] == 0


def test_instance_ids_and_classes_carried(tmp_path):
    annos = [[_ann(101, (2, 2, 20, 20), category=2), _ann(205, (40, 10, 30, 30), category=0)],
             [_ann(205, (42, 12, 30, 30), category=0)]]
    video = make_video(tmp_path, 3, annos)
    mapper = FramePairDatasetMapper(small_cfg(), [video], is_train=True)
    out = mapper({"video_index": 0, "frame_idx": 0})
    assert out["ref_frame_idx"] == 1
    assert _ids(out["instances"]) == [101, 205]
    assert out["instances"].gt_classes.tolist() == [2, 0]
    assert _ids(out["ref_instances"]) == [205]
    assert out["ref_instances"].gt_classes.tolist() == [0]
    assert out["video_id"] == 3 and out["frame_idx"] == 0
    assert out["file_name"] == video["file_names"][0]


# ------------------------------------------------------------------------------ reference sampling
def test_reference_within_range_and_never_key(tmp_path):
    annos = [[_ann(1, (10 + f, 10, 20, 20))] for f in range(6)]
    video = make_video(tmp_path, 1, annos)
    mapper = FramePairDatasetMapper(small_cfg(**{"INPUT.SAMPLING_FRAME_RANGE": 1}), [video])
    assert mapper.sampling_frame_range == 1
    seen = {k: set() for k in range(6)}
    np.random.seed(0)
    for key in range(6):
        for _ in range(30):
            ref = mapper.sample_ref_index(video, key)
            assert ref != key and abs(ref - key) <= 1
            seen[key].add(ref)
    assert seen[0] == {1} and seen[5] == {4}
    assert seen[2] == {1, 3}  # uniform among the candidates: both neighbours occur
    # through the mapper too
    for seed in range(4):
        np.random.seed(seed)
        out = mapper({"video_index": 0, "frame_idx": 3})
        assert out["ref_frame_idx"] in (2, 4)


def test_reference_default_range_covers_whole_video(tmp_path):
    annos = [[_ann(1, (10, 10, 20, 20))] for _ in range(5)]
    video = make_video(tmp_path, 1, annos)
    mapper = FramePairDatasetMapper(small_cfg(), [video])
    assert mapper.sampling_frame_range == 100
    np.random.seed(1)
    refs = {mapper.sample_ref_index(video, 0) for _ in range(60)}
    assert refs == {1, 2, 3, 4}


def test_one_frame_video_reuses_key(tmp_path):
    video = make_video(tmp_path, 1, [[_ann(9, (5, 5, 30, 30))]])
    mapper = FramePairDatasetMapper(small_cfg(), [video])
    for seed in range(3):
        np.random.seed(seed)
        out = mapper({"video_index": 0, "frame_idx": 0})
        assert out["ref_frame_idx"] == 0
        assert torch.equal(out["image"], out["ref_image"])
        assert _ids(out["ref_instances"]) == [9]


def test_empty_reference_frame_has_zero_instances(tmp_path):
    video = make_video(tmp_path, 1, [[_ann(1, (5, 5, 30, 30))], []])
    mapper = FramePairDatasetMapper(small_cfg(), [video])
    out = mapper({"video_index": 0, "frame_idx": 0})
    assert out["ref_frame_idx"] == 1  # the only other frame, empty frames allowed (MMT)
    ref = out["ref_instances"]
    assert len(ref) == 0
    assert ref.gt_boxes.tensor.shape == (0, 4)
    assert ref.gt_instance_ids.shape == (0,) and ref.gt_instance_ids.dtype == torch.long
    assert len(out["instances"]) == 1


def test_ref_nonempty_only_never_picks_empty_frame(tmp_path):
    crowd_only = [_ann(4, (5, 5, 30, 30), iscrowd=1)]
    annos = [[_ann(1, (5, 5, 30, 30))], [], crowd_only, [_ann(1, (8, 5, 30, 30))], []]
    video = make_video(tmp_path, 1, annos)
    mapper = FramePairDatasetMapper(small_cfg(**{"INPUT.REF_NONEMPTY_ONLY": True}), [video])
    np.random.seed(0)
    assert {mapper.sample_ref_index(video, 0) for _ in range(40)} == {3}
    assert {mapper.sample_ref_index(video, 3) for _ in range(40)} == {0}
    # default (MMT): empty frames are candidates
    mmt = FramePairDatasetMapper(small_cfg(), [video])
    assert {mmt.sample_ref_index(video, 0) for _ in range(80)} == {1, 2, 3, 4}
    # no other non-empty frame: fall back to the key
    lonely = make_video(tmp_path / "b", 2, [[], [_ann(1, (5, 5, 30, 30))], []])
    assert {mapper.sample_ref_index(lonely, 1) for _ in range(10)} == {1}


# ------------------------------------------------------------------------------ key frames / validity
def test_key_frame_items_drop_frames_without_valid_instance():
    videos = [
        {"annotations": [[_ann(1, (0, 0, 10, 10))], [], [_ann(2, (0, 0, 10, 10), iscrowd=1)],
                         [_ann(3, (0, 0, 0.5, 10))], [_ann(1, (0, 0, 10, 10)), _ann(4, (0, 0, 10, 10), iscrowd=1)]]},
        {"annotations": [[], []]},
        {"annotations": [[_ann(7, (3, 3, 1, 1))]]},
    ]
    items = key_frame_items(videos)
    assert items == [{"video_index": 0, "frame_idx": 0}, {"video_index": 0, "frame_idx": 4},
                     {"video_index": 2, "frame_idx": 0}]
    assert len(key_frame_items(videos, filter_empty=False)) == 8


def test_is_valid_annotation():
    assert is_valid_annotation(_ann(1, (0, 0, 1, 1)))
    assert not is_valid_annotation(_ann(1, (0, 0, 0.9, 5)))
    assert not is_valid_annotation(_ann(1, (0, 0, 5, 0)))
    assert not is_valid_annotation(_ann(1, (0, 0, 5, 5), iscrowd=1))


def test_crowd_annotations_not_in_instances(tmp_path):
    frame = [_ann(1, (5, 5, 20, 20)), _ann(2, (40, 10, 30, 30), iscrowd=1), _ann(3, (30, 30, 20, 20))]
    video = make_video(tmp_path, 1, [frame, list(frame)])
    out = FramePairDatasetMapper(small_cfg(), [video])({"video_index": 0, "frame_idx": 0})
    assert _ids(out["instances"]) == [1, 3]
    assert _ids(out["ref_instances"]) == [1, 3]
    assert len(out["instances"].gt_masks) == 2


def test_synthetic_dataset_maps_end_to_end(tmp_path):
    summary = generate_synthetic_ytvis(str(tmp_path / "syn"), num_videos=2, num_frames=3,
                                       height=48, width=80, seed=0)
    videos = load_ytvis_json(summary["all_json"], summary["image_root"])
    items = key_frame_items(videos)
    assert items
    mapper = FramePairDatasetMapper(small_cfg(**{"INPUT.MIN_SIZE_TRAIN": (24,), "INPUT.MAX_SIZE_TRAIN": 40}),
                                    videos)
    np.random.seed(0)
    for item in items:
        out = mapper(item)
        video = videos[item["video_index"]]
        valid = [a for a in video["annotations"][item["frame_idx"]] if is_valid_annotation(a)]
        assert sorted(_ids(out["instances"])) == sorted(a["instance_id"] for a in valid)
        ref_valid = [a for a in video["annotations"][out["ref_frame_idx"]] if is_valid_annotation(a)]
        assert sorted(_ids(out["ref_instances"])) == sorted(a["instance_id"] for a in ref_valid)
        assert out["image"].shape == (3, 24, 40)
        assert out["instances"].gt_masks.tensor.shape[1:] == (24, 40)
        assert out["ref_frame_idx"] != item["frame_idx"]


# ------------------------------------------------------------------------------ frame errors
def test_corrupt_jpeg_raises_frame_read_error(tmp_path):
    video = make_video(tmp_path, 17, [[_ann(1, (5, 5, 20, 20))], [_ann(1, (5, 5, 20, 20))]])
    bad = video["file_names"][1]
    with open(bad, "wb") as f:
        f.write(b"this is not a jpeg at all" * 10)
    with pytest.raises(FrameReadError) as e:
        read_frame(video, 1, "BGR")
    assert "video 17" in str(e.value) and bad in str(e.value)
    mapper = FramePairDatasetMapper(small_cfg(), [video])
    with pytest.raises(FrameReadError, match="video 17"):
        mapper({"video_index": 0, "frame_idx": 1})  # the key frame
    with pytest.raises(FrameReadError, match="video 17"):
        mapper({"video_index": 0, "frame_idx": 0})  # the reference frame (the only other one)


def test_truncated_jpeg_raises_frame_read_error(tmp_path):
    video = make_video(tmp_path, 18, [[_ann(1, (5, 5, 20, 20))]])
    path = video["file_names"][0]
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 3])
    with pytest.raises(FrameReadError) as e:
        read_frame(video, 0, "BGR")
    assert "video 18" in str(e.value) and path in str(e.value)


def test_missing_frame_raises_frame_read_error(tmp_path):
    video = make_video(tmp_path, 23, [[_ann(1, (5, 5, 20, 20))], [_ann(1, (5, 5, 20, 20))]])
    missing = video["file_names"][0]
    os.remove(missing)
    with pytest.raises(FrameReadError) as e:
        FramePairDatasetMapper(small_cfg(), [video])({"video_index": 0, "frame_idx": 0})
    assert "video 23" in str(e.value) and missing in str(e.value)


def test_frame_of_wrong_size_raises_frame_read_error(tmp_path):
    video = make_video(tmp_path, 31, [[_ann(1, (5, 5, 20, 20))]])
    video["height"], video["width"] = 60, 96  # the json disagrees with the JPEG (64x96)
    with pytest.raises(FrameReadError, match="video 31"):
        read_frame(video, 0, "BGR")


# ------------------------------------------------------------------------------ test mapper
def test_video_test_mapper_streams_frames_lazily(tmp_path):
    video = make_video(tmp_path, 8, [[] for _ in range(4)])
    item = VideoTestMapper(small_cfg())(video)
    assert set(item) == {"video_id", "length", "height", "width", "file_names", "frames"}
    assert (item["video_id"], item["length"], item["height"], item["width"]) == (8, 4, H, W)
    frames = item["frames"]
    assert isinstance(frames, VideoFrames)
    assert len(frames) == 4
    out = list(frames)
    assert [f["frame_idx"] for f in out] == [0, 1, 2, 3]
    for f, fn in zip(out, video["file_names"]):
        assert f["image"].dtype == torch.uint8
        assert f["image"].shape == (3, 32, 48)  # resized by MIN_SIZE_TEST, no flip
        assert (f["height"], f["width"]) == (H, W)
        assert f["file_name"] == fn
    # the frame resized by hand (BGR, PIL bilinear as detectron2's ResizeTransform)
    bgr = cv2.imread(video["file_names"][2])
    expected = np.asarray(Image.fromarray(bgr).resize((48, 32), Image.BILINEAR))
    diff = np.abs(out[2]["image"].permute(1, 2, 0).numpy().astype(int) - expected.astype(int))
    assert diff.max() <= 1

    # lazy: nothing is read until iteration reaches a frame
    os.remove(video["file_names"][2])
    it = iter(frames)
    assert next(it)["frame_idx"] == 0
    assert next(it)["frame_idx"] == 1
    with pytest.raises(FrameReadError, match="video 8"):
        next(it)


def test_video_frames_picklable_without_pixels(tmp_path):
    video = make_video(tmp_path, 9, [[] for _ in range(3)])
    frames = VideoTestMapper(small_cfg())(video)["frames"]
    blob = pickle.dumps(frames)
    assert len(blob) < 10_000  # file names and augmentation only
    restored = pickle.loads(blob)
    assert len(restored) == 3
    a, b = list(frames), list(restored)
    assert [f["frame_idx"] for f in b] == [0, 1, 2]
    assert all(torch.equal(x["image"], y["image"]) for x, y in zip(a, b))


def test_range_zero_means_whole_video():
    from masktrack_d2.data.pair_mapper import FramePairDatasetMapper

    mapper = FramePairDatasetMapper.__new__(FramePairDatasetMapper)
    mapper.sampling_frame_range, mapper.ref_nonempty_only = 0, False
    video = {"length": 50, "annotations": [[] for _ in range(50)]}
    np.random.seed(0)
    refs = {mapper.sample_ref_index(video, 0) for _ in range(400)}
    assert 0 not in refs and max(refs) > 40
