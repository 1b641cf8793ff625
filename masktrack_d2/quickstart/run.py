"""
The quickstart main job, on a fresh machine and without any download:

    python -m masktrack_d2.quickstart [--output-dir output/quickstart] [KEY VALUE ...]

1. generates the synthetic YouTube-VIS-format data set under $DETECTRON2_DATASETS/synthetic
   (synthetic_hard, in the generator's hard mode, for a config that trains on
   ytvis_synthetic_hard_train, e.g. configs/quickstart/masktrack_R_18_FPN_synthetic_hard.yaml;
   synthetic_hard_b, its second family, for ytvis_synthetic_hard_b_train);
2. trains the quickstart MaskTrack R-CNN on the CPU (configs/quickstart/...); with
   ``--stage1-config`` it first trains that config's detector stage (``MODEL.TRACK_ON False``,
   single frames) into <output-dir>/stage1 and starts the tracking config from its
   ``model_final.pth`` (the two-stage recipe, docs/two_stage.md);
3. evaluates it on the held-out synthetic videos: YouTube-VIS AP of every checkpoint (AP
   against iterations, stage 1's checkpoints included), the tracking head's match accuracy
   on held-out frame pairs, and the tracker with and without its embedding term on a second
   generated set of 48 videos;
4. renders a held-out video with the tracks drawn and says which objects of the saved frame
   the demo shows;
and prints where each output is. Trailing ``KEY VALUE`` pairs override the config (both
configs with ``--stage1-config``, e.g. SEED).
"""
import argparse
import copy
import glob
import json
import os
import sys
import time

from ..utils.file_io import atomic_write
from ..utils.metrics_log import training_rows
from .console import StageConsole, training_progress

EXTRA_HELDOUT_NAME = "ytvis_synthetic_heldout_extra"
EXTRA_HELDOUT_SEED = 7  # the training sets use seeds 0 and 11 (SYNTHETIC_SETS)
#: Videos of the extra held-out set; every other one has a same-category crossing.
EXTRA_HELDOUT_VIDEOS = 48
#: The generated set each training set name needs: (folder under $DETECTRON2_DATASETS,
#: generator mode, built-in metadata key, generator seed).
SYNTHETIC_SETS = {
    "ytvis_synthetic_train": ("synthetic", "default", "ytvis_synthetic", 0),
    "ytvis_synthetic_hard_train": ("synthetic_hard", "hard", "ytvis_synthetic_hard", 0),
    # the second hard family, on another seed too: data a hard-mode recipe was not tuned on
    "ytvis_synthetic_hard_b_train": ("synthetic_hard_b", "hard_b", "ytvis_synthetic_hard", 11),
}
#: Name of the quickstart config under configs/ (see masktrack_d2.config.get_config_file).
QUICKSTART_CONFIG = "quickstart/masktrack_R_18_FPN_synthetic.yaml"


def prepare_data(cfg, config_file: str = "the config", progress=None):
    """
    Generate (or find, when already generated) the synthetic set that ``cfg.DATASETS.TRAIN``
    names, under $DETECTRON2_DATASETS, and the extra held-out set of the same mode, which it
    registers as a data set.

    Returns:
        (data, extra): :func:`generate_synthetic_ytvis`'s dicts; ``extra["dataset_name"]`` is
        the extra set's registered name. ``progress()`` is called after each set.
    """
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from ..data.datasets import register_ytvis_instances
    from ..data.datasets.builtin import ytvis_builtin_metadata
    from ..data.synthetic import generate_synthetic_ytvis

    if cfg.DATASETS.TRAIN[0] not in SYNTHETIC_SETS:
        raise ValueError("the quickstart trains on a generated set, one of {}; {} has "
                         "DATASETS.TRAIN {}".format(sorted(SYNTHETIC_SETS), config_file,
                                                    cfg.DATASETS.TRAIN))
    folder, mode, metadata_key, data_seed = SYNTHETIC_SETS[cfg.DATASETS.TRAIN[0]]
    root = os.getenv("DETECTRON2_DATASETS", "datasets")
    data = generate_synthetic_ytvis(os.path.join(root, folder), seed=data_seed, mode=mode)
    print(f"[quickstart] synthetic data set ({mode} mode): {data['output_dir']}", flush=True)
    if progress is not None:
        progress()
    # The held-out split has only a few crossing videos; a larger generated set (another
    # seed, so no video is shared with training) makes the tracker comparison stable.
    extra = generate_synthetic_ytvis(os.path.join(root, folder + "_heldout"),
                                     num_videos=EXTRA_HELDOUT_VIDEOS, seed=EXTRA_HELDOUT_SEED,
                                     mode=mode)
    name = EXTRA_HELDOUT_NAME if mode == "default" else EXTRA_HELDOUT_NAME + "_" + mode
    if name in DatasetCatalog.list():  # an earlier call, maybe under another root
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    register_ytvis_instances(name, ytvis_builtin_metadata(metadata_key),
                             extra["all_json"], extra["image_root"])
    extra["dataset_name"] = name
    if progress is not None:
        progress()
    return data, extra


