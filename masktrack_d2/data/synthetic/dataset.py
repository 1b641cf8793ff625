"""The data set on disk: generate every video, write its frames as JPEGs and the
YouTube-VIS 2019 json (``all.json``, its ``info`` holding the generator parameters and which
videos / instances cross), then split it into ``train.json`` / ``val.json`` with a split seed
that puts a same-category crossing in val.
"""
import json
import os

import cv2
import numpy as np

from ...utils.file_io import atomic_write
from ..datasets.builtin import SYNTHETIC_CATEGORIES, SYNTHETIC_HARD_CATEGORIES
from ..datasets.split import select_val_video_ids, split_ytvis_json
from .annotations import annotation
from .hard_mode import HARD_FAMILIES
from .video import make_video
from .visibility import MIN_VISIBLE_AREA

__all__ = ["MODES", "generate_synthetic_ytvis"]

#: Generator modes: see :func:`generate_synthetic_ytvis`.
MODES = ("default",) + tuple(HARD_FAMILIES)

_JPEG_QUALITY = 95


def _choose_split_seed(video_ids, crossing_ids, val_fraction, seed):
    """First split seed from ``seed`` on whose val part has crossing videos (and train too)."""
    crossing_ids = set(crossing_ids)
    for s in range(seed, seed + 10000):
        val = select_val_video_ids(video_ids, val_fraction, s)
        if val & crossing_ids and (crossing_ids - val or len(crossing_ids) < 2):
            return s
    raise RuntimeError("no split seed puts a crossing video in val")


def generate_synthetic_ytvis(
    output_dir,
    num_videos=24,
    num_frames=10,
    height=None,
    width=None,
    seed=0,
    val_fraction=0.25,
    scale=None,
    mode="default",
):
    """Write a synthetic YouTube-VIS 2019-format data set under ``output_dir``.

    Layout: ``JPEGImages/<video>/00000.jpg, 00005.jpg, ...`` (named like the official
    5-frame sub-sampling), ``all.json``, and ``train.json`` / ``val.json`` made with
    :func:`~masktrack_d2.data.datasets.split.split_ytvis_json` (the split seed is the first
    one from ``seed`` that puts a same-category crossing in val, and in train too when
    there are two or more). Same arguments give the
    same json and JPEG bytes.

    Args:
        height, width (int or None): frame size; default 192x320, the family's in a hard
            mode (360x640 for "hard", 480x640 for "hard_b").
        scale (float or None): multiplies the 20-60 px object extent; default
            ``min(height / 192, width / 320)``, times the family's ``size`` in a hard mode.
        mode (str): ``"default"`` (bright shapes, colour family per category, static dark
            background) or ``"hard"`` (six textured shapes under non-contiguous ids, random
            colour per instance, textured panning background, unannotated distractors), or
            ``"hard_b"``, a second family of it (:data:`.hard_mode.HARD_FAMILIES`).

    Returns:
        dict: ``output_dir``, ``image_root``, ``all_json``, ``train_json``, ``val_json``,
        ``num_videos``, ``num_train_videos``, ``num_val_videos``, ``num_annotations``,
        ``crossing_video_ids``, ``split_seed``.
    """
    if mode not in MODES:
        raise ValueError("mode must be one of {}, got {!r}".format(MODES, mode))
    family = HARD_FAMILIES.get(mode)
    if height is None:
        height = family.frame_size[0] if family else 192
    if width is None:
        width = family.frame_size[1] if family else 320
    if num_videos < 2:
        raise ValueError("num_videos must be >= 2 (train and val need one video each)")
    if num_frames < 3:
        raise ValueError("num_frames must be >= 3 for instances to cross and enter")
    if scale is None:
        scale = min(height / 192.0, width / 320.0) * (family.size if family else 1.0)
    image_root = os.path.join(output_dir, "JPEGImages")

    videos, annotations, crossing_pairs, enter_leave_ids = [], [], [], []
    next_ann_id = 1
    for v in range(num_videos):
        video_id = v + 1
        crossing = v % 2 == 0
        rng = np.random.RandomState([seed, v])  # per video: independent of num_videos
        instances, frames, visible, crossing_frames = make_video(
            rng, crossing, num_frames, height, width, scale, mode
        )
        name = "video_{:04d}".format(video_id)
        file_names = ["{}/{:05d}.jpg".format(name, 5 * t) for t in range(num_frames)]
        os.makedirs(os.path.join(image_root, name), exist_ok=True)
        for fn, image in zip(file_names, frames):
            path = os.path.join(image_root, fn)
            cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
        videos.append(
            {
                "id": video_id,
                "width": width,
                "height": height,
                "length": num_frames,
                "file_names": file_names,
            }
        )
        ann_ids = []
        for inst, masks in zip(instances, visible):
            annotations.append(annotation(next_ann_id, video_id, inst["category_id"], masks))
            ann_ids.append(next_ann_id)
            if inst["role"] == "enter_leave":
                enter_leave_ids.append(next_ann_id)
            next_ann_id += 1
        crossing_pairs.append(
            {
                "video_id": video_id,
                "instance_ids": ann_ids[:2],
                "same_category": crossing,
                "frames": crossing_frames,
            }
        )

    crossing_ids = [p["video_id"] for p in crossing_pairs if p["same_category"]]
    params = {
        "num_videos": num_videos,
        "num_frames": num_frames,
        "height": height,
        "width": width,
        "seed": seed,
        "val_fraction": val_fraction,
        "scale": scale,
        "min_visible_area": MIN_VISIBLE_AREA,
    }
    categories = SYNTHETIC_CATEGORIES
    if mode != "default":  # the default json stays as it always was
        params["mode"] = mode
        categories = SYNTHETIC_HARD_CATEGORIES
    data = {
        "info": {
            "description": "Synthetic YouTube-VIS-format shapes (masktrack_d2.data.synthetic)"
            + ("" if mode == "default" else ", {} mode".format(mode)),
            "params": params,
            # Same-category crossings (the identity test); the other videos' pairs
            # cross too, with two categories (occlusion only).
            "crossing_video_ids": crossing_ids,
            "crossing_pairs": crossing_pairs,
            "enter_leave_instance_ids": enter_leave_ids,
        },
        "licenses": [],
        "videos": videos,
        "annotations": annotations,
        "categories": [dict(c) for c in categories],
    }
    all_json = os.path.join(output_dir, "all.json")
    with atomic_write(all_json) as f:
        json.dump(data, f)

    split_seed = _choose_split_seed([v["id"] for v in videos], crossing_ids, val_fraction, seed)
    train_json = os.path.join(output_dir, "train.json")
    val_json = os.path.join(output_dir, "val.json")
    split = split_ytvis_json(all_json, train_json, val_json, val_fraction, split_seed)
    return {
        "output_dir": output_dir,
        "image_root": image_root,
        "all_json": all_json,
        "train_json": train_json,
        "val_json": val_json,
        "num_videos": num_videos,
        "num_train_videos": split["num_train_videos"],
        "num_val_videos": split["num_val_videos"],
        "num_annotations": len(annotations),
        "crossing_video_ids": crossing_ids,
        "split_seed": split_seed,
    }
