"""Write the TrackEval golden fixture of the association metrics (HOTA, Identity, CLEAR).

Builds small YouTube-VIS problems - hand-made ones (identity swaps, fragmented tracks, empty
videos, crowd GT, categories without GT, IoU exactly 0.5, equal-score ties) and random ones -
scores each with TrackEval's YouTube-VIS dataset class and writes, per case, the inputs and
TrackEval's numbers to tests/fixtures/trackeval_golden/. tests/test_track_metrics.py checks
our implementation against them without needing TrackEval.

    python tools/make_trackeval_golden.py --trackeval /path/to/TrackEval

TrackEval (JonathonLuiten/TrackEval) has not been updated for NumPy >= 1.24; a checkout with
only its ``np.float`` / ``np.int`` / ``np.bool`` aliases replaced by the builtins works.
It needs scipy. The fixture records the commit of the checkout when it is a git work tree.
"""
import argparse
import copy
import importlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_masks  # noqa: E402  (tools/ is not a package)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "trackeval_golden")
H, W = 20, 28  # frame size of the cases: small masks keep the fixture small


# ------------------------------------------------------------------------------------------
# building blocks
# ------------------------------------------------------------------------------------------
def box(y0, x0, y1, x1, h=H, w=W):
    return golden_masks.box(y0, x0, y1, x1, h, w)


encode, uncompressed = golden_masks.encode, golden_masks.uncompressed


class Case:
    """A tiny YouTube-VIS data set under construction."""

    def __init__(self, name, n_categories=3):
        self.name = name
        self.gt = {"videos": [], "annotations": [],
                   "categories": [{"id": c, "name": f"cat{c}"} for c in range(1, n_categories + 1)]}
        self.results = []

    def video(self, n_frames):
        vid = len(self.gt["videos"]) + 1
        self.gt["videos"].append({
            "id": vid, "height": H, "width": W, "length": n_frames,
            "file_names": [f"{self.name}_v{vid}/{f:05d}.jpg" for f in range(n_frames)]})
        return vid

    def _n_frames(self, vid):
        return self.gt["videos"][vid - 1]["length"]

    def add_gt(self, vid, cat, masks, iscrowd=0, ann_id=None):
        """masks: {frame: (H, W) mask}; missing frames have no mask."""
        n = self._n_frames(vid)
        segs = [uncompressed(masks[f]) if f in masks else None for f in range(n)]
        areas = [float(masks[f].sum()) if f in masks else None for f in range(n)]
        self.gt["annotations"].append({
            "id": ann_id if ann_id is not None else len(self.gt["annotations"]) + 1,
            "video_id": vid, "category_id": cat, "iscrowd": iscrowd, "height": H, "width": W,
            "length": 1, "segmentations": segs, "areas": areas, "bboxes": [None] * n})

    def add_pred(self, vid, cat, masks, score=0.9):
        n = self._n_frames(vid)
        self.results.append({"video_id": vid, "category_id": cat, "score": float(score),
                             "segmentations": [encode(masks[f]) if f in masks else None
                                               for f in range(n)]})


def moving_box(frames, y, x, h, w, dy=0, dx=1):
    return {f: box(y + dy * i, x + dx * i, y + dy * i + h, x + dx * i + w)
            for i, f in enumerate(frames)}


# ------------------------------------------------------------------------------------------
# hand-made cases
# ------------------------------------------------------------------------------------------
def case_identity_swap():
    c = Case("swap")
    v = c.video(10)
    a = moving_box(range(10), 2, 1, 6, 6, dx=1)
    b = moving_box(range(10), 11, 18, 6, 6, dx=-1)
    c.add_gt(v, 1, a)
    c.add_gt(v, 1, b)
    # two predictions that exchange the objects after frame 4
    c.add_pred(v, 1, {f: (a if f < 5 else b)[f] for f in range(10)}, 0.9)
    c.add_pred(v, 1, {f: (b if f < 5 else a)[f] for f in range(10)}, 0.8)
    # a second video: one prediction swaps back and forth every other frame
    v = c.video(8)
    a = moving_box(range(8), 1, 1, 7, 7, dx=2)
    b = moving_box(range(8), 12, 2, 7, 7, dx=2)
    c.add_gt(v, 2, a)
    c.add_gt(v, 2, b)
    c.add_pred(v, 2, {f: (a if f % 2 == 0 else b)[f] for f in range(8)}, 0.7)
    c.add_pred(v, 2, {f: (b if f % 2 == 0 else a)[f] for f in range(8)}, 0.6)
    return c


