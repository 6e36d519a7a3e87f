"""The report a board reads (issue 24): the decision with its odds and hindsight, why these sites, the backtest,
no engine words, rounded money; and the app's report has its risk section right after the Risk tab computes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer import risk
from optimizer.results import fmt
from optimizer.risk import backtest, samples
from optimizer.risk.decision import decide
from workspace.board import board_sections, why_sites
from workspace.report import build_report

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"
ENGINE_WORDS = ("reg_risk", "scenario.toml", "lambda", "policy.", "HiGHS", "variables", "mixed-integer",
                "linear program", "risk_alpha", "python -m")


@pytest.fixture(scope="module")
def whole():
    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})
    res = optimizer.solve(scn)
    rep = risk.evaluate(scn, samples.draw(scn, 500, 1))
    bt = backtest.run(scn, CHINA / "history")
    return scn, res, rep, bt


def test_report_has_the_decision_why_and_backtest_in_board_words(whole):
    scn, res, rep, bt = whole
    d = decide(res.summary, res.allocation, rep.summary, bt.summary)
    r = build_report(scn, res, readme=(CHINA / "README.md").read_text(), risk=rep.summary,
                     board=board_sections(scn, res, d, bt))
    html = r.html
    for section in ('id="decision"', 'id="why"', 'id="backtest"', 'id="risk"', 'id="sources"'):
        assert section in html, section
    assert d.action_text() in html and fmt.usd(bt.summary["realised_npv_usd"]) in html
    assert f"{fmt.usd(rep.summary['expected_npv_usd'])} ± {fmt.usd(rep.summary['expected_npv_se_usd'])}" in html
    for word in ENGINE_WORDS:
        assert word not in html, word
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.findall(r"\$\d{1,3}(,\d{3}){2,}", text)  # money rounded: $103.54M, never $103,543,081
    assert {"Decision", "What happened", "Risk"} <= set(r.tables)


def test_monthly_plan_report_in_board_words():
    """The monthly plan (whole rigs, as the app opens it): its schedule, its why and its replay on the history, with
    none of the engine's words and money rounded."""
    from workspace.report_monthly import replay_section
    from optimizer.risk import replay as R

    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True, "monthly.enabled": True})
    res = optimizer.solve(scn)
    plain = scn.with_overrides({"policy.integer_rigs": False})
    rep = R.replay(plain, R.futures_from_history(plain, CHINA / "history"))
    html = build_report(scn, res, readme=(CHINA / "README.md").read_text(),
                        replays=[replay_section(rep.summary, 1, "history")]).html
    for section in ('id="schedule"', 'id="why"', 'id="replay"', 'id="sources"'):
        assert section in html, section
    for word in ENGINE_WORDS + ("objective", "dual", "monthly.", "schedule.csv", "replay.json"):
        assert word not in html, word
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.findall(r"\$\d{1,3}(,\d{3}){2,}", text)


def test_why_lines_are_the_fractional_twins_prices_for_the_plans_sites(whole):
    scn, res, _, _ = whole
    lines, note = why_sites(scn, res)
    twin = optimizer.solve(scn.with_overrides({"policy.integer_rigs": False})).sites.set_index("site")
    used = set(res.sites.loc[res.sites["mw_used"] > 1e-6, "site"])
    assert lines and "rig counts not rounded" in note
    names = sorted(scn.sites["site"], key=len, reverse=True)  # names hold brackets: "KG Chuy (Bishkek)"
    for line in lines:
        site = next((n for n in names if line.startswith(f"{n} (")), None)
        if site is None:
            continue
        if " is full:" in line:
            assert site in used and f"{fmt.usd(twin.loc[site, 'shadow_usd_per_mw'])}" in line
        else:
            assert site not in used
            assert f"${twin.loc[site, 'entry_power_usd_kwh']:.3f}/kWh" in line


def test_app_report_has_the_risk_section_right_after_the_risk_tab_computes():
    """One run with the Risk tab open, then the report (its widgets were not in Session State when the panel drew)."""
    from ui import workspace

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.session_state["main_tabs"] = "Risk"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Mean of the sampled futures" in d.value.columns)
    scn = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True})
    summary = workspace.risk_summary(scn, optimizer.solve(scn), None)
    assert summary is not None
    assert table.iloc[0]["Mean of the sampled futures"] == \
        f"{fmt.usd(summary['expected_npv_usd'])} ± {fmt.usd(summary['expected_npv_se_usd'])}"
