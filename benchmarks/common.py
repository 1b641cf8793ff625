"""Shared helpers of the benchmarks (issue #6).

* config / model: :func:`masktrack_cfg`, :func:`plain_cfg` (the same cfg as plain detectron2
  Mask R-CNN: GeneralizedRCNN + StandardROIHeads), :func:`build_random_model` (random
  weights, seeded, backbone norms calibrated), :func:`copy_weights` (MaskTrack -> plain, only
  the track head left out), :func:`keep_all` (tracker that keeps every detection);
* data: :func:`moving_shapes_frames` (cheap deterministic video of moving shapes),
  :func:`write_jpeg_video` (the same, written once to disk and reused), :func:`test_input`;
* timing: :func:`sync`, :class:`StageTimer` (per-stage wall time through wrapped methods),
  :func:`median`;
* memory: :func:`peak_rss_mb` (VmHWM, not ru_maxrss: see there) / :func:`current_rss_mb`,
  :func:`run_child` (run a benchmark's ``--child`` mode in a fresh interpreter and read back
  the JSON it prints last: each memory number is the peak RSS of its own process);
* reports: :func:`md_table`, :func:`env_lines`, :func:`write_report` (markdown + json),
  :func:`save_plot`.

Benchmarks report ratios measured in one run (interleaved, repeated, medians), which is what
stays meaningful on a shared 2-core machine.
"""
import os

# Before torch is imported (libgomp reads it once): waiting OpenMP threads sleep instead of
# spinning. On a 2-core machine shared with other jobs the default (spinning) policy makes
# every parallel region wait for a descheduled partner thread: 2 threads ran 4-10x slower
# than 1 thread there, and tiny ops (the tracker's) took 50-80 ms instead of 0.5 ms.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Callable, Dict, List, Optional, Sequence  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
CACHE_DIR = os.path.join(ROOT, "output", "bench")  # generated inputs (git-ignored)
BASE_CONFIG = os.path.join(ROOT, "configs", "Base-MaskTrack-RCNN-FPN.yaml")
QUICKSTART_CONFIG = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")


# ------------------------------------------------------------------------------ arguments
def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def add_common_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="default: cuda if available, else cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: the cores this process may use)")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    p.add_argument("--out-dir", default=RESULTS_DIR, help="where <name>.md/.json/.png go")
    p.add_argument("--seed", type=int, default=0)
    return p


def setup_torch(args) -> None:
    import torch

    if args.device is None:
        args.device = default_device()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.threads is None:
        args.threads = min(available_cores(), 16)
    torch.set_num_threads(args.threads)


# ------------------------------------------------------------------------------ models
def masktrack_cfg(config_file: str = BASE_CONFIG, opts: Sequence = (), device: str = "cpu"):
    """MaskTrack R-CNN cfg (random init: MODEL.WEIGHTS empty), not frozen."""
    from detectron2.config import get_cfg

    from masktrack_d2.config import add_masktrack_config

    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    cfg.MODEL.WEIGHTS = ""
    cfg.MODEL.DEVICE = device
    return cfg


def plain_cfg(cfg):
    """The same cfg as plain detectron2 Mask R-CNN (no track head, no tracker)."""
    c = cfg.clone()
    c.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    c.MODEL.ROI_HEADS.NAME = "StandardROIHeads"
    return c


def build_random_model(cfg, seed: int = 0, train: bool = False, calibrate: bool = True):
    """``build_model(cfg)`` with seeded random weights.

    ``calibrate``: set the backbone's normalisation statistics (FrozenBN / BN running mean and
    variance) from one generated frame so that every normalised activation has zero mean and
    unit variance. Without it the random 50-layer features grow by orders of magnitude, the
    RPN's (small-init) regression turns every anchor into the whole image, and NMS leaves ~2
    detections per frame - nothing like a trained model's workload. Weights stay random."""
    import torch
    from detectron2.modeling import build_model

    import masktrack_d2  # noqa: F401  (registers MaskTrackRCNN / MaskTrackROIHeads)

    torch.manual_seed(seed)
    model = build_model(cfg)
    if calibrate:
        calibrate_norms(model, cfg, seed=seed)
    model.train(train)
    return model


def calibrate_norms(model, cfg, seed: int = 0) -> int:
    """Data-dependent init of the backbone's norm layers (in order, in one forward pass of a
    generated frame at the cfg's test size). Returns the number of layers set."""
    import torch
    from detectron2.layers import FrozenBatchNorm2d

    norms = [m for m in model.backbone.modules()
             if isinstance(m, (FrozenBatchNorm2d, torch.nn.modules.batchnorm._BatchNorm))]
    handles = []

    def hook(mod, inputs):
        x = inputs[0].detach()
        mod.running_mean.copy_(x.mean(dim=(0, 2, 3)))
        mod.running_var.copy_(x.var(dim=(0, 2, 3)).clamp(min=1e-5))

    for m in norms:
        handles.append(m.register_forward_pre_hook(hook))
    h = int(cfg.INPUT.MIN_SIZE_TEST)
    w = int(cfg.INPUT.MAX_SIZE_TEST)
    img = next(moving_shapes_frames(1, h, w, seed=seed + 12345))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            images = model.preprocess_image([test_input(cfg, img)])
            model.backbone(images.tensor)
    finally:
        for hd in handles:
            hd.remove()
        model.train(was_training)
    return len(norms)


