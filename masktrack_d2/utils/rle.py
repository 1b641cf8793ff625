"""Checks that a COCO run-length encoding really describes a ``height x width`` mask.

pycocotools decodes whatever it is given: a compressed string that is not an RLE at all, or
run lengths that do not add up to the image, become some mask without an error. These
helpers reject them instead.
"""
import numpy as np

__all__ = ["compressed_rle_counts", "check_rle_counts"]

_MAX_CHARS_PER_COUNT = 13  # 13 x 5 bits hold any 64-bit run length


def compressed_rle_counts(counts) -> np.ndarray:
    """Run lengths (int64) of a compressed COCO RLE string (``str`` or ``bytes``).

    Follows pycocotools' ``rleFrString``: each value is a little-endian sequence of 5-bit
    groups stored as characters ``chr(48 + g)``, bit 0x20 meaning "more groups follow" and
    bit 0x10 of the last group the sign; from the fourth value on, values are differences to
    the value two places before.

    Raises:
        ValueError: a character outside ``'0'..'o'``, a value cut off at the end of the
            string, or a value longer than 64 bits.
    """
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("compressed RLE counts hold non-ASCII characters") from None
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if c.min() < 0 or c.max() > 63:
        bad = chr(int(c[(c < 0) | (c > 63)][0]) + 48)
        raise ValueError(f"compressed RLE counts hold {bad!r}, not an RLE character ('0'..'o')")
    last = (c & 0x20) == 0  # the last character of each value
    if not last[-1]:
        raise ValueError("compressed RLE counts end in the middle of a value")
    ends = np.flatnonzero(last)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > _MAX_CHARS_PER_COUNT:
        raise ValueError("compressed RLE counts hold a value longer than 64 bits")
    shift = 5 * (np.arange(c.size) - np.repeat(starts, lengths))
    # 13 groups need up to 65 bits: use Python ints only in that rare case.
    if lengths.max() > 12:
        parts = [(int(v & 0x1F) << int(s)) for v, s in zip(c.tolist(), shift.tolist())]
        x = [sum(parts[a:b + 1]) for a, b in zip(starts.tolist(), ends.tolist())]
        neg = (c[ends] & 0x10) != 0
        x = [v - (1 << (5 * n)) if s else v for v, n, s in zip(x, lengths.tolist(), neg.tolist())]
        if max(abs(v) for v in x) >= 2 ** 62:
            raise ValueError("compressed RLE counts hold a value longer than 64 bits")
        x = np.array(x, dtype=np.int64)
    else:
        x = np.add.reduceat((c & 0x1F) << shift, starts)
        neg = (c[ends] & 0x10) != 0
        x = np.where(neg, x - (np.int64(1) << (5 * lengths)), x)
    out = x.copy()
    # Values from index 3 on are differences to the value two places before.
    out[2::2] = np.cumsum(x[2::2])
    out[1::2] = np.cumsum(x[1::2])
    return out


def check_rle_counts(counts: np.ndarray, height: int, width: int) -> None:
    """Raise ValueError unless ``counts`` are non-negative run lengths adding up to
    ``height * width``."""
    total = height * width
    if counts.size and counts.min() < 0:
        raise ValueError(f"RLE holds a negative run length ({int(counts.min())})")
    if counts.size and counts.max() > total:
        raise ValueError(f"RLE holds a run length ({int(counts.max())}) longer than the "
                         f"mask's height x width = {total}")
    s = int(counts.sum())
    if s != total:
        raise ValueError(f"RLE run lengths add up to {s}, not the mask's height x width = "
                         f"{height} x {width} = {total}")
