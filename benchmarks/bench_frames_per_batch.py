"""TEST.FRAMES_PER_BATCH (K frames of a video through the detector at once): whole-process
time of the two commands users run, per K, and the demo's peak memory on a long video.

What is measured, each command a fresh process started here (imports, model build, checkpoint
load, data, inference, writing included), with ``OMP_WAIT_POLICY=PASSIVE`` and
``OMP_NUM_THREADS`` = ``--threads`` (default: the cores this process may use):

* ``eval``: ``train_net.py --eval-only`` with the quickstart config on the quickstart's
  held-out split (``ytvis_synthetic_val``: the default generated set, written once under
  ``output/bench/frames_per_batch/datasets/synthetic`` by ``python -m masktrack_d2.data.synthetic``
  and found through ``DETECTRON2_DATASETS``);
* ``demo``: ``demo.py --video-input`` a generated moving-shapes clip (default 300 frames at
  the quickstart's 320x192, mp4v) ``--output`` an mp4 and ``--json`` the YouTube-VIS results;

for every K of ``--ks`` (default 1, 2, 4), interleaved over ``--rounds`` (default 3; the order
of the Ks rotates from round to round), after one unmeasured warm-up run of each command. The
ratio K / K=1 is the median of the per-round ratios. Beside the whole-process time: the
commands' own in-process figures (detectron2's inference timer for ``eval``, the demo's
frames/s), labelled as such.

Then the demo's peak RSS with ``--json`` only, on a ``--long`` (default 600) and a ``--short``
(default 30) frame clip (the short clip is the long one's first frames) for the Ks of
``--mem-ks`` (default 1 and 4): each run is a fresh interpreter (``--child`` mode of this
script) that runs demo.py as ``__main__`` and then reads its own VmHWM (benchlib.memory);
``--mem-repeats N`` runs each N times (the peak's median and range).

The model: no trained quickstart checkpoint is shipped, so the checkpoint has random weights
with calibrated backbone norms (``python tools/calibrated_init.py``, written once),
and the score threshold is 0 (``--score-thresh``) so that every frame has detections.

``--baseline REV`` adds a variant ``before``: the same commands from the tree at REV
(extracted with ``git archive`` under output/bench/, its own train_net.py / demo.py run, so
its package is imported; no TEST.FRAMES_PER_BATCH key), e.g. ``--baseline b546b9b~1``: the
code before K existed.

    .venv/bin/python benchmarks/bench_frames_per_batch.py           # 7.7 / 9.1 min, load 3-5 / 5-7
    .venv/bin/python benchmarks/bench_frames_per_batch.py --quick   # 1 round, 60 / 150-frame clips
    .venv/bin/python benchmarks/bench_frames_per_batch.py --baseline b546b9b~1 --mem-repeats 2

``--device cuda`` passes MODEL.DEVICE cuda to the commands (results get a ``_cuda`` suffix).
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import (  # noqa: E402
    CACHE_DIR, QUICKSTART_CONFIG, ROOT, add_common_args, setup_torch)
from benchlib.memory import CHILD_TAG, child_result, peak_rss_mb  # noqa: E402
from benchlib.report import env_info, env_lines, md_table, result_paths, write_report  # noqa: E402
from benchlib.timing import median  # noqa: E402

NAME = "frames_per_batch"
MEM_GOAL = 1.2
WORK = os.path.join(CACHE_DIR, NAME)
DATA_ROOT = os.path.join(WORK, "datasets")  # DETECTRON2_DATASETS of the children
TEST_SET = "ytvis_synthetic_val"
TRAIN_SET = "ytvis_synthetic_train"
DEMO = os.path.join(ROOT, "demo.py")
TRAIN_NET = os.path.join(ROOT, "train_net.py")


# ------------------------------------------------------------------------------ child mode
def child_main(demo_argv):
    """Run demo.py as ``__main__`` in this process, then report this process's VmHWM, with
    (seconds, current RSS, VmHWM) sampled every 0.25 s by a thread (where the peak is
    reached: early and flat, or growing with the video)."""
    import runpy
    import threading

    from benchlib.memory import current_rss_mb

    sys.argv = [DEMO] + list(demo_argv)
    t0 = time.perf_counter()
    samples = []
    done = threading.Event()

    def sample():
        while not done.wait(0.25):
            samples.append((time.perf_counter() - t0, current_rss_mb(), peak_rss_mb()))

    threading.Thread(target=sample, daemon=True).start()
    try:
        runpy.run_path(DEMO, run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    done.set()
    sys.stdout.flush()
    if code:
        return code
    child_result({"peak_rss_mb": peak_rss_mb(), "demo_s": time.perf_counter() - t0,
                  "samples": samples})
    return 0


# ------------------------------------------------------------------------------ inputs
def child_env(args, pythonpath=None):
    env = dict(os.environ)
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["OMP_NUM_THREADS"] = str(args.threads)
    env["MKL_NUM_THREADS"] = str(args.threads)
    env["DETECTRON2_DATASETS"] = DATA_ROOT
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [pythonpath] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


def prepare_data(args):
    """The quickstart's default generated set (written once; the generator is deterministic)."""
    d = os.path.join(DATA_ROOT, "synthetic")
    if not all(os.path.exists(os.path.join(d, f)) for f in ("train.json", "val.json")):
        subprocess.run([sys.executable, "-m", "masktrack_d2.data.synthetic"], cwd=ROOT,
                       env=child_env(args), check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(d, "val.json")) as f:
        return [v["length"] for v in json.load(f)["videos"]]


