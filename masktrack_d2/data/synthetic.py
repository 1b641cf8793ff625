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

``--mode hard`` makes a set closer to real footage, at 640x360: six shapes (circle,
square, triangle, star, cross, ring) under the non-contiguous ids 1, 2, 4, 7, 9, 12; a
random colour and a texture (stripes, checks, spots) per instance, so that only the shape
tells the category; slowly spinning objects; a textured background under a slowly panning
camera; and unannotated distractors (irregular blobs, bars, ellipses), static on the
background or moving, above or below the instances. The same situations are guaranteed.

Usage::

    python -m masktrack_d2.data.synthetic --output datasets/synthetic --num-videos 24
    python -m masktrack_d2.data.synthetic --mode hard     # -> datasets/synthetic_hard
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
from .datasets.builtin import SYNTHETIC_CATEGORIES, SYNTHETIC_HARD_CATEGORIES
from ..utils.file_io import atomic_write
from .datasets.split import select_val_video_ids, split_ytvis_json

__all__ = [
    "SYNTHETIC_CATEGORIES",
    "SYNTHETIC_HARD_CATEGORIES",
    "MIN_VISIBLE_AREA",
    "MODES",
    "HARD_FRAME_SIZE",
    "generate_synthetic_ytvis",
    "main",
]

#: Generator modes: see :func:`generate_synthetic_ytvis`.
MODES = ("default", "hard")

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


def _polygon(center, radii, thetas):
    """Integer polygon corners at angles ``thetas`` and distances ``radii`` from ``center``."""
    cx, cy = center
    pts = np.stack([cx + radii * np.cos(thetas), cy + radii * np.sin(thetas)], axis=1)
    return np.round(pts).astype(np.int32)


def _shape_mask(shape, center, radius, angle, height, width):
    """Binary (uint8) mask of the shape named ``shape``; cv2 clips what lies outside the frame."""
    mask = np.zeros((height, width), dtype=np.uint8)
    cx, cy = center
    if shape in ("circle", "ring"):
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(radius)), 1, -1)
        if shape == "ring":  # the hole shows whatever lies behind
            cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(0.5 * radius)), 0, -1)
        return mask
    if shape == "star":  # five points, inner radius 0.45 of the outer one
        thetas = angle + np.pi * np.arange(10) / 5
        radii = np.where(np.arange(10) % 2 == 0, 1.2 * radius, 0.45 * 1.2 * radius)
        cv2.fillPoly(mask, [_polygon(center, radii, thetas)], 1)
        return mask
    if shape == "cross":  # plus sign: two bars of half-width 0.33 radius, half-length 1.1
        for a in (angle, angle + np.pi / 2):
            corners = np.array([[1.1, 0.33], [-1.1, 0.33], [-1.1, -0.33], [1.1, -0.33]]) * radius
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            pts = corners @ rot.T + np.array([cx, cy])
            cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
        return mask
    corners = 4 if shape == "square" else 3
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
                _SHAPES[inst["category_id"]], inst["track"][t], inst["radius"], inst["angle"],
                height, width,
            ).astype(bool)
            amodal[k] = mask
            owner[mask] = k
            image[mask] = inst["colour"]
        frames.append(image)
        _record_frame(amodal, owner, visible, amodal_overlap)
    return frames, visible, amodal_overlap


# ------------------------------------------------------------------------------ hard mode
# The hard mode looks more like real footage: six shapes under non-contiguous ids, every
# object and the background textured, a random colour per instance (so only the shape tells
# the category), unannotated distractor shapes, and a slowly panning camera.
_HARD_SHAPES = {c["id"]: c["name"] for c in SYNTHETIC_HARD_CATEGORIES}
#: Frame size of the hard mode (height, width), the YouTube-VIS 2019 median.
HARD_FRAME_SIZE = (360, 640)
# Largest camera shift (pixels per frame) and the margin of background it needs.
_PAN_SPEED = (1.0, 3.0)
_CLUTTER_KINDS = ("blob", "bar", "ellipse")


def _random_colour(rng):
    """A random BGR colour of medium to full brightness, unrelated to the category."""
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.55, 1.0))
    return np.array([b, g, r]) * 255


