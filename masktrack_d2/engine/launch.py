"""Multi-process launch that also works without CUDA.

detectron2 v0.6's ``launch`` asserts CUDA in every worker and uses NCCL, so
``train_net.py --num-gpus 2 MODEL.DEVICE cpu`` could not start on a CPU-only machine (newer
detectron2 falls back to gloo). :func:`launch` hands CUDA machines (and single-process runs)
to detectron2's ``launch`` unchanged, and otherwise starts the processes itself with the gloo
backend: same arguments, same rank layout, same local process group.
"""
import logging
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from detectron2.engine import launch as d2_launch
from detectron2.utils import comm

__all__ = ["launch"]

logger = logging.getLogger(__name__)
DEFAULT_TIMEOUT = timedelta(minutes=30)


def _find_free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def launch(main_func, num_gpus_per_machine, num_machines=1, machine_rank=0, dist_url=None,
           args=(), timeout=DEFAULT_TIMEOUT):
    """detectron2's ``launch`` (same arguments); without CUDA, ``num_gpus_per_machine``
    CPU processes joined with the gloo backend."""
    world_size = num_machines * num_gpus_per_machine
    if world_size <= 1 or torch.cuda.is_available():
        return d2_launch(main_func, num_gpus_per_machine, num_machines=num_machines,
                         machine_rank=machine_rank, dist_url=dist_url, args=args,
                         timeout=timeout)
    if dist_url == "auto":
        if num_machines != 1:
            raise ValueError("dist_url=auto is only supported on one machine")
        dist_url = f"tcp://127.0.0.1:{_find_free_port()}"
    logger.info(f"no CUDA: starting {num_gpus_per_machine} CPU processes (gloo)")
    mp.start_processes(
        _cpu_worker, nprocs=num_gpus_per_machine, daemon=False, start_method="spawn",
        args=(main_func, world_size, num_gpus_per_machine, machine_rank, dist_url, args,
              timeout))


def _cpu_worker(local_rank, main_func, world_size, per_machine, machine_rank, dist_url, args,
                timeout):
    rank = machine_rank * per_machine + local_rank
    dist.init_process_group(backend="gloo", init_method=dist_url, world_size=world_size,
                            rank=rank, timeout=timeout)
    # detectron2's comm.get_local_rank() / get_local_size() read the local process group.
    if hasattr(comm, "create_local_process_group"):  # newer detectron2
        comm.create_local_process_group(per_machine)
    else:  # v0.6 sets the module attribute in its own worker; do as it does
        for i in range(world_size // per_machine):
            group = dist.new_group(list(range(i * per_machine, (i + 1) * per_machine)))
            if i == machine_rank:
                comm._LOCAL_PROCESS_GROUP = group
    comm.synchronize()
    try:
        main_func(*args)
    finally:
        dist.destroy_process_group()
