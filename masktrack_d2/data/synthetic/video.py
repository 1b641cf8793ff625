"""One video of either mode: plan and render it with the mode's functions, and re-draw it
(from the same random state, which moves on) until the situations it must show really occur:
a crossing of the pair, every instance visible somewhere, and the entering instance outside
the frame somewhere.
"""
from .default_mode import plan_video, render_video
from .hard_mode import HARD_FAMILIES, plan_video_hard, render_video_hard
from .visibility import find_crossing_frames

__all__ = ["make_video"]

_MAX_TRIES = 100


def make_video(rng, crossing, T, height, width, scale, mode="default"):
    """Plan and render one video, re-drawing until its required situations really occur."""
    for _ in range(_MAX_TRIES):
        if mode in HARD_FAMILIES:
            plan = plan_video_hard(rng, crossing, T, height, width, scale, HARD_FAMILIES[mode])
            instances = plan["instances"]
            frames, visible, amodal_overlap = render_video_hard(rng, plan, T, height, width)
        else:
            instances = plan_video(rng, crossing, T, height, width, scale)
            frames, visible, amodal_overlap = render_video(rng, instances, T, height, width)
        crossing_frames = find_crossing_frames(visible, amodal_overlap)
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
