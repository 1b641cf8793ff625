"""Running a trained MaskTrack R-CNN on one video, frame by frame (the demo's engine).

:class:`VideoPredictor` builds the model, loads a checkpoint that must fit the config
exactly, and streams frames through :meth:`MaskTrackRCNN.track_frames`. :func:`run_demo`
connects a frame source, the predictor, the drawing and the outputs
(:mod:`masktrack_d2.utils.video_io`); memory does not grow with the number of frames: one
decoded frame at a time, and the optional json keeps RLEs only (:class:`VideoTrackResults`).
"""
import collections
import json
import logging
import os
import time
from typing import Callable, Deque, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import torch

from detectron2.config import CfgNode, get_cfg
from detectron2.data import MetadataCatalog
from detectron2.data import transforms as T
from detectron2.modeling import build_model
from detectron2.structures import Instances

from .checkpoint import CheckpointError, load_checkpoint_strict
from .config import add_masktrack_config
from .data.augmentation import build_augmentation
from .data.datasets.category_map import CategoryIdMap
from .data.frames import frame_model_input
from .modeling.track_results import VideoTrackResults
from .utils.background import OrderedWorker
from .utils.file_io import atomic_write
from .utils.host_copy import instances_to_host
from .utils.video_io import Frame, VideoIOError, open_sink, open_source
from .utils.visualizer import TrackVisualizer

__all__ = [
    "ConfigError", "CheckpointError", "setup_demo_cfg", "VideoPredictor",
    "demo_metadata", "run_demo",
]

logger = logging.getLogger(__name__)

#: Frame rate of a video made from a frame folder when --fps is not given: the rate of the
#: YouTube-VIS listed frames (every 5th frame of 30 fps footage).
DEFAULT_FOLDER_FPS = 6.0


class ConfigError(ValueError):
    """The config file or an override cannot be used."""


# ------------------------------------------------------------------------------ config
def setup_demo_cfg(config_file: str, opts: Sequence[str] = (),
                   confidence_threshold: float = 0.5) -> CfgNode:
    """
    The frozen inference config: ``config_file`` + ``opts`` (KEY VALUE ...), then
    ``MODEL.ROI_HEADS.SCORE_THRESH_TEST = confidence_threshold`` (so the tracker sees exactly
    the detections that are drawn; it overrides a value in ``opts``). :class:`VideoPredictor`
    runs on the CPU when the config asks for CUDA and there is none.
    """
    if not os.path.isfile(config_file):
        raise ConfigError(f"config file not found: {config_file}")
    cfg = get_cfg()
    add_masktrack_config(cfg)
    try:
        cfg.merge_from_file(config_file)
    except Exception as e:  # yacs / yaml errors do not name the file
        raise ConfigError(f"cannot load config {config_file}: {type(e).__name__}: {e}") from None
    try:
        cfg.merge_from_list(list(opts))
    except Exception as e:
        raise ConfigError(f"bad --opts {' '.join(opts)}: {type(e).__name__}: {e}") from None
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = float(confidence_threshold)
    cfg.freeze()
    return cfg


def demo_metadata(cfg: CfgNode):
    """Metadata of ``cfg.DATASETS.TEST[0]`` if that data set is registered, else None."""
    if not cfg.DATASETS.TEST:
        return None
    name = cfg.DATASETS.TEST[0]
    if name not in MetadataCatalog.list():
        return None
    meta = MetadataCatalog.get(name)
    classes = meta.get("thing_classes")
    if classes is None:
        return None
    if len(classes) != cfg.MODEL.ROI_HEADS.NUM_CLASSES:
        # Names and category ids of another label space would be silently wrong.
        logger.warning(f"data set {name} has {len(classes)} classes but the model "
                       f"{cfg.MODEL.ROI_HEADS.NUM_CLASSES}: drawing 'class k', json "
                       "category_id = k + 1")
        return None
    return meta


def _label_to_category_id(metadata) -> Callable[[int], int]:
    id_map = CategoryIdMap.from_metadata(metadata)
    if id_map is not None:
        return id_map
    # Only meaningful for unregistered data whose category ids are 1..K in class order.
    return lambda label: int(label) + 1


