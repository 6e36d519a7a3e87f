"""optimizer.Planner: after any sequence of what-if moves, the same plan value as the plain PuLP
model of the moved scenario, duals that certify it, and the same Result as optimizer.solve (the
same plan among several optimal ones, the same shadow prices)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import optimizer
from bench import marketplace
from optimizer import economics, model as M
from tests import scenario_builder as sb
from tests.test_canonical import assert_same_plan
from tests.test_property import scenarios
from tests.test_transport import PLAIN, assert_certified

MOVES = st.one_of(
    st.tuples(st.just("market.btc_price_usd"), st.floats(3000, 120000)),
    st.tuples(st.just("market.network_hashrate_ehs"), st.floats(40, 700)),
    st.tuples(st.just("market.hashprice_monthly_change"), st.floats(-0.08, 0.03)),
    st.tuples(st.just("market.btc_price_monthly_change"), st.floats(-0.05, 0.05)),
    st.tuples(st.just("market.network_hashrate_monthly_change"), st.floats(-0.02, 0.06)),
    st.tuples(st.just("policy.risk_aversion"), st.floats(0, 3)),
    st.tuples(st.just("policy.power_price_multiplier"), st.floats(0.5, 2.0)),
    st.tuples(st.just("policy.max_jurisdiction_share"), st.sampled_from([1.0, 0.8, 0.5, 0.34])),
    st.tuples(st.just("policy.budget_usd"), st.sampled_from([None, 0.0, 20_000.0, 1e6])),
    st.tuples(st.just("policy.allow_idle"), st.booleans()),
    st.tuples(st.just("policy.exclude_jurisdictions"), st.sampled_from([(), ("J0",), ("J1", "J2")])),
)


def check_same(planner: optimizer.Planner, scn: optimizer.Scenario, overrides: dict) -> None:
    try:
        moved = scn.with_overrides(overrides)
    except optimizer.ScenarioError:  # e.g. a BTC drift beside a fixed hashprice: the planner says the same
        with pytest.raises(optimizer.ScenarioError):
            planner.solve(overrides)
        return
    try:
        plain = optimizer.solve(moved.with_overrides(PLAIN))
    except optimizer.InfeasibleError:
        with pytest.raises(optimizer.InfeasibleError):
            planner.solve(overrides)
        return
    got = planner.solve(overrides)
    want = plain.summary["objective_usd"]
    assert got.summary["objective_usd"] == pytest.approx(want, rel=1e-7, abs=1e-6)
    if got.summary["backend"] == "planner":
        assert_certified(moved, planner.last_raw.row_dual, want)
    # the same Result as the engine's on the moved scenario: the same model and, among several
    # optimal plans, the same one (optimizer/solver/canonical.py) with the same shadow prices
    ref = optimizer.solve(moved)
    assert_same_plan(got, ref)
    for key in ("n_variables", "n_constraints", "status", "mode", "rigs_total", "fleet_hashrate_ths"):
        assert got.summary[key] == ref.summary[key], key
    assert got.allocation["value_usd"].sum() == pytest.approx(want, rel=1e-7, abs=1e-4)
    assert got.allocation["rigs"].sum() == pytest.approx(ref.summary["rigs_total"], rel=1e-9, abs=1e-6)
    assert list(got.allocation.columns) == list(ref.allocation.columns)
    assert list(got.sites.columns) == list(ref.sites.columns) and len(got.sites) == len(ref.sites)
    pd.testing.assert_series_equal(got.sites["excluded"], ref.sites["excluded"])


def _clean_moves(sc: dict, moves: list) -> list[dict]:
    jur = {s["jurisdiction"] for s in sc["sites"]}
    out = []
    for key, value in moves:
        if key == "policy.exclude_jurisdictions":
            value = tuple(j for j in value if j in jur)
        if key == "policy.budget_usd" and value is None:
            continue  # a None override means "no change"; budgets are moved between values instead
        if key.endswith("_price_monthly_change") or key.endswith("hashrate_monthly_change"):
            out.append({key: value, "market.hashprice_monthly_change": -0.02})  # drifts replace the default path
        elif key == "market.hashprice_monthly_change" and any("market.btc_price_monthly_change" in m
                                                               or "market.network_hashrate_monthly_change" in m
                                                               for m in out):
            continue  # a fixed hashprice path and drifts exclude each other
        else:
            out.append({key: value})
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(mip=False), st.lists(MOVES, min_size=1, max_size=6))
def test_planner_after_moves_matches_plain_pulp(sc, moves):
    with tempfile.TemporaryDirectory() as tmp:
        scn = optimizer.load_scenario(sb.write(sc, Path(tmp) / "s"))
    planner = optimizer.Planner(scn)
    check_same(planner, scn, {})
    accumulated: dict = {}
    for move in _clean_moves(sc, moves):
        accumulated.update(move)
        check_same(planner, scn, dict(accumulated))


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    folder = marketplace.write(tmp_path_factory.mktemp("m") / "market-500", 500, 3, 4, seed=11)
    return optimizer.load_scenario(folder)


def test_moves_that_change_dominated_columns(market):
    """Price moves drop and restore relocations as dominated; the kept model follows them warm."""
    planner = optimizer.Planner(market)
    n_cols, counts = [], []
    for btc in (35000.0, 9000.0, 60000.0, 14000.0, 35000.0):
        check_same(planner, market, {"market.btc_price_usd": btc})
        n_cols.append(planner.last_model.n_cols)
        counts.append(dict(planner.counts))
    assert len(set(n_cols)) >= 3  # the undominated column set really changed between moves
    assert planner.counts["cold"] == 1 and planner.counts["warm"] >= 4  # one model, kept throughout
    # a cap, a budget, an exclusion and an edit of the tables on the same planner
    check_same(planner, market, {"policy.max_jurisdiction_share": 0.3})
    check_same(planner, market, {"policy.max_jurisdiction_share": 0.3, "policy.budget_usd": 5e5})
    check_same(planner, market, {"policy.exclude_jurisdictions": ("J00", "J01")})
    sites = market.sites.copy()
    sites.loc[:40, "capacity_mw"] *= 2
    edited = market.with_tables(sites=sites)
    got = planner.solve_scenario(edited)
    want = optimizer.solve(edited.with_overrides(PLAIN)).summary["objective_usd"]
    assert got.summary["objective_usd"] == pytest.approx(want, rel=1e-7)


def test_large_planner_uses_columns_and_matches(market, monkeypatch):
    """Above the column threshold the planner starts from sampled duals; still the plain optimum."""
    from optimizer.solver import transport

    monkeypatch.setattr(transport, "COLUMNS_ABOVE", 1000)
    monkeypatch.setattr(transport, "SAMPLE_MIN_SITES", 50)
    planner = optimizer.Planner(market)
    for ov in ({}, {"market.btc_price_usd": 50000.0}, {"policy.risk_aversion": 2.5},
               {"policy.power_price_multiplier": 1.4, "policy.max_jurisdiction_share": 0.25}):
        check_same(planner, market, ov)
    assert planner._master.n_cols < planner.last_model.n_cols + 2 * len(market.fleet)


def test_economics_reused_when_only_caps_move(market):
    planner = optimizer.Planner(market)
    planner.solve({})
    planner.solve({"policy.max_jurisdiction_share": 0.4})
    planner.solve({"policy.risk_aversion": 2.0})
    assert planner.counts["economics_reused"] == 2
    # the risk-only update agrees with a fresh computation of the economics
    scn = market.with_overrides({"policy.risk_aversion": 2.0})
    assert np.allclose(planner._econ.value_usd, economics.compute(scn).value_usd, rtol=1e-12, atol=1e-9)
    assert isinstance(planner.last_model, M.LinearModel)


def test_a_binding_time_limit_gives_what_the_engine_gives():
    """A warm start may get further than a cold one in the same time: the planner then hands the move
    to the engine, so a binding time limit gives optimizer.solve's outcome (here: no plan in time)."""
    scn = optimizer.load_scenario(Path(__file__).resolve().parents[1] / "datasets" / "china-2021")
    planner = optimizer.Planner(scn)
    planner.solve({})
    tight = {"solver.time_limit_s": 1e-9, "market.btc_price_usd": 45000.0}
    try:
        want = optimizer.solve(scn.with_overrides(tight))
    except optimizer.SolverFailure as exc:
        with pytest.raises(optimizer.SolverFailure, match=str(exc)[:40].replace("(", r"\(").replace(")", r"\)")):
            planner.solve(tight)
    else:
        got = planner.solve(tight)
        assert got.summary["status"] == want.summary["status"]
        assert got.summary["objective_usd"] == pytest.approx(want.summary["objective_usd"], rel=1e-9)


