"""Importing MaskTrack R-CNN checkpoints of mmtracking 0.x / mmdetection 3.x.

Both code bases save the model as ``{"meta": ..., "state_dict": {...}}`` with the detector
under ``detector.`` and the tracking head under ``track_head.embed_head.``. This module reads
such a file, recognises the backbone (ResNet-50/101/152 or ResNeXt, from the tensors alone),
renames every tensor to masktrack_d2's names and reports what it did not map. The key
mapping and the settings the imported weights need are in docs/mmdet_checkpoints.md.
"""
import dataclasses
import os
import pickle
import re
from typing import Dict, List, Tuple

import torch

__all__ = [
    "MMDetCheckpointError", "MMDetArchitecture", "ConversionReport",
    "read_mmdet_state_dict", "describe_architecture", "convert_mmdet_state_dict",
]


class MMDetCheckpointError(ValueError):
    """The file is not a readable MaskTrack R-CNN checkpoint of mmtracking / mmdetection, or a
    tensor in it has no place in masktrack_d2's model. The message names the file and key."""


# (pattern on the mmdetection name without "detector.", masktrack_d2 name template)
_RULES: List[Tuple[str, str]] = [
    (r"backbone\.conv1\.weight", r"backbone.bottom_up.stem.conv1.weight"),
    (r"backbone\.bn1\.(\w+)", r"backbone.bottom_up.stem.conv1.norm.\1"),
    (r"backbone\.layer(\d)\.(\d+)\.conv(\d)\.weight", "backbone.bottom_up.res{stage}.\\2.conv\\3.weight"),
    (r"backbone\.layer(\d)\.(\d+)\.bn(\d)\.(\w+)", "backbone.bottom_up.res{stage}.\\2.conv\\3.norm.\\4"),
    (r"backbone\.layer(\d)\.(\d+)\.downsample\.0\.weight", "backbone.bottom_up.res{stage}.\\2.shortcut.weight"),
    (r"backbone\.layer(\d)\.(\d+)\.downsample\.1\.(\w+)", "backbone.bottom_up.res{stage}.\\2.shortcut.norm.\\3"),
    (r"neck\.lateral_convs\.(\d)\.conv\.(\w+)", "backbone.fpn_lateral{level}.\\2"),
    (r"neck\.fpn_convs\.(\d)\.conv\.(\w+)", "backbone.fpn_output{level}.\\2"),
    (r"rpn_head\.rpn_conv\.(\w+)", r"proposal_generator.rpn_head.conv.\1"),
    (r"rpn_head\.rpn_cls\.(\w+)", r"proposal_generator.rpn_head.objectness_logits.\1"),
    (r"rpn_head\.rpn_reg\.(\w+)", r"proposal_generator.rpn_head.anchor_deltas.\1"),
    # GroupNorm heads (mmdetection's norm_cfg=GN): shared convs before the FCs, a norm per conv
    (r"roi_head\.bbox_head\.shared_convs\.(\d)\.conv\.(\w+)", "roi_heads.box_head.conv{fc}.\\2"),
    (r"roi_head\.bbox_head\.shared_convs\.(\d)\.gn\.(\w+)", "roi_heads.box_head.conv{fc}.norm.\\2"),
    (r"roi_head\.bbox_head\.shared_fcs\.(\d)\.(\w+)", "roi_heads.box_head.fc{fc}.\\2"),
    (r"roi_head\.bbox_head\.fc_cls\.(\w+)", r"roi_heads.box_predictor.cls_score.\1"),
    (r"roi_head\.bbox_head\.fc_reg\.(\w+)", r"roi_heads.box_predictor.bbox_pred.\1"),
    (r"roi_head\.mask_head\.convs\.(\d)\.conv\.(\w+)", "roi_heads.mask_head.mask_fcn{fc}.\\2"),
    (r"roi_head\.mask_head\.convs\.(\d)\.gn\.(\w+)", "roi_heads.mask_head.mask_fcn{fc}.norm.\\2"),
    (r"roi_head\.mask_head\.upsample\.(\w+)", r"roi_heads.mask_head.deconv.\1"),
    (r"roi_head\.mask_head\.conv_logits\.(\w+)", r"roi_heads.mask_head.predictor.\1"),
]
# "norms": the LayerNorms of a normalised embedding head (MODEL.TRACK_HEAD.NORM "LN"), which
# mmdetection's RoIEmbedHead has not; a subclass that adds them under this name maps too.
_TRACK_RULE = (r"track_head\.embed_head\.(fcs|norms)\.(\d)\.(\w+)",
               r"roi_heads.track_head.\1.\2.\3")
_COMPILED = [(re.compile(p + r"$"), t) for p, t in _RULES]
_TRACK = re.compile(_TRACK_RULE[0] + r"$")

# mmdetection's ResNet stage sizes -> depth (bottleneck blocks).
_DEPTHS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}


