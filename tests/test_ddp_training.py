"""Data-parallel training with 2 CPU processes (gloo), the real trainer throughout.

* one DDP step on 2 pairs (one per process) gives the parameters of one process that averages
  the gradients of the same two pairs, taken one at a time with the same sampling RNG state;
* only rank 0 writes checkpoints, metrics and the config;
* ``train_net.py --num-gpus 2 MODEL.DEVICE cpu`` trains on batches without a positive RoI and
  with empty reference frames, and a run killed after a checkpoint resumes with --resume.
"""
import json
import os
import signal
import subprocess
import time
from argparse import Namespace

import pytest
import torch

import _tiny


def _worker(json_file, image_root, config, out):
    """One rank: the trainer as train_net.py builds it, with a spy on detectron2's file writes
    and (rank by rank) the batch and torch RNG state its model sees."""
    from detectron2.utils import comm
    from detectron2.utils.file_io import PathManager

    from masktrack_d2.engine import MaskTrackTrainer, setup_cfg

    torch.set_num_threads(1)
    writes = []
    real_open = PathManager.open

    def spy(path, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax"):
            writes.append(str(path))
        return real_open(path, mode, *args, **kwargs)

    PathManager.open = spy
    _register(json_file, image_root)
    cfg = setup_cfg(Namespace(config_file=config, opts=[], eval_only=False, resume=False))
    rank = comm.get_rank()
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=False)
    ddp = trainer._trainer.model
    assert isinstance(ddp, torch.nn.parallel.DistributedDataParallel)
    torch.save(ddp.module.state_dict(), os.path.join(out, f"init_rank{rank}.pth"))

    def capture(module, inputs):
        torch.save({"batch": inputs[0], "rng": torch.get_rng_state()},
                   os.path.join(out, f"batch_rank{rank}.pth"))

    ddp.module.register_forward_pre_hook(capture)
    trainer.train()
    with open(os.path.join(out, f"writes_rank{rank}.json"), "w") as f:
        json.dump(writes, f)


def _register(json_file, image_root):
    """Register under a fixed name (the same in every process)."""
    name = "ddp_train"
    from detectron2.data import DatasetCatalog, MetadataCatalog

    if name in DatasetCatalog:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    from masktrack_d2.data.datasets import register_ytvis_instances

    register_ytvis_instances(name, {}, json_file, image_root)
    return name


@pytest.mark.slow
def test_ddp_step_is_the_average_of_per_pair_gradients(tmp_path):
    from masktrack_d2.engine import MaskTrackTrainer
    from masktrack_d2.engine.launch import launch

    data = _tiny.make_tiny_data(tmp_path / "data")
    name = _register(data["train_json"], data["image_root"])
    out = tmp_path / "out"
    out.mkdir()
    opts = ["SOLVER.MAX_ITER", "1", "SOLVER.STEPS", "(5,)", "SOLVER.WARMUP_FACTOR", "1.0",
            "SOLVER.IMS_PER_BATCH", "2", "SOLVER.BASE_LR", "0.02"]
    cfg = _tiny.tiny_cfg(train=[name], output_dir=out, opts=opts)
    config = tmp_path / "ddp.yaml"
    config.write_text(cfg.dump())
    launch(_worker, 2, dist_url="auto",
           args=(data["train_json"], data["image_root"], str(config), str(out)))

    # Only rank 0 wrote: checkpoint, metrics, config; rank 1 only its own log.
    w0 = json.load(open(out / "writes_rank0.json"))
    w1 = json.load(open(out / "writes_rank1.json"))
    assert any(p.endswith("model_final.pth") for p in w0)
    assert any(p.endswith("metrics.json") for p in w0)
    assert all(os.path.basename(p).startswith("log.txt.rank1") for p in w1), w1

    # DDP broadcast rank 0's initial weights.
    init = torch.load(out / "init_rank0.pth")
    init1 = torch.load(out / "init_rank1.pth")
    assert all(torch.equal(init[k], init1[k]) for k in init)

    # The same step in one process: average the two pairs' gradients, one SGD step.
    from detectron2.utils.events import EventStorage

    with _tiny.one_thread(), EventStorage(0):
        model = MaskTrackTrainer.build_model(cfg)
        model.load_state_dict(init)
        model.train()
        grads = {}
        batches = [torch.load(out / f"batch_rank{r}.pth", weights_only=False) for r in (0, 1)]
        assert len(batches[0]["batch"]) == len(batches[1]["batch"]) == 1
        assert not torch.equal(batches[0]["batch"][0]["image"], batches[1]["batch"][0]["image"])
        for b in batches:
            torch.set_rng_state(b["rng"])
            model.zero_grad(set_to_none=True)
            sum(model(b["batch"]).values()).backward()
            for n, p in model.named_parameters():
                if p.grad is not None:
                    grads[n] = grads.get(n, 0) + p.grad.detach().clone()
        one_pair = {n: p.grad.detach().clone() for n, p in model.named_parameters()
                    if p.grad is not None}
        optimizer = MaskTrackTrainer.build_optimizer(cfg, model)
        MaskTrackTrainer.build_lr_scheduler(cfg, optimizer)
        for n, p in model.named_parameters():
            p.grad = grads[n] / 2 if n in grads else None
        optimizer.step()

    final = torch.load(out / "model_final.pth", weights_only=False)["model"]
    reference = dict(model.named_parameters())
    moved, worst = 0, 0.0
    for n, p in reference.items():
        step = (final[n] - init[n]).abs().max().item()
        diff = (final[n] - p.detach()).abs().max().item()
        moved += step > 0
        worst = max(worst, diff / max(step, 1e-12) if step > 0 else diff)
    assert moved > len(reference) // 2, "the step changed almost nothing: vacuous comparison"
    assert worst < 1e-3, worst
    # ... and it is not what one pair alone would have given: the same step taken with the
    # last pair's gradients only lands far outside the tolerance above (so the comparison
    # tells averaging from a step on one rank's pair).
    with _tiny.one_thread():
        alone = MaskTrackTrainer.build_model(cfg)
        alone.load_state_dict(init)
        optimizer = MaskTrackTrainer.build_optimizer(cfg, alone)
        MaskTrackTrainer.build_lr_scheduler(cfg, optimizer)
        for n, p in alone.named_parameters():
            p.grad = one_pair.get(n)
        optimizer.step()
    worst_alone = 0.0
    for n, p in alone.named_parameters():
        step = (final[n] - init[n]).abs().max().item()
        if step > 0:
            worst_alone = max(worst_alone, (final[n] - p.detach()).abs().max().item() / step)
    assert worst_alone > 10 * max(worst, 1e-3), (worst_alone, worst)


