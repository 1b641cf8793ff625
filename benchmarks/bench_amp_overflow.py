"""float16 AMP at the start of R-50 training, measured in float32: what GradScaler would skip.

An H200 run of the R-50 table config with float16 AMP (autocast + GradScaler, initial scale
2**16) learned much less in its first 20 iterations than float32. Two suspects:

(a) the match logits (dot products of unnormalised 1024-d embeddings) overflowing float16 in
    the forward (inf -> NaN loss -> the step skipped). Fixed since: ``match_logits`` is float32
    under autocast. Measured here: the largest |match logit| of every iteration's forward.
(b) GradScaler skipping the first steps: it multiplies the loss by its scale S, and a step whose
    scaled gradients overflow float16 (65504) anywhere is skipped and S halved. Measured here:
    the largest |gradient| reaching the output of any Conv2d / ConvTranspose2d / Linear module
    (the ops autocast runs in float16: under AMP these gradients are float16, times S), and,
    for the modules with a FrozenBN inside (detectron2's Conv2d applies its norm before
    returning), also at the raw convolution output (the norm's input).

float16 convolution backward on this CPU is a ~100x slower reference path, so nothing runs in
float16: the model trains in float32, in-process, with the real frame-pair loader, optimizer
(SGD + whole-model clip) and LR schedule, and hooks record what float16 would have had to hold.

From iteration 0's largest output gradient g0 the number of steps skipped at the start is
k(S) = max(0, ceil(log2(S * g0 / 65504))): a skipped step leaves the weights unchanged, so the
gradient stays of the same size until S / 2**k fits. A simulation over the whole float32
trajectory (the scaler's state carried from step to step, a skipped step repeating the
iteration's gradient) gives the skips over the N iterations. The cost of a lower scale is
underflow: the distribution of nonzero |grad| over every hooked output at iteration 0 (a
histogram, 1/16 octave bins) gives the share that S * |g| would flush to zero (< 2**-24, float16's
smallest subnormal) or leave subnormal (< 2**-14, its smallest normal number).

Two inits of the same seeded weights: "calibrated" (``build_calibrated_model``: the backbone's
FrozenBN statistics set from real frames), trained for N iterations; "identity" (plain
``build_model``, FrozenBN = identity), iteration 0 only, on the same batch.

    .venv/bin/python benchmarks/bench_amp_overflow.py            # ~3-4 min on 2 cores
    .venv/bin/python benchmarks/bench_amp_overflow.py --quick    # 5 iterations
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.data import register_train_split, synthetic_dataset  # noqa: E402
from benchlib.models import masktrack_cfg  # noqa: E402
from benchlib.report import env_info, env_lines, md_table, result_paths, write_report  # noqa: E402

NAME = "amp_overflow"
CONFIG = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
DATASET = "bench_amp_synthetic_640x360_train"

FP16_MAX = 65504.0
FP16_MIN_SUBNORMAL = 2.0 ** -24   # 5.96e-8: smaller magnitudes round to 0
FP16_MIN_NORMAL = 2.0 ** -14      # 6.10e-5: below it float16 keeps fewer than 11 bits
SCALES = [2 ** 16, 2 ** 12, 2 ** 10, 2 ** 8]
# The schedule of the 12-epoch 2019 run (12 x 7731 iterations, x0.1 after epochs 8 and 11):
# in the first iterations only its 500-iteration linear warm-up matters. The synthetic set's
# own epoch schedule would be ~300 iterations long, the warm-up stretched over all of it.
MAX_ITER, STEPS = 92772, (61848, 85041)

BINS_PER_OCTAVE = 16
LOG2_LO, LOG2_HI = -160, 48  # histogram range of log2 |grad|


# ------------------------------------------------------------------------------ data


# ------------------------------------------------------------------------------ probes
def _absmax(t):
    """max |t| as a float (one pass, no |t| copy); 0 for an empty tensor."""
    import torch

    if not t.numel():
        return 0.0
    with torch.no_grad():
        lo, hi = torch.aminmax(t.detach())
    return max(-float(lo), float(hi))


class Probe:
    """Hooks on the model that record, per iteration: the largest |output| and |output
    gradient| of every Conv2d / ConvTranspose2d / Linear module (and of the raw convolution
    inside each detectron2 Conv2d with a FrozenBN: the norm's input), with the module's name;
    optionally a log2 histogram of every nonzero output-gradient element; the largest |match
    logit|, over all key x reference pairs (forward hook on the track head, which in training
    runs on the key frames' positive RoIs, then on the reference GT boxes) and within each
    image (the pairs the loss scores; taken from the loss's inputs)."""

    def __init__(self, model):
        import torch
        from torch import nn
        from detectron2.layers import FrozenBatchNorm2d

        import masktrack_d2.modeling.roi_heads as roi_heads_mod

        self.torch = torch
        self._roi_heads_mod = roi_heads_mod
        self._handles = []
        self.histogram = False
        self.enabled = True
        self.reset()
        kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
        for name, m in model.named_modules():
            if isinstance(m, kinds):
                self._handles.append(m.register_forward_hook(self._output_hook(name)))
            elif isinstance(m, FrozenBatchNorm2d):
                conv = name.rsplit(".", 1)[0]
                self._handles.append(m.register_forward_hook(
                    self._norm_input_hook(f"{conv} (before its norm)")))
        self._handles.append(model.roi_heads.track_head.register_forward_hook(self._track_hook))
        # within-image logits: wrap the loss function the ROI heads call
        self._match_loss = roi_heads_mod.match_loss

        def match_loss(key_embeds, ref_embeds, targets, *a, **k):
            if not self.enabled:
                return self._match_loss(key_embeds, ref_embeds, targets, *a, **k)
            with torch.no_grad():
                for x, r in zip(key_embeds, ref_embeds):
                    if len(x) and len(r):
                        v = float((x.float() @ r.float().t()).abs().max())
                        self.logit_within = max(self.logit_within, v)
            return self._match_loss(key_embeds, ref_embeds, targets, *a, **k)

        roi_heads_mod.match_loss = match_loss

    def close(self):
        for h in self._handles:
            h.remove()
        self._roi_heads_mod.match_loss = self._match_loss

    def reset(self, histogram=False):
        self.histogram = histogram
        self.act = (0.0, "")
        self.grad = (0.0, "")
        self.grad_by_module = {}
        self.track_outputs = []
        self.logit_all = 0.0
        self.logit_within = 0.0
        self.hist = self.torch.zeros((LOG2_HI - LOG2_LO) * BINS_PER_OCTAVE,
                                     dtype=self.torch.float64)
        self.zeros = 0
        self.elements = 0

    def _watch(self, t, label):
        torch = self.torch
        if not self.enabled or not isinstance(t, torch.Tensor) or not t.is_floating_point():
            return
        a = _absmax(t)
        if a > self.act[0] or not math.isfinite(a):
            self.act = (a, label)
        if t.requires_grad:
            t.register_hook(self._grad_hook(label))

    def _output_hook(self, name):
        def hook(module, inputs, output):
            self._watch(output, name)
        return hook

    def _norm_input_hook(self, label):
        def hook(module, inputs, output):
            self._watch(inputs[0], label)
        return hook

    def _grad_hook(self, label):
        torch = self.torch

        def hook(grad):
            with torch.no_grad():
                m = _absmax(grad)
                if m > self.grad[0] or not math.isfinite(m):
                    self.grad = (m, label)
                self.grad_by_module[label] = max(self.grad_by_module.get(label, 0.0), m)
                if self.histogram and grad.numel():
                    g = grad.detach().abs()
                    nz = g[g > 0].double()
                    self.elements += g.numel()
                    self.zeros += g.numel() - nz.numel()
                    idx = torch.floor(torch.log2(nz) * BINS_PER_OCTAVE).long()
                    idx = (idx - LOG2_LO * BINS_PER_OCTAVE).clamp(0, len(self.hist) - 1)
                    self.hist += torch.bincount(idx, minlength=len(self.hist)).double()
            return None
        return hook

    def _track_hook(self, module, inputs, output):
        if not self.enabled:
            return
        self.track_outputs.append(output.detach())
        if len(self.track_outputs) == 2:  # key positives, then reference GT
            key, ref = self.track_outputs
            if len(key) and len(ref):
                with self.torch.no_grad():
                    self.logit_all = max(self.logit_all,
                                         float((key.float() @ ref.float().t()).abs().max()))
            self.track_outputs = []

    # -- the histogram of nonzero |grad|
    def bin_lower_edges(self):
        n = len(self.hist)
        return [2.0 ** (LOG2_LO + i / BINS_PER_OCTAVE) for i in range(n)]

    def quantile(self, q):
        """|grad| below which a fraction q of the nonzero elements lie (bin upper edge)."""
        total = float(self.hist.sum())
        if total == 0:
            return float("nan")
        c = self.hist.cumsum(0) / total
        i = int((c >= q).nonzero()[0])
        return 2.0 ** (LOG2_LO + (i + 1) / BINS_PER_OCTAVE)

    def fraction_below(self, value):
        """Fraction of the nonzero elements with |grad| < value (exact for powers of 2)."""
        total = float(self.hist.sum())
        if total == 0 or value <= 0:
            return 0.0
        edge = (math.log2(value) - LOG2_LO) * BINS_PER_OCTAVE
        i = int(math.floor(edge + 1e-9))
        i = max(0, min(i, len(self.hist)))
        return float(self.hist[:i].sum()) / total


# ------------------------------------------------------------------------------ one step
def train_step(model, batch, probe, optimizer=None, histogram=False):
    """Forward + backward (+ optimizer step); returns the iteration's record."""
    import torch

    probe.reset(histogram=histogram)
    t0 = time.perf_counter()
    losses = model(batch)
    total = sum(losses.values())
    if optimizer is not None:
        optimizer.zero_grad()
    else:
        model.zero_grad(set_to_none=True)
    total.backward()
    params = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    with torch.no_grad():
        pmax = [(_absmax(p.grad), n) for n, p in params]
        pg_max, pg_name = max(pmax) if pmax else (0.0, "")
        gnorm = float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(p.grad) for _, p in params])))
    lr = optimizer.param_groups[0]["lr"] if optimizer is not None else None
    if optimizer is not None:
        optimizer.step()
    rec = {
        "losses": {k: float(v.detach()) for k, v in losses.items()},
        "total_loss": float(total.detach()),
        "max_logit_all_pairs": probe.logit_all,
        "max_logit_within_image": probe.logit_within,
        "max_output_grad": probe.grad[0], "max_output_grad_module": probe.grad[1],
        "max_activation": probe.act[0], "max_activation_module": probe.act[1],
        "max_param_grad": pg_max, "max_param_grad_name": pg_name,
        "grad_norm": gnorm, "lr": lr,
        "num_gt": [len(b["instances"]) for b in batch],
        "num_ref_gt": [len(b["ref_instances"]) for b in batch],
        "step_s": time.perf_counter() - t0,
    }
    top = sorted(probe.grad_by_module.items(), key=lambda kv: -kv[1])[:5]
    rec["top_output_grads"] = [[k, v] for k, v in top]
    if histogram:
        rec["underflow"] = underflow_stats(probe, rec["max_output_grad"])
    return rec


