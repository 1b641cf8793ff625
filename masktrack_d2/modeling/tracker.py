"""Online association of MaskTrack R-CNN (docs/method.md, "Tracker").

Plain tensors in and out, no network. The tracker keeps, per live
track, only its latest embedding, box, label and last-seen frame index -- never a mask -- so
its memory is bounded by the retention rule (``num_frames_retain`` frames times the number of
detections per frame).

``match_logits`` (:mod:`.matching`) is shared with the track head's training loss, so the
logits the head is trained on are exactly the ones the tracker scores.
"""
from __future__ import annotations

import math
from typing import List, Optional, Sequence

import torch

from detectron2.structures import Boxes, pairwise_iou

from .matching import match_logits

__all__ = ["MaskTrackTracker"]


class MaskTrackTracker:
    """MaskTrack R-CNN online tracker: memory of tracks + combined match score.

    Call :meth:`reset` at frame 0 of every video, then :meth:`step` once per listed frame, in
    order. Memory (``T`` live tracks): ids (T,) long, embeddings (T, C) float32, boxes (T, 4)
    float32 XYXY, labels (T,) long, last-seen frame indices (T,) long. Tracks are kept in
    creation order (this order is the column order of the score matrix; it only matters for
    exact ties).

    Score of detection d against memory column t (t = 0 is "new track", t >= 1 is track t):
    ``S[d, t] = log_softmax(match_logits(e_d, M))[t] + a*log(c_d) + b*IoU(b_d, B_t) + g*[l_d == L_t]``
    with IoU := 0 and the label indicator := 1 for column 0. With ``use_embedding=False`` the
    log-softmax term is 0 for every column (ablation: only IoU and label decide).

    Choices where the spec leaves room (see also :meth:`step`):

    * Scores are computed in float32 (the reference's precision, and the track head's).
    * Ties in the row argmax go to the lowest column, i.e. "new" wins exact ties (as
      ``torch.max`` in the references).
    * The per-track best score of a frame starts at ``initial_best_score``: ``-inf`` by
      default, ``-1e6`` in mmdetection (the two differ only for scores below -1e6).
    * The ``a*log(c)`` term is skipped when ``a == 0`` (avoids ``0 * -inf = nan``).
    * ``dedup=True`` demotes the earlier detection to -1 (discarded; it does not become a new
      track) when a later detection of the same frame beats it for the same track.
    """

    def __init__(
        self,
        match_weights: Sequence[float] = (1.0, 2.0, 10.0),
        num_frames_retain: int = 20,
        update_label: bool = True,
        dedup: bool = False,
        use_embedding: bool = True,
        match_log_prob: str = "log_softmax",
        initial_best_score: float = -math.inf,
    ):
        """
        Args:
            match_weights: (alpha, beta, gamma) = weights of log det score, box IoU and label
                agreement (ORIG ``match_coeff=[1.0, 2.0, 10]``, MMT ``match_weights``).
            num_frames_retain: a track is removed after the update of frame ``f`` when
                ``f - last_seen >= num_frames_retain``; ``<= 0`` keeps tracks for the whole
                video (ORIG). MMT: 20.
            update_label: overwrite a track's label with its latest detection's (MMT) or keep
                the label of the frame that created it (ORIG).
            dedup: False reproduces the references' duplicate-id bug (docs/method.md,
                "Duplicate track ids");
                True demotes the earlier loser to -1.
            use_embedding: False drops the embedding log-probability term (ablation).
            match_log_prob: "log_softmax" (exact) or "log_of_softmax": ``log(softmax(x))``,
                which is -inf where the softmax underflows to 0 (mmdetection's arithmetic).
            initial_best_score: the per-track record of a frame starts here; a detection
                must score strictly above it to take the track (mmdetection: -1e6).
        """
        if len(match_weights) != 3:
            raise ValueError(f"match_weights must be (alpha, beta, gamma), got {match_weights!r}")
        self.alpha, self.beta, self.gamma = (float(w) for w in match_weights)
        self.num_frames_retain = int(num_frames_retain)
        self.update_label = bool(update_label)
        self.dedup = bool(dedup)
        self.use_embedding = bool(use_embedding)
        if match_log_prob not in ("log_softmax", "log_of_softmax"):
            raise ValueError("match_log_prob must be 'log_softmax' or 'log_of_softmax', "
                             f"got {match_log_prob!r}")
        self.match_log_prob = match_log_prob
        self.initial_best_score = float(initial_best_score)
        self.reset()

    @classmethod
    def from_config(cls, cfg) -> "MaskTrackTracker":
        """Build from ``cfg.TEST.TRACKER.{MATCH_WEIGHTS, NUM_FRAMES_RETAIN, UPDATE_LABEL, DEDUP,
        USE_EMBEDDING, MATCH_LOG_PROB, INITIAL_BEST_SCORE}`` (keys added by ``masktrack_d2.config.add_masktrack_config``)."""
        t = cfg.TEST.TRACKER
        return cls(
            match_weights=tuple(t.MATCH_WEIGHTS),
            num_frames_retain=t.NUM_FRAMES_RETAIN,
            update_label=t.UPDATE_LABEL,
            dedup=t.DEDUP,
            use_embedding=t.USE_EMBEDDING,
            match_log_prob=t.MATCH_LOG_PROB,
            initial_best_score=t.INITIAL_BEST_SCORE,
        )

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every track and restart ids at 0 (call at frame 0 of each video)."""
        self._ids = torch.zeros(0, dtype=torch.long)  # (T,), CPU
        self._last_seen = torch.zeros(0, dtype=torch.long)  # (T,), CPU
        self._embeds: Optional[torch.Tensor] = None  # (T, C) float32, device of the inputs
        self._boxes: Optional[torch.Tensor] = None  # (T, 4) float32
        self._labels: Optional[torch.Tensor] = None  # (T,) long
        self._next_id = 0

    def __len__(self) -> int:
        """Number of live tracks T in memory."""
        return int(self._ids.numel())

    @property
    def next_id(self) -> int:
        """The id the next new track will get (= number of tracks started in this video)."""
        return self._next_id

    @property
    def track_ids(self) -> torch.Tensor:
        """(T,) long ids of the live tracks, in creation order (a copy)."""
        return self._ids.clone()

    @property
    def last_seen(self) -> torch.Tensor:
        """(T,) long frame index at which each live track was last output (a copy)."""
        return self._last_seen.clone()

    @property
    def embeds(self) -> Optional[torch.Tensor]:
        """(T, C) float32 latest embedding of each live track (None before any detection, or
        when ``use_embedding=False`` and no embeddings were given)."""
        return None if self._embeds is None else self._embeds.clone()

    @property
    def boxes(self) -> Optional[torch.Tensor]:
        """(T, 4) float32 latest XYXY box of each live track."""
        return None if self._boxes is None else self._boxes.clone()

    @property
    def labels(self) -> Optional[torch.Tensor]:
        """(T,) long stored label of each live track."""
        return None if self._labels is None else self._labels.clone()

    # ------------------------------------------------------------------ scoring
    def score_matrix(self, boxes, scores, labels, embeds) -> torch.Tensor:
        """Combined match score against the current memory (memory must not be empty).

        Args:
            boxes: (D, 4) XYXY, scores: (D,), labels: (D,) long, embeds: (D, C) or None when
                ``use_embedding=False``.

        Returns:
            (D, T + 1) float32 score matrix S; column 0 is the "new track" slot.
        """
        D, T = boxes.shape[0], len(self)
        device = boxes.device
        if self.use_embedding:
            logits = match_logits(embeds.float(), self._embeds.to(embeds.device))
            if self.match_log_prob == "log_of_softmax":
                S = logits.softmax(dim=1).log().to(device)
            else:
                S = torch.log_softmax(logits, dim=1).to(device)
        else:
            S = torch.zeros(D, T + 1, dtype=torch.float32, device=device)
        # Terms are added in the reference's order, so float sums round the same way.
        if self.alpha != 0.0:
            S = S + self.alpha * torch.log(scores.float().to(device))[:, None]
        if self.beta != 0.0:
            iou = pairwise_iou(Boxes(boxes.float()), Boxes(self._boxes.to(device)))  # (D, T)
            S = S + self.beta * torch.cat([iou.new_zeros(D, 1), iou], dim=1)
        if self.gamma != 0.0:
            same = labels.to(device)[:, None] == self._labels.to(device)[None, :]  # (D, T)
            S = S + self.gamma * torch.cat([same.new_ones(D, 1), same], dim=1).float()
        return S

    # ------------------------------------------------------------------ main entry
    def step(
        self,
        frame_idx: int,
        boxes: torch.Tensor,
        scores: torch.Tensor,
        labels: torch.Tensor,
        embeds: Optional[torch.Tensor],
    ) -> torch.Tensor:
        """Associate one frame's detections with the memory and update it.

        Args:
            frame_idx: index of the frame among the video's listed frames (retention counts
                these indices, so empty frames still age the tracks).
            boxes: (D, 4) float XYXY boxes, in one fixed coordinate frame for the whole video.
            scores: (D,) float detection scores in (0, 1].
            labels: (D,) long class indices.
            embeds: (D, C) float embeddings; may be None when ``use_embedding=False`` (then
                embeddings are neither used nor stored).

        Returns:
            (D,) long track ids on the device of ``labels``: >= 0 for kept detections, -1 for
            discarded ones. In the default (bug-compatible) mode two detections of one frame can
            share an id.

        Semantics (docs/method.md, "Tracker" and "Memory and retention"):
            * D = 0: returns an empty tensor; memory untouched (no retention pass either).
            * empty memory: every detection starts a new track (ids from a running counter).
            * otherwise ``k_d = argmax S[d]``; detections are walked in the given order:
              ``k_d = 0`` -> new id; ``k_d > 0`` -> the detection takes the track if ``S[d, k_d]``
              is strictly greater than the best score already recorded for that track in this
              frame (and raises the record), else -1. The earlier holder keeps the id unless
              ``dedup`` (then it becomes -1).
            * memory update: matched tracks get the embedding, box and last-seen frame of the
              detection (label only if ``update_label``); with duplicates the last detection
              in order wins (it is the higher-scoring one). New tracks are appended with the
              detection's embedding, box and label.
            * retention: then tracks with ``frame_idx - last_seen >= num_frames_retain`` are
              removed (if ``num_frames_retain > 0``). A track is thus still matchable exactly
              ``num_frames_retain`` frames after it was last seen, and gone after that frame.
        """
        D = int(boxes.shape[0])
        out_device = labels.device
        if boxes.dim() != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (D, 4), got {tuple(boxes.shape)}")
        if scores.shape != (D,) or labels.shape != (D,):
            raise ValueError(
                f"scores and labels must be ({D},), got {tuple(scores.shape)}, {tuple(labels.shape)}")
        if embeds is None:
            if self.use_embedding:
                raise ValueError("embeds are required when use_embedding=True")
        elif embeds.dim() != 2 or embeds.shape[0] != D:
            raise ValueError(f"embeds must be ({D}, C), got {tuple(embeds.shape)}")
        if D == 0:
            return torch.zeros(0, dtype=torch.long, device=out_device)

        labels = labels.long()
        if embeds is not None and not self.use_embedding:
            embeds = None  # the ablation never looks at embeddings: do not keep them
        if embeds is not None and self._embeds is not None and embeds.shape[1] != self._embeds.shape[1]:
            raise ValueError(
                f"embedding dim {embeds.shape[1]} differs from memory's {self._embeds.shape[1]}")

        ids = [-1] * D
        matched_col = [-1] * D  # memory row taken by detection d (-1: new or discarded)
        if len(self) == 0:
            for d in range(D):
                ids[d] = self._next_id
                self._next_id += 1
        else:
            S = self.score_matrix(boxes, scores, labels, embeds)
            k = torch.argmax(S, dim=1)  # first maximum -> "new" wins exact ties
            s_best = S.gather(1, k[:, None])[:, 0]
            # one read of both (float64 holds every float32 score and column index exactly)
            k, s_best = torch.stack([k.double(), s_best.double()]).tolist()
            k = [int(c) for c in k]
            mem_ids = self._ids.tolist()
            record = [self.initial_best_score] * len(self)
            holder = [-1] * len(self)  # detection currently holding each track (dedup only)
            for d in range(D):
                if k[d] == 0:
                    ids[d] = self._next_id
                    self._next_id += 1
                    continue
                t = k[d] - 1
                if s_best[d] > record[t]:
                    record[t] = s_best[d]
                    if self.dedup and holder[t] >= 0:
                        ids[holder[t]] = -1
                        matched_col[holder[t]] = -1
                    holder[t] = d
                    ids[d] = mem_ids[t]
                    matched_col[d] = t

        # matched tracks: one writer per track, the last in detection order
        writer = {}
        for d, t in enumerate(matched_col):
            if t >= 0:
                writer[t] = d
        rows, dets = list(writer.keys()), list(writer.values())
        # new tracks, appended in detection order
        new = [d for d in range(D) if ids[d] >= 0 and matched_col[d] < 0]
        index = _HostIndex(ids=ids, rows=rows, dets=dets, new=new)
        self._update(frame_idx, index, boxes, labels, embeds)
        return index.on(out_device, "ids")

    # ------------------------------------------------------------------ memory
    def _update(self, frame_idx, index: "_HostIndex", boxes, labels, embeds) -> None:
        boxes = boxes.detach().float()
        labels = labels.detach()
        embeds = None if embeds is None else embeds.detach().float()
        if index.lists["rows"]:
            self._boxes[index.on(self._boxes.device, "rows")] = \
                boxes[index.on(boxes.device, "dets")].to(self._boxes.device)
            if embeds is not None:
                self._embeds[index.on(self._embeds.device, "rows")] = \
                    embeds[index.on(embeds.device, "dets")].to(self._embeds.device)
            if self.update_label:
                self._labels[index.on(self._labels.device, "rows")] = \
                    labels[index.on(labels.device, "dets")].to(self._labels.device)
            self._last_seen[index.on(self._last_seen.device, "rows")] = int(frame_idx)

        new = index.lists["new"]
        if new:
            new_ids = torch.tensor([index.lists["ids"][d] for d in new], dtype=torch.long)
            self._ids = torch.cat([self._ids, new_ids])
            self._last_seen = torch.cat(
                [self._last_seen, torch.full((len(new),), int(frame_idx), dtype=torch.long)])
            self._boxes = _append(self._boxes, boxes[index.on(boxes.device, "new")])
            self._labels = _append(self._labels, labels[index.on(labels.device, "new")])
            if embeds is not None:
                self._embeds = _append(self._embeds, embeds[index.on(embeds.device, "new")])

        # retention
        if self.num_frames_retain > 0 and len(self) > 0:
            keep = (int(frame_idx) - self._last_seen) < self.num_frames_retain  # (T,) bool, CPU
            if not bool(keep.all()):
                rows = torch.nonzero(keep)[:, 0]  # on the host: one copy per device below
                on = {}

                def kept(mem: torch.Tensor) -> torch.Tensor:
                    if mem.device not in on:
                        on[mem.device] = rows.to(mem.device)
                    return mem[on[mem.device]]

                self._ids = self._ids[rows]
                self._last_seen = self._last_seen[rows]
                self._boxes = kept(self._boxes)
                self._labels = kept(self._labels)
                if self._embeds is not None:
                    self._embeds = kept(self._embeds)


class _HostIndex:
    """A frame's index lists (detection ids, memory rows, ...), built on the host, copied to a
    device once for all of them: each copy to a GPU waits for it, so one instead of one per
    list and use."""

    def __init__(self, **lists: List[int]):
        self.lists = lists
        self._host = torch.tensor([v for values in lists.values() for v in values],
                                  dtype=torch.long)
        self._spans, start = {}, 0
        for name, values in lists.items():
            self._spans[name] = (start, start + len(values))
            start += len(values)
        self._copies = {}

    def on(self, device: torch.device, name: str) -> torch.Tensor:
        """(len(lists[name]),) long tensor of that list on ``device``."""
        device = torch.device(device)
        if device not in self._copies:
            self._copies[device] = self._host if device.type == "cpu" else self._host.to(device)
        start, end = self._spans[name]
        return self._copies[device][start:end]


def _append(mem: Optional[torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """Concatenate ``rows`` (K, ...) below ``mem`` (T, ...) (``mem`` None -> ``rows``)."""
    if mem is None:
        return rows.clone()
    return torch.cat([mem, rows.to(mem.device)], dim=0)
