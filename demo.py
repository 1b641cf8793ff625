#!/usr/bin/env python
"""Track and segment the instances of one video with a trained MaskTrack R-CNN, and draw them.

Usage::

    python demo.py --config-file configs/quickstart/masktrack_R_18_FPN_synthetic.yaml \\
        --video-input clip.mp4 --output out.mp4 [--json tracks.json] \\
        [--confidence-threshold 0.5] --opts MODEL.WEIGHTS output/quickstart/model_final.pth

    python demo.py --config-file CFG --input "frames/*.jpg" --output drawn/ --fps 6 \\
        --opts MODEL.WEIGHTS model.pth

Input: ``--video-input`` a video file (read with OpenCV), or ``--input`` one or more
folders / quoted glob patterns / image files, taken in natural name order as the frames of
one video.
Output: ``--output`` ending in ``.mp4`` (mp4v) or ``.avi`` (MJPG) is a video at the input's
frame rate (``--fps`` overrides; frame folders have none and default to 6 fps, the rate of
YouTube-VIS's listed frames); any other name is a folder of JPEGs named like the input frames
(``00000.jpg``, ... for a video). ``--json`` writes the tracks in the YouTube-VIS results
format (``video_id`` from ``--video-id``; category ids through the metadata of
``DATASETS.TEST[0]`` when it is registered, else label + 1).

Each track keeps one colour (from its id) in all frames; labels read "id N category score".
``--confidence-threshold`` also becomes ``MODEL.ROI_HEADS.SCORE_THRESH_TEST``: the tracker
sees exactly the detections that are drawn and written. Frames are streamed (memory does not
grow with the video's length); runs on the CPU when there is no GPU (on a CPU shared with
other jobs, ``OMP_NUM_THREADS=1`` can be many times faster than the default).

On a problem (missing / unreadable video or frame, empty folder or glob, missing checkpoint
or one that does not fit the config) it prints one ``error: ...`` line, exits with status 2
and leaves no output file behind.
"""
import os

# Before torch loads OpenMP (it reads this once): waiting threads sleep instead of spinning,
# which keeps a CPU run from collapsing when other jobs share the cores. An explicit setting
# is kept. Set here, not in a helper of the package: importing masktrack_d2 imports torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="MaskTrack R-CNN video demo: draw tracked instances, optionally write "
                    "YouTube-VIS results.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config-file", required=True, metavar="FILE", help="config yaml")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--video-input", metavar="VIDEO", help="a video file")
    src.add_argument("--input", nargs="+", metavar="PATH",
                     help="folder(s), quoted glob pattern(s) such as 'frames/*.jpg', or image "
                          "files: the frames of one video, in natural name order")
    parser.add_argument("--output", metavar="PATH",
                        help="name.mp4 / name.avi for a video, anything else for a frame folder")
    parser.add_argument("--json", metavar="PATH", help="write YouTube-VIS results here")
    parser.add_argument("--video-id", type=int, default=1, help="video_id in the --json results")
    parser.add_argument("--confidence-threshold", type=float, default=0.5,
                        help="minimum score of a detection (also SCORE_THRESH_TEST)")
    parser.add_argument("--fps", type=float, default=None,
                        help="frame rate of a video output (default: the input video's; 6 for "
                             "frame folders)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--opts", default=[], nargs=argparse.REMAINDER, metavar="KEY VALUE",
                        help="config overrides, e.g. MODEL.WEIGHTS model.pth (must come last)")
    return parser


def main(argv=None) -> int:
    parser = get_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # usage errors (status 2) and --help (0)
        return e.code if isinstance(e.code, int) else 2
    if args.output is None and args.json is None:
        parser.print_usage(sys.stderr)
        print("error: nothing to write: give --output and/or --json", file=sys.stderr)
        return 2
    if not 0.0 <= args.confidence_threshold <= 1.0:
        print(f"error: --confidence-threshold must be in [0, 1], got "
              f"{args.confidence_threshold}", file=sys.stderr)
        return 2
    if args.fps is not None and not args.fps > 0:
        print(f"error: --fps must be > 0, got {args.fps}", file=sys.stderr)
        return 2

    # FFmpeg's own decoder messages ("moov atom not found") would duplicate our error line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\.|$)")
        from masktrack_d2.predictor import (
            CheckpointError, ConfigError, run_demo, setup_demo_cfg)
        from masktrack_d2.utils.video_io import VideoIOError

    try:
        with warnings.catch_warnings():
            # torch's deprecation notices (meshgrid indexing, ...) say nothing to a demo user.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\.|$)")
            cfg = setup_demo_cfg(args.config_file, args.opts, args.confidence_threshold)
            stats = run_demo(cfg, video_input=args.video_input, inputs=args.input,
                             output=args.output, json_path=args.json, video_id=args.video_id,
                             fps=args.fps, progress=not args.no_progress)
    except (ConfigError, CheckpointError, VideoIOError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted (no output written)", file=sys.stderr)
        return 130

    written = [p for p in (args.output, args.json) if p]
    print(f"{stats['frames']} frames, {stats['tracks']} tracks, {stats['fps']:.2f} frames/s "
          f"on {stats['device']}; wrote {', '.join(written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
