"""masktrack_d2's inputs in mmdetection's structures: a training frame pair as a
``TrackDataSample`` (key frame first, reference second) and a test frame as a one-frame one, so
the reference model trains and tracks on exactly the tensors masktrack_d2 sees. Needs
mmdetection."""
from typing import Dict, List

import numpy as np
import torch


def _det_sample(image: torch.Tensor, instances, frame_idx: int, with_masks: bool):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    h, w = image.shape[-2:]
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                         scale_factor=(1.0, 1.0), frame_id=frame_idx,
                                         flip=False, flip_direction=None))
    gt = InstanceData()
    gt.bboxes = instances.gt_boxes.tensor.float()  # as PackTrackInputs packs them: a tensor
    gt.labels = instances.gt_classes.long()
    gt.instances_ids = instances.gt_instance_ids.long()
    n = len(instances)
    if with_masks:
        masks = instances.gt_masks.tensor.numpy().astype(np.uint8)
    else:  # the reference frame's masks are never used by the loss (key frame only)
        masks = np.zeros((n, h, w), dtype=np.uint8)
    gt.masks = BitmapMasks(masks, h, w)
    sample.gt_instances = gt
    return sample


def training_pair(item: Dict):
    """
    One masktrack_d2 training pair (the frame-pair mapper's dict: "image", "instances",
    "ref_image", "ref_instances", "frame_idx", "ref_frame_idx") ->
    ``(frames, TrackDataSample)``: frames (2, C, H, W) uint8 in the model's channel order.
    """
    from mmdet.structures import TrackDataSample

    key = _det_sample(item["image"], item["instances"], item["frame_idx"], with_masks=True)
    ref = _det_sample(item["ref_image"], item["ref_instances"], item["ref_frame_idx"],
                      with_masks=False)
    sample = TrackDataSample()
    sample.video_data_samples = [key, ref]
    sample.set_metainfo(dict(key_frames_inds=[0], ref_frames_inds=[1]))
    return torch.stack([item["image"], item["ref_image"]]), sample


def training_batch(batch: List[Dict]) -> Dict:
    """A masktrack_d2 training batch -> the dict mmdetection's data preprocessor takes."""
    pairs = [training_pair(item) for item in batch]
    return {"inputs": [p[0] for p in pairs], "data_samples": [p[1] for p in pairs]}


def test_frame(frame: Dict, num_frames: int) -> Dict:
    """
    One frame of masktrack_d2's video test loader ({"image": (C, H', W') at the network's input
    size, "height", "width", "frame_idx"}) -> the dict of a one-frame ``test_step``: results
    come back at the original (height, width), as masktrack_d2's do.
    """
    from mmdet.structures import DetDataSample, TrackDataSample

    image = frame["image"]
    h, w = image.shape[-2:]
    H, W = frame["height"], frame["width"]
    sample = DetDataSample(metainfo=dict(
        img_shape=(h, w), ori_shape=(H, W), scale_factor=(w / W, h / H),
        frame_id=frame["frame_idx"], img_id=frame["frame_idx"], ori_video_length=num_frames))
    track = TrackDataSample()
    track.video_data_samples = [sample]
    return {"inputs": [image[None]], "data_samples": [track]}
