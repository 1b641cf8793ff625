#!/usr/bin/env python
"""One check of this code on a CUDA GPU (run it through tools/gpu_check.sh or `make gpu-check`).

Steps, each timed, then one summary; exit status 0 only if every check passed:

1. ``tests``: the CUDA tests (tests/test_cuda.py, with MASKTRACK_TEST_DEVICE=cuda);
2. ``train``: R-50 frame-pair training from a trained-like start (random weights, backbone
   norm statistics calibrated on real frames: tools/calibrated_init.py), once in
   float32 and once per mixed precision the device has (float16; bfloat16 from Ampere on),
   ``--iters`` iterations each through the real trainer. Checked, per run:

   * every loss component finite at every iteration;
   * the losses of iteration 0 inside the ranges a correct start gives (``ITER0_RANGES``:
     e.g. ``loss_cls`` near ln(C + 1), as a classifier that knows nothing scores);
   * the total loss falling: the median and the mean of the last 10 iterations at most
     ``1 - --min-drop`` times those of the first 10;

   and reported: pairs/s (median step time after warm-up), peak GPU memory, steps the
   gradient scaler skipped, each mixed precision's speed against float32;
3. ``batch``: on the first training batch, from the start weights, each mixed precision's
   losses equal float32's within ``AMP_TOLERANCE`` (same proposals and RNG state, so the same
   sampled RoIs); then the largest SOLVER.IMS_PER_BATCH (doubling) whose training step fits in
   memory, float32 and each mixed precision;
4. ``inference``: video inference with the trained model on a generated clip (frames/s, peak
   memory);
5. ``demo``: demo.py on the same clip (mp4 out).

``--device cpu --dry`` runs the same logic on the CPU with the R-50 config at 64x96 and small
heads, bfloat16 as the mixed precision (float16 convolution backward is a slow reference path
on CPUs), so the script itself is tested without a GPU (tests/test_gpu_check.py, which also
checks that deliberately broken runs fail it). ``--init identity`` starts from plain random
weights (identity FrozenBN) and ``--train-opts KEY VALUE ...`` changes the training config:
both are there to show the check failing.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

R50 = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
STEPS = ("tests", "train", "batch", "inference", "demo")

#: The R-50 config made small for ``--dry``: 64x96 inputs, fewer proposals and RoIs, narrow heads.
DRY_OPTS = [
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "96",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96",
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "50", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "50",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "50", "MODEL.RPN.POST_NMS_TOPK_TEST", "50",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32", "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.ROI_MASK_HEAD.NUM_CONV", "1", "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
    "MODEL.TRACK_HEAD.FC_DIM", "64", "TEST.DETECTIONS_PER_IMAGE", "10",
]


def iter0_ranges(num_classes: int):
    """Where each loss of iteration 0 lies for a correct start: random heads over calibrated
    features. ``loss_cls``: a classifier with near-zero logits scores ln(C + 1) (3.71 for the
    40 YouTube-VIS classes; 3.66-4.07 measured); ``loss_rpn_cls`` and ``loss_mask``: binary
    cross-entropies at near-zero logits, ln 2 = 0.69 (0.70-0.76 measured); box losses are
    small; ``loss_match``: the random track head's embeddings give dot products of hundreds
    (3-500 measured, by head width), far from the 7e4-1e5 of an uncalibrated backbone."""
    ln_c = math.log(num_classes + 1)
    return {"loss_cls": (0.5 * ln_c, 1.5 * ln_c), "loss_rpn_cls": (0.35, 1.05),
            "loss_mask": (0.35, 1.05), "loss_box_reg": (0.0, 3.0), "loss_rpn_loc": (0.0, 3.0),
            "loss_match": (0.0, 2000.0)}


#: |AMP - float32| <= ABS + REL * |float32| per loss component, on the first batch with the
#: start weights, the same proposals and the same RNG state (so the same sampled RoIs): what is
#: left is arithmetic. Measured with the --dry model on the CPU: every component within 1.2 %
#: (bfloat16) and 0.2 % (float16) but loss_match, 7.8 % and 5.1 %. The random track head's
#: logits are tens of times its loss (a log-sum-exp minus the target's logit), so the loss
#: carries the features' relative error amplified by that ratio; hence its own tolerance.
AMP_TOLERANCE = {"abs": 0.02, "rel": 0.03, "rel_loss_match": 0.15}


# ------------------------------------------------------------------ helpers
def _run(cmd, env, log_path, timeout):
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                  timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = 124
    return rc, time.perf_counter() - t0


def _tail(path, n=1500):
    with open(path, errors="replace") as f:
        return f.read()[-n:]


def _last_line(path):
    lines = [ln for ln in _tail(path).splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def precisions(args):
    """The runs of the train step: float32 plus the mixed precisions the device has."""
    import torch

    if args.precisions:
        return args.precisions
    if args.device == "cpu":
        return ["float32", "bfloat16"]
    out = ["float32", "float16"]
    if torch.cuda.is_bf16_supported():
        out.append("bfloat16")
    return out


def model_opts(args):
    return (list(DRY_OPTS) if args.dry else []) + ["MODEL.DEVICE", args.device]


def train_opts(args, out_dir, precision, weights):
    """The training config of one run, on top of the R-50 yaml."""
    base_lr = 0.00125 * args.batch / 8  # the table's lr (8 pairs), scaled to the batch
    amp = precision != "float32"
    opts = model_opts(args) + [
        "MODEL.WEIGHTS", weights, "DATASETS.TRAIN", "('ytvis_synthetic_train',)",
        "DATASETS.TEST", "()", "DATALOADER.NUM_WORKERS", str(args.workers),
        "SOLVER.IMS_PER_BATCH", str(args.batch), "SOLVER.BASE_LR", str(base_lr),
        "SOLVER.EPOCHS", "0", "SOLVER.MAX_ITER", str(args.iters),
        "SOLVER.STEPS", f"({2 * args.iters},)", "SOLVER.WARMUP_ITERS", "10",
        "SOLVER.CHECKPOINT_PERIOD", "100000", "TEST.EVAL_PERIOD", "0", "SEED", "0",
        "SOLVER.AMP.ENABLED", str(amp), "OUTPUT_DIR", out_dir]
    if amp:
        opts += ["SOLVER.AMP.PRECISION", precision]
    return opts + list(args.train_opts)


# ------------------------------------------------------------------ steps
def step_tests(args, env, out):
    env = dict(env, MASKTRACK_TEST_DEVICE=args.device)
    log = os.path.join(out, "tests.log")
    rc, secs = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                     "tests/test_cuda.py"], env, log, timeout=240)
    return rc == 0, secs, _last_line(log)


def make_data(args, out):
    from masktrack_d2.data.synthetic import generate_synthetic_ytvis

    root = os.path.join(out, "datasets", "synthetic")
    marker = os.path.join(root, "gpu_check.json")
    if not os.path.exists(marker):
        size = dict(height=64, width=96) if args.dry else dict(height=360, width=640)
        info = generate_synthetic_ytvis(root, num_videos=6 if args.dry else 24,
                                        num_frames=6 if args.dry else 12, seed=0, **size)
        with open(marker, "w") as f:
            json.dump(info, f)
    return os.path.join(out, "datasets")


def make_init(args, env, out):
    """The start checkpoint: calibrated norms (``--init calibrated``) or plain random."""
    path = os.path.join(out, f"init_{args.init}.pth")
    frames = "4" if args.init == "calibrated" else "0"
    cmd = [sys.executable, os.path.join(ROOT, "tools", "calibrated_init.py"), "--config-file",
           R50, "--out", path, "--frames", frames] + model_opts(args)[:-2] + [
        "DATASETS.TRAIN", "('ytvis_synthetic_train',)", "SEED", "0"]
    rc, _ = _run(cmd, env, os.path.join(out, "init.log"), timeout=300)
    if rc != 0:
        raise RuntimeError(f"writing the start checkpoint failed: {_last_line(os.path.join(out, 'init.log'))}")
    return path


def check_run(name, records, num_classes, min_drop):
    """The checks of one training run's per-iteration records; returns (ok, problems)."""
    problems = []
    if not records:
        return False, ["no iteration recorded"]
    for r in records:
        bad = [k for k, v in r["losses"].items() if not math.isfinite(v)]
        if bad:
            problems.append(f"iteration {r['iter']}: {', '.join(bad)} not finite")
            break
    for key, (lo, hi) in iter0_ranges(num_classes).items():
        v = records[0]["losses"].get(key)
        if v is not None and not (lo <= v <= hi):
            problems.append(f"iteration 0 {key} = {v:.4g}, expected {lo:.3g}-{hi:.3g}")
    totals = [r["total_loss"] for r in records]
    if len(totals) >= 20:
        # Both the median (a random track head's match loss spikes on single batches) and
        # the mean (a run whose spikes keep growing is diverging) must fall.
        for name, stat in (("median", statistics.median), ("mean", statistics.fmean)):
            first, last = stat(totals[:10]), stat(totals[-10:])
            if not last <= (1 - min_drop) * first:
                problems.append(f"total loss did not fall by {min_drop:.0%}: {name} of the "
                                f"first 10 iterations {first:.4g}, of the last 10 {last:.4g}")
    else:
        problems.append(f"only {len(totals)} iterations: 20 needed to judge the learning")
    return not problems, problems