# ------------------------------------------------------------------------------ predictor
class VideoPredictor:
    """
    A MaskTrack R-CNN in eval mode, run online over one video at a time.

    Example::

        predictor = VideoPredictor(cfg)
        for frame, instances in predictor(VideoFileSource("clip.mp4")):
            ...  # instances: pred_boxes, scores, pred_classes, pred_masks, pred_track_ids
    """

    def __init__(self, cfg: CfgNode):
        """``cfg.MODEL.DEVICE`` falls back to "cpu" when CUDA is not available (a copy of
        ``cfg`` is changed, kept as ``self.cfg``)."""
        cfg = cfg.clone()
        if not cfg.MODEL.DEVICE.startswith("cpu") and not torch.cuda.is_available():
            cfg.defrost()
            cfg.MODEL.DEVICE = "cpu"
            cfg.freeze()
        if cfg.INPUT.FORMAT not in ("BGR", "RGB"):
            raise ConfigError(f"INPUT.FORMAT {cfg.INPUT.FORMAT!r}: the demo feeds BGR or RGB")
        self.cfg = cfg
        self.model = build_model(cfg)
        if not hasattr(self.model, "track_frames"):
            raise ConfigError(f"MODEL.META_ARCHITECTURE {cfg.MODEL.META_ARCHITECTURE} does not "
                              "track (no track_frames); use a MaskTrackRCNN config")
        self.model.eval()
        load_checkpoint_strict(self.model, cfg.MODEL.WEIGHTS)
        # The same test-time resize as evaluation (data/frames.py).
        self.augmentations = T.AugmentationList(build_augmentation(cfg, is_train=False))
        self.input_format = cfg.INPUT.FORMAT
        self.metadata = demo_metadata(cfg)

    def _model_input(self, frame: Frame) -> Dict:
        image = frame.image if self.input_format == "BGR" else frame.image[:, :, ::-1]
        return frame_model_input(image, self.augmentations, frame.index)

    def __call__(self, frames: Iterable[Frame]) -> Iterator[Tuple[Frame, Instances]]:
        """
        Track ``frames`` (one video, in order; the tracker starts empty).

        Yields:
            (frame, instances) per frame: ``instances`` on the CPU at the frame's size with
            pred_boxes, scores, pred_classes, pred_masks (bool (D, H, W)), pred_track_ids.
        """
        for frame, instances, wait in self.track(frames):
            wait()
            yield frame, instances

    def track(self, frames: Iterable[Frame]
              ) -> Iterator[Tuple[Frame, Instances, Callable[[], None]]]:
        """As :meth:`__call__`, but each frame's copy to the CPU is only started: yields
        ``(frame, instances, wait)``, and ``wait()`` must return before ``instances`` are read
        (:func:`masktrack_d2.utils.host_copy.instances_to_host`). For a consumer in another
        thread, so that the model's thread never waits for a copy."""
        # track_frames reads up to TEST.FRAMES_PER_BATCH frames ahead and yields in order.
        pending: Deque[Frame] = collections.deque()

        def inputs():
            for frame in frames:
                pending.append(frame)
                yield self._model_input(frame)

        for _, instances in self.model.track_frames(inputs()):
            yield (pending.popleft(), *instances_to_host(instances))


# ------------------------------------------------------------------------------ the demo
def run_demo(cfg: CfgNode, *, video_input: Optional[str] = None,
             inputs: Optional[Sequence[str]] = None, output: Optional[str] = None,
             json_path: Optional[str] = None, video_id: int = 1, fps: Optional[float] = None,
             progress: bool = True) -> Dict:
    """
    Track one video and write the drawing (``output``: a ``.mp4`` / ``.avi`` file or a frame
    folder) and / or the YouTube-VIS results (``json_path``).

    Detections with a score below ``cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST`` are neither drawn
    nor written. Input, checkpoint and output problems raise :class:`VideoIOError`,
    :class:`CheckpointError` or :class:`ConfigError` before anything is written; on an error
    while running, nothing is left at ``output`` / ``json_path`` (sinks write to temporary
    names).

    Returns:
        {"frames", "tracks" (distinct track ids drawn / written), "seconds", "fps" (frames
        per second end to end: decoding, model, drawing, encoding), "device" (the one the
        model ran on)}.
    """
    if output is None and json_path is None:
        raise ValueError("nothing to write: give output and/or json_path")
    # Cheap checks first: a missing input should not wait for the model.
    source = open_source(video_input=video_input, inputs=inputs)
    try:
        if json_path is not None and source.num_frames is None:
            raise VideoIOError(f"{video_input}: the file does not say how many frames it has, "
                               "which --json needs")
        out_fps = fps or source.fps or DEFAULT_FOLDER_FPS
        sink = open_sink(output, out_fps) if output is not None else None
        predictor = VideoPredictor(cfg)
        return _run(predictor, source, sink, json_path, video_id, progress)
    finally:
        source.close()


def _run(predictor, source, sink, json_path, video_id, progress) -> Dict:
    from tqdm import tqdm

    threshold = predictor.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    metadata = predictor.metadata
    visualizer = TrackVisualizer(metadata.thing_classes if metadata is not None else None)
    state = {"results": None, "frames": 0}
    track_ids = set()
    start = time.perf_counter()
    bar = tqdm(total=source.num_frames, unit="frame", disable=not progress, dynamic_ncols=True)

    def output(out, frame: Frame, instances: Instances, wait) -> None:
        """One frame's outputs, in frame order (in the output worker's thread)."""
        wait()
        # A no-op for detectron2's box head (it keeps score > SCORE_THRESH_TEST); a guard
        # for heads that ignore the key.
        instances = instances[instances.scores >= threshold]
        track_ids.update(instances.pred_track_ids.tolist())
        if json_path is not None:
            results = state["results"]
            if results is None:
                results = state["results"] = VideoTrackResults(source.num_frames,
                                                               *frame.image.shape[:2])
            if frame.index >= results.num_frames:
                raise VideoIOError(
                    f"{getattr(source, 'path', 'input')} has more frames than the "
                    f"{results.num_frames} it declares; cannot size the --json output")
            results.add_frame(frame.index, instances.pred_track_ids, instances.scores,
                              instances.pred_classes, masks=instances.pred_masks)
        if sink is not None:
            out.write(Frame(frame.index, frame.name, visualizer.draw(frame.image, instances)))
        state["frames"] += 1
        bar.update(1)

    k = predictor.cfg.TEST.FRAMES_PER_BATCH
    try:
        with (sink if sink is not None else _NullSink()) as out:
            with OrderedWorker(predictor.cfg.TEST.OUTPUT_WORKER, max_pending=2 * k) as worker:
                for frame, instances, wait in predictor.track(source):
                    worker.submit(output, out, frame, instances, wait)
            if json_path is not None:
                results = state["results"]
                entries = [] if results is None else results.to_json_results(
                    video_id, _label_to_category_id(metadata))
                with atomic_write(json_path) as f:
                    json.dump(entries, f)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    n = state["frames"]
    return {"frames": n, "tracks": len(track_ids),
            "seconds": seconds, "fps": n / seconds if seconds > 0 else float("nan"),
            "device": predictor.cfg.MODEL.DEVICE}


class _NullSink:
    def write(self, frame):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
