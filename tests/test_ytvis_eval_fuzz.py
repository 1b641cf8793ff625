"""Fuzz test of the metric's results side: mutated results files end in exactly one of two ways.

A valid ground truth and a valid results file are mutated (hypothesis, fixed seed, bounded
number of examples). Every mutated file must either

- stop with the metric's own error class (:class:`YTVISInputError`, one line naming the file),
  never a KeyError / TypeError / IndexError / ValueError from deep inside, nor a hang; or
- score exactly what the loop reference scores (``iou_impl="loop"``: the official per-pair,
  per-frame IoU with ``mask.merge`` / ``mask.area``, then the same matching and accumulation).

Both the strict (default) and the lenient mode are run. ``python tests/test_ytvis_eval_fuzz.py``
prints how many inputs were tried and how each class of mutation ended.
"""
import copy
import json
import math
import os
import sys
from collections import Counter, defaultdict

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_util

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from masktrack_d2.evaluation.ytvis_eval import (  # noqa: E402
    STAT_KEYS,
    YTVISEval,
    YTVISEvalWarning,
    YTVISInputError,
)

H, W, N_FRAMES = 12, 16, 3
MUTATIONS = ("drop_field", "retype_field", "cut_list", "corrupt_rle", "non_finite_or_huge",
             "duplicate_ids", "unicode")
TALLY = defaultdict(Counter)  # mutation -> outcome -> count


def _rle(mask):
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [H, W], "counts": r["counts"].decode("ascii")}


def _box(rng):
    m = np.zeros((H, W), dtype=bool)
    y, x = rng.integers(0, H - 2), rng.integers(0, W - 2)
    m[y:y + rng.integers(2, 8), x:x + rng.integers(2, 10)] = True
    return _rle(m)


