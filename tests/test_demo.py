"""demo.py end to end on a tiny random-init model: outputs, the --json format, error exits."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances

from masktrack_d2.data.synthetic import generate_synthetic_ytvis
from masktrack_d2.evaluation.ytvis_eval import load_ytvis_gt, validate_results
from masktrack_d2.predictor import VideoPredictor, setup_demo_cfg
from masktrack_d2.utils.video_io import FrameFolderSource, VideoFileSource
from masktrack_d2.utils.visualizer import TrackVisualizer, track_color

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
import demo  # noqa: E402

CONFIG = os.path.join(REPO, "configs/quickstart/masktrack_R_18_FPN_synthetic.yaml")
H, W, T = 96, 160, 6
# A slim model (random init) on frames shrunk to 64 px (outputs must come back at 96x160):
# fast on CPU. Threshold 0 so that a random model still detects (and tracks) something.
TINY = [
    "MODEL.FPN.OUT_CHANNELS", "32", "MODEL.ROI_BOX_HEAD.FC_DIM", "64",
    "MODEL.ROI_MASK_HEAD.CONV_DIM", "32", "MODEL.ROI_MASK_HEAD.NUM_CONV", "1",
    "MODEL.TRACK_HEAD.FC_DIM", "64", "MODEL.RPN.PRE_NMS_TOPK_TEST", "50",
    "MODEL.RPN.POST_NMS_TOPK_TEST", "50", "TEST.DETECTIONS_PER_IMAGE", "5",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "128",
    "MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.0",
]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # On a shared 2-core box, two OpenMP threads wait on each other ~40x longer than they
    # compute; one thread keeps these tests fast and their time predictable.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _save_model(path, extra=()):
    cfg = setup_demo_cfg(CONFIG, TINY + list(extra), confidence_threshold=0.0)
    torch.manual_seed(0)
    model = build_model(cfg)
    DetectionCheckpointer(model, os.path.dirname(path)).save(
        os.path.splitext(os.path.basename(path))[0])
    return path


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    data = generate_synthetic_ytvis(str(root / "synthetic"), num_videos=2, num_frames=T,
                                    height=H, width=W, seed=0)
    gt = json.load(open(data["all_json"]))
    video = next(v for v in gt["videos"] if v["id"] == 1)
    frames = [os.path.join(data["image_root"], f) for f in video["file_names"]]
    clip = str(root / "clip.mp4")
    writer = cv2.VideoWriter(clip, cv2.VideoWriter_fourcc(*"mp4v"), 6.0, (W, H))
    for f in frames:
        writer.write(cv2.imread(f))
    writer.release()
    return {
        "root": root, "gt": data["all_json"], "frames": frames,
        "frame_dir": os.path.dirname(frames[0]), "clip": clip,
        "model": _save_model(str(root / "model.pth")),
        "model_5cls": _save_model(str(root / "model_5cls.pth"),
                                  ["MODEL.ROI_HEADS.NUM_CLASSES", "5"]),
    }


def _argv(assets, *args, weights=None):
    return ["--config-file", CONFIG, "--confidence-threshold", "0.0", "--no-progress", *args,
            "--opts", *TINY, "MODEL.WEIGHTS", weights or assets["model"]]


def _read_video(path):
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f.shape)
    cap.release()
    return frames, fps


# ------------------------------------------------------------------------------ drawing
def test_track_color_is_a_stable_function_of_the_id():
    assert track_color(3) == track_color(3) == track_color(np.int64(3))
    colors = [track_color(i) for i in range(12)]
    assert len(set(colors)) == 12  # neighbours (tracks born together) differ
    for c in colors:
        assert len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
    # Not a function of call order / state: ask again in another order.
    assert [track_color(i) for i in reversed(range(12))] == colors[::-1]


def test_visualizer_paints_each_track_in_its_colour_across_frames():
    vis = TrackVisualizer(["circle", "square"], alpha=1.0)
    blank = np.zeros((40, 60, 3), np.uint8)
    for x in (5, 30):  # the same track (id 7) moves; another (id 2) stays
        masks = torch.zeros(2, 40, 60, dtype=torch.bool)
        masks[0, 20:35, x:x + 20] = True
        masks[1, 2:8, 2:8] = True
        inst = Instances((40, 60), pred_track_ids=torch.tensor([7, 2]),
                         scores=torch.tensor([0.9, 0.8]), pred_classes=torch.tensor([0, 5]),
                         pred_masks=masks, pred_boxes=Boxes(torch.tensor(
                             [[x, 20, x + 19, 34], [2, 2, 7, 7]], dtype=torch.float32)))
        out = vis.draw(blank, inst)
        assert tuple(out[28, x + 10]) == track_color(7)  # mask interior, away from label/box
        assert not out.any(axis=2)[39, 59]  # background untouched
    assert vis.class_name(5) == "class 5" and vis.class_name(1) == "square"


# ------------------------------------------------------------------------------ runs
def test_video_to_video_and_json(assets, tmp_path):
    out, js = str(tmp_path / "out.mp4"), str(tmp_path / "tracks.json")
    rc = demo.main(_argv(assets, "--video-input", assets["clip"], "--output", out,
                         "--json", js))
    assert rc == 0
    shapes, fps = _read_video(out)
    assert len(shapes) == T and set(shapes) == {(H, W, 3)} and fps == pytest.approx(6.0)
    assert sorted(os.listdir(tmp_path)) == ["out.mp4", "tracks.json"]  # no temporary left
    plain = tmp_path / "plain"
    plain.write_text("")  # outputs get a plain file's permissions, not a temporary's 0600
    assert os.stat(out).st_mode == os.stat(js).st_mode == os.stat(plain).st_mode

    results = json.load(open(js))
    assert results, "a threshold-0 random model should track something"
    for r in results:
        assert set(r) == {"video_id", "category_id", "score", "segmentations"}
        assert r["video_id"] == 1 and r["category_id"] in (1, 2, 3)
        assert len(r["segmentations"]) == T
        assert all(s is None or s["size"] == [H, W] for s in r["segmentations"])
    assert len(validate_results(js, load_ytvis_gt(assets["gt"]))) == len(results)


def test_frame_glob_to_frame_folder(assets, tmp_path):
    out = tmp_path / "drawn"
    pattern = os.path.join(assets["frame_dir"], "*.jpg")
    rc = demo.main(_argv(assets, "--input", pattern, "--output", str(out)))
    assert rc == 0
    names = [os.path.basename(f) for f in assets["frames"]]
    assert sorted(os.listdir(out)) == sorted(names)  # same names as the inputs
    assert cv2.imread(str(out / names[0])).shape == (H, W, 3)
    assert sorted(os.listdir(tmp_path)) == ["drawn"]


def test_frame_folder_to_odd_sized_avi_keeps_size_and_fps(tmp_path):
    # Odd sizes: OpenCV's encoders would silently drop a row / column; the sink pads instead.
    from masktrack_d2.utils.video_io import Frame, VideoFileSink

    path = str(tmp_path / "odd.avi")
    with VideoFileSink(path, 12.0) as sink:
        for i in range(3):
            sink.write(Frame(i, f"{i:05d}.jpg", np.full((33, 51, 3), 40 * i, np.uint8)))
    shapes, fps = _read_video(path)
    assert shapes == [(34, 52, 3)] * 3 and fps == pytest.approx(12.0)


def test_sources_stream_in_natural_order(assets, tmp_path):
    for i in (10, 9, 1):
        cv2.imwrite(str(tmp_path / f"img_{i}.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("not a frame")
    src = FrameFolderSource([str(tmp_path)])
    assert [os.path.basename(f) for f in src.files] == ["img_1.png", "img_9.png", "img_10.png"]
    assert [f.name for f in src] == ["img_1.jpg", "img_9.jpg", "img_10.jpg"]
    video = VideoFileSource(assets["clip"])
    assert (video.num_frames, video.fps, video.height, video.width) == (T, 6.0, H, W)
    it = iter(video)
    first = next(it)  # a generator: one decoded frame at a time
    assert first.index == 0 and first.image.shape == (H, W, 3)
    assert len(list(it)) == T - 1


def test_predictor_streams_one_frame_at_a_time(assets):
    cfg = setup_demo_cfg(CONFIG, TINY + ["MODEL.WEIGHTS", assets["model"]], 0.0)
    predictor = VideoPredictor(cfg)
    pulled = []

    def frames():
        for f in FrameFolderSource(assets["frames"][:3]):
            pulled.append(f.index)
            yield f

    seen = []
    for frame, inst in predictor(frames()):
        assert pulled[-1] == frame.index  # nothing read ahead, nothing held back
        assert inst.pred_masks.dtype == torch.bool and inst.pred_masks.shape[1:] == (H, W)
        assert len(inst.pred_track_ids) == len(inst) and inst.pred_masks.device.type == "cpu"
        seen.append(frame.index)
    assert seen == [0, 1, 2]


# ------------------------------------------------------------------------------ errors
def _write(path, data):
    path.write_bytes(data)
    return str(path)


def _garbage_mp4(root):
    path = root / "garbage.mp4"
    path.write_bytes(np.random.RandomState(0).bytes(4096))
    return str(path)


def _truncated_avi(assets, root):
    # AVI keeps its frame count in the header: cut in half it still opens, then stops.
    full = str(root / "full.avi")
    writer = cv2.VideoWriter(full, cv2.VideoWriter_fourcc(*"MJPG"), 6.0, (W, H))
    for f in assets["frames"]:
        writer.write(cv2.imread(f))
    writer.release()
    data = open(full, "rb").read()
    path = root / "cut.avi"
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def _corrupt_frame_dir(assets, root):
    d = root / "frames"
    d.mkdir()
    for f in assets["frames"]:
        (d / os.path.basename(f)).write_bytes(open(f, "rb").read())
    bad = d / os.path.basename(assets["frames"][2])
    bad.write_bytes(bad.read_bytes()[:300])
    return str(d), str(bad)


ERRORS = {
    # case: (input args, expected substrings of the message, weights)
    "missing_video": lambda a, r: (["--video-input", str(r / "nope.mp4")],
                                   ["not found", "nope.mp4"], None),
    "garbage_video": lambda a, r: (["--video-input", _garbage_mp4(r)],
                                   ["garbage.mp4", "cannot open"], None),
    "truncated_video": lambda a, r: (["--video-input", _truncated_avi(a, r)],
                                     ["cut.avi", "stopped at frame", f"of the {T}"], None),
    "empty_glob": lambda a, r: (["--input", str(r / "none" / "*.jpg")],
                                ["no image files match", "*.jpg"], None),
    "empty_folder": lambda a, r: (["--input", str(r / "empty")],
                                  ["no image files", os.path.join("in", "empty")], None),
    "corrupt_jpeg": lambda a, r: (lambda d, bad: (["--input", d], [bad, "frame 2"], None))(
        *_corrupt_frame_dir(a, r)),
    "missing_checkpoint": lambda a, r: (["--video-input", a["clip"]],
                                        ["checkpoint file not found", "missing.pth"],
                                        str(r / "missing.pth")),
    "unreadable_checkpoint": lambda a, r: (["--video-input", a["clip"]],
                                           ["cannot load checkpoint", "junk.pth"],
                                           _write(r / "junk.pth", b"not a checkpoint")),
    "video_given_as_frames": lambda a, r: (["--input", a["clip"]],
                                           ["clip.mp4", "--video-input"], None),
    "checkpoint_of_other_num_classes": lambda a, r: (
        ["--video-input", a["clip"]],
        ["model_5cls.pth", "does not fit", "cls_score.weight: (6, 64) vs (4, 64)"],
        a["model_5cls"]),
}


# The output kind matters only for errors after frames were written (the corrupt JPEG).
@pytest.mark.parametrize("case,output", [(c, "out.mp4") for c in sorted(ERRORS)]
                         + [("corrupt_jpeg", "out_frames")])
def test_errors_exit_2_with_one_line_and_no_output(assets, tmp_path, capsys, case, output):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "empty").mkdir()
    args, expected, weights = ERRORS[case](assets, inputs)
    outdir = tmp_path / "out"
    outdir.mkdir()
    argv = _argv(assets, *args, "--output", str(outdir / output), "--json",
                 str(outdir / "t.json"), weights=weights)
    assert demo.main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for s in expected:
        assert s in lines[0], (s, lines[0])
    assert os.listdir(outdir) == []  # neither outputs nor temporaries


def test_usage_errors(assets, tmp_path, capsys):
    clip = assets["clip"]
    assert demo.main(["--config-file", CONFIG, "--video-input", clip]) == 2  # nothing to write
    assert "nothing to write" in capsys.readouterr().err
    assert demo.main(["--config-file", str(tmp_path / "x.yaml"), "--video-input", clip,
                      "--output", str(tmp_path / "o.mp4")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert demo.main(_argv(assets, "--video-input", clip, "--output", str(tmp_path / "o.mp4"))
                     + ["NO.SUCH_KEY", "1"]) == 2
    assert "NO.SUCH_KEY" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_cli_subprocess(assets, tmp_path):
    out, js = str(tmp_path / "o.avi"), str(tmp_path / "t.json")
    cmd = [sys.executable, os.path.join(REPO, "demo.py"), *_argv(
        assets, "--video-input", assets["clip"], "--output", out, "--json", js)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), timeout=300,
                       env=env)
    assert p.returncode == 0, p.stderr
    assert "frames/s" in p.stdout
    assert len(_read_video(out)[0]) == T
    validate_results(js, assets["gt"])
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "gone.pth")], capture_output=True,
                         text=True, cwd=str(tmp_path), timeout=300, env=env)
    assert bad.returncode == 2 and "gone.pth" in bad.stderr
    assert "Traceback" not in bad.stderr
