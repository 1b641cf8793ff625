"""``python -m masktrack_d2.quickstart``: the quickstart main job, :mod:`masktrack_d2.tools.quickstart`."""
import sys

from .tools.quickstart import main

if __name__ == "__main__":
    main()
    sys.exit(0)
