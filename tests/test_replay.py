"""``replay`` (SPEC section 8): the five values per future, against hand-worked numbers, the backtest,
each other (foresight bounds every policy; nothing revealed, re-planning changes nothing), the CLI
and a real Dask cluster."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from optimizer.risk import backtest, samples
from optimizer import cli, economics
from optimizer.risk import replay
from optimizer.risk.scaleout import Runner
from tests import scenario_builder as sb
from tests.test_monthly import hand_example
from tests.test_property import scenarios

ROOT = Path(__file__).resolve().parents[1]
CHINA = ROOT / "datasets" / "china-2021"
COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
              derandomize=True)


def _hand(tmp_path):
    return optimizer.load_scenario(sb.write(hand_example(), tmp_path / "s"))


def test_hand_worked_replay_with_a_stop(tmp_path):
    """hand_example (tests/test_monthly.py) with site X's jurisdiction stopped from month 1 to the horizon.

    The month-0 plan: an S19 to X (sold there in month 2), an S19 to Y (online month 1, sold in month 2),
    the S9 to X in month 2 (kept). Carried out unchanged in this future:
      S19 at X: month 0 only (X stopped after): 304.375 - 10 + 1600      = 1894.375
      S19 at Y: month 1 at uptime 0.9: 273.9375 - 10 + 1600              = 1863.9375
      S9 to X in month 2: stopped, earns nothing, kept: 0 + 10           = 10
      unchanged                                                          = 3768.3125
    The policy re-plans at month 1 knowing the stop: the S19s are as before (Y is full in month 1, selling
    at X in month 2 at 1.6 beats every move), but the S9 now goes to Y in month 2: 0.9 * 30.4375 + 10
    = 37.39375; policy = 1894.375 + 1863.9375 + 37.39375 = 3795.70625, which perfect foresight cannot beat.
    Section 3's plan (all at month 0, kept to the horizon) and selling all now: 2 * 1000 + 20 = 2020.
    """
    scn = _hand(tmp_path)
    f = replay.Future("stop", 1.0, np.ones(3), np.array([1.0, 1.0, 1.6]), [("JX", 1, 3)])
    flat = replay.Future("flat", 1.0, np.ones(3), np.array([1.0, 1.0, 1.6]), [])
    rep = replay.replay(scn, [flat, f])
    row = rep.per_future.set_index("future")
    assert row.loc["stop", "unchanged_usd"] == pytest.approx(3768.3125, abs=1e-6)
    assert row.loc["stop", "policy_usd"] == pytest.approx(3795.70625, abs=1e-6)
    assert row.loc["stop", "foresight_usd"] == pytest.approx(3795.70625, abs=1e-6)
    assert row.loc["stop", "sell_all_usd"] == pytest.approx(2020.0)
    # nothing happens in the flat future: every monthly way of acting is the plan's own optimum
    assert row.loc["flat", ["unchanged_usd", "policy_usd", "foresight_usd"]].tolist() == pytest.approx([4103.125] * 3)
    s = rep.summary
    assert s["value_of_replanning"]["mean_usd"] == pytest.approx((3795.70625 - 3768.3125) / 2)
    assert s["value_of_perfect_information"]["mean_usd"] == pytest.approx(0.0, abs=1e-6)


def test_hand_worked_replay_with_a_stop_that_ends(tmp_path):
    """X stopped in month 1 only (end_month 2). Unchanged: S19 at X runs month 0 only (1894.375), S19 at Y
    as before (1863.9375), the S9 reaches X in month 2 when mining has resumed: 30.4375 + 10 = 40.4375;
    3798.75 in all. The policy at month 1 takes the stop to last (its end is not yet seen) and would send
    the S9 to Y; at month 2 it sees the end and sends it to X as planned: the same 3798.75, foresight too."""
    scn = _hand(tmp_path)
    f = replay.Future("short", 1.0, np.ones(3), np.array([1.0, 1.0, 1.6]), [("JX", 1, 2)])
    row = replay.replay(scn, [f]).per_future.iloc[0]
    assert [row.unchanged_usd, row.policy_usd, row.foresight_usd] == pytest.approx([3798.75] * 3, abs=1e-6)


def test_replay_through_cbc_gives_the_same_values(tmp_path):
    scn = _hand(tmp_path)
    futures = [replay.Future("stop", 1.0, np.ones(3), np.array([1.0, 1.0, 1.6]), [("JX", 1, 3)])]
    a = replay.replay(scn, futures).per_future.iloc[0, 1:].to_numpy(float)
    b = replay.replay(scn.with_overrides({"solver.name": "cbc"}), futures).per_future.iloc[0, 1:].to_numpy(float)
    assert b == pytest.approx(a, rel=2e-8)


def test_static_value_is_the_backtests_realised_value():
    """Section 3's plan valued in the history by replay's ledger = backtest's realised NPV (section 7's V_k)."""
    scn = optimizer.load_scenario(CHINA)
    (future,) = replay.futures_from_history(scn, CHINA / "history")
    econ = economics.compute(scn)
    ledger, fixed = replay.static_ledger(scn.with_overrides({"monthly.enabled": True}), econ)
    value = ledger.value(scn, econ, replay.realised_outlook(scn, future), fixed)
    assert value == pytest.approx(backtest.run(scn, CHINA / "history").summary["realised_npv_usd"], rel=1e-9)


@st.composite
def small_scenarios(draw, risky: bool):
    sc = draw(scenarios(mip=False))
    sc["horizon"]["months"] = draw(st.integers(2, 5))
    sc["sites"] = sc["sites"][:3]
    for s in sc["sites"]:
        s["min_mw"] = 0.0
        s["reg_risk"] = draw(st.sampled_from([0.3, 0.6, 0.9])) if risky else 0.0
        s["online_month"] = draw(st.integers(0, sc["horizon"]["months"] - 1))
    sc["policy"]["exclude_jurisdictions"] = []
    # mining pays in these scenarios (hashprice 0.3-1 USD/TH/s/day, cheap power): rigs move, so the
    # futures' stops and prices change what the ways of acting are worth
    sc["market"] = {**sc["market"], "btc_price_usd": draw(st.floats(30000, 80000)),
                    "network_hashrate_ehs": draw(st.floats(50, 120))}
    for s in sc["sites"]:
        s["capacity_mw"] = draw(st.floats(0.5, 4))
        s["power_usd_kwh"] = draw(st.floats(0, 0.06))
    for r in sc["rigs"]:
        r["resale_usd"] = min(r["resale_usd"], 1500.0)
    sc["monthly"] = {"replan_every": draw(st.integers(1, 2))}
    return sc


def _replay(sc: dict, n: int, volatility: float, seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"),
                                      {"risk.hashprice_volatility": volatility, "risk.ban_correlation": 0.5})
    ss = samples.draw(scn, n, seed)
    try:
        return replay.replay(scn, replay.futures_from_sample_set(scn, ss)).per_future
    except optimizer.InfeasibleError:
        return pd.DataFrame()


@settings(max_examples=12, **COMMON)
@given(sc=small_scenarios(risky=True), seed=st.integers(0, 1000))
def test_no_way_of_acting_beats_perfect_foresight(sc, seed):
    table = _replay(sc, 6, 0.9, seed)
    for row in table.itertuples():
        bound = row.foresight_usd + 1e-6 * abs(row.foresight_usd) + 1e-3
        assert row.policy_usd <= bound, row
        assert row.unchanged_usd <= bound, row
        assert row.static_usd <= bound, row
        if sc["policy"]["allow_sell"]:
            assert row.sell_all_usd <= bound, row


@settings(max_examples=12, **COMMON)
@given(sc=small_scenarios(risky=False), seed=st.integers(0, 1000))
def test_replanning_changes_nothing_when_nothing_is_revealed(sc, seed):
    """No volatility, no stops (reg_risk 0), the scenario's resale path: each re-plan continues the plan."""
    table = _replay(sc, 2, 0.0, seed)
    for row in table.itertuples():
        assert row.policy_usd == pytest.approx(row.unchanged_usd, rel=1e-6, abs=1e-2), row
        # and the future is the forecast: the month-0 plan is perfect foresight's value
        assert row.foresight_usd == pytest.approx(row.unchanged_usd, rel=1e-6, abs=1e-2), row


