"""A small generated data set in the official YouTube-VIS 2019 json format.

Videos of bright shapes (category = shape: circle, square, triangle) moving over a dark,
statically textured background. Every instance keeps its own colour for the whole video,
so an appearance embedding can tell two instances of one category apart. The generator
makes sure the hard cases exist:

* crossings: in every other video two instances of the *same* category cross paths; the
  one drawn later occludes the other, whose mask is its visible part only;
* instances entering or leaving the frame (clipped masks, ``null`` once fully outside);
* occlusion between instances (the crossing pair of the other videos has two categories).

A visible area below :data:`MIN_VISIBLE_AREA` pixels is written as ``null``. The json's
``info`` holds the generator parameters and which videos / instances cross.

Usage::

    python -m masktrack_d2.data.synthetic --output datasets/synthetic --num-videos 24
"""
import argparse
import colorsys
import json
import os

import cv2
import numpy as np

# The category list lives with the registrations (builtin.py) so that registering the data
# sets never imports this module (`python -m masktrack_d2.data.synthetic` would then run
# a second copy of it).
from .datasets.builtin import SYNTHETIC_CATEGORIES
from ..utils.file_io import atomic_write
from .datasets.split import select_val_video_ids, split_ytvis_json

__all__ = ["SYNTHETIC_CATEGORIES", "MIN_VISIBLE_AREA", "generate_synthetic_ytvis", "main"]

_SHAPES = {c["id"]: c["name"] for c in SYNTHETIC_CATEGORIES}

#: Visible masks smaller than this (pixels) become null entries.
MIN_VISIBLE_AREA = 10
_JPEG_QUALITY = 95
# Object extent (2 x half-size) in pixels at the default 192x320 frame size.
_EXTENT_RANGE = (20.0, 60.0)
_MAX_TRIES = 100


