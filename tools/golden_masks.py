"""Masks and their RLE forms for the golden-fixture tools (make_trackeval_golden.py,
make_tive_golden.py): one definition of how a case's boxes become annotations and results."""
import numpy as np
from pycocotools import mask as mask_util


def box(y0, x0, y1, x1, h, w):
    """(h, w) uint8 mask of the box rows y0..y1-1, columns x0..x1-1 (clipped at 0)."""
    m = np.zeros((h, w), dtype=np.uint8)
    m[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = 1
    return m


def encode(mask):
    """Compressed RLE with str counts (the results format)."""
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    r["counts"] = r["counts"].decode("ascii")
    return r


def uncompressed(mask):
    """Uncompressed RLE (int counts, as in the official annotation files)."""
    flat = mask.astype(np.uint8).flatten(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0]:  # runs start with zeros
        counts = [0] + counts
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}
