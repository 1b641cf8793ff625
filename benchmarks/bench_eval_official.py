"""The official YouTube-VIS evaluator as a user runs it: a scratch copy for the benchmarks.

youtubevos/cocoapi (commit f3f9948, ``PythonAPI/pycocotools/ytvos.py`` and ``ytvoseval.py``)
is the evaluator the YouTube-VIS papers report. It was written for Python 2 and NumPy < 1.24;
:func:`prepare` copies the two files into ``output/official_ytvis/ytvos_official/`` and patches
them for today's Python and NumPy only, nothing else:

- ``unicode`` -> ``str`` (Python 3);
- ``dtype=np.float`` -> ``dtype=float`` (alias removed in NumPy 1.24);
- ``np.linspace(..., np.round(x) + 1, ...)`` -> ``int(np.round(x)) + 1`` (a float ``num``
  is an error since NumPy 1.18).

Its ``mask`` module is pycocotools' own (the same C code). The sources come from
``--src DIR`` (a checkout's ``PythonAPI/pycocotools``), else from the copy kept under
``output/official_ytvis/src``, else from GitHub at the pinned commit.

    python benchmarks/bench_eval_official.py --src ~/cocoapi/PythonAPI/pycocotools   # prepare
    python output/official_ytvis/run_official.py GT.json RESULTS.json            # run, as a user

``run_official.py`` does what the official README and MaskTrack R-CNN's test script do
(``YTVOS(gt)``, ``loadRes``, ``YTVOSeval(...,'segm')``, evaluate, accumulate, summarize) and
prints the 11 numbers as one JSON line at the end.
"""
import argparse
import os
import re
import shutil
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DIR = os.path.join(ROOT, "output", "official_ytvis")
COMMIT = "f3f9948a1f749fb95797f31a9616872811eea559"
URL = "https://raw.githubusercontent.com/youtubevos/cocoapi/{}/PythonAPI/pycocotools/{}"
FILES = ("ytvos.py", "ytvoseval.py")

RUNNER = '''"""Run the official YouTube-VIS evaluator on GT.json RESULTS.json (made by
benchmarks/bench_eval_official.py)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ytvos_official.ytvos import YTVOS  # noqa: E402
from ytvos_official.ytvoseval import YTVOSeval  # noqa: E402

seconds, tic = {}, time.perf_counter()
gt = YTVOS(sys.argv[1])
seconds["gt"], tic = time.perf_counter() - tic, time.perf_counter()
dt = gt.loadRes(sys.argv[2])
seconds["results"], tic = time.perf_counter() - tic, time.perf_counter()
ev = YTVOSeval(gt, dt, "segm")
ev.evaluate()
seconds["evaluate"], tic = time.perf_counter() - tic, time.perf_counter()
ev.accumulate()
ev.summarize()
seconds["accumulate"] = time.perf_counter() - tic
# in-process stage times (stderr): what the command spends after its imports
print("seconds: " + ", ".join(f"{k} {v:.3f}" for k, v in seconds.items()), file=sys.stderr)
keys = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
stats = dict(zip(keys, (float(s) for s in ev.stats)))
stats.pop("AR100")
print(json.dumps(stats))
'''


def _patch(name, text):
    """The minimal edits for Python 3 / NumPy >= 1.24; each must apply."""
    edits = []
    if name == "ytvos.py":
        edits.append((r"\bunicode\b", "str"))
    else:
        edits.append((r"dtype=np\.float\b", "dtype=float"))
        edits.append((r"np\.round\((.*?)\) \+ 1, endpoint", r"int(np.round(\1)) + 1, endpoint"))
    for pattern, repl in edits:
        text, n = re.subn(pattern, repl, text)
        if n == 0:
            raise RuntimeError(f"{name}: patch {pattern!r} did not apply (other source?)")
    return text


def _sources(src, cache):
    os.makedirs(cache, exist_ok=True)
    for f in FILES:
        dst = os.path.join(cache, f)
        if src:
            shutil.copyfile(os.path.join(src, f), dst)
        elif not os.path.exists(dst):
            with urllib.request.urlopen(URL.format(COMMIT, f), timeout=60) as r:
                data = r.read()
            with open(dst, "wb") as out:
                out.write(data)
    return cache


def prepare(out_dir=DEFAULT_DIR, src=None):
    """Write the patched copy and run_official.py under ``out_dir``; returns the runner path."""
    cache = _sources(src, os.path.join(out_dir, "src"))
    pkg = os.path.join(out_dir, "ytvos_official")
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write("")
    with open(os.path.join(pkg, "mask.py"), "w") as f:
        f.write("from pycocotools.mask import *  # noqa: F401,F403  (the same C code)\n")
    for name in FILES:
        with open(os.path.join(cache, name)) as f:
            text = f.read()
        with open(os.path.join(pkg, name), "w") as f:
            f.write(_patch(name, text))
    runner = os.path.join(out_dir, "run_official.py")
    with open(runner, "w") as f:
        f.write(RUNNER)
    return runner


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", help="directory holding the official ytvos.py and ytvoseval.py")
    p.add_argument("--out", default=DEFAULT_DIR)
    args = p.parse_args(argv)
    print(prepare(args.out, args.src))
    return 0


if __name__ == "__main__":
    sys.exit(main())
