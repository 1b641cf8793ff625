"""What a rendered video shows of its instances: per frame, each instance's visible mask
(``None`` below :data:`MIN_VISIBLE_AREA`) and the amodal overlap of the crossing pair, and
from these the frames where the pair really crosses. Shared by both generator modes.
"""
import numpy as np

from .annotations import mask_bbox

__all__ = ["MIN_VISIBLE_AREA", "record_frame", "find_crossing_frames"]

#: Visible masks smaller than this (pixels) become null entries.
MIN_VISIBLE_AREA = 10


def _boxes_intersect(a, b):
    """Whether two [x, y, w, h] boxes share a positive area."""
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    overlap_y = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap_x > 0 and overlap_y > 0


def record_frame(amodal, owner, visible, amodal_overlap):
    """Per instance k, its visible mask in this frame (pixels ``owner == k``; None below
    MIN_VISIBLE_AREA) appended to ``visible[k]``, and the overlap of the first two amodal masks
    (the crossing pair) appended to ``amodal_overlap``."""
    amodal_overlap.append(int(np.count_nonzero(amodal[0] & amodal[1])))
    for k, masks in enumerate(visible):
        mask = owner == k
        masks.append(mask if np.count_nonzero(mask) >= MIN_VISIBLE_AREA else None)


def find_crossing_frames(visible, amodal_overlap):
    """Frames where the pair overlaps (amodally) and both are visible with touching boxes."""
    frames = []
    for t, overlap in enumerate(amodal_overlap):
        a, b = visible[0][t], visible[1][t]
        if overlap and a is not None and b is not None:
            if _boxes_intersect(mask_bbox(a), mask_bbox(b)):
                frames.append(t)
    return frames