@dataclasses.dataclass
class MMDetArchitecture:
    """What the tensors say about the model: enough to pick or check a config."""

    depth: int
    num_groups: int
    width_per_group: int
    stem_channels: int
    res2_channels: int
    fpn_channels: int
    num_classes: int
    box_fc_dim: int
    mask_conv_dim: int
    track_fc_dim: int

    @property
    def name(self) -> str:
        if self.num_groups == 1:
            return f"R-{self.depth}"
        return f"X-{self.depth}-{self.num_groups}x{self.width_per_group}d"

    def config_overrides(self) -> List[str]:
        """``KEY VALUE`` pairs that make a masktrack_d2 config this architecture."""
        pairs = {
            "MODEL.RESNETS.DEPTH": self.depth,
            "MODEL.RESNETS.NUM_GROUPS": self.num_groups,
            "MODEL.RESNETS.WIDTH_PER_GROUP": self.width_per_group,
            "MODEL.RESNETS.STEM_OUT_CHANNELS": self.stem_channels,
            "MODEL.RESNETS.RES2_OUT_CHANNELS": self.res2_channels,
            "MODEL.FPN.OUT_CHANNELS": self.fpn_channels,
            "MODEL.ROI_HEADS.NUM_CLASSES": self.num_classes,
            "MODEL.ROI_BOX_HEAD.FC_DIM": self.box_fc_dim,
            "MODEL.ROI_MASK_HEAD.CONV_DIM": self.mask_conv_dim,
            "MODEL.TRACK_HEAD.FC_DIM": self.track_fc_dim,
        }
        return [str(x) for kv in pairs.items() for x in kv]


