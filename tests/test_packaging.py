"""The configs ship with the package: an installed masktrack_d2 (no source tree) finds the
quickstart config, and its ``_BASE_`` chain resolves inside the shipped copy."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHECK = """
import os, sys
from detectron2.config import get_cfg
import masktrack_d2
from masktrack_d2.config import add_masktrack_config, get_config_file
from masktrack_d2.quickstart.run import QUICKSTART_CONFIG
path = get_config_file(QUICKSTART_CONFIG)
assert masktrack_d2.__file__.startswith(sys.argv[1]), masktrack_d2.__file__
assert path.startswith(os.path.join(sys.argv[1], "masktrack_d2", "configs")), path
cfg = get_cfg()
add_masktrack_config(cfg)
cfg.merge_from_file(path)
# a value of the quickstart file and one it inherits from Base
assert cfg.MODEL.RESNETS.DEPTH == 18, cfg.MODEL.RESNETS.DEPTH
assert cfg.SOLVER.CLIP_GRADIENTS.CLIP_TYPE == "full_model"
print("ok", path)
"""


def test_installed_package_finds_its_configs(tmp_path):
    lib = tmp_path / "lib"
    # build_py lays the package out as an install would (what a wheel holds), without a wheel
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)],
                   cwd=REPO, check=True, capture_output=True)
    assert not (lib / "configs").exists()  # only inside the package
    env = dict(os.environ, PYTHONPATH=str(lib))
    # run from an empty folder: neither the repository nor its configs/ are reachable
    p = subprocess.run([sys.executable, "-c", CHECK, str(lib)], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("ok")


def test_source_checkout_uses_the_repository_configs():
    from masktrack_d2.config import get_config_file

    path = get_config_file("youtubevis_2019/masktrack_rcnn_R_50_FPN_12e_orig.yaml")
    assert os.path.samefile(path, os.path.join(
        REPO, "configs", "youtubevis_2019", "masktrack_rcnn_R_50_FPN_12e_orig.yaml"))