def _valid_case():
    rng = np.random.default_rng(0)
    videos = [{"id": v, "height": H, "width": W, "length": N_FRAMES,
               "file_names": [f"v{v}/{i}.jpg" for i in range(N_FRAMES)]} for v in (1, 2, 3)]
    anns, results = [], []
    for v in (1, 2, 3):
        for k in range(2):
            segs = [_box(rng) if rng.random() < 0.8 else None for _ in range(N_FRAMES)]
            anns.append({"id": len(anns) + 1, "video_id": v, "category_id": 1 + k % 2,
                         "iscrowd": 0, "segmentations": segs,
                         "areas": [float(mask_util.area(s)) if s else None for s in segs],
                         "bboxes": [None] * N_FRAMES})
            for c in range(2):  # a noisy copy and a random track
                noisy = [s if (s and rng.random() < 0.7) else (_box(rng) if rng.random() < 0.5
                                                                 else None) for s in segs]
                results.append({"video_id": v, "category_id": 1 + (k + c) % 2,
                                "score": round(float(rng.random()), 4), "segmentations": noisy})
    gt = {"videos": videos, "annotations": anns,
          "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    return gt, results


GT, RESULTS = _valid_case()

_ANY = st.one_of(st.none(), st.booleans(), st.integers(-3, 10), st.floats(allow_nan=True),
                 st.text(max_size=6), st.lists(st.integers(0, 5), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
_WEIRD_NUMBERS = st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e308, -1e308,
                                  2 ** 70, -(2 ** 70), 1e-320, 0, -1])


def _mask_positions(results):
    return [(i, f) for i, r in enumerate(results) if isinstance(r, dict)
            for f, s in enumerate(r.get("segmentations") or []) if isinstance(s, dict) and s]


def _mutate(data, kind):
    results = copy.deepcopy(RESULTS)
    i = data.draw(st.integers(0, len(results) - 1), label="result")
    r = results[i]
    key = data.draw(st.sampled_from(["video_id", "category_id", "score", "segmentations"]),
                    label="field")
    if kind == "drop_field":
        del r[key]
    elif kind == "retype_field":
        r[key] = data.draw(_ANY, label="value")
    elif kind == "cut_list":
        if data.draw(st.booleans(), label="whole list"):
            results = results[:data.draw(st.integers(0, len(results) - 1), label="keep")]
        else:
            r["segmentations"] = r["segmentations"][:data.draw(st.integers(0, N_FRAMES),
                                                               label="keep")]
    elif kind == "corrupt_rle":
        i, f = data.draw(st.sampled_from(_mask_positions(results)), label="mask")
        seg = results[i]["segmentations"][f]
        how = data.draw(st.sampled_from(["text", "alphabet", "cut", "flip", "size", "counts"]),
                        label="how")
        c = seg["counts"]
        if how == "text":
            seg["counts"] = data.draw(st.text(max_size=12), label="counts")
        elif how == "alphabet":  # characters of the RLE alphabet, maybe a valid-looking string
            seg["counts"] = data.draw(st.text(st.characters(min_codepoint=48, max_codepoint=111),
                                              max_size=12), label="counts")
        elif how == "cut":
            seg["counts"] = c[:data.draw(st.integers(0, len(c)), label="keep")]
        elif how == "flip":
            p = data.draw(st.integers(0, len(c) - 1), label="at")
            seg["counts"] = c[:p] + chr(48 + data.draw(st.integers(0, 63), label="digit")) + c[p + 1:]
        elif how == "size":
            seg["size"] = data.draw(st.one_of(st.lists(st.integers(-2, 40), max_size=3),
                                              _ANY), label="size")
        else:
            seg["counts"] = data.draw(_ANY, label="counts")
    elif kind == "non_finite_or_huge":
        where = data.draw(st.sampled_from(["score", "video_id", "category_id", "size"]),
                          label="where")
        value = data.draw(_WEIRD_NUMBERS, label="value")
        if where == "size":
            i, f = data.draw(st.sampled_from(_mask_positions(results)), label="mask")
            results[i]["segmentations"][f]["size"][data.draw(st.integers(0, 1))] = value
        else:
            r[where] = value
    elif kind == "duplicate_ids":
        j = data.draw(st.integers(0, len(results) - 1), label="other")
        if data.draw(st.booleans(), label="copy"):
            results.append(copy.deepcopy(results[j]))
        else:
            r["video_id"] = results[j]["video_id"]
            r["category_id"] = results[j]["category_id"]
            r["score"] = results[j]["score"]
    elif kind == "unicode":
        what = data.draw(st.sampled_from(["key", "value", "extra"]), label="what")
        text = data.draw(st.text(min_size=1, max_size=6), label="text")
        if what == "key":
            r[key + text] = r.pop(key)
        elif what == "value":
            r[key] = text
        else:
            r[text] = text
    return results


def _stats(ev):
    ev.evaluate()
    ev.accumulate()
    s = ev.summarize()
    return {k: s[k] for k in STAT_KEYS}


def _outcome(path, strict):
    """'error: ...', or 'scored' after checking the numbers against the loop reference."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YTVISEvalWarning)
        try:
            ours = _stats(YTVISEval(GT, path, strict=strict))
        except YTVISInputError as e:
            msg = str(e)
            assert "\n" not in msg and msg.startswith(path), msg  # one line, names the file
            return "error"
        reference = _stats(YTVISEval(GT, path, strict=strict, iou_impl="loop"))
    assert ours == reference
    assert all(math.isfinite(v) for v in ours.values())
    return "scored"


@settings(max_examples=100, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data(), kind=st.sampled_from(MUTATIONS))
def _fuzz_one(tmp_dir, data, kind):
    results = _mutate(data, kind)
    path = os.path.join(tmp_dir, "results.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=data.draw(st.booleans(), label="ascii"))
    for strict in (True, False):
        TALLY[kind][f"{'strict' if strict else 'lenient'} {_outcome(path, strict)}"] += 1


def run_fuzz(tmp_dir):
    TALLY.clear()
    _fuzz_one(tmp_dir)
    return {k: dict(v) for k, v in sorted(TALLY.items())}


def test_mutated_results_end_in_our_error_or_in_the_reference_numbers(tmp_path, capsys):
    tally = run_fuzz(str(tmp_path))
    with capsys.disabled():
        print("\nfuzz tally (mutation: outcome counts):", json.dumps(tally, sort_keys=True))
    assert set(tally) == set(MUTATIONS)  # every class was tried
    # each class produced errors, and the classes that can leave a valid file also scored
    for kind, outcomes in tally.items():
        assert any("error" in o for o in outcomes) or kind == "duplicate_ids", (kind, outcomes)
    assert any("scored" in o for o in tally["duplicate_ids"])


def test_the_unmutated_file_scores_like_the_reference(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    assert _outcome(str(path), True) == "scored"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        tally = run_fuzz(d)
    n = sum(sum(v.values()) for v in tally.values()) // 2
    print(f"{n} mutated results files, each scored strict and lenient:")
    for kind, outcomes in tally.items():
        print(f"  {kind}: {outcomes}")
