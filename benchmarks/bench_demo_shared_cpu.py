"""demo.py frames/s on a 30-frame 640x360 clip with the quickstart model (random weights),
on a quiet machine and with one core kept busy by a ``while 1: pass`` process, for the
demo as it was (no OMP_WAIT_POLICY default: libgomp's spin-then-sleep) and as it is now
(PASSIVE by default). Each run is a fresh demo.py process; conditions alternate over rounds.

    .venv/bin/python benchmarks/bench_demo_shared_cpu.py --rounds 3
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

OUT = os.path.join(common.CACHE_DIR, "demo_shared_cpu")


def prepare():
    import cv2
    import numpy as np
    import torch
    from detectron2.checkpoint import DetectionCheckpointer

    os.makedirs(OUT, exist_ok=True)
    weights = os.path.join(OUT, "random_quickstart.pth")
    if not os.path.exists(weights):
        cfg = common.masktrack_cfg(common.QUICKSTART_CONFIG)
        model = common.build_random_model(cfg)
        DetectionCheckpointer(model, save_dir=OUT).save("random_quickstart")
    clip = os.path.join(OUT, "clip_640x360_30.mp4")
    if not os.path.exists(clip):
        w = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (640, 360))
        for frame in common.moving_shapes_frames(30, 360, 640, seed=0):
            w.write(np.ascontiguousarray(frame))
        w.release()
    del torch
    return weights, clip


def run(demo, weights, clip, policy_env):
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    env.update(policy_env)
    env["PYTHONPATH"] = common.ROOT
    cmd = [sys.executable, demo, "--config-file", common.QUICKSTART_CONFIG, "--video-input", clip,
           "--json", os.path.join(OUT, "tracks.json"), "--no-progress",
           "--opts", "MODEL.WEIGHTS", weights, "MODEL.DEVICE", "cpu"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    m = re.search(r"([\d.]+) frames/s", p.stdout)
    if p.returncode or not m:
        raise RuntimeError(p.stdout[-2000:])
    return float(m.group(1)), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--old-demo", default=os.path.join(OUT, "demo_before.py"),
                    help="the demo.py before the default (made with git show)")
    args = ap.parse_args()
    weights, clip = prepare()
    if not os.path.exists(args.old_demo):
        old = subprocess.run(["git", "show", "b67ec20:demo.py"], cwd=common.ROOT,
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        with open(args.old_demo, "w") as f:
            f.write(old)
    new_demo = os.path.join(common.ROOT, "demo.py")
    results = {}
    for r in range(args.rounds):
        for busy in (False, True):
            hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"]) if busy else None
            try:
                for name, demo in (("before", args.old_demo), ("after", new_demo)):
                    fps, wall = run(demo, weights, clip, {})
                    results.setdefault((name, busy), []).append((fps, wall))
                    print(f"round {r} {'busy core' if busy else 'quiet    '} {name:6s} "
                          f"{fps:6.2f} frames/s  {wall:5.1f} s wall", flush=True)
            finally:
                if hog:
                    hog.kill()
                    hog.wait()
    lines = ["# demo.py on a shared CPU", "",
             f"30-frame 640x360 clip, quickstart R-18 model (random weights), {args.rounds} "
             "rounds alternating; 'before' = demo.py without the OMP_WAIT_POLICY default, "
             "'after' = with it; busy = one `python -c 'while 1: pass'` beside it. Load average "
             f"at the end {os.getloadavg()[0]:.1f} ({common.available_cores()} cores, shared).",
             "", "| demo | machine | frames/s (median) | wall s (median) |", "|---|---|---|---|"]
    for (name, busy), v in sorted(results.items()):
        lines.append(f"| {name} | {'one busy core' if busy else 'quiet'} | "
                     f"{common.median([x[0] for x in v]):.2f} | "
                     f"{common.median([x[1] for x in v]):.1f} |")
    path = os.path.join(common.RESULTS_DIR, "demo_shared_cpu.md")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
