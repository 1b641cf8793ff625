"""The metric's results side against the official evaluator, and a fuzz test of its contract.

Numbers (oracle: the official evaluator, youtubevos/cocoapi ``ytvoseval.py``):

- ``test_matches_official_golden``: tests/fixtures/ytvis_eval_golden/ holds mutated results
  files of the fuzz test's mutation classes that our metric scores, with the official
  evaluator's 11 numbers for each (written by tools/make_ytvis_eval_golden.py, which runs the
  official code). Our metric (``YTVISEval``, default vectorised path) must give the same
  numbers, in every mode (strict / lenient) in which it scores the file. No official code is
  needed for this test.
- ``test_live_official_evaluator``: fresh mutated files (another seed) scored by the official
  evaluator itself, when its patched copy is prepared under output/official_ytvis
  (``python benchmarks/bench_eval_official.py`` or the tool); skipped otherwise.

Contract (hypothesis, fixed seed, bounded number of examples): a mutated results file must
either

- stop with the metric's own error class (:class:`YTVISInputError`, one line naming the file),
  never a KeyError / TypeError / IndexError / ValueError from deep inside, nor a hang; or
- score finite numbers. These are also compared with ``iou_impl="loop"`` (the official
  per-pair, per-frame IoU with ``mask.merge`` / ``mask.area``). That comparison is *not* an
  oracle for the numbers - validation, matching and accumulation are shared with the code under
  test - it only checks the vectorised IoU (and its area-bound pruning) against the per-pair
  loop on inputs the golden set does not hold. The numbers' oracle is the official evaluator
  above.

Both the strict (default) and the lenient mode are run. ``python tests/test_ytvis_eval_fuzz.py``
prints how many inputs were tried and how each class of mutation ended.
"""
import copy
import json
import math
import os
import sys
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _tools import load_tool  # noqa: E402
from masktrack_d2.evaluation.ytvis_eval import (  # noqa: E402
    STAT_KEYS,
    YTVISEval,
    YTVISEvalWarning,
    YTVISInputError,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "fixtures", "ytvis_eval_golden")
# Tolerance of the comparison with the official numbers. Our metric gives the official numbers
# bit for bit on every golden case (largest difference: 0.0), and the stored numbers round-trip
# through JSON exactly. 1e-9 leaves room only for float summation order (another NumPy's
# np.mean): within this fixture the official code itself reaches the same value by different
# paths 6e-17 and 1.1e-16 apart, while the smallest real difference between two cases' numbers
# is 5.6e-4.
TOL = 1e-9


TOOL = load_tool("make_ytvis_eval_golden")

N_FRAMES = 3
# The same mutation classes and the same valid case as the golden fixture.
MUTATIONS = TOOL.MUTATIONS
TALLY = defaultdict(Counter)  # mutation -> outcome -> count
GT, RESULTS = TOOL.small_case()  # 3 videos of 3 frames at 12x16, 6 GT tracks, 12 results

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
    """'error', or 'scored' after checking that the numbers are finite and equal those of the
    per-pair loop IoU (an IoU cross-check only; see the module docstring)."""
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


def test_mutated_results_end_in_our_error_or_in_finite_numbers(tmp_path, capsys):
    tally = run_fuzz(str(tmp_path))
    with capsys.disabled():
        print("\nfuzz tally (mutation: outcome counts):", json.dumps(tally, sort_keys=True))
    assert set(tally) == set(MUTATIONS)  # every class was tried
    # each class produced errors, and the classes that can leave a valid file also scored
    for kind, outcomes in tally.items():
        assert any("error" in o for o in outcomes) or kind == "duplicate_ids", (kind, outcomes)
    assert any("scored" in o for o in tally["duplicate_ids"])


def test_the_unmutated_file_scores(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(RESULTS))
    assert _outcome(str(path), True) == "scored"


# ------------------------------------------------------------------------------------------
# the numbers: the official evaluator
# ------------------------------------------------------------------------------------------
def _load_golden():
    with open(os.path.join(GOLDEN, "index.json")) as f:
        index = json.load(f)
    bases = {}
    for base in index["bases"]:
        with open(os.path.join(GOLDEN, base + ".json"), encoding="utf-8") as f:
            bases[base] = json.load(f)
    return index, bases


