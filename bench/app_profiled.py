"""app.py under cProfile, for finding where a served rerun's time goes (not used by the app itself).

    streamlit run bench/app_profiled.py   # then drive it (python -m bench.served --profile)

Each script run's profile is added to ``$RIGSHIFT_PROFILE_OUT`` (default bench/results/app.prof, a
``pstats`` file); read it with ``python -m pstats`` or ``bench.app_profiled.top``.
"""
from __future__ import annotations

import cProfile
import os
import pstats
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = Path(os.environ.get("RIGSHIFT_PROFILE_OUT") or ROOT / "bench" / "results" / "app.prof")
_LOCK = threading.Lock()


def _run() -> None:
    from ui import server_guard
    from ui.main import main

    server_guard.install()
    prof = cProfile.Profile()
    prof.enable()
    try:
        main()
    finally:
        prof.disable()
        with _LOCK:
            stats = pstats.Stats(prof)
            if OUT.exists():
                stats.add(str(OUT))
            OUT.parent.mkdir(parents=True, exist_ok=True)
            stats.dump_stats(str(OUT))


def top(path: str = str(OUT), n: int = 40) -> None:
    pstats.Stats(path).sort_stats("cumulative").print_stats(n)


if __name__ == "__main__" or "streamlit" in sys.modules:
    _run()
