"""Training mappers over video records: one annotated frame (the detector stage), or a key frame
and a reference frame of one video with one augmentation for both (the tracking stage)."""
import copy
import logging
from typing import Dict, List, Tuple

import numpy as np
import torch

from detectron2.config import configurable
from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T
from detectron2.data.common import DatasetFromList
from detectron2.structures import Instances

from .augmentation import build_augmentation
from .frames import read_frame, to_chw_tensor

logger = logging.getLogger(__name__)


def is_valid_annotation(obj: Dict) -> bool:
    """A non-crowd instance with a box of positive size (MMT's loader-side filter)."""
    x, y, w, h = obj["bbox"]
    return obj.get("iscrowd", 0) == 0 and w >= 1 and h >= 1


def key_frame_items(videos: List[Dict], filter_empty: bool = True) -> List[Dict]:
    """
    One training item per usable key frame: ``{"video_index", "frame_idx"}``.

    Frames without a valid instance cannot be key frames (both references drop them); one
    epoch is one pass over these items.
    """
    items = []
    for vi, video in enumerate(videos):
        for f, annos in enumerate(video["annotations"]):
            if not filter_empty or any(is_valid_annotation(a) for a in annos):
                items.append({"video_index": vi, "frame_idx": f})
    return items


class FrameDatasetMapper:
    """
    Maps a key-frame item ``{"video_index", "frame_idx"}`` to one training image, as
    detectron2's DatasetMapper maps an image record: "image", "instances" (gt_boxes,
    gt_classes, gt_masks, gt_instance_ids), "height", "width", "file_name", "video_id",
    "frame_idx". The detector stage (``MODEL.TRACK_ON False``) trains on these: every
    annotated frame of a video data set is an image.
    """

    @configurable
    def __init__(self, videos: List[Dict], *, augmentations: List, image_format: str,
                 mask_format: str = "bitmask"):
        # Serialised like detectron2's DatasetFromList so forked workers share one buffer.
        self.videos = DatasetFromList(videos, copy=False, serialize=True)
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format
        self.mask_format = mask_format
        logger.info(f"[{type(self).__name__}] augmentations: {augmentations}")

    @classmethod
    def from_config(cls, cfg, videos, is_train: bool = True):
        return {
            "videos": videos,
            "augmentations": build_augmentation(cfg, is_train),
            "image_format": cfg.INPUT.FORMAT,
            "mask_format": cfg.INPUT.MASK_FORMAT,
        }

    def __call__(self, item: Dict) -> Dict:
        return self.map_key_frame(self.videos[item["video_index"]], item["frame_idx"])[0]

    def map_key_frame(self, video: Dict, key: int) -> Tuple[Dict, T.Transform]:
        """The training dict of frame ``key`` of ``video``, and the augmentation drawn for it."""
        image = read_frame(video, key, self.image_format)
        aug_input = T.AugInput(image)
        transforms = self.augmentations(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        annos = [a for a in video["annotations"][key] if is_valid_annotation(a)]
        return {
            "file_name": video["file_names"][key],
            "video_id": video["video_id"],
            "frame_idx": key,
            "height": image_shape[0],
            "width": image_shape[1],
            "image": to_chw_tensor(image),
            "instances": self.instances(annos, transforms, image_shape),
        }, transforms

    def instances(self, annos: List[Dict], transforms, image_shape) -> Instances:
        """Ground truth of one frame's valid annotations after ``transforms``, empty ones
        dropped; gt_masks only where the annotations carry a segmentation."""
        annos = [utils.transform_instance_annotations(copy.deepcopy(a), transforms, image_shape)
                 for a in annos]
        instances = utils.annotations_to_instances(annos, image_shape, mask_format=self.mask_format)
        instances.gt_instance_ids = torch.tensor([a["instance_id"] for a in annos],
                                                 dtype=torch.long)
        return utils.filter_empty_instances(instances)


class FramePairDatasetMapper(FrameDatasetMapper):
    """
    Maps a key-frame item ``{"video_index", "frame_idx"}`` to a training pair: the key
    frame as :class:`FrameDatasetMapper` maps it, plus "ref_image", "ref_instances"
    (gt_boxes, gt_classes, gt_instance_ids) and "ref_frame_idx".

    The reference frame is drawn uniformly among the video's other listed frames within
    ``sampling_frame_range`` of the key (MMT; <= 0: the whole video, ORIG), optionally only among frames with a valid
    instance (ORIG). A one-frame video (or one with no candidate) reuses the key frame.
    The augmentation is drawn on the key frame and applied unchanged to the reference.
    """

    @configurable
    def __init__(self, videos: List[Dict], *, sampling_frame_range: int = 100,
                 ref_nonempty_only: bool = False, **kwargs):
        super().__init__(videos, **kwargs)
        self.sampling_frame_range = sampling_frame_range
        self.ref_nonempty_only = ref_nonempty_only

    @classmethod
    def from_config(cls, cfg, videos, is_train: bool = True):
        return dict(super().from_config(cfg, videos, is_train),
                    sampling_frame_range=cfg.INPUT.SAMPLING_FRAME_RANGE,
                    ref_nonempty_only=cfg.INPUT.REF_NONEMPTY_ONLY)

    def sample_ref_index(self, video: Dict, key: int) -> int:
        n, r = video["length"], self.sampling_frame_range
        lo, hi = (0, n - 1) if r <= 0 else (max(0, key - r), min(n - 1, key + r))
        candidates = [f for f in range(lo, hi + 1) if f != key]
        if self.ref_nonempty_only:
            candidates = [f for f in candidates
                          if any(is_valid_annotation(a) for a in video["annotations"][f])]
        if not candidates:
            return key
        # The global RNG: detectron2 seeds it from cfg.SEED and differently in each worker.
        return int(candidates[np.random.randint(len(candidates))])

    def __call__(self, item: Dict) -> Dict:
        video = self.videos[item["video_index"]]
        key = item["frame_idx"]
        ref = self.sample_ref_index(video, key)
        out, transforms = self.map_key_frame(video, key)
        image_shape = (out["height"], out["width"])
        ref_image = transforms.apply_image(read_frame(video, ref, self.image_format))
        # The reference frame only provides boxes and ids: skip decoding its masks.
        ref_annos = [{k: v for k, v in a.items() if k != "segmentation"}
                     for a in video["annotations"][ref] if is_valid_annotation(a)]
        out.update(ref_frame_idx=ref, ref_image=to_chw_tensor(ref_image),
                   ref_instances=self.instances(ref_annos, transforms, image_shape))
        return out
