"""Ground truth: a YouTube-VIS annotation json, indexed per (video, category) for the metric.

By default (``strict=True``) the file must keep the format's rules, the same ones the training
loader applies (:mod:`masktrack_d2.format.annotations`): unknown video or category ids,
repeated ids, ``iscrowd`` other than 0 / 1, non-finite areas and the like stop with a
:class:`GroundTruthFormatError` naming the file, the annotation and the field. With
``strict=False`` (CLI ``--lenient``) the file is scored as the official loader reads it
(docs/evaluation.md, "Ground truth"): video ids ascending, json order within a video, only
categories listed in ``categories``, duplicated annotation ids resolved to the last annotation
carrying the id.
"""
import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
from pycocotools import mask as mask_util

from ...format.annotations import AnnotationRules, FormatProblem, check_categories, index_videos
from .common import PathLike, as_id, is_number, is_path, load_json
from .errors import GroundTruthFormatError
from .iou import TrackMasks
from ...format.rle import first_rle_problem

logger = logging.getLogger(__name__)

class GTTrack:
    """One ground-truth track (a json annotation) as the metric sees it."""

    __slots__ = ("id", "video_id", "category_id", "ignore", "crowd", "avg_area", "rles")

    def __init__(self, id, video_id, category_id, ignore, crowd, avg_area, rles):
        self.id = id
        self.video_id = video_id
        self.category_id = category_id
        self.ignore = ignore  # the official 'ignore' flag: truthiness of iscrowd
        self.crowd = crowd  # int(iscrowd) != 0: may be matched any number of times
        self.avg_area = avg_area
        self.rles = rles  # per frame: compressed RLE dict, or None where absent


