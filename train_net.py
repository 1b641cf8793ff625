#!/usr/bin/env python
"""
Train or evaluate MaskTrack R-CNN with detectron2's DefaultTrainer.

    python train_net.py --num-gpus 8 --config-file configs/youtubevis_2019/masktrack_rcnn_R_50_FPN_12e.yaml
    python train_net.py --eval-only --config-file <cfg> MODEL.WEIGHTS output/model_final.pth
    python train_net.py --resume --config-file <cfg>          # continue from the last checkpoint
"""
import os

# Before torch loads OpenMP (see demo.py): passive waiting unless set explicitly; the
# processes launched for --num-gpus and the loader workers inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import detectron2.utils.comm as comm  # noqa: E402
from detectron2.checkpoint import DetectionCheckpointer  # noqa: E402
from detectron2.engine import default_argument_parser  # noqa: E402
from detectron2.evaluation import verify_results  # noqa: E402

import masktrack_d2  # noqa: F401,E402  (registers the model and the data sets)
from masktrack_d2.engine import MaskTrackTrainer, setup_cfg  # noqa: E402
from masktrack_d2.engine.launch import launch  # noqa: E402  (detectron2 launch; gloo without CUDA)
from masktrack_d2.checkpoint import load_checkpoint_strict  # noqa: E402


def main(args):
    cfg = setup_cfg(args, training=not args.eval_only)
    if args.eval_only:
        model = MaskTrackTrainer.build_model(cfg)
        # Strict: a checkpoint that does not fit the config is an error, not a warning.
        checkpointer = DetectionCheckpointer(model, save_dir=cfg.OUTPUT_DIR)
        weights = cfg.MODEL.WEIGHTS
        if args.resume and checkpointer.has_checkpoint():
            weights = checkpointer.get_checkpoint_file()
        load_checkpoint_strict(model, weights)
        res = MaskTrackTrainer.test(cfg, model)
        if comm.is_main_process():
            verify_results(cfg, res)
        return res
    trainer = MaskTrackTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


if __name__ == "__main__":
    args = default_argument_parser().parse_args()
    print("Command Line Args:", args)
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
