"""Frame strips and thumbnails: ground truth outlined, predictions filled in their track colour.

A strip shows a few frames of one video side by side. Each frame gets:

- every ground-truth instance as an outline (white on a dark halo, so it shows on any image);
- every predicted track filled semi-transparently (opacity :data:`ALPHA`) in the colour of its
  track id (:func:`track_rgb`: the same id has the same colour in every frame, video and
  report, and the same as in the demo videos), with a 1 px edge and the id at its centroid;
- the frame index in the top-left corner;
- on a frame where a ground-truth instance switches identity: a red border, that instance's
  outline in red and an "ID switch" label at its centroid.

Frames are resized before drawing, so outlines and text keep their size whatever the
resolution of the video. numpy + OpenCV only.
"""
import dataclasses
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from masktrack_d2.utils.file_io import atomic_write
from masktrack_d2.utils.visualizer import track_color

__all__ = ["StripFrame", "track_rgb", "render_frame", "draw_strip", "draw_thumbnail",
           "ALPHA", "GAP", "BORDER", "SWITCH_RGB", "CANVAS_GREY"]

ALPHA = 0.5  # opacity of a prediction's fill
GAP = 4  # white pixels between two frames of a strip
BORDER = 3  # width of the red border of a frame with an identity switch
SWITCH_RGB = (225, 20, 20)
CANVAS_GREY = 128  # the canvas of a frame without an image
_WHITE = (255, 255, 255)
_BLACK = (0, 0, 0)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclasses.dataclass
class StripFrame:
    """
    One frame to draw.

    Attributes:
        index: the frame's index in its video (printed in the corner).
        image: (H, W, 3) uint8 RGB, or None for a mid-grey canvas of ``size``.
        gt: ``(gt_key, mask)`` per ground-truth instance in the frame; mask (H, W) bool.
        pred: ``(track_id, mask)`` per predicted track in the frame; mask (H, W) bool.
        switches: gt_keys whose matched track changes in this frame.
        size: (H, W) of the canvas when ``image`` is None; if it is None too, the size of the
            first mask.
    """

    index: int
    image: Optional[np.ndarray] = None
    gt: List[Tuple[int, np.ndarray]] = dataclasses.field(default_factory=list)
    pred: List[Tuple[int, np.ndarray]] = dataclasses.field(default_factory=list)
    switches: List[int] = dataclasses.field(default_factory=list)
    size: Optional[Tuple[int, int]] = None

    def hw(self) -> Tuple[int, int]:
        """(H, W) of the frame."""
        if self.image is not None:
            return int(self.image.shape[0]), int(self.image.shape[1])
        if self.size is not None:
            return int(self.size[0]), int(self.size[1])
        for _, mask in list(self.gt) + list(self.pred):
            return int(mask.shape[0]), int(mask.shape[1])
        raise ValueError(f"frame {self.index}: no image, no size and no mask to take a size from")


def track_rgb(track_id: int) -> Tuple[int, int, int]:
    """(R, G, B) of a track id: a pure function of the id (the demo visualizer's colours)."""
    b, g, r = track_color(track_id)
    return r, g, b


