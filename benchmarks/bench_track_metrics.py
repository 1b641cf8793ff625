"""Benchmark: the association metrics of our metric CLI against TrackEval, whole process.

Writes a YouTube-VIS-2019-valid-sized set (default: 300 videos x 36 frames at 720x1280,
about 50 result tracks per video, results as compressed RLE; the generator of
``bench_eval.py``, seed 0) under ``output/bench_track_metrics/``. The GT is written with
uncompressed RLE, as in the official annotation files (TrackEval's YouTube-VIS loader reads
only that or polygons); both sides read the same two files. Then, in turns for ``--rounds``
rounds (the order rotating every round):

- ours: ``python -m masktrack_d2.evaluation.ytvis_eval --gt gt.json --results results.json
  --track-metrics --no-ap --json`` (HOTA, Identity, CLEAR);
- ours + AP: the same with AP as well (``--track-metrics`` only);
- TrackEval: its YouTube-VIS dataset class with HOTA, CLEAR and Identity in one process,
  configured as its ``scripts/run_youtube_vis.py`` would be with ``--USE_PARALLEL False``
  and no output files, plots or printed tables (``--trackeval-worker`` mode of this script,
  which imports nothing of ours).

Each run is a fresh process of the same interpreter; wall time from start to exit, peak RSS
from ``os.wait4``. The pooled and class-averaged numbers of both must agree (max abs diff
reported). Report: ``benchmarks/results/track_metrics.md``.

    .venv/bin/python benchmarks/bench_track_metrics.py --trackeval /path/to/TrackEval
    .venv/bin/python benchmarks/bench_track_metrics.py --trackeval ... --videos 20 --rounds 1
"""
import argparse
import datetime
import io
import json
import os
import platform
import statistics
import sys
import time
from contextlib import redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from benchlib import process  # noqa: E402

