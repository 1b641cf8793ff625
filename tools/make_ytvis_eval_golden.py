"""Write the golden fixture of the YouTube-VIS metric: the official evaluator's 11 numbers.

Takes two valid (ground truth, results) pairs - ``small``: the results fuzz test's base
(tests/test_ytvis_eval_fuzz.py; 12x16 frames, so every track is "small"), ``sized``: tall
frames with small, medium and large tracks - and mutates the results with the fuzz test's
mutation classes (drop_field, retype_field, cut_list, corrupt_rle, non_finite_or_huge,
duplicate_ids, unicode), driven by a fixed seed. A mutated file is kept when

- our metric scores it (``YTVISEval``, strict and/or lenient; it is not a YTVISInputError),
- and the official evaluator scores it too (youtubevos/cocoapi ``ytvos.py`` +
  ``ytvoseval.py`` at the commit pinned in benchmarks/bench_eval_official.py, run as its
  README and MaskTrack R-CNN's test script run it: ``YTVOS(gt)``, ``loadRes``,
  ``YTVOSeval(..., 'segm')``, evaluate, accumulate, summarize),

and the official numbers are stored next to it. tests/fixtures/ytvis_eval_golden/ gets one
json per base (``{"gt": ..., "cases": [{"name", "kind", "mutation", "modes", "results",
"official": {11 numbers}}]}``) and ``index.json`` (the evaluator's commit and source hashes,
the seed, and how many mutated files were left out and why). tests/test_ytvis_eval_fuzz.py
checks our metric against them without the official code.

    python tools/make_ytvis_eval_golden.py --src ~/cocoapi/PythonAPI/pycocotools
    python tools/make_ytvis_eval_golden.py      # sources kept in output/official_ytvis/src,
                                                # else downloaded at the pinned commit

The official code is prepared (patched for Python 3 / NumPy >= 1.24 only, into
output/official_ytvis/) by benchmarks/bench_eval_official.py's ``prepare``; ``--src`` is
passed to it. At most 6 (small) / 3 (sized) files are kept per mutation class, at most 2 per
way of mutating (field, how, ...), so the kept files spread over the class.

Our metric is only used to choose the cases (the files it scores); the numbers stored are the
official evaluator's. When ours disagrees with them the script says so and still writes them.
"""
import argparse
import contextlib
import copy
import hashlib
import importlib
import io
import json
import logging
import math
import os
import sys
import tempfile
import warnings

import numpy as np
from pycocotools import mask as mask_util

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "fixtures", "ytvis_eval_golden")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
sys.path.insert(0, ROOT)

import bench_eval_official  # noqa: E402

OFFICIAL_DIR = bench_eval_official.DEFAULT_DIR
SEED = 2019  # the fixture's seed (YouTube-VIS 2019)
MUTATIONS = ("drop_field", "retype_field", "cut_list", "corrupt_rle", "non_finite_or_huge",
             "duplicate_ids", "unicode")
#: the official summary's names; AR100 is computed but not part of the metric's output
OFFICIAL_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
                 "ARm", "ARl")
STAT_KEYS = tuple(k for k in OFFICIAL_KEYS if k != "AR100")
FIELDS = ("video_id", "category_id", "score", "segmentations")
MAX_PER_FLAVOUR = 2  # kept cases per mutation class and way of mutating (field, how, ...)


# ------------------------------------------------------------------------------------------
# the two valid bases
# ------------------------------------------------------------------------------------------
def _rle(mask):
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])],
            "counts": r["counts"].decode("ascii")}


def _uncompressed(mask):
    """Uncompressed RLE (int counts, as in the official annotation files)."""
    flat = mask.astype(np.uint8).flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat[0]:
        runs = [0] + runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in runs]}