class YTVISGroundTruth:
    """A YouTube-VIS annotation json, indexed and converted for evaluation.

    Attributes:
        dataset: the json dict as given (never modified).
        source: the file it came from, or ``"<dict>"``.
        videos: ``{video_id: video dict}``; ``video_ids``: sorted ids.
        categories: ``{category_id: category dict}``; ``category_ids``: sorted ids.
        tracks: ``{(video_id, category_id): [track, ...]}`` in json order, each track with
            ``id``, ``ignore``, ``crowd``, ``avg_area`` and ``rles`` (compressed RLE or None
            per frame).
    """

    def __init__(self, dataset: Mapping[str, Any], source: str = "<dict>", strict: bool = True):
        self.dataset = dataset
        self.source = source
        self.strict = strict
        if not isinstance(dataset, Mapping):
            raise GroundTruthFormatError(
                f"{source}: expected a YouTube-VIS annotation object (videos, annotations, "
                f"categories), got a JSON {type(dataset).__name__}"
                + (" (this looks like a results file)" if isinstance(dataset, list) else ""))
        for key in ("videos", "categories"):
            if not isinstance(dataset.get(key), list):
                raise GroundTruthFormatError(f"{source}: no '{key}' list; not a YouTube-VIS "
                                             "annotation file")
        annotations = dataset.get("annotations")
        if not annotations:
            raise GroundTruthFormatError(
                f"{source}: has no annotations (the official valid/test jsons carry none; those "
                "splits are scored by the evaluation server - evaluate on held-out train videos)")
        if strict:
            self._check_rules(dataset, annotations)

        self.videos: Dict[Any, Mapping] = {}
        for v in dataset["videos"]:
            try:
                self.videos[as_id(v["id"])] = v
            except (KeyError, TypeError):
                raise GroundTruthFormatError(f"{source}: a video entry has no 'id'") from None
        self.categories: Dict[Any, Mapping] = {}
        for c in dataset["categories"]:
            try:
                self.categories[as_id(c["id"])] = c
            except (KeyError, TypeError):
                raise GroundTruthFormatError(f"{source}: a category entry has no 'id'") from None
        self.video_ids = sorted(self.videos)
        self.category_ids = sorted(self.categories)
        self.tracks: Dict[Tuple[Any, Any], List[GTTrack]] = defaultdict(list)
        # compressed RLEs as given, and their (annotation, video id, frame): checked below
        self._given_rles: List[Mapping] = []
        self._given_at: List[tuple] = []
        self._index_annotations(annotations)
        found = first_rle_problem(self._given_rles)
        if found is not None:
            ann, vid, f = self._given_at[found[0]]
            problem = FormatProblem(f"frame {f}: {found[1]}", video=self.videos.get(vid),
                                    annotation=ann, field="segmentations")
            raise GroundTruthFormatError(problem.located(source))
        del self._given_rles, self._given_at
        self.tracks = dict(self.tracks)
        self._video_masks: Dict[Any, tuple] = {}

    # -- video geometry --------------------------------------------------------------------
    def video_size(self, video_id) -> Optional[Tuple[int, int]]:
        v = self.videos[video_id]
        if "height" in v and "width" in v:
            return int(v["height"]), int(v["width"])
        return None

    def video_length(self, video_id) -> Optional[int]:
        v = self.videos[video_id]
        if v.get("length") is not None:
            return int(v["length"])
        if v.get("file_names") is not None:
            return len(v["file_names"])
        return None

    def video_masks(self, video_id) -> Tuple[Dict[Any, Tuple[int, int]], "TrackMasks"]:
        """All GT tracks of a video as one TrackMasks (cached), and each category's rows."""
        hit = self._video_masks.get(video_id)
        if hit is None:
            offsets, seqs = {}, []
            for cat in self.category_ids:
                tracks = self.tracks.get((video_id, cat))
                if tracks:
                    offsets[cat] = (len(seqs), len(seqs) + len(tracks))
                    seqs.extend(t.rles for t in tracks)
            hit = self._video_masks[video_id] = (offsets, TrackMasks(seqs))
        return hit

    def category_name(self, category_id) -> str:
        return str(self.categories[category_id].get("name", category_id))

    # -- annotations -----------------------------------------------------------------------
    def _check_rules(self, dataset: Mapping[str, Any], annotations) -> None:
        """The format's rules (those the training loader applies) over the whole file."""
        try:
            videos = index_videos(dataset["videos"], need_files=False)
            categories = check_categories(dataset["categories"])
            rules = AnnotationRules(videos, [c["id"] for c in categories])
            if not isinstance(annotations, list):
                raise FormatProblem("must be a list", field="annotations")
            for ann in annotations:
                rules.check(ann)
        except FormatProblem as p:
            raise GroundTruthFormatError(p.located(self.source) + " (--lenient scores the "
                                         "file as the official evaluator reads it)") from None

    def _index_annotations(self, annotations) -> None:
        source = self.source
        for i, ann in enumerate(annotations):
            if not isinstance(ann, Mapping):
                raise GroundTruthFormatError(f"{source}: annotation #{i} is not an object")
            for key in ("id", "video_id", "category_id", "segmentations", "areas"):
                if key not in ann:
                    raise GroundTruthFormatError(
                        f"{source}: annotation #{i} (id {ann.get('id', '?')}, video "
                        f"{ann.get('video_id', '?')}) has no '{key}' field")
            if not is_number(ann["id"]):
                raise GroundTruthFormatError(f"{source}: annotation #{i} has a non-numeric id "
                                             f"{ann['id']!r}")

        # Selection and order as the official index gives them: video ids ascending, json
        # order within a video, categories of the json 'categories' only, annotations of
        # videos missing from 'videos' left out.
        by_video = defaultdict(list)
        for ann in annotations:
            by_video[as_id(ann["video_id"])].append(ann)
        skipped = len(annotations) - sum(len(by_video[v]) for v in self.video_ids if v in by_video)
        if skipped:
            logger.warning("%s: %d annotations belong to videos not listed in 'videos' and are "
                           "ignored", source, skipped)
        # The official loader looks annotations up by id, so with a duplicated id the last
        # annotation carrying it stands in for every one of them; reproduced, with a warning.
        by_id = {}
        for ann in annotations:
            by_id[as_id(ann["id"])] = ann
        if len(by_id) != len(annotations):
            logger.warning("%s: annotation ids are not unique (%d annotations, %d ids); as in the "
                           "official evaluator the last annotation with an id replaces the others",
                           source, len(annotations), len(by_id))
        if 0 in by_id:
            # a match is stored as the GT id, 0 reads as "unmatched" (docs/evaluation.md, "Ground truth")
            logger.warning("%s: an annotation has id 0; the official evaluator counts results "
                           "matched to it as false positives (GT ids should be >= 1)", source)

        converted: Dict[int, GTTrack] = {}
        cat_set = set(self.category_ids)
        for vid in self.video_ids:
            for ann in by_video.get(vid, ()):
                if as_id(ann["category_id"]) not in cat_set:
                    continue
                ann = by_id[as_id(ann["id"])]
                track = converted.get(id(ann))
                if track is None:
                    track = converted[id(ann)] = self._convert(ann)
                self.tracks[(track.video_id, track.category_id)].append(track)

    def _convert(self, ann) -> GTTrack:
        vid = as_id(ann["video_id"])
        if vid not in self.videos:
            raise GroundTruthFormatError(f"{self.source}: annotation {ann['id']} refers to "
                                         f"video {vid}, which is not in 'videos'")
        size = self.video_size(vid)
        segms = ann["segmentations"]
        if not isinstance(segms, list):
            raise GroundTruthFormatError(f"{self.source}: annotation {ann['id']} (video {vid}): "
                                         "'segmentations' is not a list")
        rles: List[Optional[dict]] = [None] * len(segms)
        uncompressed = []
        for f, segm in enumerate(segms):
            if not segm:  # None / {} / []: no mask in this frame (truthiness, as officially)
                continue
            if type(segm) is dict and type(segm.get("counts")) is str and "size" in segm:
                rles[f] = segm  # the common case: compressed RLE, checked after the loop
                self._given_rles.append(segm)
                self._given_at.append((ann, vid, f))
                continue
            where = f"{self.source}: annotation {ann['id']} (video {vid}) frame {f}"
            if isinstance(segm, list):  # polygons, merged into one mask
                if size is None:
                    raise GroundTruthFormatError(f"{where}: polygons need the video's height "
                                                 "and width")
                try:
                    rles[f] = mask_util.merge(mask_util.frPyObjects(segm, *size))
                except Exception as e:  # pycocotools raises bare Exceptions
                    raise GroundTruthFormatError(f"{where}: bad polygon ({e})") from None
            elif ((type(segm) is dict or isinstance(segm, Mapping))
                  and "counts" in segm and "size" in segm):
                if isinstance(segm["counts"], list):
                    uncompressed.append(f)
                elif isinstance(segm["counts"], (str, bytes)):
                    rles[f] = segm
                    self._given_rles.append(segm)
                    self._given_at.append((ann, vid, f))
                else:
                    raise GroundTruthFormatError(f"{where}: 'counts' is a "
                                                 f"{type(segm['counts']).__name__}")
            else:
                raise GroundTruthFormatError(f"{where}: unsupported segmentation (expected RLE "
                                             "{size, counts}, polygons or null)")
        if uncompressed:
            # One batched call; pycocotools takes the size of an uncompressed RLE from the
            # object itself, so this equals the official per-frame conversion.
            h, w = size if size is not None else segms[uncompressed[0]]["size"]
            objs = [{"size": list(segms[f]["size"]), "counts": segms[f]["counts"]}
                    for f in uncompressed]
            for f, rle in zip(uncompressed, mask_util.frPyObjects(objs, h, w)):
                rles[f] = rle
        # GT area = mean of the json areas over truthy entries; masks unused (docs/evaluation.md,
        # "Ground truth")
        areas = ann["areas"] if ann["areas"] is not None else []
        truthy = [a for a in areas if a]
        avg_area = np.array(truthy).mean() if truthy else 0
        iscrowd = ann.get("iscrowd") or 0  # missing iscrowd crashes the official code; 0 here
        return GTTrack(
            id=as_id(ann["id"]),
            video_id=vid,
            category_id=as_id(ann["category_id"]),
            ignore=bool(iscrowd),  # iscrowd is the only ignore flag; a json 'ignore' is unused
            crowd=int(iscrowd) != 0,
            avg_area=avg_area,
            rles=rles,
        )


