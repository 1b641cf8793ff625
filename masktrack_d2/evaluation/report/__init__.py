"""The evaluation report: ``index.html`` plus PNG figures that open offline in a browser.

    python -m masktrack_d2.evaluation.report --gt G --results R [--image-root DIR] --out DIR

The numbers come from the metric's own code (:mod:`..ytvis_eval`: AP, the association
metrics, the error analysis) in :mod:`.build`; rendering lives in :mod:`.figures`
(matplotlib charts), :mod:`.strips` (frame strips and thumbnails) and :mod:`.html` (the page).
"""
from .build import FIGURES, build_report, compute_report
from .frames import ReportInputError

__all__ = ["build_report", "compute_report", "FIGURES", "ReportInputError"]
