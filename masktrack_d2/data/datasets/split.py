"""Deterministic held-out split of a YouTube-VIS json, by video.

The official valid/test sets have no public ground truth, so local validation needs train
videos held out. Numbers on such a split are not comparable with server numbers.

Usage::

    python -m masktrack_d2.data.datasets.split --json datasets/ytvis_2019/train.json \
        --out-train datasets/ytvis_2019/train_sub.json \
        --out-val datasets/ytvis_2019/val_sub.json --val-fraction 0.1 --seed 0
"""
import argparse
import json
import os

import numpy as np

from ...utils.file_io import atomic_write
from .ytvis import _check_top_level, _error, _read_json

__all__ = ["select_val_video_ids", "split_ytvis_json", "main"]


def select_val_video_ids(video_ids, val_fraction=0.1, seed=0):
    """The ids of the held-out videos: a seeded shuffle of the *sorted* ids.

    Sorting first makes the choice independent of the json's video order. With at least
    two videos, both sides get at least one.

    Returns:
        set of video ids.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1), got {}".format(val_fraction))
    ids = sorted(video_ids)
    if len(ids) < 2:
        raise ValueError("need at least 2 videos to split, got {}".format(len(ids)))
    num_val = min(max(int(round(val_fraction * len(ids))), 1), len(ids) - 1)
    order = np.random.RandomState(seed).permutation(len(ids))
    return {ids[i] for i in order[:num_val]}


def _subset(data, video_ids, part, source, val_fraction, seed):
    """A copy of ``data`` with only ``video_ids`` (json order kept) and their annotations."""
    out = {k: v for k, v in data.items() if k not in ("videos", "annotations")}
    info = out.get("info")
    if info is None or isinstance(info, dict):  # leave a non-standard info untouched
        split = {"source": os.path.basename(source), "part": part,
                 "val_fraction": val_fraction, "seed": seed}
        out["info"] = dict(info or {}, split=split)
    out["videos"] = [v for v in data["videos"] if v["id"] in video_ids]
    if "annotations" in data:
        out["annotations"] = [a for a in data["annotations"] or [] if a["video_id"] in video_ids]
    return out


def split_ytvis_json(json_file, out_train, out_val, val_fraction=0.1, seed=0):
    """Split ``json_file`` by video into ``out_train`` and ``out_val``.

    Annotations follow their video, categories and other top-level keys are copied, and
    ``info["split"]`` records the source, part, fraction and seed. Same inputs give
    byte-identical outputs.

    Returns:
        dict with the output paths and the numbers of videos / annotations in each part.
    """
    data = _read_json(json_file)
    _check_top_level(data, json_file)
    ids = [v.get("id") if isinstance(v, dict) else None for v in data["videos"]]
    if None in ids:
        raise _error(json_file, "a video has no 'id'", field="videos")
    if len(set(ids)) != len(ids):
        raise _error(json_file, "duplicate video ids", field="videos")
    known = set(ids)
    for ann in data.get("annotations") or []:
        if ann.get("video_id") not in known:
            raise _error(
                json_file, "refers to unknown video id {}".format(ann.get("video_id")),
                annotation=ann, field="video_id",
            )

    val_ids = select_val_video_ids(ids, val_fraction, seed)
    summary = {"train": out_train, "val": out_val}
    for part, path, keep in [
        ("train", out_train, known - val_ids),
        ("val", out_val, val_ids),
    ]:
        subset = _subset(data, keep, part, json_file, val_fraction, seed)
        with atomic_write(path) as f:
            json.dump(subset, f)
        summary["num_{}_videos".format(part)] = len(subset["videos"])
        summary["num_{}_annotations".format(part)] = len(subset.get("annotations") or [])
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", required=True, help="source YouTube-VIS json (with annotations)")
    parser.add_argument("--out-train", required=True, help="output json of the kept train videos")
    parser.add_argument("--out-val", required=True, help="output json of the held-out videos")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    s = split_ytvis_json(args.json, args.out_train, args.out_val, args.val_fraction, args.seed)
    print(
        "train: {} videos, {} annotations -> {}".format(
            s["num_train_videos"], s["num_train_annotations"], s["train"]
        )
    )
    print(
        "val:   {} videos, {} annotations -> {}".format(
            s["num_val_videos"], s["num_val_annotations"], s["val"]
        )
    )
    return s


if __name__ == "__main__":
    main()