def loss_breakdown(model, batch, probe):
    """Which loss makes the large gradients: one forward on ``batch`` (probe off), then the
    parameter gradients of loss_match alone and of the detector's losses alone
    (``torch.autograd.grad``, nothing accumulated, no step). Returns per group the largest
    |param grad| and where, and the gradient norm."""
    import torch

    probe.enabled = False
    try:
        losses = model(batch)
        params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        groups = {"loss_match": ["loss_match"],
                  "detector losses": [k for k in losses if k != "loss_match"]}
        out = {}
        for j, (g, keys) in enumerate(groups.items()):
            loss = sum(losses[k] for k in keys)
            grads = torch.autograd.grad(loss, [p for _, p in params],
                                        retain_graph=j < len(groups) - 1, allow_unused=True)
            got = [(_absmax(d), n) for (n, _), d in zip(params, grads) if d is not None]
            norm = float(torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(d) for d in grads if d is not None])))
            m, name = max(got)
            out[g] = {"loss": float(loss.detach()), "max_param_grad": m,
                      "max_param_grad_name": name, "grad_norm": norm}
            del grads
        return out
    finally:
        probe.enabled = True


def fp16_weight_grad_check():
    """A float16 autocast Linear whose weight gradient is 1e5 (each output gradient 1): does
    the weight's gradient come back inf? (It is computed in float16 for autocast's float16
    copy of the weight, then cast to the float32 parameter.)"""
    import torch

    lin = torch.nn.Linear(10, 1)
    x = torch.full((10000, 10), 10.0)
    with torch.autocast("cpu", dtype=torch.float16):
        y = lin(x)
    y.float().sum().backward()
    return {"output_dtype": str(y.dtype), "float32_value": 1e5,
            "weight_grad_inf": bool(torch.isinf(lin.weight.grad).all())}


