"""Running an imported mmdetection MaskTrack R-CNN on frames, and comparing its tracks with
the reference's, frame by frame. Shared by the golden-fixture test and the live test.

Per-frame outputs on both sides are dicts of numpy arrays: ``boxes`` (D, 4) float XYXY at the
frame's original size, ``scores`` (D,), ``labels`` (D,) int, ``ids`` (D,) int track ids,
``masks`` (D, H, W) bool, in the order the model outputs them (descending score).

Near-ties (:func:`compare_near_ties`). The two frameworks, or one framework on two kernel sets
(AVX2 / AVX-512), add in other orders, so a score moves by float noise (up to ``SCORE_TOL``).
Where a candidate's score is that close to a cut -- the score threshold, the 100-detection
cap, or the score of its neighbour in the order the tracker walks -- the two sides may keep
another set, and the tracker then carries the difference into later frames (another new
track, shifted ids, a detection taken or discarded). The comparison therefore runs our
tracker again on our detector's candidates, with each candidate within ``NEAR_TIE_GAP`` of a
cut kept or dropped (and near-equal scores ordered) as the reference did, and everything else
cut exactly as our model cuts it; the result must then equal the reference frame by frame:
every detection, box, score, label, mask and track id, to the tolerances below. A candidate
outside the gap decides nothing, so a real difference still fails.
"""
import os
import sys
from typing import Dict, List, Sequence

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_util

from detectron2.config import get_cfg

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.predictor import VideoPredictor
from masktrack_d2.utils.video_io import Frame

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import convert_mmdet_checkpoint  # noqa: E402

MMDET_BASE = os.path.join(REPO, "configs", "Base-MaskTrack-RCNN-FPN-mmdet.yaml")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "mmdet_golden")
GOLDEN_CKPT = os.path.join(FIXTURE, "checkpoint.pth")

#: Agreement with the reference, frame by frame.
BOX_TOL = 1e-3  # pixels
#: The goal for scores. They differ from the reference's by up to 9.9e-6 here, with AVX2 and
#: with AVX-512 kernels alike.
SCORE_TOL = 1e-5
MASK_PIXEL_FRACTION = 1e-4  # 0.01 %

#: Candidates whose scores lie this close to a cut may fall on either side of it. Float noise
#: moves each score by up to SCORE_TOL (the matched detections' tolerance above), so a
#: candidate crosses the fixed score threshold only within SCORE_TOL of it, and two candidates
#: trade places (at the 100-detection cap, or in the order the tracker walks them) only within
#: 2 * SCORE_TOL of each other: the gap covers both. The fixture's kept scores are ~3e-3 apart
#: on average (30 detections between 0.79 and 0.89), so a real difference almost never hides
#: in it, and one that does still has to reproduce every later frame's tracks.
NEAR_TIE_GAP = 2 * SCORE_TOL
#: How far (pixels, any coordinate) a candidate's box may be from a reference detection's to
#: count as the same detection when deciding a near-tie (the boxes are then compared to
#: BOX_TOL like every other); labels must agree and scores be within SCORE_TOL.
SAME_DETECTION_PX = 1.0


def golden_reference(case: str):
    """The fixture's case ("640x360/few", ...): (score threshold, mmdetection's per-frame
    outputs)."""
    golden = torch.load(os.path.join(FIXTURE, "reference_tracks.pth"), weights_only=True)
    entry = golden["cases"][case]
    frames = []
    for f in entry["tracks"]:
        h, w = f["size"] if f["size"] else (0, 0)
        masks = np.stack([mask_util.decode({"size": [h, w], "counts": c.encode()}).astype(bool)
                          for c in f["masks"]]) if f["masks"] else np.zeros((0, 1, 1), bool)
        frames.append({"boxes": f["boxes"].numpy(), "scores": f["scores"].numpy(),
                       "labels": f["labels"].numpy(), "ids": f["ids"].numpy(), "masks": masks})
    return entry["score_thresh"], frames


