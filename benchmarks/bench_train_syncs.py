"""Host syncs of one training step: how many sync-forcing ops a frame-pair step issues, where.

On a GPU every op that needs a device value on the host (``.item()``, ``float(t)``,
``int(t)``, ``bool(t)``, ``nonzero``, boolean-mask indexing, ``unique``, a blocking copy)
waits for the device queue to drain; a fixed number of them per pair caps the pair rate
whatever the batch size. This benchmark counts them on the CPU:

* the R-50 table config (``configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e.yaml``) at a
  small input size (``INPUT.MIN_SIZE_TRAIN (180,)``, ``MAX_SIZE_TRAIN 320``), random
  weights with calibrated backbone norms (``benchlib.models.build_random_model``);
* frame pairs from a generated synthetic YouTube-VIS set (320x180, under ``output/bench/``)
  through the real loader, ``build_frame_pair_train_loader`` (``DATALOADER.NUM_WORKERS 0``);
* per ``SOLVER.IMS_PER_BATCH`` (1, 2, 4, 8): one batch and two identical steps (same batch,
  same torch seed, so the same RoI samples): forward in train mode inside an
  ``EventStorage``, sum of the losses, backward.

Two views of the same step:

1. **The CPU profiler** (the measured step): ``torch.profiler.profile(record_shapes=False,
   with_stack=True)``. Counted, outermost op of each nested chain only:
   ``aten::_local_scalar_dense`` (``.item()``, ``float/int/bool(t)``, ``if t:``),
   ``aten::nonzero`` (also behind boolean-mask indexing, ``index_put_`` with a mask and
   one-argument ``torch.where``), ``aten::masked_select``, ``aten::_unique*``,
   ``aten::repeat_interleave`` computing its output size, ``aten::bincount``,
   ``aten::equal``; and all ``aten::`` ops. Each is attributed to the innermost Python frame
   inside ``masktrack_d2/`` or ``detectron2/``; backward ops to their autograd node.
   On the CPU some of these are host work that is no sync on CUDA, and some CUDA syncs are
   no op here (next point).
2. **The CUDA view** (the warm-up step, under a ``TorchFunctionMode``): every torch call from
   Python is seen with its arguments, and each tensor carries where it would live on a
   GPU: the model's parameters / buffers and everything computed from them on the device;
   the loader's tensors, and tensors built without a ``device`` argument (e.g. detectron2's
   ``shapes_to_tensor`` of image sizes), on the host. Counted as syncs, with the source
   line: scalar reads (``item``, ``bool/int/float``, sizes given as 0-dim tensors),
   ``nonzero``-like ops, boolean-mask indexing (and the ``nonzero`` its backward runs),
   ``masked_select``/``unique``/``repeat_interleave`` without ``output_size``, on device
   tensors; ``.cpu()/.tolist()/.numpy()`` of device tensors (no op on the CPU);
   host-to-device copies (``.to(device)``, ``torch.as_tensor(host data, device=...)``,
   ``copy_``: blocking copies synchronise the stream); torchvision's ``nms`` on the device
   (its CUDA op ends in a ``masked_select`` of the kept indices; older torchvision copied
   the overlap mask to the host: one sync either way). Not counted: ``t[mask] =
   python_scalar`` (PyTorch makes the value on the host and calls ``masked_fill_``: no
   sync, though the CPU shows an ``item``), scalar reads of host tensors. The two views are
   cross-checked function by function.

The optimizer step and detectron2's ``SimpleTrainer.write_metrics`` (once per step) are
counted separately.

Both views are the shared machinery of ``benchlib/syncs.py`` (also used by
``bench_inference_syncs.py``); the CUDA view runs here without its ``fake_cuda`` option:
the training path takes the same branches on the CPU as on CUDA at these sizes (the RPN's
NMS gets at most 5 x 200 proposals, 4000 coordinates: torchvision's ``batched_nms`` uses its
coordinate trick on both devices up to that size).

    .venv/bin/python benchmarks/bench_train_syncs.py            # ~1-2 min on 2 cores
    .venv/bin/python benchmarks/bench_train_syncs.py --quick    # batch sizes 1, 2, 4
"""
import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.data import register_train_split, synthetic_dataset  # noqa: E402
from benchlib.models import build_random_model, masktrack_cfg  # noqa: E402
from benchlib.report import (  # noqa: E402
    env_info, env_lines, md_table, reload_run, result_paths, write_report)
