"""The default mode's videos: two to four bright shapes of the three categories, each with
its own shade of its category's hue family, moving over a dark, statically textured
background; the per-video plan (categories, sizes, colours, roles, tracks) and its rendering.
"""
import colorsys

import cv2
import numpy as np

from ..datasets.builtin import SYNTHETIC_CATEGORIES
from .motion import bouncing_track, crossing_pair, entering_track
from .shapes import EXTENT_RANGE, shape_mask
from .visibility import record_frame

__all__ = ["CATEGORY_HUES", "plan_video", "render_video"]

_SHAPES = {c["id"]: c["name"] for c in SYNTHETIC_CATEGORIES}


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


def plan_video(rng, crossing, T, height, width, scale):
    """Instances of one video: category, size, rotation, colour, roles and track."""
    n = rng.randint(2, 5)
    radii = list(rng.uniform(*EXTENT_RANGE, size=n) * scale / 2)
    # A similar size keeps the occluded partner of a crossing partly visible.
    radii[1] = radii[0] * rng.uniform(0.8, 1.25)
    categories = list(rng.randint(1, 4, size=n))
    if crossing:
        categories[1] = categories[0]
    elif categories[1] == categories[0]:
        categories[1] = categories[0] % 3 + 1
    base_speed = rng.uniform(0.5, 0.9) * min(height, width) / max(T - 1, 1)

    tracks = list(crossing_pair(rng, T, height, width, base_speed, radii[:2]))
    roles = ["pair", "pair"]
    for k in range(2, n):
        if k == 2:
            tracks.append(entering_track(rng, T, height, width, base_speed, radii[k]))
            roles.append("enter_leave")
        else:
            tracks.append(bouncing_track(rng, T, height, width, base_speed, radii[k]))
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


def render_video(rng, instances, T, height, width):
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
            mask = shape_mask(
                _SHAPES[inst["category_id"]], inst["track"][t], inst["radius"], inst["angle"],
                height, width,
            ).astype(bool)
            amodal[k] = mask
            owner[mask] = k
            image[mask] = inst["colour"]
        frames.append(image)
        record_frame(amodal, owner, visible, amodal_overlap)
    return frames, visible, amodal_overlap
