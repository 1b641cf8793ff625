"""YouTube-VIS / OVIS annotation json -> detectron2 per-video dataset dicts.

The official json (YouTube-VIS 2019, 2021 and OVIS share it) has one entry per *video* and
one annotation per *object track*, with per-frame lists ``segmentations`` / ``bboxes`` /
``areas`` that hold ``null`` where the object is not visible. :func:`load_ytvis_json`
turns it into one record per video whose ``annotations`` are regrouped per frame (see its
docstring for the exact schema), and :func:`register_ytvis_instances` registers such a
json in detectron2's catalogs.
"""
import json
import logging
import os

import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager
from fvcore.common.timer import Timer

__all__ = [
    "YTVISFormatError",
    "load_ytvis_json",
    "register_ytvis_instances",
    "ytvis_metadata_from_json",
    "segmentation_to_rle",
    "CHECK_FILES_MODES",
]

logger = logging.getLogger(__name__)

#: Accepted values of ``check_files`` in :func:`load_ytvis_json`.
CHECK_FILES_MODES = ("all", "first", "none")

_VIDEO_KEYS = ("id", "file_names", "height", "width")
_ANNOTATION_KEYS = ("id", "video_id", "category_id", "segmentations")
_PER_FRAME_KEYS = ("segmentations", "bboxes", "areas")


class YTVISFormatError(ValueError):
    """A YouTube-VIS json (or the frames it lists) is not what the loader expects.

    The message always names the json file, and the video / annotation / field involved
    when there is one.
    """


def _error(json_file, message, video=None, annotation=None, field=None):
    """Build a :class:`YTVISFormatError` whose message locates the problem."""
    where = [str(json_file)]
    if video is not None:
        where.append(_describe_video(video))
    if annotation is not None:
        where.append("annotation id={}".format(annotation.get("id")))
    if field is not None:
        where.append("field '{}'".format(field))
    return YTVISFormatError("{}: {}".format(": ".join(where), message))


def _describe_video(video):
    """'video id=3 (name)' for a raw json video entry (name may be missing)."""
    name = video.get("name")
    file_names = video.get("file_names")
    if name is None and isinstance(file_names, list) and file_names:
        name = os.path.dirname(str(file_names[0])) or None
    if name:
        return "video id={} ('{}')".format(video.get("id"), name)
    return "video id={}".format(video.get("id"))


# ------------------------------------------------------------------------------ json level
def _read_json(json_file):
    """Parse ``json_file``; invalid JSON becomes a YTVISFormatError keeping the position."""
    with PathManager.open(json_file, "r") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise _error(json_file, "not valid JSON ({})".format(e)) from e


def _check_top_level(data, json_file):
    """Reject anything that is not a YouTube-VIS style json, saying what it looks like."""
    if not isinstance(data, dict):
        raise _error(
            json_file,
            "top level is a {}, expected an object with 'videos', 'categories' and "
            "(train only) 'annotations'".format(type(data).__name__),
        )
    if "videos" not in data and "images" in data:
        raise _error(
            json_file,
            "this looks like a COCO image json (it has 'images', not 'videos'); a "
            "YouTube-VIS json lists videos with per-frame file_names",
            field="videos",
        )
    for key in ("videos", "categories"):
        if key not in data:
            raise _error(json_file, "missing top-level key", field=key)
        if not isinstance(data[key], list):
            raise _error(json_file, "must be a list", field=key)
    annotations = data.get("annotations")
    if annotations is not None and not isinstance(annotations, list):
        raise _error(json_file, "must be a list", field="annotations")


def _parse_categories(categories, json_file):
    """The json's categories sorted by id; checks ids and names are present and unique."""
    seen = set()
    for c in categories:
        for key in ("id", "name"):
            if not isinstance(c, dict) or key not in c:
                message = "category {!r} lacks '{}'".format(c, key)
                raise _error(json_file, message, field="categories")
        if c["id"] in seen:
            raise _error(json_file, "duplicate category id {}".format(c["id"]), field="categories")
        seen.add(c["id"])
    return sorted(categories, key=lambda c: c["id"])


def ytvis_metadata_from_json(json_file):
    """Metadata derived from a json's own ``categories`` (sorted by id).

    Returns:
        dict with ``thing_classes`` (names in contiguous order) and
        ``thing_dataset_id_to_contiguous_id`` (json category id -> index 0..K-1).
    """
    data = _read_json(json_file)
    _check_top_level(data, json_file)
    return _metadata_from_categories(_parse_categories(data["categories"], json_file))


