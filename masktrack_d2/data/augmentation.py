"""The project's augmentation list: detectron2's, with a choice of resize implementation."""
from typing import List

import cv2
import numpy as np

from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T

__all__ = ["CV2ResizeTransform", "ResizeShortestEdgeCV2", "build_augmentation"]


class CV2ResizeTransform(T.ResizeTransform):
    """Resize with OpenCV: images bilinear (``cv2.INTER_LINEAR``, no antialiasing, fixed-point
    on uint8), segmentations nearest. This is how mmcv resizes, so frames reach an imported
    mmdetection model with the pixels it was evaluated on. Coordinates scale as in
    :class:`ResizeTransform`."""

    def apply_image(self, img: np.ndarray, interp=None) -> np.ndarray:
        """(H, W[, C]) -> (new_h, new_w[, C]), same dtype."""
        assert img.shape[:2] == (self.h, self.w), (img.shape, (self.h, self.w))
        out = cv2.resize(img, (self.new_w, self.new_h), interpolation=cv2.INTER_LINEAR)
        return out.reshape(out.shape[:2] + img.shape[2:])  # cv2 drops a trailing 1-channel

    def apply_segmentation(self, segmentation: np.ndarray) -> np.ndarray:
        """(H, W) label or mask map -> (new_h, new_w), nearest neighbour."""
        return cv2.resize(segmentation, (self.new_w, self.new_h),
                          interpolation=cv2.INTER_NEAREST)


class ResizeShortestEdgeCV2(T.ResizeShortestEdge):
    """
    :class:`ResizeShortestEdge` (same arguments and size sampling) with mmcv's keep-ratio
    size rule -- scale ``s = min(short / min(h, w), max_size / max(h, w))``, new size
    ``int(w * s + 0.5) x int(h * s + 0.5)`` -- and :class:`CV2ResizeTransform`.
    """

    def get_transform(self, image: np.ndarray):
        h, w = image.shape[:2]
        if self.is_range:
            size = np.random.randint(self.short_edge_length[0], self.short_edge_length[1] + 1)
        else:
            size = np.random.choice(self.short_edge_length)
        if size == 0:
            return T.NoOpTransform()
        scale = min(float(size) / min(h, w), float(self.max_size) / max(h, w))
        return CV2ResizeTransform(h, w, int(h * scale + 0.5), int(w * scale + 0.5))


def build_augmentation(cfg, is_train: bool) -> List[T.Augmentation]:
    """detectron2's ``build_augmentation`` (resize, plus the flip in training), its resize
    done as ``cfg.INPUT.RESIZE_IMPL`` says: "pil" (detectron2's) or "cv2" (mmcv's)."""
    augs = utils.build_augmentation(cfg, is_train)
    impl = cfg.INPUT.RESIZE_IMPL
    if impl == "pil":
        return augs
    if impl != "cv2":
        raise ValueError(f"INPUT.RESIZE_IMPL must be 'pil' or 'cv2', got {impl!r}")
    return [ResizeShortestEdgeCV2(a.short_edge_length, a.max_size, a.sample_style)
            if isinstance(a, T.ResizeShortestEdge) else a for a in augs]
