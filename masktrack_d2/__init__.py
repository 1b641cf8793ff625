"""MaskTrack R-CNN video instance segmentation on Detectron2.

Importing the package registers its meta-architecture, heads and data sets in detectron2.
"""
from .config import add_masktrack_config, apply_orig_preset

__version__ = "0.1.0"
