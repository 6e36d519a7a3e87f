"""Long work in the background (ui/longjob.py, issue 24): progress with an estimate, a cancel between steps that keeps
what was computed, a failure kept for the page; and in the app, the frontier cancelled part-way with the page
still answering a what-if. No clock is asserted: the steps here wait on events the test sets."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import optimizer
from optimizer.risk.scaleout import Runner
from tests.apptest_jobs import finish_jobs, job
from tests.test_app import expected_metrics, open_tab, shown_metrics
from ui import longjob
from ui.tabs import risk as risk_tab

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"


def _gated(n: int):
    """n steps; step i waits for gates[i] and then returns i * 10; entered[i] is set when step i begins."""
    gates = [threading.Event() for _ in range(n)]
    entered = [threading.Event() for _ in range(n)]

    def make(i):
        def step():
            entered[i].set()
            assert gates[i].wait(60), "the test never opened the gate"
            return i * 10
        return step
    return [(f"step {i}", 2 if i == 0 else 1, make(i)) for i in range(n)], gates, entered


def test_a_cancel_stops_before_the_next_step_and_keeps_the_steps_done():
    steps, gates, entered = _gated(5)
    j = longjob.Job("k", "the frontier")
    longjob._POOL.submit(j._run, longjob.steps_work(steps))
    gates[0].set()
    assert entered[1].wait(60)  # step 0 done (weight 2 of 6), step 1 in progress
    assert (j.steps_done, j.steps_total, j.fraction()) == (1, 5, pytest.approx(2 / 6))
    assert "Computing step 1 (1 of 5 done)" in j.text()
    j.cancel()
    gates[1].set()  # the step in progress finishes; the next one never starts
    assert j.wait(60)
    assert j.state == longjob.CANCELLED and j.partial == [0, 10] and j.result is None
    assert not entered[2].is_set()


def test_the_estimate_is_the_time_so_far_scaled_by_the_work_left():
    j = longjob.Job("k", "x")
    j.plan(5, 5)
    assert "(waiting for a free worker)" in j.text()  # no worker has picked it up yet
    j.picked, j.started, j.ended = True, 100.0, 110.0  # 10 s so far
    assert j.eta_s() is None and "estimating the time left" in j.text()
    j.advance(2)
    assert j.eta_s() == pytest.approx(15.0)  # 2 of 5 in 10 s: 3 more at 5 s each
    assert "10 s so far, about 15 s left" in j.text()


def test_a_failing_step_is_kept_for_the_page():
    def boom():
        raise ValueError("no such site")
    j = longjob.Job("k", "the stress tests")
    longjob._POOL.submit(j._run, longjob.steps_work([("a", 1, lambda: 1), ("b", 1, boom)]))
    assert j.wait(60)
    assert j.state == longjob.FAILED and isinstance(j.error, ValueError) and j.partial == [1]


def test_the_step_runner_maps_like_the_runner_one_step_per_item():
    j = longjob.Job("k", "the stress tests")
    items = [3, 1, 4, 1, 5]
    with Runner() as inner:
        got = longjob.StepRunner(j, inner, name=lambda x: f"item {x}").map(_square, items)
    expected = [x * x for x in items]
    assert got == expected and (j.steps_done, j.steps_total, j.partial) == (5, 5, expected)
    j.cancel()
    with Runner() as inner, pytest.raises(longjob.Cancelled):
        longjob.StepRunner(j, inner).map(_square, items)


def _square(x: int) -> int:
    return x * x


# ---------------------------------------------------------------- in the app


@pytest.fixture
def held_frontier(monkeypatch):
    """Each frontier job computes its first point and then waits at its second until the test opens the gate, so the
    job is still running whatever the machine's speed (the points themselves are the real solves)."""
    gate = threading.Event()
    real = risk_tab._frontier_point

    def held(fp, n, seed, w, scn):
        if w != risk_tab.FRONTIER_WEIGHTS[0]:
            assert gate.wait(600), "the test never opened the gate"
        return real(fp, n, seed, w, scn)

    monkeypatch.setattr(risk_tab, "_frontier_point", held)
    yield gate
    gate.set()


def test_the_frontier_shows_progress_stops_on_cancel_and_the_page_still_answers(held_frontier):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    assert not at.exception, [e.value for e in at.exception]
    open_tab(at, "Risk")
    # points no other test has cached (a seed of its own); the gate keeps the job running until after the cancel
    at.number_input(key="risk_seed").set_value(7)
    at.number_input(key="risk_n").set_value(300)
    at.run()
    at.button(key="risk_frontier_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    fr = job(at, risk_tab.FRONTIER_JOB)
    assert fr is not None and fr.state == longjob.RUNNING
    bar = at.get("progress")
    assert bar, "no progress bar"
    text = bar[0].proto.text
    assert ("the frontier" in text or "CVaR weight" in text) and " so far" in text, text
    # the page answers a what-if while the frontier computes: the headline is the new plan's
    at.number_input(key="ctl_market_btc_price_usd").set_value(45000.0).run()
    assert not at.exception, [e.value for e in at.exception]
    china = optimizer.load_scenario(CHINA).with_overrides({"policy.integer_rigs": True,
                                                          "market.btc_price_usd": 45000.0})
    assert shown_metrics(at) == expected_metrics(optimizer.solve(china).summary)
    fr = job(at, risk_tab.FRONTIER_JOB)  # restarted for the new settings
    assert fr.state == longjob.RUNNING
    at.button(key=f"{longjob.PREFIX}{risk_tab.FRONTIER_JOB}_cancel").click().run()
    held_frontier.set()  # the step under way ends; the job stops before the next one
    finish_jobs(at)
    assert fr.state == longjob.CANCELLED
    k = len(fr.partial)
    assert k < len(risk_tab.FRONTIER_WEIGHTS)
    said = [w.value for w in at.warning if "Cancelled" in w.value]
    assert said and f"after {k} of {len(risk_tab.FRONTIER_WEIGHTS)} steps" in said[0]
    tables = [d.value for d in at.dataframe if "CVaR weight" in d.value.columns]
    assert (len(tables[0]) if tables else 0) == k  # the points computed before the cancel, no more
    assert not at.session_state["risk_frontier_on"]  # a later what-if does not start it again
    at.number_input(key="ctl_market_btc_price_usd").set_value(40000.0).run()
    assert job(at, risk_tab.FRONTIER_JOB) is fr and not at.get("progress")