def small_case():
    """The results fuzz test's valid case: 3 videos of 3 frames at 12x16, 2 categories, 6 GT
    tracks (compressed RLE, some frames null), 12 results (a noisy copy of each GT track and a
    random track)."""
    h, w, n_frames = 12, 16, 3
    rng = np.random.default_rng(0)

    def box():
        m = np.zeros((h, w), dtype=bool)
        y, x = rng.integers(0, h - 2), rng.integers(0, w - 2)
        m[y:y + rng.integers(2, 8), x:x + rng.integers(2, 10)] = True
        return _rle(m)

    videos = [{"id": v, "height": h, "width": w, "length": n_frames,
               "file_names": [f"v{v}/{i}.jpg" for i in range(n_frames)]} for v in (1, 2, 3)]
    anns, results = [], []
    for v in (1, 2, 3):
        for k in range(2):
            segs = [box() if rng.random() < 0.8 else None for _ in range(n_frames)]
            anns.append({"id": len(anns) + 1, "video_id": v, "category_id": 1 + k % 2,
                         "iscrowd": 0, "segmentations": segs,
                         "areas": [float(mask_util.area(s)) if s else None for s in segs],
                         "bboxes": [None] * n_frames})
            for c in range(2):  # a noisy copy and a random track
                noisy = [s if (s and rng.random() < 0.7) else (box() if rng.random() < 0.5
                                                                 else None) for s in segs]
                results.append({"video_id": v, "category_id": 1 + (k + c) % 2,
                                "score": round(float(rng.random()), 4), "segmentations": noisy})
    gt = {"videos": videos, "annotations": anns,
          "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    return gt, results


def sized_case():
    """2 videos of 3 frames at 400x180 (72000 px) with small (< 128^2 px), medium and large
    (> 256^2 px average area) GT tracks in 3 categories, uncompressed RLE ground truth, one
    crowd track; results are shifted / resized copies (IoU spread over the thresholds), a
    swapped-category copy and distractors."""
    h, w, n_frames = 400, 180, 3
    rng = np.random.default_rng(1)

    def box(y, x, bh, bw):
        m = np.zeros((h, w), dtype=np.uint8)
        m[max(0, y):max(0, y + bh), max(0, x):max(0, x + bw)] = 1
        return m

    videos = [{"id": v, "height": h, "width": w, "length": n_frames,
               "file_names": [f"s{v}/{i:05d}.jpg" for i in range(n_frames)]} for v in (1, 2)]
    # (video, category, y, x, height, width, crowd): 30x40 small, 130x140 medium, 390x175 large
    tracks = [(1, 1, 5, 5, 30, 40, 0), (1, 2, 150, 20, 130, 140, 0), (1, 1, 300, 120, 40, 50, 1),
              (2, 3, 4, 2, 390, 175, 0), (2, 1, 100, 60, 30, 30, 0), (2, 2, 200, 10, 135, 130, 0)]
    anns, results = [], []
    for v, cat, y, x, bh, bw, crowd in tracks:
        masks = {f: box(y + 3 * f, x + 2 * f, bh, bw) for f in range(n_frames)
                 if not (crowd == 0 and f == 2 and bh < 35)}  # a small track ends early
        segs = [_uncompressed(masks[f]) if f in masks else None for f in range(n_frames)]
        anns.append({"id": len(anns) + 1, "video_id": v, "category_id": cat, "iscrowd": crowd,
                     "segmentations": segs,
                     "areas": [float(masks[f].sum()) if f in masks else None
                               for f in range(n_frames)],
                     "bboxes": [None] * n_frames})
        for spread in (0.08, 0.25):  # two shifted, resized copies: IoU about 0.3 to 0.95
            dy = int(rng.integers(-int(bh * spread), int(bh * spread) + 1))
            dx = int(rng.integers(-int(bw * spread), int(bw * spread) + 1))
            sh = float(rng.uniform(1 - spread, 1 + spread / 2))
            results.append({"video_id": v, "category_id": cat,
                            "score": round(float(rng.random()), 4),
                            "segmentations": [_rle(box(y + 3 * f + dy, x + 2 * f + dx,
                                                       int(bh * sh), int(bw * sh)))
                                              if f in masks or rng.random() < 0.3 else None
                                              for f in range(n_frames)]})
    # a right mask with the wrong category, and a distractor per video
    results.append({"video_id": 1, "category_id": 3, "score": 0.97,
                    "segmentations": [_rle(box(150, 20, 130, 140)) for _ in range(n_frames)]})
    for v in (1, 2):
        results.append({"video_id": v, "category_id": 1, "score": 0.05 * v,
                        "segmentations": [_rle(box(40, 120, 60, 50)) for _ in range(n_frames)]})
    gt = {"videos": videos, "annotations": anns,
          "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"},
                         {"id": 3, "name": "giant panda"}]}
    return gt, results