def test_edited_rows_re_solve_warm_when_the_matrix_stays():
    """Grid edits that change only objective coefficients and bounds (a capacity, a power price, a ban
    risk, a rig count) keep the HiGHS model; one that changes the matrix (a PUE) rebuilds it. Either way
    the plan is optimizer.solve's on the edited tables."""
    from tests.test_canonical import assert_same_plan

    scn = optimizer.load_scenario(Path(__file__).resolve().parents[1] / "datasets" / "china-2021")
    planner = optimizer.Planner(None)
    planner.solve_scenario(scn)
    sites, fleet = scn.sites.copy(), scn.fleet.copy()
    edits = []
    for column, factor in (("capacity_mw", 0.5), ("power_usd_kwh", 1.3), ("reg_risk", 2.0)):
        sites = sites.copy()
        used = int(sites["capacity_mw"].idxmax())
        sites.loc[used, column] = min(sites.loc[used, column] * factor, 0.9) if column == "reg_risk" \
            else sites.loc[used, column] * factor
        edits.append(scn.with_tables(sites=sites))
    fleet.loc[0, "count"] = fleet.loc[0, "count"] * 2
    edits.append(edits[-1].with_tables(fleet=fleet))
    for edited in edits:
        cold_before = planner.counts["cold"]
        assert_same_plan(planner.solve_scenario(edited), optimizer.solve(edited))
        assert planner.counts["cold"] == cold_before, "an edit that leaves the matrix alone rebuilt the model"
    pue = edits[-1].sites.copy()
    pue.loc[0, "pue"] = pue.loc[0, "pue"] + 0.1
    edited = edits[-1].with_tables(sites=pue)
    cold_before = planner.counts["cold"]
    assert_same_plan(planner.solve_scenario(edited), optimizer.solve(edited))
    assert planner.counts["cold"] == cold_before + 1
