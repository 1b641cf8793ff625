"""Training start-up on a YouTube-VIS-2019-train-sized json vs Mask2Former's loader.

A json of YouTube-VIS 2019 train's shape (2,238 videos, 61,845 listed frames, 3,774 tracks,
uncompressed RLE, ~260 MB; no frames) is generated once under output/bench/
(``ytvis_json_gen.py``). Each measurement runs in its own fresh interpreter, which reports its
wall time for the measured part and its whole-process peak RSS (VmHWM, imports included):

* ``m2f``: Mask2Former's ``load_ytvis_json`` (mask2former_video/data_video/datasets/ytvis.py
  and its ytvis_api, at the commit below), from a scratch copy under output/bench/ that this
  script makes from a Mask2Former checkout (``--m2f-checkout``) or downloads;
* ``startup_cold``: the project's training start-up data path as train_net.py runs it,
  ``setup_cfg`` (which derives the epoch schedule from the data) then
  ``MaskTrackTrainer.build_train_loader``, with an empty records cache: the first start on a
  json, which converts it and writes the cache (checked: the cache directory is empty before,
  holds one file after);
* ``startup_warm``: the same with the cache the cold run left (checked: the file is there);
* ``startup_nocache``: the same with the cache turned off (MASKTRACK_D2_CACHE_DIR="").

The kinds alternate in rotating order over ``--rounds`` rounds; ratios are medians of the
per-round ratios to ``m2f``. Goal: start-up <= 0.5x Mask2Former's loader time and <= 0.5x its
peak RSS. Without network access, give ``--m2f-checkout`` a directory holding the three
files under their repository paths (e.g. ``git show COMMIT:PATH`` from a clone).

    .venv/bin/python benchmarks/bench_ytvis_loading.py              # ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_ytvis_loading.py --scale 0.1 --rounds 2   # smoke run
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ytvis_json_gen  # noqa: E402
from benchlib import env as benv  # noqa: E402
from benchlib import memory, report as breport  # noqa: E402
from benchlib.timing import median  # noqa: E402

NAME = "ytvis_loading"
GOAL = 0.5
M2F_COMMIT = "9b0651c6c1d5b3af2e6da0589b719c514ec0d69a"
M2F_FILES = {  # scratch copy path -> path in the Mask2Former repository
    "ytvis.py": "mask2former_video/data_video/datasets/ytvis.py",
    "ytvis_api/__init__.py": "mask2former_video/data_video/datasets/ytvis_api/__init__.py",
    "ytvis_api/ytvos.py": "mask2former_video/data_video/datasets/ytvis_api/ytvos.py",
}
KINDS = ["m2f", "startup_cold", "startup_warm", "startup_nocache"]


def m2f_package(args) -> str:
    """Directory holding the scratch package ``m2f_ytvis`` (made once)."""
    root = os.path.join(benv.CACHE_DIR, "m2f_baseline")
    pkg = os.path.join(root, "m2f_ytvis")
    if all(os.path.exists(os.path.join(pkg, f)) for f in M2F_FILES):
        return root
    os.makedirs(os.path.join(pkg, "ytvis_api"), exist_ok=True)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    for dst, src in M2F_FILES.items():
        if args.m2f_checkout:
            with open(os.path.join(args.m2f_checkout, src), "rb") as f:
                data = f.read()
        else:
            url = (f"https://raw.githubusercontent.com/facebookresearch/Mask2Former/"
                   f"{M2F_COMMIT}/{src}")
            with urllib.request.urlopen(url, timeout=60) as r:
                data = r.read()
        with open(os.path.join(pkg, dst), "wb") as f:
            f.write(data)
    return root


def make_json(scale: float) -> dict:
    path = os.path.join(benv.CACHE_DIR, f"ytvis2019_train_sized_scale{scale:g}.json")
    marker = path + ".info"
    if not os.path.exists(marker):
        info = ytvis_json_gen.generate(path, scale=scale, seed=0)
        with open(marker, "w") as f:
            json.dump(info, f)
    with open(marker) as f:
        return json.load(f)


# ------------------------------------------------------------------------------ children
def cache_files(cache_dir: str) -> dict:
    """{file name: bytes} of the records cache directory (empty if none)."""
    if not cache_dir or not os.path.isdir(cache_dir):
        return {}
    return {n: os.path.getsize(os.path.join(cache_dir, n)) for n in sorted(os.listdir(cache_dir))}


def child(kind: str, json_file: str, out_dir: str) -> dict:
    rss_start = memory.current_rss_mb()
    cache_dir = os.environ.get("MASKTRACK_D2_CACHE_DIR", "")
    cache_before = cache_files(cache_dir)
    if kind == "m2f":
        sys.path.insert(0, os.path.join(benv.CACHE_DIR, "m2f_baseline"))
        from m2f_ytvis.ytvis import load_ytvis_json

        rss_before = memory.current_rss_mb()
        t0 = time.perf_counter()
        records = load_ytvis_json(json_file, "frames", dataset_name="bench_m2f_ytvis")
        wall = time.perf_counter() - t0
        n = len(records)
    else:
        from masktrack_d2.data.datasets import register_ytvis_instances
        from masktrack_d2.engine import MaskTrackTrainer, setup_cfg

        register_ytvis_instances("bench_ytvis_train", {}, json_file, "frames", check_files="none")
        config = os.path.join(out_dir, "config.yaml")
        with open(config, "w") as f:
            f.write(f"_BASE_: {benv.BASE_CONFIG}\n")
        opts = ["DATASETS.TRAIN", "('bench_ytvis_train',)", "DATASETS.TEST", "()",
                "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", out_dir, "MODEL.DEVICE", "cpu"]
        cli = argparse.Namespace(config_file=config, opts=opts, eval_only=False, resume=False,
                                 num_gpus=1, machine_rank=0, num_machines=1, dist_url="auto")
        rss_before = memory.current_rss_mb()
        t0 = time.perf_counter()
        cfg = setup_cfg(cli)
        loader = MaskTrackTrainer.build_train_loader(cfg)
        wall = time.perf_counter() - t0
        n = len(loader.dataset.dataset.dataset) if hasattr(loader, "dataset") else -1
        assert cfg.SOLVER.MAX_ITER > 0
    return {"kind": kind, "wall_s": wall, "peak_rss_mb": memory.peak_rss_mb(),
            "rss_start_mb": rss_start, "rss_before_mb": rss_before,
            "rss_after_mb": memory.current_rss_mb(), "n": n,
            "cache_before": cache_before, "cache_after": cache_files(cache_dir)}


def check_cache(kind: str, res: dict) -> None:
    """The cold run starts with an empty cache and leaves one file, the warm run finds it,
    the no-cache run neither reads nor writes one; else the comparison is not what it says."""
    before, after = res["cache_before"], res["cache_after"]
    ok = {"m2f": True,
          "startup_cold": not before and len(after) == 1,
          "startup_warm": len(before) == 1 and after == before,
          "startup_nocache": not before and not after}[kind]
    if not ok:
        raise RuntimeError(f"{kind}: records cache before {before}, after {after}")


def run_kind(kind: str, info: dict, cache_dir: str, out_dir: str) -> dict:
    env = dict(os.environ)
    env["MASKTRACK_D2_CACHE_DIR"] = "" if kind == "startup_nocache" else cache_dir
    if kind == "startup_cold":
        shutil.rmtree(cache_dir, ignore_errors=True)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--json", info["path"],
           "--run-dir", out_dir]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=benv.ROOT, env=env)
    whole = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{kind} failed")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(memory.CHILD_TAG)][-1]
    res = json.loads(line[len(memory.CHILD_TAG):])
    res["process_wall_s"] = whole
    check_cache(kind, res)
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = YouTube-VIS 2019 train")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--m2f-checkout", default=None,
                   help="a Mask2Former checkout to copy the baseline from (else downloaded)")
    p.add_argument("--out-dir", default=benv.RESULTS_DIR)
    p.add_argument("--child", choices=KINDS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    p.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        memory.child_result(child(args.child, args.json, args.run_dir))
        return

    m2f_package(args)
    info = make_json(args.scale)
    cache_dir = os.path.join(benv.CACHE_DIR, "ytvis_loading_cache")
    run_dir = os.path.join(benv.CACHE_DIR, "ytvis_loading_run")
    os.makedirs(run_dir, exist_ok=True)
    loadavg_start = list(os.getloadavg())
    t_start = time.perf_counter()
    results = {k: [] for k in KINDS}
    for r in range(args.rounds):
        # startup_warm needs the cache of a cold run before it, so rotate the other kinds
        # around the (cold, warm) pair.
        order = [["m2f"], ["startup_cold", "startup_warm"], ["startup_nocache"]]
        order = order[r % 3:] + order[:r % 3]
        for kind in [k for group in order for k in group]:
            res = run_kind(kind, info, cache_dir, run_dir)
            results[kind].append(res)
            print(f"round {r}: {kind:16s} {res['wall_s']:7.2f} s  peak RSS "
                  f"{res['peak_rss_mb']:7.0f} MB  (process {res['process_wall_s']:.1f} s)",
                  flush=True)
        # after every round: an interrupted run leaves a report
        report(args, info, results, loadavg_start, time.perf_counter() - t_start, r + 1)


LABELS = {
    "m2f": "Mask2Former's `load_ytvis_json`",
    "startup_cold": "start-up, first (records cache written)",
    "startup_warm": "start-up, cached (records cache read)",
    "startup_nocache": "start-up, cache off",
}


def report(args, info, results, loadavg_start, elapsed, rounds):
    rows, summary = [], {}
    base = results["m2f"][:rounds]
    for kind in KINDS:
        rs = results[kind][:rounds]

        def ratios(key):
            return [x[key] / m[key] for x, m in zip(rs, base)]

        summary[kind] = {"time_ratio": median(ratios("wall_s")),
                         "process_ratio": median(ratios("process_wall_s")),
                         "rss_ratio": median(ratios("peak_rss_mb")),
                         "time_ratio_range": [min(ratios("wall_s")), max(ratios("wall_s"))],
                         "wall_s": median([x["wall_s"] for x in rs]),
                         "peak_rss_mb": median([x["peak_rss_mb"] for x in rs])}
        rows.append([f"`{kind}`: {LABELS[kind]}", median([x["wall_s"] for x in rs]),
                     ", ".join(f"{x['wall_s']:.1f}" for x in rs),
                     median([x["process_wall_s"] for x in rs]),
                     median([x["peak_rss_mb"] for x in rs]),
                     median([x["rss_before_mb"] for x in rs]),
                     median([x["rss_after_mb"] for x in rs]),
                     f"**{summary[kind]['time_ratio']:.2f}**",
                     f"{summary[kind]['process_ratio']:.2f}",
                     f"**{summary[kind]['rss_ratio']:.2f}**"])
    cache_mb = [sum(x["cache_after"].values()) / 1e6 for x in results["startup_cold"][:rounds]]
    data = {"info": info, "results": results, "summary": summary, "goal": GOAL,
            "loadavg_start": loadavg_start, "loadavg_end": list(os.getloadavg()),
            "scale": args.scale, "rounds": rounds, "m2f_commit": M2F_COMMIT,
            "date": datetime.date.today().isoformat(), "cpu": breport.cpu_name(),
            "python": platform.python_version(), "elapsed_s": elapsed}
    sm = summary
    met = {k: sm[k]["time_ratio"] <= GOAL and sm[k]["rss_ratio"] <= GOAL
           for k in ("startup_cold", "startup_warm", "startup_nocache")}
    lines = [
        "# Training start-up on a YouTube-VIS-2019-train-sized json",
        "",
        f"Generated by `benchmarks/bench_ytvis_loading.py`. Json: {info['videos']} videos, "
        f"{info['frames']} listed frames, {info['tracks']} tracks, uncompressed RLE, "
        f"{info['bytes'] / 1e6:.0f} MB (`benchmarks/ytvis_json_gen.py`, seed 0). {rounds} "
        "rounds, kinds alternating in rotating order (the first start always right before the "
        "cached one, which reads the cache it wrote), each run a fresh process. Baseline: "
        f"Mask2Former's `load_ytvis_json` at commit {M2F_COMMIT[:10]}.",
        "",
        f"{data['date']}, {data['cpu']}, {os.cpu_count()} cores (load average "
        f"{loadavg_start[0]:.1f} at the start, {data['loadavg_end'][0]:.1f} at the end; "
        f"{elapsed / 60:.0f} min), python {data['python']}.",
        "",
        f"**First start on the json** (the records cache is converted and written, "
        f"{median(cache_mb):.0f} MB): **{sm['startup_cold']['time_ratio']:.2f}x** Mask2Former's "
        f"loader time ({sm['startup_cold']['wall_s']:.1f} s against "
        f"{sm['m2f']['wall_s']:.1f} s, medians), peak RSS "
        f"**{sm['startup_cold']['rss_ratio']:.2f}x**. **Later starts** (the cache is read): "
        f"**{sm['startup_warm']['time_ratio']:.2f}x** ({sm['startup_warm']['wall_s']:.1f} s), "
        f"peak RSS **{sm['startup_warm']['rss_ratio']:.2f}x**. With the cache off: "
        f"{sm['startup_nocache']['time_ratio']:.2f}x, peak RSS "
        f"{sm['startup_nocache']['rss_ratio']:.2f}x. Goal (time and peak RSS each <= {GOAL}x): "
        + ", ".join(f"{k[len('startup_'):]} {'met' if v else 'not met'}"
                    for k, v in met.items()) + ".",
        "",
        breport.md_table(
            ["run", "measured part, median (s)", "measured part, all rounds (s)",
             "whole process (s)", "peak RSS (MB)", "RSS after imports (MB)",
             "RSS at the end (MB)", "time / M2F", "whole process / M2F", "peak RSS / M2F"],
            rows),
        "",
        "Ratios are medians of the per-round ratios (range of the time ratio over the rounds: "
        + "; ".join(f"{k} {sm[k]['time_ratio_range'][0]:.2f}-{sm[k]['time_ratio_range'][1]:.2f}"
                    for k in KINDS[1:]) + "). "
        "`startup_*` = `setup_cfg` (which derives the epoch schedule from the data) + "
        "`MaskTrackTrainer.build_train_loader`, as `train_net.py` runs them; `m2f` = the "
        "loader call alone. Whole process = interpreter start, imports, the measured part and "
        "exit. Peak RSS is the whole process (VmHWM, imports included). The records cache is "
        "a numpy `.npz` read with `allow_pickle=False` (`masktrack_d2/data/datasets/"
        "records_cache.py`); each run checks the cache directory: empty before the first "
        "start and one file after, that file before and after the cached start, none with "
        "the cache off.",
    ]
    paths = {"md": os.path.join(args.out_dir, f"{NAME}.md"),
             "json": os.path.join(args.out_dir, f"{NAME}.json")}
    if args.scale != 1.0:
        paths = {k: v.replace(NAME + ".", f"{NAME}_scale{args.scale:g}.")
                 for k, v in paths.items()}
    os.makedirs(args.out_dir, exist_ok=True)
    breport.write_report(paths, lines, data)


if __name__ == "__main__":
    main()