def _sample_folder(scn, folder: Path, n: int) -> Path:
    samples.draw(scn, n, 7).write(folder)
    return folder


def test_cli_replay_writes_its_files(tmp_path):
    folder = sb.write(hand_example(), tmp_path / "s")
    scn = optimizer.load_scenario(folder, {"risk.hashprice_volatility": 0.5})
    sset = _sample_folder(scn, tmp_path / "samples", 5)
    out = tmp_path / "out"
    assert cli.main(["replay", str(folder), "--samples", str(sset), "--out", str(out)]) == 0
    table = pd.read_csv(out / "replay.csv")
    assert list(table.columns) == ["future", "sell_all_usd", "static_usd", "unchanged_usd", "policy_usd", "foresight_usd"]
    assert len(table) == 5
    summary = json.loads((out / "replay.json").read_text())
    for key in ("sell_all", "static", "unchanged", "policy", "foresight", "value_of_replanning",
                "value_of_perfect_information"):
        assert set(summary[key]) == {"mean_usd", "p5_usd", "p50_usd", "p95_usd", "cvar_usd"}
    diff = table["policy_usd"] - table["unchanged_usd"]
    assert summary["value_of_replanning"]["mean_usd"] == pytest.approx(diff.mean())


def test_cli_replay_bad_history_exits_2(tmp_path, capsys):
    folder = sb.write(hand_example(), tmp_path / "s")
    hist = tmp_path / "h"
    hist.mkdir()
    pd.DataFrame({"month": [0, 1, 2], "hashprice_usd_th_day": [0.1, 0.1, 0.1]}).to_csv(hist / "market.csv", index=False)
    pd.DataFrame({"jurisdiction": ["Atlantis"], "ban_month": [1]}).to_csv(hist / "bans.csv", index=False)
    code = cli.main(["replay", str(folder), "--history", str(hist), "--out", str(tmp_path / "out")])
    assert code == 2 and "bans.csv, row 2, column 'jurisdiction'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", scheduler_port=0,
                                  silence_logs=40) as c:
        yield c.scheduler_address


