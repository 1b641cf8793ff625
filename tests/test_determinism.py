"""With a fixed SEED, CPU training and inference repeat exactly.

Two in-process training runs (fresh trainers, set up as train_net.py does: setup_cfg ->
default_setup seeds every RNG from cfg.SEED) give identical per-iteration losses and
metrics.json values, with the frame pairs mapped in the main process (NUM_WORKERS 0) or in
a loader worker (NUM_WORKERS 1); two inference runs give a byte-identical results.json.
"""
import argparse
import json
import logging
import os

import pytest

import _tiny
from masktrack_d2.engine import MaskTrackTrainer, setup_cfg
from masktrack_d2.checkpoint import load_checkpoint_strict


@pytest.fixture(autouse=True)
def _one_thread():
    with _tiny.one_thread():
        yield


def _is_timing(key):
    """Wall-clock scalars (time, data_time, eta_seconds and, on newer detectron2,
    rank_data_time) differ between identical runs; everything else must not."""
    return "time" in key or key == "eta_seconds"


ITERS = 3


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    data = _tiny.make_tiny_data(tmp_path_factory.mktemp("determinism_data"))
    train = _tiny.register(data["train_json"], data["image_root"], prefix="det_train")
    val = _tiny.register(data["val_json"], data["image_root"], prefix="det_val")
    yield train, val
    _tiny.unregister(train, val)


@pytest.fixture
def restore_logging():
    """default_setup adds file / stdout handlers for each OUTPUT_DIR: take them off again."""
    loggers = [logging.getLogger(n) for n in ("detectron2", "fvcore", "d2", "masktrack_d2")]
    before = {lg.name: list(lg.handlers) for lg in loggers}
    yield
    for lg in loggers:
        for h in lg.handlers[:]:
            if h not in before[lg.name]:
                lg.removeHandler(h)
                h.close()


def _setup(tmp_path, tag, names, opts=()):
    out = tmp_path / tag
    cfg = _tiny.tiny_cfg(train=[names[0]], test=[names[1]], output_dir=out,
                         opts=["SOLVER.MAX_ITER", str(ITERS), "SOLVER.STEPS", f"({ITERS - 1},)",
                               *opts])
    config = tmp_path / f"{tag}.yaml"
    config.write_text(cfg.dump())
    args = argparse.Namespace(config_file=str(config), opts=[], eval_only=False, resume=False,
                              num_gpus=1)
    return setup_cfg(args), out


def _train(tmp_path, tag, names, opts=()):
    cfg, out = _setup(tmp_path, tag, names, opts)
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()
    history = {k: [v for v, _ in h.values()] for k, h in trainer.storage.histories().items()
               if k.startswith("loss") or k == "total_loss"}
    metrics = [{k: v for k, v in r.items() if not _is_timing(k)}
               for r in _tiny.read_metrics(out)]
    return cfg, out, history, metrics


@pytest.mark.parametrize("workers", [0, 1])
def test_training_repeats_exactly(tmp_path, names, restore_logging, workers):
    opts = ["DATALOADER.NUM_WORKERS", str(workers), "TEST.EVAL_PERIOD", "0"]
    _, _, hist_a, metrics_a = _train(tmp_path, "a", names, opts + ["DATASETS.TEST", "()"])
    _, _, hist_b, metrics_b = _train(tmp_path, "b", names, opts + ["DATASETS.TEST", "()"])
    assert hist_a["total_loss"] and len(hist_a["total_loss"]) == ITERS
    assert set(hist_a) >= {"loss_cls", "loss_mask", "loss_match", "loss_rpn_cls"}
    assert hist_a == hist_b  # every loss of every iteration, bit for bit
    assert metrics_a and metrics_a == metrics_b
    # The comparison covers the results, not just the iteration counter.
    assert {"total_loss", "loss_match", "lr"} <= set(metrics_a[-1])
    # A different seed gives a different run (the comparison can fail).
    _, _, hist_c, _ = _train(tmp_path, "c", names, opts + ["DATASETS.TEST", "()", "SEED", "2"])
    assert hist_c["total_loss"] != hist_a["total_loss"]


def test_inference_repeats_byte_for_byte(tmp_path, names, restore_logging):
    cfg, out, _, _ = _train(tmp_path, "train", names, ["DATASETS.TEST", "()"])
    weights = str(out / "model_final.pth")
    results = []
    for run in ("x", "y"):
        cfg_eval, out_eval = _setup(tmp_path, run, names, ["MODEL.WEIGHTS", weights,
                                                          "MODEL.ROI_HEADS.SCORE_THRESH_TEST",
                                                          "0.0"])
        model = MaskTrackTrainer.build_model(cfg_eval)  # fresh model each run
        load_checkpoint_strict(model, weights)
        res = MaskTrackTrainer.test(cfg_eval, model)
        path = out_eval / "inference" / names[1] / "results.json"
        results.append((res, path.read_bytes()))
    assert json.loads(results[0][1]), "no tracks: the comparison would be empty"
    assert results[0][1] == results[1][1]
    assert json.dumps(results[0][0]) == json.dumps(results[1][0])
    assert not os.path.exists(str(out_eval / "inference" / names[1] / "submission_file.zip"))
