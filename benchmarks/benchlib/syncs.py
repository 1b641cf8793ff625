"""Host syncs of model code run on the CPU, as a CUDA run would issue them: the machinery
shared by ``bench_train_syncs.py`` and ``bench_inference_syncs.py``.

Two views of the same Python code:

* :class:`SyncTracer`, the **CUDA view**: a ``TorchFunctionMode`` that sees every torch call
  from Python with its arguments, tracks which tensors would live on the GPU (the model's
  parameters and buffers, marked with :meth:`SyncTracer.mark_module`, and what is computed
  from them on the device) and records every op that would make the host wait for the device
  (scalar reads, ``nonzero`` and boolean-mask indexing, other data-sized ops, blocking
  host <-> device copies, torchvision's CUDA ``nms``) with its source line and stage.
  With ``fake_cuda=True`` the tracked tensors also *report* ``device`` ``cuda:0`` (and
  ``is_cuda``), and ``cuda`` device arguments are run on the CPU, so that code which branches
  on the device type (detectron2's ``paste_masks_in_image``, torchvision's ``batched_nms``)
  takes its CUDA branch.
* :func:`profiled` + :func:`analyse_profile`, the **CPU profiler**: the ops that are syncs on
  CUDA (``_local_scalar_dense``, ``nonzero``, ...), and all aten ops, attributed to the
  innermost ``masktrack_d2/`` / ``detectron2/`` Python frame.

The stage of an op is given by a ``stage_fn(frames)`` of the benchmark: ``frames`` are the
(path under the package root, function) pairs of the project frames, innermost first.
"""
import collections
import linecache
import re
import sys

PROJECT = re.compile(r"(?:^|/)((?:masktrack_d2|detectron2|torchvision)/.*)$")
#: record_function range around the tracer's own bookkeeping ops (aliases of tensors whose
#: place changes); analyse_profile leaves out the aten ops inside it
BOOKKEEPING = "syncbench::bookkeeping"


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


def _profile_stage(anc, stage_fn):
    if any(a.name.startswith("autograd::engine::evaluate_function") for a in anc):
        return "(backward pass)"
    return stage_fn([fr for fr in (_frame(a) for a in anc) if fr is not None])


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


def analyse_profile(events, stage_fn):
    """CPU-side counts of one profiled region; ``stage_fn``: the benchmark's stage rule.
    Aten ops inside the tracer's bookkeeping range (:data:`BOOKKEEPING`) are left out."""
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
        anc = list(_ancestors(ev))
        if any(a.name == BOOKKEEPING for a in anc):
            continue
        aten_all += 1
        if not any(a.name.startswith("aten::") for a in anc):
            aten_top += 1
            stage = _profile_stage(anc, stage_fn)
            top_by_stage[stage] += 1
            if stage == "(backward pass)":
                aten_top_bwd += 1
        kind = _sync_kind(ev)
        if kind is None or any(_sync_kind(a) is not None for a in anc):
            continue
        syncs_by_stage[_profile_stage(anc, stage_fn)] += 1
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


def _is_cuda_arg(a):
    """A ``cuda`` device argument (``torch.device`` or string)."""
    import torch

    if isinstance(a, torch.device):
        return a.type == "cuda"
    return isinstance(a, str) and a.startswith("cuda")


def _device_target(args, kwargs, fake_cuda=False):
    """Where ``.to(...)`` sends a tensor: True (the model's device), False (host), None
    (unchanged: a dtype only). On this CPU run the model's device is ``cpu`` too, so a
    ``torch.device`` argument is taken as the model's device and only the string "cpu"
    (or ``.cpu()``) as the host; with ``fake_cuda`` the device tensors report ``cuda:0``,
    so a device argument's type tells."""
    import torch

    cands = list(args) + [kwargs.get("device")]
    for a in cands:
        if isinstance(a, torch.device):
            return a.type != "cpu" if fake_cuda else True
        if isinstance(a, str):
            return a != "cpu"
        if _is_t(a):  # .to(other): other's place
            return _on(a)
    return None


