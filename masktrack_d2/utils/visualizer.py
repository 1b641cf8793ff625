"""Drawing tracked instances on video frames: one stable colour per track id."""
import colorsys
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .arrays import to_numpy

__all__ = ["track_color", "TrackVisualizer"]

# Consecutive ids step the hue by the golden ratio, so ids born close together (the usual
# case: tracks appear together) get far-apart hues, and any id's colour is known without
# state.
_GOLDEN = 0.6180339887498949
_VALUES = (0.95, 0.75)


def track_color(track_id: int) -> Tuple[int, int, int]:
    """
    The colour of a track: a pure function of ``track_id``, the same in every frame, run
    and process.

    Returns:
        (B, G, R) ints in [0, 255] (OpenCV order).
    """
    track_id = int(track_id)
    hue = (track_id * _GOLDEN) % 1.0
    value = _VALUES[(track_id // 7) % len(_VALUES)]  # a second dimension for ids sharing a hue
    r, g, b = colorsys.hsv_to_rgb(hue, 0.8, value)
    return int(round(b * 255)), int(round(g * 255)), int(round(r * 255))


class TrackVisualizer:
    """
    Draws tracked instances (a mask overlay, the mask outline, the box and a label
    ``"id N category score"``) in the colour of their track.
    """

    def __init__(self, class_names: Optional[Sequence[str]] = None, alpha: float = 0.5):
        """
        Args:
            class_names: name of each contiguous class index; indices it does not cover are
                drawn as ``"class k"``.
            alpha: opacity of the mask overlay.
        """
        self.class_names = list(class_names) if class_names is not None else []
        self.alpha = float(alpha)

    def class_name(self, label: int) -> str:
        label = int(label)
        if 0 <= label < len(self.class_names):
            return str(self.class_names[label])
        return f"class {label}"

    def draw(self, image: np.ndarray, instances) -> np.ndarray:
        """
        Args:
            image: (H, W, 3) uint8 BGR frame (not modified).
            instances: detectron2 Instances at the frame's size with pred_track_ids, scores,
                pred_classes, and optionally pred_boxes ((D, 4) XYXY) and pred_masks (bool
                (D, H, W)).

        Returns:
            (H, W, 3) uint8 BGR drawing.
        """
        out = image.copy()
        if len(instances) == 0:
            return out
        ids = to_numpy(instances.pred_track_ids).astype(np.int64)
        scores = to_numpy(instances.scores).astype(np.float64)
        labels = to_numpy(instances.pred_classes).astype(np.int64)
        boxes = (to_numpy(instances.pred_boxes.tensor) if instances.has("pred_boxes") else None)
        masks = to_numpy(instances.pred_masks) if instances.has("pred_masks") else None
        # Lowest score first, so the most confident instance ends up on top.
        order = np.argsort(scores, kind="stable")
        colors = {int(t): track_color(t) for t in ids}

        if masks is not None:
            for d in order:
                m = masks[d].astype(bool, copy=False)
                if not m.any():
                    continue
                color = np.array(colors[int(ids[d])], dtype=np.float32)
                out[m] = (out[m] * (1.0 - self.alpha) + color * self.alpha).astype(np.uint8)
                contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL,
                                               cv2.CHAIN_APPROX_SIMPLE)
                cv2.drawContours(out, contours, -1, colors[int(ids[d])], 1, cv2.LINE_AA)

        # Boxes and labels after all masks, so no overlay covers a label.
        h, w = out.shape[:2]
        scale = max(0.35, min(h, w) / 720.0)
        thickness = max(1, int(round(min(h, w) / 360.0)))
        for d in order:
            color = colors[int(ids[d])]
            if boxes is not None:
                x0, y0, x1, y1 = (int(round(v)) for v in boxes[d])
            else:  # place the label at the mask's top-left corner
                ys, xs = np.nonzero(masks[d]) if masks is not None else ((), ())
                if len(xs) == 0:
                    continue
                x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
            if boxes is not None:
                cv2.rectangle(out, (x0, y0), (x1, y1), color, thickness)
            text = f"id {int(ids[d])} {self.class_name(labels[d])} {scores[d]:.2f}"
            self._label(out, text, x0, y0, color, scale)
        return out

    @staticmethod
    def _label(image, text, x, y, color, scale):
        font = cv2.FONT_HERSHEY_SIMPLEX
        (tw, th), baseline = cv2.getTextSize(text, font, scale, 1)
        h, w = image.shape[:2]
        x = min(max(x, 0), max(w - tw - 2, 0))
        top = y - th - baseline - 2
        if top < 0:  # no room above the box: put the label inside it
            top = min(max(y, 0), max(h - th - baseline - 2, 0))
        cv2.rectangle(image, (x, top), (x + tw + 2, top + th + baseline + 2), color, -1)
        # Dark text on light colours, light on dark (ITU-R BT.601 luma of the BGR colour).
        luma = 0.114 * color[0] + 0.587 * color[1] + 0.299 * color[2]
        text_color = (0, 0, 0) if luma > 128 else (255, 255, 255)
        cv2.putText(image, text, (x + 1, top + th + 1), font, scale, text_color, 1, cv2.LINE_AA)