def compare_losses(amp, fp32):
    """Problems where a mixed-precision loss dict leaves float32's by more than AMP_TOLERANCE."""
    problems = []
    for k in sorted(fp32):
        rel = AMP_TOLERANCE["rel_loss_match" if k == "loss_match" else "rel"]
        tol = AMP_TOLERANCE["abs"] + rel * abs(fp32[k])
        if not (k in amp and abs(amp[k] - fp32[k]) <= tol):
            problems.append(f"{k} {amp.get(k, float('nan')):.4g} against float32's {fp32[k]:.4g}")
    return problems


def step_train(args, env, out, weights):
    """All training runs; returns rows for the summary and the float32 run's final weights."""
    from detectron2.config import get_cfg

    from masktrack_d2.config import add_masktrack_config

    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(R50)
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    rows, runs = [], {}
    for precision in precisions(args):
        out_dir = os.path.join(out, f"train_{precision}")
        log = os.path.join(out, f"train_{precision}.log")
        cmd = [sys.executable, os.path.abspath(__file__), "--train-worker", out_dir,
               "--device", args.device, "--config-file", R50, "--opts"] + \
            train_opts(args, out_dir, precision, weights)
        rc, secs = _run(cmd, env, log, timeout=args.timeout)
        summary_path = os.path.join(out_dir, "gpu_check_train.json")
        if rc != 0 or not os.path.exists(summary_path):
            rows.append((f"train {precision}", False, secs,
                         f"failed (exit {rc}): {_last_line(log)} (log: {log})"))
            continue
        with open(summary_path) as f:
            run = json.load(f)
        runs[precision] = run
        ok, problems = check_run(precision, run["records"], num_classes, args.min_drop)
        r0, totals = run["records"][0], [r["total_loss"] for r in run["records"]]
        detail = (f"{run['pairs_per_s']:.1f} pairs/s, peak {run['peak_mem_gb']:.2f} GB, "
                  f"total loss {statistics.median(totals[:10]):.3g} -> "
                  f"{statistics.median(totals[-10:]):.3g} (median of first/last 10), loss_cls at 0 "
                  f"{r0['losses'].get('loss_cls', float('nan')):.3f}")
        if run.get("skipped_steps") is not None:
            detail += f", scaler skipped {run['skipped_steps']} steps"
        if problems:
            detail += "; " + "; ".join(problems)
        rows.append((f"train {precision}", ok, secs, detail))
    if "float32" in runs:
        for precision, run in runs.items():
            if precision != "float32":
                rows.append((f"{precision} speed", True, 0.0,
                             f"{run['pairs_per_s'] / runs['float32']['pairs_per_s']:.2f}x "
                             "float32's pairs/s at the same batch"))
    fp32_weights = os.path.join(out, "train_float32", "model_final.pth")
    return rows, fp32_weights


