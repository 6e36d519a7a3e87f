"""The workspace in the app (AppTest): autosave and restore by ``?ws=``, links that name a saved
plan and its what-ifs, the library actions, and caches that never share a user's data.

Expected plan values come from ``optimizer.solve`` on the same tables and settings, printed with
the app's own metric formatter.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from ui import views

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
CHINA = ROOT / "datasets" / "china-2021"

pytestmark = pytest.mark.skipif(not (CHINA / "sites.csv").is_file(), reason="datasets/china-2021 is not in this checkout")


@pytest.fixture(scope="module")
def china() -> optimizer.Scenario:
    return optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it


def run_app(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def plan_value(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Plan value")


def expected(scn: optimizer.Scenario) -> str:
    return views.METRICS[0].text(optimizer.solve(scn).summary)


def params_of(at: AppTest) -> dict[str, str]:
    return {k: at.query_params[k] for k in at.query_params}


def test_reload_restores_edits_controls_and_pins(db, china, monkeypatch):
    from ui import workspace as ui_ws

    at = run_app()
    assert "ws" not in params_of(at)
    ws = at.session_state["ws_id"]
    at.slider(key="ctl_policy_risk_aversion").set_value(2.0).run()
    at.session_state["sites_editor"] = {"edited_rows": {1: {"capacity_mw": 4.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="pin").click().run()
    sites = china.sites.copy()
    sites.loc[1, "capacity_mw"] = 4.0
    want = expected(china.with_tables(sites=sites).with_overrides({"policy.risk_aversion": 2.0}))
    assert plan_value(at) == want

    monkeypatch.setattr(ui_ws, "_browser_workspace_key", lambda: ws)  # a reload: the browser sends its cookie
    again = run_app()
    assert plan_value(again) == want
    assert again.selectbox(key="source").value == "upload: china-2021 (edited)"
    assert again.slider(key="ctl_policy_risk_aversion").value == 2.0
    assert len(again.session_state["pins"]) == 1
    assert any("Restored your workspace" in s.value for s in again.success)

    monkeypatch.setattr(ui_ws, "_browser_workspace_key", lambda: None)
    fresh = run_app()  # another browser: a new workspace, the default plan
    assert fresh.session_state["ws_id"] != ws
    assert plan_value(fresh) == expected(china)


def test_save_link_and_library_actions(db, china):
    from workspace.repository import Library

    at = run_app()
    at.text_input(key="ws_user").set_value("ann").run()
    at.number_input(key="ctl_market_btc_price_usd").set_value(45000.0).run()
    at.text_input(key="ws_save_name").set_value("board").run()
    at.button(key="ws_save").click().run()
    assert not at.exception
    assert params_of(at) | {"ws": ""} == {"ws": "", "scenario": "board", "owner": "ann", "v": "1"}
    at.number_input(key="ctl_market_btc_price_usd").set_value(50000.0).run()
    link = {k: v for k, v in params_of(at).items() if k != "ws"}
    assert link["market.btc_price_usd"] == "50000.0"
    want = expected(china.with_overrides({"market.btc_price_usd": 50000.0}))
    assert plan_value(at) == want

    colleague = run_app(link)
    assert plan_value(colleague) == want
    assert colleague.selectbox(key="source").value == "library: board (ann)"

    lib = Library(db)
    saved = lib.load("ann", "board")
    assert saved.info.saved_by == "ann" and saved.result["summary"]["objective_usd"] == pytest.approx(
        optimizer.solve(china.with_overrides({"market.btc_price_usd": 45000.0})).summary["objective_usd"])

    # the colleague (guest) cannot delete or rename ann's entry, but can take a copy
    assert colleague.button(key="ws_delete").disabled and colleague.button(key="ws_rename").disabled
    colleague.text_input(key="ws_new_name").set_value("my copy").run()
    colleague.button(key="ws_duplicate").click().run()
    assert [(e.owner, e.name) for e in lib.list("guest")] == [("guest", "my copy")]
    colleague.selectbox(key="ws_pick").set_value("guest\u241fmy copy").run()
    colleague.text_input(key="ws_new_name").set_value("renamed").run()
    colleague.button(key="ws_rename").click().run()
    assert [e.name for e in lib.list("guest")] == ["renamed"]
    colleague.button(key="ws_delete").click().run()
    assert lib.list("guest") == []
    assert [e.name for e in lib.list("ann")] == ["board"]


def test_caches_are_bounded_and_none_is_shared_mutable():
    """No st.cache_resource in the app (it hands every session the same objects); every
    st.cache_data has max_entries and ttl."""
    for path in sorted((ROOT / "ui").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "cache_resource":
                pytest.fail(f"{path.name}:{node.lineno} uses st.cache_resource")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "cache_data":
                keys = {kw.arg for kw in node.keywords}
                assert {"max_entries", "ttl"} <= keys, f"{path.name}:{node.lineno} cache_data without max_entries and ttl"


def test_uploads_stay_in_their_session(db):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in (ROOT / "tests" / "fixtures" / "tiny").iterdir():
            zf.write(p, p.name)
    a = run_app()
    a.file_uploader(key="upload").set_value(("tiny.zip", buf.getvalue(), "application/zip")).run()
    assert a.selectbox(key="source").value.startswith("upload: tiny")
    b = run_app()
    assert not any(o.startswith("upload:") for o in b.selectbox(key="source").options)
    assert "_memo_uploads" not in b.session_state or not b.session_state["_memo_uploads"]


def test_without_a_database_the_app_works_and_warns(monkeypatch, china):
    monkeypatch.setenv("RIGSHIFT_DB_URL", "no-such-driver://nowhere/db")
    at = run_app()
    assert plan_value(at) == expected(china)
    warning = " ".join(w.value for w in at.warning)
    assert "library database cannot be opened" in warning and "Export a zip before you reload" in warning


def test_pins_survive_the_database_round_trip(china):
    """A pinned plan written as JSON (autosave, library) reads back to the same plan, sell rows included."""
    import json

    from ui.tabs.compare import allocation_diff
    from ui.views import make_pin
    from ui.workspace import pins_from_json, pins_to_json

    res = optimizer.solve(china.with_overrides({"policy.risk_aversion": 2.0}))
    pin = make_pin("risk 2", "china-2021", china, res, china.fingerprint())
    back = pins_from_json(json.loads(json.dumps(pins_to_json([pin]))))[0]
    assert allocation_diff(pin["allocation"], back["allocation"], tolerance=1e-9).empty
    assert (back["allocation"]["action"] == "sell").sum() == (pin["allocation"]["action"] == "sell").sum()
    assert back["settings"] == pin["settings"] and back["summary"]["objective_usd"] == res.summary["objective_usd"]
    assert back["sites"]["mw_used"].sum() == pytest.approx(pin["sites"]["mw_used"].sum())


def _risk_script():
    import streamlit as st

    from ui import compute, workspace
    from ui.main import main

    main()
    scn = compute.load_builtin("china-2021")
    r = workspace.risk_summary(scn, compute.solve(scn))
    st.session_state["test_risk_summary"] = r


def test_report_gets_the_risk_tabs_figures(db):
    """Once the Risk tab has computed the plan's outcomes, the report's risk section shows them."""
    from workspace.report import KINDS, build_report

    at = AppTest.from_function(_risk_script, default_timeout=120)
    at.run()
    at.session_state["main_tabs"] = "Risk"  # only the open tab runs
    at.run()  # the tab's widgets exist from the second run on
    assert not at.exception, [e.value for e in at.exception]
    r = at.session_state["test_risk_summary"]
    assert r is not None and r["n_samples"] == at.session_state["risk_n"]
    assert r["p5_usd"] <= r["p50_usd"] <= r["p95_usd"] and r["cvar_usd"] <= r["p5_usd"] + 1e-6
    china = optimizer.load_scenario(CHINA)
    html = build_report(china, optimizer.solve(china), risk=r).html
    assert "Risk over sampled futures" in html and KINDS["usd"].html(r["cvar_usd"]) in html
