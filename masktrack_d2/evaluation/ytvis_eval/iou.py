"""Spatio-temporal mask IoU between tracks: the vectorised computation and the per-pair loop.

The official code computes every (result, GT) IoU with a Python loop over the frames, with two
``mask.merge`` and two ``mask.area`` calls per frame and pair (kept here as
:func:`iou_matrix_loop`, the reference). :func:`iou_matrix` measures all tracks of a video
together: one ``mask.area`` pass gives every mask's area, the frames where only one of a pair
has a mask are integer sums of areas, and the intersections of same-frame pairs come from a few
``mask.iou`` calls over chunks of frames, recovered exactly from the IoU and the two areas.
Pairs whose area-based IoU bound is below the lowest threshold need not be measured at all.
Tests check that both give identical IoUs.
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_util

from ...format.rle import rle_core

class TrackMasks:
    """The masks of a set of tracks as (N, F) arrays: presence, RLE height / width and (after
    :meth:`fill_areas`) RLE area; 0 where a track has no mask or has ended.

    ``present`` is Python truthiness of the frame entry (docs/evaluation.md, "Video IoU").
    ``objs``, ``track`` and ``frame`` list the present masks, track by track. They, and the
    presence and sizes, are indexed on first use: with known areas, the C extension reads
    the tracks themselves.
    """

    def __init__(self, seqs: Sequence[Sequence[Optional[Mapping]]],
                 areas: Optional[Sequence[Sequence[int]]] = None):
        self.seqs = seqs
        n = len(seqs)
        self.lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        self.n_frames = int(self.lengths.max()) if n else 0
        self.areas: Optional[np.ndarray] = None
        if areas is not None and n:  # known per-frame areas of the seqs (0 where absent)
            self.areas = np.zeros((n, self.n_frames), dtype=np.int64)
            for t, a in enumerate(areas):
                self.areas[t, :len(a)] = a
        self._index: Optional[dict] = None

    def _indexed(self) -> dict:
        if self._index is None:
            n, f_max = len(self.seqs), self.n_frames
            objs, track, frame = [], [], []
            for t, seq in enumerate(self.seqs):
                fs = [f for f, r in enumerate(seq) if r]
                objs.extend([seq[f] for f in fs])
                track.extend([t] * len(fs))
                frame.extend(fs)
            track = np.array(track, dtype=np.int64)
            frame = np.array(frame, dtype=np.int64)
            present = np.zeros((n, f_max), dtype=bool)
            present[track, frame] = True
            heights = np.zeros((n, f_max), dtype=np.int64)
            widths = np.zeros((n, f_max), dtype=np.int64)
            sizes = [o["size"] for o in objs]
            if sizes and sizes.count(sizes[0]) == len(sizes):  # usually all of the video's size
                heights[track, frame] = sizes[0][0]
                widths[track, frame] = sizes[0][1]
            elif sizes:
                sizes = np.array(sizes, dtype=np.int64).reshape(-1, 2)
                heights[track, frame] = sizes[:, 0]
                widths[track, frame] = sizes[:, 1]
            self._index = dict(objs=objs, track=track, frame=frame, present=present,
                               heights=heights, widths=widths)
        return self._index

    objs = property(lambda self: self._indexed()["objs"])
    track = property(lambda self: self._indexed()["track"])
    frame = property(lambda self: self._indexed()["frame"])
    present = property(lambda self: self._indexed()["present"])
    heights = property(lambda self: self._indexed()["heights"])
    widths = property(lambda self: self._indexed()["widths"])

    def fill_areas(self) -> "TrackMasks":
        """Compute the RLE area of every mask (one pass of the C extension or pycocotools)."""
        if self.areas is None:
            self.areas = np.zeros(self.present.shape, dtype=np.int64)
            self.areas[self.track, self.frame] = rle_areas(self.objs)
        return self

    def take(self, idx: Sequence[int]) -> "TrackMasks":
        """The tracks ``idx`` (areas included) as a new TrackMasks."""
        self.fill_areas()
        idx = np.asarray(idx, dtype=np.int64)
        return TrackMasks([self.seqs[i] for i in idx.tolist()], self.areas[idx])

    def padded(self, name: str, n_frames: int) -> np.ndarray:
        a = getattr(self, name)
        if a.shape[1] == n_frames:
            return a
        out = np.zeros((a.shape[0], n_frames), dtype=a.dtype)
        out[:, : a.shape[1]] = a
        return out

    def mean_areas(self) -> np.ndarray:
        """Per track: mean RLE area over frames with a non-empty mask (:func:`mean_track_areas`)."""
        return mean_track_areas(self.areas)


def mean_track_areas(areas) -> np.ndarray:
    """(N,) float64: per track, the mean of its RLE areas over frames with a non-empty mask, 0
    if none (docs/evaluation.md, "Results"). Integer sum, one division, like numpy's mean.

    Args:
        areas: (N, F) int array, or N sequences of per-frame areas (0 where no mask).
    """
    if not isinstance(areas, np.ndarray):  # per-track sums over one concatenation
        lengths = np.fromiter(map(len, areas), np.int64, len(areas))
        flat = np.concatenate([np.asarray(a, dtype=np.int64) for a in areas]
                              + [np.zeros(1, np.int64)])  # reduceat needs a valid last start
        start = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        total = np.where(lengths > 0, np.add.reduceat(flat, start), 0)
        count = np.where(lengths > 0, np.add.reduceat((flat != 0).astype(np.int64), start), 0)
    else:
        count = np.count_nonzero(areas, axis=1)
        total = areas.sum(axis=1)
    out = np.zeros(len(count), dtype=np.float64)
    np.divide(total, count, out=out, where=count > 0)
    return out


def rle_areas(objs: List[Mapping]) -> np.ndarray:
    """(N,) int64 RLE areas of compressed RLE dicts already checked (:mod:`.rle`)."""
    if not objs:
        return np.zeros(0, dtype=np.int64)
    core = rle_core()
    if core is not None and all(type(o) is dict for o in objs):
        return np.frombuffer(core.scan(list(objs))[0], dtype=np.int64)
    # pycocotools' area() breaks on lists of more than 255 RLEs under NumPy 2 (it builds a
    # uint8 array holding the list length), so call it in chunks.
    return np.concatenate([mask_util.area(objs[i:i + 255]) for i in range(0, len(objs), 255)])


# Frames are put into one mask.iou call until its output would exceed this many cells:
# fewer calls (Python overhead) against more pairs from different frames (bounding boxes).
_IOU_CALL_CELLS = 4096


def iou_matrix(dm: TrackMasks, gm: TrackMasks,
                    min_iou: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Spatio-temporal IoU matrix (D, G), and where the union is empty (D, G) bool.

    Also fills ``dm.areas`` and ``gm.areas`` if not done yet. With ``min_iou``, pairs whose
    IoU provably stays below it are not measured and come back as NaN: the matching never
    looks at an IoU below the lowest threshold.

    How: with the RLE areas of every mask, the frames where only one of a pair has a mask
    and the frames where both have masks of different sizes (adding nothing; docs/
    evaluation.md, "Video IoU") are sums of areas. Only the intersections of same-frame,
    same-size pairs need the masks themselves: the masks of several frames go into one
    ``mask.iou`` call, each relabelled with the size [h, w + frame]. pycocotools reads only
    the height when it decodes a mask and computes its bounding box (the width only bounds
    the box from above), so nothing changes for a mask, but masks of different frames now
    differ in size and for such a pair mask.iou stops after the bounding-box test. From
    iou = i / (a + b - i) the intersection is i = iou (a + b) / (1 + iou), exact after
    rounding (the float error is far below 0.5 pixel for any frame size).
    """
    D, G = len(dm.seqs), len(gm.seqs)
    if D == 0 or G == 0:
        return np.zeros((D, G)), np.zeros((D, G), dtype=bool)
    core = rle_core()
    if core is not None:
        return iou_matrix_core(core, dm, gm, min_iou)
    dm.fill_areas()
    gm.fill_areas()
    F = max(dm.present.shape[1], gm.present.shape[1])
    pd, pg = dm.padded("present", F), gm.padded("present", F)
    ad, ag = dm.padded("areas", F), gm.padded("areas", F)

    # Frames where only one has a mask add its area to the union. Frames beyond the shorter
    # of the two lists are ignored (zip truncation, docs/evaluation.md "Video IoU"), hence prefix sums up to
    # min(len_d, len_g); a list has no mask beyond its own end, so the frames where both
    # have a mask are simply all f with both present.
    stop = np.minimum(dm.lengths[:, None], gm.lengths[None, :])
    cum_g = np.zeros((G, F + 1), dtype=np.int64)
    np.cumsum(ag, axis=1, out=cum_g[:, 1:])
    cum_d = np.zeros((D, F + 1), dtype=np.int64)
    np.cumsum(ad, axis=1, out=cum_d[:, 1:])
    only = (cum_g[np.arange(G)[None, :], stop] - pd.astype(np.int64) @ ag.T
            + cum_d[np.arange(D)[:, None], stop] - ad @ pg.astype(np.int64).T)

    # (F, D, G): both have a mask of the same size. A frame whose two RLE sizes differ adds
    # 0 to both sums (the official merge returns an empty mask).
    both = ((pd.T[:, :, None] & pg.T[:, None, :])
            & (dm.padded("heights", F).T[:, :, None] == gm.padded("heights", F).T[:, None, :])
            & (dm.padded("widths", F).T[:, :, None] == gm.padded("widths", F).T[:, None, :]))
    a_d, a_g = ad.T[:, :, None], ag.T[:, None, :]
    measure = both.any(axis=0)  # pairs that need intersections
    pruned = None
    if min_iou is not None:
        # IoU = I / U <= sum(min(a_d, a_g)) / (sum(max(a_d, a_g)) + only): an intersection is
        # at most the smaller mask. Pairs clearly below min_iou are skipped.
        upper_num = np.where(both, np.minimum(a_d, a_g), 0).sum(axis=0)
        upper_den = np.where(both, np.maximum(a_d, a_g), 0).sum(axis=0) + only
        pruned = measure & (upper_num < (min_iou - 1e-9) * upper_den)
        measure &= ~pruned
    need = both & measure[None]

    inter, union_both = _intersections(dm, gm, need, a_d, a_g)
    union = only + union_both
    # pairs without same-size frames in common: intersection 0, union = the "only" sums

    # int64 sums, one float64 division (the official float sums of integers are exact too)
    ious = np.zeros((D, G), dtype=np.float64)
    nz = union > 0
    ious[nz] = inter[nz] / union[nz]
    empty = ~nz
    if pruned is not None:
        ious[pruned] = np.nan
        empty &= ~pruned
    return ious, empty


