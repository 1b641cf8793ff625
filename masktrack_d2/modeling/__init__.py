from .backbone import build_basic_resnet_backbone, build_basic_resnet_fpn_backbone  # noqa: F401
from .meta_arch import MaskTrackRCNN  # noqa: F401
from .proposals import MaskTrackRPN, top_proposals  # noqa: F401
from .roi_heads import MaskTrackROIHeads  # noqa: F401
from .track_head import TRACK_HEAD_REGISTRY, RoIEmbedHead, build_track_head  # noqa: F401
from .matching import match_logits  # noqa: F401
from .tracker import MaskTrackTracker  # noqa: F401
from .track_results import VideoTrackResults  # noqa: F401
