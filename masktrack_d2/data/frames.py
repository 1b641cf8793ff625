"""Reading the frames of a video record, with errors that name the video and the file."""
from typing import Dict, Iterator

import numpy as np
import torch

from detectron2.data import detection_utils as utils
from detectron2.data import transforms as T


class FrameReadError(RuntimeError):
    """A listed frame is missing or cannot be decoded."""


def read_frame(video: Dict, frame_idx: int, image_format: str) -> np.ndarray:
    """
    Returns:
        (H, W, C) uint8 array of the listed frame ``frame_idx`` of ``video``.
    Raises:
        FrameReadError naming the video id, the frame index and the file.
    """
    path = video["file_names"][frame_idx]
    try:
        image = utils.read_image(path, format=image_format)
    except Exception as e:  # PIL / OS errors say little about which video they belong to
        raise FrameReadError(
            f"cannot read frame {frame_idx} of video {video['video_id']}: {path} "
            f"({type(e).__name__}: {e})") from e
    if image.shape[:2] != (video["height"], video["width"]):
        raise FrameReadError(
            f"frame {frame_idx} of video {video['video_id']} ({path}) is "
            f"{image.shape[1]}x{image.shape[0]}, but the json says the video is "
            f"{video['width']}x{video['height']} (fields width/height)")
    return image


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, C) array -> (C, H, W) tensor, the layout detectron2 models take."""
    return torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))


def frame_model_input(image: np.ndarray, augmentations: T.AugmentationList,
                      frame_idx: int) -> Dict:
    """
    A frame (H, W, C) in the model's channel order -> {"image": (C, H', W') after the test
    resize, "height", "width" (the original size), "frame_idx"}.
    """
    aug_input = T.AugInput(image)
    augmentations(aug_input)
    return {"image": to_chw_tensor(aug_input.image), "height": image.shape[0],
            "width": image.shape[1], "frame_idx": frame_idx}


class VideoFrames:
    """
    An iterable over a video's listed frames, read lazily one at a time so that memory does
    not grow with the video's length. Each item: {"image": (C, H', W') uint8 tensor at network
    input size, "height", "width" (original size), "frame_idx", "file_name"}.
    Picklable: it holds file names and the augmentation, never pixels.
    """

    def __init__(self, video: Dict, augmentations, image_format: str):
        self.video = {k: video[k] for k in ("video_id", "file_names", "height", "width")}
        self.augmentations = T.AugmentationList(augmentations)
        self.image_format = image_format

    def __len__(self) -> int:
        return len(self.video["file_names"])

    def __iter__(self) -> Iterator[Dict]:
        for i in range(len(self)):
            image = read_frame(self.video, i, self.image_format)  # checks the json's size
            yield dict(frame_model_input(image, self.augmentations, i),
                       file_name=self.video["file_names"][i])
