"""frame_coverage: which ground-truth objects of the quickstart's demo frame the demo shows."""
import numpy as np
import pycocotools.mask as mask_util

from masktrack_d2.quickstart.demo_frame import frame_coverage

H, W = 40, 60


def rle(y0, y1, x0, x1):
    m = np.zeros((H, W), dtype=np.uint8, order="F")
    m[y0:y1, x0:x1] = 1
    r = mask_util.encode(m)
    r["counts"] = r["counts"].decode("ascii")
    return r


def with_areas(ann):
    ann["areas"] = [None if s is None else float(mask_util.area(s)) for s in ann["segmentations"]]
    return ann


def gt():
    return {
        "videos": [{"id": 5, "height": H, "width": W, "length": 2}],
        "categories": [{"id": 1, "name": "circle"}, {"id": 4, "name": "triangle"}],
        "annotations": [with_areas(a) for a in [
            # found, right label
            {"id": 10, "video_id": 5, "category_id": 1, "iscrowd": 0,
             "segmentations": [rle(0, 10, 0, 10), rle(0, 10, 0, 10)]},
            # found by a mask of IoU 0.5 exactly, wrong label
            {"id": 11, "video_id": 5, "category_id": 4, "iscrowd": 0,
             "segmentations": [None, rle(20, 30, 20, 40)]},
            # missed: the only mask near it covers a third of it
            {"id": 12, "video_id": 5, "category_id": 1, "iscrowd": 0,
             "segmentations": [None, rle(30, 40, 45, 60)]},
            # absent from the frame: not listed
            {"id": 13, "video_id": 5, "category_id": 4, "iscrowd": 0,
             "segmentations": [rle(0, 5, 50, 55), None]},
        ]],
    }


def test_detected_missed_and_absent_objects():
    results = [
        {"video_id": 5, "category_id": 1, "score": 0.9,
         "segmentations": [rle(0, 10, 0, 10), rle(1, 10, 0, 10)]},
        {"video_id": 5, "category_id": 1, "score": 0.8,
         "segmentations": [None, rle(20, 30, 20, 30)]},
        {"video_id": 5, "category_id": 4, "score": 0.7,
         "segmentations": [None, rle(30, 40, 55, 60)]},
    ]
    out = frame_coverage(gt(), 5, results, frame_index=1)
    assert [o["id"] for o in out] == [10, 11, 12]
    found, half, missed = out
    assert found["detected"] and found["label_correct"] and found["iou"] == 0.9
    assert found["category"] == "circle"
    assert half["detected"] and not half["label_correct"] and half["iou"] == 0.5
    assert not missed["detected"] and missed["iou"] == round(1 / 3, 3)


def test_nothing_drawn_means_every_object_missed():
    out = frame_coverage(gt(), 5, [], frame_index=0)
    assert [(o["id"], o["detected"], o["iou"]) for o in out] == [(10, False, 0.0),
                                                                  (13, False, 0.0)]
