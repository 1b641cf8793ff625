"""One instance's YouTube-VIS annotation from its per-frame visible masks: the uncompressed
COCO RLE, the box (pycocotools' convention) and the area of each frame's mask, ``null`` for
the frames where it is not visible.
"""
import numpy as np

__all__ = ["mask_bbox", "annotation"]


def _uncompressed_rle(mask):
    """Uncompressed COCO RLE (column-major runs, starting with a zero run)."""
    flat = mask.flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]]))
    counts = runs.tolist()
    if flat[0]:
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts}


def mask_bbox(mask):
    """[x, y, w, h] of a non-empty mask, pycocotools' toBbox convention (w = x1 - x0 + 1)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    return [float(xs[0]), float(ys[0]), float(xs[-1] - xs[0] + 1), float(ys[-1] - ys[0] + 1)]


def annotation(ann_id, video_id, category_id, masks):
    segmentations, bboxes, areas = [], [], []
    for mask in masks:
        if mask is None:
            segmentations.append(None)
            bboxes.append(None)
            areas.append(None)
        else:
            segmentations.append(_uncompressed_rle(mask.astype(np.uint8)))
            bboxes.append(mask_bbox(mask))
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
