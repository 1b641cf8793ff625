"""Write the TIVE golden fixture: video instance segmentation error types and their dAPs.

Builds small YouTube-VIS problems - hand-made ones that each isolate one of TIVE's seven video
error types (Cls, Dupe, Spat, Temp, Both, Bkg, Miss), plus two errors on one GT, Cls and Spat
errors on an already matched GT, Spat taking precedence over Cls, tracks of every length range,
a video without GT, a video without results, and seeded random ones - scores each with TIVE
(wenhe-jia/TIVE, built on the PyPI package ``tidecv``) through its own API, as its
``examples/tive_evaluate.py`` does::

    gt = datasets.VideoData(path=gt_json); res = datasets.VideoDataResult(path=results_json)
    tive = TIVE(isvideo=True, image_root=None, visualize_root=None, dataset_name='ytvis')
    tive.evaluate_all(gt, res, mode=TIVE.MASK)

and writes, per case, the inputs and TIVE's numbers to tests/fixtures/tive_golden/ (one json
per case, ``{"name", "kind" (hand / random), "description", "conventions_differ",
"expected_errors" (hand cases: the error counts they are built for), "gt", "results", "tive"}``,
plus ``index.json`` with the TIVE commit, the patches and the cross-check below). ``tive``
holds (AP in TIDE's units, percent):

- ``ap_thresholds``: AP of the main run at IoU 0.50, 0.55, ..., 0.95; ``ap``: their mean;
- ``base_ap50``: the main run's AP at 0.5, the base of every dAP;
- ``main``: ``{Cls, Dupe, Spat, Temp, Both, Bkg, Miss: dAP}`` (``get_main_errors()``);
- ``special``: ``{FalsePos, FalseNeg: dAP}`` (``get_special_errors()``);
- ``error_counts``: how many errors of each type the main run found at IoU 0.5;
- ``length_ap``: ``{short, medium, long}``: mean AP over the 10 thresholds of TIVE's runs on
  the tracks of <= 16, 17..32 and > 32 annotated frames, ``null`` where TIVE cannot compute
  it (no GT and no counted prediction in that range: tidecv divides by zero).

The cases keep to what TIVE and the official YouTube-VIS AP have in common, so that an
implementation of either can be compared with them to 1e-6: no crowd GT, every predicted
category has GT somewhere, at most 100 results per video, distinct scores, no video IoU (nor,
where TIVE's Spat/Temp test looks at them, per-frame IoU or temporal overlap) at or next to a
threshold (0.1, 0.5, ..., 0.95, 0.7), no tied IoUs of a prediction with two GT tracks, and at
most 9 GT tracks per category (TIDE's recall points i/100 and the official ``np.linspace(0, 1,
101)`` differ by an ulp at 0.35, 0.7, 0.95, ...: a recall of 7/10 would be read differently;
fixing errors only lowers the GT count).
``check_conventions`` enforces it (the random cases are redrawn until it holds). The one case
flagged ``"conventions_differ": true`` predicts a category without any GT: TIVE averages it
into the mAP as 0, the official AP leaves it out.

The script asserts each hand case's ``error_counts`` (the shapes really trigger the type the
case is named for), checks that TIVE's ``ap_thresholds`` equal the official-convention AP of
our metric (``masktrack_d2.evaluation.ytvis_eval.YTVISEval``: mean over the categories with GT
of precision[t, :, k, area all, maxDets 100], times 100) and records the largest difference
per case in ``index.json``, and re-runs the first case at the end to check that TIVE keeps no
state across calls in one process.

Run it with an interpreter that has tidecv and TIVE's other requirements (numpy, pycocotools,
opencv, matplotlib, seaborn, pandas, appdirs, tqdm); the repository root is put on
``sys.path`` for the cross-check (``ytvis_eval`` needs numpy and pycocotools, not torch)::

    python3 -m venv output/tive_env
    output/tive_env/bin/pip install tidecv numpy pycocotools opencv-python-headless \\
        matplotlib seaborn pandas appdirs tqdm
    output/tive_env/bin/python tools/make_tive_golden.py --tive /path/to/TIVE \\
        [--tive-commit SHA] [--out DIR]

TIVE is loaded from a temporary copy of the checkout with ``PATCHES`` applied: exact string
replacements, each of which must apply once, only for current NumPy / Python (TIVE's logic is
unchanged):

1. ``tivecv/quantify.py``: ``frame_iou[_i] = fiou`` stores the (1, 1) array that
   ``mask_utils.iou`` returns into a float slot, an error since NumPy 2 ("setting an array
   element with a sequence"); the patch stores its single element.

TIVE's length runs divide by zero (tidecv ``ClassedAPDataObject.get_mAP``: ``sum(aps) /
len(aps)`` over no class) when a length range has no GT and no counted prediction, which stops
``evaluate_all`` before the next range. Instead of patching TIVE, ``run_tive`` wraps the
instance's ``evaluate_range`` so that this ZeroDivisionError (and only one raised in
``get_mAP`` of a length run) is caught, the range is recorded as ``null`` and ``evaluate_all``
goes on; the dAPs are read with ``tive.runs`` restricted to the main run (``get_main_errors``
fixes every run in ``tive.runs``, and fixing a length run can empty it the same way).
``tivecv/visualizer.py`` still uses ``np.bool``, but only when drawing (``image_root`` set),
which the script never does.

What TIVE does that a reimplementation must copy (the cases pin it):

- the dAPs, the special errors and the error counts come from the IoU 0.5 run only, while
  ``ap`` averages 10 thresholds; each main dAP is ``max(fixed AP - AP, 0)`` (tidecv clips
  negative ones; no case here has one), the special ones are not clipped;
- a false positive is tested in this order: no GT in the video -> Bkg; best same-class IoU in
  [0.1, 0.5], matched GT or not -> Spat if >= 70% of the frames where the GT or the prediction
  has a mask have frame IoU > 0.1, else Temp; IoU >= 0.5 with another class -> Cls; IoU >= 0.5
  with a matched GT of its class -> Dupe; best IoU <= 0.1 -> Bkg; else Both. A GT neither
  matched nor the target of a Cls / Spat / Temp error is a Miss;
- fixing Cls / Spat / Temp makes the highest-scored error on an unmatched GT a true positive
  and drops the prediction of every other error of that type (on a matched GT, or lower
  scored); fixing Dupe / Bkg / Both drops the prediction; fixing Miss removes the GT, and a
  category left without GT and predictions leaves the mean;
- a prediction's length range is its own number of non-empty frames (not its GT's): in a
  length run, the GT of other ranges become crowd-like ignore regions and predictions of
  other ranges are ignored unless they match a GT of the range; videos without GT are left out.
"""
import argparse
import atexit
import contextlib
import copy
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_masks  # noqa: E402  (tools/ is not a package)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "tive_golden")
H, W = 24, 32  # frame size of the cases: small masks keep the fixture small

