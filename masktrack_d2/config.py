"""Config keys added by MaskTrack R-CNN.

Defaults reproduce the mmtracking / mmdetection 3.x MaskTrack R-CNN ("MMT"), whose model zoo
holds the published numbers (YouTube-VIS 2019 R-50 30.2 AP). The original code's settings
(youtubevos/MaskTrackRCNN, "ORIG") are a config file,
``configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e_orig.yaml``; docs/method.md, "Reference
settings", lists where the two differ.
"""
import os
from importlib import resources

from detectron2.config import CfgNode as CN


def get_config_file(config_path: str) -> str:
    """
    Path of a config file the project ships, e.g. "quickstart/masktrack_R_18_FPN_synthetic.yaml"
    (relative to the repository's ``configs/``). An installed package carries a copy of
    ``configs/`` as package data (``masktrack_d2/configs``, see setup.py), so this works
    without the source tree; in a source checkout the repository's ``configs/`` is used.
    Relative ``_BASE_`` links resolve inside the same tree.
    """
    shipped = resources.files("masktrack_d2").joinpath("configs", config_path)
    if shipped.is_file():
        return str(shipped)
    repo = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                        config_path)
    if os.path.isfile(repo):
        return repo
    raise FileNotFoundError(f"config {config_path!r} is neither in the installed package "
                            f"({shipped}) nor in a source checkout ({repo})")


