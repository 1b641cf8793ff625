"""Benchmark: the metric CLI against the official evaluator, whole process, as a user runs them.

Writes YouTube-VIS-2019-valid-sized sets as json files (default: 300 videos x 36 frames at
720x1280, about 50 result tracks per video, compressed RLE; the generator of
``bench_eval.py``) under ``output/bench_eval_cli/``, two kinds by default (``--sets``):

- ``classes``: 2-5 GT tracks per video of one or two classes, the result tracks labelled
  mostly with the video's classes (the generator's default): many (result, GT) pairs share
  a class, the official evaluator's per-pair loop has much to do;
- ``spread``: 2 GT tracks per video, the result tracks' labels spread over 40 classes
  (``--gt-tracks 2 --pred-categories 40``): few pairs share a class, the official evaluator
  is fast and json parsing dominates every side.

Then it runs, in turns for ``--rounds`` rounds (the order rotates every round; the sets
alternate within a round):

- official: youtubevos/cocoapi's ``ytvos.py`` + ``ytvoseval.py`` (patched for today's Python
  and NumPy only; see ``bench_eval_official.py``) run the way its README does;
- ours: ``python -m masktrack_d2.evaluation.ytvis_eval --gt gt.json --results results.json
  --json``;
- ours without the C extension: the same with ``MASKTRACK_D2_RLE_CORE=0`` (what an install
  without a C compiler runs: the RLE check in numpy, the IoU on pycocotools);
- floor: ``python -c`` that imports orjson and parses the results file, nothing else;
- floor, gc paused: the same with the cyclic garbage collector disabled first, as our CLI
  parses (``gc_paused``): the collector's passes over the growing parsed tree are about half
  of the plain parse's time. What no evaluator reading this json in Python can go below.

Each is a fresh process of the same interpreter; the wall time is the time from start to
exit, the peak RSS comes from ``os.wait4``. The three evaluators print the 11 numbers, which
must be identical. The report (per set: median and best per command, the ratios of the
medians, peak RSS) goes to ``benchmarks/results/eval_cli.md`` (raw numbers: ``.json``).

    .venv/bin/python benchmarks/bench_eval_cli.py                       # full scale
    .venv/bin/python benchmarks/bench_eval_cli.py --videos 20 --rounds 2  # quick look
"""
import argparse
import copy
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
from benchlib.report import cpu_name  # noqa: E402
from masktrack_d2.evaluation.ytvis_eval import STAT_KEYS  # noqa: E402

#: the kinds of set: generator options over the command line's
SETS = {
    "classes": {"gt_tracks": (2, 5), "pred_categories": None},
    "spread": {"gt_tracks": (2, 2), "pred_categories": 40},
}
#: what runs, in the report's order
COMMANDS = ("official", "ours", "ours_noext", "floor", "floor_nogc")
EVALUATORS = ("official", "ours", "ours_noext")  # print the 11 numbers and stage times
LABELS = {
    "official": "official: `run_official.py gt.json results.json` (youtubevos/cocoapi)",
    "ours": "ours: `python -m masktrack_d2.evaluation.ytvis_eval --gt gt.json --results "
            "results.json --json` (plus `--verbose`, which logs its stage times)",
    "ours_noext": "ours without the C extension: the same with `MASKTRACK_D2_RLE_CORE=0` "
                  "(an install without a C compiler)",
    "floor": "floor: `python -c` importing orjson and parsing results.json, nothing else",
    "floor_nogc": "floor, gc paused: the same after `gc.disable()` (as ours parses)",
}
SHORT = {"official": "official", "ours": "ours", "ours_noext": "ours, no C ext.",
         "floor": "floor", "floor_nogc": "floor, gc paused"}
FLOOR_CODE = ("import sys, orjson\n"
              "with open(sys.argv[1], 'rb') as f:\n"
              "    orjson.loads(f.read())\n"
              "print('{}')")  # the one json line run_measured reads
FLOOR_NOGC_CODE = "import gc\ngc.disable()\n" + FLOOR_CODE


