"""masktrack_d2 against mmdetection 3.3's MaskTrack R-CNN (the reference), trained side by side.

Is it the recipe or the implementation? Both models are built to one masktrack_d2 config
(mmdetection's through benchlib/mmdet_recipe.py: same ResNet depth and widths, FPN, anchors,
RPN and RoI sampling, heads, test settings), start from the same weights (masktrack_d2's
initialisation, or the config's MODEL.WEIGHTS, copied into the reference model tensor by tensor
through the checkpoint converter's key map), and then train in one loop on the same batches from
masktrack_d2's frame-pair loader with the same optimiser, learning-rate schedule and gradient
clipping. Every ``--eval-period`` steps both are scored on the held-out split, each with its own
inference and tracker and both by this project's YouTube-VIS metric; at the end also on the
extra held-out set. What differs is only what each implementation does with a batch: anchor and
RoI assignment and sampling (random on both sides), loss definitions and normalisation, BatchNorm
batches (mmdetection runs the key and reference frames through the backbone separately), the
track head's targets, inference and the tracker. ``--class-agnostic-rpn`` and
``--joint-backbone-pass`` train a variant of the reference (benchlib/mmdet_recipe.py says which).

Needs mmdetection 3.3 (docs/mmdet_checkpoints.md: how to install it on a CPU machine):

    python benchmarks/reference_curve.py \\
        --config-file configs/quickstart/masktrack_R_18_FPN_synthetic_hard.yaml --seed 1
    python benchmarks/reference_curve.py --collect output/reference_curve/*_seed*
    python benchmarks/reference_curve.py --layout tests/fixtures/mmdet_golden/recipe_model_keys.json

The second form writes benchmarks/results/reference_curve.{md,json} and the figure; the third
the reference model's tensor names and shapes for the config, which
tests/test_reference_curve.py maps onto masktrack_d2's model where mmdetection is absent.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchlib.env import RESULTS_DIR, ROOT  # noqa: E402
from benchlib.report import md_table, save_plot  # noqa: E402
from masktrack_d2.utils.file_io import atomic_write  # noqa: E402

SIDES = ("masktrack_d2", "mmdetection")
#: the same quantity under each side's loss names
LOSS_NAMES = {
    "rpn objectness": ("loss_rpn_cls", "loss_rpn_cls"),
    "rpn box": ("loss_rpn_loc", "loss_rpn_bbox"),
    "classification": ("loss_cls", "loss_cls"),
    "box regression": ("loss_box_reg", "loss_bbox"),
    "mask": ("loss_mask", "loss_mask"),
    "match": ("loss_match", "loss_match"),
}


def reference_model(cfg, variant: dict = None):
    """mmdetection's MaskTrackRCNN built to ``cfg``, with mmdetection's initialisation."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import ConfigDict

    from benchlib.mmdet_recipe import reference_model_config, register_recipe_modules

    register_all_modules()
    register_recipe_modules()
    model = MODELS.build(ConfigDict(reference_model_config(cfg, **(variant or {}))))
    model.init_weights()
    return model


def build_reference_model(cfg, ours, variant: dict = None):
    """mmdetection's MaskTrackRCNN for ``cfg`` (``variant``: keyword options of
    :func:`reference_model_config`), holding a copy of masktrack_d2 model ``ours``' weights."""
    import torch

    from masktrack_d2.mmdet_import import check_fits, convert_mmdet_state_dict

    model = reference_model(cfg, variant)
    # The converter renames the reference's tensors to ours without copying them: writing into
    # the renamed entries writes into the reference model.
    renamed, report = convert_mmdet_state_dict(model.state_dict(keep_vars=True), "<mmdetection>")
    if report.leftover:
        raise RuntimeError(f"reference tensors with no masktrack_d2 counterpart: {report.leftover}")
    source = {k: v for k, v in ours.state_dict().items() if not k.endswith("num_batches_tracked")}
    check_fits(renamed, {k: v.shape for k, v in source.items()}, "<mmdetection>")
    with torch.no_grad():
        for key, tensor in renamed.items():
            tensor.copy_(source[key])
    return model