BASES = {"small": small_case, "sized": sized_case}


# ------------------------------------------------------------------------------------------
# mutations (the fuzz test's classes, drawn with numpy instead of hypothesis)
# ------------------------------------------------------------------------------------------
ANY_VALUES = [None, True, False, -3, -1, 0, 1, 2, 3, 7, 10, 0.0, 0.5, -2.5, 1e9,
              float("nan"), float("inf"), "", "a", "1", "ü€", [], [0], [1, 2], [5, 0, 3], {},
              {"a": 1}, {"": 0, "b": -1}]
WEIRD_NUMBERS = [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 2 ** 70,
                 -(2 ** 70), 1e-320, 0, -1]
UNICODE_TEXT = ["é", "ü€", "日本語", "🐼", "a\u0000b", "\u202eRTL", "Ωx", "\\\"["]
TEXT_CHARS = "abcXYZ019 _-\"\\é日🐼\u0000"


def _pick(rng, seq):
    return copy.deepcopy(seq[int(rng.integers(len(seq)))])


def _text(rng, chars, max_size):
    return "".join(chars[int(rng.integers(len(chars)))]
                   for _ in range(int(rng.integers(0, max_size + 1))))


def _mask_positions(results):
    return [(i, f) for i, r in enumerate(results) if isinstance(r, dict)
            for f, s in enumerate(r.get("segmentations") or []) if isinstance(s, dict) and s]


