"""Mask R-CNN RoI heads with the MaskTrack tracking branch."""
from typing import Dict, List, Optional, Tuple

import torch

from detectron2.config import configurable
from detectron2.layers import ShapeSpec
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY, StandardROIHeads
from detectron2.modeling.roi_heads.roi_heads import select_foreground_proposals
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import get_event_storage

from .box_regression import set_box_delta_clamp
from .box_inference import box_inference
from .poolers import build_level_pooler
from .track_head import build_track_head, match_loss, match_targets


@ROI_HEADS_REGISTRY.register()
class MaskTrackROIHeads(StandardROIHeads):
    """
    StandardROIHeads plus a tracking head on the box pooler's 7x7 RoI features.

    With ``track_head=None`` (``MODEL.TRACK_ON False``, the detector stage) it is Mask R-CNN's
    heads with this project's pooling rule: training takes single frames and gives the
    detector losses only, and the checkpoint holds no ``track_head`` weights.

    Training adds ``loss_match``: positive key-frame RoIs against the reference frame's
    ground-truth boxes. ``forward`` at inference is unchanged (plain Mask R-CNN); video
    inference uses :meth:`detect_and_embed` (final detections and their embeddings, no masks),
    then ``forward_with_given_boxes`` for the masks of the detections the tracker keeps.
    :meth:`embed` gives the embeddings of any boxes.
    """

    @configurable
    def __init__(self, *, track_head, track_loss_weight=1.0, track_separate_sampling=True,
                 track_loss_norm="matched", **kwargs):
        super().__init__(**kwargs)
        self.track_head = track_head
        self.track_loss_weight = track_loss_weight
        self.track_separate_sampling = track_separate_sampling
        self.track_loss_norm = track_loss_norm

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        # The poolers are rebuilt with the box -> FPN level rule of the config.
        scales = tuple(1.0 / input_shape[k].stride for k in cfg.MODEL.ROI_HEADS.IN_FEATURES)
        for key, head in (("box_pooler", cfg.MODEL.ROI_BOX_HEAD),
                          ("mask_pooler", cfg.MODEL.ROI_MASK_HEAD)):
            if ret.get(key) is not None:
                ret[key] = build_level_pooler(
                    cfg.MODEL.ROI_LEVEL_MAPPING, output_size=head.POOLER_RESOLUTION,
                    scales=scales, sampling_ratio=head.POOLER_SAMPLING_RATIO,
                    pooler_type=head.POOLER_TYPE)
        set_box_delta_clamp(ret["box_predictor"], cfg.MODEL.BOX_DELTA_CLAMP)
        if not cfg.MODEL.TRACK_ON:
            ret["track_head"] = None
            return ret
        # The track head reads the box pooler's output (parameter-free, so sharing it is exact).
        in_channels = [input_shape[f].channels for f in ret["box_in_features"]][0]
        res = cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION
        ret["track_head"] = build_track_head(
            cfg, ShapeSpec(channels=in_channels, height=res, width=res))
        th = cfg.MODEL.TRACK_HEAD
        ret.update(track_loss_weight=th.LOSS_WEIGHT,
                   track_separate_sampling=th.SEPARATE_SAMPLING,
                   track_loss_norm=th.LOSS_NORM)
        return ret

    def embed(self, features: Dict[str, torch.Tensor], boxes: List[Boxes]) -> torch.Tensor:
        """
        Args:
            features: FPN maps of the images the boxes belong to.
            boxes: per image, boxes in that image's network-input coordinates.
        Returns:
            (sum of len(boxes[i]), D) embeddings, concatenated in image order.
        """
        x = self.box_pooler([features[f] for f in self.box_in_features], boxes)
        return self.track_head(x)

    def detect(self, features: Dict[str, torch.Tensor], proposals: List[Instances]
               ) -> List[Instances]:
        """
        The inference box step: box head, score threshold, per-class NMS, top-k
        (:func:`.box_inference.box_inference`: detectron2's detections with fewer device reads).

        Args:
            features: FPN maps of a batch of N images.
            proposals: per image, the RPN's proposals.
        Returns:
            per image, Instances in network-input coordinates with pred_boxes, scores and
            pred_classes.
        """
        pooled = self.box_pooler([features[f] for f in self.box_in_features],
                                 [p.proposal_boxes for p in proposals])
        predictions = self.box_predictor(self.box_head(pooled))
        pred = self.box_predictor
        return [box_inference(boxes, scores, p.image_size, pred.test_score_thresh,
                              pred.test_nms_thresh, pred.test_topk_per_image)
                for boxes, scores, p in zip(pred.predict_boxes(predictions, proposals),
                                            pred.predict_probs(predictions, proposals),
                                            proposals)]

    def detect_and_embed(self, features: Dict[str, torch.Tensor], proposals: List[Instances]
                         ) -> Tuple[List[Instances], List[torch.Tensor]]:
        """
        :meth:`detect` followed by the track head at the final boxes (a model with a track
        head only).

        Args:
            features: FPN maps of a batch of N images.
            proposals: per image, the RPN's proposals.
        Returns:
            (detections, embeddings): per image, Instances in network-input coordinates with
            pred_boxes, scores and pred_classes (no masks yet), and the (D_i, C) embeddings
            of those detections, row i for detection i.
        """
        assert not self.training, "detect_and_embed is an inference step"
        if self.track_head is None:
            raise RuntimeError("video inference needs the track head: this model was built "
                               "with MODEL.TRACK_ON False (a detector stage); load its "
                               "checkpoint into a tracking config (MODEL.WEIGHTS) and train it "
                               "on frame pairs")
        detections = self.detect(features, proposals)
        embeds = self.embed(features, [d.pred_boxes for d in detections])
        return detections, list(embeds.split([len(d) for d in detections]))

    def forward(self, images, features, proposals, targets=None,
                ref_features: Optional[Dict[str, torch.Tensor]] = None,
                ref_targets: Optional[List[Instances]] = None):
        """
        Same as StandardROIHeads.forward; in training ``ref_features`` (the reference frames' FPN
        maps, same batch order) and ``ref_targets`` (with gt_boxes and gt_instance_ids) are
        required, and ``targets`` must carry gt_instance_ids. Without a track head (the detector
        stage) training is StandardROIHeads' and the reference frames are not used.
        """
        if not self.training or self.track_head is None:
            return super().forward(images, features, proposals, targets)
        assert ref_features is not None and ref_targets is not None, \
            "MaskTrackROIHeads needs the reference frames in training"
        # A second, independent sample for the track head (MMT); ORIG reuses the box sample.
        track_proposals = (self.label_and_sample_proposals(proposals, targets)
                           if self.track_separate_sampling else None)
        sampled, losses = super().forward(images, features, proposals, targets)
        if track_proposals is None:
            track_proposals = sampled
        losses.update(self._forward_track(features, track_proposals, ref_features, ref_targets))
        return sampled, losses

    def _forward_track(self, features, proposals: List[Instances],
                       ref_features: Dict[str, torch.Tensor], ref_targets: List[Instances]):
        fg, _ = select_foreground_proposals(proposals, self.num_classes)
        key_embeds = self.embed(features, [p.proposal_boxes for p in fg])
        ref_embeds = self.embed(ref_features, [t.gt_boxes for t in ref_targets])
        key_embeds = key_embeds.split([len(p) for p in fg])
        ref_embeds = ref_embeds.split([len(t) for t in ref_targets])
        targets = [
            match_targets(p.gt_instance_ids, t.gt_instance_ids) if len(p) else
            torch.zeros(0, dtype=torch.long, device=t.gt_boxes.device)
            for p, t in zip(fg, ref_targets)
        ]
        loss, acc = match_loss(key_embeds, ref_embeds, targets, self.track_loss_norm)
        get_event_storage().put_scalar("track_head/match_accuracy", acc)
        return {"loss_match": loss * self.track_loss_weight}
