"""Benchmark 4: frame-pair loader throughput vs the model's training step rate.

A synthetic YouTube-VIS data set at 640x360 is generated once under output/bench/
(``generate_synthetic_ytvis(..., height=360, width=640)``) and registered; the loader is the
real one, ``build_frame_pair_train_loader(cfg)`` (FramePairDatasetMapper: JPEG decode of key
and reference frame, the shared augmentation, RLE -> bitmask of the key frame's GT), with
``cfg.DATALOADER.NUM_WORKERS`` worker processes (4 in the base config) and batch 1
(SOLVER.IMS_PER_BATCH 1, so a batch is a pair).

In one run, alternating:

* loader alone: pairs/s over ``--pairs`` batches after the workers' prefetch queue was
  drained (so the rate is what the workers produce, not what they had stored up);
* model alone: MaskTrack R-CNN R-50 frame-pair training steps (forward + backward + optimizer,
  batch 1) on a pair from the loader -> pairs/s;

and then the two together as training runs them (``for batch in loader: step(batch)``): the
time each iteration waits for data (detectron2's ``data_time``) and the step rate.

Ratio reported: loader pairs/s / model pairs/s (goal > 1). On the 2-core machine the loader's
worker processes and the model's 2 torch threads compete for the same cores: the "alone"
rates each have the machine to themselves (apart from other jobs), the "together" run shows
what is left when they share it.

    .venv/bin/python benchmarks/bench_data_loader.py            # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_data_loader.py --quick
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import BASE_CONFIG, ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.data import register_train_split, synthetic_dataset  # noqa: E402
from benchlib.models import build_random_model, masktrack_cfg  # noqa: E402
from benchlib.report import env_info, env_lines, md_table, result_paths, write_report  # noqa: E402
from benchlib.timing import median, sync  # noqa: E402

NAME = "data_loader"
GOAL = 1.0
DATASET = "bench_synthetic_640x360_train"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--workers", type=int, default=None,
                   help="DATALOADER.NUM_WORKERS (default: the cfg's)")
    p.add_argument("--also-workers", default="1",
                   help="comma list of other worker counts to time the loader alone with")
    p.add_argument("--pairs", type=int, default=40, help="timed pairs per loader block")
    p.add_argument("--steps", type=int, default=3, help="timed model steps per model block")
    p.add_argument("--blocks", type=int, default=2, help="loader / model blocks, alternating")
    p.add_argument("--together", type=int, default=6, help="iterations of loader + model")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--config", default=BASE_CONFIG)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.quick:
        args.pairs, args.steps, args.blocks, args.together = 20, 1, 1, 3
    setup_torch(args)
    info = env_info(args)

    from detectron2.utils.events import EventStorage

    from masktrack_d2.data.build import build_frame_pair_train_loader
    from masktrack_d2.solver import build_optimizer

    t0 = time.perf_counter()
    ds = synthetic_dataset(args.width, args.height, args.videos, args.frames, args.seed)
    print(f"data set ready in {time.perf_counter() - t0:.1f}s: {ds['image_root']}", flush=True)
    register_train_split(ds, DATASET)

    opts = ["DATASETS.TRAIN", f"('{DATASET}',)", "SOLVER.IMS_PER_BATCH", "1"]
    if args.workers is not None:
        opts += ["DATALOADER.NUM_WORKERS", str(args.workers)]
    cfg = masktrack_cfg(args.config, opts + args.opts, args.device)
    workers = cfg.DATALOADER.NUM_WORKERS
    prefetch = 2 * max(workers, 1)  # torch DataLoader: prefetch_factor 2 per worker

    model = build_random_model(cfg, seed=args.seed, train=True)
    optimizer = build_optimizer(cfg, model)
    loader = build_frame_pair_train_loader(cfg)
    it = iter(loader)

    def step(batch):
        sync(args.device)
        t = time.perf_counter()
        losses = model(batch)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        sync(args.device)
        return time.perf_counter() - t

    t0 = time.perf_counter()
    first = next(it)  # starts the workers
    startup_s = time.perf_counter() - t0
    assert len(first) == 1 and "ref_image" in first[0], "a batch must be one frame pair"
    print(f"{workers} workers; first batch after {startup_s:.1f}s; pair "
          f"{tuple(first[0]['image'].shape)} + ref, {len(first[0]['instances'])} GT", flush=True)

    loader_rates, step_times = [], []
    with EventStorage(0):
        step(first)  # warm-up
        for b in range(args.blocks):
            for _ in range(prefetch):  # drain what the workers stored while the model ran
                next(it)
            t0 = time.perf_counter()
            for _ in range(args.pairs):
                next(it)
            rate = args.pairs / (time.perf_counter() - t0)
            loader_rates.append(rate)
            batch = next(it)
            for _ in range(args.steps):
                step_times.append(step(batch))
            print(f"block {b}: loader {rate:.1f} pairs/s; model steps " + ", ".join(
                f"{s:.2f}" for s in step_times[-args.steps:]) + f" s; load "
                f"{os.getloadavg()[0]:.1f}", flush=True)

        # together, as the trainer runs them
        waits, totals = [], []
        t_prev = time.perf_counter()
        for _ in range(args.together):
            t0 = time.perf_counter()
            batch = next(it)
            t1 = time.perf_counter()
            step(batch)
            t2 = time.perf_counter()
            waits.append(t1 - t0)
            totals.append(t2 - t_prev)
            t_prev = t2
        print("together: data wait " + ", ".join(f"{w:.3f}" for w in waits) + " s", flush=True)
    del it
    del loader

    other = {}
    for w in [int(x) for x in args.also_workers.split(",") if x.strip()]:
        if w == workers:
            continue
        c = cfg.clone()
        c.DATALOADER.NUM_WORKERS = w
        it = iter(build_frame_pair_train_loader(c))
        for _ in range(2 * max(w, 1) + 1):  # start + drain the prefetch queue
            next(it)
        t0 = time.perf_counter()
        for _ in range(args.pairs):
            next(it)
        other[w] = args.pairs / (time.perf_counter() - t0)
        del it
        print(f"loader alone with {w} worker(s): {other[w]:.1f} pairs/s", flush=True)

    loader_pairs_s = median(loader_rates)
    model_pairs_s = 1.0 / median(step_times)
    res = {
        "workers": workers, "startup_s": startup_s, "loader_pairs_per_s": loader_pairs_s,
        "loader_rates": loader_rates, "step_s": step_times, "model_pairs_per_s": model_pairs_s,
        "ratio": loader_pairs_s / model_pairs_s,
        "other_workers_pairs_per_s": other,
        "together_wait_s": waits, "together_iter_s": totals,
        "together_pairs_per_s": 1.0 / median(totals),
        "together_wait_fraction": sum(waits) / sum(totals),
        "dataset": {k: ds[k] for k in ("num_videos", "num_train_videos", "num_annotations")},
    }
    # cross-reference: the step rate bench_train_step measured, when its results exist
    ts = os.path.join(args.out_dir, "train_step" + ("" if args.device == "cpu" else "_cuda")
                      + ".json")
    if os.path.exists(ts):
        with open(ts) as f:
            t = json.load(f)["timing"]
        res["train_step_bench_pairs_per_s"] = t["masktrack_pairs_per_s"]
    write(args, info, res)
    return 0


def write(args, info, res):
    paths = result_paths(args, NAME)
    cfg_name = os.path.relpath(args.config, ROOT)
    ts = res.get("train_step_bench_pairs_per_s")
    lines = [
        "# Data: frame-pair loader throughput vs the training step rate",
        "",
        *env_lines(info),
        "",
        f"Data: synthetic YouTube-VIS set, {res['dataset']['num_videos']} videos x {args.frames} "
        f"frames at {args.width}x{args.height} (JPEG), training split "
        f"{res['dataset']['num_train_videos']} videos, generated once under `output/bench/`. "
        "Loader: `build_frame_pair_train_loader(cfg)` with the base config "
        f"(`{cfg_name}`), SOLVER.IMS_PER_BATCH 1 (one pair per batch), "
        f"DATALOADER.NUM_WORKERS {res['workers']}. Model: MaskTrack R-CNN R-50 FPN training "
        "step (forward + backward + optimizer, batch 1, random weights) on a pair from the "
        f"loader. {args.blocks} alternating blocks of {args.pairs} loader pairs (after draining "
        f"the prefetch queue) and {args.steps} model steps; medians.",
        "",
        md_table(
            ["what", "pairs / s", "notes"],
            [[f"loader alone, {res['workers']} workers (cfg)", res["loader_pairs_per_s"],
              "blocks: " + ", ".join(f"{r:.1f}" for r in res["loader_rates"])
              + f"; first batch after {res['startup_s']:.1f} s (worker start)"],
             *[[f"loader alone, {w} worker{'s' if w != 1 else ''}", r,
                f"{args.pairs} pairs after the prefetch queue was drained"]
               for w, r in res["other_workers_pairs_per_s"].items()],
             ["model alone (training step)", res["model_pairs_per_s"],
              f"median step {1 / res['model_pairs_per_s']:.2f} s"
              + (f"; bench_train_step measured {ts:.3f} pairs/s" if ts else "")],
             ["loader + model together", res["together_pairs_per_s"],
              f"{args.together} iterations; data wait median "
              f"{1e3 * median(res['together_wait_s']):.0f} ms, "
              f"{100 * res['together_wait_fraction']:.1f}% of the time"]]),
        "",
        f"**Ratio loader / model = {res['ratio']:.1f}** (goal > {GOAL:g}: "
        f"{'met' if res['ratio'] > GOAL else 'missed'}).",
        "",
        f"The loader uses {res['workers']} worker processes, the model 2 torch threads; on the "
        "2-core machine they compete for the same cores, so the \"alone\" rates overstate "
        "what each gets during training. The \"together\" row is the real training loop: the "
        "time spent waiting for data is what the loader costs the training (0 = never the "
        "bottleneck); the workers prepare the next pairs while the model computes and slow "
        "it down only by the CPU they take.",
    ]
    data = {"env": info, "goal": GOAL, "ratio": res["ratio"], "results": res}
    write_report(paths, lines, data)


if __name__ == "__main__":
    sys.exit(main())
