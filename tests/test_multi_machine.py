"""Training on several machines, simulated on one host.

``train_net.py --num-machines 2 --machine-rank 0|1 --num-gpus 1 --dist-url tcp://127.0.0.1:P``
runs as two separate OS processes (two "machines" of one process each, gloo on CPU) for one
iteration; ``train_net.py --num-gpus 2`` (one machine, two processes) runs the same config,
seed, data and initial weights. Both runs have global ranks 0 and 1, so each rank seeds and
samples alike, and after the one step the two model_final.pth files must hold the same
tensors. Only global rank 0 writes, also when both machines share one OUTPUT_DIR.
"""
import os
import signal
import socket
import subprocess
import time

import pytest
import torch

import _tiny

#: One iteration at the full learning rate (no warm-up), so the step visibly moves the weights.
OPTS = ["SOLVER.MAX_ITER", "1", "SOLVER.STEPS", "(5,)", "SOLVER.WARMUP_FACTOR", "1.0",
        "SOLVER.IMS_PER_BATCH", "2", "SOLVER.BASE_LR", "0.02", "SOLVER.CHECKPOINT_PERIOD", "1000",
        "SEED", "7"]
TIMEOUT = 300  # seconds per run: a rank waiting forever for its peer fails the test


def _free_ports(n):
    """``n`` distinct ports free now (the sockets are held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run_all(cmds, env, logs):
    """Start every command in its own process group, wait for all of them (TIMEOUT in all),
    and kill every group still alive if one fails or time runs out."""
    procs, files = [], []
    try:
        for cmd, log in zip(cmds, logs):
            f = open(log, "w")
            files.append(f)
            procs.append(subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        deadline = time.time() + TIMEOUT
        while any(p.poll() is None for p in procs):
            failed = [p for p in procs if p.poll() not in (None, 0)]
            if failed or time.time() > deadline:
                break
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)  # the launcher and the rank it spawned
            p.wait()
        for f in files:
            f.close()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, f"{log} (rc {p.returncode}):\n" + open(log).read()[-4000:]


def _init_weights(path):
    """A fixed starting point: the tiny model built here, saved as a MODEL.WEIGHTS file."""
    from masktrack_d2.engine import MaskTrackTrainer

    cfg = _tiny.tiny_cfg(opts=OPTS + ["MODEL.DEVICE", "cpu"])
    with _tiny.one_thread():
        torch.manual_seed(0)
        model = MaskTrackTrainer.build_model(cfg)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save({"model": state}, path)
    return state


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.slow
def test_two_machines_one_step_equals_one_machine_two_processes(tmp_path):
    _tiny.make_subprocess_data(tmp_path / "datasets")
    env = _tiny.subprocess_env(tmp_path / "datasets")
    env["OMP_WAIT_POLICY"] = "PASSIVE"  # four torch processes on few cores
    init = _init_weights(tmp_path / "init.pth")
    port_machines, port_single = _free_ports(2)
    common = ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", str(tmp_path / "init.pth")]

    # Two machines x one process: two OS processes, one per machine rank, one OUTPUT_DIR.
    machines = tmp_path / "machines"
    config = _tiny.write_config(tmp_path / "machines.yaml", machines, opts=OPTS)
    url = f"tcp://127.0.0.1:{port_machines}"
    _run_all([_tiny.train_net_cmd(config, "--num-machines", "2", "--machine-rank", str(r),
                                  "--num-gpus", "1", "--dist-url", url, *common)
              for r in (0, 1)],
             env, [tmp_path / f"machine{r}.log" for r in (0, 1)])

    # One machine x two processes (an explicit port: the default one is fixed per user).
    single = tmp_path / "single"
    config = _tiny.write_config(tmp_path / "single.yaml", single, opts=OPTS)
    _run_all([_tiny.train_net_cmd(config, "--num-gpus", "2", "--dist-url",
                                  f"tcp://127.0.0.1:{port_single}", *common)],
             env, [tmp_path / "single.log"])

    # Each run had the layout asked for: one machine, or two machines of one process each.
    assert "num_machines=1" in open(tmp_path / "single.log").read()
    for r in (0, 1):
        log = open(tmp_path / f"machine{r}.log").read()
        assert f"machine_rank={r}" in log and "num_machines=2" in log, log[-2000:]

    # Both started from init.pth (so "moved" below compares with the real starting point).
    for out in (machines, single):
        assert f"Loading from {tmp_path / 'init.pth'}" in open(out / "log.txt").read()

    # Only global rank 0 wrote a checkpoint, although both ranks share the OUTPUT_DIR: one
    # .pth file, one "Saving checkpoint" line, in rank 0's log and in neither of rank 1's.
    for out in (machines, single):
        assert sorted(f for f in os.listdir(out) if f.endswith(".pth")) == ["model_final.pth"]
        rank0 = open(out / "log.txt").read()
        rank1 = open(out / "log.txt.rank1").read()
        assert rank0.count("Saving checkpoint to") == 1, rank0[-2000:]
        assert "Saving checkpoint to" not in rank1, rank1[-2000:]
    assert "Saving checkpoint to" not in open(tmp_path / "machine1.log").read()

    a, b = _load(machines / "model_final.pth"), _load(single / "model_final.pth")
    assert a["iteration"] == b["iteration"] == 0
    # Bit-equal, not merely close: with two ranks every all-reduced gradient element is the
    # sum of exactly two addends, and float addition is commutative, so gloo's reduction order
    # (which may differ between the topologies) cannot change a bit; everything else (seeds
    # SEED + global rank, the shared sampler seed, DDP's buckets, one OpenMP thread) is the
    # same in both runs.
    assert a["model"].keys() == b["model"].keys() == init.keys()
    unequal = [k for k in a["model"] if not torch.equal(a["model"][k], b["model"][k])]
    assert not unequal, unequal
    # The optimizer state (SGD momentum: the step's reduced, clipped gradient) agrees too.
    sa = a["trainer"]["_trainer"]["optimizer"]["state"]
    sb = b["trainer"]["_trainer"]["optimizer"]["state"]
    assert sa.keys() == sb.keys() and len(sa) > 0
    for i in sa:
        assert all(torch.equal(sa[i][k], sb[i][k]) for k in sa[i]), i

    # ... and the step really happened: most parameters left the initial weights.
    params = [k for k, v in init.items() if v.is_floating_point() and "running_" not in k]
    moved = [k for k in params if not torch.equal(a["model"][k], init[k])]
    assert len(moved) > 0.9 * len(params), sorted(set(params) - set(moved))
