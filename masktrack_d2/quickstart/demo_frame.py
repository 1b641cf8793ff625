"""The quickstart's demo: one held-out video drawn by the demo's code path, one frame of it
saved as a picture, and what that frame shows against the ground truth."""
import json
import os
from typing import Dict, List, Sequence

import numpy as np

__all__ = ["render_demo", "frame_coverage"]


def frame_coverage(gt, video_id, demo_results: Sequence[Dict], frame_index: int,
                   iou_threshold: float = 0.5) -> List[Dict]:
    """
    Which ground-truth objects of one frame the demo shows.

    Args:
        gt: a :class:`~masktrack_d2.evaluation.ytvis_eval.YTVISGroundTruth` (or anything
            ``load_ytvis_gt`` takes).
        video_id: the video's id in ``gt``.
        demo_results: the demo's YouTube-VIS results for that video (every track it drew).
        frame_index: the frame.
        iou_threshold: an object counts as detected when a drawn mask covers it with at least
            this mask IoU.

    Returns:
        One dict per object visible in the frame, in ``gt`` order: ``id`` (annotation id),
        ``category`` (name), ``detected`` (bool), ``iou`` (best mask IoU with a drawn mask),
        ``label_correct`` (that best mask's category is the object's).
    """
    from pycocotools import mask as mask_util

    from ..evaluation.ytvis_eval import load_ytvis_gt

    gt = load_ytvis_gt(gt)
    drawn = [(r["segmentations"][frame_index], r["category_id"]) for r in demo_results
             if r["segmentations"][frame_index] is not None]
    out = []
    for (vid, category_id), tracks in sorted(gt.tracks.items(), key=lambda kv: str(kv[0])):
        if vid != video_id:
            continue
        for track in tracks:
            rle = track.rles[frame_index] if frame_index < len(track.rles) else None
            if rle is None:
                continue
            ious = (mask_util.iou([d for d, _ in drawn], [rle], [0]).ravel() if drawn
                    else np.zeros(0))
            best = int(np.argmax(ious)) if len(ious) else -1
            iou = float(ious[best]) if best >= 0 else 0.0
            out.append({"id": track.id, "category": gt.categories[category_id]["name"],
                        "detected": iou >= iou_threshold, "iou": round(iou, 3),
                        "label_correct": best >= 0 and drawn[best][1] == category_id})
    return sorted(out, key=lambda o: str(o["id"]))


def render_demo(config_file: str, opts, weights: str, video: Dict, out_dir: str,
                gt=None, confidence_threshold: float = 0.5) -> Dict:
    """
    Draw the tracks of one video record through the demo's code path (``demo.py --input``)
    into ``out_dir/demo.mp4`` with its results in ``out_dir/demo.json``, and save its middle
    frame (a fixed rule, not a chosen frame) as ``out_dir/demo_frame.png``.

    Returns:
        {"video", "frame_png", "frame_index", "coverage"}: coverage is
        :func:`frame_coverage` of the saved frame when ``gt`` is given, else None.
    """
    import cv2

    from ..predictor import run_demo, setup_demo_cfg

    cfg = setup_demo_cfg(config_file, list(opts) + ["MODEL.WEIGHTS", weights],
                         confidence_threshold=confidence_threshold)
    os.makedirs(out_dir, exist_ok=True)
    video_path = os.path.join(out_dir, "demo.mp4")
    json_path = os.path.join(out_dir, "demo.json")
    run_demo(cfg, inputs=video["file_names"], output=video_path, json_path=json_path,
             video_id=video["video_id"], progress=False)
    frame_index = len(video["file_names"]) // 2
    cap = cv2.VideoCapture(video_path)
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
    ok, frame = cap.read()
    cap.release()
    png_path = os.path.join(out_dir, "demo_frame.png")
    if ok:
        cv2.imwrite(png_path, frame)
    coverage = None
    if gt is not None:
        with open(json_path) as f:
            coverage = frame_coverage(gt, video["video_id"], json.load(f), frame_index)
    return {"video": video_path, "frame_png": png_path, "frame_index": frame_index,
            "coverage": coverage}
