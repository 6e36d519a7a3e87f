"""One visitor cannot wipe every session's cached plans (issue 22): Streamlit's clear-cache message
clears the sender's own session state only, once the app has run ``server_guard.install()``."""
from __future__ import annotations

from unittest import mock

import streamlit as st
from streamlit.runtime.app_session import AppSession

from ui import server_guard


def test_the_clear_cache_message_clears_only_the_senders_session():
    calls = []

    @st.cache_data(max_entries=4, ttl=60)
    def plan(x: int) -> int:
        calls.append(x)
        return x * 2

    assert server_guard.install() and server_guard.install()  # idempotent
    assert plan(3) == 6 and calls == [3]
    session = mock.Mock()
    AppSession._handle_clear_cache_request(session)  # what the server runs on the message
    session._session_state.clear.assert_called_once_with()
    assert plan(3) == 6 and calls == [3]  # the shared cache still answers: nobody else's plans wiped
    plan.clear()


def test_the_app_installs_the_guard():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "app.py").read_text(encoding="utf-8")
    assert "server_guard.install()" in text