def underflow_stats(probe, g0):
    out = {
        "elements": probe.elements, "zero_elements": probe.zeros,
        "nonzero_elements": int(probe.hist.sum()),
        "p0.1": probe.quantile(0.001), "p1": probe.quantile(0.01), "p10": probe.quantile(0.1),
        "median": probe.quantile(0.5), "max": g0,
        # the scale range: no overflow up to s_max; the 1st percentile stays representable
        # (nonzero) from s_min_subnormal, normal from s_min_normal
        "s_max_no_overflow": FP16_MAX / g0 if g0 > 0 else float("inf"),
    }
    out["s_min_p1_nonzero"] = FP16_MIN_SUBNORMAL / out["p1"]
    out["s_min_p1_normal"] = FP16_MIN_NORMAL / out["p1"]
    per_scale = {}
    for e in range(0, 17):
        s = 2 ** e
        per_scale[str(s)] = {
            "flushed_to_zero": probe.fraction_below(FP16_MIN_SUBNORMAL / s),
            "subnormal_or_zero": probe.fraction_below(FP16_MIN_NORMAL / s),
        }
    out["per_scale"] = per_scale
    out["histogram"] = {"log2_lo": LOG2_LO, "bins_per_octave": BINS_PER_OCTAVE,
                        "counts": {str(i): int(c) for i, c in enumerate(probe.hist.tolist()) if c}}
    return out


