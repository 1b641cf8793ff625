"""MaskTrack R-CNN video instance segmentation on Detectron2.

Importing the package registers its meta-architecture, heads and data sets in detectron2, but
only once detectron2 itself is imported, so that the YouTube-VIS metric
(``masktrack_d2.evaluation.ytvis_eval``: numpy and pycocotools only) never pays for torch and
detectron2:

- if ``detectron2`` is already imported, ``import masktrack_d2`` registers everything at once;
- otherwise it installs a one-shot import hook (a :data:`sys.meta_path` finder) that, right
  after the ``detectron2`` package has been executed, imports :mod:`masktrack_d2.data` and
  :mod:`masktrack_d2.modeling` (whose imports register the data sets and the model parts).
  Whatever of detectron2 a program imports next (``detectron2.modeling``, ``DefaultTrainer``,
  ...) then already sees ``MaskTrackRCNN`` and the ``ytvis_*`` data sets.

Either order works::

    import masktrack_d2
    from detectron2.modeling import META_ARCH_REGISTRY
    META_ARCH_REGISTRY.get("MaskTrackRCNN")

``add_masktrack_config`` is importable from the package as before (loaded on first use).
The registration imports run with torch's "``torch.jit.script`` is deprecated" FutureWarning
filtered (it comes from fvcore, which detectron2 imports, and says
nothing to a user of this package); every other warning is shown as usual.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"

_LAZY = {"add_masktrack_config": "config"}


def _register() -> None:
    """Import the modules whose import registers the data sets and the model parts."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated",
                                category=FutureWarning)
        # detectron2.modeling first: when the import that triggered this is one of ours (say
        # masktrack_d2.modeling, still half-executed), the lines below return at once and
        # detectron2's heavy modules would otherwise load after the filter is gone
        importlib.import_module("detectron2.modeling")
        importlib.import_module(__name__ + ".data")
        importlib.import_module(__name__ + ".modeling")


class _RegisterAfterLoad(importlib.abc.Loader):
    """Wraps detectron2's loader: executes the package, then registers masktrack_d2."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _register()

    def __getattr__(self, name):  # get_filename, is_package, get_resource_reader, ...
        return getattr(self._loader, name)


class _Detectron2ImportHook(importlib.abc.MetaPathFinder):
    """Finds ``detectron2`` with the other finders and wraps its loader (once)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "detectron2":
            return None
        _remove_hook()
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return None  # not installed: the usual ModuleNotFoundError follows
        spec.loader = _RegisterAfterLoad(spec.loader)
        return spec


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Detectron2ImportHook)]


if sys.modules.get("detectron2") is not None:
    _register()
elif "detectron2" not in sys.modules:  # (None there means: made unimportable on purpose)
    _remove_hook()  # a reloaded package installs one hook, not two
    sys.meta_path.insert(0, _Detectron2ImportHook())


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