def _metadata_from_categories(categories):
    return {
        "thing_classes": [c["name"] for c in categories],
        "thing_dataset_id_to_contiguous_id": {c["id"]: i for i, c in enumerate(categories)},
    }


def _normalize_name(name):
    # Official dumps differ only in case/separators (OVIS "Giant_panda"); ids must match.
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _sync_metadata(dataset_name, json_file, categories):
    """Check the json's categories against the registered ones, or record them if none.

    A registration with a fixed category list (the built-ins) must agree with the json in
    ids *and* names: a silent mismatch would train or score every class under the wrong
    label.
    """
    meta = MetadataCatalog.get(dataset_name)
    expected_classes = meta.get("thing_classes")
    expected_map = meta.get("thing_dataset_id_to_contiguous_id")
    if expected_classes is None and expected_map is None:
        meta.set(**_metadata_from_categories(categories))
        return
    json_pairs = [(c["id"], _normalize_name(c["name"])) for c in categories]
    if expected_map is not None:
        inverse = {v: k for k, v in expected_map.items()}
        expected_ids = [inverse.get(i) for i in range(len(expected_map))]
    else:
        expected_ids = [c["id"] for c in categories]
    if expected_classes is None:
        expected_classes = [c["name"] for c in categories]
    expected_pairs = list(zip(expected_ids, map(_normalize_name, expected_classes)))
    if json_pairs != expected_pairs:
        i = next(
            (i for i, (a, b) in enumerate(zip(json_pairs, expected_pairs)) if a != b),
            min(len(json_pairs), len(expected_pairs)),
        )
        raise _error(
            json_file,
            "categories differ from those registered for dataset '{}': {} in json vs {} "
            "registered; first difference at sorted position {}: json (id, name) {} vs "
            "registered {}. Is this the right json for this dataset / year?".format(
                dataset_name,
                len(json_pairs),
                len(expected_pairs),
                i,
                json_pairs[i] if i < len(json_pairs) else None,
                expected_pairs[i] if i < len(expected_pairs) else None,
            ),
            field="categories",
        )


# ------------------------------------------------------------------------------ videos
def _parse_video(video, json_file, image_root):
    """A per-video record (without annotations) from a raw json video entry."""
    if not isinstance(video, dict):
        raise _error(json_file, "video entry {!r} is not an object".format(video), field="videos")
    for key in _VIDEO_KEYS:
        if key not in video:
            raise _error(json_file, "missing key", video=video, field=key)
    file_names = video["file_names"]
    if not isinstance(file_names, list) or not file_names:
        raise _error(json_file, "must be a non-empty list", video=video, field="file_names")
    length = video.get("length", len(file_names))
    if length != len(file_names):
        raise _error(
            json_file,
            "length={} but file_names has {} entries".format(length, len(file_names)),
            video=video,
            field="length",
        )
    for key in ("height", "width"):
        if not isinstance(video[key], int) or video[key] <= 0:
            raise _error(json_file, "must be a positive int", video=video, field=key)
    return {
        "video_id": video["id"],
        "file_names": [os.path.join(image_root, fn) for fn in file_names],
        "length": len(file_names),
        "height": video["height"],
        "width": video["width"],
    }


def _check_frame_files(record, video, json_file, mode):
    """Raise if the listed frames (all, or only the first) are not on disk."""
    if mode == "none":
        return
    paths = record["file_names"] if mode == "all" else record["file_names"][:1]
    missing = [p for p in paths if not PathManager.isfile(p)]
    if missing:
        raise _error(
            json_file,
            "{} listed frame file(s) not found, e.g. '{}' (is image_root right? "
            "pass check_files='none' to skip this check)".format(len(missing), missing[0]),
            video=video,
            field="file_names",
        )


# ------------------------------------------------------------------------------ masks
def segmentation_to_rle(segm, height, width):
    """Convert one frame's segmentation to a compressed RLE with ``bytes`` counts.

    Accepts uncompressed RLE (``counts`` an int list), compressed RLE (``counts`` str or
    bytes) and polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists).

    Raises:
        ValueError: on anything else, or an RLE whose ``size`` is not ``[height, width]``.
    """
    if isinstance(segm, dict):
        if "counts" not in segm or "size" not in segm:
            raise ValueError("RLE needs 'counts' and 'size', got keys {}".format(sorted(segm)))
        if list(segm["size"]) != [height, width]:
            raise ValueError(
                "RLE size {} differs from the video's [height, width] = {}".format(
                    list(segm["size"]), [height, width]
                )
            )
        counts = segm["counts"]
        if isinstance(counts, list):
            return mask_util.frPyObjects(segm, height, width)
        if isinstance(counts, str):
            counts = counts.encode("ascii")
        if not isinstance(counts, bytes):
            raise ValueError("RLE counts must be an int list, str or bytes")
        return {"size": [height, width], "counts": counts}
    if isinstance(segm, list):
        if not segm or not all(
            isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segm
        ):
            raise ValueError("polygons must be a non-empty list of [x0, y0, ...] (>= 3 points)")
        return mask_util.merge(mask_util.frPyObjects(segm, height, width))
    raise ValueError("unsupported segmentation type {}".format(type(segm).__name__))


