"""Atomic output files: a reader never sees a half-written results.json or zip."""
import contextlib
import os
import uuid


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **kwargs):
    """
    Open a temporary file beside ``path`` for writing; on success it replaces ``path`` with one
    rename, on an exception it is removed and ``path`` is left as it was. The file gets the
    permissions a plain ``open`` would give it (0666 less the umask; tempfile.mkstemp's 0600
    would make results unreadable to anyone else).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