KEYS = ("HOTA", "DetA", "AssA", "LocA", "IDF1", "IDP", "IDR", "MOTA", "IDSW", "Frag", "CLR_FP",
        "CLR_FN")


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------
def rle_string_to_counts(s: str):
    """The run lengths of a compressed COCO RLE string (the inverse of pycocotools'
    string encoding: 5-bit groups with a continuation bit, deltas from the count two back)."""
    counts, p, n = [], 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def write_set(args):
    """Generate the set once (cached by its parameters); returns the data directory."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import bench_eval

    tag = f"v{args.videos}_f{args.frames}_{args.height}x{args.width}_p{args.preds}_s{args.seed}"
    d = os.path.join(args.data_dir, tag)
    gt_path, res_path = os.path.join(d, "gt.json"), os.path.join(d, "results.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        os.makedirs(d, exist_ok=True)
        tic = time.perf_counter()
        gt, results = bench_eval.generate(args.videos, args.frames, args.height, args.width,
                                          args.preds, args.seed)
        for ann in gt["annotations"]:
            ann["segmentations"] = [
                {"size": s["size"], "counts": rle_string_to_counts(s["counts"])} if s else None
                for s in ann["segmentations"]]
        for path, obj in ((gt_path, gt), (res_path, results)):
            with open(path + ".tmp", "w") as f:
                json.dump(obj, f)
            os.replace(path + ".tmp", path)
        print(f"generated {d} in {time.perf_counter() - tic:.0f}s", flush=True)
    # TrackEval's folder layout, pointing at the same two files
    for sub, target in ((os.path.join("te", "gt", "youtube_vis_bench"), gt_path),
                        (os.path.join("te", "trackers", "youtube_vis_bench", "ours", "data"),
                         res_path)):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        link = os.path.join(d, sub, os.path.basename(target))
        if not os.path.exists(link):
            os.symlink(target, link)
    return d


# ------------------------------------------------------------------------------------------
# TrackEval side (run in its own process)
# ------------------------------------------------------------------------------------------
def trackeval_worker(trackeval_path, data_dir):
    import numpy as np

    sys.path.insert(0, os.path.abspath(trackeval_path))
    import trackeval

    te = os.path.join(data_dir, "te")
    eval_cfg = {"USE_PARALLEL": False, "PRINT_RESULTS": False, "PRINT_CONFIG": False,
                "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False, "OUTPUT_DETAILED": False,
                "PLOT_CURVES": False, "LOG_ON_ERROR": None}
    ds_cfg = {"GT_FOLDER": os.path.join(te, "gt") + os.sep,
              "TRACKERS_FOLDER": os.path.join(te, "trackers") + os.sep,
              "OUTPUT_FOLDER": os.path.join(te, "out"), "SPLIT_TO_EVAL": "bench",
              "TRACKERS_TO_EVAL": ["ours"], "PRINT_CONFIG": False}
    with redirect_stdout(io.StringIO()):
        evaluator = trackeval.Evaluator(eval_cfg)
        dataset = trackeval.datasets.YouTubeVIS(ds_cfg)
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
                   trackeval.metrics.Identity({"PRINT_CONFIG": False})]
        res, _ = evaluator.evaluate([dataset], metrics)
    comb = res["YouTubeVIS"]["ours"]["COMBINED_SEQ"]

    def summary(r):
        out = {}
        for k in KEYS:
            for m in ("HOTA", "Identity", "CLEAR"):
                if k in r[m]:
                    out[k] = float(np.mean(r[m][k]))
        return out

    print(json.dumps({"det_av": summary(comb["cls_comb_det_av"]),
                      "cls_av": summary(comb["cls_comb_cls_av"])}))


# ------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------
def run_measured(cmd, env, err_path):
    """Run ``cmd`` as a child; returns (wall s, peak RSS MiB, last stdout line as json)."""
    wall, _, rss, out = process.run_measured(cmd, env, err_path)
    return wall, rss, out


def ours_summary(out):
    t = out["track"]
    return {"det_av": {k: float(t[k]) for k in KEYS},
            "cls_av": {k: float(t["class_averaged"][k]) for k in KEYS}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    import bench_eval

    bench_eval.add_set_arguments(p, preds=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--trackeval", default=os.environ.get("TRACKEVAL_PATH"),
                   help="TrackEval checkout (NumPy aliases patched); default $TRACKEVAL_PATH")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "output", "bench_track_metrics"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results",
                                                 "track_metrics.md"))
    p.add_argument("--trackeval-worker", metavar="DATA_DIR", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.trackeval_worker:
        trackeval_worker(args.trackeval, args.trackeval_worker)
        return 0
    if not args.trackeval:
        p.error("give --trackeval (a TrackEval checkout) or set TRACKEVAL_PATH")

    d = write_set(args)
    gt, res = os.path.join(d, "gt.json"), os.path.join(d, "results.json")
    py = sys.executable
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_WAIT_POLICY="PASSIVE")
    ours = [py, "-m", "masktrack_d2.evaluation.ytvis_eval", "--gt", gt, "--results", res,
            "--json", "--track-metrics"]
    variants = {"ours (track metrics)": ours + ["--no-ap"], "ours (AP + track metrics)": ours,
                "TrackEval (HOTA, CLEAR, Identity)": [py, os.path.abspath(__file__),
                                                      "--trackeval", args.trackeval,
                                                      "--trackeval-worker", d]}
    names = list(variants)
    walls = {n: [] for n in names}
    rss, numbers = {}, {}
    err_path = os.path.join(d, "stderr.txt")
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            wall, peak, out = run_measured(variants[n], env, err_path)
            walls[n].append(wall)
            rss[n] = max(rss.get(n, 0.0), peak)
            numbers[n] = out if n.startswith("TrackEval") else ours_summary(out)
            print(f"round {r + 1}: {n}: {wall:.1f}s, {peak:.0f} MiB", flush=True)
    te_name = names[2]
    diff = max(abs(numbers[n][g][k] - numbers[te_name][g][k])
               for n in names[:2] for g in ("det_av", "cls_av") for k in KEYS)
    write_report(args, d, names, walls, rss, numbers, diff)
    return 0


def write_report(args, d, names, walls, rss, numbers, diff):
    med = {n: statistics.median(walls[n]) for n in names}
    te = names[2]
    size = sum(os.path.getsize(os.path.join(d, f)) for f in ("gt.json", "results.json")) / 2**20
    with open(os.path.join(d, "results.json")) as f:
        n_results = len(json.load(f))
    lines = [
        "# Association metrics: our CLI vs TrackEval (whole process)",
        "",
        f"Written by `benchmarks/bench_track_metrics.py` on "
        f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {platform.node()} "
        f"({os.cpu_count()} CPUs, shared), Python {platform.python_version()}.",
        "",
        f"Set: {args.videos} videos x {args.frames} frames at {args.height}x{args.width}, "
        f"{n_results} result tracks ({n_results / args.videos:.1f} per video, compressed "
        f"RLE), GT as uncompressed RLE; {size:.0f} MiB of json (seed {args.seed}, generator "
        "of `bench_eval.py`). TrackEval: `" + args.trackeval + "` (upstream commit "
        "12c8791b303e0a0b50f753af204249e622d0281a with only `np.float`/`np.int`/`np.bool` "
        "replaced), one process (`USE_PARALLEL False`), no output files or plots.",
        "",
        f"{args.rounds} rounds, interleaved (order rotating each round); wall time of the whole "
        "process (interpreter start to exit), peak RSS from `wait4`.",
        "",
        "| variant | median wall (s) | runs (s) | vs TrackEval | peak RSS (MiB) |",
        "|:--|--:|:--|--:|--:|",
    ]
    for n in names:
        lines.append(f"| {n} | {med[n]:.1f} | {', '.join(f'{w:.1f}' for w in walls[n])} | "
                     f"{med[te] / med[n]:.1f}x faster | {rss[n]:.0f} |" if n != te else
                     f"| {n} | {med[n]:.1f} | {', '.join(f'{w:.1f}' for w in walls[n])} | 1.0x |"
                     f" {rss[n]:.0f} |")
    lines += ["", f"Same numbers: max |ours - TrackEval| over {', '.join(KEYS)} "
              f"(pooled and class-averaged) = {diff:.2e}.", "",
              "| numbers (pooled over categories) | " + " | ".join(KEYS) + " |",
              "|:--|" + "--:|" * len(KEYS)]
    for n in (names[0], te):
        row = numbers[n]["det_av"]
        lines.append(f"| {n} | " + " | ".join(
            f"{row[k]:.0f}" if k in ("IDSW", "Frag", "CLR_FP", "CLR_FN") else f"{100 * row[k]:.2f}"
            for k in KEYS) + " |")
    lines.append("")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(args.out + ".tmp", args.out)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
