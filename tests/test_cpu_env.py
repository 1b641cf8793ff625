"""The CLI entry points default to passive OpenMP waiting before torch loads, and keep an
explicit setting (run in fresh interpreters: the variable is read once per process)."""
import os
import subprocess
import sys

import pytest

import _tiny

# Import the entry script as a module (its main() does not run) and report what the process
# saw: the variable, and whether torch was imported before the script set it.
PROBE = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("entry", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print("POLICY=" + repr(os.environ.get("OMP_WAIT_POLICY")))
"""


@pytest.mark.parametrize("script", ["demo.py", "train_net.py"])
@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE"),
                                             ("", "")])
def test_entry_points_default_to_passive_waiting(script, given, expected):
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    env["PYTHONPATH"] = _tiny.REPO + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", PROBE, os.path.join(_tiny.REPO, script)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-2000:]
    assert f"POLICY={expected!r}" in out.stdout


@pytest.mark.parametrize("script", ["demo.py", "train_net.py"])
def test_policy_is_set_before_any_import(script):
    """The default is the script's first statement after `import os` (before torch)."""
    with open(os.path.join(_tiny.REPO, script)) as f:
        code = [ln for ln in f.read().split('"""', 2)[2].splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    assert code[:2] == ["import os", 'os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")']
