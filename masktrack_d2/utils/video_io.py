"""Frame sources (a video file, a folder / glob of images) and sinks (a video file, a folder
of JPEGs) for the demo, streaming one frame at a time.

Sources yield :class:`Frame` s in order and hold at most one decoded frame. Sinks write to a
temporary name beside the target and move it into place only in :meth:`close`, so an error
(or Ctrl-C) never leaves a half-written video or a partly filled output folder behind.
Every failure is a :class:`VideoIOError` whose message names the file (and the frame).
"""
import contextlib
import glob
import math
import os
import re
import shutil
import tempfile
import uuid
from typing import Iterator, List, NamedTuple, Optional, Sequence

import cv2
import numpy as np

__all__ = [
    "VideoIOError", "Frame", "VideoFileSource", "FrameFolderSource", "VideoFileSink",
    "FrameFolderSink", "open_source", "open_sink", "list_image_files", "VIDEO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
]

#: Output names with these endings are written as a video file; anything else is a folder.
VIDEO_EXTENSIONS = {".mp4": "mp4v", ".avi": "MJPG"}
#: Files a folder or glob input picks up (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_JPEG_QUALITY = 95
_VIDEO_LIKE = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class VideoIOError(RuntimeError):
    """A frame source cannot be read or an output cannot be written."""


class Frame(NamedTuple):
    """One input frame: ``index`` (0-based position in the source), ``name`` (the output file
    name in a frame folder, e.g. ``00000.jpg``) and ``image`` ((H, W, 3) uint8, BGR)."""

    index: int
    name: str
    image: np.ndarray


# ------------------------------------------------------------------------------ sources
class VideoFileSource:
    """
    Frames of a video file decoded with ``cv2.VideoCapture``. The file is opened in the
    constructor so that a missing or undecodable file fails before any model is built.

    Attributes:
        path, fps (float or None when the container has none), num_frames (the container's
        frame count, None when it has none), height, width.
    """

    def __init__(self, path: str):
        self.path = path
        if not os.path.exists(path):
            raise VideoIOError(f"video file not found: {path}")
        if not os.path.isfile(path):
            raise VideoIOError(f"not a video file: {path} (use --input for a folder of frames)")
        self._cap = cv2.VideoCapture(path)
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoIOError(
                f"cannot open {path} as a video: not a video file, truncated, or in a codec "
                "OpenCV cannot decode")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if math.isfinite(fps) and fps > 0 else None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.num_frames = count if count > 0 else None
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self._consumed = False

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError(f"the frame count of {self.path} is unknown")
        return self.num_frames

    def __iter__(self) -> Iterator[Frame]:
        if self._consumed:
            raise RuntimeError("a VideoFileSource can be iterated once")
        self._consumed = True
        i = 0
        try:
            while True:
                ok, image = self._cap.read()
                if not ok:
                    break
                yield Frame(i, f"{i:05d}.jpg", image)
                i += 1
        finally:
            self._cap.release()
        if i == 0:
            raise VideoIOError(f"no frame could be decoded from {self.path}: not a readable video")
        # The container's count is exact for mp4 / avi (an index or header); fewer decoded
        # frames means the data stops early (a truncated or corrupt file).
        if self.num_frames is not None and i < self.num_frames:
            raise VideoIOError(
                f"{self.path}: decoding stopped at frame {i} of the {self.num_frames} the file "
                "declares (truncated or corrupt video)")

    def close(self) -> None:
        self._cap.release()


_DIGITS = re.compile(r"(\d+)")


def _natural_key(path: str):
    # "img_9" before "img_10"; same as plain sorting for zero-padded names.
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in _DIGITS.split(path)]


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(path)


