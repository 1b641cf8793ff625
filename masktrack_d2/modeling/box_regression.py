"""Box decoding whose log-scale clamp can be two-sided, as in mmdetection."""
import torch

from detectron2.modeling.box_regression import Box2BoxTransform

__all__ = ["Box2BoxTransformClampBoth", "set_box_delta_clamp"]


class Box2BoxTransformClampBoth(Box2BoxTransform):
    """
    :class:`Box2BoxTransform` whose predicted log-scale deltas ``dw, dh`` are clamped to
    ``[-scale_clamp, scale_clamp]``. detectron2 clamps them from above only; mmdetection's
    ``DeltaXYWHBBoxCoder`` clamps both sides (at ``|log(16 / 1000)|``, detectron2's default
    ``scale_clamp``). The two differ only for boxes that a delta shrinks more than 62.5x.
    """

    def apply_deltas(self, deltas: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """
        Args:
            deltas: (N, k * 4) raw predicted deltas.
            boxes: (N, 4) XYXY boxes they apply to.
        Returns:
            (N, k * 4) decoded XYXY boxes.
        """
        _, _, ww, wh = self.weights
        deltas = deltas.clone()
        # dw = raw / ww is clamped from above by the parent; bound it from below here.
        deltas[:, 2::4] = deltas[:, 2::4].clamp(min=-self.scale_clamp * ww)
        deltas[:, 3::4] = deltas[:, 3::4].clamp(min=-self.scale_clamp * wh)
        return super().apply_deltas(deltas, boxes)


def set_box_delta_clamp(module, clamp: str) -> None:
    """
    Give ``module`` (a detectron2 RPN or FastRCNNOutputLayers: anything with a public
    ``box2box_transform``) the clamp of ``cfg.MODEL.BOX_DELTA_CLAMP``: "upper" keeps
    detectron2's transform, "both" swaps in :class:`Box2BoxTransformClampBoth` with the
    same weights and clamp value.
    """
    if clamp == "upper":
        return
    if clamp != "both":
        raise ValueError(f"MODEL.BOX_DELTA_CLAMP must be 'upper' or 'both', got {clamp!r}")
    old = module.box2box_transform
    module.box2box_transform = Box2BoxTransformClampBoth(old.weights, old.scale_clamp)
