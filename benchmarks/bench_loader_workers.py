"""Frame-pair loader throughput per worker on 1280x720 JPEG frames, and where a pair's time goes.

How many ``DATALOADER.NUM_WORKERS`` does a GPU need? A GPU trains the R-50 12-epoch
YouTube-VIS schedule at some number of frame pairs per second (the goal: 150); each loader
worker delivers a number of pairs per second on one core; the ratio is the answer. This
benchmark measures the second number on this machine's CPU.

Data: a synthetic YouTube-VIS set with 1280x720 JPEG frames, generated once under
``output/bench/`` (``generate_synthetic_ytvis(..., height=720, width=1280)``: masks as
uncompressed RLE in the json, the official set's encoding). Loader:
the real training loader, ``build_frame_pair_train_loader(cfg)``, with the R-50 table config
(``configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e.yaml``: resize to fit 640x360,
horizontal flip, bitmask GT), DATASETS.TRAIN set to the generated set and SOLVER.IMS_PER_BATCH
8 (a batch = 8 pairs, counted as 8).

Measured in one run, in rotating order per round:

* the loader with NUM_WORKERS 0 (the mapper in this process, 1 torch thread: the pure cost of
  one pair on one core), 1 and 2 workers: pairs/s over ``--batches`` batches after the
  prefetch queue was drained (each loader is started and warmed up first; between its blocks
  its idle workers only hold their 2 prefetched items each), and the CPU time its workers
  (read from /proc) and this process spent per pair;
* the mapper's stages on single pairs in this process (timers wrapped around the functions
  ``FramePairDatasetMapper.__call__`` calls): JPEG decode of key + reference frame, image
  resize + flip, RLE decode of the key frame's GT masks, mask resize + flip, building the
  Instances (boxes, BitMasks, ids), HWC -> CHW tensors; "other" is the rest of the call.

Reported: pairs/s per worker (the 1-worker loader; median and range over the rounds), the CPU
time per pair, and from them the number of workers a GPU needs at ``--goal`` (150) and
``--today`` (60) pairs/s.

    .venv/bin/python benchmarks/bench_loader_workers.py           # ~70 s on 2 cores
    .venv/bin/python benchmarks/bench_loader_workers.py --quick   # ~25 s
"""
import argparse
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.data import register_train_split, synthetic_dataset  # noqa: E402
from benchlib.models import masktrack_cfg  # noqa: E402
from benchlib.report import env_info, env_lines, md_table, result_paths, write_report  # noqa: E402
from benchlib.timing import median  # noqa: E402

NAME = "loader_workers"
R50_CONFIG = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
GOAL_PAIRS_S = 150.0  # GPU goal: R-50 12-epoch YouTube-VIS schedule on one GPU
TODAY_PAIRS_S = 60.0  # what a GPU trains at today
PREFETCH_FACTOR = 2  # torch DataLoader default: items requested ahead per worker
STAGES = ["JPEG decode (key + ref)", "image resize + flip (2 frames)", "GT masks: RLE decode",
          "GT masks: resize + flip", "Instances (boxes, BitMasks, ids)",
          "HWC -> CHW tensors (2 frames)", "other"]


# ------------------------------------------------------------------------------ data
def make_dataset(args):
    """The synthetic set (generated once, reused) and its registered training split."""
    info = synthetic_dataset(args.width, args.height, args.videos, args.frames, args.seed)
    name = f"bench_synthetic_{args.width}x{args.height}_v{args.videos}_f{args.frames}_train"
    return info, register_train_split(info, name)


def jpeg_stats(videos):
    sizes = [os.path.getsize(f) for v in videos for f in v["file_names"]]
    return {"frames": len(sizes), "mean_kb": sum(sizes) / len(sizes) / 1024,
            "min_kb": min(sizes) / 1024, "max_kb": max(sizes) / 1024}


# ------------------------------------------------------------------------------ CPU time
_TICK = os.sysconf("SC_CLK_TCK")


def child_pids():
    """Pids of this process's children (the loaders' workers), from /proc."""
    me, out = os.getpid(), set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[1]) == me:
            out.add(int(d))
    return out


