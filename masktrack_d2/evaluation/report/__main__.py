"""``python -m masktrack_d2.evaluation.report``: see :mod:`.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
