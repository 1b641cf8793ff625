"""The C extension ``_rlecore``: built where a C compiler exists; its RLE check gives the same
verdicts as the numpy implementation of the rule (:func:`masktrack_d2.format.rle.scan_numpy`),
and its two calls agree with pycocotools on random masks and stop on malformed input (an
error, never a crash)."""
import shutil
import sysconfig

import numpy as np
import pytest
from pycocotools import mask as mask_util

from masktrack_d2.format import rle as rle_module
from masktrack_d2.evaluation.ytvis_eval.iou import TrackMasks, iou_matrix_core, iou_matrix_loop


def _compiler():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) or shutil.which("cc")


def test_the_extension_is_built_where_a_c_compiler_exists():
    # setup.py builds it as optional: a silent fallback would keep the numbers but lose the speed
    if not _compiler():
        pytest.skip("no C compiler here: the metric runs on its pycocotools path")
    assert rle_module._rlecore is not None


core = rle_module._rlecore
needs_core = pytest.mark.skipif(core is None, reason="the C extension _rlecore is not built")


def _rle(mask):
    r = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(r["size"]), "counts": r["counts"].decode("ascii")}


def _scan(objs):
    areas, totals, status = core.scan(objs)
    return (np.frombuffer(areas, np.int64), np.frombuffer(totals, np.int64),
            np.frombuffer(status, np.uint8))


@needs_core
def test_scan_sums_runs_like_pycocotools_on_random_masks():
    rng = np.random.default_rng(0)
    objs = []
    for _ in range(500):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        objs.append(_rle(rng.random((h, w)) < rng.random()))
    for _ in range(100):  # boxes: long stretches of equal runs, stored as "0" digits
        h, w = (int(v) for v in rng.integers(2, 200, 2))
        box = np.zeros((h, w), bool)
        y0, x0 = int(rng.integers(0, h - 1)), int(rng.integers(0, w - 1))
        box[y0:int(rng.integers(y0 + 1, h + 1)), x0:int(rng.integers(x0 + 1, w + 1))] = True
        objs.append(_rle(box))
    objs.append(dict(objs[0], counts=objs[0]["counts"].encode()))  # bytes read alike
    areas, totals, status = _scan(objs)
    assert (status == 0).all()
    np.testing.assert_array_equal(areas, [mask_util.area(o) for o in objs])
    np.testing.assert_array_equal(totals, [o["size"][0] * o["size"][1] for o in objs])


def _scan_numpy(objs):
    return rle_module.scan_numpy(objs)


SCANS = [pytest.param(_scan, id="c_extension", marks=needs_core),
         pytest.param(_scan_numpy, id="numpy")]


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("counts, size, status", [
    ("", [2, 3], 2),            # empty string
    ("P", [2, 3], 2),           # cut inside a number
    ("1!", [2, 3], 2),          # a character below '0'
    ("1p", [2, 3], 2),          # a character above 'o'
    ("P" * 12 + "1", [2, 3], 2),  # a number longer than any run
    ("15", [2, 3], 0),          # 1 + 5 runs for 6 pixels
    ("52", [2, 3], 5),          # 5 + 2 runs for 6 pixels
    ("7", [2, 3], 4),           # a run of 7 in 6 pixels
    ("1O", [2, 3], 4),          # "O" is -1: a negative run
    ("15", [2.0, 3.0], 0),      # sizes written as floats with integral values
    ("15", [2, 0], 3),          # no pixels
    ("15", [2], 3),             # not [h, w]
    ("15", "2x3", 3),
    (b"\xff", [2, 3], 2),       # bytes outside the code
    (15, [2, 3], 1),            # not text
    ("\u00e9", [2, 3], 1),      # not ASCII
    ("0220<N", [4, 5], 0),      # pycocotools' own code of runs [0, 2, 2, 2, 14, 0]
    ("0d05\\O", [4, 5], 5),     # pycocotools' code of [0, 20, 5, 0]: 5 pixels too many
    ("11O", [2, 3], 4),         # a bad run after valid ones: the run decides, not the total
    ("O1!", [2, 3], 4),         # a bad run before a bad character: the first problem decides
])
def test_scan_statuses(scan, counts, size, status):
    areas, totals, got = scan([{"size": size, "counts": counts}])
    assert got[0] == status
    if status == 0:
        assert totals[0] == np.prod(size)
        assert areas[0] == (4 if counts == "0220<N" else 5)


