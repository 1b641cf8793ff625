"""The official parameters of the YouTube-VIS metric and the names of its numbers."""
import numpy as np

#: The metric's public output, in the order of the official summary (AR100 left out).
STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "ARs", "ARm", "ARl")
#: Everything :meth:`YTVISEval.summarize` computes (the official 12 numbers).
ALL_STAT_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                 "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# docs/evaluation.md, "Thresholds" and "Area ranges"
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # the 9th is 0.8999999999999999, as officially
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
AREA_RANGES = (
    ("all", 0.0, 1e10),
    ("small", 0.0, 128.0**2),
    ("medium", 128.0**2, 256.0**2),
    ("large", 256.0**2, 1e10),
)
