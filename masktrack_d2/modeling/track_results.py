"""Video-level output of MaskTrack R-CNN (docs/method.md, "Results format").

:class:`VideoTrackResults` collects one video's per-frame tracker output and turns it into
YouTube-VIS results. Masks are turned into compressed RLE as soon as a frame is added, so no
dense mask is ever held per track per frame: memory does not grow with the video's length
beyond the RLEs (benchmarks/results/video_memory.md).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_util

from ..utils.arrays import to_numpy

__all__ = ["VideoTrackResults", "encode_masks"]

LabelMap = Union[None, Mapping[int, int], Sequence[int], Callable[[int], int]]


def encode_masks(masks) -> List[Dict[str, Any]]:
    """Encode binary masks to compressed RLE.

    Args:
        masks: (K, H, W) bool / 0-1 array or tensor.

    Returns:
        K dicts ``{"size": [H, W], "counts": str}`` (``counts`` decoded to ASCII, JSON-ready).
    """
    m = to_numpy(masks)
    if m.ndim != 3:
        raise ValueError(f"masks must be (K, H, W), got shape {m.shape}")
    if m.shape[0] == 0:
        return []
    m = m if m.dtype == np.bool_ else (m != 0)
    # (K, H, W) -> (H, W, K), Fortran order: pycocotools encodes column-major uint8 images
    rles = mask_util.encode(np.asfortranarray(m.view(np.uint8).transpose(1, 2, 0)))
    return [_normalise_rle(r) for r in rles]


def _normalise_rle(rle: Mapping[str, Any]) -> Dict[str, Any]:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    elif not isinstance(counts, str):
        raise ValueError("only compressed RLE (counts as bytes or str) is accepted")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def _map_label(label: int, label_to_category_id: LabelMap) -> int:
    if label_to_category_id is None:
        return int(label)
    if callable(label_to_category_id):
        return int(label_to_category_id(label))
    return int(label_to_category_id[label])


class VideoTrackResults:
    """Accumulates one video's tracked detections into per-track YouTube-VIS results.

    Per track it keeps: the list of per-detection scores and labels, and a dict
    frame index -> compressed RLE (no dense masks).

    Duplicate track ids within one frame (the tracker's default, bug-compatible mode; see
    docs/method.md, "Tracker"): as in the references' formatters, every duplicate's score and
    label are counted (the score is double-counted in the mean, the label votes twice) and the
    last mask of the frame (in detection order) wins.
    """

    def __init__(self, num_frames: int, height: int, width: int):
        """
        Args:
            num_frames: number of listed frames of the video (``len(file_names)``); every
                track's ``segmentations`` has exactly this length.
            height, width: the video's ORIGINAL resolution; masks must have this size.
        """
        if num_frames < 0:
            raise ValueError(f"num_frames must be >= 0, got {num_frames}")
        self.num_frames = int(num_frames)
        self.height = int(height)
        self.width = int(width)
        # track id -> {"scores": [float], "labels": [int], "frames": [int], "segs": {frame: rle}}
        self._tracks: Dict[int, Dict[str, Any]] = {}
        self._frames_added = set()

    @property
    def frames_added(self) -> int:
        """Number of distinct frames passed to :meth:`add_frame` so far."""
        return len(self._frames_added)

    @property
    def num_tracks(self) -> int:
        """Number of distinct track ids seen so far."""
        return len(self._tracks)

    def add_frame(self, frame_idx: int, track_ids, scores, labels, masks=None) -> None:
        """Add one frame's tracked detections.

        Args:
            frame_idx: index of the frame among the video's listed frames, in [0, num_frames);
                each frame may be added at most once.
            track_ids: (D,) ints from the tracker; detections with id -1 are skipped.
            scores: (D,) detection scores.
            labels: (D,) class indices (contiguous, 0-based).
            masks: (D, H, W) bool array/tensor at the original video size (H, W) = (height,
                width); encoded to compressed RLE here, only for kept detections. Required
                when a detection is kept.
        """
        frame_idx = int(frame_idx)
        if not 0 <= frame_idx < self.num_frames:
            raise IndexError(f"frame_idx {frame_idx} outside [0, {self.num_frames})")
        if frame_idx in self._frames_added:
            raise ValueError(f"frame {frame_idx} was already added")
        ids = to_numpy(track_ids).astype(np.int64).reshape(-1)
        sc = to_numpy(scores).astype(np.float64).reshape(-1)
        lb = to_numpy(labels).astype(np.int64).reshape(-1)
        D = ids.shape[0]
        if sc.shape[0] != D or lb.shape[0] != D:
            raise ValueError(f"track_ids, scores, labels lengths differ: {D}, {sc.shape[0]}, {lb.shape[0]}")
        keep = np.nonzero(ids >= 0)[0]
        if keep.size and masks is None:
            raise ValueError("masks are required for the kept detections")

        if keep.size == 0:
            seg = []
        else:
            if tuple(masks.shape[1:]) != (self.height, self.width) or masks.shape[0] != D:
                raise ValueError(
                    f"masks must be ({D}, {self.height}, {self.width}) at the original video size,"
                    f" got {tuple(masks.shape)}")
            if keep.size == D:  # all kept (always so from MaskTrackRCNN): no gather copy
                seg = encode_masks(masks)
            elif hasattr(masks, "detach"):  # move only the kept masks off the device
                import torch

                seg = encode_masks(masks[torch.as_tensor(keep, device=masks.device)])
            else:
                seg = encode_masks(np.asarray(masks)[keep])

        self._frames_added.add(frame_idx)
        for j, d in enumerate(keep.tolist()):
            tid = int(ids[d])
            tr = self._tracks.setdefault(tid, {"scores": [], "labels": [], "frames": [], "segs": {}})
            tr["scores"].append(float(sc[d]))
            tr["labels"].append(int(lb[d]))
            tr["frames"].append(frame_idx)
            tr["segs"][frame_idx] = seg[j]  # last mask of the frame wins

    def results(self, label_to_category_id: LabelMap = None,
                video_id: Optional[int] = None) -> List[Dict[str, Any]]:
        """Per-track results, ordered by track id.

        Args:
            label_to_category_id: maps a contiguous label to the dataset's category id: a dict,
                a list/tuple indexed by label, or a callable; None = identity.
            video_id: if given, each entry gets ``"video_id": video_id`` (the annotation json's
                video ``id``, not its index).

        Returns:
            list of dicts ``{"video_id"?, "track_id": int, "score": float, "category_id": int,
            "segmentations": list}``: ``score`` = mean of the track's per-detection scores,
            ``category_id`` = majority label (ties -> smallest label) mapped to a category id,
            ``segmentations`` = ``num_frames`` entries, each ``{"size": [H, W], "counts": str}``
            or None where the track has no output. JSON-serialisable.
        """
        out = []
        for tid in sorted(self._tracks):
            tr = self._tracks[tid]
            votes = Counter(tr["labels"])
            top = max(votes.values())
            label = min(lbl for lbl, n in votes.items() if n == top)
            segs: List[Optional[Dict[str, Any]]] = [None] * self.num_frames
            for f, rle in tr["segs"].items():
                segs[f] = {"size": list(rle["size"]), "counts": rle["counts"]}
            entry: Dict[str, Any] = {}
            if video_id is not None:
                entry["video_id"] = int(video_id)
            entry.update(
                track_id=int(tid),
                score=float(sum(tr["scores"]) / len(tr["scores"])),
                category_id=_map_label(label, label_to_category_id),
                segmentations=segs,
            )
            out.append(entry)
        return out

    def to_json_results(self, video_id: int, label_to_category_id: LabelMap = None) -> List[Dict[str, Any]]:
        """Entries in the exact ``results.json`` format (docs/method.md, "Results format"):
        ``{"video_id", "category_id", "score", "segmentations"}`` (no ``track_id``)."""
        return [
            {"video_id": r["video_id"], "category_id": r["category_id"], "score": r["score"],
             "segmentations": r["segmentations"]}
            for r in self.results(label_to_category_id, video_id=video_id)
        ]
