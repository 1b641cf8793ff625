"""tools/gpu_check.py without a GPU: its checks on made-up records, and ``--device cpu --dry``
end to end, passing on a correct run and failing on deliberately broken ones."""
import math
import os
import subprocess
import sys

import pytest

import _tiny
from _tools import load_tool

gpu_check = load_tool("gpu_check")

GOOD0 = {"loss_cls": 3.7, "loss_rpn_cls": 0.7, "loss_mask": 0.69, "loss_box_reg": 0.2,
         "loss_rpn_loc": 0.4, "loss_match": 300.0}


def _records(totals, first=GOOD0):
    out = []
    for i, t in enumerate(totals):
        losses = dict(first) if i == 0 else {"loss_cls": 1.0, "loss_match": t - 1.0}
        out.append({"iter": i, "losses": losses, "total_loss": t})
    return out


def test_check_run_accepts_a_learning_run():
    ok, problems = gpu_check.check_run("x", _records([300.0 - 5 * i for i in range(30)]), 40, 0.25)
    assert ok and not problems


def test_check_run_rejects_a_diverging_run_with_finite_losses():
    ok, problems = gpu_check.check_run("x", _records([300.0 + 50 * i for i in range(30)]), 40, 0.25)
    assert not ok and "did not fall by 25%: median" in problems[0]
    # most batches improve, but the spikes grow: the median falls, the mean does not
    totals = [300.0 - 5 * i + (2000.0 * i if i % 5 == 4 else 0.0) for i in range(30)]
    ok, problems = gpu_check.check_run("x", _records(totals), 40, 0.25)
    assert not ok and len(problems) == 1 and "did not fall by 25%: mean" in problems[0]


def test_check_run_rejects_non_finite_and_out_of_range_start():
    recs = _records([300.0 - 5 * i for i in range(30)])
    recs[7]["losses"]["loss_match"] = math.nan
    ok, problems = gpu_check.check_run("x", recs, 40, 0.25)
    assert not ok and problems == ["iteration 7: loss_match not finite"]
    # what an identity-FrozenBN R-50 starts with
    recs = _records([300.0 - 5 * i for i in range(30)], dict(GOOD0, loss_cls=455.0))
    ok, problems = gpu_check.check_run("x", recs, 40, 0.25)
    assert not ok and problems[0].startswith("iteration 0 loss_cls = 455")


def test_check_run_needs_enough_iterations():
    ok, problems = gpu_check.check_run("x", _records([300.0, 1.0]), 40, 0.25)
    assert not ok and "20 needed" in problems[0]


def test_compare_losses_tolerances():
    fp32 = {"loss_cls": 3.7, "loss_match": 2.0}
    assert gpu_check.compare_losses({"loss_cls": 3.75, "loss_match": 2.25}, fp32) == []
    bad = gpu_check.compare_losses({"loss_cls": 3.9, "loss_match": math.inf}, fp32)
    assert [p.split()[0] for p in bad] == ["loss_cls", "loss_match"]
    assert gpu_check.compare_losses({"loss_cls": 3.7}, fp32)[0].startswith("loss_match nan")


def _dry(tmp_path, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [sys.executable, os.path.join(_tiny.REPO, "tools", "gpu_check.py"), "--device", "cpu",
         "--dry", "--out", str(tmp_path / "out")] + list(args),
        env=env, cwd=_tiny.REPO, capture_output=True, text=True, timeout=900)
    summary = proc.stdout[proc.stdout.index("=== gpu_check summary"):]
    rows = {ln[6:28].strip(): ln for ln in summary.splitlines() if ln[:4] in ("PASS", "FAIL")}
    return proc.returncode, summary, rows


@pytest.mark.slow
def test_dry_run_passes_every_step(tmp_path):
    rc, summary, rows = _dry(tmp_path)
    assert rc == 0, summary
    assert summary.rstrip().endswith("=== ALL PASSED ===")
    for name in ("CUDA tests", "train float32", "train bfloat16", "first batch bfloat16",
                 "batch probe", "video inference", "demo"):
        assert rows[name].startswith("PASS"), rows
    assert "pairs/s" in rows["train float32"] and "total loss" in rows["train float32"]


@pytest.mark.slow
def test_dry_run_fails_a_run_that_diverges_with_finite_losses(tmp_path):
    # 32x the learning rate of the table scaled to 2 pairs: every loss stays finite, the match
    # loss climbs to 1e3-1e4
    rc, summary, rows = _dry(tmp_path, "--steps", "train", "--precisions", "float32",
                             "--train-opts", "SOLVER.BASE_LR", "0.01")
    assert rc == 1, summary
    assert rows["train float32"].startswith("FAIL")
    assert "total loss did not fall" in rows["train float32"]
    assert "not finite" not in rows["train float32"]


@pytest.mark.slow
def test_dry_run_fails_an_uncalibrated_start(tmp_path):
    rc, summary, rows = _dry(tmp_path, "--steps", "train", "--precisions", "float32",
                             "--init", "identity", "--iters", "20")
    assert rc == 1, summary
    assert "iteration 0 loss_cls" in rows["train float32"]
