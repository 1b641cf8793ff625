"""The checkpoint converter's refusals keep their useful part: what was refused, and when
``--allow-pickle`` is safe to use."""
import argparse
import os
import subprocess
import sys

import torch

from masktrack_d2.mmdet_import import read_mmdet_state_dict

CONVERT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                       "convert_mmdet_checkpoint.py")


def _convert(*args):
    return subprocess.run([sys.executable, CONVERT, *args], capture_output=True, text=True)


def test_a_refused_object_is_named_with_the_way_out(tmp_path):
    src = str(tmp_path / "mmdet.pth")
    torch.save({"meta": {"args": argparse.Namespace(lr=0.02)},
                "state_dict": {"backbone.conv1.weight": torch.zeros(1)}}, src)
    out = _convert(src, str(tmp_path / "out.pth"))
    assert out.returncode != 0
    msg = out.stderr.strip().splitlines()[-1]
    assert msg.startswith(f"error: {src}: ") and "\x1b" not in msg, msg
    assert "'argparse.Namespace'" in msg and "--allow-pickle" in msg and "trust" in msg, msg
    # the way out works: the same file is read with full unpickling when asked
    assert list(read_mmdet_state_dict(src, allow_pickle=True)) == ["backbone.conv1.weight"]


def test_a_damaged_file_says_what_the_unpickler_saw(tmp_path):
    src = tmp_path / "broken.pth"
    src.write_bytes(b"\x80\x02garbage")
    out = _convert(str(src), str(tmp_path / "out.pth"))
    assert out.returncode != 0
    msg = out.stderr.strip().splitlines()[-1]
    assert msg.startswith(f"error: {src}: ") and "\x1b" not in msg, msg
    assert "damaged or not a PyTorch checkpoint" in msg and "--allow-pickle" in msg, msg
