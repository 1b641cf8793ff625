"""The report's charts: one function per figure, ``(part of the report dict, png path) -> None``.

Each figure is a :class:`matplotlib.figure.Figure` drawn on its own Agg canvas: no pyplot, so
no global figure registry and no backend switch (a caller with an interactive pyplot session
keeps it), and figures can be drawn from several threads at once. PNGs are written
atomically. Fractions in the report are plotted in percent; error dAPs are already in AP
points.

A figure whose data is empty (no category with ground truth, ...) is still written, with a
note saying so, so that a caller can always link it.
"""
import math
from typing import Dict, List, Optional, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from masktrack_d2.utils.file_io import atomic_write

from ..ytvis_eval.error_analysis import ERROR_NAMES, SPECIAL_NAMES, SPECIAL_TYPES
from ..ytvis_eval.error_analysis import ERROR_TYPES as _ERROR_KEYS
from .strips import StripFrame, draw_thumbnail

__all__ = ["category_ap_bars", "pr_curves", "category_hota_bars", "hota_alpha",
           "error_breakdown", "length_ap", "video_thumbnail", "METRIC_COLORS",
           "ERROR_TYPES", "SPECIAL_ERRORS"]

DPI = 110
# One colour per metric, shared by every figure (HOTA is the same green everywhere).
METRIC_COLORS = {
    "AP": "#1f4e79", "AP50": "#4a90c2", "AP75": "#a6cbe8",
    "HOTA": "#2e7d32", "DetA": "#ef8a17", "AssA": "#7b5ea7", "LocA": "#8c8c8c",
}
# TIVE's main error types, in its order, with their long names.
ERROR_TYPES = [(t, ERROR_NAMES[t]) for t in _ERROR_KEYS]
SPECIAL_ERRORS = [(t, SPECIAL_NAMES[t]) for t in SPECIAL_TYPES]
_ERROR_COLORS = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2"]
_NO_GT_COLOR = "#777777"


def _valid(x) -> bool:
    """A defined value: not None, not NaN, not the -1 that marks "no ground truth"."""
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x >= 0


def _text(s, limit: int = 32) -> str:
    """A user string as a matplotlib label: shortened, with ``$`` kept out of mathtext."""
    s = str(s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("$", r"\$")


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str) -> None:
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=DPI, facecolor="white")


def _style(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=9)


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555555",
            fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _empty(path: str, title: str, text: str) -> None:
    fig = _new_figure(6.0, 2.0)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11)
    _note(ax, text)
    _save(fig, path)


def _category_bars(per_category: Sequence[dict], keys: Sequence[str], has_gt, path: str,
                   title: str) -> None:
    """
    Grouped horizontal bars of ``keys`` (fractions) per category, best category on top,
    categories without ground truth (``has_gt(c)`` False) at the bottom marked "no GT".
    """
    rows = list(per_category)
    measured = sorted((c for c in rows if has_gt(c)), key=lambda c: c.get(keys[0]) or 0.0)
    missing = [c for c in rows if not has_gt(c)]
    if not measured:
        _empty(path, title, "no category has ground truth")
        return
    ordered = missing + measured  # bottom to top
    n, k = len(ordered), len(keys)
    fig = _new_figure(8.0, max(2.6, 1.3 + 0.42 * n * (k / 3) ** 0.5))
    ax = fig.add_subplot()
    height = 0.8 / k
    for j, key in enumerate(keys):
        # The first key on top within a group.
        ys = [i + (k - 1 - j - (k - 1) / 2) * height for i in range(n)]
        values = [100.0 * c[key] if has_gt(c) and _valid(c.get(key)) else 0.0 for c in ordered]
        ax.barh(ys, values, height=height, color=METRIC_COLORS[key], label=key)
        if j == 0:
            for y, v, c in zip(ys, values, ordered):
                if has_gt(c):
                    ax.text(v + 0.8, y, f"{v:.1f}", va="center", fontsize=8)
    for i, c in enumerate(missing):
        ax.text(1.0, i, "no GT", va="center", fontsize=9, color=_NO_GT_COLOR, style="italic")
    ax.set_yticks(range(n))
    ax.set_yticklabels([_text(c.get("name", c.get("id"))) for c in ordered])
    for label, c in zip(ax.get_yticklabels(), ordered):
        if not has_gt(c):
            label.set_color(_NO_GT_COLOR)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlim(0, 100)
    ax.set_xlabel("percent")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.legend(loc="lower right", fontsize=9, frameon=True)
    ax.set_title(title, fontsize=11)
    _style(ax)
    _save(fig, path)