def copy_weights(src, dst) -> List[str]:
    """Load ``src``'s weights into ``dst`` (strict=False); returns the keys of ``src`` that
    ``dst`` has no place for (must be the track head only). Raises if ``dst`` misses any."""
    res = dst.load_state_dict(src.state_dict(), strict=False)
    if res.missing_keys:
        raise RuntimeError(f"weights missing in the copy: {res.missing_keys[:5]}")
    bad = [k for k in res.unexpected_keys if ".track_head." not in k]
    if bad:
        raise RuntimeError(f"unexpected keys besides the track head: {bad[:5]}")
    return list(res.unexpected_keys)


def keep_all(tracker):
    """Make ``tracker.step`` keep every detection: the real step runs, then each discarded
    detection (-1) gets a fresh id (outside the tracker's memory)."""
    import torch

    step = tracker.step
    fresh = [10 ** 9]

    def step_keep_all(*a, **k):
        ids = step(*a, **k)
        lost = ids < 0
        n = int(lost.sum())
        if n:
            ids = ids.clone()
            ids[lost] = torch.arange(fresh[0], fresh[0] + n, device=ids.device)
            fresh[0] += n
        return ids

    tracker.step = step_keep_all


# ------------------------------------------------------------------------------ data
def moving_shapes_frames(num_frames: int, height: int, width: int, seed: int = 0,
                         num_objects: int = 6):
    """Yield ``num_frames`` (H, W, 3) uint8 BGR frames of coloured shapes (circles and
    rectangles) bouncing over a dark gradient: cheap, deterministic, video-like."""
    import cv2

    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    bg = np.stack([20 + 30 * xx / width, 25 + 25 * yy / height,
                   30 + 20 * (xx + yy) / (width + height)], axis=-1)
    bg = np.clip(bg + rng.uniform(-4, 4, size=bg.shape), 0, 255).astype(np.uint8)
    s = min(height, width)
    objs = []
    for _ in range(num_objects):
        r = rng.uniform(0.05, 0.15) * s
        objs.append(dict(
            kind=rng.randint(2), r=r,
            pos=np.array([rng.uniform(r, width - r), rng.uniform(r, height - r)]),
            vel=rng.uniform(-0.012, 0.012, size=2) * s,
            color=tuple(int(c) for c in rng.randint(120, 256, size=3))))
    for _ in range(num_frames):
        img = bg.copy()
        for o in objs:
            cx, cy = (int(round(v)) for v in o["pos"])
            r = int(round(o["r"]))
            if o["kind"] == 0:
                cv2.circle(img, (cx, cy), r, o["color"], -1)
            else:
                cv2.rectangle(img, (cx - r, cy - r), (cx + r, cy + r), o["color"], -1)
            o["pos"] = o["pos"] + o["vel"]
            for k, lim in ((0, width), (1, height)):
                if not o["r"] <= o["pos"][k] <= lim - o["r"]:
                    o["vel"][k] = -o["vel"][k]
        yield img


