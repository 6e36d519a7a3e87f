"""What one browser may do to the server that every user shares (issue 22).

Streamlit's "Clear cache" message (the app menu's item, or any client that sends the websocket
message) clears ``st.cache_data`` and ``st.cache_resource`` for every session of the server
(``AppSession._handle_clear_cache_request``: "Because this cache is global, it will be cleared for
all users"). On a shared server one visitor would wipe everyone's cached plans that way.
``install()`` makes the message clear only the sender's own session state; the shared caches stay
(they are bounded in entries and time, and keyed by content, so nothing stale can be served).

Private Streamlit API: ``tests/test_server_guard.py`` fails if a Streamlit upgrade renames it.
"""
from __future__ import annotations

from typing import Any, Callable

_MARK = "_rigshift_session_only"


def patch_once(load_owner: Callable[[], Any], attr: str, mark: str, wrap: Callable[[Any], Any]) -> bool:
    """Replace ``owner.attr`` by ``wrap(current)`` once (marked with ``mark``; ``__wrapped__`` keeps Streamlit's
    own): True when patched now or before, False (nothing changed) when Streamlit has no such hook."""
    try:
        owner = load_owner()
    except ImportError:
        return False
    current = getattr(owner, attr, None)
    if current is None:
        return False
    if getattr(current, mark, False):
        return True
    new = wrap(current)
    setattr(new, mark, True)
    new.__wrapped__ = current
    setattr(owner, attr, new)
    return True


def _app_session() -> Any:
    from streamlit.runtime.app_session import AppSession

    return AppSession


def install() -> bool:
    """Make the clear-cache message session-local (idempotent); False when Streamlit has no such hook."""
    def wrap(_current: Any) -> Any:
        def _clear_own_session_only(self: Any) -> None:
            self._session_state.clear()
        return _clear_own_session_only

    return patch_once(_app_session, "_handle_clear_cache_request", _MARK, wrap)