#: TIVE's IoU thresholds (``TIVE.COCO_THRESHOLDS``) and error types in its order.
THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
ERROR_TYPES = ("Cls", "Dupe", "Spat", "Temp", "Both", "Bkg", "Miss")
SPECIAL_TYPES = ("FalsePos", "FalseNeg")
#: TIVE's length runs (``TIVE.YTVIS_SEQ_RANGE = [16, 32]``): frames with a mask, inclusive.
LENGTH_RANGES = {"short": (1, 16), "medium": (17, 32), "long": (33, None)}
#: TIVE's background threshold, Spat/Temp per-frame IoU threshold and temporal threshold.
BG_THRESH, SPATIAL_THR, TEMPORAL_THR = 0.1, 0.1, 0.7
EPS = 1e-9  # how close to a threshold a value may not come

#: (file, original text, replacement, reason): applied to the copy of the TIVE checkout.
PATCHES = (
    ("tivecv/quantify.py",
     "frame_iou[_i] = fiou",
     "frame_iou[_i] = float(np.asarray(fiou).reshape(-1)[0])",
     "mask_utils.iou returns a (1, 1) array; NumPy 2 refuses to store it in a float slot"),
)


# ------------------------------------------------------------------------------------------
# building blocks
# ------------------------------------------------------------------------------------------
def box(y0, x0, y1, x1, h=H, w=W):
    return golden_masks.box(y0, x0, y1, x1, h, w)


encode, uncompressed = golden_masks.encode, golden_masks.uncompressed


def bbox(mask):
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
            float(ys.max() - ys.min() + 1)]


def moving_box(frames, y, x, h, w, dy=0, dx=1):
    """{frame: mask} of an h x w box starting at (y, x), moving (dy, dx) per listed frame."""
    return {f: box(y + dy * i, x + dx * i, y + dy * i + h, x + dx * i + w)
            for i, f in enumerate(frames)}


def shifted(masks, dy=0, dx=0, frames=None):
    """The masks moved by (dy, dx) pixels (no wrap-around), optionally on some frames only."""
    out = {}
    for f, m in masks.items():
        if frames is not None and f not in frames:
            continue
        s = np.zeros_like(m)
        ys, xs = np.nonzero(m)
        ys, xs = ys + dy, xs + dx
        keep = (ys >= 0) & (ys < m.shape[0]) & (xs >= 0) & (xs < m.shape[1])
        s[ys[keep], xs[keep]] = 1
        out[f] = s
    return out


