"""MaskTrack R-CNN video instance segmentation on Detectron2.

Importing the package registers its meta-architecture, heads and data sets in detectron2.
The metric (``masktrack_d2.evaluation.ytvis_eval``) also works where detectron2 is absent.
"""
__version__ = "0.1.0"

try:
    import detectron2  # noqa: F401
except ImportError:  # pragma: no cover - metric-only use
    pass
else:
    from . import data, modeling  # noqa: F401  (registrations)
    from .config import add_masktrack_config  # noqa: F401
