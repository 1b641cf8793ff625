"""The rules of a YouTube-VIS annotation json's videos, categories and annotations.

Both the training loader and the metric's ground-truth side call these functions, so a file is
accepted or refused alike by both, for the same reason. A broken rule raises
:class:`FormatProblem`, which knows where it is (video, annotation, field); each caller adds
the file name and raises its own error class. What the rules are:

- categories: objects with an integer ``id`` (unique) and a ``name``;
- videos: objects with an integer ``id`` (unique), positive integer ``height`` and ``width``,
  and a non-empty ``file_names`` list of strings with a ``length`` (if given) equal to its size;
  the metric, which reads no frames, also takes a positive integer ``length`` alone;
- annotations: objects with integer ``id`` (unique), ``video_id`` (a listed video) and
  ``category_id`` (a listed category); ``segmentations`` and, where present, ``bboxes`` and
  ``areas`` with one entry per frame of the video; each ``bboxes`` entry null or four finite
  numbers, each ``areas`` entry null or a finite number; ``iscrowd`` missing, null, 0 or 1.

What a segmentation must be is the RLE rule (:mod:`.rle`) plus what each reader accepts as a
mask (polygons, uncompressed or compressed RLE).
"""
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional

__all__ = ["FormatProblem", "is_int", "is_number", "check_categories", "index_videos",
           "video_length", "AnnotationRules"]

_VIDEO_KEYS = ("id", "file_names", "height", "width")
_ANNOTATION_KEYS = ("id", "video_id", "category_id", "segmentations")


