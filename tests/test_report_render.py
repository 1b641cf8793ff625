"""The evaluation report's rendering: figures, frame strips and the offline HTML page.

A hand-made report dict (three categories, one named like a script tag, one without ground
truth; three videos; one strip) is rendered once per module; the tests check the files, the
page's links and escaping, the strip's colours and, when a Chromium is installed, that a real
browser loads every image of the page.
"""
import html.parser
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from masktrack_d2.evaluation.report import figures as F
from masktrack_d2.evaluation.report.html import DASH, render_html
from masktrack_d2.evaluation.report.strips import (
    ALPHA, CANVAS_GREY, GAP, SWITCH_RGB, StripFrame, draw_strip, draw_thumbnail, track_rgb)

SCRIPT_NAME = "<script>alert(1)</script>"
FIGURE_FUNCS = {
    "category_ap": (F.category_ap_bars, "per_category"),
    "pr_curves": (F.pr_curves, "pr"),
    "category_hota": (F.category_hota_bars, "per_category"),
    "hota_alpha": (F.hota_alpha, "hota_alpha"),
    "errors": (F.error_breakdown, "errors"),
    "length_ap": (F.length_ap, "length_ap"),
}


def _ellipse_mask(rng, hw):
    import cv2

    h, w = hw
    mask = np.zeros(hw, np.uint8)
    center = (int(rng.integers(w // 5, 4 * w // 5)), int(rng.integers(h // 5, 4 * h // 5)))
    axes = (int(rng.integers(w // 12, w // 5)), int(rng.integers(h // 10, h // 4)))
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask.astype(bool)


def _frame_image(rng, hw):
    """(H, W, 3) uint8: a smooth colour gradient with noise, like a dull video frame."""
    h, w = hw
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([60 + 80 * x / w, 90 + 60 * y / h, 120 - 40 * x / w], axis=-1)
    return np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


def _video_frames(rng, n, hw=(180, 320), switch_at=()):
    """``n`` StripFrames of two GT objects and two tracks that follow them loosely."""
    frames = []
    for i in range(n):
        gt = [(k, _ellipse_mask(rng, hw)) for k in (1, 2)]
        pred = [(7 + k, np.roll(m, int(rng.integers(-6, 7)), axis=1)) for k, m in gt]
        frames.append(StripFrame(index=i * 3, image=_frame_image(rng, hw), gt=gt, pred=pred,
                                 switches=[2] if i in switch_at else []))
    return frames


def hand_report(out_dir):
    """Render the hand-made report into ``out_dir``; returns (report, figures)."""
    rng = np.random.default_rng(0)
    recall = np.linspace(0, 1, 101)

    def pr(drop, top):
        return [float(top * (1 - 0.4 * r)) if r <= drop else 0.0 for r in recall]

    per_cat = {"person": pr(0.8, 0.95), SCRIPT_NAME: pr(0.55, 0.8)}
    curves = {}
    for iou, shrink in (("0.5", 1.0), ("0.75", 0.7)):
        cats = {name: [p * shrink for p in c] for name, c in per_cat.items()}
        cats["giant panda & co"] = [-1.0] * 101
        mean = list(np.mean([cats["person"], cats[SCRIPT_NAME]], axis=0))
        curves[iou] = {"mean": mean, "per_category": cats}
    alpha = [round(0.05 * i, 2) for i in range(1, 20)]
    a = np.asarray(alpha)

    os.makedirs(os.path.join(out_dir, "thumbs"), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "strips"), exist_ok=True)
    videos = []
    for vid, name, hota in ((3, "dance & <b>fall</b>", 0.21), (1, "street", 0.48),
                            (2, "zoo", 0.77)):
        thumb = f"thumbs/video_{vid}.png"
        draw_thumbnail(_video_frames(rng, 1)[0], os.path.join(out_dir, thumb))
        videos.append({"video_id": vid, "name": name, "n_frames": 36, "HOTA": hota,
                       "DetA": hota + 0.05, "AssA": hota - 0.04, "IDSW": 4 - vid, "FN": 12,
                       "FP": 7, "thumbnail": thumb})
    draw_strip(_video_frames(rng, 6, switch_at=(2,)), os.path.join(out_dir, "strips/video_3.png"))

    report = {
        "meta": {"gt": "datasets/ytvis/valid_sub.json", "results": "output/results.json",
                 "n_videos": 3, "n_categories": 3, "n_gt_tracks": 8, "n_results": 40,
                 "created": "2024-05-01 12:00:00"},
        "ap": {"AP": 0.412, "AP50": 0.633, "AP75": 0.451, "APs": -1, "APm": 0.38, "APl": 0.47,
               "AR1": 0.39, "AR10": 0.52, "ARs": -1, "ARm": 0.41, "ARl": 0.55},
        "per_category": [
            {"id": 1, "name": "person", "n_gt": 5, "n_results": 25, "AP": 0.52, "AP50": 0.74,
             "AP75": 0.55, "HOTA": 0.58, "DetA": 0.61, "AssA": 0.55},
            {"id": 2, "name": SCRIPT_NAME, "n_gt": 3, "n_results": 10, "AP": 0.30,
             "AP50": 0.52, "AP75": 0.35, "HOTA": 0.41, "DetA": 0.45, "AssA": 0.37},
            {"id": 3, "name": "giant panda & co", "n_gt": 0, "n_results": 5, "AP": -1,
             "AP50": -1, "AP75": -1, "HOTA": 0.0, "DetA": 0.0, "AssA": 0.0},
        ],
        "pr": {"recall": list(recall), "curves": curves},
        "track": {"HOTA": 0.52, "DetA": 0.55, "AssA": 0.49, "LocA": 0.81, "IDF1": 0.6,
                  "IDSW": 6, "Frag": 9, "CLR_FP": 40, "CLR_FN": 52, "MOTA": 0.31},
        "hota_alpha": {"alpha": alpha, "HOTA": list(0.8 - 0.5 * a ** 2),
                       "DetA": list(0.85 - 0.55 * a ** 2), "AssA": list(0.75 - 0.4 * a ** 2),
                       "LocA": list(0.78 + 0.1 * a)},
        "errors": {"base_ap50": 63.3,
                   "main": {"Cls": 3.1, "Dupe": 0.4, "Spat": 5.2, "Temp": 2.6, "Both": 1.1,
                            "Bkg": 0.9, "Miss": 4.4},
                   "special": {"FalsePos": 7.5, "FalseNeg": 11.2},
                   "counts": {"Cls": 5, "Dupe": 2, "Spat": 9, "Temp": 4, "Both": 1, "Bkg": 7,
                              "Miss": 3}},
        "length_ap": [{"name": "short", "range": [1, 16], "AP": 0.31, "n_gt": 4},
                      {"name": "medium", "range": [17, 32], "AP": 0.45, "n_gt": 4},
                      {"name": "long", "range": [33, None], "AP": None, "n_gt": 0}],
        "videos": videos,
        "strips": [{"video_id": 3, "name": "dance & <b>fall</b>", "png": "strips/video_3.png",
                    "id_switch_frames": [6]}],
    }
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    figures = {}
    for key, (func, part) in FIGURE_FUNCS.items():
        figures[key] = f"figures/{key}.png"
        func(report[part], os.path.join(out_dir, figures[key]))
    render_html(report, figures, os.path.join(out_dir, "index.html"))
    return report, figures


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("report"))
    report, figures = hand_report(out)
    return out, report, figures


class _Refs(html.parser.HTMLParser):
    """Collects every src/href of a page, and the src of each <img>."""

    def __init__(self):
        super().__init__()
        self.refs, self.imgs = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name):
                self.refs.append(attrs[name])
        if tag == "img":
            self.imgs.append(attrs)


def _refs(text):
    parser = _Refs()
    parser.feed(text)
    return parser


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        im.load()
        return np.asarray(im.convert("RGB"))


def _n_colours(img):
    img = img.astype(np.int64)
    return len(np.unique((img[..., 0] << 16) | (img[..., 1] << 8) | img[..., 2]))


def test_files_and_page(rendered):
    out, report, figures = rendered
    for key, rel in figures.items():
        img = _png(os.path.join(out, rel))
        assert img.shape[1] >= 400 and img.shape[0] >= 200, (key, img.shape)
        assert _n_colours(img) > 20, key  # something is drawn
    for v in report["videos"]:
        assert _png(os.path.join(out, v["thumbnail"])).shape == (90, 160, 3)
    strip = _png(os.path.join(out, report["strips"][0]["png"]))
    assert strip.shape[1] <= 1600 and strip.shape[0] > 50
    assert not any(f.startswith(".") for f in os.listdir(os.path.join(out, "figures")))

    text = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert text.startswith("<!doctype html>") and '<meta charset="utf-8">' in text
    parser = _refs(text)
    srcs = {i["src"] for i in parser.imgs}
    expected = (set(figures.values()) | {v["thumbnail"] for v in report["videos"]}
                | {s["png"] for s in report["strips"]})
    assert expected <= srcs
    for ref in parser.refs:
        if ref.startswith("#"):
            continue
        assert not os.path.isabs(ref) and ":" not in ref, ref
        assert os.path.isfile(os.path.join(out, ref)), ref
    assert all(i.get("alt") for i in parser.imgs)
    assert not any("width" in i or "height" in i for i in parser.imgs)

    assert SCRIPT_NAME not in text and "<b>fall</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "giant panda &amp; co" in text
    assert "<script" not in text.lower()  # no script at all: the page needs none
    assert "http://" not in text and "https://" not in text
    assert "63.3" in text and "41.2" in text and DASH in text  # AP50 base, AP, APs = -1

    # Videos stay in the given (worst-first) order.
    assert text.index("dance &amp;") < text.index("street") < text.index("zoo")


def test_missing_figure_says_why(tmp_path, rendered):
    _, report, figures = rendered
    no_gt = dict(report, ap={k: -1 for k in report["ap"]}, errors={})
    render_html(no_gt, {k: v for k, v in figures.items() if k != "errors"},
                str(tmp_path / "index.html"))
    text = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "figures/errors.png" not in text
    assert "Figure not shown: the error analysis was not run." in text


def test_empty_figures_still_written(tmp_path):
    F.category_ap_bars([{"id": 1, "name": "cat", "n_gt": 0, "AP": -1, "AP50": -1, "AP75": -1}],
                       str(tmp_path / "a.png"))
    F.length_ap([], str(tmp_path / "b.png"))
    F.hota_alpha({}, str(tmp_path / "c.png"))
    F.pr_curves({"recall": [], "curves": {}}, str(tmp_path / "d.png"))
    for name in "abcd":
        assert _png(str(tmp_path / f"{name}.png")).shape[0] > 50


def test_strip_colours(tmp_path):
    h, w = 96, 128
    pred = np.zeros((h, w), bool)
    pred[30:81, 20:71] = True
    gt = np.zeros((h, w), bool)
    gt[35:76, 40:101] = True
    frames = [StripFrame(index=i, size=(h, w), gt=[(1, gt)], pred=[(3, pred)],
                         switches=[1] if i == 1 else []) for i in range(2)]
    path = str(tmp_path / "strip.png")
    draw_strip(frames, path)
    strip = _png(path).astype(int)
    assert strip.shape == (h, 2 * w + GAP, 3)
    x1 = w + GAP  # left edge of the second frame

    # A prediction pixel is the grey canvas blended with its track's palette colour.
    expected = np.round((1 - ALPHA) * CANVAS_GREY + ALPHA * np.asarray(track_rgb(3)))
    assert np.abs(strip[55, 26] - expected).max() <= 1
    assert track_rgb(3) == track_rgb(3) and track_rgb(3) != track_rgb(4)
    # The GT outline (its right edge, col 100) is white; its inside (GT only) is the canvas.
    assert (strip[55, 100] >= 230).all()
    assert (strip[55, 88] == CANVAS_GREY).all()
    # The frame with a switch has a red border and the switched GT outlined in red.
    red = np.asarray(SWITCH_RGB)
    for y, x in ((0, x1 + w // 2), (h - 1, x1 + w // 2), (h // 2, x1), (h // 2, x1 + w - 1)):
        assert (strip[y, x] == red).all(), (y, x)
    assert (strip[55, x1 + 100] == red).all()
    # The frame without one has neither.
    for y, x in ((0, w // 2), (h - 1, w // 2), (h // 2, w - 1)):
        assert (strip[y, x] == CANVAS_GREY).all(), (y, x)
    assert not (strip[:, :w] == red).all(axis=-1).any()


def test_strip_fits_max_width(tmp_path):
    rng = np.random.default_rng(1)
    frames = _video_frames(rng, 5, hw=(360, 640))
    draw_strip(frames, str(tmp_path / "s.png"), max_width=800)
    strip = _png(str(tmp_path / "s.png"))
    assert strip.shape[1] <= 800 and strip.shape[1] > 780
    with pytest.raises(ValueError, match="mask shape"):
        draw_strip([StripFrame(index=0, size=(10, 10), pred=[(1, np.ones((5, 5), bool))])],
                   str(tmp_path / "bad.png"))


# ---------------------------------------------------------------------------------------------
# A real browser
# ---------------------------------------------------------------------------------------------
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Appended to a copy of the page: after the load event, lists every image with whether it
# decoded (naturalWidth > 0), for --dump-dom to print. The control image does not exist.
_IMG_CHECK = """
<img id="control" src="no_such_image.png" alt="control">
<script>
window.addEventListener("load", function () {
  var lines = Array.prototype.map.call(document.images, function (im) {
    return (im.complete && im.naturalWidth > 0 ? "ok " : "broken ") + im.getAttribute("src");
  });
  var pre = document.createElement("pre");
  pre.id = "imgcheck";
  pre.textContent = lines.join("\\n");
  document.body.appendChild(pre);
});
</script>
"""


def _run_chromium(binary, profile, *args):
    cmd = [binary, "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_chromium_loads_every_image(rendered, tmp_path):
    binary = _chromium()
    if binary is None:
        pytest.skip("no chromium / chromium-browser / google-chrome on PATH")
    out, report, figures = rendered
    index = os.path.join(out, "index.html")
    url = "file://" + os.path.abspath(index)
    profile = str(tmp_path / "profile")
    expected = (set(figures.values()) | {v["thumbnail"] for v in report["videos"]}
                | {s["png"] for s in report["strips"]})

    # 1. The DOM Chromium builds has every image, and loading the page logs no failed load.
    run = _run_chromium(binary, profile, "--enable-logging=stderr", "--v=0",
                        "--virtual-time-budget=5000", "--dump-dom", url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert expected <= {i["src"] for i in _refs(run.stdout).imgs}
    for error in ("Failed to load resource", "ERR_FILE_NOT_FOUND", "net::ERR_"):
        assert error not in run.stderr, run.stderr[-2000:]

    # 2. Every image of a copy of the page decodes after the load event; a missing one is
    # reported broken (so the check can fail).
    text = open(index, encoding="utf-8").read()
    check = os.path.join(out, "_imgcheck.html")
    with open(check, "w", encoding="utf-8") as f:
        f.write(text.replace("</body>", _IMG_CHECK + "</body>"))
    try:
        run = _run_chromium(binary, profile, "--virtual-time-budget=5000", "--dump-dom",
                            "file://" + os.path.abspath(check))
    finally:
        os.remove(check)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="imgcheck">(.*?)</pre>', run.stdout, re.S)
    assert found, run.stdout[-2000:]
    status = dict(line.split(" ", 1)[::-1] for line in found.group(1).strip().splitlines())
    assert status.pop("no_such_image.png") == "broken"
    assert set(status) >= expected
    assert all(s == "ok" for s in status.values()), status

    # 3. A screenshot of the page is not blank.
    shot = str(tmp_path / "shot.png")
    run = _run_chromium(binary, profile, f"--screenshot={shot}", "--window-size=1280,2400",
                        "--hide-scrollbars", url)
    assert run.returncode == 0 and os.path.isfile(shot), run.stderr[-2000:]
    pixels = _png(shot)
    assert pixels.shape[:2] == (2400, 1280)
    assert _n_colours(pixels) > 100