# ------------------------------------------------------------------------------ drawing
def _background(rng, height, width):
    """Dark, low-saturation base colour with static smooth texture and fine noise."""
    base = rng.uniform(15, 45, size=3)
    coarse = rng.uniform(-12, 12, size=(max(height // 24, 2), max(width // 24, 2), 3))
    texture = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.uniform(-6, 6, size=(height, width, 3))
    return np.clip(base + texture + noise, 0, 70).astype(np.uint8)


# Each category has a hue family, so colour tells the category: a from-scratch CPU model learns
# that in minutes, where shape alone takes far longer. Instances of one category differ in
# shade (hue offset and brightness), so an appearance embedding can still tell them apart
# when they cross.
CATEGORY_HUES = {1: 0.0, 2: 0.33, 3: 0.62}


def _instance_colours(rng, categories):
    """One bright BGR colour per instance: its category's hue family, a shade of its own."""
    colours, seen = [], {}
    for c in categories:
        k = seen.get(c, 0)
        seen[c] = k + 1
        offset = (-0.06 if k % 2 == 0 else 0.06) * (1 + k // 2) + rng.uniform(-0.015, 0.015)
        hue = (CATEGORY_HUES[c] + offset) % 1.0
        value = 1.0 if k % 2 == 0 else 0.72
        r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(0.75, 0.95), value)
        colours.append((int(b * 255), int(g * 255), int(r * 255)))
    return colours


def _shape_mask(category, center, radius, angle, height, width):
    """Binary (uint8) mask of one shape; cv2 clips whatever lies outside the frame."""
    mask = np.zeros((height, width), dtype=np.uint8)
    cx, cy = center
    if _SHAPES[category] == "circle":
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(radius)), 1, -1)
        return mask
    corners = 4 if _SHAPES[category] == "square" else 3
    # A square's half-side is `radius` (circumradius radius * sqrt 2).
    r = radius * (np.sqrt(2.0) if corners == 4 else 1.0)
    thetas = angle + 2 * np.pi * np.arange(corners) / corners
    pts = np.stack([cx + r * np.cos(thetas), cy + r * np.sin(thetas)], axis=1)
    cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    return mask


def _uncompressed_rle(mask):
    """Uncompressed COCO RLE (column-major runs, starting with a zero run)."""
    flat = mask.flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]]))
    counts = runs.tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def _mask_bbox(mask):
    """[x, y, w, h] of a non-empty mask, pycocotools' toBbox convention (w = x1 - x0 + 1)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return [float(xs[0]), float(ys[0]), float(xs[-1] - xs[0] + 1), float(ys[-1] - ys[0] + 1)]


# ------------------------------------------------------------------------------ motion
def _unit(angle):
    return np.array([np.cos(angle), np.sin(angle)])


def _crossing_pair(rng, T, height, width, base_speed, radii):
    """Two tracks through (almost) the same point at the middle frame, from different sides."""
    tc = T // 2
    meet = np.array([width, height]) * (0.5 + rng.uniform(-0.15, 0.15, size=2))
    theta = rng.uniform(0, 2 * np.pi)
    # Directions 60-150 degrees apart: they truly cross instead of travelling together.
    turn = rng.uniform(np.pi / 3, 5 * np.pi / 6) * rng.choice([-1, 1])
    offset = _unit(rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 0.5) * sum(radii) / 2
    t = (np.arange(T) - tc)[:, None]
    a = meet + base_speed * rng.uniform(0.8, 1.2) * _unit(theta) * t
    b = meet + offset + base_speed * rng.uniform(0.8, 1.2) * _unit(theta + turn) * t
    return a, b


def _entering_track(rng, T, height, width, base_speed, radius):
    """Starts fully outside one border and moves in; reversed in time half the time (leaves)."""
    side = rng.randint(4)
    along = rng.uniform(0.2, 0.8)
    outside = radius + 2
    start, inward = {
        0: ((along * width, -outside), np.pi / 2),  # top
        1: ((along * width, height + outside), -np.pi / 2),  # bottom
        2: ((-outside, along * height), 0.0),  # left
        3: ((width + outside, along * height), np.pi),  # right
    }[side]
    direction = _unit(inward + rng.uniform(-np.pi / 6, np.pi / 6))
    # At least 4 px per frame so that the object is partly in by the second frame.
    speed = max(base_speed * rng.uniform(0.8, 1.2), 4.0)
    track = np.array(start) + speed * direction * np.arange(T)[:, None]
    return track[::-1].copy() if rng.uniform() < 0.5 else track


def _bouncing_track(rng, T, height, width, base_speed, radius):
    """Linear motion inside the frame, reflected off the borders."""
    lo = np.array([radius, radius])
    hi = np.maximum(np.array([width - radius, height - radius]), lo + 1)
    pos = rng.uniform(lo, hi)
    vel = base_speed * rng.uniform(0.5, 1.2) * _unit(rng.uniform(0, 2 * np.pi))
    track = np.empty((T, 2))
    for t in range(T):
        track[t] = pos
        pos = pos + vel
        for d in range(2):
            if pos[d] < lo[d] or pos[d] > hi[d]:
                vel[d] = -vel[d]
                wall = lo[d] if pos[d] < lo[d] else hi[d]
                pos[d] = np.clip(2 * wall - pos[d], lo[d], hi[d])
    return track


# ------------------------------------------------------------------------------ one video
def _plan_video(rng, crossing, T, height, width, scale):
    """Instances of one video: category, size, rotation, colour, roles and track."""
    n = rng.randint(2, 5)
    radii = list(rng.uniform(*_EXTENT_RANGE, size=n) * scale / 2)
    # A similar size keeps the occluded partner of a crossing partly visible.
    radii[1] = radii[0] * rng.uniform(0.8, 1.25)
    categories = list(rng.randint(1, 4, size=n))
    if crossing:
        categories[1] = categories[0]
    elif categories[1] == categories[0]:
        categories[1] = categories[0] % 3 + 1
    base_speed = rng.uniform(0.5, 0.9) * min(height, width) / max(T - 1, 1)

    tracks = list(_crossing_pair(rng, T, height, width, base_speed, radii[:2]))
    roles = ["pair", "pair"]
    for k in range(2, n):
        if k == 2:
            tracks.append(_entering_track(rng, T, height, width, base_speed, radii[k]))
            roles.append("enter_leave")
        else:
            tracks.append(_bouncing_track(rng, T, height, width, base_speed, radii[k]))
            roles.append("bounce")
    colours = _instance_colours(rng, [int(c) for c in categories[:n]])
    return [
        {
            "category_id": int(categories[k]),
            "radius": float(radii[k]),
            "angle": float(rng.uniform(0, 2 * np.pi)),
            "colour": colours[k],
            "role": roles[k],
            "track": tracks[k],
        }
        for k in range(n)
    ]


def _render_video(rng, instances, T, height, width):
    """Frames (BGR uint8) and each instance's visible masks (None when below the minimum)."""
    background = _background(rng, height, width)
    draw_order = rng.permutation(len(instances))
    frames, visible, amodal_overlap = [], [[] for _ in instances], []
    for t in range(T):
        image = background.copy()
        owner = np.full((height, width), -1, dtype=np.int8)
        amodal = {}
        for k in draw_order:
            inst = instances[k]
            mask = _shape_mask(
                inst["category_id"], inst["track"][t], inst["radius"], inst["angle"], height, width
            ).astype(bool)
            amodal[k] = mask
            owner[mask] = k
            image[mask] = inst["colour"]
        frames.append(image)
        amodal_overlap.append(int(np.count_nonzero(amodal[0] & amodal[1])))
        for k in range(len(instances)):
            mask = owner == k
            visible[k].append(mask if np.count_nonzero(mask) >= MIN_VISIBLE_AREA else None)
    return frames, visible, amodal_overlap


def _boxes_intersect(a, b):
    """Whether two [x, y, w, h] boxes share a positive area."""
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_y = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap_x > 0 and overlap_y > 0


def _crossing_frames(visible, amodal_overlap):
    """Frames where the pair overlaps (amodally) and both are visible with touching boxes."""
    frames = []
    for t, overlap in enumerate(amodal_overlap):
        a, b = visible[0][t], visible[1][t]
        if overlap and a is not None and b is not None:
            if _boxes_intersect(_mask_bbox(a), _mask_bbox(b)):
                frames.append(t)
    return frames


