from .trainer import MaskTrackTrainer, build_cfg, setup_cfg  # noqa: F401
