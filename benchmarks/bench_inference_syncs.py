"""Host syncs of video inference, per frame: what a CUDA run of ``inference_video`` would
make the host wait for, by stage and by source line.

An issue about video inference asks to remove the host syncs of the per-frame loop whose
result is not needed yet (goal: at most 10 per frame). This benchmark counts them on the CPU
with the machinery of ``bench_train_syncs.py`` (``benchlib/syncs.py``):

* the R-50 table config (``configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e.yaml``, test
  size 640x360), random weights with calibrated backbone norms
  (``benchlib.models.build_random_model``), ``MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.0`` so that
  a frame has up to ``TEST.DETECTIONS_PER_IMAGE`` detections (100, and a run at 10);
* a generated moving-shapes video (``benchlib.video``, 640x360, ``--frames`` frames, default
  8) through ``MaskTrackRCNN.inference_video``: ``track_frames`` (the detector on K =
  ``TEST.FRAMES_PER_BATCH`` frames at once, the tracker frame by frame, the mask head for the
  kept detections, ``detector_postprocess``) and ``VideoTrackResults.add_frame`` (masks to the
  host, RLE), for K = 1 and K = 4 (``--ks``).

Per run (K, detections per image), two passes over the video (the tracker is reset at the
start of each, so they compute the same):

1. **CUDA view** (``SyncTracer(fake_cuda=True)``): the model's parameters and buffers and
   everything computed from them live on the device; the frames (host tensors from the test
   mapper) and tensors built without ``device=`` (the tracker's ids / last-seen frames, its
   index lists) on the host. The tracked tensors *report* ``cuda:0`` as their device, and
   ``cuda`` device arguments run on the CPU, so the Python code takes its CUDA branches:
   detectron2's ``paste_masks_in_image`` pastes all masks of a frame in one chunk on the
   whole image (``skip_empty=False``, no ``.item()`` per mask as on the CPU), torchvision's
   ``batched_nms`` picks between its coordinate trick and its per-class loop with the CUDA
   threshold (more than 100,000 box coordinates: loop; on the CPU: more than 4,000), and
   ``torch.tensor(..., device=boxes.device)`` in the tracker is a host-to-device copy. Counted
   per frame (between two ``add_frame`` returns: the detector syncs of a chunk of K frames
   fall on its first frame), by stage and by source line.
2. **CPU profiler** (the same pass under ``torch.profiler``, without the tracer, whose
   Python would swamp the profiler; the two functions on this path that branch on the device
   type, ``paste_masks_in_image`` and torchvision's ``batched_nms``, run under
   ``benchlib.syncs.fake_cuda_mode`` so they take their CUDA branch): the sync ops the
   profiler sees (``_local_scalar_dense``, ``nonzero``, ...), cross-checked with the CUDA view
   function by function (which also checks that no other device branch was missed), and the
   aten ops per frame.

What the CUDA view cannot model: the C++ side of an op (a CUDA kernel that synchronises
inside, e.g. cuDNN autotuning; none is known on this path besides ``nms``, counted), the
caching allocator (``cudaMalloc`` / ``cudaFree`` can synchronise when memory runs short),
and pinned-memory copies (none here: every copy is pageable, so blocking). With
``--cpu-path-frames`` (default 3; 0: skip) one more profiled pass over the first frames, with
the first run's settings and no fake device, shows what the CPU profiler counts on the CPU's
own branches.

    .venv/bin/python benchmarks/bench_inference_syncs.py           # ~2 min of CPU (2 cores)
    .venv/bin/python benchmarks/bench_inference_syncs.py --quick   # 4 frames, K 1 and 2

(Wall time grows with the other jobs on the cores: 5.5 min at a load average of 7.)
"""
import argparse
import collections
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import ROOT, add_common_args, setup_torch  # noqa: E402
from benchlib.models import build_random_model, masktrack_cfg  # noqa: E402
from benchlib.report import (  # noqa: E402
    env_info, env_lines, md_table, reload_run, result_paths, write_report)
from benchlib.syncs import (  # noqa: E402
    BOOKKEEPING, CATEGORIES, KINDS, SyncTracer, _n, _short, analyse_profile, fake_cuda_mode, origin,
    profiled, traced)
from benchlib.video import model_inputs, moving_shapes_frames  # noqa: E402