def step_batch(args, env, out, weights):
    """The first-batch comparison and the batch probe (one worker process); summary rows."""
    out_dir = os.path.join(out, "batch")
    log = os.path.join(out, "batch.log")
    cmd = [sys.executable, os.path.abspath(__file__), "--batch-worker", out_dir,
           "--device", args.device, "--config-file", R50,
           "--max-batch", str(args.max_batch), "--precisions"] + precisions(args) + ["--opts"] + \
        train_opts(args, out_dir, "float32", weights)
    rc, secs = _run(cmd, env, log, timeout=args.timeout)
    path = os.path.join(out_dir, "gpu_check_batch.json")
    if rc != 0 or not os.path.exists(path):
        return [("first batch / batch probe", False, secs,
                 f"failed (exit {rc}): {_last_line(log)} (log: {log})")]
    with open(path) as f:
        res = json.load(f)
    rows = []
    fp32 = res["first_batch"]["float32"]
    for precision, losses in res["first_batch"].items():
        if precision != "float32":
            problems = compare_losses(losses, fp32)
            worst = max(abs(losses[k] - v) / max(abs(v), 1e-12) for k, v in fp32.items())
            rows.append((f"first batch {precision}", not problems, 0.0,
                         f"losses equal float32's (largest relative difference {worst:.2%})"
                         if not problems else "; ".join(problems)))
    probe = res["probe"]
    parts = [f"{p}: {r['largest']} (peak {r['peak_mem_gb']:.1f} GB{', the cap' if r['capped'] else ''})"
             for p, r in probe.items()]
    rows.append(("batch probe", all(r["largest"] > 0 for r in probe.values()), secs,
                 "largest IMS_PER_BATCH that fits, " + ", ".join(parts)))
    return rows


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
    return path


