"""A generated annotation json with the shape of YouTube-VIS 2019 train (no frames).

At ``scale=1.0``: 2,238 videos, 61,845 listed frames, 3,774 tracks, 720x1280 frames (the
official file's usual size), one *uncompressed* RLE per visible frame of a track (as the
official file stores them), ``null`` where the track is not visible, bboxes and areas that
agree with the masks; written with ``json.dump``'s default separators like the official
file, about 260 MB. Smaller scales keep the per-video shape and scale the counts, for tests.

Masks are generated directly as run lengths (no pixel arrays): each visible object is a
column band ``[x0, x0 + w)`` whose per-column vertical extent follows an ellipse, so the
column-major runs are ``x0 * H + top_0, height_0, H - bottom_0 + top_1, height_1, ...``.
"""
import json
import os

import numpy as np

FULL = dict(videos=2238, frames=61845, tracks=3774)
HEIGHT, WIDTH = 720, 1280
CATEGORIES = [{"id": i + 1, "name": f"class_{i + 1}", "supercategory": "object"}
              for i in range(40)]


def _rle(rng, H, W, cx, cy, rx, ry):
    """Uncompressed column-major RLE of an ellipse-like band clipped to the frame, with its
    xywh box (pycocotools' toBbox convention) and area; None if nothing is visible."""
    x0, x1 = max(0, int(cx - rx)), min(W, int(cx + rx) + 1)
    if x1 - x0 < 1:
        return None
    xs = np.arange(x0, x1)
    half = ry * np.sqrt(np.clip(1.0 - ((xs - cx) / max(rx, 1.0)) ** 2, 0.0, 1.0))
    half = half * rng.uniform(0.9, 1.1, size=half.shape)  # ragged outline
    top = np.clip(np.round(cy - half), 0, H).astype(np.int64)
    bottom = np.clip(np.round(cy + half) + 1, 0, H).astype(np.int64)
    keep = bottom > top
    if not keep.any():
        return None
    xs, top, bottom = xs[keep], top[keep], bottom[keep]
    heights = bottom - top
    # Zero run before each column's pixels: from the previous column's bottom (or the start).
    starts = xs * H + top
    ends = xs * H + bottom
    zeros = starts - np.concatenate([[0], ends[:-1]])
    counts = np.empty(2 * len(xs) + 1, dtype=np.int64)
    counts[0:-1:2] = zeros
    counts[1::2] = heights
    counts[-1] = H * W - ends[-1]
    box = [float(xs[0]), float(top.min()), float(xs[-1] - xs[0] + 1),
           float(bottom.max() - top.min())]
    return {"size": [H, W], "counts": counts.tolist()}, box, float(heights.sum())


def generate(path, scale=1.0, seed=0, height=HEIGHT, width=WIDTH):
    """Write the json to ``path`` (atomically) and return a summary dict."""
    rng = np.random.default_rng(seed)
    n_videos = max(2, int(round(FULL["videos"] * scale)))
    n_frames = max(2 * n_videos, int(round(FULL["frames"] * scale)))
    n_tracks = max(n_videos, int(round(FULL["tracks"] * scale)))
    # Video lengths around 27.6 frames that add up to n_frames exactly.
    lengths = np.full(n_videos, n_frames // n_videos)
    lengths[: n_frames - lengths.sum()] += 1
    rng.shuffle(lengths)
    # Every video has a track; the rest are spread at random.
    owners = np.concatenate([np.arange(n_videos), rng.integers(0, n_videos, n_tracks - n_videos)])
    owners.sort(kind="stable")

    videos = []
    for v in range(n_videos):
        name = "{:010x}".format(int(rng.integers(0, 16 ** 10)))
        videos.append({
            "license": 1, "coco_url": "", "height": height, "width": width,
            "length": int(lengths[v]), "date_captured": "2019-04-11 00:55:41.903902",
            "file_names": [f"{name}/{5 * f:05d}.jpg" for f in range(lengths[v])],
            "flickr_url": "", "id": v + 1,
        })
    annotations = []
    for t, v in enumerate(owners):
        T = int(lengths[v])
        rx, ry = rng.uniform(0.092, 0.157) * width, rng.uniform(0.12, 0.3) * height
        cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.3, 0.7) * height
        vx, vy = rng.normal(0, 0.01 * width), rng.normal(0, 0.005 * height)
        first, last = sorted(rng.integers(0, T, 2)) if rng.random() < 0.3 else (0, T - 1)
        segms, boxes, areas = [], [], []
        for f in range(T):
            r = None
            if first <= f <= last and rng.random() > 0.03:
                r = _rle(rng, height, width, cx + vx * f, cy + vy * f, rx, ry)
            if r is None:
                segms.append(None), boxes.append(None), areas.append(None)
            else:
                segms.append(r[0]), boxes.append(r[1]), areas.append(r[2])
        annotations.append({
            "height": height, "width": width, "length": 1,
            "category_id": int(rng.integers(1, len(CATEGORIES) + 1)),
            "segmentations": segms, "bboxes": boxes, "video_id": int(v) + 1,
            "iscrowd": 0, "id": t + 1, "areas": areas,
        })
    data = {"info": {"description": "generated, YouTube-VIS 2019 train sized", "seed": seed},
            "licenses": [], "videos": videos, "categories": CATEGORIES,
            "annotations": annotations}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)
    return {"path": path, "videos": n_videos, "frames": int(lengths.sum()), "tracks": n_tracks,
            "bytes": os.path.getsize(path)}