def add_masktrack_config(cfg):
    """Add every MaskTrack R-CNN key to ``cfg`` (in place), each with its reference default."""
    _C = cfg

    # ---------------------------------------------------------------- tracking head
    # Whether the model has its tracking head (detectron2's MASK_ON idiom). False is the
    # detector stage of the two-stage recipe (docs/two_stage.md): Mask R-CNN losses only,
    # trained on single annotated frames instead of frame pairs; its checkpoint starts the
    # tracking stage through MODEL.WEIGHTS, as a detectron2 COCO checkpoint does.
    _C.MODEL.TRACK_ON = True
    _C.MODEL.TRACK_HEAD = CN()
    _C.MODEL.TRACK_HEAD.NAME = "RoIEmbedHead"
    # Two FC layers of 1024 on the 7x7x256 RoI features (paper Sec. 4.1; ORIG and MMT).
    _C.MODEL.TRACK_HEAD.NUM_FC = 2
    _C.MODEL.TRACK_HEAD.FC_DIM = 1024
    # MMT ends the embedding with a ReLU (roi_embed_head.py); ORIG has none.
    _C.MODEL.TRACK_HEAD.LAST_RELU = True
    # MMT: PyTorch default nn.Linear init ("default"); ORIG: N(0, 0.01), zero bias ("normal").
    _C.MODEL.TRACK_HEAD.INIT = "default"
    # Normalisation of the FC outputs that a ReLU follows ("" = none, both references; "LN":
    # LayerNorm per RoI, which keeps the head's ReLUs from all dying when trained from scratch).
    _C.MODEL.TRACK_HEAD.NORM = ""
    # Weight of the match cross-entropy in the total loss (1.0 in ORIG and MMT).
    _C.MODEL.TRACK_HEAD.LOSS_WEIGHT = 1.0
    # MMT samples the track head's RoIs independently of the box head (same 128 / 25% / IoU 0.5
    # settings); ORIG reuses the box head's sample.
    _C.MODEL.TRACK_HEAD.SEPARATE_SAMPLING = True
    # Per-image loss normaliser: "matched" = positives whose target is a reference instance
    # (MMT, min 1); "positives" = all positive RoIs (ORIG, min 1).
    _C.MODEL.TRACK_HEAD.LOSS_NORM = "matched"

    # ---------------------------------------------------------------- online tracker
    _C.TEST.TRACKER = CN()
    # Weights of log det score, box IoU and label agreement added to the match log-probability
    # (ORIG match_coeff=[1.0, 2.0, 10]; MMT match_weights det_score=1.0, iou=2.0, det_label=10.0).
    _C.TEST.TRACKER.MATCH_WEIGHTS = (1.0, 2.0, 10.0)
    # Whether the embedding log-probability enters the score (off = IoU + label only; an ablation).
    _C.TEST.TRACKER.USE_EMBEDDING = True
    # A track unseen for this many listed frames is retired (MMT num_frames_retain=20; ORIG: never,
    # i.e. a value <= 0).
    _C.TEST.TRACKER.NUM_FRAMES_RETAIN = 20
    # MMT overwrites a track's label with the latest detection's; ORIG keeps the first.
    _C.TEST.TRACKER.UPDATE_LABEL = True
    # Both references let two detections of one frame keep the same track id when the later one
    # out-scores the earlier; True drops the loser instead (docs/method.md, "Duplicate track ids").
    _C.TEST.TRACKER.DEDUP = False

    # ---------------------------------------------------------------- data
    # Reference frame: uniform among other listed frames within +-RANGE of the key (MMT 100;
    # <= 0 means the whole video, as ORIG).
    _C.INPUT.SAMPLING_FRAME_RANGE = 100
    # ORIG draws the reference only among frames with >= 1 valid annotation.
    _C.INPUT.REF_NONEMPTY_ONLY = False

    # ---------------------------------------------------------------- solver
    # Whole-model gradient clipping (mmcv clips the global L2 norm of all gradients at 35) is
    # detectron2's SOLVER.CLIP_GRADIENTS with CLIP_TYPE "full_model" (masktrack_d2/solver.py).
    # Schedule in epochs of key frames; converted to MAX_ITER / STEPS by the trainer when > 0
    # (12 epochs, x0.1 after epochs 8 and 11; ORIG and MMT).
    _C.SOLVER.EPOCHS = 0
    _C.SOLVER.EPOCH_STEPS = (8, 11)

    # Mixed precision (SOLVER.AMP.ENABLED, detectron2's key): the autocast dtype, "float16"
    # (with a gradient scaler, as detectron2's AMPTrainer) or "bfloat16" (no scaler; Ampere
    # and later GPUs), and the gradient scaler's initial loss scale (float16 only). 2^8, not
    # torch's 2^16: the random track head's match-loss gradients are so large at the start
    # that from 2^16 the scaler skips its first ~8 steps, halving down to 2^8 anyway
    # (benchmarks/results/amp_overflow.md).
    _C.SOLVER.AMP.PRECISION = "float16"
    _C.SOLVER.AMP.INIT_SCALE = 2.0 ** 8

    # ---------------------------------------------------------------- numerics
    # Places where detectron2 and mmdetection compute the same thing slightly differently.
    # The defaults are detectron2's; the ``*_mmdet.yaml`` configs (imported mmdetection /
    # mmtracking checkpoints, see docs/mmdet_checkpoints.md) switch every one of them.
    # Test-time (and training) resize: "pil" = detectron2's ResizeShortestEdge (PIL, antialiased
    # bilinear); "cv2" = cv2.INTER_LINEAR with mmcv's output-size rounding.
    _C.INPUT.RESIZE_IMPL = "pil"
    # Log-scale box deltas (dw, dh) are clamped at log(1000/16): "upper" only (detectron2) or
    # on "both" sides (mmdetection's DeltaXYWHBBoxCoder).
    _C.MODEL.BOX_DELTA_CLAMP = "upper"
    # RoI -> FPN level: "detectron2" = floor(4 + log2(sqrt(area)/224 + 2.2e-16)); "mmdet" =
    # floor(log2(sqrt(area)/56 + 1e-6)) + 2. They differ only for boxes at a level boundary.
    _C.MODEL.ROI_LEVEL_MAPPING = "detectron2"
    # Tracker: "log_softmax" of the match logits, or "log_of_softmax" (log(softmax(x)), -inf
    # where the softmax underflows, as mmdetection computes it).
    _C.TEST.TRACKER.MATCH_LOG_PROB = "log_softmax"
    # The best score a track has received in the current frame starts at this value; a
    # detection must beat it to take the track (mmdetection: -1e6).
    _C.TEST.TRACKER.INITIAL_BEST_SCORE = float("-inf")

    # ---------------------------------------------------------------- video inference
    # Frames of a video the detector runs on at once (backbone, RPN, box head, embeddings);
    # the tracker still steps frame by frame. 1 = frame by frame. Outputs do not depend on it
    # beyond float rounding (tests/test_frames_per_batch.py).
    _C.TEST.FRAMES_PER_BATCH = 1
    # Per-frame output work (RLE encoding of the kept masks; in the demo also drawing and
    # video encoding) runs in one background thread beside the model, in frame order; masks
    # reach the host through pinned memory. The outputs are the same either way
    # (tests/test_frames_per_batch.py).
    _C.TEST.OUTPUT_WORKER = True

    # ---------------------------------------------------------------- misc
    # Video test set evaluation writes results.json + a submission zip here when the data set
    # has no ground truth.
    _C.TEST.SUBMISSION_NAME = "submission_file.zip"
    # Also report association metrics (HOTA, AssA, IDF1, ID switches, ...) beside AP.
    _C.TEST.TRACK_METRICS = False
    # Also write the evaluation report (index.html + figures: per-category AP and HOTA, TIVE's
    # error breakdown, AP over temporal length, videos from worst to best, frame strips of
    # the worst ones) to a folder "report" beside results.json.
    _C.TEST.REPORT = False