def _intersections(dm: TrackMasks, gm: TrackMasks, need: np.ndarray,
                   a_d: np.ndarray, a_g: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Sums over frames of the intersections (D, G) and of the unions (D, G) of the
    (frame, result, GT) triples ``need`` (F, D, G), from ``mask.iou`` calls (``a_d``
    (F, D, 1), ``a_g`` (F, 1, G): areas): the masks of several frames go into one call, each
    relabelled with the size [h, w + frame], and each intersection is recovered from its IoU."""
    F, D, G = need.shape
    need_d, need_g = need.any(axis=2), need.any(axis=1)  # (F, D), (F, G)
    inter = np.zeros((D, G), dtype=np.int64)
    union = np.zeros((D, G), dtype=np.int64)
    frames_to_do = np.flatnonzero(need_d.any(axis=1))
    n_d, n_g = need_d.sum(axis=1), need_g.sum(axis=1)
    k = 0
    while k < len(frames_to_do):
        j = k + 1  # grow the chunk of frames while the mask.iou output stays small
        while (j < len(frames_to_do) and n_d[frames_to_do[k:j + 1]].sum()
               * n_g[frames_to_do[k:j + 1]].sum() <= _IOU_CALL_CELLS):
            j += 1
        frames = frames_to_do[k:j]
        k = j
        fd, td = np.nonzero(need_d[frames])  # chunk frame index, track
        fg, tg = np.nonzero(need_g[frames])
        rows = [{"size": [int(dm.heights[t, f]), int(dm.widths[t, f]) + f],
                 "counts": dm.seqs[t][f]["counts"]}
                for t, f in zip(td.tolist(), frames[fd].tolist())]
        cols = [{"size": [int(gm.heights[t, f]), int(gm.widths[t, f]) + f],
                 "counts": gm.seqs[t][f]["counts"]}
                for t, f in zip(tg.tolist(), frames[fg].tolist())]
        block = np.zeros((len(rows) + 1, len(cols) + 1))  # last row / column: not measured
        block[:-1, :-1] = np.asarray(mask_util.iou(rows, cols, np.zeros(len(cols), np.uint8)),
                                     dtype=np.float64).reshape(len(rows), len(cols))
        row_of = np.full((len(frames), D), len(rows))
        row_of[fd, td] = np.arange(len(rows))
        col_of = np.full((len(frames), G), len(cols))
        col_of[fg, tg] = np.arange(len(cols))
        sel = need[frames]
        iou = np.where(sel, block[row_of[:, :, None], col_of[:, None, :]], 0.0)
        area_sum = a_d[frames] + a_g[frames]
        inter_f = np.rint(iou * area_sum / (1.0 + iou)).astype(np.int64)
        inter += inter_f.sum(axis=0)
        union += np.where(sel, area_sum - inter_f, 0).sum(axis=0)
    return inter, union


def iou_matrix_loop(d_seqs, g_seqs) -> Tuple[np.ndarray, np.ndarray]:
    """Reference: the per-pair, per-frame loop with pycocotools merge / area."""
    ious = np.zeros((len(d_seqs), len(g_seqs)), dtype=np.float64)
    empty = np.zeros((len(d_seqs), len(g_seqs)), dtype=bool)
    for i, d_seq in enumerate(d_seqs):
        for j, g_seq in enumerate(g_seqs):
            inter = union = 0.0
            for d, g in zip(d_seq, g_seq):
                if d and g:
                    inter += mask_util.area(mask_util.merge([d, g], intersect=True))
                    union += mask_util.area(mask_util.merge([d, g], intersect=False))
                elif g:
                    union += mask_util.area(g)
                elif d:
                    union += mask_util.area(d)
            if union > 0:
                ious[i, j] = inter / union
            else:
                empty[i, j] = True
    return ious, empty


def mean_areas_loop(seqs) -> np.ndarray:
    """Result areas the plain way: per track, mask.area of its masks, mean of the non-zero."""
    out = np.zeros(len(seqs), dtype=np.float64)
    for t, seq in enumerate(seqs):
        areas = rle_areas([r for r in seq if r])
        areas = areas[areas > 0]
        if areas.size:
            out[t] = areas.mean()
    return out


def iou_matrix_core(core, dm: TrackMasks, gm: TrackMasks,
                    min_iou: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`iou_matrix` in one C call (``core``: :func:`masktrack_d2.format.rle.rle_core`), same results: the
    area terms and the pruning from the areas, then each mask a measured pair needs is
    decoded once and the runs of the two masks are intersected."""
    D, G = len(dm.seqs), len(gm.seqs)
    dm.fill_areas()
    gm.fill_areas()
    inter, union = core.video_iou(
        [s if type(s) is list else list(s) for s in dm.seqs],
        [s if type(s) is list else list(s) for s in gm.seqs],
        np.ascontiguousarray(dm.areas, dtype=np.int64).tobytes(),
        np.ascontiguousarray(gm.areas, dtype=np.int64).tobytes(),
        -1.0 if min_iou is None else float(min_iou))
    inter = np.frombuffer(inter, dtype=np.int64).reshape(D, G)
    union = np.frombuffer(union, dtype=np.int64).reshape(D, G)
    ious = np.zeros((D, G), dtype=np.float64)
    nz = union > 0
    ious[nz] = inter[nz] / union[nz]  # int64 sums, one float64 division, as iou_matrix
    pruned = union < 0
    ious[pruned] = np.nan
    return ious, union == 0


def video_iou(dt_seqs: Sequence[Sequence[Optional[Mapping]]],
              gt_seqs: Sequence[Sequence[Optional[Mapping]]]) -> np.ndarray:
    """Spatio-temporal mask IoU between result tracks and GT tracks (vectorised).

    Args:
        dt_seqs, gt_seqs: tracks, each a list with one compressed RLE (or a falsy value: no
            mask) per frame.

    Returns:
        (len(dt_seqs), len(gt_seqs)) float64 array of
        ``sum_f |d_f & g_f| / sum_f |d_f | g_f|`` over the zipped frames, exactly as
        :func:`video_iou_loop` (and the official evaluator) computes it.
    """
    return iou_matrix(TrackMasks(dt_seqs), TrackMasks(gt_seqs))[0]


def video_iou_loop(dt_seqs: Sequence[Sequence[Optional[Mapping]]],
                   gt_seqs: Sequence[Sequence[Optional[Mapping]]]) -> np.ndarray:
    """Same as :func:`video_iou`, computed the official way: a Python loop over pairs and
    frames with ``mask.merge`` / ``mask.area`` (the reference and the benchmark baseline)."""
    return iou_matrix_loop(dt_seqs, gt_seqs)[0]