def prepare_checkpoint(args):
    """Random weights (the config's SEED), backbone norms calibrated on training frames."""
    path = os.path.join(WORK, "calibrated_init.pth")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "calibrated_init.py"),
                        "--config-file", args.config, "--out", path,
                        "DATASETS.TRAIN", f"('{TRAIN_SET}',)"],
                       cwd=ROOT, env=child_env(args), check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    return path


def prepare_clip(args, n):
    """A moving-shapes clip of ``n`` frames (mp4v, 6 fps), written once; shorter clips are
    the first frames of longer ones (same seed and size)."""
    import cv2
    import numpy as np

    from benchlib.video import moving_shapes_frames

    path = os.path.join(WORK, f"clip_{args.width}x{args.height}_s{args.seed}_{n}.mp4")
    if not os.path.exists(path):
        tmp = path[:-4] + ".tmp.mp4"
        w = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (args.width, args.height))
        for frame in moving_shapes_frames(n, args.height, args.width, seed=args.seed):
            w.write(np.ascontiguousarray(frame))
        w.release()
        cap = cv2.VideoCapture(tmp)
        got = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        if got != n:
            raise RuntimeError(f"{tmp}: wrote {n} frames, the file says {got}")
        os.replace(tmp, path)
    return path


def prepare_baseline(rev):
    """The tree at ``rev`` under output/bench/ (git archive); built extensions copied over
    from this tree where their C source is the same at ``rev``."""
    sha = subprocess.run(["git", "rev-parse", rev], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True, check=True).stdout.strip()
    d = os.path.join(WORK, f"src_{sha[:12]}")
    marker = os.path.join(d, ".complete")
    if not os.path.exists(marker):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        archive = subprocess.run(["git", "archive", sha], cwd=ROOT, stdout=subprocess.PIPE,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", d], input=archive, check=True)
        for so in glob.glob(os.path.join(ROOT, "masktrack_d2", "**", "*.so"), recursive=True):
            rel = os.path.relpath(so, ROOT)
            src = os.path.join(os.path.dirname(rel), os.path.basename(rel).split(".")[0] + ".c")
            same = subprocess.run(["git", "diff", "--quiet", sha, "--", src], cwd=ROOT).returncode
            if same == 0 and os.path.exists(os.path.join(d, src)):
                shutil.copy2(so, os.path.join(d, rel))
            else:
                print(f"baseline: {src} differs at {rev}; {rel} not copied", flush=True)
        open(marker, "w").close()
    # The commands run <root>/train_net.py and <root>/demo.py: their folder comes first on
    # sys.path, before this tree's editable install.
    check = ("import sys; sys.path.insert(0, sys.argv[1]); import masktrack_d2; "
             "print(masktrack_d2.__file__)")
    where = subprocess.run([sys.executable, "-c", check, d], cwd=ROOT, stdout=subprocess.PIPE,
                           text=True, check=True).stdout.strip()
    if not where.startswith(d + os.sep):
        raise RuntimeError(f"the baseline tree imports masktrack_d2 from {where}, not {d}")
    return {"rev": rev, "sha": sha, "root": d}


# ------------------------------------------------------------------------------ commands
class Variant:
    def __init__(self, name, k=None, root=ROOT):
        self.name, self.k, self.root = name, k, root

    @property
    def pythonpath(self):
        return None if self.root == ROOT else self.root

    def k_opts(self):
        return [] if self.k is None else ["TEST.FRAMES_PER_BATCH", str(self.k)]

    def config(self, args):
        return os.path.join(self.root, os.path.relpath(args.config, ROOT))


def eval_out(v):
    return os.path.join(WORK, "eval", v.name)


def eval_cmd(args, v, ckpt):
    out = eval_out(v)
    return [sys.executable, os.path.join(v.root, "train_net.py"), "--eval-only",
            "--config-file", v.config(args),
            "MODEL.WEIGHTS", ckpt, "MODEL.DEVICE", args.device,
            "MODEL.ROI_HEADS.SCORE_THRESH_TEST", str(args.score_thresh),
            "DATASETS.TEST", f"('{TEST_SET}',)", "OUTPUT_DIR", out] + v.k_opts()


def demo_args(args, v, ckpt, clip, tag, video_out=True):
    base = os.path.join(WORK, "demo", f"{v.name}_{tag}")
    os.makedirs(os.path.dirname(base), exist_ok=True)
    out = ["--output", base + ".mp4"] if video_out else []
    return (["--config-file", v.config(args), "--video-input", clip] + out
            + ["--json", base + ".json", "--confidence-threshold", str(args.score_thresh),
               "--no-progress", "--opts", "MODEL.WEIGHTS", ckpt, "MODEL.DEVICE", args.device]
            + v.k_opts())


def run_process(cmd, env, log_path):
    """Whole-process wall time and CPU time (user + system of the child, os.wait4) of
    ``cmd``; stdout and stderr to ``log_path``. Returns (wall s, cpu s, log text)."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    load = os.getloadavg()[0]
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(log_path) as f:
        text = f.read()
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{text[-3000:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "load1": load}, text


def parse_eval(text, out_dir, val_lengths):
    """detectron2's in-process timer and what the results hold."""
    r = {}
    m = re.search(r"Total inference time: \S+ \(([\d.]+) s / iter per device", text)
    if m:
        # inference_on_dataset starts its timer after min(5, n - 1) warm-up iterations
        # (videos here): the rate covers the videos after those.
        warm = min(5, len(val_lengths) - 1)
        timed = val_lengths[warm:]
        r["inproc_s_per_video"] = float(m.group(1))
        r["inproc_frames_timed"] = sum(timed)
        r["inproc_fps"] = sum(timed) / (float(m.group(1)) * len(timed))
    m = re.search(r"copypaste: ([\d.nan]+(?:,[\d.nan]+)+)\s*$", text, re.M)
    if m:
        r["ap"] = float(m.group(1).split(",")[0])
    res = os.path.join(out_dir, "inference", TEST_SET, "results.json")
    with open(res) as f:
        tracks = json.load(f)
    per_frame = {}
    for t in tracks:
        for i, s in enumerate(t["segmentations"]):
            if s:
                key = (t["video_id"], i)
                per_frame[key] = per_frame.get(key, 0) + 1
    r["tracks"] = len(tracks)
    r["frames_with_masks"] = len(per_frame)
    r["masks_per_frame_min"] = min(per_frame.values()) if per_frame else 0
    r["masks_per_frame_max"] = max(per_frame.values()) if per_frame else 0
    return r


def parse_demo(text):
    m = re.search(r"(\d+) frames, (\d+) tracks, ([\d.]+) frames/s", text)
    if not m:
        raise RuntimeError(f"demo printed no summary:\n{text[-2000:]}")
    return {"frames": int(m.group(1)), "tracks": int(m.group(2)), "inproc_fps": float(m.group(3))}


# ------------------------------------------------------------------------------ main
def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ks", default="1,2,4", help="comma list of TEST.FRAMES_PER_BATCH (1 first)")
    p.add_argument("--mem-ks", default="1,4", help="Ks of the memory runs ('' to skip them)")
    p.add_argument("--clip-frames", type=int, default=300, help="frames of the demo's timed clip")
    p.add_argument("--mem-repeats", type=int, default=1,
                   help="memory runs per K and length (the peak is a median over them)")
    p.add_argument("--long", type=int, default=600, help="frames of the memory run's long clip")
    p.add_argument("--short", type=int, default=30, help="frames of the memory run's short clip")
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--config", default=QUICKSTART_CONFIG)
    p.add_argument("--score-thresh", type=float, default=0.0)
    p.add_argument("--baseline", default=None, metavar="REV",
                   help="also run the tree at this git revision (variant 'before')")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite <out-dir>/frames_per_batch.md from its .json (no runs)")
    args = p.parse_args(argv)
    if args.report_only:
        return rewrite_report(args)
    if args.quick:
        args.rounds = 1
        args.clip_frames = min(args.clip_frames, 60)
        args.long = min(args.long, 150)
    ks = [int(k) for k in args.ks.split(",")]
    if ks[0] != 1:
        raise SystemExit("--ks must start with 1 (the reference of the ratios)")
    mem_ks = [int(k) for k in args.mem_ks.split(",") if k]
    args.config = os.path.abspath(args.config)
    setup_torch(args)
    info = env_info(args)

    t0 = time.perf_counter()
    os.makedirs(WORK, exist_ok=True)
    val_lengths = prepare_data(args)
    ckpt = prepare_checkpoint(args)
    clip = prepare_clip(args, args.clip_frames)
    mem_clips = {n: prepare_clip(args, n) for n in ((args.short, args.long) if mem_ks else ())}
    variants = [Variant(f"K={k}", k) for k in ks]
    baseline = None
    if args.baseline:
        baseline = prepare_baseline(args.baseline)
        variants.insert(0, Variant("before", None, baseline["root"]))
    print(f"inputs ready in {os.path.relpath(WORK, ROOT)} ({time.perf_counter() - t0:.1f} s)",
          flush=True)

    def run(path, v, tag, clip_path=clip):
        env = child_env(args, v.pythonpath)
        log = os.path.join(WORK, "logs", f"{path}_{v.name}_{tag}.log")
        if path == "eval":
            cmd = eval_cmd(args, v, ckpt)
            r, text = run_process(cmd, env, log)
            r.update(parse_eval(text, eval_out(v), val_lengths))
        else:
            cmd = [sys.executable, DEMO if v.root == ROOT else os.path.join(v.root, "demo.py")]
            cmd += demo_args(args, v, ckpt, clip_path, tag)
            r, text = run_process(cmd, env, log)
            r.update(parse_demo(text))
        return r, cmd

    # Warm-up (page cache: interpreter, torch, detectron2, checkpoint, data), not measured.
    run("eval", variants[-1], "warmup")
    run("demo", variants[-1], "warmup", mem_clips.get(args.short) or clip)

    paths = ("eval", "demo")
    runs = {pth: {v.name: [] for v in variants} for pth in paths}
    commands = {}
    for rnd in range(args.rounds):
        s = rnd % len(variants)
        order = variants[s:] + variants[:s]
        for pth in paths:
            for v in order:
                r, cmd = run(pth, v, "timed")
                r["round"] = rnd
                runs[pth][v.name].append(r)
                commands[f"{pth} {v.name}"] = " ".join(os.path.relpath(c, ROOT) if
                                                        c.startswith(ROOT) else c for c in cmd)
                extra = (f", in-process {r['inproc_fps']:.1f} frames/s"
                         if "inproc_fps" in r else "")
                print(f"round {rnd} {pth:4s} {v.name:6s}: {r['wall_s']:6.2f} s wall, "
                      f"{r['cpu_s']:6.2f} s CPU{extra}, {r['tracks']} tracks "
                      f"(load {r['load1']:.1f})", flush=True)

    mem = {}
    for rep in range(args.mem_repeats if mem_ks else 0):
        for k in mem_ks:
            mem_run(args, Variant(f"K={k}", k), ckpt, mem_clips, mem, commands, rep)

    write(args, info, variants, runs, mem, commands, baseline, val_lengths,
          time.perf_counter() - t0)
    return 0


def mem_run(args, v, ckpt, mem_clips, mem, commands, rep):
    """The demo with --json only on the short and the long clip, each a fresh ``--child``."""
    for which, n in (("short", args.short), ("long", args.long)):
        cmd = [sys.executable, os.path.abspath(__file__), "--child"]
        cmd += demo_args(args, v, ckpt, mem_clips[n], f"mem{n}", video_out=False)
        log = os.path.join(WORK, "logs", f"memory_{v.name}_{n}.log")
        r, text = run_process(cmd, child_env(args), log)
        r.update(parse_demo(text))
        lines = [ln for ln in text.splitlines() if ln.startswith(CHILD_TAG)]
        if not lines:
            raise RuntimeError(f"memory child reported nothing:\n{text[-2000:]}")
        r.update(json.loads(lines[-1][len(CHILD_TAG):]))
        r["repeat"] = rep
        mem.setdefault(v.name, {}).setdefault(which, []).append(r)
        commands[f"memory {v.name} {n}"] = " ".join(
            os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)
        print(f"memory {v.name} {n:4d} frames: peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['wall_s']:.1f} s wall, in-process {r['inproc_fps']:.1f} frames/s, "
              f"{r['tracks']} tracks", flush=True)


def rewrite_report(args):
    """The .md again from the .json of an earlier run (its settings, runs and environment)."""
    if args.device is None:
        args.device = "cpu"
    with open(result_paths(args, NAME)["json"]) as f:
        data = json.load(f)
    for k, v in data["settings"].items():
        setattr(args, k, v)
    args.config = os.path.join(ROOT, data["config"])
    names = sorted(data["runs"]["eval"], key=lambda n: -1 if n == "before" else int(n[2:]))
    variants = [Variant(n, None if n == "before" else int(n[2:])) for n in names]
    write(args, data["env"], variants, data["runs"], data.get("memory_runs", {}),
          data["commands"], data["baseline"], data["val_lengths"], data["total_s"])
    return 0


def summarise(runs, variants, ref="K=1"):
    out = {}
    for pth, by_v in runs.items():
        out[pth] = {}
        ref_runs = {r["round"]: r for r in by_v[ref]}
        for v in variants:
            rs = by_v[v.name]
            ratios = [r["wall_s"] / ref_runs[r["round"]]["wall_s"] for r in rs]
            cpu_ratios = [r["cpu_s"] / ref_runs[r["round"]]["cpu_s"] for r in rs]
            x = {"wall_s": median([r["wall_s"] for r in rs]),
                 "wall_min_s": min(r["wall_s"] for r in rs),
                 "wall_max_s": max(r["wall_s"] for r in rs),
                 "cpu_s": median([r["cpu_s"] for r in rs]),
                 "ratio": median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
                 "ratios": ratios,
                 "cpu_ratio": median(cpu_ratios), "cpu_ratio_min": min(cpu_ratios),
                 "cpu_ratio_max": max(cpu_ratios), "cpu_ratios": cpu_ratios,
                 "tracks": sorted({r["tracks"] for r in rs})}
            if all("inproc_fps" in r for r in rs):
                x["inproc_fps"] = median([r["inproc_fps"] for r in rs])
                x["inproc_ratio"] = median(
                    [ref_runs[r["round"]]["inproc_fps"] / r["inproc_fps"] for r in rs])
            out[pth][v.name] = x
    return out


def decide(summary, ks, rounds):
    """Per path: the K with the lowest median whole-process time, and whether it is faster
    than K=1 by more than the round-to-round spread of its ratio: faster in every round, and
    1 - median ratio > max - min of the per-round ratios (needs 2 rounds or more). The same
    rule on the CPU-time ratios beside it. The CPU default: the K that is clearly faster in
    whole-process time on every path, else 1."""
    names = [f"K={k}" for k in ks]

    def verdict(s, key):
        best = min(names, key=lambda n: s[n][key])
        ratio = "ratio" if key == "wall_s" else "cpu_ratio"
        x = s[best]
        spread = x[ratio + "_max"] - x[ratio + "_min"]
        clear = (rounds >= 2 and best != "K=1" and x[ratio + "_max"] < 1.0
                 and (1.0 - x[ratio]) > spread)
        return {"fastest": best, "ratio": x[ratio], "spread": spread, "clear": clear}

    per_path = {pth: {"wall": verdict(s, "wall_s"), "cpu": verdict(s, "cpu_s")}
                for pth, s in summary.items()}
    winners = {d["wall"]["fastest"] for d in per_path.values()}
    default = 1
    if len(winners) == 1 and all(d["wall"]["clear"] for d in per_path.values()):
        default = int(winners.pop().split("=")[1])
    return per_path, default


def peak_reached(r, frac=0.99):
    """Seconds into the demo when VmHWM first reached ``frac`` of its final value."""
    final = r["peak_rss_mb"]
    for t, _, hwm in r.get("samples", []):
        if hwm >= frac * final:
            return t
    return r.get("demo_s", float("nan"))


def write(args, info, variants, runs, mem, commands, baseline, val_lengths, total_s):
    ks = [v.k for v in variants if v.name.startswith("K=")]
    summary = summarise(runs, variants)
    per_path, default = decide(summary, ks, args.rounds)
    loads = [r["load1"] for by_v in runs.values() for rs in by_v.values() for r in rs]
    loads += [r["load1"] for by_w in mem.values() for rs in by_w.values() for r in rs]
    cfg_name = os.path.relpath(args.config, ROOT)
    e = runs["eval"]["K=1"][0]
    lines = [
        "# TEST.FRAMES_PER_BATCH: whole-process time of `--eval-only` and `demo.py`, and the "
        "demo's memory, per K",
        "",
        " ".join(env_lines(info)) + f" 1-min load average when each measured run started: "
        f"{min(loads):.1f}-{max(loads):.1f}.",
        "",
        f"Every number is a fresh process started by the benchmark (`subprocess`; imports, model "
        f"build, checkpoint load, data, inference and writing included) with "
        f"OMP_WAIT_POLICY=PASSIVE and OMP_NUM_THREADS={args.threads}. Model: `{cfg_name}` "
        "with a checkpoint of random weights whose backbone norms are calibrated "
        "(`python tools/calibrated_init.py`, no trained quickstart model here) "
        f"and **score threshold {args.score_thresh}** (MODEL.ROI_HEADS.SCORE_THRESH_TEST; the "
        "demo's --confidence-threshold) so that every frame has detections: on the held-out "
        f"split {e['frames_with_masks']} of {sum(val_lengths)} frames have kept masks, "
        f"{e['masks_per_frame_min']}-{e['masks_per_frame_max']} per frame, {e['tracks']} "
        "tracks (AP is 0: random weights).",
        "",
        f"* `eval`: `{commands['eval K=1']}` on the quickstart's held-out split ({TEST_SET}: "
        f"{len(val_lengths)} videos, {sum(val_lengths)} frames of 320x192; the "
        "default generated set, `python -m masktrack_d2.data.synthetic` under "
        "`output/bench/frames_per_batch/datasets`, DETECTRON2_DATASETS pointing there).",
        f"* `demo`: `{commands['demo K=1']}` on a {args.clip_frames}-frame "
        f"{args.width}x{args.height} moving-shapes clip (cv2, mp4v, benchlib.video); drawing, "
        "mp4 encoding and the json included.",
        "",
        f"{args.rounds} rounds; in each, every command once per K, the order of the Ks rotating "
        "from round to round; one unmeasured warm-up run of each command before. Ratio = "
        "median of the per-round ratios time(K) / time(K=1), [min-max] over the rounds. "
        "In-process (the commands' own figures, not whole-process): `eval` = detectron2's "
        "inference timer (it starts after 5 warm-up videos, so it covers the last "
        f"{runs['eval']['K=1'][0].get('inproc_frames_timed', '?')} frames only), `demo` = the "
        "frames/s it prints (decoding, model, drawing, encoding, from its first frame).",
        "",
    ]
    rows = []
    for pth in ("eval", "demo"):
        for v in variants:
            x = summary[pth][v.name]
            rows.append([pth, v.name, f"{x['wall_s']:.2f} ({x['wall_min_s']:.2f}-"
                         f"{x['wall_max_s']:.2f})",
                         f"**{x['ratio']:.3f}** [{x['ratio_min']:.3f}-{x['ratio_max']:.3f}]",
                         f"{x['cpu_s']:.1f}",
                         f"{x['cpu_ratio']:.3f} [{x['cpu_ratio_min']:.3f}-"
                         f"{x['cpu_ratio_max']:.3f}]",
                         f"{x['inproc_fps']:.1f}" if "inproc_fps" in x else "-",
                         f"{x['inproc_ratio']:.3f}" if "inproc_ratio" in x else "-",
                         ",".join(map(str, x["tracks"]))])
    lines += [md_table(["path", "K", "whole process s, median (min-max)",
                        "ratio K / K=1 [range]", "CPU s (median)",
                        "CPU-time ratio [range]",
                        "in-process frames/s (median)", "in-process time ratio",
                        "tracks"], rows), ""]
    if baseline:
        lines += [f"`before` = the tree at `{baseline['rev']}` ({baseline['sha'][:10]}), "
                  "extracted with git archive and run with its own defaults (no "
                  "TEST.FRAMES_PER_BATCH given); its ratio is before / K=1 of this tree.", ""]
    lines += ["CPU s = user + system time of the process (os.wait4): what the command costs "
              "the machine, less sensitive than wall time to the other jobs on the cores."
              + ("" if max(loads) <= info["cores"] else
                 f" During this run the 1-min load average reached {max(loads):.1f} on "
                 f"{info['cores']} cores: the commands shared the cores with other jobs, whose "
                 "bursts move the wall times from round to round far more than K does."), ""]

    def says(d):
        if d["fastest"] == "K=1":
            return "K=1 itself."
        if d["clear"]:
            return "faster than K=1 in every round and by more than the spread."
        if args.rounds < 2:
            return "one round: no spread to judge by (run without --quick)."
        return "**not** faster than K=1 by more than the round-to-round spread."

    for pth in ("eval", "demo"):
        w, c = per_path[pth]["wall"], per_path[pth]["cpu"]
        lines.append(
            f"* `{pth}`: fastest K on this CPU (whole-process wall time): **{w['fastest']}** "
            f"(ratio {w['ratio']:.3f}, round-to-round spread of that ratio {w['spread']:.3f}): "
            + says(w) + f" In CPU time: {c['fastest']} (ratio {c['ratio']:.3f}, spread "
            f"{c['spread']:.3f}): " + says(c))
    lines += ["", f"**CPU default of TEST.FRAMES_PER_BATCH by this measurement: {default}** "
              + ("(no K is clearly faster in whole-process time on every path, so it stays 1)."
                 if default == 1 else f"(K={default} is clearly faster on both paths).")]

    mem_data = {}
    if mem:
        lines += ["", "## Peak memory of the demo, long vs short clip", "",
                  f"`demo.py --json` only (no video output) on the first {args.short} and all "
                  f"{args.long} frames of a {args.width}x{args.height} moving-shapes clip, "
                  "each run a fresh interpreter (this script's `--child` mode runs demo.py as "
                  "`__main__`, then reads its own VmHWM: the high-water RSS of the whole "
                  "demo process, benchlib.memory; a thread samples it every 0.25 s).", ""]
        rows = []
        for name, by_w in mem.items():
            peak = {w: [r["peak_rss_mb"] for r in rs] for w, rs in by_w.items()}
            ratio = median(peak["long"]) / median(peak["short"])
            worst = max(peak["long"]) / min(peak["short"])
            mem_data[name] = {"ratio": ratio, "ratio_worst": worst,
                              "peak_mb": {w: median(x) for w, x in peak.items()},
                              "peaks_mb": peak}
            for which in ("short", "long"):
                rs = by_w[which]
                rows.append([
                    name, rs[0]["frames"],
                    f"{median(peak[which]):.0f}" + (
                        f" ({min(peak[which]):.0f}-{max(peak[which]):.0f})" if len(rs) > 1
                        else ""),
                    ", ".join(f"{peak_reached(r):.1f} of {r['demo_s']:.1f}" for r in rs),
                    f"{median([r['wall_s'] for r in rs]):.1f}",
                    f"{median([r['inproc_fps'] for r in rs]):.1f}",
                    ",".join(map(str, sorted({r["tracks"] for r in rs}))),
                    (f"**{ratio:.3f}**" + (f" (worst pair {worst:.3f})" if len(rs) > 1 else ""))
                    if which == "long" else ""])
        reps = args.mem_repeats
        lines.append(md_table([
            "K", "frames", "peak RSS MB (VmHWM)" + (f", median of {reps} (range)" if reps > 1
                                                    else ""),
            "99% of the peak reached at s (of the demo's s)", "whole process s",
            "in-process frames/s", "tracks", "peak ratio long / short"], rows))
        lines.append("")
        for name, x in mem_data.items():
            lines.append(f"* {name}: peak RSS {args.long} / {args.short} frames = "
                         f"**{x['ratio']:.3f}**"
                         + (f" (largest long peak / smallest short peak: {x['ratio_worst']:.3f})"
                            if reps > 1 else "")
                         + f"; goal <= {MEM_GOAL}: "
                         + f"{'met' if x['ratio'] <= MEM_GOAL else 'missed'}"
                         + ("" if reps == 1 or x["ratio_worst"] <= MEM_GOAL else
                            " by the median, missed by the worst pair") + ".")
        names = list(mem)
        if len(names) > 1:
            a, b = mem_data[names[0]]["peak_mb"], mem_data[names[-1]]["peak_mb"]
            lines.append(f"* {names[-1]} vs {names[0]}: peak {b['short']:.0f} vs "
                         f"{a['short']:.0f} MB at {args.short} frames "
                         f"({b['short'] - a['short']:+.0f}), {b['long']:.0f} vs {a['long']:.0f} MB "
                         f"at {args.long} ({b['long'] - a['long']:+.0f}).")
    lines += ["", f"Whole benchmark: {total_s / 60:.1f} min."]
    data = {"env": info, "settings": {k: getattr(args, k) for k in (
        "rounds", "ks", "mem_ks", "mem_repeats", "clip_frames", "long", "short", "height", "width",
        "score_thresh", "threads", "baseline", "quick")},
        "config": cfg_name, "val_lengths": val_lengths, "commands": commands,
        "baseline": baseline, "runs": runs,
        "summary": summary, "decision": {"per_path": per_path, "cpu_default": default},
        "memory": mem_data, "memory_runs": mem, "memory_goal": MEM_GOAL, "total_s": total_s}
    write_report(result_paths(args, NAME), lines, data)
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