def _jsonable(x):
    """A short description value: floats that JSON cannot hold as numbers become strings."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


def mutate(results, kind, rng):
    """One mutated copy of ``results`` and a short description of what was done."""
    results = copy.deepcopy(results)
    i = int(rng.integers(len(results)))
    r = results[i]
    key = _pick(rng, FIELDS)
    desc = {"result": i}
    if kind == "drop_field":
        del r[key]
        desc["field"] = key
    elif kind == "retype_field":
        r[key] = _pick(rng, ANY_VALUES)
        desc.update(field=key, value=r[key])
    elif kind == "cut_list":
        if rng.random() < 0.5:
            keep = int(rng.integers(0, len(results)))
            results = results[:keep]
            desc = {"keep_results": keep}
        else:
            keep = int(rng.integers(0, len(r["segmentations"]) + 1))
            r["segmentations"] = r["segmentations"][:keep]
            desc["keep_frames"] = keep
    elif kind == "corrupt_rle":
        i, f = _pick(rng, _mask_positions(results))
        seg = results[i]["segmentations"][f]
        how = _pick(rng, ["text", "alphabet", "cut", "flip", "size", "counts"])
        desc = {"result": i, "frame": f, "how": how}
        c = seg["counts"]
        if how == "text":
            seg["counts"] = _text(rng, TEXT_CHARS, 12)
        elif how == "alphabet":  # characters of the RLE alphabet, maybe a valid-looking string
            seg["counts"] = _text(rng, [chr(x) for x in range(48, 112)], 12)
        elif how == "cut":
            seg["counts"] = c[:int(rng.integers(0, len(c) + 1))]
        elif how == "flip":
            p = int(rng.integers(0, len(c)))
            seg["counts"] = c[:p] + chr(48 + int(rng.integers(0, 64))) + c[p + 1:]
        elif how == "size":
            size, u = seg["size"], rng.random()
            if u < 0.2:  # transposed: same pixel count, so the counts still add up
                seg["size"] = [size[1], size[0]]
            elif u < 0.7:
                seg["size"] = [int(x) for x in rng.integers(-2, 41, size=int(rng.integers(0, 4)))]
            else:
                seg["size"] = _pick(rng, ANY_VALUES)
        else:
            seg["counts"] = _pick(rng, ANY_VALUES)
        if how != "cut" and how != "flip":
            desc["value"] = seg["size"] if how == "size" else seg["counts"]
    elif kind == "non_finite_or_huge":
        where = _pick(rng, ["score", "video_id", "category_id", "size"])
        value = _pick(rng, WEIRD_NUMBERS)
        if where == "size":
            i, f = _pick(rng, _mask_positions(results))
            results[i]["segmentations"][f]["size"][int(rng.integers(0, 2))] = value
            desc = {"result": i, "frame": f}
        else:
            r[where] = value
        desc.update(where=where, value=value)
    elif kind == "duplicate_ids":
        j = int(rng.integers(len(results)))
        if rng.random() < 0.5:
            results.append(copy.deepcopy(results[j]))
            desc = {"copy_of": j}
        else:
            for k in ("video_id", "category_id", "score"):
                r[k] = results[j][k]
            desc["same_ids_and_score_as"] = j
    elif kind == "unicode":
        what = _pick(rng, ["key", "value", "extra"])
        text = _pick(rng, UNICODE_TEXT)
        if what == "key":
            r[key + text] = r.pop(key)
        elif what == "value":
            r[key] = text
        else:
            r[text] = text
        desc.update(what=what, field=key, text=text)
    else:
        raise ValueError(kind)
    desc["kind"] = kind
    return results, _jsonable(desc)


# ------------------------------------------------------------------------------------------
# the two evaluators
# ------------------------------------------------------------------------------------------
def _dump(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)


def import_official(official_dir=OFFICIAL_DIR):
    """(YTVOS, YTVOSeval) from the copy bench_eval_official.prepare wrote under
    ``official_dir``; ImportError when it is not there."""
    if not os.path.isfile(os.path.join(official_dir, "ytvos_official", "ytvoseval.py")):
        raise ImportError(f"no prepared official evaluator under {official_dir} (run "
                          "benchmarks/bench_eval_official.py or this script)")
    sys.path.insert(0, official_dir)
    try:
        ytvos = importlib.import_module("ytvos_official.ytvos")
        ytvoseval = importlib.import_module("ytvos_official.ytvoseval")
    finally:
        sys.path.remove(official_dir)
    return ytvos.YTVOS, ytvoseval.YTVOSeval


def run_official(official, gt, results):
    """The official evaluator's 11 numbers for ``results`` on ``gt`` (both written to files
    and read by the official code, as run_official.py does), or raise what it raises."""
    YTVOS, YTVOSeval = official
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, res_path = os.path.join(tmp, "gt.json"), os.path.join(tmp, "results.json")
        _dump(gt, gt_path)
        _dump(results, res_path)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's "mean of empty slice" and the like
            ytvos_gt = YTVOS(gt_path)
            ev = YTVOSeval(ytvos_gt, ytvos_gt.loadRes(res_path), "segm")
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
    stats = dict(zip(OFFICIAL_KEYS, (float(s) for s in ev.stats)))
    return {k: stats[k] for k in STAT_KEYS}


def run_ours(gt, results, strict):
    """Our metric's 11 numbers (default, vectorised path; results read from a file), or None
    when it stops with its own YTVISInputError."""
    from masktrack_d2.evaluation.ytvis_eval import YTVISEval, YTVISEvalWarning, YTVISInputError

    with tempfile.TemporaryDirectory() as tmp:
        res_path = os.path.join(tmp, "results.json")
        _dump(results, res_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YTVISEvalWarning)
            try:
                ev = YTVISEval(gt, res_path, strict=strict)
            except YTVISInputError:
                return None
            ev.evaluate()
            ev.accumulate()
            s = ev.summarize()
    return {k: float(s[k]) for k in STAT_KEYS}


def max_difference(a, b):
    return max(abs(a[k] - b[k]) for k in STAT_KEYS)


# ------------------------------------------------------------------------------------------
# cases
# ------------------------------------------------------------------------------------------
def generate(official, seed=SEED, per_kind=None, attempts=300, log=print):
    """{base: {"gt", "cases"}} and the tally of left-out files {base: {kind: {why: n}}}."""
    per_kind = per_kind or {"small": 6, "sized": 3}
    out, left_out = {}, {}
    for b, (base, make) in enumerate(BASES.items()):
        gt, results = make()
        results = json.loads(json.dumps(results))  # no shared dicts: a mutation hits one place
        cases = [{"name": f"{base}-unmutated", "kind": "none", "mutation": None,
                  "modes": ["strict", "lenient"], "results": results,
                  "official": run_official(official, gt, results)}]
        left_out[base] = {}
        for k, kind in enumerate(MUTATIONS):
            rng = np.random.default_rng([seed, b, k])
            seen, kept, why, flavours = set(), 0, {}, {}
            for _ in range(attempts):
                if kept == per_kind[base]:
                    break
                mutated, desc = mutate(results, kind, rng)
                text = json.dumps(mutated, sort_keys=True)
                if text in seen:
                    continue
                seen.add(text)
                flavour = tuple(str(desc.get(k)) for k in ("how", "where", "what", "field")) + (
                    "keep_results" in desc, "copy_of" in desc)
                if flavours.get(flavour, 0) >= MAX_PER_FLAVOUR:
                    continue  # spread the kept cases over the ways a class mutates a file
                modes = [m for m in ("strict", "lenient")
                         if run_ours(gt, mutated, m == "strict") is not None]
                if not modes:
                    why["ours: YTVISInputError"] = why.get("ours: YTVISInputError", 0) + 1
                    continue
                try:
                    official_stats = run_official(official, gt, mutated)
                except Exception as e:  # noqa: BLE001 - any failure of the official code
                    reason = f"official: {type(e).__name__}"
                    why[reason] = why.get(reason, 0) + 1
                    continue
                kept += 1
                flavours[flavour] = flavours.get(flavour, 0) + 1
                cases.append({"name": f"{base}-{kind}-{kept}", "kind": kind, "mutation": desc,
                              "modes": modes, "results": mutated, "official": official_stats})
            left_out[base][kind] = why
            log(f"{base} {kind}: {kept} kept, left out: {why}")
        for case in cases:
            for mode in case["modes"]:
                ours = run_ours(gt, case["results"], mode == "strict")
                if max_difference(ours, case["official"]) > 0:
                    log(f"  DIFFERS {case['name']} ({mode}): ours {ours} "
                        f"official {case['official']}")
        out[base] = {"gt": gt, "cases": cases}
    return out, left_out


def _sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", help="directory holding the official ytvos.py and ytvoseval.py "
                   "(default: output/official_ytvis/src, else GitHub at the pinned commit)")
    p.add_argument("--official", default=OFFICIAL_DIR,
                   help="where the patched official copy is prepared")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    logging.getLogger("masktrack_d2").setLevel(logging.ERROR)  # its lenient-mode notes
    bench_eval_official.prepare(args.official, args.src)
    official = import_official(args.official)
    data, left_out = generate(official, args.seed)
    os.makedirs(args.out, exist_ok=True)
    for base, content in data.items():
        with open(os.path.join(args.out, base + ".json"), "w", encoding="utf-8") as f:
            json.dump(content, f, separators=(",", ":"), ensure_ascii=True)
    src = os.path.join(args.official, "src")
    index = {"official": {"repository": "youtubevos/cocoapi",
                          "commit": bench_eval_official.COMMIT,
                          "sha256": {name: _sha256(os.path.join(src, name))
                                     for name in bench_eval_official.FILES}},
             "seed": args.seed, "bases": sorted(data),
             "cases": {base: len(content["cases"]) for base, content in data.items()},
             "left_out": left_out}
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(f"wrote {sum(index['cases'].values())} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