def step_inference(args, weights, clip):
    import torch

    from masktrack_d2.predictor import run_demo, setup_demo_cfg

    cfg = setup_demo_cfg(R50, model_opts(args) + ["MODEL.WEIGHTS", weights],
                         confidence_threshold=0.0)
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    stats = run_demo(cfg, video_input=clip,
                     json_path=os.path.join(os.path.dirname(clip), "tracks.json"), progress=False)
    secs = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2 ** 20 if args.device == "cuda" else float("nan")
    ok = stats["frames"] > 0 and cfg.MODEL.DEVICE == args.device
    return ok, secs, f"{stats['frames']} frames, {stats['fps']:.1f} frames/s, " \
                     f"{stats['tracks']} tracks, peak GPU memory {peak:.0f} MiB"


def step_demo(args, env, out, weights, clip):
    log = os.path.join(out, "demo.log")
    drawn = os.path.join(out, "demo_out.mp4")
    rc, secs = _run([sys.executable, "demo.py", "--config-file", R50, "--video-input", clip,
                     "--output", drawn, "--no-progress", "--confidence-threshold", "0.0",
                     "--opts"] + model_opts(args) + ["MODEL.WEIGHTS", weights],
                    env, log, timeout=240)
    ok = rc == 0 and os.path.exists(drawn) and os.path.getsize(drawn) > 0
    return ok, secs, _last_line(log)


