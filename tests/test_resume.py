"""A training run killed between checkpoints resumes where it stopped.

train_net.py runs as a subprocess on the tiny synthetic data (CHECKPOINT_PERIOD 4, MAX_ITER
12), is SIGKILLed after its first checkpoint (model_0000003.pth) while it trains on, and is
restarted with --resume: it starts at iteration 4 with the checkpoint's optimizer and
scheduler state, and a rerun of the finished run trains nothing.
"""
import os
import signal
import subprocess
import time

import pytest
import torch

from detectron2.solver import build_lr_scheduler

import _tiny
from masktrack_d2.engine import MaskTrackTrainer


@pytest.fixture(autouse=True)
def _one_thread():
    with _tiny.one_thread():
        yield


PERIOD, MAX_ITER = 4, 12
OPTS = ["SOLVER.CHECKPOINT_PERIOD", str(PERIOD), "SOLVER.MAX_ITER", str(MAX_ITER),
        "SOLVER.STEPS", "(8,)", "SOLVER.WARMUP_ITERS", "6"]


def _run(cmd, env, timeout=300):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout


def _assert_same_state(actual, expected, where):
    """Nested dicts / lists of tensors and numbers are equal, exactly."""
    if isinstance(expected, torch.Tensor):
        assert torch.equal(actual, expected), where
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for k in expected:
            _assert_same_state(actual[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_same_state(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, where


@pytest.mark.slow
def test_killed_run_resumes_with_its_state_and_finished_run_does_not_retrain(tmp_path):
    _tiny.make_subprocess_data(tmp_path / "datasets")
    out = str(tmp_path / "out")
    config = _tiny.write_config(tmp_path / "tiny.yaml", out, opts=OPTS)
    env = _tiny.subprocess_env(tmp_path / "datasets")
    cmd = _tiny.train_net_cmd(config)

    # 1. Train, SIGKILL once the first checkpoint is complete (last_checkpoint names it).
    log1 = open(tmp_path / "run1.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log1, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    try:
        while _tiny.last_checkpoint(out) != "model_0000003.pth":
            assert proc.poll() is None, open(tmp_path / "run1.log").read()[-3000:]
            assert time.time() < deadline, "no checkpoint in 300 s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log1.close()
    assert proc.returncode == -signal.SIGKILL
    # Killed between checkpoints: no later checkpoint, no final model.
    assert not os.path.exists(os.path.join(out, "model_0000007.pth"))
    assert not os.path.exists(os.path.join(out, "model_final.pth"))
    assert _tiny.last_checkpoint(out) == "model_0000003.pth"
    ckpt_path = os.path.join(out, "model_0000003.pth")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == 3
    # The checkpoint holds the optimizer (SGD momentum) and the scheduler.
    assert ckpt["trainer"]["_trainer"]["optimizer"]["state"], "no momentum buffers saved"
    assert ckpt["trainer"]["hooks"]["LRScheduler"]["last_epoch"] == 4

    # 2. What a resumed trainer holds at its start, in-process: the checkpoint's state.
    data = tmp_path / "datasets" / "synthetic"
    name = _tiny.register(data / "train.json", data / "JPEGImages")
    try:
        cfg = _tiny.tiny_cfg(train=[name], output_dir=out, opts=OPTS)
        trainer = MaskTrackTrainer(cfg)
        trainer.resume_or_load(resume=True)
        assert trainer.start_iter == 4
        _assert_same_state(trainer.optimizer.state_dict(),
                           ckpt["trainer"]["_trainer"]["optimizer"], "optimizer")
        _assert_same_state(trainer.scheduler.state_dict(),
                           ckpt["trainer"]["hooks"]["LRScheduler"], "scheduler")
        model_sd = trainer.model.state_dict()
        for k, v in ckpt["model"].items():
            assert torch.equal(model_sd[k], v), k
        # The lr of the first resumed iteration is the schedule's lr at iteration 4.
        fresh = MaskTrackTrainer.build_optimizer(cfg, MaskTrackTrainer.build_model(cfg))
        sched = build_lr_scheduler(cfg, fresh)
        for _ in range(4):
            fresh.step()
            sched.step()
        expected_lr = fresh.param_groups[0]["lr"]
        assert cfg.SOLVER.BASE_LR * 0.5 < expected_lr < cfg.SOLVER.BASE_LR  # still warming up
        assert [g["lr"] for g in trainer.optimizer.param_groups] == \
            [g["lr"] for g in fresh.param_groups]
        del trainer
    finally:
        _tiny.unregister(name)

    # 3. Resume: starts at the checkpoint's iteration + 1 and finishes the schedule.
    rc, log2 = _run(cmd + ["--resume"], env)
    assert rc == 0, log2[-3000:]
    assert "Starting training from iteration 4" in log2
    assert "model_0000003.pth" in log2  # loaded from the last checkpoint
    final = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu",
                       weights_only=False)
    assert final["iteration"] == MAX_ITER - 1
    assert _tiny.last_checkpoint(out) == "model_final.pth"
    records = [r for r in _tiny.read_metrics(out) if "total_loss" in r]
    iters = [r["iteration"] for r in records]
    # Every logged iteration comes from the resumed run (the killed one logged nothing before
    # its first writer period): they continue after the checkpoint, strictly increasing.
    assert iters and iters == sorted(set(iters)) and min(iters) > 3
    assert iters[-1] == MAX_ITER - 1
    for k in ("model_0000003.pth", "model_0000007.pth", "model_0000011.pth"):
        assert os.path.exists(os.path.join(out, k))
    assert torch.load(os.path.join(out, "model_0000007.pth"), map_location="cpu",
                      weights_only=False)["iteration"] == 7

    # 4. Rerunning the finished run with --resume trains nothing and writes no checkpoint.
    mtimes = {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out)
              if f.endswith(".pth")}
    n_records = len(_tiny.read_metrics(out))
    start = time.time()
    rc, log3 = _run(cmd + ["--resume"], env)
    assert rc == 0, log3[-3000:]
    assert f"Starting training from iteration {MAX_ITER}" in log3
    assert "model_final.pth" in log3
    assert {f: os.path.getmtime(os.path.join(out, f)) for f in os.listdir(out)
            if f.endswith(".pth")} == mtimes
    new = [r for r in _tiny.read_metrics(out)[n_records:] if "total_loss" in r]
    assert new == [], new
    assert "total_loss" not in log3 and "Saving checkpoint" not in log3
    assert time.time() - start < 120
