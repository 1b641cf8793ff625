"""The hard mode's videos, which look more like real footage: six shapes under non-contiguous
ids, every object and the background textured, a random colour per instance (so only the
shape tells the category), slowly spinning objects, unannotated distractor shapes (blobs,
bars, ellipses; static on the background or moving), and a slowly panning camera over a
background larger than the frame; the per-video plan and its rendering. A
:class:`HardFamily` holds the random ranges (frame size, object count and size, textures,
distractors); ``"hard"`` is the mode's own family, ``"hard_b"`` a second one for checking a
recipe on data it was not tuned on.
"""
import colorsys
from dataclasses import dataclass
from typing import Tuple

import cv2
import numpy as np

from ..datasets.builtin import SYNTHETIC_HARD_CATEGORIES
from .motion import bouncing_track, crossing_pair, entering_track, unit
from .shapes import EXTENT_RANGE, polygon, shape_mask
from .visibility import record_frame

__all__ = ["HARD_FAMILIES", "HARD_FRAME_SIZE", "HardFamily", "plan_video_hard",
           "render_video_hard"]

_HARD_SHAPES = {c["id"]: c["name"] for c in SYNTHETIC_HARD_CATEGORIES}
#: Frame size of the hard mode (height, width), the YouTube-VIS 2019 median.
HARD_FRAME_SIZE = (360, 640)
# Largest camera shift (pixels per frame) and the margin of background it needs.
_PAN_SPEED = (1.0, 3.0)
_CLUTTER_KINDS = ("blob", "bar", "ellipse")


@dataclass(frozen=True)
class HardFamily:
    """The random ranges of a family of hard-mode videos (integer ranges exclude their end)."""
    frame_size: Tuple[int, int] = HARD_FRAME_SIZE   # (height, width)
    num_instances: Tuple[int, int] = (3, 6)
    #: multiplies the object extent on top of the frame-size scale
    size: float = 1.0
    texture_period: Tuple[float, float] = (6.0, 16.0)   # pixels
    texture_contrast: Tuple[float, float] = (0.3, 0.6)
    num_moving_distractors: Tuple[int, int] = (1, 3)
    num_static_distractors: Tuple[int, int] = (3, 7)


#: mode name -> family. "hard_b": 640x480 frames, 4-7 smaller objects, finer and stronger
#: textures, twice the distractors.
HARD_FAMILIES = {
    "hard": HardFamily(),
    "hard_b": HardFamily(frame_size=(480, 640), num_instances=(4, 8), size=0.8,
                         texture_period=(3.0, 9.0), texture_contrast=(0.4, 0.8),
                         num_moving_distractors=(2, 5), num_static_distractors=(6, 12)),
}


def _random_colour(rng):
    """A random BGR colour of medium to full brightness, unrelated to the category."""
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(0.2, 0.9), rng.uniform(0.55, 1.0))
    return np.array([b, g, r]) * 255


def _random_pattern(rng, family):
    """Parameters of a texture drawn in the object's own (moving, rotating) frame."""
    return {
        "kind": ["stripes", "checker", "spots"][rng.randint(3)],
        "period": rng.uniform(*family.texture_period),
        "phase": rng.uniform(0, 2 * np.pi),
        "contrast": rng.uniform(*family.texture_contrast),
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


def _plan_clutter(rng, radius, family):
    """One distractor: an irregular blob, a bar or an elongated ellipse (none is a category)."""
    kind = _CLUTTER_KINDS[rng.randint(len(_CLUTTER_KINDS))]
    plan = {"kind": kind, "radius": radius, "angle": rng.uniform(0, 2 * np.pi),
            "pattern": _random_pattern(rng, family)}
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
        cv2.fillPoly(mask, [polygon(center, r * plan["radii"], angle + plan["thetas"])], 1)
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


def _hard_background(rng, height, width, family):
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
    for _ in range(rng.randint(*family.num_static_distractors)):
        plan = _plan_clutter(rng, rng.uniform(12, 40), family)
        center = rng.uniform([0, 0], [width, height])
        mask = _clutter_mask(plan, center, plan["angle"], height, width).astype(bool)
        if mask.any():
            _paint(canvas, mask, plan["pattern"], center, plan["angle"])
    return canvas


def _pan_offsets(rng, T, margin):
    """Top-left corner of the frame in the canvas per frame: slow linear camera motion."""
    speed = rng.uniform(*_PAN_SPEED)
    direction = unit(rng.uniform(0, 2 * np.pi))
    travel = speed * direction * (T - 1)
    start = rng.uniform(np.maximum(0, -travel), np.minimum(2 * margin, 2 * margin - travel))
    offsets = start + speed * direction * np.arange(T)[:, None]
    return np.round(offsets).astype(int)


def plan_video_hard(rng, crossing, T, height, width, scale, family=HARD_FAMILIES["hard"]):
    """Like :func:`.default_mode.plan_video` with six shapes, random colours, textures, spin and
    clutter, drawn from the ranges of ``family``."""
    n = rng.randint(*family.num_instances)
    radii = list(rng.uniform(*EXTENT_RANGE, size=n) * scale / 2)
    radii[1] = radii[0] * rng.uniform(0.8, 1.25)
    ids = sorted(_HARD_SHAPES)
    categories = [ids[i] for i in rng.randint(len(ids), size=n)]
    if crossing:
        categories[1] = categories[0]
    elif categories[1] == categories[0]:
        categories[1] = ids[(ids.index(categories[0]) + 1) % len(ids)]
    base_speed = rng.uniform(0.5, 0.9) * min(height, width) / max(T - 1, 1)
    tracks = list(crossing_pair(rng, T, height, width, base_speed, radii[:2]))
    roles = ["pair", "pair", "enter_leave"] + ["bounce"] * (n - 3)
    tracks.append(entering_track(rng, T, height, width, base_speed, radii[2]))
    for k in range(3, n):
        tracks.append(bouncing_track(rng, T, height, width, base_speed, radii[k]))
    instances = [
        {
            "category_id": int(categories[k]),
            "radius": float(radii[k]),
            "angle": float(rng.uniform(0, 2 * np.pi)),
            "spin": float(rng.uniform(-0.08, 0.08)),
            "pattern": _random_pattern(rng, family),
            "role": roles[k],
            "track": tracks[k],
        }
        for k in range(n)
    ]
    movers = []
    for _ in range(rng.randint(*family.num_moving_distractors)):
        plan = _plan_clutter(rng, rng.uniform(*EXTENT_RANGE) * scale / 2, family)
        plan["track"] = bouncing_track(rng, T, height, width, base_speed, plan["radius"])
        plan["spin"] = float(rng.uniform(-0.08, 0.08))
        movers.append(plan)
    return {"instances": instances, "clutter": movers, "family": family}


def render_video_hard(rng, plan, T, height, width):
    """:func:`.default_mode.render_video` for a hard-mode plan: panned textured background, distractors."""
    instances, movers = plan["instances"], plan["clutter"]
    margin = int(np.ceil(_PAN_SPEED[1] * (T - 1) / 2)) + 1
    canvas = _hard_background(rng, height + 2 * margin, width + 2 * margin, plan["family"])
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
                mask = shape_mask(_HARD_SHAPES[inst["category_id"]], center, inst["radius"],
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
        record_frame(amodal, owner, visible, amodal_overlap)
    return frames, visible, amodal_overlap

