import gc
import sys

from .cli import main

# `python -m optimizer` is a short-lived process: move what exists now (the imported libraries' objects)
# out of the garbage collector's sight, so its passes during the run skip them, and again before
# exiting, so the interpreter's shutdown does not walk the plan's objects (a documented CPython API;
# reference counting still frees everything as usual).
gc.freeze()
code = main()
gc.freeze()
sys.exit(code)
