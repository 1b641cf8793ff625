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

    .venv/bin/python benchmarks/bench_train_syncs.py            # ~1-2 min on 2 cores
    .venv/bin/python benchmarks/bench_train_syncs.py --quick    # batch sizes 1, 2, 4
"""
import argparse
import collections
import json
import linecache
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import CACHE_DIR, ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.models import build_random_model, masktrack_cfg  # noqa: E402
from benchlib.report import env_info, env_lines, md_table, result_paths, write_report  # noqa: E402

NAME = "train_syncs"
CONFIG = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
DATASET = "bench_synthetic_{w}x{h}_v{v}_f{f}_train"
PROJECT = re.compile(r"(?:^|/)((?:masktrack_d2|detectron2|torchvision)/.*)$")

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


# ============================================================================ 1. CPU profiler
#: op name -> kind, for ops that make the host wait for the device on CUDA.
SYNC_OPS = {
    "aten::_local_scalar_dense": "item",
    "aten::nonzero": "nonzero",
    "aten::masked_select": "masked_select",
    "aten::_unique": "unique",
    "aten::_unique2": "unique",
    "aten::unique_dim": "unique",
    "aten::unique_consecutive": "unique",
    "aten::unique_dim_consecutive": "unique",
    "aten::repeat_interleave": "repeat_interleave",  # only with a nested item (see below)
    "aten::bincount": "bincount",
    "aten::equal": "equal",
}
PY_FRAME = re.compile(r"^(?P<file>.+?\.py)\((?P<line>\d+)\): (?P<func>.+)$")
C_METHOD = re.compile(r"^<built-in method (?P<name>\w+) of Tensor object at ")


def _frame(ev):
    """(path under the package root, function) of a project Python-frame event, or None."""
    m = PY_FRAME.match(ev.name)
    if not m:
        return None
    p = PROJECT.search(m.group("file"))
    return (p.group(1), m.group("func")) if p else None


def _frame_label(ev):
    fr = _frame(ev)
    return f"{fr[0]}:{fr[1]}" if fr else None


def _profile_stage(anc):
    if any(a.name.startswith("autograd::engine::evaluate_function") for a in anc):
        return "(backward pass)"
    return stage_of([fr for fr in (_frame(a) for a in anc) if fr is not None])


def _ancestors(ev):
    p = ev.cpu_parent
    while p is not None:
        yield p
        p = p.cpu_parent


def _descendants(ev):
    stack = list(ev.cpu_children)
    while stack:
        c = stack.pop()
        yield c
        stack.extend(c.cpu_children)


def _sync_kind(ev):
    kind = SYNC_OPS.get(ev.name)
    if kind == "repeat_interleave":
        # the output size is read with a nested item; with output_size given it is not
        return kind if any(c.name == "aten::_local_scalar_dense" for c in _descendants(ev)) \
            else None
    return kind


def _profile_site(ev):
    """(site, caller): innermost project function above ``ev`` and the next one outward;
    backward ops (no Python frame) by autograd node."""
    site = None
    node = None
    for p in _ancestors(ev):
        if node is None and re.search(r"Backward\d*$", p.name):
            node = p.name
        label = _frame_label(p)
        if label is None:
            continue
        if site is None:
            site = label
        elif label != site:
            return site, label
    if site is None:
        return f"(backward) {node or '?'}", "-"
    return site, "-"


def analyse_profile(events):
    """CPU-side counts of one profiled region."""
    kinds = collections.Counter()
    per_func = collections.defaultdict(collections.Counter)  # "file:func" -> kind counts
    per_site = collections.defaultdict(collections.Counter)  # "site <- caller" -> kinds
    host_read_calls = collections.Counter()
    top_by_stage = collections.Counter()
    syncs_by_stage = collections.Counter()
    aten_all = aten_top = aten_top_bwd = 0
    for ev in events:
        name = ev.name
        if not name.startswith("aten::"):
            m = C_METHOD.match(name)
            if m and m.group("name") in ("cpu", "tolist", "numpy"):
                host_read_calls[m.group("name")] += 1
            continue
        aten_all += 1
        anc = list(_ancestors(ev))
        if not any(a.name.startswith("aten::") for a in anc):
            aten_top += 1
            stage = _profile_stage(anc)
            top_by_stage[stage] += 1
            if stage == "(backward pass)":
                aten_top_bwd += 1
        kind = _sync_kind(ev)
        if kind is None or any(_sync_kind(a) is not None for a in anc):
            continue
        syncs_by_stage[_profile_stage(anc)] += 1
        site, caller = _profile_site(ev)
        kinds[kind] += 1
        per_func[site][kind] += 1
        per_site[f"{site} <- {caller}"][kind] += 1
    return {
        "syncs": sum(kinds.values()), "kinds": dict(kinds),
        "per_func": {k: dict(v) for k, v in per_func.items()},
        "per_site": {k: dict(v) for k, v in per_site.items()},
        "host_read_calls": dict(host_read_calls),
        "aten_top_by_stage": dict(top_by_stage), "syncs_by_stage": dict(syncs_by_stage),
        "aten_ops": aten_all, "aten_top": aten_top, "aten_top_backward": aten_top_bwd,
    }


def profiled(fn):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=False,
                 with_stack=True) as prof:
        out = fn()
    return out, prof.profiler.function_events


# ============================================================================ 2. CUDA view
#: categories of the CUDA view, in report order: (key, column title)
CATEGORIES = [
    ("item", "scalar reads"),
    ("nonzero", "nonzero / mask indexing"),
    ("size", "other data-sized ops"),
    ("backward", "backward mask indexing"),
    ("d2h", "D2H copies"),
    ("h2d", "H2D copies"),
    ("nms", "inside CUDA nms"),
]
#: kind -> (category, seen as a sync op by the CPU profiler)
KINDS = {
    "item": ("item", True), "bool": ("item", True), "int": ("item", True),
    "float": ("item", True), "index": ("item", True), "size as 0-dim tensor": ("item", True),
    "masked_fill(tensor value)": ("item", True), "allclose": ("item", True),
    "nonzero": ("nonzero", True), "where(cond)": ("nonzero", True),
    "mask index": ("nonzero", True), "mask assign": ("nonzero", True),
    "masked_select": ("size", True), "unique": ("size", True),
    "repeat_interleave": ("size", True), "bincount": ("size", True), "equal": ("size", True),
    "backward of mask index": ("backward", True),
    "cpu()": ("d2h", False), "tolist()": ("d2h", False), "numpy()": ("d2h", False),
    "to(host)": ("d2h", False), "copy_ to host": ("d2h", False),
    "to(device)": ("h2d", False), "to(device, non_blocking)": ("h2d", False),
    "tensor(host data, device)": ("h2d", False), "new_tensor(host data)": ("h2d", False),
    "copy_ from host": ("h2d", False),
    "nms": ("nms", False),
}
#: kinds that run the same CPU op whether the operand is on the host or the device on CUDA
#: (a host operand: no sync there); for the cross-check with the profiler
_ON = "_syncbench_device"  # attribute set on tensors that live on the device on CUDA
_FACTORIES = {"tensor", "as_tensor", "asarray", "zeros", "ones", "empty", "full", "arange",
              "range", "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm",
              "scalar_tensor", "empty_strided", "tril_indices", "triu_indices", "normal",
              "bernoulli", "empty_like", "zeros_like", "ones_like", "full_like", "rand_like",
              "randn_like", "randint_like"}
_SEQ_FUNCS = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack",
              "column_stack", "row_stack", "broadcast_tensors", "block_diag",
              "cartesian_prod", "meshgrid", "einsum", "__getitem__", "__setitem__",
              "index_put", "index_put_", "chain_matmul", "multi_dot", "split", "tensor_split",
              "as_tensor", "tensor", "asarray", "where", "atleast_1d", "atleast_2d",
              "result_type", "promote_types", "can_cast"}
_SCALAR_READS = {"item": "item", "__bool__": "bool", "__int__": "int", "__float__": "float",
                 "__index__": "index", "is_nonzero": "bool", "allclose": "allclose"}
_HOST_READS = {"cpu": "cpu()", "tolist": "tolist()", "numpy": "numpy()", "__array__": "numpy()"}
_DATA_SIZED = {"masked_select": "masked_select", "unique": "unique",
               "unique_consecutive": "unique", "_unique": "unique", "_unique2": "unique",
               "bincount": "bincount", "equal": "equal"}


def _is_t(x):
    import torch

    return isinstance(x, torch.Tensor)


def _on(t):
    return getattr(t, _ON, False)


def _tensors(obj, depth=0):
    if _is_t(obj):
        yield obj
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for o in obj:
            yield from _tensors(o, depth + 1)
    elif isinstance(obj, dict) and depth < 3:
        for o in obj.values():
            yield from _tensors(o, depth + 1)


def _mark(obj, on, depth=0):
    if _is_t(obj):
        if on:
            setattr(obj, _ON, True)
        elif _on(obj):
            setattr(obj, _ON, False)
    elif isinstance(obj, (list, tuple)) and depth < 3:
        for o in obj:
            _mark(o, on, depth + 1)


def _device_target(args, kwargs):
    """Where ``.to(...)`` sends a tensor: True (the model's device), False (host), None
    (unchanged: a dtype only). On this CPU run the model's device is ``cpu`` too, so a
    ``torch.device`` argument is taken as the model's device and only the string "cpu"
    (or ``.cpu()``) as the host."""
    import torch

    cands = list(args) + [kwargs.get("device")]
    for a in cands:
        if isinstance(a, torch.device):
            return True
        if isinstance(a, str):
            return a != "cpu"
        if _is_t(a):  # .to(other): other's place
            return _on(a)
    return None


class SyncTracer:
    """A ``TorchFunctionMode`` that records the syncs a CUDA run of the same Python code
    would make (see the module docstring)."""

    def __init__(self):
        from torch.overrides import TorchFunctionMode

        tracer = self
        self.events = collections.Counter()  # (kind, on_device, site, caller, stage) -> n
        self.code = {}  # "file:line" -> source line
        self.errors = collections.Counter()

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                try:
                    out = tracer.account(func, args, kwargs, out)
                except Exception as e:  # never break the step over the bookkeeping
                    tracer.errors[f"{getattr(func, '__name__', func)}: {e!r}"[:200]] += 1
                return out

        self.mode = Mode

    @staticmethod
    def mark_module(model):
        for t in list(model.parameters()) + list(model.buffers()):
            setattr(t, _ON, True)

    def _site(self):
        """(site, caller, stage): "file:line:function" of the innermost project frame and
        of the next one in another function; the stage from all project frames."""
        f = sys._getframe(3)
        site = caller = None
        frames = []
        while f is not None:
            p = PROJECT.search(f.f_code.co_filename)
            if p:
                frames.append((p.group(1), f.f_code.co_name))
                label = f"{p.group(1)}:{f.f_lineno}:{f.f_code.co_name}"
                if site is None:
                    site = label
                    self.code.setdefault(site, linecache.getline(
                        f.f_code.co_filename, f.f_lineno).strip())
                elif caller is None and frames[-1] != frames[0]:
                    caller = label
            f = f.f_back
        return (site or "(outside masktrack_d2 / detectron2)", caller or "-",
                stage_of(frames))

    def add(self, kind, on, n=1):
        self.events[(kind, bool(on)) + self._site()] += n

    def account(self, func, args, kwargs, out):
        import torch

        name = getattr(func, "__name__", "")
        self_t = args[0] if args and _is_t(args[0]) else None
        in_on = any(_on(t) for t in _tensors((args, kwargs)))

        # --- where the output lives
        place = in_on
        if name in _HOST_READS or (name == "to" and _device_target(args[1:], kwargs) is False):
            if self_t is not None and _on(self_t):
                self.add(_HOST_READS.get(name, "to(host)"), True)
            place = False
        elif name in ("to", "cuda"):
            tgt = True if name == "cuda" else _device_target(args[1:], kwargs)
            if tgt is None:
                place = _on(self_t) if self_t is not None else in_on
            else:
                if tgt and self_t is not None and not _on(self_t):
                    self.add("to(device, non_blocking)" if kwargs.get("non_blocking")
                             else "to(device)", True)
                place = tgt
        elif name in _FACTORIES:
            dev = kwargs.get("device")
            if dev is not None:
                place = not (isinstance(dev, str) and dev == "cpu")
                data = args[0] if args else kwargs.get("data")
                if name in ("tensor", "as_tensor", "asarray") and place and not (
                        _is_t(data) and _on(data)):
                    self.add("tensor(host data, device)", True)
            elif name.endswith("_like"):
                place = in_on
            elif name in ("as_tensor", "asarray") and args and _is_t(args[0]):
                place = _on(args[0])
            else:
                place = False
        elif name == "from_numpy" or name == "pin_memory":
            place = False
        elif name == "new_tensor":
            place = self_t is not None and _on(self_t)
            data = args[1] if len(args) > 1 else kwargs.get("data")
            if place and not (_is_t(data) and _on(data)):
                self.add("new_tensor(host data)", True)
        elif name.startswith("new_") and self_t is not None:
            place = _on(self_t)
        elif name == "copy_" and self_t is not None and len(args) > 1 and _is_t(args[1]):
            if _on(self_t) and not _on(args[1]):
                self.add("copy_ from host", True)
            elif not _on(self_t) and _on(args[1]):
                self.add("copy_ to host", True)
            place = _on(self_t)

        # --- syncs that the CPU profiler sees as ops (host operands included, flagged)
        if name in _SCALAR_READS:
            self.add(_SCALAR_READS[name], in_on)
        elif name in ("nonzero", "argwhere"):
            self.add("nonzero", in_on)
        elif name == "where" and len(args) == 1 and not kwargs:
            self.add("where(cond)", in_on)
        elif name in _DATA_SIZED:
            self.add(_DATA_SIZED[name], in_on)
        elif name == "repeat_interleave" and kwargs.get("output_size") is None:
            reps = kwargs.get("repeats", args[1] if len(args) > 1 else
                              (args[0] if len(args) == 1 else None))
            if _is_t(reps) and reps.dim() > 0:
                self.add("repeat_interleave", _on(reps))
        elif name in ("__getitem__", "__setitem__", "index_put", "index_put_"):
            idx = args[1] if len(args) > 1 else None
            masks = [t for t in _tensors(idx) if t.dtype in (torch.bool, torch.uint8)]
            if masks and self_t is not None:
                on = _on(self_t) or any(_on(m) for m in masks)
                if name == "__getitem__":
                    self.add("mask index", on)
                    if on and torch.is_grad_enabled() and self_t.requires_grad:
                        self.add("backward of mask index", True)
                else:
                    value = args[2] if len(args) > 2 else kwargs.get("values")
                    if isinstance(value, (int, float, bool)) or (
                            _is_t(value) and value.numel() == 1 and not _on(value)):
                        # the value is made / kept on the host: masked_fill_, no sync
                        # (the CPU shows the item of that host scalar)
                        self.add("mask assign", False)
                    else:
                        self.add("mask assign", on)
        elif name in ("masked_fill", "masked_fill_") and len(args) > 2 and _is_t(args[2]):
            self.add("masked_fill(tensor value)", _on(args[2]))
        elif name == "nms" and in_on:
            self.add("nms", True)
        if name not in _SEQ_FUNCS and not name.startswith("_foreach"):
            # sizes / fill values given as lists holding 0-dim tensors: one read each
            for a in list(args[1:] if self_t is not None else args) + list(kwargs.values()):
                if isinstance(a, (list, tuple)):
                    zs = [t for t in a if _is_t(t) and t.dim() == 0]
                    for z in zs:
                        self.add("size as 0-dim tensor", _on(z))

        # --- mark the output; an op that returned its input object unchanged on the CPU
        # (.to / .cpu with nothing to do) gets a fresh alias when its place changes
        if out is not None and _is_t(out) and self_t is not None and out is self_t \
                and bool(place) != bool(_on(self_t)):
            out = out.view_as(out)
        _mark(out, place)
        return out

    def summary(self):
        """Counts of the CUDA view: syncs by category/kind/site, host-side look-alikes."""
        per_site = collections.defaultdict(collections.Counter)
        host_side = collections.defaultdict(collections.Counter)
        cats = collections.Counter()
        kinds = collections.Counter()
        per_func_visible = collections.Counter()  # "file:func" -> ops the CPU profiler sees
        by_stage = collections.Counter()
        by_stage_site = collections.defaultdict(collections.Counter)
        for (kind, on, site, caller, stage), n in self.events.items():
            cat, visible = KINDS[kind]
            parts = site.split(":")
            func_key = f"{parts[0]}:{parts[-1]}" if len(parts) >= 3 else site
            if visible:
                key = "(backward)" if cat == "backward" else func_key
                per_func_visible[key] += n
            if on:
                by_stage[stage] += n
                by_stage_site[stage][f"{site} <- {caller}"] += n
                cats[cat] += n
                kinds[kind] += n
                per_site[f"{site} <- {caller}"][kind] += n
            else:
                host_side[f"{site} <- {caller}"][kind] += n
        return {
            "syncs": sum(cats.values()), "categories": dict(cats), "kinds": dict(kinds),
            "per_site": {k: dict(v) for k, v in per_site.items()},
            "host_side": {k: dict(v) for k, v in host_side.items()},
            "host_side_total": sum(sum(v.values()) for v in host_side.values()),
            "per_func_visible": dict(per_func_visible), "by_stage": dict(by_stage),
            "by_stage_site": {k: dict(v) for k, v in by_stage_site.items()},
            "code": dict(self.code), "errors": dict(self.errors),
        }


def traced(fn, tracer):
    with tracer.mode():
        return fn()


# ============================================================================ data
def make_dataset(args):
    from masktrack_d2.data.synthetic import generate_synthetic_ytvis

    root = os.path.join(CACHE_DIR, f"synthetic_{args.width}x{args.height}_"
                                   f"v{args.videos}_f{args.frames}")
    marker = os.path.join(root, "info.json")
    if not os.path.exists(marker):
        info = generate_synthetic_ytvis(root, num_videos=args.videos, num_frames=args.frames,
                                        height=args.height, width=args.width, seed=args.seed)
        with open(marker, "w") as f:
            json.dump(info, f)
    with open(marker) as f:
        return json.load(f)


def register(info, name):
    from detectron2.data import DatasetCatalog

    from masktrack_d2.data.datasets import register_ytvis_instances
    from masktrack_d2.data.datasets.builtin import ytvis_builtin_metadata

    if name not in DatasetCatalog.list():
        register_ytvis_instances(name, ytvis_builtin_metadata("ytvis_synthetic"),
                                 info["train_json"], info["image_root"])


# ============================================================================ run
def run(args):
    import numpy as np
    import torch
    from detectron2.engine import SimpleTrainer
    from detectron2.utils.events import EventStorage

    from masktrack_d2.data.build import build_frame_pair_train_loader
    from masktrack_d2.solver import build_optimizer

    ds = make_dataset(args)
    name = DATASET.format(w=args.width, h=args.height, v=args.videos, f=args.frames)
    register(ds, name)
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
            tracer = SyncTracer()
            t0 = time.perf_counter()
            losses = traced(lambda: step(batch), tracer)
            t1 = time.perf_counter()
            cuda = tracer.summary()
            # the same step under the profiler
            model.zero_grad(set_to_none=True)
            _, events = profiled(lambda: step(batch))
            t2 = time.perf_counter()
            prof = analyse_profile(events)
            del events
            # once per step besides the model: the trainer's metrics, the optimizer step
            wm = SyncTracer()
            traced(lambda: SimpleTrainer.write_metrics(losses, 0.0), wm)
            for p in model.parameters():
                if p.grad is not None:
                    setattr(p.grad, _ON, True)
            op = SyncTracer()
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
def fit(xs, ys):
    """Least squares y = a + b x; returns (a, b, max abs residual)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    return a, b, max(abs(y - a - b * x) for x, y in zip(xs, ys))


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
def origin(site):
    if site.startswith("masktrack_d2/"):
        return "masktrack_d2"
    if site.startswith("detectron2/"):
        return "detectron2"
    if site.startswith("torchvision/"):
        return "torchvision"
    return "other"


def _n(v):
    return f"{v:.1f}" if abs(v - round(v)) > 0.05 else f"{round(v):d}"


def _short(label):
    """'detectron2/modeling/matcher.py:87:__call__' -> 'modeling/matcher.py:87 __call__'."""
    parts = label.split(":")
    path = parts[0].split("/", 1)[1] if "/" in parts[0] else parts[0]
    return f"{path}:{parts[1]} {parts[2]}" if len(parts) >= 3 else label


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
        "(4 levels x `nonzero` + `as_tensor(sizes, device=)` + `repeat_interleave` per "
        "call, 4 calls: box, mask, track key, track reference), and loss logging "
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
        with open(os.path.join(args.out_dir, NAME + ".json")) as f:
            data = json.load(f)
        for k, v in data["args"].items():
            if k not in ("out_dir", "report_only"):
                setattr(args, k, v)
        args.opts = data["opts"]
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
