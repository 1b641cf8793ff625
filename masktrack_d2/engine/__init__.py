from .trainer import MaskTrackTrainer, setup_cfg  # noqa: F401
