"""training_rows: the training records of the latest run in a metrics.json."""
import json

from masktrack_d2.utils.metrics_log import training_rows


def write(path, iterations_per_run, eval_after=True):
    with open(path / "metrics.json", "w") as f:
        for run, iterations in enumerate(iterations_per_run):
            for it in iterations:
                f.write(json.dumps({"iteration": it, "total_loss": float(run), "run": run}) + "\n")
            if eval_after:
                f.write(json.dumps({"iteration": iterations[-1], "segm/AP": 1.0}) + "\n")


def test_a_fresh_run_in_a_used_folder_replaces_the_earlier_one(tmp_path):
    write(tmp_path, [[19, 39, 59, 79], [19, 39]])
    rows = training_rows(tmp_path)
    assert [(r["run"], r["iteration"]) for r in rows] == [(1, 19), (1, 39)]


def test_a_resumed_run_continues_the_earlier_one(tmp_path):
    write(tmp_path, [[19, 39], [59, 79]], eval_after=False)
    assert [r["iteration"] for r in training_rows(tmp_path)] == [19, 39, 59, 79]


def test_no_log_yet(tmp_path):
    assert training_rows(tmp_path) == []
