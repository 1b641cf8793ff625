"""Ground truth and results grouped per video: the parsed, validated input of the metric in a
form other track metrics (e.g. association metrics) can reuse.

    videos = video_tracks("valid_sub.json", "results.json")
    for vid, v in videos.items():
        gt_masks = [decode_track(t.rles, v.height, v.width) for t in v.gt]      # (F, H, W) each
        pred_masks = [decode_track(p["segmentations"], v.height, v.width) for p in v.predictions]
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from pycocotools import mask as mask_util

from .gt import GTTrack, load_ytvis_gt
from .results import validate_results


@dataclass
class VideoTracks:
    """One video's ground-truth tracks and predicted tracks.

    Attributes:
        video_id: the id in the annotation file.
        height, width: the video's size (None if the annotation file does not give it).
        length: number of frames (None if unknown).
        gt: the GT tracks the metric uses (categories ascending, json order within one); each
            has ``id``, ``category_id``, ``ignore`` / ``crowd`` (iscrowd), ``avg_area`` and
            ``rles``: one compressed RLE dict or None per frame.
        predictions: validated results of this video in file order: ``{"video_id",
            "category_id", "score" (float), "segmentations": [compressed RLE or falsy]}``.
    """

    video_id: Any
    height: Optional[int]
    width: Optional[int]
    length: Optional[int]
    gt: List[GTTrack] = field(default_factory=list)
    predictions: List[Dict[str, Any]] = field(default_factory=list)


def video_tracks(gt, results, strict: bool = True, validated: bool = False
                 ) -> Dict[Any, VideoTracks]:
    """Parse and validate ground truth and results once, grouped per video.

    Args:
        gt: annotation json path, dict or :class:`YTVISGroundTruth`.
        results: results json path or list.
        strict: see :func:`validate_results`.
        validated: ``results`` is a list :func:`validate_results` returned for this ``gt``
            (e.g. :attr:`YTVISEval.results`): it is not checked again.

    Returns:
        ``{video_id: VideoTracks}`` for every video of the ground truth, ids ascending.

    Raises:
        GroundTruthFormatError, ResultsFormatError: as :func:`load_ytvis_gt` and
            :func:`validate_results`.
    """
    gt = load_ytvis_gt(gt, strict=strict)
    cat_index = {c: k for k, c in enumerate(gt.category_ids)}
    out = {}
    for vid in gt.video_ids:
        size = gt.video_size(vid)
        out[vid] = VideoTracks(vid, size[0] if size else None, size[1] if size else None,
                               gt.video_length(vid))
    for (vid, _), tracks in sorted(gt.tracks.items(), key=lambda kv: cat_index[kv[0][1]]):
        out[vid].gt.extend(tracks)
    for r in (results if validated else validate_results(results, gt, strict=strict)):
        out[r["video_id"]].predictions.append(r)
    return out


def decode_track(rles: Sequence[Optional[Mapping]], height: int, width: int) -> np.ndarray:
    """A track's masks as a (F, height, width) uint8 array (0 where a frame has no mask).

    Frames whose RLE size differs from (height, width) raise ValueError."""
    out = np.zeros((len(rles), height, width), dtype=np.uint8)
    for f, r in enumerate(rles):
        if not r:
            continue
        if list(r["size"]) != [height, width]:
            raise ValueError(f"frame {f}: mask size {list(r['size'])} is not the video's "
                             f"[{height}, {width}]")
        out[f] = mask_util.decode(r)
    return out