def case_fragmented():
    c = Case("frag")
    v = c.video(12)
    a = moving_box(range(12), 3, 0, 8, 8, dx=1)
    c.add_gt(v, 1, a)
    # tracked, lost (gap), tracked again by the same prediction: fragmentation without switch
    c.add_pred(v, 1, {f: a[f] for f in list(range(0, 4)) + list(range(7, 12))}, 0.9)
    # a second object: taken over by another prediction in the middle (switch + switch back)
    b = moving_box(range(12), 11, 2, 7, 7, dx=1)
    c.add_gt(v, 1, b)
    c.add_pred(v, 1, {f: b[f] for f in list(range(0, 5)) + list(range(8, 12))}, 0.8)
    c.add_pred(v, 1, {f: b[f] for f in range(5, 8)}, 0.5)
    # GT that starts late and ends early; a prediction that only covers it partly (IoU < 0.5)
    g = moving_box(range(3, 9), 0, 14, 4, 10, dx=0)
    c.add_gt(v, 2, g)
    c.add_pred(v, 2, {f: box(0, 14, 4, 16) for f in range(3, 9)}, 0.4)
    return c


def case_empty_videos():
    c = Case("empty")
    v = c.video(5)  # GT, no predictions
    c.add_gt(v, 1, moving_box(range(5), 2, 2, 6, 6))
    v = c.video(4)  # predictions, no GT
    c.add_pred(v, 1, moving_box(range(4), 2, 2, 6, 6), 0.9)
    c.add_pred(v, 2, moving_box(range(1, 3), 10, 10, 5, 5), 0.3)
    c.video(3)  # neither
    v = c.video(6)  # GT and predictions with all-empty segmentations
    c.add_gt(v, 2, moving_box(range(6), 5, 5, 6, 6))
    c.add_pred(v, 2, {}, 0.5)
    c.add_pred(v, 2, moving_box(range(6), 5, 6, 6, 6), 0.6)
    return c


def case_crowd():
    c = Case("crowd")
    v = c.video(6)
    crowd = {f: box(0, 0, 12, 20) for f in range(6)}
    c.add_gt(v, 1, crowd, iscrowd=1)
    person = moving_box(range(6), 13, 2, 6, 6)
    c.add_gt(v, 1, person)
    c.add_pred(v, 1, {f: box(1, 1, 8, 8) for f in range(6)}, 0.9)  # inside the crowd region
    c.add_pred(v, 1, {f: box(0, 0, 12, 18) for f in range(6)}, 0.8)  # the crowd region itself
    c.add_pred(v, 1, person, 0.7)
    return c


def case_classes_without_gt():
    c = Case("nogt", n_categories=5)
    v = c.video(6)
    a = moving_box(range(6), 2, 2, 6, 6)
    c.add_gt(v, 1, a)
    c.add_pred(v, 1, a, 0.9)
    c.add_pred(v, 3, a, 0.8)  # right object, category without any GT
    c.add_pred(v, 2, moving_box(range(6), 12, 12, 5, 5), 0.4)  # category 2 has GT elsewhere
    v = c.video(5)
    b = moving_box(range(5), 10, 3, 6, 8)
    c.add_gt(v, 2, b)
    c.add_pred(v, 4, b, 0.7)  # wrong category: FP in 4, miss in 2
    return c


def case_thresholds_and_ties():
    c = Case("ties")
    v = c.video(6)
    g = {f: box(4, 4, 12, 12) for f in range(6)}  # 64 px
    c.add_gt(v, 1, g)
    # IoU exactly 0.5: 128 px containing the 64 px GT
    c.add_pred(v, 1, {f: box(4, 4, 20, 12) for f in range(3)}, 0.9)
    # two identical predictions on the same GT (equal IoU, equal score): a tie
    c.add_pred(v, 1, {f: box(4, 5, 12, 13) for f in range(3, 6)}, 0.5)
    c.add_pred(v, 1, {f: box(4, 5, 12, 13) for f in range(3, 6)}, 0.5)
    # two identical GT tracks (duplicates) and one prediction
    v = c.video(4)
    d = moving_box(range(4), 8, 8, 6, 6)
    c.add_gt(v, 2, d)
    c.add_gt(v, 2, d)
    c.add_pred(v, 2, d, 0.9)
    # GT ids not in json order
    v = c.video(4)
    c.add_gt(v, 1, moving_box(range(4), 1, 1, 5, 5), ann_id=100)
    c.add_gt(v, 1, moving_box(range(4), 12, 1, 5, 5), ann_id=50)
    c.add_pred(v, 1, moving_box(range(4), 12, 1, 5, 5), 0.9)
    c.add_pred(v, 1, moving_box(range(4), 1, 1, 5, 5), 0.9)
    return c


