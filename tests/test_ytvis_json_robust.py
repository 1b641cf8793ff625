"""load_ytvis_json against an independent, straightforward reading of the file; the checks
of run lengths, categories and numbers; the records cache; and a property-based fuzz test:
every mutated training json either ends in a YTVISFormatError naming the place or loads into
records that are what the file says."""
import collections
import copy
import json
import math
import os
import sys

import numpy as np
import pycocotools.mask as mask_util
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _tiny
from masktrack_d2.data.datasets import YTVISFormatError, load_ytvis_json
from masktrack_d2.data.datasets import ytvis as ytvis_module
from masktrack_d2.data.datasets import records_cache, ytvis_json

sys.path.insert(0, os.path.join(_tiny.REPO, "benchmarks"))
import ytvis_json_gen  # noqa: E402

H, W = 6, 8


# ------------------------------------------------------------------------------ reference
def reference_records(data, image_root):
    """What the file says, read the plain way: json categories sorted by id -> 0..K-1; per
    frame, every track whose segmentation is not null and whose mask is not empty, with the
    file's box (or the mask's box when the file's is null)."""
    cats = sorted(c["id"] for c in data["categories"])
    contiguous = {c: i for i, c in enumerate(cats)}
    records, by_id = [], {}
    for v in data["videos"]:
        rec = {"video_id": v["id"],
               "file_names": [os.path.join(image_root, f) for f in v["file_names"]],
               "length": len(v["file_names"]), "height": v["height"], "width": v["width"]}
        if data.get("annotations"):
            rec["annotations"] = [[] for _ in v["file_names"]]
        records.append(rec)
        by_id[v["id"]] = rec
    for ann in data.get("annotations") or []:
        rec = by_id[ann["video_id"]]
        h, w = rec["height"], rec["width"]
        for f, segm in enumerate(ann["segmentations"]):
            if segm is None:
                continue
            if isinstance(segm, list):
                rle = mask_util.merge(mask_util.frPyObjects(segm, h, w))
            elif isinstance(segm["counts"], list):
                rle = mask_util.frPyObjects(segm, h, w)
            else:
                rle = {"size": [h, w], "counts": segm["counts"].encode()}
            mask = mask_util.decode(rle)
            if mask.sum() == 0:
                continue
            box = (ann.get("bboxes") or [None] * len(ann["segmentations"]))[f]
            if box is None:
                ys, xs = np.nonzero(mask)
                box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            rec["annotations"][f].append({
                "instance_id": ann["id"], "category_id": contiguous[ann["category_id"]],
                "bbox": [float(x) for x in box], "bbox_mode": 1,
                "mask": mask, "iscrowd": int(ann.get("iscrowd") or 0)})
    return records


def assert_same(records, expected):
    """Records equal the reference (masks compared decoded)."""
    assert len(records) == len(expected)
    for r, e in zip(records, expected):
        assert {k: r[k] for k in ("video_id", "file_names", "length", "height", "width")} == \
            {k: e[k] for k in ("video_id", "file_names", "length", "height", "width")}
        assert ("annotations" in r) == ("annotations" in e)
        for fr, fe in zip(r.get("annotations", []), e.get("annotations", [])):
            assert len(fr) == len(fe)
            for a, b in zip(fr, fe):
                mask = mask_util.decode({"size": a["segmentation"]["size"],
                                         "counts": a["segmentation"]["counts"].encode()})
                assert np.array_equal(mask, b["mask"])
                assert a["bbox"] == b["bbox"]
                assert (a["instance_id"], a["category_id"], int(a["bbox_mode"]), a["iscrowd"]) \
                    == (b["instance_id"], b["category_id"], b["bbox_mode"], b["iscrowd"])