def write_set(args):
    """Generate the set once (cached by its parameters); returns (gt path, results path)."""
    d = os.path.join(args.data_dir, bench_eval.set_tag(args))
    gt_path, res_path = os.path.join(d, "gt.json"), os.path.join(d, "results.json")
    if not (os.path.exists(gt_path) and os.path.exists(res_path)):
        os.makedirs(d, exist_ok=True)
        tic = time.perf_counter()
        gt, results = bench_eval.generate(args.videos, args.frames, args.height, args.width,
                                          args.preds, args.seed,
                                          gt_tracks=tuple(args.gt_tracks),
                                          pred_categories=args.pred_categories)
        for path, obj in ((gt_path, gt), (res_path, results)):
            with open(path + ".tmp", "w") as f:
                json.dump(obj, f)
            os.replace(path + ".tmp", path)
        print(f"generated {d} in {time.perf_counter() - tic:.0f}s")
    return gt_path, res_path


def set_facts(gt_path, res_path):
    """Counts that describe a set: GT tracks, result tracks, and how many (result, GT) pairs
    share a class (the official evaluator's per-pair work)."""
    with open(gt_path) as f:
        gt = json.load(f)
    with open(res_path) as f:
        results = json.load(f)
    gt_per = {}
    for a in gt["annotations"]:
        key = (a["video_id"], a["category_id"])
        gt_per[key] = gt_per.get(key, 0) + 1
    pairs = sum(gt_per.get((r["video_id"], r["category_id"]), 0) for r in results)
    classes = {}
    for r in results:
        classes.setdefault(r["video_id"], set()).add(r["category_id"])
    return {"gt_tracks": len(gt["annotations"]), "result_tracks": len(results),
            "same_class_pairs": pairs,
            "result_classes_per_video": statistics.mean(len(c) for c in classes.values()),
            "results_mb": os.path.getsize(res_path) / 1e6}


def run_measured(cmd, env, stages=True):
    """(wall s, CPU s, peak RSS MiB, last stdout line as json, in-process stage seconds) of
    ``cmd``'s whole process. The evaluators log their stage times to stderr as one line
    ``... seconds: gt 0.1, results 1.2, ...``; ``stages=False`` for the floor."""
    err_path = os.path.join(ROOT, "output", "bench_eval_cli", f"stderr_{os.getpid()}.txt")
    wall, cpu, peak, out = process.run_measured(cmd, env, err_path)
    if not stages:
        return wall, cpu, peak, out, None
    with open(err_path) as f:
        line = next((ln for ln in f if "seconds: " in ln), None)
    if line is None:
        raise RuntimeError(f"{' '.join(cmd)}: no stage times on stderr ({err_path})")
    st = {k: float(v) for k, v in (item.split() for item in
                                    line.split("seconds: ", 1)[1].split(", "))}
    return wall, cpu, peak, out, st