class Case:
    """A tiny YouTube-VIS data set under construction (masks kept for the convention checks).

    ``expected_errors``: for a hand case, TIVE's error counts it is designed to produce
    (types not named: 0); ``conventions_differ``: it predicts a category without GT.
    """

    def __init__(self, name, description, n_categories=2, expected_errors=None,
                 conventions_differ=False, kind="hand"):
        self.name = name
        self.description = description
        self.kind = kind
        self.expected_errors = expected_errors
        self.conventions_differ = conventions_differ
        self.gt = {"videos": [], "annotations": [],
                   "categories": [{"id": c, "name": f"cat{c}"} for c in range(1, n_categories + 1)]}
        self.results = []
        self.gt_masks = []  # per annotation: {frame: mask}
        self.pred_masks = []  # per result: {frame: mask} (missing frames: empty)

    def video(self, n_frames):
        vid = len(self.gt["videos"]) + 1
        self.gt["videos"].append({
            "id": vid, "height": H, "width": W, "length": n_frames,
            "file_names": [f"{self.name}_v{vid}/{f:05d}.jpg" for f in range(n_frames)]})
        return vid

    def n_frames(self, vid):
        return self.gt["videos"][vid - 1]["length"]

    def add_gt(self, vid, cat, masks):
        """masks: {frame: (H, W) mask}; frames not in it have no segmentation (None)."""
        n = self.n_frames(vid)
        self.gt["annotations"].append({
            "id": len(self.gt["annotations"]) + 1, "video_id": vid, "category_id": cat,
            "iscrowd": 0, "height": H, "width": W, "length": 1,
            "segmentations": [uncompressed(masks[f]) if f in masks else None for f in range(n)],
            "areas": [float(masks[f].sum()) if f in masks else None for f in range(n)],
            "bboxes": [bbox(masks[f]) if f in masks else None for f in range(n)]})
        self.gt_masks.append(dict(masks))
        return masks

    def add_pred(self, vid, cat, masks, score):
        """masks: {frame: mask}; every frame gets an RLE (an empty one where none is given)."""
        n = self.n_frames(vid)
        empty = np.zeros((H, W), dtype=np.uint8)
        self.results.append({"video_id": vid, "category_id": cat, "score": float(score),
                             "segmentations": [encode(masks.get(f, empty)) for f in range(n)]})
        self.pred_masks.append(dict(masks))

    def as_dict(self):
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "conventions_differ": self.conventions_differ,
                "expected_errors": self.expected_errors, "gt": self.gt,
                "results": self.results}


# ------------------------------------------------------------------------------------------
# where TIVE and the official AP coincide
# ------------------------------------------------------------------------------------------
def _near(x, targets):
    return any(abs(x - t) <= EPS for t in targets)


def _pair_stats(pred, gt, n):
    """Video IoU (TIVE's iou_seq / the official one), per-frame IoUs and TIVE's temporal
    overlap (frames with per-frame IoU > 0.1 over frames where the GT or the prediction has a
    mask) of one prediction and one GT track, from their masks."""
    inter = union = 0
    frame_ious, counted = [], 0
    for f in range(n):
        p, g = pred.get(f), gt.get(f)
        p_on = p is not None and p.any()
        if g is None and not p_on:
            continue
        counted += 1
        if g is None:
            union += int(p.sum())
            frame_ious.append(0.0)
        elif not p_on:
            union += int(g.sum())
            frame_ious.append(0.0)
        else:
            i, u = int((p & g).sum()), int((p | g).sum())
            inter, union = inter + i, union + u
            frame_ious.append(i / u if u else 0.0)
    iou = inter / union if union else 0.0
    overlap = sum(v > SPATIAL_THR for v in frame_ious) / counted if counted else 0.0
    return iou, frame_ious, overlap


def check_conventions(case):
    """What keeps ``case`` from being scored alike by TIVE and the official AP (a list of
    sentences; empty when it is fine)."""
    problems = []
    gt, results = case.gt, case.results
    anns = gt["annotations"]
    gt_cats = {a["category_id"] for a in anns}
    if any(a["iscrowd"] for a in anns):
        problems.append("crowd GT")
    for a, m in zip(anns, case.gt_masks):
        if not m or not all(v.any() for v in m.values()):
            problems.append(f"GT {a['id']} has no frame or an empty mask")
    if not case.conventions_differ and {r["category_id"] for r in results} - gt_cats:
        problems.append("a predicted category has no GT")
    per_video = {}
    for r in results:
        per_video[r["video_id"]] = per_video.get(r["video_id"], 0) + 1
    if per_video and max(per_video.values()) > 100:
        problems.append("more than 100 results in a video")
    scores = [r["score"] for r in results]
    if len(set(scores)) != len(scores):
        problems.append("equal scores")
    # a recall k/n of 0.35, 0.7, ... (n a multiple of 10) reads differently at TIDE's recall
    # points i/100 and the official np.linspace(0, 1, 101); fixing errors only lowers n
    for cat in gt_cats:
        if sum(a["category_id"] == cat for a in anns) > 9:
            problems.append(f"category {cat} has more than 9 GT tracks")
    thresholds = (BG_THRESH,) + THRESHOLDS
    for i, (r, pm) in enumerate(zip(results, case.pred_masks)):
        n = case.n_frames(r["video_id"])
        ious = []
        for a, gm in zip(anns, case.gt_masks):
            if a["video_id"] != r["video_id"]:
                continue
            iou, frame_ious, overlap = _pair_stats(pm, gm, n)
            if _near(iou, thresholds):
                problems.append(f"result {i}: IoU {iou} with GT {a['id']} at a threshold")
            if iou > 0:
                ious.append(iou)
            if a["category_id"] == r["category_id"] and BG_THRESH - EPS <= iou <= 0.5 + EPS:
                if any(_near(v, (SPATIAL_THR,)) for v in frame_ious):
                    problems.append(f"result {i}: frame IoU at 0.1 with GT {a['id']}")
                if _near(overlap, (TEMPORAL_THR,)):
                    problems.append(f"result {i}: temporal overlap 0.7 with GT {a['id']}")
        if len(ious) != len(set(ious)):
            problems.append(f"result {i}: tied IoUs with two GT tracks")
    return problems