from benchlib.syncs import (  # noqa: E402
    _ON, CATEGORIES, SyncTracer, _n, _short, analyse_profile, fit, origin, profiled, traced)

NAME = "train_syncs"
CONFIG = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
DATASET = "bench_synthetic_{w}x{h}_v{v}_f{f}_train"

#: (path part, function or None, stage): the stage of an op is the first rule matching its
#: innermost project frame, else the next frame outward, and so on; stage None: a helper,
#: look at its caller. Files without a rule (layers/, structures/, the matcher, the sampler,
#: box_regression, torchvision) always defer to their caller.
RPN_PROPOSALS = "RPN proposal selection + NMS"
STAGE_RULES = [
    ("roi_heads/roi_heads.py", "select_foreground_proposals", None),
    ("roi_heads/roi_heads.py", "_sample_proposals", None),
    ("proposal_generator/rpn.py", "_subsample_labels", None),
    ("modeling/poolers.py", None, "RoI pooler (box, mask, track key + ref)"),
    ("proposal_utils.py", "find_top_rpn_proposals", RPN_PROPOSALS),
    ("proposal_generator/rpn.py", "predict_proposals", RPN_PROPOSALS),
    ("proposal_generator/rpn.py", "_decode_proposals", RPN_PROPOSALS),
    ("proposal_generator/rpn.py", "label_and_sample_anchors", "RPN anchor matching + sampling"),
    ("proposal_generator/rpn.py", "losses", "RPN losses"),
    ("anchor_generator.py", None, "anchors"),
    ("roi_heads/roi_heads.py", "label_and_sample_proposals", "RoI matching + sampling"),
    ("masktrack_d2/modeling/track_head.py", "match_loss", "track head: match loss"),
    ("masktrack_d2/modeling/matching.py", None, "track head: match loss"),
    ("masktrack_d2/modeling/track_head.py", "match_targets", "track head: fg RoIs, targets"),
    ("masktrack_d2/modeling/roi_heads.py", "_forward_track", "track head: fg RoIs, targets"),
    ("masktrack_d2/modeling/track_head.py", None, "track head: embedding FCs"),
    ("roi_heads/mask_head.py", None, "mask head + loss"),
    ("roi_heads/roi_heads.py", "_forward_mask", "mask head: fg RoIs"),
    ("roi_heads/fast_rcnn.py", None, "box predictor + loss"),
    ("roi_heads/box_head.py", None, "box head FCs"),
    ("modeling/backbone/", None, "backbone + FPN"),
    ("masktrack_d2/modeling/meta_arch.py", "pair_features", "backbone + FPN"),
    ("meta_arch/rcnn.py", "preprocess_image", "input images: to device, normalise, pad"),
    ("masktrack_d2/modeling/meta_arch.py", "<listcomp>", "GT instances to device"),
    ("proposal_generator/rpn.py", None, "RPN head, other"),
    ("roi_heads/roi_heads.py", None, "RoI heads, other"),
    ("masktrack_d2/modeling/roi_heads.py", None, "RoI heads, other"),
]
CATCH_ALL = [("masktrack_d2/", "masktrack_d2, other"), ("detectron2/", "detectron2, other"),
             ("torchvision/", "torchvision, other")]
TRACK_SAMPLE = "RoI matching + sampling, track head's own sample"
#: stages whose syncs masktrack_d2 code issues or decides (calling detectron2 functions)
OWN_STAGES = {TRACK_SAMPLE, "track head: match loss", "track head: embedding FCs",
              "track head: fg RoIs, targets", "GT instances to device",
              "masktrack_d2, other"}


def stage_of(frames):
    """Stage of an op from its project frames [(path, function), ...], innermost first."""
    for i, (path, func) in enumerate(frames):
        for part, fn, stage in STAGE_RULES:
            if part in path and (fn is None or fn == func):
                if stage is None:
                    break
                if fn == "label_and_sample_proposals" and any(
                        p.startswith("masktrack_d2/modeling/roi_heads.py") and f == "forward"
                        for p, f in frames[i + 1:i + 2]):
                    return TRACK_SAMPLE
                return stage
    for path, _ in frames:
        for part, stage in CATCH_ALL:
            if part in path:
                return stage
    return "outside (loss sum, backward call)"


# ============================================================================ data


