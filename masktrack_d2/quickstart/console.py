"""The quickstart's console: progress bars per stage and the summary; everything else in a log.

detectron2's set-up logs the environment (torch's build flags among it) and the whole config,
and every evaluation logs its table: about a thousand lines before the quickstart's summary.
:class:`StageConsole` sends all that the process writes to its standard output and error
(Python and C alike: file descriptors 1 and 2) to ``log.txt``, and keeps a handle on the
terminal for one progress bar per stage and the summary, which go to both.
"""
import contextlib
import io
import os
import re
import sys
from typing import Optional

from tqdm import tqdm

from ..utils.file_io import atomic_write

__all__ = ["StageConsole", "training_progress"]


class StageConsole:
    """Use as ``with StageConsole(log_path) as console:``; on an error the terminal is given
    back and told where the log is, so no traceback is lost."""

    def __init__(self, log_path: str):
        self.log_path = os.path.abspath(log_path)
        self.terminal = None
        self._saved = None
        self._log = None

    def __enter__(self) -> "StageConsole":
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = (os.dup(1), os.dup(2))
        self.terminal = os.fdopen(os.dup(1), "w", buffering=1)
        open(self.log_path, "w").close()
        # appending, as detectron2's own handle on the same file does: no write overwrites
        self._log = open(self.log_path, "a", buffering=1)
        os.dup2(self._log.fileno(), 1)
        os.dup2(self._log.fileno(), 2)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        self._log.close()
        _strip_colour(self.log_path)
        if exc_type is not None and exc_type is not KeyboardInterrupt:
            self.terminal.write(f"[quickstart] failed: {exc_type.__name__}: {exc}\n"
                                f"[quickstart] the full log: {self.log_path}\n")
        self.terminal.close()

    @contextlib.contextmanager
    def logging_set_up(self):
        """Around detectron2's logging set-up: it gives its loggers a coloured console handler
        bound to the current ``sys.stdout`` and a plain one for ``OUTPUT_DIR/log.txt``, this
        log. Bound to a null stream instead, the console handlers write nothing, and each
        line reaches the log once, without colour."""
        with contextlib.redirect_stdout(_Null()):
            yield

    def stage(self, name: str, total: Optional[int], unit: str = "step") -> tqdm:
        """A progress bar on the terminal (never in the log)."""
        return tqdm(total=total, desc=f"[quickstart] {name:<10s}", unit=unit,
                    file=self.terminal, dynamic_ncols=True, leave=True,
                    mininterval=0.5 if self.terminal.isatty() else 30,
                    bar_format="{desc} {bar} {n_fmt}/{total_fmt} {unit} "
                               "[{elapsed}<{remaining}]{postfix}")

    def print(self, text: str = "") -> None:
        """A line on the terminal and in the log."""
        self.terminal.write(text + "\n")
        print(text, flush=True)


class _Null(io.TextIOBase):
    """A text stream that takes everything and keeps nothing, and stays usable."""

    def write(self, text: str) -> int:
        return len(text)


_ANSI = re.compile(rb"\x1b\[[0-9;]*m")


def _strip_colour(path: str) -> None:
    """Remove the terminal colour codes some messages carry (detectron2 highlights the config
    it logs)."""
    with open(path, "rb") as f:
        text = f.read()
    clean = _ANSI.sub(b"", text)
    if clean != text:
        with atomic_write(path, "wb") as f:
            f.write(clean)


def training_progress(bar: tqdm):
    """A trainer hook advancing ``bar`` by one per iteration (so its eta is the training's),
    with the latest total loss beside it."""
    from detectron2.engine import HookBase

    class TrainingProgress(HookBase):
        def after_step(self):
            bar.update(1)
            total = self.trainer.storage.latest().get("total_loss")
            if total is not None and bar.n % 20 == 0:
                bar.set_postfix_str(f"loss {total[0]:.3f}", refresh=False)

    return TrainingProgress()
