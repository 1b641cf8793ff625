"""Evaluation sharded over processes equals a single-process evaluation exactly.

Two CPU processes (gloo), started here with torch.multiprocessing, each run detectron2's
inference_on_dataset over build_video_test_loader (InferenceSampler shards whole videos) with
a model-free stand-in that returns noisy copies of the ground-truth tracks; YTVISEvaluator
gathers them on rank 0. detectron2 0.6's launch() needs CUDA for more than one process, so
the workers set up what detectron2.utils.comm needs themselves: the default process group
(gather / synchronize / is_main_process) and comm._LOCAL_PROCESS_GROUP (get_local_rank).
"""
import json
import math
import os
import socket
from collections import OrderedDict

import numpy as np
import pycocotools.mask as mask_util
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from detectron2.data import DatasetCatalog
from detectron2.evaluation import inference_on_dataset
from detectron2.utils import comm

import _tiny
from masktrack_d2.data.build import build_video_test_loader
from masktrack_d2.evaluation.evaluator import YTVISEvaluator

WORLD = 2
NUM_VIDEOS = 5  # InferenceSampler: 3 videos on rank 0, 2 on rank 1


def _noisy(rle, rng):
    """The GT mask shifted by up to 1 px, or None (a missed frame) one time in seven."""
    if rng.randint(7) == 0:
        return None
    mask = mask_util.decode(rle)
    mask = np.roll(mask, (rng.randint(-1, 2), rng.randint(-1, 2)), axis=(0, 1))
    if not mask.any():
        return None
    out = mask_util.encode(np.asfortranarray(mask))
    return {"size": [int(s) for s in out["size"]], "counts": out["counts"].decode("ascii")}


def noisy_tracks(record, num_classes=3):
    """Tracks of one video from its GT, with noise, a deterministic function of the video:
    noisy masks, scores rounded to 0.1 (ties across videos), a wrong-class duplicate."""
    rng = np.random.RandomState(record["video_id"])
    gt = OrderedDict()
    for f, annos in enumerate(record["annotations"]):
        for a in annos:
            t = gt.setdefault(a["instance_id"], {"category_id": a["category_id"],
                                                 "segs": [None] * record["length"]})
            t["segs"][f] = a["segmentation"]
    tracks = []
    for t in gt.values():
        segs = [_noisy(s, rng) if s is not None else None for s in t["segs"]]
        if not any(segs):
            continue
        tracks.append({"category_id": t["category_id"], "score": round(rng.uniform(0.3, 1), 1),
                       "segmentations": segs})
        if rng.randint(2):
            tracks.append({"category_id": (t["category_id"] + 1) % num_classes,
                           "score": round(rng.uniform(0.1, 0.6), 1), "segmentations": segs})
    return tracks


class GTNoiseModel(torch.nn.Module):
    """Stands in for MaskTrackRCNN at test time: one {"video_id", "tracks"} per input video."""

    def __init__(self, dataset_name):
        super().__init__()
        self.records = {r["video_id"]: r for r in DatasetCatalog.get(dataset_name)}
        self.seen = []

    def forward(self, inputs):
        outputs = []
        for video in inputs:
            self.seen.append(video["video_id"])
            outputs.append({"video_id": video["video_id"],
                            "tracks": noisy_tracks(self.records[video["video_id"]])})
        return outputs


def evaluate(dataset_name, output_dir):
    cfg = _tiny.tiny_cfg(test=[dataset_name])
    loader = build_video_test_loader(cfg, dataset_name)
    model = GTNoiseModel(dataset_name)
    evaluator = YTVISEvaluator(dataset_name, output_dir=output_dir)
    return inference_on_dataset(model, loader, evaluator), model.seen


def _worker(rank, port, json_file, image_root, output_dir, report_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=WORLD)
    try:
        # What detectron2's launch() sets up besides the default group (one machine).
        comm._LOCAL_PROCESS_GROUP = dist.new_group(list(range(WORLD)))
        assert comm.get_world_size() == WORLD and comm.get_rank() == rank
        assert comm.get_local_rank() == rank and comm.get_local_size() == WORLD
        name = _tiny.register(json_file, image_root, prefix="dist")
        res, seen = evaluate(name, output_dir)
        with open(os.path.join(report_dir, f"rank{rank}.json"), "w") as f:
            json.dump({"seen": seen, "res": res, "main": comm.is_main_process()}, f)
        comm.synchronize()
    except BaseException:
        dist.destroy_process_group()
        raise
    # Both ranks are past the last collective and their reports are on disk. Leave without
    # tearing gloo down: its teardown can abort the process whose peer closed the sockets first
    # ("terminate called without an active exception", SIGABRT), a race this test is not about.
    os._exit(0)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same_metrics(a, b):
    assert a.keys() == b.keys()
    for task in a:
        assert a[task].keys() == b[task].keys()
        for k, v in a[task].items():
            w = b[task][k]
            assert v == w or (math.isnan(v) and math.isnan(w)), (task, k, v, w)


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path):
    summary = _tiny.make_tiny_data(tmp_path / "data", num_videos=NUM_VIDEOS)
    json_file, image_root = summary["all_json"], summary["image_root"]
    with open(json_file) as f:
        all_ids = sorted(v["id"] for v in json.load(f)["videos"])
    assert len(all_ids) == NUM_VIDEOS

    # One process, all videos.
    name = _tiny.register(json_file, image_root, prefix="single")
    try:
        single, seen = evaluate(name, str(tmp_path / "single"))
    finally:
        _tiny.unregister(name)
    assert sorted(seen) == all_ids
    ap = single["segm"]["AP"]
    assert 0 < ap < 100, single  # noisy: neither empty nor perfect

    # Two processes.
    reports = tmp_path / "reports"
    reports.mkdir()
    mp.spawn(_worker, args=(_free_port(), json_file, image_root, str(tmp_path / "dist"),
                            str(reports)), nprocs=WORLD, join=True)
    ranks = [json.loads((reports / f"rank{r}.json").read_text()) for r in range(WORLD)]

    # Whole videos, each in exactly one process, all of them across the processes.
    seen = [r["seen"] for r in ranks]
    assert all(seen), seen
    assert sorted(v for s in seen for v in s) == all_ids, seen
    assert [len(s) for s in seen] == [3, 2]

    # Rank 0 holds the metrics, equal to the single process's exactly; rank 1 returns {}.
    assert ranks[0]["main"] and not ranks[1]["main"]
    assert ranks[1]["res"] == {}
    _same_metrics(ranks[0]["res"], json.loads(json.dumps(single)))

    # The same results.json, byte for byte, and nothing else in the output folder.
    assert os.listdir(tmp_path / "dist") == ["results.json"]
    assert (tmp_path / "dist" / "results.json").read_bytes() == \
        (tmp_path / "single" / "results.json").read_bytes()
