"""Loading checkpoints: for inference, where a checkpoint must fit the model exactly, and for
training from another stage's (or a detectron2 COCO) checkpoint, where the log says which
parts of the model start fresh."""
import logging
import os
from typing import Dict, List

import torch

from detectron2.checkpoint import DetectionCheckpointer

logger = logging.getLogger(__name__)

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


def newly_initialised(model: torch.nn.Module, keys) -> Dict[str, int]:
    """
    Name the parts of ``model`` whose state the given ``keys`` (state-dict keys a checkpoint
    did not provide) cover: each module all of whose tensors are among them, the outermost
    such module only, with its number of tensors; a key left over names itself (count 1).
    BatchNorm's ``num_batches_tracked`` is not counted.
    """
    keys = {k for k in keys if not k.endswith(_IGNORED_MISSING)}
    out: Dict[str, int] = {}
    for name, module in model.named_modules():
        if not name or any(name.startswith(p + ".") for p in out):
            continue
        own = [f"{name}.{k}" for k in module.state_dict()
               if not k.endswith(_IGNORED_MISSING)]
        if own and all(k in keys for k in own):
            out[name] = len(own)
    for k in sorted(keys):
        if not any(k.startswith(p + ".") for p in out):
            out[k] = 1
    return out


class TrainingCheckpointer(DetectionCheckpointer):
    """
    The trainer's checkpointer: detectron2's, whose log of a MODEL.WEIGHTS load also says in
    one line which modules the checkpoint did not initialise (missing, or skipped for another
    shape), e.g. ``roi_heads.track_head`` when a tracking model starts from a detector-stage
    or detectron2 COCO checkpoint.
    """

    def _log_incompatible_keys(self, incompatible) -> None:
        super()._log_incompatible_keys(incompatible)
        fresh = newly_initialised(self.model, list(incompatible.missing_keys) +
                                  [k for k, _, _ in incompatible.incorrect_shapes])
        if fresh:
            logger.info("newly initialised, not loaded from the checkpoint: " + ", ".join(
                f"{name} ({n} tensor{'s' if n > 1 else ''})" for name, n in fresh.items()))
        else:
            logger.info("every model tensor was loaded from the checkpoint")