class FormatProblem(ValueError):
    """A broken rule, with where it is broken: ``video`` / ``annotation`` (the json objects,
    or None) and ``field``."""

    def __init__(self, message: str, video: Optional[Mapping] = None,
                 annotation: Optional[Mapping] = None, field: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.video = video
        self.annotation = annotation
        self.field = field

    def located(self, source) -> str:
        """``"SOURCE: video id=3 ('name'): annotation id=7: field 'areas': MESSAGE"``."""
        where = [str(source)]
        if self.video is not None:
            where.append(describe_video(self.video))
        if self.annotation is not None:
            where.append("annotation id={}".format(self.annotation.get("id")))
        if self.field is not None:
            where.append("field '{}'".format(self.field))
        return "{}: {}".format(": ".join(where), self.message)


def describe_video(video: Mapping) -> str:
    """``"video id=3 ('name')"`` for a json video entry (the name may be missing)."""
    name = video.get("name")
    file_names = video.get("file_names")
    if name is None and isinstance(file_names, list) and file_names:
        name = os.path.dirname(str(file_names[0])) or None
    if name:
        return "video id={} ('{}')".format(video.get("id"), name)
    return "video id={}".format(video.get("id"))


def is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# ------------------------------------------------------------------------------ categories
def check_categories(categories: Iterable[Any]) -> List[Mapping]:
    """The categories sorted by id, after checking ids and names are present and ids unique."""
    seen = set()
    for c in categories:
        for key in ("id", "name"):
            if not isinstance(c, dict) or key not in c:
                raise FormatProblem("category {!r} lacks '{}'".format(c, key), field="categories")
        if not is_int(c["id"]):
            raise FormatProblem("category id {!r} is not an integer".format(c["id"]),
                                field="categories")
        if c["id"] in seen:
            raise FormatProblem("duplicate category id {}".format(c["id"]), field="categories")
        seen.add(c["id"])
    return sorted(categories, key=lambda c: c["id"])


# ------------------------------------------------------------------------------ videos
def _check_video(video: Any, need_files: bool) -> None:
    if not isinstance(video, dict):
        raise FormatProblem("video entry {!r} is not an object".format(video), field="videos")
    keys = _VIDEO_KEYS if need_files or "file_names" in video else ("id", "height", "width")
    for key in keys:
        if key not in video:
            raise FormatProblem("missing key", video=video, field=key)
    if not is_int(video["id"]):
        raise FormatProblem("must be an integer", video=video, field="id")
    file_names = video.get("file_names")
    if file_names is not None or need_files:
        if not isinstance(file_names, list) or not file_names:
            raise FormatProblem("must be a non-empty list", video=video, field="file_names")
        if not all(isinstance(fn, str) for fn in file_names):
            raise FormatProblem("must hold strings", video=video, field="file_names")
        length = video.get("length", len(file_names))
        if length != len(file_names):
            raise FormatProblem("length={} but file_names has {} entries".format(
                length, len(file_names)), video=video, field="length")
    elif not is_int(video.get("length")) or video["length"] <= 0:
        raise FormatProblem("must be a positive int where there are no file_names",
                            video=video, field="length")
    for key in ("height", "width"):
        if not is_int(video[key]) or video[key] <= 0:
            raise FormatProblem("must be a positive int", video=video, field=key)


def index_videos(videos: Iterable[Any], need_files: bool = True) -> Dict[int, Mapping]:
    """``{id: video}`` in json order, after checking every video and that ids are unique.
    ``need_files``: every video must list its frames (the loader reads them; the metric
    needs only their number, ``length``)."""
    out: Dict[int, Mapping] = {}
    for video in videos:
        _check_video(video, need_files)
        if video["id"] in out:
            raise FormatProblem("duplicate video id", video=video, field="id")
        out[video["id"]] = video
    return out


def video_length(video: Mapping) -> int:
    """Frames of a checked video."""
    file_names = video.get("file_names")
    return len(file_names) if file_names is not None else video["length"]


# ------------------------------------------------------------------------------ annotations
class AnnotationRules:
    """Checks annotations one by one against the (checked) videos and categories of their
    file; remembers the ids seen, so that a repeated id is refused."""

    def __init__(self, videos: Mapping[int, Mapping], category_ids: Iterable[int]):
        self.videos = videos
        self.category_ids = set(category_ids)
        self._seen_ids = set()

    def check(self, ann: Any) -> Mapping:
        """Check one annotation; returns its video."""
        if not isinstance(ann, dict):
            raise FormatProblem("entry {!r} is not an object".format(ann), field="annotations")
        video_id = ann.get("video_id")
        video = self.videos.get(video_id) if is_int(video_id) else None
        for key in _ANNOTATION_KEYS:
            if key not in ann:
                raise FormatProblem("missing key", video=video, annotation=ann, field=key)
        for key in ("id", "video_id", "category_id"):
            if not is_int(ann[key]):
                raise FormatProblem("must be an integer, got {!r}".format(ann[key]),
                                    video=video, annotation=ann, field=key)
        if video is None:
            raise FormatProblem("refers to unknown video id {}".format(ann["video_id"]),
                                annotation=ann, field="video_id")
        if ann["category_id"] not in self.category_ids:
            raise FormatProblem("unknown category id {} (known: {})".format(
                ann["category_id"], sorted(self.category_ids)), video=video, annotation=ann,
                field="category_id")
        if ann["id"] in self._seen_ids:
            raise FormatProblem("duplicate annotation id", video=video, annotation=ann,
                                field="id")
        self._seen_ids.add(ann["id"])

        length = video_length(video)
        _per_frame(ann, "segmentations", length, video, required=True)
        for key, per_entry in (("bboxes", 4), ("areas", None)):
            values = _per_frame(ann, key, length, video, required=False)
            if values is not None:
                _check_numbers(values, video, ann, key, per_entry)
        iscrowd = ann.get("iscrowd")
        if iscrowd is not None and (iscrowd not in (0, 1) or not is_int(iscrowd)):
            raise FormatProblem("must be 0 or 1, got {!r}".format(iscrowd), video=video,
                                annotation=ann, field="iscrowd")
        return video


def _per_frame(ann: Mapping, key: str, length: int, video: Mapping,
               required: bool) -> Optional[list]:
    """The per-frame list ``ann[key]`` (None where absent and not required), checked to have
    ``length`` entries."""
    values = ann.get(key)
    if values is None:
        if required:
            raise FormatProblem("missing key", video=video, annotation=ann, field=key)
        return None
    if not isinstance(values, list) or len(values) != length:
        raise FormatProblem("has {} entries, expected one per listed frame ({})".format(
            len(values) if isinstance(values, list) else type(values).__name__, length),
            video=video, annotation=ann, field=key)
    return values


def _check_numbers(values: list, video: Mapping, ann: Mapping, field: str,
                   per_entry: Optional[int]) -> None:
    """Each non-null entry is ``per_entry`` finite numbers (a list of that length), or one bare
    number when ``per_entry`` is None."""
    for f, v in enumerate(values):
        if v is None:
            continue
        nums = [v] if per_entry is None else v
        shape_ok = per_entry is None or (isinstance(v, list) and len(v) == per_entry)
        if not shape_ok or not all(is_number(x) for x in nums):
            what = "a number" if per_entry is None else "[x, y, w, h] numbers"
            raise FormatProblem("frame {}: expected {}, got {!r}".format(f, what, v),
                                video=video, annotation=ann, field=field)
        if not all(math.isfinite(x) for x in nums):
            raise FormatProblem("frame {}: {!r} is not finite".format(f, v), video=video,
                                annotation=ann, field=field)
