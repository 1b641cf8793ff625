"""Loading a trained checkpoint for inference, where it must fit the model exactly."""
import os
from typing import List

import torch

from detectron2.checkpoint import DetectionCheckpointer

# Keys a checkpoint may miss without harm: BatchNorm's counter is unused in eval mode.
_IGNORED_MISSING = ("num_batches_tracked",)


class CheckpointError(RuntimeError):
    """The checkpoint is missing, unreadable, or does not fit the model of the config."""


class _CheckingCheckpointer(DetectionCheckpointer):
    """Keeps the incompatible keys of the last load, instead of only logging them."""

    incompatible = None

    def _load_model(self, checkpoint):
        self.incompatible = super()._load_model(checkpoint)
        return self.incompatible

    def _log_incompatible_keys(self, incompatible) -> None:
        pass  # reported by load_checkpoint_strict as an error


def _first(keys: List[str], n: int = 5) -> str:
    more = f", ... ({len(keys)} in all)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_checkpoint_strict(model: torch.nn.Module, path: str) -> None:
    """
    Load ``path`` into ``model`` with detectron2's :class:`DetectionCheckpointer` and require
    that it fits: every model parameter / buffer loaded, none skipped for a shape mismatch,
    no checkpoint weight without a place in the model. (The checkpointer itself only warns and
    keeps the random init: a demo would draw noise, an evaluation score a partly random
    model.) Used by demo.py and by train_net.py --eval-only; training from a COCO checkpoint
    uses the checkpointer as it is, since class layers are meant to be dropped there.

    Raises:
        CheckpointError naming the file and the first offending keys.
    """
    if not path:
        raise CheckpointError("no checkpoint given: set MODEL.WEIGHTS to a trained model, "
                              "e.g. output/model_final.pth")
    if "://" not in path and not os.path.isfile(path):
        raise CheckpointError(f"checkpoint file not found: {path}")
    checkpointer = _CheckingCheckpointer(model, save_to_disk=False)
    try:
        checkpointer.load(path, checkpointables=[])
    except Exception as e:
        # torch.load's messages run over many lines; the first says what failed.
        first = next((line for line in str(e).splitlines() if line.strip()), "")
        raise CheckpointError(
            f"cannot load checkpoint {path}: {type(e).__name__}: {first}") from None
    inc = checkpointer.incompatible
    if inc is None:  # pragma: no cover - fvcore always reports
        return
    problems = []
    if inc.incorrect_shapes:
        problems.append("shapes differ (key: checkpoint vs model) for " + _first(
            [f"{k}: {tuple(a)} vs {tuple(b)}" for k, a, b in inc.incorrect_shapes]))
    # fvcore drops a mis-shaped weight before loading, so it is also "missing": say it once.
    reshaped = {k for k, _, _ in inc.incorrect_shapes}
    missing = [k for k in inc.missing_keys
               if k not in reshaped and not k.endswith(_IGNORED_MISSING)]
    if missing:
        problems.append("missing from the checkpoint: " + _first(missing))
    if inc.unexpected_keys:
        problems.append("not in the model: " + _first(list(inc.unexpected_keys)))
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not fit the model of the config (another NUM_CLASSES, "
            f"backbone or head size?): " + "; ".join(problems))