def test_dask_cluster_gives_the_same_files(cluster, tmp_path):
    folder = sb.write(hand_example(), tmp_path / "s")
    scn = optimizer.load_scenario(folder, {"risk.hashprice_volatility": 0.5})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 9, 3))
    local = replay.replay(scn, futures, chunk=2)
    with Runner(cluster) as runner:
        remote = replay.replay(scn, futures, runner, chunk=2)
    assert local.files() == remote.files()


def test_dask_cluster_with_tasks_sized_from_the_work_gives_the_same_files(cluster, tmp_path, monkeypatch):
    """Tasks sized from the measured work (issue 23) on the cluster, against one process in one task. (The
    task overhead is taken as 0 so that these tiny futures go out in CHUNKS_PER_WORKER tasks per worker.)"""
    from optimizer.risk import scaleout

    monkeypatch.setattr(scaleout, "task_overhead_s", lambda runner: 0.0)
    folder = sb.write(hand_example(), tmp_path / "s")
    scn = optimizer.load_scenario(folder, {"risk.hashprice_volatility": 0.5})
    futures = replay.futures_from_sample_set(scn, samples.draw(scn, 9, 4))
    with Runner(threads=1) as one:
        local = replay.replay(scn, futures, one, chunk=9)
    with Runner(cluster) as runner:
        remote = replay.replay(scn, futures, runner)
    assert runner.last_replay["tasks"] == 4  # 8 futures after the timed first, 2 tasks for each of 2 workers
    assert local.files() == remote.files()