# ============================================================================ run
def run(args):
    import numpy as np
    import torch
    from detectron2.engine import SimpleTrainer
    from detectron2.utils.events import EventStorage

    from masktrack_d2.data.build import build_frame_pair_train_loader
    from masktrack_d2.solver import build_optimizer

    ds = synthetic_dataset(args.width, args.height, args.videos, args.frames, args.seed)
    name = DATASET.format(w=args.width, h=args.height, v=args.videos, f=args.frames)
    register_train_split(ds, name)
    opts = ["DATASETS.TRAIN", f"('{name}',)", "DATALOADER.NUM_WORKERS", "0",
            "INPUT.MIN_SIZE_TRAIN", f"({args.min_size},)", "INPUT.MAX_SIZE_TRAIN",
            str(args.max_size), "INPUT.MIN_SIZE_TEST", str(args.min_size),
            "INPUT.MAX_SIZE_TEST", str(args.max_size)]
    cfg = masktrack_cfg(args.config, opts + list(args.opts), args.device)
    t0 = time.perf_counter()
    model = build_random_model(cfg, seed=args.seed, train=True)
    optimizer = build_optimizer(cfg, model)
    SyncTracer.mark_module(model)
    print(f"model built in {time.perf_counter() - t0:.1f}s", flush=True)

    def step(batch):
        torch.manual_seed(args.seed + 1)
        losses = model(batch)
        loss = sum(losses.values())
        loss.backward()
        return losses

    rows = {}
    with EventStorage(0):
        for b in args.batch_sizes:
            c = cfg.clone()
            c.defrost()
            c.SOLVER.IMS_PER_BATCH = b
            np.random.seed(args.seed)  # the sampler's seed, the mapper's draws
            torch.manual_seed(args.seed)
            batch = next(iter(build_frame_pair_train_loader(c)))
            assert len(batch) == b and "ref_image" in batch[0]
            # warm-up = the CUDA view of the step
            model.zero_grad(set_to_none=True)
            tracer = SyncTracer(stage_of)
            t0 = time.perf_counter()
            losses = traced(lambda: step(batch), tracer)
            t1 = time.perf_counter()
            cuda = tracer.summary()
            # the same step under the profiler
            model.zero_grad(set_to_none=True)
            _, events = profiled(lambda: step(batch))
            t2 = time.perf_counter()
            prof = analyse_profile(events, stage_of)
            del events
            # once per step besides the model: the trainer's metrics, the optimizer step
            wm = SyncTracer(stage_of)
            traced(lambda: SimpleTrainer.write_metrics(losses, 0.0), wm)
            for p in model.parameters():
                if p.grad is not None:
                    setattr(p.grad, _ON, True)
            op = SyncTracer(stage_of)
            traced(optimizer.step, op)
            rows[b] = {
                "batch": b, "cuda": cuda, "profiler": prof,
                "write_metrics": wm.summary(), "optimizer": op.summary(),
                "loss_names": sorted(losses), "traced_step_s": t1 - t0,
                "profiled_step_s": t2 - t1,
                "image_hw": [list(x["image"].shape[-2:]) for x in batch],
                "gt_key": [len(x["instances"]) for x in batch],
                "gt_ref": [len(x["ref_instances"]) for x in batch],
            }
            print(f"batch {b}: CUDA view {cuda['syncs']} syncs {cuda['categories']}; "
                  f"CPU profiler {prof['syncs']} sync ops {prof['kinds']}, "
                  f"{prof['aten_ops']} aten ops; write_metrics "
                  f"{rows[b]['write_metrics']['syncs']}, optimizer "
                  f"{rows[b]['optimizer']['syncs']}; GT/key frame {rows[b]['gt_key']}; "
                  f"steps {t1 - t0:.1f} + {t2 - t1:.1f}s; load {os.getloadavg()[0]:.1f}"
                  + (f"; tracer errors {cuda['errors']}" if cuda["errors"] else ""),
                  flush=True)
    return rows


# ============================================================================ summary
def _fit_table(bs, per_batch):
    """per_batch: {b: {key: {kind: n}}} -> rows sorted by per-pair then per-step count."""
    keys = sorted({k for b in bs for k in per_batch[b]})
    out = []
    for k in keys:
        ys = [sum(per_batch[b].get(k, {}).values()) for b in bs]
        kinds = collections.Counter()
        for b in bs:
            kinds.update(per_batch[b].get(k, {}))
        a, s, r = fit(bs, ys)
        out.append({"site": k, "counts": ys, "per_step": a, "per_pair": s,
                    "max_residual": r, "kinds": dict(kinds)})
    out.sort(key=lambda d: (-round(d["per_pair"], 6), -d["per_step"], d["site"]))
    return out