# ------------------------------------------------------------------------------------------
# hand-made cases: one per error type, then the special situations
# ------------------------------------------------------------------------------------------
def _counts(**named):
    return {t: named.get(t, 0) for t in ERROR_TYPES}


def case_cls():
    c = Case("cls", "a cat2 prediction on a cat1 track (IoU 0.78, no cat2 GT in that video): "
                    "Cls; the cat1 GT is its target, so not Miss", expected_errors=_counts(Cls=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 4, 2, 8, 8))
    c.add_pred(v, 2, shifted(a, dx=1), 0.8)
    v = c.video(6)
    b = c.add_gt(v, 2, moving_box(range(6), 10, 20, 9, 7, dx=-1))
    c.add_pred(v, 2, b, 0.9)
    return c


def case_dupe():
    c = Case("dupe", "a second prediction (IoU 0.78) on a GT matched by a higher-scored one: "
                     "Dupe; it ranks above the TP of another GT, so fixing it raises AP",
             expected_errors=_counts(Dupe=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(8), 14, 20, 7, 9, dx=-1))
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 1, shifted(a, dx=1), 0.8)
    c.add_pred(v, 1, b, 0.7)
    return c


def case_spat():
    c = Case("spat", "a prediction 4 px beside its GT in every frame (IoU 1/3, every frame "
                     "IoU > 0.1): Spat", expected_errors=_counts(Spat=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 4, 2, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(8), 15, 22, 7, 9, dx=-1))
    c.add_pred(v, 1, shifted(a, dx=4), 0.8)
    c.add_pred(v, 1, b, 0.7)
    return c


def case_temp():
    c = Case("temp", "a prediction exact in 4 of its GT's 10 frames and empty after (IoU 0.4, "
                     "temporal overlap 0.4 < 0.7): Temp", expected_errors=_counts(Temp=1))
    v = c.video(10)
    a = c.add_gt(v, 1, moving_box(range(10), 4, 2, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(10), 15, 24, 7, 7, dx=-1))
    c.add_pred(v, 1, {f: a[f] for f in range(4)}, 0.8)
    c.add_pred(v, 1, b, 0.7)
    return c


def case_both():
    c = Case("both", "a cat2 prediction overlapping a cat1 GT at IoU 1/3 (no cat2 GT in the "
                     "video): wrong class and badly localised, Both",
             expected_errors=_counts(Both=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 4, 2, 8, 8))
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 2, shifted(a, dx=4), 0.8)
    v = c.video(6)
    b = c.add_gt(v, 2, moving_box(range(6), 12, 20, 8, 8, dx=-1))
    c.add_pred(v, 2, b, 0.7)
    return c


def case_bkg():
    c = Case("bkg", "two predictions on background: one touching a GT of its class (IoU "
                    "0.067 <= 0.1), one on nothing: Bkg", expected_errors=_counts(Bkg=2))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(8), 15, 22, 7, 8, dx=-1))
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 1, shifted(a, dx=7), 0.85)
    c.add_pred(v, 1, {f: box(16, 1, 22, 6) for f in range(2, 7)}, 0.8)
    c.add_pred(v, 1, b, 0.7)
    return c


