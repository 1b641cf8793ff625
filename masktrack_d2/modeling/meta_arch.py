"""MaskTrack R-CNN: Mask R-CNN trained on frame pairs, run online over videos."""
import itertools
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import torch

from detectron2.config import configurable
from detectron2.modeling import META_ARCH_REGISTRY, GeneralizedRCNN
from detectron2.structures import ImageList, Instances

from ..utils.background import OrderedWorker
from ..utils.host_copy import instances_to_host
from .box_regression import set_box_delta_clamp
from .postprocessing import frame_postprocess
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

    Built with ``MODEL.TRACK_ON False`` (the detector stage of the two-stage recipe) it has no
    track head and trains as GeneralizedRCNN on single frames ("image", "instances"); its
    checkpoint then starts a tracking model, whose track head alone is newly initialised.
    """

    @configurable
    def __init__(self, *, tracker: MaskTrackTracker, frames_per_batch: int = 1,
                 output_worker: bool = False, **kwargs):
        """
        Args:
            tracker: the online tracker video inference steps frame by frame.
            frames_per_batch: K, the frames of a video the detector runs on at once in video
                inference (``TEST.FRAMES_PER_BATCH``); 1 is frame by frame.
            output_worker: encode each frame's kept masks in a background thread while the
                model goes on (``TEST.OUTPUT_WORKER``); the results are the same.
        """
        super().__init__(**kwargs)
        self.tracker = tracker
        if frames_per_batch < 1:
            raise ValueError(f"TEST.FRAMES_PER_BATCH must be >= 1, got {frames_per_batch}")
        self.frames_per_batch = int(frames_per_batch)
        self.output_worker = bool(output_worker)

    @classmethod
    def from_config(cls, cfg):
        ret = super().from_config(cfg)
        set_box_delta_clamp(ret["proposal_generator"], cfg.MODEL.BOX_DELTA_CLAMP)
        ret["tracker"] = MaskTrackTracker.from_config(cfg)
        ret["frames_per_batch"] = cfg.TEST.FRAMES_PER_BATCH
        ret["output_worker"] = cfg.TEST.OUTPUT_WORKER
        return ret

    @property
    def track_on(self) -> bool:
        """Whether the model has a track head (trains on frame pairs, tracks videos)."""
        return self.roi_heads.track_head is not None

    def forward(self, batched_inputs: List[Dict]):
        if self.training:
            if not self.track_on:
                return super().forward(batched_inputs)
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

        def add(frame_idx: int, inst: Instances, wait) -> None:
            wait()
            results.add_frame(frame_idx, inst.pred_track_ids, inst.scores, inst.pred_classes,
                              masks=inst.pred_masks)

        # The worker holds at most two chunks of frames' results.
        with OrderedWorker(self.output_worker, max_pending=2 * self.frames_per_batch) as worker:
            for frame_idx, inst in self.track_frames(video["frames"]):
                worker.submit(add, frame_idx, *instances_to_host(inst))
        return {"video_id": video["video_id"], "tracks": results.results()}

    @torch.no_grad()
    def track_frames(self, frames: Iterable[Dict], frames_per_batch: Optional[int] = None
                     ) -> Iterator[Tuple[int, Instances]]:
        """
        Yield ``(frame_idx, instances)`` per frame, in order, with the tracker reset at the
        start. ``instances`` are at the frame's original size with fields pred_boxes, scores,
        pred_classes, pred_masks (bool, (D, H, W)) and pred_track_ids; detections the tracker
        discarded are left out.

        The frames are read K at a time (``frames_per_batch``, default
        ``self.frames_per_batch``), so at most K frames and their features are held: the
        detector (backbone, RPN, box head, track-head embeddings) runs on the K frames as one
        batch, the tracker then steps through them one by one, and the mask head runs once
        for the detections the tracker kept in all K. Frames of one video share a size, so the
        batch is padded as a single frame is: K changes only the order in which batched
        kernels add.
        """
        k = frames_per_batch or self.frames_per_batch
        self.tracker.reset()
        frames = iter(frames)
        start = 0
        while True:
            chunk = list(itertools.islice(frames, k))
            if not chunk:
                return
            indices = [f.get("frame_idx", start + j) for j, f in enumerate(chunk)]
            start += len(chunk)
            yield from zip(indices, self._track_chunk(chunk, indices))

    def _track_chunk(self, frames: List[Dict], frame_indices: List[int]) -> List[Instances]:
        images = self.preprocess_image(frames)
        features = self.backbone(images.tensor)
        proposals, _ = self.proposal_generator(images, features, None)
        dets, embeds = self.roi_heads.detect_and_embed(features, proposals)  # input coordinates
        kept = []
        for det, emb, frame_idx in zip(dets, embeds, frame_indices):
            ids = self.tracker.step(frame_idx, det.pred_boxes.tensor, det.scores,
                                    det.pred_classes, emb)
            keep = torch.nonzero(ids >= 0)[:, 0]  # one read; a bool mask reads per field
            det = det[keep]
            det.pred_track_ids = ids[keep]
            kept.append(det)
        # Masks only for the detections that survive tracking: the same output as masking all
        # and filtering, for less work.
        kept = self.roi_heads.forward_with_given_boxes(features, kept)
        return [frame_postprocess(det, frame.get("height", size[0]), frame.get("width", size[1]))
                for det, frame, size in zip(kept, frames, images.image_sizes)]