def summarise(rows):
    bs = sorted(rows)
    out = {"batch_sizes": bs}

    def fit_of(get):
        a, b, r = fit(bs, [get(rows[x]) for x in bs])
        return {"per_step": a, "per_pair": b, "max_residual": r}

    out["cuda_syncs"] = fit_of(lambda r: r["cuda"]["syncs"])
    for cat, _ in CATEGORIES:
        out[f"cuda_{cat}"] = fit_of(lambda r, c=cat: r["cuda"]["categories"].get(c, 0))
    out["profiler_syncs"] = fit_of(lambda r: r["profiler"]["syncs"])
    out["aten_ops"] = fit_of(lambda r: r["profiler"]["aten_ops"])
    out["aten_top"] = fit_of(lambda r: r["profiler"]["aten_top"])
    out["host_side"] = fit_of(lambda r: r["cuda"]["host_side_total"])
    out["cuda_sites"] = _fit_table(bs, {b: rows[b]["cuda"]["per_site"] for b in bs})
    out["host_sites"] = _fit_table(bs, {b: rows[b]["cuda"]["host_side"] for b in bs})
    out["profiler_sites"] = _fit_table(bs, {b: rows[b]["profiler"]["per_site"] for b in bs})
    # cross-check: per function, ops the profiler counted vs what the CUDA view expects it
    # to see there (device and host operands together)
    mism = []
    for b in bs:
        pf = collections.Counter()
        for k, v in rows[b]["profiler"]["per_func"].items():
            pf["(backward)" if k.startswith("(backward)") else k] += sum(v.values())
        tv = collections.Counter(rows[b]["cuda"]["per_func_visible"])
        for k in sorted(set(pf) | set(tv)):
            if pf[k] != tv[k]:
                mism.append({"batch": b, "function": k, "profiler": pf[k], "cuda_view": tv[k]})
    out["crosscheck_mismatches"] = mism
    linear = {d["site"] for d in out["cuda_sites"] if d["max_residual"] < 0.05}
    out["linear_syncs"] = fit_of(lambda r: sum(sum(v.values()) for k, v in
                                               r["cuda"]["per_site"].items() if k in linear))
    out["data_dependent_sites"] = [d for d in out["cuda_sites"] if d["site"] not in linear]
    stages = sorted({k for b in bs for k in rows[b]["cuda"]["by_stage"]}
                    | {k for b in bs for k in rows[b]["profiler"]["aten_top_by_stage"]})
    st = []
    for k in stages:
        lin = [sum(n for site, n in rows[b]["cuda"]["by_stage_site"].get(k, {}).items()
                   if site in linear) for b in bs]
        dep = [rows[b]["cuda"]["by_stage"].get(k, 0) - lin[i] for i, b in enumerate(bs)]
        a, p, _ = fit(bs, lin)
        a2, p2, _ = fit(bs, [rows[b]["profiler"]["aten_top_by_stage"].get(k, 0) for b in bs])
        st.append({"stage": k, "syncs_per_step": a, "syncs_per_pair": p,
                   "data_dependent": dep,
                   "syncs": [rows[b]["cuda"]["by_stage"].get(k, 0) for b in bs],
                   "aten_top_per_step": a2, "aten_top_per_pair": p2,
                   "aten_top": [rows[b]["profiler"]["aten_top_by_stage"].get(k, 0)
                                for b in bs]})
    st.sort(key=lambda d: (-round(d["syncs_per_pair"], 6), -d["syncs_per_step"],
                           -d["aten_top_per_pair"]))
    out["stages"] = st
    return out


