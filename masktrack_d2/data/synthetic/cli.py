"""The command line (``python -m masktrack_d2.data.synthetic``, the ``masktrack-synthetic``
console script): parse the generator's arguments, write the data set (by default where the
``ytvis_synthetic*`` registrations look) and print where its parts went.
"""
import argparse
import os

from .dataset import MODES, generate_synthetic_ytvis

__all__ = ["main"]


def main(argv=None, prog=None):
    """Generate the data set from ``argv`` (default ``sys.argv[1:]``); ``prog`` names the
    program in the usage line (default: argparse's, from ``sys.argv[0]``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Generate the synthetic YouTube-VIS data set."
    )
    parser.add_argument(
        "--output",
        default=None,
        help="output directory (default: $DETECTRON2_DATASETS/synthetic, where the "
        "ytvis_synthetic_{train,val} registrations look; synthetic_hard for --mode hard, "
        "where ytvis_synthetic_hard_{train,val} look)",
    )
    parser.add_argument("--mode", choices=MODES, default="default",
                        help="hard: textured shapes, six categories, clutter, camera pan")
    parser.add_argument("--num-videos", type=int, default=24)
    parser.add_argument("--num-frames", type=int, default=10)
    parser.add_argument("--height", type=int, default=None, help="default 192 (hard: 360)")
    parser.add_argument("--width", type=int, default=None, help="default 320 (hard: 640)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.25)
    parser.add_argument("--scale", type=float, default=None, help="object size multiplier")
    args = parser.parse_args(argv)
    output = args.output
    if output is None:
        name = "synthetic" if args.mode == "default" else "synthetic_" + args.mode
        output = os.path.join(os.getenv("DETECTRON2_DATASETS", "datasets"), name)
    s = generate_synthetic_ytvis(
        output, args.num_videos, args.num_frames, args.height, args.width,
        args.seed, args.val_fraction, args.scale, args.mode,
    )
    print("frames:     {}".format(s["image_root"]))
    print(
        "all videos: {} ({} videos, {} instances)".format(
            s["all_json"], s["num_videos"], s["num_annotations"]
        )
    )
    print("train:      {} ({} videos)".format(s["train_json"], s["num_train_videos"]))
    print("val:        {} ({} videos)".format(s["val_json"], s["num_val_videos"]))
    print("same-category crossings in videos {}".format(s["crossing_video_ids"]))
    return s