def case_miss():
    c = Case("miss", "a GT no prediction overlaps: Miss", expected_errors=_counts(Miss=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    c.add_gt(v, 1, moving_box(range(1, 7), 14, 20, 7, 9, dx=-1))
    c.add_pred(v, 1, a, 0.9)
    return c


def case_two_errors_one_gt():
    c = Case("two_errors_one_gt", "a Spat (score 0.9) and a Temp (0.8) prediction on the same "
                                  "GT: only the higher-scored one is fixed, fixing Temp only "
                                  "drops its prediction", expected_errors=_counts(Spat=1, Temp=1))
    v = c.video(10)
    a = c.add_gt(v, 1, moving_box(range(10), 4, 2, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(10), 15, 24, 7, 7, dx=-1))
    c.add_pred(v, 1, shifted(a, dx=4), 0.9)
    c.add_pred(v, 1, {f: a[f] for f in range(4)}, 0.8)
    c.add_pred(v, 1, b, 0.7)
    return c


def case_cls_on_matched_gt():
    c = Case("cls_matched_gt", "a cat2 prediction (score 0.9) on a cat1 GT that a cat1 "
                               "prediction matches: Cls whose fix drops the prediction",
             expected_errors=_counts(Cls=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 4, 2, 8, 8))
    c.add_pred(v, 2, shifted(a, dx=1), 0.9)
    c.add_pred(v, 1, a, 0.7)
    v = c.video(6)
    b = c.add_gt(v, 2, moving_box(range(6), 12, 20, 8, 8, dx=-1))
    c.add_pred(v, 2, b, 0.8)
    return c


def case_spat_on_matched_gt():
    c = Case("spat_matched_gt", "a prediction (score 0.9, IoU 1/3) beside a GT that a lower-"
                                "scored prediction matches: TIVE's Spat/Temp test comes before "
                                "its Dupe test, so Spat, whose fix drops the prediction",
             expected_errors=_counts(Spat=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 4, 2, 8, 8))
    c.add_pred(v, 1, shifted(a, dx=4), 0.9)
    c.add_pred(v, 1, a, 0.7)
    return c


def case_spat_before_cls():
    c = Case("spat_before_cls", "a cat1 prediction on a cat2 GT (IoU 0.78) that also touches "
                                "a cat1 GT (IoU 0.18, every frame): Spat on the cat1 GT, not "
                                "Cls, and the cat2 GT is a Miss",
             expected_errors=_counts(Spat=1, Miss=1))
    v = c.video(6)
    c.add_gt(v, 1, {f: box(4, 2, 12, 14) for f in range(6)})
    c.add_gt(v, 2, {f: box(4, 10, 12, 18) for f in range(6)})
    c.add_pred(v, 1, {f: box(4, 11, 12, 19) for f in range(6)}, 0.8)
    b = c.add_gt(v, 1, moving_box(range(6), 15, 20, 7, 8, dx=-1))
    c.add_pred(v, 1, b, 0.7)
    return c


def case_lengths():
    c = Case("lengths", "GT of every length range (10 and 12, 20 and 24, 36 and 40 annotated "
                        "frames); a prediction with 18 non-empty frames on a 10-frame GT (IoU "
                        "10/18): TIVE puts a prediction in the range of its own length",
             expected_errors=_counts(Temp=1, Miss=1))
    v = c.video(20)  # short GT
    a = c.add_gt(v, 1, moving_box(range(1, 13), 3, 2, 8, 8))
    c.add_pred(v, 1, a, 0.95)
    track = moving_box(range(2, 20), 14, 27, 7, 6, dx=-1)
    c.add_gt(v, 2, {f: track[f] for f in range(2, 12)})
    c.add_pred(v, 2, track, 0.6)  # the GT's 10 frames and 8 more
    v = c.video(26)  # medium GT
    b = c.add_gt(v, 1, {f: box(4 + f // 5, 2 + f // 2, 12 + f // 5, 10 + f // 2)
                        for f in range(2, 22)})
    c.add_pred(v, 1, shifted(b, dx=1), 0.85)
    d = c.add_gt(v, 2, {f: box(13, 28 - f, 20, 33 - f) for f in range(1, 25)})
    c.add_pred(v, 2, {f: d[f] for f in range(1, 9)}, 0.5)  # 8 of 24 frames: Temp
    v = c.video(40)  # long GT
    e = c.add_gt(v, 2, {f: box(2 + f // 8, 1 + f // 2, 10 + f // 8, 9 + f // 2)
                        for f in range(2, 38)})
    c.add_pred(v, 2, {f: m for f, m in e.items() if f < 32}, 0.75)  # 30 of 36 frames
    c.add_gt(v, 1, {f: box(16, 28 - f // 2, 22, 32 - f // 2) for f in range(40)})  # missed
    return c


def case_video_without_gt():
    c = Case("no_gt_video", "a prediction in a video without any GT: Bkg (TIVE's first test)",
             expected_errors=_counts(Bkg=1))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    b = c.add_gt(v, 1, moving_box(range(8), 15, 22, 7, 8, dx=-1))
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 1, b, 0.7)
    v = c.video(6)
    c.add_pred(v, 1, moving_box(range(6), 5, 5, 8, 8), 0.8)
    return c


def case_video_without_results():
    c = Case("no_results_video", "a video with two GT tracks and no result at all: both Miss",
             expected_errors=_counts(Miss=2))
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    c.add_pred(v, 1, a, 0.9)
    v = c.video(6)
    c.add_gt(v, 1, moving_box(range(6), 4, 4, 8, 8))
    c.add_gt(v, 2, moving_box(range(1, 6), 14, 20, 6, 8, dx=-1))
    return c


def case_category_without_gt():
    c = Case("nogt_category", "predictions in cat3, which has no GT anywhere: TIVE averages "
                              "cat3 into the mAP with AP 0, the official AP leaves it out",
             n_categories=3, expected_errors=_counts(Cls=1, Bkg=1), conventions_differ=True)
    v = c.video(8)
    a = c.add_gt(v, 1, moving_box(range(8), 3, 1, 8, 8))
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 3, shifted(a, dx=1), 0.8)  # on a matched GT of another class
    c.add_pred(v, 3, {f: box(16, 20, 22, 28) for f in range(8)}, 0.6)  # on nothing
    v = c.video(6)
    b = c.add_gt(v, 2, moving_box(range(6), 12, 20, 8, 8, dx=-1))
    c.add_pred(v, 2, b, 0.7)
    return c


HAND_CASES = (case_cls, case_dupe, case_spat, case_temp, case_both, case_bkg, case_miss,
              case_two_errors_one_gt, case_cls_on_matched_gt, case_spat_on_matched_gt,
              case_spat_before_cls, case_lengths,
              case_video_without_gt, case_video_without_results, case_category_without_gt)


# ------------------------------------------------------------------------------------------
# random cases
# ------------------------------------------------------------------------------------------
def _random_attempt(name, rng, n_videos, max_frames, long_videos):
    """One draw: several videos, 2-4 categories, box tracks; predictions are noisy copies
    (shifted, resized, dropped frames, cut short, wrong labels, duplicates) and distractors."""
    k = int(rng.integers(2, 5))
    c = Case(name, "", n_categories=k, kind="random")
    cats = list(range(1, k + 1))
    lengths = [int(rng.integers(4, max_frames + 1)) for _ in range(n_videos)]
    if long_videos:
        lengths[0] = int(rng.integers(20, 30))
        lengths[1] = int(rng.integers(34, 41))

    def track(n):
        """{frame: (y0, x0, y1, x1)} of a box drifting inside the frame."""
        h, w = int(rng.integers(5, 12)), int(rng.integers(5, 14))
        y, x = float(rng.integers(0, H - h + 1)), float(rng.integers(0, W - w + 1))
        vy, vx = rng.uniform(-1, 1, 2) * (0.4 if n > 16 else 1.0)
        a = int(rng.integers(0, max(1, n // 3)))
        b = int(rng.integers(max(a + 1, 2 * n // 3), n + 1))
        out = {}
        for f in range(a, b):
            yy = int(np.clip(round(y + vy * (f - a)), 0, H - h))
            xx = int(np.clip(round(x + vx * (f - a)), 0, W - w))
            out[f] = (yy, xx, yy + h, xx + w)
        return out

    def noisy(boxes, p_drop):
        """Shifted by up to 2 px (most by 0 or 1), 1 px larger or smaller, jittered by 1 px
        in some frames, some frames dropped."""
        dy, dx = (int(v) for v in rng.choice([-2, -1, -1, 0, 0, 0, 1, 1, 2], 2))
        grow = int(rng.choice([-1, 0, 0, 0, 1]))
        out = {}
        for f, (y0, x0, y1, x1) in boxes.items():
            if rng.random() < p_drop:
                continue
            jy, jx = (int(rng.integers(-1, 2)) if rng.random() < 0.2 else 0 for _ in "yx")
            b = (y0 + dy + jy, x0 + dx + jx, y1 + dy + jy + grow, x1 + dx + jx + grow)
            b = (max(0, b[0]), max(0, b[1]), min(H, b[2]), min(W, b[3]))
            if b[2] > b[0] and b[3] > b[1]:
                out[f] = b
        return out

    used_scores = set()

    def score(lo, hi):
        while True:
            s = round(float(rng.uniform(lo, hi)), 4)
            if s not in used_scores:
                used_scores.add(s)
                return s

    def masks(boxes):
        return {f: box(*b) for f, b in boxes.items()}

    videos = []
    for n in lengths:
        vid = c.video(n)
        gts = []
        if rng.random() >= 0.1:  # else: a video without GT
            for _ in range(int(rng.integers(1, 5))):
                cat = int(rng.choice(cats))
                t = track(n)
                c.add_gt(vid, cat, masks(t))
                gts.append((cat, t))
        videos.append((vid, n, gts))
    gt_cats = sorted({a["category_id"] for a in c.gt["annotations"]})
    for vid, n, gts in videos:
        if gts and rng.random() < 0.1:
            continue  # a video without results
        for cat, t in gts:
            r = rng.random()
            if r < 0.1:
                continue  # missed
            p = noisy(t, p_drop=0.05)
            if r < 0.25 and len(p) > 2:  # cut short: keep one stretch
                fs = sorted(p)
                a = int(rng.integers(0, len(fs) // 2))
                p = {f: p[f] for f in fs[a:a + max(1, len(fs) // 2)]}
            label = cat
            if rng.random() < 0.15 and len(gt_cats) > 1:
                label = int(rng.choice([x for x in gt_cats if x != cat]))
            c.add_pred(vid, label, masks(p), score(0.4, 1.0))
            if rng.random() < 0.2:  # a duplicate
                c.add_pred(vid, label, masks(noisy(t, p_drop=0.3)), score(0.1, 0.9))
        for _ in range(int(rng.integers(0, 3))):  # distractors
            c.add_pred(vid, int(rng.choice(gt_cats)), masks(track(n)), score(0.0, 0.6))
    return c


def case_random(seed, n_videos=5, max_frames=10, long_videos=False, attempts=200):
    """The first draw of ``seed``'s sequence that keeps to ``check_conventions``."""
    for attempt in range(attempts):
        rng = np.random.default_rng([seed, attempt])
        c = _random_attempt(f"rand{seed}", rng, n_videos, max_frames, long_videos)
        if c.results and not check_conventions(c):
            c.description = (f"random (seed {seed}, draw {attempt}): noisy copies of GT "
                             "tracks, dropped frames, wrong labels, duplicates, distractors")
            return c
    raise RuntimeError(f"seed {seed}: no draw keeps to the conventions in {attempts} tries")


RANDOM_CASES = ((0, {}), (1, {}), (2, {}), (3, {"n_videos": 6}), (4, {"n_videos": 4}),
                (5, {"long_videos": True}), (6, {"long_videos": True, "n_videos": 6}),
                (7, {"n_videos": 8, "max_frames": 12}))


def build_cases():
    """All cases as dicts: name, kind, description, conventions_differ, expected_errors (hand
    cases: TIVE's error counts; random: None), gt (YouTube-VIS annotation dict) and results."""
    cases = [make() for make in HAND_CASES]
    cases += [case_random(seed, **kw) for seed, kw in RANDOM_CASES]
    for c in cases:
        problems = check_conventions(c)
        if problems:
            raise AssertionError(f"case {c.name}: " + "; ".join(problems))
    return [c.as_dict() for c in cases]


# ------------------------------------------------------------------------------------------
# TIVE
# ------------------------------------------------------------------------------------------
_IMPORTED = {}


def import_tive(tive_src):
    """The ``tivecv`` module of a TIVE checkout, loaded from a patched temporary copy.

    Raises ImportError when ``tive_src`` is not given or tidecv (or another requirement) is
    missing; RuntimeError when a patch does not apply (another TIVE version).
    """
    if not tive_src:
        raise ImportError("no TIVE checkout given (--tive or TIVE_PATH)")
    src = os.path.abspath(tive_src)
    if src in _IMPORTED:
        return _IMPORTED[src]
    if "tivecv" in sys.modules:
        raise ImportError("another tivecv is already imported in this process")
    if not os.path.isfile(os.path.join(src, "tivecv", "quantify.py")):
        raise ImportError(f"{src} is not a TIVE checkout (no tivecv/quantify.py)")
    importlib.import_module("tidecv")  # ImportError here: tidecv is not installed
    tmp = tempfile.mkdtemp(prefix="tive_")
    atexit.register(shutil.rmtree, tmp, True)
    dst = os.path.join(tmp, "TIVE")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.pyc"))
    for rel, old, new, reason in PATCHES:
        path = os.path.join(dst, rel)
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise RuntimeError(f"TIVE patch for {rel} ({reason}): {old!r} found "
                               f"{text.count(old)} times, expected once (another version?)")
        with open(path, "w") as f:
            f.write(text.replace(old, new))
    sys.path.insert(0, dst)
    try:
        module = importlib.import_module("tivecv")
    finally:
        sys.path.remove(dst)
    _IMPORTED[src] = module
    return module


def tive_commit(path):
    """The commit of a TIVE git work tree, else None."""
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def _raised_in_get_map(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].name == "get_mAP"


def run_tive(tivecv, gt, results):
    """TIVE's numbers for ``results`` on ``gt`` (see the module docstring): ``{ap_thresholds,
    ap, main, special, error_counts, length_ap, base_ap50}``. TIVE's prints and progress
    bars are swallowed."""
    TIVE, datasets = tivecv.TIVE, tivecv.datasets
    video_types = TIVE._error_types_video
    if tuple(e.short_name for e in video_types) != ERROR_TYPES:
        raise RuntimeError(f"TIVE's error types changed: {[e.short_name for e in video_types]}")
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, res_path = os.path.join(tmp, "gt.json"), os.path.join(tmp, "results.json")
        with open(gt_path, "w") as f:
            json.dump(gt, f)
        with open(res_path, "w") as f:
            json.dump(results, f)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            gt_data = datasets.VideoData(path=gt_path)
            res_data = datasets.VideoDataResult(path=res_path)
            tive = TIVE(isvideo=True, image_root=None, visualize_root=None,
                        dataset_name="ytvis")
            failed = set()
            evaluate_range = tive.evaluate_range

            def guarded(gt_, preds, thresholds, pos_threshold, background_threshold, mode,
                        name):
                """TIVE's evaluate_range; a length run without any class is recorded."""
                try:
                    return evaluate_range(gt_, preds, thresholds, pos_threshold,
                                          background_threshold, mode, name)
                except ZeroDivisionError as e:
                    if name not in LENGTH_RANGES or not _raised_in_get_map(e):
                        raise
                    failed.add(name)
                    tive.runs.pop(name, None)

            tive.evaluate_range = guarded
            tive.evaluate_all(gt_data, res_data, mode=TIVE.MASK)
            main_name = res_data.name
            runs = tive.runs
            tive.runs = {main_name: runs[main_name]}  # the dAPs of the main run only
            try:
                main = tive.get_main_errors()[main_name]
                special = tive.get_special_errors()[main_name]
            finally:
                tive.runs = runs
    thresh_runs = tive.run_thresholds[main_name]
    if [r.pos_thresh for r in thresh_runs] != list(THRESHOLDS):
        raise RuntimeError("TIVE's thresholds changed")
    ap_thresholds = [float(r.ap) for r in thresh_runs]
    run = tive.runs[main_name]
    if run is not thresh_runs[0]:
        raise RuntimeError("TIVE's main run is not its IoU 0.5 run")
    length_ap = {}
    for name in LENGTH_RANGES:
        if name in failed:
            length_ap[name] = None
        else:
            length_ap[name] = float(np.mean([r.ap for r in tive.run_thresholds[name]]))
    return {
        "ap_thresholds": ap_thresholds,
        "ap": float(np.mean(ap_thresholds)),
        "main": {t: float(main[t]) for t in ERROR_TYPES},
        "special": {t: float(special[t]) for t in SPECIAL_TYPES},
        "error_counts": {e.short_name: len(run.error_dict[e]) for e in video_types},
        "length_ap": length_ap,
        "base_ap50": float(run.ap),
    }


# ------------------------------------------------------------------------------------------
# our metric, official conventions
# ------------------------------------------------------------------------------------------
def official_ap_thresholds(gt, results):
    """AP (percent) at each threshold by ``YTVISEval``: per category with GT the mean of
    precision over the 101 recall points (area all, maxDets 100), averaged over categories."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from masktrack_d2.evaluation.ytvis_eval import YTVISEval

    ev = YTVISEval(copy.deepcopy(gt), copy.deepcopy(results))
    ev.evaluate()
    ev.accumulate()
    out = []
    for t in range(len(THRESHOLDS)):
        p = ev.precision[t, :, :, 0, -1]  # (R, K)
        has_gt = p[0] > -1
        out.append(float(p[:, has_gt].mean(axis=0).mean() * 100) if has_gt.any() else None)
    return out


# ------------------------------------------------------------------------------------------
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tive", default=os.environ.get("TIVE_PATH"),
                   help="TIVE checkout (default: $TIVE_PATH)")
    p.add_argument("--tive-commit", default=None,
                   help="TIVE's commit, recorded when the checkout is not a git work tree")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--no-official-check", action="store_true",
                   help="skip the cross-check of the AP with masktrack_d2's YTVISEval")
    args = p.parse_args(argv)
    if not args.tive:
        p.error("give --tive PATH or set TIVE_PATH")
    tivecv = import_tive(args.tive)
    import tidecv

    cases = build_cases()
    os.makedirs(args.out, exist_ok=True)
    commit = tive_commit(args.tive) or args.tive_commit
    index = {
        "tive": {"repo": "wenhe-jia/TIVE", "commit": commit,
                 "tivecv": getattr(tivecv, "__version__", None),
                 "patches": [{"file": f, "from": o, "to": n, "reason": r}
                             for f, o, n, r in PATCHES],
                 "length_runs": "a length run that tidecv cannot score (ZeroDivisionError in "
                                "get_mAP: no class) is recorded as null"},
        "tidecv": tidecv.__version__, "numpy": np.__version__,
        "frame_size": [H, W], "thresholds": list(THRESHOLDS), "error_types": list(ERROR_TYPES),
        "length_ranges": {k: list(v) for k, v in LENGTH_RANGES.items()},
        "cases": [], "conventions_differ": [], "official_ap_check": {}}
    first = None
    mismatches = []
    for case in cases:
        res = run_tive(tivecv, copy.deepcopy(case["gt"]), copy.deepcopy(case["results"]))
        if first is None:
            first = res
        if case["expected_errors"] is not None and res["error_counts"] != case["expected_errors"]:
            raise AssertionError(f"{case['name']}: TIVE found {res['error_counts']}, the case "
                                 f"is built for {case['expected_errors']}")
        if not args.no_official_check:
            ours = official_ap_thresholds(case["gt"], case["results"])
            diff = max(abs(a - b) for a, b in zip(res["ap_thresholds"], ours))
            entry = {"max_abs_diff": diff}
            if diff > 1e-6:
                entry["official_ap_thresholds"] = ours
                if not case["conventions_differ"]:
                    mismatches.append(case["name"])
            index["official_ap_check"][case["name"]] = entry
        data = dict(case, tive=res)
        with open(os.path.join(args.out, case["name"] + ".json"), "w") as f:
            json.dump(data, f, separators=(",", ":"))
        index["cases"].append(case["name"])
        if case["conventions_differ"]:
            index["conventions_differ"].append(case["name"])
        la = " ".join("-" if v is None else f"{v:.2f}" for v in res["length_ap"].values())
        print(f"{case['name']}: {len(case['gt']['videos'])} videos, "
              f"{len(case['gt']['annotations'])} GT, {len(case['results'])} results; AP "
              f"{res['ap']:.2f}, AP50 {res['base_ap50']:.2f}; errors "
              + " ".join(f"{t} {n}" for t, n in res["error_counts"].items() if n)
              + "; dAP " + " ".join(f"{t} {v:.2f}" for t, v in res["main"].items() if v)
              + f"; length AP {la}")
    again = run_tive(tivecv, copy.deepcopy(cases[0]["gt"]), copy.deepcopy(cases[0]["results"]))
    if again != first:
        raise AssertionError(f"TIVE gave {cases[0]['name']} other numbers the second time")
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    if mismatches:
        print("TIVE's AP differs from the official-convention AP in: " + ", ".join(mismatches))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