def list_image_files(inputs: Sequence[str]) -> List[str]:
    """
    Resolve ``inputs`` (folders, glob patterns such as ``"frames/*.jpg"``, or image files)
    to image files in natural name order, duplicates removed. Folders and globs pick up files
    with an :data:`IMAGE_EXTENSIONS` ending; explicitly named files are taken as they are.

    Raises:
        VideoIOError naming the folder / pattern / file that yields nothing.
    """
    files = []
    for item in inputs:
        if os.path.isdir(item):
            found = [os.path.join(item, f) for f in os.listdir(item)]
            found = [f for f in found if _is_image(f)]
            if not found:
                raise VideoIOError(
                    f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder {item}")
        elif glob.has_magic(item):
            found = [f for f in glob.glob(item) if _is_image(f)]
            if not found:
                raise VideoIOError(f"no image files match {item}")
        elif os.path.isfile(item):
            if item.lower().endswith(_VIDEO_LIKE):
                raise VideoIOError(f"{item} looks like a video file: use --video-input for it")
            found = [item]
        else:
            raise VideoIOError(f"no such file or folder: {item}")
        files.extend(found)
    return sorted(set(files), key=_natural_key)


class FrameFolderSource:
    """
    Frames read from image files (see :func:`list_image_files`), one at a time, with
    detectron2's reader (EXIF orientation applied, truncated files are errors). All frames must
    have the size of the first: they are one video to the tracker.

    Attributes:
        files, fps (None: frame folders carry no rate), num_frames, height, width (of the
        first frame, read lazily).
    """

    def __init__(self, inputs: Sequence[str]):
        self.files = list_image_files(inputs)
        self.fps = None
        self.num_frames = len(self.files)
        stems = [os.path.splitext(os.path.basename(f))[0] for f in self.files]
        # Output frames keep the input names unless two inputs share one (e.g. a.png, a.jpg).
        if len(set(stems)) == len(stems):
            self._names = [s + ".jpg" for s in stems]
        else:
            self._names = [f"{i:05d}.jpg" for i in range(len(stems))]

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[Frame]:
        from detectron2.data.detection_utils import read_image

        size = None
        for i, (path, name) in enumerate(zip(self.files, self._names)):
            try:
                image = read_image(path, format="BGR")
            except Exception as e:  # PIL / OS errors do not name the file
                raise VideoIOError(
                    f"cannot read frame {i}: {path} ({type(e).__name__}: {e})") from None
            if size is None:
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise VideoIOError(
                    f"frame {i} ({path}) is {image.shape[1]}x{image.shape[0]}, but the first "
                    f"frame ({self.files[0]}) is {size[1]}x{size[0]}; all frames of a video "
                    "must have one size")
            yield Frame(i, name, np.ascontiguousarray(image))

    def close(self) -> None:
        pass


def open_source(video_input: Optional[str] = None, inputs: Optional[Sequence[str]] = None):
    """A :class:`VideoFileSource` for ``video_input`` or a :class:`FrameFolderSource` for
    ``inputs`` (exactly one of the two)."""
    if (video_input is None) == (not inputs):
        raise ValueError("give exactly one of video_input / inputs")
    if video_input is not None:
        return VideoFileSource(video_input)
    return FrameFolderSource(inputs)


# ------------------------------------------------------------------------------ sinks
class _Sink:
    """An output that is complete after :meth:`close` and absent after :meth:`abort`; as a
    context manager it closes on success and aborts on an exception."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


class VideoFileSink(_Sink):
    """
    Writes frames to ``path`` (``.mp4``: mp4v, ``.avi``: MJPG; both encoded by OpenCV itself,
    no ffmpeg binary needed) at ``fps``. The writer is opened on the first frame, whose size
    fixes the video's; frames go to a hidden temporary file in the same folder that
    :meth:`close` renames to ``path`` and :meth:`abort` deletes.

    Both OpenCV encoders need even dimensions: an odd width / height is padded by one
    replicated pixel column / row rather than silently cut by the encoder.
    """

    def __init__(self, path: str, fps: float):
        ext = os.path.splitext(path)[1].lower()
        if ext not in VIDEO_EXTENSIONS:
            raise VideoIOError(f"unsupported video output {path}: use one of "
                               f"{', '.join(VIDEO_EXTENSIONS)}")
        if not (fps > 0 and math.isfinite(fps)):
            raise VideoIOError(f"invalid frame rate {fps} for {path}")
        self.path = path
        self.fps = float(fps)
        self.fourcc = VIDEO_EXTENSIONS[ext]
        self.frames_written = 0
        self._writer = None
        self._tmp = None
        self._size = None  # (H, W) of the input frames

    def write(self, frame: Frame) -> None:
        image = frame.image
        if self._writer is None:
            self._open(image.shape[:2])
        if image.shape[:2] != self._size:
            raise VideoIOError(
                f"frame {frame.index} is {image.shape[1]}x{image.shape[0]}, but {self.path} "
                f"was started at {self._size[1]}x{self._size[0]}")
        h, w = self._size
        if h % 2 or w % 2:
            image = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        self._writer.write(np.ascontiguousarray(image))
        self.frames_written += 1

    def _open(self, size) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        base, ext = os.path.splitext(os.path.basename(self.path))
        # OpenCV picks the container from the extension, so the temporary name keeps it. The
        # writer creates the file itself, with a plain file's permissions (mkstemp's 0600
        # would survive the rename).
        self._tmp = os.path.join(directory, f".{base}.{uuid.uuid4().hex}.tmp{ext}")
        h, w = size
        self._size = (h, w)
        self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*self.fourcc), self.fps,
                                       (w + w % 2, h + h % 2))
        if not self._writer.isOpened():
            self.abort()
            raise VideoIOError(f"cannot write video {self.path} (OpenCV codec {self.fourcc}, "
                               f"{w}x{h} at {self.fps} fps)")

    def close(self) -> None:
        """Finish the file and move it to ``path``. With no frame written nothing is made."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            os.replace(self._tmp, self.path)
            self._tmp = None

    def abort(self) -> None:
        """Drop everything written so far; ``path`` is left as it was."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._tmp)
            self._tmp = None


class FrameFolderSink(_Sink):
    """
    Writes each frame as ``<directory>/<frame.name>`` (JPEG). Frames are first written to a
    hidden temporary folder beside ``directory``; :meth:`close` moves them in (replacing files
    of the same name, leaving other files alone) and :meth:`abort` deletes them.
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.frames_written = 0
        self._tmp = None

    def write(self, frame: Frame) -> None:
        if self._tmp is None:
            parent = os.path.dirname(os.path.abspath(self.directory))
            os.makedirs(parent, exist_ok=True)
            self._tmp = tempfile.mkdtemp(
                dir=parent, prefix=f".{os.path.basename(os.path.abspath(self.directory))}.",
                suffix=".tmp")
        path = os.path.join(self._tmp, frame.name)
        if not cv2.imwrite(path, frame.image, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
            raise VideoIOError(f"cannot write frame {frame.index} to {path}")
        self.frames_written += 1

    def close(self) -> None:
        if self._tmp is None:
            return
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            self.abort()
            raise VideoIOError(f"output {self.directory} exists and is not a folder")
        os.makedirs(self.directory, exist_ok=True)
        for name in os.listdir(self._tmp):
            os.replace(os.path.join(self._tmp, name), os.path.join(self.directory, name))
        os.rmdir(self._tmp)
        self._tmp = None

    def abort(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def open_sink(output: str, fps: float):
    """A :class:`VideoFileSink` when ``output`` ends with a :data:`VIDEO_EXTENSIONS` key, else a
    :class:`FrameFolderSink` (``fps`` is then unused)."""
    if os.path.splitext(output)[1].lower() in VIDEO_EXTENSIONS:
        return VideoFileSink(output, fps)
    if os.path.isfile(output):
        raise VideoIOError(
            f"output {output} is an existing file; a frame folder output needs a folder name "
            f"(or end the name with {' / '.join(VIDEO_EXTENSIONS)} for a video)")
    return FrameFolderSink(output)
