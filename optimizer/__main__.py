import sys

from optimizer.cli import run

sys.exit(run())