@pytest.mark.slow
def test_two_process_cli_odd_batches_kill_and_resume(tmp_path):
    data = _tiny.make_subprocess_data(tmp_path / "datasets")
    # Video 0 keeps its instances on frame 0 only: its reference frames are empty.
    with open(data["train_json"]) as f:
        gt = json.load(f)
    first = gt["videos"][0]["id"]
    for ann in gt["annotations"]:
        if ann["video_id"] == first:
            for key in ("segmentations", "bboxes", "areas"):
                if ann.get(key):
                    ann[key] = ann[key][:1] + [None] * (len(ann[key]) - 1)
    with open(data["train_json"], "w") as f:
        json.dump(gt, f)
    out = str(tmp_path / "out")
    # No positive RoI: ground truth is not added to the proposals and a RoI must overlap a
    # ground-truth box by IoU >= 0.99 to be foreground.
    opts = ["SOLVER.MAX_ITER", "10", "SOLVER.STEPS", "(8,)", "SOLVER.CHECKPOINT_PERIOD", "3",
            "SOLVER.IMS_PER_BATCH", "2", "INPUT.SAMPLING_FRAME_RANGE", "0",
            "MODEL.ROI_HEADS.PROPOSAL_APPEND_GT", "False",
            "MODEL.ROI_HEADS.IOU_THRESHOLDS", "[0.99]"]
    config = _tiny.write_config(tmp_path / "ddp.yaml", out, opts=opts)
    env = _tiny.subprocess_env(tmp_path / "datasets")
    cmd = _tiny.train_net_cmd(config, "--num-gpus", "2", "MODEL.DEVICE", "cpu")
    resume_cmd = _tiny.train_net_cmd(config, "--resume", "--num-gpus", "2", "MODEL.DEVICE", "cpu")

    log1 = open(tmp_path / "run1.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log1, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 600
    try:
        while _tiny.last_checkpoint(out) != "model_0000002.pth":
            assert proc.poll() is None, open(tmp_path / "run1.log").read()[-4000:]
            assert time.time() < deadline, "no checkpoint in 600 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both ranks
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log1.close()
    assert not os.path.exists(os.path.join(out, "model_final.pth"))

    run2 = subprocess.run(resume_cmd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    assert run2.returncode == 0, run2.stdout[-4000:]
    assert "Starting training from iteration 3" in run2.stdout
    final = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu",
                       weights_only=False)
    assert final["iteration"] == 9
    records = [r for r in _tiny.read_metrics(out) if "total_loss" in r]
    iters = [r["iteration"] for r in records]
    assert iters == sorted(set(iters)), "metrics written twice per iteration (two ranks?)"
    # The batches really had no positive RoI (the logged value is a median over iterations).
    assert records[-1]["roi_head/num_fg_samples"] == 0
    assert os.path.exists(os.path.join(out, "log.txt.rank1"))
