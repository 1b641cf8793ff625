"""The frames of a ground-truth video, read as the data loader reads them, for the report's
pictures."""
import os
from typing import Any, Dict

import numpy as np


class ReportInputError(ValueError):
    """A frame the report needs is not listed, missing or unreadable (the message names the
    video, the frame and the file)."""


def read_frame(image_root: str, video: Dict[str, Any], frame: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB of frame ``frame`` of ``video`` (an entry of the annotation json's
    ``videos``), its file name taken relative to ``image_root``."""
    from ...data.frames import FrameReadError, read_frame as read_record_frame  # torch: lazily

    files = video.get("file_names") or []
    if frame >= len(files):
        raise ReportInputError(f"video {video.get('id')}: no file name for frame {frame} "
                               f"('file_names' lists {len(files)})")
    record = {"video_id": video.get("id"), "height": video.get("height"),
              "width": video.get("width"),
              "file_names": [os.path.join(image_root, f) for f in files]}
    try:
        return read_record_frame(record, frame, "RGB")
    except FrameReadError as e:
        raise ReportInputError(str(e)) from None
