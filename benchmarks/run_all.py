"""Run every benchmark and collect their numbers in benchmarks/results/summary.md.

    .venv/bin/python benchmarks/run_all.py             # default settings, ~15-20 min on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick     # smoke run of each, ~5 min
    .venv/bin/python benchmarks/run_all.py --summary-only   # re-collect the existing results

Each benchmark runs as its own process (``--device`` and ``--quick`` passed on) and writes
benchmarks/results/<name>.md/.json/.png. The metric benchmark (benchmarks/bench_eval.py, owned
by its own author) is run with small settings writing to output/bench/eval_quick.md - a check
that it still runs; its full-scale result, benchmarks/results/eval.md, is left alone and
summarised as it is. With ``--quick`` the results go to output/bench/quick/ unless
``--out-dir`` is given, so a smoke run never overwrites the committed numbers.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from benchlib.env import CACHE_DIR, RESULTS_DIR, ROOT, default_device  # noqa: E402
from benchlib.report import md_table  # noqa: E402

BENCHES = ["bench_tracking_overhead", "bench_video_memory", "bench_train_step",
           "bench_data_loader"]


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, cwd=ROOT)
    dt = time.perf_counter() - t0
    print(f"-> exit {rc} in {dt:.0f}s", flush=True)
    return rc, dt


def load(out_dir, name, device):
    path = os.path.join(out_dir, name + ("" if device == "cpu" else f"_{device}") + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def eval_summary(path):
    """Rows of bench_eval's markdown as (section, row cells, identical?) - its format is its
    author's, so it is parsed loosely: "## " headings, table rows starting with "| loop" or
    "| vector", and the "**identical**" verdict of each section."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    out = []
    for sec in re.split(r"^## ", text, flags=re.M)[1:] or [text]:
        title = sec.splitlines()[0].strip()
        same = re.search(r"\*\*(identical|different)\*\*", sec)
        for ln in sec.splitlines():
            if ln.startswith("| loop") or ln.startswith("| vector"):
                cells = [c.strip() for c in ln.strip().strip("|").split("|")]
                out.append((title, cells, same.group(1) if same else "?"))
    return out


def summary(out_dir, device):
    rows = []
    t = load(out_dir, "tracking_overhead", device)
    if t:
        for r in t["runs"]:
            for k, what in (("mt_all", "all detections kept (goal judged)"),
                            ("mt", "tracker's own output")):
                x = r["ratio_" + k]["plain"]
                xr = r["ratio_" + k]["plain_rle"]
                rows.append([
                    f"1. tracking overhead, {r['budget']} dets/frame, {what}",
                    f"{r['ms'][k]:.0f} ms vs {r['ms']['plain']:.0f} ms",
                    f"{x['paired']:.3f} (wall {x['wall']:.3f}, CPU {x['cpu']:.3f}); "
                    f"vs plain+RLE {xr['paired']:.3f}",
                    "<= 1.05", ("yes" if x["paired"] <= 1.05 else "no") if k == "mt_all" else "-"])
    m = load(out_dir, "video_memory", device)
    if m:
        for variant, x in m["variants"].items():
            last = {k: v[-1] for k, v in m["runs"][variant].items()}
            rows.append([
                f"2. peak RSS, {last['long']['frames']} vs {last['short']['frames']} frames "
                f"720p ({variant})",
                f"{x['peak']['long']:.0f} MB vs {x['peak']['short']:.0f} MB "
                f"({last['long']['tracks']} tracks, {last['long']['rle_bytes'] / 2 ** 20:.2f} MB "
                "RLE)",
                f"{x['ratio']:.3f}", "<= 1.2", "yes" if x["ratio"] <= 1.2 else "no"])
    s = load(out_dir, "train_step", device)
    if s:
        ti = s["timing"]
        mem = s.get("memory") or {}
        rows.append([
            "3. training step, pair vs single frame (time)",
            f"{ti['masktrack']['total']:.2f} s vs {ti['plain']['total']:.2f} s",
            f"{ti['ratio']:.3f} (CPU {ti['ratio_cpu']:.3f})", "- (expected ~1.5-2)", "-"])
        if mem:
            rows.append([
                "3. training step, pair vs single frame (peak RSS)",
                f"{mem['masktrack']['peak_rss_mb']:.0f} MB vs {mem['plain']['peak_rss_mb']:.0f} MB",
                f"{s['peak_rss_ratio']:.3f}", "-", "-"])
    d = load(out_dir, "data_loader", device)
    if d:
        r = d["results"]
        rows.append([
            f"4. loader / model pairs/s ({r['workers']} workers)",
            f"{r['loader_pairs_per_s']:.1f} vs {r['model_pairs_per_s']:.3f} pairs/s "
            f"(together: data wait {100 * r['together_wait_fraction']:.1f}% of the time)",
            f"{r['ratio']:.0f}", "> 1", "yes" if r["ratio"] > 1 else "no"])
    for title, cells, same in eval_summary(os.path.join(RESULTS_DIR, "eval.md")):
        rows.append([f"5. metric ({title}): {cells[0]}", f"{cells[2]} CPU s",
                     f"speed-up {cells[-2]}", "-", f"11 numbers {same}"])
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", choices=["cpu", "cuda"], default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", default=None)
    p.add_argument("--only", default="", help="comma list of benchmark names to run")
    p.add_argument("--summary-only", action="store_true")
    p.add_argument("--skip-eval", action="store_true")
    args = p.parse_args(argv)
    if args.device is None:
        args.device = default_device()
    if args.out_dir is None:
        args.out_dir = (os.path.join(CACHE_DIR, "quick") if args.quick
                        else RESULTS_DIR)
    os.makedirs(args.out_dir, exist_ok=True)

    failed, times = [], {}
    if not args.summary_only:
        only = [b.strip() for b in args.only.split(",") if b.strip()]
        for b in BENCHES:
            if only and b not in only:
                continue
            cmd = [sys.executable, os.path.join(HERE, b + ".py"), "--device", args.device,
                   "--out-dir", args.out_dir] + (["--quick"] if args.quick else [])
            rc, times[b] = run(cmd)
            if rc:
                failed.append(b)
        if not args.skip_eval and (not only or "bench_eval" in only):
            eval_out = os.path.join(CACHE_DIR, "eval_quick.md")
            rc, times["bench_eval"] = run([
                sys.executable, os.path.join(HERE, "bench_eval.py"), "--videos", "10",
                "--probe-videos", "5", "--device", args.device, "--out", eval_out])
            if rc:
                failed.append("bench_eval")

    rows = summary(args.out_dir, args.device)
    lines = [
        "# Benchmark summary",
        "",
        f"Collected by `benchmarks/run_all.py` from the results in `{os.path.relpath(args.out_dir, ROOT)}` "
        f"(device {args.device}); each row links to its benchmark's own report for how it was "
        "measured. Item 5 is summarised from `benchmarks/results/eval.md` (bench_eval.py).",
        "",
        md_table(["measurement", "values", "ratio", "goal", "met"], rows),
    ]
    if times:
        lines += ["", "Run times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())]
    path = os.path.join(args.out_dir, "summary" + ("" if args.device == "cpu" else
                                                   f"_{args.device}") + ".md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[4:]))
    print(f"wrote {os.path.relpath(path, ROOT)}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