def _random_pattern(rng):
    """Parameters of a texture drawn in the object's own (moving, rotating) frame."""
    return {
        "kind": ["stripes", "checker", "spots"][rng.randint(3)],
        "period": rng.uniform(6.0, 16.0),
        "phase": rng.uniform(0, 2 * np.pi),
        "contrast": rng.uniform(0.3, 0.6),
        "colour": _random_colour(rng),
    }


def _paint(image, mask, pattern, center, angle):
    """Fill ``mask`` of ``image`` with the textured colour of ``pattern`` (in place)."""
    ys, xs = np.nonzero(mask)
    u = (xs - center[0]) * np.cos(angle) + (ys - center[1]) * np.sin(angle)
    v = -(xs - center[0]) * np.sin(angle) + (ys - center[1]) * np.cos(angle)
    w = 2 * np.pi / pattern["period"]
    if pattern["kind"] == "stripes":
        p = 0.5 + 0.5 * np.sin(w * u + pattern["phase"])
    elif pattern["kind"] == "checker":
        p = (np.sin(w * u + pattern["phase"]) * np.sin(w * v) > 0).astype(np.float64)
    else:
        p = 0.5 + 0.5 * np.sin(w * u + pattern["phase"]) * np.sin(w * v)
    shade = 1.0 - pattern["contrast"] + pattern["contrast"] * p
    image[ys, xs] = np.clip(pattern["colour"][None, :] * shade[:, None], 0, 255)


def _plan_clutter(rng, radius):
    """One distractor: an irregular blob, a bar or an elongated ellipse (none is a category)."""
    kind = _CLUTTER_KINDS[rng.randint(len(_CLUTTER_KINDS))]
    plan = {"kind": kind, "radius": radius, "angle": rng.uniform(0, 2 * np.pi),
            "pattern": _random_pattern(rng)}
    if kind == "blob":
        k = rng.randint(7, 11)
        plan["thetas"] = np.sort(rng.uniform(0, 2 * np.pi, size=k))
        plan["radii"] = rng.uniform(0.45, 1.0, size=k)
    else:
        plan["aspect"] = rng.uniform(3.0, 6.0) if kind == "bar" else rng.uniform(2.2, 3.5)
    return plan


def _clutter_mask(plan, center, angle, height, width):
    mask = np.zeros((height, width), dtype=np.uint8)
    r = plan["radius"]
    if plan["kind"] == "blob":
        cv2.fillPoly(mask, [_polygon(center, r * plan["radii"], angle + plan["thetas"])], 1)
    elif plan["kind"] == "bar":
        half = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]]) * [r, r / plan["aspect"]]
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        pts = half @ rot.T + np.asarray(center)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    else:
        axes = (int(round(r)), max(int(round(r / plan["aspect"])), 1))
        c = (int(round(center[0])), int(round(center[1])))
        cv2.ellipse(mask, c, axes, float(np.degrees(angle)), 0, 360, 1, -1)
    return mask


