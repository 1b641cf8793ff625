"""``python -m masktrack_d2.data.synthetic``: runs :func:`.cli.main`."""
from .cli import main

# Named after the command, not after this file ("__main__.py") in the usage line.
main(prog="python -m masktrack_d2.data.synthetic")
