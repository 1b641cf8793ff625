"""The objects' shapes: the extent range of an object and the binary mask of each shape
(circle, square, triangle, and the hard mode's star, cross and ring) at a given centre, size
and rotation, shared by both generator modes.
"""
import cv2
import numpy as np

__all__ = ["EXTENT_RANGE", "polygon", "shape_mask"]

# Object extent (2 x half-size) in pixels at the default 192x320 frame size.
EXTENT_RANGE = (20.0, 60.0)


def polygon(center, radii, thetas):
    """Integer polygon corners at angles ``thetas`` and distances ``radii`` from ``center``."""
    cx, cy = center
    pts = np.stack([cx + radii * np.cos(thetas), cy + radii * np.sin(thetas)], axis=1)
    return np.round(pts).astype(np.int32)


def shape_mask(shape, center, radius, angle, height, width):
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
        cv2.fillPoly(mask, [polygon(center, radii, thetas)], 1)
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
