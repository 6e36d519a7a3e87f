"""AppTest of the Risk tab: its numbers against the engine's own evaluation of the same plan."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer import risk
from optimizer.risk import samples
from optimizer.results import fmt

from tests.apptest_jobs import finish_jobs
from tests.test_app import open_tab

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def test_risk_tab_shows_the_engines_numbers_and_runs_frontier_and_stress():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any(n.key == "risk_n" for n in at.number_input)  # a closed tab does not run
    open_tab(at, "Risk")
    at.number_input(key="risk_n").set_value(400)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})  # as the app opens it
    smp = samples.draw(scn, 400, scn.settings.risk.seed)
    report = risk.evaluate(scn, smp)
    table = next(d.value for d in at.dataframe if "Mean of the sampled futures" in d.value.columns)
    shown = table.iloc[0].to_dict()
    alpha = scn.settings.risk.alpha
    se = report.summary["expected_npv_se_usd"]
    assert se == pytest.approx(np.std(report.per_sample["npv_usd"].to_numpy()) / np.sqrt(400), rel=1e-9)
    assert shown["Mean of the sampled futures"] == f"{fmt.usd(report.summary['expected_npv_usd'])} ± {fmt.usd(se)}"
    assert shown["P5"] == fmt.usd(report.summary["p5_usd"])
    assert shown["P95"] == fmt.usd(report.summary["p95_usd"])
    assert shown[f"CVaR {alpha:.0%} (mean of the worst {alpha:.0%})"] == fmt.usd(report.summary["cvar_usd"])
    assert shown[f"Worse than selling now ({fmt.usd(report.summary['sell_all_usd'])})"] == \
        f"{report.summary['prob_below_sell_all']:.1%}"
    at.button(key="risk_stress_go").click()
    finish_jobs(at.run())
    at.button(key="risk_frontier_go").click()
    finish_jobs(at.run())
    at.selectbox(key="risk_frontier_pick").set_value("weight_0.50")
    at.button(key="risk_frontier_pin").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    pins = at.session_state["pins"]
    assert len(pins) == 1 and "CVaR weight 0.50" in pins[0]["label"]
    fr = risk.frontier(scn.with_overrides({"policy.integer_rigs": False}), smp, [0.5])  # the frontier is fractional
    assert pins[0]["summary"]["objective_usd"] == pytest.approx(fr.plans["weight_0.50"].summary["objective_usd"], rel=1e-9)
    # the tab's settings outlive a visit to another tab (its widgets are not drawn meanwhile)
    open_tab(at, "Plan")
    open_tab(at, "Timeline")
    open_tab(at, "Risk")
    assert at.number_input(key="risk_n").value == 400
    assert at.number_input(key="risk_n").proto.set_value  # sent to the browser with the widget
    assert at.selectbox(key="risk_frontier_pick").value == "weight_0.50"
