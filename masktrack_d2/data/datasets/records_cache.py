"""A cache of converted YouTube-VIS records that holds data only.

Converting the json of a large training set (YouTube-VIS 2019 train: 262 MB) takes seconds in
every training process; the converted records are therefore kept on disk. The cache file is a
numpy ``.npz`` read with ``allow_pickle=False``: arrays of numbers and bytes plus one json
header, so a cache file written by someone else can at worst hold wrong data (the digest in its
name and the header's version guard against stale ones), never run code.

Layout (one file per json content and image root)::

    header          uint8[...]  json: version, categories, video names, number of annotations,
                                videos (video_id, file_names, length, height, width)
    video, frame    int32[N]    which record and frame each instance belongs to, in order
    instance_id     int64[N]
    category_id     int32[N]    contiguous
    bbox            float64[N, 4]  XYWH_ABS
    iscrowd         uint8[N]
    counts          uint8[...]  the compressed RLE strings, concatenated
    counts_end      int64[N]    where each instance's string ends in ``counts``
"""
import contextlib
import hashlib
import json
import logging
import os
from typing import List, Optional, Tuple

import numpy as np
from detectron2.structures import BoxMode
from detectron2.utils.file_io import PathManager

from ...utils.file_io import atomic_write

__all__ = ["CACHE_MIN_BYTES", "records_cache_dir", "cache_file", "read_cache", "write_cache"]

logger = logging.getLogger(__name__)

#: Jsons at least this large keep a cache of their converted records (smaller ones convert
#: in well under a second).
CACHE_MIN_BYTES = 16 << 20
# Bump when the records, the checks or the layout change, so older caches are not used.
_CACHE_VERSION = 2
_SUFFIX = ".npz"

# (categories, records, video names for messages, number of annotations): what the loader
# converts a json into, and what the cache stores.
Loaded = Tuple[list, List[dict], list, Optional[int]]


def records_cache_dir() -> str:
    """Where converted records of large jsons are cached: ``$MASKTRACK_D2_CACHE_DIR``, else
    ``output/.cache/ytvis_records`` under the working directory. An empty
    ``MASKTRACK_D2_CACHE_DIR`` turns the cache off."""
    return os.environ.get("MASKTRACK_D2_CACHE_DIR",
                          os.path.join("output", ".cache", "ytvis_records"))


def cache_file(json_file: str, image_root: str, cache_dir: Optional[str]) -> Optional[str]:
    """The cache file for this json's current content, or None (no cache for it).

    The name holds a SHA-1 digest of the json's bytes (with the image root and the cache
    version), so a json that changed in any way, even to the same size within one timestamp
    tick, gets another name: a stale cache is never read. Hashing costs a fraction of a second
    for YouTube-VIS 2019 train, against seconds of conversion."""
    if cache_dir is None:
        cache_dir = records_cache_dir()
    if not cache_dir:
        return None
    try:
        local = PathManager.get_local_path(json_file)
        if os.path.getsize(local) < CACHE_MIN_BYTES:
            return None
        content = hashlib.sha1()
        with open(local, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                content.update(block)
    except OSError:
        return None
    path = os.path.realpath(local)
    key = (content.hexdigest(), os.fspath(image_root), _CACHE_VERSION)
    stem = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    digest = hashlib.sha1(repr(key).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return os.path.join(cache_dir, "{}-{}{}".format(stem, digest, _SUFFIX))


def _to_arrays(loaded: Loaded) -> dict:
    categories, records, names, num_annotations = loaded
    video, frame, inst, cat, bbox, crowd, counts = [], [], [], [], [], [], []
    for v, record in enumerate(records):
        for f, instances in enumerate(record.get("annotations") or ()):
            for a in instances:
                video.append(v)
                frame.append(f)
                inst.append(a["instance_id"])
                cat.append(a["category_id"])
                bbox.append(a["bbox"])
                crowd.append(a["iscrowd"])
                counts.append(a["segmentation"]["counts"].encode("ascii"))
    header = {
        "version": _CACHE_VERSION,
        "categories": categories,
        "names": names,
        "num_annotations": num_annotations,
        "videos": [{k: r[k] for k in ("video_id", "file_names", "length", "height", "width")}
                   for r in records],
        "annotated": [("annotations" in r) for r in records],
    }
    return {
        "header": np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8),
        "video": np.asarray(video, dtype=np.int32),
        "frame": np.asarray(frame, dtype=np.int32),
        "instance_id": np.asarray(inst, dtype=np.int64),
        "category_id": np.asarray(cat, dtype=np.int32),
        "bbox": np.asarray(bbox, dtype=np.float64).reshape(-1, 4),
        "iscrowd": np.asarray(crowd, dtype=np.uint8),
        "counts": np.frombuffer(b"".join(counts), dtype=np.uint8),
        "counts_end": np.cumsum([len(c) for c in counts], dtype=np.int64),
    }


def _from_arrays(z) -> Loaded:
    header = json.loads(bytes(z["header"]).decode("utf-8"))
    if header.get("version") != _CACHE_VERSION:
        raise ValueError("cache version {} (expected {})".format(header.get("version"),
                                                                 _CACHE_VERSION))
    records = []
    for video, annotated in zip(header["videos"], header["annotated"]):
        record = dict(video)
        if annotated:
            record["annotations"] = [[] for _ in range(record["length"])]
        records.append(record)
    counts = bytes(z["counts"])
    ends = z["counts_end"].tolist()
    starts = [0] + ends[:-1]
    for v, f, i, c, box, crowd, a, b in zip(
            z["video"].tolist(), z["frame"].tolist(), z["instance_id"].tolist(),
            z["category_id"].tolist(), z["bbox"].tolist(), z["iscrowd"].tolist(), starts, ends):
        record = records[v]
        record["annotations"][f].append({
            "instance_id": i,
            "category_id": c,
            "bbox": box,
            "bbox_mode": BoxMode.XYWH_ABS,
            "segmentation": {"size": [record["height"], record["width"]],
                             "counts": counts[a:b].decode("ascii")},
            "iscrowd": crowd,
        })
    return header["categories"], records, header["names"], header["num_annotations"]


def read_cache(path: str) -> Optional[Loaded]:
    """The records stored in ``path``, or None if there is none or it cannot be read (a
    damaged or foreign cache file is only a miss)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            loaded = _from_arrays(z)
    except FileNotFoundError:
        return None
    except Exception as e:
        logger.warning("ignoring the unreadable records cache {} ({})".format(path, e))
        return None
    logger.info("Read the converted records from the cache {}".format(path))
    return loaded


def write_cache(path: str, loaded: Loaded) -> None:
    """Write atomically; remove the caches of earlier versions of the same json."""
    stem = os.path.basename(path).split("-")[0]
    folder = os.path.dirname(path)
    try:
        with atomic_write(path, "wb") as f:
            np.savez(f, **_to_arrays(loaded))
        for name in os.listdir(folder):
            if name.startswith(stem + "-") and name != os.path.basename(path):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(folder, name))
    except OSError as e:
        logger.warning("could not write the records cache {} ({})".format(path, e))