# ------------------------------------------------------------------------------ data
def _mask(x0, y0, x1, y1):
    m = np.zeros((H, W), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _uncompressed(m):
    flat = m.flatten(order="F")
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat[0]:
        runs = [0] + runs
    return {"size": [H, W], "counts": runs}


def _compressed(m):
    return {"size": [H, W], "counts": mask_util.encode(np.asfortranarray(m))["counts"].decode()}


def base_json():
    """Three videos, every segmentation flavour, nulls, an empty mask, unsorted categories."""
    return {
        "info": {"description": "fuzz base"},
        "videos": [
            {"id": 1, "height": H, "width": W, "length": 3, "name": "v1",
             "file_names": ["v1/0.jpg", "v1/1.jpg", "v1/2.jpg"]},
            {"id": 2, "height": H, "width": W, "file_names": ["v2/0.jpg", "v2/1.jpg"]},
            {"id": 3, "height": H, "width": W, "file_names": ["v3/0.jpg"]},
        ],
        "categories": [{"id": 9, "name": "c"}, {"id": 2, "name": "a"}, {"id": 5, "name": "b"}],
        "annotations": [
            {"id": 10, "video_id": 1, "category_id": 5, "iscrowd": 0,
             "segmentations": [_uncompressed(_mask(1, 1, 4, 3)), None,
                               _compressed(_mask(5, 2, 8, 6))],
             "bboxes": [[1, 1, 3, 2], None, None], "areas": [6, None, 12]},
            {"id": 11, "video_id": 1, "category_id": 9,
             "segmentations": [[[0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0]],
                               _uncompressed(_mask(0, 0, 0, 0)), _uncompressed(_mask(2, 2, 7, 6))],
             "bboxes": [None, None, [2.0, 2.0, 5.0, 4.0]], "areas": [16.0, None, 20.0]},
            {"id": 12, "video_id": 2, "category_id": 2, "iscrowd": 0,
             "segmentations": [None, _compressed(_mask(0, 0, 8, 6))],
             "bboxes": [None, [0, 0, 8, 6]], "areas": [None, 48]},
        ],
    }


def write(tmp_path, data, name="ann.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, allow_nan=True, ensure_ascii=False), encoding="utf-8")
    return str(path)


def load(path, **kw):
    kw.setdefault("cache_dir", "")
    return load_ytvis_json(path, "root", check_files="none", **kw)


# ------------------------------------------------------------------------------ equality
def test_base_json_is_what_the_file_says(tmp_path):
    data = base_json()
    assert_same(load(write(tmp_path, data)), reference_records(data, "root"))


def test_generated_ytvis_shaped_json(tmp_path):
    """The benchmark's YouTube-VIS-shaped generator (uncompressed RLE at 720x1280)."""
    path = str(tmp_path / "gen.json")
    ytvis_json_gen.generate(path, scale=0.002, seed=3)
    with open(path) as f:
        data = json.load(f)
    assert sum(s is not None for a in data["annotations"] for s in a["segmentations"]) > 20
    assert_same(load(path), reference_records(data, "root"))


def test_synthetic_data_set(tmp_path):
    info = _tiny.make_tiny_data(tmp_path)
    for key in ("train_json", "val_json"):
        with open(info[key]) as f:
            data = json.load(f)
        assert_same(load(info[key]), reference_records(data, "root"))


def _whole_file_json_module_records(path, monkeypatch):
    """The records through the whole-file path with the json module only (no streaming scan,
    no orjson): what the streaming variants must equal exactly."""
    with monkeypatch.context() as m:
        m.setattr(ytvis_json, "_orjson", None)
        m.setattr(ytvis_json, "_fast", _no_fast)
        return load(path)


def _no_fast(buf):
    raise ytvis_json._Fallback("test")


@pytest.mark.parametrize("variant", ["fast", "json_module", "whole_file"])
def test_parsers_agree(tmp_path, monkeypatch, variant):
    """The streaming reader with orjson ("fast", the default), with the json module only, and
    the whole-file path with orjson (taken for files it does not recognise) each give the
    records that plain ``json.load`` plus the documented conversion (:func:`reference_records`)
    gives; the two streaming variants also give exactly the records of the whole-file path
    parsed by the json module (every field, not only those the reference compares)."""
    path = str(tmp_path / "gen.json")
    ytvis_json_gen.generate(path, scale=0.002, seed=4)
    with open(path) as f:
        reference = reference_records(json.load(f), "root")
    whole_file = _whole_file_json_module_records(path, monkeypatch)

    fast_calls = []  # (returned?) per call of the streaming scan
    real_fast = ytvis_json._fast

    def spy_fast(buf):
        try:
            out = real_fast(buf)
        except BaseException:
            fast_calls.append(False)
            raise
        fast_calls.append(True)
        return out

    monkeypatch.setattr(ytvis_json, "_fast", spy_fast)
    if variant == "json_module":
        monkeypatch.setattr(ytvis_json, "_orjson", None)
    if variant == "whole_file":
        monkeypatch.setattr(ytvis_json, "_fast", _no_fast)
    records = load(path)
    # the variant under test really took its path (a silent fallback would compare the
    # whole-file path with itself)
    assert fast_calls == ([] if variant == "whole_file" else [True])
    assert_same(records, reference)
    if variant != "whole_file":
        assert records == whole_file


def test_counts_lists_come_as_arrays(tmp_path):
    head, anns, n = ytvis_json.read_ytvis_json(write(tmp_path, base_json()))
    anns = list(anns)
    assert n == 3 and len(head["videos"]) == 3 and "annotations" not in head
    counts = anns[0]["segmentations"][0]["counts"]
    assert isinstance(counts, np.ndarray) and counts.dtype == np.int64
    assert counts.tolist() == base_json()["annotations"][0]["segmentations"][0]["counts"]


@pytest.mark.parametrize("text", ["[1, 2, -3]", "[1, 02]", "[1 2]", "[]", "[1.5, 2]",
                                  "[1,\n 2 , 3]"])
def test_unusual_counts_lists_read_as_json_says(tmp_path, text):
    doc = ('{"videos": [], "categories": [], "annotations": [{"segmentations": '
           '[{"size": [1, 6], "counts": %s}]}]}' % text)
    path = tmp_path / "x.json"
    path.write_text(doc)
    try:
        expected = json.loads(doc)["annotations"][0]["segmentations"][0]["counts"]
    except ValueError:
        with pytest.raises(ValueError):
            list(ytvis_json.read_ytvis_json(str(path))[1])
        return
    _, anns, _ = ytvis_json.read_ytvis_json(str(path))
    got = list(anns)[0]["segmentations"][0]["counts"]
    assert list(np.asarray(got).tolist()) == expected


@pytest.mark.parametrize("use_orjson", [True, False])
def test_run_length_beyond_64_bits_is_an_error(tmp_path, monkeypatch, use_orjson):
    # orjson reads such an integer as a float, the json module as an int: both are rejected.
    if not use_orjson:
        monkeypatch.setattr(ytvis_json, "_orjson", None)
    data = base_json()
    data["annotations"][0]["segmentations"][0]["counts"][0] = 10 ** 23
    _, msg = _error_of(tmp_path, data)
    assert "annotation id=10" in msg and "field 'segmentations'" in msg


def test_escaped_quotes_and_brackets_in_strings(tmp_path):
    data = base_json()
    data["videos"][0]["name"] = 'a "quoted" [name] {x} \\'
    data["categories"][0]["name"] = "]}\\\"["
    data["annotations"][0]["note"] = {"counts": "]]", "x": "\\\\\"["}
    path = write(tmp_path, data)
    head, anns, _ = ytvis_json.read_ytvis_json(path)
    assert head["videos"][0]["name"] == data["videos"][0]["name"]
    assert list(anns)[0]["note"] == data["annotations"][0]["note"]
    assert_same(load(path), reference_records(data, "root"))


# ------------------------------------------------------------------------------ errors
def _error_of(tmp_path, data):
    path = write(tmp_path, data)
    with pytest.raises(YTVISFormatError) as e:
        load(path)
    return path, str(e.value)


@pytest.mark.parametrize("case, field, words", [
    ("runs_short", "segmentations", "add up to 47"),
    ("runs_negative", "segmentations", "negative"),
    ("garbage_string", "segmentations", "is not a compressed RLE string"),
    ("truncated_string", "segmentations", "cut inside a number"),
    ("string_wrong_total", "segmentations", "add up to 40"),
    ("unknown_category", "category_id", "unknown category id 4"),
    ("nan_bbox", "bboxes", "not finite"),
    ("inf_area", "areas", "not finite"),
    ("string_bbox", "bboxes", "numbers"),
    ("nan_polygon", "segmentations", "finite"),
])
def test_corrupt_ground_truth_names_the_place(tmp_path, case, field, words):
    data = base_json()
    ann = data["annotations"][0]
    if case == "runs_short":
        ann["segmentations"][0]["counts"][-1] -= 1
    elif case == "runs_negative":
        ann["segmentations"][0]["counts"][:2] = [-1, ann["segmentations"][0]["counts"][0] + 1]
    elif case == "garbage_string":
        ann["segmentations"][2]["counts"] = "!!!garbage"
    elif case == "truncated_string":
        ann["segmentations"][2]["counts"] = "0P"
    elif case == "string_wrong_total":
        ann["segmentations"][2]["counts"] = _compressed(np.ones((H - 1, W), np.uint8))["counts"]
    elif case == "unknown_category":
        ann["category_id"] = 4
    elif case == "nan_bbox":
        ann["bboxes"][0] = [1, float("nan"), 3, 2]
    elif case == "inf_area":
        ann["areas"][1] = float("inf")
    elif case == "string_bbox":
        ann["bboxes"][0] = ["1", "1", "3", "2"]
    elif case == "nan_polygon":
        data["annotations"][1]["segmentations"][0][0][3] = float("nan")
        ann = data["annotations"][1]
    path, msg = _error_of(tmp_path, data)
    assert path in msg and "video id=1 ('v1')" in msg
    assert f"annotation id={ann['id']}" in msg and f"field '{field}'" in msg
    assert words in msg


def test_truncated_file_is_invalid_json(tmp_path):
    path = write(tmp_path, base_json())
    text = open(path).read()
    open(path, "w").write(text[: len(text) * 2 // 3])
    with pytest.raises(YTVISFormatError, match="not valid JSON"):
        load(path)


def test_invalid_element_reports_file_position(tmp_path):
    path = write(tmp_path, base_json())
    text = open(path).read()
    i = text.index('"video_id": 2')
    open(path, "w").write(text[:i] + '"video_id": 2,,' + text[i + len('"video_id": 2,'):])
    with pytest.raises(YTVISFormatError, match=r"not valid JSON .*char %d" % (i + 14)):
        load(path)


# ------------------------------------------------------------------------------ cache
def test_cache_is_used_and_never_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(records_cache, "CACHE_MIN_BYTES", 0)
    cache = str(tmp_path / "cache")
    data = base_json()
    path = write(tmp_path, data)
    first = load(path, cache_dir=cache)
    files = os.listdir(cache)
    assert len(files) == 1

    # A hit does not convert again.
    calls = []
    real = ytvis_module._convert
    monkeypatch.setattr(ytvis_module, "_convert", lambda *a: calls.append(a) or real(*a))
    assert load(path, cache_dir=cache) == first and not calls

    # Same size, same timestamps, other content: converted again, old entry replaced.
    st = os.stat(path)
    data["annotations"][0]["category_id"] = 9  # "5" -> "9": same length
    write(tmp_path, data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.path.getsize(path) == st.st_size
    changed = load(path, cache_dir=cache)
    assert len(calls) == 1
    assert changed[0]["annotations"][0][0]["category_id"] == 2  # id 9 -> contiguous 2
    assert first[0]["annotations"][0][0]["category_id"] == 1
    assert_same(changed, reference_records(data, "root"))
    assert len(os.listdir(cache)) == 1 and os.listdir(cache) != files

    # A damaged cache file is a miss, not an error.
    (tmp_path / "cache" / os.listdir(cache)[0]).write_bytes(b"not an npz file")
    assert load(path, cache_dir=cache) == changed and len(calls) == 2

    # Another image root is another entry.
    load_ytvis_json(path, "other_root", check_files="none", cache_dir=cache)
    assert len(calls) == 3


class _Planted:
    """Unpickling this creates the file ``path``: a cache read that runs code would show."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_cache_holds_data_only_and_a_planted_file_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.setattr(records_cache, "CACHE_MIN_BYTES", 0)
    cache = str(tmp_path / "cache")
    path = write(tmp_path, base_json())
    first = load(path, cache_dir=cache)
    (name,) = os.listdir(cache)
    with np.load(os.path.join(cache, name), allow_pickle=False) as z:
        assert z.files and all(z[k].dtype.kind in "iufb" for k in z.files)

    # Someone replaces the cache with an npz holding a pickled object array.
    marker = tmp_path / "ran"
    with open(os.path.join(cache, name), "wb") as f:
        np.savez(f, header=np.array([_Planted(str(marker))], dtype=object))
    again = load(path, cache_dir=cache)
    assert not marker.exists()
    assert again == first


def test_cached_load_still_checks_files_and_categories(tmp_path, monkeypatch):
    monkeypatch.setattr(records_cache, "CACHE_MIN_BYTES", 0)
    cache = str(tmp_path / "cache")
    path = write(tmp_path, base_json())
    load(path, cache_dir=cache)
    with pytest.raises(YTVISFormatError, match=r"video id=1 \('v1'\).*not found"):
        load_ytvis_json(path, str(tmp_path), check_files="first", cache_dir=cache)


# ------------------------------------------------------------------------------ fuzz
# Where a mutation can hit: (path from the top, what the error must name).
def _places(data):
    out = [((), "top"), (("videos",), "top"), (("categories",), "top"),
           (("annotations",), "top")]
    for i, v in enumerate(data["videos"]):
        out += [(("videos", i), "video")] + [(("videos", i, k), "video") for k in v]
    for i, c in enumerate(data["categories"]):
        out += [(("categories", i), "top"), (("categories", i, "id"), "top"),
                (("categories", i, "name"), "top")]
    for i, a in enumerate(data["annotations"]):
        out += [(("annotations", i), "annotation")]
        out += [(("annotations", i, k), "annotation") for k in a]
        for f, s in enumerate(a["segmentations"]):
            out += [(("annotations", i, "segmentations", f), "annotation")]
            if isinstance(s, dict):
                out += [(("annotations", i, "segmentations", f, k), "annotation") for k in s]
        for key in ("bboxes", "areas"):
            out += [(("annotations", i, key, f), "annotation") for f in range(len(a[key]))]
    return out


def _get(data, path):
    for p in path:
        data = data[p]
    return data


ODD_VALUES = [None, True, 0, -1, 1.5, float("nan"), float("inf"), -float("inf"), 1e308,
              10 ** 30, "", "1", "!!!garbage", [], [1], {}, {"counts": []}]
UNICODE = ["Ünïcödé", "日本語のビデオ", "emoji 🐼", "a\u0000b", "x\\\"y[", "\u202eRTL"]

Mutation = collections.namedtuple("Mutation", "kind path value")


@st.composite
def mutations(draw):
    data = base_json()
    places = _places(data)
    kind = draw(st.sampled_from(["drop", "retype", "cut", "corrupt_rle", "non_finite",
                                 "duplicate_id", "unicode", "unknown_category"]))
    if kind == "drop":
        path, _ = draw(st.sampled_from([p for p in places if p[0] and
                                        isinstance(_get(data, p[0][:-1]), dict)]))
        return Mutation(kind, path, None)
    if kind == "retype":
        path, _ = draw(st.sampled_from([p for p in places if p[0]]))
        return Mutation(kind, path, draw(st.sampled_from(ODD_VALUES)))
    if kind == "cut":
        lists = [p for p, _ in places if p and isinstance(_get(data, p), list)]
        path = draw(st.sampled_from(lists))
        return Mutation(kind, path, draw(st.integers(0, max(len(_get(data, path)) - 1, 0))))
    if kind == "corrupt_rle":
        segs = [p for p, _ in places if len(p) == 4 and p[2] == "segmentations"
                and isinstance(_get(data, p), dict)]
        path = draw(st.sampled_from(segs))
        how = draw(st.sampled_from(["bump", "negative", "drop_run", "garbage", "truncate",
                                    "swap_chars", "size"]))
        return Mutation(kind, path, (how, draw(st.integers(0, 50))))
    if kind == "non_finite":
        nums = [p for p, _ in places if len(p) == 4 and p[2] in ("bboxes", "areas")
                and _get(data, p) is not None]
        nums += [("videos", i, k) for i in range(3) for k in ("height", "width")]
        nums += [("annotations", 1, "segmentations", 0)]  # the polygon
        path = draw(st.sampled_from(nums))
        value = draw(st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308,
                                      10 ** 30, -1e308]))
        return Mutation(kind, path, (value, draw(st.integers(0, 7))))
    if kind == "duplicate_id":
        return Mutation(kind, (draw(st.sampled_from(["videos", "annotations", "categories"])),),
                        draw(st.integers(0, 2)))
    if kind == "unicode":
        where = draw(st.sampled_from([("categories", 0, "name"), ("videos", 0, "name"),
                                      ("videos", 1, "file_names", 0), ("info", "description")]))
        return Mutation(kind, where, draw(st.sampled_from(UNICODE)))
    return Mutation(kind, ("annotations", draw(st.integers(0, 2)), "category_id"),
                    draw(st.sampled_from([0, 1, 3, 99, -5])))


def apply(m):
    data = base_json()
    if m.kind == "drop":
        del _get(data, m.path[:-1])[m.path[-1]]
    elif m.kind == "retype":
        _get(data, m.path[:-1])[m.path[-1]] = copy.deepcopy(m.value)
    elif m.kind == "cut":
        del _get(data, m.path)[m.value:]
    elif m.kind == "corrupt_rle":
        seg, (how, n) = _get(data, m.path), m.value
        counts = seg["counts"]
        if isinstance(counts, list):
            i = n % len(counts)
            if how in ("bump", "garbage", "swap_chars"):
                counts[i] += 1 + n
            elif how == "negative":
                counts[i] = -counts[i] - 1
            elif how in ("drop_run", "truncate"):
                del counts[i]
            else:
                seg["size"] = [H, W + 1]
        else:
            i = n % len(counts)
            if how == "garbage":
                seg["counts"] = counts[:i] + "!~\x7f" + counts[i:]
            elif how in ("truncate", "drop_run"):
                seg["counts"] = counts[:i] + ("o" if n % 2 else "")
            elif how == "swap_chars":
                seg["counts"] = counts[::-1]
            elif how in ("bump", "negative"):
                seg["counts"] = counts + chr(48 + n % 64)
            else:
                seg["size"] = [H + 1, W]
    elif m.kind == "non_finite":
        value, n = m.value
        target = _get(data, m.path)
        if isinstance(target, list):
            flat = target[0] if isinstance(target[0], list) else target
            flat[n % len(flat)] = value
        else:
            _get(data, m.path[:-1])[m.path[-1]] = value
    elif m.kind == "duplicate_id":
        items = data[m.path[0]]
        items[m.value]["id"] = items[(m.value + 1) % len(items)]["id"]
    else:
        _get(data, m.path[:-1])[m.path[-1]] = m.value
    return data


OUTCOMES = collections.Counter()
OUTCOME_LOG = os.environ.get("MASKTRACK_FUZZ_LOG")  # write the tally here (for reports)


@pytest.fixture(scope="module", autouse=True)
def _report_outcomes():
    yield
    if OUTCOMES:
        lines = [f"{k[0]:17s} {k[1]:9s} {n}" for k, n in sorted(OUTCOMES.items())]
        print("\nfuzz outcomes (mutation, outcome, count):\n" + "\n".join(lines))
        if OUTCOME_LOG:
            with open(OUTCOME_LOG, "w") as f:
                f.write("\n".join(lines) + "\n")


@settings(max_examples=400, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(m=mutations())
def test_fuzz_training_json(tmp_path, m):
    data = apply(m)
    path = write(tmp_path, data, name="fuzz.json")
    try:
        records = load(path)
    except YTVISFormatError as e:
        msg = str(e)
        assert msg.startswith(path + ": "), msg
        assert "field '" in msg or "not valid JSON" in msg or "top level" in msg, msg
        if m.kind in ("corrupt_rle", "unknown_category"):  # located in the annotation
            assert "annotation id=" in msg and "video id=" in msg, msg
        OUTCOMES[(m.kind, "error")] += 1
        return
    except Exception as e:  # anything else is a bug: a traceback from deep inside
        raise AssertionError(f"{m}: {type(e).__name__}: {e}") from e
    assert_same(records, reference_records(data, "root"))
    # Only mutations the format allows can load.
    OUTCOMES[(m.kind, "loaded")] += 1
    if m.kind == "unknown_category":
        pytest.fail(f"{m} loaded")
    if m.kind == "non_finite":
        assert all(math.isfinite(float(x)) for x in
                   np.ravel([b for r in records for fr in r.get("annotations", [])
                             for b in (i["bbox"] for i in fr)]))