class SyncTracer:
    """A ``TorchFunctionMode`` that records the syncs a CUDA run of the same Python code
    would make (see the module docstring).

    Args:
        stage_fn: ``stage_fn(frames)`` -> the stage of an op (frames: the project frames
            (path, function), innermost first).
        fake_cuda: tracked tensors report ``device`` ``cuda:0`` / ``is_cuda`` True, and
            ``cuda`` device arguments (``device=``, ``.to(...)``) run on the CPU: code that
            branches on the device type takes its CUDA branch. Off: the code runs its CPU
            branches (what ``bench_train_syncs.py`` measured).
        owner_prefix: also count each device sync under its "owner": the innermost frame
            whose path (below the package root) starts with this prefix and with none of
            ``owner_skip`` (e.g. the masktrack_d2 line that called the detectron2 function
            that synchronised); in ``summary()["owners"]``."""

    def __init__(self, stage_fn, fake_cuda=False, owner_prefix=None, owner_skip=()):
        import torch
        from torch.overrides import TorchFunctionMode

        tracer = self
        self.stage_fn = stage_fn
        self.fake_cuda = bool(fake_cuda)
        self.events = collections.Counter()  # (kind, on_device, site, caller, stage) -> n
        self.code = {}  # "file:line" -> source line
        self.errors = collections.Counter()
        self.owner_prefix = owner_prefix
        self.owner_skip = tuple(owner_skip)
        # (owner "file:line:function", kind, stage, library of the sync's line) -> n
        self.owners = collections.Counter()
        self._owner = None
        fake_device = torch.device("cuda", 0)
        cpu = torch.device("cpu")

        def host_args(func, args, kwargs):
            """args / kwargs with every cuda device argument replaced by the CPU."""
            if func is torch.device:
                return args, kwargs
            if kwargs.get("device") is not None and _is_cuda_arg(kwargs["device"]):
                kwargs = dict(kwargs, device=cpu)
            if any(_is_cuda_arg(a) for a in args):
                args = tuple(cpu if _is_cuda_arg(a) else a for a in args)
            return args, kwargs

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                if tracer.fake_cuda:
                    name = getattr(func, "__name__", "")
                    if name == "__get__" and args and _on(args[0]):
                        attr = getattr(getattr(func, "__self__", None), "__name__", None)
                        if attr == "device":
                            return fake_device
                        if attr == "is_cuda":
                            return True
                    elif name == "get_device" and args and _on(args[0]):
                        return 0
                    call_args, call_kwargs = host_args(func, args, kwargs)
                    out = func(*call_args, **call_kwargs)
                else:
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
        site = caller = owner = None
        frames = []
        while f is not None:
            p = PROJECT.search(f.f_code.co_filename)
            if p:
                frames.append((p.group(1), f.f_code.co_name))
                label = f"{p.group(1)}:{f.f_lineno}:{f.f_code.co_name}"
                if owner is None and self.owner_prefix and p.group(1).startswith(
                        self.owner_prefix) and not p.group(1).startswith(self.owner_skip):
                    owner = label
                    self.code.setdefault(owner, linecache.getline(
                        f.f_code.co_filename, f.f_lineno).strip())
                if site is None:
                    site = label
                    self.code.setdefault(site, linecache.getline(
                        f.f_code.co_filename, f.f_lineno).strip())
                elif caller is None and frames[-1] != frames[0]:
                    caller = label
            f = f.f_back
        self._owner = owner
        return (site or "(outside masktrack_d2 / detectron2)", caller or "-",
                self.stage_fn(frames))

    def add(self, kind, on, n=1):
        key = (kind, bool(on)) + self._site()
        self.events[key] += n
        if on and self.owner_prefix:
            self.owners[(self._owner or "-", kind, key[-1], key[2].split("/")[0])] += n

    def account(self, func, args, kwargs, out):
        import torch

        name = getattr(func, "__name__", "")
        self_t = args[0] if args and _is_t(args[0]) else None
        in_on = any(_on(t) for t in _tensors((args, kwargs)))

        # --- where the output lives
        place = in_on
        if name in _HOST_READS or (name == "to" and _device_target(args[1:], kwargs, self.fake_cuda) is False):
            if self_t is not None and _on(self_t):
                self.add(_HOST_READS.get(name, "to(host)"), True)
            place = False
        elif name in ("to", "cuda"):
            tgt = True if name == "cuda" else _device_target(args[1:], kwargs, self.fake_cuda)
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
                place = _is_cuda_arg(dev) if self.fake_cuda else not (
                    isinstance(dev, str) and dev == "cpu")
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
            with torch.profiler.record_function(BOOKKEEPING):
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
        out = {
            "syncs": sum(cats.values()), "categories": dict(cats), "kinds": dict(kinds),
            "per_site": {k: dict(v) for k, v in per_site.items()},
            "host_side": {k: dict(v) for k, v in host_side.items()},
            "host_side_total": sum(sum(v.values()) for v in host_side.values()),
            "per_func_visible": dict(per_func_visible), "by_stage": dict(by_stage),
            "by_stage_site": {k: dict(v) for k, v in by_stage_site.items()},
            "code": dict(self.code), "errors": dict(self.errors),
        }
        if self.owner_prefix:
            owners = collections.defaultdict(collections.Counter)
            owner_stages = collections.defaultdict(collections.Counter)
            owner_libs = collections.defaultdict(collections.Counter)
            for (owner, kind, stage, lib), n in self.owners.items():
                owners[owner][kind] += n
                owner_stages[owner][stage] += n
                owner_libs[owner][lib] += n
            out["owners"] = {k: dict(v) for k, v in owners.items()}
            out["owner_stages"] = {k: dict(v) for k, v in owner_stages.items()}
            out["owner_libs"] = {k: dict(v) for k, v in owner_libs.items()}
        return out


def fake_cuda_mode():
    """A ``TorchFunctionMode`` in which *every* tensor reports ``device`` ``cuda:0`` (and
    ``is_cuda``) and ``cuda`` device arguments run on the CPU; nothing is recorded. For a
    scope whose tensors would all be on the device (e.g. wrapped around one function that
    branches on the device type), where :class:`SyncTracer` is too slow (under the
    profiler)."""
    import torch
    from torch.overrides import TorchFunctionMode

    fake_device = torch.device("cuda", 0)
    cpu = torch.device("cpu")

    class FakeCuda(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if name == "__get__" and args and _is_t(args[0]):
                attr = getattr(getattr(func, "__self__", None), "__name__", None)
                if attr == "device":
                    return fake_device
                if attr == "is_cuda":
                    return True
            if func is not torch.device:
                if kwargs.get("device") is not None and _is_cuda_arg(kwargs["device"]):
                    kwargs = dict(kwargs, device=cpu)
                args = tuple(cpu if _is_cuda_arg(a) else a for a in args)
            return func(*args, **kwargs)

    return FakeCuda()


def traced(fn, tracer):
    with tracer.mode():
        return fn()



def fit(xs, ys):
    """Least squares y = a + b x; returns (a, b, max abs residual)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    return a, b, max(abs(y - a - b * x) for x, y in zip(xs, ys))



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

