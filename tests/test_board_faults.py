"""Small faults of issue 24 (AppTest): Compare's figures without stray apostrophes and a risk-aware pin named as
such, read-only flags as words, the library's version picker and Delete behind a confirmation."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import optimizer
from ui import views
from tests.apptest_jobs import finish_jobs

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_compare_figures_have_no_stray_apostrophes():
    at = run(AppTest.from_file(str(ROOT / "app.py"), default_timeout=180))
    at.button(key="pin").click()
    run(at)
    at.number_input(key="ctl_market_btc_price_usd").set_value(45000.0)
    run(at)
    at.session_state["main_tabs"] = "Compare"
    run(at)
    table = next(d.value for d in at.dataframe if "current vs baseline" in d.value.columns)
    cells = [str(v) for col in table.columns for v in table[col]]
    assert any(c.startswith("+$") for c in cells)  # a gain shown as the app writes it
    assert not any(c.startswith("'") for c in cells), [c for c in cells if c.startswith("'")]


def test_read_only_flags_are_words():
    at = run(AppTest.from_file(str(ROOT / "app.py"), default_timeout=180))
    juris = next(d.value for d in at.dataframe if "share_of_fleet_hashrate" in d.value.columns)
    assert juris["excluded"].map(type).eq(str).all() and set(juris["excluded"]) <= {"", "left out"}


def test_library_opens_a_chosen_version_and_deletes_after_confirming(db):
    from workspace.repository import Library

    at = run(AppTest.from_file(str(ROOT / "app.py"), default_timeout=180))
    at.text_input(key="ws_save_name").set_value("board")
    at.button(key="ws_save").click()
    run(at)
    at.number_input(key="ctl_market_btc_price_usd").set_value(50000.0)
    run(at)
    at.text_input(key="ws_save_name").set_value("board")
    at.button(key="ws_save").click()
    run(at)
    lib = Library(db)
    assert [v.version for v in lib.versions("guest", "board")] in ([1, 2], [2, 1])
    assert at.selectbox(key="ws_version").options == ["version 2 (latest)", "version 1"]
    at.selectbox(key="ws_version").set_value(1)
    at.button(key="ws_open").click()
    run(at)
    assert any("version 1" in s.value for s in at.success)
    v1 = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})
    want = views.METRICS[0].text(optimizer.solve(v1).summary)
    assert next(m.value for m in at.metric if m.label == "Plan value") == want
    # Delete sits behind a confirmation: the confirm button says what goes
    assert any("all 2 of its versions" in w.value for w in at.warning)
    at.button(key="ws_delete").click()
    run(at)
    assert lib.list("guest") == []


def test_stale_sensitivity_keeps_its_tornado():
    at = run(AppTest.from_file(str(ROOT / "app.py"), default_timeout=300))
    at.session_state["main_tabs"] = "Sensitivity"
    run(at)
    at.button(key="sens_run").click()
    finish_jobs(run(at))
    before = next(d.value for d in at.dataframe if "low_text" in d.value.columns or "moved down" in d.value.columns)
    at.number_input(key="ctl_market_btc_price_usd").set_value(45000.0)
    run(at)
    assert any("earlier settings" in w.value for w in at.warning)
    after = next(d.value for d in at.dataframe if "low_text" in d.value.columns or "moved down" in d.value.columns)
    assert after.equals(before)  # the earlier tornado, still drawn, beside the warning
