"""Per-frame output work (RLE encoding, drawing, video encoding) run beside the model.

:class:`OrderedWorker` runs the calls it is given in one background thread, in the order they
were submitted, while the caller goes on with the next frames. One thread keeps the order
(frames are added to results, drawn and written in sequence) and the outputs identical to
running the calls inline; what it gains is the time the model thread does not wait for them.
"""
import queue
import threading
from typing import Any, Callable, Optional

__all__ = ["OrderedWorker"]

_STOP = object()


class OrderedWorker:
    """Runs submitted calls in submission order in one background thread.

    Example::

        with OrderedWorker(enabled=True, max_pending=8) as worker:
            for frame_idx, instances in model.track_frames(frames):
                worker.submit(results.add_frame, frame_idx, ...)
        # here every call has run; an exception of one is raised here (or by a later submit)

    * ``max_pending`` bounds the calls waiting to run (``submit`` blocks when it is reached),
      so the frames held in memory stay bounded whatever the video's length.
    * The first exception a call raises stops the worker (the calls after it do not run) and
      is raised in the caller's thread by the next :meth:`submit` or by :meth:`close`.
    * Leaving the ``with`` block on an exception drops the calls not yet started.
    * ``enabled=False`` runs each call inline in :meth:`submit`: the same results, in the
      caller's thread.
    """

    def __init__(self, enabled: bool = True, max_pending: int = 8, name: str = "outputs"):
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.enabled = bool(enabled)
        self._error: Optional[BaseException] = None
        self._queue: "queue.Queue" = queue.Queue(maxsize=max_pending)
        self._thread: Optional[threading.Thread] = None
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, name=f"masktrack_d2-{name}",
                                            daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None:  # drain without running after a failure
                continue
            fn, args, kwargs = item
            try:
                fn(*args, **kwargs)
            except BaseException as e:  # re-raised in the caller's thread
                self._error = e

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def submit(self, fn: Callable[..., Any], *args, **kwargs) -> None:
        """Queue ``fn(*args, **kwargs)`` (or run it now when the worker is disabled)."""
        if not self.enabled:
            fn(*args, **kwargs)
            return
        if self._thread is None:
            raise RuntimeError("submit() after close()")
        self._raise_pending_error()
        self._queue.put((fn, args, kwargs))

    def close(self, cancel: bool = False) -> None:
        """Wait for the queued calls (``cancel=True``: drop those not started), stop the
        thread, and raise the first exception a call raised."""
        if self._thread is None:
            return
        if cancel:
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None
        if not cancel:
            self._raise_pending_error()

    def __enter__(self) -> "OrderedWorker":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.close(cancel=exc_type is not None)
        return False