def _random_corpus(n, seed):
    """Real masks (some with a wrong size), random strings of the code (canonical or not, cut
    or not), strings with characters outside it, and odd sizes and types."""
    rng = np.random.default_rng(seed)
    objs = []
    for _ in range(n):
        h, w = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        r = rng.random()
        if r < 0.3:
            s = _rle(rng.random((h, w)) < rng.random())["counts"]
            h += int(rng.integers(-1, 2)) if rng.random() < 0.3 else 0
        elif r < 0.8:
            s = "".join(chr(48 + int(v)) for v in rng.integers(0, 64, int(rng.integers(0, 14))))
            s += chr(48 + int(rng.integers(0, 32))) if rng.random() < 0.7 else ""
        else:
            s = "".join(chr(int(v)) for v in rng.integers(40, 120, int(rng.integers(1, 20))))
        size = [[h, w], [h, w, 1], [float(h), w], [h + 0.5, w], (h, w)][
            int(rng.choice(5, p=[0.9, 0.025, 0.025, 0.025, 0.025]))]
        counts = s.encode() if rng.random() < 0.2 else s
        counts = [1, 2] if rng.random() < 0.01 else counts
        objs.append({"size": size, "counts": counts})
    return objs


@needs_core
def test_both_implementations_of_the_rule_give_the_same_verdicts():
    """Statuses, areas of the valid masks and sums of the valid and wrong-total ones: equal
    over a corpus where every verdict occurs a hundred times or more."""
    objs = _random_corpus(20000, seed=3)
    areas_c, totals_c, status_c = _scan(objs)
    areas_n, totals_n, status_n = _scan_numpy(objs)
    np.testing.assert_array_equal(status_n, status_c)
    assert (np.bincount(status_c, minlength=6) > 100).all()
    ok = status_c == 0
    np.testing.assert_array_equal(areas_n[ok], areas_c[ok])
    summed = ok | (status_c == 5)
    np.testing.assert_array_equal(totals_n[summed], totals_c[summed])


def test_numpy_rule_agrees_with_pycocotools_on_valid_masks():
    rng = np.random.default_rng(5)
    objs = [_rle(rng.random((int(h), int(w))) < rng.random())
            for h, w in rng.integers(1, 80, (400, 2))]
    areas, totals, status = _scan_numpy(objs)
    assert (status == 0).all()
    np.testing.assert_array_equal(areas, [mask_util.area(o) for o in objs])
    np.testing.assert_array_equal(totals, [o["size"][0] * o["size"][1] for o in objs])


@needs_core
def test_scan_rejects_items_that_are_not_rle_dicts():
    with pytest.raises(TypeError, match="item 1 is not a dict"):
        core.scan([{"size": [1, 1], "counts": "1"}, "1"])
    with pytest.raises(KeyError):
        core.scan([{"size": [1, 1]}])


def _tracks(rng, n, frames, h=12, w=9):
    out = []
    for _ in range(n):
        out.append([_rle(rng.random((h, w)) < rng.random()) if rng.random() < 0.7 else None
                    for _ in range(int(rng.integers(1, frames + 1)))])
    return out


@needs_core
def test_video_iou_equals_the_pycocotools_loop():
    rng = np.random.default_rng(1)
    for _ in range(20):
        dts, gts = _tracks(rng, 6, 5), _tracks(rng, 4, 5)
        gts[0][0] = _rle(np.ones((7, 9), bool))  # another size: the frame adds 0
        ious, empty = iou_matrix_core(core, TrackMasks(dts), TrackMasks(gts))
        ref, ref_empty = iou_matrix_loop(dts, gts)
        np.testing.assert_array_equal(ious, ref)
        np.testing.assert_array_equal(empty, ref_empty)


@needs_core
def test_video_iou_on_malformed_input_is_an_error():
    good = _rle(np.ones((2, 3), bool))
    areas = np.array([[6]], np.int64).tobytes()
    with pytest.raises(ValueError, match=r"dt\[0\]\[0\] is not a compressed RLE"):
        core.video_iou([[dict(good, counts="P")]], [[good]], areas, areas, -1.0)
    with pytest.raises(ValueError, match=r"gt\[0\]\[0\] is not a compressed RLE \{size"):
        core.video_iou([[good]], [[{"counts": "06"}]], areas, areas, -1.0)
    with pytest.raises(ValueError, match="areas are not int64"):
        core.video_iou([[good]], [[good]], b"", areas, -1.0)
    with pytest.raises(TypeError, match=r"dt\[0\] is not a list"):
        core.video_iou([good], [[good]], areas, areas, -1.0)