def _canvas(frame: StripFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of the frame's image, or the grey canvas."""
    h, w = frame.hw()
    if frame.image is None:
        return np.full((h, w, 3), CANVAS_GREY, np.uint8)
    image = np.asarray(frame.image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"frame {frame.index}: image must be (H, W, 3) uint8 RGB, "
                         f"got {image.dtype} {image.shape}")
    return image.copy()


def _resize_mask(mask: np.ndarray, hw: Tuple[int, int], out_hw: Tuple[int, int],
                 what: str) -> np.ndarray:
    """(H, W) bool mask -> (h, w) bool mask."""
    mask = np.asarray(mask)
    if mask.shape != hw:
        raise ValueError(f"{what}: mask shape {mask.shape} != frame size {hw}")
    if hw == out_hw:
        return mask.astype(bool)
    # Resizing 0/255 and thresholding at half keeps thin parts better than nearest neighbour.
    interp = cv2.INTER_AREA if out_hw[0] < hw[0] else cv2.INTER_LINEAR
    resized = cv2.resize(mask.astype(np.uint8) * 255, (out_hw[1], out_hw[0]), interpolation=interp)
    return resized >= 128


def _centroid(mask: np.ndarray) -> Optional[Tuple[int, int]]:
    """(x, y) of the mask's centre of mass, None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(round(xs.mean())), int(round(ys.mean()))


def _contours(mask: np.ndarray):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return contours


def _font_scale(height: int) -> float:
    return float(np.clip(height / 320.0, 0.33, 0.6))


def _label(img: np.ndarray, text: str, xy: Tuple[int, int], scale: float,
           fg=_WHITE, bg=None, center: bool = True) -> None:
    """
    Write ``text`` at ``xy`` (its centre if ``center``, else its top-left corner) on a box of
    colour ``bg``, or with a black stroke when ``bg`` is None; kept inside the image.
    """
    thickness = 1
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thickness)
    pad = 2
    x, y = xy
    if center:
        x, y = x - tw // 2, y - th // 2
    h, w = img.shape[:2]
    x = int(np.clip(x, pad, max(pad, w - tw - pad)))
    y = int(np.clip(y, pad, max(pad, h - th - base - pad)))
    org = (x, y + th)
    if bg is not None:
        cv2.rectangle(img, (x - pad, y - pad), (x + tw + pad, y + th + base), bg, cv2.FILLED)
    else:
        cv2.putText(img, text, org, _FONT, scale, _BLACK, thickness + 2, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, fg, thickness, cv2.LINE_AA)


def render_frame(frame: StripFrame, out_hw: Tuple[int, int], labels: bool = True) -> np.ndarray:
    """
    Draw one frame at size ``out_hw`` = (h, w).

    Args:
        labels: draw the frame index, track ids and the "ID switch" text (the border and the
            red outline of a switch are drawn either way).

    Returns:
        (h, w, 3) uint8 RGB.
    """
    hw = frame.hw()
    out_hw = (max(1, int(out_hw[0])), max(1, int(out_hw[1])))
    img = _canvas(frame)
    if out_hw != hw:
        interp = cv2.INTER_AREA if out_hw[0] < hw[0] else cv2.INTER_LINEAR
        img = cv2.resize(img, (out_hw[1], out_hw[0]), interpolation=interp)
    where = f"frame {frame.index}"
    preds = [(int(t), _resize_mask(m, hw, out_hw, f"{where} track {t}")) for t, m in frame.pred]
    gts = [(int(k), _resize_mask(m, hw, out_hw, f"{where} gt {k}")) for k, m in frame.gt]
    switched = {int(k) for k in frame.switches}

    # Fills blend with the image only, never with each other's edges or outlines.
    out = img.astype(np.float32)
    for track_id, mask in preds:
        out[mask] = (1.0 - ALPHA) * out[mask] + ALPHA * np.asarray(track_rgb(track_id), np.float32)
    img = np.ascontiguousarray(np.round(out).astype(np.uint8))
    for track_id, mask in preds:
        cv2.drawContours(img, _contours(mask), -1, track_rgb(track_id), 1)
    for key, mask in gts:
        contours = _contours(mask)
        cv2.drawContours(img, contours, -1, _BLACK, 3)
        if key in switched:
            cv2.drawContours(img, contours, -1, SWITCH_RGB, 2)
        else:
            cv2.drawContours(img, contours, -1, _WHITE, 1)

    scale = _font_scale(out_hw[0])
    if labels:
        for track_id, mask in preds:
            c = _centroid(mask)
            if c is not None:
                _label(img, str(track_id), c, scale)
    if switched:
        b = max(1, min(BORDER, out_hw[0] // 8, out_hw[1] // 8))
        cv2.rectangle(img, (0, 0), (out_hw[1] - 1, out_hw[0] - 1), SWITCH_RGB, b)
        if labels:
            centres = {key: _centroid(mask) for key, mask in gts}
            for key in sorted(switched):
                c = centres.get(key) or (out_hw[1] // 2, out_hw[0] // 2)
                _label(img, "ID switch", (c[0], c[1] + int(14 * scale / 0.4)), scale,
                       bg=SWITCH_RGB)
    if labels:
        _label(img, f"frame {frame.index}", (BORDER + 1, BORDER + 1), scale, bg=_BLACK,
               center=False)
    return img


def _write_png(path: str, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError(f"could not encode {path} as PNG")
    with atomic_write(path, "wb") as f:
        f.write(buf.tobytes())


def draw_strip(frames: Sequence[StripFrame], path: str, max_width: int = 1600) -> None:
    """
    Draw ``frames`` side by side (``GAP`` white pixels apart) and write the strip as a PNG.

    All frames are shown at the height of the tallest one, then the strip is scaled down
    (never up) to at most ``max_width`` pixels wide.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("draw_strip needs at least one frame")
    sizes = [f.hw() for f in frames]
    height = max(h for h, _ in sizes)
    widths = [w * height / h for h, w in sizes]
    gaps = GAP * (len(frames) - 1)
    scale = min(1.0, max(1.0, max_width - gaps) / sum(widths))
    out_h = max(1, int(round(height * scale)))
    # Floor, not round: n rounded-up tiles could overshoot max_width.
    tiles = [render_frame(f, (out_h, max(1, int(w * scale + 1e-6))))
             for f, w in zip(frames, widths)]
    strip = np.full((out_h, sum(t.shape[1] for t in tiles) + gaps, 3), 255, np.uint8)
    x = 0
    for tile in tiles:
        strip[:, x:x + tile.shape[1]] = tile
        x += tile.shape[1] + GAP
    _write_png(path, strip)


def draw_thumbnail(frame: StripFrame, path: str, width: int = 160) -> None:
    """Draw one frame ``width`` pixels wide (keeping its aspect) without text, as a PNG."""
    h, w = frame.hw()
    out_h = max(1, int(round(h * width / w)))
    _write_png(path, render_frame(frame, (out_h, int(width)), labels=False))