def _per_frame_list(ann, key, length, video, json_file, required):
    values = ann.get(key)
    if values is None:
        if required:
            raise _error(json_file, "missing key", video=video, annotation=ann, field=key)
        return None
    if not isinstance(values, list) or len(values) != length:
        raise _error(
            json_file,
            "has {} entries, expected one per listed frame ({})".format(
                len(values) if isinstance(values, list) else type(values).__name__, length
            ),
            video=video,
            annotation=ann,
            field=key,
        )
    return values


def _frame_instances(ann, category, video, record, json_file):
    """[(frame index, instance dict)] for the frames where the track is visible."""
    length, h, w = record["length"], record["height"], record["width"]
    segms = _per_frame_list(ann, "segmentations", length, video, json_file, required=True)
    bboxes = _per_frame_list(ann, "bboxes", length, video, json_file, required=False)
    _per_frame_list(ann, "areas", length, video, json_file, required=False)

    frames, rles = [], []
    for f, segm in enumerate(segms):
        # A box without a mask cannot be trained on with masks on; treat it as absent.
        if segm is None:
            continue
        try:
            rles.append(segmentation_to_rle(segm, h, w))
        except ValueError as e:
            raise _error(
                json_file, "frame {}: {}".format(f, e), video=video, annotation=ann,
                field="segmentations",
            ) from e
        frames.append(f)
    if not frames:
        return []
    areas = mask_util.area(rles)
    mask_boxes = mask_util.toBbox(rles)

    out = []
    for f, rle, area, mask_box in zip(frames, rles, areas, mask_boxes):
        if area == 0:  # an all-zero mask is as absent as null (the metric agrees)
            continue
        box = bboxes[f] if bboxes is not None else None
        if box is None:
            box = mask_box
        elif not (isinstance(box, (list, tuple)) and len(box) == 4):
            raise _error(
                json_file, "frame {}: expected [x, y, w, h], got {!r}".format(f, box),
                video=video, annotation=ann, field="bboxes",
            )
        out.append(
            (
                f,
                {
                    "instance_id": ann["id"],
                    "category_id": category,
                    "bbox": [float(v) for v in box],
                    "bbox_mode": BoxMode.XYWH_ABS,
                    "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                    "iscrowd": int(ann.get("iscrowd", 0) or 0),
                },
            )
        )
    return out


def _add_annotations(annotations, records_by_id, videos_by_id, id_map, json_file):
    """Regroup track annotations into each record's per-frame ``annotations`` lists."""
    for rec in records_by_id.values():
        rec["annotations"] = [[] for _ in range(rec["length"])]
    seen_ids = set()
    for ann in annotations:
        if not isinstance(ann, dict):
            raise _error(json_file, "entry {!r} is not an object".format(ann), field="annotations")
        video = videos_by_id.get(ann.get("video_id"))
        for key in _ANNOTATION_KEYS:
            if key not in ann:
                raise _error(json_file, "missing key", video=video, annotation=ann, field=key)
        if video is None:
            raise _error(
                json_file,
                "refers to unknown video id {}".format(ann["video_id"]),
                annotation=ann,
                field="video_id",
            )
        if ann["category_id"] not in id_map:
            raise _error(
                json_file,
                "unknown category id {} (known: {})".format(ann["category_id"], sorted(id_map)),
                video=video,
                annotation=ann,
                field="category_id",
            )
        if ann["id"] in seen_ids:
            raise _error(
                json_file, "duplicate annotation id", video=video, annotation=ann, field="id"
            )
        seen_ids.add(ann["id"])
        record = records_by_id[ann["video_id"]]
        category = id_map[ann["category_id"]]
        for f, instance in _frame_instances(ann, category, video, record, json_file):
            record["annotations"][f].append(instance)