# ------------------------------------------------------------------ worker processes
def _worker_cfg(args):
    from argparse import Namespace

    from masktrack_d2.engine import setup_cfg

    return setup_cfg(Namespace(config_file=args.config_file, opts=args.opts, eval_only=False,
                               resume=False, num_gpus=1, num_machines=1, machine_rank=0))


def train_worker(args):
    """One training run through the real trainer, recording every iteration's losses."""
    import torch

    from detectron2.engine import HookBase

    import masktrack_d2  # noqa: F401
    from masktrack_d2.engine import MaskTrackTrainer

    cfg = _worker_cfg(args)
    cuda = cfg.MODEL.DEVICE == "cuda"
    records, times = [], []

    class Record(HookBase):
        def before_step(self):
            if cuda:
                torch.cuda.synchronize()
            self._t0 = time.perf_counter()

        def after_step(self):
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self._t0)
            latest = self.trainer.storage.latest()
            losses = {k: v[0] for k, v in latest.items() if k.startswith("loss_")}
            records.append({"iter": self.trainer.iter, "losses": losses,
                            "total_loss": latest["total_loss"][0]})

    trainer = MaskTrackTrainer(cfg)
    trainer.register_hooks([Record()])
    trainer.resume_or_load(resume=False)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    steady = times[5:] or times
    skipped = trainer.storage.latest().get("amp/skipped_steps")  # float16 runs only
    summary = {
        "records": records, "step_seconds": times,
        "pairs_per_s": cfg.SOLVER.IMS_PER_BATCH / statistics.median(steady),
        "peak_mem_gb": torch.cuda.max_memory_allocated() / 1e9 if cuda else float("nan"),
        "skipped_steps": int(skipped[0]) if skipped else None,
    }
    with open(os.path.join(cfg.OUTPUT_DIR, "gpu_check_train.json"), "w") as f:
        json.dump(summary, f)
    return 0


def batch_worker(args):
    """In one process, from the start weights: each precision's losses on the first training
    batch with float32's proposals and RNG state, then the largest IMS_PER_BATCH (doubling
    from 2) whose training step fits, per precision."""
    import torch

    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    import masktrack_d2  # noqa: F401
    from masktrack_d2.data.build import build_frame_pair_train_loader
    from masktrack_d2.engine.amp import amp_dtype

    cfg = _worker_cfg(args)
    device = cfg.MODEL.DEVICE
    cuda = device == "cuda"
    model = build_model(cfg)
    DetectionCheckpointer(model).load(cfg.MODEL.WEIGHTS)
    model.train()
    pool = next(iter(build_frame_pair_train_loader(cfg)))

    def autocast(precision):
        low = precision != "float32"
        return torch.autocast(device, dtype=amp_dtype(precision) if low else torch.float32,
                              enabled=low)

    first, proposals = {}, None
    with EventStorage(0):
        for precision in ["float32"] + [p for p in args.precisions if p != "float32"]:
            torch.manual_seed(0)
            with torch.no_grad(), autocast(precision):
                losses, used = model.pair_losses(pool, proposals)
            proposals = proposals or used
            first[precision] = {k: float(v) for k, v in losses.items()}

    probe = {}
    for precision in args.precisions:
        largest, peak, batch = 0, float("nan"), 2
        while batch <= args.max_batch:
            data = [pool[i % len(pool)] for i in range(batch)]
            try:
                if cuda:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
                with EventStorage(0), autocast(precision):
                    losses = model(data)
                sum(v.float() for v in losses.values()).backward()
            except torch.cuda.OutOfMemoryError:
                break
            finally:
                model.zero_grad(set_to_none=True)
                losses = None
            largest = batch
            peak = torch.cuda.max_memory_allocated() / 1e9 if cuda else float("nan")
            batch *= 2
        probe[precision] = {"largest": largest, "peak_mem_gb": peak,
                            "capped": batch > args.max_batch}
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    with open(os.path.join(cfg.OUTPUT_DIR, "gpu_check_batch.json"), "w") as f:
        json.dump({"first_batch": first, "probe": probe}, f)
    return 0


