"""The metric's numbers as a printable table."""
from typing import Mapping, Optional

from .params import ALL_STAT_KEYS


def _fmt(value: float) -> str:
    return "-" if value < 0 else f"{100.0 * value:.2f}"


def format_table(stats: Mapping[str, float],
                 per_category: Optional[Mapping[str, float]] = None) -> str:
    """A printable table of the metric (percent; ``-`` where a setting has no GT).

    Args:
        stats: output of :func:`evaluate_ytvis` or :meth:`YTVISEval.summarize`.
        per_category: optional ``{category name: AP}`` (:meth:`YTVISEval.per_category_ap`).
    """
    keys = [k for k in ALL_STAT_KEYS if k in stats]
    cells = [_fmt(stats[k]) for k in keys]
    widths = [max(len(k), len(c)) for k, c in zip(keys, cells)]
    lines = ["YouTube-VIS segm metric (%; '-' = no ground truth in that setting)",
             "| " + " | ".join(k.center(w) for k, w in zip(keys, widths)) + " |",
             "|" + "|".join(":" + "-" * w + ":" for w in widths) + "|",
             "| " + " | ".join(c.center(w) for c, w in zip(cells, widths)) + " |"]
    if per_category:
        items = [(name, _fmt(ap)) for name, ap in per_category.items()]
        nw = max(len("category"), *(len(n) for n, _ in items))
        cols = 3
        lines += ["", "Per-category AP (%):",
                  "| " + " | ".join(f"{'category':<{nw}} | {'AP':>6}" for _ in range(cols)) + " |",
                  "|" + "|".join(f":{'-' * nw}-|{'-' * 7}:" for _ in range(cols)) + "|"]
        for start in range(0, len(items), cols):
            row = items[start:start + cols]
            row += [("", "")] * (cols - len(row))
            lines.append("| " + " | ".join(f"{n:<{nw}} | {v:>6}" for n, v in row) + " |")
    return "\n".join(lines)