INDEX, BASES = _load_golden()
GOLDEN_CASES = [(base, i) for base, data in BASES.items() for i in range(len(data["cases"]))]


def _ours(gt, results, strict, tmp_path):
    """Our metric on ``results`` written to a file (as a user runs it): the 11 numbers, or the
    YTVISInputError it stops with."""
    import warnings

    path = tmp_path / "results.json"
    path.write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", YTVISEvalWarning)
        try:
            ev = YTVISEval(gt, str(path), strict=strict)
        except YTVISInputError as e:
            return e
        return _stats(ev)


def assert_same_as_official(ours, official, where):
    assert not isinstance(ours, Exception), f"{where}: official scores it, ours: {ours}"
    assert set(ours) == set(STAT_KEYS) == set(official), where
    bad = {k: (ours[k], official[k]) for k in STAT_KEYS if not abs(ours[k] - official[k]) <= TOL}
    assert not bad, f"{where}: (ours, official) {bad}"


@pytest.mark.parametrize("base, i", GOLDEN_CASES,
                         ids=[BASES[b]["cases"][i]["name"] for b, i in GOLDEN_CASES])
def test_matches_official_golden(base, i, tmp_path):
    gt, case = BASES[base]["gt"], BASES[base]["cases"][i]
    for mode in case["modes"]:
        ours = _ours(gt, case["results"], mode == "strict", tmp_path)
        assert_same_as_official(ours, case["official"], f"{case['name']} ({mode})")


def test_golden_cases_cover_the_mutation_classes_and_the_numbers():
    """The fixture must hold what makes matching it mean something."""
    assert INDEX["official"]["commit"] == TOOL.bench_eval_official.COMMIT
    cases = [c for data in BASES.values() for c in data["cases"]]
    kinds = Counter(c["kind"] for c in cases)
    # every mutation class our metric can score, in both bases (a result missing one of the
    # four fields is always our error, so drop_field has no golden case)
    for base, data in BASES.items():
        seen = {c["kind"] for c in data["cases"]}
        assert seen == {"none"} | set(MUTATIONS) - {"drop_field"}, (base, seen)
    assert all(n >= 2 for k, n in kinds.items() if k != "none"), kinds
    # the lenient-only rules (wrong list lengths, mask sizes, unknown categories) are covered
    assert sum(c["modes"] == ["lenient"] for c in cases) >= 5
    assert sum(c["modes"] == ["strict", "lenient"] for c in cases) >= 20
    # every one of the 11 numbers is a real number (not -1, "no GT in range") in some case and
    # takes several values; the mutations move the numbers
    for k in STAT_KEYS:
        values = {c["official"][k] for c in cases}
        assert any(v > 0 for v in values) and len(values) >= 3, (k, sorted(values))
    assert len({c["official"]["AP"] for c in cases}) >= 15
    size = sum(os.path.getsize(os.path.join(GOLDEN, f)) for f in os.listdir(GOLDEN))
    assert size < 1_000_000, size


def test_live_official_evaluator(tmp_path):
    """Fresh mutated files (another seed than the fixture's) scored by the official evaluator
    itself; skipped when its patched copy is not prepared under output/official_ytvis."""
    try:
        official = TOOL.import_official()
    except ImportError as e:
        pytest.skip(f"official evaluator not prepared ({e})")
    data, _ = TOOL.generate(official, seed=INDEX["seed"] + 1000,
                            per_kind={"small": 2, "sized": 1}, log=lambda *a: None)
    n = 0
    for base, content in data.items():
        for case in content["cases"]:
            for mode in case["modes"]:
                ours = _ours(content["gt"], case["results"], mode == "strict", tmp_path)
                assert_same_as_official(ours, case["official"], f"{case['name']} ({mode})")
                n += 1
    assert n >= 20, n


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        tally = run_fuzz(d)
    n = sum(sum(v.values()) for v in tally.values()) // 2
    print(f"{n} mutated results files, each scored strict and lenient:")
    for kind, outcomes in tally.items():
        print(f"  {kind}: {outcomes}")