def loss_values(losses):
    """Total of the loss terms and their floats, as both trainers sum them (mmengine's
    parse_losses: keys with "loss", a list -- mmdetection's RPN gives one per level -- summed)."""
    terms = {k: sum(v) if isinstance(v, (list, tuple)) else v
             for k, v in losses.items() if "loss" in k}
    return sum(terms.values()), {k: float(v.detach()) for k, v in terms.items()}


def reference_ap(cfg, model, dataset_name: str, output_folder: str) -> dict:
    """YouTube-VIS stats of the reference model on ``dataset_name``: its own inference and
    tracker over masktrack_d2's test frames, aggregated per track and scored as ours are."""
    import torch

    from benchlib.mmdet_inputs import test_frame
    from masktrack_d2.data.build import build_video_test_loader
    from masktrack_d2.evaluation.evaluator import YTVISEvaluator
    from masktrack_d2.modeling.track_results import VideoTrackResults

    evaluator = YTVISEvaluator(dataset_name, output_folder, distributed=False)
    evaluator.reset()
    model.eval()
    with torch.no_grad():
        for (video,) in build_video_test_loader(cfg, dataset_name):
            tracks = VideoTrackResults(video["length"], video["height"], video["width"])
            for frame in video["frames"]:
                out = model.test_step(test_frame(frame, video["length"]))[0][0]
                inst = out.pred_track_instances
                tracks.add_frame(frame["frame_idx"], inst.instances_id, inst.scores, inst.labels,
                                 inst.masks.bool())
            evaluator.process([video], [{"video_id": video["video_id"],
                                         "tracks": tracks.results()}])
    model.train()
    return evaluator.evaluate()["segm"]


def train_side_by_side(cfg, eval_period: int, log, variant: dict = None):
    import torch
    from detectron2.modeling import build_model
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.solver import build_lr_scheduler
    from detectron2.utils.events import EventStorage

    from benchlib.mmdet_inputs import training_batch
    from masktrack_d2.data.build import build_train_loader
    from masktrack_d2.quickstart.run import heldout_ap
    from masktrack_d2.solver import build_optimizer

    ours = build_model(cfg)
    if cfg.MODEL.WEIGHTS:
        DetectionCheckpointer(ours).load(cfg.MODEL.WEIGHTS)
    theirs = build_reference_model(cfg, ours, variant)
    ours.train()
    theirs.train()
    optimizers = {"masktrack_d2": build_optimizer(cfg, ours),
                  "mmdetection": build_optimizer(cfg, theirs)}
    schedulers = {k: build_lr_scheduler(cfg, o) for k, o in optimizers.items()}
    seconds = {k: 0.0 for k in SIDES}
    curve = []
    test_name = cfg.DATASETS.TEST[0]

    def evaluate(it):
        point = {"iteration": it}
        for side, fn, model in (("masktrack_d2", heldout_ap, ours),
                                ("mmdetection", reference_ap, theirs)):
            folder = os.path.join(cfg.OUTPUT_DIR, side, f"iter_{it:06d}")
            point[side] = fn(cfg, model, test_name, folder)  # each leaves its model training
            with atomic_write(os.path.join(cfg.OUTPUT_DIR, side, "model_final.pth"), "wb") as f:
                torch.save(model.state_dict(), f)
        log({"eval": point})
        print(f"[reference_curve] step {it}: held-out AP ours {point['masktrack_d2']['AP']:.1f}"
              f", reference {point['mmdetection']['AP']:.1f}", flush=True)
        curve.append(point)

    it = 0
    with EventStorage(0) as storage:  # detectron2's heads log into it while training
        for batch in build_train_loader(cfg):
            storage.iter = it
            row = {"iteration": it}
            for side, model in (("masktrack_d2", ours), ("mmdetection", theirs)):
                start = time.perf_counter()
                if side == "masktrack_d2":
                    losses = model(batch)
                else:
                    data = model.data_preprocessor(training_batch(batch), True)
                    losses = model.loss(data["inputs"], data["data_samples"])
                total, values = loss_values(losses)
                if not torch.isfinite(total):
                    raise FloatingPointError(f"{side}: non-finite loss at step {it}: {values}")
                optimizers[side].zero_grad()
                total.backward()
                optimizers[side].step()
                schedulers[side].step()
                seconds[side] += time.perf_counter() - start
                row[side] = values
            log(row)
            it += 1
            if it % eval_period == 0 or it == cfg.SOLVER.MAX_ITER:
                evaluate(it)
            if it >= cfg.SOLVER.MAX_ITER:
                break
    return ours, theirs, curve, seconds


