"""Benchmark: the evaluation report against the metric CLI, whole process, as a user runs them.

On a YouTube-VIS-2019-valid-sized set (default: 300 videos x 36 frames at 720x1280, about 50
result tracks per video; the ``classes`` set of ``bench_eval_cli.py``, generated once under
``output/bench_eval_cli/``) it runs, in turns for ``--rounds`` rounds (the order rotating):

- metric: ``python -m masktrack_d2.evaluation.ytvis_eval --gt G --results R --json`` (AP);
- metric + track: the same with ``--track-metrics`` (AP and the association metrics: what the
  report's numbers include besides the error analysis);
- report: ``python -m masktrack_d2.evaluation.report --gt G --results R --out DIR --json``
  (no ``--image-root``, so no frame strips; thumbnails of every video are drawn).

Every command is a fresh process; wall time from start to exit, peak RSS from ``os.wait4``.
The report's AP must equal the metric's. Results: ``benchmarks/results/report.md`` (+ .json).

    .venv/bin/python benchmarks/bench_report.py                        # full scale
    .venv/bin/python benchmarks/bench_report.py --videos 20 --rounds 2   # quick look
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, ROOT)

import bench_eval  # noqa: E402
import bench_eval_cli  # noqa: E402
from benchlib import process  # noqa: E402
from benchlib.report import cpu_name, md_table  # noqa: E402

COMMANDS = ("metric", "metric_track", "report")
LABELS = {"metric": "metric CLI (AP)", "metric_track": "metric CLI, `--track-metrics`",
          "report": "report (no frame strips)"}


def commands(gt, res, out_dir):
    py = [sys.executable, "-m"]
    metric = py + ["masktrack_d2.evaluation.ytvis_eval", "--gt", gt, "--results", res, "--json"]
    return {"metric": metric, "metric_track": metric + ["--track-metrics"],
            "report": py + ["masktrack_d2.evaluation.report", "--gt", gt, "--results", res,
                            "--out", out_dir, "--json", "--verbose"]}


def stage_times(err_path):
    """The report's logged stage seconds (``--verbose``)."""
    out = {}
    with open(err_path) as f:
        for line in f:
            for key, tag in (("numbers", "report numbers: "), ("files", "report files: ")):
                if tag in line:
                    out[key] = float(line.split(tag, 1)[1].rstrip().rstrip("s"))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_eval.add_set_arguments(p, preds=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--data-dir", default=os.path.join(ROOT, "output", "bench_eval_cli"))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "report.md"))
    args = p.parse_args(argv)
    for k, v in bench_eval_cli.SETS["classes"].items():
        setattr(args, k, v)
    gt, res = bench_eval_cli.write_set(args)
    facts = bench_eval_cli.set_facts(gt, res)
    work = os.path.join(ROOT, "output", "bench_report")
    cmds = commands(gt, res, os.path.join(work, "report"))
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONWARNINGS="ignore")
    walls = {k: [] for k in COMMANDS}
    cpus = {k: [] for k in COMMANDS}
    rss = {k: 0.0 for k in COMMANDS}
    stages, outs = [], {}
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    for r in range(args.rounds):
        for name in COMMANDS[r % 3:] + COMMANDS[:r % 3]:
            if name == "report":
                shutil.rmtree(os.path.join(work, "report"), ignore_errors=True)
            err = os.path.join(work, f"stderr_{name}.txt")
            wall, cpu, peak, out = process.run_measured(cmds[name], env, err)
            walls[name].append(wall)
            cpus[name].append(cpu)
            rss[name] = max(rss[name], peak)
            outs[name] = out
            if name == "report":
                stages.append(stage_times(err))
        print(f"round {r + 1}: " + ", ".join(f"{n} {walls[n][-1]:.2f}s" for n in COMMANDS),
              flush=True)
    same_ap = outs["report"]["AP"] == outs["metric"]["AP"] == outs["metric_track"]["AP"]
    same_hota = outs["report"]["HOTA"] == outs["metric_track"]["track"]["HOTA"]
    med = {k: statistics.median(v) for k, v in walls.items()}
    write(args, facts, walls, cpus, rss, stages, med, same_ap and same_hota,
          (load0, os.getloadavg()[0]), time.perf_counter() - t0)
    print(f"report / metric: {med['report'] / med['metric']:.2f}x, report / metric with track "
          f"metrics: {med['report'] / med['metric_track']:.2f}x; same AP and HOTA: "
          f"{same_ap and same_hota}")
    return 0 if same_ap and same_hota else 1


def write(args, facts, walls, cpus, rss, stages, med, same, load, elapsed):
    rows = [[LABELS[k], f"{med[k]:.2f}", ", ".join(f"{w:.2f}" for w in walls[k]),
             f"{statistics.median(cpus[k]):.2f}", f"{rss[k]:.0f}",
             f"{med['report'] / med[k]:.2f}x"] for k in COMMANDS]
    st = {k: statistics.median(s[k] for s in stages) for k in stages[0]} if stages else {}
    lines = [
        "# Evaluation report against the metric CLI (whole process)",
        "",
        f"Generated by `benchmarks/bench_report.py`, {datetime.date.today().isoformat()}, "
        f"{cpu_name()}, {platform.machine()}, {os.cpu_count()} cores (load average "
        f"{load[0]:.1f} at the start, {load[1]:.1f} at the end; {elapsed / 60:.0f} min), python "
        f"{platform.python_version()}; {args.rounds} rounds, order rotating.",
        "",
        f"Set: {args.videos} videos x {args.frames} frames at {args.height}x{args.width}, "
        f"{facts['gt_tracks']} GT tracks, {facts['result_tracks']} result tracks "
        f"(results.json {facts['results_mb']:.0f} MB).",
        "",
        md_table(["command", "median wall s", "rounds (wall s)", "median CPU s",
                  "peak RSS MiB", "report / this"], rows),
        "",
        f"The report's stages (median, in-process): numbers {st.get('numbers', 0):.2f} s "
        f"(AP, association metrics, error analysis, AP over length), files "
        f"{st.get('files', 0):.2f} s (6 figures, {args.videos} thumbnails, the page).",
        "",
        f"AP and HOTA identical between the report and the metric CLI: {same}.",
    ]
    data = dict(date=datetime.date.today().isoformat(), set=facts, walls=walls, cpus=cpus,
                rss=rss, stages=stages, medians=med, same_numbers=same)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(data, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
