"""Benchmark 2: peak resident memory of video inference, long video vs short video.

A moving-shapes video is written once as JPEGs (default 600 frames of 1280x720) under
output/bench/. Each measurement runs in a fresh interpreter (``--child``) that builds the
model, maps the video record with ``VideoTestMapper`` (frames streamed from disk by
``VideoFrames``) and calls ``model([video])`` - i.e. ``MaskTrackRCNN.inference_video``, the
real path - on the first N frames; it reports its own peak RSS (VmHWM), its RSS
every few frames, and the size of the results (tracks, RLEs, bytes of RLE counts).

Default model: the CPU quickstart R-18 FPN config at 640x360 network input (MIN_SIZE_TEST
360, MAX_SIZE_TEST 640), random weights, score threshold 0 (every frame has
TEST.DETECTIONS_PER_IMAGE = 20 detections, so tracks exist and results accumulate): the R-50
model takes ~1-3 s per frame on 2 shared cores, 600 frames would take 10-30 min.

Two variants, each short and long: ``tracker`` (the model as it is; with random weights its
tracker keeps only 1-2 detections per frame, so results grow slowly) and ``all-kept`` (every
detection the tracker discards gets a fresh track id, benchlib.models.keep_all: 20 masks per frame
are pasted at 720p, RLE-encoded and kept, and thousands of tracks exist - the stress case for
the results' growth).
``--config configs/Base-MaskTrack-RCNN-FPN.yaml --min-size 360 --max-size 640`` runs it with
R-50.

    .venv/bin/python benchmarks/bench_video_memory.py            # 600 vs 30 frames, ~3-5 min
    .venv/bin/python benchmarks/bench_video_memory.py --quick    # 150 vs 30 frames
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import (  # noqa: E402
    CACHE_DIR, QUICKSTART_CONFIG, ROOT, add_common_args, setup_torch)
from benchlib.memory import child_result, current_rss_mb, peak_rss_mb, run_child  # noqa: E402
from benchlib.models import build_random_model, keep_all, masktrack_cfg  # noqa: E402
from benchlib.report import (  # noqa: E402
    env_info, env_lines, md_table, result_paths, save_plot, write_report)
from benchlib.timing import median, sync  # noqa: E402
from benchlib.video import write_jpeg_video  # noqa: E402

NAME = "video_memory"
GOAL = 1.2


def build_cfg(args):
    opts = ["INPUT.MIN_SIZE_TEST", str(args.min_size), "INPUT.MAX_SIZE_TEST", str(args.max_size),
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(args.score_thresh)]
    if args.dets:
        opts += ["TEST.DETECTIONS_PER_IMAGE", str(args.dets)]
    return masktrack_cfg(args.config, opts + args.opts, args.device)


def child_main(args):
    """One measurement: inference over the first ``args.frames`` frames, in this process."""
    import torch

    from masktrack_d2.data.video_mapper import VideoTestMapper

    t_start = time.perf_counter()
    cfg = build_cfg(args)
    model = build_random_model(cfg, seed=args.seed)
    if args.keep_all:
        keep_all(model.tracker)
    video = write_jpeg_video(args.frames, args.height, args.width, seed=args.seed)
    mapped = VideoTestMapper(cfg)(video)
    rss_model = current_rss_mb()
    peak_model = peak_rss_mb()

    samples = []  # (frame index, current RSS MB, peak RSS MB)

    class Sampled:
        """The mapper's frames, passed through unchanged, sampling RSS as they are taken."""

        def __init__(self, frames):
            self.frames = frames

        def __len__(self):
            return len(self.frames)

        def __iter__(self):
            for i, f in enumerate(self.frames):
                if i % args.sample_every == 0:
                    samples.append((i, current_rss_mb(), peak_rss_mb()))
                yield f

    mapped["frames"] = Sampled(mapped["frames"])
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model([mapped])[0]
    sync(args.device)
    t_inf = time.perf_counter() - t0
    samples.append((args.frames, current_rss_mb(), peak_rss_mb()))

    tracks = out["tracks"]
    segs = [s for t in tracks for s in t["segmentations"] if s is not None]
    child_result({
        "frames": args.frames,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_build_mb": rss_model,
        "peak_after_build_mb": peak_model,
        "rss_end_mb": current_rss_mb(),
        "cuda_peak_mb": (torch.cuda.max_memory_allocated() / 2 ** 20
                         if args.device == "cuda" else None),
        "inference_s": t_inf,
        "s_per_frame": t_inf / args.frames,
        "total_s": time.perf_counter() - t_start,
        "tracks": len(tracks),
        "rles": len(segs),
        "rle_bytes": sum(len(s["counts"]) for s in segs),
        "samples": samples,
    })


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--long", type=int, default=600, help="frames of the long video")
    p.add_argument("--short", type=int, default=30, help="frames of the short video")
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--config", default=QUICKSTART_CONFIG)
    p.add_argument("--min-size", type=int, default=360)
    p.add_argument("--max-size", type=int, default=640)
    p.add_argument("--score-thresh", type=float, default=0.0)
    p.add_argument("--dets", type=int, default=0, help="TEST.DETECTIONS_PER_IMAGE (0: the cfg's)")
    p.add_argument("--repeats", type=int, default=1, help="children per length")
    p.add_argument("--variants", default="tracker,all-kept",
                   help="comma list of tracker / all-kept")
    p.add_argument("--keep-all", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--sample-every", type=int, default=10)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.quick:
        args.long = min(args.long, 150)
    setup_torch(args)
    if args.child:
        child_main(args)
        return 0
    info = env_info(args)

    t0 = time.perf_counter()
    write_jpeg_video(max(args.long, args.short), args.height, args.width, seed=args.seed)
    gen_s = time.perf_counter() - t0
    print(f"frames ready in {CACHE_DIR} ({gen_s:.1f}s)", flush=True)

    passthrough = ["--device", args.device, "--threads", args.threads, "--seed", args.seed,
                   "--height", args.height, "--width", args.width, "--config", args.config,
                   "--min-size", args.min_size, "--max-size", args.max_size,
                   "--score-thresh", args.score_thresh, "--dets", args.dets,
                   "--sample-every", args.sample_every]
    runs = {}
    for variant in args.variants.split(","):
        runs[variant] = {"short": [], "long": []}
        extra = ["--keep-all"] if variant == "all-kept" else []
        for _ in range(args.repeats):
            for which, n in (("short", args.short), ("long", args.long)):
                r = run_child(__file__, passthrough + extra + ["--frames", n]
                                     + list(args.opts))
                print(f"{variant}, {which} ({n} frames): peak RSS {r['peak_rss_mb']:.0f} MB, "
                      f"{r['s_per_frame']:.2f} s/frame, {r['tracks']} tracks, {r['rles']} RLEs, "
                      f"{r['rle_bytes'] / 2 ** 20:.2f} MB of RLE", flush=True)
                runs[variant][which].append(r)
    write(args, info, runs, gen_s)
    return 0


def write(args, info, runs, gen_s):
    med = median
    res = {}
    for variant, vr in runs.items():
        peak = {k: med([r["peak_rss_mb"] for r in v]) for k, v in vr.items()}
        base = {k: med([r["peak_after_build_mb"] for r in v]) for k, v in vr.items()}
        res[variant] = {"peak": peak, "base": base, "ratio": peak["long"] / peak["short"],
                        "growth": {k: peak[k] - base[k] for k in vr},
                        "last": {k: v[-1] for k, v in vr.items()}}
    cfg_name = os.path.relpath(args.config, ROOT)
    paths = result_paths(args, NAME)
    rows = []
    for variant, x in res.items():
        for k in ("short", "long"):
            r = x["last"][k]
            rows.append([variant, r["frames"], x["peak"][k], x["base"][k], x["growth"][k],
                         r["s_per_frame"], r["tracks"], r["rles"], r["rle_bytes"]])
    lines = [
        "# Memory of video inference: long video vs short video",
        "",
        *env_lines(info),
        "",
        f"Video: {args.long} moving-shapes frames at {args.width}x{args.height} written once as "
        f"JPEG under `output/bench/`; the short video is its first {args.short} frames. Model: "
        f"`{cfg_name}` {' '.join(args.opts)} with MIN_SIZE_TEST {args.min_size} / "
        f"MAX_SIZE_TEST {args.max_size}, random weights, SCORE_THRESH_TEST {args.score_thresh} "
        "("
        + (f"TEST.DETECTIONS_PER_IMAGE {args.dets}" if args.dets else "the cfg's detection budget")
        + " per frame). Each run is a fresh interpreter: build the model, `VideoTestMapper` -> "
        "`model([video])` (`inference_video`: frames read lazily from disk by `VideoFrames`, "
        "masks pasted at the original 720p and RLE-encoded per frame, per-track results "
        "formatted at the end); peak = the child's own VmHWM (high-water RSS of its address "
        "space)."
        + ("" if "R_18" not in cfg_name else
           " R-18 quickstart model instead of R-50: the R-50 model needs ~1-3 s per frame on "
           "the shared 2 cores, 600 frames would take 10-30 min."),
        "",
        "Variants: `tracker` = the model as it is (with random weights its tracker keeps only "
        "1-2 of the 20 detections per frame, so results grow slowly); `all-kept` = every "
        "detection the tracker discards gets a fresh track id after the real tracker step "
        "(benchlib.models.keep_all): all 20 masks per frame are pasted, encoded and kept, and a new "
        "track appears for most of them - the stress case for the results' growth.",
        "",
        md_table(
            ["variant", "frames", "peak RSS (MB)", "peak after model build (MB)",
             "growth during inference (MB)", "s / frame", "tracks", "RLEs", "RLE bytes"], rows),
        "",
    ]
    for variant, x in res.items():
        lg = x["last"]["long"]
        lines.append(
            f"* `{variant}`: **peak RSS ratio long / short = {x['ratio']:.3f}** (goal <= {GOAL}: "
            f"{'met' if x['ratio'] <= GOAL else 'missed'}); growth during inference "
            f"{x['growth']['short']:.0f} MB (short) vs {x['growth']['long']:.0f} MB (long); the "
            f"long video's results hold {lg['rle_bytes'] / 2 ** 20:.2f} MB of RLE counts "
            f"({lg['rles']} masks in {lg['tracks']} tracks).")
    if args.device == "cuda":
        lines += ["", "CUDA peak allocated: " + ", ".join(
            f"{v} {k} {x['last'][k]['cuda_peak_mb']:.0f} MB" for v, x in res.items()
            for k in ("short", "long")) + "."]
    lines += ["", f"![RSS over the video]({os.path.basename(paths['png'])})"]
    data = {"env": info, "goal": GOAL, "variants": {
        v: {k: x[k] for k in ("peak", "base", "ratio", "growth")} for v, x in res.items()},
        "runs": runs}
    write_report(paths, lines, data)

    def draw(fig, ax):
        for variant, x in res.items():
            for k, style in (("long", "-"), ("short", ":")):
                s = x["last"][k]["samples"]
                ax.plot([p[0] for p in s], [p[1] for p in s], style,
                        label=f"{variant}, {k}: current RSS")
        ax.set_xlabel("frame")
        ax.set_ylabel("MB")
        ax.set_title(f"RSS during video inference ({args.width}x{args.height} JPEGs)")
        ax.legend(fontsize=8)

    save_plot(paths["png"], draw)


if __name__ == "__main__":
    sys.exit(main())