class SetRun:
    """One kind of set: its commands and what they measured so far."""

    def __init__(self, name, args, runner):
        self.name, self.args = name, args
        self.gt_path, self.res_path = write_set(args)
        self.facts = set_facts(self.gt_path, self.res_path)
        env = dict(os.environ, PYTHONPATH=ROOT, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
        env.pop("MASKTRACK_D2_RLE_CORE", None)
        ours = [sys.executable, "-m", "masktrack_d2.evaluation.ytvis_eval", "--gt",
                self.gt_path, "--results", self.res_path, "--json", "--verbose"]
        self.cmds = {
            "official": ([sys.executable, runner, self.gt_path, self.res_path], env),
            "ours": (ours, env),
            "ours_noext": (ours, dict(env, MASKTRACK_D2_RLE_CORE="0")),
            "floor": ([sys.executable, "-c", FLOOR_CODE, self.res_path], env),
            "floor_nogc": ([sys.executable, "-c", FLOOR_NOGC_CODE, self.res_path], env),
        }
        self.walls = {k: [] for k in COMMANDS}
        self.cpus = {k: [] for k in COMMANDS}
        self.stages = {k: [] for k in EVALUATORS}
        self.rss = {k: 0.0 for k in COMMANDS}
        self.stats = {}
        print(f"set {name}: results.json {self.facts['results_mb']:.0f} MB, "
              f"{self.facts['gt_tracks']} GT tracks, {self.facts['result_tracks']} result "
              f"tracks, {self.facts['same_class_pairs']} same-class (result, GT) pairs",
              flush=True)

    def round(self, r):
        order = list(COMMANDS[r % len(COMMANDS):] + COMMANDS[:r % len(COMMANDS)])
        for name in order:
            cmd, env = self.cmds[name]
            wall, cpu, peak, s, st = run_measured(cmd, env, stages=name in EVALUATORS)
            self.walls[name].append(wall)
            self.cpus[name].append(cpu)
            self.rss[name] = max(self.rss[name], peak)
            if name in EVALUATORS:
                self.stages[name].append(st)
                self.stats[name] = {k: s[k] for k in STAT_KEYS}
        print(f"round {r + 1} {self.name}: " + ", ".join(
            f"{n} {self.walls[n][-1]:.2f}s ({self.cpus[n][-1]:.2f}s CPU)" for n in COMMANDS),
            flush=True)

    def summary(self):
        med = {k: statistics.median(v) for k, v in self.walls.items()}
        cmed = {k: statistics.median(v) for k, v in self.cpus.items()}
        identical = all(self.stats[n] == self.stats["official"] for n in EVALUATORS)
        return med, cmed, identical


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_eval.add_set_arguments(p, preds=50)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS) + ["custom"],
                   help="kinds of set (default: all); 'custom' takes --gt-tracks and "
                   "--pred-categories from the command line, the others set them")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--official-src", help="directory with the official ytvos.py / ytvoseval.py "
                   "(default: output/official_ytvis/src, else download)")
    p.add_argument("--data-dir", default=os.path.join(ROOT, "output", "bench_eval_cli"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "eval_cli.md"))
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args(argv)

    runner = bench_eval_official.prepare(src=args.official_src)
    runs = []
    for name in args.sets:
        set_args = copy.copy(args)
        for k, v in SETS.get(name, {}).items():
            setattr(set_args, k, v)
        runs.append(SetRun(name, set_args, runner))
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    for r in range(args.rounds):
        for run in (runs if r % 2 == 0 else runs[::-1]):  # sets alternate too
            run.round(r)
        if not args.no_report:  # after every round: an interrupted run leaves a report
            write_report(args, runs, (load0, os.getloadavg()[0]), r + 1,
                         time.perf_counter() - t0)
    ok = True
    for run in runs:
        med, _, identical = run.summary()
        ok &= identical
        print(f"{run.name}: median wall ours {med['ours']:.2f}s, without the C extension "
              f"{med['ours_noext']:.2f}s, official {med['official']:.2f}s, floor "
              f"{med['floor']:.2f}s, gc paused {med['floor_nogc']:.2f}s -> official/ours "
              f"{med['official'] / med['ours']:.1f}x, ours/floor "
              f"{med['ours'] / med['floor']:.2f}x ({med['ours'] / med['floor_nogc']:.2f}x "
              f"gc paused); peak RSS ours "
              f"{run.rss['ours']:.0f} MiB, official {run.rss['official']:.0f} MiB; 11 numbers "
              f"identical: {identical}")
    return 0 if ok else 1


def _set_title(run):
    if run.name == "classes":
        what = "results mostly of the video's classes"
    elif run.name == "spread":
        what = "results spread over 40 classes"
    else:
        what = "custom"
    return f"Set `{run.name}`: {what}"


