"""The report page: one self-contained ``index.html`` (inline CSS, no script, no remote
resource) that links the figures and strips by relative paths.

Every string that comes from the data (paths, category and video names) is HTML-escaped.
Fractions are shown in percent with one decimal; -1 and None (no ground truth) as "–".
"""
import html
import math
import os
import urllib.parse
from typing import Dict, Iterable, List, Optional, Sequence

from masktrack_d2.utils.file_io import atomic_write

__all__ = ["render_html", "FIGURE_KEYS", "DASH"]

DASH = "–"
FIGURE_KEYS = ("category_ap", "pr_curves", "category_hota", "hota_alpha", "errors", "length_ap")

_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: #1d1f23;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 20px; margin: 40px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e2e6eb; }
h3 { font-size: 16px; margin: 22px 0 6px; }
a { color: #1f5f9e; }
nav { margin: 12px 0 8px; font-size: 14px; }
nav a { margin-right: 14px; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.subtitle, .muted { color: #6b7280; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e2e6eb; text-align: left;
  vertical-align: middle; }
thead th { background: #f1f4f7; font-weight: 600; border-bottom: 2px solid #d5dbe2; }
tbody tr:nth-child(even) { background: #f8f9fb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.meta th { background: none; font-weight: 600; padding-right: 18px; }
table.meta td { word-break: break-all; }
tr.nogt td, tr.secondary td { color: #8a8f98; }
figure { margin: 14px 0 26px; }
img { max-width: 100%; height: auto; }
figure img { border: 1px solid #eceff2; }
td img { display: block; }
figcaption, p.caption { color: #3f4650; font-size: 14px; max-width: 85ch; margin-top: 6px; }
p.missing { color: #7a5200; background: #fff8e6; border-left: 4px solid #f0b400;
  padding: 8px 12px; max-width: 85ch; }
footer { margin-top: 48px; color: #8a8f98; font-size: 13px; }
"""

_CAPTIONS = {
    "ap": (
        "Mask AP as YouTube-VIS computes it: a result matches a ground-truth track by "
        "spatio-temporal mask IoU (intersection over union summed over all frames of the "
        "video). AP averages over IoU thresholds 0.50 to 0.95; AP50 and AP75 use one "
        "threshold; APs/APm/APl count small, medium and large objects only; AR1 and AR10 are "
        "the recall with at most 1 or 10 results per video. Percent; – means no ground truth "
        "in that setting."),
    "track": (
        "HOTA is the geometric mean of DetA (are the objects detected in each frame?) and AssA "
        "(does each ground-truth object keep one predicted identity over time?), averaged "
        "over localisation thresholds α; LocA is the mean mask IoU of the matches. IDF1 is the "
        "F1 score of identity-consistent matches. IDSW counts identity switches, Frag "
        "interruptions of a ground-truth track; CLR_FP and CLR_FN are the false-positive and "
        "missed masks over all frames (IoU 0.5). Percent except the counts."),
    "category_ap": (
        "AP (averaged over IoU 0.50–0.95), AP50 and AP75 per category, best category on top. "
        "A category without ground-truth tracks has no AP and is listed at the bottom as "
        "\u201cno GT\u201d."),
    "pr_curves": (
        "Precision against recall at IoU 0.5 (left) and 0.75 (right), at 101 recall points as "
        "COCO interpolates them. Thin lines: one category each; thick black line: the mean "
        "over categories, whose average height is the AP at that IoU. Where a line falls to "
        "zero, no result reaches a higher recall for that category."),
    "category_hota": (
        "HOTA, DetA and AssA per category, best on top. Low DetA with high AssA: the objects "
        "are tracked consistently but often missed or badly segmented; the other way round: "
        "they are found but their identity breaks."),
    "hota_alpha": (
        "HOTA, DetA, AssA and LocA at each localisation threshold α (a match needs mask IoU "
        "≥ α). The legend gives each curve's mean over α, which is the reported number. A "
        "steep fall towards high α means objects are found but their masks are not precise."),
    "errors": (
        "dAP: the AP50 gained when an oracle fixes every error of this type (TIVE's analysis, "
        "after TIDE), in AP points. Classification: a good mask with the wrong category. "
        "Duplicate: a second result on an already matched object. Spatial segmentation: right "
        "object and time span, masks not accurate enough. Temporal association: good masks per "
        "frame, but the track covers the object in too few of the frames where either is "
        "present (it starts or ends at the wrong time, or follows another object for a while). "
        "Both: the wrong category and a poor overlap at once. Background: a result on no object. Missed: an object no result "
        "covers. The special errors give the gain from removing every false positive or "
        "finding every missed object; they overlap the main types, so do not add them up."),
    "length_ap": (
        "Mask AP over the ground-truth tracks of each temporal length (number of frames the "
        "object is annotated in). Short tracks are often harder: there are few frames to "
        "recover from a bad one."),
    "videos": (
        "Per-video tracking scores, worst video first. The thumbnail shows one frame: ground "
        "truth outlined in white, predictions filled in the colour of their track."),
    "strips": (
        "Frames of the worst videos. White outlines: ground truth; filled colours: predicted "
        "tracks (one colour per track id, the id at the mask's centre). A red border and "
        "\u201cID switch\u201d label mark a frame where a ground-truth object changes its "
        "matched track; its outline is drawn in red."),
}


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------
def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _defined(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _pct(x) -> str:
    """A fraction in percent with one decimal; -1 (no ground truth), None and NaN as a dash."""
    if not _defined(x) or x < 0:
        return DASH
    return f"{100.0 * x:.1f}"


def _signed_pct(x) -> str:
    """Like :func:`_pct` for a score that may be negative (MOTA)."""
    return f"{100.0 * x:.1f}" if _defined(x) else DASH


def _int(x) -> str:
    if not _defined(x) or x < 0:
        return DASH
    return f"{int(x):,}"


def _points(x) -> str:
    """A dAP, already in AP points."""
    return f"{x:.2f}" if _defined(x) else DASH


def _src(path: str) -> str:
    """A relative file path as an escaped URL attribute value."""
    return _e(urllib.parse.quote(str(path).replace(os.sep, "/"), safe="/._-~"))


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------
def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], num: Sequence[bool],
           row_classes: Optional[Sequence[str]] = None, cls: str = "") -> str:
    """
    A table; ``headers`` are plain text, ``rows`` already-escaped HTML cells, ``num[i]`` right-
    aligns column i.
    """
    def attr(i):
        return ' class="num"' if num[i] else ""

    head = "".join(f"<th{attr(i)}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for r, cells in enumerate(rows):
        tr_cls = row_classes[r] if row_classes and row_classes[r] else ""
        tr = f'<tr class="{tr_cls}">' if tr_cls else "<tr>"
        body.append(tr + "".join(f"<td{attr(i)}>{c}</td>" for i, c in enumerate(cells)) + "</tr>")
    table_cls = f' class="{cls}"' if cls else ""
    return (f'<div class="table-wrap"><table{table_cls}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _missing_reason(key: str, report: dict) -> str:
    cats = report.get("per_category") or []
    no_gt = not _defined((report.get("ap") or {}).get("AP")) or report["ap"]["AP"] < 0
    if key in ("category_ap", "category_hota") and not cats:
        return "there are no categories"
    if key == "category_ap" and not any(_defined(c.get("AP")) and c["AP"] >= 0 for c in cats):
        return "no category has ground truth"
    if key == "pr_curves" and not (report.get("pr") or {}).get("curves"):
        return "there is no precision/recall data (no ground truth)"
    if key == "hota_alpha" and not report.get("hota_alpha"):
        return "the HOTA curve was not computed"
    if key == "errors" and not report.get("errors"):
        return "the error analysis was not run"
    if key == "length_ap" and not any(_defined(b.get("AP")) for b in report.get("length_ap") or []):
        return "no length bucket has ground-truth tracks"
    if no_gt:
        return "there is no ground truth"
    return "it was not produced for these inputs"


def _figure(key: str, alt: str, figures: Dict[str, str], report: dict) -> str:
    caption = _e(_CAPTIONS[key])
    path = figures.get(key)
    if not path:
        return (f'<p class="missing">Figure not shown: {_e(_missing_reason(key, report))}.</p>'
                f'<p class="caption">{caption}</p>')
    src = _src(path)
    return (f'<figure><a href="{src}"><img src="{src}" alt="{_e(alt)}"></a>'
            f"<figcaption>{caption}</figcaption></figure>")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------
def _meta(report: dict) -> str:
    meta = report.get("meta") or {}
    rows = [
        ("Ground truth", _e(meta.get("gt", DASH))),
        ("Results", _e(meta.get("results", DASH))),
        ("Videos", _int(meta.get("n_videos"))),
        ("Categories", _int(meta.get("n_categories"))),
        ("Ground-truth tracks", _int(meta.get("n_gt_tracks"))),
        ("Results (tracks)", _int(meta.get("n_results"))),
        ("Created", _e(meta.get("created", DASH))),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="table-wrap"><table class="meta"><tbody>{body}</tbody></table></div>'


def _summary(report: dict) -> str:
    ap = report.get("ap") or {}
    ap_keys = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "ARs", "ARm", "ARl"]
    track = report.get("track") or {}
    pct_keys = ["HOTA", "DetA", "AssA", "LocA", "IDF1"]
    int_keys = ["IDSW", "Frag", "CLR_FP", "CLR_FN"]
    track_cells = ([_pct(track.get(k)) for k in pct_keys] + [_signed_pct(track.get("MOTA"))]
                   + [_int(track.get(k)) for k in int_keys])
    return (
        "<h3>Mask AP</h3>"
        + _table(ap_keys, [[_pct(ap.get(k)) for k in ap_keys]], [True] * len(ap_keys))
        + f'<p class="caption">{_e(_CAPTIONS["ap"])}</p>'
        + "<h3>Tracking</h3>"
        + _table(pct_keys + ["MOTA"] + int_keys, [track_cells], [True] * len(track_cells))
        + f'<p class="caption">{_e(_CAPTIONS["track"])}</p>'
    )


def _categories(report: dict, figures: Dict[str, str]) -> str:
    cats = report.get("per_category") or []
    headers = ["Category", "GT tracks", "Results", "AP", "AP50", "AP75", "HOTA", "DetA", "AssA"]
    rows, classes = [], []
    for c in cats:
        rows.append([_e(c.get("name", c.get("id", DASH))), _int(c.get("n_gt")),
                     _int(c.get("n_results"))]
                    + [_pct(c.get(k)) for k in ("AP", "AP50", "AP75")]
                    + [_pct(c.get(k)) if c.get("n_gt") != 0 else DASH
                       for k in ("HOTA", "DetA", "AssA")])
        classes.append("nogt" if c.get("n_gt") == 0 else "")
    table = (_table(headers, rows, [False] + [True] * 8, classes) if rows
             else '<p class="muted">No categories.</p>')
    return (_figure("category_ap", "Bar chart of AP, AP50 and AP75 per category", figures, report)
            + _figure("pr_curves", "Precision-recall curves at IoU 0.5 and 0.75", figures, report)
            + "<h3>Per-category numbers</h3>" + table)


def _tracking(report: dict, figures: Dict[str, str]) -> str:
    return (_figure("hota_alpha", "HOTA, DetA, AssA and LocA against the threshold alpha",
                    figures, report)
            + _figure("category_hota", "Bar chart of HOTA, DetA and AssA per category", figures,
                      report))


def _errors(report: dict, figures: Dict[str, str]) -> str:
    from .figures import ERROR_TYPES, SPECIAL_ERRORS

    errors = report.get("errors") or {}
    body = _figure("errors", "Bar charts of the dAP50 of each error type", figures, report)
    if not errors:
        return body
    main, special = errors.get("main") or {}, errors.get("special") or {}
    counts = errors.get("counts") or {}
    rows = [[_e(k), _e(long), _points(main.get(k)), _int(counts.get(k))]
            for k, long in ERROR_TYPES]
    rows += [[_e(k), _e(long), _points(special.get(k)), DASH] for k, long in SPECIAL_ERRORS]
    base = errors.get("base_ap50")
    return (body + "<h3>Error numbers</h3>"
            + f'<p>AP50 before any fix: <strong>{_points(base)}</strong></p>'
            + _table(["Type", "Meaning", "dAP50", "Count"], rows, [False, False, True, True],
                     [""] * len(ERROR_TYPES) + ["secondary"] * len(SPECIAL_ERRORS)))


def _lengths(report: dict, figures: Dict[str, str]) -> str:
    body = _figure("length_ap", "Bar chart of AP per ground-truth track length", figures, report)
    rows = []
    for b in report.get("length_ap") or []:
        lo, hi = (list(b.get("range") or []) + [None, None])[:2]
        frames = f"{_int(lo)}–{_int(hi)}" if hi is not None else f"≥ {_int(lo)}"
        rows.append([_e(b.get("name", "")), frames, _int(b.get("n_gt")), _pct(b.get("AP"))])
    if rows:
        body += _table(["Bucket", "Frames", "GT tracks", "AP"], rows, [False, True, True, True])
    return body


def _videos(report: dict) -> str:
    videos = report.get("videos") or []
    if not videos:
        return '<p class="muted">No videos.</p>'
    rows = []
    for v in videos:
        thumb = v.get("thumbnail")
        name = _e(v.get("name", v.get("video_id", DASH)))
        img = (f'<img src="{_src(thumb)}" alt="Frame of video {name}">' if thumb
               else '<span class="muted">–</span>')
        rows.append([img, f'{name} <span class="muted">(id {_e(v.get("video_id", DASH))})</span>',
                     _int(v.get("n_frames"))]
                    + [_pct(v.get(k)) for k in ("HOTA", "DetA", "AssA")]
                    + [_int(v.get(k)) for k in ("IDSW", "FN", "FP")])
    headers = ["", "Video", "Frames", "HOTA", "DetA", "AssA", "IDSW", "FN", "FP"]
    return (f'<p class="caption">{_e(_CAPTIONS["videos"])}</p>'
            + _table(headers, rows, [False, False] + [True] * 7))


def _strips(report: dict) -> str:
    strips = report.get("strips") or []
    if not strips:
        return '<p class="muted">No frame strips were drawn.</p>'
    parts: List[str] = [f'<p class="caption">{_e(_CAPTIONS["strips"])}</p>']
    for s in strips:
        name = _e(s.get("name", s.get("video_id", DASH)))
        switches = s.get("id_switch_frames") or []
        note = ("ID switches at frame " + ", ".join(_e(f) for f in switches) if switches
                else "no ID switch in the frames shown")
        src = _src(s["png"])
        parts.append(f'<h3>{name} <span class="muted">(id {_e(s.get("video_id", DASH))})</span>'
                     f"</h3><p class=\"muted\">{note}</p>"
                     f'<a href="{src}"><img src="{src}" alt="Frames of video {name}"></a>')
    return "".join(parts)


def render_html(report: dict, figures: Dict[str, str], out_path: str) -> None:
    """
    Write the report page.

    Args:
        report: the report dict (meta, ap, per_category, pr, track, hota_alpha, errors,
            length_ap, videos, strips).
        figures: figure key (one of :data:`FIGURE_KEYS`) -> PNG path relative to the page's
            directory; a missing key gets a note saying why the figure is absent.
        out_path: the ``index.html`` to write (atomically).
    """
    figures = {k: v for k, v in (figures or {}).items() if v}
    meta = report.get("meta") or {}
    sections = [
        ("summary", "Summary", _summary(report)),
        ("categories", "Per category", _categories(report, figures)),
        ("tracking", "Tracking", _tracking(report, figures)),
        ("errors", "Errors", _errors(report, figures)),
        ("length", "Track length", _lengths(report, figures)),
        ("videos", "Videos", _videos(report)),
        ("strips", "Frame strips", _strips(report)),
    ]
    nav = "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t, _ in sections)
    results_name = os.path.basename(str(meta.get("results", ""))) or "results"
    page = (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>VIS evaluation: {_e(results_name)}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n<header><h1>Video instance segmentation evaluation</h1>"
        f'<div class="subtitle">{_e(results_name)} against '
        f'{_e(os.path.basename(str(meta.get("gt", ""))) or "ground truth")}</div>'
        f"{_meta(report)}<nav>{nav}</nav></header>\n"
        + "\n".join(_section(a, t, body) for a, t, body in sections)
        + "\n<footer>Written by masktrack_d2.evaluation.report.</footer>\n</main>\n</body>\n"
        "</html>\n"
    )
    with atomic_write(out_path, "w", encoding="utf-8") as f:
        f.write(page)
