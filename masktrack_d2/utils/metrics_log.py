"""Reading detectron2's training log, ``OUTPUT_DIR/metrics.json`` (one JSON object per line,
written by ``detectron2.utils.events.JSONWriter``)."""
import json
import os
from typing import Dict, List


def read_metrics(output_dir: str) -> List[Dict]:
    """The records of ``output_dir/metrics.json`` in file order; [] if there is none yet."""
    path = os.path.join(str(output_dir), "metrics.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def training_rows(output_dir: str) -> List[Dict]:
    """The records that carry the training losses (those with ``total_loss``; evaluation
    results are logged as records of their own) of the latest run: detectron2 appends to
    metrics.json, so a run started afresh in a used folder follows the earlier run's records.
    A run starts where the iteration does not grow (a resumed run continues to grow)."""
    rows = [r for r in read_metrics(output_dir) if "total_loss" in r]
    start = 0
    for i in range(1, len(rows)):
        if rows[i]["iteration"] <= rows[i - 1]["iteration"]:
            start = i
    return rows[start:]
