"""YouTube-VIS-format data sets. Importing this package registers the built-in splits."""
from .ytvis import (  # noqa: F401
    YTVISFormatError,
    load_ytvis_json,
    register_ytvis_instances,
    ytvis_metadata_from_json,
)
from . import builtin as _builtin  # noqa: F401  (registers the built-in data sets)

__all__ = [k for k in globals().keys() if not k.startswith("_")]
