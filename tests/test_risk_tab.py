"""AppTest of the Risk tab: its numbers against the engine's own evaluation of the same plan."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer import risk, samples
from ui import fmt

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def test_risk_tab_shows_the_engines_numbers_and_runs_frontier_and_stress():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.number_input(key="risk_n").set_value(400)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    scn = optimizer.load_scenario(CHINA)
    smp = samples.draw(scn, 400, scn.settings.risk.seed)
    report = risk.evaluate(scn, smp)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Expected value"] == fmt.usd(report.summary["expected_npv_usd"])
    assert shown["P5"] == fmt.usd(report.summary["p5_usd"])
    assert shown["Worse than selling"] == f"{report.summary['prob_below_sell_all']:.1%}"
    assert shown[f"CVaR {scn.settings.risk.alpha:.0%}"] == fmt.usd(report.summary["cvar_usd"])
    at.button(key="risk_stress_go").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="risk_frontier_go").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