def heldout_ap(cfg, model, dataset_name: str, output_folder: str) -> dict:
    """YouTube-VIS segm stats (AP, AP50, ...) of ``model`` on ``dataset_name``."""
    from ..engine import MaskTrackTrainer

    c = cfg.clone()
    c.defrost()
    c.DATASETS.TEST = (dataset_name,)
    evaluator = MaskTrackTrainer.build_evaluator(c, dataset_name, output_folder)
    res = MaskTrackTrainer.test(c, model, [evaluator])
    return res.get("segm", res)


def heldout_curve(cfg, videos, output_dir: str, initial_model, dataset_name: str = None,
                  progress=None):
    """
    Per checkpoint in ``output_dir`` (and for ``initial_model``, iteration 0): the held-out
    losses on a fixed task (:func:`evaluate_heldout_losses`), the match accuracy with
    ground-truth boxes (:func:`evaluate_match_accuracy`) and, with ``dataset_name`` (the
    held-out split ``videos`` come from), its YouTube-VIS AP (checkpoints only: the initial
    model's AP is 0): AP against iterations. ``progress()`` is called after each point.
    """
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.modeling import build_model

    from .heldout_losses import evaluate_heldout_losses
    from .match_accuracy import evaluate_match_accuracy

    def measure(model, it):
        point = dict(evaluate_match_accuracy(model, cfg, videos, max_pairs=100),
                     losses=evaluate_heldout_losses(model, cfg, videos, max_pairs=60),
                     iteration=it)
        if dataset_name is not None and it > 0:
            folder = os.path.join(output_dir, "heldout_curve", "iter_{:06d}".format(it))
            point["segm"] = heldout_ap(cfg, model, dataset_name, folder)
        if progress is not None:
            progress()
        return point

    curve = [measure(initial_model, 0)]
    model = build_model(cfg)
    for path in sorted(glob.glob(os.path.join(output_dir, "model_0*.pth"))):
        it = DetectionCheckpointer(model).load(path).get("iteration", -1) + 1
        curve.append(measure(model, it))
    return curve


def stage1_curve(cfg, stage1_dir: str, dataset_name: str, progress=None):
    """
    Held-out YouTube-VIS AP of each detector-stage checkpoint in ``stage1_dir``: loaded into the
    tracking model of ``cfg`` (its track head untrained, so the tracker runs without its
    embedding term: boxes, labels and IoU only). Returns [{"iteration", "stage": 1, "segm"}].
    """
    from detectron2.modeling import build_model

    from ..checkpoint import TrainingCheckpointer

    c = cfg.clone()
    c.defrost()
    c.TEST.TRACKER.USE_EMBEDDING = False
    model = build_model(c)
    model.eval()
    points = []
    for path in sorted(glob.glob(os.path.join(stage1_dir, "model_0*.pth"))):
        it = TrainingCheckpointer(model).load(path).get("iteration", -1) + 1
        folder = os.path.join(stage1_dir, "heldout_curve", "iter_{:06d}".format(it))
        points.append({"iteration": it, "stage": 1,
                       "segm": heldout_ap(c, model, dataset_name, folder)})
        if progress is not None:
            progress()
    return points


