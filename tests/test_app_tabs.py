"""Issue 13's cheap reruns, in the app: only the open tab runs, and nothing the user set in a closed tab is lost.

Streamlit forgets the value of a widget that a run does not draw, so a closed tab's widgets and
the grids' cell edits are carried by the app itself; these tests leave each tab for two runs (the
run that closes it and one more, after which Streamlit has dropped the undrawn widgets' state)
and come back.
"""
from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from tests.test_app import CHINA, ROOT, edit_cells, expected_metrics, grid_messages, new_app, ok, open_tab, shown_metrics
from ui import charts, views
from ui.trust import md_escape
from ui.tabs import sensitivity


@pytest.fixture(scope="module")
def china() -> optimizer.Scenario:
    return optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it


def leave_and_return(at: AppTest, label: str) -> AppTest:
    open_tab(at, "Plan")
    open_tab(at, "Timeline")
    return open_tab(at, label)


def test_closed_tabs_do_not_run():
    at = new_app()
    keys = {w.key for kind in ("selectbox", "number_input", "slider", "button") for w in at.get(kind)}
    assert {"explain_site", "risk_n", "sens_run", "grid_undo"}.isdisjoint(keys)  # Explain, Risk, Sensitivity, Edit data
    assert allocation_shown(at)
    open_tab(at, "Explain")
    assert at.selectbox(key="explain_site") is not None
    assert not allocation_shown(at) and not any(w.key == "grid_undo" for w in at.button)


def allocation_shown(at: AppTest) -> bool:
    return any({"action", "origin", "site", "rigs"} <= set(df.value.columns) for df in at.dataframe)


def test_grid_edits_survive_closing_the_tab(china):
    at = open_tab(new_app(), "Edit data")
    row = 3
    edit_cells(at, "sites", {row: {"capacity_mw": "0.5"}}).run()
    ok(at)
    sites = china.sites.copy()
    sites.loc[row, "capacity_mw"] = 0.5
    edited = expected_metrics(optimizer.solve(china.with_tables(sites=sites)).summary)
    assert shown_metrics(at) == edited
    leave_and_return(at, "Plan")
    assert shown_metrics(at) == edited  # the plan still uses the edit while the grid is not drawn
    open_tab(at, "Edit data")
    assert shown_metrics(at) == edited
    assert "1 cell(s) edited" in grid_messages(at)
    grid = next(df.value for df in at.dataframe if df.key == f"sites_editor_{at.session_state['grid_version_sites']}")
    assert grid.loc[row, "capacity_mw"] == "0.5" and grid.loc[row, "check"].startswith("edited")
    at.button(key="grid_undo").click().run()  # and the undo history came along
    ok(at)
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china).summary)


def test_explain_choice_and_the_compare_baseline_survive_other_tabs(china):
    at = open_tab(new_app(), "Explain")
    site = china.sites["site"].iloc[5]
    at.selectbox(key="explain_site").set_value(site).run()
    before = {k: at.selectbox(key=k).value for k in ("explain_origin", "explain_model", "explain_site")}
    ok(leave_and_return(at, "Explain"))
    for key, value in before.items():
        assert at.selectbox(key=key).value == value, key
        # and the browser is told: a widget drawn again after its tab was closed shows its default
        # (and sends that back) unless the run that reopens the tab sends the value with it
        assert at.selectbox(key=key).proto.set_value, key
    at.button(key="pin").click().run()
    at.slider(key="ctl_policy_max_jurisdiction_share").set_value(60.0).run()
    at.button(key="pin").click().run()
    open_tab(at, "Compare")
    at.selectbox(key=views.BASELINE).set_value(1).run()
    label = at.session_state[views.PINS][1]["label"]
    ok(leave_and_return(at, "Plan"))
    assert any(f"deltas are against '{md_escape(label)}'" in c.value for c in at.caption)  # shown as text
    open_tab(at, "Compare")
    assert at.selectbox(key=views.BASELINE).value == 1 and at.selectbox(key=views.BASELINE).proto.set_value
    at.run()  # the next rerun, with the browser's value: still the user's
    assert any(f"deltas are against '{md_escape(label)}'" in c.value for c in at.caption)  # shown as text


def test_a_toggle_in_a_closed_tab_stays_on():
    at = open_tab(new_app(), "Sensitivity")
    at.toggle(key=sensitivity.SENS_AUTO).set_value(True).run()
    ok(leave_and_return(at, "Sensitivity"))
    assert at.toggle(key=sensitivity.SENS_AUTO).value is True and at.toggle(key=sensitivity.SENS_AUTO).proto.set_value


def test_chart_specs_are_built_once_per_plan(monkeypatch):
    built: list[str] = []
    original = charts.spec

    def counting(chart):
        built.append("x")
        return original(chart)

    monkeypatch.setattr(charts, "spec", counting)
    at = new_app()
    first = len(built)
    assert first >= 1  # the hashprice chart on the Plan tab
    at.run()
    at.run()
    assert len(built) == first  # reruns that change nothing reuse the spec
    at.number_input(key="ctl_market_btc_price_usd").set_value(30000.0).run()
    ok(at)
    assert len(built) == first + 1  # a new plan, a new chart


def test_switching_scenario_keeps_the_open_tab(tmp_path, monkeypatch):
    # the built-in scenarios, one of them without its history/ folder
    for name in ("china-2021", "post-halving-2024"):
        shutil.copytree(ROOT / "datasets" / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("history") if name == "post-halving-2024" else None)
    monkeypatch.setenv("RIGSHIFT_DATASETS_DIR", str(tmp_path))
    at = open_tab(new_app(), "Risk")
    at.selectbox(key="source").set_value("post-halving-2024").run()
    ok(at)
    assert at.session_state["main_tabs"] == "Risk" and any(w.key == "risk_n" for w in at.number_input)
    open_tab(at, "What happened")  # a scenario without a history says so in place
    assert any("no record of what came after" in i.value for i in at.info)


def test_the_picker_offers_world_2025_and_opens_it():
    """The third built-in scenario is in the app's picker and opens to its README's plan: sell everything,
    $10.20 M (tests/examples/world-2025), with its seasonal availability, power path and duty table."""
    at = new_app()
    assert {"china-2021", "post-halving-2024", "world-2025"} <= set(at.selectbox(key="source").options)
    at.selectbox(key="source").set_value("world-2025").run()
    ok(at)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Plan value"] == "$10.20M" and shown["Gain vs selling"] == "$0"
    open_tab(at, "What happened")  # no history yet: said in place
    ok(at)
    assert any("no record of what came after" in i.value for i in at.info)