def golden_frames(video: str) -> List[np.ndarray]:
    """The fixture's video ("640x360" or "1280x720"): BGR frames."""
    d = os.path.join(FIXTURE, video)
    return [cv2.imread(os.path.join(d, n), cv2.IMREAD_COLOR) for n in sorted(os.listdir(d))]


def convert(mmdet_ckpt: str, out: str, config_file: str = None):
    return convert_mmdet_checkpoint.convert(mmdet_ckpt, out, config_file, log=lambda *_: None)


def _predictor(config_file: str, opts: Sequence[str], weights: str) -> VideoPredictor:
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts) + ["MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu"])
    cfg.freeze()
    return VideoPredictor(cfg)


def _run(predictor: VideoPredictor,
         frames_bgr: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
    frames = [Frame(i, f"{i:05d}.png", img) for i, img in enumerate(frames_bgr)]
    out = []
    with torch.no_grad():
        for _, inst in predictor(frames):
            out.append({
                "boxes": inst.pred_boxes.tensor.numpy().astype(np.float64),
                "scores": inst.scores.numpy().astype(np.float64),
                "labels": inst.pred_classes.numpy().astype(np.int64),
                "ids": inst.pred_track_ids.numpy().astype(np.int64),
                "masks": inst.pred_masks.numpy().astype(bool),
            })
    return out


def our_tracks(config_file: str, opts: Sequence[str], weights: str,
               frames_bgr: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
    """Run masktrack_d2's demo predictor (the path ``demo.py`` takes) over one video."""
    return _run(_predictor(config_file, opts, weights), frames_bgr)


class _Recorder:
    """Stands in for the tracker: keeps every detection (its id is its row) and records the
    tracker's inputs."""

    def reset(self):
        self.steps = []

    def step(self, frame_idx, boxes, scores, labels, embeds):
        self.steps.append((frame_idx, boxes.clone(), scores.clone(), labels.clone(),
                           embeds.clone()))
        return torch.arange(len(scores), device=labels.device)


class Candidates:
    """
    Our detector's candidates over one video, before the tracker, down to
    ``score_thresh - NEAR_TIE_GAP`` and past the ``max_dets`` cap; :meth:`replay` runs our
    tracker on any choice of them.

    ``frames[f]``: "boxes", "scores", "labels", "masks" as in :func:`our_tracks` (the frame's
    original size), and the tracker's inputs "track_boxes" (network-input coordinates),
    "scores_t" (float32), "labels_t" and "embeds" (tensors), row by row, in the detector's
    order (descending score). "alive": whether the row survives the final clip-and-drop-empty
    step (a row that does not is still tracked).
    """

    def __init__(self, frames, score_thresh: float, max_dets: int, tracker_factory):
        self.frames = frames
        self.score_thresh = float(score_thresh)
        self.max_dets = int(max_dets)
        self._tracker_factory = tracker_factory

    def edited(self, *, score_thresh: float = None, max_dets: int = None,
               frames=None) -> "Candidates":
        """A copy with another cut, or other frames (what-ifs for the tests)."""
        return Candidates(self.frames if frames is None else frames,
                          self.score_thresh if score_thresh is None else score_thresh,
                          self.max_dets if max_dets is None else max_dets,
                          self._tracker_factory)

    def own_cut(self) -> List[np.ndarray]:
        """Per frame, the rows our model keeps: score above the threshold, the first max_dets."""
        return [np.flatnonzero(self.above(f))[: self.max_dets] for f in self.frames]

    def above(self, frame) -> np.ndarray:
        """Which rows pass the score threshold, compared in float32 as the box head does."""
        return frame["scores_t"].numpy() > np.float32(self.score_thresh)

    def replay(self, chosen: Sequence[np.ndarray]) -> List[Dict[str, np.ndarray]]:
        """Our tracker over the ``chosen`` rows of each frame, in the given order; output as
        :func:`our_tracks`."""
        tracker = self._tracker_factory()
        out = []
        for i, (f, rows) in enumerate(zip(self.frames, chosen)):
            rows = np.asarray(rows, dtype=np.int64)
            t = torch.from_numpy(rows)
            ids = tracker.step(i, f["track_boxes"][t], f["scores_t"][t], f["labels_t"][t],
                               f["embeds"][t]).numpy()
            keep = (ids >= 0) & f["alive"][rows]
            rows, ids = rows[keep], ids[keep]
            out.append({"boxes": f["boxes"][rows], "scores": f["scores"][rows],
                        "labels": f["labels"][rows], "ids": ids, "masks": f["masks"][rows]})
        return out


def our_candidates(config_file: str, opts: Sequence[str], weights: str,
                   frames_bgr: Sequence[np.ndarray], score_thresh: float,
                   max_dets: int = 100) -> Candidates:
    """Run the demo predictor as :func:`our_tracks` does, with the score threshold lowered
    by NEAR_TIE_GAP, the cap doubled and a stand-in tracker that keeps every detection (so
    the mask head runs on all of them): our detector's :class:`Candidates`."""
    predictor = _predictor(config_file, list(opts) + [
        "MODEL.ROI_HEADS.SCORE_THRESH_TEST", repr(score_thresh - NEAR_TIE_GAP),
        "TEST.DETECTIONS_PER_IMAGE", str(2 * max_dets)], weights)
    real_tracker = predictor.model.tracker
    recorder = predictor.model.tracker = _Recorder()
    outputs = _run(predictor, frames_bgr)
    assert len(recorder.steps) == len(outputs)
    frames = []
    for (_, boxes, scores, labels, embeds), o in zip(recorder.steps, outputs):
        n = len(scores)
        rows = o["ids"]  # the recorder's ids are row numbers
        alive = np.zeros(n, bool)
        alive[rows] = True
        full = {}
        for k in ("boxes", "masks"):
            full[k] = np.zeros((n,) + o[k].shape[1:], o[k].dtype)
            full[k][rows] = o[k]
        frames.append({
            "boxes": full["boxes"], "masks": full["masks"],
            "scores": scores.numpy().astype(np.float64), "scores_t": scores,
            "labels": labels.numpy().astype(np.int64), "labels_t": labels,
            "track_boxes": boxes, "embeds": embeds, "alive": alive,
        })
        # The doubled cap must not cut into the band at the real cap.
        s = frames[-1]["scores"]
        above = np.flatnonzero(scores.numpy() > np.float32(score_thresh))
        if n == 2 * max_dets and len(above) > max_dets:
            assert s[-1] < s[above[max_dets - 1]] - NEAR_TIE_GAP, "raise the doubled cap"
    cfg = predictor.cfg
    return Candidates(frames, score_thresh, max_dets, lambda: type(real_tracker).from_config(cfg))


def align_to_reference(ref: Sequence[Dict], cands: Candidates):
    """
    Per frame, the candidate rows to replay so that near-ties go the reference's way: our own
    cut, except that a candidate within NEAR_TIE_GAP of the score threshold, or (when more
    than max_dets pass it) within NEAR_TIE_GAP of the candidate on the other side of the
    cap, is kept exactly when the reference holds it (same label, score within SCORE_TOL,
    box within SAME_DETECTION_PX); candidates are ordered by the reference's score where it
    holds them (near-equal scores may be walked in the other order), by ours otherwise.

    Dropping a near-tie the reference does not hold is right even where the reference's
    tracker, not its cut, discarded it: a discarded detection changes no track.

    Returns:
        (chosen rows per frame, {"near_ties": candidates in the band, "flipped": those kept
        where we drop them or dropped where we keep them, "reordered": frames walked in
        another order than ours})
    """
    t, cap = cands.score_thresh, cands.max_dets
    chosen, stats = [], dict(near_ties=0, flipped=0, reordered=0)
    for r, f in zip(ref, cands.frames):
        s = f["scores"]
        above = np.flatnonzero(cands.above(f))
        own = np.zeros(len(s), bool)
        own[above[:cap]] = True
        band = np.abs(s - t) <= NEAR_TIE_GAP
        if len(above) > cap:  # the cap cuts: last kept vs first dropped
            last_kept, first_dropped = s[above[cap - 1]], s[above[cap]]
            band |= own & (s - first_dropped <= NEAR_TIE_GAP)
            band |= ~own & cands.above(f) & (last_kept - s <= NEAR_TIE_GAP)
        ref_score = np.full(len(s), np.nan)
        for i in range(len(s)):
            hit = ((r["labels"] == f["labels"][i])
                   & (np.abs(r["scores"] - s[i]) <= SCORE_TOL)
                   & (np.abs(r["boxes"] - f["boxes"][i]).max(axis=1, initial=0)
                      <= SAME_DETECTION_PX)) if len(r["scores"]) else np.zeros(0, bool)
            if hit.any():
                ref_score[i] = r["scores"][np.flatnonzero(hit)[0]]
        keep = np.where(band, ~np.isnan(ref_score), own)
        stats["near_ties"] += int(band.sum())
        stats["flipped"] += int((keep != own).sum())
        rows = np.flatnonzero(keep)
        key = np.where(np.isnan(ref_score[rows]), s[rows], ref_score[rows])
        order = rows[np.argsort(-key, kind="stable")]
        stats["reordered"] += int(not np.array_equal(order, rows))
        chosen.append(order)
    return chosen, stats


def compare_near_ties(ref: Sequence[Dict], cands: Candidates) -> Dict[str, float]:
    """:func:`compare_tracks` of the reference against our tracker replayed on our candidates
    with near-ties aligned to the reference (:func:`align_to_reference`); the stats also count
    the near-ties."""
    chosen, ties = align_to_reference(ref, cands)
    stats = compare_tracks(ref, cands.replay(chosen))
    stats.update(ties)
    return stats


def compare_tracks(ref: Sequence[Dict], ours: Sequence[Dict]) -> Dict[str, float]:
    """
    Compare two videos' per-frame outputs detection by detection (same order).

    Returns:
        {"frames", "detections", "max_box_diff", "max_score_diff", "max_mask_fraction"
        (largest fraction of a frame's pixels where one detection's masks differ),
        "count_mismatch", "label_mismatch", "id_mismatch"} -- the last three are numbers of
        frames / detections that differ.
    """
    stats = dict(frames=len(ref), detections=0, max_box_diff=0.0, max_score_diff=0.0,
                 max_mask_fraction=0.0, count_mismatch=abs(len(ref) - len(ours)),
                 label_mismatch=0, id_mismatch=0)
    for r, o in zip(ref, ours):
        if len(r["scores"]) != len(o["scores"]):
            stats["count_mismatch"] += 1
            continue
        n = len(r["scores"])
        stats["detections"] += n
        if n == 0:
            continue
        stats["max_box_diff"] = max(stats["max_box_diff"],
                                    float(np.abs(r["boxes"] - o["boxes"]).max()))
        stats["max_score_diff"] = max(stats["max_score_diff"],
                                      float(np.abs(r["scores"] - o["scores"]).max()))
        stats["label_mismatch"] += int((r["labels"] != o["labels"]).sum())
        stats["id_mismatch"] += int((r["ids"] != o["ids"]).sum())
        h, w = r["masks"].shape[1:]
        diff = (r["masks"] != o["masks"]).reshape(n, -1).sum(axis=1) / float(h * w)
        stats["max_mask_fraction"] = max(stats["max_mask_fraction"], float(diff.max()))
    return stats


def track_differences(stats: Dict[str, float]) -> List[str]:
    """The goals a comparison's stats miss (empty: the same tracks)."""
    limits = (("count_mismatch", 0), ("label_mismatch", 0), ("id_mismatch", 0),
              ("max_box_diff", BOX_TOL), ("max_score_diff", SCORE_TOL),
              ("max_mask_fraction", MASK_PIXEL_FRACTION))
    return [f"{k} {stats[k]} > {limit}" for k, limit in limits if stats[k] > limit]


def assert_same_tracks(stats: Dict[str, float]) -> None:
    assert not track_differences(stats), stats