# ------------------------------------------------------------------------------ GradScaler
def skips_at_start(scale, g0):
    """k(S): steps skipped before S / 2**k * g0 fits float16."""
    if not math.isfinite(g0):
        return float("inf")
    if g0 <= 0:
        return 0
    return max(0, math.ceil(math.log2(scale * g0 / FP16_MAX)))


def simulate_scaler(scale, grads, growth_interval=2000):
    """GradScaler over ``len(grads)`` AMP iterations, fed by the float32 trajectory: a step
    whose scaled largest gradient exceeds float16's range is skipped and the scale halved; the
    weights stay unchanged, so the next iteration's gradient is taken to be the same size
    (the trajectory does not advance); otherwise the step is taken and the trajectory
    advances. Returns (skipped steps, final scale)."""
    skips, j, good = 0, 0, 0
    for _ in range(len(grads)):
        g = grads[j]
        if not math.isfinite(g):
            skips += 1
            scale /= 2
            good = 0
        elif scale * g > FP16_MAX:
            skips += 1
            scale /= 2
            good = 0
        else:
            j += 1
            good += 1
            if good == growth_interval:
                scale *= 2
                good = 0
    return skips, scale


def _g_all(r):
    """The largest gradient float16 would hold in the step: module outputs or parameters."""
    return max(r["max_output_grad"], r["max_param_grad"])


def derive(recs, identity):
    g0_out, g0 = recs[0]["max_output_grad"], _g_all(recs[0])
    grads_out = [r["max_output_grad"] for r in recs]
    grads = [_g_all(r) for r in recs]
    u = recs[0]["underflow"]["per_scale"]
    p1 = recs[0]["underflow"]["p1"]
    rows = []
    for s in SCALES:
        k = skips_at_start(s, g0)
        settled = s / 2 ** k if math.isfinite(k) else 0.0
        sim, final = simulate_scaler(s, grads)
        sim_out, _ = simulate_scaler(s, grads_out)
        at = u.get(str(int(settled)), {}) if settled >= 1 else {}
        rows.append({
            "init_scale": s,
            "scaled_g0_outputs": s * g0_out, "k_outputs": skips_at_start(s, g0_out),
            "skips_in_run_outputs": sim_out,
            "scaled_g0": s * g0, "k": k, "settled_scale": settled,
            "skips_in_run": sim, "final_scale": final,
            "k_identity_init": skips_at_start(s, _g_all(identity)),
            "k_identity_init_outputs": skips_at_start(s, identity["max_output_grad"]),
            "p1_scaled_initial": p1 * s, "p1_scaled_settled": p1 * settled,
            "flushed_initial": u[str(s)]["flushed_to_zero"],
            "subnormal_initial": u[str(s)]["subnormal_or_zero"],
            "flushed_settled": at.get("flushed_to_zero"),
            "subnormal_settled": at.get("subnormal_or_zero"),
        })
    over_all = [i for i, r in enumerate(recs) if r["max_logit_all_pairs"] > FP16_MAX]
    over_in = [i for i, r in enumerate(recs) if r["max_logit_within_image"] > FP16_MAX]
    return {"g0_outputs": g0_out, "g0": g0, "scales": rows,
            "iters_logit_over_fp16_all_pairs": over_all,
            "iters_logit_over_fp16_within_image": over_in,
            "identity_logit_over_fp16": identity["max_logit_within_image"] > FP16_MAX}