# ------------------------------------------------------------------ main
def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--dry", action="store_true",
                   help="the R-50 config at 64x96 with small heads (to test this script)")
    p.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    p.add_argument("--iters", type=int, default=None, help="training iterations per run")
    p.add_argument("--batch", type=int, default=None, help="SOLVER.IMS_PER_BATCH (frame pairs)")
    p.add_argument("--workers", type=int, default=None, help="DATALOADER.NUM_WORKERS")
    p.add_argument("--precisions", nargs="+", choices=["float32", "float16", "bfloat16"],
                   help="training runs (default: float32 and the device's mixed precisions)")
    p.add_argument("--init", choices=["calibrated", "identity"], default="calibrated",
                   help="start: calibrated backbone norms, or plain random (identity FrozenBN)")
    p.add_argument("--min-drop", type=float, default=0.25,
                   help="the total loss must fall by this fraction (first vs last 10 iterations)")
    p.add_argument("--max-batch", type=int, default=None, help="largest batch the probe tries")
    p.add_argument("--train-opts", nargs="+", default=[],
                   help="KEY VALUE pairs added to every training run's config")
    p.add_argument("--timeout", type=int, default=900, help="seconds per training run")
    p.add_argument("--out", default=os.path.join(ROOT, "output", "gpu_check"))
    # worker modes (one process per training run)
    p.add_argument("--train-worker", metavar="OUT_DIR", help=argparse.SUPPRESS)
    p.add_argument("--batch-worker", metavar="OUT_DIR", help=argparse.SUPPRESS)
    p.add_argument("--config-file", help=argparse.SUPPRESS)
    p.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.train_worker:
        return train_worker(args)
    if args.batch_worker:
        return batch_worker(args)
    dry = args.dry
    args.iters = args.iters or (30 if dry else 50)
    args.batch = args.batch or (2 if dry else 16)
    args.workers = args.workers if args.workers is not None else (0 if dry else 8)
    args.max_batch = args.max_batch or (4 if dry else 1024)
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
    if dry:
        env["OMP_NUM_THREADS"] = env.get("OMP_NUM_THREADS", "1")
    gpu = torch.cuda.get_device_name(0) if args.device == "cuda" else "cpu (dry run)"
    t_start = time.perf_counter()
    rows = []

    def record(name, ok, secs, detail):
        rows.append((name, ok, secs, detail))
        print(f"[gpu_check] {name}: {'ok' if ok else 'FAILED'} ({secs:.0f} s) {detail}",
              flush=True)

    if "tests" in args.steps:
        record("CUDA tests", *step_tests(args, env, args.out))
    weights = make_init(args, env, args.out)
    fp32_weights = None
    if "train" in args.steps:
        train_rows, fp32_weights = step_train(args, env, args.out, weights)
        for row in train_rows:
            record(*row)
    if "batch" in args.steps:
        for row in step_batch(args, env, args.out, weights):
            record(*row)
    if {"inference", "demo"} & set(args.steps):
        if fp32_weights and os.path.exists(fp32_weights):
            clip = make_clip(args, args.out)
            if "inference" in args.steps:
                record("video inference", *step_inference(args, fp32_weights, clip))
            if "demo" in args.steps:
                record("demo", *step_demo(args, env, args.out, fp32_weights, clip))
        else:
            record("video inference / demo", False, 0.0, "no trained float32 weights")
    total = time.perf_counter() - t_start
    passed = all(r[1] for r in rows)
    print(f"\n=== gpu_check summary: {gpu}, torch {torch.__version__}, {total:.0f} s total ===")
    for name, ok, secs, detail in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {name:22s} {secs:6.0f} s  {detail}")
    print("=== {} ===".format("ALL PASSED" if passed else "FAILED"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
