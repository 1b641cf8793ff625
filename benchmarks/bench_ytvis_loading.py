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
  ``MaskTrackTrainer.build_train_loader``, with an empty records cache;
* ``startup_warm``: the same with the cache the cold run left;
* ``startup_nocache``: the same with the cache turned off (MASKTRACK_D2_CACHE_DIR="").

The kinds alternate in rotating order over ``--rounds`` rounds; ratios are medians of the
per-round ratios to ``m2f``. Goal: start-up <= 0.5x Mask2Former's loader time and <= 0.5x its
peak RSS.

    .venv/bin/python benchmarks/bench_ytvis_loading.py              # ~5 min on 2 busy cores
    .venv/bin/python benchmarks/bench_ytvis_loading.py --scale 0.1 --rounds 2   # smoke run
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import ytvis_json_gen  # noqa: E402
from common import median  # noqa: E402

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
    root = os.path.join(common.CACHE_DIR, "m2f_baseline")
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
    path = os.path.join(common.CACHE_DIR, f"ytvis2019_train_sized_scale{scale:g}.json")
    marker = path + ".info"
    if not os.path.exists(marker):
        info = ytvis_json_gen.generate(path, scale=scale, seed=0)
        with open(marker, "w") as f:
            json.dump(info, f)
    with open(marker) as f:
        return json.load(f)


# ------------------------------------------------------------------------------ children
def child(kind: str, json_file: str, out_dir: str) -> dict:
    rss_start = common.current_rss_mb()
    if kind == "m2f":
        sys.path.insert(0, os.path.join(common.CACHE_DIR, "m2f_baseline"))
        from m2f_ytvis.ytvis import load_ytvis_json

        rss_before = common.current_rss_mb()
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
            f.write(f"_BASE_: {common.BASE_CONFIG}\n")
        opts = ["DATASETS.TRAIN", "('bench_ytvis_train',)", "DATASETS.TEST", "()",
                "DATALOADER.NUM_WORKERS", "0", "OUTPUT_DIR", out_dir, "MODEL.DEVICE", "cpu"]
        cli = argparse.Namespace(config_file=config, opts=opts, eval_only=False, resume=False,
                                 num_gpus=1, machine_rank=0, num_machines=1, dist_url="auto")
        rss_before = common.current_rss_mb()
        t0 = time.perf_counter()
        cfg = setup_cfg(cli)
        loader = MaskTrackTrainer.build_train_loader(cfg)
        wall = time.perf_counter() - t0
        n = len(loader.dataset.dataset.dataset) if hasattr(loader, "dataset") else -1
        assert cfg.SOLVER.MAX_ITER > 0
    return {"kind": kind, "wall_s": wall, "peak_rss_mb": common.peak_rss_mb(),
            "rss_start_mb": rss_start, "rss_before_mb": rss_before,
            "rss_after_mb": common.current_rss_mb(), "n": n}


def run_kind(kind: str, info: dict, cache_dir: str, out_dir: str) -> dict:
    env = dict(os.environ)
    env["MASKTRACK_D2_CACHE_DIR"] = "" if kind == "startup_nocache" else cache_dir
    if kind == "startup_cold":
        shutil.rmtree(cache_dir, ignore_errors=True)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind, "--json", info["path"],
           "--run-dir", out_dir]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=common.ROOT, env=env)
    whole = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{kind} failed")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(common.CHILD_TAG)][-1]
    res = json.loads(line[len(common.CHILD_TAG):])
    res["process_wall_s"] = whole
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="1.0 = YouTube-VIS 2019 train")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--m2f-checkout", default=None,
                   help="a Mask2Former checkout to copy the baseline from (else downloaded)")
    p.add_argument("--out-dir", default=common.RESULTS_DIR)
    p.add_argument("--child", choices=KINDS, default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help=argparse.SUPPRESS)
    p.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        common.child_result(child(args.child, args.json, args.run_dir))
        return

    m2f_package(args)
    info = make_json(args.scale)
    cache_dir = os.path.join(common.CACHE_DIR, "ytvis_loading_cache")
    run_dir = os.path.join(common.CACHE_DIR, "ytvis_loading_run")
    os.makedirs(run_dir, exist_ok=True)
    loadavg_start = list(os.getloadavg())
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
    report(args, info, results, loadavg_start)


def report(args, info, results, loadavg_start):
    rows, summary = [], {}
    for kind in KINDS:
        rs = results[kind]
        t = [x["wall_s"] / m["wall_s"] for x, m in zip(rs, results["m2f"])]
        m = [x["peak_rss_mb"] / mm["peak_rss_mb"] for x, mm in zip(rs, results["m2f"])]
        summary[kind] = {"time_ratio": median(t), "rss_ratio": median(m)}
        rows.append([kind, median([x["wall_s"] for x in rs]),
                     median([x["process_wall_s"] for x in rs]),
                     median([x["peak_rss_mb"] for x in rs]),
                     median([x["rss_before_mb"] for x in rs]),
                     median([x["rss_after_mb"] for x in rs]), median(t), median(m)])
    data = {"info": info, "results": results, "summary": summary, "goal": GOAL,
            "loadavg_start": loadavg_start, "loadavg_end": list(os.getloadavg()),
            "scale": args.scale, "rounds": args.rounds, "m2f_commit": M2F_COMMIT}
    lines = [
        "# Training start-up on a YouTube-VIS-2019-train-sized json",
        "",
        f"Generated json: {info['videos']} videos, {info['frames']} listed frames, "
        f"{info['tracks']} tracks, uncompressed RLE, {info['bytes'] / 1e6:.0f} MB "
        f"(`benchmarks/ytvis_json_gen.py`, seed 0). {args.rounds} rounds, kinds alternating in "
        "rotating order, each run a fresh process. Baseline: Mask2Former's `load_ytvis_json` "
        f"at commit {M2F_COMMIT[:10]}. Load average at start {loadavg_start[0]:.1f}, end "
        f"{data['loadavg_end'][0]:.1f} (2 shared cores).",
        "",
        common.md_table(
            ["run", "measured part (s)", "whole process (s)", "peak RSS (MB)",
             "RSS after imports (MB)", "RSS at the end (MB)", "time / M2F", "peak RSS / M2F"],
            rows),
        "",
        f"Goal: time and peak RSS each <= {GOAL} x Mask2Former's loader. Ratios are medians of "
        "the per-round ratios. `startup_*` = `setup_cfg` (epoch schedule from the data) + "
        "`MaskTrackTrainer.build_train_loader`; `m2f` = the loader call alone. Peak RSS is the "
        "whole process (imports included).",
    ]
    paths = {"md": os.path.join(args.out_dir, f"{NAME}.md"),
             "json": os.path.join(args.out_dir, f"{NAME}.json")}
    if args.scale != 1.0:
        paths = {k: v.replace(NAME, f"{NAME}_scale{args.scale:g}") for k, v in paths.items()}
    os.makedirs(args.out_dir, exist_ok=True)
    common.write_report(paths, lines, data)


if __name__ == "__main__":
    main()
