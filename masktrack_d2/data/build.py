"""Train and test loaders for video data sets (records from load_ytvis_json)."""
import itertools
import logging
import math
from typing import List

from detectron2.data import (
    DatasetCatalog,
    build_detection_test_loader,
    build_detection_train_loader,
)

from .pair_mapper import FrameDatasetMapper, FramePairDatasetMapper, key_frame_items
from .video_mapper import VideoTestMapper

logger = logging.getLogger(__name__)


def get_video_dicts(names) -> List[dict]:
    """Concatenated video records of the named registered data sets."""
    if isinstance(names, str):
        names = [names]
    videos = list(itertools.chain.from_iterable(DatasetCatalog.get(n) for n in names))
    if not videos:
        raise ValueError(f"data sets {list(names)} hold no videos")
    return videos


# setup_cfg needs the number of key frames (for the epoch schedule) before the trainer exists,
# and the trainer's loader then needs the same videos: the first call keeps them here for the
# second, so a training start-up reads the annotation json once. The key holds the registered
# loader functions themselves, so a re-registered name never gets the old videos.
_KEPT = {}


def _train_key(cfg):
    names = tuple(cfg.DATASETS.TRAIN)
    loaders = tuple(DatasetCatalog[n] if n in DatasetCatalog else None
                    for n in names)
    return names, loaders, bool(cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)


def train_videos_and_items(cfg, keep: bool = False):
    """The training videos and their key-frame items (one epoch = one pass over the items).

    ``keep=True`` holds them for the next call with the same data sets (which takes them),
    instead of loading them again; the trainer's loader is that next call."""
    key = _train_key(cfg)
    if key in _KEPT:
        return _KEPT.pop(key)
    _KEPT.clear()
    videos = get_video_dicts(cfg.DATASETS.TRAIN)
    missing = [v["video_id"] for v in videos if "annotations" not in v]
    if missing:
        raise ValueError(f"training data sets {list(cfg.DATASETS.TRAIN)} have no annotations "
                         f"(e.g. video {missing[0]}); train on a split with ground truth")
    items = key_frame_items(videos, cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
    if not items:
        raise ValueError(f"data sets {list(cfg.DATASETS.TRAIN)} have no frame with a valid instance")
    logger.info(f"{len(videos)} training videos, {len(items)} key frames")
    if keep:
        _KEPT[key] = (videos, items)
    return videos, items


def iters_per_epoch(num_items: int, ims_per_batch: int) -> int:
    return math.ceil(num_items / ims_per_batch)


def build_train_loader(cfg, videos=None, items=None):
    """
    The training loader of the config's model: frame pairs for a model with a track head,
    single annotated frames for the detector stage (``MODEL.TRACK_ON False``). Either way
    one epoch is one pass over the key-frame items.
    """
    mapper_cls = FramePairDatasetMapper if cfg.MODEL.TRACK_ON else FrameDatasetMapper
    if videos is None:
        videos, items = train_videos_and_items(cfg)
    return build_detection_train_loader(
        items, mapper=mapper_cls(cfg, videos, is_train=True),
        total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
        aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
        num_workers=cfg.DATALOADER.NUM_WORKERS)


def build_frame_pair_train_loader(cfg, videos=None, items=None):
    """The frame-pair loader (a tracking config's :func:`build_train_loader`)."""
    if not cfg.MODEL.TRACK_ON:
        raise ValueError("build_frame_pair_train_loader: the config's model has no track head "
                         "(MODEL.TRACK_ON False); its loader is build_train_loader's")
    return build_train_loader(cfg, videos, items)


def build_video_test_loader(cfg, dataset_name: str):
    """One item per video; frames are read lazily in the consuming process."""
    videos = get_video_dicts(dataset_name)
    return build_detection_test_loader(videos, mapper=VideoTestMapper(cfg), num_workers=0)