def cpu_seconds(pids):
    """utime + stime of ``pids`` (s); a process that ended counts 0."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(rest[11]) + int(rest[12])
    return total / _TICK


# ------------------------------------------------------------------------------ stages
class StageClock:
    """CPU time of the calling thread (``time.thread_time``: time this process was
    descheduled by other jobs does not count) per stage through wrapped callables; a wrapped
    call inside another one is subtracted from the outer stage (stages add up). ``stage``
    may be a function of the call's arguments (one resize method serves frames and masks)."""

    def __init__(self):
        self.totals = {}
        self._stack = []
        self._patched = []

    def wrap(self, obj, attr, stage):
        orig = getattr(obj, attr)
        had_own = attr in vars(obj)
        clock = self

        def timed(*a, **k):
            name = stage(a) if callable(stage) else stage
            t0 = time.thread_time()
            clock._stack.append(0.0)
            try:
                return orig(*a, **k)
            finally:
                dt = time.thread_time() - t0
                child = clock._stack.pop()
                clock.totals[name] = clock.totals.get(name, 0.0) + dt - child
                if clock._stack:
                    clock._stack[-1] += dt

        setattr(obj, attr, timed)
        self._patched.append((obj, attr, orig, had_own))

    def restore(self):
        for obj, attr, orig, had_own in reversed(self._patched):
            if had_own:
                setattr(obj, attr, orig)
            else:
                delattr(obj, attr)
        self._patched = []


def time_stages(mapper, items):
    """Per pair mapped in this process: {stage: CPU seconds}, "total" (CPU s of the call) and
    "wall" (its wall time)."""
    from detectron2.data import detection_utils as utils
    from detectron2.data import transforms as T

    from masktrack_d2.data import augmentation, pair_mapper

    def by_ndim(a):  # (self, array, ...): frames are (H, W, 3), masks (H, W)
        return STAGES[1] if a[1].ndim == 3 else STAGES[3]

    clock = StageClock()
    clock.wrap(pair_mapper, "read_frame", STAGES[0])
    clock.wrap(mapper, "augmentations", STAGES[1])  # draws the resize + flip, applies to key
    for cls in (T.ResizeTransform, augmentation.CV2ResizeTransform, T.HFlipTransform):
        clock.wrap(cls, "apply_image", by_ndim)
        clock.wrap(cls, "apply_segmentation", lambda a: STAGES[3])
    clock.wrap(utils.mask_util, "decode", STAGES[2])
    for fn in ("transform_instance_annotations", "annotations_to_instances",
               "filter_empty_instances"):
        clock.wrap(utils, fn, STAGES[4])
    clock.wrap(pair_mapper, "to_chw_tensor", STAGES[5])
    out = []
    try:
        for item in items:
            clock.totals = {}
            c0, t0 = time.thread_time(), time.perf_counter()
            mapper(item)
            wall = time.perf_counter() - t0
            total = time.thread_time() - c0
            rec = {s: clock.totals.get(s, 0.0) for s in STAGES[:-1]}
            rec["other"] = total - sum(rec.values())
            rec["total"] = total
            rec["wall"] = wall
            out.append(rec)
    finally:
        clock.restore()
    return out


# ------------------------------------------------------------------------------ loaders
class TimedLoader:
    """One ``build_frame_pair_train_loader(cfg)`` iterator with its workers' pids."""

    def __init__(self, cfg, workers, batch):
        from masktrack_d2.data.build import build_frame_pair_train_loader

        c = cfg.clone()
        c.DATALOADER.NUM_WORKERS = workers
        self.workers, self.batch = workers, batch
        before = child_pids()
        t0 = time.perf_counter()
        self.it = iter(build_frame_pair_train_loader(c))
        first = next(self.it)  # forks the workers
        self.startup_s = time.perf_counter() - t0
        self.pids = child_pids() - before
        assert len(first) == batch and "ref_image" in first[0], "a batch must be frame pairs"
        assert len(self.pids) == workers, (workers, self.pids)
        self.first = first
        next(self.it)  # warm-up

    def block(self, batches):
        """Pairs/s over ``batches`` batches after draining the prefetch queue; CPU s / pair of
        the workers and of this process."""
        # Items the workers stored while idle: PREFETCH_FACTOR per worker. Pulling them and at
        # least one more batch leaves the queue empty and every worker busy.
        for _ in range(math.ceil(PREFETCH_FACTOR * self.workers / self.batch) + 1):
            next(self.it)
        w0, m0 = cpu_seconds(self.pids), time.process_time()
        t0 = time.perf_counter()
        for _ in range(batches):
            next(self.it)
        wall = time.perf_counter() - t0
        pairs = batches * self.batch
        return {"pairs_per_s": pairs / wall, "wall_s": wall, "pairs": pairs,
                "worker_cpu_s_per_pair": (cpu_seconds(self.pids) - w0) / pairs,
                "main_cpu_s_per_pair": (time.process_time() - m0) / pairs,
                "loadavg": os.getloadavg()[0]}


