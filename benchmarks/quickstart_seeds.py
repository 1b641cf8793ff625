"""The quickstart over several seeds: mean and range of what it prints.

Runs ``python -m masktrack_d2.quickstart --config-file C SEED k`` for each seed (each run with
its own data folder, so that runs in parallel never regenerate one set under each other) and
summarises the reports: held-out AP / AP50 / AP75 / AR10 (the 6-video split), AP per
checkpoint, match accuracy, AP on the extra held-out set (48 videos) with and without the
tracker's embedding term, on all of it and on its 24 videos with same-category crossings,
the demo frame, and the wall time of each run.

    .venv/bin/python benchmarks/quickstart_seeds.py --seeds 1 2 3 --parallel 2
    .venv/bin/python benchmarks/quickstart_seeds.py --config-file \\
        configs/quickstart/masktrack_R_18_FPN_synthetic_hard.yaml --seeds 1 2 3 --parallel 2
    .venv/bin/python benchmarks/quickstart_seeds.py --collect output/seeds/<name>_seed*
    # the two-stage recipe (docs/two_stage.md), its AP curve beside the one-stage runs'
    .venv/bin/python benchmarks/quickstart_seeds.py --seeds 1 2 3 --parallel 2 \
        --stage1-config configs/quickstart/masktrack_R_18_FPN_synthetic_hard_stage1.yaml \
        --config-file configs/quickstart/masktrack_R_18_FPN_synthetic_hard_stage2.yaml \
        --plot docs/two_stage_curve.png --baseline benchmarks/results/quickstart_seeds_hard.json

With ``--parallel 2`` on 2 cores each run gets one thread (OMP_NUM_THREADS=1): the wall times
are then not a user's single-run time (a run alone uses both cores); the scores are the same
kind of sample, since every thread count is another float path.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import ROOT, available_cores  # noqa: E402
from benchlib.report import md_table, save_plot  # noqa: E402

DEFAULT_CONFIG = "configs/quickstart/masktrack_R_18_FPN_synthetic.yaml"
FIELDS = ("AP", "AP50", "AP75", "AR10")


def run_one(config, seed, out_dir, threads, stage1_config=None):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               DETECTRON2_DATASETS=os.path.join(out_dir, "datasets"))
    start = time.time()
    with open(os.path.join(out_dir + ".log"), "w") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "masktrack_d2.quickstart", "--config-file", config]
            + (["--stage1-config", stage1_config] if stage1_config else [])
            + ["--output-dir", out_dir, "SEED", str(seed)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed} failed: see {out_dir}.log")
    return time.time() - start


def summarise(report):
    """The figures of one quickstart_report.json."""
    curve = report["heldout_curve"]
    stage1 = report.get("stage1_curve") or []
    offset = max((p["iteration"] for p in stage1), default=0)
    extra = report["tracker_ablation_extra_heldout"]
    on, off = extra["embedding+iou+label"], extra["iou+label"]
    demo = report.get("demo_frame", {}).get("objects") or []
    return {
        **{k: report["ytvis_val"].get(k) for k in FIELDS},
        # AP against total steps: stage 1's checkpoints first (two-stage runs)
        "ap_curve": {**{p["iteration"]: p["segm"]["AP"] for p in stage1},
                     **{h["iteration"] + offset: h["segm"]["AP"] for h in curve if "segm" in h}},
        "stage1_steps": offset,
        "training_seconds": sum((report.get("training_seconds") or {}).values()) or None,
        "match_accuracy": (curve[0]["match_accuracy"], curve[-1]["match_accuracy"]),
        "crossing_AP_embedding_on": on["subset"]["AP"],
        "crossing_AP_embedding_off": off["subset"]["AP"],
        "crossing_IDSW_on_off": (on["subset"]["IDSW"], off["subset"]["IDSW"]),
        "extra_AP_embedding_on": on["all"]["AP"],
        "extra_AP_embedding_off": off["all"]["AP"],
        "num_crossing_videos": len(report["extra_heldout_crossing_video_ids"]),
        "demo_detected": sum(o["detected"] for o in demo), "demo_objects": len(demo),
        "train_and_eval_seconds": report["train_and_eval_seconds"],
        "seconds": report["seconds"],
    }


def spread(values):
    values = [v for v in values if v is not None and v == v]
    if not values:
        return float("nan"), float("nan"), float("nan")
    mean = sum(values) / len(values)
    return mean, min(values), max(values)


def _num(v):
    return "n/a" if v is None else f"{v:.1f}"


def table(runs):
    rows = []
    for key in FIELDS + ("extra_AP_embedding_on", "extra_AP_embedding_off",
                         "crossing_AP_embedding_on", "crossing_AP_embedding_off"):
        mean, lo, hi = spread([r[key] for r in runs.values()])
        rows.append([key, f"{mean:.1f}", f"{lo:.1f} - {hi:.1f}",
                     " / ".join(_num(r[key]) for r in runs.values())])
    gaps = [r["crossing_AP_embedding_on"] - r["crossing_AP_embedding_off"]
            for r in runs.values()]
    mean, lo, hi = spread(gaps)
    rows.append(["embedding gain on crossings (on - off)", f"{mean:.1f}", f"{lo:.1f} - {hi:.1f}",
                 " / ".join(f"{g:.1f}" for g in gaps)])
    return md_table(["figure", "mean", "range", "per seed (" + ", ".join(runs) + ")"], rows)


def plot_ap_curves(ax, runs, baseline):
    """Held-out AP against steps per run (solid) and per baseline run (dashed, grey); a
    dotted line where stage 2 starts."""
    for name, r in baseline.items():
        curve = sorted((int(k), v) for k, v in r["ap_curve"].items())
        ax.plot(*zip(*curve), "--", color="gray", alpha=0.8,
                label="baseline" if name == next(iter(baseline)) else None)
    for name, r in runs.items():
        curve = sorted((int(k), v) for k, v in r["ap_curve"].items())
        ax.plot(*zip(*curve), "o-", label=name)
        if r.get("stage1_steps"):
            ax.axvline(r["stage1_steps"], color="k", linestyle=":", linewidth=0.8)
    ax.set_xlabel("training steps (both stages)")
    ax.set_ylabel("held-out AP")
    ax.set_ylim(0, None)
    ax.legend(fontsize=7)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=DEFAULT_CONFIG)
    parser.add_argument("--stage1-config", default=None,
                        help="the quickstart's --stage1-config (the two-stage recipe)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--output-root", default=os.path.join(ROOT, "output", "seeds"))
    parser.add_argument("--collect", nargs="+", default=None,
                        help="summarise these quickstart output folders instead of running")
    parser.add_argument("--out", default=None, help="write the summary (.md and .json) here")
    parser.add_argument("--note", default="", help="a line on how the runs were made, for --out")
    parser.add_argument("--plot", default=None,
                        help="draw held-out AP against training steps of every run here (.png)")
    parser.add_argument("--baseline", default=None,
                        help="with --plot: a summary .json of another --out, drawn dashed")
    args = parser.parse_args()

    if args.collect:
        # run folders only (a run's .log sits beside its folder)
        folders = sorted(set(f for pattern in args.collect for f in glob.glob(pattern)
                             if os.path.isdir(f)))
        walls = {}
    else:
        name = os.path.splitext(os.path.basename(args.config_file))[0]
        folders = [os.path.join(args.output_root, f"{name}_seed{s}") for s in args.seeds]
        threads = max(1, available_cores() // args.parallel)
        os.makedirs(args.output_root, exist_ok=True)
        with ThreadPoolExecutor(args.parallel) as pool:
            walls = dict(zip(folders, pool.map(
                lambda fs: run_one(args.config_file, fs[1], fs[0], threads,
                                   args.stage1_config),
                zip(folders, args.seeds))))
    runs = {}
    for folder in folders:
        with open(os.path.join(folder, "quickstart_report.json")) as f:
            runs[os.path.basename(folder)] = dict(summarise(json.load(f)),
                                                  wall_seconds=walls.get(folder))
    text = table(runs)
    if args.plot:
        baseline = json.load(open(args.baseline)) if args.baseline else {}
        save_plot(args.plot, lambda fig, ax: plot_ap_curves(ax, runs, baseline))
    print(text)
    for name, r in runs.items():
        print(f"{name}: AP per checkpoint {r['ap_curve']}; match accuracy "
              f"{r['match_accuracy'][0]:.2f} -> {r['match_accuracy'][1]:.2f}; demo frame "
              f"{r['demo_detected']} of {r['demo_objects']} detected; "
              f"{r['train_and_eval_seconds']:.0f} s to train and evaluate"
              + (f" ({r['training_seconds']:.0f} s of training)" if r["training_seconds"]
                 else ""))
    if args.out:
        with open(args.out + ".json", "w") as f:
            json.dump(runs, f, indent=1)
        per_seed = [f"- {name}: AP per checkpoint "
                    + ", ".join(f"{it}: {ap:.1f}" for it, ap in r["ap_curve"].items())
                    + f"; match accuracy {r['match_accuracy'][0]:.2f} -> "
                      f"{r['match_accuracy'][1]:.2f}; crossing IDSW on / off "
                      f"{r['crossing_IDSW_on_off'][0]} / {r['crossing_IDSW_on_off'][1]}; demo "
                      f"frame {r['demo_detected']} of {r['demo_objects']} objects found"
                    for name, r in runs.items()]
        with open(args.out + ".md", "w") as f:
            f.write("# The quickstart over seeds\n\n" + (args.note + "\n\n" if args.note else "")
                    + "AP, AP50, AP75, AR10: the 6 held-out videos of the split. extra_AP: "
                      "all 48 videos of the extra held-out set, with the tracker's embedding "
                      "term on / off; crossing_AP: its 24 videos with same-category "
                      "crossings.\n\n" + text + "\n\n" + "\n".join(per_seed) + "\n")


if __name__ == "__main__":
    main()
