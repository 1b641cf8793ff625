"""The CLI entry points default to passive OpenMP waiting before torch loads, and keep an
explicit setting (run in fresh interpreters: the variable is read once per process)."""
import os
import subprocess
import sys

import pytest

import _tiny

# Import the entry script as a module (its main() does not run), then torch (as main() would,
# if the script did not already), and report what the process saw: the variable at the end,
# and the variable at the moment torch was first imported - what OpenMP reads when torch
# loads it. The probe fails if torch was loaded before the entry script ran.
PROBE = """
import importlib.abc, importlib.util, os, sys
assert "torch" not in sys.modules, "torch was loaded before the entry script ran"
at_torch_import = []

class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not at_torch_import:
            at_torch_import.append(os.environ.get("OMP_WAIT_POLICY"))
        return None  # the normal finders import it

sys.meta_path.insert(0, Spy())
spec = importlib.util.spec_from_file_location("entry", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print("TORCH_BY_SCRIPT=" + repr("torch" in sys.modules))
import torch  # noqa: F401
print("POLICY=" + repr(os.environ.get("OMP_WAIT_POLICY")))
print("POLICY_AT_TORCH_IMPORT=" + repr(at_torch_import[0]))
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
    # torch (and with it OpenMP) was loaded with the policy already in place
    assert f"POLICY_AT_TORCH_IMPORT={expected!r}" in out.stdout, out.stdout[-2000:]
    # train_net.py imports torch itself (through detectron2), demo.py only in main(): for
    # train_net.py the check above is about the script's own import order
    assert f"TORCH_BY_SCRIPT={script == 'train_net.py'!r}" in out.stdout, out.stdout[-2000:]


@pytest.mark.parametrize("script", ["demo.py", "train_net.py"])
def test_policy_is_set_before_any_import(script):
    """The default is the script's first statement after `import os` (before torch)."""
    with open(os.path.join(_tiny.REPO, script)) as f:
        code = [ln for ln in f.read().split('"""', 2)[2].splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    assert code[:2] == ["import os", 'os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")']
