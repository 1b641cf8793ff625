"""End-to-end on the CPU: real training on synthetic videos learns; --eval-only and the
quickstart main job run through (all marked slow)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")


def _env(datasets):
    env = dict(os.environ, DETECTRON2_DATASETS=str(datasets), PYTHONWARNINGS="ignore")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Generate the synthetic set and train the quickstart model for a few hundred steps."""
    import torch

    from detectron2.engine import default_argument_parser

    from masktrack_d2.data.build import get_video_dicts
    from masktrack_d2.data.datasets import register_ytvis_instances
    from masktrack_d2.data.datasets.builtin import ytvis_builtin_metadata
    from masktrack_d2.data.synthetic import generate_synthetic_ytvis
    from masktrack_d2.engine import MaskTrackTrainer, setup_cfg
    from masktrack_d2.quickstart.match_accuracy import evaluate_match_accuracy
    from masktrack_d2.utils.metrics_log import training_rows

    tmp = tmp_path_factory.mktemp("e2e")
    data = generate_synthetic_ytvis(str(tmp / "synthetic"), num_videos=16, num_frames=8, seed=3)
    meta = ytvis_builtin_metadata("ytvis_synthetic")
    register_ytvis_instances("e2e_train", meta, data["train_json"], data["image_root"])
    register_ytvis_instances("e2e_val", meta, data["val_json"], data["image_root"])
    out = tmp / "out"
    args = default_argument_parser().parse_args([
        "--config-file", CONFIG, "OUTPUT_DIR", str(out), "SOLVER.MAX_ITER", "300",
        "SOLVER.STEPS", "(250,)", "SOLVER.CHECKPOINT_PERIOD", "150",
        "DATASETS.TRAIN", "('e2e_train',)", "DATASETS.TEST", "()",
        "DATALOADER.NUM_WORKERS", "0"])
    cfg = setup_cfg(args)
    torch.manual_seed(0)
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    val = get_video_dicts("e2e_val")
    before = evaluate_match_accuracy(trainer.model, cfg, val)
    trainer.train()
    after = evaluate_match_accuracy(trainer.model, cfg, val)
    rows = training_rows(out)
    return {"cfg": cfg, "out": out, "rows": rows, "before": before, "after": after,
            "data": data, "tmp": tmp}


@pytest.mark.slow
def test_detection_losses_fall(trained):
    rows = trained["rows"]
    first, last = rows[:2], rows[-2:]

    def mean(rs, k):
        return sum(r[k] for r in rs) / len(rs)

    # rpn_cls and mask start near their chance values and fall by far more than 30%;
    # rpn_loc starts small (few positive anchors) and falls less (0.031 -> 0.024 seen).
    for k, factor in (("loss_rpn_cls", 0.7), ("loss_mask", 0.7), ("loss_rpn_loc", 1.0)):
        assert mean(last, k) < factor * mean(first, k), (k, mean(first, k), mean(last, k))
    assert all(r["total_loss"] == r["total_loss"] for r in rows)  # never NaN


@pytest.mark.slow
def test_match_head_learns_on_heldout_pairs(trained):
    before, after = trained["before"], trained["after"]
    assert after["num_queries"] >= 20
    assert after["match_loss"] < before["match_loss"]
    assert after["match_accuracy"] > before["match_accuracy"]
    assert after["match_accuracy"] > after["chance"] + 0.2, (after, before)


@pytest.mark.slow
def test_eval_only_prints_metrics(trained):
    data, out = trained["data"], trained["out"]
    env = _env(os.path.dirname(data["output_dir"]))
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "train_net.py"), "--eval-only", "--config-file",
         CONFIG, "MODEL.WEIGHTS", str(out / "model_final.pth"), "OUTPUT_DIR",
         str(trained["tmp"] / "eval")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert "copypaste: AP,AP50,AP75,APs,APm,APl,AR1,AR10" in log
    results = trained["tmp"] / "eval" / "inference" / "ytvis_synthetic_val" / "results.json"
    assert json.load(open(results)), "no tracks written"


#: The held-out AP the quickstart must print. Four runs printed 30.5 to 44.5 on its 6
#: held-out videos (docs/cpu_recipe.md: seeds 1-3 gave 30.5-35.3, a fresh-clone run 44.5), so
#: the floor sits just below the bottom of that range: a little room for other machines'
#: float paths, little for a recipe that learns clearly less (the previous recipe printed
#: 14.1-28.5 on three machines).
QUICKSTART_AP_FLOOR = 28.0


@pytest.mark.slow
def test_quickstart_main_job(tmp_path):
    """The main job exactly as a user runs it (no overrides): data, training, held-out AP
    above a floor, AP per checkpoint, match accuracy, tracker ablation, demo, report."""
    proc = subprocess.run(
        [sys.executable, "-m", "masktrack_d2.quickstart", "--output-dir", str(tmp_path / "qs")],
        cwd=ROOT, env=_env(tmp_path / "datasets"), capture_output=True, timeout=3000)
    # bytes, decoded here: text=True would turn the bars' carriage returns into line breaks
    stdout, stderr = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, stderr[-3000:]
    report = json.load(open(tmp_path / "qs" / "quickstart_report.json"))
    assert report["ytvis_val"]["AP"] >= QUICKSTART_AP_FLOOR, report["ytvis_val"]
    curve = report["heldout_curve"]
    assert [h["iteration"] for h in curve] == [0, 300, 600, 900, 1200]
    assert curve[-1]["segm"]["AP"] == pytest.approx(report["ytvis_val"]["AP"])
    assert curve[-1]["match_accuracy"] > curve[-1]["chance"] + 0.2
    for key in ("tracker_ablation", "tracker_ablation_extra_heldout"):
        assert set(report[key]) == {"embedding+iou+label", "iou+label"}
        for r in report[key].values():
            assert 0 <= r["subset"]["AP"] <= 100
    assert len(report["extra_heldout_crossing_video_ids"]) == 24
    objects = report["demo_frame"]["objects"]
    assert objects and all(0 <= o["iou"] <= 1 for o in objects)
    for name in ("model_final.pth", "training_curves.png", "demo/demo.mp4", "demo/demo.json",
                 "demo/demo_frame.png", "inference/ytvis_synthetic_val/results.json"):
        assert (tmp_path / "qs" / name).is_file(), name
    assert "held-out AP" in stdout and "demo frame (video" in stdout
    # The console: a bar per stage, then the summary; the rest is in log.txt, once, plain.
    for stage in ("data", "training", "evaluation", "ablation", "demo"):
        assert f"[quickstart] {stage}" in stdout, stage
    # lines, not bar refreshes: a refresh rewrites its line after a carriage return (on a pipe
    # once per 30 s, so their number follows the machine's speed)
    assert len(stdout.split("\n")) < 60, stdout[-3000:]
    log = (tmp_path / "qs" / "log.txt").read_text()
    assert log.count("Environment info") == 1 and "\x1b" not in log
    assert "iter: 1199" in log and "held-out AP" in log
