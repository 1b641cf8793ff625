"""YouTube-VIS / OVIS annotation json -> detectron2 per-video dataset dicts.

The official json (YouTube-VIS 2019, 2021 and OVIS share it) has one entry per *video* and
one annotation per *object track*, with per-frame lists ``segmentations`` / ``bboxes`` /
``areas`` that hold ``null`` where the object is not visible. :func:`load_ytvis_json`
turns it into one record per video whose ``annotations`` are regrouped per frame (see its
docstring for the exact schema), and :func:`register_ytvis_instances` registers such a
json in detectron2's catalogs.

What a valid file is lives in :mod:`masktrack_d2.format` (shared with the metric); the masks
are converted by :mod:`.ytvis_masks` and large conversions cached by :mod:`.records_cache`.
"""
import json
import logging
import os

import pycocotools.mask as mask_util
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager
from fvcore.common.timer import Timer

from ...format.annotations import (
    AnnotationRules,
    FormatProblem,
    check_categories,
    index_videos,
)
from . import records_cache
from .ytvis_masks import segmentation_to_rle, segmentations_to_rles
from .ytvis_json import loads, read_ytvis_json

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



class YTVISFormatError(ValueError):
    """A YouTube-VIS json (or the frames it lists) is not what the loader expects.

    The message always names the json file, and the video / annotation / field involved
    when there is one.
    """


def _error(json_file, message, video=None, annotation=None, field=None):
    """Build a :class:`YTVISFormatError` whose message locates the problem."""
    return _located(FormatProblem(message, video, annotation, field), json_file)


def _located(problem, json_file):
    """The :class:`YTVISFormatError` of a broken format rule in ``json_file``."""
    return YTVISFormatError(problem.located(json_file))