def run(args):
    from detectron2.engine import default_argument_parser

    from masktrack_d2.engine import setup_cfg
    from masktrack_d2.quickstart.run import heldout_ap, prepare_data

    name = os.path.splitext(os.path.basename(args.config_file))[0]
    variant = {"joint_backbone_pass": args.joint_backbone_pass,
               "class_agnostic_rpn": args.class_agnostic_rpn}
    suffix = "".join("_" + k for k, v in variant.items() if v)
    out = args.output_dir or os.path.join(ROOT, "output", "reference_curve",
                                          f"{name}{suffix}_seed{args.seed}")
    cfg = setup_cfg(default_argument_parser().parse_args(
        ["--config-file", args.config_file, "OUTPUT_DIR", out, "SEED", str(args.seed)]
        + args.opts))
    for side in SIDES:
        os.makedirs(os.path.join(out, side), exist_ok=True)
    _, extra = prepare_data(cfg, args.config_file)
    log_path = os.path.join(out, "side_by_side.jsonl")
    with open(log_path, "w") as f:
        def log(row):
            f.write(json.dumps(row) + "\n")
            f.flush()

        start = time.time()
        ours, theirs, curve, seconds = train_side_by_side(
            cfg, args.eval_period or cfg.SOLVER.CHECKPOINT_PERIOD, log, variant)
        wall = time.time() - start
    extra_name = extra["dataset_name"]
    final_extra = {
        "masktrack_d2": heldout_ap(cfg, ours, extra_name, os.path.join(out, "masktrack_d2", extra_name)),
        "mmdetection": reference_ap(cfg, theirs, extra_name,
                                    os.path.join(out, "mmdetection", extra_name)),
    }
    report = {"config": os.path.relpath(args.config_file, ROOT), "seed": args.seed,
              "reference_variant": variant,
              "weights": cfg.MODEL.WEIGHTS, "curve": curve, "extra_heldout": final_extra,
              "training_seconds": seconds, "wall_seconds": wall,
              "losses_last_100": last_losses(log_path, 100)}
    with atomic_write(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps({k: report[k] for k in ("extra_heldout", "training_seconds")}, indent=1))
    return report


def last_losses(log_path: str, window: int):
    """Per side, the mean of each logged loss over the last ``window`` steps."""
    rows = [json.loads(line) for line in open(log_path)]
    rows = [r for r in rows if "iteration" in r and "eval" not in r][-window:]
    out = {}
    for side in SIDES:
        keys = rows[-1][side].keys()
        out[side] = {k: sum(r[side][k] for r in rows) / len(rows) for k in keys}
    return out


def _reference_label(report) -> str:
    variant = [k.replace("_", " ") for k, v in (report.get("reference_variant") or {}).items() if v]
    return "mmdetection" + (f" ({', '.join(variant)})" if variant else "")