def plot_curves(output_dir: str, out_png: str, heldout=None, keys=None, stage1=None):
    """
    Plot the training losses and match accuracy logged in ``output_dir``'s metrics.json, and the
    held-out match accuracy per checkpoint (``heldout``: list of dicts with "iteration",
    "match_accuracy", "chance"). With ``stage1`` (:func:`stage1_curve`; its iterations
    counted from the start of stage 1, those of ``heldout`` from the start of stage 2) the AP
    panel shows both stages on one axis of total steps.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = training_rows(output_dir)
    keys = keys or ["loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg", "loss_mask",
                    "loss_match"]
    fig, axes = plt.subplots(1, 4, figsize=(21, 4))
    it = [r["iteration"] for r in rows]
    for k in keys:
        axes[0].plot(it, [r[k] for r in rows], label=k)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("iteration")
    axes[0].set_title("training losses")
    axes[0].legend(fontsize=8)
    acc = [r.get("track_head/match_accuracy") for r in rows]
    axes[1].plot(it, acc, color="tab:purple", label="training RoIs")
    if heldout:
        axes[1].plot([h["iteration"] for h in heldout], [h["match_accuracy"] for h in heldout],
                     "o-", color="tab:green", label="held-out pairs (GT boxes)")
        axes[1].plot([h["iteration"] for h in heldout], [h["chance"] for h in heldout],
                     "--", color="gray", label="chance")
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel("iteration")
    axes[1].set_title("match accuracy")
    axes[1].legend(fontsize=8)
    points = [h for h in (heldout or [])[1:] if "losses" in h]  # iteration 0: random weights
    for k in keys:
        if points and k in points[0]["losses"]:
            axes[2].plot([h["iteration"] for h in points], [h["losses"][k] for h in points],
                         "o-", label=k)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("iteration (checkpoints)")
    axes[2].set_title("held-out losses, fixed proposals")
    axes[2].legend(fontsize=8)
    offset = max((p["iteration"] for p in stage1 or []), default=0)
    ap_points = list(stage1 or []) + [dict(h, iteration=h["iteration"] + offset)
                                      for h in heldout or [] if "segm" in h]
    for k in ("AP", "AP50", "AP75"):
        axes[3].plot([h["iteration"] for h in ap_points], [h["segm"].get(k) for h in ap_points],
                     "o-", label=k)
    if stage1:
        axes[3].axvline(offset, color="gray", linestyle=":", label="stage 1 | stage 2")
    axes[3].set_ylim(0, 100)
    axes[3].set_xlabel("iteration (checkpoints)" + (", both stages" if stage1 else ""))
    axes[3].set_title("held-out YouTube-VIS AP")
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def loss_summary(output_dir: str, window: int = 3):
    """First and last logged value (mean over ``window`` log points) of every loss."""
    rows = training_rows(output_dir)
    keys = [k for k in rows[0] if k.startswith("loss_")] + ["track_head/match_accuracy"]

    def mean(rs, k):
        return sum(r[k] for r in rs) / len(rs)

    return {k: (mean(rows[:window], k), mean(rows[-window:], k)) for k in keys}


def tracker_ablation(cfg, model, dataset_name: str, video_ids, output_dir: str):
    """
    Evaluate ``model`` on ``dataset_name`` with the full tracker and with the embedding term
    off (IoU + label only), on all videos and on the subset ``video_ids`` (the videos where
    two instances of one category cross). Returns {setting: {"all": stats, "subset": stats}}.
    """
    from detectron2.data import MetadataCatalog

    from ..evaluation.ytvis_eval import evaluate_ytvis, track_metrics
    from ..modeling.tracker import MaskTrackTracker

    gt = json.load(open(MetadataCatalog.get(dataset_name).json_file))
    keep = set(video_ids)
    gt_subset = dict(gt, videos=[v for v in gt["videos"] if v["id"] in keep],
                     annotations=[a for a in gt["annotations"] if a["video_id"] in keep])
    original = model.tracker
    out = {}
    try:
        for name, use_embedding in (("embedding+iou+label", True), ("iou+label", False)):
            c = cfg.clone()
            c.defrost()
            c.TEST.TRACKER.USE_EMBEDDING = use_embedding
            model.tracker = MaskTrackTracker.from_config(c)
            folder = os.path.join(output_dir, "ablation", name)
            segm = heldout_ap(c, model, dataset_name, folder)
            results = json.load(open(os.path.join(folder, "results.json")))
            subset = [r for r in results if r["video_id"] in keep]
            out[name] = {"all": segm,
                         "subset": {k: 100 * v if v >= 0 else v
                                    for k, v in evaluate_ytvis(gt_subset, subset).items()}}
            # Association beside AP: ID switches and AssA (pooled over categories).
            for part, (g, r) in (("all", (gt, results)), ("subset", (gt_subset, subset))):
                t = track_metrics(g, r)
                out[name][part].update(IDSW=t["IDSW"], AssA=100 * t["AssA"],
                                       HOTA=100 * t["HOTA"], IDF1=100 * t["IDF1"])
    finally:
        model.tracker = original
    return out


def _remove_checkpoints(output_dir: str) -> None:
    """A fresh start: checkpoints of an earlier run in this folder would join the AP curve."""
    stale = glob.glob(os.path.join(output_dir, "model_*.pth"))
    for path in stale + glob.glob(os.path.join(output_dir, "last_checkpoint")):
        os.remove(path)
    if stale:
        print(f"[quickstart] removed {len(stale)} checkpoints of an earlier run in "
              f"{output_dir}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="output/quickstart")
    parser.add_argument("--config-file", default=None,
                        help=f"default: the shipped configs/{QUICKSTART_CONFIG}")
    parser.add_argument("--stage1-config", default=None,
                        help="a detector-stage config (MODEL.TRACK_ON False) trained first; "
                             "--config-file then starts from its model_final.pth")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="config overrides KEY VALUE")
    args = parser.parse_args(argv)
    if args.config_file is None:
        from ..config import get_config_file

        args.config_file = get_config_file(QUICKSTART_CONFIG)
    output_dir = dict(zip(args.opts[::2], args.opts[1::2])).get("OUTPUT_DIR", args.output_dir)
    with StageConsole(os.path.join(output_dir, "log.txt")) as console:
        console.terminal.write(f"[quickstart] the full log: {console.log_path}\n")
        report = _run(args, console)
    return report


def _run(args, console: StageConsole) -> dict:
    """The stages, each behind a progress bar on the terminal; details go to the log."""
    from detectron2.engine import default_argument_parser
    from detectron2.utils.env import seed_all_rng

    from ..data.build import get_video_dicts
    from ..engine import MaskTrackTrainer, build_cfg, setup_cfg
    from .demo_frame import render_demo

    t0 = time.time()
    d2_args = default_argument_parser().parse_args(
        ["--config-file", args.config_file, "OUTPUT_DIR", args.output_dir] + args.opts)
    with console.logging_set_up():
        cfg = setup_cfg(d2_args)
    cfg1 = None
    if args.stage1_config:
        # Stage 1 logs into this run's log; its config is saved beside its checkpoints.
        cfg1, _ = build_cfg(default_argument_parser().parse_args(
            ["--config-file", args.stage1_config] + args.opts
            + ["OUTPUT_DIR", os.path.join(cfg.OUTPUT_DIR, "stage1")]))
        if cfg1.MODEL.TRACK_ON or cfg1.DATASETS.TRAIN != cfg.DATASETS.TRAIN:
            raise ValueError(
                f"--stage1-config {args.stage1_config}: a detector stage (MODEL.TRACK_ON False) "
                f"on the same training set as {args.config_file} ({cfg.DATASETS.TRAIN}); it has "
                f"MODEL.TRACK_ON {cfg1.MODEL.TRACK_ON}, DATASETS.TRAIN {cfg1.DATASETS.TRAIN}")
        cfg.defrost()
        cfg.MODEL.WEIGHTS = os.path.join(cfg1.OUTPUT_DIR, "model_final.pth")
        cfg.freeze()
    with console.stage("data", 2, "sets") as bar:
        data, extra = prepare_data(cfg, args.config_file, progress=bar.update)

    training_seconds = {}
    if cfg1 is not None:
        _remove_checkpoints(cfg1.OUTPUT_DIR)
        os.makedirs(cfg1.OUTPUT_DIR, exist_ok=True)
        with atomic_write(os.path.join(cfg1.OUTPUT_DIR, "config.yaml"), "w") as f:
            f.write(cfg1.dump())
        seed_all_rng(None if cfg1.SEED < 0 else cfg1.SEED)
        trainer = MaskTrackTrainer(cfg1)
        trainer.resume_or_load(resume=False)
        with console.stage("stage 1", cfg1.SOLVER.MAX_ITER, "it") as bar:
            trainer.register_hooks([training_progress(bar)])
            start = time.time()
            trainer.train()
            training_seconds["stage1"] = time.time() - start
        del trainer
        # stage 2 as train_net.py would start it
        seed_all_rng(None if cfg.SEED < 0 else cfg.SEED)
    _remove_checkpoints(cfg.OUTPUT_DIR)
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    val_videos = get_video_dicts(cfg.DATASETS.TEST[0])
    initial_model = copy.deepcopy(trainer.model)
    with console.stage("training" if cfg1 is None else "stage 2", cfg.SOLVER.MAX_ITER,
                       "it") as bar:
        trainer.register_hooks([training_progress(bar)])
        start = time.time()
        trainer.train()
        training_seconds["stage2" if cfg1 is not None else "training"] = time.time() - start
    t_train = time.time() - t0

    n_points = 1 + len(glob.glob(os.path.join(cfg.OUTPUT_DIR, "model_0*.pth")))
    if cfg1 is not None:
        n_points += len(glob.glob(os.path.join(cfg1.OUTPUT_DIR, "model_0*.pth")))
    with console.stage("evaluation", n_points + 1, "models") as bar:
        stage1 = None if cfg1 is None else stage1_curve(
            cfg, cfg1.OUTPUT_DIR, cfg.DATASETS.TEST[0], progress=bar.update)
        heldout = heldout_curve(cfg, val_videos, cfg.OUTPUT_DIR, initial_model,
                                dataset_name=cfg.DATASETS.TEST[0], progress=bar.update)
        segm = heldout_ap(cfg, trainer.model, cfg.DATASETS.TEST[0],
                          os.path.join(cfg.OUTPUT_DIR, "inference", cfg.DATASETS.TEST[0]))
        bar.update(1)
    acc_before, acc = heldout[0], heldout[-1]
    curves = plot_curves(cfg.OUTPUT_DIR, os.path.join(cfg.OUTPUT_DIR, "training_curves.png"),
                         heldout, stage1=stage1)
    summary = loss_summary(cfg.OUTPUT_DIR)

    val_ids = {v["video_id"] for v in val_videos}
    crossing = [i for i in json.load(open(data["val_json"]))["info"].get("crossing_video_ids", [])
                if i in val_ids]
    extra_name = extra["dataset_name"]
    with console.stage("ablation", 2, "sets") as bar:
        ablation = tracker_ablation(cfg, trainer.model, cfg.DATASETS.TEST[0], crossing,
                                    cfg.OUTPUT_DIR)
        bar.update(1)
        ablation_extra = tracker_ablation(cfg, trainer.model, extra_name,
                                          extra["crossing_video_ids"],
                                          os.path.join(cfg.OUTPUT_DIR, extra_name))
        bar.update(1)
    demo_video_record = next((v for v in val_videos if v["video_id"] in crossing), val_videos[0])
    with console.stage("demo", 1, "video") as bar:
        demo = render_demo(
            args.config_file, args.opts, os.path.join(cfg.OUTPUT_DIR, "model_final.pth"),
            demo_video_record, os.path.join(cfg.OUTPUT_DIR, "demo"), gt=data["val_json"])
        bar.update(1)

    report = {
        "ytvis_val": segm,
        "heldout_curve": heldout,
        "stage1_curve": stage1,
        "training_seconds": training_seconds,
        "tracker_ablation": ablation,
        "crossing_video_ids": crossing,
        "tracker_ablation_extra_heldout": ablation_extra,
        "extra_heldout_crossing_video_ids": extra["crossing_video_ids"],
        "demo_frame": {"video_id": demo_video_record["video_id"],
                       "frame_index": demo["frame_index"], "objects": demo["coverage"]},
        "losses_first_last": summary,
        "seconds": time.time() - t0,
        "train_and_eval_seconds": t_train,
    }
    with open(os.path.join(cfg.OUTPUT_DIR, "quickstart_report.json"), "w") as f:
        json.dump(report, f, indent=2)

    say = console.print
    say("\n[quickstart] done in {:.0f} s (training {})".format(report["seconds"], ", ".join(
        f"{k} {v:.0f} s" for k, v in training_seconds.items())))
    if stage1:
        say("  held-out AP against steps: " + ", ".join(
            f"{p['iteration']}: {p['segm'].get('AP', float('nan')):.1f}" for p in stage1)
            + " (stage 1, tracker without embeddings) | " + ", ".join(
            f"{p['iteration'] + stage1[-1]['iteration']}: {p['segm'].get('AP', float('nan')):.1f}"
            for p in heldout if "segm" in p) + " (stage 2)")
    say("  held-out AP {:.1f}  AP50 {:.1f}  AP75 {:.1f}  AR10 {:.1f}".format(
        segm.get("AP", float("nan")), segm.get("AP50", float("nan")),
        segm.get("AP75", float("nan")), segm.get("AR10", float("nan"))))
    say("  held-out match accuracy (GT boxes) {:.3f} -> {:.3f} (initial -> final; chance "
        "{:.3f}, {} queries)".format(acc_before["match_accuracy"], acc["match_accuracy"],
                                     acc["chance"], acc["num_queries"]))
    for title, abl, n_videos, n_cross in (
            ("held-out split", ablation, len(val_videos), len(crossing)),
            ("extra held-out set", ablation_extra, extra["num_videos"],
             len(extra["crossing_video_ids"]))):
        for name, r in abl.items():
            say("  tracker {:20s} {:18s} AP {:5.1f} IDSW {:3d} AssA {:5.1f} on {} videos | "
                "AP {:5.1f} IDSW {:3d} AssA {:5.1f} on the {} with crossings".format(
                    name, title, r["all"].get("AP", float("nan")), r["all"]["IDSW"],
                    r["all"]["AssA"], n_videos, r["subset"]["AP"], r["subset"]["IDSW"],
                    r["subset"]["AssA"], n_cross))
    # The initial model's losses say little (random weights; with BatchNorm, untrained
    # statistics), so the losses are compared from the first checkpoint on.
    start = heldout[1] if len(heldout) > 2 else heldout[0]
    say("  held-out losses on fixed proposals, iteration {} -> {}:".format(
        start["iteration"], heldout[-1]["iteration"]))
    for k in heldout[-1]["losses"]:
        say(f"    {k:28s} {start['losses'][k]:9.4f} -> {heldout[-1]['losses'][k]:9.4f}")
    say("  logged training losses (first -> last 3 log points):")
    for k, (first, last) in summary.items():
        say(f"    {k:28s} {first:9.4f} -> {last:9.4f}")
    found = [o for o in demo["coverage"] if o["detected"]]
    missed = [o["category"] for o in demo["coverage"] if not o["detected"]]
    say("  demo frame (video {}, frame {}): {} of {} objects detected (mask IoU >= 0.5){}"
        .format(demo_video_record["video_id"], demo["frame_index"], len(found),
                len(demo["coverage"]), "; missed: " + ", ".join(missed) if missed else ""))
    say(f"  data set        {data['output_dir']}")
    say(f"  checkpoint      {os.path.join(cfg.OUTPUT_DIR, 'model_final.pth')}")
    say(f"  results.json    {os.path.join(cfg.OUTPUT_DIR, 'inference', cfg.DATASETS.TEST[0], 'results.json')}")
    say(f"  training curves {curves}")
    say(f"  demo video      {demo['video']}")
    say(f"  demo frame      {demo['frame_png']}")
    say(f"  report          {os.path.join(cfg.OUTPUT_DIR, 'quickstart_report.json')}")
    say(f"  full log        {console.log_path}")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