# ------------------------------------------------------------------------------------------
# random cases
# ------------------------------------------------------------------------------------------
def case_random(seed, n_videos=5, max_frames=8, n_categories=4):
    """Random boxes moving across the frame; predictions are jittered copies with swaps,
    gaps, duplicates, wrong categories and distractors; some videos are empty, some GT is
    crowd, the last category never has GT."""
    rng = np.random.default_rng(seed)
    c = Case(f"rand{seed}", n_categories=n_categories)

    def track(n):
        h, w = int(rng.integers(3, 9)), int(rng.integers(3, 9))
        y, x = int(rng.integers(0, H - h)), int(rng.integers(0, W - w))
        dy, dx = int(rng.integers(-1, 2)), int(rng.integers(-1, 2))
        a = int(rng.integers(0, max(1, n // 3)))
        b = int(rng.integers(max(a + 1, 2 * n // 3), n + 1))
        return {f: box(y + dy * f, x + dx * f, y + dy * f + h, x + dx * f + w)
                for f in range(a, b)}

    def jitter(masks, p_drop=0.1):
        out = {}
        for f, m in masks.items():
            if rng.random() < p_drop:
                continue
            out[f] = np.roll(m, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), (0, 1))
        return out

    for _ in range(n_videos):
        n = int(rng.integers(3, max_frames + 1))
        v = c.video(n)
        kind = rng.random()
        if kind < 0.15:
            continue  # empty video
        cats = rng.choice(np.arange(1, n_categories), size=int(rng.integers(1, 3)), replace=False)
        gts = []
        if kind >= 0.25:  # else: a video with predictions only
            for _ in range(int(rng.integers(1, 5))):
                cat = int(rng.choice(cats))
                m = track(n)
                c.add_gt(v, cat, m, iscrowd=int(rng.random() < 0.1))
                gts.append((cat, m))
        for cat, m in gts:
            r = rng.random()
            if r < 0.2:
                continue  # missed
            p = jitter(m)
            if r < 0.35:  # gap
                fs = sorted(p)
                if len(fs) > 2:
                    cut = int(rng.integers(1, len(fs) - 1))
                    for f in fs[cut:cut + int(rng.integers(1, 3))]:
                        p.pop(f)
            label = cat if rng.random() < 0.85 else int(rng.integers(1, n_categories + 1))
            c.add_pred(v, label, p, round(float(rng.random()), 3))
            if rng.random() < 0.25:  # duplicate
                c.add_pred(v, label, jitter(m, 0.3), round(float(rng.random()), 3))
        same = [(i, j) for i in range(len(gts)) for j in range(i + 1, len(gts))
                if gts[i][0] == gts[j][0]]
        if same and rng.random() < 0.7:  # identity swap between two GT of one category
            i, j = same[int(rng.integers(0, len(same)))]
            (cat, a), (_, b) = gts[i], gts[j]
            t = int(rng.integers(1, n))
            c.add_pred(v, cat, {**{f: m for f, m in a.items() if f < t},
                                **{f: m for f, m in b.items() if f >= t}}, 0.95)
            c.add_pred(v, cat, {**{f: m for f, m in b.items() if f < t},
                                **{f: m for f, m in a.items() if f >= t}}, 0.9)
        for _ in range(int(rng.integers(0, 3))):  # distractors, some in the no-GT category
            label = n_categories if rng.random() < 0.3 else int(rng.choice(cats))
            c.add_pred(v, label, track(n), round(float(rng.random()) * 0.5, 3))
    return c


def all_cases():
    cases = [case_identity_swap(), case_fragmented(), case_empty_videos(), case_crowd(),
             case_classes_without_gt(), case_thresholds_and_ties()]
    cases += [case_random(seed) for seed in range(6)]
    cases.append(case_random(100, n_videos=12, max_frames=12, n_categories=6))
    return cases


# ------------------------------------------------------------------------------------------
# TrackEval
# ------------------------------------------------------------------------------------------
def import_trackeval(path=None):
    """TrackEval from ``path`` (a checkout) or, without it, as installed."""
    if path:
        sys.path.insert(0, os.path.abspath(path))
        try:
            return importlib.import_module("trackeval")
        finally:
            sys.path.pop(0)
    return importlib.import_module("trackeval")


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return [float(v) for v in x.tolist()]
    if isinstance(x, (np.integer, int)) and not isinstance(x, bool):
        return int(x)
    return float(x)


def run_trackeval(trackeval, gt, results):
    """TrackEval's HOTA, CLEAR and Identity of ``results`` on ``gt`` (YouTube-VIS dataset
    class): ``{class name | "cls_comb_cls_av" | "cls_comb_det_av": {metric: {field: value}}}``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        split = "golden"
        gt_dir = os.path.join(tmp, "gt", "youtube_vis_" + split)
        tr_dir = os.path.join(tmp, "trackers", "youtube_vis_" + split, "ours", "data")
        os.makedirs(gt_dir)
        os.makedirs(tr_dir)
        with open(os.path.join(gt_dir, "gt.json"), "w") as f:
            json.dump(gt, f)
        with open(os.path.join(tr_dir, "results.json"), "w") as f:
            json.dump(results, f)
        eval_cfg = {"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                    "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                    "PLOT_CURVES": False, "LOG_ON_ERROR": None, "BREAK_ON_ERROR": True}
        ds_cfg = {"GT_FOLDER": os.path.join(tmp, "gt") + os.sep,
                  "TRACKERS_FOLDER": os.path.join(tmp, "trackers") + os.sep,
                  "OUTPUT_FOLDER": os.path.join(tmp, "out"), "SPLIT_TO_EVAL": split,
                  "TRACKERS_TO_EVAL": ["ours"], "PRINT_CONFIG": False}
        metric_cfg = {"PRINT_CONFIG": False}
        evaluator = trackeval.Evaluator(eval_cfg)
        dataset = trackeval.datasets.YouTubeVIS(ds_cfg)
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(metric_cfg),
                   trackeval.metrics.Identity(metric_cfg)]
        res, msg = evaluator.evaluate([dataset], metrics)
    combined = res["YouTubeVIS"]["ours"]["COMBINED_SEQ"]
    return {cls: {m: _plain(combined[cls][m]) for m in ("HOTA", "CLEAR", "Identity")}
            for cls in combined}


def trackeval_version(path):
    if not path:
        return "installed trackeval"
    try:
        commit = subprocess.run(["git", "-C", path, "log", "--format=%H %s", "-n", "3"],
                                capture_output=True, text=True, check=True).stdout.strip()
        return commit.replace("\n", " | ")
    except (OSError, subprocess.CalledProcessError):
        return os.path.abspath(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trackeval", default=os.environ.get("TRACKEVAL_PATH"),
                   help="TrackEval checkout (default: $TRACKEVAL_PATH, else an installed one)")
    p.add_argument("--out", default=DEFAULT_OUT)
    args = p.parse_args(argv)
    trackeval = import_trackeval(args.trackeval)
    os.makedirs(args.out, exist_ok=True)
    index = {"trackeval": trackeval_version(args.trackeval), "frame_size": [H, W], "cases": []}
    import io
    from contextlib import redirect_stdout
    for case in all_cases():
        with redirect_stdout(io.StringIO()):  # TrackEval prints progress
            expected = run_trackeval(trackeval, copy.deepcopy(case.gt),
                                     copy.deepcopy(case.results))
        data = {"gt": case.gt, "results": case.results, "trackeval": expected}
        with open(os.path.join(args.out, case.name + ".json"), "w") as f:
            json.dump(data, f, separators=(",", ":"))
        index["cases"].append(case.name)
        print(f"{case.name}: {len(case.gt['videos'])} videos, {len(case.gt['annotations'])} "
              f"GT tracks, {len(case.results)} results; TrackEval HOTA (det. av.) "
              f"{np.mean(expected['cls_comb_det_av']['HOTA']['HOTA']):.4f}, IDSW "
              f"{expected['cls_comb_det_av']['CLEAR']['IDSW']}")
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