# ============================================================================ report
def write(args, info, rows, summ):
    paths = result_paths(args, NAME)
    bs = summ["batch_sizes"]
    cfg_name = os.path.relpath(args.config, ROOT)
    code = {}
    for b in bs:
        code.update(rows[b]["cuda"]["code"])
    r0 = rows[bs[0]]
    wm, opt = r0["write_metrics"], r0["optimizer"]

    batch_rows = []
    for b in bs:
        r, c, p = rows[b], rows[b]["cuda"], rows[b]["profiler"]
        batch_rows.append([b, f"**{c['syncs']}**", *[c["categories"].get(k, 0)
                                                    for k, _ in CATEGORIES],
                           c["host_side_total"], p["syncs"],
                           p["kinds"].get("item", 0), p["kinds"].get("nonzero", 0),
                           sum(v for k, v in p["kinds"].items()
                               if k not in ("item", "nonzero")),
                           p["aten_ops"], p["aten_top"], p["aten_top_backward"],
                           f"{sum(r['gt_key']) / b:.1f}"])
    fit_row = ["per step + per pair",
               f"**{_n(summ['cuda_syncs']['per_step'])} + "
               f"{_n(summ['cuda_syncs']['per_pair'])}**",
               *[f"{_n(summ['cuda_' + k]['per_step'])} + {_n(summ['cuda_' + k]['per_pair'])}"
                 for k, _ in CATEGORIES],
               f"{_n(summ['host_side']['per_step'])} + {_n(summ['host_side']['per_pair'])}",
               f"{_n(summ['profiler_syncs']['per_step'])} + "
               f"{_n(summ['profiler_syncs']['per_pair'])}", "", "", "",
               f"{summ['aten_ops']['per_step']:.0f} + {summ['aten_ops']['per_pair']:.0f}",
               f"{summ['aten_top']['per_step']:.0f} + {summ['aten_top']['per_pair']:.0f}",
               "", ""]

    def site_rows(table, with_origin=True):
        out = []
        for d in table:
            site, caller = d["site"].split(" <- ")
            src = code.get(site, "")
            if len(src) > 70:
                src = src[:67] + "..."
            out.append([f"`{_short(site)}`",
                        f"`{_short(caller)}`" if caller != "-" else "-",
                        *([origin(site)] if with_origin else []),
                        f"`{src}`" if src else "",
                        ", ".join(sorted(d["kinds"])),
                        *d["counts"], _n(d["per_step"]), _n(d["per_pair"]),
                        "" if d["max_residual"] < 0.05 else f"{d['max_residual']:.1f}"])
        return out

    cuda_site_rows = site_rows(summ["cuda_sites"])
    host_site_rows = site_rows(summ["host_sites"], with_origin=False)
    prof_rows = []
    for d in summ["profiler_sites"]:
        site, caller = d["site"].split(" <- ")
        prof_rows.append([f"`{site}`", f"`{caller}`" if caller != "-" else "-",
                          ", ".join(f"{k}" for k in sorted(d["kinds"])), *d["counts"],
                          _n(d["per_step"]), _n(d["per_pair"])])
    mism = summ["crosscheck_mismatches"]
    wm_line = ", ".join(f"{k} {v}" for k, v in sorted(wm["kinds"].items())) or "none"
    opt_line = ", ".join(f"{k} {v}" for k, v in sorted(opt["kinds"].items())) or "none"
    cs = summ["cuda_syncs"]

    lines = [
        "# Host syncs of one training step, by batch size",
        "",
        *env_lines(info),
        "",
        f"Model: `{cfg_name}` (R-50 FPN) with INPUT.MIN_SIZE_TRAIN ({args.min_size},), "
        f"MAX_SIZE_TRAIN {args.max_size} {' '.join(args.opts)}, random weights (backbone "
        "norms calibrated), train mode. Data: a synthetic YouTube-VIS set "
        f"({args.videos} videos x {args.frames} frames, {args.width}x{args.height} JPEG, "
        "generated once under `output/bench/`) through `build_frame_pair_train_loader` "
        "(DATALOADER.NUM_WORKERS 0, SOLVER.IMS_PER_BATCH = the batch, in frame pairs: two "
        "images each through the backbone, the RoI heads on the key frame). Per batch size "
        "one batch, two identical steps (same batch, same torch seed): forward inside an "
        "`EventStorage`, sum of the losses, backward. Step times on the CPU: "
        + ", ".join(f"{rows[b]['profiled_step_s']:.1f}" for b in bs) + " s (profiled, batch "
        + "/".join(str(b) for b in bs) + ").",
        "",
        "Two views (details in the script's docstring):",
        "",
        "* **CUDA view** (first step, under a `TorchFunctionMode` that sees every torch call "
        "from Python with its arguments and tracks which tensors would live on the GPU: "
        "parameters, buffers and what is computed from them; the loader's tensors and "
        "tensors built without `device=` stay on the host). A sync is: a scalar read of a "
        "device tensor (`.item()`, `bool/int/float(t)`, `if t:`, `assert t.all()`, a size "
        "given as a 0-dim tensor); `nonzero` / one-argument `torch.where` / boolean-mask "
        "indexing and its backward (`IndexBackward0` runs `nonzero` again); other ops whose "
        "output size depends on the data (`masked_select`, `unique`, `repeat_interleave` "
        "without `output_size`); `.cpu()/.tolist()/.numpy()` of a device tensor; a "
        "host-to-device copy (`.to(device)` of a host tensor, `torch.as_tensor(host data, "
        "device=...)`, `copy_`: without `non_blocking=True` from pinned memory, PyTorch "
        "synchronises the stream after it); torchvision's `nms` (its CUDA op ends in a "
        "`masked_select` of the kept indices, which the CPU kernel does not). "
        "`t[mask] = python_scalar` is not a sync on CUDA (the "
        "value is made on the host and `masked_fill_` is used), nor is a scalar read of a "
        "host tensor: these are listed apart (\"host-side\").",
        "* **CPU profiler** (second step, `torch.profiler.profile(record_shapes=False, "
        "with_stack=True)`): the ops `_local_scalar_dense`, `nonzero`, `masked_select`, "
        "`unique*`, `repeat_interleave` with a nested size read, `bincount`, `equal`, "
        "outermost of a nested chain only; and all `aten::` ops (nested ones included, and "
        "top-level only: a proxy for kernel launches). The CPU profiler cannot see the "
        "copies: `.cpu()` of a CPU tensor returns it, `.to(device)` too, `.tolist()` reads "
        "memory directly, and the CPU `nms` ends without a data-sized op; and it shows "
        "host-side items that "
        "are no sync on CUDA. "
        + ("The two views agree function by function on every profiler-visible op "
           "(cross-check below)." if not mism else
           f"Cross-check: {len(mism)} function/batch pairs differ (listed below)."),
        "",
        "## Per batch size",
        "",
        md_table(["batch (pairs)", "CUDA syncs", *[t for _, t in CATEGORIES],
                  "host-side look-alikes", "CPU profiler sync ops", "item", "nonzero",
                  "other", "aten ops (all)", "aten ops (top-level)", "of which backward",
                  "GT per key frame"], batch_rows + [fit_row]),
        "",
        f"Fit over the batch sizes, lines whose count is linear in the batch: "
        f"**{_n(summ['linear_syncs']['per_step'])} syncs per step + "
        f"{_n(summ['linear_syncs']['per_pair'])} per pair** on CUDA"
        + (f", plus {len(summ['data_dependent_sites'])} data-dependent lines (see the "
           f"conclusions); all lines: {_n(cs['per_step'])} + {_n(cs['per_pair'])} (max "
           f"residual {cs['max_residual']:.1f})" if summ["data_dependent_sites"] else "")
        + "; "
        f"the CPU profiler's raw count {_n(summ['profiler_syncs']['per_step'])} + "
        f"{_n(summ['profiler_syncs']['per_pair'])}; aten ops "
        f"{summ['aten_ops']['per_step']:.0f} + {summ['aten_ops']['per_pair']:.0f} per pair "
        f"(top-level {summ['aten_top']['per_step']:.0f} + "
        f"{summ['aten_top']['per_pair']:.0f}; these also grow with the number of GT boxes, "
        "which differs between the batches). Once per step besides the model: "
        f"`SimpleTrainer.write_metrics` **{wm['syncs']}** ({wm_line}: one "
        f"`v.detach().cpu().item()` per loss, {len(r0['loss_names'])} losses "
        f"{', '.join(r0['loss_names'])}; the `.item()` then reads the host copy), measured "
        "here and as read from detectron2's code; the optimizer step (SGD + whole-model "
        f"gradient clip) {opt['syncs']} ({opt_line}). With float16 mixed precision "
        "(`masktrack_d2.engine.amp.MixedPrecisionTrainer`) add 2 per step, read from the "
        "code, not measured: `GradScaler.step` reads `found_inf` with `.item()`, and the "
        "trainer logs `grad_scaler.get_scale()` (another `.item()`).",
        "",
        "## By stage",
        "",
        "CUDA syncs (first step) and top-level aten ops (second step, CPU profiler) by stage "
        "of the step: the first of the stage rules (`STAGE_RULES` in the script) matching the "
        "innermost project frame, then the next outward. \"Decided by\": whose code issues "
        "the syncs or chooses to call the detectron2 function that does. Syncs per step / "
        "per pair: the fit over the lines whose count is linear in the batch; "
        "\"data-dependent\": the syncs of the other lines, per batch size.",
        "",
        md_table(["stage", "decided by", *[f"syncs b={b}" for b in bs], "syncs per step",
                  "syncs per pair", "data-dependent", "aten ops per step",
                  "aten ops per pair"],
                 [[d["stage"], "masktrack_d2" if d["stage"] in OWN_STAGES else
                   ("-" if d["stage"].startswith(("outside", "(backward")) else "detectron2"),
                   *d["syncs"], _n(d["syncs_per_step"]), _n(d["syncs_per_pair"]),
                   "/".join(str(x) for x in d["data_dependent"]) if any(
                       d["data_dependent"]) else "",
                   f"{d['aten_top_per_step'] + 0.0:.0f}".replace("-0", "0"),
                   f"{d['aten_top_per_pair'] + 0.0:.0f}".replace("-0", "0")]
                  for d in summ["stages"]]),
        "",
        "## Where the CUDA syncs come from",
        "",
        "Per source line: the innermost line in `masktrack_d2/` or `detectron2/` (paths "
        "below those) and the function that called it; counts per batch size; fit a per "
        "step + b per pair (a residual means the count is not linear in the batch).",
        "",
        md_table(["line", "called from", "library", "source line", "kinds",
                  *[f"b={b}" for b in bs], "per step", "per pair", "residual"],
                 cuda_site_rows),
        "",
        "Host-side look-alikes (counted by the CPU profiler, no device sync on CUDA):",
        "",
        md_table(["line", "called from", "source line", "kinds",
                  *[f"b={b}" for b in bs], "per step", "per pair", "residual"],
                 host_site_rows) if host_site_rows else "(none)",
        "",
        "## CPU profiler, by function",
        "",
        md_table(["function", "called from", "ops", *[f"b={b}" for b in bs], "per step",
                  "per pair"], prof_rows),
        "",
    ]
    if mism:
        lines += ["Cross-check mismatches (profiler ops vs the CUDA view's profiler-visible "
                  "events, per function):", "",
                  md_table(["batch", "function", "profiler", "CUDA view"],
                           [[m["batch"], f"`{m['function']}`", m["profiler"], m["cuda_view"]]
                            for m in mism]), ""]
    lines += ["## Conclusions", ""] + conclusions(rows, summ)
    data = {"env": info, "args": {k: v for k, v in vars(args).items() if k != "opts"},
            "opts": list(args.opts), "rows": {str(b): rows[b] for b in bs}, "summary": summ}
    write_report(paths, lines, data)