# ------------------------------------------------------------------------------ public
def load_ytvis_json(json_file, image_root, dataset_name=None, check_files="first"):
    """Load a YouTube-VIS-format json (YouTube-VIS 2019 / 2021, OVIS) as per-video dicts.

    Args:
        json_file (str): path of the annotation json.
        image_root (str): directory the json's ``file_names`` are relative to.
        dataset_name (str or None): if given, the json's categories are checked against
            ``MetadataCatalog.get(dataset_name)`` (ids and names must agree, else
            :class:`YTVISFormatError`), or stored there when it has no category list yet.
        check_files (str or bool): which listed frames must exist on disk: ``"first"``
            (default, the first frame of every video: cheap), ``"all"`` or ``"none"``.
            ``True`` means ``"first"``, ``False`` means ``"none"``.

    Returns:
        list[dict]: one record per video, in json order::

            {"video_id": int,            # the json video id
             "file_names": [str],        # os.path.join(image_root, fn), listed order
             "length": int, "height": int, "width": int,
             "annotations": [            # ONLY when the json has annotations
                 [ {"instance_id": int,  # the json annotation (track) id
                    "category_id": int,  # contiguous 0..K-1 (json categories sorted by id)
                    "bbox": [x, y, w, h] floats, "bbox_mode": BoxMode.XYWH_ABS,
                    "segmentation": {"size": [h, w], "counts": str},
                    "iscrowd": 0 or 1}, ...],      # frame 0
                 ...]}                             # one list per listed frame

        Every segmentation (uncompressed RLE, compressed RLE, polygons) is converted to
        compressed RLE with ``str`` counts. A track has no entry in a frame where its
        segmentation is null or its mask is empty (a bbox alone is not enough); a null
        bbox next to a mask is computed from the mask. Videos whose frames are all empty
        are kept. Valid/test jsons (``annotations`` missing, null or empty) give records
        without the ``annotations`` key.

    Raises:
        YTVISFormatError: (a ValueError) naming the file, video and field on any format
            problem, including missing frame files.
    """
    if check_files is True:
        check_files = "first"
    elif check_files is False:
        check_files = "none"
    if check_files not in CHECK_FILES_MODES:
        raise ValueError(
            "check_files must be one of {}, got {!r}".format(CHECK_FILES_MODES, check_files)
        )

    timer = Timer()
    data = _read_json(json_file)
    _check_top_level(data, json_file)
    if timer.seconds() > 1:
        logger.info("Loading {} takes {:.2f} seconds.".format(json_file, timer.seconds()))

    categories = _parse_categories(data["categories"], json_file)
    if dataset_name is not None:
        _sync_metadata(dataset_name, json_file, categories)
    id_map = {c["id"]: i for i, c in enumerate(categories)}

    records, records_by_id, videos_by_id = [], {}, {}
    for video in data["videos"]:
        record = _parse_video(video, json_file, image_root)
        if record["video_id"] in records_by_id:
            raise _error(json_file, "duplicate video id", video=video, field="id")
        _check_frame_files(record, video, json_file, check_files)
        records.append(record)
        records_by_id[record["video_id"]] = record
        videos_by_id[record["video_id"]] = video

    annotations = data.get("annotations")
    if annotations:
        _add_annotations(annotations, records_by_id, videos_by_id, id_map, json_file)
    logger.info(
        "Loaded {} videos ({} annotations) in YouTube-VIS format from {}".format(
            len(records), len(annotations or []), json_file
        )
    )
    return records


def register_ytvis_instances(name, metadata, json_file, image_root, check_files="first"):
    """Register a YouTube-VIS-format json as dataset ``name`` in detectron2's catalogs.

    Loading is lazy: the json need not exist when this is called. ``metadata`` (e.g.
    ``thing_classes`` and ``thing_dataset_id_to_contiguous_id``) is stored with
    ``json_file``, ``image_root`` and ``evaluator_type="ytvis"``. Without ``thing_classes``
    the categories are read from the json when the dataset is first loaded (or call
    :func:`ytvis_metadata_from_json` yourself); with them, loading checks the json agrees.
    """
    assert isinstance(name, str), name
    assert isinstance(json_file, (str, os.PathLike)), json_file
    assert isinstance(image_root, (str, os.PathLike)), image_root
    json_file, image_root = os.fspath(json_file), os.fspath(image_root)
    DatasetCatalog.register(
        name, lambda: load_ytvis_json(json_file, image_root, name, check_files=check_files)
    )
    MetadataCatalog.get(name).set(
        json_file=json_file, image_root=image_root, evaluator_type="ytvis", **metadata
    )
