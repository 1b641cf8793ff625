from . import datasets  # noqa: F401  (registers the built-in data sets)
from .build import build_frame_pair_train_loader, build_train_loader, build_video_test_loader  # noqa: F401
from .pair_mapper import FrameDatasetMapper, FramePairDatasetMapper  # noqa: F401
from .video_mapper import VideoTestMapper  # noqa: F401
