"""YTVISEvaluator: video results -> results.json, submission zip, and AP where GT exists."""
import itertools
import json
import logging
import os
import zipfile
from collections import OrderedDict
from typing import Dict, List, Optional

from detectron2.data import MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm

from ..data.datasets.category_map import CategoryIdMap, check_num_classes
from ..utils.file_io import atomic_write
from .ytvis_eval import GroundTruthFormatError, YTVISEval, YTVISGroundTruth, format_table
from .ytvis_eval.common import load_json
from .ytvis_eval.track_metrics import COUNT_KEYS, format_track_table, track_metrics

logger = logging.getLogger(__name__)


def write_submission(results: List[Dict], output_dir: str, zip_name: str = "submission_file.zip"):
    """
    Write ``results.json`` and a zip holding only ``results.json`` at its root (the layout the
    YouTube-VIS servers expect). Both are written atomically. Returns (json path, zip path).
    """
    json_path = os.path.join(output_dir, "results.json")
    with atomic_write(json_path) as f:
        json.dump(results, f)
    zip_path = os.path.join(output_dir, zip_name)
    with atomic_write(zip_path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.write(json_path, arcname="results.json")
    return json_path, zip_path


class YTVISEvaluator(DatasetEvaluator):
    """
    Collects per-video track results (outputs of MaskTrackRCNN on a video item), gathers them
    across processes, writes ``results.json`` and, when the data set has ground truth, computes
    AP / AR with :mod:`masktrack_d2.evaluation.ytvis_eval`. Without ground truth (the official
    valid / test splits) it writes a submission zip instead and says so.

    The data set's json is read once, in :meth:`evaluate` on the main process; contiguous
    labels become category ids through :class:`CategoryIdMap` (the data set's metadata, or
    the json's categories if none is registered).

    With ``track_metrics=True`` (config ``TEST.TRACK_METRICS``) it also reports the
    association metrics (HOTA, DetA, AssA, LocA, IDF1, IDP, IDR, MOTA, IDSW, Frag, CLR_FP,
    CLR_FN; TrackEval's YouTube-VIS conventions) under the key ``"track"``: ratios in percent,
    counts as numbers.

    With ``report=True`` (config ``TEST.REPORT``) it also writes the evaluation report
    (:mod:`masktrack_d2.evaluation.report`) to ``<output_dir>/report/index.html``, with frame
    strips of the worst videos read from the data set's ``image_root``.

    With ``num_classes`` (the trainer passes ``MODEL.ROI_HEADS.NUM_CLASSES``) it checks when it
    is built that the model's labels fit the data set's categories, so that a wrong config
    fails before inference instead of after it.
    """

    def __init__(self, dataset_name: str, output_dir: str = None, distributed: bool = True,
                 submission_name: str = "submission_file.zip", track_metrics: bool = False,
                 num_classes: Optional[int] = None, report: bool = False):
        if num_classes is not None:  # a label space that does not fit fails before inference
            check_num_classes(num_classes, dataset_name)
        self._dataset_name = dataset_name
        self._output_dir = output_dir
        self._distributed = distributed
        self._submission_name = submission_name
        self._track_metrics = track_metrics
        self._report = report
        if report and not output_dir:
            raise ValueError(f"{dataset_name}: the report (TEST.REPORT) needs an output_dir")
        self._json_file = MetadataCatalog.get(dataset_name).json_file
        self.reset()

    def reset(self):
        self._predictions = []
        self._video_ids = []

    def _check_coverage(self, gt: YTVISGroundTruth, processed: List[int]):
        """Videos processed (all processes) must be the data set's: a loader over another data
        set is an error, unprocessed videos (a dropped shard) a warning."""
        processed, known = set(processed), set(gt.videos)
        if processed - known:
            raise ValueError(
                f"{self._dataset_name}: processed videos {sorted(processed - known)[:10]} are not "
                f"in {self._json_file}: the test loader ran over another data set")
        if known - processed:
            logger.warning(f"{self._dataset_name}: {len(known - processed)} of {len(known)} "
                           f"videos were not processed (e.g. {sorted(known - processed)[:5]}); "
                           "they score as misses")

    def process(self, inputs, outputs):
        for video_out in outputs:
            self._video_ids.append(video_out["video_id"])
            for track in video_out["tracks"]:
                self._predictions.append({
                    "video_id": video_out["video_id"],
                    "category_id": track["category_id"],  # contiguous label until evaluate()
                    "score": float(track["score"]),
                    "segmentations": track["segmentations"],
                })

    def evaluate(self):
        predictions, video_ids = self._predictions, self._video_ids
        if self._distributed:
            comm.synchronize()
            predictions = list(itertools.chain(*comm.gather(predictions, dst=0)))
            video_ids = list(itertools.chain(*comm.gather(video_ids, dst=0)))
            if not comm.is_main_process():
                return {}
        # Ties in score keep file order in the metric; sort by video so that the file does
        # not depend on how videos were sharded across processes.
        predictions = sorted(predictions, key=lambda p: p["video_id"])
        gt = load_json(self._json_file, GroundTruthFormatError, "annotation")
        if not isinstance(gt, dict):
            raise GroundTruthFormatError(f"{self._json_file}: not a YouTube-VIS annotation file")
        id_map = (CategoryIdMap.from_metadata(MetadataCatalog.get(self._dataset_name))
                  or CategoryIdMap.from_categories(gt.get("categories") or []))
        predictions = [dict(p, category_id=id_map(p["category_id"])) for p in predictions]
        has_gt = bool(gt.get("annotations"))
        output_dir = self._output_dir
        if not has_gt:
            if not output_dir:
                raise ValueError(f"{self._dataset_name} has no ground truth, and no output_dir "
                                 "was given to write the submission to")
            json_path, zip_path = write_submission(predictions, output_dir, self._submission_name)
            logger.info(f"{self._dataset_name} has no ground truth ({self._json_file}): no AP "
                        f"computed. Wrote {len(predictions)} tracks to {json_path} and the "
                        f"submission {zip_path}; upload it to the evaluation server.")
            return {}
        gt = YTVISGroundTruth(gt, source=self._json_file)
        self._check_coverage(gt, video_ids)
        results_path = os.path.join(output_dir, "results.json") if output_dir else None
        if output_dir:
            with atomic_write(results_path) as f:
                json.dump(predictions, f)
        ev = YTVISEval(gt, predictions)
        ev.evaluate()
        ev.accumulate()
        stats = ev.summarize()
        logger.info(f"YouTube-VIS evaluation of {self._dataset_name}:\n"
                    + format_table(stats, ev.per_category_ap()))
        # detectron2 reports percentages; -1 (undefined) becomes NaN as in COCOEvaluator.
        out = OrderedDict(segm={k: (100 * v if v >= 0 else float("nan")) for k, v in stats.items()})
        if self._track_metrics:
            track = track_metrics(ev.gt, ev.results)
            logger.info(f"Track metrics of {self._dataset_name}:\n"
                        + format_track_table(track, per_category=True))
            out["track"] = {k: (v if k in COUNT_KEYS else 100 * v) for k, v in track.items()
                            if not isinstance(v, dict)}
        if self._report:
            from .report import build_report

            report_dir = os.path.join(output_dir, "report")
            build_report(gt, results_path, report_dir,
                         image_root=getattr(MetadataCatalog.get(self._dataset_name),
                                            "image_root", None))
            logger.info(f"Evaluation report of {self._dataset_name}: "
                        f"{os.path.join(report_dir, 'index.html')}")
        return out