def _set_section(run):
    a, f = run.args, run.facts
    med, cmed, identical = run.summary()
    stages = run.stages
    names = list(stages["ours"][0])
    smed = {k: {n: statistics.median(r[n] for r in v) for n in names} for k, v in stages.items()}
    inproc = {k: statistics.median(sum(r.values()) for r in v) for k, v in stages.items()}
    opts = ""
    if tuple(a.gt_tracks) != (2, 5) or a.pred_categories is not None:
        lo, hi = a.gt_tracks
        opts = f" --gt-tracks {lo}" + (f"-{hi}" if hi != lo else "")
        if a.pred_categories is not None:
            opts += f" --pred-categories {a.pred_categories}"
    rows = [
        f"| {LABELS[n]} | {med[n]:.2f} | {min(run.walls[n]):.2f} | "
        f"{', '.join(f'{w:.2f}' for w in run.walls[n])} | {cmed[n]:.2f} | {run.rss[n]:.0f} |"
        for n in COMMANDS]
    lines = [
        f"## {_set_title(run)}",
        "",
        f"Data (`bench_eval.generate`, `--seed {a.seed}{opts}`): {a.videos} videos x "
        f"{a.frames} frames at {a.height}x{a.width}, "
        f"{a.preds * 2 // 3}-{a.preds * 4 // 3} result tracks per video (mean {a.preds}); "
        f"{bench_eval.set_description(a)}. {f['gt_tracks']} GT tracks, {f['result_tracks']} "
        f"result tracks with {f['result_classes_per_video']:.1f} classes per video, "
        f"{f['same_class_pairs']} (result, GT) pairs of the same class and video; compressed "
        f"RLE; results.json {f['results_mb']:.0f} MB.",
        "",
        "| command | wall s, median | wall s, best | all rounds (wall) | CPU s, median | "
        "peak RSS MiB |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"**Whole process: {med['official'] / med['ours']:.1f}x faster** than the official "
        f"evaluator in wall time (median {med['official']:.2f} s / {med['ours']:.2f} s; best "
        f"{min(run.walls['official']):.2f} / {min(run.walls['ours']):.2f} s), "
        f"{cmed['official'] / cmed['ours']:.1f}x in CPU time (user + system, median "
        f"{cmed['official']:.2f} s / {cmed['ours']:.2f} s); peak RSS {run.rss['ours']:.0f} MiB "
        f"against {run.rss['official']:.0f} MiB.",
        "",
        f"**Floor** (starting Python and parsing results.json with orjson): "
        f"{med['floor']:.2f} s median, {med['floor_nogc']:.2f} s with the garbage collector "
        f"paused (as ours parses). Ours takes {med['ours'] / med['floor']:.2f}x the plain "
        f"floor and **{med['ours'] / med['floor_nogc']:.2f}x the gc-paused floor**, the "
        f"official evaluator {med['official'] / med['floor_nogc']:.1f}x the latter. What a "
        f"faster metric could still gain on this set: at most "
        f"{med['ours'] - med['floor_nogc']:.2f} s of our {med['ours']:.2f} s; no evaluator "
        f"that reads this json in Python could be more than "
        f"{med['official'] / med['floor_nogc']:.1f}x faster than the official one "
        f"({med['official'] / med['floor']:.1f}x against the plain floor).",
        "",
        f"**Without the C extension** (`MASKTRACK_D2_RLE_CORE=0`): {med['ours_noext']:.2f} s, "
        + (f"{med['official'] / med['ours_noext']:.1f}x faster than the official evaluator, "
           if med['ours_noext'] < med['official'] else
           f"**{med['ours_noext'] / med['official']:.2f}x the official evaluator's time** "
           "(slower), ") +
        f"{med['ours_noext'] / med['ours']:.2f}x the time with it, "
        f"{med['ours_noext'] / med['floor_nogc']:.2f}x the gc-paused floor; peak RSS "
        f"{run.rss['ours_noext']:.0f} MiB.",
        "",
        "In-process figures (labelled as such: what each command spends after its imports, "
        "from its own stage timers; interpreter start, imports and exit excluded), medians:",
        "",
        "| stage | official s | ours s | ours, no C extension s |",
        "|---|---|---|---|",
        *(f"| {n} | {smed['official'][n]:.2f} | {smed['ours'][n]:.2f} | "
          f"{smed['ours_noext'][n]:.2f} |" for n in names),
        f"| **total in-process** | {inproc['official']:.2f} | {inproc['ours']:.2f} | "
        f"{inproc['ours_noext']:.2f} |",
        "",
        f"In-process: {inproc['official'] / inproc['ours']:.1f}x "
        f"({inproc['official'] / inproc['ours_noext']:.1f}x without the C extension).",
        "",
        f"The 11 numbers of the three evaluators (official, ours, ours without the C "
        f"extension): **{'identical' if identical else 'NOT identical'}**:",
        "",
        "| command | " + " | ".join(STAT_KEYS) + " |",
        "|---|" + "---|" * len(STAT_KEYS),
        *(f"| {SHORT[n]} | " + " | ".join(f"{run.stats[n][k]:.4f}" for k in STAT_KEYS) + " |"
          for n in EVALUATORS),
        "",
    ]
    return lines