def category_ap_bars(per_category: Sequence[dict], path: str) -> None:
    """AP, AP50 and AP75 per category (``report["per_category"]``), sorted by AP."""
    _category_bars(per_category, ["AP", "AP50", "AP75"], lambda c: _valid(c.get("AP")), path,
                   "Mask AP per category")


def category_hota_bars(per_category: Sequence[dict], path: str) -> None:
    """HOTA, DetA and AssA per category (``report["per_category"]``), sorted by HOTA."""
    def has_gt(c):
        return c.get("n_gt") != 0 and _valid(c.get("HOTA"))

    _category_bars(per_category, ["HOTA", "DetA", "AssA"], has_gt, path, "HOTA per category")


def _curve(values: Sequence[float]) -> List[float]:
    """Precision values with the undefined (-1, None) ones as NaN: gaps in the line."""
    return [v if _valid(v) else math.nan for v in values]


def _iou_curves(curves: Dict[str, dict], iou: float) -> Optional[dict]:
    for key, value in curves.items():
        try:
            if abs(float(key) - iou) < 1e-6:
                return value
        except ValueError:
            continue
    return None


def pr_curves(pr: dict, path: str) -> None:
    """
    Precision against recall at IoU 0.5 and 0.75 (``report["pr"]``): one thin line per
    category, the mean over categories thick; the mean curve's area is the AP at that IoU.
    """
    recall = list(pr.get("recall") or [])
    curves = pr.get("curves") or {}
    fig = _new_figure(10.0, 4.3)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, iou, name in zip(axes, (0.5, 0.75), ("AP50", "AP75")):
        ax.set_title(f"IoU {iou:g}", fontsize=11)
        data = _iou_curves(curves, iou)
        if not recall or not data:
            _note(ax, "no precision/recall data")
            continue
        # A category without ground truth has no defined precision: no line, no legend entry.
        per_category = {cat: _curve(values)
                        for cat, values in (data.get("per_category") or {}).items()
                        if any(_valid(v) for v in values)}
        for i, (cat, values) in enumerate(per_category.items()):
            ax.plot(recall, values, lw=0.9, alpha=0.65, color=f"C{i % 10}",
                    label=_text(cat, 24) if len(per_category) <= 10 else None)
        mean = _curve(data.get("mean") or [])
        if mean and not all(math.isnan(v) for v in mean):
            area = 100.0 * sum(v for v in mean if not math.isnan(v)) / len(mean)
            ax.plot(recall, mean, lw=2.8, color="black", label=f"mean ({name} = {area:.1f})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("recall")
        ax.grid(color="#e5e5e5", linewidth=0.8)
        ax.legend(loc="lower left", fontsize=8, frameon=True)
        _style(ax)
    axes[0].set_ylabel("precision")
    _save(fig, path)


def hota_alpha(curve: dict, path: str) -> None:
    """
    HOTA, DetA, AssA (and LocA if present) against the localisation threshold alpha
    (``report["hota_alpha"]``), with each curve's alpha-averaged value in the legend.
    """
    alpha = list(curve.get("alpha") or [])
    fig = _new_figure(6.6, 4.3)
    ax = fig.add_subplot()
    ax.set_title("HOTA and its parts against the localisation threshold α", fontsize=11)
    drawn = False
    for key in ("HOTA", "DetA", "AssA", "LocA"):
        values = curve.get(key)
        if not alpha or not values or not any(_valid(v) for v in values):
            continue
        percent = [100.0 * v if _valid(v) else math.nan for v in values]
        defined = [v for v in percent if not math.isnan(v)]
        ax.plot(alpha, percent, marker="o", markersize=3.5, lw=1.8, color=METRIC_COLORS[key],
                label=f"{key} ({sum(defined) / len(defined):.1f})")
        drawn = True
    if not drawn:
        _note(ax, "no HOTA curve")
    else:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 100)
        ax.set_xlabel("α (localisation IoU threshold)")
        ax.set_ylabel("percent")
        ax.grid(color="#e5e5e5", linewidth=0.8)
        ax.legend(loc="lower left", fontsize=9, frameon=True, title="mean over α",
                  title_fontsize=8)
        _style(ax)
    _save(fig, path)