def load_ytvis_gt(gt: Union[PathLike, Mapping[str, Any], YTVISGroundTruth],
                  strict: bool = True) -> YTVISGroundTruth:
    """Load YouTube-VIS ground truth.

    Args:
        gt: path of an official-format annotation json, the already-loaded dict, or a
            :class:`YTVISGroundTruth` (returned as is). Videos need ``id``, ``height``,
            ``width`` and ``length`` (or ``file_names``); annotations ``id`` (>= 1),
            ``video_id``, ``category_id``, ``iscrowd``, ``areas`` and per-frame
            ``segmentations`` (uncompressed RLE, compressed RLE, polygons or null).
        strict: apply the format's rules (:mod:`masktrack_d2.format.annotations`), as the
            training loader does; False reads the file as the official evaluator does. A
            :class:`YTVISGroundTruth` given is returned as it was loaded.

    Returns:
        the indexed ground truth, masks converted to compressed RLE once.

    Raises:
        GroundTruthFormatError: not a YouTube-VIS annotation file, one without annotations
            (the official valid / test jsons), or (strict) one that breaks the format's rules.
        OSError: the file cannot be read.
    """
    if isinstance(gt, YTVISGroundTruth):
        return gt
    if is_path(gt):
        dataset = load_json(gt, GroundTruthFormatError, "annotation")
        return YTVISGroundTruth(dataset, source=os.fspath(gt), strict=strict)
    if isinstance(gt, Mapping):
        return YTVISGroundTruth(gt, strict=strict)
    raise TypeError(f"gt must be a path, a dict or a YTVISGroundTruth, got {type(gt).__name__}")

