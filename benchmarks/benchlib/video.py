"""A cheap, deterministic, video-like input: coloured shapes moving over a gradient."""
import json
import os
from typing import Dict, List

import numpy as np

from .env import CACHE_DIR

def moving_shapes_frames(num_frames: int, height: int, width: int, seed: int = 0,
                         num_objects: int = 6):
    """Yield ``num_frames`` (H, W, 3) uint8 BGR frames of coloured shapes (circles and
    rectangles) bouncing over a dark gradient: cheap, deterministic, video-like."""
    import cv2

    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bg = np.stack([20 + 30 * xx / width, 25 + 25 * yy / height,
                   30 + 20 * (xx + yy) / (width + height)], axis=-1)
    bg = np.clip(bg + rng.uniform(-4, 4, size=bg.shape), 0, 255).astype(np.uint8)
    s = min(height, width)
    objs = []
    for _ in range(num_objects):
        r = rng.uniform(0.05, 0.15) * s
        objs.append(dict(
            kind=rng.randint(2), r=r,
            pos=np.array([rng.uniform(r, width - r), rng.uniform(r, height - r)]),
            vel=rng.uniform(-0.012, 0.012, size=2) * s,
            color=tuple(int(c) for c in rng.randint(120, 256, size=3))))
    for _ in range(num_frames):
        img = bg.copy()
        for o in objs:
            cx, cy = (int(round(v)) for v in o["pos"])
            r = int(round(o["r"]))
            if o["kind"] == 0:
                cv2.circle(img, (cx, cy), r, o["color"], -1)
            else:
                cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), o["color"], -1)
            o["pos"] = o["pos"] + o["vel"]
            for k, lim in ((0, width), (1, height)):
                if not o["r"] <= o["pos"][k] <= lim - o["r"]:
                    o["vel"][k] = -o["vel"][k]
        yield img


def write_jpeg_video(num_frames: int, height: int, width: int, seed: int = 0,
                     root: str = CACHE_DIR) -> Dict:
    """Write (once; reused when complete) a moving-shapes video as JPEGs and return its record
    ``{"video_id", "file_names", "length", "height", "width"}`` (the fields VideoFrames
    reads). Longer videos of the same size and seed share their first frames."""
    import cv2

    d = os.path.join(root, f"video_{width}x{height}_s{seed}")
    os.makedirs(d, exist_ok=True)
    names = [os.path.join(d, f"{i:05d}.jpg") for i in range(num_frames)]
    marker = os.path.join(d, "complete.json")
    done = 0
    if os.path.exists(marker):
        with open(marker) as f:
            done = json.load(f)["num_frames"]
    if done < num_frames:
        for i, img in enumerate(moving_shapes_frames(num_frames, height, width, seed)):
            if i >= done or not os.path.exists(names[i]):
                cv2.imwrite(names[i], img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        with open(marker, "w") as f:
            json.dump({"num_frames": num_frames}, f)
    return {"video_id": 1, "file_names": names, "length": num_frames, "height": height,
            "width": width}


def model_inputs(cfg, images) -> List[Dict]:
    """Model inputs of (H, W, 3) BGR frames, made as the video test loader makes them
    (the cfg's test-time resize; masktrack_d2.data.frames.frame_model_input)."""
    from detectron2.data import detection_utils as utils
    from detectron2.data import transforms as T

    from masktrack_d2.data.frames import frame_model_input

    augs = T.AugmentationList(utils.build_augmentation(cfg, is_train=False))
    return [frame_model_input(image, augs, i) for i, image in enumerate(images)]
