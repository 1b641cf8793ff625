"""DefaultTrainer wired to the frame-pair loader, the video test loader and YTVISEvaluator."""
import logging
import os

from detectron2.config import get_cfg
from detectron2.engine import DefaultTrainer, default_setup

from ..config import add_masktrack_config
from ..data.build import build_frame_pair_train_loader, build_video_test_loader, train_videos_and_items
from ..evaluation.evaluator import YTVISEvaluator
from ..solver import apply_epoch_schedule, build_optimizer


class MaskTrackTrainer(DefaultTrainer):
    @classmethod
    def build_train_loader(cls, cfg):
        return build_frame_pair_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg, dataset_name):
        return build_video_test_loader(cfg, dataset_name)

    @classmethod
    def build_evaluator(cls, cfg, dataset_name, output_folder=None):
        if output_folder is None:
            output_folder = os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        return YTVISEvaluator(dataset_name, output_dir=output_folder,
                              submission_name=cfg.TEST.SUBMISSION_NAME)

    @classmethod
    def build_optimizer(cls, cfg, model):
        return build_optimizer(cfg, model)


def setup_cfg(args, training: bool = True):
    """
    Build the config from ``args.config_file`` and ``args.opts``, convert an epoch schedule
    to iterations (training only), freeze, and run detectron2's default_setup.
    """
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(args.config_file)
    cfg.merge_from_list(args.opts)
    schedule = None
    if training and cfg.SOLVER.EPOCHS > 0:
        _, items = train_videos_and_items(cfg)
        e = apply_epoch_schedule(cfg, len(items))
        schedule = (f"{cfg.SOLVER.EPOCHS} epochs of {len(items)} key frames = {cfg.SOLVER.EPOCHS} x "
                    f"{e} iterations: MAX_ITER={cfg.SOLVER.MAX_ITER}, STEPS={cfg.SOLVER.STEPS}")
    cfg.freeze()
    default_setup(cfg, args)
    if schedule:
        logging.getLogger("masktrack_d2").info(schedule)
    return cfg