def _hard_background(rng, height, width):
    """Textured canvas larger than the frame (for the pan) with static distractors on it."""
    base = rng.uniform(30, 150, size=3)
    coarse = rng.uniform(-40, 40, size=(max(height // 48, 2), max(width // 48, 2), 3))
    medium = rng.uniform(-18, 18, size=(max(height // 8, 2), max(width // 8, 2), 3))
    texture = cv2.resize(coarse.astype(np.float32), (width, height),
                         interpolation=cv2.INTER_CUBIC)
    texture += cv2.resize(medium.astype(np.float32), (width, height),
                          interpolation=cv2.INTER_LINEAR)
    noise = rng.uniform(-8, 8, size=(height, width, 3))
    canvas = np.clip(base + texture + noise, 0, 255).astype(np.uint8)
    for _ in range(rng.randint(3, 7)):
        plan = _plan_clutter(rng, rng.uniform(12, 40))
        center = rng.uniform([0, 0], [width, height])
        mask = _clutter_mask(plan, center, plan["angle"], height, width).astype(bool)
        if mask.any():
            _paint(canvas, mask, plan["pattern"], center, plan["angle"])
    return canvas


def _pan_offsets(rng, T, margin):
    """Top-left corner of the frame in the canvas per frame: slow linear camera motion."""
    speed = rng.uniform(*_PAN_SPEED)
    direction = _unit(rng.uniform(0, 2 * np.pi))
    travel = speed * direction * (T - 1)
    start = rng.uniform(np.maximum(0, -travel), np.minimum(2 * margin, 2 * margin - travel))
    offsets = start + speed * direction * np.arange(T)[:, None]
    return np.round(offsets).astype(int)


def _plan_video_hard(rng, crossing, T, height, width, scale):
    """Like :func:`_plan_video` with six shapes, random colours, textures, spin and clutter."""
    n = rng.randint(3, 6)
    radii = list(rng.uniform(*_EXTENT_RANGE, size=n) * scale / 2)
    radii[1] = radii[0] * rng.uniform(0.8, 1.25)
    ids = sorted(_HARD_SHAPES)
    categories = [ids[i] for i in rng.randint(len(ids), size=n)]
    if crossing:
        categories[1] = categories[0]
    elif categories[1] == categories[0]:
        categories[1] = ids[(ids.index(categories[0]) + 1) % len(ids)]
    base_speed = rng.uniform(0.5, 0.9) * min(height, width) / max(T - 1, 1)
    tracks = list(_crossing_pair(rng, T, height, width, base_speed, radii[:2]))
    roles = ["pair", "pair", "enter_leave"] + ["bounce"] * (n - 3)
    tracks.append(_entering_track(rng, T, height, width, base_speed, radii[2]))
    for k in range(3, n):
        tracks.append(_bouncing_track(rng, T, height, width, base_speed, radii[k]))
    instances = [
        {
            "category_id": int(categories[k]),
            "radius": float(radii[k]),
            "angle": float(rng.uniform(0, 2 * np.pi)),
            "spin": float(rng.uniform(-0.08, 0.08)),
            "pattern": _random_pattern(rng),
            "role": roles[k],
            "track": tracks[k],
        }
        for k in range(n)
    ]
    movers = []
    for _ in range(rng.randint(1, 3)):
        plan = _plan_clutter(rng, rng.uniform(*_EXTENT_RANGE) * scale / 2)
        plan["track"] = _bouncing_track(rng, T, height, width, base_speed, plan["radius"])
        plan["spin"] = float(rng.uniform(-0.08, 0.08))
        movers.append(plan)
    return {"instances": instances, "clutter": movers}


def _render_video_hard(rng, plan, T, height, width):
    """:func:`_render_video` for a hard-mode plan: panned textured background, distractors."""
    instances, movers = plan["instances"], plan["clutter"]
    margin = int(np.ceil(_PAN_SPEED[1] * (T - 1) / 2)) + 1
    canvas = _hard_background(rng, height + 2 * margin, width + 2 * margin)
    offsets = _pan_offsets(rng, T, margin)
    # Instances are 0..n-1 in the draw order, moving distractors -1, -2, ...
    layers = list(range(len(instances))) + [-1 - j for j in range(len(movers))]
    draw_order = [layers[i] for i in rng.permutation(len(layers))]
    frames, visible, amodal_overlap = [], [[] for _ in instances], []
    for t in range(T):
        x0, y0 = offsets[t]
        image = canvas[y0:y0 + height, x0:x0 + width].copy()
        owner = np.full((height, width), -100, dtype=np.int16)
        amodal = {}
        for k in draw_order:
            if k >= 0:
                inst = instances[k]
                angle = inst["angle"] + inst["spin"] * t
                center = inst["track"][t]
                mask = _shape_mask(_HARD_SHAPES[inst["category_id"]], center, inst["radius"],
                                   angle, height, width).astype(bool)
                amodal[k] = mask
                pattern = inst["pattern"]
            else:
                mover = movers[-1 - k]
                angle = mover["angle"] + mover["spin"] * t
                center = mover["track"][t]
                mask = _clutter_mask(mover, center, angle, height, width).astype(bool)
                pattern = mover["pattern"]
            owner[mask] = k
            if mask.any():
                _paint(image, mask, pattern, center, angle)
        frames.append(image)
        _record_frame(amodal, owner, visible, amodal_overlap)
    return frames, visible, amodal_overlap


def _boxes_intersect(a, b):
    """Whether two [x, y, w, h] boxes share a positive area."""
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_y = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap_x > 0 and overlap_y > 0


def _record_frame(amodal, owner, visible, amodal_overlap):
    """Per instance k, its visible mask in this frame (pixels ``owner == k``; None below
    MIN_VISIBLE_AREA) appended to ``visible[k]``, and the overlap of the first two amodal masks
    (the crossing pair) appended to ``amodal_overlap``."""
    amodal_overlap.append(int(np.count_nonzero(amodal[0] & amodal[1])))
    for k, masks in enumerate(visible):
        mask = owner == k
        masks.append(mask if np.count_nonzero(mask) >= MIN_VISIBLE_AREA else None)


def _crossing_frames(visible, amodal_overlap):
    """Frames where the pair overlaps (amodally) and both are visible with touching boxes."""
    frames = []
    for t, overlap in enumerate(amodal_overlap):
        a, b = visible[0][t], visible[1][t]
        if overlap and a is not None and b is not None:
            if _boxes_intersect(_mask_bbox(a), _mask_bbox(b)):
                frames.append(t)
    return frames


def _make_video(rng, crossing, T, height, width, scale, mode="default"):
    """Plan and render one video, re-drawing until its required situations really occur."""
    for _ in range(_MAX_TRIES):
        if mode == "hard":
            plan = _plan_video_hard(rng, crossing, T, height, width, scale)
            instances = plan["instances"]
            frames, visible, amodal_overlap = _render_video_hard(rng, plan, T, height, width)
        else:
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
        height, width (int or None): frame size; default 192x320, 360x640 in the hard mode.
        scale (float or None): multiplies the 20-60 px object extent; default
            ``min(height / 192, width / 320)``.
        mode (str): ``"default"`` (bright shapes, colour family per category, static dark
            background) or ``"hard"`` (six textured shapes under non-contiguous ids, random
            colour per instance, textured panning background, unannotated distractors).

    Returns:
        dict: ``output_dir``, ``image_root``, ``all_json``, ``train_json``, ``val_json``,
        ``num_videos``, ``num_train_videos``, ``num_val_videos``, ``num_annotations``,
        ``crossing_video_ids``, ``split_seed``.
    """
    if mode not in MODES:
        raise ValueError("mode must be one of {}, got {!r}".format(MODES, mode))
    if height is None:
        height = HARD_FRAME_SIZE[0] if mode == "hard" else 192
    if width is None:
        width = HARD_FRAME_SIZE[1] if mode == "hard" else 320
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


def main(argv=None):
    parser = argparse.ArgumentParser(description="Generate the synthetic YouTube-VIS data set.")
    parser.add_argument(
        "--output",
        default=None,
        help="output directory (default: $DETECTRON2_DATASETS/synthetic, where the "
        "ytvis_synthetic_{train,val} registrations look; synthetic_hard for --mode hard, "
        "where ytvis_synthetic_hard_{train,val} look)",
    )
    parser.add_argument("--mode", choices=MODES, default="default",
                        help="hard: textured shapes, six categories, clutter, camera pan")
    parser.add_argument("--num-videos", type=int, default=24)
    parser.add_argument("--num-frames", type=int, default=10)
    parser.add_argument("--height", type=int, default=None, help="default 192 (hard: 360)")
    parser.add_argument("--width", type=int, default=None, help="default 320 (hard: 640)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.25)
    parser.add_argument("--scale", type=float, default=None, help="object size multiplier")
    args = parser.parse_args(argv)
    output = args.output
    if output is None:
        name = "synthetic" if args.mode == "default" else "synthetic_" + args.mode
        output = os.path.join(os.getenv("DETECTRON2_DATASETS", "datasets"), name)
    s = generate_synthetic_ytvis(
        output, args.num_videos, args.num_frames, args.height, args.width,
        args.seed, args.val_fraction, args.scale, args.mode,
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
