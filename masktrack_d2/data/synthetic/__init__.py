"""A small generated data set in the official YouTube-VIS 2019 json format.

Videos of bright shapes (category = shape: circle, square, triangle) moving over a dark,
statically textured background. Every instance keeps its own colour for the whole video,
so an appearance embedding can tell two instances of one category apart. The generator
makes sure the hard cases exist:

* crossings: in every other video two instances of the *same* category cross paths; the
  one drawn later occludes the other, whose mask is its visible part only;
* instances entering or leaving the frame (clipped masks, ``null`` once fully outside);
* occlusion between instances (the crossing pair of the other videos has two categories).

A visible area below :data:`MIN_VISIBLE_AREA` pixels is written as ``null``. The json's
``info`` holds the generator parameters and which videos / instances cross.

``--mode hard`` makes a set closer to real footage, at 640x360: six shapes (circle,
square, triangle, star, cross, ring) under the non-contiguous ids 1, 2, 4, 7, 9, 12; a
random colour and a texture (stripes, checks, spots) per instance, so that only the shape
tells the category; slowly spinning objects; a textured background under a slowly panning
camera; and unannotated distractors (irregular blobs, bars, ellipses), static on the
background or moving, above or below the instances. The same situations are guaranteed.

Usage::

    python -m masktrack_d2.data.synthetic --output datasets/synthetic --num-videos 24
    python -m masktrack_d2.data.synthetic --mode hard     # -> datasets/synthetic_hard

The package's modules: :mod:`.shapes` (shape masks), :mod:`.motion` (tracks),
:mod:`.default_mode` and :mod:`.hard_mode` (each mode's plan and rendering of a video),
:mod:`.visibility` (per-frame visible masks, crossing frames), :mod:`.video` (one video,
re-drawn until its situations occur), :mod:`.annotations` (RLE, boxes, areas),
:mod:`.dataset` (the files on disk and the split) and :mod:`.cli` (the command line).
"""
# The category lists live with the registrations (datasets/builtin.py), so that registering
# the data sets never imports the generator.
from ..datasets.builtin import SYNTHETIC_CATEGORIES, SYNTHETIC_HARD_CATEGORIES
from .cli import main
from .dataset import MODES, generate_synthetic_ytvis
from .default_mode import CATEGORY_HUES
from .hard_mode import HARD_FRAME_SIZE
from .visibility import MIN_VISIBLE_AREA

__all__ = [
    "SYNTHETIC_CATEGORIES",
    "SYNTHETIC_HARD_CATEGORIES",
    "MIN_VISIBLE_AREA",
    "MODES",
    "HARD_FRAME_SIZE",
    "CATEGORY_HUES",
    "generate_synthetic_ytvis",
    "main",
]