def conclusions(rows, summ):
    """Generated from this run's numbers."""
    cs = summ["cuda_syncs"]
    bs = summ["batch_sizes"]
    r0 = rows[bs[0]]
    big = bs[-1]
    per_pair = [d for d in summ["stages"] if d["syncs_per_pair"] >= 0.5]
    per_step = [d for d in summ["stages"] if d["syncs_per_step"] >= 0.5]
    own = [d for d in summ["stages"] if d["stage"] in OWN_STAGES
           and (d["syncs_per_pair"] >= 0.5 or d["syncs_per_step"] >= 0.5)]
    own_pair = sum(d["syncs_per_pair"] for d in own)
    own_step = sum(d["syncs_per_step"] for d in own)
    ours = [d for d in summ["cuda_sites"] if origin(d["site"]) == "masktrack_d2"]
    h2d = summ["cuda_h2d"]
    loader_h2d = sum(d["syncs_per_pair"] for d in summ["stages"] if d["stage"] in (
        "GT instances to device", "input images: to device, normalise, pad"))
    tot_big = rows[big]["cuda"]["syncs"] + r0["write_metrics"]["syncs"]

    def lst(ds, key):
        return ", ".join(f"{d['stage']} {_n(d[key])}" for d in ds)

    lin = summ["linear_syncs"]
    dep = summ["data_dependent_sites"]
    dep_txt = "; ".join(
        f"`{_short(d['site'].split(' <- ')[0])}` " + "/".join(str(c) for c in d["counts"])
        for d in dep)
    dep_max = sum(max(c / b for c, b in zip(d["counts"], bs)) for d in dep)
    return [
        f"* One training step makes **{_n(lin['per_step'])} + {_n(lin['per_pair'])} x "
        f"pairs** host syncs on CUDA in the model"
        + (f", plus up to {_n(dep_max)} per pair on data-dependent lines ({dep_txt} at "
           f"batch {'/'.join(str(b) for b in bs)}: `find_top_rpn_proposals` filters with "
           "`boxes[keep]` only for an image with an empty proposal box; the fit over all "
           f"lines: {_n(cs['per_step'])} + {_n(cs['per_pair'])})" if dep else "")
        + f"; plus {r0['write_metrics']['syncs']} in detectron2's `write_metrics` (one "
        f"`.cpu()` per loss) and {r0['optimizer']['syncs']} in the optimizer step: "
        f"{tot_big} at batch {big}, {tot_big / big:.0f} per pair. The per-pair part does "
        "not shrink with the batch: it is what caps the pair rate.",
        f"* Per pair (scale with the batch): {lst(per_pair, 'syncs_per_pair')}. "
        f"Of these, {_n(h2d['per_pair'])} are blocking host-to-device copies "
        f"({_n(loader_h2d)} of the loader's tensors: two images, and each GT field of the "
        "key and reference `Instances`), the rest per-image loops in detectron2's RPN and "
        "RoI sampling (`nonzero` in `subsample_labels` and the low-quality matcher, the "
        "matcher's `assert`, the "
        "`.item()` of `num_bg_samples`) and proposal selection (`bool`/`.item()` checks, "
        "mask indexing, one `nms` per image, whose CUDA op ends in a `masked_select`, "
        "and torchvision's `torch.tensor(1).to(boxes)` in the batched-NMS offset).",
        f"* Per step (fixed): {lst(per_step, 'syncs_per_step')}: the RoI pooler "
        "(masktrack_d2's LevelROIPooler: one read of the per-level box counts per call, "
        "4 calls: box, mask, track key, track reference), and loss logging "
        "(`.item()`/`nonzero().numel()` for the RPN, box and mask statistics).",
        f"* masktrack_d2's share: {_n(own_step)} per step + {_n(own_pair)} per pair (per "
        f"pair: {lst([d for d in own if d['syncs_per_pair'] >= 0.5], 'syncs_per_pair')}; "
        f"per step: {lst([d for d in own if d['syncs_per_step'] >= 0.5], 'syncs_per_step')})"
        ". Lines in masktrack_d2 files: "
        + ("; ".join(f"`{_short(d['site'].split(' <- ')[0])}` "
                     f"{_n(d['per_step'])} + {_n(d['per_pair'])}/pair" for d in ours)
           or "none")
        + ". The GT copies are `Instances.to(self.device)` in `pair_losses`; the track "
        "head's own RoI sample and its `select_foreground_proposals` are detectron2 "
        "functions that masktrack_d2 calls a second time.",
        f"* The CPU profiler alone gives {_n(summ['profiler_syncs']['per_step'])} + "
        f"{_n(summ['profiler_syncs']['per_pair'])}: it counts "
        f"{_n(summ['host_side']['per_step'])} + {_n(summ['host_side']['per_pair'])} "
        "scalar reads of host values that do not sync on CUDA (`match_labels[mask] = l` in "
        "the matcher, `gt_classes[mask] = ...` in `_sample_proposals`: on CUDA the value is "
        "put on the host and `masked_fill_` is called; `ImageList.from_tensors` reading "
        "sizes from a host tensor), and it cannot see the copies (`.cpu()` and `.to(device)` "
        "return the same CPU tensor, `.tolist()` reads memory) nor the sync inside CUDA "
        "`nms`.",
    ]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--batch-sizes", default="1,2,4,8")
    p.add_argument("--min-size", type=int, default=180, help="INPUT.MIN_SIZE_TRAIN")
    p.add_argument("--max-size", type=int, default=320, help="INPUT.MAX_SIZE_TRAIN")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--height", type=int, default=180)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--config", default=CONFIG)
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the .md from the .json of an earlier run in --out-dir")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.report_only:
        data = reload_run(args, NAME)
        rows = {int(b): r for b, r in data["rows"].items()}
        write(args, data["env"], rows, summarise(rows))
        return 0
    args.batch_sizes = sorted({int(x) for x in args.batch_sizes.split(",")})
    if args.quick:
        args.batch_sizes = [b for b in args.batch_sizes if b <= 4]
    if len(args.batch_sizes) < 2:
        raise SystemExit("--batch-sizes: at least two sizes (the fit needs them)")
    setup_torch(args)
    if args.device != "cpu":
        raise SystemExit("this benchmark counts on the CPU (--device cpu)")
    info = env_info(args)
    rows = run(args)
    summ = summarise(rows)
    write(args, info, rows, summ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
