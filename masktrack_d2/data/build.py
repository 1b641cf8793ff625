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

from .pair_mapper import FramePairDatasetMapper, key_frame_items
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


def train_videos_and_items(cfg):
    """The training videos and their key-frame items (one epoch = one pass over the items)."""
    videos = get_video_dicts(cfg.DATASETS.TRAIN)
    missing = [v["video_id"] for v in videos if "annotations" not in v]
    if missing:
        raise ValueError(f"training data sets {list(cfg.DATASETS.TRAIN)} have no annotations "
                         f"(e.g. video {missing[0]}); train on a split with ground truth")
    items = key_frame_items(videos, cfg.DATALOADER.FILTER_EMPTY_ANNOTATIONS)
    if not items:
        raise ValueError(f"data sets {list(cfg.DATASETS.TRAIN)} have no frame with a valid instance")
    logger.info(f"{len(videos)} training videos, {len(items)} key frames")
    return videos, items


def iters_per_epoch(num_items: int, ims_per_batch: int) -> int:
    return math.ceil(num_items / ims_per_batch)


def build_frame_pair_train_loader(cfg, videos=None, items=None):
    if videos is None:
        videos, items = train_videos_and_items(cfg)
    mapper = FramePairDatasetMapper(cfg, videos, is_train=True)
    return build_detection_train_loader(
        items, mapper=mapper, total_batch_size=cfg.SOLVER.IMS_PER_BATCH,
        aspect_ratio_grouping=cfg.DATALOADER.ASPECT_RATIO_GROUPING,
        num_workers=cfg.DATALOADER.NUM_WORKERS)


def build_video_test_loader(cfg, dataset_name: str):
    """One item per video; frames are read lazily in the consuming process."""
    videos = get_video_dicts(dataset_name)
    return build_detection_test_loader(videos, mapper=VideoTestMapper(cfg), num_workers=0)
