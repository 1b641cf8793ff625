"""``python -m masktrack_d2.quickstart``: the quickstart main job (:mod:`.run`)."""
import os
import sys

# Before torch loads OpenMP: passive waiting unless set explicitly (see demo.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .run import main  # noqa: E402

if __name__ == "__main__":
    main()
    sys.exit(0)
