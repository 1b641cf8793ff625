"""DefaultTrainer wired to the training loader (frame pairs; single frames for the detector
stage), the video test loader and YTVISEvaluator."""
import contextlib
import logging
import os
import weakref

from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_setup
from detectron2.engine import defaults as d2_defaults
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ..checkpoint import TrainingCheckpointer
from ..config import add_masktrack_config
from ..data.build import build_train_loader, build_video_test_loader, train_videos_and_items
from ..data.datasets.category_map import check_num_classes
from ..evaluation.evaluator import YTVISEvaluator
from ..solver import apply_epoch_schedule, build_optimizer
from .amp import MixedPrecisionTrainer, amp_dtype

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _trainer_options(cfg):
    """Give DefaultTrainer's constructor this project's data-parallel and mixed-precision steps.

    DefaultTrainer builds ``create_ddp_model(model, broadcast_buffers=False)`` and
    ``AMPTrainer(model, data_loader, optimizer)`` inside its ``__init__``, with no seam for
    options, so the two names it calls are swapped for the duration of the constructor:

    * detectron2 passes DDP ``device_ids=[local rank]``, which DDP accepts only for a CUDA
      module; a CPU model gets ``device_ids=None``. ``find_unused_parameters`` stays off (it
      costs a graph walk per iteration): every loss keeps all heads in the graph, also for a
      batch without a positive RoI or with an empty reference frame
      (tests/test_ddp_training.py trains such batches with 2 processes).
    * with ``SOLVER.AMP.ENABLED`` the step is :class:`MixedPrecisionTrainer`, with
      ``SOLVER.AMP.PRECISION`` and ``SOLVER.AMP.INIT_SCALE`` (detectron2's AMPTrainer has
      float16 only, CUDA only, and a fixed initial loss scale).
    """
    original_ddp, original_amp = d2_defaults.create_ddp_model, d2_defaults.AMPTrainer

    def create_ddp_model(model, **kwargs):
        if next(model.parameters()).device.type == "cpu":
            kwargs["device_ids"] = None
        return original_ddp(model, **kwargs)

    def amp_trainer(model, data_loader, optimizer):
        return MixedPrecisionTrainer(model, data_loader, optimizer,
                                     precision=amp_dtype(cfg.SOLVER.AMP.PRECISION),
                                     init_scale=cfg.SOLVER.AMP.INIT_SCALE)

    d2_defaults.create_ddp_model, d2_defaults.AMPTrainer = create_ddp_model, amp_trainer
    try:
        yield
    finally:
        d2_defaults.create_ddp_model, d2_defaults.AMPTrainer = original_ddp, original_amp


class MaskTrackTrainer(DefaultTrainer):
    def __init__(self, cfg):
        # the periodic and final evaluations would refuse a label space that does not fit
        # their data sets; say so before training instead of after it
        for name in cfg.DATASETS.TEST:
            check_num_classes(cfg.MODEL.ROI_HEADS.NUM_CLASSES, name)
        if not cfg.MODEL.TRACK_ON and cfg.DATASETS.TEST:
            raise ValueError(
                f"MODEL.TRACK_ON False trains a detector stage, which cannot track videos: "
                f"DATASETS.TEST {tuple(cfg.DATASETS.TEST)} would be evaluated by video "
                f"inference; set DATASETS.TEST () and evaluate the tracking stage")
        with _trainer_options(cfg):
            super().__init__(cfg)

    def build_hooks(self):
        # DefaultTrainer's constructor makes a plain DetectionCheckpointer just before it
        # builds the hooks; the periodic checkpointer hook and resume_or_load take this one.
        self.checkpointer = TrainingCheckpointer(
            self.checkpointer.model, self.cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        return super().build_hooks()

    @classmethod
    def build_train_loader(cls, cfg):
        for name in cfg.DATASETS.TRAIN:
            check_num_classes(cfg.MODEL.ROI_HEADS.NUM_CLASSES, name, training=True)
        return build_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_video_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return YTVISEvaluator(dataset_name, output_dir=output_folder,
                              submission_name=cfg.TEST.SUBMISSION_NAME,
                              track_metrics=cfg.TEST.TRACK_METRICS,
                              report=cfg.TEST.REPORT,
                              num_classes=cfg.MODEL.ROI_HEADS.NUM_CLASSES)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)

    # The detectron2 0.6 build used here checkpoints only the iteration and the scheduler
    # (hook state) of a DefaultTrainer, so --resume restarted SGD without its momentum and
    # ran the first resumed iteration at the warm-up start lr. As later detectron2 releases
    # do, the inner trainer's state (the optimizer) is saved too, under "_trainer".
    def state_dict(self):
        ret = super().state_dict()
        ret["_trainer"] = self._trainer.state_dict()
        return ret

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        if "_trainer" in state_dict:
            self._trainer.load_state_dict(state_dict["_trainer"])
        else:
            logger.warning("the checkpoint holds no optimizer state (written before it was "
                           "saved): resuming with a fresh optimizer")

    def resume_or_load(self, resume=True):
        """As DefaultTrainer's, but a MODEL.WEIGHTS file that does not exist is an error
        naming it (detectron2 only asserts). Shape mismatches stay warnings: fine-tuning from
        a COCO checkpoint drops the class-specific layers."""
        if not (resume and self.checkpointer.has_checkpoint()):
            _check_weights_exist(self.cfg.MODEL.WEIGHTS, "MODEL.WEIGHTS")
        return super().resume_or_load(resume=resume)


def _check_weights_exist(path: str, what: str):
    # Only local paths: URLs and detectron2:// names are fetched by the checkpointer.
    if path and "://" not in path and not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: checkpoint file {path} not found")


def build_cfg(args, training: bool = True):
    """
    The config of ``args.config_file`` and ``args.opts``, with an epoch schedule converted to
    iterations (training only), frozen. Returns ``(cfg, schedule)``, ``schedule`` a line
    saying how the epochs became iterations, or None.
    """
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    schedule = None
    if training and cfg.SOLVER.EPOCHS > 0:
        _, items = train_videos_and_items(cfg, keep=True)  # the loader takes them
        e = apply_epoch_schedule(cfg, len(items))
        schedule = (f"{cfg.SOLVER.EPOCHS} epochs of {len(items)} key frames = {cfg.SOLVER.EPOCHS} x "
                    f"{e} iterations: MAX_ITER={cfg.SOLVER.MAX_ITER}, STEPS={cfg.SOLVER.STEPS}")
    cfg.freeze()
    return cfg, schedule


def setup_cfg(args, training: bool = True):
    """:func:`build_cfg`, then detectron2's default_setup (logging into OUTPUT_DIR, the
    config saved there, the seed)."""
    cfg, schedule = build_cfg(args, training)
    default_setup(cfg, args)
    setup_logger(output=cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="masktrack_d2")
    if schedule:
        logger.info(schedule)
    return cfg