# ------------------------------------------------------------------------------ main
def build_cfg(args):
    opts = ["DATASETS.TRAIN", f"('{DATASET}',)", "SOLVER.IMS_PER_BATCH", str(args.batch),
            "DATALOADER.NUM_WORKERS", "0", "SEED", str(args.seed),
            "SOLVER.EPOCHS", "0", "SOLVER.MAX_ITER", str(MAX_ITER),
            "SOLVER.STEPS", str(STEPS)]
    return masktrack_cfg(args.config, opts + list(args.opts), args.device)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--iters", type=int, default=20, help="float32 training iterations")
    p.add_argument("--batch", type=int, default=2, help="SOLVER.IMS_PER_BATCH (frame pairs)")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--config", default=CONFIG)
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.quick:
        args.iters = min(args.iters, 5)
    setup_torch(args)
    info = env_info(args)

    import torch
    from detectron2.modeling import build_model
    from detectron2.solver import build_lr_scheduler
    from detectron2.utils.env import seed_all_rng
    from detectron2.utils.events import EventStorage

    import masktrack_d2  # noqa: F401  (registers the model)
    from masktrack_d2.data.build import build_frame_pair_train_loader
    from masktrack_d2.solver import build_optimizer
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from calibrated_init import build_calibrated_model

    t0 = time.perf_counter()
    ds = synthetic_dataset(args.width, args.height, args.videos, args.frames, seed=0)
    register_train_split(ds, DATASET)
    print(f"data set ready in {time.perf_counter() - t0:.1f}s: {ds['image_root']}", flush=True)
    cfg = build_cfg(args)

    seed_all_rng(args.seed)  # the sampler's order and the mapper's augmentation
    loader = iter(build_frame_pair_train_loader(cfg))
    first = next(loader)

    with EventStorage(0) as storage:
        # identity init: iteration 0 only, no optimizer step
        torch.manual_seed(cfg.SEED)
        model = build_model(cfg)
        model.train()
        probe = Probe(model)
        identity = train_step(model, first, probe, histogram=True)
        probe.close()
        del model, probe
        print(f"identity init, iteration 0: total loss {identity['total_loss']:.1f}, max |logit| "
              f"{identity['max_logit_within_image']:.3g}, max |grad| "
              f"{identity['max_output_grad']:.3g} ({identity['max_output_grad_module']}), "
              f"{identity['step_s']:.1f} s", flush=True)

        model = build_calibrated_model(cfg)
        model.train()
        optimizer = build_optimizer(cfg, model)
        scheduler = build_lr_scheduler(cfg, optimizer)
        probe = Probe(model)
        breakdown = loss_breakdown(model, first, probe)
        print("iteration 0 by loss: " + "; ".join(
            f"{g}: max |param grad| {b['max_param_grad']:.3g} ({b['max_param_grad_name']}), "
            f"norm {b['grad_norm']:.3g}" for g, b in breakdown.items()), flush=True)
        recs = []
        for i in range(args.iters):
            storage.iter = i
            batch = first if i == 0 else next(loader)
            rec = train_step(model, batch, probe, optimizer,
                             histogram=(i == 0))
            scheduler.step()
            acc = storage.history("track_head/match_accuracy").latest()
            rec["match_accuracy"] = acc
            recs.append(rec)
            print(f"iter {i}: total {rec['total_loss']:.2f} (cls {rec['losses']['loss_cls']:.3f}, "
                  f"match {rec['losses']['loss_match']:.1f}), max |logit| "
                  f"{rec['max_logit_within_image']:.3g}/{rec['max_logit_all_pairs']:.3g}, "
                  f"max |grad| {rec['max_output_grad']:.3g} ({rec['max_output_grad_module']}), "
                  f"param {rec['max_param_grad']:.3g}, norm {rec['grad_norm']:.3g}; "
                  f"{rec['step_s']:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)
        probe.close()

    der = derive(recs, identity)
    der["loss_breakdown_iter0"] = breakdown
    der["fp16_weight_grad_check"] = fp16_weight_grad_check()
    write(args, info, cfg, ds, identity, recs, der)
    return 0


# ------------------------------------------------------------------------------ report
LOSS_KEYS = ["loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc", "loss_match"]


def _short(name, n=48):
    return name if len(name) <= n else "..." + name[-(n - 3):]


def _e(v):
    return f"{v:.3g}" if isinstance(v, (int, float)) and math.isfinite(v) else str(v)


def write(args, info, cfg, ds, identity, recs, der):
    paths = result_paths(args, NAME)
    cfg_name = os.path.relpath(args.config, ROOT)
    n = len(recs)

    def row(label, r):
        return ([label, _e(r["lr"]) if r["lr"] is not None else "-"]
                + [_e(r["losses"].get(k, float("nan"))) for k in LOSS_KEYS]
                + [_e(r["total_loss"]), _e(r["max_logit_within_image"]),
                   _e(r["max_logit_all_pairs"]), _e(r["max_output_grad"]),
                   f"`{_short(r['max_output_grad_module'].replace('backbone.bottom_up.', ''))}`",
                   _e(r["max_param_grad"]),
                   f"`{_short(r['max_param_grad_name'].replace('backbone.bottom_up.', ''))}`",
                   _e(r["grad_norm"]), _e(r["max_activation"])])

    it_rows = [row("0, identity init", identity)] + [row(str(i), r) for i, r in enumerate(recs)]
    heads = (["iter", "lr"] + LOSS_KEYS
             + ["total", "max \\|logit\\| in image", "max \\|logit\\| all pairs",
                "max \\|output grad\\|", "at (module output)", "max \\|param grad\\|",
                "at (parameter)", "grad norm", "max \\|activation\\|"])

    u0 = recs[0]["underflow"]

    def p2(v):
        return f"2^{math.log2(v):.0f}" if v and v > 0 else "-"

    def pct(v):
        return f"{100 * v:.2g}%" if v is not None else "-"

    k_rows = []
    for s in der["scales"]:
        k_rows.append([
            p2(s["init_scale"]), _e(s["scaled_g0_outputs"]), s["k_outputs"],
            s["skips_in_run_outputs"], _e(s["scaled_g0"]), f"**{s['k']}**",
            p2(s["settled_scale"]), s["skips_in_run"], s["k_identity_init"],
            _e(s["p1_scaled_initial"]), pct(s["flushed_initial"]), pct(s["subnormal_initial"])])

    logits_in = [r["max_logit_within_image"] for r in recs]
    logits_all = [r["max_logit_all_pairs"] for r in recs]

    def most_common(key):
        c = {}
        for r in recs:
            c[r[key]] = c.get(r[key], 0) + 1
        return max(c.items(), key=lambda kv: kv[1])

    top_out, top_par = most_common("max_output_grad_module"), most_common("max_param_grad_name")
    s16 = der["scales"][0]
    first_ok = next((s for s in der["scales"] if s["k"] == 0 and s["skips_in_run"] == 0), None)
    start_ok = [s for s in der["scales"] if s["k"] == 0]
    bd = der["loss_breakdown_iter0"]
    loss_cls = [r["losses"]["loss_cls"] for r in recs]
    loss_match = [r["losses"]["loss_match"] for r in recs]
    ratio_p_o = [r["max_param_grad"] / r["max_output_grad"] for r in recs
                 if r["max_output_grad"] > 0]
    over_in = der["iters_logit_over_fp16_within_image"]
    over_all = der["iters_logit_over_fp16_all_pairs"]
    settled16 = s16["settled_scale"]
    lines = [
        "# float16 AMP at the start of training: overflow and skipped GradScaler steps",
        "",
        *env_lines(info),
        "",
        f"Model: `{cfg_name}` (R-50 FPN, FrozenBN, FREEZE_AT 2, 40 classes)"
        f"{(' ' + ' '.join(args.opts)) if args.opts else ''}, seeded random weights (SEED "
        f"{cfg.SEED}) with the backbone's FrozenBN statistics calibrated on 4 real frames "
        "(`build_calibrated_model` of `tools/calibrated_init.py`). Data: the generated "
        f"YouTube-VIS set `{os.path.relpath(ds['output_dir'], ROOT)}` ({args.videos} videos x "
        f"{args.frames} frames, {args.width}x{args.height}; train split, "
        f"{ds['num_train_videos']} videos), `build_frame_pair_train_loader`, "
        f"SOLVER.IMS_PER_BATCH {cfg.SOLVER.IMS_PER_BATCH} frame pairs, 0 workers. "
        "Optimizer `masktrack_d2.solver.build_optimizer` (SGD, whole-model gradient clip at "
        f"{cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE:g}), detectron2 `build_lr_scheduler` with the "
        f"2019 run's schedule (MAX_ITER {MAX_ITER}; here only the "
        f"{cfg.SOLVER.WARMUP_ITERS}-iteration warm-up from BASE_LR {cfg.SOLVER.BASE_LR} x "
        f"{cfg.SOLVER.WARMUP_FACTOR:.3f} matters). {n} iterations in **float32**, in-process, "
        "inside an EventStorage; nothing runs in float16 (float16 convolution backward is a "
        "~100x slower reference path on this CPU): hooks record what float16 would have had "
        "to hold. The identity-init row is the same seeded weights with FrozenBN = identity "
        "(plain `build_model`), iteration 0's batch, no optimizer step.",
        "",
        "* **max |logit|**: the largest |match logit| of the iteration's forward. *In image*: "
        "over each image's key-positive x reference-GT pairs (what the loss scores; the old "
        "float16 product was per image); *all pairs*: `key @ ref.T` of the track head's two "
        "outputs (forward hook on `roi_heads.track_head`), across images too.",
        "* **max |output grad|**: the largest |gradient| reaching the output of any "
        "`nn.Conv2d` / `nn.ConvTranspose2d` / `nn.Linear` (the ops autocast runs in float16: "
        "under AMP these gradients are float16, times the loss scale), and where. detectron2's "
        "`Conv2d` applies its FrozenBN before returning, so the raw convolution output (the "
        "norm's input, float16 as well) is hooked too, marked *(before its norm)*. Forward "
        "hooks calling `output.register_hook`.",
        "* **max |param grad|**: the largest float32 parameter gradient (before the clip). "
        "Under AMP each weight gradient is first computed in float16, for autocast's float16 "
        "copy of the weight, times the loss scale: it overflows like an output gradient, and "
        "GradScaler finds the inf in `.grad` (checked in this run: a Linear under CPU float16 "
        "autocast whose weight gradient is 1e5, each output gradient 1, gets "
        + ("an inf" if der["fp16_weight_grad_check"]["weight_grad_inf"] else "a finite")
        + " weight gradient).",
        "* **grad norm**: the L2 norm of all parameter gradients, before the clip at "
        f"{cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE:g}. **max |activation|**: the largest forward "
        "output of the hooked modules (float16 activations overflow at 65504 too).",
        "",
        "## Per iteration",
        "",
        md_table(heads, it_rows),
        "",
        "## GradScaler: steps skipped at the start, and the cost of a lower scale",
        "",
        f"g0 = iteration 0's largest output gradient = **{_e(der['g0_outputs'])}** "
        f"(`{recs[0]['max_output_grad_module']}`); the largest parameter gradient is "
        f"**{_e(recs[0]['max_param_grad'])}** (`{recs[0]['max_param_grad_name']}`), "
        f"{_e(min(ratio_p_o))}-{_e(max(ratio_p_o))}x the largest output gradient over the "
        f"run, so it decides. Identity init: {_e(identity['max_output_grad'])} / "
        f"{_e(identity['max_param_grad'])}. "
        "k(S) = max(0, ceil(log2(S g0 / 65504))): a skipped step leaves the weights unchanged, "
        "so the gradient stays about the same until S / 2^k fits; computed from the output "
        "gradients alone (as first posed) and from outputs and parameters (**k(S)**, what "
        f"GradScaler sees). *Skips in {n} it.*: GradScaler simulated for {n} AMP iterations "
        "over the float32 trajectory (each iteration's largest gradient; a skipped step leaves "
        "the weights as they were, so the trajectory waits; growth x2 per 2000 good steps): "
        f"{n} minus the skips is the number of weight updates. Underflow columns: share of "
        "the nonzero output-gradient "
        f"elements of iteration 0 ({u0['nonzero_elements']:,} of {u0['elements']:,}; the rest "
        "are exact zeros: ReLU, RoI sampling) that float16 would flush to zero (S |g| < 2^-24 "
        "= 5.96e-8) or hold as subnormals (S |g| < 2^-14 = 6.1e-5), at the initial scale S.",
        "",
        md_table(["initial scale S", "S x g0 (outputs)", "k (outputs)",
                  f"skips in {n} it. (outputs)", "S x g0 (outputs + params)", "k(S)",
                  "scale after the k skips", f"skips in {n} it.", "k(S), identity init",
                  "S x p1", "flushed to 0", "subnormal or 0"], k_rows),
        "",
        f"Nonzero |output grad| at iteration 0: 0.1st percentile {_e(u0['p0.1'])}, "
        f"**1st percentile p1 = {_e(u0['p1'])}**, 10th {_e(u0['p10'])}, median "
        f"{_e(u0['median'])}, max {_e(u0['max'])} (identity init: p1 "
        f"{_e(identity['underflow']['p1'])}). S x p1 stays "
        f"above float16's smallest subnormal (5.96e-8) for S >= {_e(u0['s_min_p1_nonzero'])} "
        f"and normal (>= 6.1e-5) for S >= {_e(u0['s_min_p1_normal'])} (2^"
        f"{math.log2(u0['s_min_p1_normal']):.1f}); the output gradients alone would not "
        f"overflow up to S = {_e(u0['s_max_no_overflow'])}, with the parameter gradients up to "
        f"S = {_e(FP16_MAX / der['g0'])}.",
        "",
        "Largest output gradients at iteration 0, by module: "
        + "; ".join(f"`{_short(k, 60)}` {_e(v)}" for k, v in recs[0]["top_output_grads"]) + ".",
        "",
        "Which loss makes them (iteration 0's batch, one more forward, each group's parameter "
        "gradients alone, no step): "
        + "; ".join(f"{g} ({_e(b['loss'])}): max |param grad| **{_e(b['max_param_grad'])}** "
                    f"(`{b['max_param_grad_name']}`), norm {_e(b['grad_norm'])}"
                    for g, b in der["loss_breakdown_iter0"].items()) + ".",
        "",
        "## Conclusion",
        "",
        f"* **(a) Match logits.** The largest match logit per iteration was "
        f"{_e(min(logits_in))}-{_e(max(logits_in))} within images "
        f"({_e(min(logits_all))}-{_e(max(logits_all))} over all pairs) from the calibrated "
        f"init, and {_e(identity['max_logit_within_image'])} from the identity init. "
        + (f"Iterations {over_in} went past float16's 65504: the old float16 logits would "
           "have been inf there, the loss NaN, the step skipped (detectron2 raises "
           "FloatingPointError on a non-finite loss at iteration 0). "
           if over_in else
           "From the calibrated init none went past float16's 65504, so the old float16 "
           "logits would not have overflowed in these iterations"
           + (" (only cross-image products, which the loss masks and the old per-image "
              f"product never formed, did: iterations {over_all}). " if over_all else ". "))
        + ("From the identity init they overflow at once. "
           if der["identity_logit_over_fp16"] else "")
        + "The float32 logits remove the case for good.",
        f"* **(b) GradScaler.** The largest gradients are parameter gradients (most often "
        f"`{top_par[0]}`, {top_par[1]} of {n} iterations"
        + (", in res3.0, the first trainable backbone block with FREEZE_AT 2"
           if "res3.0." in top_par[0] else "")
        + f"; module outputs: `{top_out[0]}`, {top_out[1]} of {n}), "
        f"{_e(min(ratio_p_o))}-{_e(max(ratio_p_o))}x the largest output gradient"
        + (f", and they come from loss_match (iteration 0: {_e(bd['loss_match']['max_param_grad'])}"
           f" from loss_match alone, {_e(bd['detector losses']['max_param_grad'])} from the "
           "five detector losses together)"
           if bd["loss_match"]["max_param_grad"] > 4 * bd["detector losses"]["max_param_grad"]
           else "")
        + ". From 2^16 "
        f"GradScaler skips **{s16['k']}** step(s) before the scale fits (2^16 x "
        f"{_e(der['g0'])} = {_e(s16['scaled_g0'])}; it settles at {p2(settled16)}), "
        f"**{s16['skips_in_run']}** of the first {n} iterations in the simulation: those "
        f"steps do not update the weights at all, {n - s16['skips_in_run']} of {n} do. "
        "Counting only output gradients it would be "
        f"{s16['k_outputs']}. "
        + (f"The largest initial scale of the table that skips nothing in the {n} iterations "
           f"is {p2(first_ok['init_scale'])}. " if first_ok else
           (f"Only {', '.join(p2(s['init_scale']) for s in start_ok)} start(s) without a "
            "skip (k = 0); the later skips in the simulation come from larger gradients of "
            "later batches, which the scaler absorbs by halving once. " if start_ok else
            "Every initial scale of the table skips steps at the start. ")),
        f"* **The cost of a lower scale.** "
        + ("Underflow is small at every scale of the table. "
           if der["scales"][-1]["flushed_initial"] < 1e-3 else "")
        + f"At 2^8, {pct(der['scales'][-1]['flushed_initial'])} of the nonzero output-gradient "
        f"elements are flushed to zero and {pct(der['scales'][-1]['subnormal_initial'])} held "
        f"as subnormals (at 2^16: {pct(s16['flushed_initial'])} / "
        f"{pct(s16['subnormal_initial'])}); p1 x 2^8 = {_e(u0['p1'] * 2 ** 8)}. And a "
        f"scaler started at 2^16 is itself at {p2(settled16)} after its skips, so an initial "
        f"scale down to {p2(settled16)} loses no precision against it, only the skipped "
        "steps; the scale grows back x2 per 2000 good steps.",
        f"* **The float32 reference.** Over the {n} iterations loss_cls went "
        f"{loss_cls[0]:.3f} -> {loss_cls[-1]:.3f} (ln 41 = {math.log(41):.3f}; min "
        f"{min(loss_cls):.3f}) and loss_match {loss_match[0]:.1f} -> {loss_match[-1]:.1f} "
        f"(range {min(loss_match):.1f}-{max(loss_match):.1f} from batch to batch); the "
        f"gradient norm ({_e(min(r['grad_norm'] for r in recs))}-"
        f"{_e(max(r['grad_norm'] for r in recs))}) is far above the clip, so every step is "
        "a clipped step of the warm-up learning rate.",
        "* **Limits.** A generated data set (few, bright shapes), batch "
        f"{cfg.SOLVER.IMS_PER_BATCH}, and random weights with calibrated norms, not the table "
        "config's COCO checkpoint (not available offline); the gradients of another data set, "
        "batch size or init differ, and k(S) moves by one per factor 2 in g0. float16 "
        "rounding itself (11-bit mantissa) is not modelled, only its range.",
    ]
    data = {"env": info, "config": cfg_name, "opts": list(args.opts), "iters": n,
            "batch": cfg.SOLVER.IMS_PER_BATCH, "dataset": ds, "identity_iter0": identity,
            "iterations": recs, "derived": der,
            "fp16": {"max": FP16_MAX, "min_subnormal": FP16_MIN_SUBNORMAL,
                     "min_normal": FP16_MIN_NORMAL}}
    write_report(paths, [ln.rstrip() for ln in lines], data)


if __name__ == "__main__":
    sys.exit(main())