def write_report(args, runs, load, rounds, elapsed):
    lines = [
        "# YouTube-VIS metric CLI vs the official evaluator: whole process",
        "",
        "Generated by `benchmarks/bench_eval_cli.py`: what a user waits for, from typing the "
        "command to its exit (interpreter start, imports, json parsing, scoring, printing). "
        "Every command is a fresh process of the same interpreter; the five commands run in "
        f"turns, the order rotating every round, the two sets alternating within a round; "
        f"{rounds} rounds; ratios are of the medians. Peak RSS is the child's own "
        "`ru_maxrss` (`os.wait4`), the largest over the rounds. The floor is a process that "
        "starts Python, imports orjson and parses results.json, nothing else: every "
        "evaluator that reads the file in Python pays it (ours parses with orjson too); "
        "measured plain and with the cyclic garbage collector paused first (`gc.disable()`), "
        "as our CLI parses: the lower one is the floor for ours.",
        "",
        f"{datetime.date.today().isoformat()}, {cpu_name()}, {platform.machine()}, "
        f"{os.cpu_count()} cores (load average {load[0]:.1f} at the start, {load[1]:.1f} at "
        f"the end; {elapsed / 60:.0f} min), python {platform.python_version()}, numpy "
        f"{np.__version__}.",
        "",
    ]
    summary = ["| set | official s | ours s | ours, no C ext. s | floor s (gc paused) | "
               "official / ours | ours / floor (gc paused) | official / ours, no C ext. | "
               "11 numbers |",
               "|---|---|---|---|---|---|---|---|---|"]
    data = {"rounds": rounds, "load": load, "date": datetime.date.today().isoformat(),
            "cpu": cpu_name(), "python": platform.python_version(), "numpy": np.__version__,
            "sets": {}}
    for run in runs:
        med, cmed, identical = run.summary()
        summary.append(
            f"| `{run.name}` ({run.facts['results_mb']:.0f} MB) | {med['official']:.2f} | "
            f"{med['ours']:.2f} | {med['ours_noext']:.2f} | {med['floor']:.2f} "
            f"({med['floor_nogc']:.2f}) | **{med['official'] / med['ours']:.1f}x** | "
            f"{med['ours'] / med['floor']:.2f}x ({med['ours'] / med['floor_nogc']:.2f}x) | "
            f"{med['official'] / med['ours_noext']:.1f}x | "
            f"{'identical' if identical else 'NOT identical'} |")
        data["sets"][run.name] = {
            "generator": {"videos": run.args.videos, "frames": run.args.frames,
                          "height": run.args.height, "width": run.args.width,
                          "preds": run.args.preds, "seed": run.args.seed,
                          "gt_tracks": list(run.args.gt_tracks),
                          "pred_categories": run.args.pred_categories},
            "facts": run.facts, "wall_s": run.walls, "cpu_s": run.cpus,
            "peak_rss_mib": run.rss, "stages_s": run.stages, "stats": run.stats,
            "identical": identical}
    lines += ["Medians of the whole-process wall time:", "", *summary, ""]
    for run in runs:
        lines += _set_section(run)
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