@dataclasses.dataclass
class ConversionReport:
    """Keys of the source that were mapped, ignored (unused counters) or left over."""

    mapped: int = 0
    ignored: List[str] = dataclasses.field(default_factory=list)
    leftover: List[str] = dataclasses.field(default_factory=list)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _refusal(message: str) -> str:
    """What a weights-only load refused, from torch's message: the object it names, or the
    unpickler's own words where it names none."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    if found:
        return (f"refused the object '{found.group(1)}' (the file holds Python objects beyond "
                "tensors and plain containers)")
    tail = message.split("WeightsUnpickler error:", 1)[-1]
    detail = next((ln.strip() for ln in tail.splitlines() if ln.strip()), "")
    return (f"could not read it ({detail}): the file is damaged or not a PyTorch checkpoint, "
            "or it holds pickled Python objects")


def read_mmdet_state_dict(path: str, *, allow_pickle: bool = False) -> Dict[str, torch.Tensor]:
    """
    Read the ``state_dict`` of an mmtracking / mmdetection checkpoint file.

    Args:
        path: a ``.pth`` file as those code bases save it (``{"meta", "state_dict", ...}``) or a
            bare state dict.
        allow_pickle: load with ``weights_only=False``. Only for trusted files whose
            metadata holds objects beyond tensors and plain containers.
    Returns:
        name -> tensor, names as in the file.
    Raises:
        MMDetCheckpointError naming the file.
    """
    if not os.path.isfile(path):
        raise MMDetCheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except Exception as e:
        text = _ANSI.sub("", str(e))
        if not allow_pickle and isinstance(e, pickle.UnpicklingError):
            raise MMDetCheckpointError(
                f"{path}: the safe (weights-only) load {_refusal(text)}. "
                "--allow-pickle loads the file with full unpickling, which runs whatever code "
                "the file names: use it only for a checkpoint from a source you trust, such as "
                "the official mmtracking / mmdetection downloads") from None
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        raise MMDetCheckpointError(
            f"{path}: not a readable PyTorch checkpoint (truncated or another format?): "
            f"{type(e).__name__}: {first}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise MMDetCheckpointError(f"{path}: no 'state_dict' in the checkpoint")
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise MMDetCheckpointError(
                f"{path}: key '{key}' of the state_dict is a {type(value).__name__}, "
                "not a tensor")
    return obj


def _strip_detector(path: str, sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    if not any(k.startswith("detector.") for k in sd):
        raise MMDetCheckpointError(
            f"{path}: no 'detector.*' keys (first key '{next(iter(sd))}'): not an mmtracking / "
            "mmdetection 3.x MaskTrack R-CNN checkpoint")
    if not any(_TRACK.match(k) for k in sd):
        raise MMDetCheckpointError(
            f"{path}: no 'track_head.embed_head.fcs.*' keys: a detector without a tracking "
            "head (a plain Mask R-CNN?), not a MaskTrack R-CNN checkpoint")
    return sd


def describe_architecture(sd: Dict[str, torch.Tensor], path: str = "<state_dict>"
                          ) -> MMDetArchitecture:
    """Backbone depth and groups, number of classes and FPN width, read from tensor shapes."""
    def get(key):
        full = "detector." + key
        if full not in sd:
            raise MMDetCheckpointError(f"{path}: key '{full}' is missing")
        return sd[full]

    blocks = []
    for stage in range(1, 5):
        ids = {int(m.group(1)) for k in sd
               for m in [re.match(rf"detector\.backbone\.layer{stage}\.(\d+)\.", k)] if m}
        blocks.append(len(ids))
    if "detector.backbone.layer1.0.conv3.weight" not in sd or tuple(blocks) not in _DEPTHS:
        raise MMDetCheckpointError(
            f"{path}: backbone stages with {tuple(blocks)} blocks: not a bottleneck ResNet / "
            f"ResNeXt of depth {sorted(_DEPTHS.values())}")
    conv2 = get("backbone.layer1.0.conv2.weight")  # (width, width / groups, 3, 3)
    width = conv2.shape[0]
    groups = width // conv2.shape[1]
    track_fc = sd.get("track_head.embed_head.fcs.0.weight")
    if track_fc is None:
        raise MMDetCheckpointError(f"{path}: key 'track_head.embed_head.fcs.0.weight' is missing")
    return MMDetArchitecture(
        depth=_DEPTHS[tuple(blocks)], num_groups=groups, width_per_group=width // groups,
        stem_channels=get("backbone.conv1.weight").shape[0],
        res2_channels=get("backbone.layer1.0.conv3.weight").shape[0],
        fpn_channels=get("neck.lateral_convs.0.conv.weight").shape[0],
        num_classes=get("roi_head.bbox_head.fc_cls.weight").shape[0] - 1,
        box_fc_dim=get("roi_head.bbox_head.shared_fcs.0.weight").shape[0],
        mask_conv_dim=get("roi_head.mask_head.convs.0.conv.weight").shape[0],
        track_fc_dim=track_fc.shape[0])


def _rename(key: str) -> str:
    """masktrack_d2 name of a ``detector.``-stripped mmdetection key, or '' if none."""
    for pattern, template in _COMPILED:
        m = pattern.match(key)
        if m is None:
            continue
        groups = m.groups()
        fields = {}
        if key.startswith("backbone.layer"):
            fields["stage"] = int(groups[0]) + 1  # layer1 = res2
        elif key.startswith("neck."):
            fields["level"] = int(groups[0]) + 2  # lateral_convs.0 = P2
        elif "shared_fcs" in key or "shared_convs" in key or "mask_head.convs" in key:
            fields["fc"] = int(groups[0]) + 1
        return m.expand(template.format(**fields))
    return ""


def convert_mmdet_state_dict(sd: Dict[str, torch.Tensor], path: str = "<state_dict>"
                             ) -> Tuple[Dict[str, torch.Tensor], ConversionReport]:
    """
    Rename an mmtracking / mmdetection 3.x MaskTrack R-CNN state dict to masktrack_d2's names.

    Class order needs no change: both put the 40 (or K) classes first and background last.
    BatchNorm's ``num_batches_tracked`` counters are dropped (frozen BN has none).

    Returns:
        (converted name -> tensor, report). ``report.leftover`` lists source keys no rule
        maps; the caller decides whether that is an error (the converter CLI says it is).
    Raises:
        MMDetCheckpointError when the file is not a MaskTrack R-CNN of these code bases.
    """
    _strip_detector(path, sd)
    out: Dict[str, torch.Tensor] = {}
    report = ConversionReport()
    for key, value in sd.items():
        if key.endswith("num_batches_tracked"):
            report.ignored.append(key)
            continue
        m = _TRACK.match(key)
        if m is not None:
            new = m.expand(_TRACK_RULE[1])
        elif key.startswith("detector."):
            new = _rename(key[len("detector."):])
        else:
            new = ""
        if not new:
            report.leftover.append(key)
            continue
        out[new] = value
        report.mapped += 1
    return out, report


def check_fits(converted: Dict[str, torch.Tensor], expected: Dict[str, torch.Size],
               path: str = "<state_dict>") -> None:
    """
    Require that ``converted`` has exactly the tensors ``expected`` (name -> shape, e.g. from
    a masktrack_d2 model's ``state_dict()``), with the same shapes.

    Raises:
        MMDetCheckpointError naming the file and the first offending keys.
    """
    def first(keys, n=4):
        return ", ".join(keys[:n]) + (f", ... ({len(keys)} in all)" if len(keys) > n else "")

    problems = []
    shapes = [f"{k}: {tuple(v.shape)} in the file vs {tuple(expected[k])} in the model"
              for k, v in converted.items() if k in expected and v.shape != expected[k]]
    if shapes:
        problems.append("shapes differ for " + first(shapes))
    missing = [k for k in expected if k not in converted]
    if missing:
        problems.append("missing from the file: " + first(missing))
    extra = [k for k in converted if k not in expected]
    if extra:
        problems.append("no place in the model for: " + first(extra))
    if problems:
        raise MMDetCheckpointError(f"{path} does not fit the model: " + "; ".join(problems))
