#!/usr/bin/env python
"""One check of this code on a CUDA GPU (run it through tools/gpu_check.sh or `make gpu-check`).

Steps, each timed, then one summary:

1. the CUDA tests (tests/test_cuda.py, with MASKTRACK_TEST_DEVICE=cuda);
2. a synthetic data set (generated once under output/gpu_check/);
3. R-50 frame-pair training, ``--iters`` iterations with SOLVER.AMP.ENABLED True, then as many
   without (random init, no download): seconds per iteration, final losses finite;
4. video inference with the trained model on a generated clip: frames/s and
   ``torch.cuda.max_memory_allocated``;
5. demo.py on the same clip (mp4 out).

Exit status 0 only if every step passed. ``--device cpu --dry`` runs the same logic with
the tiny model, a few iterations and a short clip, so the script itself is tested without a
GPU (tests/test_gpu_check.py).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

R50 = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")


def _run(cmd, env, log_path, timeout):
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              timeout=timeout)
    return proc.returncode, time.perf_counter() - t0


def _tail(path, n=1500):
    with open(path, errors="replace") as f:
        return f.read()[-n:]


def step_tests(args, env, out):
    env = dict(env, MASKTRACK_TEST_DEVICE=args.device)
    log = os.path.join(out, "tests.log")
    rc, secs = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "tests/test_cuda.py"], env, log, timeout=240)
    last = [ln for ln in _tail(log).splitlines() if ln.strip()][-1:] or [""]
    return rc == 0, secs, last[0]


def make_data(args, out):
    from masktrack_d2.data.synthetic import generate_synthetic_ytvis

    root = os.path.join(out, "datasets", "synthetic")
    marker = os.path.join(root, "gpu_check.json")
    if not os.path.exists(marker):
        size = dict(height=64, width=96) if args.dry else dict(height=360, width=640)
        info = generate_synthetic_ytvis(root, num_videos=4 if args.dry else 12,
                                        num_frames=4 if args.dry else 12, seed=0, **size)
        with open(marker, "w") as f:
            json.dump(info, f)
    return os.path.join(out, "datasets")


def train_opts(args, out_dir, amp):
    import _tiny

    opts = (list(_tiny.TINY_OPTS) if args.dry else
            ["MODEL.WEIGHTS", "", "SOLVER.IMS_PER_BATCH", "4", "DATALOADER.NUM_WORKERS", "4"])
    opts += ["MODEL.DEVICE", args.device, "DATASETS.TRAIN", "('ytvis_synthetic_train',)",
             "DATASETS.TEST", "()", "SOLVER.EPOCHS", "0", "SOLVER.MAX_ITER", str(args.iters),
             "SOLVER.STEPS", f"({max(args.iters - 1, 1)},)", "SOLVER.CHECKPOINT_PERIOD", "100000",
             "TEST.EVAL_PERIOD", "0", "SOLVER.AMP.ENABLED", str(amp), "OUTPUT_DIR", out_dir]
    return opts


def step_train(args, env, out, amp):
    out_dir = os.path.join(out, "train_amp" if amp else "train_fp32")
    config = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml") \
        if args.dry else R50
    log = os.path.join(out, f"train_{'amp' if amp else 'fp32'}.log")
    cmd = [sys.executable, "train_net.py", "--config-file", config] + train_opts(args, out_dir, amp)
    rc, secs = _run(cmd, env, log, timeout=300)
    metrics = []
    path = os.path.join(out_dir, "metrics.json")
    if os.path.exists(path):
        with open(path) as f:
            metrics = [json.loads(ln) for ln in f if ln.strip()]
    losses = [m for m in metrics if "total_loss" in m]
    ok = rc == 0 and bool(losses) and all(math.isfinite(m["total_loss"]) for m in losses)
    times = sorted(m["time"] for m in losses if "time" in m)
    per_iter = times[len(times) // 2] if times else float("nan")
    detail = (f"{per_iter:.3f} s/iter (median), last total_loss "
              f"{losses[-1]['total_loss']:.3f}" if losses else
              "failed: " + (_tail(log).strip().splitlines() or ["(no output)"])[-1] +
              f" (log: {log})")
    return ok, secs, detail, os.path.join(out_dir, "model_final.pth")


def make_clip(args, out):
    import cv2
    import numpy as np

    path = os.path.join(out, "clip.mp4")
    n, (h, w) = (8, (64, 96)) if args.dry else (100, (360, 640))
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (w, h))
    rng = np.random.default_rng(0)
    colours = rng.integers(80, 255, size=(3, 3))
    for t in range(n):
        frame = np.full((h, w, 3), 30, np.uint8)
        for k in range(3):
            x = int((0.1 + 0.25 * k) * w + 2 * t) % w
            y = int(0.3 * h + 0.2 * h * math.sin(0.1 * t + k))
            cv2.circle(frame, (x, y), max(h // 8, 4), colours[k].tolist(), -1)
        writer.write(frame)
    writer.release()
    return path, n


def step_inference(args, weights, clip):
    import torch

    from masktrack_d2.predictor import run_demo, setup_demo_cfg

    config = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml") \
        if args.dry else R50
    opts = (list(_tiny_opts()) if args.dry else []) + ["MODEL.WEIGHTS", weights,
                                                      "MODEL.DEVICE", args.device]
    cfg = setup_demo_cfg(config, opts, confidence_threshold=0.0)
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    stats = run_demo(cfg, video_input=clip, json_path=os.path.join(os.path.dirname(clip),
                                                                    "tracks.json"),
                     progress=False)
    secs = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if args.device == "cuda" else float("nan")
    ok = stats["frames"] > 0 and cfg.MODEL.DEVICE == args.device
    return ok, secs, f"{stats['frames']} frames, {stats['fps']:.1f} frames/s, " \
                     f"{stats['tracks']} tracks, peak GPU memory {peak:.0f} MiB"


def _tiny_opts():
    import _tiny

    return [o for o in _tiny.TINY_OPTS]


def step_demo(args, env, out, weights, clip):
    config = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml") \
        if args.dry else R50
    opts = (_tiny_opts() if args.dry else []) + ["MODEL.WEIGHTS", weights,
                                                "MODEL.DEVICE", args.device]
    log = os.path.join(out, "demo.log")
    drawn = os.path.join(out, "demo_out.mp4")
    rc, secs = _run([sys.executable, "demo.py", "--config-file", config, "--video-input", clip,
                     "--output", drawn, "--no-progress", "--confidence-threshold", "0.0",
                     "--opts"] + opts, env, log, timeout=240)
    last = [ln for ln in _tail(log).splitlines() if ln.strip()][-1:] or [""]
    ok = rc == 0 and os.path.exists(drawn) and os.path.getsize(drawn) > 0
    return ok, secs, last[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dry", action="store_true",
                   help="tiny model, few iterations, short clip (to test this script)")
    p.add_argument("--iters", type=int, default=None, help="training iterations per run")
    p.add_argument("--out", default=os.path.join(ROOT, "output", "gpu_check"))
    args = p.parse_args(argv)
    if args.iters is None:
        args.iters = 3 if args.dry else 50
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: FAILED: no CUDA GPU is visible to torch "
              f"(torch {torch.__version__}, torch.version.cuda={torch.version.cuda}, "
              f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}). This check "
              "needs a CUDA GPU; `--device cpu --dry` only tests the script.", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["DETECTRON2_DATASETS"] = make_data(args, args.out)
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu (dry run)"
    t_start = time.perf_counter()
    rows = []

    def record(name, result):
        ok, secs, detail = result[:3]
        rows.append((name, ok, secs, detail))
        print(f"[gpu_check] {name}: {'ok' if ok else 'FAILED'} ({secs:.0f} s) {detail}",
              flush=True)
        return result

    record("CUDA tests", step_tests(args, env, args.out))
    if args.device == "cuda":
        record(f"train {args.iters} it AMP", step_train(args, env, args.out, amp=True))
    else:  # detectron2's AMPTrainer asserts CUDA
        record(f"train {args.iters} it AMP", (True, 0.0, "skipped: AMP training needs CUDA"))
    fp32 = record(f"train {args.iters} it fp32", step_train(args, env, args.out, amp=False))
    weights = fp32[3]
    clip, _ = make_clip(args, args.out)
    if os.path.exists(weights):
        record("video inference", step_inference(args, weights, clip))
        record("demo", step_demo(args, env, args.out, weights, clip))
    else:
        rows.append(("video inference / demo", False, 0.0, "no trained weights"))
    total = time.perf_counter() - t_start
    passed = all(r[1] for r in rows)
    print(f"\n=== gpu_check summary: {gpu}, torch {torch.__version__}, {total:.0f} s total ===")
    for name, ok, secs, detail in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {name:22s} {secs:6.0f} s  {detail}")
    print("=== {} ===".format("ALL PASSED" if passed else "FAILED"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
