"""A closed browser tab gives its memory back to the server (issue 22: "freed when the session ends").

Streamlit keeps a disconnected session for ``server.disconnectedSessionTTL`` seconds (120 by
default) so that a tab that reconnects finds its state (``WebsocketSessionManager.disconnect_session``
stores it in a ``MemorySessionStorage``, a TTL cache). Two things then keep memory that nobody can
use any more:

- The TTL cache drops an expired session only on its next write (another visitor's disconnect), and
  drops it without ``AppSession.shutdown()``, so that session's uploaded files stay in Streamlit's
  upload manager for the life of the server (``shutdown`` is what removes them).
- What the session held (its scenarios, plans, the HiGHS model of its planner) is freed into the C
  heap, which glibc keeps for the process (one arena per script thread) instead of handing it back.

``install()`` makes every disconnect schedule, on the server's event loop, a release a second after
the TTL: expired sessions are taken out of the store and shut down as a closed session is (their
uploaded files and media removed), then ``gc.collect()`` and glibc's ``malloc_trim(0)`` hand the
freed memory back to the system. A session that reconnected in time is not expired, so nothing
changes for it.

Private Streamlit API (as ``ui/server_guard.py``): ``tests/test_memory_guard.py`` fails if a
Streamlit upgrade renames what this relies on; ``install()`` returns False and changes nothing then.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
from typing import Any

from ui import server_guard

LOG = logging.getLogger("rigshift.memory")
_MARK = "_rigshift_release_after_ttl"


def _malloc_trim() -> bool:
    """glibc's malloc_trim(0): free pages at the top and inside the heap go back to the system."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False  # not glibc (macOS, musl): nothing to do
    trim.argtypes = [ctypes.c_size_t]
    return bool(trim(0))


def release_expired(manager: Any) -> int:
    """Shut down the sessions whose reconnect time is over, then hand freed memory back; returns how
    many sessions were shut down."""
    storage = getattr(manager, "_session_storage", None)
    cache = getattr(storage, "_cache", None)
    expired = cache.expire() if hasattr(cache, "expire") else []
    n = len(expired)
    while expired:
        _sid, info = expired.pop()
        try:
            info.session.shutdown()
        except Exception:  # noqa: BLE001 - a session that cannot shut down must not stop the others
            LOG.exception("could not shut down an expired session")
        del info  # no reference left here when the collector runs
    gc.collect()
    _malloc_trim()
    return n


def _ttl_s() -> float:
    from streamlit import config

    try:
        return float(config.get_option("server.disconnectedSessionTTL"))
    except (KeyError, TypeError, ValueError, RuntimeError):
        return 120.0


def _session_manager() -> Any:
    from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

    return WebsocketSessionManager


def install() -> bool:
    """Release a closed tab's memory after the reconnect time (idempotent); False when Streamlit has no such hook."""
    def wrap(current: Any) -> Any:
        def disconnect_session(self: Any, session_id: str) -> None:
            current(self, session_id)
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # not on the server's event loop (tests calling it directly): nothing scheduled
            loop.call_later(_ttl_s() + 1.0, release_expired, self)
        return disconnect_session

    return server_guard.patch_once(_session_manager, "disconnect_session", _MARK, wrap)


_FROZEN_MODULES = 0  # len(sys.modules) at the last freeze


def freeze_imports() -> bool:
    """After a script run: when modules were imported since the last time, collect garbage and move every
    object left (the modules, their classes and constants: about a million after pandas, SciPy, HiGHS, Altair
    and pydeck) to the collector's permanent generation (``gc.freeze``). Returns whether it froze.

    Streamlit runs a full ``gc.collect(2)`` after every script run (``runner.postScriptGC``); over a
    heap of a million import-time objects that took about 0.15 s, two thirds of a served what-if's server
    time (py-spy, issue 23). Frozen objects are not traversed, so that collection now covers only what runs
    make. Objects that die later are still freed by reference counting; only a cycle among objects alive
    at a freeze would stay, and freezes happen only while modules are still being imported (the first
    runs of the process and the first visit of each tab).
    """
    import sys

    global _FROZEN_MODULES
    if len(sys.modules) == _FROZEN_MODULES:
        return False
    gc.collect()
    gc.freeze()
    _FROZEN_MODULES = len(sys.modules)
    return True

