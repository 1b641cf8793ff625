"""Small helpers shared by the metric's modules: json reading, id normalisation, gc pause."""
import contextlib
import gc
import json
import os
from typing import Union

import numpy as np

try:  # several times faster on large results files; the standard library is the fallback
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector. Scoring allocates many small acyclic objects, and
    each full collection would walk the whole (large) results set again: ~0.3 s a time at
    YouTube-VIS scale. Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def load_json(path: PathLike, error_cls, what: str):
    """Parse a json file; a syntax or encoding error becomes ``error_cls`` naming the file.

    Uses orjson where installed, else the standard library. Both read the same documents,
    except that orjson rejects the non-standard ``NaN`` / ``Infinity`` tokens that Python's
    json writes for non-finite floats: such a file is then read with the standard library,
    so that the value is reported where it is (a score of NaN is an error either way).
    """
    with open(path, "rb") as f:
        data = f.read()
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # say what is wrong with the standard library's message (line, column)
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise error_cls(f"{os.fspath(path)}: not a valid JSON {what} file ({e.msg} at line "
                        f"{e.lineno} column {e.colno})") from None
    except UnicodeDecodeError as e:
        raise error_cls(f"{os.fspath(path)}: not a valid JSON {what} file ({e})") from None


def short_list(values, limit: int = 10) -> str:
    values = list(values)
    text = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        text += f", ... ({len(values) - limit} more)"
    return "[" + text + "]"


def as_id(value):
    """Normalise an id the way the official dict/set lookups see it (1.0 == 1, np.int64 == 1)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
