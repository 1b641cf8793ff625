"""``import masktrack_d2`` registers the model and data sets in detectron2 whichever is
imported first, while the metric alone imports neither torch nor detectron2."""
import subprocess
import sys

import pytest


def _run(code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("first", ["masktrack_d2", "detectron2"])
def test_registration_in_either_import_order(first):
    imports = ["import masktrack_d2",
               "from detectron2.modeling import META_ARCH_REGISTRY, ROI_HEADS_REGISTRY"]
    if first == "detectron2":
        imports.reverse()
    code = "\n".join(imports + [
        "from detectron2.data import DatasetCatalog",
        "assert META_ARCH_REGISTRY.get('MaskTrackRCNN').__module__.startswith('masktrack_d2')",
        "assert ROI_HEADS_REGISTRY.get('MaskTrackROIHeads')",
        "assert 'ytvis_2019_train' in DatasetCatalog.list()",
    ])
    _run(code)


def test_lazy_config_helpers_and_no_jit_warning():
    proc = _run("\n".join([
        "import warnings",
        "warnings.simplefilter('always')",  # would print torch's jit FutureWarning if not ours
        "from masktrack_d2 import add_masktrack_config",
        "from detectron2.config import get_cfg",
        "cfg = get_cfg()",
        "add_masktrack_config(cfg)",
        "assert cfg.MODEL.TRACK_HEAD.NAME == 'RoIEmbedHead'",
        "from detectron2.modeling import META_ARCH_REGISTRY",
        "assert META_ARCH_REGISTRY.get('MaskTrackRCNN')",
    ]))
    assert "torch.jit.script" not in proc.stderr, proc.stderr


def test_importing_the_package_alone_loads_neither_torch_nor_detectron2():
    _run("\n".join([
        "import sys",
        "import masktrack_d2",
        "from masktrack_d2.evaluation import evaluate_ytvis",
        "loaded = {'torch', 'detectron2'} & set(sys.modules)",
        "assert not loaded, loaded",
    ]))
