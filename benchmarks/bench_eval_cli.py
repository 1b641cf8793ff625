"""Benchmark: the metric CLI against the official evaluator, whole process, as a user runs them.

Writes a YouTube-VIS-2019-valid-sized set as json files (default: 300 videos x 36 frames at
720x1280, about 50 result tracks per video, compressed RLE; the generator of
``bench_eval.py``) under ``output/bench_eval_cli/``, then runs, in turns for ``--rounds``
rounds:

- ours: ``python -m masktrack_d2.evaluation.ytvis_eval --gt gt.json --results results.json
  --json``;
- official: youtubevos/cocoapi's ``ytvos.py`` + ``ytvoseval.py`` (patched for today's Python
  and NumPy only; see ``bench_eval_official.py``) run the way its README does.

Each is a fresh process of the same interpreter; the wall time is the time from start to
exit, the peak RSS comes from ``os.wait4``. Both print the 11 numbers, which must be identical.
The report (median and best per side, the ratio of the medians, peak RSS) goes to
``benchmarks/results/eval_cli.md``.

    .venv/bin/python benchmarks/bench_eval_cli.py                       # full scale
    .venv/bin/python benchmarks/bench_eval_cli.py --videos 20 --rounds 2  # quick look
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, ROOT)

import bench_eval  # noqa: E402
import bench_eval_official  # noqa: E402
from benchlib import process  # noqa: E402
from masktrack_d2.evaluation.ytvis_eval import STAT_KEYS  # noqa: E402


def write_set(args):
    """Generate the set once (cached by its parameters); returns (gt path, results path)."""
    tag = (f"v{args.videos}_f{args.frames}_{args.height}x{args.width}_p{args.preds}"
           f"_s{args.seed}")
    d = os.path.join(args.data_dir, tag)
    gt_path, res_path = os.path.join(d, "gt.json"), os.path.join(d, "results.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        os.makedirs(d, exist_ok=True)
        tic = time.perf_counter()
        gt, results = bench_eval.generate(args.videos, args.frames, args.height, args.width,
                                          args.preds, args.seed)
        for path, obj in ((gt_path, gt), (res_path, results)):
            with open(path + ".tmp", "w") as f:
                json.dump(obj, f)
            os.replace(path + ".tmp", path)
        print(f"generated {d} in {time.perf_counter() - tic:.0f}s")
    return gt_path, res_path


def run_measured(cmd, env):
    """(wall s, CPU s, peak RSS MiB, last stdout line as json, in-process stage seconds) of
    ``cmd``'s whole process. Both commands log their stage times to stderr as one line
    ``... seconds: gt 0.1, results 1.2, ...``."""
    err_path = os.path.join(ROOT, "output", "bench_eval_cli", f"stderr_{os.getpid()}.txt")
    wall, cpu, peak, out = process.run_measured(cmd, env, err_path)
    with open(err_path) as f:
        line = next((ln for ln in f if "seconds: " in ln), None)
    if line is None:
        raise RuntimeError(f"{' '.join(cmd)}: no stage times on stderr ({err_path})")
    stages = {k: float(v) for k, v in (item.split() for item in
                                        line.split("seconds: ", 1)[1].split(", "))}
    return wall, cpu, peak, out, stages


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_eval.add_set_arguments(p, preds=50)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--official-src", help="directory with the official ytvos.py / ytvoseval.py "
                   "(default: output/official_ytvis/src, else download)")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "output", "bench_eval_cli"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "eval_cli.md"))
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args(argv)

    gt_path, res_path = write_set(args)
    runner = bench_eval_official.prepare(src=args.official_src)
    env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    cmds = {
        "ours": [sys.executable, "-m", "masktrack_d2.evaluation.ytvis_eval", "--gt", gt_path,
                 "--results", res_path, "--json", "--verbose"],
        "official": [sys.executable, runner, gt_path, res_path],
    }
    size_mb = os.path.getsize(res_path) / 1e6
    print(f"results.json {size_mb:.0f} MB")
    load0 = os.getloadavg()[0]
    walls = {k: [] for k in cmds}
    cpus = {k: [] for k in cmds}
    stages = {k: [] for k in cmds}
    rss = {k: 0.0 for k in cmds}
    stats = {}
    for r in range(args.rounds):
        order = list(cmds) if r % 2 == 0 else list(cmds)[::-1]  # alternate who goes first
        for name in order:
            wall, cpu, peak, s, st = run_measured(cmds[name], env)
            stages[name].append(st)
            walls[name].append(wall)
            cpus[name].append(cpu)
            rss[name] = max(rss[name], peak)
            stats[name] = s
        print(f"round {r + 1}: ours {walls['ours'][-1]:.2f}s ({cpus['ours'][-1]:.2f}s CPU), "
              f"official {walls['official'][-1]:.2f}s ({cpus['official'][-1]:.2f}s CPU)",
              flush=True)
        identical = all(stats["ours"][k] == stats["official"][k] for k in STAT_KEYS)
        med = {k: statistics.median(v) for k, v in walls.items()}
        ratio = med["official"] / med["ours"]
        if not args.no_report:  # after every round: an interrupted run leaves a report
            write_report(args, size_mb, walls, cpus, stages, med, ratio, rss, stats["ours"],
                         identical, (load0, os.getloadavg()[0]), r + 1)
    print(f"median wall: ours {med['ours']:.2f}s, official {med['official']:.2f}s -> "
          f"{ratio:.1f}x; peak RSS ours {rss['ours']:.0f} MiB, official "
          f"{rss['official']:.0f} MiB; 11 numbers identical: {identical}")
    return 0 if identical else 1


def write_report(args, size_mb, walls, cpus, stages, med, ratio, rss, stats, identical, load,
                 rounds):
    cmed = {k: statistics.median(v) for k, v in cpus.items()}
    names = list(stages["ours"][0])
    smed = {k: {n: statistics.median(r[n] for r in v) for n in names} for k, v in stages.items()}
    inproc = {k: statistics.median(sum(r.values()) for r in v) for k, v in stages.items()}
    lines = [
        "# YouTube-VIS metric CLI vs the official evaluator: whole process",
        "",
        "Generated by `benchmarks/bench_eval_cli.py`: what a user waits for, from typing the "
        "command to its exit (interpreter start, imports, json parsing, scoring, printing). "
        "Both sides are fresh processes of the same interpreter, run in turns (who goes first "
        "alternates), "
        f"{rounds} rounds; the ratio is of the medians. Peak RSS is the child's own "
        "`ru_maxrss` (`os.wait4`), the largest over the rounds.",
        "",
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores "
        f"(load average {load[0]:.1f} at the start, {load[1]:.1f} at the end), python "
        f"{platform.python_version()}, numpy {np.__version__}.",
        "",
        f"Data (`bench_eval.generate`, `--seed {args.seed}`): {args.videos} videos x "
        f"{args.frames} frames at {args.height}x{args.width}, "
        f"{args.preds * 2 // 3}-{args.preds * 4 // 3} result tracks per video (mean "
        f"{args.preds}), compressed RLE; results.json {size_mb:.0f} MB.",
        "",
        "| command | wall s, median | wall s, best | all rounds (wall) | CPU s, median | "
        "peak RSS MiB |",
        "|---|---|---|---|---|---|",
        f"| official: `run_official.py gt.json results.json` (youtubevos/cocoapi) | "
        f"{med['official']:.2f} | {min(walls['official']):.2f} | "
        f"{', '.join(f'{w:.2f}' for w in walls['official'])} | {cmed['official']:.2f} | "
        f"{rss['official']:.0f} |",
        f"| ours: `python -m masktrack_d2.evaluation.ytvis_eval --gt gt.json --results "
        f"results.json --json` (plus `--verbose`, which logs its stage times) | {med['ours']:.2f} | {min(walls['ours']):.2f} | "
        f"{', '.join(f'{w:.2f}' for w in walls['ours'])} | {cmed['ours']:.2f} | "
        f"{rss['ours']:.0f} |",
        "",
        f"**Whole process: {ratio:.1f}x faster** than the official evaluator in wall time "
        f"(median {med['official']:.2f} s / {med['ours']:.2f} s), "
        f"{cmed['official'] / cmed['ours']:.1f}x in CPU time (user + system, median "
        f"{cmed['official']:.2f} s / {cmed['ours']:.2f} s); peak RSS {rss['ours']:.0f} MiB "
        f"against {rss['official']:.0f} MiB.",
        "",
        "**In-process figures** (labelled as such: what each command spends after its "
        "imports, from its own stage timers; interpreter start, imports and exit excluded), "
        "medians:",
        "",
        "| stage | official s | ours s |",
        "|---|---|---|",
        *(f"| {n} | {smed['official'][n]:.2f} | {smed['ours'][n]:.2f} |" for n in names),
        f"| **total in-process** | {inproc['official']:.2f} | {inproc['ours']:.2f} |",
        "",
        f"In-process: {inproc['official'] / inproc['ours']:.1f}x. Stages: `gt` reads and "
        "indexes the annotation json; `results` reads the results json and (ours) checks every "
        "field and RLE string; `evaluate` is the video IoU and the matching; `accumulate` "
        "includes the summary.",
        "",
        f"The 11 numbers: **{'identical' if identical else 'NOT identical'}**:",
        "",
        "| " + " | ".join(STAT_KEYS) + " |",
        "|" + "---|" * len(STAT_KEYS),
        "| " + " | ".join(f"{stats[k]:.4f}" for k in STAT_KEYS) + " |",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