NAME = "inference_syncs"
CONFIG = os.path.join(ROOT, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e.yaml")
GOAL = 10  # syncs per frame, the goal

PRE = "preprocess: images to device, normalise, pad"
BACKBONE = "backbone + FPN"
RPN_HEAD = "RPN head + anchors"
RPN_PROPOSALS = "RPN proposal selection + NMS"
BOX = "box head: RoI pool, FCs, predictor"
BOX_INF = "box head inference: score filter, NMS, top-k"
EMBED = "track embeddings: RoI pool, FCs"
TRACKER = "tracker.step"
KEEP = "keep mask: det[ids >= 0]"
MASK = "mask head: RoI pool, FCN"
POST = "frame_postprocess: scale, clip, nonempty filter"
PASTE = "frame_postprocess: paste masks (detectron2's paste_masks_in_image)"
RESULTS = "results: masks to the host, RLE (add_frame)"
#: (path part, function or None, stage), first match from the innermost project frame
#: outward; stage None: a helper, look at its caller. Files without a rule (layers/ but
#: mask_ops, structures/, box_regression, torchvision) always defer to their caller; so do
#: the RoI poolers (their syncs go to the head that calls them).
STAGE_RULES = [
    ("modeling/poolers.py", None, None),
    ("masktrack_d2/utils/arrays.py", None, None),
    ("masktrack_d2/modeling/track_results.py", None, RESULTS),
    ("masktrack_d2/modeling/tracker.py", None, TRACKER),
    ("masktrack_d2/modeling/matching.py", None, TRACKER),
    ("layers/mask_ops.py", None, PASTE),
    ("modeling/postprocessing.py", "detector_postprocess", POST),
    ("masktrack_d2/modeling/postprocessing.py", "frame_postprocess", POST),
    # class_nms serves the box inference and the RPN: the caller decides the stage
    ("masktrack_d2/modeling/box_inference.py", "box_inference", BOX_INF),
    ("masktrack_d2/modeling/proposals.py", None, RPN_PROPOSALS),
    ("masktrack_d2/modeling/roi_heads.py", "detect", BOX),
    ("roi_heads/mask_head.py", None, MASK),
    ("roi_heads/roi_heads.py", "_forward_mask", MASK),
    ("roi_heads/roi_heads.py", "forward_with_given_boxes", MASK),
    ("roi_heads/fast_rcnn.py", "fast_rcnn_inference_single_image", BOX_INF),
    ("roi_heads/fast_rcnn.py", "fast_rcnn_inference", BOX_INF),
    ("roi_heads/fast_rcnn.py", None, BOX),
    ("roi_heads/box_head.py", None, BOX),
    ("roi_heads/roi_heads.py", "_forward_box", BOX),
    ("masktrack_d2/modeling/track_head.py", None, EMBED),
    ("masktrack_d2/modeling/roi_heads.py", "embed", EMBED),
    ("masktrack_d2/modeling/roi_heads.py", "detect_and_embed", EMBED),
    ("proposal_utils.py", "find_top_rpn_proposals", RPN_PROPOSALS),
    ("proposal_generator/rpn.py", "predict_proposals", RPN_PROPOSALS),
    ("proposal_generator/rpn.py", "_decode_proposals", RPN_PROPOSALS),
    ("anchor_generator.py", None, RPN_HEAD),
    ("proposal_generator/rpn.py", None, RPN_HEAD),
    ("modeling/backbone/", None, BACKBONE),
    ("meta_arch/rcnn.py", "preprocess_image", PRE),
    ("masktrack_d2/modeling/meta_arch.py", "_track_chunk", KEEP),
    ("masktrack_d2/modeling/meta_arch.py", "inference_video", RESULTS),
]
CATCH_ALL = [("masktrack_d2/", "masktrack_d2, other"), ("detectron2/", "detectron2, other"),
             ("torchvision/", "torchvision, other")]
STAGE_ORDER = [PRE, BACKBONE, RPN_HEAD, RPN_PROPOSALS, BOX, BOX_INF, EMBED, TRACKER, KEEP,
               MASK, POST, PASTE, RESULTS]
#: stages whose syncs masktrack_d2 code issues, or decides by calling a detectron2 function
#: (the embeddings: a second pass of the box pooler)
#: stages whose syncs masktrack_d2's code decides (the box inference and the post-processing
#: are its own, with detectron2's outputs; the poolers too, counted with their heads)
OWN_STAGES = {RPN_PROPOSALS, BOX_INF, EMBED, TRACKER, KEEP, POST, RESULTS,
              "masktrack_d2, other"}


def stage_of(frames):
    """Stage of an op from its project frames [(path, function), ...], innermost first."""
    for path, func in frames:
        for part, fn, stage in STAGE_RULES:
            if part in path and (fn is None or fn == func):
                if stage is None:
                    break
                return stage
    for path, _ in frames:
        for part, stage in CATCH_ALL:
            if part in path:
                return stage
    return "outside (the benchmark's loop)"


#: notes on masktrack_d2's lines that own syncs (the innermost masktrack_d2 frame above the
#: sync, masktrack_d2/utils/ skipped): (file, a part of the source line) -> (what it is for,
#: is the result needed at that point, proposal). Matched against the owner lines this run
#: found; an owner line without a note is listed as such.
OWN_NOTES = [
    ("masktrack_d2/modeling/meta_arch.py", "images = self.preprocess_image(frames)",
     "detectron2's preprocess_image: each frame `.to(self.device)`, a blocking H2D copy",
     "the pixels are needed, the wait is not",
     "pin the frames (the loader's pin_memory or `.pin_memory()`) and copy with "
     "non_blocking=True: 0 syncs"),
    ("masktrack_d2/modeling/proposals.py", "keep = torch.nonzero(finite & size_ok)",
     "MaskTrackRPN's proposal selection (per image): the finite, non-empty proposals in one "
     "index (detectron2's find_top_rpn_proposals: a finite check, the clip's `assert`, "
     "`keep.sum().item()`, 3 boolean indexings; then torchvision's host-made NMS offset)",
     "yes: the number of proposals sizes the NMS",
     "empty boxes at score -inf and no index: 1 -> 0, but the NMS would then see other "
     "boxes than the reference's"),
    ("masktrack_d2/modeling/box_inference.py", "inds = ((scores > score_thresh) & valid[:, None]).nonzero()",
     "box_inference (per image): the (row, class) candidates above the score threshold, "
     "the finite check folded in (detectron2's fast_rcnn_inference_single_image: a finite "
     "check, the clip's `assert`, this nonzero and two boolean indexings)",
     "yes: the number of candidates sizes the NMS",
     "a fixed-size candidate set (scores below the threshold set to -inf, top-k before NMS) "
     "would change which boxes NMS sees: not the reference's output"),
    ("masktrack_d2/modeling/box_inference.py", "return nms(boxes + offsets[:, None]",
     "class_nms, the per-class (box inference) or per-level (RPN) NMS, offsets made on the "
     "device (torchvision copies a host scalar there first): the CUDA nms reads its kept "
     "count",
     "yes: the kept detections", "none short of a fixed-size NMS"),
    ("masktrack_d2/modeling/poolers.py", "counts = (levels[None, :] == level_ids[:, None])",
     "LevelROIPooler (box head, track embeddings, mask head: 3 calls per chunk): one read "
     "of the per-level box counts after a sort by level; the batch index comes from the "
     "host box counts (detectron2's pooler: 4 nonzeros + 2 per call)",
     "yes: the sizes of the per-level RoIAlign calls",
     "pool every box at every level and select (4x the RoIAlign work, no read): 1 -> 0"),
    ("masktrack_d2/modeling/tracker.py", "k, s_best = torch.stack([k.double(), s_best.double()]).tolist()",
     "the row argmax k and its score, read in one copy for the host loop that assigns ids",
     "yes: the greedy walk over detections (record per track, dedup) runs on the host",
     "run the walk on the device (a scatter max per track) and read nothing: 1 -> 0"),
    ("masktrack_d2/modeling/tracker.py", "self._copies[device] = self._host if device.type",
     "the step's index lists (ids, memory rows, writers, new tracks) to the device in one "
     "copy (_HostIndex), used by every memory write and for the returned ids",
     "no: indices for device writes that could be queued",
     "a non-blocking copy from pinned memory (-> 0), or the tracker's memory on the host "
     "(T <= a few hundred rows)"),
    ("masktrack_d2/modeling/tracker.py", "on[mem.device] = rows.to(mem.device)",
     "retention: the kept memory rows, a host index -> device, once per device",
     "no (only in frames where a track expires)",
     "part of the step's one copy of index lists"),
    ("masktrack_d2/modeling/meta_arch.py", "keep = torch.nonzero(ids >= 0)",
     "the detections the tracker kept, as a long index (one nonzero of `ids >= 0`); the "
     "fields are then indexed with it without a read (a boolean mask reads once per field)",
     "no: the tracker knows on the host which ids are >= 0",
     "return the kept rows from the tracker's host lists with its one index copy: 1 -> 0"),
    ("masktrack_d2/modeling/meta_arch.py", "kept = self.roi_heads.forward_with_given_boxes(",
     "detectron2's mask head on the kept detections: its RoI pooler (6 per chunk)",
     "as for the embeddings", "the same pooler change: 6 -> 1 per chunk"),
    ("masktrack_d2/modeling/postprocessing.py", "keep = torch.nonzero(boxes.nonempty())",
     "frame_postprocess: the boxes left non-empty by clipping at the original size, as a "
     "long index (detectron2's detector_postprocess: a finite-check read and one boolean "
     "indexing per field)",
     "only when a box is empty (none in this run)",
     "keep empty boxes with empty masks, or drop them in the output thread: 1 -> 0"),
    ("masktrack_d2/modeling/track_results.py", "ids = to_numpy(track_ids)",
     "add_frame: the track ids to the host (D2H)",
     "yes, but they were on the host in the tracker already",
     "pass the tracker's host ids (no copy)"),
    ("masktrack_d2/modeling/track_results.py", "sc = to_numpy(scores)",
     "add_frame: the scores to the host", "yes (per-track lists), not before the next "
     "chunk is queued", "one packed copy per frame with labels (and masks), non-blocking "
     "into pinned memory, waited on one frame later"),
    ("masktrack_d2/modeling/track_results.py", "lb = to_numpy(labels)",
     "add_frame: the labels to the host", "as the scores", "packed with the scores"),
    ("masktrack_d2/modeling/track_results.py", "m = to_numpy(masks)",
     "add_frame: the frame's masks to the host for pycocotools' RLE",
     "yes (RLE on the host), not before the next chunk is queued",
     "non-blocking copy into pinned memory + an event; encode frame t while the device "
     "runs the next chunk (the demo's predictor queue already pairs frames with outputs)"),
    ("masktrack_d2/modeling/track_results.py", "torch.as_tensor(keep, device=masks.device)",
     "add_frame with some ids < 0 (never from MaskTrackRCNN): the kept rows to the device",
     "no", "not on MaskTrackRCNN's path"),
]


# ============================================================================ run
def _nms_recorder(log):
    """Wrap torchvision's two batched-NMS branches to log (caller, boxes, branch)."""
    import torchvision.ops.boxes as tvb

    orig = {"vanilla": tvb._batched_nms_vanilla, "coordinate trick":
            tvb._batched_nms_coordinate_trick}

    def wrap(branch, fn):
        def wrapped(boxes, scores, idxs, iou_threshold):
            f = sys._getframe(1)
            caller = "?"
            while f is not None:
                if f.f_code.co_name in ("find_top_rpn_proposals", "top_proposals",
                                        "fast_rcnn_inference_single_image"):
                    caller = f.f_code.co_name
                    break
                f = f.f_back
            if log is not None and log.get("on"):
                log["calls"].append((caller, int(boxes.shape[0]), branch))
            return fn(boxes, scores, idxs, iou_threshold)
        return wrapped

    tvb._batched_nms_vanilla = wrap("vanilla", orig["vanilla"])
    tvb._batched_nms_coordinate_trick = wrap("coordinate trick", orig["coordinate trick"])

    def restore():
        tvb._batched_nms_vanilla = orig["vanilla"]
        tvb._batched_nms_coordinate_trick = orig["coordinate trick"]

    return restore


def _frame_recorder(state):
    """Wrap VideoTrackResults.add_frame: after each frame, snapshot the current tracer's
    on-device events (per stage and per site) and the frame's detection count."""
    from masktrack_d2.modeling.track_results import VideoTrackResults

    orig = VideoTrackResults.add_frame

    def add_frame(self, frame_idx, track_ids, scores, labels, masks=None):
        out = orig(self, frame_idx, track_ids, scores, labels, masks=masks)
        tr = state.get("tracer")
        if tr is not None:
            snap = collections.Counter()  # device syncs by stage
            vis = collections.Counter()  # profiler-visible events by function (as summary())
            for (kind, on, site, caller, stage), n in tr.events.items():
                if on:
                    snap[stage] += n
                if KINDS[kind][1]:
                    parts = site.split(":")
                    vis["(backward)" if KINDS[kind][0] == "backward" else
                        f"{parts[0]}:{parts[-1]}" if len(parts) >= 3 else site] += n
            state["snaps"].append((int(frame_idx), int(track_ids.shape[0]), snap, dict(vis)))
        return out

    VideoTrackResults.add_frame = add_frame

    def restore():
        VideoTrackResults.add_frame = orig

    return restore


def _step_recorder(tracker, state):
    """Wrap ``tracker.step`` (on the instance) to log (detections in, ids >= 0 out) per
    frame; the counting itself runs with torch functions unseen by the tracer."""
    import torch

    step = tracker.step

    def wrapped(frame_idx, boxes, scores, labels, embeds):
        ids = step(frame_idx, boxes, scores, labels, embeds)
        with torch._C.DisableTorchFunction(), torch.profiler.record_function(BOOKKEEPING):
            state["steps"].append((int(boxes.shape[0]), int((ids >= 0).sum())))
        return ids

    tracker.step = wrapped

    def restore():
        del tracker.step  # back to the class's method

    return restore


def _host_copy_emulation(model):
    """What ``instances_to_host`` does with a frame's results on CUDA, for both passes:
    non-blocking copies into pinned memory and an event record, none of which waits for the
    device (the output worker waits, in its own thread). Here: host clones made unseen by the
    tracer and the profiler. The output worker is turned off so that ``add_frame`` still marks
    the end of each frame in this thread; it reads the host copies, which waits for nothing."""
    import torch

    import masktrack_d2.modeling.meta_arch as meta_arch
    from detectron2.structures import Boxes, Instances

    orig, worker = meta_arch.instances_to_host, model.output_worker

    def emulated(instances):
        with torch._C.DisableTorchFunction(), torch.profiler.record_function(BOOKKEEPING):
            host = Instances(instances.image_size)
            for name, v in instances.get_fields().items():
                if isinstance(v, Boxes):
                    v = Boxes(v.tensor.clone())
                elif isinstance(v, torch.Tensor):
                    v = v.clone()
                host.set(name, v)
        return host, lambda: None

    meta_arch.instances_to_host, model.output_worker = emulated, False

    def restore():
        meta_arch.instances_to_host, model.output_worker = orig, worker

    return restore


def _cuda_branches():
    """For the profiled pass (no SyncTracer): detectron2's ``paste_masks_in_image`` and
    torchvision's ``batched_nms``, the two functions on this path that branch on the device
    type, run under :func:`benchlib.syncs.fake_cuda_mode`, so they take their CUDA branch
    as in the CUDA view (checked by the function-by-function cross-check)."""
    import detectron2.layers as d2l
    import torchvision.ops.boxes as tvb

    paste, bnms = d2l.paste_masks_in_image, tvb.batched_nms

    def paste_cuda(*a, **k):
        with fake_cuda_mode():
            return paste(*a, **k)

    def batched_nms_cuda(*a, **k):
        with fake_cuda_mode():
            return bnms(*a, **k)

    d2l.paste_masks_in_image, tvb.batched_nms = paste_cuda, batched_nms_cuda

    def restore():
        d2l.paste_masks_in_image, tvb.batched_nms = paste, bnms

    return restore


def _per_frame(snaps, steps):
    """Cumulative per-stage snapshots -> per-frame dicts."""
    out = []
    prev = collections.Counter()
    for i, (frame_idx, kept, snap, _) in enumerate(snaps):
        diff = {k: snap[k] - prev.get(k, 0) for k in snap if snap[k] - prev.get(k, 0)}
        dets, tracked = steps[i] if i < len(steps) else (-1, -1)
        out.append({"frame": frame_idx, "dets": dets, "tracked": tracked, "kept": kept,
                    "syncs": sum(diff.values()), "by_stage": diff})
        prev = snap
    return out


def _tracer():
    return SyncTracer(stage_of, fake_cuda=True, owner_prefix="masktrack_d2/",
                      owner_skip=("masktrack_d2/utils/",))


def run(args):
    opts = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0"] + list(args.opts)
    cfg = masktrack_cfg(args.config, opts, args.device)
    t0 = time.perf_counter()
    model = build_random_model(cfg, seed=args.seed, train=False)
    SyncTracer.mark_module(model)
    print(f"model built in {time.perf_counter() - t0:.1f}s", flush=True)
    images = list(moving_shapes_frames(args.frames, args.height, args.width, seed=args.seed))
    inputs = model_inputs(cfg, images)
    pred = model.roi_heads.box_predictor
    assert hasattr(pred, "test_topk_per_image") and hasattr(pred, "test_score_thresh")
    cfg_topk = pred.test_topk_per_image

    def video():
        return {"video_id": 1, "length": len(inputs), "height": args.height,
                "width": args.width, "frames": list(inputs)}

    state = {"tracer": None, "snaps": [], "steps": []}
    nms_log = {"on": False, "calls": []}
    restore = [_frame_recorder(state), _nms_recorder(nms_log),
               _step_recorder(model.tracker, state), _host_copy_emulation(model)]
    rows = []
    try:
        for dets in args.dets:
            pred.test_topk_per_image = dets  # what TEST.DETECTIONS_PER_IMAGE sets
            for k in args.ks:
                model.frames_per_batch = k
                # 1. CUDA view
                tracer = _tracer()
                state.update(tracer=tracer, snaps=[], steps=[])
                nms_log.update(on=True, calls=[])
                t0 = time.perf_counter()
                out = traced(lambda: model.inference_video(video()), tracer)
                t1 = time.perf_counter()
                nms_log["on"] = False
                cuda = tracer.summary()
                per_frame = _per_frame(state["snaps"], state["steps"])
                visible_cum = [v for *_, v in state["snaps"]]
                nms_calls = list(nms_log["calls"])
                # 2. the same pass under the profiler; the two device-branching functions
                # take their CUDA branch (no tracer: its Python would swamp the profiler)
                state.update(tracer=None, snaps=[], steps=[])
                undo = _cuda_branches()
                try:
                    out2, events = profiled(lambda: model.inference_video(video()))
                finally:
                    undo()
                t2 = time.perf_counter()
                prof = analyse_profile(events, stage_of)
                del events
                same = json.dumps(out2, sort_keys=True) == json.dumps(out, sort_keys=True)
                row = {
                    "k": k, "dets": dets, "frames": len(inputs), "cuda": cuda,
                    "profiler": prof, "per_frame": per_frame, "nms": nms_calls,
                    "visible_cum": visible_cum,
                    "tracks": len(out["tracks"]), "repeat_identical": same,
                    "traced_s": t1 - t0, "profiled_s": t2 - t1,
                }
                rows.append(row)
                print(f"K={k} dets={dets}: CUDA view {cuda['syncs']} syncs "
                      f"({cuda['syncs'] / len(inputs):.1f}/frame) {cuda['categories']}; "
                      f"profiler {prof['syncs']} sync ops, {prof['aten_ops']} aten ops; "
                      f"per frame {[f['syncs'] for f in per_frame]}; dets/tracked/kept "
                      f"{[(f['dets'], f['tracked'], f['kept']) for f in per_frame]}; "
                      f"same results {same}; "
                      f"{t1 - t0:.1f} + {t2 - t1:.1f}s; load {os.getloadavg()[0]:.1f}"
                      + (f"; tracer errors {cuda['errors']}" if cuda["errors"] else ""),
                      flush=True)
        cpu_path = None
        if args.cpu_path_frames > 0:
            # the CPU's own branches, profiler only (what a CPU profile alone would count)
            pred.test_topk_per_image = args.dets[0]
            model.frames_per_batch = args.ks[0]
            state.update(tracer=None, snaps=[], steps=[])
            nms_log.update(on=True, calls=[])
            t0 = time.perf_counter()
            n = min(args.cpu_path_frames, len(inputs))
            _, events = profiled(lambda: model.inference_video(
                {"video_id": 1, "length": n, "height": args.height, "width": args.width,
                 "frames": list(inputs[:n])}))
            nms_log["on"] = False
            cpu_path = {"k": args.ks[0], "dets": args.dets[0], "frames": n,
                        "profiler": analyse_profile(events, stage_of),
                        "nms": list(nms_log["calls"]),
                        "profiled_s": time.perf_counter() - t0}
            del events
            print(f"CPU path K={args.ks[0]} dets={args.dets[0]}: "
                  f"{cpu_path['profiler']['syncs']} sync ops", flush=True)
    finally:
        for r in restore:
            r()
        pred.test_topk_per_image = cfg_topk
    return rows, cpu_path


# ============================================================================ summary
def _key(r):
    return f"K={r['k']}, {r['dets']} dets"


def _steady(r):
    """Per-frame syncs from the second chunk on (the tracker's memory is not empty there)."""
    pf = [f for f in r["per_frame"] if f["frame"] >= r["k"]]
    return sum(f["syncs"] for f in pf) / len(pf) if pf else float("nan")


def summarise(rows, cpu_path):
    out = {"runs": [_key(r) for r in rows]}
    # per site: average per frame in each run
    sites = sorted({s for r in rows for s in r["cuda"]["per_site"]})
    site_rows = []
    for s in sites:
        per = [sum(r["cuda"]["per_site"].get(s, {}).values()) / r["frames"] for r in rows]
        kinds = collections.Counter()
        for r in rows:
            kinds.update(r["cuda"]["per_site"].get(s, {}))
        site_rows.append({"site": s, "per_frame": per, "kinds": dict(kinds)})
    site_rows.sort(key=lambda d: (-sum(d["per_frame"]), d["site"]))
    out["cuda_sites"] = site_rows
    hs = sorted({s for r in rows for s in r["cuda"]["host_side"]})
    out["host_sites"] = [{"site": s, "per_frame": [
        sum(r["cuda"]["host_side"].get(s, {}).values()) / r["frames"] for r in rows],
        "kinds": dict(sum((collections.Counter(r["cuda"]["host_side"].get(s, {}))
                           for r in rows), collections.Counter()))} for s in hs]
    stages = [s for s in STAGE_ORDER] + sorted(
        {s for r in rows for s in list(r["cuda"]["by_stage"])
         + list(r["profiler"]["aten_top_by_stage"])} - set(STAGE_ORDER))
    st = []
    for s in stages:
        st.append({
            "stage": s,
            "per_frame": [r["cuda"]["by_stage"].get(s, 0) / r["frames"] for r in rows],
            "steady": [
                sum(f["by_stage"].get(s, 0) for f in r["per_frame"] if f["frame"] >= r["k"])
                / max(1, sum(1 for f in r["per_frame"] if f["frame"] >= r["k"]))
                for r in rows],
            "aten_top_per_frame": [r["profiler"]["aten_top_by_stage"].get(s, 0) / r["frames"]
                                   for r in rows]})
    out["stages"] = st
    # cross-check: per function, profiler sync ops vs the CUDA view's profiler-visible events
    mism = []
    for r in rows:
        pf = collections.Counter()
        for k, v in r["profiler"]["per_func"].items():
            pf[k] += sum(v.values())
        tv = collections.Counter(r["cuda"]["per_func_visible"])
        for k in sorted(set(pf) | set(tv)):
            if pf[k] != tv[k]:
                mism.append({"run": _key(r), "function": k, "profiler": pf[k],
                             "cuda_view": tv[k]})
    out["crosscheck_mismatches"] = mism
    # masktrack_d2's lines that own syncs (directly, or through the detectron2 call they
    # make), with the notes
    code = {}
    for r in rows:
        code.update(r["cuda"]["code"])
    owners = sorted({o for r in rows for o in r["cuda"].get("owners", {})})
    own = []
    for o in owners:
        per = [sum(r["cuda"]["owners"].get(o, {}).values()) / r["frames"] for r in rows]
        kinds = collections.Counter()
        ost = collections.Counter()
        for r in rows:
            kinds.update(r["cuda"]["owners"].get(o, {}))
            ost.update(r["cuda"]["owner_stages"].get(o, {}))
        path = o.split(":")[0]
        src = code.get(o, "")
        note = next((n for n in OWN_NOTES if n[0] == path and n[1] in src), None)
        libs = collections.Counter()
        for r in rows:
            libs.update(r["cuda"]["owner_libs"].get(o, {}))
        own.append({"owner": o, "source": src, "per_frame": per, "kinds": dict(kinds),
                    "stages": dict(ost), "libs": dict(libs),
                    "what": note[2] if note else "(no note)",
                    "needed": note[3] if note else "", "proposal": note[4] if note else ""})
    own.sort(key=lambda d: (-sum(d["per_frame"]), d["owner"]))
    out["owners"] = own
    if cpu_path is not None:
        # the CPU branches' profile of the first n frames vs the CUDA view's
        # profiler-visible events over the same frames (equal to the CUDA-branch profile:
        # the cross-check above)
        r0 = rows[0]
        cp = cpu_path["profiler"]
        cuda_n = r0["visible_cum"][cpu_path["frames"] - 1]
        out["cpu_path_cuda_view_syncs"] = sum(cuda_n.values())
        diff = []
        for f in sorted(set(cp["per_func"]) | set(cuda_n)):
            a = sum(cp["per_func"].get(f, {}).values())
            b = cuda_n.get(f, 0)
            if a != b:
                diff.append({"function": f, "cpu_path": a, "cuda_path": b,
                             "cpu_kinds": cp["per_func"].get(f, {})})
        out["cpu_path_diff"] = diff
    return out


# ============================================================================ report
_f = _n  # a count: one decimal unless whole


def _nms_summary(calls, frames):
    c = collections.Counter((caller, branch) for caller, _, branch in calls)
    sizes = collections.defaultdict(list)
    for caller, n, branch in calls:
        sizes[(caller, branch)].append(n)
    return "; ".join(
        f"`{caller}` {branch} x{n / frames:.0f}/frame ({min(sizes[(caller, branch)])}-"
        f"{max(sizes[(caller, branch)])} boxes)" for (caller, branch), n in sorted(c.items()))


def write(args, info, rows, cpu_path, summ):
    paths = result_paths(args, NAME)
    runs = summ["runs"]
    code = {}
    for r in rows:
        code.update(r["cuda"]["code"])
    cfg_name = os.path.relpath(args.config, ROOT)

    def src(site, width=70):
        s = code.get(site, "")
        return s if len(s) <= width else s[:width - 3] + "..."

    total_rows = []
    for r in rows:
        c, p, fr = r["cuda"], r["profiler"], r["frames"]
        total_rows.append([
            f"K={r['k']}", r["dets"], f"**{_f(c['syncs'] / fr)}**", _f(_steady(r)),
            *[_f(c["categories"].get(k, 0) / fr) for k, _ in CATEGORIES],
            _f(c["host_side_total"] / fr), _f(p["syncs"] / fr), _f(p["aten_ops"] / fr),
            _f(p["aten_top"] / fr),
            _f(sum(f["dets"] for f in r["per_frame"]) / fr),
            _f(sum(f["kept"] for f in r["per_frame"]) / fr), r["tracks"],
            f"{r['traced_s'] / fr:.1f} / {r['profiled_s'] / fr:.1f}"])
    frame_rows = []
    for r in rows:
        frame_rows.append([_key(r), " ".join(str(f["syncs"]) for f in r["per_frame"]),
                           " ".join(str(f["dets"]) for f in r["per_frame"]),
                           " ".join(str(f["tracked"]) for f in r["per_frame"]),
                           " ".join(str(f["kept"]) for f in r["per_frame"]),
                           _nms_summary(r["nms"], r["frames"])])
    stage_rows = []
    for d in summ["stages"]:
        if not any(d["per_frame"]) and not any(d["aten_top_per_frame"]):
            continue
        stage_rows.append([d["stage"], "masktrack_d2" if d["stage"] in OWN_STAGES else (
            "-" if d["stage"].startswith("outside") else "detectron2"),
            *[_f(v) for v in d["per_frame"]], *[_f(v) for v in d["steady"]],
            *[_f(v) for v in d["aten_top_per_frame"]]])
    site_rows = []
    for d in summ["cuda_sites"]:
        site, caller = d["site"].split(" <- ")
        site_rows.append([f"`{_short(site)}`", f"`{_short(caller)}`" if caller != "-" else "-",
                          origin(site), f"`{src(site)}`" if code.get(site) else "",
                          ", ".join(sorted(d["kinds"])), *[_f(v) for v in d["per_frame"]]])
    host_rows = []
    for d in summ["host_sites"]:
        site, caller = d["site"].split(" <- ")
        host_rows.append([f"`{_short(site)}`", f"`{_short(caller)}`" if caller != "-" else "-",
                          f"`{src(site)}`" if code.get(site) else "",
                          ", ".join(sorted(d["kinds"])), *[_f(v) for v in d["per_frame"]]])
    mism = summ["crosscheck_mismatches"]
    own_rows = []
    for d in summ["owners"]:
        own_rows.append([f"`{_short(d['owner'])}`", f"`{src(d['owner'], 60)}`",
                         " + ".join(("own code" if lib == "masktrack_d2" else f"{lib} call")
                                    for lib in sorted(d["libs"])),
                         ", ".join(sorted(d["kinds"])), *[_f(v) for v in d["per_frame"]],
                         d["what"], d["needed"], d["proposal"]])
    r_first = rows[0]
    goal_line = ", ".join(f"{_key(r)} {_f(r['cuda']['syncs'] / r['frames'])}" for r in rows)

    lines = [
        "# Host syncs of video inference, per frame",
        "",
        *env_lines(info),
        "",
        f"Model: `{cfg_name}` (R-50 FPN, test size {args.width}x{args.height}), random "
        "weights with calibrated backbone norms, MODEL.ROI_HEADS.SCORE_THRESH_TEST 0.0 (every "
        "candidate passes the score filter, so a frame has up to TEST.DETECTIONS_PER_IMAGE "
        f"detections: {', '.join(str(d) for d in args.dets)}) "
        f"{' '.join(args.opts)}. Input: a generated moving-shapes video "
        f"({args.frames} frames, {args.width}x{args.height}, `benchlib.video`) through "
        "`MaskTrackRCNN.inference_video` (`track_frames` + `VideoTrackResults.add_frame`) "
        f"with TEST.FRAMES_PER_BATCH K = {', '.join(str(k) for k in args.ks)}. With random "
        "weights the first frame starts a track per detection and later frames' detections "
        "mostly compete for the same few tracks (per-frame table): the sync count does not "
        "depend on how many are kept. A frame's results reach the host as on CUDA with "
        "TEST.OUTPUT_WORKER: copies that wait for nothing in the model's thread (emulated by "
        "host clones the counters do not see; the output worker is off so that `add_frame` "
        "still ends each frame in this thread).",
        "",
        "Two passes per run (details in the script's docstring): the **CUDA view** "
        "(`benchlib/syncs.py`'s `SyncTracer` with `fake_cuda`: the model's tensors report "
        "`cuda:0`, so detectron2 and torchvision take their CUDA branches: "
        "`paste_masks_in_image` pastes a frame's masks in one chunk without the per-mask "
        "`.item()`s of its CPU branch, `batched_nms` chooses with the CUDA size threshold) "
        "counts what would make the host wait: scalar reads, `nonzero` / boolean-mask "
        "indexing, data-sized ops, blocking D2H (`.cpu()`, `.tolist()`) and H2D copies "
        "(`.to(device)`, `torch.tensor(list, device=...)`), and torchvision's CUDA `nms`; and "
        "the **CPU profiler** on a second, identical pass (without the tracer; "
        "`paste_masks_in_image` and `batched_nms` under a fake-CUDA mode, so the same "
        "branches), for the aten ops and a function-by-function cross-check. "
        + ("The two agree on every profiler-visible op." if not mism else
           f"Cross-check: {len(mism)} function/run pairs differ (listed below).")
        + (" The second pass gave the same results as the first (same tracks, scores, RLEs)."
           if all(r["repeat_identical"] for r in rows) else
           " The second pass did NOT repeat the first exactly in "
           + ", ".join(_key(r) for r in rows if not r["repeat_identical"]) + ".")
        + " The CPU profiler cannot see the copies (`.cpu()` and `.to(device)` of a CPU "
        "tensor return it, `.tolist()` reads memory) nor the sync inside CUDA `nms`, and it "
        "counts scalar reads of host tensors that are no sync on CUDA: its count is the CUDA "
        "view's minus D2H, H2D and nms plus the host-side look-alikes ("
        + "; ".join(
            f"{_key(r)}: {_f(r['cuda']['syncs'] / r['frames'])} - "
            f"{_f(r['cuda']['categories'].get('d2h', 0) / r['frames'])} - "
            f"{_f(r['cuda']['categories'].get('h2d', 0) / r['frames'])} - "
            f"{_f(r['cuda']['categories'].get('nms', 0) / r['frames'])} + "
            f"{_f(r['cuda']['host_side_total'] / r['frames'])} = "
            f"{_f((r['cuda']['syncs'] - r['cuda']['categories'].get('d2h', 0) - r['cuda']['categories'].get('h2d', 0) - r['cuda']['categories'].get('nms', 0) + r['cuda']['host_side_total']) / r['frames'])}"
            f" (profiler {_f(r['profiler']['syncs'] / r['frames'])})" for r in rows[:2])
        + ").",
        "",
        "## Per frame",
        "",
        f"Averages over the {args.frames} frames; \"steady\": the frames from the second "
        "chunk of K on (the tracker's memory is not empty; for K > 1 the detector's syncs of "
        "a chunk are counted on its first frame, so only the average means something). "
        f"The issue's goal: at most {GOAL} syncs per frame.",
        "",
        md_table(["K", "detections / image", "CUDA syncs / frame", "steady",
                  *[t for _, t in CATEGORIES], "host-side look-alikes",
                  "CPU profiler sync ops", "aten ops (all)", "aten ops (top-level)",
                  "box-head detections / frame", "kept / frame", "tracks", "CPU s / frame (traced / profiled)"],
                 total_rows),
        "",
        "Frame by frame: CUDA syncs; detections out of the box head (into the tracker); "
        "ids >= 0 out of the tracker; detections out of `detector_postprocess` (into "
        "`add_frame`); and the NMS branches taken (torchvision's `batched_nms`, under the "
        "CUDA threshold). With random weights the embeddings of a frame's detections are "
        "alike, so from the second frame on most detections score best against the same "
        "few tracks and lose them to a better detection: the tracker discards them (-1).",
        "",
        md_table(["run", "CUDA syncs", "box-head detections", "tracked (id >= 0)",
                  "after detector_postprocess", "NMS"], frame_rows),
        "",
        "## By stage",
        "",
        "CUDA syncs per frame by stage (the first rule of `STAGE_RULES` in the script that "
        "matches the innermost project frame, then the next outward; the RoI poolers count "
        "for the head that calls them), all frames and steady state, and top-level aten ops "
        "per frame (CPU profiler). \"Decided by\": whose code issues the syncs or chooses to "
        "call the detectron2 function that does.",
        "",
        md_table(["stage", "decided by", *[f"syncs {k}" for k in runs],
                  *[f"steady {k}" for k in runs], *[f"aten ops {k}" for k in runs]],
                 stage_rows),
        "",
        "## Where the CUDA syncs come from",
        "",
        "Per source line (the innermost line in `masktrack_d2/`, `detectron2/` or "
        "`torchvision/`, paths below those) and the function that called it; syncs per frame "
        "(average over the video) in each run.",
        "",
        md_table(["line", "called from", "library", "source line", "kinds",
                  *runs], site_rows),
        "",
        "Host-side look-alikes (the CPU profiler counts them; no device sync on CUDA: "
        "scalar reads of host tensors, `t[mask] = python_scalar`):",
        "",
        md_table(["line", "called from", "source line", "kinds", *runs], host_rows)
        if host_rows else "(none)",
        "",
    ]
    if mism:
        lines += ["Cross-check mismatches (profiler sync ops vs the CUDA view's profiler-visible "
                  "events, per function):", "",
                  md_table(["run", "function", "profiler", "CUDA view"],
                           [[m["run"], f"`{m['function']}`", m["profiler"], m["cuda_view"]]
                            for m in mism]), ""]
    if cpu_path is not None:
        cp = cpu_path["profiler"]
        fr = cpu_path["frames"]
        diff_rows = [[f"`{d['function']}`", _f(d["cpu_path"] / fr), _f(d["cuda_path"] / fr),
                      ", ".join(f"{k} {v}" for k, v in sorted(d["cpu_kinds"].items()))]
                     for d in summ["cpu_path_diff"]]
        lines += [
            "## The CPU's own branches",
            "",
            f"The first {fr} frames of the video ({_key(cpu_path)}) profiled without the "
            "fake device, i.e. what a CPU profile alone counts: "
            f"**{_f(cp['syncs'] / fr)} sync ops per frame** "
            f"({', '.join(f'{k} {_f(v / fr)}' for k, v in sorted(cp['kinds'].items()))}) "
            f"and {_f(cp['aten_ops'] / fr)} aten ops per frame, against "
            f"{_f(summ['cpu_path_cuda_view_syncs'] / fr)} profiler-visible sync ops per "
            "frame on the CUDA branches over the same frames (the CUDA view's, equal to the "
            "profiler's by the cross-check). "
            f"NMS on the CPU: {_nms_summary(cpu_path['nms'], fr) or 'none'}. Functions "
            "whose count differs (per frame, the same frames):",
            "",
            md_table(["function", "CPU branches", "CUDA branches", "CPU kinds (all frames)"],
                     diff_rows) if diff_rows else "(none)",
            "",
        ]
    lines += [
        "## masktrack_d2's own syncs",
        "",
        "Ops on masktrack_d2's own lines that synchronise on CUDA (per frame, first run; "
        "what for / needed there? / proposal):",
        "",
        *[f"* `{_short(d['owner'])}` `{src(d['owner'], 80)}`: "
          f"**{_f(d['per_frame'][0])} per frame** ({', '.join(sorted(d['kinds']))}); "
          f"what for: {d['what']}; needed there: {d['needed']}; proposal: {d['proposal']}."
          for d in summ["owners"] if set(d["libs"]) == {"masktrack_d2"}],
        "",
        "Every CUDA sync under its owner: the innermost `masktrack_d2` line above it "
        "(`masktrack_d2/utils/` skipped): \"own code\" when the sync is an op of that line "
        "(or of the masktrack_d2 helper it calls), \"detectron2 call\" / \"torchvision "
        "call\" when the line calls the library function that synchronises. Per frame in each run; what each is for, whether its result is "
        "needed at that point, and a proposal (candidates to remove):",
        "",
        md_table(["masktrack_d2 line", "source", "how", "kinds", *runs, "what for",
                  "needed there?", "proposal"], own_rows) if own_rows else "(none)",
        "",
        "## Conclusions",
        "",
    ] + conclusions(args, rows, summ, cpu_path) + [
        "",
        f"Goal check (at most {GOAL} per frame), CUDA syncs per frame: {goal_line}.",
    ]
    data = {"env": info, "args": {k: v for k, v in vars(args).items() if k != "opts"},
            "opts": list(args.opts), "rows": rows, "cpu_path": cpu_path, "summary": summ}
    write_report(paths, lines, data)


def _stage_sum(summ, stages, i, key="per_frame"):
    return sum(d[key][i] for d in summ["stages"] if d["stage"] in stages)


DETECTOR = [PRE, BACKBONE, RPN_HEAD, RPN_PROPOSALS, BOX, BOX_INF, EMBED, MASK]
LOOP = [TRACKER, KEEP, POST, PASTE, RESULTS]


def _pooler_per_frame(r):
    """CUDA syncs of the RoI pooler calls (lines in or called from modeling/poolers.py)."""
    return sum(sum(v.values()) for k, v in r["cuda"]["per_site"].items()
               if "modeling/poolers.py" in k) / r["frames"]


def conclusions(args, rows, summ, cpu_path):
    """Generated from this run's numbers."""
    out = []
    groups = collections.OrderedDict()  # runs with the same per-frame counts, together
    for i, r in enumerate(rows):
        sig = (r["k"], r["cuda"]["syncs"], r["frames"])
        groups.setdefault(sig, []).append(i)
    for (k, _, _), idx in groups.items():
        i = idx[0]
        r = rows[i]
        per = r["cuda"]["syncs"] / r["frames"]
        det = _stage_sum(summ, DETECTOR, i)
        loop = _stage_sum(summ, LOOP, i)
        own = sum(d["per_frame"][i] * d["libs"].get("masktrack_d2", 0) / max(
            1, sum(d["libs"].values())) for d in summ["owners"])
        top = sorted(((d["per_frame"][i], d["stage"]) for d in summ["stages"]
                      if d["per_frame"][i] >= 0.05), reverse=True)[:4]
        out.append(
            f"* K={k} ({' and '.join(str(rows[j]['dets']) for j in idx)} detections per "
            f"image): **{_f(per)} CUDA syncs per frame** (steady state {_f(_steady(r))}): "
            f"the detector {_f(det)} (of which the 3 RoI pooler calls of a chunk "
            f"{_f(_pooler_per_frame(r))}), the per-frame loop after it (tracker, keep mask, "
            f"detector_postprocess, add_frame) {_f(loop)}; {_f(own)} are ops on "
            "masktrack_d2's own lines. Largest stages: "
            + ", ".join(f"{s} {_f(v)}" for v, s in top) + ".")
    ks = sorted({r["k"] for r in rows})
    if len(ks) > 1:
        out.append(
            "* K amortises only the per-chunk part (the RoI poolers: 1 read per call, 3 calls "
            "per chunk: 3 / K per frame): "
            + "; ".join(f"{_key(r)} {_f(r['cuda']['syncs'] / r['frames'])}" for r in rows)
            + " per frame. The preprocess copy, the RPN's proposal selection, the box head's "
            "filter and NMS, and the whole per-frame loop stay per frame.")
    by_k = collections.defaultdict(dict)
    for r in rows:
        by_k[r["k"]][r["dets"]] = r["cuda"]["syncs"] / r["frames"]
    if any(len(v) > 1 for v in by_k.values()):
        same = all(len(set(v.values())) == 1 for v in by_k.values())
        out.append(
            "* The count does not depend on the number of detections (the syncs are per "
            "call or per image, not per detection): "
            + "; ".join(f"K={k} " + " vs ".join(f"{_f(v)} ({d} dets)" for d, v in
                                                 sorted(by_k[k].items(), reverse=True))
                        for k in sorted(by_k))
            + (" (identical)." if same else ": the differences come from the tracker's "
               "data-dependent copies (matched / new tracks)."))
    paste = [d for d in summ.get("cpu_path_diff", []) if "mask_ops.py" in d["function"]]
    paste_cpu = sum(d["cpu_path"] for d in paste) / cpu_path["frames"] if paste else 0
    vanilla = [d for d in summ.get("cpu_path_diff", []) if "_batched_nms_vanilla" in d["function"]]
    van_cpu = sum(d["cpu_path"] for d in vanilla) / cpu_path["frames"] if vanilla else 0
    van_boxes = max((n for c, n, b in cpu_path["nms"] if b == "vanilla"), default=0) \
        if cpu_path else 0
    out.append(
        "* `paste_masks_in_image` has no sync on its CUDA branch (one chunk per frame, "
        "`skip_empty=False`)"
        + (f"; its CPU branch makes {_f(paste_cpu)} scalar reads per frame here (8 per "
           "mask: the `skip_empty` bounds as `torch.arange` limits and as slice indices), "
           "which a CPU profile would count"
           + (f", as the {_f(van_cpu)} of torchvision's per-class NMS loop that the CPU "
              f"takes for the box head's {van_boxes} candidates (more than 1,000; on CUDA "
              "the coordinate trick runs up to 25,000)" if van_cpu else "")
           if paste_cpu else "")
        + ". The CUDA-view cannot see syncs inside C++ ops other than `nms` "
        "(none known on this path) nor the caching allocator's.")
    out.append(
        f"* Goal ({GOAL} per frame): the per-frame loop after the detector alone is "
        + ", ".join(f"{_f(_stage_sum(summ, LOOP, i))} ({_key(r)})"
                    for i, r in enumerate(rows) if i in [g[0] for g in groups.values()])
        + "; the detector's per-image syncs (preprocess copy, RPN selection, box-head "
        f"filter and NMS) add {_f(_stage_sum(summ, [PRE, RPN_PROPOSALS, BOX_INF], 0))}, and "
        "the poolers 3 / K. What is left, with the proposal each line's note gives: the "
        "preprocess copy (pinned, non-blocking: 1 -> 0), the tracker's index copy "
        "(non-blocking from pinned memory: 1 -> 0), the tracker's argmax read and the "
        "keep / postprocess / filter indices, which size what follows, and the two NMS.")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--ks", default="1,4", help="TEST.FRAMES_PER_BATCH values")
    p.add_argument("--dets", default="100,10", help="TEST.DETECTIONS_PER_IMAGE values")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--config", default=CONFIG)
    p.add_argument("--cpu-path-frames", type=int, default=3,
                   help="frames of the profiled pass on the CPU's own branches (0: skip)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the .md from the .json of an earlier run in --out-dir")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="extra cfg KEY VALUE pairs")
    args = p.parse_args(argv)
    if args.report_only:
        data = reload_run(args, NAME)
        write(args, data["env"], data["rows"], data["cpu_path"],
              summarise(data["rows"], data["cpu_path"]))
        return 0
    args.ks = [int(x) for x in args.ks.split(",")]
    args.dets = [int(x) for x in args.dets.split(",")]
    if args.quick:
        args.frames = min(args.frames, 4)
        args.ks = [k for k in args.ks if k <= 2] or [1]
        if 2 not in args.ks and args.frames >= 2:
            args.ks.append(2)
    setup_torch(args)
    if args.device != "cpu":
        raise SystemExit("this benchmark counts on the CPU (--device cpu)")
    info = env_info(args)
    rows, cpu_path = run(args)
    summ = summarise(rows, cpu_path)
    write(args, info, rows, cpu_path, summ)
    return 0


if __name__ == "__main__":
    sys.exit(main())
