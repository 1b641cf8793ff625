"""Association metrics of one category's tracks: HOTA, Identity (IDF1) and CLEAR (MOTA).

The definitions and the ways of combining follow TrackEval (JonathonLuiten/TrackEval), the
reference implementation of these metrics, so that the numbers agree with it to rounding:

* a *sequence* is one video seen through one category: per frame, the ids of the GT tracks
  and of the predicted tracks that have a mask there, and their (n_gt, n_pred) mask IoU;
* :func:`hota_sequence`, :func:`identity_sequence` and :func:`clear_sequence` score one
  sequence and return counts plus the ratios derived from them;
* :func:`combine` pools sequences (or categories) by summing the counts and recomputing the
  ratios; :func:`class_average` averages the ratios of categories with equal weight.

Every array field of HOTA has one entry per localisation threshold alpha in :data:`ALPHAS`;
the headline numbers are their means.

Ties matter: the per-frame assignments (HOTA, CLEAR) are solved with scipy's
``linear_sum_assignment`` on matrices built with the same operations, in the same row
(GT, json order) and column (predictions, file order) order as TrackEval, so equal-score ties
resolve the same way.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: HOTA's localisation thresholds: 0.05, 0.10, ..., 0.95
ALPHAS = np.arange(0.05, 0.99, 0.05)
#: IoU needed for a match in Identity and CLEAR
MATCH_THRESHOLD = 0.5
_EPS = np.finfo(float).eps


def linear_sum_assignment(cost: np.ndarray):
    """scipy's solver (TrackEval's), imported on first use: importing scipy.optimize takes
    ~1 s, which the AP-only paths that import this package should not pay."""
    from scipy.optimize import linear_sum_assignment as solve

    return solve(cost)

HOTA_COUNT_FIELDS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
HOTA_ARRAY_FIELDS = ("HOTA", "DetA", "AssA", "DetRe", "DetPr", "AssRe", "AssPr", "LocA", "OWTA")
HOTA_SCALAR_FIELDS = ("HOTA(0)", "LocA(0)", "HOTALocA(0)")
IDENTITY_COUNT_FIELDS = ("IDTP", "IDFN", "IDFP")
IDENTITY_RATIO_FIELDS = ("IDF1", "IDR", "IDP")
CLEAR_COUNT_FIELDS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag",
                      "CLR_Frames")
CLEAR_RATIO_FIELDS = ("MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA",
                      "CLR_F1", "FP_per_frame", "MOTAL", "MOTP_sum")


@dataclass
class TrackSequence:
    """One video's detections of one category, frame by frame.

    Attributes:
        gt_ids: per frame, (n_gt_t,) int array of GT track ids in 0..num_gt_ids-1.
        pred_ids: per frame, (n_pred_t,) int array of predicted track ids in
            0..num_pred_ids-1.
        similarity: per frame, (n_gt_t, n_pred_t) float mask IoU.
        num_gt_ids, num_pred_ids: number of distinct ids (each appears in some frame).
    """

    gt_ids: List[np.ndarray]
    pred_ids: List[np.ndarray]
    similarity: List[np.ndarray]
    num_gt_ids: int
    num_pred_ids: int

    @property
    def num_frames(self) -> int:
        return len(self.gt_ids)

    @property
    def num_gt_dets(self) -> int:
        return sum(len(g) for g in self.gt_ids)

    @property
    def num_pred_dets(self) -> int:
        return sum(len(p) for p in self.pred_ids)


# ------------------------------------------------------------------------------------------
# HOTA
# ------------------------------------------------------------------------------------------
def hota_sequence(seq: TrackSequence) -> Dict[str, np.ndarray]:
    """HOTA and its parts for one sequence; array fields have one value per alpha."""
    n_a = len(ALPHAS)
    res = {k: np.zeros(n_a) for k in HOTA_COUNT_FIELDS + HOTA_ARRAY_FIELDS}
    for k in HOTA_SCALAR_FIELDS:
        res[k] = 0.0
    n_gt_dets, n_pred_dets = seq.num_gt_dets, seq.num_pred_dets
    if n_pred_dets == 0 or n_gt_dets == 0:
        # nothing to match: every detection is a miss or a false positive; TrackEval leaves
        # the ratios at 0 and LocA at 1 here (they are recomputed when sequences are pooled)
        res["HOTA_FN"][:] = n_gt_dets if n_pred_dets == 0 else 0
        res["HOTA_FP"][:] = n_pred_dets if n_pred_dets and n_gt_dets == 0 else 0
        res["LocA"][:] = 1.0
        res["LocA(0)"] = 1.0
        return res

    # Global alignment between every GT id and predicted id: a soft count of co-occurrences
    # (each frame's IoU normalised by how much the two overlap other detections) over the
    # union of their frames.
    potential = np.zeros((seq.num_gt_ids, seq.num_pred_ids))
    gt_count = np.zeros((seq.num_gt_ids, 1))
    pred_count = np.zeros((1, seq.num_pred_ids))
    for g, p, sim in zip(seq.gt_ids, seq.pred_ids, seq.similarity):
        denom = sim.sum(0)[np.newaxis, :] + sim.sum(1)[:, np.newaxis] - sim
        sim_iou = np.zeros_like(sim)
        ok = denom > 0 + _EPS
        sim_iou[ok] = sim[ok] / denom[ok]
        potential[g[:, np.newaxis], p[np.newaxis, :]] += sim_iou
        gt_count[g] += 1
        pred_count[0, p] += 1
    alignment = potential / (gt_count + pred_count - potential)

    tp, fn, fp, loc = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"], res["LocA"]
    matches = np.zeros((n_a,) + potential.shape)  # per alpha: matched frames of each id pair
    thresholds = ALPHAS[:, np.newaxis] - _EPS
    for g, p, sim in zip(seq.gt_ids, seq.pred_ids, seq.similarity):
        if len(g) == 0 or len(p) == 0:
            fp += len(p)
            fn += len(g)
            continue
        # one-to-one matching in this frame that favours well-aligned id pairs
        rows, cols = linear_sum_assignment(-(alignment[g[:, np.newaxis], p[np.newaxis, :]] * sim))
        matched_sim = sim[rows, cols]
        hit = matched_sim[np.newaxis, :] >= thresholds  # (n_alpha, n_matched)
        n_hit = hit.sum(1)
        tp += n_hit
        fn += len(g) - n_hit
        fp += len(p) - n_hit
        loc += (hit * matched_sim[np.newaxis, :]).sum(1)
        matches[:, g[rows], p[cols]] += hit

    # association: for each matched id pair, the Jaccard index of their frames, averaged over
    # all true positives
    weight = np.maximum(1, tp)
    union = np.maximum(1, gt_count + pred_count - matches)
    res["AssA"] = (matches * (matches / union)).sum((1, 2)) / weight
    res["AssRe"] = (matches * (matches / np.maximum(1, gt_count))).sum((1, 2)) / weight
    res["AssPr"] = (matches * (matches / np.maximum(1, pred_count))).sum((1, 2)) / weight
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    return _hota_ratios(res)


def _hota_ratios(res: Dict) -> Dict:
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    res["OWTA"] = np.sqrt(res["DetRe"] * res["AssA"])
    res["HOTA(0)"] = res["HOTA"][0]
    res["LocA(0)"] = res["LocA"][0]
    res["HOTALocA(0)"] = res["HOTA(0)"] * res["LocA(0)"]
    return res


def _hota_combine(parts: Sequence[Dict]) -> Dict:
    n_a = len(ALPHAS)
    res = {k: sum((r[k] for r in parts), np.zeros(n_a)) for k in HOTA_COUNT_FIELDS}
    weight = np.maximum(1.0, res["HOTA_TP"])
    for k in ("AssRe", "AssPr", "AssA"):
        res[k] = sum((r[k] * r["HOTA_TP"] for r in parts), np.zeros(n_a)) / weight
    loc = sum((r["LocA"] * r["HOTA_TP"] for r in parts), np.zeros(n_a))
    res["LocA"] = np.maximum(1e-10, loc) / np.maximum(1e-10, res["HOTA_TP"])
    return _hota_ratios(res)


# ------------------------------------------------------------------------------------------
# Identity
# ------------------------------------------------------------------------------------------
def identity_sequence(seq: TrackSequence, threshold: float = MATCH_THRESHOLD) -> Dict:
    """IDF1, IDP, IDR for one sequence: the best one-to-one map between GT ids and predicted
    ids for the whole video, counting frames where a mapped pair overlaps by >= threshold."""
    n_gt_dets, n_pred_dets = seq.num_gt_dets, seq.num_pred_dets
    res = {"IDTP": 0, "IDFN": 0, "IDFP": 0}
    if n_pred_dets == 0 or n_gt_dets == 0:
        res["IDFN"], res["IDFP"] = (n_gt_dets, 0) if n_pred_dets == 0 else (0, n_pred_dets)
        return _identity_ratios(res, zero=True)
    together = np.zeros((seq.num_gt_ids, seq.num_pred_ids), dtype=np.int64)
    for g, p, sim in zip(seq.gt_ids, seq.pred_ids, seq.similarity):
        gi, pi = np.nonzero(sim >= threshold)
        together[g[gi], p[pi]] += 1
    # TrackEval minimises IDFN + IDFP over maps that may leave ids unmapped; that total is
    # (#GT dets + #pred dets - 2 * frames shared by mapped pairs), so the best map is the
    # maximum-weight matching of the shared-frame counts (integers: no rounding, no ties that
    # change the counts).
    rows, cols = linear_sum_assignment(-together)
    shared = int(together[rows, cols].sum())
    res["IDTP"] = shared
    res["IDFN"] = n_gt_dets - shared
    res["IDFP"] = n_pred_dets - shared
    return _identity_ratios(res)


def _identity_ratios(res: Dict, zero: bool = False) -> Dict:
    if zero:  # TrackEval's early return for a side without detections leaves the ratios at 0
        res.update(IDF1=0, IDR=0, IDP=0)
        return res
    tp, fn, fp = res["IDTP"], res["IDFN"], res["IDFP"]
    res["IDR"] = tp / np.maximum(1.0, tp + fn)
    res["IDP"] = tp / np.maximum(1.0, tp + fp)
    res["IDF1"] = tp / np.maximum(1.0, tp + 0.5 * fp + 0.5 * fn)
    return res


def _identity_combine(parts: Sequence[Dict]) -> Dict:
    return _identity_ratios({k: sum(r[k] for r in parts) for k in IDENTITY_COUNT_FIELDS})


# ------------------------------------------------------------------------------------------
# CLEAR
# ------------------------------------------------------------------------------------------
def clear_sequence(seq: TrackSequence, threshold: float = MATCH_THRESHOLD,
                   switches: Optional[List[Tuple[int, int, int]]] = None) -> Dict:
    """CLEAR MOT counts (TP, FN, FP, ID switches, fragmentations, mostly tracked / lost) and
    MOTA / MOTP for one sequence. Frames are matched one by one, keeping last frame's pairs
    where they still overlap by >= threshold, then maximising IoU.

    If ``switches`` is a list, each ID switch is appended to it as ``(frame index, GT id,
    predicted id it switched to)``."""
    res = {k: 0 for k in CLEAR_COUNT_FIELDS + CLEAR_RATIO_FIELDS}
    n_gt_dets, n_pred_dets = seq.num_gt_dets, seq.num_pred_dets
    if n_pred_dets == 0:
        res.update(CLR_FN=n_gt_dets, ML=seq.num_gt_ids, MLR=1.0)
        return res
    if n_gt_dets == 0:
        res.update(CLR_FP=n_pred_dets, MLR=1.0)
        return res

    n_ids = seq.num_gt_ids
    gt_count = np.zeros(n_ids)
    gt_matched = np.zeros(n_ids)
    gt_starts = np.zeros(n_ids)  # times a GT id became tracked after not being tracked
    last_pred = np.full(n_ids, np.nan)  # last prediction matched to each GT id (ever)
    prev_pred = np.full(n_ids, np.nan)  # prediction matched to each GT id in the last frame
    motp_sum = 0.0
    for frame, (g, p, sim) in enumerate(zip(seq.gt_ids, seq.pred_ids, seq.similarity)):
        if len(g) == 0:
            res["CLR_FP"] += len(p)
            continue
        if len(p) == 0:
            res["CLR_FN"] += len(g)
            gt_count[g] += 1
            continue
        score = 1000 * (p[np.newaxis, :] == prev_pred[g[:, np.newaxis]]) + sim
        score[sim < threshold - _EPS] = 0
        rows, cols = linear_sum_assignment(-score)
        keep = score[rows, cols] > 0 + _EPS
        rows, cols = rows[keep], cols[keep]
        m_gt, m_pred = g[rows], p[cols]

        before = last_pred[m_gt]
        switched = ~np.isnan(before) & (m_pred != before)
        res["IDSW"] += int(np.sum(switched))
        if switches is not None:
            switches.extend((frame, int(a), int(b)) for a, b in zip(m_gt[switched],
                                                                    m_pred[switched]))
        gt_count[g] += 1
        gt_matched[m_gt] += 1
        was_untracked = np.isnan(prev_pred)
        last_pred[m_gt] = m_pred
        prev_pred[:] = np.nan
        prev_pred[m_gt] = m_pred
        gt_starts += was_untracked & ~np.isnan(prev_pred)

        n = len(m_gt)
        res["CLR_TP"] += n
        res["CLR_FN"] += len(g) - n
        res["CLR_FP"] += len(p) - n
        if n:
            motp_sum += sum(sim[rows, cols])

    tracked = gt_matched[gt_count > 0] / gt_count[gt_count > 0]
    res["MT"] = int(np.sum(tracked > 0.8))
    res["PT"] = int(np.sum(tracked >= 0.2)) - res["MT"]
    res["ML"] = n_ids - res["MT"] - res["PT"]
    res["Frag"] = int(np.sum(gt_starts[gt_starts > 0] - 1))
    res["MOTP_sum"] = motp_sum
    res["CLR_Frames"] = seq.num_frames
    return _clear_ratios(res)


def _clear_ratios(res: Dict) -> Dict:
    tp, fn, fp, idsw = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"], res["IDSW"]
    n_gt_ids = res["MT"] + res["ML"] + res["PT"]
    res["MTR"] = res["MT"] / np.maximum(1.0, n_gt_ids)
    res["MLR"] = res["ML"] / np.maximum(1.0, n_gt_ids)
    res["PTR"] = res["PT"] / np.maximum(1.0, n_gt_ids)
    res["CLR_Re"] = tp / np.maximum(1.0, tp + fn)
    res["CLR_Pr"] = tp / np.maximum(1.0, tp + fp)
    res["MODA"] = (tp - fp) / np.maximum(1.0, tp + fn)
    res["MOTA"] = (tp - fp - idsw) / np.maximum(1.0, tp + fn)
    res["MOTP"] = res["MOTP_sum"] / np.maximum(1.0, tp)
    res["sMOTA"] = (res["MOTP_sum"] - fp - idsw) / np.maximum(1.0, tp + fn)
    res["CLR_F1"] = tp / np.maximum(1.0, tp + 0.5 * fn + 0.5 * fp)
    res["FP_per_frame"] = fp / np.maximum(1.0, res["CLR_Frames"])
    log_idsw = np.log10(idsw) if idsw > 0 else idsw
    res["MOTAL"] = (tp - fp - log_idsw) / np.maximum(1.0, tp + fn)
    return res


def _clear_combine(parts: Sequence[Dict]) -> Dict:
    res = {k: sum(r[k] for r in parts) for k in CLEAR_COUNT_FIELDS + ("MOTP_sum",)}
    return _clear_ratios(res)


# ------------------------------------------------------------------------------------------
# all three together
# ------------------------------------------------------------------------------------------
METRICS = ("HOTA", "Identity", "CLEAR")


def score_sequence(seq: TrackSequence) -> Dict[str, Dict]:
    """``{"HOTA": ..., "Identity": ..., "CLEAR": ...}`` of one sequence."""
    return {"HOTA": hota_sequence(seq), "Identity": identity_sequence(seq),
            "CLEAR": clear_sequence(seq)}


def empty_sequence_scores() -> Dict[str, Dict]:
    """The scores of a sequence without any detection (a category absent from a video)."""
    return score_sequence(TrackSequence([], [], [], 0, 0))


def combine(parts: Sequence[Dict[str, Dict]]) -> Dict[str, Dict]:
    """Pool sequences, or categories (TrackEval's detection-averaged combination): counts are
    summed, AssA / AssRe / AssPr and LocA are averaged weighted by true positives, and the
    other ratios recomputed from the pooled counts."""
    return {"HOTA": _hota_combine([p["HOTA"] for p in parts]),
            "Identity": _identity_combine([p["Identity"] for p in parts]),
            "CLEAR": _clear_combine([p["CLEAR"] for p in parts])}


def class_average(per_class: Sequence[Dict[str, Dict]]) -> Dict[str, Dict]:
    """TrackEval's class-averaged combination: counts summed, every ratio the plain mean over
    the categories - including categories with neither GT nor predictions, which count as 0
    (LocA: 1)."""
    out = {}
    groups = {"HOTA": (HOTA_COUNT_FIELDS, HOTA_ARRAY_FIELDS + HOTA_SCALAR_FIELDS),
              "Identity": (IDENTITY_COUNT_FIELDS, IDENTITY_RATIO_FIELDS),
              "CLEAR": (CLEAR_COUNT_FIELDS, CLEAR_RATIO_FIELDS)}
    for name, (counts, ratios) in groups.items():
        parts = [c[name] for c in per_class]
        res = {k: sum(r[k] for r in parts) for k in counts}
        for k in ratios:
            res[k] = np.mean([r[k] for r in parts], axis=0)
        out[name] = res
    return out