def collect(folders, out_dir: str):
    runs = {}
    for folder in sorted(folders):
        path = os.path.join(folder, "report.json")
        if os.path.isfile(path):
            runs[os.path.basename(folder.rstrip("/"))] = json.load(open(path))
    if not runs:
        raise SystemExit(f"no report.json in {folders}")
    lines = ["# masktrack_d2 and mmdetection 3.3 trained side by side", "",
             "Per run: the same starting weights, batches, optimiser and schedule for both; "
             "held-out AP (the 6-video split) of each side's own tracks by this project's "
             "metric, every evaluation period, and at the end on the 48-video extra held-out "
             "set. Training seconds: each side's own steps, in-process. "
             "`benchmarks/reference_curve.py`; docs/reference_side_by_side.md.", ""]
    by_config = {}
    for name, r in runs.items():
        by_config.setdefault(r["config"], {})[name] = r
    for config, group in by_config.items():
        steps = [p["iteration"] for p in next(iter(group.values()))["curve"]]
        rows = []
        for name, r in group.items():
            for side in SIDES:
                label = side if side == "masktrack_d2" else _reference_label(r)
                rows.append([f"seed {r['seed']}", label]
                            + [f"{p[side]['AP']:.1f}" for p in r["curve"]]
                            + [f"{r['curve'][-1][side]['AP50']:.1f}",
                               f"{r['extra_heldout'][side]['AP']:.1f}",
                               f"{r['training_seconds'][side]:.0f}"])
        start = f" (from {next(iter(group.values()))['weights']})" \
            if next(iter(group.values()))["weights"] else " (from scratch)"
        lines += [f"## {config}{start}", "",
                  md_table(["run", "implementation"] + [f"AP @ {s}" for s in steps]
                           + ["AP50 (last)", "AP extra set", "training s"], rows), ""]
    loss_rows = []
    for name, r in runs.items():
        for label, (ours_key, ref_key) in LOSS_NAMES.items():
            a = r["losses_last_100"]["masktrack_d2"].get(ours_key)
            b = r["losses_last_100"]["mmdetection"].get(ref_key)
            if a is not None and b is not None:
                loss_rows.append([name, label, f"{a:.3f}", f"{b:.3f}"])
    lines += ["## Training losses, mean of the last 100 steps", "",
              md_table(["run", "loss", "masktrack_d2", "mmdetection"], loss_rows), ""]
    os.makedirs(out_dir, exist_ok=True)
    with atomic_write(os.path.join(out_dir, "reference_curve.md"), "w") as f:
        f.write("\n".join(lines))
    with atomic_write(os.path.join(out_dir, "reference_curve.json"), "w") as f:
        json.dump(runs, f, indent=2)

    def draw(fig, ax):
        ax.remove()
        axes = fig.subplots(1, len(by_config), squeeze=False)[0]
        for ax, (config, group) in zip(axes, by_config.items()):
            for i, (name, r) in enumerate(group.items()):
                xs = [p["iteration"] for p in r["curve"]]
                reference = _reference_label(r)
                # one colour per run: ours solid, the reference it trained beside dashed
                for side, style, label in (("masktrack_d2", "o-", f"masktrack_d2 beside {reference}"),
                                           ("mmdetection", "s--", reference)):
                    ax.plot(xs, [p[side]["AP"] for p in r["curve"]], style, color=f"C{i}",
                            label=f"{label}, seed {r['seed']}")
            ax.set_title(os.path.basename(config), fontsize=8)
            ax.set_xlabel("training steps")
            ax.set_ylabel("held-out AP")
            ax.set_ylim(0, None)
            ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16))

    save_plot(os.path.join(ROOT, "docs", "reference_curve.png"), draw,
              figsize=(5 * len(by_config), 5.5))
    print("\n".join(lines))


def write_layout(config_file: str, path: str):
    """The reference model's ``{name: shape}`` for ``config_file``, as a json fixture."""
    from detectron2.engine import default_argument_parser

    from masktrack_d2.engine import build_cfg

    cfg, _ = build_cfg(default_argument_parser().parse_args(["--config-file", config_file]),
                       training=False)
    layout = {k: list(v.shape) for k, v in reference_model(cfg).state_dict().items()}
    with atomic_write(path, "w") as f:
        json.dump({"config": os.path.relpath(config_file, ROOT), "keys": layout}, f, indent=0)
    print(f"{len(layout)} tensors -> {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default=os.path.join(
        ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic_hard.yaml"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--eval-period", type=int, default=0,
                        help="steps between evaluations (default: SOLVER.CHECKPOINT_PERIOD)")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--joint-backbone-pass", action="store_true", help="train the reference "
                        "with key and reference frames in one backbone pass, as masktrack_d2 "
                        "does (the reference makes two; it matters only for trainable BatchNorm)")
    parser.add_argument("--class-agnostic-rpn", action="store_true", help="train the "
                        "reference's RPN on class-agnostic boxes, as mmdetection's two-stage "
                        "detectors do (its MaskTrackRCNN passes the class labels, which makes "
                        "every object not of the first category an RPN negative)")
    parser.add_argument("--collect", nargs="+", default=None,
                        help="summarise these output folders instead of training")
    parser.add_argument("--out-dir", default=RESULTS_DIR)
    parser.add_argument("--layout", default=None, help="write the reference model's tensor "
                        "names and shapes for --config-file to this json, and stop")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE config overrides")
    args = parser.parse_args()
    if args.layout:
        write_layout(args.config_file, args.layout)
    elif args.collect:
        collect(args.collect, args.out_dir)
    else:
        run(args)


if __name__ == "__main__":
    main()
