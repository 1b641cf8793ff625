"""Config keys added by MaskTrack R-CNN.

Defaults reproduce the mmtracking / mmdetection 3.x MaskTrack R-CNN ("MMT"), whose model zoo
holds the published numbers (YouTube-VIS 2019 R-50 30.2 AP). ``apply_orig_preset`` switches
the knobs where the original code (youtubevos/MaskTrackRCNN, "ORIG") differs.
"""
from detectron2.config import CfgNode as CN


def add_masktrack_config(cfg):
    """Add every MaskTrack R-CNN key to ``cfg`` (in place), each with its reference default."""
    _C = cfg

    # ---------------------------------------------------------------- tracking head
    _C.MODEL.TRACK_HEAD = CN()
    _C.MODEL.TRACK_HEAD.NAME = "RoIEmbedHead"
    # Two FC layers of 1024 on the 7x7x256 RoI features (paper Sec. 4.1; ORIG and MMT).
    _C.MODEL.TRACK_HEAD.NUM_FC = 2
    _C.MODEL.TRACK_HEAD.FC_DIM = 1024
    # MMT ends the embedding with a ReLU (roi_embed_head.py); ORIG has none.
    _C.MODEL.TRACK_HEAD.LAST_RELU = True
    # MMT: PyTorch default nn.Linear init ("default"); ORIG: N(0, 0.01), zero bias ("normal").
    _C.MODEL.TRACK_HEAD.INIT = "default"
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
    # out-scores the earlier; True drops the loser instead (masktrack.md pitfall 12).
    _C.TEST.TRACKER.DEDUP = False

    # ---------------------------------------------------------------- data
    # Reference frame: uniform among other listed frames within +-RANGE of the key (MMT 100;
    # <= 0 means the whole video, as ORIG).
    _C.INPUT.SAMPLING_FRAME_RANGE = 100
    # ORIG draws the reference only among frames with >= 1 valid annotation.
    _C.INPUT.REF_NONEMPTY_ONLY = False

    # ---------------------------------------------------------------- solver
    # mmcv clips the global L2 norm of all gradients at 35; detectron2's CLIP_GRADIENTS clips
    # per parameter, so the global clip has its own key (<= 0 disables it).
    _C.SOLVER.GLOBAL_GRAD_CLIP_NORM = 35.0
    # Schedule in epochs of key frames; converted to MAX_ITER / STEPS by the trainer when > 0
    # (12 epochs, x0.1 after epochs 8 and 11; ORIG and MMT).
    _C.SOLVER.EPOCHS = 0
    _C.SOLVER.EPOCH_STEPS = (8, 11)

    # ---------------------------------------------------------------- misc
    # Video test set evaluation writes results.json + a submission zip here when the data set
    # has no ground truth.
    _C.TEST.SUBMISSION_NAME = "submission_file.zip"
    # Also report association metrics (HOTA, AssA, IDF1, ID switches, ...) beside AP.
    _C.TEST.TRACK_METRICS = False


def apply_orig_preset(cfg):
    """Switch ``cfg`` (after add_masktrack_config) to the original MaskTrackRCNN settings."""
    cfg.MODEL.TRACK_HEAD.LAST_RELU = False
    cfg.MODEL.TRACK_HEAD.INIT = "normal"
    cfg.MODEL.TRACK_HEAD.SEPARATE_SAMPLING = False
    cfg.MODEL.TRACK_HEAD.LOSS_NORM = "positives"
    cfg.INPUT.SAMPLING_FRAME_RANGE = 0
    cfg.INPUT.REF_NONEMPTY_ONLY = True
    cfg.TEST.TRACKER.NUM_FRAMES_RETAIN = 0
    cfg.TEST.TRACKER.UPDATE_LABEL = False
    cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = 0.05
    cfg.TEST.DETECTIONS_PER_IMAGE = 10
    return cfg
