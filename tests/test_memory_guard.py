"""A closed tab's session is shut down once its reconnect time is over, and freed memory goes back to
the system (issue 22, ``ui/memory_guard.py``). Private Streamlit API: these tests fail if a Streamlit
upgrade renames what the guard relies on. The served app's memory is measured in
tests/test_upload_memory.py."""
from __future__ import annotations

from pathlib import Path
from unittest import mock

from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo
from streamlit.runtime.websocket_session_manager import WebsocketSessionManager

from ui import memory_guard


def _stored(storage: MemorySessionStorage, session_id: str) -> mock.Mock:
    session = mock.Mock()
    session.id = session_id
    storage.save(SessionInfo(client=None, session=session, script_run_count=1))
    return session


def test_expired_sessions_are_shut_down_and_live_ones_kept():
    clock = {"now": 1000.0}
    storage = MemorySessionStorage(ttl_seconds=120)
    storage._cache._timer = lambda: clock["now"]  # the TTL cache's own clock, moved by hand
    old = _stored(storage, "closed-long-ago")
    clock["now"] += 60
    recent = _stored(storage, "closed-just-now")
    manager = mock.Mock(_session_storage=storage)
    assert memory_guard.release_expired(manager) == 0  # within the reconnect time: both kept
    clock["now"] += 61
    assert memory_guard.release_expired(manager) == 1
    old.shutdown.assert_called_once_with()
    recent.shutdown.assert_not_called()
    assert storage.get("closed-long-ago") is None and storage.get("closed-just-now").session is recent


def test_install_wraps_disconnect_once_and_schedules_the_release_after_the_ttl():
    import asyncio

    before = WebsocketSessionManager.disconnect_session  # the app, served earlier in this process, may have installed it
    original = getattr(before, "__wrapped__", before)  # Streamlit's own
    released = []
    try:
        WebsocketSessionManager.disconnect_session = original
        assert memory_guard.install() and memory_guard.install()  # idempotent
        patched = WebsocketSessionManager.disconnect_session
        assert patched is not original and getattr(patched, memory_guard._MARK)
        manager = mock.Mock(_active_session_info_by_id={}, _script_cache=mock.Mock())
        patched(manager, "sid")  # off the event loop (a test calling it): Streamlit's own disconnect, nothing scheduled

        async def on_the_server_loop():
            patched(manager, "sid")
            await asyncio.sleep(1.5)

        with mock.patch.object(memory_guard, "_ttl_s", return_value=0.0), \
                mock.patch.object(memory_guard, "release_expired", side_effect=released.append):
            asyncio.run(on_the_server_loop())
    finally:
        WebsocketSessionManager.disconnect_session = before
    assert released == [manager]  # one release, for that manager, a second after the (zero) TTL


def test_the_app_installs_the_guard():
    text = (Path(__file__).resolve().parents[1] / "app.py").read_text(encoding="utf-8")
    assert "memory_guard.install()" in text


def test_import_time_heap_is_frozen_once_per_wave_of_imports():
    """``freeze_imports`` collects and freezes when modules were imported since the last time (the heap a full
    collection would otherwise walk after every run), does nothing when none were, and cyclic garbage made
    afterwards is still collected (frozen objects are skipped, not the rest)."""
    import gc
    import sys
    import types

    memory_guard.freeze_imports()  # whatever this process imported so far
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert memory_guard.freeze_imports() is False and gc.get_freeze_count() == frozen
    sys.modules["_rigshift_test_module"] = types.ModuleType("_rigshift_test_module")  # a new import
    try:
        assert memory_guard.freeze_imports() is True and gc.get_freeze_count() >= frozen
    finally:
        del sys.modules["_rigshift_test_module"]

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the collector can free
    import weakref

    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is None
    text = (Path(__file__).resolve().parents[1] / "app.py").read_text(encoding="utf-8")
    assert text.index("memory_guard.freeze_imports()") > text.index("main()")  # after the run, every run
