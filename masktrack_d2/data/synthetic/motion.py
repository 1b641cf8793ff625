"""Object tracks: per-frame centres for the pair that crosses at the middle frame, for an
instance that enters (or leaves) the frame, and for one that bounces off the borders; each
is an array of shape (T, 2) of (x, y) drawn from the video's random state.
"""
import numpy as np

__all__ = ["unit", "crossing_pair", "entering_track", "bouncing_track"]


def unit(angle):
    return np.array([np.cos(angle), np.sin(angle)])


def crossing_pair(rng, T, height, width, base_speed, radii):
    """Two tracks through (almost) the same point at the middle frame, from different sides."""
    tc = T // 2
    meet = np.array([width, height]) * (0.5 + rng.uniform(-0.15, 0.15, size=2))
    theta = rng.uniform(0, 2 * np.pi)
    # Directions 60-150 degrees apart: they truly cross instead of travelling together.
    turn = rng.uniform(np.pi / 3, 5 * np.pi / 6) * rng.choice([-1, 1])
    offset = unit(rng.uniform(0, 2 * np.pi)) * rng.uniform(0.3, 0.5) * sum(radii) / 2
    t = (np.arange(T) - tc)[:, None]
    a = meet + base_speed * rng.uniform(0.8, 1.2) * unit(theta) * t
    b = meet + offset + base_speed * rng.uniform(0.8, 1.2) * unit(theta + turn) * t
    return a, b


def entering_track(rng, T, height, width, base_speed, radius):
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
    direction = unit(inward + rng.uniform(-np.pi / 6, np.pi / 6))
    # At least 4 px per frame so that the object is partly in by the second frame.
    speed = max(base_speed * rng.uniform(0.8, 1.2), 4.0)
    track = np.array(start) + speed * direction * np.arange(T)[:, None]
    return track[::-1].copy() if rng.uniform() < 0.5 else track


def bouncing_track(rng, T, height, width, base_speed, radius):
    """Linear motion inside the frame, reflected off the borders."""
    lo = np.array([radius, radius])
    hi = np.maximum(np.array([width - radius, height - radius]), lo + 1)
    pos = rng.uniform(lo, hi)
    vel = base_speed * rng.uniform(0.5, 1.2) * unit(rng.uniform(0, 2 * np.pi))
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