def settle(loaders, timeout=3.0):
    """Wait until every loader's workers are idle (their CPU time stops growing): after a
    block its workers still fill their prefetch queue, which would compete with the next
    block."""
    pids = set().union(*(ld.pids for ld in loaders))
    last, t_end = cpu_seconds(pids), time.perf_counter() + timeout
    still = 0
    while still < 2 and time.perf_counter() < t_end:
        time.sleep(0.05)
        now = cpu_seconds(pids)
        still = still + 1 if now == last else 0
        last = now


def spread(xs):
    return {"median": median(xs), "min": min(xs), "max": max(xs), "values": list(xs)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--workers", default="0,1,2", help="comma list of NUM_WORKERS to time")
    p.add_argument("--rounds", type=int, default=7, help="rounds (each times every entry once)")
    p.add_argument("--batches", type=int, default=8, help="timed batches per loader block")
    p.add_argument("--stage-pairs", type=int, default=8, help="pairs per stage-timing block")
    p.add_argument("--batch", type=int, default=8, help="SOLVER.IMS_PER_BATCH (pairs / batch)")
    p.add_argument("--goal", type=float, default=GOAL_PAIRS_S, help="GPU pairs/s to feed")
    p.add_argument("--today", type=float, default=TODAY_PAIRS_S, help="GPU pairs/s today")
    p.add_argument("--videos", type=int, default=6)
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--config", default=R50_CONFIG)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.batches, args.stage_pairs = 2, 2, 4
    if args.threads is None:
        args.threads = 1  # as in a loader worker (torch sets 1 thread there)
    setup_torch(args)
    info = env_info(args)

    import numpy as np

    from masktrack_d2.data.build import train_videos_and_items
    from masktrack_d2.data.pair_mapper import FramePairDatasetMapper, is_valid_annotation

    t0 = time.perf_counter()
    ds, dataset = make_dataset(args)
    print(f"data set ready in {time.perf_counter() - t0:.1f}s: {ds['image_root']}", flush=True)
    cfg = masktrack_cfg(args.config, ["DATASETS.TRAIN", f"('{dataset}',)",
                                      "SOLVER.IMS_PER_BATCH", str(args.batch)] + args.opts,
                        "cpu")
    videos, items = train_videos_and_items(cfg)
    jpeg = jpeg_stats(videos)
    gt = [sum(map(is_valid_annotation, videos[it["video_index"]]["annotations"][it["frame_idx"]]))
          for it in items]
    print(f"{len(videos)} training videos, {len(items)} key frames, {jpeg['frames']} JPEGs of "
          f"{jpeg['mean_kb']:.0f} KB on average, {sum(gt) / len(gt):.1f} GT per key frame",
          flush=True)

    worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
    if 1 not in worker_counts:
        raise SystemExit("--workers must include 1 (the per-worker rate)")
    loaders = {}
    for w in worker_counts:
        loaders[w] = TimedLoader(cfg, w, args.batch)
        print(f"{w} workers: first batch after {loaders[w].startup_s:.1f}s", flush=True)
    shape = tuple(loaders[worker_counts[0]].first[0]["image"].shape)
    mapper = FramePairDatasetMapper(cfg, videos, is_train=True)
    rng = np.random.RandomState(args.seed)
    time_stages(mapper, items[:2])  # warm-up
    settle(loaders.values())

    entries = [f"w{w}" for w in worker_counts] + ["stages"]
    blocks = {w: [] for w in worker_counts}
    stage_recs = []
    for r in range(args.rounds):
        k = r % len(entries)
        for e in entries[k:] + entries[:k]:
            if e == "stages":
                recs = time_stages(mapper, [items[int(i)] for i in
                                            rng.randint(len(items), size=args.stage_pairs)])
                stage_recs += recs
                print(f"round {r} stages: CPU {1e3 * median([x['total'] for x in recs]):.0f} ms "
                      f"per pair (wall {1e3 * median([x['wall'] for x in recs]):.0f} ms); load "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
            else:
                w = int(e[1:])
                b = loaders[w].block(args.batches)
                settle(loaders.values())
                blocks[w].append(b)
                print(f"round {r} {w} workers: {b['pairs_per_s']:.1f} pairs/s; CPU per pair "
                      f"{1e3 * b['worker_cpu_s_per_pair']:.0f} ms workers, "
                      f"{1e3 * b['main_cpu_s_per_pair']:.1f} ms main; load {b['loadavg']:.1f}",
                      flush=True)
    for ld in loaders.values():
        del ld.it
    loaders.clear()

    res = {"dataset": {k: ds[k] for k in ("num_videos", "num_train_videos", "num_annotations",
                                          "image_root")},
           "train_key_frames": len(items), "gt_per_key_frame": sum(gt) / len(gt),
           "jpeg": jpeg, "image_shape": list(shape), "batch": args.batch,
           "config": os.path.relpath(args.config, ROOT), "opts": args.opts,
           "resize_impl": cfg.INPUT.RESIZE_IMPL,
           "rounds": args.rounds, "batches_per_block": args.batches,
           "goal_pairs_per_s": args.goal, "today_pairs_per_s": args.today, "loaders": {}}
    for w in worker_counts:
        bs = blocks[w]
        res["loaders"][str(w)] = {
            "pairs_per_s": spread([b["pairs_per_s"] for b in bs]),
            "pairs_per_s_per_worker": spread([b["pairs_per_s"] / max(w, 1) for b in bs]),
            "worker_cpu_ms_per_pair": spread([1e3 * b["worker_cpu_s_per_pair"] for b in bs]),
            "main_cpu_ms_per_pair": spread([1e3 * b["main_cpu_s_per_pair"] for b in bs]),
            # cores' worth of CPU the mapping got during the block (rate x CPU per pair)
            "cores_used": spread([b["pairs_per_s"] * (b["worker_cpu_s_per_pair"] if w else
                                                      b["main_cpu_s_per_pair"]) for b in bs]),
            "loadavg": [b["loadavg"] for b in bs], "blocks": bs}
    keys = STAGES + ["total", "wall"]
    res["stages_ms"] = {s: spread([1e3 * x[s] for x in stage_recs]) for s in keys}
    res["stages_mean_ms"] = {s: 1e3 * statistics.fmean(x[s] for x in stage_recs) for s in keys}
    res["stage_pairs"] = len(stage_recs)
    res["workers_needed"] = workers_needed(res)
    write(args, info, res)
    return 0


def workers_needed(res):
    """Workers for the goal and today's rate, from the 1-worker rate (this machine, shared) and
    from the CPU time per pair (a core of this kind to each worker)."""
    L = res["loaders"]
    per_worker = L["1"]["pairs_per_s_per_worker"]["median"]
    cpu_ms = L["1"]["worker_cpu_ms_per_pair"]["median"]
    out = {"per_worker_pairs_s": per_worker, "worker_cpu_ms_per_pair": cpu_ms,
           "cpu_bound_pairs_s_per_core": 1e3 / cpu_ms}
    for key, rate in (("goal", res["goal_pairs_per_s"]), ("today", res["today_pairs_per_s"])):
        out[key] = {"pairs_per_s": rate,
                    "workers_measured_rate": math.ceil(rate / per_worker),
                    "workers_cpu_bound": math.ceil(rate * cpu_ms / 1e3),
                    "main_cpu_share": (rate * L[str(max(int(k) for k in L))]
                                       ["main_cpu_ms_per_pair"]["median"] / 1e3)}
    return out


def write(args, info, res):
    paths = result_paths(args, NAME)
    L, need = res["loaders"], res["workers_needed"]
    st, sm = res["stages_ms"], res["stages_mean_ms"]
    jp = res["jpeg"]

    def rng_s(d, fmt="{:.1f}"):
        return (fmt + " - " + fmt).format(d["min"], d["max"])

    rows = []
    for w, d in L.items():
        rows.append([
            f"{w} ({'in this process' if w == '0' else 'worker processes'})",
            d["pairs_per_s"]["median"], rng_s(d["pairs_per_s"]),
            d["pairs_per_s_per_worker"]["median"] if w != "0" else "-",
            (f"{d['worker_cpu_ms_per_pair']['median']:.0f}" if w != "0" else
             f"{d['main_cpu_ms_per_pair']['median']:.0f} (this process)"),
            f"{d['main_cpu_ms_per_pair']['median']:.1f}" if w != "0" else "-",
            f"{d['cores_used']['median']:.2f} ({rng_s(d['cores_used'], '{:.2f}')})",
            ", ".join(f"{x:.1f}" for x in d["loadavg"])])
    scale = ""
    if "1" in L and "2" in L:
        s = L["2"]["pairs_per_s"]["median"] / L["1"]["pairs_per_s"]["median"]
        c1, c2 = L["1"]["cores_used"]["median"], L["2"]["cores_used"]["median"]
        scale = (f" 2 workers deliver {s:.2f}x one worker's rate: they got {c2:.2f} cores' "
                 f"worth of CPU between them (1 worker: {c1:.2f}) on these 2 cores shared "
                 "with other jobs (load averages in the table), so the rate follows the cores "
                 "the workers get, at about the same CPU per pair.")
        res["scaling_2_over_1"] = s
    total = sm["total"]
    stage_rows = [[s, sm[s], st[s]["median"], f"{100 * sm[s] / total:.0f}%"] for s in STAGES]
    stage_rows.append(["**total (one pair, one core)**", total, st["total"]["median"], "100%"])
    stage_rows.append(["(wall time of the same calls)", sm["wall"], st["wall"]["median"], "-"])
    top = max(STAGES, key=lambda s: sm[s])
    g, t = need["goal"], need["today"]
    cfg_name = res["config"]
    lines = [
        "# Data: frame-pair loader throughput per worker, 1280x720 JPEG frames",
        "",
        *env_lines(info),
        "",
        f"Data: synthetic YouTube-VIS set, {res['dataset']['num_videos']} videos x "
        f"{args.frames} frames at {args.width}x{args.height} (JPEG quality 95, "
        f"{jp['mean_kb']:.0f} KB per frame on average, {jp['min_kb']:.0f}-{jp['max_kb']:.0f}), "
        f"training split {res['dataset']['num_train_videos']} videos / "
        f"{res['train_key_frames']} key frames, {res['gt_per_key_frame']:.1f} GT instances per "
        "key frame (uncompressed RLE in the json, as in YouTube-VIS), generated once under "
        "`output/bench/`. Loader: `build_frame_pair_train_loader(cfg)` with "
        f"`{cfg_name}` (resize to fit 640x360 -> network input "
        f"{res['image_shape'][2]}x{res['image_shape'][1]}, horizontal flip, bitmask GT; "
        f"INPUT.RESIZE_IMPL {res['resize_impl']}), "
        f"SOLVER.IMS_PER_BATCH {res['batch']} (a batch = {res['batch']} pairs). "
        f"{res['rounds']} rounds; per round, in rotating order, one block per worker count "
        f"({args.batches} batches = {args.batches * res['batch']} pairs, timed after the "
        "prefetch queue was drained) and one block of "
        f"{args.stage_pairs} pairs mapped in this process with stage timers. Medians and "
        "ranges over the rounds. CPU per pair: the workers' utime + stime (/proc) during the "
        "block; for 0 workers this process's (1 torch thread); the training process column is "
        "what receiving the pairs from the workers costs the process that trains. Cores used "
        "= pairs/s x CPU s per pair: how much of the machine the mapping got.",
        "",
        "## Pairs per second",
        "",
        md_table(["NUM_WORKERS", "pairs / s (median)", "range", "pairs / s per worker",
                  "CPU ms / pair (workers)", "CPU ms / pair (training process)",
                  "cores used (range)", "load avg per block"], rows),
        "",
        f"**One worker delivers {need['per_worker_pairs_s']:.1f} pairs/s** (median; range "
        f"{rng_s(L['1']['pairs_per_s'])} over {res['rounds']} rounds) on this shared machine, "
        f"and spends {need['worker_cpu_ms_per_pair']:.0f} ms of CPU per pair: "
        f"{need['cpu_bound_pairs_s_per_core']:.1f} pairs/s on a core of its own." + scale,
        "",
        "## Where a pair's time goes (in this process, one core)",
        "",
        md_table(["stage", "CPU ms / pair (mean)", "CPU ms / pair (median)", "share of the mean"],
                 stage_rows),
        "",
        f"{res['stage_pairs']} pairs; CPU time of the mapping thread (`time.thread_time`), so "
        "that time the process waited for a core held by other jobs does not count. JPEG "
        "decode = `read_frame` (PIL decode + RGB->BGR, detectron2's `read_image`) of the key "
        "and the reference frame at 1280x720; image "
        "resize + flip = drawing the augmentation and applying it to both frames; RLE "
        "decode = `pycocotools.mask.decode` of the key frame's GT at 1280x720; mask resize "
        "+ flip = `apply_segmentation` of those masks; Instances = the rest of "
        "`transform_instance_annotations` (boxes), `annotations_to_instances` (Boxes, "
        "BitMasks stacking) and `filter_empty_instances`, key and reference; HWC -> CHW = "
        "`to_chw_tensor` (a contiguous copy of each resized frame); other = the rest of the "
        f"mapper call (video record, reference sampling, annotation filter and copies). "
        f"Largest stage: {top} ({100 * sm[top] / total:.0f}%).",
        "",
        "## Workers a GPU needs",
        "",
        md_table(["GPU pairs / s", "workers at the measured rate", "workers if each has a core",
                  "training process CPU for receiving"],
                 [[f"{g['pairs_per_s']:.0f} (goal)", g["workers_measured_rate"],
                   g["workers_cpu_bound"], f"{100 * g['main_cpu_share']:.0f}% of a core"],
                  [f"{t['pairs_per_s']:.0f} (today)", t["workers_measured_rate"],
                   t["workers_cpu_bound"], f"{100 * t['main_cpu_share']:.0f}% of a core"]]),
        "",
        f"At {g['pairs_per_s']:.0f} pairs/s a GPU needs about {g['workers_cpu_bound']} loader "
        f"workers with a core each ({g['pairs_per_s']:.0f} x "
        f"{need['worker_cpu_ms_per_pair']:.1f} ms = "
        f"{g['pairs_per_s'] * need['worker_cpu_ms_per_pair'] / 1e3:.1f} cores; "
        f"{g['workers_measured_rate']} at the rate "
        f"measured on this shared machine), {t['workers_cpu_bound']} "
        f"({t['workers_measured_rate']}) at today's {t['pairs_per_s']:.0f}; the training "
        "process itself also needs a core, plus the 'receiving' share above. Caveat: "
        f"measured on {info['cpu']} ({info['cores']} cores shared with other jobs); a GPU "
        "host's cores differ in speed (clock, SIMD, memory bandwidth), JPEG decode time "
        f"grows with the file size (these frames: {jp['mean_kb']:.0f} KB on average) and the "
        f"mask stages with the instances per frame (here {res['gt_per_key_frame']:.1f}), so "
        "run `benchmarks/bench_loader_workers.py` on the GPU host before sizing its workers, "
        "and leave headroom.",
    ]
    data = {"env": info, "results": res}
    write_report(paths, lines, data)


if __name__ == "__main__":
    sys.exit(main())
