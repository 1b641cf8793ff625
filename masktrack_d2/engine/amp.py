"""Mixed-precision training: float16 with a gradient scaler, or bfloat16 without one."""
import time

import torch
from torch.nn.parallel import DataParallel, DistributedDataParallel

from detectron2.engine import SimpleTrainer
from detectron2.utils.events import get_event_storage

__all__ = ["AMP_PRECISIONS", "MixedPrecisionTrainer", "amp_dtype"]

#: ``SOLVER.AMP.PRECISION`` values and the autocast dtype each selects.
AMP_PRECISIONS = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def amp_dtype(name: str) -> torch.dtype:
    """The autocast dtype of a ``SOLVER.AMP.PRECISION`` value."""
    if name not in AMP_PRECISIONS:
        raise ValueError(f"SOLVER.AMP.PRECISION must be one of {sorted(AMP_PRECISIONS)}, "
                         f"got {name!r}")
    return AMP_PRECISIONS[name]


class MixedPrecisionTrainer(SimpleTrainer):
    """
    detectron2's ``AMPTrainer`` step, with the precision as a choice and on any device that
    ``torch.autocast`` supports (CUDA, and the CPU, where the tests run it):

    * ``float16``: the forward under autocast, the loss scaled by a ``GradScaler`` whose
      initial scale is ``init_scale``. A step whose gradients overflow is skipped and the
      scale halved; the number of skipped steps is logged (``amp/skipped_steps``, with
      ``amp/loss_scale``), so a run that skips many updates is visible in its metrics.
    * ``bfloat16``: the forward under autocast, no scaler: bfloat16 has float32's exponent
      range, so gradients neither overflow nor underflow where float32's would not
      (Ampere and later GPUs).

    The loss terms are summed in float32, outside autocast.
    """

    def __init__(self, model, data_loader, optimizer, precision: torch.dtype = torch.float16,
                 init_scale: float = 2.0 ** 16):
        unsupported = "MixedPrecisionTrainer does not support single-process multi-device training"
        if isinstance(model, DistributedDataParallel):
            assert not (model.device_ids and len(model.device_ids) > 1), unsupported
        assert not isinstance(model, DataParallel), unsupported
        super().__init__(model, data_loader, optimizer)
        if precision not in AMP_PRECISIONS.values():
            raise ValueError(f"precision must be one of {list(AMP_PRECISIONS.values())}, "
                             f"got {precision}")
        self.precision = precision
        self.device_type = next(model.parameters()).device.type
        self.grad_scaler = (torch.amp.GradScaler(self.device_type, init_scale=init_scale)
                            if precision == torch.float16 else None)
        self.skipped_steps = 0
        self._scale = init_scale

    def run_step(self):
        assert self.model.training, "[MixedPrecisionTrainer] model was changed to eval mode!"
        start = time.perf_counter()
        data = next(self._data_loader_iter)
        data_time = time.perf_counter() - start

        with torch.autocast(self.device_type, dtype=self.precision):
            loss_dict = self.model(data)
        if isinstance(loss_dict, torch.Tensor):
            loss_dict = {"total_loss": loss_dict}
        losses = sum(v.float() for v in loss_dict.values())

        self.optimizer.zero_grad()
        if self.grad_scaler is None:
            losses.backward()
            self._write_metrics(loss_dict, data_time)
            self.optimizer.step()
            return
        self.grad_scaler.scale(losses).backward()
        self._write_metrics(loss_dict, data_time)
        # step() unscales the gradients first, so gradient clipping inside the optimizer's
        # step sees true gradients.
        self.grad_scaler.step(self.optimizer)
        self.grad_scaler.update()
        scale = self.grad_scaler.get_scale()
        if scale < self._scale:  # the scaler backs off only after an overflow: step skipped
            self.skipped_steps += 1
        self._scale = scale
        storage = get_event_storage()
        storage.put_scalar("amp/loss_scale", scale, smoothing_hint=False)
        storage.put_scalar("amp/skipped_steps", self.skipped_steps, smoothing_hint=False)

    def state_dict(self):
        ret = super().state_dict()
        if self.grad_scaler is not None:
            ret["grad_scaler"] = self.grad_scaler.state_dict()
            ret["amp_skipped_steps"] = self.skipped_steps
        return ret

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if self.grad_scaler is not None and "grad_scaler" in state_dict:
            self.grad_scaler.load_state_dict(state_dict["grad_scaler"])
            self._scale = self.grad_scaler.get_scale()
            self.skipped_steps = state_dict.get("amp_skipped_steps", 0)
