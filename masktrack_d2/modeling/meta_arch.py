"""MaskTrack R-CNN: Mask R-CNN trained on frame pairs, run online over videos."""
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import torch

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.modeling.postprocessing import detector_postprocess
from detectron2.structures import ImageList, Instances

from .box_regression import set_box_delta_clamp
from .track_results import VideoTrackResults
from .tracker import MaskTrackTracker


@META_ARCH_REGISTRY.register()
class MaskTrackRCNN(GeneralizedRCNN):
    """
    GeneralizedRCNN whose ROI heads carry a tracking head (:class:`MaskTrackROIHeads`).

    Inputs (list of dicts, one per item):
      * training: a frame pair, as produced by :class:`FramePairDatasetMapper`:
        "image" (C, H, W), "instances" (gt_boxes, gt_classes, gt_masks, gt_instance_ids),
        "ref_image" (C, H, W), "ref_instances" (gt_boxes, gt_instance_ids).
      * inference on a video (:class:`VideoTestMapper`): "video_id", "length", "height",
        "width", "frames" (an iterable of frame dicts with "image", "height", "width",
        "frame_idx"); the output is ``{"video_id", "tracks": [per-track result dicts]}``.
      * inference on single images ("image" only): plain Mask R-CNN, as GeneralizedRCNN.
    """

    @configurable
    def __init__(self, *, tracker: MaskTrackTracker, **kwargs):
        super().__init__(**kwargs)
        self.tracker = tracker

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        set_box_delta_clamp(ret["proposal_generator"], cfg.MODEL.BOX_DELTA_CLAMP)
        ret["tracker"] = MaskTrackTracker.from_config(cfg)
        return ret

    def forward(self, batched_inputs: List[Dict]):
        if self.training:
            return self.pair_losses(batched_inputs)[0]
        if "frames" in batched_inputs[0]:
            return [self.inference_video(video) for video in batched_inputs]
        return super().forward(batched_inputs)

    def pair_features(self, batched_inputs: List[Dict]
                      ) -> Tuple[ImageList, Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """
        One backbone pass over the key and the reference frames of N frame pairs.

        Args:
            batched_inputs: N pair dicts with "image" and "ref_image" ((C, H, W) each).
        Returns:
            (key_images, key_features, ref_features): the key frames as an ImageList of N
            images, and the FPN maps of the key and of the reference frames ((N, C, H', W')
            per level; both padded to one common size). The reference branch keeps its
            gradient, as in both reference implementations.
        """
        n = len(batched_inputs)
        images = self.preprocess_image(
            batched_inputs + [{"image": x["ref_image"]} for x in batched_inputs])
        features = self.backbone(images.tensor)
        key_features = {k: v[:n] for k, v in features.items()}
        ref_features = {k: v[n:] for k, v in features.items()}
        key_images = ImageList(images.tensor[:n], images.image_sizes[:n])
        return key_images, key_features, ref_features

    def pair_losses(self, batched_inputs: List[Dict], proposals: Optional[List[Instances]] = None
                    ) -> Tuple[Dict[str, torch.Tensor], List[Instances]]:
        """
        The training losses of N frame pairs.

        Args:
            batched_inputs: N pair dicts (see the class docstring).
            proposals: per key frame, RPN proposals to use instead of this pass's own (the RPN
                losses are still computed). With the same proposals and the same RNG state
                two passes sample the same RoIs, so their losses differ only by arithmetic:
                how the GPU check compares mixed precision with float32 on one batch.
        Returns:
            (losses, proposals): the loss dict, and the proposals the RoI heads were given.
        """
        key_images, key_features, ref_features = self.pair_features(batched_inputs)
        gt = [x["instances"].to(self.device) for x in batched_inputs]
        ref_gt = [x["ref_instances"].to(self.device) for x in batched_inputs]
        own, proposal_losses = self.proposal_generator(key_images, key_features, gt)
        proposals = own if proposals is None else proposals
        _, detector_losses = self.roi_heads(
            key_images, key_features, proposals, gt,
            ref_features=ref_features, ref_targets=ref_gt)
        losses = dict(proposal_losses)
        losses.update(detector_losses)
        return losses, proposals

    # ------------------------------------------------------------------ video inference
    def inference_video(self, video: Dict) -> Dict:
        """
        Run the detector and the online tracker over ``video["frames"]`` in order.

        Returns:
            {"video_id": ..., "tracks": list of {"track_id", "score", "category_id"
            (contiguous label), "segmentations" (one compressed RLE at the video's original
            size or None per listed frame)}}. Only RLEs are kept across frames.
        """
        results = VideoTrackResults(video["length"], video["height"], video["width"])
        for frame_idx, inst in self.track_frames(video["frames"]):
            results.add_frame(frame_idx, inst.pred_track_ids, inst.scores, inst.pred_classes,
                              masks=inst.pred_masks)
        return {"video_id": video["video_id"], "tracks": results.results()}

    @torch.no_grad()
    def track_frames(self, frames: Iterable[Dict]) -> Iterator[Tuple[int, Instances]]:
        """
        Yield ``(frame_idx, instances)`` per frame, with the tracker reset at the start.
        ``instances`` are at the frame's original size with fields pred_boxes, scores,
        pred_classes, pred_masks (bool, (D, H, W)) and pred_track_ids; detections the tracker
        discarded are left out.
        """
        self.tracker.reset()
        for i, frame in enumerate(frames):
            frame_idx = frame.get("frame_idx", i)
            yield frame_idx, self._track_frame(frame, frame_idx)

    def _track_frame(self, frame: Dict, frame_idx: int) -> Instances:
        images = self.preprocess_image([frame])
        features = self.backbone(images.tensor)
        proposals, _ = self.proposal_generator(images, features, None)
        dets, embeds = self.roi_heads.detect_and_embed(features, proposals)
        det, embeds = dets[0], embeds[0]  # network-input coordinates
        ids = self.tracker.step(frame_idx, det.pred_boxes.tensor, det.scores,
                                det.pred_classes, embeds)
        keep = ids >= 0
        det = det[keep]
        det.pred_track_ids = ids[keep]
        # Masks only for the detections that survive tracking: the same output as masking all
        # and filtering, for less work.
        det = self.roi_heads.forward_with_given_boxes(features, [det])[0]
        height = frame.get("height", images.image_sizes[0][0])
        width = frame.get("width", images.image_sizes[0][1])
        return detector_postprocess(det, height, width)
