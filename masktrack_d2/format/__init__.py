"""The YouTube-VIS annotation format's rules, in one place for every reader of it.

The training loader (:mod:`masktrack_d2.data.datasets.ytvis`) and the metric's ground-truth
side (:mod:`masktrack_d2.evaluation.ytvis_eval.gt`) both apply these rules, so a file that one
of them rejects the other rejects too, with the same reason:

- :mod:`.rle`: when a compressed or uncompressed RLE really describes an ``h x w`` mask (a
  compiled fast path and a numpy path that give the same verdicts);
- :mod:`.annotations`: the ids, references and per-frame fields of videos, categories and
  annotations.

numpy and pycocotools only: the metric imports this without torch or detectron2.
"""
