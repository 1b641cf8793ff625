"""Copying a frame's results to the host without making the model's thread wait.

On a GPU, ``instances.to("cpu")`` blocks the calling thread until every kernel queued before
it has run, and copies the pasted masks into pageable memory. :func:`instances_to_host` starts
the copies into pinned buffers instead and returns at once with a ``wait`` callable; the
thread that reads the copies (the output worker, :mod:`.background`) calls it first. The model
thread goes on queueing the next frames' kernels meanwhile.
"""
from typing import Callable, Tuple

import torch

from detectron2.structures import Boxes, Instances

__all__ = ["instances_to_host"]


def _no_wait() -> None:
    pass


def instances_to_host(instances: Instances) -> Tuple[Instances, Callable[[], None]]:
    """
    Args:
        instances: a frame's results; fields are tensors or :class:`Boxes` (e.g. pred_boxes
            (D, 4), scores (D,), pred_classes (D,), pred_masks (D, H, W) bool,
            pred_track_ids (D,)), all on one device.
    Returns:
        (host instances, wait): the same fields on the CPU, and a callable that blocks until
        they hold the values. On the CPU the instances themselves and a no-op.
    """
    fields = instances.get_fields()
    devices = {(v.tensor if isinstance(v, Boxes) else v).device for v in fields.values()
               if isinstance(v, (Boxes, torch.Tensor))}
    if all(d.type == "cpu" for d in devices):
        return instances, _no_wait

    def copy(t: torch.Tensor) -> torch.Tensor:
        if t.device.type == "cpu":
            return t
        out = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
        out.copy_(t, non_blocking=True)
        return out

    host = Instances(instances.image_size)
    for name, value in fields.items():
        if isinstance(value, Boxes):
            host.set(name, Boxes(copy(value.tensor)))
        elif isinstance(value, torch.Tensor):
            host.set(name, copy(value))
        else:
            host.set(name, value)
    device = next(d for d in devices if d.type != "cpu")
    done = torch.cuda.Event()
    done.record(torch.cuda.current_stream(device))  # after the copies, on their stream
    return host, done.synchronize
