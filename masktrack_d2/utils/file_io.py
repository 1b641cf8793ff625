"""Atomic output files: a reader never sees a half-written results.json or zip."""
import contextlib
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **kwargs):
    """
    Open a temporary file beside ``path`` for writing; on success it replaces ``path`` with one
    rename, on an exception it is removed and ``path`` is left as it was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
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
