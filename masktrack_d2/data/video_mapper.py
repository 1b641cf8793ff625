"""Test mapper: one item per video, its frames streamed in order."""
from typing import Dict, List

from detectron2.config import configurable

from .augmentation import build_augmentation
from .frames import VideoFrames


class VideoTestMapper:
    """
    Maps a video record to ``{"video_id", "length", "height", "width", "file_names",
    "frames"}``, where "frames" is a lazy :class:`VideoFrames`. One item is one whole video, so
    detectron2's InferenceSampler, which shards items across processes, never splits a video.
    """

    @configurable
    def __init__(self, *, augmentations: List, image_format: str):
        self.augmentations = augmentations
        self.image_format = image_format

    @classmethod
    def from_config(cls, cfg):
        return {"augmentations": build_augmentation(cfg, is_train=False),
                "image_format": cfg.INPUT.FORMAT}

    def __call__(self, video: Dict) -> Dict:
        return {
            "video_id": video["video_id"],
            "length": video["length"],
            "height": video["height"],
            "width": video["width"],
            "file_names": video["file_names"],
            "frames": VideoFrames(video, self.augmentations, self.image_format),
        }