def _hbars(ax, labels, values, colors, xlabel) -> None:
    ys = list(range(len(values)))
    ax.barh(ys, values, color=colors, height=0.65)
    top = max([abs(v) for v in values] + [1e-9])
    for y, v in zip(ys, values):
        ax.text(v + 0.015 * top, y, f"{v:.2f}", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlim(min(0.0, min(values) * 1.1), top * 1.18)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    _style(ax)


def error_breakdown(errors: dict, path: str) -> None:
    """
    TIVE's error analysis (``report["errors"]``): dAP50 of the main error types in TIVE's
    order, the two special errors, and each main type's share of the summed main dAP.
    """
    main = errors.get("main") or {}
    special = errors.get("special") or {}
    counts = errors.get("counts") or {}
    fig = _new_figure(10.0, 4.6)
    grid = fig.add_gridspec(2, 2, width_ratios=[1.7, 1.0], height_ratios=[1.0, 1.5])
    ax_main = fig.add_subplot(grid[:, 0])
    ax_special = fig.add_subplot(grid[0, 1])
    ax_share = fig.add_subplot(grid[1, 1])

    types = [(k, long) for k, long in ERROR_TYPES if main.get(k) is not None]
    if types:
        labels = [f"{long}\n({k}" + (f", n={counts[k]})" if counts.get(k) is not None else ")")
                  for k, long in types]
        colors = [_ERROR_COLORS[[t for t, _ in ERROR_TYPES].index(k)] for k, _ in types]
        _hbars(ax_main, labels, [float(main[k]) for k, _ in types], colors,
               "dAP50 (AP points gained by fixing the type)")
        ax_main.tick_params(axis="y", labelsize=8)
    else:
        _note(ax_main, "no error analysis")
    base = errors.get("base_ap50")
    ax_main.set_title("Main errors" + (f" (AP50 = {base:.1f})" if base is not None else ""),
                      fontsize=11)

    specials = [(k, long) for k, long in SPECIAL_ERRORS if special.get(k) is not None]
    if specials:
        _hbars(ax_special, [f"{long}\n({k})" for k, long in specials],
               [float(special[k]) for k, _ in specials], ["#555555", "#aaaaaa"][: len(specials)],
               "dAP50")
        ax_special.tick_params(axis="y", labelsize=8)
    else:
        _note(ax_special, "no special errors")
    ax_special.set_title("Special errors", fontsize=10)

    shares = [(k, float(main[k]), c) for (k, _), c in zip(ERROR_TYPES, _ERROR_COLORS)
              if main.get(k) is not None and main[k] > 0]
    total = sum(v for _, v, _ in shares)
    if total > 0:
        ax_share.pie([v for _, v, _ in shares], colors=[c for _, _, c in shares],
                     labels=[k if v / total >= 0.06 else "" for k, v, _ in shares],
                     autopct=lambda p: f"{p:.0f}%" if p >= 6 else "", pctdistance=0.78,
                     startangle=90, counterclock=False, textprops={"fontsize": 8},
                     wedgeprops={"width": 0.42, "edgecolor": "white"})
        ax_share.set_aspect("equal")
    else:
        _note(ax_share, "no main error costs AP")
    ax_share.set_title("Share of main dAP", fontsize=10)
    _save(fig, path)


def _bucket_label(bucket: dict) -> str:
    lo, hi = (list(bucket.get("range") or []) + [None, None])[:2]
    if lo is not None and hi is not None:
        frames = f"{lo}–{hi} frames"
    elif lo is not None:
        frames = f"≥ {lo} frames"
    elif hi is not None:
        frames = f"≤ {hi} frames"
    else:
        frames = ""
    n = bucket.get("n_gt")
    tracks = f"{n} GT track{'s' if n != 1 else ''}" if n is not None else ""
    return "\n".join(s for s in (_text(bucket.get("name", "")), frames, tracks) if s)


def length_ap(length_ap: Sequence[dict], path: str) -> None:
    """
    AP per bucket of ground-truth track length (``report["length_ap"]``), each bar labelled
    with the bucket's frame range and number of GT tracks; a bucket without GT says so.
    """
    buckets = list(length_ap)
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    ax.set_title("Mask AP by ground-truth track length", fontsize=11)
    if not buckets:
        _note(ax, "no length buckets")
        _save(fig, path)
        return
    xs = list(range(len(buckets)))
    values = [100.0 * b["AP"] if _valid(b.get("AP")) else 0.0 for b in buckets]
    ax.bar(xs, values, width=0.6, color=METRIC_COLORS["AP"])
    for x, v, b in zip(xs, values, buckets):
        if _valid(b.get("AP")):
            ax.text(x, v + 1.0, f"{v:.1f}", ha="center", fontsize=9)
        else:
            ax.text(x, 3.0, "no GT", ha="center", fontsize=10, color=_NO_GT_COLOR,
                    style="italic")
    ax.set_xticks(xs)
    ax.set_xticklabels([_bucket_label(b) for b in buckets], fontsize=9)
    ax.set_ylim(0, 100)
    ax.set_ylabel("AP (percent)")
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    _style(ax)
    _save(fig, path)


def video_thumbnail(frame: StripFrame, path: str, width: int = 160) -> None:
    """A small picture of one frame for the video table (:func:`.strips.draw_thumbnail`)."""
    draw_thumbnail(frame, path, width=width)
