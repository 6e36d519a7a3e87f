"""Sharing without handing over (issue 22, case 26): the workspace key is never in a URL a user
copies; a pasted address bar (even a legacy one with ``?ws=``) opens nothing of the owner's
workspace; a plan link opens a copy whose changes and saves are the visitor's own; with a login
(``st.user``), only the owner can rename or delete an entry and a browser's workspace of another
user is not restored. AppTest, expected values from ``optimizer.solve``."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from ui import views

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHINA = ROOT / "datasets" / "china-2021"

pytestmark = pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")


def run_app(params=None, user=None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plan_value(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Plan value")


def params_of(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def test_a_pasted_address_bar_hands_over_no_workspace(db, monkeypatch):
    from ui import workspace as ui_ws

    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    ann = run_app()
    ann.text_input(key="ws_user").set_value("ann").run()
    ann.number_input(key="ctl_market_btc_price_usd").set_value(41000.0).run()
    ann_key = ann.session_state["ws_id"]
    bar = params_of(ann)
    assert "ws" not in bar and all(ann_key not in v for v in bar.values())  # nothing of the key in the URL

    # bob opens the pasted address bar, and a legacy one with ?ws= added: the plan, never ann's workspace
    for pasted in (bar, {**bar, "ws": ann_key}):
        bob = run_app(pasted)
        assert bob.session_state["ws_id"] != ann_key and "ws" not in params_of(bob)
        assert bob.text_input(key="ws_user").value != "ann"
        want = views.METRICS[0].text(optimizer.solve(china.with_overrides({"market.btc_price_usd": 41000.0})).summary)
        assert plan_value(bob) == want
        bob.number_input(key="ctl_market_btc_price_usd").set_value(30000.0).run()

    # ann's reload (her browser sends her cookie) is as she left it, untouched by bob
    monkeypatch.setattr(ui_ws, "_browser_workspace_key", lambda: ann_key)
    again = run_app()
    assert again.number_input(key="ctl_market_btc_price_usd").value == 41000.0
    assert again.text_input(key="ws_user").value == "ann"


def test_signed_in_users_own_their_entries(db, monkeypatch):
    from ui import workspace as ui_ws
    from workspace.repository import Library

    ann = run_app(user={"is_logged_in": True, "email": "ann@example.com"})
    ann.text_input(key="ws_save_name").set_value("board").run()
    ann.button(key="ws_save").click().run()
    assert any("Saved 'board'" in s.value for s in ann.success)
    lib = Library(db)
    assert [(e.owner, e.saved_by) for e in lib.list(None)] == [("ann@example.com", "ann@example.com")]
    assert "ws_user" not in [t.key for t in ann.text_input]  # no name box to claim someone else's name

    # bob, signed in, in the same browser (ann's cookie): ann's workspace is not restored for him
    monkeypatch.setattr(ui_ws, "_browser_workspace_key", lambda: ann.session_state["ws_id"])
    bob = run_app(user={"is_logged_in": True, "email": "bob@example.com"})
    assert bob.session_state["ws_id"] != ann.session_state["ws_id"]
    assert "ws_pick" not in [s.key for s in bob.selectbox]  # ann's entry is private: bob lists nothing
    ann.toggle(key="ws_share\u241fann@example.com\u241fboard").set_value(True).run()  # ann's explicit act
    assert [e.visibility for e in lib.list(None)] == ["team"]
    bob.run()
    assert bob.radio(key="ws_scope").value == "shared with the team"
    bob.selectbox(key="ws_pick").set_value("ann@example.com\u241fboard").run()
    assert bob.button(key="ws_delete").disabled and bob.button(key="ws_rename").disabled
    assert not [t for t in bob.toggle if (t.key or "").startswith("ws_share")]  # no share switch on others' entries
    bob.text_input(key="ws_save_name").set_value("board").run()
    bob.button(key="ws_save").click().run()  # "board" again: bob's own entry, ann's untouched
    assert sorted((e.owner, e.name, e.version) for e in lib.list(None)) == [
        ("ann@example.com", "board", 1), ("bob@example.com", "board", 1)]