def write_jpeg_video(num_frames: int, height: int, width: int, seed: int = 0,
                     root: str = CACHE_DIR) -> Dict:
    """Write (once; reused when complete) a moving-shapes video as JPEGs and return its record
    ``{"video_id", "file_names", "length", "height", "width"}`` (the fields VideoFrames
    reads). Longer videos of the same size and seed share their first frames."""
    import cv2

    d = os.path.join(root, f"video_{width}x{height}_s{seed}")
    os.makedirs(d, exist_ok=True)
    names = [os.path.join(d, f"{i:05d}.jpg") for i in range(num_frames)]
    marker = os.path.join(d, "complete.json")
    done = 0
    if os.path.exists(marker):
        with open(marker) as f:
            done = json.load(f)["num_frames"]
    if done < num_frames:
        for i, img in enumerate(moving_shapes_frames(num_frames, height, width, seed)):
            if i >= done or not os.path.exists(names[i]):
                cv2.imwrite(names[i], img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        with open(marker, "w") as f:
            json.dump({"num_frames": num_frames}, f)
    return {"video_id": 1, "file_names": names, "length": num_frames, "height": height,
            "width": width}


def test_input(cfg, image_bgr: np.ndarray, frame_idx: int = 0) -> Dict:
    """A model input dict made the way VideoFrames makes it (test-time resize of the cfg)."""
    import torch
    from detectron2.data import detection_utils as utils
    from detectron2.data import transforms as T

    aug = T.AugmentationList(utils.build_augmentation(cfg, is_train=False))
    inp = T.AugInput(image_bgr)
    aug(inp)
    chw = np.ascontiguousarray(inp.image.transpose(2, 0, 1))
    return {"image": torch.as_tensor(chw), "height": image_bgr.shape[0],
            "width": image_bgr.shape[1], "frame_idx": frame_idx}


# ------------------------------------------------------------------------------ timing
def sync(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


class StageTimer:
    """Accumulates wall time per named stage through wrapped callables.

    ``wrap(obj, "attr", "stage", capture)`` replaces ``obj.attr`` (an instance method, a module's
    forward or a function in a module's namespace) by a timed wrapper; nested stages are
    subtracted from their parents so the stages add up to the total; ``capture`` keeps the
    stage's last output in ``captured``. ``restore()`` undoes the wrapping.
    """

    def __init__(self, device: str = "cpu"):
        self.device = device
        self.totals: Dict[str, float] = {}
        self.captured: Dict[str, object] = {}  # last output of stages wrapped with capture
        self._stack: List[List[float]] = []  # per active stage: [child time]
        self._patched = []

    def reset(self) -> None:
        self.totals = {}

    def wrap(self, obj, attr: str, stage: str, capture: bool = False) -> None:
        orig = getattr(obj, attr)
        had_own = attr in getattr(obj, "__dict__", {})
        timer = self

        def timed(*a, **k):
            sync(timer.device)
            t0 = time.perf_counter()
            timer._stack.append([0.0])
            try:
                out = orig(*a, **k)
                if capture:
                    timer.captured[stage] = out
                return out
            finally:
                sync(timer.device)
                dt = time.perf_counter() - t0
                child = timer._stack.pop()[0]
                timer.totals[stage] = timer.totals.get(stage, 0.0) + dt - child
                if timer._stack:
                    timer._stack[-1][0] += dt

        setattr(obj, attr, timed)
        self._patched.append((obj, attr, orig, had_own))

    def restore(self) -> None:
        for obj, attr, orig, had_own in reversed(self._patched):
            if had_own or not hasattr(type(obj), attr):
                setattr(obj, attr, orig)
            else:
                delattr(obj, attr)
        self._patched = []


# ------------------------------------------------------------------------------ memory
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far: VmHWM of /proc/self/status.

    Not ``ru_maxrss``: Linux keeps that across execve, and a child started by subprocess
    (vfork + exec) starts with its parent's high-water mark - a child of a benchmark that
    holds two R-50 models reported the parent's 2.5 GB whatever it did. VmHWM belongs to the
    process's own address space, which exec replaces. ``ru_maxrss`` is the fallback off Linux.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / 2 ** 20


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:  # pragma: no cover - not Linux
        return float("nan")


CHILD_TAG = "BENCH_CHILD_RESULT "


def child_result(obj: Dict) -> None:
    """Print a child's result (the parent reads the last such line)."""
    print(CHILD_TAG + json.dumps(obj), flush=True)


def run_child(script: str, child_args: Sequence[str], timeout: Optional[float] = None) -> Dict:
    """Run ``python script --child ...`` in a fresh interpreter; return the JSON it reported
    (its own peak RSS from :func:`peak_rss_mb` among it) plus ``child_wall_s``."""
    cmd = [sys.executable, script, "--child", *map(str, child_args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise RuntimeError(f"child {cmd} failed with exit code {proc.returncode}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(CHILD_TAG)]
    if not lines:
        raise RuntimeError(f"child {cmd} reported nothing:\n{proc.stdout[-2000:]}")
    out = json.loads(lines[-1][len(CHILD_TAG):])
    out["child_wall_s"] = wall
    return out


# ------------------------------------------------------------------------------ reports
def md_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_info(args) -> Dict:
    import torch

    info = {
        "date": datetime.date.today().isoformat(),
        "device": args.device,
        "cpu": cpu_name(),
        "cores": available_cores(),
        "threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": "python " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "loadavg_start": list(os.getloadavg()),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def env_lines(info: Dict) -> List[str]:
    dev = info["device"] + (f" ({info['gpu']})" if "gpu" in info else "")
    info.setdefault("loadavg_end", list(os.getloadavg()))
    load = (f" Load average (1 min) of the machine: {info['loadavg_start'][0]:.1f} at the start, "
            f"{info['loadavg_end'][0]:.1f} at the end (other jobs run beside the benchmark; "
            f"{info['cores']} cores).")
    return [
        f"Measured {info['date']} with `{info['command']}`: device {dev}; CPU {info['cpu']}, "
        f"{info['cores']} cores (shared with other jobs), {info['threads']} torch threads; "
        f"torch {info['torch']}, python {info['python']}, OMP_WAIT_POLICY="
        f"{info['omp_wait_policy'] or '(unset)'}." + load,
    ]


def result_paths(args, name: str) -> Dict[str, str]:
    os.makedirs(args.out_dir, exist_ok=True)
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    base = os.path.join(args.out_dir, name + suffix)
    return {"md": base + ".md", "json": base + ".json", "png": base + ".png"}


def write_report(paths: Dict[str, str], lines: Sequence[str], data: Dict) -> None:
    with open(paths["md"], "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    with open(paths["json"], "w") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=float)
        f.write("\n")
    print(f"wrote {os.path.relpath(paths['md'], ROOT)}")


def save_plot(path: str, draw: Callable, figsize=(7, 4)) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    draw(fig, ax)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"wrote {os.path.relpath(path, ROOT)}")