def _make_video(rng, crossing, T, height, width, scale):
    """Plan and render one video, re-drawing until its required situations really occur."""
    for _ in range(_MAX_TRIES):
        instances = _plan_video(rng, crossing, T, height, width, scale)
        frames, visible, amodal_overlap = _render_video(rng, instances, T, height, width)
        crossing_frames = _crossing_frames(visible, amodal_overlap)
        ok = bool(crossing_frames) and all(any(m is not None for m in v) for v in visible)
        for inst, masks in zip(instances, visible):
            if inst["role"] == "enter_leave":
                ok = ok and any(m is None for m in masks)
        if ok:
            return instances, frames, visible, crossing_frames
    raise RuntimeError(
        "could not lay out a synthetic video at {}x{} with {} frames; use a larger size "
        "or more frames".format(height, width, T)
    )


# ------------------------------------------------------------------------------ data set
def _annotation(ann_id, video_id, category_id, masks):
    segmentations, bboxes, areas = [], [], []
    for mask in masks:
        if mask is None:
            segmentations.append(None)
            bboxes.append(None)
            areas.append(None)
        else:
            segmentations.append(_uncompressed_rle(mask.astype(np.uint8)))
            bboxes.append(_mask_bbox(mask))
            areas.append(float(np.count_nonzero(mask)))
    return {
        "id": ann_id,
        "video_id": video_id,
        "category_id": category_id,
        "iscrowd": 0,
        "segmentations": segmentations,
        "bboxes": bboxes,
        "areas": areas,
    }


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
    height=192,
    width=320,
    seed=0,
    val_fraction=0.25,
    scale=None,
):
    """Write a synthetic YouTube-VIS 2019-format data set under ``output_dir``.

    Layout: ``JPEGImages/<video>/00000.jpg, 00005.jpg, ...`` (named like the official
    5-frame sub-sampling), ``all.json``, and ``train.json`` / ``val.json`` made with
    :func:`~masktrack_d2.data.datasets.split.split_ytvis_json` (the split seed is the first
    one from ``seed`` that puts a same-category crossing in val, and in train too when
    there are two or more). Same arguments give the
    same json and JPEG bytes.

    Args:
        scale (float or None): multiplies the 20-60 px object extent; default
            ``min(height / 192, width / 320)``.

    Returns:
        dict: ``output_dir``, ``image_root``, ``all_json``, ``train_json``, ``val_json``,
        ``num_videos``, ``num_train_videos``, ``num_val_videos``, ``num_annotations``,
        ``crossing_video_ids``, ``split_seed``.
    """
    if num_videos < 2:
        raise ValueError("num_videos must be >= 2 (train and val need one video each)")
    if num_frames < 3:
        raise ValueError("num_frames must be >= 3 for instances to cross and enter")
    if scale is None:
        scale = min(height / 192.0, width / 320.0)
    image_root = os.path.join(output_dir, "JPEGImages")

    videos, annotations, crossing_pairs, enter_leave_ids = [], [], [], []
    next_ann_id = 1
    for v in range(num_videos):
        video_id = v + 1
        crossing = v % 2 == 0
        rng = np.random.RandomState([seed, v])  # per video: independent of num_videos
        instances, frames, visible, crossing_frames = _make_video(
            rng, crossing, num_frames, height, width, scale
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
            annotations.append(_annotation(next_ann_id, video_id, inst["category_id"], masks))
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
    data = {
        "info": {
            "description": "Synthetic YouTube-VIS-format shapes (masktrack_d2.data.synthetic)",
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
        "categories": [dict(c) for c in SYNTHETIC_CATEGORIES],
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


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the synthetic YouTube-VIS data set.")
    parser.add_argument(
        "--output",
        default=os.path.join(os.getenv("DETECTRON2_DATASETS", "datasets"), "synthetic"),
        help="output directory (default: $DETECTRON2_DATASETS/synthetic, where the "
        "ytvis_synthetic_{train,val} registrations look)",
    )
    parser.add_argument("--num-videos", type=int, default=24)
    parser.add_argument("--num-frames", type=int, default=10)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.25)
    parser.add_argument("--scale", type=float, default=None, help="object size multiplier")
    args = parser.parse_args(argv)
    s = generate_synthetic_ytvis(
        args.output, args.num_videos, args.num_frames, args.height, args.width,
        args.seed, args.val_fraction, args.scale,
    )
    print("frames:     {}".format(s["image_root"]))
    print(
        "all videos: {} ({} videos, {} instances)".format(
            s["all_json"], s["num_videos"], s["num_annotations"]
        )
    )
    print("train:      {} ({} videos)".format(s["train_json"], s["num_train_videos"]))
    print("val:        {} ({} videos)".format(s["val_json"], s["num_val_videos"]))
    print("same-category crossings in videos {}".format(s["crossing_video_ids"]))
    return s


if __name__ == "__main__":
    main()