# ------------------------------------------------------------------------------ json level
def _read_json(json_file):
    """Parse all of ``json_file``; invalid JSON becomes a YTVISFormatError keeping the
    position."""
    with PathManager.open(json_file, "rb") as f:
        try:
            return loads(f.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _error(json_file, "not valid JSON ({})".format(e)) from e


def _read_json_lazily(json_file):
    """(top level without annotations, annotation iterator or raw value, count) of
    ``json_file`` (see :func:`read_ytvis_json`); invalid JSON becomes a YTVISFormatError
    keeping the position."""
    try:
        return read_ytvis_json(PathManager.get_local_path(json_file))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _error(json_file, "not valid JSON ({})".format(e)) from e


def _check_top_level(data, json_file, annotations=None, num_annotations=None):
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
    # read_ytvis_json counts the annotations exactly when they are a list.
    if annotations is not None and num_annotations is None:
        raise _error(json_file, "must be a list", field="annotations")


def _parse_categories(categories, json_file):
    """The json's categories sorted by id (the format's rules checked)."""
    try:
        return check_categories(categories)
    except FormatProblem as p:
        raise _located(p, json_file) from None


def ytvis_metadata_from_json(json_file):
    """Metadata derived from a json's own ``categories`` (sorted by id).

    Returns:
        dict with ``thing_classes`` (names in contiguous order) and
        ``thing_dataset_id_to_contiguous_id`` (json category id -> index 0..K-1).
    """
    data, annotations, num_annotations = _read_json_lazily(json_file)
    _check_top_level(data, json_file, annotations, num_annotations)
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
def _video_record(video, image_root):
    """A per-video record (without annotations) from a checked json video entry."""
    return {
        "video_id": video["id"],
        "file_names": [os.path.join(image_root, fn) for fn in video["file_names"]],
        "length": len(video["file_names"]),
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


def _frame_instances(ann, category, video, record, json_file):
    """[(frame index, instance dict)] for the frames where the track is visible; ``ann`` has
    passed the format's rules."""
    h, w = record["height"], record["width"]
    segms, bboxes = ann["segmentations"], ann.get("bboxes")
    iscrowd = ann.get("iscrowd") or 0

    # A box without a mask cannot be trained on with masks on; treat it as absent.
    frames = [f for f, segm in enumerate(segms) if segm is not None]
    if not frames:
        return []
    try:
        rles = segmentations_to_rles([segms[f] for f in frames], h, w)
    except ValueError as e:
        f = frames[e.args[1]]
        raise _error(json_file, "frame {}: {}".format(f, e.args[0]), video=video,
                     annotation=ann, field="segmentations") from e
    areas = mask_util.area(rles)
    mask_boxes = mask_util.toBbox(rles)

    out = []
    for f, rle, area, mask_box in zip(frames, rles, areas, mask_boxes):
        if area == 0:  # an all-zero mask is as absent as null (the metric agrees)
            continue
        box = bboxes[f] if bboxes is not None else None
        if box is None:
            box = mask_box
        out.append(
            (
                f,
                {
                    "instance_id": ann["id"],
                    "category_id": category,
                    "bbox": [float(v) for v in box],
                    "bbox_mode": BoxMode.XYWH_ABS,
                    "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                    "iscrowd": int(iscrowd),
                },
            )
        )
    return out


def _add_annotations(annotations, records_by_id, rules, id_map, json_file):
    """Regroup track annotations into each record's per-frame ``annotations`` lists."""
    for rec in records_by_id.values():
        rec["annotations"] = [[] for _ in range(rec["length"])]
    for ann in annotations:
        try:
            video = rules.check(ann)
        except FormatProblem as p:
            raise _located(p, json_file) from None
        record = records_by_id[ann["video_id"]]
        category = id_map[ann["category_id"]]
        for f, instance in _frame_instances(ann, category, video, record, json_file):
            record["annotations"][f].append(instance)


# ------------------------------------------------------------------------------ public
def load_ytvis_json(json_file, image_root, dataset_name=None, check_files="first",
                    cache_dir=None):
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
        cache_dir (str or None): where the converted records of a json of at least
            ``records_cache.CACHE_MIN_BYTES`` are cached (None:
            :func:`records_cache.records_cache_dir`; ``""``: no cache). A cache file is named
            by a digest of the json's content (and the image root), so a changed json is
            converted again; it holds data only (numpy arrays and json, read without pickle).
            The frame files and the registered categories are checked on every load.

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
    cached = records_cache.cache_file(json_file, image_root, cache_dir)
    loaded = records_cache.read_cache(cached) if cached else None
    from_cache = loaded is not None
    if loaded is None:
        loaded = _convert(json_file, image_root)
        if cached:
            records_cache.write_cache(cached, loaded)
    categories, records, video_names, num_annotations = loaded
    if dataset_name is not None:
        _sync_metadata(dataset_name, json_file, categories)
    for record, name in zip(records, video_names):
        _check_frame_files(record, {"id": record["video_id"], "name": name}, json_file,
                           check_files)
    logger.info(
        "Loaded {} videos ({} annotations) in YouTube-VIS format from {}{} in {:.2f} s".format(
            len(records), num_annotations or 0, json_file,
            " (records from the cache)" if from_cache else "", timer.seconds()
        )
    )
    return records


def _convert(json_file, image_root):
    """(categories, records, video names for messages, number of annotations) of a json."""
    data, annotations, num_annotations = _read_json_lazily(json_file)
    _check_top_level(data, json_file, annotations, num_annotations)
    categories = _parse_categories(data["categories"], json_file)
    id_map = {c["id"]: i for i, c in enumerate(categories)}

    try:
        videos_by_id = index_videos(data["videos"])
    except FormatProblem as p:
        raise _located(p, json_file) from None
    records = [_video_record(video, image_root) for video in videos_by_id.values()]
    records_by_id = {record["video_id"]: record for record in records}
    names = [video.get("name") or os.path.dirname(video["file_names"][0]) or None
             for video in videos_by_id.values()]

    if num_annotations:
        rules = AnnotationRules(videos_by_id, id_map)
        try:  # the annotations are parsed while they are converted
            _add_annotations(annotations, records_by_id, rules, id_map, json_file)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _error(json_file, "not valid JSON ({})".format(e)) from e
    categories = [{"id": c["id"], "name": c["name"]} for c in categories]
    return categories, records, names, num_annotations


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
