"""Shared helpers of the robustness tests (bad input, resume, determinism): a tiny synthetic data set, a tiny
R-18 FPN config and command lines for ``train_net.py``.

A plain module (not a conftest) so that it never clashes with other test helpers. Every
data set is registered under a fresh name, so tests can run in any order in one process.
"""
import contextlib
import itertools
import os
import sys
import uuid

import torch

from detectron2.config import get_cfg
from detectron2.data import DatasetCatalog, MetadataCatalog

from masktrack_d2.config import add_masktrack_config
from masktrack_d2.data.datasets import register_ytvis_instances
from masktrack_d2.data.synthetic import generate_synthetic_ytvis
from masktrack_d2.utils.metrics_log import read_metrics  # noqa: F401  (the tests' reader)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = os.path.join(REPO, "configs", "quickstart", "masktrack_R_18_FPN_synthetic.yaml")
TRAIN_NET = os.path.join(REPO, "train_net.py")

#: 4 videos x 4 frames at 64x96 (3 train videos, 1 val video).
TINY_DATA = dict(num_videos=4, num_frames=4, height=64, width=96, seed=0)

# The quickstart model made as small as it goes: seconds per iteration on 2 CPU cores.
#: Where the tiny model runs: cpu, or what MASKTRACK_TEST_DEVICE says (tools/gpu_check.py
#: runs the CUDA tests with cuda).
DEVICE = os.environ.get("MASKTRACK_TEST_DEVICE", "cpu")

TINY_OPTS = [
    "MODEL.DEVICE", DEVICE,
    "MODEL.WEIGHTS", "",
    "MODEL.RESNETS.DEPTH", "18",
    "MODEL.FPN.OUT_CHANNELS", "32",
    "MODEL.RPN.PRE_NMS_TOPK_TRAIN", "50",
    "MODEL.RPN.POST_NMS_TOPK_TRAIN", "50",
    "MODEL.RPN.PRE_NMS_TOPK_TEST", "50",
    "MODEL.RPN.POST_NMS_TOPK_TEST", "50",
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "32",
    "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.ROI_MASK_HEAD.NUM_CONV", "1",
    "MODEL.ROI_MASK_HEAD.CONV_DIM", "32",
    "MODEL.TRACK_HEAD.FC_DIM", "64",
    "INPUT.MIN_SIZE_TRAIN", "(64,)",
    "INPUT.MAX_SIZE_TRAIN", "96",
    "INPUT.MIN_SIZE_TEST", "64",
    "INPUT.MAX_SIZE_TEST", "96",
    "DATALOADER.NUM_WORKERS", "0",
    "SOLVER.IMS_PER_BATCH", "2",
    "SOLVER.BASE_LR", "0.01",
    "SOLVER.WARMUP_ITERS", "5",
    "SOLVER.EPOCHS", "0",
    "SOLVER.MAX_ITER", "4",
    "SOLVER.STEPS", "(3,)",
    "SOLVER.CHECKPOINT_PERIOD", "1000",
    "TEST.EVAL_PERIOD", "0",
    "TEST.DETECTIONS_PER_IMAGE", "10",
    "SEED", "1",
]


@contextlib.contextmanager
def one_thread():
    """Run torch on one thread (restored after). On a shared, busy CPU two OpenMP threads
    spin against other processes and make the tiny model ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def make_tiny_data(root, **overrides):
    """Generate the tiny synthetic data set under ``root``; returns generate_synthetic_ytvis'
    summary."""
    kwargs = dict(TINY_DATA)
    kwargs.update(overrides)
    return generate_synthetic_ytvis(str(root), **kwargs)


_counter = itertools.count()


def register(json_file, image_root, prefix="tiny", check_files="first"):
    """Register ``json_file`` under a new unique name and return the name."""
    name = "{}_{}_{}_{}".format(prefix, os.getpid(), next(_counter), uuid.uuid4().hex[:6])
    register_ytvis_instances(name, {}, str(json_file), str(image_root), check_files=check_files)
    return name


def unregister(*names):
    for name in names:
        if name in DatasetCatalog.list():
            DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)


def tiny_cfg(train=(), test=(), output_dir=None, opts=()):
    """The quickstart config with TINY_OPTS, the given data sets and ``opts`` on top."""
    cfg = get_cfg()
    add_masktrack_config(cfg)
    cfg.merge_from_file(QUICKSTART)
    cfg.merge_from_list(list(TINY_OPTS))
    cfg.DATASETS.TRAIN = tuple(train)
    cfg.DATASETS.TEST = tuple(test)
    if output_dir is not None:
        cfg.OUTPUT_DIR = str(output_dir)
    cfg.merge_from_list(list(opts))
    return cfg


def make_subprocess_data(root, **overrides):
    """
    The tiny data set at ``root/synthetic``, where the built-in registrations
    ``ytvis_synthetic_train`` / ``ytvis_synthetic_val`` look when ``DETECTRON2_DATASETS=root``
    (a train_net.py subprocess cannot see data sets registered in this process).
    """
    return make_tiny_data(os.path.join(str(root), "synthetic"), **overrides)


def write_config(path, output_dir, opts=(), test=False):
    """A yaml for train_net.py subprocesses: TINY_OPTS + ``opts`` on the built-in synthetic
    registrations (see :func:`make_subprocess_data`); evaluation only if ``test``."""
    cfg = tiny_cfg(train=("ytvis_synthetic_train",),
                   test=("ytvis_synthetic_val",) if test else (),
                   output_dir=output_dir, opts=opts)
    with open(str(path), "w") as f:
        f.write(cfg.dump())
    return str(path)


def train_net_cmd(config_file, *args):
    """argv running train_net.py with ``--config-file config_file`` and ``args`` (options and
    KEY VALUE overrides)."""
    return [sys.executable, TRAIN_NET, "--config-file", str(config_file)] + [str(a) for a in args]


def subprocess_env(datasets_root):
    """Environment of a train_net.py subprocess reading the data under ``datasets_root``."""
    env = dict(os.environ)
    env["DETECTRON2_DATASETS"] = str(datasets_root)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"  # see one_thread()
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def last_checkpoint(output_dir):
    """The checkpoint name ``output_dir/last_checkpoint`` points to, or None before the first."""
    try:
        with open(os.path.join(output_dir, "last_checkpoint")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None
